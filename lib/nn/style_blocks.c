/* The building blocks of StyleALAE (docs/alae-reference.md 3.1, fixtures README section 2), each a
 * composition of graph primitives so that autodiff (and the R1 double backward) covers them. */
#include "model_internal.h"

static const alaei_node *node_of(alaei_graph *g, int32_t id) {
    return alaei_graph_status(g) == ALAE_OK ? alaei_graph_node(g, id) : NULL;
}

/* z / sqrt(mean(z^2) + 1e-8) over the features of each row */
int32_t alaei_blk_pixel_norm(alaei_graph *g, int32_t z) {
    const alaei_node *Z = node_of(g, z);
    if (!Z) return -1;
    int64_t row[4] = {Z->ne[0], Z->ne[1], Z->ne[2], 1};
    int32_t mean_sq = alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, z), row),
                                        1.0 / (double)Z->ne[3], 1e-8);
    return alaei_mul(g, z, alaei_unary(g, ALAEI_OP_RSQRT, mean_sq));
}

int32_t alaei_blk_channel_mean(alaei_graph *g, int32_t x) {
    const alaei_node *X = node_of(g, x);
    if (!X) return -1;
    int64_t per_channel[4] = {X->ne[0], X->ne[1], 1, 1};
    return alaei_scale_shift(g, alaei_reduce_sum(g, x, per_channel), 1.0 / (double)(X->ne[2] * X->ne[3]), 0.0);
}

/* (x - mean) / sqrt(var + eps) per sample and channel over H x W, biased variance, no affine */
int32_t alaei_blk_instance_norm(alaei_graph *g, int32_t x, double eps, int32_t *mean, int32_t *var) {
    int32_t mu = alaei_blk_channel_mean(g, x);
    int32_t centered = alaei_sub(g, x, mu);
    int32_t v = alaei_blk_channel_mean(g, alaei_unary(g, ALAEI_OP_SQUARE, centered));
    if (mean) *mean = mu;
    if (var) *var = v;
    return alaei_mul(g, centered, alaei_unary(g, ALAEI_OP_RSQRT, alaei_scale_shift(g, v, 1.0, eps)));
}

/* AdaIN with the reference's explicit +1: x (1 + style[:, :C]) + style[:, C:] */
int32_t alaei_blk_style_mod(alaei_graph *g, int32_t x, int32_t style) {
    const alaei_node *X = node_of(g, x), *S = node_of(g, style);
    if (!X || !S) return -1;
    int64_t c = X->ne[1], n = S->ne[2];
    if (S->ne[3] != 2 * c)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "style_mod: %lld style values for %lld channels",
                                     (long long)S->ne[3], (long long)c);
    int64_t per_channel[4] = {n, c, 1, 1};
    int32_t scale = alaei_reshape4(g, alaei_slice(g, style, 3, 0, c), per_channel);
    int32_t shift = alaei_reshape4(g, alaei_slice(g, style, 3, c, c), per_channel);
    return alaei_add(g, alaei_mul(g, x, alaei_scale_shift(g, scale, 1.0, 1.0)), shift);
}

/* Depthwise [1,2,1]^T [1,2,1] / 16, zero padding 1 */
int32_t alaei_blk_blur(alaei_graph *g, int32_t x) {
    static const double kernel[9] = {1.0 / 16, 2.0 / 16, 1.0 / 16, 2.0 / 16, 4.0 / 16,
                                     2.0 / 16, 1.0 / 16, 2.0 / 16, 1.0 / 16};
    return alaei_fir2d(g, x, 3, 1, kernel);
}

int32_t alaei_blk_upscale2d(alaei_graph *g, int32_t x) { return alaei_upsample2d(g, x, 2); }

int32_t alaei_blk_avg_pool(alaei_graph *g, int32_t x, int32_t factor) {
    if (factor == 1) return x;
    return alaei_scale_shift(g, alaei_sumpool2d(g, x, factor), 1.0 / ((double)factor * factor), 0.0);
}

int32_t alaei_blk_downscale2d(alaei_graph *g, int32_t x) { return alaei_blk_avg_pool(g, x, 2); }

/* The 4x4 kernel of the fused resampling convs: the 3x3 kernel zero-padded to 5x5 and summed
 * over its four 4x4 corner windows, i.e. a 2x2 box filter over the padded kernel. */
int32_t alaei_blk_fused_kernel(alaei_graph *g, int32_t w) {
    static const double box[4] = {1.0, 1.0, 1.0, 1.0};
    const alaei_node *W = node_of(g, w);
    if (!W) return -1;
    if (W->ne[2] != 3 || W->ne[3] != 3)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "fused conv: the kernel is %lldx%lld, not 3x3",
                                     (long long)W->ne[2], (long long)W->ne[3]);
    int64_t planes[4] = {1, W->ne[0] * W->ne[1], 3, 3}, out[4] = {W->ne[0], W->ne[1], 4, 4};
    return alaei_reshape4(g, alaei_fir2d(g, alaei_reshape4(g, w, planes), 2, 1, box), out);
}

/* The reference's ConvTranspose2d(stride 2, pad 1) with the fused 4x4 kernel of w [in, out, 3, 3]
 * (equal to nearest x2 then a 3x3 conv with the flipped, transposed kernel). */
int32_t alaei_blk_conv_up_fused(alaei_graph *g, int32_t x, int32_t w) {
    const alaei_node *X = node_of(g, x), *W = node_of(g, w);
    if (!X || !W) return -1;
    int64_t in_c = X->ne[1], h = X->ne[2], wd = X->ne[3];
    if (W->ne[0] != in_c)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "fused up conv: weight has %lld input channels, the image %lld",
                                     (long long)W->ne[0], (long long)in_c);
    /* one CONV2D_BWD_DATA node (the data gradient of a stride-2 conv whose kernel [in, out, 4, 4]
     * maps out channels to in channels): the backend forms its columns in bounded chunks, where a
     * GEMM + COL2IM pair of nodes held them whole, 4x the output (256 MiB at 1024 px) */
    return alaei_conv2d_bwd_data(g, x, alaei_blk_fused_kernel(g, w), 2 * h, 2 * wd, 2, 1, 1.0);
}

/* The reference's stride-2 conv with the fused 4x4 kernel of w [out, in, 3, 3] times 1/4
 * (equal to a 3x3 conv followed by 2x2 average pooling). */
int32_t alaei_blk_conv_down_fused(alaei_graph *g, int32_t x, int32_t w) {
    return alaei_conv2d(g, x, alaei_blk_fused_kernel(g, w), -1, 0.25, 2, 1);
}

/* 1x1 conv as one batched GEMM (no IM2COL copy): w [out, in, 1, 1], bias [out] or -1 */
int32_t alaei_blk_conv1x1(alaei_graph *g, int32_t x, int32_t w, int32_t bias) {
    const alaei_node *X = node_of(g, x), *W = node_of(g, w);
    if (!X || !W) return -1;
    int64_t n = X->ne[0], in_c = X->ne[1], h = X->ne[2], wd = X->ne[3], out_c = W->ne[0];
    if (W->ne[1] != in_c || W->ne[2] != 1 || W->ne[3] != 1)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "conv1x1: weight [%lld, %lld, %lld, %lld] for %lld channels",
                                     (long long)W->ne[0], (long long)W->ne[1], (long long)W->ne[2],
                                     (long long)W->ne[3], (long long)in_c);
    int64_t w_ne[4] = {1, 1, out_c, in_c}, x_ne[4] = {1, n, in_c, h * wd}, y_ne[4] = {n, out_c, h, wd};
    int32_t y = alaei_gemm(g, alaei_reshape4(g, w, w_ne), alaei_reshape4(g, x, x_ne), 0, 0, 1.0);
    y = alaei_reshape4(g, y, y_ne);
    if (bias < 0) return y;
    int64_t b_ne[4] = {1, out_c, 1, 1};
    return alaei_add(g, y, alaei_reshape4(g, bias, b_ne));
}

int32_t alaei_blk_lerp(alaei_graph *g, int32_t a, int32_t b, int32_t t) {
    return alaei_add(g, a, alaei_mul(g, t, alaei_sub(g, b, a)));
}

/* The reference's minibatch_stddev_layer (not used by the default networks): groups of
 * G = min(group_size, N) samples (sample n = g M + m, padded with the first samples when G does
 * not divide N); s[m] = mean over C, H, W of sqrt(var over g + 1e-8); sample n gets the extra
 * channel s[n mod M]. */
int32_t alaei_blk_minibatch_stddev(alaei_graph *g, int32_t x, int32_t group_size) {
    const alaei_node *X = node_of(g, x);
    if (!X) return -1;
    int64_t n = X->ne[0], c = X->ne[1], h = X->ne[2], w = X->ne[3];
    int64_t groups = group_size < n ? group_size : n;
    if (groups < 1) return alaei_graph_set_error(g, ALAE_E_INVALID_ARG, "minibatch stddev: group size %d", group_size);
    int32_t padded = x;
    if (n % groups) padded = alaei_concat(g, x, alaei_slice(g, x, 0, 0, groups - n % groups), 0);
    int64_t total = n + (n % groups ? groups - n % groups : 0), m = total / groups;
    int64_t grouped_ne[4] = {1, groups, m, c * h * w}, per_m[4] = {1, 1, m, c * h * w}, s_ne[4] = {1, 1, m, 1};
    int32_t y = alaei_reshape4(g, padded, grouped_ne);
    int32_t mean = alaei_scale_shift(g, alaei_reduce_sum(g, y, per_m), 1.0 / (double)groups, 0.0);
    int32_t centered = alaei_sub(g, y, mean);
    int32_t var = alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, centered), per_m),
                                    1.0 / (double)groups, 1e-8);
    int32_t s = alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQRT, var), s_ne),
                                  1.0 / (double)(c * h * w), 0.0);
    int64_t m_ne[4] = {1, m, 1, 1}, all_ne[4] = {groups, m, 1, h * w}, map_ne[4] = {total, 1, h, w};
    int32_t maps = alaei_reshape4(g, alaei_broadcast(g, alaei_reshape4(g, s, m_ne), all_ne), map_ne);
    if (total != n) maps = alaei_slice(g, maps, 0, 0, n);
    return alaei_concat(g, x, maps, 1);
}
