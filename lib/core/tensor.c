/* Public tensors: dense float32 arrays on a context's device. */
#include <math.h>
#include <stdlib.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

/* Largest tensor accepted: 2^40 elements, far beyond any ALAE and safe from overflow. */
#define MAX_TENSOR_NUMEL ((int64_t)1 << 40)

ALAE_API alae_status alae_tensor_create(alae_context *ctx, alae_dtype dtype, int32_t ndim,
                                        const int64_t *shape, alae_tensor **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(shape);
    ALAEI_CHECK_ARG(out);
    if (dtype != ALAE_DTYPE_F32) {
        if (dtype >= ALAE_DTYPE_F16 && dtype <= ALAE_DTYPE_U8)
            return alaei_fail(ALAE_E_UNSUPPORTED, __func__, "dtype %d is reserved; only ALAE_DTYPE_F32 is supported",
                              (int)dtype);
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown dtype %d", (int)dtype);
    }
    if (ndim < 1 || ndim > ALAE_TENSOR_MAX_DIMS)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "ndim = %d is not in 1..%d", (int)ndim,
                          ALAE_TENSOR_MAX_DIMS);
    int64_t numel = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "shape[%d] = %lld must be >= 1", (int)i,
                              (long long)shape[i]);
        if (shape[i] > MAX_TENSOR_NUMEL / numel)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the shape has more than 2^40 elements");
        numel *= shape[i];
    }
    alae_tensor *t = calloc(1, sizeof *t);
    if (!t) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a tensor handle");
    size_t bytes = (size_t)numel * (size_t)ctx->backend->elem_size;
    alae_status s = ctx->backend->buf_alloc(ctx->bctx, bytes, &t->data);
    if (s == ALAE_OK) s = ctx->backend->fill(ctx->bctx, t->data, (size_t)numel, 0.0);
    if (s != ALAE_OK) {
        if (t->data) ctx->backend->buf_free(ctx->bctx, t->data);
        free(t);
        return s;
    }
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int32_t i = 0; i < ALAE_TENSOR_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
    t->numel = numel;
    *out = t;
    return ALAE_OK;
}

ALAE_API void alae_tensor_destroy(alae_tensor *t) {
    if (!t) return;
    t->ctx->backend->buf_free(t->ctx->bctx, t->data);
    free(t);
}

ALAE_API int32_t alae_tensor_ndim(const alae_tensor *t) { return t ? t->ndim : 0; }

ALAE_API alae_dtype alae_tensor_dtype(const alae_tensor *t) { return t ? t->dtype : -1; }

ALAE_API int64_t alae_tensor_numel(const alae_tensor *t) { return t ? t->numel : 0; }

ALAE_API alae_status alae_tensor_shape(const alae_tensor *t, int64_t *shape, int32_t capacity) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(shape);
    if (capacity < t->ndim)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "capacity %d is less than ndim %d", (int)capacity,
                          (int)t->ndim);
    for (int32_t i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
    return ALAE_OK;
}

static alae_status check_nbytes(const alae_tensor *t, size_t nbytes, const char *func) {
    size_t want = (size_t)t->numel * sizeof(float);
    if (nbytes != want)
        return alaei_fail(ALAE_E_SHAPE, func, "nbytes = %zu, but the tensor holds %lld floats (%zu bytes)",
                          nbytes, (long long)t->numel, want);
    return ALAE_OK;
}

ALAE_API alae_status alae_tensor_write(alae_tensor *t, const void *host, size_t nbytes) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(host);
    alae_status s = check_nbytes(t, nbytes, __func__);
    if (s != ALAE_OK) return s;
    return t->ctx->backend->write_f32(t->ctx->bctx, t->data, host, (size_t)t->numel);
}

ALAE_API alae_status alae_tensor_read(const alae_tensor *t, void *host, size_t nbytes) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(host);
    alae_status s = check_nbytes(t, nbytes, __func__);
    if (s != ALAE_OK) return s;
    return t->ctx->backend->read_f32(t->ctx->bctx, host, t->data, (size_t)t->numel);
}

ALAE_API alae_status alae_tensor_fill_normal(alae_tensor *t, float mean, float stddev) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    if (!isfinite(mean) || !isfinite(stddev) || stddev < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "mean %g and stddev %g must be finite, stddev >= 0",
                          (double)mean, (double)stddev);
    alaei_context_begin_call(t->ctx);
    return alaei_context_draw_normal(t->ctx, t->data, t->numel, mean, stddev);
}
