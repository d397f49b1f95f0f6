/* The plan object, shared by the planner and the executor. */
#ifndef ALAE_PLAN_INTERNAL_H
#define ALAE_PLAN_INTERNAL_H

#include "internal/alae_graph.h"

struct alaei_plan {
    alae_context *ctx;
    int32_t n_nodes;      /* copies of graph nodes 0..n_nodes-1 */
    alaei_node *nodes;
    int32_t *order;       /* the nodes that launch a kernel, in execution order */
    int32_t n_order;
    int32_t *memory_root; /* node whose memory a node uses (itself, or the source of a view) */
    alaei_block *blocks;  /* per node id (in_arena = 0 for nodes without arena memory) */
    void **bound;         /* data of INPUT nodes */
    /* allocations freed after each step of order[], for NaN poisoning */
    int32_t *free_start;  /* n_order + 1 offsets into free_list */
    int32_t *free_list;   /* node ids owning the freed block */
    void *arena;
    int owns_arena;       /* 0: attached by the caller (alaei_plan_create_shared + set_arena) */
    size_t arena_bytes, naive_bytes;
    /* When the backend lacks a fused op, the planner plans a rewritten copy of the graph with
     * that op decomposed: map[id] is the rewritten id of the caller's node id (n_map of them);
     * NULL when the graph was planned as it is (ids are the caller's). */
    int32_t *map;
    int32_t n_map;
    int32_t n_blocks_total;
    /* The op descriptors of one run, built for backends with run_ops (exec.c): every kernel, and
     * the NaN poisoning FILLs when ALAE_CTX_POISON is on. Grown on demand, freed with the plan. */
    alaei_op *batch;
    int32_t batch_cap;
};

#endif
