/* REDUCE_SUM and BROADCAST (an adjoint pair).
 *
 * REDUCE_SUM accumulates in double, in a fixed order that does not depend on the thread count:
 * work is partitioned by output element (or, for an inner kept dim, by column chunks of outputs),
 * never with atomics. A reduction to a single element is split into fixed 64k-element chunks whose
 * double partial sums are added in chunk order, so it is parallel and still deterministic. */
#include <string.h>

#include "cpu_internal.h"

#define CHUNK_COLS 256
#define FULL_CHUNK 65536

static double sum_f32(const float *x, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < n; i++) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

/* merged dims: ne[k]; a's contiguous strides sa[k]; for the three outer dims, ke (kept extent,
 * 1 if reduced) and re (reduced extent, 1 if kept) */
typedef struct red_job {
    int64_t ne[4], sa[4], ke[3], re[3];
    int64_t n_chunks;  /* inner kept: column chunks per output row */
    const float *a;
    float *d;
    double *partials;  /* full reduction */
    int64_t total;     /* full reduction: elements */
} red_job;

static int64_t outer_base(const red_job *job, int64_t o) {
    int64_t k2 = o % job->ke[2];
    o /= job->ke[2];
    int64_t k1 = o % job->ke[1], k0 = o / job->ke[1];
    return k0 * job->sa[0] + k1 * job->sa[1] + k2 * job->sa[2];
}

/* inner dim reduced: each output sums re[0]*re[1]*re[2] contiguous runs of ne[3] */
static void red_inner_range(void *p, int64_t o0, int64_t o1) {
    const red_job *job = p;
    for (int64_t o = o0; o < o1; o++) {
        const float *base = job->a + outer_base(job, o);
        double acc = 0.0;
        for (int64_t r0 = 0; r0 < job->re[0]; r0++)
            for (int64_t r1 = 0; r1 < job->re[1]; r1++)
                for (int64_t r2 = 0; r2 < job->re[2]; r2++)
                    acc += sum_f32(base + r0 * job->sa[0] + r1 * job->sa[1] + r2 * job->sa[2], job->ne[3]);
        job->d[o] = (float)acc;
    }
}

/* inner dim kept: item = (output row, column chunk); rows are added into a double accumulator */
static void red_outer_range(void *p, int64_t i0, int64_t i1) {
    const red_job *job = p;
    double acc[CHUNK_COLS];
    const int64_t n = job->ne[3];
    for (int64_t it = i0; it < i1; it++) {
        int64_t o = it / job->n_chunks, c0 = (it % job->n_chunks) * CHUNK_COLS;
        int64_t len = n - c0 < CHUNK_COLS ? n - c0 : CHUNK_COLS;
        const float *base = job->a + outer_base(job, o) + c0;
        for (int64_t t = 0; t < len; t++) acc[t] = 0.0;
        for (int64_t r0 = 0; r0 < job->re[0]; r0++)
            for (int64_t r1 = 0; r1 < job->re[1]; r1++)
                for (int64_t r2 = 0; r2 < job->re[2]; r2++) {
                    const float *row = base + r0 * job->sa[0] + r1 * job->sa[1] + r2 * job->sa[2];
                    for (int64_t t = 0; t < len; t++) acc[t] += row[t];
                }
        float *out = job->d + o * n + c0;
        for (int64_t t = 0; t < len; t++) out[t] = (float)acc[t];
    }
}

static void red_full_range(void *p, int64_t c0, int64_t c1) {
    const red_job *job = p;
    for (int64_t c = c0; c < c1; c++) {
        int64_t begin = c * FULL_CHUNK, len = job->total - begin < FULL_CHUNK ? job->total - begin : FULL_CHUNK;
        job->partials[c] = sum_f32(job->a + begin, len);
    }
}

typedef struct copy_job {
    float *d;
    const float *a;
} copy_job;

static void copy_range(void *p, int64_t i0, int64_t i1) {
    const copy_job *job = p;
    if (job->d != job->a) memmove(job->d + i0, job->a + i0, (size_t)(i1 - i0) * sizeof(float));
}

static void parallel_copy(cpu_pool *pool, float *d, const float *a, int64_t n) {
    copy_job job = {d, a};
    cpu_parallel_for(pool, n, copy_range, &job);
}

alae_status cpu_op_reduce_sum(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    cpu_bplan plan;
    const int64_t *src_ne[2] = {d->ne, NULL};
    if (!cpu_bplan_make(a->ne, 1, src_ne, &plan))
        return cpu_shape_error(op, "d [%lld, %lld, %lld, %lld] is not a reduction of a [%lld, %lld, %lld, %lld]",
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3],
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3]);
    int64_t nd = alaei_numel4(d->ne), na = alaei_numel4(a->ne);
    if (nd == 0) return ALAE_OK;
    if (na == 0) {
        cpu_fill_f32(ctx->pool, d->data, nd, 0.0f);
        return ALAE_OK;
    }
    if (nd == na) {
        parallel_copy(ctx->pool, d->data, a->data, na);
        return ALAE_OK;
    }
    red_job job;
    memset(&job, 0, sizeof job);
    job.a = a->data;
    job.d = d->data;
    if (nd == 1) {
        job.total = na;
        int64_t chunks = (na + FULL_CHUNK - 1) / FULL_CHUNK;
        job.partials = cpu_scratch(ctx, (size_t)chunks * sizeof(double));
        if (!job.partials) return ALAE_E_NOMEM;
        cpu_parallel_for_cost(ctx->pool, chunks, FULL_CHUNK, red_full_range, &job);
        double acc = 0.0;
        for (int64_t c = 0; c < chunks; c++) acc += job.partials[c];
        *(float *)d->data = (float)acc;
        return ALAE_OK;
    }
    int64_t stride = 1;
    for (int k = 3; k >= 0; k--) {
        job.ne[k] = plan.ne[k];
        job.sa[k] = stride;
        stride *= plan.ne[k];
    }
    for (int k = 0; k < 3; k++) {
        int kept = plan.st[0][k] != 0;
        job.ke[k] = kept ? plan.ne[k] : 1;
        job.re[k] = kept ? 1 : plan.ne[k];
    }
    int inner_kept = plan.st[0][3] != 0;
    if (!inner_kept) {
        cpu_parallel_for_cost(ctx->pool, nd, na / nd, red_inner_range, &job);
    } else {
        int64_t rows = nd / plan.ne[3];
        job.n_chunks = (plan.ne[3] + CHUNK_COLS - 1) / CHUNK_COLS;
        int64_t chunk_work = (na / nd) * (plan.ne[3] < CHUNK_COLS ? plan.ne[3] : CHUNK_COLS);
        cpu_parallel_for_cost(ctx->pool, rows * job.n_chunks, chunk_work, red_outer_range, &job);
    }
    return ALAE_OK;
}

/* ---- BROADCAST ---- */

typedef struct bc_job {
    cpu_bplan plan;
    float *d;
    const float *a;
} bc_job;

static void bc_range(void *p, int64_t e0, int64_t e1) {
    const bc_job *job = p;
    const cpu_bplan *pl = &job->plan;
    const int64_t n3 = pl->ne[3], n2 = pl->ne[2], n1 = pl->ne[1];
    const int64_t *sa = pl->st[0];
    int64_t j = e0 % n3, r = e0 / n3;
    int64_t i2 = r % n2;
    r /= n2;
    int64_t i1 = r % n1, i0 = r / n1;
    for (int64_t e = e0; e < e1;) {
        int64_t len = n3 - j < e1 - e ? n3 - j : e1 - e;
        const float *src = job->a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + j * sa[3];
        float *dst = job->d + e;
        if (sa[3]) {
            memcpy(dst, src, (size_t)len * sizeof(float));
        } else {
            const float v = *src;
            for (int64_t t = 0; t < len; t++) dst[t] = v;
        }
        e += len;
        j = 0;
        if (++i2 == n2) {
            i2 = 0;
            if (++i1 == n1) {
                i1 = 0;
                i0++;
            }
        }
    }
}

alae_status cpu_op_broadcast(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0];
    bc_job job;
    const int64_t *src_ne[2] = {a->ne, NULL};
    if (!cpu_bplan_make(d->ne, 1, src_ne, &job.plan))
        return cpu_shape_error(op, "a [%lld, %lld, %lld, %lld] does not broadcast to d [%lld, %lld, %lld, %lld]",
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3],
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3]);
    int64_t n = alaei_numel4(d->ne);
    if (n == 0) return ALAE_OK;
    if (n == alaei_numel4(a->ne)) {
        parallel_copy(ctx->pool, d->data, a->data, n);
        return ALAE_OK;
    }
    job.d = d->data;
    job.a = a->data;
    cpu_parallel_for(ctx->pool, n, bc_range, &job);
    return ALAE_OK;
}
