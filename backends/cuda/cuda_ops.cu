/* The CUDA backend's ops: validation with the same shape rules as the CPU and reference backends
 * (lib/internal/alae_backend_impl.h gives every op's exact semantics), our own kernels for
 * everything but the matrix products, and cuBLAS for those.
 *
 * Kernels are plain grid-stride loops over 64-bit indices, one thread per output element; sums
 * (REDUCE_SUM, COL2IM, the transposed convolution) gather in a fixed order, so every result is
 * deterministic (no atomics). The convolutions are im2col + one cuBLAS GEMM per chunk of images,
 * in a "concatenated" layout: columns [C*KH*KW, nb*OH*OW] for nb images at once. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"

#define BLOCK 256
#define MAX_GRID 65535L * 16L
#define CONV_SCRATCH_BUDGET ((size_t)256 << 20) /* columns of one chunk of images */

#define FMT_NE "[%lld, %lld, %lld, %lld]"
#define ARG_NE(ne) (long long)(ne)[0], (long long)(ne)[1], (long long)(ne)[2], (long long)(ne)[3]

typedef long long ll;

static unsigned grid_for(int64_t n) {
    int64_t g = (n + BLOCK - 1) / BLOCK;
    if (g < 1) g = 1;
    if (g > MAX_GRID) g = MAX_GRID;
    return (unsigned)g;
}

#define GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* Launches kernel<<<grid_for(n), BLOCK, 0, stream>>>(args) and checks the launch. */
#define LAUNCH(ctx, n, kernel, ...)                                                     \
    do {                                                                                \
        kernel<<<grid_for(n), BLOCK, 0, (ctx)->stream>>>(__VA_ARGS__);                  \
        alae_status ls_ = cu_check_launch((ctx), "cuda_run_op", #kernel);               \
        if (ls_ != ALAE_OK) return ls_;                                                 \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Validation (alaei_op_validate first; messages name the op: run_op's callers see "<OP>: ...")
 * ------------------------------------------------------------------------------------------- */

static alae_status shape_error(const alaei_op *op, const char *fmt, ...) CU_PRINTF(2, 3);
static alae_status shape_error(const alaei_op *op, const char *fmt, ...) {
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return cu_fail(ALAE_E_SHAPE, "cuda_run_op", "%s: %s", alaei_op_name(op->code), text);
}

static int same_shape(const int64_t x[4], const int64_t y[4]) {
    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* every dim of small equals big's or is 1 */
static int broadcastable(const int64_t small[4], const int64_t big[4]) {
    for (int k = 0; k < 4; k++)
        if (small[k] != big[k] && small[k] != 1) return 0;
    return 1;
}

static int64_t numel(const int64_t ne[4]) { return ne[0] * ne[1] * ne[2] * ne[3]; }

/* ---------------------------------------------------------------------------------------------
 * Index helpers shared by kernels: four dims and per-dim element strides (0 = broadcast)
 * ------------------------------------------------------------------------------------------- */

typedef struct dims4 {
    int64_t ne[4];
} dims4;
typedef struct strides4 {
    int64_t st[4];
} strides4;

static dims4 dims_of(const int64_t ne[4]) {
    dims4 d;
    for (int k = 0; k < 4; k++) d.ne[k] = ne[k];
    return d;
}

/* Dense strides of ne, with 0 where the source dim is 1 and the destination's is not. */
static strides4 bstrides(const int64_t src[4], const int64_t dst[4]) {
    strides4 s;
    int64_t st = 1;
    for (int k = 3; k >= 0; k--) {
        s.st[k] = (src[k] == 1 && dst[k] != 1) ? 0 : st;
        st *= src[k];
    }
    return s;
}

static strides4 dense_strides(const int64_t ne[4]) {
    strides4 s;
    int64_t st = 1;
    for (int k = 3; k >= 0; k--) {
        s.st[k] = st;
        st *= ne[k];
    }
    return s;
}

/* The offset in a source with strides st of flat destination index i (destination dims d). */
__device__ __forceinline__ int64_t src_offset(int64_t i, const dims4 &d, const strides4 &st) {
    int64_t i3 = i % d.ne[3];
    int64_t r = i / d.ne[3];
    int64_t i2 = r % d.ne[2];
    r /= d.ne[2];
    int64_t i1 = r % d.ne[1];
    int64_t i0 = r / d.ne[1];
    return i0 * st.st[0] + i1 * st.st[1] + i2 * st.st[2] + i3 * st.st[3];
}

/* ---------------------------------------------------------------------------------------------
 * FILL and RNG_NORMAL
 * ------------------------------------------------------------------------------------------- */

__global__ void k_fill(float *d, int64_t n, float v) {
    GRID_STRIDE(i, n) d[i] = v;
}

alae_status cu_fill_f32(cu_ctx *ctx, float *dst, size_t count, float v) {
    if (count == 0) return ALAE_OK;
    if (count > (size_t)INT64_MAX / sizeof(float))
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_fill", "%zu elements is too many", count);
    k_fill<<<grid_for((int64_t)count), BLOCK, 0, ctx->stream>>>(dst, (int64_t)count, v);
    return cu_check_launch(ctx, "cuda_fill", "k_fill");
}

/* Philox4x32-10 and the Box-Muller normal, exactly as lib/core/philox.c computes them: the same
 * integer rounds, the same double operations in the same order (no contraction into FMAs), so the
 * floats match the CPU backend's. */
__device__ __forceinline__ void philox4x32_10(uint32_t ctr[4], uint32_t key0, uint32_t key1) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ ctr[1] ^ key0, n2 = hi0 ^ ctr[3] ^ key1;
        ctr[0] = n0;
        ctr[1] = lo1;
        ctr[2] = n2;
        ctr[3] = lo0;
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
}

__device__ __forceinline__ double philox_normal(uint64_t seed, uint64_t j) {
    uint64_t c = j >> 1;
    uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
    philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    double u1 = __dmul_rn(__dadd_rn((double)ctr[0], 1.0), 1.0 / 4294967296.0); /* (0, 1] */
    double u2 = __dmul_rn((double)ctr[1], 1.0 / 4294967296.0);                /* [0, 1) */
    double r = sqrt(__dmul_rn(-2.0, log(u1)));
    double angle = __dmul_rn(6.283185307179586476925, u2);
    /* rounded to float first, as alaei_philox_normal returns a float */
    return (double)(float)(j & 1 ? __dmul_rn(r, sin(angle)) : __dmul_rn(r, cos(angle)));
}

__global__ void k_rng_normal(float *d, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev) {
    GRID_STRIDE(i, n) {
        double z = philox_normal(seed, offset + (uint64_t)i);
        d[i] = (float)__dadd_rn(mean, __dmul_rn(stddev, z));
    }
}

/* ---------------------------------------------------------------------------------------------
 * Elementwise: binary with broadcasting, unary, BROADCAST
 * ------------------------------------------------------------------------------------------- */

__device__ __forceinline__ float bin(int code, float x, float y) {
    switch (code) {
    case ALAEI_OP_ADD: return x + y;
    case ALAEI_OP_SUB: return x - y;
    case ALAEI_OP_MUL: return x * y;
    default: return x / y;
    }
}

__global__ void k_binary_same(int code, float *d, const float *a, const float *b, int64_t n) {
    GRID_STRIDE(i, n) d[i] = bin(code, a[i], b[i]);
}

/* b broadcast along whole inner runs: b[(i / inner) % nb_rows] (b = [.., C, 1, 1] against
 * [N, C, H, W], or a scalar when nb_rows = 1 and inner = n) */
__global__ void k_binary_rows(int code, float *d, const float *a, const float *b, int64_t n, int64_t inner,
                              int64_t rows) {
    GRID_STRIDE(i, n) d[i] = bin(code, a[i], b[(i / inner) % rows]);
}

__global__ void k_binary_general(int code, float *d, const float *a, const float *b, int64_t n, dims4 dd,
                                 strides4 sa, strides4 sb) {
    GRID_STRIDE(i, n) d[i] = bin(code, a[src_offset(i, dd, sa)], b[src_offset(i, dd, sb)]);
}

/* When b's dims are d's up to some k and 1 after it, or 1 up to k and d's after... : the
 * simplest common broadcast shapes, run without per-element index arithmetic. rows/inner
 * describe b = rows values, each repeated over `inner` consecutive elements. */
static int rows_pattern(const int64_t b[4], const int64_t d[4], int64_t *rows, int64_t *inner) {
    /* b's non-1 dims must be one contiguous band of d's dims [lo, hi], with 1s elsewhere */
    int lo = -1, hi = -1;
    for (int k = 0; k < 4; k++) {
        if (b[k] == d[k] && d[k] != 1) {
            if (lo < 0) lo = k;
            if (hi >= 0 && hi != k - 1) return 0;
            hi = k;
        } else if (b[k] != 1) {
            return 0;
        }
    }
    if (lo < 0) {
        *rows = 1;
        *inner = numel(d) > 0 ? numel(d) : 1;
        return 1;
    }
    int64_t r = 1, in = 1;
    for (int k = lo; k <= hi; k++) r *= d[k];
    for (int k = hi + 1; k < 4; k++) in *= d[k];
    *rows = r;
    *inner = in;
    return 1;
}

static alae_status op_binary(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *b = &op->src[1], *d = &op->dst;
    if (!broadcastable(a->ne, d->ne) || !broadcastable(b->ne, d->ne))
        return shape_error(op, "a " FMT_NE " and b " FMT_NE " do not broadcast to dst " FMT_NE, ARG_NE(a->ne),
                           ARG_NE(b->ne), ARG_NE(d->ne));
    int64_t n = numel(d->ne);
    if (n == 0) return ALAE_OK;
    float *pd = (float *)d->data;
    const float *pa = (const float *)a->data, *pb = (const float *)b->data;
    int64_t rows, inner;
    if (same_shape(a->ne, d->ne) && same_shape(b->ne, d->ne)) {
        LAUNCH(ctx, n, k_binary_same, op->code, pd, pa, pb, n);
    } else if (same_shape(a->ne, d->ne) && rows_pattern(b->ne, d->ne, &rows, &inner)) {
        LAUNCH(ctx, n, k_binary_rows, op->code, pd, pa, pb, n, inner, rows);
    } else {
        LAUNCH(ctx, n, k_binary_general, op->code, pd, pa, pb, n, dims_of(d->ne), bstrides(a->ne, d->ne),
               bstrides(b->ne, d->ne));
    }
    return ALAE_OK;
}

__device__ __forceinline__ float unary(int code, float x, float f0, float f1) {
    switch (code) {
    case ALAEI_OP_NEG: return -x;
    case ALAEI_OP_EXP: return expf(x);
    case ALAEI_OP_LOG: return logf(x);
    case ALAEI_OP_SQRT: return sqrtf(x);
    case ALAEI_OP_RSQRT: return 1.0f / sqrtf(x);
    case ALAEI_OP_SQUARE: return x * x;
    case ALAEI_OP_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case ALAEI_OP_SOFTPLUS: return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
    case ALAEI_OP_ABS: return fabsf(x);
    case ALAEI_OP_SIGN: return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x == x ? 0.0f : x;
    case ALAEI_OP_LEAKY_RELU: return x > 0.0f ? x : f0 * x;
    case ALAEI_OP_LEAKY_MASK: return x > 0.0f ? 1.0f : f0;
    case ALAEI_OP_SCALE_SHIFT: return f0 * x + f1;
    default /* CLAMP: a NaN input stays NaN */: return x < f0 ? f0 : (x > f1 ? f1 : x);
    }
}

__global__ void k_unary(int code, float *d, const float *a, int64_t n, float f0, float f1) {
    GRID_STRIDE(i, n) d[i] = unary(code, a[i], f0, f1);
}

static alae_status op_unary(cu_ctx *ctx, const alaei_op *op) {
    if (!same_shape(op->src[0].ne, op->dst.ne))
        return shape_error(op, "dst " FMT_NE " and src[0] " FMT_NE " differ", ARG_NE(op->dst.ne), ARG_NE(op->src[0].ne));
    int64_t n = numel(op->dst.ne);
    if (n == 0) return ALAE_OK;
    LAUNCH(ctx, n, k_unary, op->code, (float *)op->dst.data, (const float *)op->src[0].data, n, (float)op->fp[0],
           (float)op->fp[1]);
    return ALAE_OK;
}

/* ADD_LEAKY_RELU: the ADD, then LEAKY_RELU in place (two kernels; the CPU fuses them) */
static alae_status op_add_leaky(cu_ctx *ctx, const alaei_op *op) {
    if (!same_shape(op->src[0].ne, op->dst.ne))
        return shape_error(op, "a " FMT_NE " must have dst's shape " FMT_NE, ARG_NE(op->src[0].ne), ARG_NE(op->dst.ne));
    alaei_op add = *op;
    add.code = ALAEI_OP_ADD;
    alae_status s = op_binary(ctx, &add);
    if (s != ALAE_OK) return s;
    alaei_op act = *op;
    act.code = ALAEI_OP_LEAKY_RELU;
    act.nsrc = 1;
    act.src[0] = op->dst;
    return op_unary(ctx, &act);
}

__global__ void k_broadcast(float *d, const float *a, int64_t n, dims4 dd, strides4 sa) {
    GRID_STRIDE(i, n) d[i] = a[src_offset(i, dd, sa)];
}

static alae_status op_broadcast(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    if (!broadcastable(a->ne, d->ne))
        return shape_error(op, "a " FMT_NE " does not broadcast to d " FMT_NE, ARG_NE(a->ne), ARG_NE(d->ne));
    int64_t n = numel(d->ne);
    if (n == 0) return ALAE_OK;
    LAUNCH(ctx, n, k_broadcast, (float *)d->data, (const float *)a->data, n, dims_of(d->ne), bstrides(a->ne, d->ne));
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * REDUCE_SUM: d = a summed over the dims where d has 1 and a does not
 * ------------------------------------------------------------------------------------------- */

/* Output element o (dims dd) at offset base(o) in a; the reduced elements r (dims rd) at
 * base + src_offset(r, rd, rs). Sums in double, in a fixed order. */
__global__ void k_reduce_small(float *d, const float *a, int64_t n_out, dims4 dd, strides4 ds, int64_t n_red,
                               dims4 rd, strides4 rs) {
    GRID_STRIDE(o, n_out) {
        int64_t base = src_offset(o, dd, ds);
        double acc = 0.0;
        for (int64_t r = 0; r < n_red; r++) acc += (double)a[base + src_offset(r, rd, rs)];
        d[o] = (float)acc;
    }
}

/* The sum of every thread's acc in a fixed tree order, written to *out by thread 0; part is the
 * block's shared scratch of BLOCK doubles. Every thread of the block must call it. */
__device__ __forceinline__ void block_sum_to(double *part, double acc, float *out) {
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int w = BLOCK / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = (float)part[0];
    __syncthreads();
}

/* One block per output element (grid-strided over outputs), threads over the reduced elements. */
__global__ void k_reduce_block(float *d, const float *a, int64_t n_out, dims4 dd, strides4 ds, int64_t n_red,
                               dims4 rd, strides4 rs) {
    __shared__ double part[BLOCK];
    for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
        int64_t base = src_offset(o, dd, ds);
        double acc = 0.0;
        for (int64_t r = threadIdx.x; r < n_red; r += blockDim.x) acc += (double)a[base + src_offset(r, rd, rs)];
        block_sum_to(part, acc, &d[o]);
    }
}

/* k_reduce_block for a reduction over the innermost dims: a is [n_out, n_red] row-major, so the
 * reduced elements of output o are a[o * n_red + r] (no index arithmetic, coalesced reads). The
 * same summation order as k_reduce_block: the same bits. */
__global__ void k_reduce_rows(float *d, const float *a, int64_t n_out, int64_t n_red) {
    __shared__ double part[BLOCK];
    for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
        const float *row = a + o * n_red;
        double acc = 0.0;
        for (int64_t r = threadIdx.x; r < n_red; r += blockDim.x) acc += (double)row[r];
        block_sum_to(part, acc, &d[o]);
    }
}

/* The dims that d keeps all come before the dims it reduces (d is 1 from some dim on). */
static int reduces_inner_dims(const int64_t dne[4], const int64_t ane[4]) {
    int k = 0;
    while (k < 4 && dne[k] == ane[k]) k++;
    for (; k < 4; k++)
        if (dne[k] != 1) return 0;
    return 1;
}

static alae_status op_reduce_sum(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    if (!broadcastable(d->ne, a->ne))
        return shape_error(op, "d " FMT_NE " is not a reduction of a " FMT_NE, ARG_NE(d->ne), ARG_NE(a->ne));
    int64_t n_out = numel(d->ne);
    if (n_out == 0) return ALAE_OK;
    float *pd = (float *)d->data;
    int64_t n_in = numel(a->ne);
    if (n_in == 0) return cu_fill_f32(ctx, pd, (size_t)n_out, 0.0f);
    /* output coordinates index a with a's strides; the reduced dims run over rd */
    strides4 as = dense_strides(a->ne), ds, rs;
    dims4 dd = dims_of(d->ne), rd;
    int64_t n_red = 1;
    for (int k = 0; k < 4; k++) {
        int reduced = d->ne[k] == 1 && a->ne[k] != 1;
        ds.st[k] = reduced ? 0 : as.st[k];
        rd.ne[k] = reduced ? a->ne[k] : 1;
        rs.st[k] = reduced ? as.st[k] : 0;
        if (reduced) n_red *= a->ne[k];
    }
    if (n_red <= 64) {
        LAUNCH(ctx, n_out, k_reduce_small, pd, (const float *)a->data, n_out, dd, ds, n_red, rd, rs);
    } else if (reduces_inner_dims(d->ne, a->ne)) {
        unsigned grid = (unsigned)(n_out < MAX_GRID ? n_out : MAX_GRID);
        k_reduce_rows<<<grid, BLOCK, 0, ctx->stream>>>(pd, (const float *)a->data, n_out, n_red);
        alae_status s = cu_check_launch(ctx, "cuda_run_op", "k_reduce_rows");
        if (s != ALAE_OK) return s;
    } else {
        unsigned grid = (unsigned)(n_out < MAX_GRID ? n_out : MAX_GRID);
        k_reduce_block<<<grid, BLOCK, 0, ctx->stream>>>(pd, (const float *)a->data, n_out, dd, ds, n_red, rd, rs);
        alae_status s = cu_check_launch(ctx, "cuda_run_op", "k_reduce_block");
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * GEMM (cuBLAS)
 * ------------------------------------------------------------------------------------------- */

static int fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* Row-major C[m x n] = alpha op(A) op(B) + beta C, as the column-major product
 * C^T = op(B)^T op(A)^T: cuBLAS gets (B, A) with the row-major leading dims. */
alae_status cu_sgemm(cu_ctx *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t stride_a, const float *b, int64_t stride_b, float beta, float *c, int64_t stride_c,
                     int64_t batch) {
    const char *f = "cuda_run_op";
    if (m == 0 || n == 0 || batch == 0) return ALAE_OK;
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    if (!fits_int(m) || !fits_int(n) || !fits_int(k) || !fits_int(batch) || !fits_int(lda) || !fits_int(ldb))
        return cu_fail(ALAE_E_UNSUPPORTED, f, "GEMM: %lld x %lld x %lld (batch %lld) exceeds cuBLAS's 32-bit sizes",
                       (ll)m, (ll)n, (ll)k, (ll)batch);
    if (k == 0) {
        /* C = beta C: only needed when beta is 0 (every caller passes 0 or 1) */
        if (beta != 0.0f) return ALAE_OK;
        for (int64_t i = 0; i < batch; i++) {
            alae_status s = cu_fill_f32(ctx, c + i * stride_c, (size_t)(m * n), 0.0f);
            if (s != ALAE_OK) return s;
        }
        return ALAE_OK;
    }
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t st;
    if (batch == 1)
        st = cublasSgemm(ctx->blas, opb, opa, (int)n, (int)m, (int)k, &alpha, b, (int)ldb, a, (int)lda, &beta, c, (int)n);
    else
        st = cublasSgemmStridedBatched(ctx->blas, opb, opa, (int)n, (int)m, (int)k, &alpha, b, (int)ldb, stride_b, a,
                                       (int)lda, stride_a, &beta, c, (int)n, stride_c, (int)batch);
    return cu_check_blas(ctx, st, f, batch == 1 ? "cublasSgemm" : "cublasSgemmStridedBatched");
}

/* d[i] = (accumulate ? d[i] : 0) + sum_b s[b * n + i] */
__global__ void k_sum_batches(float *d, const float *s, int64_t n, int64_t batches, int accumulate) {
    GRID_STRIDE(i, n) {
        float acc = accumulate ? d[i] : 0.0f;
        for (int64_t b = 0; b < batches; b++) acc += s[b * n + i];
        d[i] = acc;
    }
}

typedef struct gemm_geom {
    int ta, tb;
    int64_t m, n, k, e[2];
    int sum[2];       /* d's dim is 1 while e > 1: products summed over it */
    int kcat;         /* sum over dim 1 as one GEMM with K * e1 (see below) */
} gemm_geom;

static alae_status gemm_geometry(const alaei_op *op, gemm_geom *g) {
    const alaei_tview *d = &op->dst, *a = &op->src[0], *b = &op->src[1];
    g->ta = op->ip[0] != 0;
    g->tb = op->ip[1] != 0;
    g->m = d->ne[2];
    g->n = d->ne[3];
    int64_t am = g->ta ? a->ne[3] : a->ne[2];
    g->k = g->ta ? a->ne[2] : a->ne[3];
    int64_t bk = g->tb ? b->ne[3] : b->ne[2], bn = g->tb ? b->ne[2] : b->ne[3];
    if (am != g->m || bn != g->n || bk != g->k)
        return shape_error(op, "op(a) is %lld x %lld and op(b) %lld x %lld (trans %d/%d) but dst is %lld x %lld", (ll)am,
                           (ll)g->k, (ll)bk, (ll)bn, g->ta, g->tb, (ll)g->m, (ll)g->n);
    for (int q = 0; q < 2; q++) {
        int64_t e = a->ne[q] > b->ne[q] ? a->ne[q] : b->ne[q];
        if (d->ne[q] > e) e = d->ne[q];
        if ((a->ne[q] != e && a->ne[q] != 1) || (b->ne[q] != e && b->ne[q] != 1) || (d->ne[q] != e && d->ne[q] != 1))
            return shape_error(op, "batch dim %d: a has %lld, b %lld, dst %lld (each must be the largest or 1; dst 1 sums)",
                               q, (ll)a->ne[q], (ll)b->ne[q], (ll)d->ne[q]);
        g->e[q] = e;
        g->sum[q] = d->ne[q] == 1 && e > 1;
    }
    /* sum over dim 1 of op(a_i) op(b_i) with a^T and b plain, both full along dim 1: the a_i
     * (K x M each) and b_i (K x N each) are stacked along K, so the sum is one GEMM with K * e1 */
    g->kcat = g->sum[1] && g->ta && !g->tb && a->ne[1] == g->e[1] && b->ne[1] == g->e[1];
    return ALAE_OK;
}

/* When dim 1 is 1 in all three views, [e0, 1, M, N] is laid out as [1, e0, M, N]: moving the
 * batches to dim 1 lets the strided-batched and the summing paths below do them in one call
 * (a loop over dim 0 would issue one small GEMM per image: 128 cuBLAS calls for the MLP's
 * [128, 1, 32, 28] resampling products). Returns op itself or tmp holding the folded views. */
static const alaei_op *gemm_fold_dim0(const alaei_op *op, alaei_op *tmp) {
    alaei_tview *const v[3] = {&tmp->dst, &tmp->src[0], &tmp->src[1]};
    if (op->dst.ne[1] != 1 || op->src[0].ne[1] != 1 || op->src[1].ne[1] != 1) return op;
    if (op->dst.ne[0] == 1 && op->src[0].ne[0] == 1 && op->src[1].ne[0] == 1) return op;
    /* a sum over dim 0 stays a loop of accumulating GEMMs unless it stacks along K (kcat below):
     * folded, it would need a scratch of e0 * M * N floats */
    int ta = op->ip[0] != 0, tb = op->ip[1] != 0;
    if (op->dst.ne[0] == 1 && !(ta && !tb && op->src[0].ne[0] == op->src[1].ne[0])) return op;
    *tmp = *op;
    for (int k = 0; k < 3; k++) {
        v[k]->ne[1] = v[k]->ne[0];
        v[k]->ne[0] = 1;
    }
    return tmp;
}

static size_t gemm_scratch_bytes(const alaei_op *op) {
    alaei_op folded;
    op = gemm_fold_dim0(op, &folded);
    gemm_geom g = {};
    if (op->nsrc != 2 || gemm_geometry(op, &g) != ALAE_OK) return 0;
    if (!g.sum[1] || g.kcat) return 0;
    return (size_t)g.e[1] * (size_t)g.m * (size_t)g.n * sizeof(float);
}

static alae_status op_gemm(cu_ctx *ctx, const alaei_op *op) {
    gemm_geom g = {};
    alae_status s = gemm_geometry(op, &g); /* errors name the op's own shapes */
    if (s != ALAE_OK) return s;
    alaei_op folded;
    const alaei_op *fop = gemm_fold_dim0(op, &folded);
    if (fop != op && (s = gemm_geometry(fop, &g)) != ALAE_OK) return s;
    op = fop;
    const alaei_tview *d = &op->dst, *a = &op->src[0], *b = &op->src[1];
    if (numel(d->ne) == 0) return ALAE_OK;
    float alpha = (float)op->fp[0];
    const float *pa = (const float *)a->data, *pb = (const float *)b->data;
    float *pd = (float *)d->data;
    int64_t mk_a = a->ne[2] * a->ne[3], mk_b = b->ne[2] * b->ne[3], mn = g.m * g.n;
    /* element strides per batch dim (0 when broadcast or summed) */
    int64_t a1 = a->ne[1] == 1 ? 0 : mk_a, a0 = a->ne[0] == 1 ? 0 : a->ne[1] * mk_a;
    int64_t b1 = b->ne[1] == 1 ? 0 : mk_b, b0 = b->ne[0] == 1 ? 0 : b->ne[1] * mk_b;
    int64_t d1 = d->ne[1] == 1 ? 0 : mn, d0 = d->ne[0] == 1 ? 0 : d->ne[1] * mn;
    if (!g.sum[1]) {
        /* one strided batched call over dim 1 per index of dim 0, or one call for both when the
         * strides chain (dim 0 not summed and every stride is e1 times dim 1's) */
        if (!g.sum[0] && a0 == g.e[1] * a1 && b0 == g.e[1] * b1 && d0 == g.e[1] * d1)
            return cu_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, alpha, pa, a1, pb, b1, 0.0f, pd, d1, g.e[0] * g.e[1]);
        for (int64_t i0 = 0; i0 < g.e[0]; i0++) {
            float beta = g.sum[0] && i0 > 0 ? 1.0f : 0.0f;
            s = cu_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, alpha, pa + i0 * a0, a1, pb + i0 * b0, b1, beta, pd + i0 * d0,
                         d1, g.e[1]);
            if (s != ALAE_OK) return s;
        }
        return ALAE_OK;
    }
    for (int64_t i0 = 0; i0 < g.e[0]; i0++) {
        int accumulate = g.sum[0] && i0 > 0;
        if (g.kcat) {
            s = cu_sgemm(ctx, 1, 0, g.m, g.n, g.k * g.e[1], alpha, pa + i0 * a0, 0, pb + i0 * b0, 0,
                         accumulate ? 1.0f : 0.0f, pd + i0 * d0, 0, 1);
            if (s != ALAE_OK) return s;
            continue;
        }
        float *scr = (float *)cu_scratch(ctx, gemm_scratch_bytes(op));
        if (!scr) return cu_scratch_status(ctx);
        s = cu_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, alpha, pa + i0 * a0, a1, pb + i0 * b0, b1, 0.0f, scr, mn, g.e[1]);
        if (s != ALAE_OK) return s;
        LAUNCH(ctx, mn, k_sum_batches, pd + i0 * d0, scr, mn, g.e[1], accumulate);
    }
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * IM2COL / COL2IM ([1, N, C*KH*KW, OH*OW] columns), UPSAMPLE2D, SUMPOOL2D, FIR2D
 * ------------------------------------------------------------------------------------------- */

typedef struct conv_geom {
    int64_t n, c, h, w, o, kh, kw, s, p, oh, ow;
} conv_geom;

/* Where a column element lives: image n, row r = (c*KH + i)*KW + j, output pixel q at
 * n*sn + r*sr + q. The IM2COL op's [N, C*KH*KW, OH*OW] columns have sn = CKK*OHW, sr = OHW; a
 * fused convolution's chunk X [C*KH*KW, nb*OH*OW] has sn = OHW, sr = nb*OHW. */
typedef struct col_layout {
    int64_t sn, sr;
} col_layout;

static col_layout per_image_columns(const conv_geom *g) {
    col_layout l = {g->c * g->kh * g->kw * g->oh * g->ow, g->oh * g->ow};
    return l;
}

static col_layout chunk_columns(const conv_geom *g, int64_t nb) {
    col_layout l = {g->oh * g->ow, nb * g->oh * g->ow};
    return l;
}

/* idx walks (n, r, q) with q fastest, total = images * CKK * OHW */
__global__ void k_im2col(float *col, const float *img, int64_t total, conv_geom g, col_layout l) {
    int64_t ohw = g.oh * g.ow, ckk = g.c * g.kh * g.kw;
    GRID_STRIDE(idx, total) {
        int64_t p = idx % ohw, r = (idx / ohw) % ckk, n = idx / (ohw * ckk);
        int64_t ox = p % g.ow, oy = p / g.ow;
        int64_t j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
        int64_t y = oy * g.s + i - g.p, x = ox * g.s + j - g.p;
        col[n * l.sn + r * l.sr + p] =
            (y >= 0 && y < g.h && x >= 0 && x < g.w) ? img[((n * g.c + c) * g.h + y) * g.w + x] : 0.0f;
    }
}

/* The adjoint, gathered per pixel: every column element read from (y, x) added back, in order;
 * idx walks the images [n, c, y, x]. */
__global__ void k_col2im(float *img, const float *col, int64_t total, conv_geom g, col_layout l) {
    GRID_STRIDE(idx, total) {
        int64_t x = idx % g.w, y = (idx / g.w) % g.h, c = (idx / (g.w * g.h)) % g.c, n = idx / (g.w * g.h * g.c);
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            int64_t ty = y + g.p - i;
            if (ty < 0 || ty % g.s) continue;
            int64_t oy = ty / g.s;
            if (oy >= g.oh) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                int64_t tx = x + g.p - j;
                if (tx < 0 || tx % g.s) continue;
                int64_t ox = tx / g.s;
                if (ox >= g.ow) continue;
                acc += col[n * l.sn + ((c * g.kh + i) * g.kw + j) * l.sr + oy * g.ow + ox];
            }
        }
        img[idx] = acc;
    }
}

static alae_status im2col_geometry(const alaei_op *op, const int64_t img[4], const int64_t col[4], conv_geom *g) {
    int64_t kh = op->ip[0], kw = op->ip[1], s = op->ip[2], p = op->ip[3];
    if (kh < 1 || kw < 1 || s < 1 || p < 0)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "%s: kernel %lldx%lld, stride %lld, pad %lld",
                       alaei_op_name(op->code), (ll)kh, (ll)kw, (ll)s, (ll)p);
    if (img[2] + 2 * p < kh || img[3] + 2 * p < kw)
        return shape_error(op, "kernel %lldx%lld is larger than the padded image " FMT_NE, (ll)kh, (ll)kw, ARG_NE(img));
    g->n = img[0], g->c = img[1], g->h = img[2], g->w = img[3], g->o = 0;
    g->kh = kh, g->kw = kw, g->s = s, g->p = p;
    g->oh = (g->h + 2 * p - kh) / s + 1;
    g->ow = (g->w + 2 * p - kw) / s + 1;
    int64_t want[4] = {1, g->n, g->c * kh * kw, g->oh * g->ow};
    if (!same_shape(col, want))
        return shape_error(op, "columns are " FMT_NE ", expected " FMT_NE, ARG_NE(col), ARG_NE(want));
    return ALAE_OK;
}

static alae_status op_im2col(cu_ctx *ctx, const alaei_op *op, int adjoint) {
    const alaei_tview *img = adjoint ? &op->dst : &op->src[0], *col = adjoint ? &op->src[0] : &op->dst;
    conv_geom g = {};
    alae_status s = im2col_geometry(op, img->ne, col->ne, &g);
    if (s != ALAE_OK) return s;
    if (adjoint) {
        int64_t n = numel(img->ne);
        if (n > 0) LAUNCH(ctx, n, k_col2im, (float *)img->data, (const float *)col->data, n, g, per_image_columns(&g));
    } else {
        int64_t n = numel(col->ne);
        if (n > 0) LAUNCH(ctx, n, k_im2col, (float *)col->data, (const float *)img->data, n, g, per_image_columns(&g));
    }
    return ALAE_OK;
}

__global__ void k_upsample(float *d, const float *a, int64_t total, int64_t h, int64_t w, int64_t f) {
    int64_t dh = h * f, dw = w * f;
    GRID_STRIDE(idx, total) {
        int64_t x = idx % dw, y = (idx / dw) % dh, nc = idx / (dw * dh);
        d[idx] = a[(nc * h + y / f) * w + x / f];
    }
}

__global__ void k_sumpool(float *d, const float *a, int64_t total, int64_t h, int64_t w, int64_t dh, int64_t dw,
                          int64_t f) {
    GRID_STRIDE(idx, total) {
        int64_t x = idx % dw, y = (idx / dw) % dh, nc = idx / (dw * dh);
        const float *src = a + (nc * h + y * f) * w + x * f;
        float acc = 0.0f;
        for (int64_t i = 0; i < f; i++)
            for (int64_t j = 0; j < f; j++) acc += src[i * w + j];
        d[idx] = acc;
    }
}

static alae_status op_resample(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    int64_t f = op->ip[0];
    if (f < 1)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "%s: factor %lld", alaei_op_name(op->code), (ll)f);
    int up = op->code == ALAEI_OP_UPSAMPLE2D;
    int64_t want[4] = {a->ne[0], a->ne[1], up ? a->ne[2] * f : a->ne[2] / f, up ? a->ne[3] * f : a->ne[3] / f};
    if (!same_shape(d->ne, want)) return shape_error(op, "d is " FMT_NE ", expected " FMT_NE, ARG_NE(d->ne), ARG_NE(want));
    int64_t n = numel(d->ne);
    if (n == 0) return ALAE_OK;
    if (up)
        LAUNCH(ctx, n, k_upsample, (float *)d->data, (const float *)a->data, n, a->ne[2], a->ne[3], f);
    else
        LAUNCH(ctx, n, k_sumpool, (float *)d->data, (const float *)a->data, n, a->ne[2], a->ne[3], d->ne[2], d->ne[3], f);
    return ALAE_OK;
}

typedef struct fir_taps {
    float k[16];
} fir_taps;

__global__ void k_fir2d(float *d, const float *a, int64_t total, int64_t h, int64_t w, int64_t dh, int64_t dw,
                        int kk, int pad, fir_taps taps) {
    GRID_STRIDE(idx, total) {
        int64_t x = idx % dw, y = (idx / dw) % dh, nc = idx / (dw * dh);
        const float *src = a + nc * h * w;
        float acc = 0.0f;
        for (int i = 0; i < kk; i++) {
            int64_t yy = y + i - pad;
            if (yy < 0 || yy >= h) continue;
            for (int j = 0; j < kk; j++) {
                int64_t xx = x + j - pad;
                if (xx < 0 || xx >= w) continue;
                acc += taps.k[i * kk + j] * src[yy * w + xx];
            }
        }
        d[idx] = acc;
    }
}

static alae_status op_fir2d(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    int64_t kk = op->ip[0], pad = op->ip[1];
    if (kk < 1 || kk > 4 || pad < 0)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "FIR2D: kernel %lld (1..4), pad %lld", (ll)kk, (ll)pad);
    int64_t want[4] = {a->ne[0], a->ne[1], a->ne[2] + 2 * pad - kk + 1, a->ne[3] + 2 * pad - kk + 1};
    if (!same_shape(d->ne, want)) return shape_error(op, "d is " FMT_NE ", expected " FMT_NE, ARG_NE(d->ne), ARG_NE(want));
    int64_t n = numel(d->ne);
    if (n == 0) return ALAE_OK;
    fir_taps taps;
    memset(&taps, 0, sizeof taps);
    for (int i = 0; i < kk * kk; i++) taps.k[i] = (float)op->fp[i];
    LAUNCH(ctx, n, k_fir2d, (float *)d->data, (const float *)a->data, n, a->ne[2], a->ne[3], d->ne[2], d->ne[3], (int)kk,
           (int)pad, taps);
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * PERMUTE, SLICE, SLICE_ADJ
 * ------------------------------------------------------------------------------------------- */

__global__ void k_gather(float *d, const float *a, int64_t n, dims4 dd, strides4 sa, int64_t base) {
    GRID_STRIDE(i, n) d[i] = a[base + src_offset(i, dd, sa)];
}

static alae_status op_permute(cu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *a = &op->src[0], *d = &op->dst;
    const int32_t *p = op->ip;
    int seen[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++)
        if (p[k] < 0 || p[k] > 3 || seen[p[k]]++)
            return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "PERMUTE: {%d, %d, %d, %d} is not a permutation", (int)p[0],
                           (int)p[1], (int)p[2], (int)p[3]);
    for (int k = 0; k < 4; k++)
        if (d->ne[k] != a->ne[p[k]])
            return shape_error(op, "d " FMT_NE " is not a " FMT_NE " permuted by {%d, %d, %d, %d}", ARG_NE(d->ne),
                               ARG_NE(a->ne), (int)p[0], (int)p[1], (int)p[2], (int)p[3]);
    int64_t n = numel(d->ne);
    if (n == 0) return ALAE_OK;
    strides4 as = dense_strides(a->ne), st;
    for (int k = 0; k < 4; k++) st.st[k] = as.st[p[k]]; /* d's dim k walks a's dim p[k] */
    LAUNCH(ctx, n, k_gather, (float *)d->data, (const float *)a->data, n, dims_of(d->ne), st, (int64_t)0);
    return ALAE_OK;
}

__global__ void k_slice_adj(float *big, const float *small, int64_t n, dims4 bd, int axis, int64_t start,
                            int64_t len, strides4 ss) {
    GRID_STRIDE(i, n) {
        int64_t r = i, e[4];
        for (int k = 3; k >= 0; k--) {
            e[k] = r % bd.ne[k];
            r /= bd.ne[k];
        }
        int64_t t = e[axis] - start;
        if (t < 0 || t >= len) {
            big[i] = 0.0f;
        } else {
            e[axis] = t;
            big[i] = small[e[0] * ss.st[0] + e[1] * ss.st[1] + e[2] * ss.st[2] + e[3] * ss.st[3]];
        }
    }
}

static alae_status op_slice(cu_ctx *ctx, const alaei_op *op, int adjoint) {
    const alaei_tview *big = adjoint ? &op->dst : &op->src[0], *small = adjoint ? &op->src[0] : &op->dst;
    int32_t axis = op->ip[0];
    int64_t start = op->ip[1];
    if (axis < 0 || axis > 3 || start < 0)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "%s: axis %d, start %lld", alaei_op_name(op->code),
                       (int)axis, (ll)start);
    for (int k = 0; k < 4; k++) {
        int ok = k == axis ? start + small->ne[k] <= big->ne[k] : small->ne[k] == big->ne[k];
        if (!ok)
            return shape_error(op, FMT_NE " is not a slice of " FMT_NE " at axis %d, start %lld", ARG_NE(small->ne),
                               ARG_NE(big->ne), (int)axis, (ll)start);
    }
    if (adjoint) {
        int64_t n = numel(big->ne);
        if (n == 0) return ALAE_OK;
        LAUNCH(ctx, n, k_slice_adj, (float *)big->data, (const float *)small->data, n, dims_of(big->ne), (int)axis, start,
               small->ne[axis], dense_strides(small->ne));
    } else {
        int64_t n = numel(small->ne);
        if (n == 0) return ALAE_OK;
        strides4 bs = dense_strides(big->ne);
        LAUNCH(ctx, n, k_gather, (float *)small->data, (const float *)big->data, n, dims_of(small->ne), bs,
               start * bs.st[axis]);
    }
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * ADAM_STEP (as the CPU backend computes it, in float)
 * ------------------------------------------------------------------------------------------- */

__global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n, float lr, float b1, float c1, float b2,
                       float c2, float eps) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * mi / (sqrtf(vi) + eps);
    }
}

static alae_status op_adam(cu_ctx *ctx, const alaei_op *op) {
    static const char *const names[3] = {"gradient", "m", "v"};
    for (int k = 0; k < 3; k++)
        if (!same_shape(op->src[k].ne, op->dst.ne))
            return shape_error(op, "%s " FMT_NE " differs from the parameter " FMT_NE, names[k], ARG_NE(op->src[k].ne),
                               ARG_NE(op->dst.ne));
    int64_t n = numel(op->dst.ne);
    if (n == 0) return ALAE_OK;
    LAUNCH(ctx, n, k_adam, (float *)op->dst.data, (const float *)op->src[0].data, (float *)op->src[1].data,
           (float *)op->src[2].data, n, (float)op->fp[0], (float)op->fp[1], (float)(1.0 - op->fp[1]), (float)op->fp[2],
           (float)(1.0 - op->fp[2]), (float)op->fp[3]);
    return ALAE_OK;
}

/* ADAM_EMA_STEP: ADAM_STEP, then the smoothed copy follows the new parameter (as the CPU does it) */
__global__ void k_adam_ema(float *p, const float *g, float *m, float *v, float *s, int64_t n, float lr, float b1,
                           float c1, float b2, float c2, float eps, float rate) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(c1, gi));
        float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(c2, __fmul_rn(gi, gi)));
        m[i] = mi;
        v[i] = vi;
        float pi = __fsub_rn(p[i], __fdiv_rn(__fmul_rn(lr, mi), __fadd_rn(__fsqrt_rn(vi), eps)));
        p[i] = pi;
        float t = __fadd_rn(__fmul_rn(rate, __fsub_rn(pi, s[i])), 0.0f);
        s[i] = __fadd_rn(s[i], t);
    }
}

static alae_status op_adam_ema(cu_ctx *ctx, const alaei_op *op) {
    int64_t n = numel(op->dst.ne);
    if (numel(op->src[0].ne) != n || numel(op->src[1].ne) != 2 * n || numel(op->src[2].ne) != n)
        return shape_error(op, "%lld parameters need as many gradients and smoothed values and 2x as many moments",
                           (long long)n);
    if (n == 0) return ALAE_OK;
    float *moments = (float *)op->src[1].data;
    LAUNCH(ctx, n, k_adam_ema, (float *)op->dst.data, (const float *)op->src[0].data, moments, moments + n,
           (float *)op->src[2].data, n, (float)op->fp[0], (float)op->fp[1], (float)(1.0 - op->fp[1]),
           (float)op->fp[2], (float)(1.0 - op->fp[2]), (float)op->fp[3], (float)op->fp[4]);
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The fused convolutions: im2col of a chunk of nb images into the concatenated layout
 * X [C*KH*KW, nb*OH*OW] (column q = image n, output pixel p), then one GEMM per chunk:
 *   CONV2D             Y [O, nb*OHW] = alpha W [O, CKK] X,        scattered to d[n0 + n, o, p]
 *   CONV2D_BWD_DATA    X = alpha W^T G with G [O, nb*OHW] gathered from g,  col2im into d
 *   CONV2D_BWD_WEIGHT  d (+)= alpha G X^T, accumulated over the chunks
 * ------------------------------------------------------------------------------------------- */

/* [nb, R, P] -> [R, nb*P] (to_cat) or back (!to_cat); idx walks the destination */
__global__ void k_cat_layout(float *dst, const float *src, int64_t total, int64_t nb, int64_t rows, int64_t p,
                             int to_cat) {
    GRID_STRIDE(idx, total) {
        if (to_cat) {
            int64_t q = idx % (nb * p), r = idx / (nb * p);
            dst[idx] = src[((q / p) * rows + r) * p + q % p];
        } else {
            int64_t pp = idx % p, r = (idx / p) % rows, n = idx / (p * rows);
            dst[idx] = src[r * (nb * p) + n * p + pp];
        }
    }
}

/* Shapes of the three convolution ops (the reference backend's rules). */
static alae_status conv_geometry(const alaei_op *op, conv_geom *g) {
    const alaei_tview *x, *w, *gr;
    switch (op->code) {
    case ALAEI_OP_CONV2D: x = &op->src[0], w = &op->src[1], gr = &op->dst; break;
    case ALAEI_OP_CONV2D_BWD_DATA: gr = &op->src[0], w = &op->src[1], x = &op->dst; break;
    default: gr = &op->src[0], x = &op->src[1], w = &op->dst; break;
    }
    int64_t kh = op->ip[0], kw = op->ip[1], s = op->ip[2], p = op->ip[3];
    if (kh < 1 || kw < 1 || s < 1 || p < 0)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "%s: kernel %lldx%lld, stride %lld, pad %lld",
                       alaei_op_name(op->code), (ll)kh, (ll)kw, (ll)s, (ll)p);
    g->n = x->ne[0], g->c = x->ne[1], g->h = x->ne[2], g->w = x->ne[3], g->o = w->ne[0];
    g->kh = kh, g->kw = kw, g->s = s, g->p = p;
    if (g->h + 2 * p < kh || g->w + 2 * p < kw)
        return shape_error(op, "kernel %lldx%lld is larger than the padded image " FMT_NE, (ll)kh, (ll)kw, ARG_NE(x->ne));
    g->oh = (g->h + 2 * p - kh) / s + 1;
    g->ow = (g->w + 2 * p - kw) / s + 1;
    int64_t want_w[4] = {g->o, g->c, kh, kw}, want_g[4] = {g->n, g->o, g->oh, g->ow};
    if (!same_shape(w->ne, want_w) || !same_shape(gr->ne, want_g))
        return shape_error(op, "image " FMT_NE ", kernel " FMT_NE " and output gradient " FMT_NE
                               " do not fit (kernel %lldx%lld, stride %lld, pad %lld)",
                           ARG_NE(x->ne), ARG_NE(w->ne), ARG_NE(gr->ne), (ll)kh, (ll)kw, (ll)s, (ll)p);
    return ALAE_OK;
}

/* Images per chunk: as many as fit the scratch budget (at least one). */
static int64_t conv_chunk(const conv_geom *g) {
    int64_t ohw = g->oh * g->ow, ckk = g->c * g->kh * g->kw;
    int64_t per_image = (ckk + g->o) * ohw * (int64_t)sizeof(float);
    int64_t nb = per_image > 0 ? (int64_t)CONV_SCRATCH_BUDGET / per_image : g->n;
    if (nb < 1) nb = 1;
    if (nb > g->n) nb = g->n;
    /* keep the GEMM's concatenated dimension within cuBLAS's int */
    while (nb > 1 && nb * ohw > INT_MAX) nb /= 2;
    return nb;
}

static size_t conv_scratch_bytes(const alaei_op *op) {
    conv_geom g = {};
    if (op->nsrc != 2 || conv_geometry(op, &g) != ALAE_OK || g.n == 0) return 0;
    int64_t nb = conv_chunk(&g), ohw = g.oh * g.ow, ckk = g.c * g.kh * g.kw;
    return (size_t)((ckk + g.o) * nb * ohw) * sizeof(float);
}

static alae_status op_conv(cu_ctx *ctx, const alaei_op *op) {
    conv_geom g = {};
    alae_status s = conv_geometry(op, &g);
    if (s != ALAE_OK) return s;
    float *pd = (float *)op->dst.data;
    int64_t n_out = numel(op->dst.ne);
    if (n_out == 0) return ALAE_OK;
    int64_t ohw = g.oh * g.ow, ckk = g.c * g.kh * g.kw, chw = g.c * g.h * g.w;
    if (g.n == 0 || ohw == 0 || g.o == 0 || ckk == 0) return cu_fill_f32(ctx, pd, (size_t)n_out, 0.0f);
    int64_t nb = conv_chunk(&g);
    float *cols = (float *)cu_scratch(ctx, conv_scratch_bytes(op));
    if (!cols) return cu_scratch_status(ctx);
    float *other = cols + ckk * nb * ohw; /* [O, nb*OHW]: Y or G */
    float alpha = (float)op->fp[0];
    const float *a = (const float *)op->src[0].data, *b = (const float *)op->src[1].data;
    for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
        int64_t cnt = g.n - n0 < nb ? g.n - n0 : nb, cols_n = cnt * ohw;
        switch (op->code) {
        case ALAEI_OP_CONV2D: { /* a = x, b = w */
            LAUNCH(ctx, ckk * cols_n, k_im2col, cols, a + n0 * chw, ckk * cols_n, g, chunk_columns(&g, cnt));
            s = cu_sgemm(ctx, 0, 0, g.o, cols_n, ckk, alpha, b, 0, cols, 0, 0.0f, other, 0, 1);
            if (s != ALAE_OK) return s;
            LAUNCH(ctx, g.o * cols_n, k_cat_layout, pd + n0 * g.o * ohw, other, g.o * cols_n, cnt, g.o, ohw, 0);
            break;
        }
        case ALAEI_OP_CONV2D_BWD_DATA: { /* a = g, b = w; d = x */
            LAUNCH(ctx, g.o * cols_n, k_cat_layout, other, a + n0 * g.o * ohw, g.o * cols_n, cnt, g.o, ohw, 1);
            s = cu_sgemm(ctx, 1, 0, ckk, cols_n, g.o, alpha, b, 0, other, 0, 0.0f, cols, 0, 1);
            if (s != ALAE_OK) return s;
            LAUNCH(ctx, cnt * chw, k_col2im, pd + n0 * chw, cols, cnt * chw, g, chunk_columns(&g, cnt));
            break;
        }
        default: { /* CONV2D_BWD_WEIGHT: a = g, b = x; d = w [O, CKK] */
            LAUNCH(ctx, ckk * cols_n, k_im2col, cols, b + n0 * chw, ckk * cols_n, g, chunk_columns(&g, cnt));
            LAUNCH(ctx, g.o * cols_n, k_cat_layout, other, a + n0 * g.o * ohw, g.o * cols_n, cnt, g.o, ohw, 1);
            s = cu_sgemm(ctx, 0, 1, g.o, ckk, cols_n, alpha, other, 0, cols, 0, n0 > 0 ? 1.0f : 0.0f, pd, 0, 1);
            if (s != ALAE_OK) return s;
            break;
        }
        }
    }
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------------------------- */

size_t cu_op_scratch_bytes(const alaei_op *op) {
    if (!op) return 0;
    if (op->code == ALAEI_OP_GEMM) return gemm_scratch_bytes(op);
    if (alaei_op_is_conv(op->code)) return conv_scratch_bytes(op);
    return 0;
}

alae_status cu_run_op(cu_ctx *ctx, const alaei_op *op) {
    alae_status s = alaei_op_validate(op, "cuda_run_op", cu_fail);
    if (s != ALAE_OK) return s;
    switch (op->code) {
    case ALAEI_OP_FILL: {
        int64_t n = numel(op->dst.ne);
        return n ? cu_fill_f32(ctx, (float *)op->dst.data, (size_t)n, (float)op->fp[0]) : ALAE_OK;
    }
    case ALAEI_OP_RNG_NORMAL: {
        int64_t n = numel(op->dst.ne);
        if (n == 0) return ALAE_OK;
        uint64_t seed = (uint64_t)(uint32_t)op->ip[0] | (uint64_t)(uint32_t)op->ip[1] << 32;
        uint64_t offset = (uint64_t)(uint32_t)op->ip[2] | (uint64_t)(uint32_t)op->ip[3] << 32;
        LAUNCH(ctx, n, k_rng_normal, (float *)op->dst.data, n, seed, offset, op->fp[0], op->fp[1]);
        return ALAE_OK;
    }
    case ALAEI_OP_GEMM: return op_gemm(ctx, op);
    case ALAEI_OP_ADD:
    case ALAEI_OP_SUB:
    case ALAEI_OP_MUL:
    case ALAEI_OP_DIV: return op_binary(ctx, op);
    case ALAEI_OP_ADD_LEAKY_RELU: return op_add_leaky(ctx, op);
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
    case ALAEI_OP_CLAMP: return op_unary(ctx, op);
    case ALAEI_OP_REDUCE_SUM: return op_reduce_sum(ctx, op);
    case ALAEI_OP_BROADCAST: return op_broadcast(ctx, op);
    case ALAEI_OP_IM2COL: return op_im2col(ctx, op, 0);
    case ALAEI_OP_COL2IM: return op_im2col(ctx, op, 1);
    case ALAEI_OP_UPSAMPLE2D:
    case ALAEI_OP_SUMPOOL2D: return op_resample(ctx, op);
    case ALAEI_OP_FIR2D: return op_fir2d(ctx, op);
    case ALAEI_OP_PERMUTE: return op_permute(ctx, op);
    case ALAEI_OP_SLICE: return op_slice(ctx, op, 0);
    case ALAEI_OP_SLICE_ADJ: return op_slice(ctx, op, 1);
    case ALAEI_OP_ADAM_STEP: return op_adam(ctx, op);
    case ALAEI_OP_ADAM_EMA_STEP: return op_adam_ema(ctx, op);
    case ALAEI_OP_CONV2D:
    case ALAEI_OP_CONV2D_BWD_DATA:
    case ALAEI_OP_CONV2D_BWD_WEIGHT: return op_conv(ctx, op);
    default:
        return cu_fail(ALAE_E_UNSUPPORTED, "cuda_run_op", "the CUDA backend has no kernel for op %s (code %d)",
                       alaei_op_name(op->code), (int)op->code);
    }
}
