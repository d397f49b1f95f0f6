/* Graph building over a model's parameters, and the two networks both architectures share:
 * the mapping F (z -> w) and the discriminator D (w -> logit). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

alae_status alaei_net_init(alaei_net *net, const alae_model *m) {
    memset(net, 0, sizeof *net);
    net->m = m;
    net->g = alaei_graph_create();
    net->param_node = malloc((size_t)(m->n_params > 0 ? m->n_params : 1) * sizeof(int32_t));
    if (!net->g || !net->param_node) {
        alaei_net_free(net);
        return alaei_fail(ALAE_E_NOMEM, "alae_model", "no memory for a graph");
    }
    for (int32_t i = 0; i < m->n_params; i++) net->param_node[i] = -1;
    net->resize_up_node = net->resize_down_node = -1;
    net->lod = alaei_layer_count(&m->cfg) - 1;
    net->blend = -1;
    net->noise_mode = ALAE_NOISE_PER_SAMPLE;
    return ALAE_OK;
}

void alaei_net_free(alaei_net *net) {
    alaei_graph_destroy(net->g);
    free(net->param_node);
    free(net->taps);
    net->g = NULL;
    net->param_node = NULL;
    net->taps = NULL;
    net->n_taps = net->cap_taps = 0;
}

void alaei_net_tap(alaei_net *net, int32_t node, const char *fmt, ...) {
    if (!net->taps_on || node < 0) return;
    if (net->n_taps == net->cap_taps) {
        int32_t cap = net->cap_taps ? 2 * net->cap_taps : 64;
        alaei_tap *taps = realloc(net->taps, (size_t)cap * sizeof *taps);
        if (!taps) {
            alaei_graph_set_error(net->g, ALAE_E_NOMEM, "no memory for %d named nodes", (int)cap);
            return;
        }
        net->taps = taps;
        net->cap_taps = cap;
    }
    alaei_tap *t = &net->taps[net->n_taps++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->node = node;
}

int32_t alaei_net_find_tap(const alaei_net *net, const char *name) {
    for (int32_t i = net->n_taps - 1; i >= 0; i--)
        if (!strcmp(net->taps[i].name, name)) return net->taps[i].node;
    return -1;
}

int32_t alaei_net_param(alaei_net *net, int32_t i) {
    if (i < 0 || i >= net->m->n_params)
        return alaei_graph_set_error(net->g, ALAE_E_INTERNAL, "parameter index %d is out of range", (int)i);
    if (net->param_node[i] < 0) {
        const alaei_param *p = &net->m->params[i];
        net->param_node[i] = alaei_input(net->g, p->ndim, p->shape, p->name);
    }
    return net->param_node[i];
}

int32_t alaei_net_param_named(alaei_net *net, const char *name) {
    const alae_model *m = net->m;
    for (int32_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return alaei_net_param(net, i);
    return alaei_graph_set_error(net->g, ALAE_E_INTERNAL, "the model has no parameter '%s'", name);
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

/* (slope NAN: no activation) */
static int32_t linear_act(alaei_net *net, int32_t x, const char *layer, double slope) {
    char name[80];
    snprintf(name, sizeof name, "%s.weight", layer);
    int32_t w = alaei_net_param_named(net, name);
    snprintf(name, sizeof name, "%s.bias", layer);
    int32_t b = alaei_net_param_named(net, name);
    return isnan(slope) ? alaei_linear(net->g, x, w, b, 1.0) : alaei_linear_leaky(net->g, x, w, b, 1.0, slope);
}

int32_t alaei_net_linear(alaei_net *net, int32_t x, const char *layer) { return linear_act(net, x, layer, NAN); }

int32_t alaei_net_linear_leaky(alaei_net *net, int32_t x, const char *layer, double slope) {
    return linear_act(net, x, layer, slope);
}

/* F: pixel norm, then mapping_layers x (linear, leaky ReLU 0.2), the last layer included. */
int32_t alaei_net_F(alaei_net *net, int32_t z) {
    const alae_model_config *c = &net->m->cfg;
    int32_t h = alaei_blk_pixel_norm(net->g, z);
    char layer[32];
    for (int i = 0; i < c->mapping_layers; i++) {
        snprintf(layer, sizeof layer, "F.dense.%d", i);
        h = alaei_net_linear_leaky(net, h, layer, 0.2);
        alaei_net_tap(net, h, "mapping_f.map_blocks.%d", i);
    }
    return h;
}

/* D: d_layers linear layers with no activation between them (the reference's choice). The
 * logit is output unit 0 (MLP, MappingDNoStyle) or unit L of the 2L-wide last layer
 * (StyleALAE, MappingD). */
int32_t alaei_net_D(alaei_net *net, int32_t w) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    int64_t n = alaei_graph_numel(g, w) / c->latent_dim;
    int32_t h = w;
    char layer[32];
    for (int i = 0; i < c->d_layers; i++) {
        snprintf(layer, sizeof layer, "D.dense.%d", i);
        h = alaei_net_linear(net, h, layer);
        alaei_net_tap(net, h, "mapping_d.map_blocks.%d", i);
    }
    int64_t logit_unit = c->arch == ALAE_ARCH_STYLE ? c->latent_dim : 0;
    int64_t logit[1] = {n};
    return alaei_reshape(g, alaei_slice(g, h, 3, logit_unit, 1), 1, logit);
}

int32_t alaei_net_G(alaei_net *net, int32_t w) {
    return net->m->cfg.arch == ALAE_ARCH_STYLE ? alaei_style_G(net, w, 0) : alaei_mlp_G(net, w);
}

int32_t alaei_net_G_styles(alaei_net *net, int32_t styles) {
    if (net->m->cfg.arch == ALAE_ARCH_STYLE) return alaei_style_G(net, styles, 1);
    const alaei_node *s = alaei_graph_node(net->g, styles);
    if (!s || alaei_graph_status(net->g) != ALAE_OK) return -1;
    int64_t w_shape[2] = {s->ne[1], s->ne[3]}; /* the MLP reads row 0 */
    return alaei_mlp_G(net, alaei_reshape(net->g, alaei_slice(net->g, styles, 2, 0, 1), 2, w_shape));
}

int32_t alaei_net_E(alaei_net *net, int32_t x) {
    return net->m->cfg.arch == ALAE_ARCH_STYLE ? alaei_style_E(net, x) : alaei_mlp_E(net, x);
}
