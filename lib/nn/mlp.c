/* The MLP ALAE (docs/alae-reference.md section 2): its parameters, G and E (F and D are shared with
 * StyleALAE, lib/nn/net.c).
 *
 * G: L -> hidden -> hidden (leaky ReLU g_slope) -> C*net*net linear output, viewed as an image
 *    and resized (nearest) to the image size when it differs.
 * E: resize to the net size when needed, flatten, C*net*net -> hidden -> hidden (leaky ReLU
 *    e_slope) -> L with leaky ReLU e_out_slope on w.
 * D: d_layers x (L->L linear), no activation; the logit is output unit 0.
 * Weights are stored already scaled (equalised learning rate, implicit mode): the forward pass
 * uses them as they are and the optimizer multiplies each step by lr_coef. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define SQRT2 1.4142135623730951

alae_status alaei_mlp_declare_params(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    int64_t L = c->latent_dim, H = c->hidden, P = (int64_t)c->channels * c->net_size * c->net_size;
    char name[64], ref[96];
    alae_status s = ALAE_OK;
    for (int i = 0; s == ALAE_OK && i < c->mapping_layers; i++) {
        snprintf(name, sizeof name, "F.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_f.map_blocks.%d.fc", i);
        s = alaei_model_add_linear(m, ALAE_PART_F, name, ref, L, L, SQRT2, 0.1);
    }
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_G, "G.fc.1", "decoder.fc_1", L, H, SQRT2, 1.0);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_G, "G.fc.2", "decoder.fc_2", H, H, SQRT2, 1.0);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_G, "G.fc.3", "decoder.fc_3", H, P, SQRT2, 1.0);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_E, "E.fc.1", "encoder.fc_1", P, H, SQRT2, 1.0);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_E, "E.fc.2", "encoder.fc_2", H, H, SQRT2, 1.0);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_E, "E.fc.3", "encoder.fc_3", H, L, SQRT2, 1.0);
    for (int i = 0; s == ALAE_OK && i < c->d_layers; i++) {
        snprintf(name, sizeof name, "D.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_d.map_blocks.%d", i);
        s = alaei_model_add_linear(m, ALAE_PART_D, name, ref, L, L, SQRT2, 0.1);
    }
    return s;
}

int64_t alaei_nearest_source(int64_t in, int64_t out, int64_t d) {
    float scale = (float)in / (float)out;
    int64_t s = (int64_t)floorf((float)d * scale);
    return s > in - 1 ? in - 1 : s;
}

/* Nearest-neighbour resize as a 0/1 matrix R [out, in]: R[d][s] = 1 for s = the source of d. */
static alae_status make_resize_matrix(alae_model *m, int64_t out, int64_t in, void **dst) {
    float *host = calloc((size_t)(out * in), sizeof(float));
    if (!host) return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for a resize table");
    for (int64_t d = 0; d < out; d++) host[d * in + alaei_nearest_source(in, out, d)] = 1.0f;
    alae_context *ctx = m->ctx;
    alae_status st = alaei_device_alloc(ctx, (size_t)(out * in), dst);
    if (st == ALAE_OK) st = alaei_device_upload(ctx, *dst, host, (size_t)(out * in));
    free(host);
    return st;
}

alae_status alaei_mlp_create_buffers(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    if (c->arch != ALAE_ARCH_MLP || c->net_size == c->image_size) return ALAE_OK;
    alae_status s = make_resize_matrix(m, c->image_size, c->net_size, &m->resize_up);
    if (s == ALAE_OK) s = make_resize_matrix(m, c->net_size, c->image_size, &m->resize_down);
    return s;
}

/* ---- graph building ---- */

/* Resizes every square image plane with R [out, in]: y = R x R^T, computed as two products
 * with R as the shared right operand (each one large matrix product over all planes) and two
 * transposes, rather than as one small product per plane. */
static int32_t resize(alaei_net *net, int32_t x, int32_t r) {
    static const int32_t swap_hw[4] = {0, 1, 3, 2};
    int32_t cols = alaei_gemm(net->g, x, r, 0, 1, 1.0);                                   /* x R^T */
    int32_t rows = alaei_gemm(net->g, alaei_permute(net->g, cols, swap_hw), r, 0, 1, 1.0); /* (x R^T)^T R^T */
    return alaei_permute(net->g, rows, swap_hw);
}

static int32_t resize_node(alaei_net *net, int up) {
    const alae_model_config *c = &net->m->cfg;
    int32_t *node = up ? &net->resize_up_node : &net->resize_down_node;
    if (*node < 0) {
        int64_t shape[2] = {up ? c->image_size : c->net_size, up ? c->net_size : c->image_size};
        *node = alaei_input(net->g, 2, shape, up ? "resize_up" : "resize_down");
    }
    return *node;
}

int32_t alaei_mlp_G(alaei_net *net, int32_t w) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    int64_t n = alaei_graph_numel(g, w) / c->latent_dim;
    int32_t h = alaei_net_linear_leaky(net, w, "G.fc.1", c->g_slope);
    h = alaei_net_linear_leaky(net, h, "G.fc.2", c->g_slope);
    h = alaei_net_linear(net, h, "G.fc.3"); /* no activation */
    int64_t img[4] = {n, c->channels, c->net_size, c->net_size};
    h = alaei_reshape4(g, h, img);
    return c->net_size == c->image_size ? h : resize(net, h, resize_node(net, 1));
}

int32_t alaei_mlp_E(alaei_net *net, int32_t x) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    const alaei_node *xn = alaei_graph_node(g, x);
    if (!xn) return -1;
    int64_t n = xn->ne[0];
    if (c->net_size != c->image_size) x = resize(net, x, resize_node(net, 0));
    int64_t flat[2] = {n, (int64_t)c->channels * c->net_size * c->net_size};
    int32_t h = alaei_reshape(g, x, 2, flat);
    h = alaei_net_linear_leaky(net, h, "E.fc.1", c->e_slope);
    h = alaei_net_linear_leaky(net, h, "E.fc.2", c->e_slope);
    return alaei_net_linear_leaky(net, h, "E.fc.3", c->e_out_slope);
}
