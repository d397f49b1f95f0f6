/* The model's parameter registry: declaring parameters (name, shape, initialiser, learning-rate
 * coefficient), allocating them on the context's device and drawing their initial values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

uint64_t alaei_model_param_numel(const alae_model *m, int32_t part_mask) {
    uint64_t n = 0;
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->params[i].part & part_mask) n += (uint64_t)m->params[i].numel;
    return n;
}

/* ---- parameter declaration ---- */

alaei_param *alaei_model_add_param(alae_model *m, int32_t part, const char *name, const char *ref_name, int32_t ndim,
                                   const int64_t *shape, double init_std, double init_value, double lr_coef) {
    if (m->n_params == m->cap_params) {
        int32_t cap = m->cap_params ? 2 * m->cap_params : 64;
        alaei_param *params = realloc(m->params, (size_t)cap * sizeof *params);
        if (!params) return NULL;
        m->params = params;
        m->cap_params = cap;
    }
    alaei_param *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->ref_name, sizeof p->ref_name, "%s", ref_name);
    p->part = part;
    p->ndim = ndim;
    p->numel = 1;
    for (int32_t d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->numel *= shape[d];
    }
    p->init_std = init_std;
    p->init_value = init_value;
    p->lr_coef = lr_coef;
    return p;
}

alae_status alaei_model_add_linear(alae_model *m, int32_t part, const char *name, const char *ref_name, int64_t in,
                                   int64_t out, double gain, double lrmul) {
    char n[64], r[96];
    double std = gain / sqrt((double)in);
    int64_t w_shape[2] = {out, in}, b_shape[1] = {out};
    snprintf(n, sizeof n, "%s.weight", name);
    snprintf(r, sizeof r, "%s.weight", ref_name);
    if (!alaei_model_add_param(m, part, n, r, 2, w_shape, std, 0.0, std * lrmul))
        return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for the parameter list");
    snprintf(n, sizeof n, "%s.bias", name);
    snprintf(r, sizeof r, "%s.bias", ref_name);
    if (!alaei_model_add_param(m, part, n, r, 1, b_shape, 0.0, 0.0, lrmul))
        return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for the parameter list");
    return ALAE_OK;
}

/* ---- allocation and initial values ---- */

/* Allocates (zeroed) memory for every declared parameter and the MLP's resize tables. */
alae_status alaei_model_allocate_params(alae_context *ctx, alae_model *m) {
    alae_status s = ALAE_OK;
    m->ctx = ctx;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        s = alaei_device_alloc(ctx, (size_t)p->numel, &p->data);
        if (s == ALAE_OK) s = alaei_device_fill(ctx, p->data, (size_t)p->numel, 0.0);
    }
    if (s == ALAE_OK) s = alaei_mlp_create_buffers(m);
    return s;
}

alae_status alaei_model_init_params(alae_model *m, uint64_t seed) {
    alae_context *ctx = m->ctx;
    uint64_t offset = 0;
    for (int32_t i = 0; i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        if (p->init_std == 0.0) { /* biases start at zero, StyleALAE's constant at one */
            alae_status s = alaei_device_fill(ctx, p->data, (size_t)p->numel, p->init_value);
            if (s != ALAE_OK) return s;
            continue;
        }
        alae_status s = alaei_device_normal(ctx, p->data, p->numel, seed, offset, 0.0, p->init_std);
        if (s != ALAE_OK) return s;
        offset += (uint64_t)p->numel;
    }
    return ALAE_OK;
}
