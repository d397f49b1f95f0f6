/* The graph builder: shape inference and validation for every primitive op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_graph.h"

/* Node count limit: far above any ALAE step graph, and keeps ids within int32. */
#define MAX_NODES (1 << 22)
/* Elements per node: 2^40 keeps byte sizes far from overflow. */
#define MAX_NUMEL ((int64_t)1 << 40)

alaei_graph *alaei_graph_create(void) { return calloc(1, sizeof(alaei_graph)); }

void alaei_graph_destroy(alaei_graph *g) {
    if (!g) return;
    free(g->nodes);
    free(g);
}

alae_status alaei_graph_status(const alaei_graph *g) { return g ? g->status : ALAE_E_INVALID_ARG; }

const char *alaei_graph_error(const alaei_graph *g) { return g ? g->error : "graph is NULL"; }

alae_status alaei_graph_fail_public(const alaei_graph *g, const char *func) {
    return alaei_fail(g->status, func, "%s", g->error);
}

int32_t alaei_graph_set_error(alaei_graph *g, alae_status status, const char *fmt, ...) {
    if (g->status == ALAE_OK) {
        g->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->error, sizeof g->error, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const alaei_node *alaei_graph_node(const alaei_graph *g, int32_t id) {
    return id >= 0 && id < g->n ? &g->nodes[id] : NULL;
}

int64_t alaei_graph_numel(const alaei_graph *g, int32_t id) {
    const alaei_node *n = alaei_graph_node(g, id);
    return n ? alaei_numel4(n->ne) : 0;
}

/* ---- internal helpers ---- */

static int valid_ids(alaei_graph *g, int32_t n, const int32_t *ids) {
    if (g->status != ALAE_OK) return 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= g->n) {
            alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "node id %d is not in the graph", (int)ids[i]);
            return 0;
        }
    return 1;
}

static int shape_to_ne(alaei_graph *g, int32_t ndim, const int64_t *shape, int64_t ne[4]) {
    if (ndim < 0 || ndim > 4 || (ndim > 0 && !shape)) {
        alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "ndim %d is not in 0..4", (int)ndim);
        return 0;
    }
    int64_t numel = 1;
    for (int i = 0; i < 4; i++) {
        int k = i - (4 - ndim);
        ne[i] = k >= 0 ? shape[k] : 1;
        if (ne[i] < 1 || ne[i] > MAX_NUMEL / numel) {
            alaei_graph_set_error(g, ALAE_E_SHAPE, "dimension %d of %d is %lld: must be >= 1 and the total below 2^40",
                                  k, (int)ndim, (long long)ne[i]);
            return 0;
        }
        numel *= ne[i];
    }
    return 1;
}

static int32_t push(alaei_graph *g, int32_t op, const int64_t ne_in[4], int32_t ndim, int32_t nsrc,
                    const int32_t *src_in) {
    if (g->status != ALAE_OK) return -1;
    /* ne_in and src_in may point into g->nodes, which the realloc below can move. */
    int64_t ne[4];
    int32_t src[ALAEI_OP_MAX_SRC] = {-1, -1, -1};
    memcpy(ne, ne_in, sizeof ne);
    for (int i = 0; i < nsrc; i++) src[i] = src_in[i];
    int64_t numel = 1;
    for (int i = 0; i < 4; i++) {
        if (ne[i] < 1 || ne[i] > MAX_NUMEL / numel)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "%s: result dimension %d is %lld", alaei_op_name(op),
                                         i, (long long)ne[i]);
        numel *= ne[i];
    }
    if (g->n == g->cap) {
        if (g->cap >= MAX_NODES)
            return alaei_graph_set_error(g, ALAE_E_NOMEM, "the graph exceeds %d nodes", MAX_NODES);
        int32_t cap = g->cap ? g->cap * 2 : 256;
        alaei_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return alaei_graph_set_error(g, ALAE_E_NOMEM, "no memory for %d graph nodes", cap);
        g->nodes = nodes;
        g->cap = cap;
    }
    alaei_node *node = &g->nodes[g->n];
    memset(node, 0, sizeof *node);
    node->op = op;
    node->ndim = ndim;
    memcpy(node->ne, ne, sizeof node->ne);
    node->nsrc = nsrc;
    for (int i = 0; i < ALAEI_OP_MAX_SRC; i++) node->src[i] = src[i];
    return g->n++;
}

static alaei_node *N(alaei_graph *g, int32_t id) { return &g->nodes[id]; }

static int32_t max_ndim(int32_t a, int32_t b) { return a > b ? a : b; }

/* ---- leaves ---- */

int32_t alaei_input(alaei_graph *g, int32_t ndim, const int64_t *shape, const char *name) {
    int64_t ne[4];
    if (g->status != ALAE_OK || !shape_to_ne(g, ndim, shape, ne)) return -1;
    int32_t id = push(g, ALAEI_OP_INPUT, ne, ndim, 0, NULL);
    if (id >= 0 && name) snprintf(N(g, id)->name, sizeof N(g, id)->name, "%s", name);
    return id;
}

int32_t alaei_fill(alaei_graph *g, int32_t ndim, const int64_t *shape, double value) {
    int64_t ne[4];
    if (g->status != ALAE_OK || !shape_to_ne(g, ndim, shape, ne)) return -1;
    int32_t id = push(g, ALAEI_OP_FILL, ne, ndim, 0, NULL);
    if (id >= 0) N(g, id)->fp[0] = value;
    return id;
}

int32_t alaei_rng_normal(alaei_graph *g, int32_t ndim, const int64_t *shape, uint64_t seed,
                         uint64_t offset, double mean, double stddev) {
    int64_t ne[4];
    if (g->status != ALAE_OK || !shape_to_ne(g, ndim, shape, ne)) return -1;
    int32_t id = push(g, ALAEI_OP_RNG_NORMAL, ne, ndim, 0, NULL);
    if (id < 0) return -1;
    alaei_node *n = N(g, id);
    n->ip[0] = (int32_t)(uint32_t)seed;
    n->ip[1] = (int32_t)(uint32_t)(seed >> 32);
    n->ip[2] = (int32_t)(uint32_t)offset;
    n->ip[3] = (int32_t)(uint32_t)(offset >> 32);
    n->fp[0] = mean;
    n->fp[1] = stddev;
    return id;
}

/* ---- primitives ---- */

int32_t alaei_gemm(alaei_graph *g, int32_t a, int32_t b, int trans_a, int trans_b, double alpha) {
    return alaei_gemm_sum(g, a, b, trans_a, trans_b, alpha, NULL);
}

int32_t alaei_gemm_sum(alaei_graph *g, int32_t a, int32_t b, int trans_a, int trans_b, double alpha,
                       const int64_t *out_batch) {
    int32_t src[2] = {a, b};
    if (!valid_ids(g, 2, src)) return -1;
    const alaei_node *A = N(g, a), *B = N(g, b);
    int64_t m = trans_a ? A->ne[3] : A->ne[2], ka = trans_a ? A->ne[2] : A->ne[3];
    int64_t kb = trans_b ? B->ne[3] : B->ne[2], n = trans_b ? B->ne[2] : B->ne[3];
    if (ka != kb)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "GEMM: inner dimensions differ (%lld vs %lld)",
                                     (long long)ka, (long long)kb);
    int64_t ne[4] = {0, 0, m, n};
    for (int d = 0; d < 2; d++) {
        if (A->ne[d] != B->ne[d] && A->ne[d] != 1 && B->ne[d] != 1)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "GEMM: batch dimension %d differs (%lld vs %lld)", d,
                                         (long long)A->ne[d], (long long)B->ne[d]);
        ne[d] = A->ne[d] > B->ne[d] ? A->ne[d] : B->ne[d];
        if (out_batch && out_batch[d] != ne[d]) {
            if (out_batch[d] != 1)
                return alaei_graph_set_error(g, ALAE_E_SHAPE, "GEMM: batch dimension %d of %lld cannot sum to %lld", d,
                                             (long long)ne[d], (long long)out_batch[d]);
            ne[d] = 1;
        }
    }
    int32_t id = push(g, ALAEI_OP_GEMM, ne, max_ndim(max_ndim(A->ndim, B->ndim), 2), 2, src);
    if (id < 0) return -1;
    N(g, id)->ip[0] = trans_a != 0;
    N(g, id)->ip[1] = trans_b != 0;
    N(g, id)->fp[0] = alpha;
    return id;
}

int32_t alaei_binary(alaei_graph *g, int32_t op, int32_t a, int32_t b) {
    int32_t src[2] = {a, b};
    if (!valid_ids(g, 2, src)) return -1;
    if (op < ALAEI_OP_ADD || op > ALAEI_OP_DIV)
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "%s is not a binary op", alaei_op_name(op));
    const alaei_node *A = N(g, a), *B = N(g, b);
    int64_t ne[4];
    for (int d = 0; d < 4; d++) {
        if (A->ne[d] != B->ne[d] && A->ne[d] != 1 && B->ne[d] != 1)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "%s: dimension %d cannot broadcast (%lld vs %lld)",
                                         alaei_op_name(op), d, (long long)A->ne[d], (long long)B->ne[d]);
        ne[d] = A->ne[d] > B->ne[d] ? A->ne[d] : B->ne[d];
    }
    return push(g, op, ne, max_ndim(A->ndim, B->ndim), 2, src);
}

int32_t alaei_add(alaei_graph *g, int32_t a, int32_t b) { return alaei_binary(g, ALAEI_OP_ADD, a, b); }
int32_t alaei_sub(alaei_graph *g, int32_t a, int32_t b) { return alaei_binary(g, ALAEI_OP_SUB, a, b); }
int32_t alaei_mul(alaei_graph *g, int32_t a, int32_t b) { return alaei_binary(g, ALAEI_OP_MUL, a, b); }
int32_t alaei_div(alaei_graph *g, int32_t a, int32_t b) { return alaei_binary(g, ALAEI_OP_DIV, a, b); }

static int is_unary(int32_t op) { return op >= ALAEI_OP_NEG && op <= ALAEI_OP_CLAMP; }

int32_t alaei_unary(alaei_graph *g, int32_t op, int32_t a) {
    if (!valid_ids(g, 1, &a)) return -1;
    if (!is_unary(op))
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "%s is not an elementwise op", alaei_op_name(op));
    return push(g, op, N(g, a)->ne, N(g, a)->ndim, 1, &a);
}

static int32_t unary_with(alaei_graph *g, int32_t op, int32_t a, double f0, double f1) {
    int32_t id = alaei_unary(g, op, a);
    if (id >= 0) {
        N(g, id)->fp[0] = f0;
        N(g, id)->fp[1] = f1;
    }
    return id;
}

int32_t alaei_add_leaky_relu(alaei_graph *g, int32_t a, int32_t b, double slope) {
    int32_t src[2] = {a, b};
    if (!valid_ids(g, 2, src)) return -1;
    const alaei_node *A = N(g, a), *B = N(g, b);
    for (int d = 0; d < 4; d++)
        if (B->ne[d] != A->ne[d] && B->ne[d] != 1)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "ADD_LEAKY_RELU: dimension %d of b (%lld) is neither a's (%lld) nor 1",
                                         d, (long long)B->ne[d], (long long)A->ne[d]);
    int32_t id = push(g, ALAEI_OP_ADD_LEAKY_RELU, A->ne, max_ndim(A->ndim, B->ndim), 2, src);
    if (id >= 0) N(g, id)->fp[0] = slope;
    return id;
}

int32_t alaei_leaky_relu(alaei_graph *g, int32_t a, double slope) {
    return unary_with(g, ALAEI_OP_LEAKY_RELU, a, slope, 0);
}
int32_t alaei_leaky_mask(alaei_graph *g, int32_t a, double slope) {
    return unary_with(g, ALAEI_OP_LEAKY_MASK, a, slope, 0);
}
int32_t alaei_scale_shift(alaei_graph *g, int32_t a, double scale, double shift) {
    return unary_with(g, ALAEI_OP_SCALE_SHIFT, a, scale, shift);
}
int32_t alaei_clamp(alaei_graph *g, int32_t a, double lo, double hi) {
    return unary_with(g, ALAEI_OP_CLAMP, a, lo, hi);
}

int32_t alaei_reduce_sum(alaei_graph *g, int32_t a, const int64_t ne[4]) {
    if (!valid_ids(g, 1, &a)) return -1;
    const alaei_node *A = N(g, a);
    for (int d = 0; d < 4; d++)
        if (ne[d] != A->ne[d] && ne[d] != 1)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "REDUCE_SUM: dimension %d of %lld cannot reduce to %lld",
                                         d, (long long)A->ne[d], (long long)ne[d]);
    if (memcmp(ne, A->ne, sizeof A->ne) == 0) return a; /* nothing to reduce */
    return push(g, ALAEI_OP_REDUCE_SUM, ne, A->ndim, 1, &a);
}

int32_t alaei_broadcast(alaei_graph *g, int32_t a, const int64_t ne[4]) {
    if (!valid_ids(g, 1, &a)) return -1;
    const alaei_node *A = N(g, a);
    for (int d = 0; d < 4; d++)
        if (ne[d] != A->ne[d] && A->ne[d] != 1)
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "BROADCAST: dimension %d of %lld cannot become %lld", d,
                                         (long long)A->ne[d], (long long)ne[d]);
    if (memcmp(ne, A->ne, sizeof A->ne) == 0) return a;
    return push(g, ALAEI_OP_BROADCAST, ne, A->ndim, 1, &a);
}

static int conv_geometry_ok(alaei_graph *g, const char *what, int64_t h, int64_t w, int32_t kh,
                            int32_t kw, int32_t stride, int32_t pad) {
    if (kh < 1 || kw < 1 || stride < 1 || pad < 0 || kh > 64 || kw > 64 || pad > 64 ||
        h + 2 * pad < kh || w + 2 * pad < kw) {
        alaei_graph_set_error(g, ALAE_E_SHAPE, "%s: kernel %dx%d, stride %d, pad %d do not fit a %lldx%lld image",
                              what, (int)kh, (int)kw, (int)stride, (int)pad, (long long)h, (long long)w);
        return 0;
    }
    return 1;
}

static void set_conv_params(alaei_node *n, int32_t kh, int32_t kw, int32_t stride, int32_t pad) {
    n->ip[0] = kh;
    n->ip[1] = kw;
    n->ip[2] = stride;
    n->ip[3] = pad;
}

int32_t alaei_im2col(alaei_graph *g, int32_t x, int32_t kh, int32_t kw, int32_t stride, int32_t pad) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (!conv_geometry_ok(g, "IM2COL", X->ne[2], X->ne[3], kh, kw, stride, pad)) return -1;
    int64_t oh = (X->ne[2] + 2 * pad - kh) / stride + 1, ow = (X->ne[3] + 2 * pad - kw) / stride + 1;
    int64_t ne[4] = {1, X->ne[0], X->ne[1] * kh * kw, oh * ow};
    int32_t id = push(g, ALAEI_OP_IM2COL, ne, 4, 1, &x);
    if (id >= 0) set_conv_params(N(g, id), kh, kw, stride, pad);
    return id;
}

int32_t alaei_col2im(alaei_graph *g, int32_t cols, const int64_t image_ne[4], int32_t kh, int32_t kw,
                     int32_t stride, int32_t pad) {
    if (!valid_ids(g, 1, &cols)) return -1;
    if (!conv_geometry_ok(g, "COL2IM", image_ne[2], image_ne[3], kh, kw, stride, pad)) return -1;
    const alaei_node *C = N(g, cols);
    int64_t oh = (image_ne[2] + 2 * pad - kh) / stride + 1, ow = (image_ne[3] + 2 * pad - kw) / stride + 1;
    if (C->ne[0] != 1 || C->ne[1] != image_ne[0] || C->ne[2] != image_ne[1] * kh * kw || C->ne[3] != oh * ow)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "COL2IM: columns [%lld,%lld,%lld,%lld] do not match the image",
                                     (long long)C->ne[0], (long long)C->ne[1], (long long)C->ne[2],
                                     (long long)C->ne[3]);
    int32_t id = push(g, ALAEI_OP_COL2IM, image_ne, 4, 1, &cols);
    if (id >= 0) set_conv_params(N(g, id), kh, kw, stride, pad);
    return id;
}

/* ---- fused convolutions (CONV2D, CONV2D_BWD_DATA, CONV2D_BWD_WEIGHT) ---- */

static int64_t conv_out(int64_t size, int32_t k, int32_t stride, int32_t pad) {
    return (size + 2 * (int64_t)pad - k) / stride + 1;
}

static int32_t push_conv(alaei_graph *g, int32_t op, const int64_t ne[4], int32_t a, int32_t b, int32_t kh,
                         int32_t kw, int32_t stride, int32_t pad, double alpha) {
    int32_t src[2] = {a, b};
    int32_t id = push(g, op, ne, 4, 2, src);
    if (id >= 0) {
        set_conv_params(N(g, id), kh, kw, stride, pad);
        N(g, id)->fp[0] = alpha;
    }
    return id;
}

int32_t alaei_conv2d_fwd(alaei_graph *g, int32_t x, int32_t w, int32_t stride, int32_t pad, double alpha) {
    int32_t src[2] = {x, w};
    if (!valid_ids(g, 2, src)) return -1;
    const alaei_node *X = N(g, x), *W = N(g, w);
    if (W->ne[1] != X->ne[1] || W->ne[2] > INT32_MAX || W->ne[3] > INT32_MAX)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "CONV2D: the kernel [%lld,%lld,%lld,%lld] does not fit %lld channels",
                                     (long long)W->ne[0], (long long)W->ne[1], (long long)W->ne[2],
                                     (long long)W->ne[3], (long long)X->ne[1]);
    int32_t kh = (int32_t)W->ne[2], kw = (int32_t)W->ne[3];
    if (!conv_geometry_ok(g, "CONV2D", X->ne[2], X->ne[3], kh, kw, stride, pad)) return -1;
    int64_t ne[4] = {X->ne[0], W->ne[0], conv_out(X->ne[2], kh, stride, pad), conv_out(X->ne[3], kw, stride, pad)};
    return push_conv(g, ALAEI_OP_CONV2D, ne, x, w, kh, kw, stride, pad, alpha);
}

int32_t alaei_conv2d_bwd_data(alaei_graph *g, int32_t gy, int32_t w, int64_t h, int64_t wd, int32_t stride,
                              int32_t pad, double alpha) {
    int32_t src[2] = {gy, w};
    if (!valid_ids(g, 2, src)) return -1;
    const alaei_node *G = N(g, gy), *W = N(g, w);
    if (W->ne[2] > INT32_MAX || W->ne[3] > INT32_MAX || h > INT32_MAX || wd > INT32_MAX)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "CONV2D_BWD_DATA: sizes out of range");
    int32_t kh = (int32_t)W->ne[2], kw = (int32_t)W->ne[3];
    if (!conv_geometry_ok(g, "CONV2D_BWD_DATA", h, wd, kh, kw, stride, pad)) return -1;
    if (G->ne[1] != W->ne[0] || G->ne[2] != conv_out(h, kh, stride, pad) || G->ne[3] != conv_out(wd, kw, stride, pad))
        return alaei_graph_set_error(g, ALAE_E_SHAPE,
                                     "CONV2D_BWD_DATA: gradient [%lld,%lld,%lld,%lld] does not match a %lldx%lld image "
                                     "and kernel [%lld,%lld,%lld,%lld] (stride %d, pad %d)",
                                     (long long)G->ne[0], (long long)G->ne[1], (long long)G->ne[2], (long long)G->ne[3],
                                     (long long)h, (long long)wd, (long long)W->ne[0], (long long)W->ne[1],
                                     (long long)W->ne[2], (long long)W->ne[3], (int)stride, (int)pad);
    int64_t ne[4] = {G->ne[0], W->ne[1], h, wd};
    return push_conv(g, ALAEI_OP_CONV2D_BWD_DATA, ne, gy, w, kh, kw, stride, pad, alpha);
}

int32_t alaei_conv2d_bwd_weight(alaei_graph *g, int32_t gy, int32_t x, int32_t kh, int32_t kw, int32_t stride,
                                int32_t pad, double alpha) {
    int32_t src[2] = {gy, x};
    if (!valid_ids(g, 2, src)) return -1;
    const alaei_node *G = N(g, gy), *X = N(g, x);
    if (!conv_geometry_ok(g, "CONV2D_BWD_WEIGHT", X->ne[2], X->ne[3], kh, kw, stride, pad)) return -1;
    if (G->ne[0] != X->ne[0] || G->ne[2] != conv_out(X->ne[2], kh, stride, pad) ||
        G->ne[3] != conv_out(X->ne[3], kw, stride, pad))
        return alaei_graph_set_error(g, ALAE_E_SHAPE,
                                     "CONV2D_BWD_WEIGHT: gradient [%lld,%lld,%lld,%lld] does not match the image "
                                     "[%lld,%lld,%lld,%lld] with a %dx%d kernel (stride %d, pad %d)",
                                     (long long)G->ne[0], (long long)G->ne[1], (long long)G->ne[2], (long long)G->ne[3],
                                     (long long)X->ne[0], (long long)X->ne[1], (long long)X->ne[2], (long long)X->ne[3],
                                     (int)kh, (int)kw, (int)stride, (int)pad);
    int64_t ne[4] = {G->ne[1], X->ne[1], kh, kw};
    return push_conv(g, ALAEI_OP_CONV2D_BWD_WEIGHT, ne, gy, x, kh, kw, stride, pad, alpha);
}

int32_t alaei_graph_append_copy(alaei_graph *g, const alaei_node *n, const int32_t *src) {
    if (!n || n->nsrc < 0 || n->nsrc > ALAEI_OP_MAX_SRC)
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "append_copy: bad node");
    if (n->nsrc > 0 && !valid_ids(g, n->nsrc, src)) return -1;
    alaei_node copy = *n; /* n may point into g->nodes */
    int32_t id = push(g, copy.op, copy.ne, copy.ndim, copy.nsrc, src);
    if (id >= 0) {
        memcpy(N(g, id)->ip, copy.ip, sizeof copy.ip);
        memcpy(N(g, id)->fp, copy.fp, sizeof copy.fp);
        memcpy(N(g, id)->name, copy.name, sizeof copy.name);
    }
    return id;
}

int32_t alaei_upsample2d(alaei_graph *g, int32_t x, int32_t factor) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (factor < 1 || factor > 64)
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "UPSAMPLE2D: factor %d", (int)factor);
    int64_t ne[4] = {X->ne[0], X->ne[1], X->ne[2] * factor, X->ne[3] * factor};
    int32_t id = push(g, ALAEI_OP_UPSAMPLE2D, ne, 4, 1, &x);
    if (id >= 0) N(g, id)->ip[0] = factor;
    return id;
}

int32_t alaei_sumpool2d(alaei_graph *g, int32_t x, int32_t factor) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (factor < 1 || factor > 64 || X->ne[2] % factor || X->ne[3] % factor)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "SUMPOOL2D: factor %d does not divide %lldx%lld", (int)factor,
                                     (long long)X->ne[2], (long long)X->ne[3]);
    int64_t ne[4] = {X->ne[0], X->ne[1], X->ne[2] / factor, X->ne[3] / factor};
    int32_t id = push(g, ALAEI_OP_SUMPOOL2D, ne, 4, 1, &x);
    if (id >= 0) N(g, id)->ip[0] = factor;
    return id;
}

int32_t alaei_fir2d(alaei_graph *g, int32_t x, int32_t k, int32_t pad, const double *kernel) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (k < 1 || k > 4 || !kernel || pad > k - 1)
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "FIR2D: kernel size %d must be 1..4 and pad %d at most %d",
                                     (int)k, (int)pad, (int)k - 1);
    if (!conv_geometry_ok(g, "FIR2D", X->ne[2], X->ne[3], k, k, 1, pad)) return -1;
    int64_t ne[4] = {X->ne[0], X->ne[1], X->ne[2] + 2 * pad - k + 1, X->ne[3] + 2 * pad - k + 1};
    int32_t id = push(g, ALAEI_OP_FIR2D, ne, 4, 1, &x);
    if (id < 0) return -1;
    N(g, id)->ip[0] = k;
    N(g, id)->ip[1] = pad;
    for (int i = 0; i < k * k; i++) N(g, id)->fp[i] = kernel[i];
    return id;
}

int32_t alaei_permute(alaei_graph *g, int32_t x, const int32_t perm[4]) {
    if (!valid_ids(g, 1, &x)) return -1;
    int seen = 0;
    for (int d = 0; d < 4; d++) {
        if (perm[d] < 0 || perm[d] > 3 || (seen & (1 << perm[d])))
            return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "PERMUTE: {%d,%d,%d,%d} is not a permutation",
                                         (int)perm[0], (int)perm[1], (int)perm[2], (int)perm[3]);
        seen |= 1 << perm[d];
    }
    const alaei_node *X = N(g, x);
    int64_t ne[4];
    for (int d = 0; d < 4; d++) ne[d] = X->ne[perm[d]];
    int32_t id = push(g, ALAEI_OP_PERMUTE, ne, 4, 1, &x);
    if (id >= 0)
        for (int d = 0; d < 4; d++) N(g, id)->ip[d] = perm[d];
    return id;
}

int32_t alaei_slice(alaei_graph *g, int32_t x, int32_t axis, int64_t start, int64_t length) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (axis < 0 || axis > 3 || start < 0 || start > INT32_MAX || length < 1 || start + length > X->ne[axis])
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "SLICE: [%lld, %lld) along axis %d of size %lld",
                                     (long long)start, (long long)(start + length), (int)axis,
                                     axis >= 0 && axis < 4 ? (long long)X->ne[axis] : -1LL);
    int64_t ne[4];
    memcpy(ne, X->ne, sizeof ne);
    ne[axis] = length;
    int32_t id = push(g, ALAEI_OP_SLICE, ne, X->ndim, 1, &x);
    if (id >= 0) {
        N(g, id)->ip[0] = axis;
        N(g, id)->ip[1] = (int32_t)start;
    }
    return id;
}

int32_t alaei_slice_adj(alaei_graph *g, int32_t x, const int64_t ne[4], int32_t axis, int64_t start) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    int ok = axis >= 0 && axis < 4 && start >= 0 && start <= INT32_MAX;
    for (int d = 0; ok && d < 4; d++)
        ok = d == axis ? start + X->ne[d] <= ne[d] : X->ne[d] == ne[d];
    if (!ok) return alaei_graph_set_error(g, ALAE_E_SHAPE, "SLICE_ADJ: the slice does not fit the target shape");
    int32_t id = push(g, ALAEI_OP_SLICE_ADJ, ne, X->ndim, 1, &x);
    if (id >= 0) {
        N(g, id)->ip[0] = axis;
        N(g, id)->ip[1] = (int32_t)start;
    }
    return id;
}

int32_t alaei_reshape4(alaei_graph *g, int32_t x, const int64_t ne[4]) {
    if (!valid_ids(g, 1, &x)) return -1;
    const alaei_node *X = N(g, x);
    if (alaei_numel4(ne) != alaei_numel4(X->ne))
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "RESHAPE: %lld elements cannot become %lld",
                                     (long long)alaei_numel4(X->ne), (long long)alaei_numel4(ne));
    if (memcmp(ne, X->ne, sizeof X->ne) == 0) return x;
    int32_t ndim = 4;
    while (ndim > 1 && ne[4 - ndim] == 1) ndim--;
    return push(g, ALAEI_OP_RESHAPE, ne, ndim, 1, &x);
}

int32_t alaei_reshape(alaei_graph *g, int32_t x, int32_t ndim, const int64_t *shape) {
    int64_t ne[4];
    if (g->status != ALAE_OK || !shape_to_ne(g, ndim, shape, ne)) return -1;
    int32_t id = alaei_reshape4(g, x, ne);
    if (id >= 0 && id != x) N(g, id)->ndim = ndim;
    return id;
}

int32_t alaei_detach(alaei_graph *g, int32_t x) {
    if (!valid_ids(g, 1, &x)) return -1;
    return push(g, ALAEI_OP_DETACH, N(g, x)->ne, N(g, x)->ndim, 1, &x);
}
