/* Compositions of primitives that the networks use: sums, means, linear and conv layers. */
#include "internal/alae_graph.h"

static const alaei_node *node(alaei_graph *g, int32_t id) { return alaei_graph_node(g, id); }

int32_t alaei_sum_all(alaei_graph *g, int32_t x) {
    static const int64_t one[4] = {1, 1, 1, 1};
    if (!node(g, x) || alaei_graph_status(g) != ALAE_OK) return -1;
    int32_t s = alaei_reduce_sum(g, x, one);
    if (s >= 0 && s != x) g->nodes[s].ndim = 0;
    return s;
}

int32_t alaei_mean_all(alaei_graph *g, int32_t x) {
    int64_t n = alaei_graph_numel(g, x);
    int32_t s = alaei_sum_all(g, x);
    return s < 0 ? -1 : alaei_scale_shift(g, s, 1.0 / (double)n, 0.0);
}

int32_t alaei_linear(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale) {
    int32_t y = alaei_gemm(g, x, w, 0, 1, scale);
    return bias < 0 || y < 0 ? y : alaei_add(g, y, bias);
}

int32_t alaei_linear_leaky(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, double slope) {
    if (bias < 0 || !(slope >= 0)) return alaei_leaky_relu(g, alaei_linear(g, x, w, bias, scale), slope);
    int32_t y = alaei_gemm(g, x, w, 0, 1, scale);
    return y < 0 ? y : alaei_add_leaky_relu(g, y, bias, slope);
}

static int32_t add_channel_bias(alaei_graph *g, int32_t y, int32_t bias) {
    if (bias < 0 || y < 0) return y;
    int64_t b_ne[4] = {1, node(g, y)->ne[1], 1, 1};
    return alaei_add(g, y, alaei_reshape4(g, bias, b_ne));
}

static int32_t check_conv_layer(alaei_graph *g, int32_t x, int32_t w) {
    const alaei_node *X = node(g, x), *W = node(g, w);
    if (!X || !W || alaei_graph_status(g) != ALAE_OK) return -1;
    if (W->ne[1] != X->ne[1] || W->ne[2] < 1 || W->ne[3] < 1)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "conv2d: weight has %lld input channels, the image %lld",
                                     (long long)W->ne[1], (long long)X->ne[1]);
    return 0;
}

int32_t alaei_conv2d(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, int32_t stride,
                     int32_t pad) {
    if (check_conv_layer(g, x, w) < 0) return -1;
    return add_channel_bias(g, alaei_conv2d_fwd(g, x, w, stride, pad, scale), bias);
}

/* CONV2D as IM2COL + GEMM: y[n] = alpha W [O, C*KH*KW] @ cols[n] */
static int32_t decompose_fwd(alaei_graph *g, int32_t x, int32_t w, int32_t stride, int32_t pad, double alpha) {
    const alaei_node *X = node(g, x), *W = node(g, w);
    if (!X || !W || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t n = X->ne[0], in_c = X->ne[1], out_c = W->ne[0], kh = W->ne[2], kw = W->ne[3];
    int64_t oh = (X->ne[2] + 2 * pad - kh) / stride + 1, ow = (X->ne[3] + 2 * pad - kw) / stride + 1;
    int32_t cols = alaei_im2col(g, x, (int32_t)kh, (int32_t)kw, stride, pad);
    int64_t wm_ne[4] = {1, 1, out_c, in_c * kh * kw};
    int32_t wm = alaei_reshape4(g, w, wm_ne);
    int32_t y = alaei_gemm(g, wm, cols, 0, 0, alpha); /* [1, N, OUT, OH*OW] */
    int64_t y_ne[4] = {n, out_c, oh, ow};
    return alaei_reshape4(g, y, y_ne);
}

/* CONV2D_BWD_DATA as GEMM + COL2IM: cols[n] = alpha W^T @ gy[n], scattered back into the image */
static int32_t decompose_bwd_data(alaei_graph *g, int32_t gy, int32_t w, const int64_t x_ne[4], int32_t stride,
                                  int32_t pad, double alpha) {
    const alaei_node *G = node(g, gy), *W = node(g, w);
    if (!G || !W || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t g_ne[4] = {1, G->ne[0], G->ne[1], G->ne[2] * G->ne[3]}, wm_ne[4] = {1, 1, W->ne[0], W->ne[1] * W->ne[2] * W->ne[3]};
    int32_t kh = (int32_t)W->ne[2], kw = (int32_t)W->ne[3];
    int32_t cols = alaei_gemm(g, alaei_reshape4(g, w, wm_ne), alaei_reshape4(g, gy, g_ne), 1, 0, alpha);
    return alaei_col2im(g, cols, x_ne, kh, kw, stride, pad);
}

/* CONV2D_BWD_WEIGHT as IM2COL + a GEMM summed over the batch: dW = alpha sum_n gy[n] @ cols[n]^T */
static int32_t decompose_bwd_weight(alaei_graph *g, int32_t gy, int32_t x, const int64_t w_ne[4], int32_t stride,
                                    int32_t pad, double alpha) {
    const alaei_node *G = node(g, gy);
    if (!G || !node(g, x) || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t g_ne[4] = {1, G->ne[0], G->ne[1], G->ne[2] * G->ne[3]}, one[2] = {1, 1};
    int32_t cols = alaei_im2col(g, x, (int32_t)w_ne[2], (int32_t)w_ne[3], stride, pad);
    int32_t dw = alaei_gemm_sum(g, alaei_reshape4(g, gy, g_ne), cols, 0, 1, alpha, one); /* [1, 1, O, C*KH*KW] */
    return alaei_reshape4(g, dw, w_ne);
}

int32_t alaei_conv_decompose(alaei_graph *g, const alaei_node *n, const int32_t src[2]) {
    if (!n || alaei_graph_status(g) != ALAE_OK) return -1;
    const alaei_node copy = *n; /* n may point into g's nodes, which the builders can move */
    int32_t stride = copy.ip[2], pad = copy.ip[3];
    double alpha = copy.fp[0];
    switch (copy.op) {
    case ALAEI_OP_CONV2D: return decompose_fwd(g, src[0], src[1], stride, pad, alpha);
    case ALAEI_OP_CONV2D_BWD_DATA: return decompose_bwd_data(g, src[0], src[1], copy.ne, stride, pad, alpha);
    case ALAEI_OP_CONV2D_BWD_WEIGHT: return decompose_bwd_weight(g, src[0], src[1], copy.ne, stride, pad, alpha);
    default:
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "conv_decompose: %s is not a convolution op",
                                     alaei_op_name(copy.op));
    }
}

int32_t alaei_conv2d_decomposed(alaei_graph *g, int32_t x, int32_t w, int32_t bias, double scale, int32_t stride,
                                int32_t pad) {
    if (check_conv_layer(g, x, w) < 0) return -1;
    return add_channel_bias(g, decompose_fwd(g, x, w, stride, pad, scale), bias);
}

int32_t alaei_concat(alaei_graph *g, int32_t a, int32_t b, int32_t axis) {
    const alaei_node *A = node(g, a), *B = node(g, b);
    if (!A || !B || alaei_graph_status(g) != ALAE_OK) return -1;
    if (axis < 0 || axis > 3)
        return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "concat: axis %d is not in 0..3", (int)axis);
    int64_t ne[4];
    for (int d = 0; d < 4; d++) {
        if (d != axis && A->ne[d] != B->ne[d])
            return alaei_graph_set_error(g, ALAE_E_SHAPE, "concat: dimension %d differs (%lld vs %lld)", d,
                                         (long long)A->ne[d], (long long)B->ne[d]);
        ne[d] = d == axis ? A->ne[d] + B->ne[d] : A->ne[d];
    }
    int64_t split = A->ne[axis];
    return alaei_add(g, alaei_slice_adj(g, a, ne, axis, 0), alaei_slice_adj(g, b, ne, axis, split));
}
