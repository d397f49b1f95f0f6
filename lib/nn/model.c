/* The public model API: creation, inference settings and entry points, parameter counts, save
 * and load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_min.h"
#include "io/safetensors.h"
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

/* Allocates (zeroed) memory for every declared parameter and the MLP's resize tables. */
static alae_status allocate_params(alae_context *ctx, alae_model *m) {
    alae_status s = ALAE_OK;
    m->ctx = ctx;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        s = ctx->backend->buf_alloc(ctx->bctx, (size_t)p->numel * (size_t)ctx->backend->elem_size, &p->data);
        if (s == ALAE_OK) s = ctx->backend->fill(ctx->bctx, p->data, (size_t)p->numel, 0.0);
    }
    if (s == ALAE_OK) s = alaei_mlp_create_buffers(m);
    return s;
}

alae_status alaei_model_alloc(alae_context *ctx, const alae_model_config *cfg, alae_model **out) {
    alae_model *m;
    alae_status s = alaei_model_declare(cfg, &m);
    if (s == ALAE_OK && (s = allocate_params(ctx, m)) != ALAE_OK) alae_model_destroy(m);
    if (s == ALAE_OK) *out = m;
    return s;
}

alae_status alaei_model_init_params(alae_model *m, uint64_t seed) {
    alae_context *ctx = m->ctx;
    uint64_t offset = 0;
    for (int32_t i = 0; i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        if (p->init_std == 0.0) { /* biases start at zero, StyleALAE's constant at one */
            alae_status s = ctx->backend->fill(ctx->bctx, p->data, (size_t)p->numel, p->init_value);
            if (s != ALAE_OK) return s;
            continue;
        }
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
    for (int32_t i = 0; ctx && i < m->n_params; i++)
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

/* ---- inference settings ---- */

ALAE_API alae_status alae_model_set(alae_model *m, int32_t key, double v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    int32_t levels = alaei_layer_count(&m->cfg);
    int integer = isfinite(v) && v == floor(v);
    switch (key) {
    case ALAE_MODEL_LOD:
        if (!integer || v < 0 || v > levels - 1) break;
        if (v == 0 && m->blend < 1)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "level 0 has nothing to fade in from: set BLEND to 1 first");
        m->lod = (int32_t)v;
        return ALAE_OK;
    case ALAE_MODEL_BLEND:
        if (!(v >= 0 && v <= 1)) break;
        if (v < 1 && m->lod == 0)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "BLEND %g < 1 needs LOD > 0 (level 0 has no predecessor)", v);
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
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "model key %d is read-only", (int)key);
    default:
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown model key %d", (int)key);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "value %g is out of range for model key %d", v, (int)key);
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
    default: return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown model key %d", (int)key);
    }
}

/* ---- inference ---- */

typedef enum entry {
    ENTRY_MAP,
    ENTRY_GENERATE,
    ENTRY_ENCODE,
    ENTRY_DISCRIMINATE,
    ENTRY_RECONSTRUCT,
    ENTRY_SAMPLE,
    ENTRY_GENERATE_STYLES
} entry;

static const char *entry_name(entry e) {
    static const char *names[] = {"alae_model_map",    "alae_model_generate",   "alae_model_encode",
                                  "alae_model_discriminate", "alae_model_reconstruct", "alae_model_sample",
                                  "alae_model_generate_styles"};
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

typedef enum tensor_kind { KIND_LATENT, KIND_IMAGE, KIND_STYLES, KIND_LOGIT } tensor_kind;

static tensor_kind input_kind(entry e) {
    switch (e) {
    case ENTRY_ENCODE:
    case ENTRY_RECONSTRUCT: return KIND_IMAGE;
    case ENTRY_GENERATE_STYLES: return KIND_STYLES;
    default: return KIND_LATENT;
    }
}

static tensor_kind output_kind(entry e) {
    switch (e) {
    case ENTRY_GENERATE:
    case ENTRY_RECONSTRUCT:
    case ENTRY_SAMPLE:
    case ENTRY_GENERATE_STYLES: return KIND_IMAGE;
    case ENTRY_DISCRIMINATE: return KIND_LOGIT;
    default: return KIND_LATENT;
    }
}

static alae_status check_kind(const alae_model *m, const alae_tensor *t, tensor_kind k, const char *what, int64_t n,
                              const char *func) {
    const alae_model_config *c = &m->cfg;
    int64_t size = alaei_level_size(c, m->lod);
    int64_t latent[1] = {c->latent_dim}, image[3] = {c->channels, size, size};
    int64_t styles[2] = {alaei_style_count(c), c->latent_dim};
    switch (k) {
    case KIND_IMAGE: return check_shape(t, what, n, 3, image, func);
    case KIND_STYLES: return check_shape(t, what, n, 2, styles, func);
    case KIND_LOGIT: return check_shape(t, what, n, 0, NULL, func);
    default: return check_shape(t, what, n, 1, latent, func);
    }
}

/* Device buffers an entry point binds besides the parameters: blend, running mean of w, noise. */
typedef struct call_buffers {
    void *blend, *avg, *noise;
} call_buffers;

static void free_call_buffers(alae_context *ctx, call_buffers *b) {
    if (b->blend) ctx->backend->buf_free(ctx->bctx, b->blend);
    if (b->avg) ctx->backend->buf_free(ctx->bctx, b->avg);
    if (b->noise) ctx->backend->buf_free(ctx->bctx, b->noise);
}

static alae_status upload(alae_context *ctx, const float *host, size_t count, void **dst) {
    alae_status s = ctx->backend->buf_alloc(ctx->bctx, count * (size_t)ctx->backend->elem_size, dst);
    return s == ALAE_OK ? ctx->backend->write_f32(ctx->bctx, *dst, host, count) : s;
}

/* Fresh N(0, 1) noise from the context's random stream (as alae_tensor_fill_normal draws). */
static alae_status draw_noise(alae_context *ctx, int64_t count, void **dst) {
    alae_status s = ctx->backend->buf_alloc(ctx->bctx, (size_t)count * (size_t)ctx->backend->elem_size, dst);
    if (s != ALAE_OK) return s;
    alaei_op op = {0};
    op.code = ALAEI_OP_RNG_NORMAL;
    op.dst.data = *dst;
    op.dst.ne[0] = op.dst.ne[1] = op.dst.ne[2] = 1;
    op.dst.ne[3] = count;
    uint64_t seed = (uint64_t)ctx->seed;
    op.ip[0] = (int32_t)(uint32_t)seed;
    op.ip[1] = (int32_t)(uint32_t)(seed >> 32);
    op.ip[2] = (int32_t)(uint32_t)ctx->rng_offset;
    op.ip[3] = (int32_t)(uint32_t)(ctx->rng_offset >> 32);
    op.fp[1] = 1.0;
    s = ctx->backend->run_op(ctx->bctx, &op);
    if (s == ALAE_OK) ctx->rng_offset += (uint64_t)count;
    return s;
}

static int entry_truncates(const alae_model *m, entry e) {
    return m->truncation_psi != 1.0 && m->truncation_cutoff > 0 &&
           (e == ENTRY_GENERATE || e == ENTRY_SAMPLE || e == ENTRY_GENERATE_STYLES);
}

/* Builds the entry's network on net; *avg receives the running-mean input node or -1. */
static int32_t build_entry(alaei_net *net, entry e, int32_t x, int32_t *avg) {
    const alae_model *m = net->m;
    *avg = -1;
    if (entry_truncates(m, e)) {
        int64_t L = m->cfg.latent_dim;
        *avg = alaei_input(net->g, 1, &L, "dlatent_avg");
    }
    switch (e) {
    case ENTRY_MAP: return alaei_net_F(net, x);
    case ENTRY_ENCODE: return alaei_net_E(net, x);
    case ENTRY_DISCRIMINATE: return alaei_net_D(net, x);
    case ENTRY_RECONSTRUCT: return alaei_net_G(net, alaei_net_E(net, x));
    case ENTRY_SAMPLE: x = alaei_net_F(net, x); break;
    default: break;
    }
    int per_row = e == ENTRY_GENERATE_STYLES;
    if (*avg >= 0) {
        x = alaei_style_truncate(net, x, per_row, *avg, m->truncation_psi, m->truncation_cutoff);
        per_row = 1;
    }
    return per_row ? alaei_net_G_styles(net, x) : alaei_net_G(net, x);
}

static alae_status bind_call_inputs(alae_model *m, const alaei_net *net, alaei_plan *plan, int32_t avg,
                                    call_buffers *b) {
    alae_context *ctx = m->ctx;
    alae_status s = ALAE_OK;
    if (net->blend >= 0) {
        float blend = (float)m->blend;
        s = upload(ctx, &blend, 1, &b->blend);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, net->blend, b->blend);
    }
    if (s == ALAE_OK && avg >= 0) {
        s = upload(ctx, m->dlatent_avg, (size_t)m->cfg.latent_dim, &b->avg);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, avg, b->avg);
    }
    if (s == ALAE_OK && net->n_noise > 0) {
        s = draw_noise(ctx, alaei_graph_numel(net->g, net->noise[0]), &b->noise);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, net->noise[0], b->noise);
    }
    return s;
}

/* A StyleALAE encode runs in chunks of at most this many images: E's full-resolution activations
 * dominate the call's memory (docs/performance.md: 630 MiB for celeba 64x64 at batch 64), and E
 * has no noise inputs and no statistics across the batch, so an image's code does not depend on
 * the chunking. MLP encodes (small activations, GEMM-bound) and the other entries (which draw
 * noise for the whole batch at once) run the batch in one piece. */
#define ALAEI_ENCODE_CHUNK 16

/* One planned call of an entry on batches of a fixed size. */
typedef struct entry_call {
    alaei_net net;
    alaei_plan *plan;
    call_buffers buffers;
    int32_t x, y;
} entry_call;

static void entry_call_free(alae_model *m, entry_call *c) {
    free_call_buffers(m->ctx, &c->buffers);
    alaei_plan_destroy(c->plan);
    alaei_net_free(&c->net);
}

/* Builds and plans the entry's graph for n inputs shaped like in, and binds everything but the
 * input. On failure the caller still calls entry_call_free. */
static alae_status entry_call_prepare(alae_model *m, entry e, const alae_tensor *in, int64_t n, entry_call *c,
                                      const char *func) {
    memset(c, 0, sizeof *c);
    alae_status s = alaei_net_init(&c->net, m);
    if (s != ALAE_OK) return s;
    alaei_net *net = &c->net;
    net->lod = m->lod;
    net->noise_mode = m->noise_mode;
    int uses_networks_with_levels = e != ENTRY_MAP && e != ENTRY_DISCRIMINATE;
    if (uses_networks_with_levels && m->blend < 1.0 && m->lod > 0) {
        int64_t one = 1;
        net->blend = alaei_input(net->g, 1, &one, "blend");
    }
    int64_t shape[ALAE_TENSOR_MAX_DIMS];
    memcpy(shape, in->shape, sizeof shape);
    shape[0] = n;
    int32_t avg;
    c->x = alaei_input(net->g, in->ndim, shape, "input");
    c->y = build_entry(net, e, c->x, &avg);
    s = alaei_graph_status(net->g) == ALAE_OK ? alaei_plan_create(m->ctx, net->g, 1, &c->y, &c->plan)
                                              : alaei_graph_fail_public(net->g, func);
    if (s == ALAE_OK) s = alaei_net_bind(net, c->plan, NULL);
    if (s == ALAE_OK) s = bind_call_inputs(m, net, c->plan, avg, &c->buffers);
    return s;
}

static alae_status entry_call_run(alae_model *m, entry_call *c, void *in_data, void *out_data, size_t out_numel) {
    alae_status s = alaei_plan_bind(c->plan, c->x, in_data);
    if (s == ALAE_OK) s = alaei_plan_run(c->plan);
    if (s == ALAE_OK) s = m->ctx->backend->copy(m->ctx->bctx, out_data, alaei_plan_data(c->plan, c->y), out_numel);
    return s;
}

/* Runs images [first, first + count) of in through one plan per chunk size. */
static alae_status run_chunks(alae_model *m, entry e, const alae_tensor *in, alae_tensor *out, int64_t first,
                              int64_t count, int64_t chunk, const char *func) {
    size_t elem = (size_t)m->ctx->backend->elem_size;
    size_t in_per = (size_t)(in->numel / in->shape[0]), out_per = (size_t)(out->numel / out->shape[0]);
    entry_call c;
    alae_status s = entry_call_prepare(m, e, in, chunk, &c, func);
    for (int64_t i = first; s == ALAE_OK && i + chunk <= first + count; i += chunk)
        s = entry_call_run(m, &c, (char *)in->data + (size_t)i * in_per * elem,
                           (char *)out->data + (size_t)i * out_per * elem, (size_t)chunk * out_per);
    entry_call_free(m, &c);
    return s;
}

static alae_status run_entry(alae_model *m, entry e, const alae_tensor *in, alae_tensor *out) {
    const char *func = entry_name(e);
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(in);
    ALAEI_CHECK_ARG(out);
    if (in->ctx != m->ctx || out->ctx != m->ctx)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the tensors belong to another context than the model");
    alae_status s = check_kind(m, in, input_kind(e), "the input", -1, func);
    if (s == ALAE_OK) s = check_kind(m, out, output_kind(e), "the output", in->shape[0], func);
    if (s != ALAE_OK) return s;
    alaei_context_begin_call(m->ctx);
    int64_t n = in->shape[0];
    int64_t chunk = e == ENTRY_ENCODE && m->cfg.arch == ALAE_ARCH_STYLE && n > ALAEI_ENCODE_CHUNK ? ALAEI_ENCODE_CHUNK : n;
    if (chunk < 1) chunk = 1;
    int64_t whole = n / chunk * chunk;
    s = run_chunks(m, e, in, out, 0, whole, chunk, func);
    if (s == ALAE_OK && whole < n) s = run_chunks(m, e, in, out, whole, n - whole, n - whole, func);
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
ALAE_API alae_status alae_model_generate_styles(alae_model *m, const alae_tensor *styles, alae_tensor *x) {
    return run_entry(m, ENTRY_GENERATE_STYLES, styles, x);
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
    if (s == ALAE_OK) s = alaei_model_declare(&cfg, &m);
    if (s == ALAE_OK) s = alaei_check_file_params(f, m, "", __func__);
    if (s == ALAE_OK) s = allocate_params(ctx, m);
    if (s == ALAE_OK) s = alaei_load_params(f, m, "", NULL, __func__);
    int64_t avg_shape[1] = {cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_get_f32(f, "dlatent_avg", 1, avg_shape, m->dlatent_avg);
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
