/* The executor: runs a plan's kernels in order on the context's backend. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "plan_internal.h"

alae_status alaei_plan_bind(alaei_plan *p, int32_t node, void *data) {
    if (!p || !data) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "NULL plan or data");
    if (node < 0 || node >= p->n_nodes || p->nodes[node].op != ALAEI_OP_INPUT)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "node %d is not an input of the plan", (int)node);
    p->bound[node] = data;
    return ALAE_OK;
}

void *alaei_plan_data(const alaei_plan *p, int32_t node) {
    if (!p || node < 0 || node >= p->n_nodes) return NULL;
    int32_t root = p->memory_root[node];
    if (p->nodes[root].op == ALAEI_OP_INPUT) return p->bound[root];
    if (!p->blocks[root].in_arena) return NULL;
    return (char *)p->arena + p->blocks[root].offset;
}

static alae_status describe(const alaei_plan *p, int32_t id, alaei_op *op) {
    const alaei_node *d = &p->nodes[id];
    memset(op, 0, sizeof *op);
    op->code = d->op;
    op->nsrc = d->nsrc;
    op->dst.data = alaei_plan_data(p, id);
    memcpy(op->dst.ne, d->ne, sizeof d->ne);
    for (int s = 0; s < d->nsrc; s++) {
        op->src[s].data = alaei_plan_data(p, d->src[s]);
        if (!op->src[s].data)
            return alaei_fail(ALAE_E_STATE, "alaei_plan_run", "input node %d ('%s') is not bound", (int)d->src[s],
                              p->nodes[d->src[s]].name);
        memcpy(op->src[s].ne, p->nodes[d->src[s]].ne, sizeof d->ne);
    }
    memcpy(op->ip, d->ip, sizeof op->ip);
    memcpy(op->fp, d->fp, sizeof op->fp);
    return ALAE_OK;
}

static alae_status poison_released(const alaei_plan *p, int32_t step) {
    alae_context *ctx = p->ctx;
    for (int32_t k = p->free_start[step]; k < p->free_start[step + 1]; k++) {
        const alaei_block *b = &p->blocks[p->free_list[k]];
        alae_status s = ctx->backend->fill(ctx->bctx, (char *)p->arena + b->offset,
                                           b->bytes / (size_t)ctx->backend->elem_size, NAN);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double op_flops(const alaei_op *op) {
    if (op->code != ALAEI_OP_GEMM) return (double)alaei_numel4(op->dst.ne);
    int64_t k = op->ip[0] ? op->src[0].ne[2] : op->src[0].ne[3];
    return 2.0 * (double)alaei_numel4(op->dst.ne) * (double)k;
}

static alae_status run_profiled(alae_context *ctx, const alaei_op *op) {
    double t0 = seconds_now();
    alae_status s = ctx->backend->run_op(ctx->bctx, op);
    if (op->code >= 0 && op->code < 64) {
        ctx->profile->seconds[op->code] += seconds_now() - t0;
        ctx->profile->flops[op->code] += op_flops(op);
        ctx->profile->calls[op->code]++;
    }
    return s;
}

void alaei_profile_report(const alae_context *ctx) {
    const alaei_profile *pr = ctx->profile;
    double total = 0;
    for (int i = 0; i < 64; i++) total += pr->seconds[i];
    alaei_log(ALAE_LOG_WARN, "profile: %.3f s in kernels", total);
    for (int i = 0; i < ALAEI_OP_COUNT; i++)
        if (pr->calls[i])
            alaei_log(ALAE_LOG_WARN, "profile: %-12s %8llu calls %8.3f s %5.1f%% %8.2f GFLOP/s (elements/s for non-GEMM)",
                      alaei_op_name(i), (unsigned long long)pr->calls[i], pr->seconds[i],
                      100.0 * pr->seconds[i] / (total > 0 ? total : 1), pr->flops[i] / (pr->seconds[i] + 1e-12) / 1e9);
}

alae_status alaei_plan_run(alaei_plan *p) {
    if (!p) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "plan is NULL");
    alae_context *ctx = p->ctx;
    for (int32_t step = 0; step < p->n_order; step++) {
        if (alaei_context_abort_pending(ctx))
            return alaei_fail(ALAE_E_ABORTED, __func__, "aborted at op %d of %d", (int)step, (int)p->n_order);
        alaei_op op;
        alae_status s = describe(p, p->order[step], &op);
        if (s == ALAE_OK) s = ctx->profile ? run_profiled(ctx, &op) : ctx->backend->run_op(ctx->bctx, &op);
        if (s == ALAE_OK && ctx->poison) s = poison_released(p, step);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}
