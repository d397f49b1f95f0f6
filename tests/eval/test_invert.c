/* alae_model_invert: the error it reports is the error of the codes it returns, its first step
 * follows the true gradient (checked against finite differences of G), it finds a code that G
 * maps exactly onto the target, W+ works per style row on StyleALAE, noise is held fixed, and
 * bad arguments fail with pinned statuses and leave the outputs alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static alae_context *ctx;

static void setup(void) {
    ck_assert_alae_ok(alae_context_create(alae_test_device(), &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 3));
}

static void teardown(void) { alae_context_destroy(ctx); }

/* A small MLP ALAE of a preset (latent 8, hidden 32). */
static alae_model *small_mlp_preset(const char *preset, uint64_t seed) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create(preset, &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 32));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, seed, &m));
    alae_model_config_destroy(cfg);
    return m;
}

/* mnist-fc-paper: 28x28 in [0, 1]. */
static alae_model *small_mlp(uint64_t seed) { return small_mlp_preset("mnist-fc-paper", seed); }

/* A small StyleALAE (8x8, 1 channel, latent 8, 8 channels: 2 levels, 4 style rows). */
static alae_model *small_style(void) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 2));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 8));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 5, &m));
    alae_model_config_destroy(cfg);
    return m;
}

static alae_tensor *tensor(int32_t ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t shape[4] = {a, b, c, d};
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, ndim, shape, &t));
    return t;
}

static float *read_all(const alae_tensor *t) {
    size_t bytes = (size_t)alae_tensor_numel(t) * sizeof(float);
    float *host = malloc(bytes);
    ck_assert_ptr_nonnull(host);
    ck_assert_alae_ok(alae_tensor_read(t, host, bytes));
    return host;
}

/* Images in [0, 1] with a smooth pattern per image. */
static alae_tensor *pattern_images(int64_t n, int64_t c, int64_t s) {
    alae_tensor *x = tensor(4, n, c, s, s);
    float *host = malloc((size_t)(n * c * s * s) * sizeof(float));
    for (int64_t k = 0; k < n * c * s * s; k++) {
        int64_t i = k / (c * s * s), p = k % (s * s);
        host[k] = (float)(0.5 + 0.4 * sin(0.3 * (double)(p % s) * (double)(i + 1) + 0.2 * (double)(p / s)));
    }
    ck_assert_alae_ok(alae_tensor_write(x, host, (size_t)(n * c * s * s) * sizeof(float)));
    free(host);
    return x;
}

/* Per-image mean squared error of G(codes) (W or W+), clamped to [lo, hi], against x. */
static void per_image_mse(alae_model *m, const alae_tensor *codes, const alae_tensor *x, double lo, double hi,
                          double *mse) {
    int64_t shape[4];
    ck_assert_alae_ok(alae_tensor_shape(x, shape, 4));
    alae_tensor *y = tensor(4, shape[0], shape[1], shape[2], shape[3]);
    if (alae_tensor_ndim(codes) == 3) ck_assert_alae_ok(alae_model_generate_styles(m, codes, y));
    else ck_assert_alae_ok(alae_model_generate(m, codes, y));
    float *a = read_all(x), *b = read_all(y);
    int64_t per = shape[1] * shape[2] * shape[3];
    for (int64_t i = 0; i < shape[0]; i++) {
        double sum = 0;
        for (int64_t k = 0; k < per; k++) {
            double g = fmin(hi, fmax(lo, (double)b[i * per + k]));
            double d = (double)a[i * per + k] - g;
            sum += d * d;
        }
        mse[i] = sum / (double)per;
    }
    free(a);
    free(b);
    alae_tensor_destroy(y);
}

static double mean_psnr(const double *mse, int64_t n, double peak) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += 10.0 * log10(peak * peak / mse[i]);
    return sum / (double)n;
}

START_TEST(zero_steps_report_the_encoder_error) {
    alae_model *m = small_mlp(1);
    alae_tensor *x = pattern_images(3, 1, 28), *codes = tensor(2, 3, 8, 0, 0), *w = tensor(2, 3, 8, 0, 0);
    alae_invert_report rep = {sizeof rep, -1, 0, 0, 0, 0};
    ck_assert_alae_ok(alae_model_invert(m, x, 0, 0.01, codes, &rep));
    ck_assert_int_eq(rep.steps, 0);
    ck_assert_alae_ok(alae_model_encode(m, x, w));
    float *c = read_all(codes), *e = read_all(w);
    for (int k = 0; k < 24; k++) ck_assert_float_eq(c[k], e[k]); /* codes = E(x) */
    double mse[3];
    per_image_mse(m, w, x, 0, 1, mse);
    double mean = (mse[0] + mse[1] + mse[2]) / 3;
    ck_assert_double_eq_tol(rep.mse_before, mean, 1e-5 * mean);
    ck_assert_double_eq_tol(rep.mse_after, rep.mse_before, 1e-12);
    ck_assert_double_eq_tol(rep.psnr_before, mean_psnr(mse, 3, 1.0), 1e-4);
    free(c);
    free(e);
    alae_tensor_destroy(x);
    alae_tensor_destroy(codes);
    alae_tensor_destroy(w);
    alae_model_destroy(m);
}
END_TEST

/* Adam's first step moves every coordinate by lr against the sign of the gradient; the gradient
 * of image 0's MSE is estimated by central differences through alae_model_generate. */
START_TEST(first_step_follows_the_finite_difference_gradient) {
    alae_model *m = small_mlp(2);
    const double lr = 1e-4, h = 1e-2;
    alae_tensor *x = pattern_images(1, 1, 28), *codes = tensor(2, 1, 8, 0, 0), *probe = tensor(2, 1, 8, 0, 0);
    ck_assert_alae_ok(alae_model_invert(m, x, 0, lr, codes, NULL));
    float *start = read_all(codes);
    ck_assert_alae_ok(alae_model_invert(m, x, 1, lr, codes, NULL));
    float *moved = read_all(codes);
    int checked = 0;
    for (int k = 0; k < 8; k++) {
        double mse[2];
        float p[8];
        for (int side = 0; side < 2; side++) {
            memcpy(p, start, sizeof p);
            p[k] += (float)(side ? -h : h);
            ck_assert_alae_ok(alae_tensor_write(probe, p, sizeof p));
            per_image_mse(m, probe, x, 0, 1, &mse[side]);
        }
        double grad = (mse[0] - mse[1]) / (2 * h);
        if (fabs(grad) < 1e-4) continue; /* too flat to tell the sign */
        double step = (double)moved[k] - (double)start[k];
        ck_assert_msg(fabs(fabs(step) - lr) < 0.05 * lr, "coordinate %d moved %g, not lr %g", k, step, lr);
        ck_assert_msg(step * grad < 0, "coordinate %d moved %g along the gradient %g", k, step, grad);
        checked++;
    }
    ck_assert_int_ge(checked, 4);
    free(start);
    free(moved);
    alae_tensor_destroy(x);
    alae_tensor_destroy(codes);
    alae_tensor_destroy(probe);
    alae_model_destroy(m);
}
END_TEST

/* Targets G(w*) that G can reproduce exactly, from an untrained encoder's far-off start: the
 * descent lands on w* itself (the problem is not convex, so one of the four may stop in another
 * minimum), and the reported error is the returned codes' error. mnist-fc reads [-1, 1], and
 * small codes keep G's images inside it (G has zero biases at creation, so G(a w) = a G(w)). */
START_TEST(recovers_codes_the_generator_made) {
    alae_model *m = small_mlp_preset("mnist-fc", 3);
    alae_tensor *w_true = tensor(2, 4, 8, 0, 0), *x = tensor(4, 4, 1, 32, 32), *codes = tensor(2, 4, 8, 0, 0);
    ck_assert_alae_ok(alae_tensor_fill_normal(w_true, 0.0f, 0.05f));
    ck_assert_alae_ok(alae_model_generate(m, w_true, x));
    float *pixels = read_all(x);
    for (int k = 0; k < 4 * 32 * 32; k++) ck_assert_float_lt(fabsf(pixels[k]), 1.0f);
    free(pixels);
    alae_invert_report rep = {sizeof rep, 0, 0, 0, 0, 0};
    ck_assert_alae_ok(alae_model_invert(m, x, 300, 0.02, codes, &rep));
    ck_assert_int_eq(rep.steps, 300);
    ck_assert_msg(rep.mse_after < 0.05 * rep.mse_before, "MSE %g -> %g", rep.mse_before, rep.mse_after);
    double mse[4];
    per_image_mse(m, codes, x, -1, 1, mse);
    ck_assert_double_eq_tol(rep.mse_after, (mse[0] + mse[1] + mse[2] + mse[3]) / 4, 1e-4 * rep.mse_before);
    float *found = read_all(codes), *truth = read_all(w_true);
    int recovered = 0;
    for (int i = 0; i < 4; i++) {
        double d = 0;
        for (int k = 0; k < 8; k++) d = fmax(d, fabs((double)found[i * 8 + k] - (double)truth[i * 8 + k]));
        if (d < 1e-4) {
            recovered++;
            ck_assert_double_lt(mse[i], 1e-8);
        }
    }
    ck_assert_int_ge(recovered, 3);
    free(found);
    free(truth);
    alae_tensor_destroy(w_true);
    alae_tensor_destroy(x);
    alae_tensor_destroy(codes);
    alae_model_destroy(m);
}
END_TEST

/* W+ on StyleALAE: each style row gets its own code (they start equal to E(x) and drift apart),
 * the error never rises, and with ALAE_NOISE_PER_SAMPLE the report holds for one fixed noise
 * draw (with noise off it equals a fresh measurement). */
START_TEST(w_plus_optimises_each_style_row) {
    alae_model *m = small_style();
    double rows;
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_STYLE_COUNT, &rows));
    ck_assert_int_eq((int)rows, 4);
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    alae_tensor *x = pattern_images(2, 1, 8), *plus = tensor(3, 2, 4, 8, 0), *w = tensor(2, 2, 8, 0, 0);
    float *host = read_all(x);
    for (int k = 0; k < 128; k++) host[k] = 2 * host[k] - 1; /* StyleALAE reads [-1, 1] */
    ck_assert_alae_ok(alae_tensor_write(x, host, 128 * sizeof(float)));
    alae_invert_report rep = {sizeof rep, 0, 0, 0, 0, 0}, rep_w = rep;
    ck_assert_alae_ok(alae_model_invert(m, x, 40, 0.05, plus, &rep));
    ck_assert_alae_ok(alae_model_invert(m, x, 40, 0.05, w, &rep_w));
    ck_assert_double_lt(rep.mse_after, rep.mse_before);
    ck_assert_double_eq_tol(rep.mse_before, rep_w.mse_before, 1e-9);
    double mse[2];
    per_image_mse(m, plus, x, -1, 1, mse);
    ck_assert_double_eq_tol(rep.mse_after, (mse[0] + mse[1]) / 2, 1e-4 * rep.mse_before);
    ck_assert_double_eq_tol(rep.psnr_after, mean_psnr(mse, 2, 2.0), 1e-3);
    float *c = read_all(plus);
    double spread = 0;
    for (int k = 0; k < 8; k++) spread += fabs((double)c[k] - (double)c[3 * 8 + k]); /* image 0: rows 0 and 3 */
    ck_assert_double_gt(spread, 1e-4);
    /* noise per sample: one fixed draw, so steps still lower the error */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_PER_SAMPLE));
    ck_assert_alae_ok(alae_model_invert(m, x, 40, 0.05, plus, &rep));
    ck_assert_double_lt(rep.mse_after, rep.mse_before);
    free(host);
    free(c);
    alae_tensor_destroy(x);
    alae_tensor_destroy(plus);
    alae_tensor_destroy(w);
    alae_model_destroy(m);
}
END_TEST

START_TEST(bad_arguments_fail_and_leave_outputs_alone) {
    alae_model *m = small_mlp(4);
    alae_tensor *x = pattern_images(2, 1, 28), *codes = tensor(2, 2, 8, 0, 0);
    alae_tensor *wrong_n = tensor(2, 3, 8, 0, 0), *wrong_rows = tensor(3, 2, 2, 8, 0), *bad_x = tensor(4, 2, 1, 27, 27);
    float marker[16];
    for (int k = 0; k < 16; k++) marker[k] = 42.0f;
    ck_assert_alae_ok(alae_tensor_write(codes, marker, sizeof marker));
    alae_invert_report rep = {sizeof rep, 77, 0, 0, 0, 0}, zero = {0, 77, 0, 0, 0, 0};
    ck_assert_int_eq(alae_model_invert(NULL, x, 1, 0.01, codes, &rep), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_invert(m, NULL, 1, 0.01, codes, &rep), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_invert(m, x, 1, 0.01, NULL, &rep), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_invert(m, x, -1, 0.01, codes, &rep), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "steps"));
    ck_assert_int_eq(alae_model_invert(m, x, 1, 0.0, codes, &rep), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_invert(m, x, 1, NAN, codes, &rep), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "lr"));
    ck_assert_int_eq(alae_model_invert(m, x, 1, 0.01, codes, &zero), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "struct_size"));
    ck_assert_int_eq(alae_model_invert(m, x, 1, 0.01, wrong_n, &rep), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "codes"));
    ck_assert_int_eq(alae_model_invert(m, x, 1, 0.01, wrong_rows, &rep), ALAE_E_SHAPE);
    ck_assert_int_eq(alae_model_invert(m, bad_x, 1, 0.01, codes, &rep), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "x must be"));
    float after[16];
    ck_assert_alae_ok(alae_tensor_read(codes, after, sizeof after));
    for (int k = 0; k < 16; k++) ck_assert_float_eq(after[k], 42.0f);
    ck_assert_int_eq(rep.steps, 77);
    ck_assert_int_eq(zero.steps, 77);
    /* a short report struct receives only its own bytes */
    struct {
        alae_invert_report head;
        uint32_t guard;
    } shorter = {{8, 0, 0, 0, 0, 0}, 0xabcdu};
    ck_assert_alae_ok(alae_model_invert(m, x, 1, 0.01, codes, &shorter.head));
    ck_assert_uint_eq(shorter.head.struct_size, 8);
    ck_assert_int_eq(shorter.head.steps, 1);
    ck_assert_double_eq(shorter.head.mse_before, 0);
    alae_tensor_destroy(x);
    alae_tensor_destroy(codes);
    alae_tensor_destroy(wrong_n);
    alae_tensor_destroy(wrong_rows);
    alae_tensor_destroy(bad_x);
    alae_model_destroy(m);
}
END_TEST

static Suite *invert_suite(void) {
    Suite *s = suite_create("invert");
    TCase *tc = tcase_create("invert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, zero_steps_report_the_encoder_error);
    tcase_add_test(tc, first_step_follows_the_finite_difference_gradient);
    tcase_add_test(tc, recovers_codes_the_generator_made);
    tcase_add_test(tc, w_plus_optimises_each_style_row);
    tcase_add_test(tc, bad_arguments_fail_and_leave_outputs_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("test_invert");
    return alae_test_run_suite(invert_suite());
}
