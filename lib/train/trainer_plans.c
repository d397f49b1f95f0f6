/* The trainer's step graphs. For a key (batch N, level, transition or not, real image size,
 * style mixing on or off) it builds four plans once:
 *   gen: z -> (w, x_fake = G(mix(F(z))))                  the D-step's fakes, without gradients
 *   d:   (x_real, x_fake) -> loss_d, r1, dL/d(E, D)        softplus losses + R1 (double backward)
 *        (with lazy R1, r1_interval = k > 1: R1 weighted k gamma / 2, and a fifth plan d_plain,
 *        the D-step without R1, for the k - 1 D-steps in between)
 *   g:   z -> loss_g, w, dL/d(F, G)                        non-saturating loss through frozen E
 *   ae:  z -> loss_ae, w, dL/d(F, G, E, D)                 latent matching against detached F(z)
 * and every later step with that key reuses them, allocating nothing. The fade-in factor, the
 * noise maps, the latents and the style-mixing rows are inputs bound to trainer buffers.
 *
 * Memory: d, g and ae run one after another and each step's outputs (gradients, losses, w) are
 * consumed (optimizer step, read-back) before the next plan runs, so the three are planned with
 * alaei_plan_create_shared and run in one arena of the largest one's size. gen keeps its own:
 * its output x_fake is the d plan's input. Tests that read a step's gradients or intermediates
 * after the whole iteration (keep_taps, a phase hook) get one arena per plan instead. */
#include <stdlib.h>
#include <string.h>

#include "trainer_internal.h"

static int is_style(const alae_trainer *t) { return t->model->cfg.arch == ALAE_ARCH_STYLE; }

int alaei_trainer_transition(const alae_trainer *t) { return t->blend < 1.0 && t->lod > 0; }

static int uses_mixing(const alae_trainer *t) { return is_style(t) && t->mixing_prob > 0; }

static void free_buffer(alae_context *ctx, void **buf) {
    alaei_device_free(ctx, *buf);
    *buf = NULL;
}

static void free_step(step_plan *sp) {
    alaei_plan_destroy(sp->plan);
    alaei_net_free(&sp->net);
    free(sp->grad);
    memset(sp, 0, sizeof *sp);
}

void alaei_trainer_free_plans(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    free_step(&t->gen);
    free_step(&t->d);
    free_step(&t->d_plain);
    free_step(&t->g);
    free_step(&t->ae);
    free_buffer(ctx, &t->step_arena);
    t->step_arena_bytes = 0;
    for (int k = 0; k < 3; k++) {
        free_buffer(ctx, &t->z[k]);
        free_buffer(ctx, &t->noise[k]);
    }
    for (int k = 0; k < 2; k++) {
        free_buffer(ctx, &t->z_mix[k]);
        free_buffer(ctx, &t->mix_mask[k]);
    }
    free_buffer(ctx, &t->blend_buf);
    free(t->w_host);
    free(t->mask_host);
    t->w_host = NULL;
    t->mask_host = NULL;
    memset(&t->key, 0, sizeof t->key);
}

/* Whether the d, g and ae plans share one arena (see the top of this file). */
static int shares_arena(const alae_trainer *t) { return !t->keep_taps && !t->phase_hook; }

size_t alaei_trainer_plan_bytes(const alae_trainer *t) {
    size_t gen = alaei_plan_arena_bytes(t->gen.plan);
    if (t->step_arena) return gen + t->step_arena_bytes;
    return gen + alaei_plan_arena_bytes(t->d.plan) + alaei_plan_arena_bytes(t->d_plain.plan) +
           alaei_plan_arena_bytes(t->g.plan) + alaei_plan_arena_bytes(t->ae.plan);
}

/* ---- building ---- */

static alae_status init_step(alae_trainer *t, step_plan *sp) {
    memset(sp, 0, sizeof *sp);
    sp->in_a = sp->in_b = sp->z_mix = sp->mix_mask = sp->loss = sp->extra = sp->w = -1;
    alae_status s = alaei_net_init(&sp->net, t->model);
    if (s != ALAE_OK) return s;
    sp->net.lod = t->lod;
    sp->net.taps_on = t->keep_taps;
    if (alaei_trainer_transition(t)) {
        int64_t one = 1;
        sp->net.blend = alaei_input(sp->net.g, 1, &one, "blend");
    }
    return ALAE_OK;
}

/* Appends the gradients of loss with respect to every parameter in part_mask. A parameter the
 * loss does not depend on gets none (the reference's .grad is None and Adam skips it), except
 * in keep_zero_mask: those take zero-gradient steps (D in the latent step, as the reference's
 * zero_grad()-then-step does). With first_part >= 0, the gradient is first_part's (gradients of
 * an earlier part of the loss, built by first_part_grads) plus loss's: a parameter gets one when
 * either part depends on it. */
static alae_status add_param_grads_sum(step_plan *sp, int32_t loss, int32_t part_mask, int32_t keep_zero_mask,
                                       const int32_t *first_part) {
    const alae_model *m = sp->net.m;
    int32_t *wrt = calloc((size_t)m->n_params, sizeof(int32_t)), n = 0;
    int32_t *index = malloc((size_t)m->n_params * sizeof(int32_t));
    int32_t *grads = malloc((size_t)m->n_params * sizeof(int32_t));
    sp->grad = malloc((size_t)m->n_params * sizeof(int32_t));
    alae_status s = ALAE_OK;
    if (!wrt || !index || !grads || !sp->grad) {
        s = alaei_fail(ALAE_E_NOMEM, "alae_trainer", "no memory");
    } else {
        for (int32_t i = 0; i < m->n_params; i++) {
            sp->grad[i] = -1;
            if (!(m->params[i].part & part_mask)) continue;
            wrt[n] = alaei_net_param(&sp->net, i);
            index[n++] = i;
        }
        s = alaei_grad(sp->net.g, loss, -1, n, wrt, grads);
        for (int32_t k = 0; s == ALAE_OK && k < n; k++) {
            int32_t i = index[k], gk = grads[k];
            int independent = alaei_graph_node(sp->net.g, gk)->op == ALAEI_OP_FILL;
            if (first_part && first_part[i] >= 0) {
                gk = independent ? first_part[i] : alaei_add(sp->net.g, first_part[i], gk);
                independent = 0;
            }
            if (!independent || (m->params[i].part & keep_zero_mask)) sp->grad[i] = gk;
        }
    }
    free(wrt);
    free(index);
    free(grads);
    return s;
}

static alae_status add_param_grads(step_plan *sp, int32_t loss, int32_t part_mask, int32_t keep_zero_mask) {
    return add_param_grads_sum(sp, loss, part_mask, keep_zero_mask, NULL);
}

/* Plans sp for its outputs (loss, extra, w, gradients, "train.*" taps) and binds the model's
 * parameters; a shared plan gets its arena later (attach_shared_arena). */
static alae_status finish_step(alae_trainer *t, step_plan *sp, const char *what, int shared) {
    alaei_graph *g = sp->net.g;
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, what);
    const alae_model *m = t->model;
    int32_t *outs = malloc((size_t)(m->n_params + 3 + sp->net.n_taps) * sizeof(int32_t)), n = 0;
    if (!outs) return alaei_fail(ALAE_E_NOMEM, what, "no memory");
    if (sp->loss >= 0) outs[n++] = sp->loss;
    if (sp->extra >= 0) outs[n++] = sp->extra;
    if (sp->w >= 0) outs[n++] = sp->w;
    for (int32_t i = 0; sp->grad && i < m->n_params; i++)
        if (sp->grad[i] >= 0) outs[n++] = sp->grad[i];
    for (int32_t i = 0; i < sp->net.n_taps; i++)
        if (!strncmp(sp->net.taps[i].name, "train.", 6)) outs[n++] = sp->net.taps[i].node;
    alae_status s = shared ? alaei_plan_create_shared(m->ctx, g, n, outs, &sp->plan)
                           : alaei_plan_create(m->ctx, g, n, outs, &sp->plan);
    free(outs);
    if (s == ALAE_OK) s = alaei_net_bind(&sp->net, sp->plan, NULL);
    return s;
}

/* G(F(z)) with style mixing when enabled: rows from the crossover on come from F(z_mix). */
static int32_t generate(alae_trainer *t, step_plan *sp, int allow_mixing) {
    alaei_graph *g = sp->net.g;
    int64_t zs[2] = {t->key.batch, t->model->cfg.latent_dim}, rows = alaei_style_count(&t->model->cfg);
    sp->in_a = alaei_input(g, 2, zs, "z");
    sp->w = alaei_net_F(&sp->net, sp->in_a);
    alaei_net_tap(&sp->net, sp->w, "train.w");
    int32_t x;
    if (allow_mixing && uses_mixing(t)) {
        sp->z_mix = alaei_input(g, 2, zs, "z_mix");
        sp->mix_mask = alaei_input(g, 1, &rows, "mix_mask");
        x = alaei_net_G_styles(&sp->net, alaei_style_mix(&sp->net, sp->w, alaei_net_F(&sp->net, sp->z_mix), sp->mix_mask));
    } else {
        x = alaei_net_G(&sp->net, sp->w);
    }
    alaei_net_tap(&sp->net, x, "train.x_fake");
    return x;
}

static alae_status build_gen(alae_trainer *t) {
    step_plan *sp = &t->gen;
    alae_status s = init_step(t, sp);
    if (s != ALAE_OK) return s;
    sp->extra = generate(t, sp, 1);
    return finish_step(t, sp, "alae_trainer_step (D-step fakes)", 0);
}

/* The real batch as the networks see it: average-pooled to the level's size, and during a
 * transition blended with its 2x-downsampled, nearest-upsampled copy. */
static int32_t prepare_real(alae_trainer *t, step_plan *sp, int32_t x) {
    alaei_graph *g = sp->net.g;
    int64_t level_size = alaei_level_size(&t->model->cfg, t->lod);
    x = alaei_blk_avg_pool(g, x, (int32_t)(t->key.real_size / level_size));
    if (sp->net.blend >= 0) {
        int32_t coarse = alaei_blk_upscale2d(g, alaei_blk_downscale2d(g, x));
        int32_t keep = alaei_scale_shift(g, sp->net.blend, -1.0, 1.0); /* 1 - blend */
        x = alaei_add(g, alaei_mul(g, x, sp->net.blend), alaei_mul(g, coarse, keep));
    }
    alaei_net_tap(&sp->net, x, "train.x_real");
    return x;
}

/* The D-step. Its loss is split as mean(softplus(d_fake)) + mean(softplus(-d_real) + R1), and
 * the fake half (forward and gradients) is built first: the plan runs in node order, so the fake
 * batch's activations are freed before the real batch's forward, R1 and double backward start
 * (the reference's single backward keeps both alive at its peak). with_r1 = 0: without R1 (the
 * lazy-R1 D-steps in between); else R1 weighted r1_interval * gamma / 2. */
static alae_status build_d(alae_trainer *t, step_plan *sp, int with_r1) {
    alae_status s = init_step(t, sp);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    const alae_model_config *c = &t->model->cfg;
    int64_t n = t->key.batch, level_size = alaei_level_size(c, t->lod);
    int64_t real[4] = {n, c->channels, t->key.real_size, t->key.real_size}, fake[4] = {n, c->channels, level_size, level_size};
    sp->in_a = alaei_input(g, 4, real, "x_real");
    sp->in_b = alaei_input(g, 4, fake, "x_fake");
    /* fake half */
    int32_t w_fake = alaei_net_E(&sp->net, sp->in_b), d_fake = alaei_net_D(&sp->net, w_fake);
    alaei_net_tap(&sp->net, w_fake, "train.w_fake");
    alaei_net_tap(&sp->net, d_fake, "train.d_fake");
    int32_t loss_fake = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, d_fake));
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (D-step)");
    if ((s = add_param_grads(sp, loss_fake, ALAE_PART_E | ALAE_PART_D, 0)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (D-step gradients)");
    int32_t *fake_grads = sp->grad;
    sp->grad = NULL;
    /* real half with R1 */
    int32_t x = prepare_real(t, sp, sp->in_a);
    int32_t w_real = alaei_net_E(&sp->net, x), d_real = alaei_net_D(&sp->net, w_real);
    alaei_net_tap(&sp->net, w_real, "train.w_real");
    alaei_net_tap(&sp->net, d_real, "train.d_real");
    if (!with_r1) {
        int32_t loss_real = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, d_real)));
        sp->loss = alaei_add(g, loss_fake, loss_real);
        if (alaei_graph_status(g) != ALAE_OK) s = alaei_graph_fail_public(g, "alae_trainer_step (D-step)");
        else if ((s = add_param_grads_sum(sp, loss_real, ALAE_PART_E | ALAE_PART_D, 0, fake_grads)) != ALAE_OK)
            s = alaei_graph_fail_public(g, "alae_trainer_step (D-step gradients)");
        free(fake_grads);
        return s != ALAE_OK ? s : finish_step(t, sp, "alae_trainer_step (D-step)", shares_arena(t));
    }
    /* R1: the gradient of sum(d_real) with respect to the (blended) real images, kept in the graph */
    int32_t real_grads;
    s = alaei_grad(g, alaei_sum_all(g, d_real), -1, 1, &x, &real_grads);
    if (s != ALAE_OK) {
        free(fake_grads);
        return alaei_graph_fail_public(g, "alae_trainer_step (R1)");
    }
    int64_t per_sample[4] = {1, 1, 1, n}, batch_ne[4] = {n, 1, 1, 1};
    int32_t r1 = alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, real_grads), batch_ne);
    r1 = alaei_scale_shift(g, alaei_reshape4(g, r1, per_sample), 0.5 * t->r1_gamma * t->r1_interval, 0.0);
    int32_t loss_real =
        alaei_mean_all(g, alaei_add(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, d_real)), r1));
    sp->loss = alaei_add(g, loss_fake, loss_real);
    sp->extra = alaei_mean_all(g, r1);
    if (alaei_graph_status(g) != ALAE_OK) s = alaei_graph_fail_public(g, "alae_trainer_step (D-step)");
    else if ((s = add_param_grads_sum(sp, loss_real, ALAE_PART_E | ALAE_PART_D, 0, fake_grads)) != ALAE_OK)
        s = alaei_graph_fail_public(g, "alae_trainer_step (D-step gradients)");
    free(fake_grads);
    return s != ALAE_OK ? s : finish_step(t, sp, "alae_trainer_step (D-step)", shares_arena(t));
}

static alae_status build_g(alae_trainer *t) {
    step_plan *sp = &t->g;
    alae_status s = init_step(t, sp);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    int32_t w_fake = alaei_net_E(&sp->net, generate(t, sp, 1));
    int32_t d_fake = alaei_net_D(&sp->net, w_fake);
    alaei_net_tap(&sp->net, w_fake, "train.w_fake");
    alaei_net_tap(&sp->net, d_fake, "train.d_fake");
    sp->loss = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, d_fake)));
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (G-step)");
    if ((s = add_param_grads(sp, sp->loss, ALAE_PART_F | ALAE_PART_G, 0)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (G-step gradients)");
    return finish_step(t, sp, "alae_trainer_step (G-step)", shares_arena(t));
}

static alae_status build_ae(alae_trainer *t) {
    step_plan *sp = &t->ae;
    alae_status s = init_step(t, sp);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    int32_t w_rec = alaei_net_E(&sp->net, generate(t, sp, 0)); /* never mixed */
    alaei_net_tap(&sp->net, w_rec, "train.w_rec");
    int32_t diff = alaei_sub(g, w_rec, alaei_detach(g, sp->w)); /* the target w is a constant */
    int32_t per_element = alaei_unary(g, t->latent_loss == ALAE_LATENT_L1 ? ALAEI_OP_ABS : ALAEI_OP_SQUARE, diff);
    sp->loss = alaei_scale_shift(g, alaei_mean_all(g, per_element), t->latent_weight, 0.0);
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (latent step)");
    if ((s = add_param_grads(sp, sp->loss, ALAE_PART_ALL, ALAE_PART_D)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (latent step gradients)");
    return finish_step(t, sp, "alae_trainer_step (latent step)", shares_arena(t));
}

static alae_status alloc_buffer(alae_context *ctx, int64_t count, void **out) {
    return alaei_device_alloc(ctx, (size_t)(count > 0 ? count : 1), out);
}

/* One arena of the largest of the d, d_plain, g and ae plans' sizes, attached to all of them. */
static alae_status attach_shared_arena(alae_trainer *t) {
    if (!shares_arena(t)) return ALAE_OK;
    alae_context *ctx = t->model->ctx;
    step_plan *plans[4] = {&t->d, &t->g, &t->ae, &t->d_plain};
    int nplans = t->d_plain.plan ? 4 : 3;
    size_t bytes = 0;
    for (int k = 0; k < nplans; k++)
        if (alaei_plan_arena_bytes(plans[k]->plan) > bytes) bytes = alaei_plan_arena_bytes(plans[k]->plan);
    if (bytes == 0) return ALAE_OK;
    alae_status s = alaei_device_alloc_bytes(ctx, bytes, &t->step_arena);
    if (s != ALAE_OK) return s;
    t->step_arena_bytes = bytes;
    for (int k = 0; s == ALAE_OK && k < nplans; k++) s = alaei_plan_set_arena(plans[k]->plan, t->step_arena, bytes);
    return s;
}

static alae_status alloc_inputs(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    const alae_model_config *c = &t->model->cfg;
    int64_t n = t->key.batch, z_count = n * c->latent_dim, rows = alaei_style_count(c);
    int64_t noise_count = is_style(t) ? alaei_style_noise_numel(c, t->lod, n, ALAE_NOISE_PER_SAMPLE) : 0;
    alae_status s = ALAE_OK;
    for (int k = 0; s == ALAE_OK && k < 3; k++) {
        s = alloc_buffer(ctx, z_count, &t->z[k]);
        if (s == ALAE_OK && noise_count > 0) s = alloc_buffer(ctx, noise_count, &t->noise[k]);
    }
    for (int k = 0; s == ALAE_OK && uses_mixing(t) && k < 2; k++) {
        s = alloc_buffer(ctx, z_count, &t->z_mix[k]);
        if (s == ALAE_OK) s = alloc_buffer(ctx, rows, &t->mix_mask[k]);
    }
    if (s == ALAE_OK && alaei_trainer_transition(t)) s = alloc_buffer(ctx, 1, &t->blend_buf);
    t->w_host = malloc((size_t)z_count * sizeof(float));
    t->mask_host = malloc((size_t)rows * sizeof(float));
    if (s == ALAE_OK && (!t->w_host || !t->mask_host)) s = alaei_fail(ALAE_E_NOMEM, "alae_trainer_reserve", "no memory");
    return s;
}

/* Binds a generation's inputs: latent k, its noise, and the mixing buffers of step `mix`. */
static alae_status bind_generation(alae_trainer *t, step_plan *sp, int k, int mix) {
    alae_status s = alaei_plan_bind(sp->plan, sp->in_a, t->z[k]);
    if (s == ALAE_OK && sp->net.n_noise > 0) s = alaei_plan_bind(sp->plan, sp->net.noise[0], t->noise[k]);
    if (s == ALAE_OK && sp->z_mix >= 0) s = alaei_plan_bind(sp->plan, sp->z_mix, t->z_mix[mix]);
    if (s == ALAE_OK && sp->mix_mask >= 0) s = alaei_plan_bind(sp->plan, sp->mix_mask, t->mix_mask[mix]);
    return s;
}

static alae_status bind_blend(alae_trainer *t, step_plan *sp) {
    return sp->net.blend >= 0 ? alaei_plan_bind(sp->plan, sp->net.blend, t->blend_buf) : ALAE_OK;
}

static alae_status bind_inputs(alae_trainer *t) {
    alae_status s = bind_generation(t, &t->gen, 0, 0);
    if (s == ALAE_OK) s = alaei_plan_bind(t->d.plan, t->d.in_b, alaei_plan_data(t->gen.plan, t->gen.extra));
    if (s == ALAE_OK && t->d_plain.plan)
        s = alaei_plan_bind(t->d_plain.plan, t->d_plain.in_b, alaei_plan_data(t->gen.plan, t->gen.extra));
    if (s == ALAE_OK) s = bind_generation(t, &t->g, 1, 1);
    if (s == ALAE_OK) s = bind_generation(t, &t->ae, 2, 0);
    step_plan *plans[5] = {&t->gen, &t->d, &t->g, &t->ae, &t->d_plain};
    for (int k = 0; s == ALAE_OK && k < (t->d_plain.plan ? 5 : 4); k++) s = bind_blend(t, plans[k]);
    return s;
}

static int same_key(const plan_key *a, const plan_key *b) {
    return a->batch == b->batch && a->real_size == b->real_size && a->lod == b->lod && a->transition == b->transition &&
           a->mixing == b->mixing;
}

alae_status alaei_trainer_build_plans(alae_trainer *t, int64_t n, int64_t real_size) {
    plan_key key;
    memset(&key, 0, sizeof key);
    key.batch = n;
    key.real_size = real_size;
    key.lod = t->lod;
    key.transition = alaei_trainer_transition(t);
    key.mixing = uses_mixing(t);
    if (same_key(&key, &t->key)) return ALAE_OK;
    alaei_trainer_free_plans(t);
    t->key = key;
    alae_status s = alloc_inputs(t);
    if (s == ALAE_OK) s = build_gen(t);
    if (s == ALAE_OK) s = build_d(t, &t->d, 1);
    if (s == ALAE_OK && t->r1_interval > 1) s = build_d(t, &t->d_plain, 0);
    if (s == ALAE_OK) s = build_g(t);
    if (s == ALAE_OK) s = build_ae(t);
    if (s == ALAE_OK) s = attach_shared_arena(t);
    if (s == ALAE_OK) s = bind_inputs(t);
    if (s != ALAE_OK) alaei_trainer_free_plans(t);
    return s;
}
