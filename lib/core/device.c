/* Device helpers: what the code above the core (lib/graph's executor, lib/nn, lib/train) uses
 * instead of the backend table. Ops go through one path: the abort check of the executor, and the
 * profile when ALAE_PROFILE is on. */
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

alae_status alaei_device_alloc(alae_context *ctx, size_t count, void **out) {
    size_t bytes;
    if (!alaei_mul_size(count, (size_t)ctx->backend->elem_size, &bytes))
        return alaei_fail(ALAE_E_NOMEM, "alaei_device_alloc", "%zu elements overflow size_t", count);
    return ctx->backend->buf_alloc(ctx->bctx, bytes, out);
}

alae_status alaei_device_alloc_bytes(alae_context *ctx, size_t bytes, void **out) {
    return ctx->backend->buf_alloc(ctx->bctx, bytes, out);
}

void alaei_device_free(alae_context *ctx, void *ptr) {
    if (ptr) ctx->backend->buf_free(ctx->bctx, ptr);
}

alae_status alaei_device_upload(alae_context *ctx, void *dst, const float *host, size_t count) {
    return ctx->backend->write_f32(ctx->bctx, dst, host, count);
}

alae_status alaei_device_download(alae_context *ctx, float *host, const void *src, size_t count) {
    return ctx->backend->read_f32(ctx->bctx, host, src, count);
}

alae_status alaei_device_copy(alae_context *ctx, void *dst, const void *src, size_t count) {
    return ctx->backend->copy(ctx->bctx, dst, src, count);
}

alae_status alaei_device_fill(alae_context *ctx, void *dst, size_t count, double value) {
    return ctx->backend->fill(ctx->bctx, dst, count, value);
}

void *alaei_device_native_stream(const alae_context *ctx) {
    return ALAEI_VTBL_HAS(ctx->backend, native_stream) ? ctx->backend->native_stream(ctx->bctx) : NULL;
}

int alaei_device_is_host_float(const alae_context *ctx) {
    return ctx->backend->elem_size == (int32_t)sizeof(float) && strcmp(ctx->backend->name, "cpu") == 0;
}

size_t alaei_device_elem_size(const alae_context *ctx) { return (size_t)ctx->backend->elem_size; }

alae_status alaei_device_exec(alae_context *ctx, const alaei_op *op) {
    return ctx->profile ? alaei_profile_run(ctx, op) : ctx->backend->run_op(ctx->bctx, op);
}

alae_status alaei_device_run(alae_context *ctx, const alaei_op *op) {
    if (alaei_context_abort_pending(ctx))
        return alaei_fail(ALAE_E_ABORTED, "alaei_device_run", "aborted before %s", alaei_op_name(op->code));
    return alaei_device_exec(ctx, op);
}

/* A descriptor of count elements as one row: dst and every source [1, 1, 1, count]. */
static alaei_op flat_op(int32_t code, int32_t nsrc, void *dst, int64_t count) {
    alaei_op op = {0};
    op.code = code;
    op.nsrc = nsrc;
    op.dst.data = dst;
    op.dst.ne[0] = op.dst.ne[1] = op.dst.ne[2] = 1;
    op.dst.ne[3] = count;
    for (int k = 0; k < nsrc; k++) memcpy(op.src[k].ne, op.dst.ne, sizeof op.dst.ne);
    return op;
}

alae_status alaei_device_normal(alae_context *ctx, void *dst, int64_t count, uint64_t seed, uint64_t offset,
                                double mean, double stddev) {
    alaei_op op = flat_op(ALAEI_OP_RNG_NORMAL, 0, dst, count);
    op.ip[0] = (int32_t)(uint32_t)seed;
    op.ip[1] = (int32_t)(uint32_t)(seed >> 32);
    op.ip[2] = (int32_t)(uint32_t)offset;
    op.ip[3] = (int32_t)(uint32_t)(offset >> 32);
    op.fp[0] = mean;
    op.fp[1] = stddev;
    return alaei_device_run(ctx, &op);
}

alae_status alaei_context_draw_normal(alae_context *ctx, void *dst, int64_t count, double mean, double stddev) {
    alae_status s = alaei_device_normal(ctx, dst, count, (uint64_t)ctx->seed, ctx->rng_offset, mean, stddev);
    if (s == ALAE_OK) ctx->rng_offset += (uint64_t)count;
    return s;
}

alae_status alaei_device_binary(alae_context *ctx, int32_t code, void *dst, const void *a, const void *b,
                                int64_t count) {
    alaei_op op = flat_op(code, 2, dst, count);
    op.src[0].data = (void *)a;
    op.src[1].data = (void *)b;
    return alaei_device_run(ctx, &op);
}

alae_status alaei_device_scale_shift(alae_context *ctx, void *dst, const void *a, int64_t count, double scale,
                                     double shift) {
    alaei_op op = flat_op(ALAEI_OP_SCALE_SHIFT, 1, dst, count);
    op.src[0].data = (void *)a;
    op.fp[0] = scale;
    op.fp[1] = shift;
    return alaei_device_run(ctx, &op);
}

alae_status alaei_device_adam_step(alae_context *ctx, void *param, const void *grad, void *m, void *v, int64_t count,
                                   double step, double beta1, double beta2, double eps) {
    alaei_op op = flat_op(ALAEI_OP_ADAM_STEP, 3, param, count);
    op.src[0].data = (void *)grad;
    op.src[1].data = m;
    op.src[2].data = v;
    op.fp[0] = step;
    op.fp[1] = beta1;
    op.fp[2] = beta2;
    op.fp[3] = eps;
    return alaei_device_run(ctx, &op);
}

alae_status alaei_device_adam_ema_step(alae_context *ctx, void *param, const void *grad, void *moments,
                                       void *smoothed, void *scratch, int64_t count, double step, double beta1,
                                       double beta2, double eps, double rate) {
    alaei_op op = flat_op(ALAEI_OP_ADAM_EMA_STEP, 3, param, count);
    op.src[0].data = (void *)grad;
    op.src[1].data = moments;
    op.src[1].ne[2] = 2; /* [1, 1, 2, count]: m, then v */
    op.src[2].data = smoothed;
    op.fp[0] = step;
    op.fp[1] = beta1;
    op.fp[2] = beta2;
    op.fp[3] = eps;
    op.fp[4] = rate;
    if (ctx->backend->supports(ctx->bctx, &op)) return alaei_device_run(ctx, &op);
    void *v = (char *)moments + (size_t)count * (size_t)ctx->backend->elem_size;
    alae_status s = alaei_device_adam_step(ctx, param, grad, moments, v, count, step, beta1, beta2, eps);
    if (s == ALAE_OK) s = alaei_device_binary(ctx, ALAEI_OP_SUB, scratch, param, smoothed, count);
    if (s == ALAE_OK) s = alaei_device_scale_shift(ctx, scratch, scratch, count, rate, 0.0);
    if (s == ALAE_OK) s = alaei_device_binary(ctx, ALAEI_OP_ADD, smoothed, smoothed, scratch, count);
    return s;
}
