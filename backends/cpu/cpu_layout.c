/* Layout kernels: PERMUTE (tiled transpose), SLICE and SLICE_ADJ. Pure data movement, so the
 * results are exact and independent of the thread count. */
#include <string.h>

#include "cpu_internal.h"

#define TILE 32

/* ---- PERMUTE ---- */

typedef struct perm_job {
    const float *a;
    float *d;
    int64_t ne[4];  /* merged dst dims */
    int64_t sa[4];  /* source stride of each dst dim */
    int64_t sd[4];  /* dst strides (contiguous) */
    int q;          /* the dst dim that is contiguous in the source (tiled mode) */
    int o1, o2;     /* the two other outer dims (tiled mode) */
    int64_t tq, t3; /* tiles along q and along dim 3 */
} perm_job;

/* inner dim contiguous in both: copy rows */
static void perm_rows(void *p, int64_t r0, int64_t r1) {
    const perm_job *g = p;
    const int64_t n3 = g->ne[3];
    for (int64_t r = r0; r < r1; r++) {
        int64_t i2 = r % g->ne[2], t = r / g->ne[2];
        int64_t i1 = t % g->ne[1], i0 = t / g->ne[1];
        memcpy(g->d + r * n3, g->a + i0 * g->sa[0] + i1 * g->sa[1] + i2 * g->sa[2], (size_t)n3 * sizeof(float));
    }
}

static void perm_tiles(void *p, int64_t it0, int64_t it1) {
    const perm_job *g = p;
    const int q = g->q, o1 = g->o1, o2 = g->o2;
    const int64_t s3 = g->sa[3], sdq = g->sd[q];
    for (int64_t it = it0; it < it1; it++) {
        int64_t t = it;
        int64_t b3 = t % g->t3;
        t /= g->t3;
        int64_t bq = t % g->tq;
        t /= g->tq;
        int64_t j2 = t % g->ne[o2], j1 = t / g->ne[o2];
        const float *a = g->a + j1 * g->sa[o1] + j2 * g->sa[o2];
        float *d = g->d + j1 * g->sd[o1] + j2 * g->sd[o2];
        int64_t x0 = bq * TILE, x1 = x0 + TILE < g->ne[q] ? x0 + TILE : g->ne[q];
        int64_t y0 = b3 * TILE, y1 = y0 + TILE < g->ne[3] ? y0 + TILE : g->ne[3];
        for (int64_t x = x0; x < x1; x++) {
            float *drow = d + x * sdq;
            const float *acol = a + x; /* sa[q] == 1 */
            for (int64_t y = y0; y < y1; y++) drow[y] = acol[y * s3];
        }
    }
}

alae_status cpu_op_permute(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    int seen[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4; k++) {
        int32_t pk = op->ip[k];
        if (pk < 0 || pk > 3 || seen[pk])
            return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: {%d, %d, %d, %d} is not a permutation of 0..3",
                              alaei_op_name(op->code), (int)op->ip[0], (int)op->ip[1], (int)op->ip[2],
                              (int)op->ip[3]);
        seen[pk] = 1;
        if (d->ne[k] != a->ne[pk])
            return cpu_shape_error(op, "d.ne[%d] = %lld but a.ne[%d] = %lld", k, (long long)d->ne[k], (int)pk,
                                   (long long)a->ne[pk]);
    }
    int64_t n = alaei_numel4(d->ne);
    if (n == 0) return ALAE_OK;
    int64_t as[4];
    as[3] = 1;
    for (int k = 2; k >= 0; k--) as[k] = as[k + 1] * a->ne[k + 1];
    /* drop extent-1 dims, merge dst-adjacent dims that are also adjacent in the source */
    int64_t e[4] = {0, 0, 0, 0}, st[4] = {0, 0, 0, 0};
    int nd = 0;
    for (int k = 0; k < 4; k++) {
        int64_t ext = d->ne[k], stride = as[op->ip[k]];
        if (ext == 1) continue;
        if (nd > 0 && st[nd - 1] == stride * ext) {
            e[nd - 1] *= ext;
            st[nd - 1] = stride;
        } else {
            e[nd] = ext;
            st[nd] = stride;
            nd++;
        }
    }
    perm_job g;
    memset(&g, 0, sizeof g);
    g.a = a->data;
    g.d = d->data;
    for (int k = 0; k < 4; k++) {
        g.ne[k] = 1;
        g.sa[k] = 0;
    }
    for (int i = 0; i < nd; i++) {
        g.ne[4 - nd + i] = e[i];
        g.sa[4 - nd + i] = st[i];
    }
    if (nd == 0 || g.sa[3] == 1) {
        if (nd == 0) g.sa[3] = 1;
        cpu_parallel_for_cost(ctx->pool, n / g.ne[3], g.ne[3], perm_rows, &g);
        return ALAE_OK;
    }
    g.sd[3] = 1;
    for (int k = 2; k >= 0; k--) g.sd[k] = g.sd[k + 1] * g.ne[k + 1];
    g.q = -1;
    for (int k = 0; k < 3; k++)
        if (g.ne[k] > 1 && g.sa[k] == 1) g.q = k;
    if (g.q < 0) return alaei_fail(ALAE_E_INTERNAL, "cpu_run_op", "PERMUTE: no source-contiguous dim");
    int others[2] = {0, 1}, no = 0;
    for (int k = 0; k < 3; k++)
        if (k != g.q) others[no++] = k;
    g.o1 = others[0];
    g.o2 = others[1];
    g.tq = (g.ne[g.q] + TILE - 1) / TILE;
    g.t3 = (g.ne[3] + TILE - 1) / TILE;
    int64_t items = g.ne[g.o1] * g.ne[g.o2] * g.tq * g.t3;
    cpu_parallel_for_cost(ctx->pool, items, TILE * TILE, perm_tiles, &g);
    return ALAE_OK;
}

/* ---- SLICE and SLICE_ADJ ---- */

/* The small tensor (d for SLICE, a for SLICE_ADJ) is the big one's [outer, len, inner] with len
 * <= the big one's blen along the axis, at offset start. */
typedef struct slice_job {
    const float *a;
    float *d;
    int64_t outer, inner, len, blen, start;
} slice_job;

/* SLICE: dst element e of segment o copies big[o, start + ., .] */
static void slice_range(void *p, int64_t e0, int64_t e1) {
    const slice_job *g = p;
    const int64_t seg = g->len * g->inner;
    for (int64_t e = e0; e < e1;) {
        int64_t o = e / seg, pos = e % seg;
        int64_t n = seg - pos < e1 - e ? seg - pos : e1 - e;
        memcpy(g->d + e, g->a + o * g->blen * g->inner + g->start * g->inner + pos, (size_t)n * sizeof(float));
        e += n;
    }
}

/* SLICE_ADJ: big dst segment o = zeros, the small source's segment o, zeros */
static void slice_adj_range(void *p, int64_t e0, int64_t e1) {
    const slice_job *g = p;
    const int64_t seg = g->blen * g->inner;
    const int64_t c0 = g->start * g->inner, c1 = (g->start + g->len) * g->inner;
    for (int64_t e = e0; e < e1;) {
        int64_t o = e / seg, pos = e % seg;
        int64_t end = (pos < c0 ? c0 : pos < c1 ? c1 : seg) - pos;
        int64_t n = end < e1 - e ? end : e1 - e;
        if (pos >= c0 && pos < c1)
            memcpy(g->d + e, g->a + o * g->len * g->inner + (pos - c0), (size_t)n * sizeof(float));
        else
            memset(g->d + e, 0, (size_t)n * sizeof(float));
        e += n;
    }
}

static alae_status slice_setup(const alaei_op *op, const alaei_tview *big, const alaei_tview *small, slice_job *g) {
    int32_t axis = op->ip[0], start = op->ip[1];
    if (axis < 0 || axis > 3 || start < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "%s: axis %d or start %d is invalid",
                          alaei_op_name(op->code), (int)axis, (int)start);
    for (int k = 0; k < 4; k++)
        if (k != axis && big->ne[k] != small->ne[k])
            return cpu_shape_error(op, "dim %d differs (%lld vs %lld) outside the slice axis %d", k,
                                   (long long)big->ne[k], (long long)small->ne[k], (int)axis);
    if ((int64_t)start + small->ne[axis] > big->ne[axis])
        return cpu_shape_error(op, "start %d + length %lld exceeds %lld along axis %d", (int)start,
                               (long long)small->ne[axis], (long long)big->ne[axis], (int)axis);
    g->outer = 1;
    g->inner = 1;
    for (int k = 0; k < axis; k++) g->outer *= big->ne[k];
    for (int k = axis + 1; k < 4; k++) g->inner *= big->ne[k];
    g->len = small->ne[axis];
    g->blen = big->ne[axis];
    g->start = start;
    return ALAE_OK;
}

alae_status cpu_op_slice(cpu_ctx *ctx, const alaei_op *op) {
    slice_job g;
    alae_status s = slice_setup(op, &op->src[0], &op->dst, &g);
    if (s != ALAE_OK) return s;
    g.a = op->src[0].data;
    g.d = op->dst.data;
    int64_t n = alaei_numel4(op->dst.ne);
    if (n > 0) cpu_parallel_for(ctx->pool, n, slice_range, &g);
    return ALAE_OK;
}

alae_status cpu_op_slice_adj(cpu_ctx *ctx, const alaei_op *op) {
    slice_job g;
    alae_status s = slice_setup(op, &op->dst, &op->src[0], &g);
    if (s != ALAE_OK) return s;
    g.a = op->src[0].data;
    g.d = op->dst.data;
    int64_t n = alaei_numel4(op->dst.ne);
    if (n > 0) cpu_parallel_for(ctx->pool, n, slice_adj_range, &g);
    return ALAE_OK;
}
