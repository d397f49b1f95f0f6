/* The trainer's files: the smoothed model for inference, and the whole training state
 * (parameters, smoothed copy, Adam moments and step counts, random-stream position, settings,
 * level, fade-in and schedule position). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_min.h"
#include "io/safetensors.h"
#include "trainer_internal.h"

ALAE_API alae_status alae_trainer_save_model(const alae_trainer *t, const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(path_utf8);
    /* the file records the level being trained, so that inference runs where training is */
    alae_model at_level = *t->model;
    at_level.lod = t->lod;
    at_level.blend = t->blend;
    return alaei_model_save_params(&at_level, t->ema, path_utf8, __func__);
}

ALAE_API alae_status alae_trainer_smoothed_model(const alae_trainer *t, alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(out);
    alae_model *m;
    alae_status s = alaei_model_alloc(t->model->ctx, &t->model->cfg, &m);
    alae_context *ctx = t->model->ctx;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++)
        s = alaei_device_copy(ctx, m->params[i].data, t->ema[i], (size_t)m->params[i].numel);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        return s;
    }
    memcpy(m->dlatent_avg, t->model->dlatent_avg, (size_t)m->cfg.latent_dim * sizeof(float));
    m->lod = t->lod;
    m->blend = t->blend;
    *out = m;
    return ALAE_OK;
}

/* Training state: "param/<p>", "ema/<p>", "adam.m/<p>", "adam.v/<p>", "adam.t" [n_params],
 * "dlatent_avg", "state" = {step, rng_offset, seed}; settings in the metadata. */

static alae_status add_params(alaei_st_writer *w, const alae_model *m, void *const *mem, const char *prefix,
                              float **host_at) {
    alae_context *ctx = m->ctx;
    alae_status s = ALAE_OK;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) {
        const alaei_param *p = &m->params[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        s = alaei_device_download(ctx, *host_at, mem ? mem[i] : p->data, (size_t)p->numel);
        if (s == ALAE_OK) s = alaei_st_writer_add(w, name, ALAEI_ST_F32, p->ndim, p->shape, *host_at);
        *host_at += p->numel;
    }
    return s;
}

static int append(char *buf, size_t cap, int at, const char *fmt, ...) ALAEI_PRINTF(4, 5);
static int append(char *buf, size_t cap, int at, const char *fmt, ...) {
    if (at < 0 || (size_t)at >= cap) return at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + at, cap - (size_t)at, fmt, ap);
    va_end(ap);
    return n < 0 ? -1 : at + n;
}

/* The settings as flat JSON (the "alae.trainer" metadata). */
static int settings_json(const alae_trainer *t, char *buf, size_t cap) {
    int at = append(buf, cap, 0,
                    "{\"r1_gamma\":%.17g,\"latent_loss\":%d,\"latent_weight\":%.17g,\"ema_half_life\":%.17g,"
                    "\"dlatent_beta\":%.17g,\"fg_lr\":%.17g,\"fg_beta1\":%.17g,\"fg_beta2\":%.17g,\"fg_eps\":%.17g,"
                    "\"ed_lr\":%.17g,\"ed_beta1\":%.17g,\"ed_beta2\":%.17g,\"ed_eps\":%.17g",
                    t->r1_gamma, (int)t->latent_loss, t->latent_weight, t->ema_half_life, t->dlatent_beta,
                    t->opt_fg->lr, t->opt_fg->beta1, t->opt_fg->beta2, t->opt_fg->eps, t->opt_ed->lr,
                    t->opt_ed->beta1, t->opt_ed->beta2, t->opt_ed->eps);
    at = append(buf, cap, at,
                ",\"r1_interval\":%d,\"lod\":%d,\"blend\":%.17g,\"style_mixing\":%.17g,\"epochs_per_lod\":%lld,"
                "\"dataset_size\":%lld,\"epochs\":%lld,\"epoch\":%llu,\"epoch_images\":%llu,\"schedule_active\":%d",
                (int)t->r1_interval, (int)t->lod, t->blend, t->mixing_prob, (long long)t->sched.epochs_per_lod,
                (long long)t->sched.dataset_size, (long long)t->sched.epochs, (unsigned long long)t->epoch,
                (unsigned long long)t->epoch_images, t->schedule_active);
    for (int32_t k = 0; k < ALAEI_MAX_LEVELS; k++)
        at = append(buf, cap, at, ",\"level_batch_%d\":%lld,\"level_lr_%d\":%.17g", (int)k,
                    (long long)t->sched.batch[k], (int)k, t->sched.lr[k]);
    return append(buf, cap, at, "}");
}

ALAE_API alae_status alae_trainer_save(const alae_trainer *t, const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(path_utf8);
    const alae_model *m = t->model;
    size_t total = (size_t)alaei_model_param_numel(m, ALAE_PART_ALL);
    float *host = malloc(4 * total * sizeof(float));
    int64_t *steps = malloc((size_t)m->n_params * sizeof(int64_t));
    void **moments = malloc((size_t)m->n_params * sizeof(void *));
    alaei_st_writer *w = NULL;
    alae_status s = host && steps && moments ? alaei_st_writer_create(&w)
                                             : alaei_fail(ALAE_E_NOMEM, __func__, "no memory to save the training state");
    float *at = host;
    if (s == ALAE_OK) s = add_params(w, m, NULL, "param/", &at);
    if (s == ALAE_OK) s = add_params(w, m, t->ema, "ema/", &at);
    for (int32_t i = 0; i < m->n_params && s == ALAE_OK; i++) {
        const alae_optimizer *o = (m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed;
        moments[i] = o->m[i];
        steps[i] = o->t[i];
    }
    if (s == ALAE_OK) s = add_params(w, m, moments, "adam.m/", &at);
    for (int32_t i = 0; i < m->n_params && s == ALAE_OK; i++)
        moments[i] = ((m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed)->v[i];
    if (s == ALAE_OK) s = add_params(w, m, moments, "adam.v/", &at);
    int64_t n_params[1] = {m->n_params}, three[1] = {3}, latent[1] = {m->cfg.latent_dim};
    uint64_t state[3] = {t->step, t->rng_offset, t->seed};
    if (s == ALAE_OK) s = alaei_st_writer_add(w, "adam.t", ALAEI_ST_I64, 1, n_params, steps);
    if (s == ALAE_OK) s = alaei_st_writer_add(w, "state", ALAEI_ST_U64, 1, three, state);
    if (s == ALAE_OK) s = alaei_st_writer_add(w, "dlatent_avg", ALAEI_ST_F32, 1, latent, m->dlatent_avg);
    char json[1024];
    alaei_config_to_json(&m->cfg, json, sizeof json);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.format", "1");
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.kind", "trainer");
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.library", ALAE_VERSION_STRING);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.arch", json);
    char settings[4096];
    int len = settings_json(t, settings, sizeof settings);
    if (s == ALAE_OK && (len < 0 || (size_t)len >= sizeof settings))
        s = alaei_fail(ALAE_E_INTERNAL, __func__, "the trainer settings do not fit their buffer");
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.trainer", settings);
    if (s == ALAE_OK) s = alaei_st_writer_save(w, path_utf8);
    alaei_st_writer_destroy(w);
    free(host);
    free(steps);
    free(moments);
    return s;
}

/* Adam step counts above this are refused: a count is at most a few per training step, and the
 * step counter must not overflow (signed) when it is incremented. */
#define ALAEI_MAX_ADAM_STEPS ((int64_t)1 << 53)

static int64_t read_i64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= (uint64_t)p[b] << (8 * b);
    return (int64_t)v;
}

static alae_status check_adam_steps(const alaei_st_tensor *steps, const alae_model *m, const char *func) {
    for (int32_t i = 0; i < m->n_params; i++) {
        int64_t v = read_i64_le(steps->data + (size_t)i * 8);
        if (v < 0 || v > ALAEI_MAX_ADAM_STEPS)
            return alaei_fail(ALAE_E_FORMAT, func, "tensor 'adam.t': step count %lld of parameter '%s' is outside 0..2^53",
                              (long long)v, m->params[i].name);
    }
    return ALAE_OK;
}

/* The ranges the setters (alae_trainer_set, alae_optimizer_set) enforce, for the settings a
 * training-state file restores. */
typedef struct {
    const char *key;
    double lo, hi;
    int lo_open, hi_open;
} setting_range;

static const setting_range setting_ranges[] = {
    {"r1_gamma", 0, INFINITY, 0, 1},      {"latent_loss", 0, 1, 0, 0},       {"latent_weight", 0, INFINITY, 0, 1},
    {"ema_half_life", 0, INFINITY, 0, 1}, {"dlatent_beta", 0, 1, 0, 0},      {"fg_lr", 0, INFINITY, 1, 1},
    {"ed_lr", 0, INFINITY, 1, 1},         {"fg_beta1", 0, 1, 0, 1},          {"fg_beta2", 0, 1, 0, 1},
    {"ed_beta1", 0, 1, 0, 1},             {"ed_beta2", 0, 1, 0, 1},          {"fg_eps", 0, INFINITY, 1, 1},
    {"ed_eps", 0, INFINITY, 1, 1},        {"blend", 0, 1, 0, 0},             {"style_mixing", 0, 1, 0, 0},
    {"r1_interval", 1, 1024, 0, 0},
};

static int in_range(double v, const setting_range *r) {
    if (!isfinite(v)) return 0;
    if (r->lo_open ? !(v > r->lo) : !(v >= r->lo)) return 0;
    return r->hi_open ? v < r->hi : v <= r->hi;
}

static alae_status check_setting(const alaei_json *root, const setting_range *r, const char *func) {
    const alaei_json *v = alaei_json_get(root, r->key);
    double x;
    if (!v) return ALAE_OK; /* absent: the current value stays */
    if (!alaei_json_to_double(v, &x))
        return alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer': setting '%s' is a %s, not a number", r->key,
                          alaei_json_type_name(v->type));
    if (!in_range(x, r))
        return alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer': setting '%s' = %g is out of range", r->key, x);
    return ALAE_OK;
}

/* The counters and schedule values a state restores: integers within the setters' ranges
 * (alae_trainer_set, alae_trainer_set_position), so that no caller ever sees a position or a
 * schedule the library itself would have refused. */
typedef struct {
    const char *key;
    double lo, hi;
} count_range;

static alae_status check_count(const alaei_json *root, const char *key, double lo, double hi, const char *func) {
    const alaei_json *v = alaei_json_get(root, key);
    double x;
    if (!v) return ALAE_OK;
    if (!alaei_json_to_double(v, &x))
        return alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer': '%s' is a %s, not a number", key,
                          alaei_json_type_name(v->type));
    if (!(x >= lo && x <= hi && x == floor(x)))
        return alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer': '%s' = %.17g is not an integer in %.0f..%.0f",
                          key, x, lo, hi);
    return ALAE_OK;
}

static alae_status check_counts(const alaei_json *root, int32_t levels, const char *func) {
    const count_range counts[] = {
        {"lod", 0, levels - 1},         {"epochs_per_lod", 0, 1e6}, {"dataset_size", 1, 1e15},
        {"epochs", 0, 1e9},             {"epoch", 0, ALAEI_MAX_EPOCH}, {"epoch_images", 0, ALAEI_MAX_EPOCH_IMAGES},
        {"schedule_active", 0, 1},
    };
    alae_status s = ALAE_OK;
    for (size_t i = 0; s == ALAE_OK && i < sizeof counts / sizeof counts[0]; i++)
        s = check_count(root, counts[i].key, counts[i].lo, counts[i].hi, func);
    for (int32_t k = 0; s == ALAE_OK && k < ALAEI_MAX_LEVELS; k++) {
        char key[32];
        snprintf(key, sizeof key, "level_batch_%d", (int)k);
        s = check_count(root, key, 1, 1 << 20, func);
    }
    return s;
}

static alae_status check_level_lrs(const alaei_json *root, const char *func) {
    for (int32_t k = 0; k < ALAEI_MAX_LEVELS; k++) {
        char key[32];
        snprintf(key, sizeof key, "level_lr_%d", (int)k);
        setting_range r = {key, 0, INFINITY, 0, 1};
        alae_status s = check_setting(root, &r, func);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* The settings string, parsed: *doc stays NULL for a file without settings (older files keep
 * the trainer's current values). It must be a JSON object whose known settings are numbers in
 * range; the same parsed document then gives the values restored. */
static alae_status parse_settings(const char *json, int32_t levels, alaei_json_doc **doc, const char *func) {
    *doc = NULL;
    if (!json) return ALAE_OK;
    alaei_json_error err;
    if (alaei_json_parse(json, strlen(json), 4, 0, doc, &err) != ALAE_OK)
        return alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer' is not valid JSON: %s", err.msg);
    const alaei_json *root = alaei_json_root(*doc);
    alae_status s = ALAE_OK;
    if (root->type != ALAEI_JSON_OBJECT)
        s = alaei_fail(ALAE_E_FORMAT, func, "metadata 'alae.trainer' is a JSON %s, not an object",
                       alaei_json_type_name(root->type));
    for (size_t i = 0; s == ALAE_OK && i < sizeof setting_ranges / sizeof setting_ranges[0]; i++)
        s = check_setting(root, &setting_ranges[i], func);
    if (s == ALAE_OK) s = check_level_lrs(root, func);
    if (s == ALAE_OK) s = check_counts(root, levels, func);
    if (s != ALAE_OK) {
        alaei_json_free(*doc);
        *doc = NULL;
    }
    return s;
}

/* Tensor "state" = {step, rng_offset, seed}: the step count and the seed are at most 2^53 (the
 * seed setter's bound; a step count beyond it cannot have been reached and would overflow the
 * callers' image counts); the random-stream offset at most 2^62 (it grows by the numbers drawn). */
static alae_status check_state_counters(const alaei_st_tensor *state, const char *func) {
    static const char *const names[3] = {"step", "random-stream offset", "seed"};
    const uint64_t limits[3] = {(uint64_t)1 << 53, (uint64_t)1 << 62, (uint64_t)1 << 53};
    for (int k = 0; k < 3; k++) {
        uint64_t v = (uint64_t)read_i64_le(state->data + (size_t)k * 8);
        if (v > limits[k])
            return alaei_fail(ALAE_E_FORMAT, func, "tensor 'state': the %s %llu is out of range (at most %llu)",
                              names[k], (unsigned long long)v, (unsigned long long)limits[k]);
    }
    return ALAE_OK;
}

/* Checks that every tensor the state needs is present with the right shape before anything
 * is overwritten, so a bad file leaves the trainer as it was. */
static alae_status check_state_file(const alaei_st_file *f, const alae_trainer *t, const char *func) {
    const alae_model *m = t->model;
    static const char *prefixes[4] = {"param/", "ema/", "adam.m/", "adam.v/"};
    for (int k = 0; k < 4; k++)
        for (int32_t i = 0; i < m->n_params; i++) {
            const alaei_param *p = &m->params[i];
            char name[128];
            snprintf(name, sizeof name, "%s%s", prefixes[k], p->name);
            const alaei_st_tensor *st = alaei_st_find(f, name);
            int ok = st && st->dtype == ALAEI_ST_F32 && st->ndim == p->ndim;
            for (int32_t d = 0; ok && d < p->ndim; d++) ok = st->shape[d] == p->shape[d];
            if (!ok) return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s' is missing or has the wrong type or shape", name);
        }
    const alaei_st_tensor *steps = alaei_st_find(f, "adam.t");
    if (!steps || steps->dtype != ALAEI_ST_I64 || steps->numel != (size_t)m->n_params)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor 'adam.t' is missing or malformed");
    alae_status s = check_adam_steps(steps, m, func);
    for (int k = 0; s == ALAE_OK && k < 4; k++) s = alaei_check_file_finite(f, m, prefixes[k], func);
    if (s != ALAE_OK) return s;
    const alaei_st_tensor *state = alaei_st_find(f, "state");
    if (!state || state->dtype != ALAEI_ST_U64 || state->numel != 3)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor 'state' is missing or malformed");
    return check_state_counters(state, func);
}

static int64_t json_count(const alaei_json *json, const char *key, int64_t fallback, int64_t lo, int64_t hi) {
    double v = alaei_json_get_number(json, key, (double)fallback);
    return v >= (double)lo && v <= (double)hi && v == floor(v) ? (int64_t)v : fallback;
}

static void restore_schedule(alae_trainer *t, const alaei_json *json) {
    int32_t levels = alaei_layer_count(&t->model->cfg);
    alaei_schedule *s = &t->sched;
    int32_t lod = (int32_t)json_count(json, "lod", t->lod, 0, levels - 1);
    double blend = alaei_json_get_number(json, "blend", t->blend);
    t->lod = lod; /* the optimizers' state comes from the file: no reset */
    t->blend = blend >= 0 && blend <= 1 && (blend == 1 || lod > 0) ? blend : 1.0;
    double mixing = alaei_json_get_number(json, "style_mixing", t->mixing_prob);
    t->mixing_prob = mixing >= 0 && mixing <= 1 ? mixing : t->mixing_prob;
    s->epochs_per_lod = json_count(json, "epochs_per_lod", s->epochs_per_lod, 0, 1000000);
    s->dataset_size = json_count(json, "dataset_size", s->dataset_size, 1, (int64_t)1e15);
    s->epochs = json_count(json, "epochs", s->epochs, 0, (int64_t)1e9);
    t->epoch = (uint64_t)json_count(json, "epoch", (int64_t)t->epoch, 0, (int64_t)ALAEI_MAX_EPOCH);
    t->epoch_images = (uint64_t)json_count(json, "epoch_images", (int64_t)t->epoch_images, 0,
                                           (int64_t)ALAEI_MAX_EPOCH_IMAGES);
    t->schedule_active = (int)json_count(json, "schedule_active", t->schedule_active, 0, 1);
    for (int32_t k = 0; k < ALAEI_MAX_LEVELS; k++) {
        char key[32];
        snprintf(key, sizeof key, "level_batch_%d", (int)k);
        s->batch[k] = json_count(json, key, s->batch[k], 1, 1 << 20);
        snprintf(key, sizeof key, "level_lr_%d", (int)k);
        double lr = alaei_json_get_number(json, key, s->lr[k]);
        s->lr[k] = lr >= 0 ? lr : s->lr[k];
    }
}

static void restore_settings(alae_trainer *t, const alaei_json *json) {
    t->r1_gamma = alaei_json_get_number(json, "r1_gamma", t->r1_gamma);
    t->r1_interval = (int32_t)floor(alaei_json_get_number(json, "r1_interval", t->r1_interval));
    t->latent_loss = alaei_json_get_number(json, "latent_loss", t->latent_loss) == ALAE_LATENT_L1 ? ALAE_LATENT_L1 : ALAE_LATENT_L2;
    t->latent_weight = alaei_json_get_number(json, "latent_weight", t->latent_weight);
    t->ema_half_life = alaei_json_get_number(json, "ema_half_life", t->ema_half_life);
    t->dlatent_beta = alaei_json_get_number(json, "dlatent_beta", t->dlatent_beta);
    alae_optimizer *opts[2] = {t->opt_fg, t->opt_ed};
    const char *names[2] = {"fg", "ed"};
    for (int k = 0; k < 2; k++) {
        char key[16];
        snprintf(key, sizeof key, "%s_lr", names[k]);
        opts[k]->lr = alaei_json_get_number(json, key, opts[k]->lr);
        snprintf(key, sizeof key, "%s_beta1", names[k]);
        opts[k]->beta1 = alaei_json_get_number(json, key, opts[k]->beta1);
        snprintf(key, sizeof key, "%s_beta2", names[k]);
        opts[k]->beta2 = alaei_json_get_number(json, key, opts[k]->beta2);
        snprintf(key, sizeof key, "%s_eps", names[k]);
        opts[k]->eps = alaei_json_get_number(json, key, opts[k]->eps);
    }
    restore_schedule(t, json);
    alaei_trainer_free_plans(t); /* the graphs depend on the settings */
}

ALAE_API alae_status alae_trainer_load(alae_trainer *t, const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(path_utf8);
    alaei_st_file *f;
    alae_status s = alaei_st_open(path_utf8, &f);
    if (s != ALAE_OK) return s;
    alae_model *m = t->model;
    alae_model_config cfg;
    char mine[1024], theirs[1024];
    s = alaei_file_config(f, "trainer", &cfg, __func__);
    if (s == ALAE_OK) {
        alaei_config_to_json(&m->cfg, mine, sizeof mine);
        alaei_config_to_json(&cfg, theirs, sizeof theirs);
        if (strcmp(mine, theirs) != 0)
            s = alaei_fail(ALAE_E_SHAPE, __func__, "%s holds a model configured as %s, but the trainer's is %s",
                           path_utf8, theirs, mine);
    }
    if (s == ALAE_OK) s = check_state_file(f, t, __func__);
    alaei_json_doc *settings = NULL;
    if (s == ALAE_OK)
        s = parse_settings(alaei_st_metadata_get(f, "alae.trainer"), alaei_layer_count(&m->cfg), &settings, __func__);
    void **dst = malloc((size_t)m->n_params * sizeof(void *));
    int64_t *steps = malloc((size_t)m->n_params * sizeof(int64_t));
    if (s == ALAE_OK && (!dst || !steps)) s = alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    int64_t latent[1] = {m->cfg.latent_dim};
    float *avg = malloc((size_t)m->cfg.latent_dim * sizeof(float));
    if (s == ALAE_OK && !avg) s = alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    if (s == ALAE_OK) s = alaei_st_get_f32(f, "dlatent_avg", 1, latent, avg);
    if (s == ALAE_OK) s = alaei_check_finite(avg, (size_t)m->cfg.latent_dim, "dlatent_avg", __func__);
    if (s == ALAE_OK) memcpy(m->dlatent_avg, avg, (size_t)m->cfg.latent_dim * sizeof(float));
    if (s == ALAE_OK) s = alaei_load_params(f, m, "param/", NULL, __func__);
    if (s == ALAE_OK) s = alaei_load_params(f, m, "ema/", t->ema, __func__);
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++)
        dst[i] = ((m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed)->m[i];
    if (s == ALAE_OK) s = alaei_load_params(f, m, "adam.m/", dst, __func__);
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++)
        dst[i] = ((m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed)->v[i];
    if (s == ALAE_OK) s = alaei_load_params(f, m, "adam.v/", dst, __func__);
    uint64_t state[3];
    const alaei_st_tensor *st = alaei_st_find(f, "adam.t");
    if (s == ALAE_OK) {
        for (int32_t i = 0; i < m->n_params; i++) {
            int64_t v = read_i64_le(st->data + (size_t)i * 8);
            ((m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed)->t[i] = v;
        }
        s = alaei_st_get_u64(f, "state", 3, state);
    }
    if (s == ALAE_OK) {
        t->step = state[0];
        t->rng_offset = state[1];
        t->seed = state[2];
        restore_settings(t, alaei_json_root(settings)); /* NULL without settings */
    }
    alaei_json_free(settings);
    free(avg);
    free(dst);
    free(steps);
    alaei_st_free(f);
    return s;
}
