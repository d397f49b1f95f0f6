/* The public model API: creation and destruction, configuration, parameter counts and the
 * inference settings. The parameter registry is in model_params.c, the inference entry points in
 * model_infer.c, files in model_io.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* ---- creation ---- */

static void default_settings(alae_model *m) {
    m->lod = alaei_layer_count(&m->cfg) - 1;
    m->blend = 1.0;
    m->truncation_psi = 1.0;
    m->truncation_cutoff = 8;
    m->noise_mode = ALAE_NOISE_PER_SAMPLE;
}

alae_status alaei_model_declare(const alae_model_config *cfg, alae_model **out) {
    alae_status s = alaei_config_validate(cfg, "alae_model_create");
    if (s != ALAE_OK) return s;
    alae_model *m = calloc(1, sizeof *m);
    if (!m) return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for a model");
    m->cfg = *cfg;
    default_settings(m);
    m->dlatent_avg = calloc((size_t)cfg->latent_dim, sizeof(float));
    if (!m->dlatent_avg)
        s = alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory");
    else
        s = cfg->arch == ALAE_ARCH_STYLE ? alaei_style_declare_params(m) : alaei_mlp_declare_params(m);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        return s;
    }
    *out = m;
    return ALAE_OK;
}

alae_status alaei_model_alloc(alae_context *ctx, const alae_model_config *cfg, alae_model **out) {
    alae_model *m = NULL;
    alae_status s = alaei_model_declare(cfg, &m);
    if (s == ALAE_OK && (s = alaei_model_allocate_params(ctx, m)) != ALAE_OK) alae_model_destroy(m);
    if (s == ALAE_OK) *out = m;
    return s;
}

ALAE_API alae_status alae_model_create(alae_context *ctx, const alae_model_config *cfg, uint64_t seed,
                                       alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(cfg);
    ALAEI_CHECK_ARG(out);
    alaei_context_begin_call(ctx);
    alae_model *m;
    alae_status s = alaei_model_alloc(ctx, cfg, &m);
    if (s == ALAE_OK && (s = alaei_model_init_params(m, seed)) != ALAE_OK) alae_model_destroy(m);
    if (s == ALAE_OK) *out = m;
    return s;
}

ALAE_API void alae_model_destroy(alae_model *m) {
    if (!m) return;
    alae_context *ctx = m->ctx;
    alaei_plan_cache_clear(m);
    for (int32_t i = 0; ctx && i < m->n_params; i++)
        alaei_device_free(ctx, m->params[i].data);
    alaei_device_free(ctx, m->resize_up);
    alaei_device_free(ctx, m->resize_down);
    free(m->params);
    free(m->dlatent_avg);
    free(m);
}

ALAE_API alae_status alae_model_get_config(const alae_model *m, alae_model_config **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(out);
    alae_model_config *c = malloc(sizeof *c);
    if (!c) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    *c = m->cfg;
    *out = c;
    return ALAE_OK;
}

ALAE_API alae_status alae_model_param_count(const alae_model *m, int32_t part_mask, uint64_t *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(out);
    if (part_mask <= 0 || part_mask > ALAE_PART_ALL)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "part mask %d is not a combination of ALAE_PART_*",
                          (int)part_mask);
    *out = alaei_model_param_numel(m, part_mask);
    return ALAE_OK;
}

/* ---- inference settings ---- */

static alae_status apply_setting(alae_model *m, int32_t key, double v) {
    int32_t levels = alaei_layer_count(&m->cfg);
    int integer = isfinite(v) && v == floor(v);
    switch (key) {
    case ALAE_MODEL_LOD:
        if (!integer || v < 0 || v > levels - 1) break;
        if (v == 0 && m->blend < 1)
            return alaei_fail(ALAE_E_INVALID_ARG, "alae_model_set", "level 0 has nothing to fade in from: set BLEND to 1 first");
        m->lod = (int32_t)v;
        return ALAE_OK;
    case ALAE_MODEL_BLEND:
        if (!(v >= 0 && v <= 1)) break;
        if (v < 1 && m->lod == 0)
            return alaei_fail(ALAE_E_INVALID_ARG, "alae_model_set", "BLEND %g < 1 needs LOD > 0 (level 0 has no predecessor)", v);
        m->blend = v;
        return ALAE_OK;
    case ALAE_MODEL_TRUNCATION_PSI:
        if (!(v >= -2 && v <= 2)) break;
        m->truncation_psi = v;
        return ALAE_OK;
    case ALAE_MODEL_TRUNCATION_CUTOFF:
        if (!integer || v < 0 || v > alaei_style_count(&m->cfg)) break;
        m->truncation_cutoff = (int32_t)v;
        return ALAE_OK;
    case ALAE_MODEL_NOISE:
        if (v != ALAE_NOISE_OFF && v != ALAE_NOISE_PER_SAMPLE && v != ALAE_NOISE_BATCH_CONSTANT) break;
        m->noise_mode = (int32_t)v;
        return ALAE_OK;
    case ALAE_MODEL_STYLE_COUNT:
    case ALAE_MODEL_RESOLUTION:
    case ALAE_MODEL_LEVELS:
        return alaei_fail(ALAE_E_INVALID_ARG, "alae_model_set", "model key %d is read-only", (int)key);
    default:
        return alaei_fail_key("alae_model_set", key, ALAEI_KEYS_MODEL);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, "alae_model_set", "value %g is out of range for model key %d", v, (int)key);
}

ALAE_API alae_status alae_model_set(alae_model *m, int32_t key, double v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    alae_status s = apply_setting(m, key, v);
    if (s == ALAE_OK) alaei_plan_cache_drop_stale(m);
    return s;
}

ALAE_API alae_status alae_model_get(const alae_model *m, int32_t key, double *v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(v);
    switch (key) {
    case ALAE_MODEL_LOD: *v = m->lod; return ALAE_OK;
    case ALAE_MODEL_BLEND: *v = m->blend; return ALAE_OK;
    case ALAE_MODEL_TRUNCATION_PSI: *v = m->truncation_psi; return ALAE_OK;
    case ALAE_MODEL_TRUNCATION_CUTOFF: *v = m->truncation_cutoff; return ALAE_OK;
    case ALAE_MODEL_NOISE: *v = m->noise_mode; return ALAE_OK;
    case ALAE_MODEL_STYLE_COUNT: *v = alaei_style_count(&m->cfg); return ALAE_OK;
    case ALAE_MODEL_RESOLUTION: *v = (double)alaei_level_size(&m->cfg, m->lod); return ALAE_OK;
    case ALAE_MODEL_LEVELS: *v = alaei_layer_count(&m->cfg); return ALAE_OK;
    default: return alaei_fail_key(__func__, key, ALAEI_KEYS_MODEL);
    }
}
