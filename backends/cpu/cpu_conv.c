/* Image kernels: IM2COL, COL2IM, UPSAMPLE2D, SUMPOOL2D and FIR2D (all NCHW, float).
 *
 * COL2IM is partitioned by output plane (n, c): each plane is owned by one thread and receives
 * its column contributions in the fixed order (i, j, oy, ox), accumulated in float, so the result
 * does not depend on the thread count. SUMPOOL2D and FIR2D sum their taps in (i, j) order. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define CPU_STREAM 1
#else
#define CPU_STREAM 0
#endif

/* output positions ox in [lo, hi) read input columns ox*stride + off inside [0, w) */
static void valid_range(int64_t w, int64_t out_w, int64_t stride, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = w - 1 - off < 0 ? 0 : (w - 1 - off) / stride + 1;
    if (h > out_w) h = out_w;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* ---- IM2COL ---- */

typedef struct im2col_job {
    const float *a;
    float *d;
    int64_t c, h, w, kh, kw, stride, pad, oh, ow;
    int64_t rows;   /* N * C * KH * KW column rows of OH * OW */
    float *tmp;     /* streaming mode: one OH * OW row buffer per thread, else NULL */
} im2col_job;

/* Columns larger than the last-level cache cannot stay cached for the GEMM that reads them, so
 * they are written with streaming (non-temporal) stores: no read-for-ownership, ~1.5x the write
 * bandwidth. Each column row is first built in a small per-thread buffer (L1/L2 resident) and
 * then streamed out. Smaller outputs use ordinary stores and stay in cache. */
#define STREAM_MAX_ROW 16384 /* floats: larger rows are written directly */

/* The last-level cache as this CPU sees it (sysfs index3, e.g. one CCX's 16 MiB on an EPYC);
 * glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) reports the whole package's L3 on some AMD systems, which
 * is far more than one core can use. Clamped to 4..64 MiB; 8 MiB when unknown. */
static pthread_once_t llc_once = PTHREAD_ONCE_INIT;
static int64_t llc_bytes = (int64_t)8 << 20;

static void read_llc(void) {
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (!f) return;
    long long v = 0;
    char unit = 0;
    if (fscanf(f, "%lld%c", &v, &unit) >= 1 && v > 0) {
        int64_t bytes = unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : v;
        if (bytes < (int64_t)4 << 20) bytes = (int64_t)4 << 20;
        if (bytes > (int64_t)64 << 20) bytes = (int64_t)64 << 20;
        llc_bytes = bytes;
    }
    fclose(f);
}

static int64_t stream_threshold(void) {
    pthread_once(&llc_once, read_llc);
    return llc_bytes;
}

#if CPU_STREAM
static void stream_copy(float *dst, const float *src, int64_t n) {
    int64_t x = 0;
    for (; x < n && ((uintptr_t)(dst + x) & 15) != 0; x++) dst[x] = src[x];
    for (; x + 16 <= n; x += 16) {
        __m128 v0 = _mm_loadu_ps(src + x), v1 = _mm_loadu_ps(src + x + 4);
        __m128 v2 = _mm_loadu_ps(src + x + 8), v3 = _mm_loadu_ps(src + x + 12);
        _mm_stream_ps(dst + x, v0);
        _mm_stream_ps(dst + x + 4, v1);
        _mm_stream_ps(dst + x + 8, v2);
        _mm_stream_ps(dst + x + 12, v3);
    }
    for (; x + 4 <= n; x += 4) _mm_stream_ps(dst + x, _mm_loadu_ps(src + x));
    for (; x < n; x++) dst[x] = src[x];
}
#endif

/* Writes column row r (image n, channel c, tap i, j) to dst[0 .. OH*OW). */
static void im2col_row(const im2col_job *g, int64_t r, float *dst) {
    const int64_t ckk = g->c * g->kh * g->kw;
    int64_t n = r / ckk, q = r % ckk;
    int64_t c = q / (g->kh * g->kw), i = (q / g->kw) % g->kh, j = q % g->kw;
    const float *plane = g->a + (n * g->c + c) * g->h * g->w;
    int64_t lo, hi;
    valid_range(g->w, g->ow, g->stride, j - g->pad, &lo, &hi);
    if (g->stride == 1 && g->ow == g->w) {
        /* "same" convolution (3x3 pad 1, 1x1 pad 0): the valid rows of this column row are the
         * plane shifted by (i - pad) rows and (j - pad) columns, so copy them as one block and
         * then zero the columns that wrapped around from the neighbouring rows. */
        int64_t oy0 = g->pad - i > 0 ? g->pad - i : 0;
        if (oy0 > g->oh) oy0 = g->oh;
        int64_t oy1 = g->h + g->pad - i < g->oh ? g->h + g->pad - i : g->oh;
        if (oy1 < oy0) oy1 = oy0;
        const int64_t w = g->w, off = j - g->pad, len = (oy1 - oy0) * w, plane_n = g->h * w;
        if (oy0 > 0) memset(dst, 0, (size_t)(oy0 * w) * sizeof(float));
        if (oy1 < g->oh) memset(dst + oy1 * w, 0, (size_t)((g->oh - oy1) * w) * sizeof(float));
        if (len > 0) {
            float *out = dst + oy0 * w;
            int64_t s = (oy0 + i - g->pad) * w + off; /* source index of out[0] */
            int64_t t_lo = s < 0 ? (-s < len ? -s : len) : 0;
            int64_t t_hi = plane_n - s < len ? plane_n - s : len;
            if (t_hi < t_lo) t_hi = t_lo;
            for (int64_t t = 0; t < t_lo; t++) out[t] = 0.0f;
            memcpy(out + t_lo, plane + s + t_lo, (size_t)(t_hi - t_lo) * sizeof(float));
            for (int64_t t = t_hi; t < len; t++) out[t] = 0.0f;
            if (lo > 0 || hi < w)
                for (int64_t oy = 0; oy < oy1 - oy0; oy++) {
                    for (int64_t ox = 0; ox < lo; ox++) out[oy * w + ox] = 0.0f;
                    for (int64_t ox = hi; ox < w; ox++) out[oy * w + ox] = 0.0f;
                }
        }
        return;
    }
    for (int64_t oy = 0; oy < g->oh; oy++) {
        float *out = dst + oy * g->ow;
        int64_t iy = oy * g->stride + i - g->pad;
        if (iy < 0 || iy >= g->h) {
            memset(out, 0, (size_t)g->ow * sizeof(float));
            continue;
        }
        const float *row = plane + iy * g->w;
        const int64_t off = j - g->pad;
        for (int64_t ox = 0; ox < lo; ox++) out[ox] = 0.0f;
        if (g->stride == 1) {
            if (hi > lo) memcpy(out + lo, row + lo + off, (size_t)(hi - lo) * sizeof(float));
        } else if (g->stride == 2) {
            for (int64_t ox = lo; ox < hi; ox++) out[ox] = row[2 * ox + off];
        } else {
            for (int64_t ox = lo; ox < hi; ox++) out[ox] = row[ox * g->stride + off];
        }
        for (int64_t ox = hi; ox < g->ow; ox++) out[ox] = 0.0f;
    }
}

static void im2col_task(void *p, int ith, int nth) {
    const im2col_job *g = p;
    const int64_t ohw = g->oh * g->ow;
    int64_t r0 = g->rows * ith / nth, r1 = g->rows * (ith + 1) / nth;
#if CPU_STREAM
    if (g->tmp) {
        float *tmp = g->tmp + (size_t)ith * (size_t)ohw;
        for (int64_t r = r0; r < r1; r++) {
            im2col_row(g, r, tmp);
            stream_copy(g->d + r * ohw, tmp, ohw);
        }
        _mm_sfence(); /* order the streaming stores before the pool's barrier */
        return;
    }
#endif
    for (int64_t r = r0; r < r1; r++) im2col_row(g, r, g->d + r * ohw);
}

/* Validates p = {KH, KW, stride, pad} against the image [N, C, H, W] and the columns
 * [1, N, C*KH*KW, OH*OW]. */
static alae_status im2col_setup(const alaei_op *op, const alaei_tview *img, const alaei_tview *col, im2col_job *g) {
    g->kh = op->ip[0];
    g->kw = op->ip[1];
    g->stride = op->ip[2];
    g->pad = op->ip[3];
    if (g->kh < 1 || g->kw < 1 || g->stride < 1 || g->pad < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: kernel %lldx%lld, stride %lld, pad %lld are invalid",
                          alaei_op_name(op->code), (long long)g->kh, (long long)g->kw, (long long)g->stride,
                          (long long)g->pad);
    g->c = img->ne[1];
    g->h = img->ne[2];
    g->w = img->ne[3];
    if (g->h + 2 * g->pad < g->kh || g->w + 2 * g->pad < g->kw)
        return cpu_shape_error(op, "a %lldx%lld kernel does not fit the %lldx%lld image padded by %lld",
                               (long long)g->kh, (long long)g->kw, (long long)g->h, (long long)g->w,
                               (long long)g->pad);
    g->oh = (g->h + 2 * g->pad - g->kh) / g->stride + 1;
    g->ow = (g->w + 2 * g->pad - g->kw) / g->stride + 1;
    if (col->ne[0] != 1 || col->ne[1] != img->ne[0] || col->ne[2] != g->c * g->kh * g->kw ||
        col->ne[3] != g->oh * g->ow)
        return cpu_shape_error(op,
                               "columns are [%lld, %lld, %lld, %lld] but image [%lld, %lld, %lld, %lld] with a "
                               "%lldx%lld kernel, stride %lld, pad %lld needs [1, %lld, %lld, %lld]",
                               (long long)col->ne[0], (long long)col->ne[1], (long long)col->ne[2],
                               (long long)col->ne[3], (long long)img->ne[0], (long long)img->ne[1],
                               (long long)img->ne[2], (long long)img->ne[3], (long long)g->kh, (long long)g->kw,
                               (long long)g->stride, (long long)g->pad, (long long)img->ne[0],
                               (long long)(g->c * g->kh * g->kw), (long long)(g->oh * g->ow));
    return ALAE_OK;
}

alae_status cpu_op_im2col(cpu_ctx *ctx, const alaei_op *op) {
    im2col_job g;
    alae_status s = im2col_setup(op, &op->src[0], &op->dst, &g);
    if (s != ALAE_OK) return s;
    g.a = op->src[0].data;
    g.d = op->dst.data;
    g.rows = op->dst.ne[1] * op->dst.ne[2];
    g.tmp = NULL;
    const int64_t ohw = op->dst.ne[3];
    if (g.rows == 0 || ohw == 0) return ALAE_OK;
    int nth = cpu_parallel_nth(ctx->pool, g.rows, ohw);
    if (CPU_STREAM && ohw <= STREAM_MAX_ROW &&
        alaei_numel4(op->dst.ne) * (int64_t)sizeof(float) > stream_threshold()) {
        g.tmp = cpu_scratch(ctx, (size_t)nth * (size_t)ohw * sizeof(float));
        if (!g.tmp) alaei_clear_error(); /* no buffer: ordinary stores */
    }
    cpu_pool_run(ctx->pool, nth, im2col_task, &g);
    return ALAE_OK;
}

/* ---- COL2IM ---- */

static void col2im_range(void *p, int64_t p0, int64_t p1) {
    const im2col_job *g = p; /* here a = columns, d = image */
    const int64_t ckk = g->c * g->kh * g->kw, ohw = g->oh * g->ow;
    for (int64_t pl = p0; pl < p1; pl++) {
        int64_t n = pl / g->c, c = pl % g->c;
        float *plane = g->d + pl * g->h * g->w;
        memset(plane, 0, (size_t)(g->h * g->w) * sizeof(float));
        for (int64_t i = 0; i < g->kh; i++) {
            for (int64_t j = 0; j < g->kw; j++) {
                const float *col = g->a + (n * ckk + (c * g->kh + i) * g->kw + j) * ohw;
                int64_t lo, hi;
                valid_range(g->w, g->ow, g->stride, j - g->pad, &lo, &hi);
                for (int64_t oy = 0; oy < g->oh; oy++) {
                    int64_t iy = oy * g->stride + i - g->pad;
                    if (iy < 0 || iy >= g->h) continue;
                    float *dst = plane + iy * g->w;
                    const int64_t off = j - g->pad;
                    const float *src = col + oy * g->ow;
                    if (g->stride == 1) {
                        for (int64_t ox = lo; ox < hi; ox++) dst[ox + off] += src[ox];
                    } else {
                        for (int64_t ox = lo; ox < hi; ox++) dst[ox * g->stride + off] += src[ox];
                    }
                }
            }
        }
    }
}

alae_status cpu_op_col2im(cpu_ctx *ctx, const alaei_op *op) {
    alae_status s;
    im2col_job g;
    memset(&g, 0, sizeof g);
    if ((s = im2col_setup(op, &op->dst, &op->src[0], &g)) != ALAE_OK) return s;
    g.a = op->src[0].data;
    g.d = op->dst.data;
    int64_t planes = op->dst.ne[0] * op->dst.ne[1];
    if (planes == 0 || g.h * g.w == 0) return ALAE_OK;
    cpu_parallel_for_cost(ctx->pool, planes, g.kh * g.kw * g.oh * g.ow, col2im_range, &g);
    return ALAE_OK;
}

/* ---- UPSAMPLE2D (nearest) ---- */

typedef struct up_job {
    const float *a;
    float *d;
    int64_t h, w, f;
} up_job;

static void up_range(void *p, int64_t r0, int64_t r1) {
    const up_job *g = p;
    const int64_t f = g->f, w = g->w, ow = w * f;
    for (int64_t r = r0; r < r1; r++) { /* r = plane * h + source row */
        const float *src = g->a + r * w;
        float *out = g->d + r * f * ow;
        if (f == 2) {
            for (int64_t x = 0; x < w; x++) {
                out[2 * x] = src[x];
                out[2 * x + 1] = src[x];
            }
        } else {
            for (int64_t x = 0; x < w; x++)
                for (int64_t t = 0; t < f; t++) out[x * f + t] = src[x];
        }
        for (int64_t t = 1; t < f; t++) memcpy(out + t * ow, out, (size_t)ow * sizeof(float));
    }
}

alae_status cpu_op_upsample2d(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    int64_t f = op->ip[0];
    if (f < 1)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: factor %lld is not >= 1", alaei_op_name(op->code),
                          (long long)f);
    if (d->ne[0] != a->ne[0] || d->ne[1] != a->ne[1] || d->ne[2] != a->ne[2] * f || d->ne[3] != a->ne[3] * f)
        return cpu_shape_error(op, "d [%lld, %lld, %lld, %lld] is not a [%lld, %lld, %lld, %lld] upsampled by %lld",
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3],
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3],
                               (long long)f);
    if (alaei_numel4(d->ne) == 0) return ALAE_OK;
    up_job g = {a->data, d->data, a->ne[2], a->ne[3], f};
    cpu_parallel_for_cost(ctx->pool, a->ne[0] * a->ne[1] * a->ne[2], a->ne[3] * f * f, up_range, &g);
    return ALAE_OK;
}

/* ---- SUMPOOL2D ---- */

typedef struct pool_job {
    const float *a;
    float *d;
    int64_t h, w, oh, ow, f;
} pool_job;

static void pool_range(void *p, int64_t r0, int64_t r1) {
    const pool_job *g = p;
    const int64_t f = g->f, ow = g->ow;
    for (int64_t r = r0; r < r1; r++) { /* r = plane * oh + output row */
        int64_t pl = r / g->oh, y = r % g->oh;
        float *out = g->d + r * ow;
        for (int64_t x = 0; x < ow; x++) out[x] = 0.0f;
        for (int64_t i = 0; i < f; i++) {
            const float *src = g->a + (pl * g->h + y * f + i) * g->w;
            if (f == 2) {
                for (int64_t x = 0; x < ow; x++) {
                    float acc = out[x] + src[2 * x];
                    out[x] = acc + src[2 * x + 1];
                }
            } else {
                for (int64_t x = 0; x < ow; x++) {
                    float acc = out[x];
                    for (int64_t j = 0; j < f; j++) acc += src[x * f + j];
                    out[x] = acc;
                }
            }
        }
    }
}

alae_status cpu_op_sumpool2d(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    int64_t f = op->ip[0];
    if (f < 1)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: factor %lld is not >= 1", alaei_op_name(op->code),
                          (long long)f);
    if (d->ne[0] != a->ne[0] || d->ne[1] != a->ne[1] || d->ne[2] * f > a->ne[2] || d->ne[3] * f > a->ne[3])
        return cpu_shape_error(op, "d [%lld, %lld, %lld, %lld] is not a [%lld, %lld, %lld, %lld] pooled by %lld",
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3],
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3],
                               (long long)f);
    if (alaei_numel4(d->ne) == 0) return ALAE_OK;
    pool_job g = {a->data, d->data, a->ne[2], a->ne[3], d->ne[2], d->ne[3], f};
    cpu_parallel_for_cost(ctx->pool, d->ne[0] * d->ne[1] * d->ne[2], d->ne[3] * f * f, pool_range, &g);
    return ALAE_OK;
}

/* ---- FIR2D (depthwise correlation, K <= 4) ---- */

typedef struct fir_job {
    const float *a;
    float *d;
    int64_t h, w, oh, ow, k, pad;
    float taps[16];
} fir_job;

/* One output row, taps summed in (i, j) order from 0 (the same order, hence the same bits, for
 * every x): rows[i] is input row y + i - pad, or NULL outside the image. Columns whose taps all
 * fall inside the image ([x_lo, x_hi)) take the branch-free loop, which the compiler unrolls and
 * vectorises for a constant K; the edges check each tap. */
static inline void fir_row_edges(const float *const *rows, float *restrict out, const float *taps, int64_t k,
                                 int64_t pad, int64_t w, int64_t ow, int64_t x_lo, int64_t x_hi) {
    for (int64_t x = 0; x < ow; x++) {
        if (x == x_lo) x = x_hi;
        if (x >= ow) break;
        float acc = 0.0f;
        for (int64_t i = 0; i < k; i++) {
            if (!rows[i]) continue;
            for (int64_t j = 0; j < k; j++) {
                int64_t ix = x + j - pad;
                if (ix >= 0 && ix < w) acc += taps[i * k + j] * rows[i][ix];
            }
        }
        out[x] = acc;
    }
}

static inline void fir_row(const float *const *rows, float *restrict out, const float *taps, int64_t k,
                           int64_t pad, int64_t w, int64_t ow) {
    int64_t x_lo = pad < ow ? pad : ow, x_hi = w - k + 1 + pad;
    if (x_hi > ow) x_hi = ow;
    if (x_hi < x_lo) x_hi = x_lo;
    fir_row_edges(rows, out, taps, k, pad, w, ow, x_lo, x_hi);
    for (int64_t x = x_lo; x < x_hi; x++) {
        float acc = 0.0f;
        for (int64_t i = 0; i < k; i++) {
            if (!rows[i]) continue;
            const float *restrict r = rows[i] + x - pad;
            for (int64_t j = 0; j < k; j++) acc += taps[i * k + j] * r[j];
        }
        out[x] = acc;
    }
}

/* The common case of fir_row: K = 3 with all three input rows inside the image, columns
 * [x_lo, x_hi); straight-line code in the same (i, j) order, so the compiler vectorises over x. */
static void fir3_interior(const float *restrict a, const float *restrict b, const float *restrict c,
                          float *restrict out, const float *t, int64_t x_lo, int64_t x_hi) {
    const float t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7], t8 = t[8];
    for (int64_t x = x_lo; x < x_hi; x++) {
        float acc = 0.0f;
        acc += t0 * a[x];
        acc += t1 * a[x + 1];
        acc += t2 * a[x + 2];
        acc += t3 * b[x];
        acc += t4 * b[x + 1];
        acc += t5 * b[x + 2];
        acc += t6 * c[x];
        acc += t7 * c[x + 1];
        acc += t8 * c[x + 2];
        out[x] = acc;
    }
}

static void fir_range(void *p, int64_t r0, int64_t r1) {
    const fir_job *g = p;
    const int64_t ow = g->ow;
    for (int64_t r = r0; r < r1; r++) { /* r = plane * oh + output row */
        int64_t pl = r / g->oh, y = r % g->oh;
        const float *rows[4] = {NULL, NULL, NULL, NULL};
        for (int64_t i = 0; i < g->k; i++) {
            int64_t iy = y + i - g->pad;
            if (iy >= 0 && iy < g->h) rows[i] = g->a + (pl * g->h + iy) * g->w;
        }
        float *out = g->d + r * ow;
        /* constant K: the compiler specialises the tap loops */
        switch (g->k) {
        case 3:
            if (rows[0] && rows[1] && rows[2]) {
                /* interior columns by the vectorised loop (pointers shifted by -pad: a[x] is
                 * input column x - pad), the edges by fir_row over an empty interior */
                int64_t x_lo = g->pad < ow ? g->pad : ow, x_hi = g->w - 2 + g->pad;
                if (x_hi > ow) x_hi = ow;
                if (x_hi > x_lo) {
                    fir3_interior(rows[0] + x_lo - g->pad, rows[1] + x_lo - g->pad, rows[2] + x_lo - g->pad,
                                  out + x_lo, g->taps, 0, x_hi - x_lo);
                    fir_row_edges(rows, out, g->taps, 3, g->pad, g->w, ow, x_lo, x_hi);
                    break;
                }
            }
            fir_row(rows, out, g->taps, 3, g->pad, g->w, ow);
            break;
        case 2: fir_row(rows, out, g->taps, 2, g->pad, g->w, ow); break;
        case 4: fir_row(rows, out, g->taps, 4, g->pad, g->w, ow); break;
        default: fir_row(rows, out, g->taps, g->k, g->pad, g->w, ow); break;
        }
    }
}

alae_status cpu_op_fir2d(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    int64_t k = op->ip[0], pad = op->ip[1];
    if (k < 1 || k > 4 || pad < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: kernel size %lld (1..4) or pad %lld is invalid",
                          alaei_op_name(op->code), (long long)k, (long long)pad);
    int64_t oh = a->ne[2] + 2 * pad - k + 1, ow = a->ne[3] + 2 * pad - k + 1;
    if (oh < 0) oh = 0;
    if (ow < 0) ow = 0;
    if (d->ne[0] != a->ne[0] || d->ne[1] != a->ne[1] || d->ne[2] != oh || d->ne[3] != ow)
        return cpu_shape_error(op, "d [%lld, %lld, %lld, %lld] does not match a [%lld, %lld, %lld, %lld] with a "
                                   "%lldx%lld kernel and pad %lld",
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3],
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3],
                               (long long)k, (long long)k, (long long)pad);
    if (alaei_numel4(d->ne) == 0) return ALAE_OK;
    fir_job g = {a->data, d->data, a->ne[2], a->ne[3], oh, ow, k, pad, {0}};
    for (int64_t t = 0; t < k * k; t++) g.taps[t] = (float)op->fp[t];
    cpu_parallel_for_cost(ctx->pool, d->ne[0] * d->ne[1] * oh, ow * k * k, fir_range, &g);
    return ALAE_OK;
}
