/* The public model API: creation, inference entry points, parameter counts, save and load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "model_internal.h"

uint64_t alaei_model_param_numel(const alae_model *m, int32_t part_mask) {
    uint64_t n = 0;
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->params[i].part & part_mask) n += (uint64_t)m->params[i].numel;
    return n;
}

alae_status alaei_model_alloc(alae_context *ctx, const alae_model_config *cfg, alae_model **out) {
    alae_status s = alaei_config_validate(cfg, "alae_model_create");
    if (s != ALAE_OK) return s;
    alae_model *m = calloc(1, sizeof *m);
    if (!m) return alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory for a model");
    m->ctx = ctx;
    m->cfg = *cfg;
    m->dlatent_avg = calloc((size_t)cfg->latent_dim, sizeof(float));
    s = m->dlatent_avg ? alaei_mlp_declare_params(m) : alaei_fail(ALAE_E_NOMEM, "alae_model_create", "no memory");
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        s = ctx->backend->buf_alloc(ctx->bctx, (size_t)p->numel * (size_t)ctx->backend->elem_size, &p->data);
        if (s == ALAE_OK) s = ctx->backend->fill(ctx->bctx, p->data, (size_t)p->numel, 0.0);
    }
    if (s == ALAE_OK) s = alaei_mlp_create_buffers(m);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        return s;
    }
    *out = m;
    return ALAE_OK;
}

alae_status alaei_model_init_params(alae_model *m, uint64_t seed) {
    alae_context *ctx = m->ctx;
    uint64_t offset = 0;
    for (int32_t i = 0; i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        if (p->init_std == 0.0) continue; /* biases start at zero */
        alaei_op op = {0};
        op.code = ALAEI_OP_RNG_NORMAL;
        op.dst.data = p->data;
        op.dst.ne[0] = op.dst.ne[1] = op.dst.ne[2] = 1;
        op.dst.ne[3] = p->numel;
        op.ip[0] = (int32_t)(uint32_t)seed;
        op.ip[1] = (int32_t)(uint32_t)(seed >> 32);
        op.ip[2] = (int32_t)(uint32_t)offset;
        op.ip[3] = (int32_t)(uint32_t)(offset >> 32);
        op.fp[0] = 0.0;
        op.fp[1] = p->init_std;
        alae_status s = ctx->backend->run_op(ctx->bctx, &op);
        if (s != ALAE_OK) return s;
        offset += (uint64_t)p->numel;
    }
    return ALAE_OK;
}

ALAE_API alae_status alae_model_create(alae_context *ctx, const alae_model_config *cfg, uint64_t seed,
                                       alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(cfg);
    ALAEI_CHECK_ARG(out);
    alae_model *m;
    alae_status s = alaei_model_alloc(ctx, cfg, &m);
    if (s == ALAE_OK && (s = alaei_model_init_params(m, seed)) != ALAE_OK) alae_model_destroy(m);
    if (s == ALAE_OK) *out = m;
    return s;
}

ALAE_API void alae_model_destroy(alae_model *m) {
    if (!m) return;
    alae_context *ctx = m->ctx;
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->params[i].data) ctx->backend->buf_free(ctx->bctx, m->params[i].data);
    if (m->resize_up) ctx->backend->buf_free(ctx->bctx, m->resize_up);
    if (m->resize_down) ctx->backend->buf_free(ctx->bctx, m->resize_down);
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

/* ---- inference ---- */

typedef enum entry { ENTRY_MAP, ENTRY_GENERATE, ENTRY_ENCODE, ENTRY_DISCRIMINATE, ENTRY_RECONSTRUCT, ENTRY_SAMPLE } entry;

static const char *entry_name(entry e) {
    static const char *names[] = {"alae_model_map", "alae_model_generate", "alae_model_encode",
                                  "alae_model_discriminate", "alae_model_reconstruct", "alae_model_sample"};
    return names[e];
}

/* Checks a tensor is [n, dims...] for the given trailing dims (n taken from the input). */
static alae_status check_shape(const alae_tensor *t, const char *what, int64_t n, int32_t ndim,
                               const int64_t *dims, const char *func) {
    int ok = t->ndim == ndim + 1 && (n < 0 || t->shape[0] == n);
    for (int32_t i = 0; ok && i < ndim; i++) ok = t->shape[i + 1] == dims[i];
    if (ok) return ALAE_OK;
    char want[96], got[96];
    int k = snprintf(want, sizeof want, "[%s", n < 0 ? "N" : "");
    if (n >= 0) k += snprintf(want + k, sizeof want - (size_t)k, "%lld", (long long)n);
    for (int32_t i = 0; i < ndim; i++) k += snprintf(want + k, sizeof want - (size_t)k, ", %lld", (long long)dims[i]);
    snprintf(want + k, sizeof want - (size_t)k, "]");
    k = snprintf(got, sizeof got, "[");
    for (int32_t i = 0; i < t->ndim; i++)
        k += snprintf(got + k, sizeof got - (size_t)k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    snprintf(got + k, sizeof got - (size_t)k, "]");
    return alaei_fail(ALAE_E_SHAPE, func, "%s has shape %s, expected %s", what, got, want);
}

static alae_status run_entry(alae_model *m, entry e, const alae_tensor *in, alae_tensor *out) {
    const char *func = entry_name(e);
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(in);
    ALAEI_CHECK_ARG(out);
    if (in->ctx != m->ctx || out->ctx != m->ctx)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the tensors belong to another context than the model");
    const alae_model_config *c = &m->cfg;
    int64_t latent[1] = {c->latent_dim}, image[3] = {c->channels, c->image_size, c->image_size};
    int in_is_image = e == ENTRY_ENCODE || e == ENTRY_RECONSTRUCT;
    int out_is_image = e == ENTRY_GENERATE || e == ENTRY_RECONSTRUCT || e == ENTRY_SAMPLE;
    alae_status s = check_shape(in, "the input", -1, in_is_image ? 3 : 1, in_is_image ? image : latent, func);
    int64_t n = in->shape[0];
    if (s == ALAE_OK) {
        if (e == ENTRY_DISCRIMINATE)
            s = check_shape(out, "the output", n, 0, NULL, func);
        else
            s = check_shape(out, "the output", n, out_is_image ? 3 : 1, out_is_image ? image : latent, func);
    }
    if (s != ALAE_OK) return s;
    alaei_context_begin_call(m->ctx);
    alaei_net net;
    if ((s = alaei_net_init(&net, m)) != ALAE_OK) return s;
    int32_t x = alaei_input(net.g, in->ndim, in->shape, "input"), y = -1;
    switch (e) {
    case ENTRY_MAP: y = alaei_net_F(&net, x); break;
    case ENTRY_GENERATE: y = alaei_net_G(&net, x); break;
    case ENTRY_ENCODE: y = alaei_net_E(&net, x); break;
    case ENTRY_DISCRIMINATE: y = alaei_net_D(&net, x); break;
    case ENTRY_RECONSTRUCT: y = alaei_net_G(&net, alaei_net_E(&net, x)); break;
    case ENTRY_SAMPLE: y = alaei_net_G(&net, alaei_net_F(&net, x)); break;
    }
    alaei_plan *plan = NULL;
    s = alaei_graph_status(net.g) == ALAE_OK ? alaei_plan_create(m->ctx, net.g, 1, &y, &plan)
                                             : alaei_graph_fail_public(net.g, func);
    if (s == ALAE_OK) s = alaei_net_bind(&net, plan, NULL);
    if (s == ALAE_OK) s = alaei_plan_bind(plan, x, in->data);
    if (s == ALAE_OK) s = alaei_plan_run(plan);
    if (s == ALAE_OK) s = m->ctx->backend->copy(m->ctx->bctx, out->data, alaei_plan_data(plan, y), (size_t)out->numel);
    alaei_plan_destroy(plan);
    alaei_net_free(&net);
    return s;
}

ALAE_API alae_status alae_model_map(alae_model *m, const alae_tensor *z, alae_tensor *w) {
    return run_entry(m, ENTRY_MAP, z, w);
}
ALAE_API alae_status alae_model_generate(alae_model *m, const alae_tensor *w, alae_tensor *x) {
    return run_entry(m, ENTRY_GENERATE, w, x);
}
ALAE_API alae_status alae_model_encode(alae_model *m, const alae_tensor *x, alae_tensor *w) {
    return run_entry(m, ENTRY_ENCODE, x, w);
}
ALAE_API alae_status alae_model_discriminate(alae_model *m, const alae_tensor *w, alae_tensor *logit) {
    return run_entry(m, ENTRY_DISCRIMINATE, w, logit);
}
ALAE_API alae_status alae_model_reconstruct(alae_model *m, const alae_tensor *x, alae_tensor *x_rec) {
    return run_entry(m, ENTRY_RECONSTRUCT, x, x_rec);
}
ALAE_API alae_status alae_model_sample(alae_model *m, const alae_tensor *z, alae_tensor *x) {
    return run_entry(m, ENTRY_SAMPLE, z, x);
}

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
        s = ctx->backend->read_f32(ctx->bctx, at, params ? params[i] : p->data, (size_t)p->numel);
        if (s == ALAE_OK) s = alaei_st_writer_add(w, p->name, ALAEI_ST_F32, p->ndim, p->shape, at);
        at += p->numel;
    }
    int64_t avg_shape[1] = {m->cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_writer_add(w, "dlatent_avg", ALAEI_ST_F32, 1, avg_shape, m->dlatent_avg);
    char json[1024];
    alaei_config_to_json(&m->cfg, json, sizeof json);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.format", MODEL_FORMAT);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.kind", "model");
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.library", ALAE_VERSION_STRING);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.arch", json);
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

alae_status alaei_load_params(const alaei_st_file *f, const alae_model *m, const char *prefix, void *const *dst,
                              const char *func) {
    alae_context *ctx = m->ctx;
    int64_t largest = 0;
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
        if (s == ALAE_OK) s = ctx->backend->write_f32(ctx->bctx, dst ? dst[i] : p->data, host, (size_t)p->numel);
    }
    free(host);
    return s;
}

ALAE_API alae_status alae_model_load(alae_context *ctx, const char *path_utf8, alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(out);
    alaei_st_file *f;
    alae_status s = alaei_st_open(path_utf8, &f);
    if (s != ALAE_OK) return s;
    alae_model_config cfg;
    alae_model *m = NULL;
    s = alaei_file_config(f, "model", &cfg, __func__);
    if (s == ALAE_OK) s = alaei_model_alloc(ctx, &cfg, &m);
    if (s == ALAE_OK) s = alaei_load_params(f, m, "", NULL, __func__);
    int64_t avg_shape[1] = {cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_get_f32(f, "dlatent_avg", 1, avg_shape, m->dlatent_avg);
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
