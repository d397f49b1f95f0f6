/* The executor: runs a plan's kernels in order on the context's backend, through the core's
 * alaei_device_exec (which profiles them when ALAE_PROFILE is on), checking the abort flag
 * between ops and poisoning dead blocks when asked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

/* The plan's id of the caller's node id (they differ when the planner rewrote the graph), or -1. */
static int32_t plan_id(const alaei_plan *p, int32_t node) {
    if (p->map) node = node >= 0 && node < p->n_map ? p->map[node] : -1;
    return node >= 0 && node < p->n_nodes ? node : -1;
}

alae_status alaei_plan_bind(alaei_plan *p, int32_t node, void *data) {
    if (!p || !data) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "NULL plan or data");
    int32_t id = plan_id(p, node);
    if (id < 0 || p->nodes[id].op != ALAEI_OP_INPUT)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "node %d is not an input of the plan", (int)node);
    p->bound[id] = data;
    return ALAE_OK;
}

static void *data_of(const alaei_plan *p, int32_t id) {
    int32_t root = p->memory_root[id];
    if (p->nodes[root].op == ALAEI_OP_INPUT) return p->bound[root];
    if (!p->blocks[root].in_arena || !p->arena) return NULL;
    return (char *)p->arena + p->blocks[root].offset;
}

void *alaei_plan_data(const alaei_plan *p, int32_t node) {
    if (!p) return NULL;
    int32_t id = plan_id(p, node);
    return id < 0 ? NULL : data_of(p, id);
}

static alae_status describe(const alaei_plan *p, int32_t id, alaei_op *op) {
    const alaei_node *d = &p->nodes[id];
    memset(op, 0, sizeof *op);
    op->code = d->op;
    op->nsrc = d->nsrc;
    op->dst.data = data_of(p, id);
    memcpy(op->dst.ne, d->ne, sizeof d->ne);
    for (int s = 0; s < d->nsrc; s++) {
        op->src[s].data = data_of(p, d->src[s]);
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
        alae_status s = alaei_device_fill(ctx, (char *)p->arena + b->offset, b->bytes / (size_t)ctx->backend->elem_size,
                                          NAN);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* The whole run as one batch for a backend with run_ops: the kernels in order, each followed by
 * the NaN FILLs of the blocks that die there when poisoning is on (the same effect as fill()). */
static alae_status run_batched(alaei_plan *p) {
    alae_context *ctx = p->ctx;
    int32_t n = p->n_order;
    if (ctx->poison) n += p->free_start[p->n_order];
    if (n > p->batch_cap) {
        alaei_op *grown = realloc(p->batch, (size_t)n * sizeof *grown);
        if (!grown) return alaei_fail(ALAE_E_NOMEM, "alaei_plan_run", "no memory for %d op descriptors", (int)n);
        p->batch = grown;
        p->batch_cap = n;
    }
    if (alaei_context_abort_pending(ctx))
        return alaei_fail(ALAE_E_ABORTED, "alaei_plan_run", "aborted at op 0 of %d", (int)p->n_order);
    int32_t k = 0;
    for (int32_t step = 0; step < p->n_order; step++) {
        alae_status s = describe(p, p->order[step], &p->batch[k++]);
        if (s != ALAE_OK) return s;
        if (!ctx->poison) continue;
        for (int32_t f = p->free_start[step]; f < p->free_start[step + 1]; f++) {
            const alaei_block *b = &p->blocks[p->free_list[f]];
            alaei_op *op = &p->batch[k++];
            memset(op, 0, sizeof *op);
            op->code = ALAEI_OP_FILL;
            op->dst.data = (char *)p->arena + b->offset;
            op->dst.ne[0] = op->dst.ne[1] = op->dst.ne[2] = 1;
            op->dst.ne[3] = (int64_t)(b->bytes / (size_t)ctx->backend->elem_size);
            op->fp[0] = NAN;
        }
    }
    return ctx->backend->run_ops(ctx->bctx, p, p->batch, k);
}

alae_status alaei_plan_run(alaei_plan *p) {
    if (!p) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "plan is NULL");
    alae_context *ctx = p->ctx;
    if (!p->arena && p->arena_bytes > 0)
        return alaei_fail(ALAE_E_STATE, __func__, "the plan has no arena: attach one with alaei_plan_set_arena");
    /* A backend that runs whole batches (and may replay them as CUDA graphs) gets the run at once;
     * the abort flag is then checked before the batch only. Profiling times each op separately. */
    if (ctx->graphs && !ctx->profile && p->n_order > 0 && ALAEI_VTBL_HAS(ctx->backend, run_ops))
        return run_batched(p);
    for (int32_t step = 0; step < p->n_order; step++) {
        if (alaei_context_abort_pending(ctx))
            return alaei_fail(ALAE_E_ABORTED, __func__, "aborted at op %d of %d", (int)step, (int)p->n_order);
        alaei_op op;
        alae_status s = describe(p, p->order[step], &op);
        if (s == ALAE_OK) s = alaei_device_exec(ctx, &op);
        if (s == ALAE_OK && ctx->poison) s = poison_released(p, step);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}
