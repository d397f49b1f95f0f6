/* The fused convolution ops CONV2D, CONV2D_BWD_DATA and CONV2D_BWD_WEIGHT (NCHW, float).
 *
 * Each is im2col + SGEMM over CHUNKS of the output: the columns of a chunk (C*KH*KW rows of its
 * output pixels) live in the context's scratch, never in the graph, so a convolution stores
 * nothing for the backward pass but its input and kernel. A chunk is a group of whole images
 * whose columns fit the budget (small images: one wider GEMM instead of one per image), or a
 * band of output rows of one image (large images: the columns stay cache-sized):
 *   CONV2D             cols = im2col(x chunk); y chunk = alpha W [O, CKK] @ cols
 *   CONV2D_BWD_WEIGHT  cols = im2col(x chunk); dW = alpha g chunk @ cols^T + (first ? 0 : 1) dW
 *   CONV2D_BWD_DATA    stride 1, C >= O: CONV2D of g with the rotated, transposed kernel (pad
 *                      KH-1-pad); otherwise cols = alpha W^T @ g chunk; dx += col2im(cols)
 * A 1x1 convolution with stride 1 and no padding needs no columns: plain GEMMs per image over
 * the channel dim. Groups of images gather their output gradients into [O, images * OH*OW] (and
 * scatter their outputs back) in scratch.
 *
 * Threading: the GEMMs go to cpu_sgemm (by default slices of C over the context's pool, one
 * single-threaded OpenBLAS call each; or OpenBLAS with its own threads, or the built-in kernel
 * over the pool); im2col, col2im, gathers and scatters run between them on the context's pool
 * (helper_pool). With OpenBLAS's own threading (ALAE_GEMM_SPLIT=0) they stay on the calling
 * thread up to 2 threads, since OpenBLAS's idle workers spin between GEMMs and would share a
 * core with a pool worker.
 *
 * Determinism: the chunking depends only on the shapes and the thread count; col2im is
 * partitioned by input channel (each dx element is summed by one thread in the fixed order chunk,
 * i, j, oy); the weight gradient is accumulated over chunks in order by beta = 1 GEMMs. So the
 * same thread count gives the same bits. */
#include <string.h>

#include "cpu_internal.h"

/* Floats of columns per chunk and thread: 1 Mi floats (4 MiB) per thread keeps a chunk's columns
 * in the caches that the GEMM reading them uses (measured on a 2-core EPYC: 1 thread is fastest
 * at 1 Mi, slower at 2 and 4 Mi; with 2 threads larger chunks also halve the fork / join points).
 * The chunking depends on the thread count, so results are bitwise equal for equal counts. */
#define CONV_COLS_PER_THREAD ((int64_t)1 << 20)
#define CONV_COLS_MAX ((int64_t)4 << 20)

typedef struct conv_geom {
    int64_t n, c, h, w, o, kh, kw, s, pad, oh, ow;
    int64_t hw, ohw, kk, ckk;
} conv_geom;

/* Checks the op's shapes against its parameters and fills g. x, w, gy: the image, kernel and
 * output-gradient views (whichever of them is the destination). */
static alae_status conv_setup(const alaei_op *op, conv_geom *g, const alaei_tview **x, const alaei_tview **w,
                              const alaei_tview **gy) {
    switch (op->code) {
    case ALAEI_OP_CONV2D: *x = &op->src[0], *w = &op->src[1], *gy = &op->dst; break;
    case ALAEI_OP_CONV2D_BWD_DATA: *gy = &op->src[0], *w = &op->src[1], *x = &op->dst; break;
    default: *gy = &op->src[0], *x = &op->src[1], *w = &op->dst; break;
    }
    const int64_t *X = (*x)->ne, *W = (*w)->ne, *G = (*gy)->ne;
    int64_t kh = op->ip[0], kw = op->ip[1], st = op->ip[2], pad = op->ip[3];
    if (kh < 1 || kw < 1 || st < 1 || pad < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: kernel %lldx%lld, stride %lld, pad %lld is invalid",
                          alaei_op_name(op->code), (long long)kh, (long long)kw, (long long)st, (long long)pad);
    if (X[2] + 2 * pad < kh || X[3] + 2 * pad < kw)
        return cpu_shape_error(op, "a %lldx%lld kernel does not fit the padded %lldx%lld image", (long long)kh,
                               (long long)kw, (long long)X[2], (long long)X[3]);
    int64_t oh = (X[2] + 2 * pad - kh) / st + 1, ow = (X[3] + 2 * pad - kw) / st + 1;
    if (W[1] != X[1] || W[2] != kh || W[3] != kw || G[0] != X[0] || G[1] != W[0] || G[2] != oh || G[3] != ow)
        return cpu_shape_error(op,
                               "image [%lld, %lld, %lld, %lld], kernel [%lld, %lld, %lld, %lld] and output gradient "
                               "[%lld, %lld, %lld, %lld] do not fit (kernel %lldx%lld, stride %lld, pad %lld)",
                               (long long)X[0], (long long)X[1], (long long)X[2], (long long)X[3], (long long)W[0],
                               (long long)W[1], (long long)W[2], (long long)W[3], (long long)G[0], (long long)G[1],
                               (long long)G[2], (long long)G[3], (long long)kh, (long long)kw, (long long)st,
                               (long long)pad);
    *g = (conv_geom){X[0], X[1], X[2], X[3], W[0], kh, kw, st, pad, oh, ow, 0, 0, 0, 0};
    g->hw = g->h * g->w;
    g->ohw = oh * ow;
    g->kk = kh * kw;
    g->ckk = g->c * g->kk;
    return ALAE_OK;
}

static int is_pointwise(const conv_geom *g) { return g->kh == 1 && g->kw == 1 && g->s == 1 && g->pad == 0; }

/* g as a Winograd shape when it is a 3x3 stride-1 convolution the context wants done that way
 * (cpu_winograd.c), else 0. */
static int winograd_shape(const cpu_ctx *ctx, const conv_geom *g, cpu_wino_shape *s) {
    if (g->kh != 3 || g->kw != 3 || g->s != 1) return 0;
    *s = (cpu_wino_shape){g->n, g->c, g->h, g->w, g->o, g->oh, g->ow, g->pad};
    return cpu_winograd_wanted(ctx, s);
}

/* The chunking: nb images of rows output rows at a time (nb > 1 only with rows == oh). */
static void conv_chunking(const cpu_ctx *ctx, const conv_geom *g, int64_t *nb, int64_t *rows) {
    int64_t budget = CONV_COLS_PER_THREAD * (ctx->threads > 1 ? ctx->threads : 1);
    if (budget > CONV_COLS_MAX) budget = CONV_COLS_MAX;
    int64_t per_image = g->ckk * g->ohw;
    if (per_image <= budget) {
        *nb = budget / per_image;
        if (*nb > g->n) *nb = g->n;
        if (*nb < 1) *nb = 1;
        *rows = g->oh;
    } else {
        *nb = 1;
        *rows = budget / (g->ckk * g->ow);
        if (*rows < 1) *rows = 1;
    }
}

/* output positions ox in [lo, hi) read input columns ox*stride + off inside [0, w) */
static void valid_range(int64_t w, int64_t out_w, int64_t stride, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = w - 1 - off < 0 ? 0 : (w - 1 - off) / stride + 1;
    if (h > out_w) h = out_w;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* One chunk's columns: images [n0, n0 + nb), output rows [oy0, oy1); column q = b * pw + (oy -
 * oy0) * OW + ox of row (c, i, j), pw = (oy1 - oy0) * OW, P = nb * pw columns per row. */
typedef struct chunk_job {
    const conv_geom *g;
    const float *img; /* x (im2col) */
    float *dimg;      /* dx (col2im) */
    float *cols;
    const float *src; /* gather: g; scatter: Z */
    float *dst;       /* gather: G; scatter: y */
    int64_t n0, nb, oy0, oy1, pw, p;
} chunk_job;

static void im2col_range(void *arg, int64_t r0, int64_t r1) {
    const chunk_job *J = arg;
    const conv_geom *g = J->g;
    const int64_t ow = g->ow, s = g->s;
    for (int64_t r = r0; r < r1; r++) {
        int64_t c = r / g->kk, i = (r / g->kw) % g->kh, j = r % g->kw, off = j - g->pad, lo, hi;
        valid_range(g->w, ow, s, off, &lo, &hi);
        float *dst = J->cols + r * J->p;
        for (int64_t b = 0; b < J->nb; b++) {
            const float *plane = J->img + ((J->n0 + b) * g->c + c) * g->hw;
            if (s == 1 && ow == g->w) {
                /* "same" width (3x3 pad 1, 1x1 pad 0): the valid rows of the band are the plane
                 * shifted by (i - pad) rows and off columns: one block copy, then zero the rows
                 * above / below the image and the columns that wrapped around from the
                 * neighbouring rows. */
                float *out = dst + b * J->pw;
                int64_t y0 = g->pad - i > J->oy0 ? g->pad - i : J->oy0; /* first oy with iy >= 0 */
                int64_t y1 = g->h + g->pad - i < J->oy1 ? g->h + g->pad - i : J->oy1;
                if (y0 > J->oy1) y0 = J->oy1;
                if (y1 < y0) y1 = y0;
                if (y0 > J->oy0) memset(out, 0, (size_t)((y0 - J->oy0) * ow) * sizeof(float));
                if (y1 < J->oy1) memset(out + (y1 - J->oy0) * ow, 0, (size_t)((J->oy1 - y1) * ow) * sizeof(float));
                int64_t len = (y1 - y0) * ow;
                if (len > 0) {
                    float *o = out + (y0 - J->oy0) * ow;
                    int64_t src = (y0 + i - g->pad) * g->w + off; /* plane index of o[0] */
                    int64_t t_lo = src < 0 ? -src : 0, t_hi = g->hw - src < len ? g->hw - src : len;
                    if (t_lo > len) t_lo = len;
                    if (t_hi < t_lo) t_hi = t_lo;
                    for (int64_t t = 0; t < t_lo; t++) o[t] = 0.0f;
                    memcpy(o + t_lo, plane + src + t_lo, (size_t)(t_hi - t_lo) * sizeof(float));
                    for (int64_t t = t_hi; t < len; t++) o[t] = 0.0f;
                    if (lo > 0 || hi < ow)
                        for (int64_t y = 0; y < y1 - y0; y++) {
                            float *row = o + y * ow;
                            for (int64_t ox = 0; ox < lo; ox++) row[ox] = 0.0f;
                            for (int64_t ox = hi; ox < ow; ox++) row[ox] = 0.0f;
                        }
                }
                continue;
            }
            for (int64_t oy = J->oy0; oy < J->oy1; oy++) {
                float *out = dst + b * J->pw + (oy - J->oy0) * ow;
                int64_t iy = oy * s + i - g->pad;
                if (iy < 0 || iy >= g->h) {
                    memset(out, 0, (size_t)ow * sizeof(float));
                    continue;
                }
                const float *row = plane + iy * g->w; /* ox reads row[ox * s + off], inside for [lo, hi) */
                for (int64_t ox = 0; ox < lo; ox++) out[ox] = 0.0f;
                if (hi > lo) {
                    if (s == 1) {
                        memcpy(out + lo, row + lo + off, (size_t)(hi - lo) * sizeof(float));
                    } else {
                        const float *src = row + lo * s + off;
                        float *o = out + lo;
                        if (s == 2)
                            for (int64_t k = 0; k < hi - lo; k++) o[k] = src[2 * k];
                        else
                            for (int64_t k = 0; k < hi - lo; k++) o[k] = src[k * s];
                    }
                }
                for (int64_t ox = hi; ox < ow; ox++) out[ox] = 0.0f;
            }
        }
    }
}

/* dx += col2im(cols), channels [c0, c1) (one thread per channel plane: a fixed summation order) */
static void col2im_range(void *arg, int64_t c0, int64_t c1) {
    const chunk_job *J = arg;
    const conv_geom *g = J->g;
    const int64_t ow = g->ow, s = g->s;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t b = 0; b < J->nb; b++) {
            float *plane = J->dimg + ((J->n0 + b) * g->c + c) * g->hw;
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t off = j - g->pad, lo, hi;
                    valid_range(g->w, ow, s, off, &lo, &hi);
                    const float *col = J->cols + ((c * g->kh + i) * g->kw + j) * J->p + b * J->pw;
                    for (int64_t oy = J->oy0; oy < J->oy1; oy++) {
                        int64_t iy = oy * s + i - g->pad;
                        if (iy < 0 || iy >= g->h) continue;
                        if (hi <= lo) continue;
                        float *drow = plane + iy * g->w + lo * s + off; /* the pixel of ox = lo */
                        const float *srow = col + (oy - J->oy0) * ow + lo;
                        const int64_t len = hi - lo;
                        if (s == 1) {
                            for (int64_t k = 0; k < len; k++) drow[k] += srow[k];
                        } else {
                            for (int64_t k = 0; k < len; k++) drow[k * s] += srow[k];
                        }
                    }
                }
        }
}

/* G [O, nb * OHW] <- g[n0 .. n0 + nb) (rows o in [o0, o1)) */
static void gather_range(void *arg, int64_t o0, int64_t o1) {
    const chunk_job *J = arg;
    const conv_geom *g = J->g;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t b = 0; b < J->nb; b++)
            memcpy(J->dst + o * J->p + b * g->ohw, J->src + ((J->n0 + b) * g->o + o) * g->ohw,
                   (size_t)g->ohw * sizeof(float));
}

/* y[n0 .. n0 + nb) <- Z [O, nb * OHW] */
static void scatter_range(void *arg, int64_t o0, int64_t o1) {
    const chunk_job *J = arg;
    const conv_geom *g = J->g;
    for (int64_t o = o0; o < o1; o++)
        for (int64_t b = 0; b < J->nb; b++)
            memcpy(J->dst + ((J->n0 + b) * g->o + o) * g->ohw, J->src + o * J->p + b * g->ohw,
                   (size_t)g->ohw * sizeof(float));
}

/* Scratch for a chunk's columns, (grouped images) a [O, P] gather / scatter matrix and wt_n
 * floats for a transformed kernel: returns the columns, or NULL. */
static float *chunk_scratch(cpu_ctx *ctx, const conv_geom *g, int64_t nb, int64_t rows, float **extra,
                            int64_t wt_n, float **wt) {
    int64_t p = nb * rows * g->ow;
    int64_t cols = (g->ckk * p + 15) / 16 * 16, more = nb > 1 ? g->o * p : 0, wts = (wt_n + 15) / 16 * 16;
    float *base = cpu_scratch(ctx, (size_t)(wts + cols + more) * sizeof(float));
    if (!base) return NULL;
    *wt = wt_n ? base : NULL;
    *extra = more ? base + wts + cols : NULL;
    return base + wts;
}

/* The pool for the memory-bound helper loops (im2col, col2im, gathers, scatters), or NULL for the
 * calling thread alone. Between two OpenBLAS GEMMs, OpenBLAS's own workers keep spinning (with
 * sched_yield) for a while, and on 2 cores a pool worker started then shares its core with one:
 * measured on the 2-vCPU EPYC, a StyleALAE iteration at batch 8 took 3.05 s (median of 30) with
 * the helpers on the calling thread and 3.43 s with them on the pool. With more threads the
 * helpers' share of the work makes the pool worth it; with the built-in SGEMM (which runs on the
 * same pool) there are no foreign spinning threads. */
static cpu_pool *helper_pool(const cpu_ctx *ctx) {
    return ctx->threads <= 2 && cpu_blas_raw_sgemm() && !cpu_blas_own_split() ? NULL : ctx->pool;
}

typedef enum { RUN_FWD, RUN_DATA, RUN_WEIGHT } conv_kind;

/* The chunked im2col / GEMM / col2im loop shared by the three ops. flip: w is the kernel
 * [g->c, g->o, KH, KW] of the convolution this one is the adjoint of; run with its transposed,
 * rotated copy w'[oc, ic, i, j] = w[ic, oc, KH-1-i, KW-1-j] (built in scratch). */
static alae_status conv_chunks(cpu_ctx *ctx, conv_kind kind, const conv_geom *g, const float *x, float *dx,
                               const float *w, const float *gy, float *y, float *dw, float alpha, int flip) {
    int64_t nb, rows;
    conv_chunking(ctx, g, &nb, &rows);
    cpu_pool *pool = helper_pool(ctx);
    float *z = NULL, *wt = NULL;
    float *cols = chunk_scratch(ctx, g, nb, rows, &z, flip ? g->o * g->ckk : 0, &wt);
    if (!cols) return ALAE_E_NOMEM;
    if (flip) {
        const int64_t kh = g->kh, kw = g->kw;
        for (int64_t oc = 0; oc < g->o; oc++)
            for (int64_t ic = 0; ic < g->c; ic++)
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        wt[((oc * g->c + ic) * kh + i) * kw + j] = w[((ic * g->o + oc) * kh + kh - 1 - i) * kw + kw - 1 - j];
        w = wt;
    }
    int first = 1;
    for (int64_t n0 = 0; n0 < g->n; n0 += nb) {
        int64_t nbb = nb < g->n - n0 ? nb : g->n - n0;
        for (int64_t oy0 = 0; oy0 < g->oh; oy0 += rows) {
            int64_t oy1 = oy0 + rows < g->oh ? oy0 + rows : g->oh, pw = (oy1 - oy0) * g->ow;
            chunk_job J = {g, x, dx, cols, NULL, NULL, n0, nbb, oy0, oy1, pw, nbb * pw};
            int grouped = nbb > 1;
            /* the chunk's output gradient as a matrix [O, P]: in place for one image, else gathered */
            const float *gm = NULL;
            int64_t ldg = g->ohw;
            if (kind != RUN_FWD) {
                if (grouped) {
                    J.src = gy;
                    J.dst = z;
                    cpu_parallel_for_cost(pool, g->o, J.p, gather_range, &J);
                    gm = z;
                    ldg = J.p;
                } else {
                    gm = gy + n0 * g->o * g->ohw + oy0 * g->ow;
                }
            }
            alae_status s = ALAE_OK;
            switch (kind) {
            case RUN_FWD:
                cpu_parallel_for_cost(pool, g->ckk, J.p, im2col_range, &J);
                if (grouped) {
                    s = cpu_sgemm(ctx, 0, 0, g->o, J.p, g->ckk, alpha, w, g->ckk, cols, J.p, 0.0f, z, J.p);
                    J.src = z;
                    J.dst = y;
                    if (s == ALAE_OK) cpu_parallel_for_cost(pool, g->o, J.p, scatter_range, &J);
                } else {
                    s = cpu_sgemm(ctx, 0, 0, g->o, J.p, g->ckk, alpha, w, g->ckk, cols, J.p, 0.0f,
                                  y + n0 * g->o * g->ohw + oy0 * g->ow, g->ohw);
                }
                break;
            case RUN_DATA:
                s = cpu_sgemm(ctx, 1, 0, g->ckk, J.p, g->o, alpha, w, g->ckk, gm, ldg, 0.0f, cols, J.p);
                if (s == ALAE_OK) cpu_parallel_for_cost(pool, g->c, g->kk * J.p, col2im_range, &J);
                break;
            case RUN_WEIGHT:
                cpu_parallel_for_cost(pool, g->ckk, J.p, im2col_range, &J);
                s = cpu_sgemm(ctx, 0, 1, g->o, g->ckk, J.p, alpha, gm, ldg, cols, J.p, first ? 0.0f : 1.0f, dw,
                              g->ckk);
                break;
            }
            if (s != ALAE_OK) return s;
            first = 0;
        }
    }
    return ALAE_OK;
}

alae_status cpu_op_conv2d(cpu_ctx *ctx, const alaei_op *op) {
    conv_geom g;
    const alaei_tview *xv, *wv, *gv;
    alae_status s = conv_setup(op, &g, &xv, &wv, &gv);
    if (s != ALAE_OK) return s;
    float alpha = (float)op->fp[0];
    const float *w = wv->data;
    switch (op->code) {
    case ALAEI_OP_CONV2D: {
        const float *x = xv->data;
        float *y = op->dst.data;
        if (alaei_numel4(op->dst.ne) == 0) return ALAE_OK;
        if (g.ckk == 0) {
            cpu_fill_f32(ctx->pool, y, alaei_numel4(op->dst.ne), 0.0f);
            return ALAE_OK;
        }
        if (is_pointwise(&g)) {
            for (int64_t n = 0; n < g.n && s == ALAE_OK; n++)
                s = cpu_sgemm(ctx, 0, 0, g.o, g.hw, g.c, alpha, w, g.c, x + n * g.c * g.hw, g.hw, 0.0f,
                              y + n * g.o * g.hw, g.hw);
            return s;
        }
        cpu_wino_shape ws;
        if (winograd_shape(ctx, &g, &ws)) return cpu_winograd_conv(ctx, &ws, x, w, 0, alpha, y);
        return conv_chunks(ctx, RUN_FWD, &g, x, NULL, w, NULL, y, NULL, alpha, 0);
    }
    case ALAEI_OP_CONV2D_BWD_DATA: {
        const float *gy = gv->data;
        float *dx = op->dst.data;
        if (alaei_numel4(op->dst.ne) == 0) return ALAE_OK;
        if (is_pointwise(&g) && g.o > 0) {
            for (int64_t n = 0; n < g.n && s == ALAE_OK; n++)
                s = cpu_sgemm(ctx, 1, 0, g.c, g.hw, g.o, alpha, w, g.c, gy + n * g.o * g.hw, g.hw, 0.0f,
                              dx + n * g.c * g.hw, g.hw);
            return s;
        }
        cpu_wino_shape ws;
        if (g.pad <= 2 && g.oh > 0 && g.ow > 0) {
            /* the adjoint as a forward convolution of g: o input channels, c output channels,
             * padding 2 - pad (below) */
            conv_geom t = g;
            t.c = g.o, t.h = g.oh, t.w = g.ow, t.o = g.c, t.pad = 2 - g.pad, t.oh = g.h, t.ow = g.w;
            if (winograd_shape(ctx, &t, &ws)) return cpu_winograd_conv(ctx, &ws, gy, w, 1, alpha, dx);
        }
        if (g.o > 0 && g.s == 1 && g.kh == g.kw && g.pad <= g.kh - 1 && g.c >= g.o) {
            /* stride 1: the adjoint is the correlation of g (padded KH-1-pad) with the rotated,
             * transposed kernel: im2col + GEMM like CONV2D, no scatter-adds. Its GEMM has C rows
             * and O*KH*KW inner products where col2im's has C*KH*KW rows and O: faster when
             * C >= O (measured), the col2im path otherwise. */
            conv_geom t = g;
            t.c = g.o, t.h = g.oh, t.w = g.ow, t.o = g.c, t.pad = g.kh - 1 - g.pad, t.oh = g.h, t.ow = g.w;
            t.hw = t.h * t.w, t.ohw = t.oh * t.ow, t.ckk = t.c * t.kk;
            return conv_chunks(ctx, RUN_FWD, &t, gy, NULL, w, NULL, dx, NULL, alpha, 1);
        }
        cpu_fill_f32(ctx->pool, dx, alaei_numel4(op->dst.ne), 0.0f);
        if (g.o == 0 || g.ohw == 0) return ALAE_OK;
        return conv_chunks(ctx, RUN_DATA, &g, NULL, dx, w, gy, NULL, NULL, alpha, 0);
    }
    default: { /* CONV2D_BWD_WEIGHT */
        const float *gy = gv->data, *x = xv->data;
        float *dw = op->dst.data;
        if (alaei_numel4(op->dst.ne) == 0) return ALAE_OK;
        if (g.n == 0 || g.ohw == 0) {
            cpu_fill_f32(ctx->pool, dw, alaei_numel4(op->dst.ne), 0.0f);
            return ALAE_OK;
        }
        if (is_pointwise(&g)) {
            for (int64_t n = 0; n < g.n && s == ALAE_OK; n++)
                s = cpu_sgemm(ctx, 0, 1, g.o, g.c, g.hw, alpha, gy + n * g.o * g.hw, g.hw, x + n * g.c * g.hw, g.hw,
                              n ? 1.0f : 0.0f, dw, g.c);
            return s;
        }
        cpu_wino_shape ws;
        if (winograd_shape(ctx, &g, &ws)) return cpu_winograd_bwd_weight(ctx, &ws, gy, x, alpha, dw);
        return conv_chunks(ctx, RUN_WEIGHT, &g, x, NULL, NULL, gy, NULL, dw, alpha, 0);
    }
    }
}
