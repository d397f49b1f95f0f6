/* Reverse-mode autodiff as a graph-to-graph transform.
 *
 * Each op's vector-Jacobian product is written with the graph builder, over the same
 * primitives the forward pass uses, and appended to the same graph. The gradient nodes are
 * therefore ordinary, differentiable nodes: applying alaei_grad to a graph that already holds
 * gradients yields exact second derivatives (the R1 penalty needs this). */
#include <stdlib.h>
#include <string.h>

#include "internal/alae_graph.h"

typedef struct grad_state {
    alaei_graph *g;
    int32_t *grad;   /* gradient node of each forward node, or -1 */
    uint8_t *needed; /* the node depends (differentiably) on a wrt node */
} grad_state;

/* What a rule sees: the node d (a copy: building may move g->nodes), its id, the incoming
 * gradient h, and copies of its sources a and b (d itself where it has fewer). */
typedef struct vjp_args {
    const alaei_node *d;
    int32_t self, h;
    const alaei_node *a, *b;
} vjp_args;

static void accumulate(grad_state *st, int32_t target, int32_t contribution) {
    if (contribution < 0) return;
    int32_t old = st->grad[target];
    st->grad[target] = old < 0 ? contribution : alaei_add(st->g, old, contribution);
}

static int32_t reduce_to(alaei_graph *g, int32_t x, const int64_t ne[4]) {
    return x < 0 ? -1 : alaei_reduce_sum(g, x, ne);
}

/* ---- ops of one source: each rule returns the gradient of a ---- */

static int32_t grad_neg(alaei_graph *g, const vjp_args *x) { return alaei_unary(g, ALAEI_OP_NEG, x->h); }
static int32_t grad_exp(alaei_graph *g, const vjp_args *x) { return alaei_mul(g, x->h, x->self); }
static int32_t grad_log(alaei_graph *g, const vjp_args *x) { return alaei_div(g, x->h, x->d->src[0]); }
static int32_t grad_sqrt(alaei_graph *g, const vjp_args *x) {
    return alaei_div(g, x->h, alaei_scale_shift(g, x->self, 2.0, 0.0));
}
/* d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 d^3 */
static int32_t grad_rsqrt(alaei_graph *g, const vjp_args *x) {
    int32_t d3 = alaei_mul(g, x->self, alaei_unary(g, ALAEI_OP_SQUARE, x->self));
    return alaei_mul(g, x->h, alaei_scale_shift(g, d3, -0.5, 0.0));
}
static int32_t grad_square(alaei_graph *g, const vjp_args *x) {
    return alaei_mul(g, x->h, alaei_scale_shift(g, x->d->src[0], 2.0, 0.0));
}
static int32_t grad_sigmoid(alaei_graph *g, const vjp_args *x) {
    return alaei_mul(g, x->h, alaei_mul(g, x->self, alaei_scale_shift(g, x->self, -1.0, 1.0)));
}
static int32_t grad_softplus(alaei_graph *g, const vjp_args *x) {
    return alaei_mul(g, x->h, alaei_unary(g, ALAEI_OP_SIGMOID, x->d->src[0]));
}
static int32_t grad_abs(alaei_graph *g, const vjp_args *x) {
    return alaei_mul(g, x->h, alaei_unary(g, ALAEI_OP_SIGN, x->d->src[0]));
}
static int32_t grad_leaky_relu(alaei_graph *g, const vjp_args *x) {
    return alaei_mul(g, x->h, alaei_leaky_mask(g, x->d->src[0], x->d->fp[0]));
}
static int32_t grad_scale_shift(alaei_graph *g, const vjp_args *x) {
    return alaei_scale_shift(g, x->h, x->d->fp[0], 0.0);
}

/* Data movement and resampling: each op's adjoint is another primitive. */
static int32_t grad_reshape(alaei_graph *g, const vjp_args *x) { return alaei_reshape4(g, x->h, x->a->ne); }
static int32_t grad_reduce_sum(alaei_graph *g, const vjp_args *x) { return alaei_broadcast(g, x->h, x->a->ne); }
static int32_t grad_broadcast(alaei_graph *g, const vjp_args *x) { return alaei_reduce_sum(g, x->h, x->a->ne); }
static int32_t grad_im2col(alaei_graph *g, const vjp_args *x) {
    const int32_t *p = x->d->ip;
    return alaei_col2im(g, x->h, x->a->ne, p[0], p[1], p[2], p[3]);
}
static int32_t grad_col2im(alaei_graph *g, const vjp_args *x) {
    const int32_t *p = x->d->ip;
    return alaei_im2col(g, x->h, p[0], p[1], p[2], p[3]);
}
static int32_t grad_upsample2d(alaei_graph *g, const vjp_args *x) { return alaei_sumpool2d(g, x->h, x->d->ip[0]); }
static int32_t grad_sumpool2d(alaei_graph *g, const vjp_args *x) { return alaei_upsample2d(g, x->h, x->d->ip[0]); }
/* a correlation's adjoint: the flipped kernel, padded K-1-pad */
static int32_t grad_fir2d(alaei_graph *g, const vjp_args *x) {
    int32_t k = x->d->ip[0];
    double flipped[16];
    for (int i = 0; i < k * k; i++) flipped[i] = x->d->fp[k * k - 1 - i];
    return alaei_fir2d(g, x->h, k, k - 1 - x->d->ip[1], flipped);
}
static int32_t grad_permute(alaei_graph *g, const vjp_args *x) {
    int32_t inverse[4];
    for (int i = 0; i < 4; i++) inverse[x->d->ip[i]] = i;
    return alaei_permute(g, x->h, inverse);
}
static int32_t grad_slice(alaei_graph *g, const vjp_args *x) {
    return alaei_slice_adj(g, x->h, x->a->ne, x->d->ip[0], x->d->ip[1]);
}
static int32_t grad_slice_adj(alaei_graph *g, const vjp_args *x) {
    return alaei_slice(g, x->h, x->d->ip[0], x->d->ip[1], x->a->ne[x->d->ip[0]]);
}

/* ---- ops of two sources: each rule accumulates into the sources that need a gradient ---- */

/* Broadcasting binary ops: da and db are reduced back to the sources' shapes. */
static void accumulate_reduced(grad_state *st, const vjp_args *x, int32_t da, int32_t db) {
    int32_t a = x->d->src[0], b = x->d->src[1];
    if (st->needed[a]) accumulate(st, a, reduce_to(st->g, da, x->a->ne));
    if (st->needed[b]) accumulate(st, b, reduce_to(st->g, db, x->b->ne));
}
static void grad_add(grad_state *st, const vjp_args *x) { accumulate_reduced(st, x, x->h, x->h); }
static void grad_sub(grad_state *st, const vjp_args *x) {
    int32_t db = st->needed[x->d->src[1]] ? alaei_unary(st->g, ALAEI_OP_NEG, reduce_to(st->g, x->h, x->b->ne)) : -1;
    accumulate_reduced(st, x, x->h, db);
}
static void grad_mul(grad_state *st, const vjp_args *x) {
    int32_t a = x->d->src[0], b = x->d->src[1];
    int32_t da = st->needed[a] ? alaei_mul(st->g, x->h, b) : -1;
    int32_t db = st->needed[b] ? alaei_mul(st->g, x->h, a) : -1;
    accumulate_reduced(st, x, da, db);
}
/* d = leaky_relu(a + b, s), s >= 0 (alaei_linear_leaky's condition): d > 0 exactly where
 * a + b > 0, so the mask comes from d itself (a + b is never stored); a gets dz = h mask, b dz
 * summed over its broadcast dims: the gradients of ADD then LEAKY_RELU, with the same bits. */
static void grad_add_leaky_relu(grad_state *st, const vjp_args *x) {
    int32_t dz = alaei_mul(st->g, x->h, alaei_leaky_mask(st->g, x->self, x->d->fp[0]));
    accumulate_reduced(st, x, dz, dz);
}
/* d = a / b: da = h / b, db = -h d / b */
static void grad_div(grad_state *st, const vjp_args *x) {
    alaei_graph *g = st->g;
    int32_t a = x->d->src[0], b = x->d->src[1];
    int32_t da = st->needed[a] ? alaei_div(g, x->h, b) : -1;
    int32_t db = st->needed[b] ? alaei_unary(g, ALAEI_OP_NEG, alaei_div(g, alaei_mul(g, x->h, x->self), b)) : -1;
    accumulate_reduced(st, x, da, db);
}

/* GEMM: d = alpha op(A) op(B). An operand broadcast along a batch dim gets its gradient summed
 * over that dim, which the GEMM does itself (no batch-sized intermediate). */
static void grad_gemm(grad_state *st, const vjp_args *x) {
    alaei_graph *g = st->g;
    int ta = x->d->ip[0], tb = x->d->ip[1];
    double alpha = x->d->fp[0];
    int32_t a = x->d->src[0], b = x->d->src[1], h = x->h;
    if (st->needed[a])
        accumulate(st, a, ta ? alaei_gemm_sum(g, b, h, tb, 1, alpha, x->a->ne)
                             : alaei_gemm_sum(g, h, b, 0, !tb, alpha, x->a->ne));
    if (st->needed[b])
        accumulate(st, b, tb ? alaei_gemm_sum(g, h, a, 1, ta, alpha, x->b->ne)
                             : alaei_gemm_sum(g, a, h, !ta, 0, alpha, x->b->ne));
}

/* The convolution ops are the three partial derivatives of one trilinear form
 *     T(g, x, w) = alpha sum g[n,o,oy,ox] w[o,c,i,j] x[n,c,oy*s+i-p, ox*s+j-p]:
 * CONV2D(x, w) = dT/dg, BWD_DATA(g, w) = dT/dx, BWD_WEIGHT(g, x) = dT/dw. The VJP of an op with
 * incoming gradient h is <h, op> = T with h in the op's own slot, differentiated in each source,
 * with the same stride, pad and alpha; image and kernel sizes come from the sources' shapes. */
static void grad_conv2d(grad_state *st, const vjp_args *x) { /* a = x, b = w */
    alaei_graph *g = st->g;
    int32_t a = x->d->src[0], b = x->d->src[1], stride = x->d->ip[2], pad = x->d->ip[3];
    double alpha = x->d->fp[0];
    if (st->needed[a]) accumulate(st, a, alaei_conv2d_bwd_data(g, x->h, b, x->a->ne[2], x->a->ne[3], stride, pad, alpha));
    if (st->needed[b])
        accumulate(st, b, alaei_conv2d_bwd_weight(g, x->h, a, (int32_t)x->b->ne[2], (int32_t)x->b->ne[3], stride, pad, alpha));
}
static void grad_conv2d_bwd_data(grad_state *st, const vjp_args *x) { /* a = g, b = w */
    alaei_graph *g = st->g;
    int32_t a = x->d->src[0], b = x->d->src[1], stride = x->d->ip[2], pad = x->d->ip[3];
    double alpha = x->d->fp[0];
    if (st->needed[a]) accumulate(st, a, alaei_conv2d_fwd(g, x->h, b, stride, pad, alpha));
    if (st->needed[b])
        accumulate(st, b, alaei_conv2d_bwd_weight(g, a, x->h, (int32_t)x->b->ne[2], (int32_t)x->b->ne[3], stride, pad, alpha));
}
static void grad_conv2d_bwd_weight(grad_state *st, const vjp_args *x) { /* a = g, b = x */
    alaei_graph *g = st->g;
    int32_t a = x->d->src[0], b = x->d->src[1], stride = x->d->ip[2], pad = x->d->ip[3];
    double alpha = x->d->fp[0];
    if (st->needed[a]) accumulate(st, a, alaei_conv2d_fwd(g, b, x->h, stride, pad, alpha));
    if (st->needed[b]) accumulate(st, b, alaei_conv2d_bwd_data(g, a, x->h, x->b->ne[2], x->b->ne[3], stride, pad, alpha));
}

/* ---- the table: one rule per op ---- */

typedef struct grad_rule {
    int32_t (*of_a)(alaei_graph *g, const vjp_args *x);  /* one source: the gradient of a */
    void (*of_each)(grad_state *st, const vjp_args *x);   /* two sources: accumulates into each */
    int stops; /* a leaf, or constant (almost everywhere) in its inputs: gradients stop here */
} grad_rule;

#define ONE(fn) {fn, NULL, 0}
#define EACH(fn) {NULL, fn, 0}
#define STOP {NULL, NULL, 1}

/* An op missing here (CLAMP, ADAM_STEP) has no gradient: alaei_grad fails naming it. */
static const grad_rule grad_rules[ALAEI_OP_COUNT] = {
    [ALAEI_OP_INPUT] = STOP,
    [ALAEI_OP_RESHAPE] = ONE(grad_reshape),
    [ALAEI_OP_DETACH] = STOP,
    [ALAEI_OP_FILL] = STOP,
    [ALAEI_OP_RNG_NORMAL] = STOP,
    [ALAEI_OP_GEMM] = EACH(grad_gemm),
    [ALAEI_OP_ADD] = EACH(grad_add),
    [ALAEI_OP_SUB] = EACH(grad_sub),
    [ALAEI_OP_MUL] = EACH(grad_mul),
    [ALAEI_OP_DIV] = EACH(grad_div),
    [ALAEI_OP_NEG] = ONE(grad_neg),
    [ALAEI_OP_EXP] = ONE(grad_exp),
    [ALAEI_OP_LOG] = ONE(grad_log),
    [ALAEI_OP_SQRT] = ONE(grad_sqrt),
    [ALAEI_OP_RSQRT] = ONE(grad_rsqrt),
    [ALAEI_OP_SQUARE] = ONE(grad_square),
    [ALAEI_OP_SIGMOID] = ONE(grad_sigmoid),
    [ALAEI_OP_SOFTPLUS] = ONE(grad_softplus),
    [ALAEI_OP_ABS] = ONE(grad_abs),
    [ALAEI_OP_SIGN] = STOP,
    [ALAEI_OP_LEAKY_RELU] = ONE(grad_leaky_relu),
    [ALAEI_OP_LEAKY_MASK] = STOP,
    [ALAEI_OP_SCALE_SHIFT] = ONE(grad_scale_shift),
    [ALAEI_OP_REDUCE_SUM] = ONE(grad_reduce_sum),
    [ALAEI_OP_BROADCAST] = ONE(grad_broadcast),
    [ALAEI_OP_IM2COL] = ONE(grad_im2col),
    [ALAEI_OP_COL2IM] = ONE(grad_col2im),
    [ALAEI_OP_UPSAMPLE2D] = ONE(grad_upsample2d),
    [ALAEI_OP_SUMPOOL2D] = ONE(grad_sumpool2d),
    [ALAEI_OP_FIR2D] = ONE(grad_fir2d),
    [ALAEI_OP_PERMUTE] = ONE(grad_permute),
    [ALAEI_OP_SLICE] = ONE(grad_slice),
    [ALAEI_OP_SLICE_ADJ] = ONE(grad_slice_adj),
    [ALAEI_OP_CONV2D] = EACH(grad_conv2d),
    [ALAEI_OP_CONV2D_BWD_DATA] = EACH(grad_conv2d_bwd_data),
    [ALAEI_OP_CONV2D_BWD_WEIGHT] = EACH(grad_conv2d_bwd_weight),
    [ALAEI_OP_ADD_LEAKY_RELU] = EACH(grad_add_leaky_relu),
};

static const grad_rule *rule_of(int32_t op) {
    static const grad_rule none = {NULL, NULL, 0};
    return op >= 0 && op < ALAEI_OP_COUNT ? &grad_rules[op] : &none;
}

static int stops_gradient(int32_t op) { return rule_of(op)->stops; }

static void backprop_node(grad_state *st, int32_t i) {
    alaei_graph *g = st->g;
    alaei_node d = g->nodes[i]; /* copies: building may move g->nodes */
    alaei_node A = d.nsrc > 0 ? g->nodes[d.src[0]] : d, B = d.nsrc > 1 ? g->nodes[d.src[1]] : d;
    const grad_rule *rule = rule_of(d.op);
    if (rule->stops) return;
    vjp_args x = {&d, i, st->grad[i], &A, &B};
    if (rule->of_each) {
        rule->of_each(st, &x);
    } else if (rule->of_a) {
        if (st->needed[d.src[0]]) accumulate(st, d.src[0], rule->of_a(g, &x));
    } else {
        alaei_graph_set_error(g, ALAE_E_UNSUPPORTED, "op %s (node %d%s%s) has no gradient rule; it cannot be differentiated",
                              alaei_op_name(d.op), (int)i, d.name[0] ? " " : "", d.name);
    }
}

alae_status alaei_grad(alaei_graph *g, int32_t y, int32_t seed, int32_t n, const int32_t *wrt,
                       int32_t *grads) {
    if (!g || (n > 0 && (!wrt || !grads)) || n < 0) return ALAE_E_INVALID_ARG;
    if (g->status != ALAE_OK) return g->status;
    if (y < 0 || y >= g->n) {
        alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "grad: node %d is not in the graph", (int)y);
        return g->status;
    }
    for (int32_t k = 0; k < n; k++)
        if (wrt[k] < 0 || wrt[k] >= g->n) {
            alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "grad: wrt[%d] = %d is not in the graph", (int)k, (int)wrt[k]);
            return g->status;
        }
    if (seed < 0 && alaei_graph_numel(g, y) != 1) {
        alaei_graph_set_error(g, ALAE_E_SHAPE, "grad: y has %lld elements; a seed gradient is needed",
                              (long long)alaei_graph_numel(g, y));
        return g->status;
    }
    if (seed >= 0 && (seed >= g->n || memcmp(g->nodes[seed].ne, g->nodes[y].ne, sizeof g->nodes[y].ne) != 0)) {
        alaei_graph_set_error(g, ALAE_E_SHAPE, "grad: the seed's shape differs from y's");
        return g->status;
    }
    int32_t count = y + 1;
    grad_state st = {g, malloc((size_t)count * sizeof(int32_t)), calloc((size_t)count, 1)};
    if (!st.grad || !st.needed) {
        free(st.grad);
        free(st.needed);
        alaei_graph_set_error(g, ALAE_E_NOMEM, "grad: no memory for %d nodes", (int)count);
        return g->status;
    }
    /* needed: the node is a wrt node or depends differentiably on one */
    for (int32_t k = 0; k < n; k++)
        if (wrt[k] < count) st.needed[wrt[k]] = 1;
    for (int32_t i = 0; i < count; i++) {
        st.grad[i] = -1;
        const alaei_node *d = &g->nodes[i];
        if (st.needed[i] || stops_gradient(d->op)) continue;
        for (int s = 0; s < d->nsrc; s++)
            if (st.needed[d->src[s]]) st.needed[i] = 1;
    }
    if (st.needed[y]) {
        st.grad[y] = seed >= 0 ? seed : alaei_fill(g, g->nodes[y].ndim, &g->nodes[y].ne[4 - g->nodes[y].ndim], 1.0);
        for (int32_t i = y; i >= 0 && g->status == ALAE_OK; i--)
            if (st.grad[i] >= 0 && st.needed[i]) backprop_node(&st, i);
    }
    for (int32_t k = 0; k < n && g->status == ALAE_OK; k++) {
        int32_t w = wrt[k];
        int32_t gw = w < count ? st.grad[w] : -1;
        if (gw < 0) {
            const alaei_node *node = &g->nodes[w];
            gw = alaei_fill(g, 4, node->ne, 0.0);
        }
        grads[k] = gw;
    }
    free(st.grad);
    free(st.needed);
    return g->status;
}
