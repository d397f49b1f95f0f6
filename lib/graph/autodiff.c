/* Reverse-mode autodiff as a graph-to-graph transform.
 *
 * Each op's vector-Jacobian product is written with the graph builder, over the same
 * primitives the forward pass uses, and appended to the same graph. The gradient nodes are
 * therefore ordinary, differentiable nodes: applying alaei_grad to a graph that already holds
 * gradients yields exact second derivatives (the R1 penalty needs this). */
#include <stdlib.h>
#include <string.h>

#include "internal/alae_graph.h"

/* Ops whose output does not vary (almost everywhere) with their inputs: gradients stop there. */
static int is_constant_op(int32_t op) {
    return op == ALAEI_OP_FILL || op == ALAEI_OP_RNG_NORMAL || op == ALAEI_OP_SIGN ||
           op == ALAEI_OP_LEAKY_MASK || op == ALAEI_OP_DETACH;
}

typedef struct grad_state {
    alaei_graph *g;
    int32_t *grad;   /* gradient node of each forward node, or -1 */
    uint8_t *needed; /* the node depends (differentiably) on a wrt node */
} grad_state;

static void accumulate(grad_state *st, int32_t target, int32_t contribution) {
    if (contribution < 0) return;
    int32_t old = st->grad[target];
    st->grad[target] = old < 0 ? contribution : alaei_add(st->g, old, contribution);
}

static int32_t reduce_to(alaei_graph *g, int32_t x, const int64_t ne[4]) {
    return x < 0 ? -1 : alaei_reduce_sum(g, x, ne);
}

/* GEMM: d = alpha op(A) op(B). */
static void vjp_gemm(grad_state *st, const alaei_node *d, int32_t gd, const alaei_node *A,
                     const alaei_node *B) {
    alaei_graph *g = st->g;
    int ta = d->ip[0], tb = d->ip[1];
    double alpha = d->fp[0];
    int32_t a = d->src[0], b = d->src[1];
    /* an operand broadcast along a batch dim gets its gradient summed over that dim, which the
     * GEMM does itself (no batch-sized intermediate) */
    if (st->needed[a]) {
        int32_t da = ta ? alaei_gemm_sum(g, b, gd, tb, 1, alpha, A->ne) : alaei_gemm_sum(g, gd, b, 0, !tb, alpha, A->ne);
        accumulate(st, a, da);
    }
    if (st->needed[b]) {
        int32_t db = tb ? alaei_gemm_sum(g, gd, a, 1, ta, alpha, B->ne) : alaei_gemm_sum(g, a, gd, !ta, 0, alpha, B->ne);
        accumulate(st, b, db);
    }
}

/* The convolution ops are the three partial derivatives of one trilinear form
 *     T(g, x, w) = alpha sum g[n,o,oy,ox] w[o,c,i,j] x[n,c,oy*s+i-p, ox*s+j-p]:
 * CONV2D(x, w) = dT/dg, BWD_DATA(g, w) = dT/dx, BWD_WEIGHT(g, x) = dT/dw. The VJP of an op with
 * incoming gradient h is <h, op> = T with h in the op's own slot, differentiated in each source:
 *   CONV2D(x, w):      dx = BWD_DATA(h, w)     dw = BWD_WEIGHT(h, x)
 *   BWD_DATA(g, w):    dg = CONV2D(h, w)       dw = BWD_WEIGHT(g, h)
 *   BWD_WEIGHT(g, x):  dg = CONV2D(x, h)       dx = BWD_DATA(g, h)
 * with the same stride, pad and alpha; image and kernel sizes come from the sources' shapes. */
static void vjp_conv(grad_state *st, const alaei_node *d, int32_t gd, const alaei_node *A, const alaei_node *B) {
    alaei_graph *g = st->g;
    int32_t a = d->src[0], b = d->src[1], stride = d->ip[2], pad = d->ip[3];
    double alpha = d->fp[0];
    switch (d->op) {
    case ALAEI_OP_CONV2D: /* a = x, b = w */
        if (st->needed[a]) accumulate(st, a, alaei_conv2d_bwd_data(g, gd, b, A->ne[2], A->ne[3], stride, pad, alpha));
        if (st->needed[b])
            accumulate(st, b, alaei_conv2d_bwd_weight(g, gd, a, (int32_t)B->ne[2], (int32_t)B->ne[3], stride, pad, alpha));
        break;
    case ALAEI_OP_CONV2D_BWD_DATA: /* a = g, b = w; the result has x's shape */
        if (st->needed[a]) accumulate(st, a, alaei_conv2d_fwd(g, gd, b, stride, pad, alpha));
        if (st->needed[b])
            accumulate(st, b, alaei_conv2d_bwd_weight(g, a, gd, (int32_t)B->ne[2], (int32_t)B->ne[3], stride, pad, alpha));
        break;
    case ALAEI_OP_CONV2D_BWD_WEIGHT: /* a = g, b = x; the result has w's shape */
        if (st->needed[a]) accumulate(st, a, alaei_conv2d_fwd(g, b, gd, stride, pad, alpha));
        if (st->needed[b]) accumulate(st, b, alaei_conv2d_bwd_data(g, a, gd, B->ne[2], B->ne[3], stride, pad, alpha));
        break;
    default: break;
    }
}

static void vjp_binary(grad_state *st, const alaei_node *d, int32_t self, int32_t gd,
                       const alaei_node *A, const alaei_node *B) {
    alaei_graph *g = st->g;
    int32_t a = d->src[0], b = d->src[1];
    int32_t da = -1, db = -1;
    switch (d->op) {
    case ALAEI_OP_ADD:
        da = gd;
        db = gd;
        break;
    case ALAEI_OP_SUB:
        da = gd;
        if (st->needed[b]) db = alaei_unary(g, ALAEI_OP_NEG, reduce_to(g, gd, B->ne));
        break;
    case ALAEI_OP_MUL:
        if (st->needed[a]) da = alaei_mul(g, gd, b);
        if (st->needed[b]) db = alaei_mul(g, gd, a);
        break;
    case ALAEI_OP_DIV: /* d = a / b: da = g / b, db = -g d / b */
        if (st->needed[a]) da = alaei_div(g, gd, b);
        if (st->needed[b]) db = alaei_unary(g, ALAEI_OP_NEG, alaei_div(g, alaei_mul(g, gd, self), b));
        break;
    default: break;
    }
    if (st->needed[a]) accumulate(st, a, reduce_to(g, da, A->ne));
    if (st->needed[b]) accumulate(st, b, reduce_to(g, db, B->ne));
}

/* Elementwise ops of one source: returns the gradient of the source, or -1. */
static int32_t vjp_unary(alaei_graph *g, const alaei_node *d, int32_t self, int32_t gd) {
    int32_t a = d->src[0];
    switch (d->op) {
    case ALAEI_OP_NEG: return alaei_unary(g, ALAEI_OP_NEG, gd);
    case ALAEI_OP_EXP: return alaei_mul(g, gd, self);
    case ALAEI_OP_LOG: return alaei_div(g, gd, a);
    case ALAEI_OP_SQRT: return alaei_div(g, gd, alaei_scale_shift(g, self, 2.0, 0.0));
    case ALAEI_OP_RSQRT: /* d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 d^3 */
        return alaei_mul(g, gd, alaei_scale_shift(g, alaei_mul(g, self, alaei_unary(g, ALAEI_OP_SQUARE, self)), -0.5, 0.0));
    case ALAEI_OP_SQUARE: return alaei_mul(g, gd, alaei_scale_shift(g, a, 2.0, 0.0));
    case ALAEI_OP_SIGMOID: return alaei_mul(g, gd, alaei_mul(g, self, alaei_scale_shift(g, self, -1.0, 1.0)));
    case ALAEI_OP_SOFTPLUS: return alaei_mul(g, gd, alaei_unary(g, ALAEI_OP_SIGMOID, a));
    case ALAEI_OP_ABS: return alaei_mul(g, gd, alaei_unary(g, ALAEI_OP_SIGN, a));
    case ALAEI_OP_LEAKY_RELU: return alaei_mul(g, gd, alaei_leaky_mask(g, a, d->fp[0]));
    case ALAEI_OP_SCALE_SHIFT: return alaei_scale_shift(g, gd, d->fp[0], 0.0);
    default: return -1;
    }
}

/* Data-movement and resampling ops: each one's adjoint is another primitive. */
static int32_t vjp_structural(alaei_graph *g, const alaei_node *d, int32_t gd, const alaei_node *A) {
    const int32_t *p = d->ip;
    switch (d->op) {
    case ALAEI_OP_RESHAPE: return alaei_reshape4(g, gd, A->ne);
    case ALAEI_OP_REDUCE_SUM: return alaei_broadcast(g, gd, A->ne);
    case ALAEI_OP_BROADCAST: return alaei_reduce_sum(g, gd, A->ne);
    case ALAEI_OP_IM2COL: return alaei_col2im(g, gd, A->ne, p[0], p[1], p[2], p[3]);
    case ALAEI_OP_COL2IM: return alaei_im2col(g, gd, p[0], p[1], p[2], p[3]);
    case ALAEI_OP_UPSAMPLE2D: return alaei_sumpool2d(g, gd, p[0]);
    case ALAEI_OP_SUMPOOL2D: return alaei_upsample2d(g, gd, p[0]);
    case ALAEI_OP_FIR2D: { /* correlation's adjoint: the flipped kernel, padded K-1-pad */
        int32_t k = p[0];
        double flipped[16];
        for (int i = 0; i < k * k; i++) flipped[i] = d->fp[k * k - 1 - i];
        return alaei_fir2d(g, gd, k, k - 1 - p[1], flipped);
    }
    case ALAEI_OP_PERMUTE: {
        int32_t inverse[4];
        for (int i = 0; i < 4; i++) inverse[p[i]] = i;
        return alaei_permute(g, gd, inverse);
    }
    case ALAEI_OP_SLICE: return alaei_slice_adj(g, gd, A->ne, p[0], p[1]);
    case ALAEI_OP_SLICE_ADJ: return alaei_slice(g, gd, p[0], p[1], A->ne[p[0]]);
    default: return -1;
    }
}

static int has_rule(int32_t op) {
    return op != ALAEI_OP_CLAMP && op != ALAEI_OP_ADAM_STEP && op >= 0 && op < ALAEI_OP_COUNT;
}

static void backprop_node(grad_state *st, int32_t i) {
    alaei_graph *g = st->g;
    alaei_node d = g->nodes[i]; /* copies: building may move g->nodes */
    alaei_node A = d.nsrc > 0 ? g->nodes[d.src[0]] : d, B = d.nsrc > 1 ? g->nodes[d.src[1]] : d;
    int32_t gd = st->grad[i];
    if (d.op == ALAEI_OP_INPUT) return;
    if (!has_rule(d.op)) {
        alaei_graph_set_error(g, ALAE_E_UNSUPPORTED, "op %s (node %d%s%s) has no gradient rule; it cannot be differentiated",
                              alaei_op_name(d.op), (int)i, d.name[0] ? " " : "", d.name);
        return;
    }
    if (d.op == ALAEI_OP_GEMM) {
        vjp_gemm(st, &d, gd, &A, &B);
    } else if (alaei_op_is_conv(d.op)) {
        vjp_conv(st, &d, gd, &A, &B);
    } else if (d.op >= ALAEI_OP_ADD && d.op <= ALAEI_OP_DIV) {
        vjp_binary(st, &d, i, gd, &A, &B);
    } else if (d.nsrc == 1 && st->needed[d.src[0]]) {
        int32_t da = vjp_unary(g, &d, i, gd);
        if (da < 0 && alaei_graph_status(g) == ALAE_OK) da = vjp_structural(g, &d, gd, &A);
        if (da < 0 && alaei_graph_status(g) == ALAE_OK)
            alaei_graph_set_error(g, ALAE_E_INTERNAL, "no gradient rule was applied to op %s", alaei_op_name(d.op));
        accumulate(st, d.src[0], da);
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
        if (st.needed[i] || is_constant_op(d->op)) continue;
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
