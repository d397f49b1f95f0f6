/* The model's inference entry points (map, generate, encode, discriminate, reconstruct, sample,
 * generate_styles): each runs the network's planned graph for the call's shape and settings,
 * planned on the first such call and cached in the model, in chunks where the batch is large. */
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

/* Device buffers an entry point binds besides the parameters: blend, running mean of w, noise.
 * Allocated once per cached call; their contents are written before every run. */
typedef struct call_buffers {
    void *blend, *avg, *noise;
    int64_t noise_numel;
} call_buffers;

static void free_call_buffers(alae_context *ctx, call_buffers *b) {
    alaei_device_free(ctx, b->blend);
    alaei_device_free(ctx, b->avg);
    alaei_device_free(ctx, b->noise);
}

/* Fresh N(0, 1) noise from the context's random stream (as alae_tensor_fill_normal draws). */
static alae_status draw_noise(alae_context *ctx, int64_t count, void *dst) {
    return alaei_context_draw_normal(ctx, dst, count, 0.0, 1.0);
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

/* Allocates and binds the call's own inputs (blend, running mean of w, noise); their contents
 * are written by refresh_call_inputs before each run. */
static alae_status bind_call_inputs(alae_model *m, const alaei_net *net, alaei_plan *plan, int32_t avg,
                                    call_buffers *b) {
    alae_context *ctx = m->ctx;
    alae_status s = ALAE_OK;
    if (net->blend >= 0) {
        s = alaei_device_alloc(ctx, 1, &b->blend);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, net->blend, b->blend);
    }
    if (s == ALAE_OK && avg >= 0) {
        s = alaei_device_alloc(ctx, (size_t)m->cfg.latent_dim, &b->avg);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, avg, b->avg);
    }
    if (s == ALAE_OK && net->n_noise > 0) {
        b->noise_numel = alaei_graph_numel(net->g, net->noise[0]);
        s = alaei_device_alloc(ctx, (size_t)b->noise_numel, &b->noise);
        if (s == ALAE_OK) s = alaei_plan_bind(plan, net->noise[0], b->noise);
    }
    return s;
}

/* Writes the current blend and running mean of w, and draws the call's noise. */
static alae_status refresh_call_inputs(alae_model *m, call_buffers *b) {
    alae_context *ctx = m->ctx;
    alae_status s = ALAE_OK;
    if (b->blend) {
        float blend = (float)m->blend;
        s = alaei_device_upload(ctx, b->blend, &blend, 1);
    }
    if (s == ALAE_OK && b->avg) s = alaei_device_upload(ctx, b->avg, m->dlatent_avg, (size_t)m->cfg.latent_dim);
    if (s == ALAE_OK && b->noise) s = draw_noise(ctx, b->noise_numel, b->noise);
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

/* Builds and plans the entry's graph for n inputs shaped like in (without an arena: the model's
 * shared one is attached by the cache), and binds everything but the input. On failure the
 * caller still calls entry_call_free. */
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
    s = alaei_graph_status(net->g) == ALAE_OK ? alaei_plan_create_shared(m->ctx, net->g, 1, &c->y, &c->plan)
                                              : alaei_graph_fail_public(net->g, func);
    if (s == ALAE_OK) s = alaei_net_bind(net, c->plan, NULL);
    if (s == ALAE_OK) s = bind_call_inputs(m, net, c->plan, avg, &c->buffers);
    return s;
}

static alae_status entry_call_run(alae_model *m, entry_call *c, void *in_data, void *out_data, size_t out_numel) {
    alae_status s = alaei_plan_bind(c->plan, c->x, in_data);
    if (s == ALAE_OK) s = refresh_call_inputs(m, &c->buffers);
    if (s == ALAE_OK) s = alaei_plan_run(c->plan);
    if (s == ALAE_OK) s = alaei_device_copy(m->ctx, out_data, alaei_plan_data(c->plan, c->y), out_numel);
    return s;
}

/* ---- the plan cache ----
 * Each model keeps up to ALAEI_PLAN_CACHE_SLOTS planned calls, keyed by what shapes the graph:
 * the entry, the batch (input shape), the level, whether a fade-in is running, the noise mode
 * and, for truncating entries, psi and the cutoff. The blend value and the running mean of w
 * are inputs, written before every run, so they need no new plan. All cached plans run in one
 * arena owned by the cache, of the largest size any of them needs: the model's calls run one at
 * a time (the context's threading rule), every run's output is copied out before the call
 * returns, and no plan's inputs live in the arena. alae_model_set drops the plans the new
 * settings make stale (and the arena with the last of them); alae_model_destroy frees the cache. */
#define ALAEI_PLAN_CACHE_SLOTS 8

typedef struct call_key {
    entry e;
    int32_t ndim;
    int64_t shape[ALAE_TENSOR_MAX_DIMS];
    int32_t lod, noise_mode, fading, truncates, cutoff;
    double psi;
} call_key;

typedef struct cached_call {
    call_key key;
    entry_call call;
    uint64_t last_used;
} cached_call;

struct alaei_plan_cache {
    cached_call *slots[ALAEI_PLAN_CACHE_SLOTS];
    uint64_t clock;
    void *arena;
    size_t arena_bytes;
};

static call_key make_key(const alae_model *m, entry e, const alae_tensor *in, int64_t n) {
    call_key k;
    memset(&k, 0, sizeof k);
    k.e = e;
    if (in) { /* NULL: the settings only */
        k.ndim = in->ndim;
        for (int32_t i = 0; i < in->ndim; i++) k.shape[i] = in->shape[i];
        k.shape[0] = n;
    }
    k.lod = m->lod;
    k.noise_mode = m->noise_mode;
    k.fading = m->blend < 1.0 && m->lod > 0;
    k.truncates = entry_truncates(m, e);
    if (k.truncates) {
        k.psi = m->truncation_psi;
        k.cutoff = m->truncation_cutoff;
    }
    return k;
}

static int key_equal(const call_key *a, const call_key *b) {
    if (a->e != b->e || a->ndim != b->ndim || a->lod != b->lod || a->noise_mode != b->noise_mode ||
        a->fading != b->fading || a->truncates != b->truncates || a->cutoff != b->cutoff || a->psi != b->psi)
        return 0;
    for (int32_t i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void free_slot(alae_model *m, cached_call **slot) {
    if (!*slot) return;
    entry_call_free(m, &(*slot)->call);
    free(*slot);
    *slot = NULL;
}

void alaei_plan_cache_clear(alae_model *m) {
    struct alaei_plan_cache *pc = m->plan_cache;
    if (!pc) return;
    for (int i = 0; i < ALAEI_PLAN_CACHE_SLOTS; i++) free_slot(m, &pc->slots[i]);
    alaei_device_free(m->ctx, pc->arena);
    free(pc);
    m->plan_cache = NULL;
}

int32_t alaei_plan_cache_count(const alae_model *m) {
    int32_t n = 0;
    for (int i = 0; m->plan_cache && i < ALAEI_PLAN_CACHE_SLOTS; i++) n += m->plan_cache->slots[i] != NULL;
    return n;
}

size_t alaei_plan_cache_arena_bytes(const alae_model *m) { return m->plan_cache ? m->plan_cache->arena_bytes : 0; }

void alaei_plan_cache_drop_stale(alae_model *m) {
    struct alaei_plan_cache *pc = m->plan_cache;
    if (!pc) return;
    int kept = 0;
    for (int i = 0; i < ALAEI_PLAN_CACHE_SLOTS; i++) {
        if (!pc->slots[i]) continue;
        call_key *k = &pc->slots[i]->key;
        call_key now = make_key(m, k->e, NULL, 0);
        now.ndim = k->ndim;
        memcpy(now.shape, k->shape, sizeof now.shape);
        if (key_equal(k, &now))
            kept++;
        else
            free_slot(m, &pc->slots[i]);
    }
    if (!kept) alaei_plan_cache_clear(m); /* and its arena */
}

/* Makes the shared arena at least `need` bytes and attaches it to every cached plan. Growing
 * frees the old arena first (the peak stays one arena); if the larger one cannot be had, the
 * cache is emptied. */
static alae_status grow_arena(alae_model *m, size_t need) {
    struct alaei_plan_cache *pc = m->plan_cache;
    if (need <= pc->arena_bytes) return ALAE_OK;
    alae_context *ctx = m->ctx;
    alaei_device_free(ctx, pc->arena);
    pc->arena = NULL;
    pc->arena_bytes = 0;
    alae_status s = alaei_device_alloc_bytes(ctx, need, &pc->arena);
    if (s != ALAE_OK) {
        alaei_plan_cache_clear(m);
        return s;
    }
    pc->arena_bytes = need;
    for (int i = 0; s == ALAE_OK && i < ALAEI_PLAN_CACHE_SLOTS; i++)
        if (pc->slots[i]) s = alaei_plan_set_arena(pc->slots[i]->call.plan, pc->arena, pc->arena_bytes);
    return s;
}

/* The slot for a new entry: an empty one, else the least recently used (emptied). */
static cached_call **free_or_oldest_slot(alae_model *m) {
    struct alaei_plan_cache *pc = m->plan_cache;
    cached_call **oldest = &pc->slots[0];
    for (int i = 0; i < ALAEI_PLAN_CACHE_SLOTS; i++) {
        if (!pc->slots[i]) return &pc->slots[i];
        if (pc->slots[i]->last_used < (*oldest)->last_used) oldest = &pc->slots[i];
    }
    free_slot(m, oldest);
    return oldest;
}

/* The planned call for (entry, n inputs shaped like in, the model's settings): from the cache,
 * or built, planned and cached. */
static alae_status cached_entry_call(alae_model *m, entry e, const alae_tensor *in, int64_t n, const char *func,
                                     entry_call **out) {
    if (!m->plan_cache && !(m->plan_cache = calloc(1, sizeof *m->plan_cache)))
        return alaei_fail(ALAE_E_NOMEM, func, "no memory for the plan cache");
    struct alaei_plan_cache *pc = m->plan_cache;
    call_key key = make_key(m, e, in, n);
    for (int i = 0; i < ALAEI_PLAN_CACHE_SLOTS; i++)
        if (pc->slots[i] && key_equal(&pc->slots[i]->key, &key)) {
            pc->slots[i]->last_used = ++pc->clock;
            *out = &pc->slots[i]->call;
            return ALAE_OK;
        }
    cached_call *cc = calloc(1, sizeof *cc);
    if (!cc) return alaei_fail(ALAE_E_NOMEM, func, "no memory for the plan cache");
    alae_status s = entry_call_prepare(m, e, in, n, &cc->call, func);
    if (s == ALAE_OK) s = grow_arena(m, alaei_plan_arena_bytes(cc->call.plan));
    if (s == ALAE_OK) s = alaei_plan_set_arena(cc->call.plan, m->plan_cache->arena, m->plan_cache->arena_bytes);
    if (s != ALAE_OK) {
        entry_call_free(m, &cc->call);
        free(cc);
        return s;
    }
    cc->key = key;
    cc->last_used = ++m->plan_cache->clock;
    cached_call **slot = free_or_oldest_slot(m);
    *slot = cc;
    *out = &cc->call;
    return ALAE_OK;
}

/* Runs images [first, first + count) of in through the cached plan of their chunk size. */
static alae_status run_chunks(alae_model *m, entry e, const alae_tensor *in, alae_tensor *out, int64_t first,
                              int64_t count, int64_t chunk, const char *func) {
    size_t elem = (size_t)m->ctx->backend->elem_size;
    size_t in_per = (size_t)(in->numel / in->shape[0]), out_per = (size_t)(out->numel / out->shape[0]);
    entry_call *c = NULL;
    alae_status s = cached_entry_call(m, e, in, chunk, func, &c);
    for (int64_t i = first; s == ALAE_OK && i + chunk <= first + count; i += chunk)
        s = entry_call_run(m, c, (char *)in->data + (size_t)i * in_per * elem,
                           (char *)out->data + (size_t)i * out_per * elem, (size_t)chunk * out_per);
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
