/* The graph builder, reverse-mode autodiff, memory planner and executor (lib/graph/).
 *
 * A graph is an append-only list of nodes in topological order; a node id is its index.
 * Builders take node ids and return the new node's id, or -1 once the graph has failed: the
 * first error is sticky (alaei_graph_status / alaei_graph_error), so model code can build a
 * whole network and check once at the end. Every node has four dims (leading 1s) plus the
 * ndim it was declared with. */
#ifndef ALAE_GRAPH_H
#define ALAE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "alae_backend_impl.h"
#include "alae_internal.h"

typedef struct alaei_node {
    int32_t op;
    int32_t ndim;
    int64_t ne[4];
    int32_t nsrc;
    int32_t src[ALAEI_OP_MAX_SRC];
    int32_t ip[ALAEI_OP_MAX_IP];
    double fp[ALAEI_OP_MAX_FP];
    char name[48];
} alaei_node;

typedef struct alaei_graph {
    alaei_node *nodes;
    int32_t n, cap;
    alae_status status;
    char error[256];
} alaei_graph;

alaei_graph *alaei_graph_create(void); /* NULL when out of memory */
void alaei_graph_destroy(alaei_graph *g);
alae_status alaei_graph_status(const alaei_graph *g);
const char *alaei_graph_error(const alaei_graph *g);
/* Copies the graph's error into the thread-local message and returns its status. */
alae_status alaei_graph_fail_public(const alaei_graph *g, const char *func);
const alaei_node *alaei_graph_node(const alaei_graph *g, int32_t id);
int64_t alaei_graph_numel(const alaei_graph *g, int32_t id);

/* ---- leaves ---- */
int32_t alaei_input(alaei_graph *g, int32_t ndim, const int64_t *shape, const char *name);
int32_t alaei_fill(alaei_graph *g, int32_t ndim, const int64_t *shape, double value);
int32_t alaei_rng_normal(alaei_graph *g, int32_t ndim, const int64_t *shape, uint64_t seed,
                         uint64_t offset, double mean, double stddev);

/* ---- primitives (see alae_backend_impl.h for their semantics) ---- */
int32_t alaei_gemm(alaei_graph *g, int32_t a, int32_t b, int trans_a, int trans_b, double alpha);
/* GEMM whose result has batch dims out_batch[0..1]: each is the broadcast size or 1 (summed). */
int32_t alaei_gemm_sum(alaei_graph *g, int32_t a, int32_t b, int trans_a, int trans_b, double alpha,
                       const int64_t *out_batch);
int32_t alaei_binary(alaei_graph *g, int32_t op, int32_t a, int32_t b);
int32_t alaei_add(alaei_graph *g, int32_t a, int32_t b);
int32_t alaei_sub(alaei_graph *g, int32_t a, int32_t b);
int32_t alaei_mul(alaei_graph *g, int32_t a, int32_t b);
int32_t alaei_div(alaei_graph *g, int32_t a, int32_t b);
int32_t alaei_unary(alaei_graph *g, int32_t op, int32_t a);
int32_t alaei_leaky_relu(alaei_graph *g, int32_t a, double slope);
int32_t alaei_leaky_mask(alaei_graph *g, int32_t a, double slope);
/* leaky_relu(a + b, slope) as one ADD_LEAKY_RELU node: b broadcasts to a's shape */
int32_t alaei_add_leaky_relu(alaei_graph *g, int32_t a, int32_t b, double slope);
int32_t alaei_scale_shift(alaei_graph *g, int32_t a, double scale, double shift);
int32_t alaei_clamp(alaei_graph *g, int32_t a, double lo, double hi);
/* ne: the target shape as four dims (leading 1s) */
int32_t alaei_reduce_sum(alaei_graph *g, int32_t a, const int64_t ne[4]);
int32_t alaei_broadcast(alaei_graph *g, int32_t a, const int64_t ne[4]);
int32_t alaei_im2col(alaei_graph *g, int32_t x, int32_t kh, int32_t kw, int32_t stride, int32_t pad);
int32_t alaei_col2im(alaei_graph *g, int32_t cols, const int64_t image_ne[4], int32_t kh, int32_t kw,
                     int32_t stride, int32_t pad);
/* The fused convolution ops (see alae_backend_impl.h; p = {KH, KW, stride, pad}, alpha = f[0]):
 * CONV2D x [N, C, H, W], w [O, C, KH, KW] -> [N, O, OH, OW]; CONV2D_BWD_DATA gy [N, O, OH, OW],
 * w -> [N, C, h, wd] (the image size is needed: several give one OH when stride > 1);
 * CONV2D_BWD_WEIGHT gy, x -> [O, C, kh, kw]. Closed under differentiation (autodiff.c). */
int32_t alaei_conv2d_fwd(alaei_graph *g, int32_t x, int32_t w, int32_t stride, int32_t pad, double alpha);
int32_t alaei_conv2d_bwd_data(alaei_graph *g, int32_t gy, int32_t w, int64_t h, int64_t wd, int32_t stride,
                              int32_t pad, double alpha);
int32_t alaei_conv2d_bwd_weight(alaei_graph *g, int32_t gy, int32_t x, int32_t kh, int32_t kw, int32_t stride,
                                int32_t pad, double alpha);
int32_t alaei_upsample2d(alaei_graph *g, int32_t x, int32_t factor);
int32_t alaei_sumpool2d(alaei_graph *g, int32_t x, int32_t factor);
int32_t alaei_fir2d(alaei_graph *g, int32_t x, int32_t k, int32_t pad, const double *kernel);
int32_t alaei_permute(alaei_graph *g, int32_t x, const int32_t perm[4]);
int32_t alaei_slice(alaei_graph *g, int32_t x, int32_t axis, int64_t start, int64_t length);
int32_t alaei_slice_adj(alaei_graph *g, int32_t x, const int64_t ne[4], int32_t axis, int64_t start);
int32_t alaei_reshape(alaei_graph *g, int32_t x, int32_t ndim, const int64_t *shape);
int32_t alaei_reshape4(alaei_graph *g, int32_t x, const int64_t ne[4]);
/* The same values as x, treated as a constant by autodiff (a stop-gradient view). */
int32_t alaei_detach(alaei_graph *g, int32_t x);

/* ---- compositions used by the networks (lib/graph/compose.c) ---- */
int32_t alaei_sum_all(alaei_graph *g, int32_t x);   /* -> scalar */
int32_t alaei_mean_all(alaei_graph *g, int32_t x);  /* -> scalar */
/* x [N, IN] @ w[OUT, IN]^T * scale + bias[OUT] (bias may be -1) */
int32_t alaei_linear(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale);
/* leaky_relu(alaei_linear(...), slope): the bias and the activation in one ADD_LEAKY_RELU pass
 * after the GEMM when there is a bias and slope >= 0 (its gradient takes the mask from the output,
 * which has the pre-activation's sign only then); else the separate ADD and LEAKY_RELU. */
int32_t alaei_linear_leaky(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, double slope);
/* x [N, C, H, W] conv w [OUT, C, K, K] (* scale), stride, pad; bias [OUT] or -1: one CONV2D node
 * (+ a broadcast ADD of the bias). Nothing but x and w is kept for the backward pass. */
int32_t alaei_conv2d(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, int32_t stride,
                     int32_t pad);
/* The same layer as IM2COL + batched GEMM + RESHAPE (the decomposition of CONV2D: the oracle of
 * "fused equals decomposition" and what backends without CONV2D run). */
int32_t alaei_conv2d_decomposed(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, int32_t stride,
                                int32_t pad);
/* The decomposition into IM2COL / GEMM / COL2IM / RESHAPE of a fused convolution node n (CONV2D,
 * CONV2D_BWD_DATA or CONV2D_BWD_WEIGHT; its ip, fp and shape) applied to the sources src[0..1]
 * of g; returns the node holding the result (of n's shape), or -1 (the graph's error is set). */
int32_t alaei_conv_decompose(alaei_graph *g, const alaei_node *n, const int32_t src[2]);
/* concat along axis (two operands) */
int32_t alaei_concat(alaei_graph *g, int32_t a, int32_t b, int32_t axis);

/* Appends a copy of node n (op, shape, ndim, ip, fp, name) reading src[0..n->nsrc-1] of g instead
 * of n's sources (the planner uses it to rewrite a graph). */
int32_t alaei_graph_append_copy(alaei_graph *g, const alaei_node *n, const int32_t *src);

/* Marks the graph failed (if it has not failed yet) and returns -1. */
int32_t alaei_graph_set_error(alaei_graph *g, alae_status status, const char *fmt, ...) ALAEI_PRINTF(3, 4);

/* ---- autodiff (lib/graph/autodiff.c) ----
 * Appends to g the nodes computing d(y)/d(wrt[i]) for every i, written to grads[i]. y must be a
 * scalar when seed < 0 (seed 1); otherwise seed is the incoming gradient, of y's shape. The
 * gradient nodes are ordinary nodes built from the same primitives, so the result can itself be
 * differentiated (gradients of gradients). An input that y does not depend on gets a zero node.
 * Fails with ALAE_E_UNSUPPORTED naming the op if a path goes through an op without a gradient
 * rule. */
alae_status alaei_grad(alaei_graph *g, int32_t y, int32_t seed, int32_t n, const int32_t *wrt,
                       int32_t *grads);

/* ---- planning and execution (lib/graph/planner.c, exec.c) ---- */
typedef struct alaei_plan alaei_plan;

typedef struct alaei_block {
    int32_t node;
    size_t offset, bytes; /* in the arena; bytes == 0 for nodes without arena memory */
    int32_t first, last;  /* step at which the node is written, and of its last reader */
    int32_t shares_with;  /* node whose memory this node reuses in place or views, or -1 */
    int32_t in_arena;
} alaei_block;

/* Plans the nodes needed to compute outputs[0..n_out-1] and allocates the activation arena on
 * ctx's backend: any out-of-memory is reported here, before anything runs. Inputs, outputs and
 * reshape views of them are never overwritten. A fused op that ctx's backend does not support
 * (supports() false: the convolution ops on a backend without them) is planned as its
 * decomposition; node ids passed to bind / data stay the caller's, but the blocks then describe
 * the rewritten graph. */
alae_status alaei_plan_create(alae_context *ctx, const alaei_graph *g, int32_t n_out,
                              const int32_t *outputs, alaei_plan **out);
/* Plans like alaei_plan_create but allocates no arena: the plan runs in backend memory of at
 * least alaei_plan_arena_bytes(p) bytes that the caller attaches with alaei_plan_set_arena (and
 * frees after the plan is destroyed). Plans that never run at the same time can share one arena
 * of the largest size: each run then overwrites the others' activations and outputs, so a plan's
 * outputs must be consumed (or copied) before another plan on the same arena runs, and a plan's
 * inputs must not live in the shared arena. alaei_plan_run fails with ALAE_E_STATE until an
 * arena is attached (unless the plan needs none). */
alae_status alaei_plan_create_shared(alae_context *ctx, const alaei_graph *g, int32_t n_out,
                                     const int32_t *outputs, alaei_plan **out);
/* Attaches (or replaces) the arena of a plan from alaei_plan_create_shared: ALAE_E_INVALID_ARG
 * when bytes < alaei_plan_arena_bytes(p), ALAE_E_STATE for a plan that owns its arena. */
alae_status alaei_plan_set_arena(alaei_plan *p, void *arena, size_t bytes);
void alaei_plan_destroy(alaei_plan *p);
/* Binds an INPUT node to backend memory of at least its element count. */
alae_status alaei_plan_bind(alaei_plan *p, int32_t node, void *data);
/* Runs the planned nodes; allocates nothing. Polls ctx's abort flag between ops. */
alae_status alaei_plan_run(alaei_plan *p);
/* Backend memory of a node after a run (outputs stay valid until the next run). */
void *alaei_plan_data(const alaei_plan *p, int32_t node);
size_t alaei_plan_arena_bytes(const alaei_plan *p);
/* What the activations would take with one buffer each (for the planner tests). */
size_t alaei_plan_naive_bytes(const alaei_plan *p);
int32_t alaei_plan_block_count(const alaei_plan *p);
const alaei_block *alaei_plan_block(const alaei_plan *p, int32_t i);
int32_t alaei_plan_op_count(const alaei_plan *p); /* kernels launched per run */

#endif /* ALAE_GRAPH_H */
