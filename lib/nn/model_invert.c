/* alae_model_invert: codes that reconstruct real images better than the encoder's, by gradient
 * descent through the frozen generator. One plan computes, for the batch of codes, every image's
 * squared error against its target and the gradient of their sum (per-image means) with respect
 * to the codes; Adam runs on the host (the codes are small) and each image keeps its best code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alae/alae_eval.h"
#include "model_internal.h"

#define MAX_STEPS 1000000
#define MAX_LR 10.0
#define PSNR_CAP 100.0
#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8

/* The planned objective and the buffers it is bound to. */
typedef struct objective {
    alaei_net net;
    alaei_plan *plan;
    int32_t codes, target, sse, grad; /* nodes */
    void *codes_buf, *blend_buf;
    alae_tensor *noise;
} objective;

/* Host state of the optimisation. */
typedef struct search {
    int64_t n, per_code, pixels;  /* images, floats per code, pixels per image */
    float *codes, *grad, *sse, *best, *best_sse, *m1, *m2;
    double mse_before, psnr_before;
} search;

static double psnr_of(double mse, double peak) {
    if (mse <= 0) return PSNR_CAP;
    double p = 10.0 * log10(peak * peak / mse);
    return p > PSNR_CAP ? PSNR_CAP : p;
}

static double data_peak(const alae_model *m) { return m->cfg.data_range == 1 ? 2.0 : 1.0; }

/* Mean over images of the per-image MSE and of the per-image PSNR. */
static void summarise(const search *sr, const float *sse, double peak, double *mse, double *psnr) {
    double sum_mse = 0, sum_psnr = 0;
    for (int64_t i = 0; i < sr->n; i++) {
        double e = (double)sse[i] / (double)sr->pixels;
        sum_mse += e;
        sum_psnr += psnr_of(e, peak);
    }
    *mse = sum_mse / (double)sr->n;
    *psnr = sum_psnr / (double)sr->n;
}

static alae_status check_args(const alae_model *m, const alae_tensor *x, int32_t steps, double lr,
                              const alae_tensor *codes, const alae_invert_report *report, const char *func) {
    if (x->ctx != m->ctx || codes->ctx != m->ctx)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the tensors belong to another context than the model");
    if (steps < 0 || steps > MAX_STEPS)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "steps %d is not in 0..%d", (int)steps, MAX_STEPS);
    if (!(lr > 0 && lr <= MAX_LR))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "lr %g is not in (0, %g]", lr, MAX_LR);
    if (report && report->struct_size == 0) return alaei_fail(ALAE_E_INVALID_ARG, func, "report->struct_size is 0");
    const alae_model_config *c = &m->cfg;
    int64_t size = alaei_level_size(c, m->lod);
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] != c->channels || x->shape[2] != size || x->shape[3] != size)
        return alaei_fail(ALAE_E_SHAPE, func, "x must be [N, %d, %lld, %lld] with N >= 1", (int)c->channels,
                          (long long)size, (long long)size);
    int64_t n = x->shape[0], rows = alaei_style_count(c);
    int w_space = codes->ndim == 2 && codes->shape[0] == n && codes->shape[1] == c->latent_dim;
    int w_plus = codes->ndim == 3 && codes->shape[0] == n && codes->shape[1] == rows && codes->shape[2] == c->latent_dim;
    if (!w_space && !w_plus)
        return alaei_fail(ALAE_E_SHAPE, func, "codes must be [%lld, %d] (W) or [%lld, %lld, %d] (W+)", (long long)n,
                          (int)c->latent_dim, (long long)n, (long long)rows, (int)c->latent_dim);
    return ALAE_OK;
}

static void objective_free(alae_model *m, objective *o) {
    alae_context *ctx = m->ctx;
    alaei_device_free(ctx, o->codes_buf);
    alaei_device_free(ctx, o->blend_buf);
    alae_tensor_destroy(o->noise);
    alaei_plan_destroy(o->plan);
    alaei_net_free(&o->net);
}

/* y limited to [lo, hi] as y - relu(y - hi) + relu(lo - y): the same values as a clamp, built
 * from ops autodiff differentiates (zero gradient where y is outside the range). */
static int32_t clamp_range(alaei_graph *g, int32_t y, double lo, double hi) {
    int32_t over = alaei_leaky_relu(g, alaei_scale_shift(g, y, 1.0, -hi), 0.0);
    int32_t under = alaei_leaky_relu(g, alaei_scale_shift(g, y, -1.0, lo), 0.0);
    return alaei_add(g, alaei_sub(g, y, over), under);
}

/* Builds sse [N] (per-image sums of squared errors of G(codes) against the target) and the
 * gradient of sum_i sse_i / pixels with respect to the codes. */
static void build_objective(objective *o, const alae_tensor *x, const alae_tensor *codes, int64_t pixels) {
    alaei_graph *g = o->net.g;
    int64_t n = x->shape[0];
    o->codes = alaei_input(g, codes->ndim, codes->shape, "codes");
    o->target = alaei_input(g, x->ndim, x->shape, "target");
    int32_t image = codes->ndim == 3 ? alaei_net_G_styles(&o->net, o->codes) : alaei_net_G(&o->net, o->codes);
    const alae_model_config *c = &o->net.m->cfg;
    image = clamp_range(g, image, c->data_range == 1 ? -1.0 : 0.0, 1.0);
    int32_t sq = alaei_unary(g, ALAEI_OP_SQUARE, alaei_sub(g, image, o->target));
    int64_t per_image[4] = {n, 1, 1, 1};
    o->sse = alaei_reshape(g, alaei_reduce_sum(g, sq, per_image), 1, &n);
    int32_t loss = alaei_scale_shift(g, alaei_sum_all(g, o->sse), 1.0 / (double)pixels, 0.0);
    alaei_grad(g, loss, -1, 1, &o->codes, &o->grad); /* a failure is the graph's status */
}

/* Binds the fade-in factor and (unless noise is off) one fixed draw of the noise maps. */
static alae_status bind_fixed_inputs(alae_model *m, objective *o) {
    alae_context *ctx = m->ctx;
    alae_status s = ALAE_OK;
    if (o->net.blend >= 0) {
        float blend = (float)m->blend;
        s = alaei_device_alloc(ctx, 1, &o->blend_buf);
        if (s == ALAE_OK) s = alaei_device_upload(ctx, o->blend_buf, &blend, 1);
        if (s == ALAE_OK) s = alaei_plan_bind(o->plan, o->net.blend, o->blend_buf);
    }
    if (s == ALAE_OK && o->net.n_noise > 0) {
        int64_t count = alaei_graph_numel(o->net.g, o->net.noise[0]);
        s = alae_tensor_create(ctx, ALAE_DTYPE_F32, 1, &count, &o->noise);
        if (s == ALAE_OK) s = alae_tensor_fill_normal(o->noise, 0.0f, 1.0f);
        if (s == ALAE_OK) s = alaei_plan_bind(o->plan, o->net.noise[0], o->noise->data);
    }
    return s;
}

static alae_status objective_prepare(alae_model *m, const alae_tensor *x, const alae_tensor *codes, int64_t pixels,
                                     objective *o, const char *func) {
    memset(o, 0, sizeof *o);
    alae_status s = alaei_net_init(&o->net, m);
    if (s != ALAE_OK) return s;
    o->net.lod = m->lod;
    o->net.noise_mode = m->noise_mode;
    if (m->blend < 1.0 && m->lod > 0) {
        int64_t one = 1;
        o->net.blend = alaei_input(o->net.g, 1, &one, "blend");
    }
    build_objective(o, x, codes, pixels);
    if (alaei_graph_status(o->net.g) != ALAE_OK) return alaei_graph_fail_public(o->net.g, func);
    int32_t outs[2] = {o->sse, o->grad};
    s = alaei_plan_create(m->ctx, o->net.g, 2, outs, &o->plan);
    if (s == ALAE_OK) s = alaei_net_bind(&o->net, o->plan, NULL);
    if (s == ALAE_OK) s = bind_fixed_inputs(m, o);
    if (s == ALAE_OK) s = alaei_device_alloc(m->ctx, (size_t)codes->numel, &o->codes_buf);
    if (s == ALAE_OK) s = alaei_plan_bind(o->plan, o->codes, o->codes_buf);
    if (s == ALAE_OK) s = alaei_plan_bind(o->plan, o->target, x->data);
    return s;
}

/* One evaluation: sse and gradient of the current host codes. */
static alae_status objective_run(alae_model *m, objective *o, search *sr) {
    alae_context *ctx = m->ctx;
    alae_status s = alaei_device_upload(ctx, o->codes_buf, sr->codes, (size_t)(sr->n * sr->per_code));
    if (s == ALAE_OK) s = alaei_plan_run(o->plan);
    if (s == ALAE_OK) s = alaei_device_download(ctx, sr->sse, alaei_plan_data(o->plan, o->sse), (size_t)sr->n);
    if (s == ALAE_OK)
        s = alaei_device_download(ctx, sr->grad, alaei_plan_data(o->plan, o->grad), (size_t)(sr->n * sr->per_code));
    return s;
}

static void search_free(search *sr) {
    free(sr->codes);
    free(sr->grad);
    free(sr->sse);
    free(sr->best);
    free(sr->best_sse);
    free(sr->m1);
    free(sr->m2);
}

static alae_status search_alloc(search *sr, int64_t n, int64_t per_code, int64_t pixels, const char *func) {
    memset(sr, 0, sizeof *sr);
    sr->n = n;
    sr->per_code = per_code;
    sr->pixels = pixels;
    size_t floats = (size_t)(n * per_code);
    sr->codes = malloc(floats * sizeof(float));
    sr->grad = malloc(floats * sizeof(float));
    sr->best = malloc(floats * sizeof(float));
    sr->m1 = calloc(floats, sizeof(float));
    sr->m2 = calloc(floats, sizeof(float));
    sr->sse = malloc((size_t)n * sizeof(float));
    sr->best_sse = malloc((size_t)n * sizeof(float));
    if (!sr->codes || !sr->grad || !sr->best || !sr->m1 || !sr->m2 || !sr->sse || !sr->best_sse)
        return alaei_fail(ALAE_E_NOMEM, func, "no memory for %lld codes", (long long)n);
    return ALAE_OK;
}

/* Starting codes: E(x), copied to every style row in W+. */
static alae_status start_from_encoder(alae_model *m, const alae_tensor *x, search *sr) {
    int64_t shape[2] = {sr->n, m->cfg.latent_dim}, rows = sr->per_code / m->cfg.latent_dim;
    alae_tensor *w = NULL;
    float *host = malloc((size_t)(sr->n * m->cfg.latent_dim) * sizeof(float));
    alae_status s = host ? alae_tensor_create(m->ctx, ALAE_DTYPE_F32, 2, shape, &w) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = alae_model_encode(m, x, w);
    if (s == ALAE_OK) s = alae_tensor_read(w, host, (size_t)w->numel * sizeof(float));
    for (int64_t i = 0; s == ALAE_OK && i < sr->n; i++)
        for (int64_t r = 0; r < rows; r++)
            memcpy(sr->codes + (i * rows + r) * m->cfg.latent_dim, host + i * m->cfg.latent_dim,
                   (size_t)m->cfg.latent_dim * sizeof(float));
    if (!host) s = alaei_fail(ALAE_E_NOMEM, "alae_model_invert", "no memory for the codes");
    free(host);
    alae_tensor_destroy(w);
    return s;
}

/* Keeps, per image, the codes of the lowest error seen. */
static void keep_best(search *sr, int first) {
    for (int64_t i = 0; i < sr->n; i++) {
        if (!first && !(sr->sse[i] < sr->best_sse[i])) continue;
        sr->best_sse[i] = sr->sse[i];
        memcpy(sr->best + i * sr->per_code, sr->codes + i * sr->per_code, (size_t)sr->per_code * sizeof(float));
    }
}

/* Adam step number t (1-based) on the host codes. */
static void adam_update(search *sr, double lr, int32_t t) {
    double c1 = 1.0 - pow(ADAM_BETA1, t), c2 = 1.0 - pow(ADAM_BETA2, t);
    int64_t count = sr->n * sr->per_code;
    for (int64_t k = 0; k < count; k++) {
        double gk = sr->grad[k];
        sr->m1[k] = (float)(ADAM_BETA1 * sr->m1[k] + (1.0 - ADAM_BETA1) * gk);
        sr->m2[k] = (float)(ADAM_BETA2 * sr->m2[k] + (1.0 - ADAM_BETA2) * gk * gk);
        double step = lr * (sr->m1[k] / c1) / (sqrt(sr->m2[k] / c2) + ADAM_EPS);
        sr->codes[k] = (float)(sr->codes[k] - step);
    }
}

/* Runs the steps; the codes that leave are the best per image. */
static alae_status run_search(alae_model *m, objective *o, search *sr, int32_t steps, double lr) {
    double peak = data_peak(m);
    alae_status s = ALAE_OK;
    for (int32_t k = 0; s == ALAE_OK && k <= steps; k++) {
        s = objective_run(m, o, sr);
        if (s != ALAE_OK) break;
        keep_best(sr, k == 0);
        if (k == 0) summarise(sr, sr->sse, peak, &sr->mse_before, &sr->psnr_before);
        if (k < steps) adam_update(sr, lr, k + 1);
    }
    return s;
}

static void write_report(const alae_model *m, const search *sr, int32_t steps, alae_invert_report *report) {
    if (!report) return;
    alae_invert_report full = {sizeof full, steps, sr->mse_before, 0, sr->psnr_before, 0};
    summarise(sr, sr->best_sse, data_peak(m), &full.mse_after, &full.psnr_after);
    uint32_t size = report->struct_size < sizeof full ? report->struct_size : (uint32_t)sizeof full;
    memcpy(report, &full, size);
    report->struct_size = size;
}

ALAE_API alae_status alae_model_invert(alae_model *m, const alae_tensor *x, int32_t steps, double lr,
                                       alae_tensor *codes, alae_invert_report *report) {
    const char *func = __func__;
    alaei_clear_error();
    ALAEI_CHECK_ARG(m);
    ALAEI_CHECK_ARG(x);
    ALAEI_CHECK_ARG(codes);
    alae_status s = check_args(m, x, steps, lr, codes, report, func);
    if (s != ALAE_OK) return s;
    int64_t n = x->shape[0], pixels = x->numel / n;
    search sr;
    objective o;
    memset(&o, 0, sizeof o);
    s = search_alloc(&sr, n, codes->numel / n, pixels, func);
    if (s == ALAE_OK) s = start_from_encoder(m, x, &sr);
    alaei_context_begin_call(m->ctx);
    if (s == ALAE_OK) s = objective_prepare(m, x, codes, pixels, &o, func);
    if (s == ALAE_OK) s = run_search(m, &o, &sr, steps, lr);
    if (s == ALAE_OK) s = alaei_device_upload(m->ctx, codes->data, sr.best, (size_t)codes->numel);
    if (s == ALAE_OK) write_report(m, &sr, steps, report);
    objective_free(m, &o);
    search_free(&sr);
    return s;
}
