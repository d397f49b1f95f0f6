/* Parity of the MLP ALAE with the authors' implementation (tests/fixtures/mlp.safetensors, a
 * copy of shared/fixtures/mlp.safetensors; its README gives the tensors and tolerances).
 *
 * The reference's parameter names map to libalae's through alaei_param.ref_name (see
 * docs/checkpoint-format.md): mapping_f.map_blocks.<i>.fc.* = F.dense.<i>.*,
 * decoder.fc_<k>.* = G.fc.<k>.*, encoder.fc_<k>.* = E.fc.<k>.*, mapping_d.map_blocks.<i>.* =
 * D.dense.<i>.*. Checked: every forward output and activation at theta0, the R1 term with its
 * input gradient and parameter gradients, the three losses, every gradient of the iteration,
 * and the parameters after the D-step, the G-step and the whole iteration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "nn/model_internal.h"
#include "train/optim_internal.h"
#include "test_util.h"

alae_status alaei_trainer_step_with_latents(alae_trainer *t, const alae_tensor *real, const float *const z[3],
                                            alae_step_stats *stats);
void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user);
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param);

#define FORWARD_TOL 5e-5
#define GRAD_TOL 1e-4
#define LR 0.002

static alaei_st_file *fx;
static alae_context *ctx;
static alae_model *model;
static int64_t batch;

static const alaei_st_tensor *need(const char *name) {
    const alaei_st_tensor *t = alaei_st_find(fx, name);
    ck_assert_msg(t != NULL, "fixture tensor '%s' is missing", name);
    return t;
}

static float *fixture_f32(const char *name, size_t *count) {
    const alaei_st_tensor *t = need(name);
    float *v = malloc(t->numel * sizeof(float));
    ck_assert_alae_ok(alaei_st_get_f32(fx, name, t->ndim, t->shape, v));
    if (count) *count = t->numel;
    return v;
}

/* max |got - ref| <= tol * max(1, max |ref|) */
static void expect_close(const char *what, const float *got, const float *ref, size_t n, double tol) {
    double worst = 0, scale = 1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    ck_assert_msg(worst <= tol * scale, "%s: max |diff| %.3g at %zu (got %.8g, ref %.8g) > %.3g", what, worst, at,
                  got[at], ref[at], tol * scale);
}

static void expect_device_close(const char *what, const void *dev, const char *ref_name, double tol) {
    size_t n;
    float *ref = fixture_f32(ref_name, &n), *got = malloc(n * sizeof(float));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, got, dev, n));
    expect_close(what, got, ref, n, tol);
    free(ref);
    free(got);
}

static int32_t param_index(const char *ref_name) {
    for (int32_t i = 0; i < model->n_params; i++)
        if (!strcmp(model->params[i].ref_name, ref_name)) return i;
    return -1;
}

static alaei_st_file *open_fixture(void) {
    alaei_st_file *f;
    ck_assert_alae_ok(alaei_st_open(ALAE_FIXTURE_DIR "/mlp.safetensors", &f));
    return f;
}

static void setup(void) {
    fx = open_fixture();
    ck_assert_alae_ok(alae_context_create(alae_test_device(), &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist-fc", &cfg));
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 0, &model));
    alae_model_config_destroy(cfg);
    /* theta0 from the fixture, through the name map */
    for (int32_t i = 0; i < model->n_params; i++) {
        alaei_param *p = &model->params[i];
        float *v = malloc((size_t)p->numel * sizeof(float));
        ck_assert_alae_ok(alaei_st_get_f32(fx, p->ref_name, p->ndim, p->shape, v));
        ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, p->data, v, (size_t)p->numel));
        free(v);
    }
    batch = need("z")->shape[0];
}

static void teardown(void) {
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    alaei_st_free(fx);
}

START_TEST(every_parameter_is_mapped_with_its_lr_coefficient) {
    int mapped = 0;
    for (size_t i = 0; i < alaei_st_count(fx); i++) {
        const alaei_st_tensor *t = alaei_st_at(fx, i);
        if (strncmp(t->name, "lr_coef.", 8) != 0) continue;
        int32_t k = param_index(t->name + 8);
        ck_assert_msg(k >= 0, "reference parameter %s has no libalae counterpart", t->name + 8);
        float coef;
        ck_assert_alae_ok(alaei_st_get_f32(fx, t->name, 0, NULL, &coef));
        ck_assert_msg(fabs(model->params[k].lr_coef - coef) <= 1e-6 * coef, "%s: lr_coef %g, reference %g",
                      model->params[k].name, model->params[k].lr_coef, (double)coef);
        mapped++;
    }
    ck_assert_int_eq(mapped, model->n_params);
    uint64_t count;
    ck_assert_alae_ok(alae_model_param_count(model, ALAE_PART_ALL, &count));
    ck_assert_uint_eq(count, 15300 + 1905424 + 1904690 + 7650);
}
END_TEST

/* Runs y = f(x) for one input tensor from the fixture (as [N, ...]) and returns the output node's data. */
typedef int32_t (*net_fn)(alaei_net *net, int32_t x);

static void check_forward(const char *in_name, net_fn f, const char *out_name) {
    const alaei_st_tensor *in = need(in_name);
    alaei_net net;
    ck_assert_alae_ok(alaei_net_init(&net, model));
    int32_t x = alaei_input(net.g, in->ndim, in->shape, in_name);
    int32_t y = f(&net, x);
    ck_assert_alae_ok(alaei_graph_status(net.g));
    alaei_plan *plan;
    ck_assert_alae_ok(alaei_plan_create(ctx, net.g, 1, &y, &plan));
    ck_assert_alae_ok(alaei_net_bind(&net, plan, NULL));
    float *host = fixture_f32(in_name, NULL);
    void *dev;
    ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, in->numel * 4, &dev));
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, dev, host, in->numel));
    ck_assert_alae_ok(alaei_plan_bind(plan, x, dev));
    ck_assert_alae_ok(alaei_plan_run(plan));
    char what[128];
    snprintf(what, sizeof what, "%s from %s", out_name, in_name);
    expect_device_close(what, alaei_plan_data(plan, y), out_name, FORWARD_TOL);
    ctx->backend->buf_free(ctx->bctx, dev);
    free(host);
    alaei_plan_destroy(plan);
    alaei_net_free(&net);
}

/* One layer "<prefix>" of the model applied with the parameters the net maps. */
static char layer_name[64];
static double layer_slope;
static int32_t one_linear(alaei_net *net, int32_t x) {
    char w[80], b[80];
    snprintf(w, sizeof w, "%s.weight", layer_name);
    snprintf(b, sizeof b, "%s.bias", layer_name);
    int32_t y = alaei_linear(net->g, x, alaei_net_param(net, param_index(w)), alaei_net_param(net, param_index(b)), 1.0);
    return layer_slope < 0 ? y : alaei_leaky_relu(net->g, y, layer_slope);
}
static int32_t leaky_then_linear(alaei_net *net, int32_t x) {
    return one_linear(net, alaei_leaky_relu(net->g, x, 0.2));
}
static int32_t net_E_then_D(alaei_net *net, int32_t x) { return alaei_net_D(net, alaei_net_E(net, x)); }

START_TEST(forward_outputs_match) {
    check_forward("z", alaei_net_F, "w");
    check_forward("w", alaei_net_G, "x_fake");
    check_forward("x", alaei_net_E, "w_real");
    check_forward("w_real", alaei_net_D, "d_real");
    check_forward("x_fake", alaei_net_E, "w_fake");
    check_forward("x", net_E_then_D, "d_real");
    check_forward("w_fake", alaei_net_D, "d_fake");
}
END_TEST

START_TEST(every_activation_matches) {
    char in[96], out[96];
    /* F: layer i maps act i-1 (or the pixel-normed z, checked through layer 0 via F itself) */
    for (int i = 1; i < 6; i++) {
        snprintf(layer_name, sizeof layer_name, "mapping_f.map_blocks.%d.fc", i);
        layer_slope = 0.2;
        snprintf(in, sizeof in, "act.mapping_f.map_blocks.%d", i - 1);
        snprintf(out, sizeof out, "act.mapping_f.map_blocks.%d", i);
        check_forward(in, one_linear, out);
    }
    /* G and E store the linear outputs before their activations */
    snprintf(layer_name, sizeof layer_name, "decoder.fc_1");
    layer_slope = -1;
    check_forward("w", one_linear, "act.decoder.fc_1");
    snprintf(layer_name, sizeof layer_name, "decoder.fc_2");
    check_forward("act.decoder.fc_1", leaky_then_linear, "act.decoder.fc_2");
    snprintf(layer_name, sizeof layer_name, "decoder.fc_3");
    check_forward("act.decoder.fc_2", leaky_then_linear, "act.decoder.fc_3");
    snprintf(layer_name, sizeof layer_name, "encoder.fc_2");
    check_forward("act.encoder.fc_1", leaky_then_linear, "act.encoder.fc_2");
    snprintf(layer_name, sizeof layer_name, "encoder.fc_3");
    check_forward("act.encoder.fc_2", leaky_then_linear, "act.encoder.fc_3");
    /* D: no activations */
    snprintf(layer_name, sizeof layer_name, "mapping_d.map_blocks.0");
    check_forward("w_real", one_linear, "act.mapping_d.map_blocks.0");
    snprintf(layer_name, sizeof layer_name, "mapping_d.map_blocks.1");
    check_forward("act.mapping_d.map_blocks.0", one_linear, "act.mapping_d.map_blocks.1");
    snprintf(layer_name, sizeof layer_name, "mapping_d.map_blocks.2");
    check_forward("act.mapping_d.map_blocks.1", one_linear, "act.mapping_d.map_blocks.2");
}
END_TEST

/* Compares a gradient or parameter with a fixture entry that may be stored whole or as
 * [::k] rows plus .rowsum / .colsum (the big matrices). per_element_tol < 0: relative tol. */
static void compare_maybe_sliced(const char *what, const float *got, const alaei_param *p, const char *ref_name,
                                 double rel_tol, double step_tol) {
    size_t n;
    if (alaei_st_find(fx, ref_name)) {
        float *ref = fixture_f32(ref_name, &n);
        ck_assert_uint_eq(n, (size_t)p->numel);
        if (step_tol > 0) {
            for (size_t i = 0; i < n; i++) {
                double tol = 1e-6 * fmax(1.0, fabs(ref[i])) + step_tol;
                ck_assert_msg(fabs(got[i] - ref[i]) <= tol, "%s[%zu]: %.9g vs reference %.9g (tol %.3g)", what, i,
                              got[i], ref[i], tol);
            }
        } else {
            expect_close(what, got, ref, n, rel_tol);
        }
        free(ref);
        return;
    }
    int64_t rows = p->shape[0], cols = p->shape[1];
    int64_t k = (rows + 7) / 8;
    char name[160];
    snprintf(name, sizeof name, "%s[::%lld]", ref_name, (long long)k);
    float *sliced = fixture_f32(name, &n);
    float *picked = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) picked[i] = got[(i / (size_t)cols) * (size_t)k * (size_t)cols + i % (size_t)cols];
    if (step_tol > 0) {
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(picked[i] - sliced[i]) <= 1e-6 * fmax(1.0, fabs(sliced[i])) + step_tol,
                          "%s[::%lld][%zu]: %.9g vs %.9g", what, (long long)k, i, picked[i], sliced[i]);
    } else {
        expect_close(what, picked, sliced, n, rel_tol);
    }
    double *rowsum = calloc((size_t)rows, sizeof(double)), *colsum = calloc((size_t)cols, sizeof(double));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            rowsum[r] += got[r * cols + c];
            colsum[c] += got[r * cols + c];
        }
    float *rs = malloc((size_t)rows * sizeof(float)), *cs = malloc((size_t)cols * sizeof(float));
    for (int64_t r = 0; r < rows; r++) rs[r] = (float)rowsum[r];
    for (int64_t c = 0; c < cols; c++) cs[c] = (float)colsum[c];
    float *ref_rs, *ref_cs;
    snprintf(name, sizeof name, "%s.rowsum", ref_name);
    ref_rs = fixture_f32(name, NULL);
    snprintf(name, sizeof name, "%s.colsum", ref_name);
    ref_cs = fixture_f32(name, NULL);
    char label[200];
    snprintf(label, sizeof label, "%s.rowsum", what);
    expect_close(label, rs, ref_rs, (size_t)rows, GRAD_TOL);
    snprintf(label, sizeof label, "%s.colsum", what);
    expect_close(label, cs, ref_cs, (size_t)cols, GRAD_TOL);
    free(sliced);
    free(picked);
    free(rowsum);
    free(colsum);
    free(rs);
    free(cs);
    free(ref_rs);
    free(ref_cs);
}

static float *read_device(const void *dev, int64_t n) {
    float *v = malloc((size_t)n * sizeof(float));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, v, dev, (size_t)n));
    return v;
}

START_TEST(r1_term_and_its_gradients_match) {
    const alaei_st_tensor *xin = need("x");
    alaei_net net;
    ck_assert_alae_ok(alaei_net_init(&net, model));
    alaei_graph *g = net.g;
    int32_t x = alaei_input(g, xin->ndim, xin->shape, "x");
    int32_t d = alaei_net_D(&net, alaei_net_E(&net, x));
    int32_t real_grads;
    ck_assert_alae_ok(alaei_grad(g, alaei_sum_all(g, d), -1, 1, &x, &real_grads));
    int64_t per[4] = {xin->shape[0], 1, 1, 1}, flat[4] = {1, 1, 1, xin->shape[0]};
    int32_t r1_ps = alaei_reshape4(g, alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, real_grads), per), 5.0, 0), flat);
    int32_t r1 = alaei_mean_all(g, r1_ps);
    int32_t *wrt = malloc((size_t)model->n_params * sizeof(int32_t)), *grads = malloc((size_t)model->n_params * sizeof(int32_t));
    int32_t *index = malloc((size_t)model->n_params * sizeof(int32_t)), n = 0;
    for (int32_t i = 0; i < model->n_params; i++)
        if (model->params[i].part & (ALAE_PART_E | ALAE_PART_D)) {
            index[n] = i;
            wrt[n++] = alaei_net_param(&net, i);
        }
    ck_assert_alae_ok(alaei_grad(g, r1, -1, n, wrt, grads));
    int32_t outs[256];
    int32_t n_out = 0;
    outs[n_out++] = r1;
    outs[n_out++] = r1_ps;
    outs[n_out++] = real_grads;
    for (int32_t k = 0; k < n; k++) outs[n_out++] = grads[k];
    alaei_plan *plan;
    ck_assert_alae_ok(alaei_plan_create(ctx, g, n_out, outs, &plan));
    ck_assert_alae_ok(alaei_net_bind(&net, plan, NULL));
    float *host = fixture_f32("x", NULL);
    void *dev;
    ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, xin->numel * 4, &dev));
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, dev, host, xin->numel));
    ck_assert_alae_ok(alaei_plan_bind(plan, x, dev));
    ck_assert_alae_ok(alaei_plan_run(plan));
    expect_device_close("r1", alaei_plan_data(plan, r1), "r1", FORWARD_TOL);
    expect_device_close("r1.per_sample", alaei_plan_data(plan, r1_ps), "r1.per_sample", FORWARD_TOL);
    expect_device_close("r1.real_grads", alaei_plan_data(plan, real_grads), "r1.real_grads", FORWARD_TOL);
    int checked = 0;
    for (int32_t k = 0; k < n; k++) {
        const alaei_param *p = &model->params[index[k]];
        char name[160];
        snprintf(name, sizeof name, "grad.r1.%s", p->ref_name);
        float *got = read_device(alaei_plan_data(plan, grads[k]), p->numel);
        if (!alaei_st_find(fx, name) && !alaei_st_find(fx, "grad.r1.encoder.fc_1.weight.rowsum")) continue;
        int stored = alaei_st_find(fx, name) != NULL;
        char sliced[180];
        snprintf(sliced, sizeof sliced, "%s.rowsum", name);
        if (stored || alaei_st_find(fx, sliced)) {
            compare_maybe_sliced(name, got, p, name, GRAD_TOL, -1);
            checked++;
        } else {
            /* the reference has no gradient here (a bias before a linear output): ours is zero */
            for (int64_t i = 0; i < p->numel; i++) ck_assert_msg(fabsf(got[i]) < 1e-5f, "%s should be zero", name);
        }
        free(got);
    }
    ck_assert_int_ge(checked, 9);
    ctx->backend->buf_free(ctx->bctx, dev);
    free(host);
    free(wrt);
    free(grads);
    free(index);
    alaei_plan_destroy(plan);
    alaei_net_free(&net);
}
END_TEST

typedef struct snapshots {
    float *after_d[64], *after_g[64];
    alae_model *m;
} snapshots;

static void snapshot_phase(void *user, int phase) {
    snapshots *s = user;
    for (int32_t i = 0; i < s->m->n_params; i++) {
        float **slot = phase == 1 ? &s->after_d[i] : &s->after_g[i];
        *slot = read_device(s->m->params[i].data, s->m->params[i].numel);
    }
}

START_TEST(one_training_iteration_matches) {
    alae_optimizer *fg, *ed;
    ck_assert_alae_ok(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_optimizer_set(fg, ALAE_OPT_LR, LR));
    ck_assert_alae_ok(alae_optimizer_set(ed, ALAE_OPT_LR, LR));
    alae_trainer *t;
    ck_assert_alae_ok(alae_trainer_create(model, fg, ed, &t));
    snapshots snap = {{0}, {0}, model};
    ck_assert_int_le(model->n_params, 64);
    alaei_trainer_set_phase_hook(t, snapshot_phase, &snap);
    const alaei_st_tensor *xin = need("x");
    alae_tensor *x;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xin->shape, &x));
    float *xh = fixture_f32("x", NULL);
    ck_assert_alae_ok(alae_tensor_write(x, xh, xin->numel * sizeof(float)));
    float *z[3] = {fixture_f32("noise.0", NULL), fixture_f32("noise.1", NULL), fixture_f32("noise.2", NULL)};
    alae_step_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    ck_assert_alae_ok(alaei_trainer_step_with_latents(t, x, (const float *const *)z, &st));
    float loss_d, loss_g, lae;
    ck_assert_alae_ok(alaei_st_get_f32(fx, "loss_d", 0, NULL, &loss_d));
    ck_assert_alae_ok(alaei_st_get_f32(fx, "loss_g", 0, NULL, &loss_g));
    ck_assert_alae_ok(alaei_st_get_f32(fx, "lae", 0, NULL, &lae));
    expect_close("loss_d", &st.loss_d, &loss_d, 1, FORWARD_TOL);
    expect_close("loss_g", &st.loss_g, &loss_g, 1, FORWARD_TOL);
    expect_close("lae", &st.loss_ae, &lae, 1, FORWARD_TOL);
    ck_assert_uint_eq(st.step, 1);
    /* every gradient of the three steps */
    static const char *loss_names[3] = {"loss_d", "loss_g", "lae"};
    int checked = 0;
    for (int step = 0; step < 3; step++)
        for (int32_t i = 0; i < model->n_params; i++) {
            const alaei_param *p = &model->params[i];
            char name[160];
            snprintf(name, sizeof name, "grad.%s.%s", loss_names[step], p->ref_name);
            char rowsum[180];
            snprintf(rowsum, sizeof rowsum, "%s.rowsum", name);
            if (!alaei_st_find(fx, name) && !alaei_st_find(fx, rowsum)) continue;
            void *dev = alaei_trainer_grad(t, step, i);
            ck_assert_msg(dev != NULL, "no gradient for %s", name);
            float *got = read_device(dev, p->numel);
            compare_maybe_sliced(name, got, p, name, GRAD_TOL, -1);
            free(got);
            checked++;
        }
    ck_assert_int_eq(checked, 12 + 18 + 30); /* E,D in loss_d; F,G in loss_g; all four in lae */
    /* parameters after the D-step, the G-step and the iteration, within a quarter Adam step */
    for (int32_t i = 0; i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        char name[160];
        double step_tol = 0.25 * LR * p->lr_coef;
        if (p->part & (ALAE_PART_E | ALAE_PART_D)) {
            snprintf(name, sizeof name, "after_d.%s", p->ref_name);
            compare_maybe_sliced(name, snap.after_d[i], p, name, GRAD_TOL, step_tol);
        } else {
            snprintf(name, sizeof name, "after_g.%s", p->ref_name);
            compare_maybe_sliced(name, snap.after_g[i], p, name, GRAD_TOL, step_tol);
        }
        snprintf(name, sizeof name, "after.%s", p->ref_name);
        float *got = read_device(p->data, p->numel);
        compare_maybe_sliced(name, got, p, name, GRAD_TOL, step_tol);
        free(got);
        free(snap.after_d[i]);
        free(snap.after_g[i]);
        /* two Adam steps for every parameter, D's zero-gradient step included */
        const alae_optimizer *o = (p->part & (ALAE_PART_F | ALAE_PART_G)) ? fg : ed;
        ck_assert_int_eq(o->t[i], 2);
    }
    size_t n;
    float *avg = fixture_f32("after.dlatent_avg.buff", &n);
    for (size_t r = 0; r < n / (size_t)model->cfg.latent_dim; r++)
        expect_close("after.dlatent_avg.buff", model->dlatent_avg, avg + r * (size_t)model->cfg.latent_dim,
                     (size_t)model->cfg.latent_dim, FORWARD_TOL);
    free(avg);
    for (int k = 0; k < 3; k++) free(z[k]);
    free(xh);
    alae_tensor_destroy(x);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
}
END_TEST

static Suite *parity_suite(void) {
    Suite *s = suite_create("mlp_parity");
    TCase *tc = tcase_create("mnist-fc");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_parameter_is_mapped_with_its_lr_coefficient);
    tcase_add_test(tc, forward_outputs_match);
    tcase_add_test(tc, every_activation_matches);
    tcase_add_test(tc, r1_term_and_its_gradients_match);
    tcase_add_test(tc, one_training_iteration_matches);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("cuda_mlp_parity"); /* ALAE_TEST_DEVICE=cuda: the same checks on the GPU */
    return alae_test_run_suite(parity_suite());
}
