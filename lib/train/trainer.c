/* The ALAE trainer: the three steps of the reference's iteration as static, planned graphs.
 *
 * For a batch size N it builds four plans once:
 *   gen: z -> (w, x_fake = G(F(z)))                       the D-step's fakes, without gradients
 *   d:   (x_real, x_fake) -> loss_d, r1, dL/d(E, D)       softplus losses + R1 (double backward)
 *   g:   z -> loss_g, w, dL/d(F, G)                       non-saturating loss through frozen E
 *   ae:  z -> loss_ae, w, dL/d(F, G, E, D)                latent matching against detached F(z)
 * and every later step of that size reuses them, allocating nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "optim_internal.h"

typedef struct step_plan {
    alaei_net net;
    alaei_plan *plan;
    int32_t in_a, in_b;      /* input nodes (z or x_real; x_fake) */
    int32_t loss, extra, w;  /* outputs: loss, r1 or x_fake, w */
    int32_t *grad;           /* per model parameter: gradient node, or -1 */
} step_plan;

struct alae_trainer {
    alae_model *model;
    alae_optimizer *opt_fg, *opt_ed;
    double r1_gamma, latent_weight, ema_half_life, dlatent_beta;
    int32_t latent_loss;
    uint64_t seed, step, rng_offset;
    void **ema;              /* per parameter: the smoothed copy */
    void *ema_scratch;
    int64_t batch;           /* batch size the plans are built for, 0 = none */
    step_plan gen, d, g, ae;
    void *z[3];              /* latents of the three steps [N, L] */
    void **grad_ptr;         /* scratch: per parameter gradient memory for one optimizer step */
    float *w_host;           /* [N, L] for the running mean of w */
    void (*phase_hook)(void *user, int phase); /* tests: called after the D-step (1) and G-step (2) */
    void *phase_user;
};

void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user);
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param);

void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user) {
    t->phase_hook = hook;
    t->phase_user = user;
}

/* Gradient memory of parameter `param` in step 0 (D), 1 (G) or 2 (latent), or NULL. */
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param) {
    const step_plan *sp = step == 0 ? &t->d : step == 1 ? &t->g : &t->ae;
    if (!sp->plan || param < 0 || param >= t->model->n_params || sp->grad[param] < 0) return NULL;
    return alaei_plan_data(sp->plan, sp->grad[param]);
}

/* ---- plans ---- */

static void free_step(step_plan *sp) {
    alaei_plan_destroy(sp->plan);
    alaei_net_free(&sp->net);
    free(sp->grad);
    memset(sp, 0, sizeof *sp);
}

static void free_plans(alae_trainer *t) {
    alae_context *ctx = t->model->ctx;
    free_step(&t->gen);
    free_step(&t->d);
    free_step(&t->g);
    free_step(&t->ae);
    for (int k = 0; k < 3; k++) {
        if (t->z[k]) ctx->backend->buf_free(ctx->bctx, t->z[k]);
        t->z[k] = NULL;
    }
    free(t->w_host);
    t->w_host = NULL;
    t->batch = 0;
}

/* Appends the gradients of loss with respect to every parameter in part_mask. */
static alae_status add_param_grads(step_plan *sp, int32_t loss, int32_t part_mask) {
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
        for (int32_t k = 0; s == ALAE_OK && k < n; k++) sp->grad[index[k]] = grads[k];
    }
    free(wrt);
    free(index);
    free(grads);
    return s;
}

/* Plans sp for its outputs (loss, extra, w, gradients) and binds the model's parameters. */
static alae_status finish_step(alae_trainer *t, step_plan *sp, const char *what) {
    alaei_graph *g = sp->net.g;
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, what);
    const alae_model *m = t->model;
    int32_t *outs = malloc((size_t)(m->n_params + 3) * sizeof(int32_t)), n = 0;
    if (!outs) return alaei_fail(ALAE_E_NOMEM, what, "no memory");
    if (sp->loss >= 0) outs[n++] = sp->loss;
    if (sp->extra >= 0) outs[n++] = sp->extra;
    if (sp->w >= 0) outs[n++] = sp->w;
    for (int32_t i = 0; sp->grad && i < m->n_params; i++)
        if (sp->grad[i] >= 0) outs[n++] = sp->grad[i];
    alae_status s = alaei_plan_create(m->ctx, g, n, outs, &sp->plan);
    free(outs);
    if (s == ALAE_OK) s = alaei_net_bind(&sp->net, sp->plan, NULL);
    return s;
}

static void init_step(step_plan *sp) {
    sp->in_a = sp->in_b = sp->loss = sp->extra = sp->w = -1;
}

static alae_status build_gen(alae_trainer *t, int64_t n) {
    step_plan *sp = &t->gen;
    init_step(sp);
    alae_status s = alaei_net_init(&sp->net, t->model);
    if (s != ALAE_OK) return s;
    int64_t zs[2] = {n, t->model->cfg.latent_dim};
    sp->in_a = alaei_input(sp->net.g, 2, zs, "z");
    sp->w = alaei_net_F(&sp->net, sp->in_a);
    sp->extra = alaei_net_G(&sp->net, sp->w);
    return finish_step(t, sp, "alae_trainer_step (D-step fakes)");
}

static alae_status build_d(alae_trainer *t, int64_t n) {
    step_plan *sp = &t->d;
    init_step(sp);
    alae_status s = alaei_net_init(&sp->net, t->model);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    const alae_model_config *c = &t->model->cfg;
    int64_t img[4] = {n, c->channels, c->image_size, c->image_size};
    sp->in_a = alaei_input(g, 4, img, "x_real");
    sp->in_b = alaei_input(g, 4, img, "x_fake");
    int32_t d_real = alaei_net_D(&sp->net, alaei_net_E(&sp->net, sp->in_a));
    int32_t d_fake = alaei_net_D(&sp->net, alaei_net_E(&sp->net, sp->in_b));
    /* R1: the gradient of sum(d_real) with respect to the real images, kept in the graph */
    int32_t real_grads;
    s = alaei_grad(g, alaei_sum_all(g, d_real), -1, 1, &sp->in_a, &real_grads);
    if (s != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (R1)");
    int64_t per_sample[4] = {1, 1, 1, n}, batch_ne[4] = {n, 1, 1, 1};
    int32_t r1 = alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, real_grads), batch_ne);
    r1 = alaei_scale_shift(g, alaei_reshape4(g, r1, per_sample), 0.5 * t->r1_gamma, 0.0);
    int32_t terms = alaei_add(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, d_fake),
                              alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, d_real)));
    sp->loss = alaei_mean_all(g, alaei_add(g, terms, r1));
    sp->extra = alaei_mean_all(g, r1);
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (D-step)");
    if ((s = add_param_grads(sp, sp->loss, ALAE_PART_E | ALAE_PART_D)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (D-step gradients)");
    return finish_step(t, sp, "alae_trainer_step (D-step)");
}

static alae_status build_g(alae_trainer *t, int64_t n) {
    step_plan *sp = &t->g;
    init_step(sp);
    alae_status s = alaei_net_init(&sp->net, t->model);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    int64_t zs[2] = {n, t->model->cfg.latent_dim};
    sp->in_a = alaei_input(g, 2, zs, "z");
    sp->w = alaei_net_F(&sp->net, sp->in_a);
    int32_t d_fake = alaei_net_D(&sp->net, alaei_net_E(&sp->net, alaei_net_G(&sp->net, sp->w)));
    sp->loss = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, d_fake)));
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (G-step)");
    if ((s = add_param_grads(sp, sp->loss, ALAE_PART_F | ALAE_PART_G)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (G-step gradients)");
    return finish_step(t, sp, "alae_trainer_step (G-step)");
}

static alae_status build_ae(alae_trainer *t, int64_t n) {
    step_plan *sp = &t->ae;
    init_step(sp);
    alae_status s = alaei_net_init(&sp->net, t->model);
    if (s != ALAE_OK) return s;
    alaei_graph *g = sp->net.g;
    int64_t zs[2] = {n, t->model->cfg.latent_dim};
    sp->in_a = alaei_input(g, 2, zs, "z");
    sp->w = alaei_net_F(&sp->net, sp->in_a);
    int32_t w_rec = alaei_net_E(&sp->net, alaei_net_G(&sp->net, sp->w));
    int32_t diff = alaei_sub(g, w_rec, alaei_detach(g, sp->w)); /* the target w is a constant */
    int32_t per_element = alaei_unary(g, t->latent_loss == ALAE_LATENT_L1 ? ALAEI_OP_ABS : ALAEI_OP_SQUARE, diff);
    sp->loss = alaei_scale_shift(g, alaei_mean_all(g, per_element), t->latent_weight, 0.0);
    if (alaei_graph_status(g) != ALAE_OK) return alaei_graph_fail_public(g, "alae_trainer_step (latent step)");
    /* D is in the optimizer's group: it gets (zero) gradients and takes Adam steps, as the
     * reference's zero_grad()-then-step does */
    if ((s = add_param_grads(sp, sp->loss, ALAE_PART_ALL)) != ALAE_OK)
        return alaei_graph_fail_public(g, "alae_trainer_step (latent step gradients)");
    return finish_step(t, sp, "alae_trainer_step (latent step)");
}

static alae_status build_plans(alae_trainer *t, int64_t n) {
    if (t->batch == n) return ALAE_OK;
    free_plans(t);
    alae_context *ctx = t->model->ctx;
    size_t z_count = (size_t)n * (size_t)t->model->cfg.latent_dim;
    alae_status s = ALAE_OK;
    for (int k = 0; s == ALAE_OK && k < 3; k++)
        s = ctx->backend->buf_alloc(ctx->bctx, z_count * (size_t)ctx->backend->elem_size, &t->z[k]);
    t->w_host = malloc(z_count * sizeof(float));
    if (s == ALAE_OK && !t->w_host) s = alaei_fail(ALAE_E_NOMEM, "alae_trainer_reserve", "no memory");
    if (s == ALAE_OK) s = build_gen(t, n);
    if (s == ALAE_OK) s = build_d(t, n);
    if (s == ALAE_OK) s = build_g(t, n);
    if (s == ALAE_OK) s = build_ae(t, n);
    if (s == ALAE_OK) s = alaei_plan_bind(t->gen.plan, t->gen.in_a, t->z[0]);
    if (s == ALAE_OK) s = alaei_plan_bind(t->d.plan, t->d.in_b, alaei_plan_data(t->gen.plan, t->gen.extra));
    if (s == ALAE_OK) s = alaei_plan_bind(t->g.plan, t->g.in_a, t->z[1]);
    if (s == ALAE_OK) s = alaei_plan_bind(t->ae.plan, t->ae.in_a, t->z[2]);
    if (s != ALAE_OK) {
        free_plans(t);
        return s;
    }
    t->batch = n;
    return ALAE_OK;
}

/* ---- creation and settings ---- */

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
        !(t->grad_ptr = calloc((size_t)model->n_params, sizeof(void *)))) {
        alae_trainer_destroy(t);
        return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a trainer");
    }
    t->model = model;
    t->opt_fg = opt_fg;
    t->opt_ed = opt_ed;
    t->r1_gamma = 10.0;
    t->latent_loss = ALAE_LATENT_L2;
    t->latent_weight = 1.0;
    t->ema_half_life = 10000.0;
    t->dlatent_beta = 0.995;
    alae_context *ctx = model->ctx;
    int64_t largest = 0;
    alae_status s = ALAE_OK;
    /* The smoothed copy starts as a copy of the model (the reference starts it from another
     * random initialisation, which only delays its convergence). */
    for (int32_t i = 0; s == ALAE_OK && i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        if (p->numel > largest) largest = p->numel;
        s = ctx->backend->buf_alloc(ctx->bctx, (size_t)p->numel * (size_t)ctx->backend->elem_size, &t->ema[i]);
        if (s == ALAE_OK) s = ctx->backend->copy(ctx->bctx, t->ema[i], p->data, (size_t)p->numel);
    }
    if (s == ALAE_OK)
        s = ctx->backend->buf_alloc(ctx->bctx, (size_t)largest * (size_t)ctx->backend->elem_size, &t->ema_scratch);
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
        free_plans(t);
        alae_context *ctx = t->model->ctx;
        for (int32_t i = 0; t->ema && i < t->model->n_params; i++)
            if (t->ema[i]) ctx->backend->buf_free(ctx->bctx, t->ema[i]);
        if (t->ema_scratch) ctx->backend->buf_free(ctx->bctx, t->ema_scratch);
    }
    free(t->ema);
    free(t->grad_ptr);
    free(t);
}

ALAE_API alae_status alae_trainer_set(alae_trainer *t, int32_t key, double v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    int ok = isfinite(v);
    switch (key) {
    case ALAE_TRAIN_R1_GAMMA:
        if (!(ok && v >= 0)) break;
        t->r1_gamma = v;
        if (t->batch) free_plans(t); /* the graphs depend on it */
        return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS:
        if (v != ALAE_LATENT_L2 && v != ALAE_LATENT_L1) break;
        t->latent_loss = (int32_t)v;
        if (t->batch) free_plans(t);
        return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS_WEIGHT:
        if (!(ok && v >= 0)) break;
        t->latent_weight = v;
        if (t->batch) free_plans(t);
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
    default:
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown trainer key %d", (int)key);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "value %g is out of range for trainer key %d", v, (int)key);
}

ALAE_API alae_status alae_trainer_get(const alae_trainer *t, int32_t key, double *v) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(v);
    switch (key) {
    case ALAE_TRAIN_R1_GAMMA: *v = t->r1_gamma; return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS: *v = t->latent_loss; return ALAE_OK;
    case ALAE_TRAIN_LATENT_LOSS_WEIGHT: *v = t->latent_weight; return ALAE_OK;
    case ALAE_TRAIN_EMA_HALF_LIFE: *v = t->ema_half_life; return ALAE_OK;
    case ALAE_TRAIN_DLATENT_BETA: *v = t->dlatent_beta; return ALAE_OK;
    case ALAE_TRAIN_SEED: *v = (double)t->seed; return ALAE_OK;
    default: return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown trainer key %d", (int)key);
    }
}

ALAE_API alae_status alae_trainer_reserve(alae_trainer *t, int64_t batch, size_t *bytes_needed) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    if (batch < 1 || batch > (1 << 20))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "batch %lld is not in 1..2^20", (long long)batch);
    alae_status s = build_plans(t, batch);
    if (s == ALAE_OK && bytes_needed)
        *bytes_needed = alaei_plan_arena_bytes(t->gen.plan) + alaei_plan_arena_bytes(t->d.plan) +
                        alaei_plan_arena_bytes(t->g.plan) + alaei_plan_arena_bytes(t->ae.plan);
    return s;
}

ALAE_API uint64_t alae_trainer_step_count(const alae_trainer *t) { return t ? t->step : 0; }

/* ---- one iteration ---- */

static alae_status draw_latents(alae_trainer *t, int k) {
    alae_context *ctx = t->model->ctx;
    int64_t count = t->batch * t->model->cfg.latent_dim;
    alaei_op op = {0};
    op.code = ALAEI_OP_RNG_NORMAL;
    op.dst.data = t->z[k];
    op.dst.ne[0] = op.dst.ne[1] = op.dst.ne[2] = 1;
    op.dst.ne[3] = count;
    op.ip[0] = (int32_t)(uint32_t)t->seed;
    op.ip[1] = (int32_t)(uint32_t)(t->seed >> 32);
    op.ip[2] = (int32_t)(uint32_t)t->rng_offset;
    op.ip[3] = (int32_t)(uint32_t)(t->rng_offset >> 32);
    op.fp[1] = 1.0;
    t->rng_offset += (uint64_t)count;
    return ctx->backend->run_op(ctx->bctx, &op);
}

/* The running mean of w: avg += (1 - beta) (mean over the batch of w - avg). */
static alae_status update_dlatent_avg(alae_trainer *t, const step_plan *sp) {
    alae_context *ctx = t->model->ctx;
    int64_t n = t->batch, L = t->model->cfg.latent_dim;
    alae_status s = ctx->backend->read_f32(ctx->bctx, t->w_host, alaei_plan_data(sp->plan, sp->w), (size_t)(n * L));
    if (s != ALAE_OK) return s;
    float *avg = t->model->dlatent_avg;
    for (int64_t j = 0; j < L; j++) {
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++) sum += t->w_host[i * L + j];
        float mean = sum / (float)n;
        avg[j] = avg[j] + (float)(1.0 - t->dlatent_beta) * (mean - avg[j]);
    }
    return ALAE_OK;
}

static alae_status optimizer_step(alae_trainer *t, alae_optimizer *opt, const step_plan *sp) {
    for (int32_t i = 0; i < t->model->n_params; i++)
        t->grad_ptr[i] = sp->grad[i] >= 0 ? alaei_plan_data(sp->plan, sp->grad[i]) : NULL;
    return alaei_optimizer_step(opt, t->grad_ptr);
}

static alae_status read_scalar(alae_trainer *t, const step_plan *sp, int32_t node, float *out) {
    alae_context *ctx = t->model->ctx;
    return ctx->backend->read_f32(ctx->bctx, out, alaei_plan_data(sp->plan, node), 1);
}

/* p_s += (1 - beta) (p - p_s), beta = 0.5^(batch / half_life) */
static alae_status update_smoothed(alae_trainer *t) {
    if (t->ema_half_life <= 0) return ALAE_OK;
    alae_context *ctx = t->model->ctx;
    double rate = 1.0 - pow(0.5, (double)t->batch / t->ema_half_life);
    for (int32_t i = 0; i < t->model->n_params; i++) {
        const alaei_param *p = &t->model->params[i];
        alaei_op op = {0};
        int64_t ne[4] = {1, 1, 1, p->numel};
        op.nsrc = 2;
        for (int k = 0; k < 4; k++) op.dst.ne[k] = op.src[0].ne[k] = op.src[1].ne[k] = ne[k];
        op.code = ALAEI_OP_SUB;
        op.dst.data = t->ema_scratch;
        op.src[0].data = p->data;
        op.src[1].data = t->ema[i];
        alae_status s = ctx->backend->run_op(ctx->bctx, &op);
        op.code = ALAEI_OP_SCALE_SHIFT;
        op.nsrc = 1;
        op.src[0].data = t->ema_scratch;
        op.fp[0] = rate;
        if (s == ALAE_OK) s = ctx->backend->run_op(ctx->bctx, &op);
        op.code = ALAEI_OP_ADD;
        op.nsrc = 2;
        op.dst.data = t->ema[i];
        op.src[0].data = t->ema[i];
        op.src[1].data = t->ema_scratch;
        if (s == ALAE_OK) s = ctx->backend->run_op(ctx->bctx, &op);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* One iteration with the latents already in t->z. */
static alae_status run_iteration(alae_trainer *t, const alae_tensor *real, alae_step_stats *stats) {
    alae_status s = alaei_plan_bind(t->d.plan, t->d.in_a, real->data);
    float loss_d = 0, loss_g = 0, loss_ae = 0, r1 = 0;
    /* I: D-step on E and D */
    if (s == ALAE_OK) s = alaei_plan_run(t->gen.plan);
    if (s == ALAE_OK) s = update_dlatent_avg(t, &t->gen);
    if (s == ALAE_OK) s = alaei_plan_run(t->d.plan);
    if (s == ALAE_OK) s = optimizer_step(t, t->opt_ed, &t->d);
    if (s == ALAE_OK) s = read_scalar(t, &t->d, t->d.loss, &loss_d);
    if (s == ALAE_OK) s = read_scalar(t, &t->d, t->d.extra, &r1);
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
    if (s == ALAE_OK) s = optimizer_step(t, t->opt_ed, &t->ae);
    if (s == ALAE_OK) s = optimizer_step(t, t->opt_fg, &t->ae);
    if (s == ALAE_OK) s = read_scalar(t, &t->ae, t->ae.loss, &loss_ae);
    if (s == ALAE_OK) s = update_smoothed(t);
    if (s != ALAE_OK) return s;
    t->step++;
    if (stats) {
        alae_step_stats full = {sizeof full, loss_d, loss_g, loss_ae, r1, t->step};
        uint32_t size = stats->struct_size < sizeof full ? stats->struct_size : (uint32_t)sizeof full;
        memcpy(stats, &full, size);
        stats->struct_size = size;
    }
    return ALAE_OK;
}

static alae_status check_real(alae_trainer *t, const alae_tensor *real, const char *func) {
    const alae_model_config *c = &t->model->cfg;
    if (real->ctx != t->model->ctx)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the batch belongs to another context than the model");
    if (real->ndim != 4 || real->shape[1] != c->channels || real->shape[2] != c->image_size ||
        real->shape[3] != c->image_size)
        return alaei_fail(ALAE_E_SHAPE, func, "the batch must be [N, %d, %d, %d]", (int)c->channels,
                          (int)c->image_size, (int)c->image_size);
    return build_plans(t, real->shape[0]);
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
    for (int k = 0; s == ALAE_OK && k < 3; k++) s = draw_latents(t, k);
    if (s == ALAE_OK) s = run_iteration(t, real, stats);
    if (s != ALAE_OK) t->rng_offset = offset;
    return s;
}

/* For the parity tests: one iteration with given latents (host floats, [N, L] each). */
alae_status alaei_trainer_step_with_latents(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                            alae_step_stats *stats);

alae_status alaei_trainer_step_with_latents(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                            alae_step_stats *stats) {
    alae_status s = check_real(t, real, __func__);
    alae_context *ctx = t->model->ctx;
    size_t count = (size_t)t->batch * (size_t)t->model->cfg.latent_dim;
    for (int k = 0; s == ALAE_OK && k < 3; k++) s = ctx->backend->write_f32(ctx->bctx, t->z[k], z[k], count);
    return s == ALAE_OK ? run_iteration(t, real, stats) : s;
}

/* ---- files ---- */

ALAE_API alae_status alae_trainer_save_model(const alae_trainer *t, const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(path_utf8);
    return alaei_model_save_params(t->model, t->ema, path_utf8, __func__);
}

ALAE_API alae_status alae_trainer_smoothed_model(const alae_trainer *t, alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(t);
    ALAEI_CHECK_ARG(out);
    alae_model *m;
    alae_status s = alaei_model_alloc(t->model->ctx, &t->model->cfg, &m);
    alae_context *ctx = t->model->ctx;
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++)
        s = ctx->backend->copy(ctx->bctx, m->params[i].data, t->ema[i], (size_t)m->params[i].numel);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        return s;
    }
    memcpy(m->dlatent_avg, t->model->dlatent_avg, (size_t)m->cfg.latent_dim * sizeof(float));
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
        s = ctx->backend->read_f32(ctx->bctx, *host_at, mem ? mem[i] : p->data, (size_t)p->numel);
        if (s == ALAE_OK) s = alaei_st_writer_add(w, name, ALAEI_ST_F32, p->ndim, p->shape, *host_at);
        *host_at += p->numel;
    }
    return s;
}

static void settings_json(const alae_trainer *t, char *buf, size_t cap) {
    snprintf(buf, cap,
             "{\"r1_gamma\":%.17g,\"latent_loss\":%d,\"latent_weight\":%.17g,\"ema_half_life\":%.17g,"
             "\"dlatent_beta\":%.17g,\"fg_lr\":%.17g,\"fg_beta1\":%.17g,\"fg_beta2\":%.17g,\"fg_eps\":%.17g,"
             "\"ed_lr\":%.17g,\"ed_beta1\":%.17g,\"ed_beta2\":%.17g,\"ed_eps\":%.17g}",
             t->r1_gamma, (int)t->latent_loss, t->latent_weight, t->ema_half_life, t->dlatent_beta, t->opt_fg->lr,
             t->opt_fg->beta1, t->opt_fg->beta2, t->opt_fg->eps, t->opt_ed->lr, t->opt_ed->beta1, t->opt_ed->beta2,
             t->opt_ed->eps);
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
    settings_json(t, json, sizeof json);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.trainer", json);
    if (s == ALAE_OK) s = alaei_st_writer_save(w, path_utf8);
    alaei_st_writer_destroy(w);
    free(host);
    free(steps);
    free(moments);
    return s;
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
    const alaei_st_tensor *state = alaei_st_find(f, "state");
    if (!state || state->dtype != ALAEI_ST_U64 || state->numel != 3)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor 'state' is missing or malformed");
    return ALAE_OK;
}

static double json_get(const char *json, const char *key, double fallback) {
    char pattern[48];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at) return fallback;
    char *end;
    double v = strtod(at + strlen(pattern), &end);
    return end == at + strlen(pattern) || !isfinite(v) ? fallback : v;
}

static void restore_settings(alae_trainer *t, const char *json) {
    t->r1_gamma = json_get(json, "r1_gamma", t->r1_gamma);
    t->latent_loss = json_get(json, "latent_loss", t->latent_loss) == ALAE_LATENT_L1 ? ALAE_LATENT_L1 : ALAE_LATENT_L2;
    t->latent_weight = json_get(json, "latent_weight", t->latent_weight);
    t->ema_half_life = json_get(json, "ema_half_life", t->ema_half_life);
    t->dlatent_beta = json_get(json, "dlatent_beta", t->dlatent_beta);
    alae_optimizer *opts[2] = {t->opt_fg, t->opt_ed};
    const char *names[2] = {"fg", "ed"};
    for (int k = 0; k < 2; k++) {
        char key[16];
        snprintf(key, sizeof key, "%s_lr", names[k]);
        opts[k]->lr = json_get(json, key, opts[k]->lr);
        snprintf(key, sizeof key, "%s_beta1", names[k]);
        opts[k]->beta1 = json_get(json, key, opts[k]->beta1);
        snprintf(key, sizeof key, "%s_beta2", names[k]);
        opts[k]->beta2 = json_get(json, key, opts[k]->beta2);
        snprintf(key, sizeof key, "%s_eps", names[k]);
        opts[k]->eps = json_get(json, key, opts[k]->eps);
    }
    free_plans(t); /* the graphs depend on the settings */
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
    void **dst = malloc((size_t)m->n_params * sizeof(void *));
    int64_t *steps = malloc((size_t)m->n_params * sizeof(int64_t));
    if (s == ALAE_OK && (!dst || !steps)) s = alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    int64_t latent[1] = {m->cfg.latent_dim};
    if (s == ALAE_OK) s = alaei_st_get_f32(f, "dlatent_avg", 1, latent, m->dlatent_avg);
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
            int64_t v = 0;
            for (int b = 0; b < 8; b++) v |= (int64_t)((uint64_t)st->data[i * 8 + b] << (8 * b));
            ((m->params[i].part & t->opt_fg->part_mask) ? t->opt_fg : t->opt_ed)->t[i] = v;
        }
        s = alaei_st_get_u64(f, "state", 3, state);
    }
    if (s == ALAE_OK) {
        t->step = state[0];
        t->rng_offset = state[1];
        t->seed = state[2];
        restore_settings(t, alaei_st_metadata_get(f, "alae.trainer"));
    }
    free(dst);
    free(steps);
    alaei_st_free(f);
    return s;
}
