/* CPU kernels: shared validation helpers and the batched GEMM op. */
#include <stdarg.h>
#include <stdio.h>

#include "cpu_internal.h"

alae_status cpu_shape_error(const alaei_op *op, const char *fmt, ...) {
    char text[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return alaei_fail(ALAE_E_SHAPE, "cpu_run_op", "%s: %s", alaei_op_name(op->code), text);
}

alae_status cpu_check_same_shape(const alaei_op *op, const alaei_tview *x, const char *xname, const alaei_tview *y,
                                 const char *yname) {
    for (int k = 0; k < 4; k++)
        if (x->ne[k] != y->ne[k])
            return cpu_shape_error(op, "%s [%lld, %lld, %lld, %lld] and %s [%lld, %lld, %lld, %lld] differ", xname,
                                   (long long)x->ne[0], (long long)x->ne[1], (long long)x->ne[2],
                                   (long long)x->ne[3], yname, (long long)y->ne[0], (long long)y->ne[1],
                                   (long long)y->ne[2], (long long)y->ne[3]);
    return ALAE_OK;
}

/* GEMM: d[b] = f[0] * op(a[b]) @ op(b[b]); a and b batch dims are d's or 1 (broadcast). */
alae_status cpu_op_gemm(cpu_ctx *ctx, const alaei_op *op) {
    alae_status s;
    const alaei_tview *d = &op->dst, *a = &op->src[0], *b = &op->src[1];
    int ta = op->ip[0] != 0, tb = op->ip[1] != 0;
    int64_t m = d->ne[2], n = d->ne[3];
    int64_t am = ta ? a->ne[3] : a->ne[2], k = ta ? a->ne[2] : a->ne[3];
    int64_t bk = tb ? b->ne[3] : b->ne[2], bn = tb ? b->ne[2] : b->ne[3];
    if (am != m || bn != n || bk != k)
        return cpu_shape_error(op,
                               "op(a) is %lld x %lld and op(b) %lld x %lld (trans %d/%d) but dst is %lld x %lld",
                               (long long)am, (long long)k, (long long)bk, (long long)bn, ta, tb, (long long)m,
                               (long long)n);
    int64_t e[2]; /* the batch dims iterated: the largest of a's, b's and d's */
    for (int q = 0; q < 2; q++) {
        e[q] = a->ne[q] > b->ne[q] ? a->ne[q] : b->ne[q];
        if (d->ne[q] > e[q]) e[q] = d->ne[q];
        if ((a->ne[q] != e[q] && a->ne[q] != 1) || (b->ne[q] != e[q] && b->ne[q] != 1) ||
            (d->ne[q] != e[q] && d->ne[q] != 1))
            return cpu_shape_error(op, "batch dim %d: a has %lld, b %lld, dst %lld (each must be the largest "
                                   "or 1; dst 1 sums)", q,
                                   (long long)a->ne[q], (long long)b->ne[q], (long long)d->ne[q]);
    }
    if (alaei_numel4(d->ne) == 0) return ALAE_OK;
    float alpha = (float)op->fp[0];
    const float *pa = a->data, *pb = b->data;
    float *pd = d->data;
    int64_t lda = a->ne[3], ldb = b->ne[3];
    int64_t nb0 = e[0], nb1 = e[1];
    int64_t a_mat = a->ne[2] * a->ne[3], b_mat = b->ne[2] * b->ne[3], d_mat = m * n;
    /* One big GEMM when b is shared by every batch and a's rows are contiguous across batches
     * (linear layers on [B0, B1, M, K] activations). */
    if (!ta && b->ne[0] == 1 && b->ne[1] == 1 && a->ne[0] == nb0 && a->ne[1] == nb1 && d->ne[0] == nb0 &&
        d->ne[1] == nb1)
        return cpu_sgemm(ctx, 0, tb, nb0 * nb1 * m, n, k, alpha, pa, lda, pb, ldb, 0.0f, pd, n);
    for (int64_t i0 = 0; i0 < nb0; i0++) {
        for (int64_t i1 = 0; i1 < nb1; i1++) {
            int64_t ai = (a->ne[0] > 1 ? i0 : 0) * a->ne[1] + (a->ne[1] > 1 ? i1 : 0);
            int64_t bi = (b->ne[0] > 1 ? i0 : 0) * b->ne[1] + (b->ne[1] > 1 ? i1 : 0);
            int64_t di = (d->ne[0] > 1 ? i0 : 0) * d->ne[1] + (d->ne[1] > 1 ? i1 : 0);
            /* a summed dim: the first product of each output matrix overwrites, later ones add */
            int accumulate = (d->ne[0] == 1 && i0 > 0) || (d->ne[1] == 1 && i1 > 0);
            s = cpu_sgemm(ctx, ta, tb, m, n, k, alpha, pa + ai * a_mat, lda, pb + bi * b_mat, ldb,
                          accumulate ? 1.0f : 0.0f, pd + di * d_mat, n);
            if (s != ALAE_OK) return s;
        }
    }
    return ALAE_OK;
}

int cpu_bplan_make(const int64_t dst_ne[4], int nsrc, const int64_t *const src_ne[2], cpu_bplan *plan) {
    int64_t ext[4];
    int full[4][2];
    int nd = 0;
    for (int k = 0; k < 4; k++) {
        for (int s = 0; s < nsrc; s++)
            if (src_ne[s][k] != dst_ne[k] && src_ne[s][k] != 1) return 0;
        if (dst_ne[k] == 1) continue;
        int f[2] = {0, 0};
        for (int s = 0; s < nsrc; s++) f[s] = src_ne[s][k] == dst_ne[k];
        if (nd > 0 && f[0] == full[nd - 1][0] && f[1] == full[nd - 1][1]) {
            ext[nd - 1] *= dst_ne[k];
        } else {
            ext[nd] = dst_ne[k];
            full[nd][0] = f[0];
            full[nd][1] = f[1];
            nd++;
        }
    }
    if (nd == 0) {
        ext[0] = 1;
        full[0][0] = full[0][1] = 1;
        nd = 1;
    }
    for (int k = 0; k < 4; k++) {
        plan->ne[k] = 1;
        plan->st[0][k] = plan->st[1][k] = 0;
    }
    for (int s = 0; s < 2; s++) {
        int64_t stride = 1;
        for (int i = nd - 1; i >= 0; i--) {
            int k = 4 - nd + i;
            plan->ne[k] = ext[i];
            if (s < nsrc && full[i][s]) {
                plan->st[s][k] = stride;
                stride *= ext[i];
            }
        }
    }
    return 1;
}
