/* The memory planner: sizes every activation of a static graph up front, reusing memory.
 *
 * Like ggml's gallocr: nodes run in id order (a topological order); a node's memory is freed
 * after its last reader (readers through reshape views count); freed ranges go to a best-fit
 * free list; an elementwise op writes in place over its first source when that source dies at
 * this op. Inputs live outside the arena; outputs are never freed. */
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

#define ALIGNMENT 64
#define NEVER_FREED INT32_MAX
/* Blocks up to this size (per-channel statistics, styles, scalars) are placed in a region of
 * their own after the large blocks: a 64-byte block left inside the hole of a freed 64 MiB
 * activation would otherwise keep the next 64 MiB activation out of it (the ffhq encoder at
 * 1024 px planned 192 MiB for 129 MiB of live data). */
#define SMALL_BLOCK 16384

typedef struct segment {
    size_t offset, bytes;
} segment;

typedef struct free_list {
    segment *items;
    int32_t n, cap;
    size_t top;  /* end of the highest block in use */
    size_t peak; /* the largest top ever reached: the arena's size */
} free_list;

static size_t align_up(size_t n) { return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

static int take(free_list *fl, size_t bytes, size_t *offset) {
    int32_t best = -1;
    for (int32_t i = 0; i < fl->n; i++)
        if (fl->items[i].bytes >= bytes && (best < 0 || fl->items[i].bytes < fl->items[best].bytes)) best = i;
    if (best >= 0) {
        *offset = fl->items[best].offset;
        fl->items[best].offset += bytes;
        fl->items[best].bytes -= bytes;
        if (fl->items[best].bytes == 0) fl->items[best] = fl->items[--fl->n];
        return 1;
    }
    /* nothing fits: grow the arena, starting inside a free segment that ends at the top */
    size_t base = fl->top;
    for (int32_t i = 0; i < fl->n; i++)
        if (fl->items[i].offset + fl->items[i].bytes == fl->top) {
            base = fl->items[i].offset;
            fl->items[i] = fl->items[--fl->n];
            break;
        }
    if (bytes > SIZE_MAX - base) return 0;
    *offset = base;
    fl->top = base + bytes;
    if (fl->top > fl->peak) fl->peak = fl->top;
    return 1;
}

static int give_back(free_list *fl, size_t offset, size_t bytes) {
    /* merge with neighbours */
    for (int32_t i = 0; i < fl->n; i++) {
        segment *s = &fl->items[i];
        if (s->offset + s->bytes == offset) {
            offset = s->offset;
            bytes += s->bytes;
            *s = fl->items[--fl->n];
            i = -1;
        } else if (offset + bytes == s->offset) {
            bytes += s->bytes;
            *s = fl->items[--fl->n];
            i = -1;
        }
    }
    if (offset + bytes == fl->top) {
        fl->top = offset;
        return 1;
    }
    if (fl->n == fl->cap) {
        int32_t cap = fl->cap ? fl->cap * 2 : 64;
        segment *items = realloc(fl->items, (size_t)cap * sizeof *items);
        if (!items) return 0;
        fl->items = items;
        fl->cap = cap;
    }
    fl->items[fl->n++] = (segment){offset, bytes};
    return 1;
}

static int is_elementwise_inplace(const alaei_node *d, const alaei_node *src0) {
    int op = d->op;
    int elementwise = (op >= ALAEI_OP_ADD && op <= ALAEI_OP_CLAMP) || op == ALAEI_OP_ADD_LEAKY_RELU;
    return elementwise && memcmp(d->ne, src0->ne, sizeof d->ne) == 0;
}

static int launches_kernel(int32_t op) { return !alaei_op_is_graph_only(op); }

typedef struct planner {
    alaei_plan *p;
    uint8_t *needed, *is_output;
    int32_t *last_use; /* per memory root */
    int32_t *owner;    /* per node: the node whose allocation it occupies (chains of in-place) */
} planner;

static alae_status mark_needed(planner *pl, int32_t n_out, const int32_t *outputs) {
    alaei_plan *p = pl->p;
    for (int32_t k = 0; k < n_out; k++) {
        pl->needed[outputs[k]] = 1;
        pl->is_output[outputs[k]] = 1;
    }
    for (int32_t i = p->n_nodes - 1; i >= 0; i--) {
        if (!pl->needed[i]) continue;
        for (int s = 0; s < p->nodes[i].nsrc; s++) pl->needed[p->nodes[i].src[s]] = 1;
    }
    return ALAE_OK;
}

static void compute_lifetimes(planner *pl) {
    alaei_plan *p = pl->p;
    for (int32_t i = 0; i < p->n_nodes; i++) {
        const alaei_node *d = &p->nodes[i];
        int is_view = d->op == ALAEI_OP_RESHAPE || d->op == ALAEI_OP_DETACH;
        p->memory_root[i] = is_view ? p->memory_root[d->src[0]] : i;
        pl->last_use[i] = i;
    }
    for (int32_t i = 0; i < p->n_nodes; i++) {
        if (!pl->needed[i]) continue;
        const alaei_node *d = &p->nodes[i];
        for (int s = 0; s < d->nsrc; s++) {
            int32_t r = p->memory_root[d->src[s]];
            if (pl->last_use[r] < i) pl->last_use[r] = i;
        }
        if (pl->is_output[i]) pl->last_use[p->memory_root[i]] = NEVER_FREED;
    }
}

/* Assigns arena offsets in execution order; records which allocations die after each step. */
static alae_status assign_offsets(planner *pl) {
    alaei_plan *p = pl->p;
    free_list large = {0}, small = {0};
    alae_status status = ALAE_OK;
    int32_t *dying_head = malloc((size_t)p->n_nodes * sizeof(int32_t));
    int32_t *dying_next = malloc((size_t)p->n_nodes * sizeof(int32_t));
    if (!dying_head || !dying_next) {
        status = ALAE_E_NOMEM;
        goto done;
    }
    for (int32_t i = 0; i < p->n_nodes; i++) dying_head[i] = dying_next[i] = -1;
    int32_t n_freed = 0;
    for (int32_t i = 0; i < p->n_nodes; i++) {
        if (!pl->needed[i] || !launches_kernel(p->nodes[i].op)) continue;
        const alaei_node *d = &p->nodes[i];
        alaei_block *b = &p->blocks[i];
        size_t bytes;
        if (!alaei_mul_size((size_t)alaei_numel4(d->ne), (size_t)p->ctx->backend->elem_size, &bytes)) {
            status = alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "node %d is too large", (int)i);
            goto done;
        }
        bytes = align_up(bytes);
        p->naive_bytes += bytes;
        b->bytes = bytes;
        b->in_arena = 1;
        b->first = i;
        b->last = pl->last_use[i];
        int32_t s0 = d->nsrc > 0 ? p->memory_root[d->src[0]] : -1;
        int32_t s0_owner = s0 >= 0 ? pl->owner[s0] : -1;
        if (s0 >= 0 && p->blocks[s0].in_arena && pl->last_use[s0] == i && !pl->is_output[s0] &&
            is_elementwise_inplace(d, &p->nodes[d->src[0]]) && p->blocks[s0].bytes == bytes) {
            b->offset = p->blocks[s0].offset;
            b->shares_with = s0;
            pl->owner[i] = s0_owner;
            /* s0's allocation now lives as long as this node: cancel its pending release */
            for (int32_t *link = &dying_head[i]; *link >= 0; link = &dying_next[*link])
                if (*link == s0) {
                    *link = dying_next[s0];
                    n_freed--;
                    break;
                }
        } else {
            if (!take(bytes <= SMALL_BLOCK ? &small : &large, bytes, &b->offset)) {
                status = alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "the arena size overflows");
                goto done;
            }
            pl->owner[i] = i;
        }
        if (b->last != NEVER_FREED) {
            /* released after the step of its last reader (appended to that node's list) */
            int32_t at = b->last;
            dying_next[i] = dying_head[at];
            dying_head[at] = i;
            n_freed++;
        }
        /* release what dies at this step */
        for (int32_t k = dying_head[i]; k >= 0; k = dying_next[k])
            if (k != i || b->last == i)
                if (!give_back(p->blocks[k].bytes <= SMALL_BLOCK ? &small : &large, p->blocks[k].offset,
                               p->blocks[k].bytes)) {
                    status = ALAE_E_NOMEM;
                    goto done;
                }
    }
    /* the small region follows the large one */
    size_t small_base = align_up(large.peak);
    for (int32_t i = 0; i < p->n_nodes; i++)
        if (p->blocks[i].in_arena && p->blocks[i].bytes <= SMALL_BLOCK) p->blocks[i].offset += small_base;
    p->arena_bytes = small.peak > 0 ? small_base + small.peak : large.peak;
    /* flatten the release lists in execution order for the executor's poisoning */
    p->free_start = malloc((size_t)(p->n_order + 1) * sizeof(int32_t));
    p->free_list = malloc((size_t)(n_freed > 0 ? n_freed : 1) * sizeof(int32_t));
    if (!p->free_start || !p->free_list) {
        status = ALAE_E_NOMEM;
        goto done;
    }
    int32_t at = 0;
    for (int32_t s = 0; s < p->n_order; s++) {
        p->free_start[s] = at;
        for (int32_t k = dying_head[p->order[s]]; k >= 0 && at < n_freed; k = dying_next[k]) p->free_list[at++] = k;
    }
    p->free_start[p->n_order] = at;
done:
    free(large.items);
    free(small.items);
    free(dying_head);
    free(dying_next);
    if (status == ALAE_E_NOMEM && alae_last_error()[0] == '\0')
        alaei_fail(status, "alaei_plan_create", "no host memory for planning");
    return status;
}

/* ---- fused ops the backend does not support: plan their decompositions instead ---- */

static int backend_supports(alae_context *ctx, const alaei_graph *g, const alaei_node *n) {
    alaei_op op;
    memset(&op, 0, sizeof op);
    op.code = n->op;
    op.nsrc = n->nsrc;
    memcpy(op.dst.ne, n->ne, sizeof n->ne);
    for (int s = 0; s < n->nsrc; s++) memcpy(op.src[s].ne, g->nodes[n->src[s]].ne, sizeof n->ne);
    memcpy(op.ip, n->ip, sizeof op.ip);
    memcpy(op.fp, n->fp, sizeof op.fp);
    return ctx->backend->supports(ctx->bctx, &op);
}

/* If a needed fused convolution node is not supported by ctx's backend, builds *lowered: a copy
 * of g's first n_nodes nodes with every such node replaced by its decomposition, and *map from
 * g's ids to the copy's. Otherwise leaves both NULL. */
static alae_status lower_unsupported(alae_context *ctx, const alaei_graph *g, int32_t n_nodes, int32_t n_out,
                                     const int32_t *outputs, alaei_graph **lowered, int32_t **map) {
    *lowered = NULL;
    *map = NULL;
    uint8_t *lower = calloc((size_t)n_nodes, 1);
    if (!lower) return alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "no host memory to plan %d nodes", (int)n_nodes);
    for (int32_t k = 0; k < n_out; k++) lower[outputs[k]] = 1; /* first: needed */
    int any = 0;
    for (int32_t i = n_nodes - 1; i >= 0; i--) {
        if (!lower[i]) continue;
        const alaei_node *n = &g->nodes[i];
        for (int s = 0; s < n->nsrc; s++) lower[n->src[s]] = 1;
        lower[i] = alaei_op_is_conv(n->op) && !backend_supports(ctx, g, n) ? 2 : 1;
        any |= lower[i] == 2;
    }
    if (!any) {
        free(lower);
        return ALAE_OK;
    }
    alaei_graph *l = alaei_graph_create();
    int32_t *m = malloc((size_t)n_nodes * sizeof(int32_t));
    alae_status status = ALAE_OK;
    if (!l || !m) {
        status = alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "no host memory to rewrite %d nodes", (int)n_nodes);
    } else {
        for (int32_t i = 0; i < n_nodes && alaei_graph_status(l) == ALAE_OK; i++) {
            const alaei_node *n = &g->nodes[i];
            int32_t src[ALAEI_OP_MAX_SRC] = {-1, -1, -1};
            for (int s = 0; s < n->nsrc; s++) src[s] = m[n->src[s]];
            m[i] = lower[i] == 2 ? alaei_conv_decompose(l, n, src) : alaei_graph_append_copy(l, n, src);
        }
        if (alaei_graph_status(l) != ALAE_OK) status = alaei_graph_fail_public(l, "alaei_plan_create");
    }
    free(lower);
    if (status != ALAE_OK) {
        alaei_graph_destroy(l);
        free(m);
        return status;
    }
    alaei_log(ALAE_LOG_DEBUG, "alaei_plan_create: backend %s lacks a fused convolution op: planning its decomposition",
              ctx->backend->name);
    *lowered = l;
    *map = m;
    return ALAE_OK;
}

static alae_status plan_create(alae_context *ctx, const alaei_graph *g, int32_t n_out, const int32_t *outputs,
                               int allocate, alaei_plan **out);

alae_status alaei_plan_create(alae_context *ctx, const alaei_graph *g, int32_t n_out,
                              const int32_t *outputs, alaei_plan **out) {
    return plan_create(ctx, g, n_out, outputs, 1, out);
}

alae_status alaei_plan_create_shared(alae_context *ctx, const alaei_graph *g, int32_t n_out,
                                     const int32_t *outputs, alaei_plan **out) {
    return plan_create(ctx, g, n_out, outputs, 0, out);
}

alae_status alaei_plan_set_arena(alaei_plan *p, void *arena, size_t bytes) {
    if (!p) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "plan is NULL");
    if (p->owns_arena) return alaei_fail(ALAE_E_STATE, __func__, "the plan owns its arena (alaei_plan_create)");
    if (p->arena_bytes > 0 && (!arena || bytes < p->arena_bytes))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the plan needs an arena of %zu bytes, got %zu%s",
                          p->arena_bytes, bytes, arena ? "" : " (NULL)");
    p->arena = arena;
    return ALAE_OK;
}

static alae_status plan_create(alae_context *ctx, const alaei_graph *g_in, int32_t n_out, const int32_t *outputs_in,
                               int allocate, alaei_plan **out) {
    if (!ctx || !g_in || !out || n_out < 1 || !outputs_in)
        return alaei_fail(ALAE_E_INVALID_ARG, "alaei_plan_create", "NULL argument or no outputs");
    if (g_in->status != ALAE_OK) return alaei_graph_fail_public(g_in, "alaei_plan_create");
    int32_t n_nodes = 0;
    for (int32_t k = 0; k < n_out; k++) {
        if (outputs_in[k] < 0 || outputs_in[k] >= g_in->n)
            return alaei_fail(ALAE_E_INVALID_ARG, "alaei_plan_create", "output %d is not a node of the graph",
                              (int)outputs_in[k]);
        if (outputs_in[k] + 1 > n_nodes) n_nodes = outputs_in[k] + 1;
    }
    alaei_graph *lowered = NULL;
    int32_t *map = NULL, *mapped_outputs = NULL;
    alae_status status = lower_unsupported(ctx, g_in, n_nodes, n_out, outputs_in, &lowered, &map);
    if (status != ALAE_OK) return status;
    const alaei_graph *g = g_in;
    const int32_t *outputs = outputs_in;
    int32_t n_map = n_nodes;
    if (lowered) {
        mapped_outputs = malloc((size_t)n_out * sizeof(int32_t));
        if (!mapped_outputs) {
            alaei_graph_destroy(lowered);
            free(map);
            return alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "no host memory");
        }
        n_nodes = 0;
        for (int32_t k = 0; k < n_out; k++) {
            mapped_outputs[k] = map[outputs_in[k]];
            if (mapped_outputs[k] + 1 > n_nodes) n_nodes = mapped_outputs[k] + 1;
        }
        g = lowered;
        outputs = mapped_outputs;
    }
    alaei_plan *p = calloc(1, sizeof *p);
    planner pl = {p, calloc((size_t)n_nodes, 1), calloc((size_t)n_nodes, 1),
                  malloc((size_t)n_nodes * sizeof(int32_t)), malloc((size_t)n_nodes * sizeof(int32_t))};
    if (!p || !pl.needed || !pl.is_output || !pl.last_use || !pl.owner) goto nomem;
    p->ctx = ctx;
    p->owns_arena = allocate;
    p->map = map; /* the plan owns it from here */
    p->n_map = n_map;
    map = NULL;
    p->n_nodes = n_nodes;
    p->nodes = malloc((size_t)n_nodes * sizeof *p->nodes);
    p->order = malloc((size_t)n_nodes * sizeof *p->order);
    p->memory_root = malloc((size_t)n_nodes * sizeof *p->memory_root);
    p->blocks = calloc((size_t)n_nodes, sizeof *p->blocks);
    p->bound = calloc((size_t)n_nodes, sizeof *p->bound);
    if (!p->nodes || !p->order || !p->memory_root || !p->blocks || !p->bound) goto nomem;
    memcpy(p->nodes, g->nodes, (size_t)n_nodes * sizeof *p->nodes);
    for (int32_t i = 0; i < n_nodes; i++) {
        p->blocks[i].node = i;
        p->blocks[i].shares_with = -1;
        pl.owner[i] = i;
    }
    mark_needed(&pl, n_out, outputs);
    compute_lifetimes(&pl);
    for (int32_t i = 0; i < n_nodes; i++)
        if (pl.needed[i] && launches_kernel(p->nodes[i].op)) p->order[p->n_order++] = i;
    if ((status = assign_offsets(&pl)) != ALAE_OK) goto fail;
    /* Allocate now, so out-of-memory is reported before anything runs. */
    if (allocate && p->arena_bytes > 0 &&
        (status = ctx->backend->buf_alloc(ctx->bctx, p->arena_bytes, &p->arena)) != ALAE_OK)
        goto fail;
    free(pl.needed);
    free(pl.is_output);
    free(pl.last_use);
    free(pl.owner);
    free(mapped_outputs);
    alaei_graph_destroy(lowered);
    *out = p;
    return ALAE_OK;
nomem:
    status = alaei_fail(ALAE_E_NOMEM, "alaei_plan_create", "no host memory to plan %d nodes", (int)n_nodes);
fail:
    free(pl.needed);
    free(pl.is_output);
    free(pl.last_use);
    free(pl.owner);
    free(mapped_outputs);
    free(map);
    alaei_graph_destroy(lowered);
    alaei_plan_destroy(p);
    return status;
}

void alaei_plan_destroy(alaei_plan *p) {
    if (!p) return;
    /* a backend that recorded this plan's kernels (CUDA graphs) drops the recording */
    if (p->batch && ALAEI_VTBL_HAS(p->ctx->backend, forget)) p->ctx->backend->forget(p->ctx->bctx, p);
    free(p->batch);
    if (p->arena && p->owns_arena) p->ctx->backend->buf_free(p->ctx->bctx, p->arena);
    free(p->map);
    free(p->nodes);
    free(p->order);
    free(p->memory_root);
    free(p->blocks);
    free(p->bound);
    free(p->free_start);
    free(p->free_list);
    free(p);
}

size_t alaei_plan_arena_bytes(const alaei_plan *p) { return p ? p->arena_bytes : 0; }
size_t alaei_plan_naive_bytes(const alaei_plan *p) { return p ? p->naive_bytes : 0; }
int32_t alaei_plan_block_count(const alaei_plan *p) { return p ? p->n_nodes : 0; }
int32_t alaei_plan_op_count(const alaei_plan *p) { return p ? p->n_order : 0; }

const alaei_block *alaei_plan_block(const alaei_plan *p, int32_t i) {
    return p && i >= 0 && i < p->n_nodes ? &p->blocks[i] : NULL;
}
