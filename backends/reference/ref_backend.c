/* The double-precision reference backend: the test oracle.
 *
 * Elements are stored as double and every op is a plain scalar loop written to be obviously
 * correct against the spec in lib/internal/alae_backend_impl.h, never to be fast. It is built
 * into the alae_reference static library, which only the tests link. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_host.h"

typedef struct ref_ctx {
    const alaei_host_services *host;
    int32_t device;
} ref_ctx;

/* ---- index helpers ---- */

/* Offset of element (i0, i1, i2, i3) in a dense row-major tensor of dims ne. */
static int64_t off4(const int64_t ne[4], int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return ((i0 * ne[1] + i1) * ne[2] + i2) * ne[3] + i3;
}

/* Same, but a dim of size 1 always reads index 0 (broadcasting). */
static int64_t boff4(const int64_t ne[4], const int64_t i[4]) {
    return off4(ne, ne[0] == 1 ? 0 : i[0], ne[1] == 1 ? 0 : i[1], ne[2] == 1 ? 0 : i[2],
                ne[3] == 1 ? 0 : i[3]);
}

static double *D(const alaei_tview *v) { return (double *)v->data; }

static int same_shape(const int64_t x[4], const int64_t y[4]) {
    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* every dim of small equals big's or is 1 */
static int broadcastable(const int64_t small[4], const int64_t big[4]) {
    for (int k = 0; k < 4; k++)
        if (small[k] != big[k] && small[k] != 1) return 0;
    return 1;
}

#define FMT_NE "[%lld,%lld,%lld,%lld]"
#define ARG_NE(ne) (long long)(ne)[0], (long long)(ne)[1], (long long)(ne)[2], (long long)(ne)[3]

/* ---- device and memory ---- */

static int32_t ref_device_count(void) { return 1; }

static alae_status ref_device_info(int32_t device, alae_device_info *out) {
    if (device != 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "device %d is not 0", (int)device);
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "out is NULL");
    alae_device_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    full.kind = ALAE_DEVICE_CPU;
    strcpy(full.name, "reference");
    strcpy(full.description, "double-precision reference loops (test oracle)");
    full.threads = 1;
    size_t n = out->struct_size != 0 && out->struct_size < sizeof full ? out->struct_size : sizeof full;
    uint32_t caller = out->struct_size;
    memcpy(out, &full, n);
    out->struct_size = caller != 0 ? caller : (uint32_t)sizeof full;
    return ALAE_OK;
}

static alae_status ref_ctx_create(int32_t device, const alaei_host_services *host, void **bctx) {
    if (device != 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "device %d is not 0", (int)device);
    if (!bctx) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "bctx is NULL");
    ref_ctx *c = calloc(1, sizeof *c);
    if (!c) return alaei_fail(ALAE_E_NOMEM, "reference", "no memory for a context");
    c->host = host;
    c->device = device;
    *bctx = c;
    return ALAE_OK;
}

static void ref_ctx_destroy(void *bctx) { free(bctx); }

static alae_status ref_set_threads(void *bctx, int32_t threads) { return ALAE_OK; }

static alae_status ref_synchronize(void *bctx) { return ALAE_OK; }

static alae_status ref_buf_alloc(void *bctx, size_t bytes, void **out) {
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "out is NULL");
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return alaei_fail(ALAE_E_NOMEM, "reference", "no memory for %zu bytes", bytes);
    *out = p;
    return ALAE_OK;
}

static void ref_buf_free(void *bctx, void *ptr) { free(ptr); }

static alae_status ref_write_f32(void *bctx, void *dst, const float *src, size_t count) {
    if (count && (!dst || !src)) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "NULL buffer");
    double *d = dst;
    for (size_t i = 0; i < count; i++) d[i] = (double)src[i];
    return ALAE_OK;
}

static alae_status ref_read_f32(void *bctx, float *dst, const void *src, size_t count) {
    if (count && (!dst || !src)) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "NULL buffer");
    const double *s = src;
    for (size_t i = 0; i < count; i++) dst[i] = (float)s[i];
    return ALAE_OK;
}

static alae_status ref_copy(void *bctx, void *dst, const void *src, size_t count) {
    if (count && (!dst || !src)) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "NULL buffer");
    if (count) memmove(dst, src, count * sizeof(double));
    return ALAE_OK;
}

static alae_status ref_fill(void *bctx, void *dst, size_t count, double value) {
    if (count && !dst) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "NULL buffer");
    double *d = dst;
    for (size_t i = 0; i < count; i++) d[i] = value;
    return ALAE_OK;
}

static int ref_supports(void *bctx, const alaei_op *op) {
    return op != NULL && alaei_op_is_backend_op(op->code);
}

/* ---- ops ---- */

static alae_status op_fill(const alaei_op *op) {
    double *d = D(&op->dst);
    int64_t n = alaei_numel4(op->dst.ne);
    for (int64_t i = 0; i < n; i++) d[i] = op->fp[0];
    return ALAE_OK;
}

static alae_status op_rng_normal(const alaei_op *op) {
    uint64_t seed = (uint64_t)(uint32_t)op->ip[0] | (uint64_t)(uint32_t)op->ip[1] << 32;
    uint64_t offset = (uint64_t)(uint32_t)op->ip[2] | (uint64_t)(uint32_t)op->ip[3] << 32;
    double *d = D(&op->dst);
    int64_t n = alaei_numel4(op->dst.ne);
    for (int64_t i = 0; i < n; i++)
        d[i] = op->fp[0] + op->fp[1] * (double)alaei_philox_normal(seed, offset + (uint64_t)i);
    return ALAE_OK;
}

static alae_status op_gemm(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *b = &op->src[1], *d = &op->dst;
    int ta = op->ip[0] != 0, tb = op->ip[1] != 0;
    int64_t M = d->ne[2], N = d->ne[3];
    int64_t aM = ta ? a->ne[3] : a->ne[2], aK = ta ? a->ne[2] : a->ne[3];
    int64_t bK = tb ? b->ne[3] : b->ne[2], bN = tb ? b->ne[2] : b->ne[3];
    if (aM != M || bN != N || aK != bK)
        return alaei_fail(ALAE_E_SHAPE, "reference",
                          "%s: op(a) is %lld x %lld and op(b) is %lld x %lld, d is %lld x %lld", name,
                          (long long)aM, (long long)aK, (long long)bK, (long long)bN, (long long)M,
                          (long long)N);
    int64_t e[2]; /* iterated batch dims; d's is e or 1 (summed) */
    for (int k = 0; k < 2; k++) {
        e[k] = a->ne[k] > b->ne[k] ? a->ne[k] : b->ne[k];
        if (d->ne[k] > e[k]) e[k] = d->ne[k];
        if ((a->ne[k] != e[k] && a->ne[k] != 1) || (b->ne[k] != e[k] && b->ne[k] != 1) ||
            (d->ne[k] != e[k] && d->ne[k] != 1))
            return alaei_fail(ALAE_E_SHAPE, "reference",
                              "%s: batch dims of a " FMT_NE " / b " FMT_NE " do not broadcast to d " FMT_NE,
                              name, ARG_NE(a->ne), ARG_NE(b->ne), ARG_NE(d->ne));
    }
    int64_t K = aK;
    const double *A = D(a), *B = D(b);
    double *C = D(d);
    for (int64_t i = 0; i < alaei_numel4(d->ne); i++) C[i] = 0.0;
    for (int64_t b0 = 0; b0 < e[0]; b0++)
        for (int64_t b1 = 0; b1 < e[1]; b1++) {
            int64_t db0 = d->ne[0] == 1 ? 0 : b0, db1 = d->ne[1] == 1 ? 0 : b1;
            int64_t ab0 = a->ne[0] == 1 ? 0 : b0, ab1 = a->ne[1] == 1 ? 0 : b1;
            int64_t bb0 = b->ne[0] == 1 ? 0 : b0, bb1 = b->ne[1] == 1 ? 0 : b1;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0.0;
                    for (int64_t k = 0; k < K; k++) {
                        double x = ta ? A[off4(a->ne, ab0, ab1, k, i)] : A[off4(a->ne, ab0, ab1, i, k)];
                        double y = tb ? B[off4(b->ne, bb0, bb1, j, k)] : B[off4(b->ne, bb0, bb1, k, j)];
                        acc += x * y;
                    }
                    C[off4(d->ne, db0, db1, i, j)] += op->fp[0] * acc;
                }
        }
    return ALAE_OK;
}

static alae_status op_binary(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *b = &op->src[1], *d = &op->dst;
    if (!broadcastable(a->ne, d->ne) || !broadcastable(b->ne, d->ne))
        return alaei_fail(ALAE_E_SHAPE, "reference",
                          "%s: a " FMT_NE " and b " FMT_NE " do not broadcast to d " FMT_NE, name,
                          ARG_NE(a->ne), ARG_NE(b->ne), ARG_NE(d->ne));
    const double *A = D(a), *B = D(b);
    double *C = D(d);
    int64_t i[4];
    for (i[0] = 0; i[0] < d->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < d->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < d->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < d->ne[3]; i[3]++) {
                    double x = A[boff4(a->ne, i)], y = B[boff4(b->ne, i)], r;
                    switch (op->code) {
                    case ALAEI_OP_ADD: r = x + y; break;
                    case ALAEI_OP_SUB: r = x - y; break;
                    case ALAEI_OP_MUL: r = x * y; break;
                    default: r = x / y; break;
                    }
                    C[off4(d->ne, i[0], i[1], i[2], i[3])] = r;
                }
    return ALAE_OK;
}

/* ADD_LEAKY_RELU: d = leaky_relu(a + b, f[0]), b broadcast to a's (= d's) shape */
static alae_status op_add_leaky(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *b = &op->src[1], *d = &op->dst;
    if (!same_shape(a->ne, d->ne) || !broadcastable(b->ne, d->ne))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: a " FMT_NE " must be d's shape and b " FMT_NE
                          " broadcast to d " FMT_NE, name, ARG_NE(a->ne), ARG_NE(b->ne), ARG_NE(d->ne));
    const double *A = D(a), *B = D(b);
    double *C = D(d), slope = op->fp[0];
    int64_t i[4];
    for (i[0] = 0; i[0] < d->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < d->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < d->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < d->ne[3]; i[3]++) {
                    double z = A[boff4(a->ne, i)] + B[boff4(b->ne, i)];
                    C[off4(d->ne, i[0], i[1], i[2], i[3])] = z > 0 ? z : slope * z;
                }
    return ALAE_OK;
}

static double unary1(int32_t code, double x, const double *f) {
    switch (code) {
    case ALAEI_OP_NEG: return -x;
    case ALAEI_OP_EXP: return exp(x);
    case ALAEI_OP_LOG: return log(x);
    case ALAEI_OP_SQRT: return sqrt(x);
    case ALAEI_OP_RSQRT: return 1.0 / sqrt(x);
    case ALAEI_OP_SQUARE: return x * x;
    case ALAEI_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ALAEI_OP_SOFTPLUS: return fmax(x, 0.0) + log1p(exp(-fabs(x)));
    case ALAEI_OP_ABS: return fabs(x);
    case ALAEI_OP_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case ALAEI_OP_LEAKY_RELU: return x > 0 ? x : f[0] * x;
    case ALAEI_OP_LEAKY_MASK: return x > 0 ? 1.0 : f[0];
    case ALAEI_OP_SCALE_SHIFT: return f[0] * x + f[1];
    default /* CLAMP */: return fmin(fmax(x, f[0]), f[1]);
    }
}

static alae_status op_unary(const alaei_op *op, const char *name) {
    if (!same_shape(op->src[0].ne, op->dst.ne))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: a " FMT_NE " and d " FMT_NE " differ", name,
                          ARG_NE(op->src[0].ne), ARG_NE(op->dst.ne));
    const double *A = D(&op->src[0]);
    double *C = D(&op->dst);
    int64_t n = alaei_numel4(op->dst.ne);
    for (int64_t i = 0; i < n; i++) C[i] = unary1(op->code, A[i], op->fp);
    return ALAE_OK;
}

static alae_status op_reduce_sum(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    if (!broadcastable(d->ne, a->ne))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: d " FMT_NE " is not a reduction of a " FMT_NE,
                          name, ARG_NE(d->ne), ARG_NE(a->ne));
    const double *A = D(a);
    double *C = D(d);
    int64_t n = alaei_numel4(d->ne);
    for (int64_t i = 0; i < n; i++) C[i] = 0.0;
    int64_t i[4];
    for (i[0] = 0; i[0] < a->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < a->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < a->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < a->ne[3]; i[3]++)
                    C[boff4(d->ne, i)] += A[off4(a->ne, i[0], i[1], i[2], i[3])];
    return ALAE_OK;
}

static alae_status op_broadcast(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    if (!broadcastable(a->ne, d->ne))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: a " FMT_NE " does not broadcast to d " FMT_NE,
                          name, ARG_NE(a->ne), ARG_NE(d->ne));
    const double *A = D(a);
    double *C = D(d);
    int64_t i[4];
    for (i[0] = 0; i[0] < d->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < d->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < d->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < d->ne[3]; i[3]++)
                    C[off4(d->ne, i[0], i[1], i[2], i[3])] = A[boff4(a->ne, i)];
    return ALAE_OK;
}

/* IM2COL and COL2IM share the geometry: img = [N, C, H, W], col = [1, N, C*KH*KW, OH*OW]. */
static alae_status im2col_geometry(const alaei_op *op, const int64_t img[4], const int64_t col[4],
                                   const char *name, int64_t *OH, int64_t *OW) {
    int64_t KH = op->ip[0], KW = op->ip[1], S = op->ip[2], P = op->ip[3];
    if (KH < 1 || KW < 1 || S < 1 || P < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: kernel %lldx%lld, stride %lld, pad %lld",
                          name, (long long)KH, (long long)KW, (long long)S, (long long)P);
    if (img[2] + 2 * P < KH || img[3] + 2 * P < KW)
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: kernel %lldx%lld is larger than the padded image " FMT_NE,
                          name, (long long)KH, (long long)KW, ARG_NE(img));
    *OH = (img[2] + 2 * P - KH) / S + 1;
    *OW = (img[3] + 2 * P - KW) / S + 1;
    int64_t want[4] = {1, img[0], img[1] * KH * KW, *OH * *OW};
    if (!same_shape(col, want))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: columns are " FMT_NE ", expected " FMT_NE, name,
                          ARG_NE(col), ARG_NE(want));
    return ALAE_OK;
}

static alae_status op_im2col(const alaei_op *op, const char *name, int adjoint) {
    const alaei_tview *img = adjoint ? &op->dst : &op->src[0];
    const alaei_tview *col = adjoint ? &op->src[0] : &op->dst;
    int64_t OH = 0, OW = 0;
    alae_status s = im2col_geometry(op, img->ne, col->ne, name, &OH, &OW);
    if (s != ALAE_OK) return s;
    int64_t KH = op->ip[0], KW = op->ip[1], S = op->ip[2], P = op->ip[3];
    int64_t N = img->ne[0], C = img->ne[1], H = img->ne[2], W = img->ne[3];
    double *I = D(img), *X = D(col);
    if (adjoint)
        for (int64_t i = 0; i < alaei_numel4(img->ne); i++) I[i] = 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < KH; i++)
                for (int64_t j = 0; j < KW; j++)
                    for (int64_t oy = 0; oy < OH; oy++)
                        for (int64_t ox = 0; ox < OW; ox++) {
                            int64_t x_off = off4(col->ne, 0, n, (c * KH + i) * KW + j, oy * OW + ox);
                            int64_t y = oy * S + i - P, x = ox * S + j - P;
                            int inside = y >= 0 && y < H && x >= 0 && x < W;
                            if (adjoint) {
                                if (inside) I[off4(img->ne, n, c, y, x)] += X[x_off];
                            } else {
                                X[x_off] = inside ? I[off4(img->ne, n, c, y, x)] : 0.0;
                            }
                        }
    return ALAE_OK;
}

static alae_status op_upsample(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    int64_t f = op->ip[0];
    if (f < 1) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: factor %lld", name, (long long)f);
    int64_t want[4] = {a->ne[0], a->ne[1], a->ne[2] * f, a->ne[3] * f};
    if (!same_shape(d->ne, want))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: d is " FMT_NE ", expected " FMT_NE, name,
                          ARG_NE(d->ne), ARG_NE(want));
    const double *A = D(a);
    double *C = D(d);
    for (int64_t n = 0; n < d->ne[0]; n++)
        for (int64_t c = 0; c < d->ne[1]; c++)
            for (int64_t y = 0; y < d->ne[2]; y++)
                for (int64_t x = 0; x < d->ne[3]; x++)
                    C[off4(d->ne, n, c, y, x)] = A[off4(a->ne, n, c, y / f, x / f)];
    return ALAE_OK;
}

static alae_status op_sumpool(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    int64_t f = op->ip[0];
    if (f < 1) return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: factor %lld", name, (long long)f);
    int64_t want[4] = {a->ne[0], a->ne[1], a->ne[2] / f, a->ne[3] / f};
    if (!same_shape(d->ne, want))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: d is " FMT_NE ", expected " FMT_NE, name,
                          ARG_NE(d->ne), ARG_NE(want));
    const double *A = D(a);
    double *C = D(d);
    for (int64_t n = 0; n < d->ne[0]; n++)
        for (int64_t c = 0; c < d->ne[1]; c++)
            for (int64_t y = 0; y < d->ne[2]; y++)
                for (int64_t x = 0; x < d->ne[3]; x++) {
                    double acc = 0.0;
                    for (int64_t i = 0; i < f; i++)
                        for (int64_t j = 0; j < f; j++) acc += A[off4(a->ne, n, c, y * f + i, x * f + j)];
                    C[off4(d->ne, n, c, y, x)] = acc;
                }
    return ALAE_OK;
}

static alae_status op_fir2d(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    int64_t K = op->ip[0], P = op->ip[1];
    if (K < 1 || K > 4 || P < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: kernel %lld (1..4), pad %lld", name,
                          (long long)K, (long long)P);
    int64_t want[4] = {a->ne[0], a->ne[1], a->ne[2] + 2 * P - K + 1, a->ne[3] + 2 * P - K + 1};
    if (!same_shape(d->ne, want))
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: d is " FMT_NE ", expected " FMT_NE, name,
                          ARG_NE(d->ne), ARG_NE(want));
    const double *A = D(a);
    double *C = D(d);
    int64_t H = a->ne[2], W = a->ne[3];
    for (int64_t n = 0; n < d->ne[0]; n++)
        for (int64_t c = 0; c < d->ne[1]; c++)
            for (int64_t y = 0; y < d->ne[2]; y++)
                for (int64_t x = 0; x < d->ne[3]; x++) {
                    double acc = 0.0;
                    for (int64_t i = 0; i < K; i++)
                        for (int64_t j = 0; j < K; j++) {
                            int64_t yy = y + i - P, xx = x + j - P;
                            if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                acc += op->fp[i * K + j] * A[off4(a->ne, n, c, yy, xx)];
                        }
                    C[off4(d->ne, n, c, y, x)] = acc;
                }
    return ALAE_OK;
}

static alae_status op_permute(const alaei_op *op, const char *name) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    const int32_t *p = op->ip;
    int seen[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        if (p[k] < 0 || p[k] > 3 || seen[p[k]]++)
            return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: {%d,%d,%d,%d} is not a permutation",
                              name, (int)p[0], (int)p[1], (int)p[2], (int)p[3]);
    }
    for (int k = 0; k < 4; k++)
        if (d->ne[k] != a->ne[p[k]])
            return alaei_fail(ALAE_E_SHAPE, "reference", "%s: d " FMT_NE " is not a " FMT_NE " permuted by {%d,%d,%d,%d}",
                              name, ARG_NE(d->ne), ARG_NE(a->ne), (int)p[0], (int)p[1], (int)p[2], (int)p[3]);
    const double *A = D(a);
    double *C = D(d);
    int64_t i[4], e[4];
    for (i[0] = 0; i[0] < d->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < d->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < d->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < d->ne[3]; i[3]++) {
                    for (int k = 0; k < 4; k++) e[p[k]] = i[k];
                    C[off4(d->ne, i[0], i[1], i[2], i[3])] = A[off4(a->ne, e[0], e[1], e[2], e[3])];
                }
    return ALAE_OK;
}

/* SLICE (big = a, small = d) and SLICE_ADJ (small = a, big = d). */
static alae_status op_slice(const alaei_op *op, const char *name, int adjoint) {
    const alaei_tview *big = adjoint ? &op->dst : &op->src[0];
    const alaei_tview *small = adjoint ? &op->src[0] : &op->dst;
    int32_t axis = op->ip[0];
    int64_t start = op->ip[1];
    if (axis < 0 || axis > 3 || start < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: axis %d, start %lld", name, (int)axis,
                          (long long)start);
    for (int k = 0; k < 4; k++) {
        int ok = k == axis ? start + small->ne[k] <= big->ne[k] : small->ne[k] == big->ne[k];
        if (!ok)
            return alaei_fail(ALAE_E_SHAPE, "reference",
                              "%s: " FMT_NE " is not a slice of " FMT_NE " at axis %d, start %lld", name,
                              ARG_NE(small->ne), ARG_NE(big->ne), (int)axis, (long long)start);
    }
    double *B = D(big), *S = D(small);
    if (adjoint)
        for (int64_t i = 0; i < alaei_numel4(big->ne); i++) B[i] = 0.0;
    int64_t i[4], e[4];
    for (i[0] = 0; i[0] < small->ne[0]; i[0]++)
        for (i[1] = 0; i[1] < small->ne[1]; i[1]++)
            for (i[2] = 0; i[2] < small->ne[2]; i[2]++)
                for (i[3] = 0; i[3] < small->ne[3]; i[3]++) {
                    for (int k = 0; k < 4; k++) e[k] = i[k];
                    e[axis] += start;
                    int64_t so = off4(small->ne, i[0], i[1], i[2], i[3]);
                    int64_t bo = off4(big->ne, e[0], e[1], e[2], e[3]);
                    if (adjoint)
                        B[bo] = S[so];
                    else
                        S[so] = B[bo];
                }
    return ALAE_OK;
}

static alae_status op_adam(const alaei_op *op, const char *name) {
    for (int k = 0; k < 3; k++)
        if (!same_shape(op->src[k].ne, op->dst.ne))
            return alaei_fail(ALAE_E_SHAPE, "reference", "%s: src[%d] " FMT_NE " differs from p " FMT_NE,
                              name, k, ARG_NE(op->src[k].ne), ARG_NE(op->dst.ne));
    double *P = D(&op->dst), *M = D(&op->src[1]), *V = D(&op->src[2]);
    const double *G = D(&op->src[0]);
    double lr = op->fp[0], b1 = op->fp[1], b2 = op->fp[2], eps = op->fp[3];
    int64_t n = alaei_numel4(op->dst.ne);
    for (int64_t i = 0; i < n; i++) {
        double g = G[i];
        M[i] = b1 * M[i] + (1.0 - b1) * g;
        V[i] = b2 * V[i] + (1.0 - b2) * g * g;
        P[i] -= lr * M[i] / (sqrt(V[i]) + eps);
    }
    return ALAE_OK;
}

/* ADAM_EMA_STEP: ADAM_STEP, then s += r (p - s) with the new p (in double here). */
static alae_status op_adam_ema(const alaei_op *op, const char *name) {
    int64_t n = alaei_numel4(op->dst.ne);
    if (alaei_numel4(op->src[0].ne) != n || alaei_numel4(op->src[1].ne) != 2 * n || alaei_numel4(op->src[2].ne) != n)
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: %lld parameters need as many gradients and smoothed values "
                          "and 2x as many moments", name, (long long)n);
    double *P = D(&op->dst), *M = D(&op->src[1]), *V = M + n, *S = D(&op->src[2]);
    const double *G = D(&op->src[0]);
    double lr = op->fp[0], b1 = op->fp[1], b2 = op->fp[2], eps = op->fp[3], r = op->fp[4];
    for (int64_t i = 0; i < n; i++) {
        double g = G[i];
        M[i] = b1 * M[i] + (1.0 - b1) * g;
        V[i] = b2 * V[i] + (1.0 - b2) * g * g;
        P[i] -= lr * M[i] / (sqrt(V[i]) + eps);
        S[i] += r * (P[i] - S[i]);
    }
    return ALAE_OK;
}

/* CONV2D, CONV2D_BWD_DATA and CONV2D_BWD_WEIGHT: the three partial derivatives of
 * T(g, x, w) = alpha sum g[n,o,oy,ox] w[o,c,i,j] x[n,c,oy*S+i-P, ox*S+j-P], by one loop over
 * every (n, o, oy, ox, c, i, j) term that lands inside the image. */
static alae_status op_conv(const alaei_op *op, const char *name) {
    const alaei_tview *x, *w, *g;
    switch (op->code) {
    case ALAEI_OP_CONV2D: x = &op->src[0], w = &op->src[1], g = &op->dst; break;
    case ALAEI_OP_CONV2D_BWD_DATA: g = &op->src[0], w = &op->src[1], x = &op->dst; break;
    default: g = &op->src[0], x = &op->src[1], w = &op->dst; break;
    }
    int64_t KH = op->ip[0], KW = op->ip[1], S = op->ip[2], P = op->ip[3];
    if (KH < 1 || KW < 1 || S < 1 || P < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "reference", "%s: kernel %lldx%lld, stride %lld, pad %lld", name,
                          (long long)KH, (long long)KW, (long long)S, (long long)P);
    int64_t N = x->ne[0], C = x->ne[1], H = x->ne[2], W = x->ne[3], O = w->ne[0];
    if (H + 2 * P < KH || W + 2 * P < KW)
        return alaei_fail(ALAE_E_SHAPE, "reference", "%s: kernel %lldx%lld is larger than the padded image " FMT_NE,
                          name, (long long)KH, (long long)KW, ARG_NE(x->ne));
    int64_t OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
    int64_t want_w[4] = {O, C, KH, KW}, want_g[4] = {N, O, OH, OW};
    if (!same_shape(w->ne, want_w) || !same_shape(g->ne, want_g))
        return alaei_fail(ALAE_E_SHAPE, "reference",
                          "%s: image " FMT_NE ", kernel " FMT_NE " and output gradient " FMT_NE
                          " do not fit (kernel %lldx%lld, stride %lld, pad %lld)",
                          name, ARG_NE(x->ne), ARG_NE(w->ne), ARG_NE(g->ne), (long long)KH, (long long)KW,
                          (long long)S, (long long)P);
    double *X = D(x), *Wt = D(w), *G = D(g), alpha = op->fp[0];
    double *out = D(&op->dst);
    int64_t nout = alaei_numel4(op->dst.ne);
    for (int64_t i = 0; i < nout; i++) out[i] = 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int64_t gi = off4(g->ne, n, o, oy, ox);
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t i = 0; i < KH; i++)
                            for (int64_t j = 0; j < KW; j++) {
                                int64_t y = oy * S + i - P, xx = ox * S + j - P;
                                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                                int64_t xi = off4(x->ne, n, c, y, xx), wi = off4(w->ne, o, c, i, j);
                                switch (op->code) {
                                case ALAEI_OP_CONV2D: G[gi] += Wt[wi] * X[xi]; break;
                                case ALAEI_OP_CONV2D_BWD_DATA: X[xi] += Wt[wi] * G[gi]; break;
                                default: Wt[wi] += G[gi] * X[xi]; break;
                                }
                            }
                }
    for (int64_t i = 0; i < nout; i++) out[i] *= alpha;
    return ALAE_OK;
}

static alae_status ref_run_op(void *bctx, const alaei_op *op) {
    alae_status s = alaei_op_validate(op, "reference", alaei_fail);
    if (s != ALAE_OK) return s;
    const char *name = alaei_op_name(op->code);
    switch (op->code) {
    case ALAEI_OP_FILL: return op_fill(op);
    case ALAEI_OP_RNG_NORMAL: return op_rng_normal(op);
    case ALAEI_OP_GEMM: return op_gemm(op, name);
    case ALAEI_OP_ADD:
    case ALAEI_OP_SUB:
    case ALAEI_OP_MUL:
    case ALAEI_OP_DIV: return op_binary(op, name);
    case ALAEI_OP_NEG:
    case ALAEI_OP_EXP:
    case ALAEI_OP_LOG:
    case ALAEI_OP_SQRT:
    case ALAEI_OP_RSQRT:
    case ALAEI_OP_SQUARE:
    case ALAEI_OP_SIGMOID:
    case ALAEI_OP_SOFTPLUS:
    case ALAEI_OP_ABS:
    case ALAEI_OP_SIGN:
    case ALAEI_OP_LEAKY_RELU:
    case ALAEI_OP_LEAKY_MASK:
    case ALAEI_OP_SCALE_SHIFT:
    case ALAEI_OP_CLAMP: return op_unary(op, name);
    case ALAEI_OP_REDUCE_SUM: return op_reduce_sum(op, name);
    case ALAEI_OP_BROADCAST: return op_broadcast(op, name);
    case ALAEI_OP_IM2COL: return op_im2col(op, name, 0);
    case ALAEI_OP_COL2IM: return op_im2col(op, name, 1);
    case ALAEI_OP_UPSAMPLE2D: return op_upsample(op, name);
    case ALAEI_OP_SUMPOOL2D: return op_sumpool(op, name);
    case ALAEI_OP_FIR2D: return op_fir2d(op, name);
    case ALAEI_OP_PERMUTE: return op_permute(op, name);
    case ALAEI_OP_SLICE: return op_slice(op, name, 0);
    case ALAEI_OP_SLICE_ADJ: return op_slice(op, name, 1);
    case ALAEI_OP_ADAM_STEP: return op_adam(op, name);
    case ALAEI_OP_ADAM_EMA_STEP: return op_adam_ema(op, name);
    case ALAEI_OP_ADD_LEAKY_RELU: return op_add_leaky(op, name);
    case ALAEI_OP_CONV2D:
    case ALAEI_OP_CONV2D_BWD_DATA:
    case ALAEI_OP_CONV2D_BWD_WEIGHT: return op_conv(op, name);
    default: return alaei_fail(ALAE_E_UNSUPPORTED, "reference", "%s is not implemented", name);
    }
}

static const alaei_backend_vtbl ref_vtbl = {
    .abi_version = ALAEI_BACKEND_ABI_VERSION,
    .struct_size = sizeof(alaei_backend_vtbl),
    .name = "reference",
    .elem_size = (int32_t)sizeof(double),
    .device_count = ref_device_count,
    .device_info = ref_device_info,
    .ctx_create = ref_ctx_create,
    .ctx_destroy = ref_ctx_destroy,
    .set_threads = ref_set_threads,
    .synchronize = ref_synchronize,
    .buf_alloc = ref_buf_alloc,
    .buf_free = ref_buf_free,
    .write_f32 = ref_write_f32,
    .read_f32 = ref_read_f32,
    .copy = ref_copy,
    .fill = ref_fill,
    .supports = ref_supports,
    .run_op = ref_run_op,
};

const alaei_backend_vtbl *alaei_reference_backend(void) { return &ref_vtbl; }
