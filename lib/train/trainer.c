/* The ALAE trainer: creation, settings, the level-of-detail schedule, and one iteration of the
 * reference's three steps over the plans of lib/train/trainer_plans.c. Files are in
 * lib/train/trainer_state.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer_internal.h"

/* ---- test hooks (declared by the tests) ---- */

void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user);
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param);
void alaei_trainer_keep_intermediates(alae_trainer *t, int on);
void *alaei_trainer_intermediate(const alae_trainer *t, int step, const char *name);

/* Plans built from now on keep one arena per step, so the hook (and the caller afterwards) can
 * read every step's gradients. */
void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user) {
    t->phase_hook = hook;
    t->phase_user = user;
    alaei_trainer_free_plans(t);
}

static const step_plan *plan_of_step(const alae_trainer *t, int step) {
    return step == 0 ? &t->d : step == 1 ? &t->g : &t->ae;
}

/* Gradient memory of parameter `param` in step 0 (D), 1 (G) or 2 (latent), or NULL. */
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param) {
    const step_plan *sp = plan_of_step(t, step);
    if (!sp->plan || param < 0 || param >= t->model->n_params || sp->grad[param] < 0) return NULL;
    return alaei_plan_data(sp->plan, sp->grad[param]);
}

/* Plans built from now on also output their "train.*" intermediates (x_fake, w_real, ...). */
void alaei_trainer_keep_intermediates(alae_trainer *t, int on) {
    t->keep_taps = on;
    alaei_trainer_free_plans(t);
}

/* The "train.<name>" intermediate of step 0 (D: its fakes and its own nodes), 1 (G) or 2
 * (latent), after a step; NULL if there is none. */
void *alaei_trainer_intermediate(const alae_trainer *t, int step, const char *name) {
    char full[64];
    snprintf(full, sizeof full, "train.%s", name);
    const step_plan *plans[2] = {plan_of_step(t, step), step == 0 ? &t->gen : NULL};
    for (int k = 0; k < 2; k++) {
        if (!plans[k] || !plans[k]->plan) continue;
        int32_t node = alaei_net_find_tap(&plans[k]->net, full);
        if (node >= 0) return alaei_plan_data(plans[k]->plan, node);
    }
    return NULL;
}

/* ---- creation ---- */

static int is_style(const alae_trainer *t) { return t->model->cfg.arch == ALAE_ARCH_STYLE; }

static int32_t levels_of(const alae_trainer *t) { return alaei_layer_count(&t->model->cfg); }

ALAE_API alae_status alae_trainer_create(alae_model *model, alae_optimizer *opt_fg, alae_optimizer *opt_ed,
                                         alae_trainer **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(model);
    ALAEI_CHECK_ARG(opt_fg);
    ALAEI_CHECK_ARG(opt_ed);
    ALAEI_CHECK_ARG(out);
    if (opt_fg->model != model || opt_ed->model != model)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the optimizers were created for another model");
    if (opt_fg->part_mask != (ALAE_PART_F | ALAE_PART_G) || opt_ed->part_mask != (ALAE_PART_E | ALAE_PART_D))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                          "opt_fg must cover ALAE_PART_F|ALAE_PART_G and opt_ed ALAE_PART_E|ALAE_PART_D");
    alae_trainer *t = calloc(1, sizeof *t);
    if (!t || !(t->ema = calloc((size_t)model->n_params, sizeof(void *))) ||
        !(t->grad_ptr = calloc((size_t)model->n_params, sizeof(void *))) ||
        !(t->ema_done = calloc((size_t)(model->n_params > 0 ? model->n_params : 1), 1))) {
        alae_trainer_destroy(t);
        return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a trainer");
    }
    t->model = model;
    t->opt_fg = opt_fg;
    t->opt_ed = opt_ed;
    t->r1_gamma = 10.0;
    t->r1_interval = 1;
    t->latent_loss = ALAE_LATENT_L2;
    t->latent_weight = 1.0;
    t->ema_half_life = 10000.0;
    t->dlatent_beta = 0.995;
    t->mixing_prob = model->cfg.arch == ALAE_ARCH_STYLE ? 0.9 : 0.0;
    t->lod = alaei_layer_count(&model->cfg) - 1;
    t->blend = 1.0;
    alaei_schedule_defaults(&model->cfg, &t->sched);
    alae_context *ctx = model->ctx;
    int64_t largest = 0;
    alae_status s = ALAE_OK;
    /* The smoothed copy starts as a copy of the model (the reference starts it from another
     * random initialisation, which only delays its convergence). */
    for (int32_t i = 0; s == ALAE_OK && i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        if (p->numel > largest) largest = p->numel;
        s = alaei_device_alloc(ctx, (size_t)p->numel, &t->ema[i]);
        if (s == ALAE_OK) s = alaei_device_copy(ctx, t->ema[i], p->data, (size_t)p->numel);
    }
    if (s == ALAE_OK)
        s = alaei_device_alloc(ctx, (size_t)largest, &t->ema_scratch);
    if (s != ALAE_OK) {
        alae_trainer_destroy(t);
        return s;
    }
    *out = t;
    return ALAE_OK;
}

ALAE_API void alae_trainer_destroy(alae_trainer *t) {
    if (!t) return;
    if (t->model) {
        alaei_trainer_free_plans(t);
        alae_context *ctx = t->model->ctx;
        for (int32_t i = 0; t->ema && i < t->model->n_params; i++)
            alaei_device_free(ctx, t->ema[i]);
        alaei_device_free(ctx, t->ema_scratch);
        alaei_trainer_free_comm(t);
    }
    free(t->ema);
    free(t->grad_ptr);
    free(t->ema_done);
    free(t);
}

/* ---- levels ---- */

/* Moves training to level lod; a new level starts with fresh optimizer state (the reference
 * wipes both optimizers' state at every level change). */
static alae_status enter_level(alae_trainer *t, int32_t lod) {
    if (lod == t->lod) return ALAE_OK;
    alae_status s = alaei_optimizer_reset(t->opt_fg);
    if (s == ALAE_OK) s = alaei_optimizer_reset(t->opt_ed);
    if (s == ALAE_OK) t->lod = lod;
    return s;
}

static alae_status apply_schedule(alae_trainer *t) {
    int32_t levels = levels_of(t);
    int32_t lod = alaei_schedule_lod(&t->sched, levels, t->epoch);
    alae_status s = t->sched.epochs_per_lod > 0 ? enter_level(t, lod) : ALAE_OK;
    if (s != ALAE_OK) return s;
    t->lod = lod;
    t->blend = alaei_schedule_blend(&t->sched, levels, t->epoch, t->epoch_images);
    double lr = t->sched.lr[lod];
    if (lr > 0) t->opt_fg->lr = t->opt_ed->lr = lr;
    return ALAE_OK;
}

ALAE_API alae_status alae_trainer_set_position(alae_trainer *t, uint64_t epoch, uint64_t images_in_epoch) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    if (epoch > (uint64_t)ALAEI_MAX_EPOCH || images_in_epoch > (uint64_t)ALAEI_MAX_EPOCH_IMAGES)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "position (epoch %llu, %llu images) is out of range",
                          (unsigned long long)epoch, (unsigned long long)images_in_epoch);
    t->epoch = epoch;
    t->epoch_images = images_in_epoch;
    t->schedule_active = 1;
    return apply_schedule(t);
}

/* ---- settings ---- */

static int is_integer(double v) { return isfinite(v) && v == floor(v); }

static alae_status set_lod(alae_trainer *t, double v) {
    if (!is_integer(v) || v < 0 || v > levels_of(t) - 1)
        return alaei_fail(ALAE_E_INVALID_ARG, "alae_trainer_set", "ALAE_TRAIN_LOD %g is not a level in 0..%d", v,
                          (int)levels_of(t) - 1);
    alae_status s = enter_level(t, (int32_t)v);
    if (s != ALAE_OK) return s;
    t->blend = 1.0;
    t->schedule_active = 0;
    return ALAE_OK;
}

static alae_status set_blend(alae_trainer *t, double v) {
    if (!(v >= 0 && v <= 1))
        return alaei_fail(ALAE_E_INVALID_ARG, "alae_trainer_set", "ALAE_TRAIN_BLEND %g is not in [0, 1]", v);
    if (v < 1 && t->lod == 0)
        return alaei_fail(ALAE_E_INVALID_ARG, "alae_trainer_set",
                          "ALAE_TRAIN_BLEND %g < 1 needs ALAE_TRAIN_LOD > 0 (level 0 has no predecessor)", v);
    t->blend = v;
    t->schedule_active = 0;
    return ALAE_OK;
}

ALAE_API alae_status alae_trainer_set(alae_trainer *t, int32_t key, double v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    int ok = isfinite(v);
    switch (key) {
    case ALAE_TRAIN_R1_GAMMA:
        if (!(ok && v >= 0)) break;
        t->r1_gamma = v;
        alaei_trainer_free_plans(t); /* the graphs depend on it */
        return ALAE_OK;
    case ALAE_TRAIN_R1_INTERVAL:
        if (!is_integer(v) || v < 1 || v > 1024) break;
        t->r1_interval = (int32_t)v;
        alaei_trainer_free_plans(t); /* the D-step graphs depend on it */
        return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS:
        if (v != ALAE_LATENT_L2 && v != ALAE_LATENT_L1) break;
        t->latent_loss = (int32_t)v;
        alaei_trainer_free_plans(t);
        return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS_WEIGHT:
        if (!(ok && v >= 0)) break;
        t->latent_weight = v;
        alaei_trainer_free_plans(t);
        return ALAE_OK;
    case ALAE_TRAIN_EMA_HALF_LIFE:
        if (!(ok && v >= 0)) break;
        t->ema_half_life = v;
        return ALAE_OK;
    case ALAE_TRAIN_DLATENT_BETA:
        if (!(ok && v >= 0 && v <= 1)) break;
        t->dlatent_beta = v;
        return ALAE_OK;
    case ALAE_TRAIN_SEED:
        if (!(ok && v >= 0 && v <= 9007199254740992.0 && v == floor(v))) break;
        t->seed = (uint64_t)v;
        t->rng_offset = 0;
        return ALAE_OK;
    case ALAE_TRAIN_LOD: return set_lod(t, v);
    case ALAE_TRAIN_BLEND: return set_blend(t, v);
    case ALAE_TRAIN_STYLE_MIXING:
        if (!(v >= 0 && v <= 1)) break;
        t->mixing_prob = v; /* plans follow through their key */
        return ALAE_OK;
    case ALAE_TRAIN_EPOCHS_PER_LOD:
        if (!is_integer(v) || v < 0 || v > 1e6) break;
        t->sched.epochs_per_lod = (int64_t)v;
        return t->schedule_active ? apply_schedule(t) : ALAE_OK;
    case ALAE_TRAIN_DATASET_SIZE:
        if (!is_integer(v) || v < 1 || v > 1e15) break;
        t->sched.dataset_size = (int64_t)v;
        return t->schedule_active ? apply_schedule(t) : ALAE_OK;
    case ALAE_TRAIN_EPOCHS:
        if (!is_integer(v) || v < 0 || v > 1e9) break;
        t->sched.epochs = (int64_t)v;
        return ALAE_OK;
    case ALAE_TRAIN_EPOCH:
    case ALAE_TRAIN_EPOCH_IMAGES:
    case ALAE_TRAIN_BATCH:
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "trainer key %d is read-only (see alae_trainer_set_position)",
                          (int)key);
    default:
        return alaei_fail_key(__func__, key, ALAEI_KEYS_TRAIN);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "value %g is out of range for trainer key %d", v, (int)key);
}

ALAE_API alae_status alae_trainer_get(const alae_trainer *t, int32_t key, double *v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(v);
    switch (key) {
    case ALAE_TRAIN_R1_GAMMA: *v = t->r1_gamma; return ALAE_OK;
    case ALAE_TRAIN_R1_INTERVAL: *v = t->r1_interval; return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS: *v = t->latent_loss; return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS_WEIGHT: *v = t->latent_weight; return ALAE_OK;
    case ALAE_TRAIN_EMA_HALF_LIFE: *v = t->ema_half_life; return ALAE_OK;
    case ALAE_TRAIN_DLATENT_BETA: *v = t->dlatent_beta; return ALAE_OK;
    case ALAE_TRAIN_SEED: *v = (double)t->seed; return ALAE_OK;
    case ALAE_TRAIN_LOD: *v = t->lod; return ALAE_OK;
    case ALAE_TRAIN_BLEND: *v = t->blend; return ALAE_OK;
    case ALAE_TRAIN_STYLE_MIXING: *v = t->mixing_prob; return ALAE_OK;
    case ALAE_TRAIN_EPOCHS_PER_LOD: *v = (double)t->sched.epochs_per_lod; return ALAE_OK;
    case ALAE_TRAIN_DATASET_SIZE: *v = (double)t->sched.dataset_size; return ALAE_OK;
    case ALAE_TRAIN_EPOCHS: *v = (double)t->sched.epochs; return ALAE_OK;
    case ALAE_TRAIN_EPOCH: *v = (double)t->epoch; return ALAE_OK;
    case ALAE_TRAIN_EPOCH_IMAGES: *v = (double)t->epoch_images; return ALAE_OK;
    case ALAE_TRAIN_BATCH: *v = (double)t->sched.batch[t->lod]; return ALAE_OK;
    default: return alaei_fail_key(__func__, key, ALAEI_KEYS_TRAIN);
    }
}

static alae_status check_level(const alae_trainer *t, int32_t lod, const char *func) {
    if (lod < 0 || lod >= levels_of(t))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "level %d is not in 0..%d", (int)lod, (int)levels_of(t) - 1);
    return ALAE_OK;
}

ALAE_API alae_status alae_trainer_set_level(alae_trainer *t, int32_t lod, int32_t key, double v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    alae_status s = check_level(t, lod, __func__);
    if (s != ALAE_OK) return s;
    switch (key) {
    case ALAE_LEVEL_BATCH:
        if (!is_integer(v) || v < 1 || v > (1 << 20)) break;
        t->sched.batch[lod] = (int64_t)v;
        return ALAE_OK;
    case ALAE_LEVEL_LR:
        if (!(isfinite(v) && v >= 0)) break;
        t->sched.lr[lod] = v;
        return ALAE_OK;
    default:
        return alaei_fail_key(__func__, key, ALAEI_KEYS_LEVEL);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "value %g is out of range for level key %d", v, (int)key);
}

ALAE_API alae_status alae_trainer_get_level(const alae_trainer *t, int32_t lod, int32_t key, double *v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(v);
    alae_status s = check_level(t, lod, __func__);
    if (s != ALAE_OK) return s;
    switch (key) {
    case ALAE_LEVEL_BATCH: *v = (double)t->sched.batch[lod]; return ALAE_OK;
    case ALAE_LEVEL_LR: *v = t->sched.lr[lod]; return ALAE_OK;
    default: return alaei_fail_key(__func__, key, ALAEI_KEYS_LEVEL);
    }
}

ALAE_API alae_status alae_trainer_reserve(alae_trainer *t, int64_t batch, size_t *bytes_needed) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    if (batch < 1 || batch > (1 << 20))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "batch %lld is not in 1..2^20", (long long)batch);
    int64_t real_size = t->key.batch == batch ? t->key.real_size : alaei_level_size(&t->model->cfg, t->lod);
    alae_status s = alaei_trainer_build_plans(t, batch, real_size);
    if (s == ALAE_OK && bytes_needed) *bytes_needed = alaei_trainer_plan_bytes(t);
    return s;
}

ALAE_API uint64_t alae_trainer_step_count(const alae_trainer *t) { return t ? t->step : 0; }

/* ---- one iteration ---- */

/* count normals. Data parallelism: per_sample draws are this rank's rows of the global batch's
 * count * ranks draws (as one process with the global batch draws them); shared draws are the
 * same on every rank. */
static alae_status draw_normals(alae_trainer *t, void *dst, int64_t count, int per_sample) {
    uint64_t ranks = per_sample ? (uint64_t)alaei_trainer_ranks(t) : 1;
    uint64_t offset = t->rng_offset + (per_sample ? (uint64_t)alaei_trainer_rank(t) * (uint64_t)count : 0);
    t->rng_offset += (uint64_t)count * ranks;
    return alaei_device_normal(t->model->ctx, dst, count, (uint64_t)t->seed, offset, 0.0, 1.0);
}

static alae_status draw_normal(alae_trainer *t, void *dst, int64_t count) { return draw_normals(t, dst, count, 1); }

/* The noise maps of one generator call, map by map (a map every sample shares is drawn alike on
 * every rank). */
static alae_status draw_noise(alae_trainer *t, void *dst) {
    alae_context *ctx = t->model->ctx;
    int64_t n = t->key.batch, done = 0;
    alae_status s = ALAE_OK;
    for (int32_t level = 0; s == ALAE_OK && level <= t->lod; level++) {
        int64_t side = alaei_level_size(&t->model->cfg, level);
        for (int k = 1; s == ALAE_OK && k <= 2; k++) {
            int shared = alaei_style_noise_map_batch(level, k, 2, ALAE_NOISE_PER_SAMPLE) == 1;
            int64_t count = (shared ? 1 : n) * side * side;
            s = draw_normals(t, (char *)dst + (size_t)done * alaei_device_elem_size(ctx), count, !shared);
            done += count;
        }
    }
    return s;
}

/* The iteration's random inputs: latents, then (StyleALAE) mixing latents and noise maps. */
static alae_status draw_step_inputs(alae_trainer *t) {
    const alae_model_config *c = &t->model->cfg;
    int64_t z_count = t->key.batch * c->latent_dim;
    alae_status s = ALAE_OK;
    for (int k = 0; s == ALAE_OK && k < 3; k++) s = draw_normal(t, t->z[k], z_count);
    for (int k = 0; s == ALAE_OK && k < 2 && t->z_mix[k]; k++) s = draw_normal(t, t->z_mix[k], z_count);
    int64_t noise_count = is_style(t) ? alaei_style_noise_numel(c, t->lod, t->key.batch, ALAE_NOISE_PER_SAMPLE) : 0;
    for (int k = 0; s == ALAE_OK && k < 3 && noise_count > 0; k++) s = draw_noise(t, t->noise[k]);
    return s;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A uniform number in [0, 1) that depends only on (seed, step, k): resumable without state. */
static double step_uniform(const alae_trainer *t, uint64_t k) {
    return (double)(splitmix64(t->seed ^ splitmix64(t->step * 8 + k)) >> 11) * (1.0 / 9007199254740992.0);
}

/* Style-mixing rows of generation k (0: D-step, 1: G-step): with probability mixing_prob, a
 * crossover c uniform in 1..2(lod+1) and rows >= c from the second latent; else none. */
static alae_status write_mixing_masks(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    int32_t rows = alaei_style_count(&t->model->cfg), active_rows = 2 * (t->lod + 1);
    alae_status s = ALAE_OK;
    for (int k = 0; s == ALAE_OK && k < 2 && t->mix_mask[k]; k++) {
        int mix = step_uniform(t, 2 * (uint64_t)k) < t->mixing_prob;
        int32_t crossover = 1 + (int32_t)(step_uniform(t, 2 * (uint64_t)k + 1) * active_rows);
        for (int32_t r = 0; r < rows; r++) t->mask_host[r] = mix && r >= crossover ? 1.0f : 0.0f;
        s = alaei_device_upload(ctx, t->mix_mask[k], t->mask_host, (size_t)rows);
    }
    return s;
}

static alae_status write_blend(alae_trainer *t) {
    if (!t->blend_buf) return ALAE_OK;
    alae_context *ctx = t->model->ctx;
    float blend = (float)t->blend;
    return alaei_device_upload(ctx, t->blend_buf, &blend, 1);
}

/* The running mean of w: avg += (1 - beta) (mean over the batch of w - avg). */
static alae_status update_dlatent_avg(alae_trainer *t, const step_plan *sp) {
    alae_context *ctx = t->model->ctx;
    int64_t n = t->key.batch, L = t->model->cfg.latent_dim;
    alae_status s = alaei_device_download(ctx, t->w_host, alaei_plan_data(sp->plan, sp->w), (size_t)(n * L));
    if (s != ALAE_OK) return s;
    float *avg = t->model->dlatent_avg, *mean = t->w_host; /* the means overwrite row 0, column by column */
    for (int64_t j = 0; j < L; j++) {
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++) sum += t->w_host[i * L + j];
        mean[j] = sum / (float)n;
    }
    s = alaei_trainer_average_host(t, mean, (size_t)L); /* the global batch's mean */
    for (int64_t j = 0; s == ALAE_OK && j < L; j++) avg[j] = avg[j] + (float)(1.0 - t->dlatent_beta) * (mean[j] - avg[j]);
    return s;
}

/* The smoothed copy's rate: p_s += rate (p - p_s), rate = 1 - 0.5^(global batch / half_life). */
static double smoothing_rate(const alae_trainer *t) {
    return 1.0 - pow(0.5, (double)(t->key.batch * alaei_trainer_ranks(t)) / t->ema_half_life);
}

/* An optimizer step; with `smooth` (the iteration's last step of these parameters) the smoothed
 * copy of every parameter it updates follows in the same pass (ADAM_EMA_STEP). */
static alae_status optimizer_step_opt(alae_trainer *t, alae_optimizer *opt, const step_plan *sp, int smooth) {
    for (int32_t i = 0; i < t->model->n_params; i++)
        t->grad_ptr[i] = sp->grad[i] >= 0 && (t->model->params[i].part & opt->part_mask)
                             ? alaei_plan_data(sp->plan, sp->grad[i]) : NULL;
    alae_status s = alaei_trainer_average_grads(t, t->grad_ptr); /* data parallelism: the global batch's */
    if (s != ALAE_OK) return s;
    if (smooth && t->ema_half_life > 0)
        return alaei_optimizer_step_smoothed(opt, t->grad_ptr, t->ema, t->ema_scratch, smoothing_rate(t), t->ema_done);
    return alaei_optimizer_step(opt, t->grad_ptr);
}

static alae_status optimizer_step(alae_trainer *t, alae_optimizer *opt, const step_plan *sp) {
    return optimizer_step_opt(t, opt, sp, 0);
}

/* An E|D optimizer step. With lazy R1 (interval k > 1) Adam runs with the learning rate times
 * c = k / (k + 1) and the betas to the power c, as StyleGAN2 does for its lazily regularised
 * discriminator; the optimizer's own settings are restored afterwards. */
static alae_status optimizer_step_ed(alae_trainer *t, const step_plan *sp, int smooth) {
    alae_optimizer *opt = t->opt_ed;
    if (t->r1_interval <= 1) return optimizer_step_opt(t, opt, sp, smooth);
    double lr = opt->lr, beta1 = opt->beta1, beta2 = opt->beta2, c = t->r1_interval / (t->r1_interval + 1.0);
    opt->lr = lr * c;
    opt->beta1 = pow(beta1, c);
    opt->beta2 = pow(beta2, c);
    alae_status s = optimizer_step_opt(t, opt, sp, smooth);
    opt->lr = lr;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    return s;
}

static alae_status read_scalar(alae_trainer *t, const step_plan *sp, int32_t node, float *out) {
    alae_context *ctx = t->model->ctx;
    return alaei_device_download(ctx, out, alaei_plan_data(sp->plan, node), 1);
}

/* p_s += (1 - beta) (p - p_s), beta = 0.5^(batch / half_life), for the parameters whose last
 * Adam step of the iteration did not already do it (ema_done, which this clears). */
static alae_status update_smoothed(alae_trainer *t) {
    if (t->ema_half_life <= 0) return ALAE_OK;
    alae_context *ctx = t->model->ctx;
    double rate = smoothing_rate(t);
    for (int32_t i = 0; i < t->model->n_params; i++) {
        const alaei_param *p = &t->model->params[i];
        if (t->ema_done[i]) {
            t->ema_done[i] = 0;
            continue;
        }
        alae_status s = alaei_device_binary(ctx, ALAEI_OP_SUB, t->ema_scratch, p->data, t->ema[i], p->numel);
        if (s == ALAE_OK) s = alaei_device_scale_shift(ctx, t->ema_scratch, t->ema_scratch, p->numel, rate, 0.0);
        if (s == ALAE_OK) s = alaei_device_binary(ctx, ALAEI_OP_ADD, t->ema[i], t->ema[i], t->ema_scratch, p->numel);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* After a step: the schedule advances by the batch and the fade-in follows. */
static void advance_schedule(alae_trainer *t) {
    if (!t->schedule_active) return;
    t->epoch_images += (uint64_t)(t->key.batch * alaei_trainer_ranks(t)); /* the global batch */
    t->blend = alaei_schedule_blend(&t->sched, levels_of(t), t->epoch, t->epoch_images);
}

/* One iteration with the random inputs already in the trainer's buffers. */
static alae_status run_iteration(alae_trainer *t, const alae_tensor *real, alae_step_stats *stats) {
    /* lazy R1: the penalty on D-steps 0, k, 2k, ... (the D-step of iteration `step`) */
    step_plan *dp = t->r1_interval > 1 && t->step % (uint64_t)t->r1_interval ? &t->d_plain : &t->d;
    alae_status s = alaei_plan_bind(dp->plan, dp->in_a, real->data);
    float loss_d = 0, loss_g = 0, loss_ae = 0, r1 = 0;
    if (s == ALAE_OK) s = write_blend(t);
    /* I: D-step on E and D */
    if (s == ALAE_OK) s = alaei_plan_run(t->gen.plan);
    if (s == ALAE_OK) s = update_dlatent_avg(t, &t->gen);
    if (s == ALAE_OK) s = alaei_plan_run(dp->plan);
    if (s == ALAE_OK) s = optimizer_step_ed(t, dp, 0);
    if (s == ALAE_OK) s = read_scalar(t, dp, dp->loss, &loss_d);
    if (s == ALAE_OK && dp->extra >= 0) s = read_scalar(t, dp, dp->extra, &r1);
    if (s == ALAE_OK && t->phase_hook) t->phase_hook(t->phase_user, 1);
    /* II: G-step on F and G */
    if (s == ALAE_OK) s = alaei_plan_run(t->g.plan);
    if (s == ALAE_OK) s = update_dlatent_avg(t, &t->g);
    if (s == ALAE_OK) s = optimizer_step(t, t->opt_fg, &t->g);
    if (s == ALAE_OK) s = read_scalar(t, &t->g, t->g.loss, &loss_g);
    if (s == ALAE_OK && t->phase_hook) t->phase_hook(t->phase_user, 2);
    /* III: latent matching on E, G and F (and D's zero-gradient step) */
    if (s == ALAE_OK) s = alaei_plan_run(t->ae.plan);
    if (s == ALAE_OK) s = update_dlatent_avg(t, &t->ae);
    /* the last Adam step of these parameters in the iteration: the smoothed copy follows in it */
    if (s == ALAE_OK) memset(t->ema_done, 0, (size_t)t->model->n_params);
    if (s == ALAE_OK) s = optimizer_step_ed(t, &t->ae, 1);
    if (s == ALAE_OK) s = optimizer_step_opt(t, t->opt_fg, &t->ae, 1);
    if (s == ALAE_OK) s = read_scalar(t, &t->ae, t->ae.loss, &loss_ae);
    if (s == ALAE_OK) s = update_smoothed(t);
    float losses[4] = {loss_d, loss_g, loss_ae, r1};
    if (s == ALAE_OK) s = alaei_trainer_average_host(t, losses, 4);
    if (s != ALAE_OK) return s;
    loss_d = losses[0], loss_g = losses[1], loss_ae = losses[2], r1 = losses[3];
    t->step++;
    advance_schedule(t);
    if (stats) {
        alae_step_stats full = {sizeof full, loss_d, loss_g, loss_ae, r1, t->step};
        uint32_t size = stats->struct_size < sizeof full ? stats->struct_size : (uint32_t)sizeof full;
        memcpy(stats, &full, size);
        stats->struct_size = size;
    }
    return ALAE_OK;
}

/* Checks the real batch (at the level's size, or at the model's image size for StyleALAE)
 * and makes the plans for it. */
static alae_status check_real(alae_trainer *t, const alae_tensor *real, const char *func) {
    const alae_model_config *c = &t->model->cfg;
    if (real->ctx != t->model->ctx)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the batch belongs to another context than the model");
    int64_t level_size = alaei_level_size(c, t->lod);
    int size_ok = real->ndim == 4 && (real->shape[2] == level_size || (is_style(t) && real->shape[2] == c->image_size));
    if (!size_ok || real->shape[1] != c->channels || real->shape[3] != real->shape[2]) {
        if (level_size != c->image_size)
            return alaei_fail(ALAE_E_SHAPE, func, "the batch must be [N, %d, %lld, %lld] (level %d) or [N, %d, %d, %d]",
                              (int)c->channels, (long long)level_size, (long long)level_size, (int)t->lod,
                              (int)c->channels, (int)c->image_size, (int)c->image_size);
        return alaei_fail(ALAE_E_SHAPE, func, "the batch must be [N, %d, %d, %d]", (int)c->channels, (int)c->image_size,
                          (int)c->image_size);
    }
    if (real->shape[0] < 1 || real->shape[0] > (1 << 20))
        return alaei_fail(ALAE_E_SHAPE, func, "batch %lld is not in 1..2^20", (long long)real->shape[0]);
    return alaei_trainer_build_plans(t, real->shape[0], real->shape[2]);
}

ALAE_API alae_status alae_trainer_step(alae_trainer *t, const alae_tensor *real, alae_step_stats *stats) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(real);
    if (stats && stats->struct_size == 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "stats->struct_size is 0");
    alae_status s = check_real(t, real, __func__);
    if (s != ALAE_OK) return s;
    alaei_context_begin_call(t->model->ctx);
    uint64_t offset = t->rng_offset;
    s = draw_step_inputs(t);
    if (s == ALAE_OK) s = write_mixing_masks(t);
    if (s == ALAE_OK) s = run_iteration(t, real, stats);
    if (s != ALAE_OK) t->rng_offset = offset;
    return s;
}

/* For the parity tests: one iteration with given latents (host floats, [N, L] each) and, for
 * StyleALAE, the noise of the three generator calls (host floats in draw order; NULL: zeros).
 * Style mixing draws nothing here: set ALAE_TRAIN_STYLE_MIXING to 0. */
alae_status alaei_trainer_step_with_latents(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                            alae_step_stats *stats);
alae_status alaei_trainer_step_with_inputs(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                           const float *const noise[3], alae_step_stats *stats);

alae_status alaei_trainer_step_with_inputs(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                           const float *const noise[3], alae_step_stats *stats) {
    alae_status s = check_real(t, real, __func__);
    alae_context *ctx = t->model->ctx;
    const alae_model_config *c = &t->model->cfg;
    size_t count = (size_t)t->key.batch * (size_t)c->latent_dim;
    int64_t noise_count = is_style(t) ? alaei_style_noise_numel(c, t->lod, t->key.batch, ALAE_NOISE_PER_SAMPLE) : 0;
    for (int k = 0; s == ALAE_OK && k < 3; k++) s = alaei_device_upload(ctx, t->z[k], z[k], count);
    for (int k = 0; s == ALAE_OK && k < 3 && noise_count > 0; k++)
        s = noise && noise[k] ? alaei_device_upload(ctx, t->noise[k], noise[k], (size_t)noise_count)
                              : alaei_device_fill(ctx, t->noise[k], (size_t)noise_count, 0.0);
    for (int k = 0; s == ALAE_OK && k < 2 && t->z_mix[k]; k++)
        s = alaei_device_fill(ctx, t->z_mix[k], count, 0.0);
    for (int k = 0; s == ALAE_OK && k < 2 && t->mix_mask[k]; k++)
        s = alaei_device_fill(ctx, t->mix_mask[k], (size_t)alaei_style_count(c), 0.0);
    return s == ALAE_OK ? run_iteration(t, real, stats) : s;
}

alae_status alaei_trainer_step_with_latents(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                            alae_step_stats *stats) {
    return alaei_trainer_step_with_inputs(t, real, z, NULL, stats);
}
