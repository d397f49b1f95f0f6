/* The MLP ALAE (alae-reference.md section 2): parameters and the four networks as graphs.
 *
 * F: pixel norm, then mapping_layers x (L->L linear, leaky ReLU 0.2), the last included.
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

static alaei_param *add_param(alae_model *m, int32_t part, const char *name, const char *ref_name,
                              int64_t rows, int64_t cols, double init_std, double lr_coef) {
    alaei_param *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->ref_name, sizeof p->ref_name, "%s", ref_name);
    p->part = part;
    p->ndim = cols > 0 ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols > 0 ? cols : 0;
    p->numel = rows * (cols > 0 ? cols : 1);
    p->init_std = init_std;
    p->lr_coef = lr_coef;
    return p;
}

/* A linear layer: weight [out, in] and bias [out]. */
static void add_linear(alae_model *m, int32_t part, const char *name, const char *ref_name, int64_t in,
                       int64_t out, double lrmul) {
    char n[64], r[96];
    double std = SQRT2 / sqrt((double)in);
    snprintf(n, sizeof n, "%s.weight", name);
    snprintf(r, sizeof r, "%s.weight", ref_name);
    add_param(m, part, n, r, out, in, std, std * lrmul);
    snprintf(n, sizeof n, "%s.bias", name);
    snprintf(r, sizeof r, "%s.bias", ref_name);
    add_param(m, part, n, r, out, 0, 0.0, lrmul);
}

alae_status alaei_mlp_declare_params(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    int32_t count = 2 * (c->mapping_layers + 3 + 3 + c->d_layers);
    m->params = calloc((size_t)count, sizeof *m->params);
    if (!m->params) return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for %d parameters", (int)count);
    int64_t L = c->latent_dim, H = c->hidden, P = (int64_t)c->channels * c->net_size * c->net_size;
    char name[64], ref[96];
    for (int i = 0; i < c->mapping_layers; i++) {
        snprintf(name, sizeof name, "F.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_f.map_blocks.%d.fc", i);
        add_linear(m, ALAE_PART_F, name, ref, L, L, 0.1);
    }
    add_linear(m, ALAE_PART_G, "G.fc.1", "decoder.fc_1", L, H, 1.0);
    add_linear(m, ALAE_PART_G, "G.fc.2", "decoder.fc_2", H, H, 1.0);
    add_linear(m, ALAE_PART_G, "G.fc.3", "decoder.fc_3", H, P, 1.0);
    add_linear(m, ALAE_PART_E, "E.fc.1", "encoder.fc_1", P, H, 1.0);
    add_linear(m, ALAE_PART_E, "E.fc.2", "encoder.fc_2", H, H, 1.0);
    add_linear(m, ALAE_PART_E, "E.fc.3", "encoder.fc_3", H, L, 1.0);
    for (int i = 0; i < c->d_layers; i++) {
        snprintf(name, sizeof name, "D.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_d.map_blocks.%d", i);
        add_linear(m, ALAE_PART_D, name, ref, L, L, 0.1);
    }
    return ALAE_OK;
}

/* Nearest-neighbour resize as a 0/1 matrix R [out, in]: R[d][s] = 1 for
 * s = floor(d * (float)in / out), computed in float32 as PyTorch's F.interpolate does. */
static alae_status make_resize_matrix(alae_model *m, int64_t out, int64_t in, void **dst) {
    float *host = calloc((size_t)(out * in), sizeof(float));
    if (!host) return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for a resize table");
    float scale = (float)in / (float)out;
    for (int64_t d = 0; d < out; d++) {
        int64_t s = (int64_t)floorf((float)d * scale);
        if (s > in - 1) s = in - 1;
        host[d * in + s] = 1.0f;
    }
    alae_context *ctx = m->ctx;
    alae_status st = ctx->backend->buf_alloc(ctx->bctx, (size_t)(out * in) * (size_t)ctx->backend->elem_size, dst);
    if (st == ALAE_OK) st = ctx->backend->write_f32(ctx->bctx, *dst, host, (size_t)(out * in));
    free(host);
    return st;
}

alae_status alaei_mlp_create_buffers(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    if (c->net_size == c->image_size) return ALAE_OK;
    alae_status s = make_resize_matrix(m, c->image_size, c->net_size, &m->resize_up);
    if (s == ALAE_OK) s = make_resize_matrix(m, c->net_size, c->image_size, &m->resize_down);
    return s;
}

/* ---- graph building ---- */

alae_status alaei_net_init(alaei_net *net, const alae_model *m) {
    memset(net, 0, sizeof *net);
    net->m = m;
    net->g = alaei_graph_create();
    net->param_node = malloc((size_t)m->n_params * sizeof(int32_t));
    if (!net->g || !net->param_node) {
        alaei_net_free(net);
        return alaei_fail(ALAE_E_NOMEM, "alae_model", "no memory for a graph");
    }
    for (int32_t i = 0; i < m->n_params; i++) net->param_node[i] = -1;
    net->resize_up_node = net->resize_down_node = -1;
    return ALAE_OK;
}

void alaei_net_free(alaei_net *net) {
    alaei_graph_destroy(net->g);
    free(net->param_node);
    net->g = NULL;
    net->param_node = NULL;
}

int32_t alaei_net_param(alaei_net *net, int32_t i) {
    if (net->param_node[i] < 0) {
        const alaei_param *p = &net->m->params[i];
        net->param_node[i] = alaei_input(net->g, p->ndim, p->shape, p->name);
    }
    return net->param_node[i];
}

alae_status alaei_net_bind(const alaei_net *net, alaei_plan *plan, void *const *params) {
    const alae_model *m = net->m;
    for (int32_t i = 0; i < m->n_params; i++) {
        int32_t node = net->param_node[i];
        if (node >= 0) {
            alae_status s = alaei_plan_bind(plan, node, params ? params[i] : m->params[i].data);
            if (s != ALAE_OK) return s;
        }
    }
    alae_status s = ALAE_OK;
    if (net->resize_up_node >= 0) s = alaei_plan_bind(plan, net->resize_up_node, m->resize_up);
    if (s == ALAE_OK && net->resize_down_node >= 0) s = alaei_plan_bind(plan, net->resize_down_node, m->resize_down);
    return s;
}

static int32_t find_param(const alae_model *m, const char *name) {
    for (int32_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

/* x [N, in] -> x W^T + b with the parameters "<layer>.weight" and "<layer>.bias" */
static int32_t linear(alaei_net *net, int32_t x, const char *layer) {
    char name[64];
    snprintf(name, sizeof name, "%s.weight", layer);
    int32_t wi = find_param(net->m, name);
    snprintf(name, sizeof name, "%s.bias", layer);
    int32_t bi = find_param(net->m, name);
    if (wi < 0 || bi < 0) return alaei_graph_set_error(net->g, ALAE_E_INTERNAL, "no layer '%s'", layer);
    return alaei_linear(net->g, x, alaei_net_param(net, wi), alaei_net_param(net, bi), 1.0);
}

int32_t alaei_net_F(alaei_net *net, int32_t z) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    int64_t n = alaei_graph_numel(g, z) / c->latent_dim;
    int64_t row[4] = {1, 1, n, 1};
    /* pixel norm: z / sqrt(mean(z^2) + 1e-8) over the features */
    int32_t mean_sq = alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, z), row),
                                        1.0 / c->latent_dim, 1e-8);
    int32_t h = alaei_mul(g, z, alaei_unary(g, ALAEI_OP_RSQRT, mean_sq));
    char layer[32];
    for (int i = 0; i < c->mapping_layers; i++) {
        snprintf(layer, sizeof layer, "F.dense.%d", i);
        h = alaei_leaky_relu(g, linear(net, h, layer), 0.2);
    }
    return h;
}

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

int32_t alaei_net_G(alaei_net *net, int32_t w) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    int64_t n = alaei_graph_numel(g, w) / c->latent_dim;
    int32_t h = alaei_leaky_relu(g, linear(net, w, "G.fc.1"), c->g_slope);
    h = alaei_leaky_relu(g, linear(net, h, "G.fc.2"), c->g_slope);
    h = linear(net, h, "G.fc.3"); /* no activation */
    int64_t img[4] = {n, c->channels, c->net_size, c->net_size};
    h = alaei_reshape4(g, h, img);
    return c->net_size == c->image_size ? h : resize(net, h, resize_node(net, 1));
}

int32_t alaei_net_E(alaei_net *net, int32_t x) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    const alaei_node *xn = alaei_graph_node(g, x);
    if (!xn) return -1;
    int64_t n = xn->ne[0];
    if (c->net_size != c->image_size) x = resize(net, x, resize_node(net, 0));
    int64_t flat[2] = {n, (int64_t)c->channels * c->net_size * c->net_size};
    int32_t h = alaei_reshape(g, x, 2, flat);
    h = alaei_leaky_relu(g, linear(net, h, "E.fc.1"), c->e_slope);
    h = alaei_leaky_relu(g, linear(net, h, "E.fc.2"), c->e_slope);
    return alaei_leaky_relu(g, linear(net, h, "E.fc.3"), c->e_out_slope);
}

int32_t alaei_net_D(alaei_net *net, int32_t w) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    int64_t n = alaei_graph_numel(g, w) / c->latent_dim;
    int32_t h = w;
    char layer[32];
    for (int i = 0; i < c->d_layers; i++) {
        snprintf(layer, sizeof layer, "D.dense.%d", i);
        h = linear(net, h, layer); /* no activation between D's layers (the reference's choice) */
    }
    int64_t logit[1] = {n};
    return alaei_reshape(g, alaei_slice(g, h, 3, 0, 1), 1, logit);
}
