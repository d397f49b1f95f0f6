/* Winograd F(4x4, 3x3) for the fused 3x3 stride-1 convolutions (cpu_conv2d.c dispatches here).
 *
 * A 4x4 output tile of a 3x3 correlation is Y = A^T [(G w G^T) ⊙ (B^T d B)] A, d the 6x6 input
 * patch (Lavin & Gray, points 0, ±1, ±2, ∞): 36 multiplies per tile and channel pair instead of
 * 144. Over a chunk of tiles and all channels the elementwise products become 36 independent GEMMs
 * (one per transformed position ξ): M_ξ [O, T] = U_ξ [O, C] @ V_ξ [C, T].
 *   CONV2D             V = B^T d B (input tiles), U = alpha G w G^T, y tile = A^T M A
 *   CONV2D_BWD_DATA    CONV2D of the output gradient with the rotated, transposed kernel (pad 2-p)
 *   CONV2D_BWD_WEIGHT  the same trilinear form differentiated with respect to w:
 *                      dW = alpha G^T [Σ_tiles (A g A^T) ⊙ (B^T d B)] G, g the 4x4 gradient tile;
 *                      the sum over tiles is the GEMM Ŵ_ξ [O, C] += Ĝ_ξ [O, T] @ V_ξ^T.
 * Tiles cover the output map from its top-left corner; a partial tile at the right or bottom
 * edge reads zeros beyond the image (and, for the weight gradient, beyond the output map) and
 * writes only its valid pixels. Transforms run WINO_LANES tiles at a time, the tiles being the
 * inner (vectorised) loop; where a group's tiles start and which of their pixels lie inside the
 * map is worked out once per group (lanes_init), and full groups copy to and from V and M with
 * fixed-size moves.
 *
 * Rounding: the transforms are exact in exact arithmetic; in float32 the error grows with the
 * transform entries (up to 8 in A, 1/24 in G) to roughly 10x that of the direct form, still an
 * NMSE near 1e-11 on unit-scale data (tests/ops: NMSE <= 1e-7 against the float64 reference).
 *
 * Threading and determinism: transforms are split over channels, the GEMMs over ξ (each a
 * single-threaded SGEMM when cpu_sgemm splits GEMMs itself, else one multi-threaded SGEMM per ξ
 * in order); every output element is computed by one thread in a fixed order, and the chunking
 * depends only on the shapes and the thread count, so equal thread counts give equal bits. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#define WINO_POS 36                      /* transformed positions per tile (6 x 6) */
#define WINO_LANES 8                     /* tiles transformed together */
#define WINO_FLOATS_PER_THREAD ((int64_t)1 << 20) /* V + M floats of a chunk, per thread */
#define WINO_FLOATS_MAX ((int64_t)4 << 20)

/* The tile transforms are built twice on x86-64: for the baseline (SSE2) and with AVX2, picked at
 * run time (8 lanes = one AVX register instead of two). No FMA: both give the same bits. The
 * bodies are inlined into each variant so that they are vectorised for its instruction set. */
#if defined(__GNUC__)
#define WINO_INLINE static inline __attribute__((always_inline))
#else
#define WINO_INLINE static inline
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define WINO_X86_AVX2 1
#endif

/* ---- the 1-D transforms, each over WINO_LANES tiles (in: stride is, out: stride os) ---- */

/* B^T d: 6 -> 6 */
WINO_INLINE void input_1d(const float *in, int64_t is, float *out, int64_t os) {
    for (int l = 0; l < WINO_LANES; l++) {
        float d0 = in[l], d1 = in[is + l], d2 = in[2 * is + l], d3 = in[3 * is + l], d4 = in[4 * is + l],
              d5 = in[5 * is + l];
        out[l] = 4.0f * d0 - 5.0f * d2 + d4;
        out[os + l] = -4.0f * (d1 + d2) + d3 + d4;
        out[2 * os + l] = 4.0f * (d1 - d2) - d3 + d4;
        out[3 * os + l] = 2.0f * (d3 - d1) - d2 + d4;
        out[4 * os + l] = 2.0f * (d1 - d3) - d2 + d4;
        out[5 * os + l] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* A^T m: 6 -> 4 */
WINO_INLINE void output_1d(const float *in, int64_t is, float *out, int64_t os) {
    for (int l = 0; l < WINO_LANES; l++) {
        float m0 = in[l], m1 = in[is + l], m2 = in[2 * is + l], m3 = in[3 * is + l], m4 = in[4 * is + l],
              m5 = in[5 * is + l];
        float p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
        out[l] = m0 + p12 + p34;
        out[os + l] = n12 + 2.0f * n34;
        out[2 * os + l] = p12 + 4.0f * p34;
        out[3 * os + l] = n12 + 8.0f * n34 + m5;
    }
}

/* A g: 4 -> 6 (the transpose of output_1d) */
WINO_INLINE void grad_1d(const float *in, int64_t is, float *out, int64_t os) {
    for (int l = 0; l < WINO_LANES; l++) {
        float g0 = in[l], g1 = in[is + l], g2 = in[2 * is + l], g3 = in[3 * is + l];
        float p02 = g0 + g2, p13 = g1 + g3, q02 = g0 + 4.0f * g2, q13 = 2.0f * g1 + 8.0f * g3;
        out[l] = g0;
        out[os + l] = p02 + p13;
        out[2 * os + l] = p02 - p13;
        out[3 * os + l] = q02 + q13;
        out[4 * os + l] = q02 - q13;
        out[5 * os + l] = g3;
    }
}

/* G w: 3 -> 6, over WINO_LANES kernels */
WINO_INLINE void kernel_1d(const float *in, int64_t is, float *out, int64_t os) {
    for (int l = 0; l < WINO_LANES; l++) {
        float w0 = in[l], w1 = in[is + l], w2 = in[2 * is + l];
        out[l] = w0 * (1.0f / 4);
        out[os + l] = -(w0 + w1 + w2) * (1.0f / 6);
        out[2 * os + l] = -(w0 - w1 + w2) * (1.0f / 6);
        out[3 * os + l] = w0 * (1.0f / 24) + w1 * (1.0f / 12) + w2 * (1.0f / 6);
        out[4 * os + l] = w0 * (1.0f / 24) - w1 * (1.0f / 12) + w2 * (1.0f / 6);
        out[5 * os + l] = w2;
    }
}

/* G^T m: 6 -> 3, over WINO_LANES kernels (the transpose of kernel_1d) */
WINO_INLINE void kernel_grad_1d(const float *in, int64_t is, float *out, int64_t os) {
    for (int l = 0; l < WINO_LANES; l++) {
        float m0 = in[l], m1 = in[is + l], m2 = in[2 * is + l], m3 = in[3 * is + l], m4 = in[4 * is + l],
              m5 = in[5 * is + l];
        out[l] = m0 * (1.0f / 4) - (m1 + m2) * (1.0f / 6) + (m3 + m4) * (1.0f / 24);
        out[os + l] = (m2 - m1) * (1.0f / 6) + (m3 - m4) * (1.0f / 12);
        out[2 * os + l] = (m3 + m4 - m1 - m2) * (1.0f / 6) + m5;
    }
}

/* ---- tiles ---- */

typedef struct wino_job {
    const cpu_wino_shape *sh;
    int64_t tiles_h, tiles_w, tiles_img; /* tiles per column, row and image */
    int64_t t0, nt, ld;                  /* the chunk: tiles [t0, t0 + nt), rows of ld floats */
    const float *img;                    /* input images [N, C, H, W] */
    const float *grad;                   /* output gradients [N, O, OH, OW] (weight gradient) */
    const float *kern;                   /* the kernel (forward) */
    float *out;                          /* output images [N, O, OH, OW] (forward) */
    float *dw;                           /* the kernel gradient [O, C, 3, 3] */
    float *U;                            /* [36][O][C]: transformed kernels or their gradient */
    float *V;                            /* [36][C][ld]: transformed input tiles */
    float *M;                            /* [36][O][ld]: products, or transformed gradient tiles */
    float alpha;
    int flip;                            /* kern is [C][O][3][3], used rotated (backward data) */
    int first;                           /* first chunk of the weight gradient (beta = 0) */
    alae_status status[WINO_POS];
} wino_job;

/* Where the tiles of one group of WINO_LANES lanes read or write in a stack of planes
 * [N][nch][hh][ww]: per lane the offset of the patch origin (tile origin - off) without the
 * channel's plane, and the rows [a0, a1) and columns [c0, c1) of the side x side patch inside the
 * plane; full when all WINO_LANES lanes are used and whole. Computed once per group and reused
 * for every channel. */
typedef struct lane_set {
    int64_t pos[WINO_LANES];
    int a0[WINO_LANES], a1[WINO_LANES], c0[WINO_LANES], c1[WINO_LANES], whole[WINO_LANES];
    int n, full;
} lane_set;

static int clampi(int64_t v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : (int)v; }

WINO_INLINE void lanes_init(const wino_job *J, int64_t t, int n, int64_t nch, int64_t hh, int64_t ww, int64_t off,
                       int side, lane_set *L) {
    int64_t r = t % J->tiles_img, b = t / J->tiles_img, ty = r / J->tiles_w, tx = r % J->tiles_w;
    L->n = n;
    L->full = n == WINO_LANES;
    for (int l = 0; l < n; l++) {
        int64_t y = ty * 4 - off, x = tx * 4 - off;
        L->pos[l] = b * nch * hh * ww + y * ww + x;
        L->a0[l] = clampi(-y, 0, side);
        L->a1[l] = clampi(hh - y, L->a0[l], side);
        L->c0[l] = clampi(-x, 0, side);
        L->c1[l] = clampi(ww - x, L->c0[l], side);
        L->whole[l] = !L->a0[l] && !L->c0[l] && L->a1[l] == side && L->c1[l] == side;
        if (!L->whole[l]) L->full = 0;
        if (++tx == J->tiles_w) {
            tx = 0;
            if (++ty == J->tiles_h) ty = 0, b++;
        }
    }
}

/* d[side * side][lanes] <- the patches of the plane src (zero outside it; lanes n.. zero) */
WINO_INLINE void gather_patches(const lane_set *L, const float *src, int64_t ww, int side, float *d) {
    if (L->full) {
        for (int l = 0; l < WINO_LANES; l++)
            for (int a = 0; a < side; a++)
                for (int c = 0; c < side; c++) d[(a * side + c) * WINO_LANES + l] = src[L->pos[l] + a * ww + c];
        return;
    }
    memset(d, 0, sizeof(float) * (size_t)(side * side * WINO_LANES));
    for (int l = 0; l < L->n; l++) {
        if (L->whole[l]) {
            for (int a = 0; a < side; a++)
                for (int c = 0; c < side; c++) d[(a * side + c) * WINO_LANES + l] = src[L->pos[l] + a * ww + c];
            continue;
        }
        for (int a = L->a0[l]; a < L->a1[l]; a++)
            for (int c = L->c0[l]; c < L->c1[l]; c++) d[(a * side + c) * WINO_LANES + l] = src[L->pos[l] + a * ww + c];
    }
}

/* Copies lanes [0, n) of the 36 rows of t36 to dst[ξ * stride + l]. */
WINO_INLINE void store_lanes(const float *t36, int n, float *dst, int64_t stride) {
    if (n == WINO_LANES) { /* a fixed-size copy the compiler turns into vector moves */
        for (int k = 0; k < WINO_POS; k++) memcpy(dst + k * stride, t36 + k * WINO_LANES, sizeof(float) * WINO_LANES);
        return;
    }
    for (int k = 0; k < WINO_POS; k++) memcpy(dst + k * stride, t36 + k * WINO_LANES, sizeof(float) * (size_t)n);
}

/* V <- B^T d B for input channels [c0, c1) */
WINO_INLINE void input_transform_body(void *arg, int64_t c0, int64_t c1) {
    const wino_job *J = arg;
    const cpu_wino_shape *s = J->sh;
    float d[WINO_POS * WINO_LANES], tmp[WINO_POS * WINO_LANES], v[WINO_POS * WINO_LANES];
    int64_t stride = s->c * J->ld, plane = s->h * s->w;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t i = 0; i < J->nt; i += WINO_LANES) {
            int n = J->nt - i < WINO_LANES ? (int)(J->nt - i) : WINO_LANES;
            lane_set L;
            lanes_init(J, J->t0 + i, n, s->c, s->h, s->w, s->pad, 6, &L);
            gather_patches(&L, J->img + c * plane, s->w, 6, d);
            for (int col = 0; col < 6; col++) /* tmp = B^T d, column by column */
                input_1d(d + col * WINO_LANES, 6 * WINO_LANES, tmp + col * WINO_LANES, 6 * WINO_LANES);
            for (int row = 0; row < 6; row++) /* v = tmp B, row by row */
                input_1d(tmp + row * 6 * WINO_LANES, WINO_LANES, v + row * 6 * WINO_LANES, WINO_LANES);
            store_lanes(v, n, J->V + c * J->ld + i, stride);
        }
}

/* M <- A g A^T (the gradient tiles, zero beyond the output map) for output channels [o0, o1) */
WINO_INLINE void grad_transform_body(void *arg, int64_t o0, int64_t o1) {
    const wino_job *J = arg;
    const cpu_wino_shape *s = J->sh;
    float g[16 * WINO_LANES], tmp[24 * WINO_LANES], v[WINO_POS * WINO_LANES];
    int64_t stride = s->o * J->ld, plane = s->oh * s->ow;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t i = 0; i < J->nt; i += WINO_LANES) {
            int n = J->nt - i < WINO_LANES ? (int)(J->nt - i) : WINO_LANES;
            lane_set L;
            lanes_init(J, J->t0 + i, n, s->o, s->oh, s->ow, 0, 4, &L);
            gather_patches(&L, J->grad + o * plane, s->ow, 4, g);
            for (int col = 0; col < 4; col++) /* tmp [6][4] = A g */
                grad_1d(g + col * WINO_LANES, 4 * WINO_LANES, tmp + col * WINO_LANES, 4 * WINO_LANES);
            for (int row = 0; row < 6; row++) /* v [6][6] = tmp A^T */
                grad_1d(tmp + row * 4 * WINO_LANES, WINO_LANES, v + row * 6 * WINO_LANES, WINO_LANES);
            store_lanes(v, n, J->M + o * J->ld + i, stride);
        }
}

/* y tiles <- A^T M A for output channels [o0, o1) (valid pixels only) */
WINO_INLINE void output_transform_body(void *arg, int64_t o0, int64_t o1) {
    const wino_job *J = arg;
    const cpu_wino_shape *s = J->sh;
    float m[WINO_POS * WINO_LANES], tmp[24 * WINO_LANES], y[16 * WINO_LANES];
    int64_t stride = s->o * J->ld, plane = s->oh * s->ow;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t i = 0; i < J->nt; i += WINO_LANES) {
            int n = J->nt - i < WINO_LANES ? (int)(J->nt - i) : WINO_LANES;
            lane_set L;
            lanes_init(J, J->t0 + i, n, s->o, s->oh, s->ow, 0, 4, &L);
            const float *src = J->M + o * J->ld + i;
            if (n == WINO_LANES) { /* tmp [4][6] = A^T m, straight from M */
                for (int col = 0; col < 6; col++)
                    output_1d(src + col * stride, 6 * stride, tmp + col * WINO_LANES, 6 * WINO_LANES);
            } else {
                for (int k = 0; k < WINO_POS; k++) {
                    memcpy(m + k * WINO_LANES, src + k * stride, sizeof(float) * (size_t)n);
                    for (int l = n; l < WINO_LANES; l++) m[k * WINO_LANES + l] = 0.0f;
                }
                for (int col = 0; col < 6; col++)
                    output_1d(m + col * WINO_LANES, 6 * WINO_LANES, tmp + col * WINO_LANES, 6 * WINO_LANES);
            }
            for (int row = 0; row < 4; row++) /* y [4][4] = tmp A */
                output_1d(tmp + row * 6 * WINO_LANES, WINO_LANES, y + row * 4 * WINO_LANES, WINO_LANES);
            float *dst = J->out + o * plane;
            if (L.full) {
                for (int l = 0; l < WINO_LANES; l++)
                    for (int u = 0; u < 4; u++)
                        for (int v = 0; v < 4; v++) dst[L.pos[l] + u * s->ow + v] = y[(u * 4 + v) * WINO_LANES + l];
                continue;
            }
            for (int l = 0; l < n; l++)
                for (int u = 0; u < L.a1[l]; u++)
                    for (int v = 0; v < L.c1[l]; v++) dst[L.pos[l] + u * s->ow + v] = y[(u * 4 + v) * WINO_LANES + l];
        }
}

/* the variants of the three per-tile transforms, and the choice between them */
#define WINO_VARIANT(name, attr, suffix) \
    attr static void name##suffix(void *arg, int64_t b, int64_t e) { name##_body(arg, b, e); }
WINO_VARIANT(input_transform, , _base)
WINO_VARIANT(grad_transform, , _base)
WINO_VARIANT(output_transform, , _base)
#if WINO_X86_AVX2
WINO_VARIANT(input_transform, __attribute__((target("avx2"))), _avx2)
WINO_VARIANT(grad_transform, __attribute__((target("avx2"))), _avx2)
WINO_VARIANT(output_transform, __attribute__((target("avx2"))), _avx2)
#endif

#if WINO_X86_AVX2
#define WINO_PICK(name) (__builtin_cpu_supports("avx2") ? name##_avx2 : name##_base)
#else
#define WINO_PICK(name) name##_base
#endif

/* U <- alpha G w G^T for output channels [o0, o1), WINO_LANES input channels at a time */
static void kernel_transform(void *arg, int64_t o0, int64_t o1) {
    const wino_job *J = arg;
    const cpu_wino_shape *s = J->sh;
    float w[9 * WINO_LANES], tmp[18 * WINO_LANES], u[WINO_POS * WINO_LANES];
    for (int64_t o = o0; o < o1; o++)
        for (int64_t c0 = 0; c0 < s->c; c0 += WINO_LANES) {
            int n = s->c - c0 < WINO_LANES ? (int)(s->c - c0) : WINO_LANES;
            memset(w, 0, sizeof w);
            for (int l = 0; l < n; l++) {
                int64_t c = c0 + l;
                for (int k = 0; k < 9; k++)
                    w[k * WINO_LANES + l] =
                        J->flip ? J->kern[(c * s->o + o) * 9 + 8 - k] : J->kern[(o * s->c + c) * 9 + k];
            }
            for (int col = 0; col < 3; col++) /* tmp [6][3] = G w */
                kernel_1d(w + col * WINO_LANES, 3 * WINO_LANES, tmp + col * WINO_LANES, 3 * WINO_LANES);
            for (int row = 0; row < 6; row++) /* u = tmp G^T */
                kernel_1d(tmp + row * 3 * WINO_LANES, WINO_LANES, u + row * 6 * WINO_LANES, WINO_LANES);
            for (int k = 0; k < WINO_POS; k++) {
                float *dst = J->U + (k * s->o + o) * s->c + c0;
                for (int l = 0; l < n; l++) dst[l] = J->alpha * u[k * WINO_LANES + l];
            }
        }
}

/* dw <- alpha G^T Ŵ G for output channels [o0, o1), WINO_LANES input channels at a time */
static void kernel_grad_transform(void *arg, int64_t o0, int64_t o1) {
    const wino_job *J = arg;
    const cpu_wino_shape *s = J->sh;
    float m[WINO_POS * WINO_LANES], tmp[18 * WINO_LANES], r[9 * WINO_LANES];
    for (int64_t o = o0; o < o1; o++)
        for (int64_t c0 = 0; c0 < s->c; c0 += WINO_LANES) {
            int n = s->c - c0 < WINO_LANES ? (int)(s->c - c0) : WINO_LANES;
            for (int k = 0; k < WINO_POS; k++) {
                const float *src = J->U + (k * s->o + o) * s->c + c0;
                for (int l = 0; l < WINO_LANES; l++) m[k * WINO_LANES + l] = l < n ? src[l] : 0.0f;
            }
            for (int col = 0; col < 6; col++) /* tmp [3][6] = G^T m */
                kernel_grad_1d(m + col * WINO_LANES, 6 * WINO_LANES, tmp + col * WINO_LANES, 6 * WINO_LANES);
            for (int row = 0; row < 3; row++) /* r = tmp G */
                kernel_grad_1d(tmp + row * 6 * WINO_LANES, WINO_LANES, r + row * 3 * WINO_LANES, WINO_LANES);
            for (int l = 0; l < n; l++) {
                float *dst = J->dw + (o * s->c + c0 + l) * 9;
                for (int k = 0; k < 9; k++) dst[k] = J->alpha * r[k * WINO_LANES + l];
            }
        }
}

/* ---- the 36 GEMMs of a chunk ---- */

static alae_status position_gemm(cpu_ctx *ctx, const wino_job *J, int64_t k) {
    const cpu_wino_shape *s = J->sh;
    const float *V = J->V + k * s->c * J->ld;
    float *M = J->M + k * s->o * J->ld, *U = J->U + k * s->o * s->c;
    if (J->dw) /* Ŵ_ξ [O, C] (+)= Ĝ_ξ [O, T] @ V_ξ^T */
        return cpu_sgemm(ctx, 0, 1, s->o, s->c, J->nt, 1.0f, M, J->ld, V, J->ld, J->first ? 0.0f : 1.0f, U, s->c);
    return cpu_sgemm(ctx, 0, 0, s->o, J->nt, s->c, 1.0f, U, s->c, V, J->ld, 0.0f, M, J->ld);
}

static void gemm_range(void *arg, int64_t k0, int64_t k1) {
    wino_job *J = arg;
    for (int64_t k = k0; k < k1; k++) J->status[k] = position_gemm(NULL, J, k);
}

/* One single-threaded SGEMM per position over the pool when cpu_sgemm splits GEMMs itself (or
 * has no BLAS); else OpenBLAS's own threads run each position's GEMM in turn. */
static alae_status run_gemms(cpu_ctx *ctx, wino_job *J) {
    if (cpu_blas_raw_sgemm() && !cpu_blas_own_split()) {
        for (int64_t k = 0; k < WINO_POS; k++) {
            alae_status s = position_gemm(ctx, J, k);
            if (s != ALAE_OK) return s;
        }
        return ALAE_OK;
    }
    const cpu_wino_shape *s = J->sh;
    cpu_parallel_for_cost(ctx->pool, WINO_POS, s->o * s->c * J->nt, gemm_range, J);
    for (int k = 0; k < WINO_POS; k++)
        if (J->status[k] != ALAE_OK) return J->status[k];
    return ALAE_OK;
}

/* ---- driver ---- */

/* Like cpu_conv2d.c's helper_pool: the calling thread alone where OpenBLAS's own spinning
 * workers would share the cores with ours. */
static cpu_pool *transform_pool(const cpu_ctx *ctx) {
    return ctx->threads <= 2 && cpu_blas_raw_sgemm() && !cpu_blas_own_split() ? NULL : ctx->pool;
}

/* Sets the tiling and the chunk (ld tiles at most) and takes scratch for U, V and M. */
static alae_status job_init(cpu_ctx *ctx, const cpu_wino_shape *s, wino_job *J) {
    memset(J, 0, sizeof *J);
    J->sh = s;
    J->tiles_h = (s->oh + 3) / 4;
    J->tiles_w = (s->ow + 3) / 4;
    J->tiles_img = J->tiles_h * J->tiles_w;
    int64_t tiles = s->n * J->tiles_img, per_tile = WINO_POS * (s->c + s->o);
    int64_t budget = WINO_FLOATS_PER_THREAD * ctx->threads;
    if (budget > WINO_FLOATS_MAX) budget = WINO_FLOATS_MAX;
    int64_t most = budget / per_tile / WINO_LANES * WINO_LANES;
    if (most < WINO_LANES) most = WINO_LANES;
    int64_t chunks = (tiles + most - 1) / most;
    J->ld = ((tiles + chunks - 1) / chunks + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
    size_t floats = (size_t)(WINO_POS * (s->o * s->c + (s->c + s->o) * J->ld));
    float *base = cpu_scratch(ctx, floats * sizeof(float));
    if (!base) return ALAE_E_NOMEM;
    J->U = base;
    J->V = J->U + WINO_POS * s->o * s->c;
    J->M = J->V + WINO_POS * s->c * J->ld;
    return ALAE_OK;
}

int cpu_winograd_wanted(const cpu_ctx *ctx, const cpu_wino_shape *s) {
    if (ctx->winograd == 0 || s->pad > 2 || s->n <= 0 || s->c <= 0 || s->o <= 0 || s->oh <= 0 || s->ow <= 0)
        return 0;
    if (ctx->winograd == 2) return 1;
    /* where it wins (bench/alae_bench_core --winograd): enough channels to amortise the
     * transforms, maps of at least one whole tile, and enough tiles for the 36 GEMMs and the
     * kernel transform (batch 1 at 8x8 with 256 channels was 10x slower, 32x32 with 64
     * channels 0.65-1.0x; batch 64 at 4x4 with 256 channels 1.2-1.3x faster) */
    int64_t tiles = s->n * ((s->oh + 3) / 4) * ((s->ow + 3) / 4);
    return s->c >= 16 && s->o >= 16 && s->oh >= 4 && s->ow >= 4 &&
           (tiles >= 128 || (tiles >= 64 && s->c >= 128 && s->o >= 128));
}

alae_status cpu_winograd_conv(cpu_ctx *ctx, const cpu_wino_shape *s, const float *x, const float *w, int flip,
                              float alpha, float *y) {
    wino_job J;
    alae_status st = job_init(ctx, s, &J);
    if (st != ALAE_OK) return st;
    J.img = x, J.kern = w, J.flip = flip, J.out = y, J.alpha = alpha;
    cpu_pool *pool = transform_pool(ctx);
    cpu_parallel_for_cost(pool, s->o, s->c * 9 * WINO_POS, kernel_transform, &J);
    int64_t tiles = s->n * J.tiles_img;
    for (J.t0 = 0; J.t0 < tiles; J.t0 += J.ld) {
        J.nt = tiles - J.t0 < J.ld ? tiles - J.t0 : J.ld;
        cpu_parallel_for_cost(pool, s->c, J.nt * 2 * WINO_POS, WINO_PICK(input_transform), &J);
        if ((st = run_gemms(ctx, &J)) != ALAE_OK) return st;
        cpu_parallel_for_cost(pool, s->o, J.nt * 2 * WINO_POS, WINO_PICK(output_transform), &J);
    }
    return ALAE_OK;
}

alae_status cpu_winograd_bwd_weight(cpu_ctx *ctx, const cpu_wino_shape *s, const float *gy, const float *x,
                                    float alpha, float *dw) {
    wino_job J;
    alae_status st = job_init(ctx, s, &J);
    if (st != ALAE_OK) return st;
    J.img = x, J.grad = gy, J.dw = dw, J.alpha = alpha, J.first = 1;
    cpu_pool *pool = transform_pool(ctx);
    int64_t tiles = s->n * J.tiles_img;
    for (J.t0 = 0; J.t0 < tiles; J.t0 += J.ld, J.first = 0) {
        J.nt = tiles - J.t0 < J.ld ? tiles - J.t0 : J.ld;
        cpu_parallel_for_cost(pool, s->c, J.nt * 2 * WINO_POS, WINO_PICK(input_transform), &J);
        cpu_parallel_for_cost(pool, s->o, J.nt * 2 * WINO_POS, WINO_PICK(grad_transform), &J);
        if ((st = run_gemms(ctx, &J)) != ALAE_OK) return st;
    }
    cpu_parallel_for_cost(pool, s->o, s->c * 9 * WINO_POS, kernel_grad_transform, &J);
    return ALAE_OK;
}
