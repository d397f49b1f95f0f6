/* The model's inference entry points (map, generate, encode, discriminate, reconstruct, sample,
 * generate_styles): each builds the network's graph for the call, plans it and runs it, in chunks
 * where the batch is large. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

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
    alaei_device_free(ctx, b->blend);
    alaei_device_free(ctx, b->avg);
    alaei_device_free(ctx, b->noise);
}

static alae_status upload(alae_context *ctx, const float *host, size_t count, void **dst) {
    alae_status s = alaei_device_alloc(ctx, count, dst);
    return s == ALAE_OK ? alaei_device_upload(ctx, *dst, host, count) : s;
}

/* Fresh N(0, 1) noise from the context's random stream (as alae_tensor_fill_normal draws). */
static alae_status draw_noise(alae_context *ctx, int64_t count, void **dst) {
    alae_status s = alaei_device_alloc(ctx, (size_t)count, dst);
    return s == ALAE_OK ? alaei_context_draw_normal(ctx, *dst, count, 0.0, 1.0) : s;
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
    if (s == ALAE_OK) s = alaei_device_copy(m->ctx, out_data, alaei_plan_data(c->plan, c->y), out_numel);
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
