/* Parity of StyleALAE with the authors' implementation (tests/fixtures/style16.safetensors, a
 * copy of shared/fixtures/style16.safetensors; its README, sections 4, 6, 9 and 11, gives the
 * tensors and tolerances). A 16 px, 3-level model (START 8, MAX 16, latent 32, 3 mapping
 * layers), batch 4, level 2, in two sets: blend 1 and blend 0.5 (names with ".blend").
 *
 * Checked for both sets: every parameter's name, shape and equalised-learning-rate coefficient;
 * the forward outputs and every stored activation (F layers, G blocks, style affines, toRGB,
 * fromRGB, E blocks and their style contributions, D layers) with the reference's noise maps;
 * the R1 term, its input gradient and parameter gradients (and the gradients that must not
 * exist); one full training iteration fed the reference's latents and noise: the three losses,
 * every intermediate, every gradient, the parameters after the D-step, the G-step and the
 * iteration, the Adam step counts and the running mean of w. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_min.h"
#include "nn/model_internal.h"
#include "parity_util.h"
#include "train/optim_internal.h"

alae_status alaei_trainer_step_with_inputs(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                           const float *const noise[3], alae_step_stats *stats);
void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user);
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param);
void alaei_trainer_keep_intermediates(alae_trainer *t, int on);
void *alaei_trainer_intermediate(const alae_trainer *t, int step, const char *name);

#define LR 0.0015
#define LOD 2
#define BATCH 4

static alaei_st_file *fx;
static alae_context *ctx;
static alae_model *model;

/* "<base>" in set 0, "<base>.blend" in set 1 */
static const char *set_name(const char *base, int set) {
    static char names[4][200];
    static int next;
    char *buf = names[next++ % 4];
    size_t len = strlen(base);
    ck_assert_uint_lt(len, 190);
    memcpy(buf, base, len);
    memcpy(buf + len, set ? ".blend" : "", set ? 7 : 1);
    return buf;
}

static alae_model_config *style16_config(void) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 16));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_CHANNELS, 3));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 16));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 32));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 3));
    return cfg;
}

static void setup(void) {
    ck_assert_alae_ok(alaei_st_open(ALAE_FIXTURE_DIR "/style16.safetensors", &fx));
    ck_assert_alae_ok(alae_context_create(alae_test_device(), &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    alae_model_config *cfg = style16_config();
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 0, &model));
    alae_model_config_destroy(cfg);
    /* theta0 from the fixture, through the name map (shapes checked by the reader) */
    for (int32_t i = 0; i < model->n_params; i++) {
        alaei_param *p = &model->params[i];
        float *v = malloc((size_t)p->numel * sizeof(float));
        ck_assert_alae_ok(alaei_st_get_f32(fx, p->ref_name, p->ndim, p->shape, v));
        ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, p->data, v, (size_t)p->numel));
        free(v);
    }
}

static void teardown(void) {
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    alaei_st_free(fx);
}

static int is_parameter_name(const char *name) {
    static const char *prefixes[] = {"encoder.", "decoder.", "mapping_d.", "mapping_f."};
    size_t len = strlen(name);
    if (len > 12 && !strcmp(name + len - 12, ".blur.weight")) return 0; /* a fixed buffer */
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

START_TEST(every_parameter_maps_with_its_shape_and_lr_coefficient) {
    int in_fixture = 0;
    for (size_t i = 0; i < alaei_st_count(fx); i++) in_fixture += is_parameter_name(alaei_st_at(fx, i)->name);
    ck_assert_int_eq(in_fixture, model->n_params);
    for (int32_t i = 0; i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        char name[128];
        snprintf(name, sizeof name, "lr_coef.%s", p->ref_name);
        float coef = 1.0f;
        if (alaei_st_find(fx, name)) ck_assert_alae_ok(alaei_st_get_f32(fx, name, 0, NULL, &coef));
        ck_assert_msg(fabs(p->lr_coef - coef) <= 1e-6 * coef, "%s: lr_coef %g, reference %g", p->name, p->lr_coef,
                      (double)coef);
    }
    uint64_t count;
    ck_assert_alae_ok(alae_model_param_count(model, ALAE_PART_ALL, &count));
    ck_assert_uint_eq(count, 38873);
}
END_TEST

/* ---- graphs over fixture inputs ---- */

typedef struct bound_input {
    int32_t node;
    void *dev;
} bound_input;

typedef struct run {
    alaei_net net;
    bound_input inputs[16];
    int n_inputs;
    alaei_plan *plan;
} run;

static void run_init(run *r, int set) {
    memset(r, 0, sizeof *r);
    ck_assert_alae_ok(alaei_net_init(&r->net, model));
    r->net.taps_on = 1;
    r->net.lod = LOD;
    if (set) {
        int64_t one = 1;
        r->net.blend = alaei_input(r->net.g, 1, &one, "blend");
        float half = 0.5f;
        r->inputs[r->n_inputs++] = (bound_input){r->net.blend, pu_upload(ctx, &half, 1)};
    }
}

/* An input node holding fixture tensor `name` */
static int32_t fixture_input(run *r, const char *name) {
    const alaei_st_tensor *t = pu_need(fx, name);
    int32_t node = alaei_input(r->net.g, t->ndim, t->shape, name);
    float *host = pu_fixture_f32(fx, name, NULL);
    r->inputs[r->n_inputs++] = (bound_input){node, pu_upload(ctx, host, t->numel)};
    free(host);
    return node;
}

/* The noise maps noise.<first> .. noise.<first + 5> of a set, concatenated in draw order */
static float *noise_maps(int first, int set, size_t *count) {
    size_t total = 0, n;
    for (int k = 0; k < 6; k++) {
        char base[32];
        snprintf(base, sizeof base, "noise.%d", first + k);
        total += pu_need(fx, set_name(base, set))->numel;
    }
    float *all = malloc(total * sizeof(float)), *at = all;
    for (int k = 0; k < 6; k++) {
        char base[32];
        snprintf(base, sizeof base, "noise.%d", first + k);
        float *one = pu_fixture_f32(fx, set_name(base, set), &n);
        memcpy(at, one, n * sizeof(float));
        at += n;
        free(one);
    }
    *count = total;
    return all;
}

static void bind_noise(run *r, int first, int set) {
    ck_assert_int_eq(r->net.n_noise, 1);
    size_t n;
    float *noise = noise_maps(first, set, &n);
    ck_assert_int_eq((int64_t)n, alaei_graph_numel(r->net.g, r->net.noise[0]));
    r->inputs[r->n_inputs++] = (bound_input){r->net.noise[0], pu_upload(ctx, noise, n)};
    free(noise);
}

/* Plans outputs plus every tap, binds and runs. */
static void run_plan(run *r, int n_out, const int32_t *outs) {
    ck_assert_alae_ok(alaei_graph_status(r->net.g));
    int32_t *all = malloc((size_t)(n_out + r->net.n_taps) * sizeof(int32_t));
    memcpy(all, outs, (size_t)n_out * sizeof(int32_t));
    for (int32_t i = 0; i < r->net.n_taps; i++) all[n_out + i] = r->net.taps[i].node;
    ck_assert_alae_ok(alaei_plan_create(ctx, r->net.g, n_out + r->net.n_taps, all, &r->plan));
    free(all);
    ck_assert_alae_ok(alaei_net_bind(&r->net, r->plan, NULL));
    for (int i = 0; i < r->n_inputs; i++) ck_assert_alae_ok(alaei_plan_bind(r->plan, r->inputs[i].node, r->inputs[i].dev));
    ck_assert_alae_ok(alaei_plan_run(r->plan));
}

static void run_free(run *r) {
    for (int i = 0; i < r->n_inputs; i++) ctx->backend->buf_free(ctx->bctx, r->inputs[i].dev);
    alaei_plan_destroy(r->plan);
    alaei_net_free(&r->net);
}

static void expect_node(run *r, const char *group, int32_t node, const char *ref_name, double tol) {
    pu_expect_device_close(ctx, fx, group, ref_name, alaei_plan_data(r->plan, node), ref_name, tol);
}

/* Forward section: F(z), G(styles) with noise.0-5, E and D of x (or x.blend) and of x_fake,
 * and every act.* tensor of the set against the tap of the same name. */
static void check_forward_set(int set) {
    run r;
    run_init(&r, set);
    int32_t w = alaei_net_F(&r.net, fixture_input(&r, "z"));
    int32_t x_fake = alaei_net_G_styles(&r.net, fixture_input(&r, set_name("styles", set)));
    bind_noise(&r, 0, set);
    /* E(x_fake) first: the taps of E(x), built last, are the ones the fixture stores */
    int32_t w_fake = alaei_net_E(&r.net, fixture_input(&r, set_name("x_fake", set)));
    int32_t d_fake = alaei_net_D(&r.net, w_fake);
    int32_t w_real = alaei_net_E(&r.net, fixture_input(&r, set_name("x", set)));
    int32_t d_real = alaei_net_D(&r.net, w_real);
    int32_t outs[6] = {w, x_fake, w_fake, d_fake, w_real, d_real};
    run_plan(&r, 6, outs);
    static const char *names[6] = {"w", "x_fake", "w_fake", "d_fake", "w_real", "d_real"};
    for (int k = 0; k < 6; k++) expect_node(&r, "forward", outs[k], set_name(names[k], set), PARITY_FORWARD_TOL);
    int checked = 0;
    for (size_t i = 0; i < alaei_st_count(fx); i++) {
        const char *name = alaei_st_at(fx, i)->name;
        size_t len = strlen(name);
        int is_blend = len > 6 && !strcmp(name + len - 6, ".blend");
        if (strncmp(name, "act.", 4) != 0 || is_blend != set) continue;
        char tap[96];
        snprintf(tap, sizeof tap, "%.*s", (int)(len - 4 - (set ? 6 : 0)), name + 4);
        int32_t node = alaei_net_find_tap(&r.net, tap);
        ck_assert_msg(node >= 0, "no intermediate '%s' for fixture tensor %s", tap, name);
        expect_node(&r, "activations", node, name, PARITY_FORWARD_TOL);
        checked++;
    }
    ck_assert_int_ge(checked, 25);
    run_free(&r);
}

START_TEST(forward_outputs_and_activations_match) {
    check_forward_set(_i);
    pu_print_summary(_i ? "style16 forward, blend 0.5" : "style16 forward, blend 1");
}
END_TEST

/* ---- R1 alone at theta0 ---- */

START_TEST(r1_term_and_its_gradients_match) {
    int set = _i;
    run r;
    run_init(&r, set);
    alaei_graph *g = r.net.g;
    int32_t x = fixture_input(&r, set_name("x", set));
    int32_t d = alaei_net_D(&r.net, alaei_net_E(&r.net, x));
    int32_t real_grads;
    ck_assert_alae_ok(alaei_grad(g, alaei_sum_all(g, d), -1, 1, &x, &real_grads));
    int64_t per[4] = {BATCH, 1, 1, 1}, flat[4] = {1, 1, 1, BATCH};
    int32_t sq = alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, real_grads), per);
    int32_t r1_ps = alaei_reshape4(g, alaei_scale_shift(g, sq, 5.0, 0), flat);
    int32_t r1 = alaei_mean_all(g, r1_ps);
    int32_t n = 0, *wrt = malloc((size_t)model->n_params * sizeof(int32_t));
    int32_t *index = malloc((size_t)model->n_params * sizeof(int32_t)), *grads = malloc((size_t)model->n_params * sizeof(int32_t));
    for (int32_t i = 0; i < model->n_params; i++)
        if (model->params[i].part & (ALAE_PART_E | ALAE_PART_D)) {
            index[n] = i;
            wrt[n++] = alaei_net_param(&r.net, i);
        }
    ck_assert_alae_ok(alaei_grad(g, r1, -1, n, wrt, grads));
    int32_t *outs = malloc((size_t)(n + 3) * sizeof(int32_t));
    outs[0] = r1;
    outs[1] = r1_ps;
    outs[2] = real_grads;
    memcpy(outs + 3, grads, (size_t)n * sizeof(int32_t));
    run_plan(&r, n + 3, outs);
    expect_node(&r, "r1", r1, set_name("r1", set), PARITY_FORWARD_TOL);
    expect_node(&r, "r1", r1_ps, set_name("r1.per_sample", set), PARITY_FORWARD_TOL);
    expect_node(&r, "r1", real_grads, set_name("r1.real_grads", set), PARITY_FORWARD_TOL);
    int with_grad = 0, without = 0;
    for (int32_t k = 0; k < n; k++) {
        const alaei_param *p = &model->params[index[k]];
        char base[128];
        snprintf(base, sizeof base, "grad.r1.%s", p->ref_name);
        const char *name = set_name(base, set);
        if (alaei_st_find(fx, name)) {
            expect_node(&r, "grad.r1", grads[k], name, PARITY_GRAD_TOL);
            with_grad++;
        } else { /* the reference has no gradient (a bias before a linear output, an unused level) */
            float *got = pu_download(ctx, alaei_plan_data(r.plan, grads[k]), (size_t)p->numel);
            for (int64_t e = 0; e < p->numel; e++) ck_assert_msg(got[e] == 0.0f, "%s should not exist (be zero)", name);
            free(got);
            without++;
        }
    }
    ck_assert_int_eq(without, set ? 11 : 13); /* the fixture's no_grad lists for r1 */
    ck_assert_int_eq(with_grad + without, n);
    free(outs);
    free(wrt);
    free(index);
    free(grads);
    run_free(&r);
    pu_print_summary(set ? "style16 R1, blend 0.5" : "style16 R1, blend 1");
}
END_TEST

/* ---- one training iteration ---- */

typedef struct snapshots {
    float **after_d, **after_g;
} snapshots;

static void snapshot_phase(void *user, int phase) {
    snapshots *s = user;
    for (int32_t i = 0; i < model->n_params; i++) {
        float **slot = phase == 1 ? &s->after_d[i] : &s->after_g[i];
        *slot = pu_download(ctx, model->params[i].data, (size_t)model->params[i].numel);
    }
}

/* Adam steps the reference took for a parameter: cases[set].adam_steps[ref_name], else 0. */
static int64_t reference_adam_steps(const alaei_json *cases, int set, const char *ref_name) {
    const alaei_json *steps = alaei_json_get(cases->items[set], "adam_steps");
    ck_assert_ptr_nonnull(steps);
    const alaei_json *v = alaei_json_get(steps, ref_name);
    return v && v->type == ALAEI_JSON_INT ? v->ival : 0;
}

/* |got - ref| <= 1e-6 max(1, |ref|) + 0.25 lr coef per element (README section 11) */
static void expect_parameter(const char *name, const float *got, const alaei_param *p) {
    size_t n;
    float *ref = pu_fixture_f32(fx, name, &n);
    ck_assert_uint_eq(n, (size_t)p->numel);
    double step_tol = 0.25 * LR * p->lr_coef, worst_steps = 0;
    for (size_t e = 0; e < n; e++) {
        double d = fabs((double)got[e] - ref[e]), tol = 1e-6 * fmax(1.0, fabs(ref[e])) + step_tol;
        ck_assert_msg(d <= tol, "%s[%zu]: %.9g vs reference %.9g (tol %.3g)", name, e, got[e], ref[e], tol);
        if (d / (LR * p->lr_coef) > worst_steps) worst_steps = d / (LR * p->lr_coef);
    }
    pu_record_at("after (steps)", worst_steps, name);
    free(ref);
}

static void check_intermediates(const alae_trainer *t, int set) {
    static const struct {
        int step;
        const char *loss, *name;
    } items[] = {{0, "loss_d", "w"},      {0, "loss_d", "x_fake"}, {0, "loss_d", "w_real"}, {0, "loss_d", "d_real"},
                 {0, "loss_d", "w_fake"}, {0, "loss_d", "d_fake"}, {1, "loss_g", "w"},      {1, "loss_g", "x_fake"},
                 {1, "loss_g", "w_fake"}, {1, "loss_g", "d_fake"}, {2, "lae", "w"},         {2, "lae", "x_fake"},
                 {2, "lae", "w_rec"}};
    for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
        char base[64];
        snprintf(base, sizeof base, "train.%s.%s", items[k].loss, items[k].name);
        const char *name = set_name(base, set);
        pu_expect_device_close(ctx, fx, "train.*", name, alaei_trainer_intermediate(t, items[k].step, items[k].name),
                               name, PARITY_FORWARD_TOL);
    }
    /* the real batch as E sees it: blended in the transition */
    pu_expect_device_close(ctx, fx, "train.*", "x_real", alaei_trainer_intermediate(t, 0, "x_real"), set_name("x", set),
                           PARITY_FORWARD_TOL);
}

static int check_gradients(const alae_trainer *t, int set) {
    static const char *losses[3] = {"loss_d", "loss_g", "lae"};
    int checked = 0;
    for (int step = 0; step < 3; step++)
        for (int32_t i = 0; i < model->n_params; i++) {
            const alaei_param *p = &model->params[i];
            char base[160];
            snprintf(base, sizeof base, "grad.%s.%s", losses[step], p->ref_name);
            const char *name = set_name(base, set);
            void *dev = alaei_trainer_grad(t, step, i);
            if (!alaei_st_find(fx, name)) {
                ck_assert_msg(dev == NULL, "%s: the reference has no gradient, libalae has one", name);
                continue;
            }
            ck_assert_msg(dev != NULL, "no gradient for %s", name);
            pu_expect_device_close(ctx, fx, "grad", name, dev, name, PARITY_GRAD_TOL);
            checked++;
        }
    return checked;
}

START_TEST(one_training_iteration_matches) {
    int set = _i;
    alae_optimizer *fg, *ed;
    ck_assert_alae_ok(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_optimizer_set(fg, ALAE_OPT_LR, LR));
    ck_assert_alae_ok(alae_optimizer_set(ed, ALAE_OPT_LR, LR));
    alae_trainer *t;
    ck_assert_alae_ok(alae_trainer_create(model, fg, ed, &t));
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_STYLE_MIXING, 0.0)); /* the fixture's STYLE_MIXING_PROB */
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_LOD, LOD));
    if (set) ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_BLEND, 0.5));
    alaei_trainer_keep_intermediates(t, 1);
    snapshots snap = {calloc((size_t)model->n_params, sizeof(float *)), calloc((size_t)model->n_params, sizeof(float *))};
    alaei_trainer_set_phase_hook(t, snapshot_phase, &snap);
    /* the real batch is the unblended x: the trainer blends it */
    const alaei_st_tensor *xin = pu_need(fx, "x");
    alae_tensor *x;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xin->shape, &x));
    float *xh = pu_fixture_f32(fx, "x", NULL);
    ck_assert_alae_ok(alae_tensor_write(x, xh, xin->numel * sizeof(float)));
    /* latents noise.6 / 13 / 20, the generator noise after each */
    size_t n;
    float *z[3], *noise[3];
    for (int k = 0; k < 3; k++) {
        char base[32];
        snprintf(base, sizeof base, "noise.%d", 6 + 7 * k);
        z[k] = pu_fixture_f32(fx, set_name(base, set), NULL);
        noise[k] = noise_maps(7 + 7 * k, set, &n);
    }
    alae_step_stats st = {sizeof st, 0, 0, 0, 0, 0};
    ck_assert_alae_ok(alaei_trainer_step_with_inputs(t, x, (const float *const *)z, (const float *const *)noise, &st));
    float loss_d, loss_g, lae;
    ck_assert_alae_ok(alaei_st_get_f32(fx, set_name("loss_d", set), 0, NULL, &loss_d));
    ck_assert_alae_ok(alaei_st_get_f32(fx, set_name("loss_g", set), 0, NULL, &loss_g));
    ck_assert_alae_ok(alaei_st_get_f32(fx, set_name("lae", set), 0, NULL, &lae));
    pu_expect_close("losses", "loss_d", &st.loss_d, &loss_d, 1, PARITY_FORWARD_TOL);
    pu_expect_close("losses", "loss_g", &st.loss_g, &loss_g, 1, PARITY_FORWARD_TOL);
    pu_expect_close("losses", "lae", &st.loss_ae, &lae, 1, PARITY_FORWARD_TOL);
    check_intermediates(t, set);
    int grads = check_gradients(t, set), stored = 0;
    for (size_t i = 0; i < alaei_st_count(fx); i++) {
        const char *name = alaei_st_at(fx, i)->name;
        size_t len = strlen(name);
        int is_blend = len > 6 && !strcmp(name + len - 6, ".blend");
        if (is_blend == set && (!strncmp(name, "grad.loss_d.", 12) || !strncmp(name, "grad.loss_g.", 12) ||
                                !strncmp(name, "grad.lae.", 9)))
            stored++;
    }
    ck_assert_int_eq(grads, stored); /* every stored gradient was compared */
    /* parameters after the D-step, the G-step and the iteration; Adam steps per parameter */
    alaei_json_doc *doc;
    const char *cases_text = alaei_st_metadata_get(fx, "cases");
    ck_assert_ptr_nonnull(cases_text);
    ck_assert_alae_ok(alaei_json_parse(cases_text, strlen(cases_text), 8, 0, &doc, NULL));
    const alaei_json *cases = alaei_json_root(doc);
    for (int32_t i = 0; i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        char base[160];
        snprintf(base, sizeof base, "%s.%s", p->part & (ALAE_PART_E | ALAE_PART_D) ? "after_d" : "after_g", p->ref_name);
        expect_parameter(set_name(base, set), p->part & (ALAE_PART_E | ALAE_PART_D) ? snap.after_d[i] : snap.after_g[i], p);
        snprintf(base, sizeof base, "after.%s", p->ref_name);
        float *now = pu_download(ctx, p->data, (size_t)p->numel);
        expect_parameter(set_name(base, set), now, p);
        free(now);
        const alae_optimizer *o = (p->part & (ALAE_PART_F | ALAE_PART_G)) ? fg : ed;
        ck_assert_msg(o->t[i] == reference_adam_steps(cases, set, p->ref_name), "%s: %lld Adam steps, reference %lld",
                      p->ref_name, (long long)o->t[i], (long long)reference_adam_steps(cases, set, p->ref_name));
        free(snap.after_d[i]);
        free(snap.after_g[i]);
    }
    alaei_json_free(doc);
    float *avg = pu_fixture_f32(fx, set_name("after.dlatent_avg.buff", set), &n);
    for (size_t row = 0; row < n / 32; row++)
        pu_expect_close("dlatent_avg", "after.dlatent_avg.buff", model->dlatent_avg, avg + row * 32, 32, PARITY_FORWARD_TOL);
    free(avg);
    for (int k = 0; k < 3; k++) {
        free(z[k]);
        free(noise[k]);
    }
    free(snap.after_d);
    free(snap.after_g);
    free(xh);
    alae_tensor_destroy(x);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
    pu_print_summary(set ? "style16 training iteration, blend 0.5" : "style16 training iteration, blend 1");
}
END_TEST

static Suite *parity_suite(void) {
    Suite *s = suite_create("style_parity");
    TCase *tc = tcase_create("style16");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_parameter_maps_with_its_shape_and_lr_coefficient);
    tcase_add_loop_test(tc, forward_outputs_and_activations_match, 0, 2);
    tcase_add_loop_test(tc, r1_term_and_its_gradients_match, 0, 2);
    tcase_add_loop_test(tc, one_training_iteration_matches, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("cuda_style_parity"); /* ALAE_TEST_DEVICE=cuda: the same checks on the GPU */
    return alae_test_run_suite(parity_suite());
}
