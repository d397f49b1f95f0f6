/* Model files: saving and loading the parameters, the configuration and the inference settings
 * as safetensors (docs/checkpoint-format.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_min.h"
#include "io/safetensors.h"
#include "model_internal.h"

/* ---- files ---- */

#define MODEL_FORMAT "1"

alae_status alaei_model_save_params(const alae_model *m, void *const *params, const char *path, const char *func) {
    alae_context *ctx = m->ctx;
    uint64_t total = alaei_model_param_numel(m, ALAE_PART_ALL);
    float *host = malloc((size_t)total * sizeof(float));
    alaei_st_writer *w = NULL;
    alae_status s = host ? alaei_st_writer_create(&w) : alaei_fail(ALAE_E_NOMEM, func, "no memory to save %llu parameters",
                                                                  (unsigned long long)total);
    float *at = host;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        const alaei_param *p = &m->params[i];
        s = alaei_device_download(ctx, at, params ? params[i] : p->data, (size_t)p->numel);
        if (s == ALAE_OK) s = alaei_st_writer_add(w, p->name, ALAEI_ST_F32, p->ndim, p->shape, at);
        at += p->numel;
    }
    int64_t avg_shape[1] = {m->cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_writer_add(w, "dlatent_avg", ALAEI_ST_F32, 1, avg_shape, m->dlatent_avg);
    char json[1024], inference[128];
    alaei_config_to_json(&m->cfg, json, sizeof json);
    snprintf(inference, sizeof inference, "{\"lod\":%d,\"blend\":%.17g}", (int)m->lod, m->blend);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.format", MODEL_FORMAT);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.kind", "model");
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.library", ALAE_VERSION_STRING);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.arch", json);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.inference", inference);
    if (s == ALAE_OK) s = alaei_st_writer_save(w, path);
    alaei_st_writer_destroy(w);
    free(host);
    return s;
}

ALAE_API alae_status alae_model_save(const alae_model *m, const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(path_utf8);
    return alaei_model_save_params(m, NULL, path_utf8, __func__);
}

alae_status alaei_file_config(const alaei_st_file *f, const char *kind, alae_model_config *cfg, const char *func) {
    const char *format = alaei_st_metadata_get(f, "alae.format");
    const char *file_kind = alaei_st_metadata_get(f, "alae.kind");
    const char *arch = alaei_st_metadata_get(f, "alae.arch");
    if (!format || !file_kind || !arch)
        return alaei_fail(ALAE_E_FORMAT, func, "not a libalae file: the alae.* metadata is missing");
    if (strcmp(format, MODEL_FORMAT) != 0)
        return alaei_fail(ALAE_E_VERSION, func, "file format %s is not supported (this library reads %s)", format,
                          MODEL_FORMAT);
    if (strcmp(file_kind, kind) != 0)
        return alaei_fail(ALAE_E_FORMAT, func, "the file holds a '%s', not a '%s'", file_kind, kind);
    return alaei_config_from_json(arch, cfg, func);
}

/* Reads every parameter (prefix + name) of m from f one tensor at a time and checks that it is
 * finite; with upload, writes it to dst[i] (NULL dst: the model's own memory). */
static alae_status read_params(const alaei_st_file *f, const alae_model *m, const char *prefix, void *const *dst,
                               int upload, const char *func) {
    int64_t largest = 1;
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->params[i].numel > largest) largest = m->params[i].numel;
    float *host = malloc((size_t)largest * sizeof(float));
    if (!host) return alaei_fail(ALAE_E_NOMEM, func, "no memory");
    alae_status s = ALAE_OK;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        const alaei_param *p = &m->params[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        s = alaei_st_get_f32(f, name, p->ndim, p->shape, host);
        if (s == ALAE_OK) s = alaei_check_finite(host, (size_t)p->numel, name, func);
        if (s == ALAE_OK && upload) s = alaei_device_upload(m->ctx, dst ? dst[i] : p->data, host, (size_t)p->numel);
    }
    free(host);
    return s;
}

alae_status alaei_load_params(const alaei_st_file *f, const alae_model *m, const char *prefix, void *const *dst,
                              const char *func) {
    return read_params(f, m, prefix, dst, 1, func);
}

/* The optional "alae.inference" metadata: {"lod": L, "blend": B}, read with the strict JSON
 * parser (both keys numbers at the top level, L a level of the model, B in [0, 1], 1 at L 0). */
static alae_status restore_inference_settings(const alaei_st_file *f, alae_model *m, const char *func) {
    const char *json = alaei_st_metadata_get(f, "alae.inference");
    if (!json) return ALAE_OK;
    alaei_json_doc *doc = NULL;
    alaei_json_error err;
    double lod = NAN, blend = NAN;
    if (alaei_json_parse(json, strlen(json), 2, 0, &doc, &err) == ALAE_OK) {
        const alaei_json *root = alaei_json_root(doc);
        lod = alaei_json_get_number(root, "lod", NAN);
        blend = alaei_json_get_number(root, "blend", NAN);
    }
    alaei_json_free(doc);
    int levels = alaei_layer_count(&m->cfg);
    if (!(lod >= 0 && lod < levels && lod == floor(lod)) || !(blend >= 0 && blend <= 1) || (lod == 0 && blend < 1))
        return alaei_fail(ALAE_E_FORMAT, func, "the alae.inference metadata '%s' is malformed or out of range", json);
    m->lod = (int32_t)lod;
    m->blend = blend;
    return ALAE_OK;
}

/* Every parameter of the declared model m is in f (prefix + name) as floats of its shape: checked
 * before anything is allocated, so a small file cannot make the loader allocate a huge model. */
alae_status alaei_check_file_params(const alaei_st_file *f, const alae_model *m, const char *prefix, const char *func) {
    for (int32_t i = 0; i < m->n_params; i++) {
        const alaei_param *p = &m->params[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const alaei_st_tensor *t = alaei_st_find(f, name);
        int float_type = t && (t->dtype == ALAEI_ST_F32 || t->dtype == ALAEI_ST_F64 || t->dtype == ALAEI_ST_F16 ||
                               t->dtype == ALAEI_ST_BF16);
        int ok = float_type && t->ndim == p->ndim;
        for (int32_t d = 0; ok && d < p->ndim; d++) ok = t->shape[d] == p->shape[d];
        if (!ok) {
            char want[96];
            int k = snprintf(want, sizeof want, "[");
            for (int32_t d = 0; d < p->ndim; d++)
                k += snprintf(want + k, sizeof want - (size_t)k, "%s%lld", d ? "," : "", (long long)p->shape[d]);
            snprintf(want + k, sizeof want - (size_t)k, "]");
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s' is %s; the configuration needs a float tensor %s", name,
                              t ? "of another type or shape" : "missing", want);
        }
    }
    return ALAE_OK;
}

alae_status alaei_check_file_finite(const alaei_st_file *f, const alae_model *m, const char *prefix, const char *func) {
    return read_params(f, m, prefix, NULL, 0, func);
}

ALAE_API alae_status alae_model_load(alae_context *ctx, const char *path_utf8, alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(out);
    alaei_st_file *f;
    alae_status s = alaei_st_open_lazy(path_utf8, &f); /* tensors read one at a time */
    if (s != ALAE_OK) return s;
    alae_model_config cfg;
    alae_model *m = NULL;
    s = alaei_file_config(f, "model", &cfg, __func__);
    if (s == ALAE_OK) s = alaei_model_declare(&cfg, &m);
    if (s == ALAE_OK) s = alaei_check_file_params(f, m, "", __func__);
    if (s == ALAE_OK) s = alaei_model_allocate_params(ctx, m);
    if (s == ALAE_OK) s = alaei_load_params(f, m, "", NULL, __func__);
    int64_t avg_shape[1] = {cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_get_f32(f, "dlatent_avg", 1, avg_shape, m->dlatent_avg);
    if (s == ALAE_OK) s = alaei_check_finite(m->dlatent_avg, (size_t)cfg.latent_dim, "dlatent_avg", __func__);
    if (s == ALAE_OK) s = restore_inference_settings(f, m, __func__);
    alaei_st_free(f);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        /* name the file in the message */
        char why[400];
        snprintf(why, sizeof why, "%s", alae_last_error());
        return alaei_fail(s, __func__, "%s: %s", path_utf8, why);
    }
    *out = m;
    return ALAE_OK;
}
