/* The metrics of alae_eval.h on cases with known answers: identical sets, shifted sets, toy
 * classification problems of known accuracy, and the path length of a generator that is affine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static float *noise_images(int64_t n, int64_t per, uint64_t seed, double scale) {
    float *x = malloc((size_t)(n * per) * sizeof(float));
    uint64_t st = seed;
    for (int64_t k = 0; k < n * per; k++) x[k] = (float)alae_test_uniform(&st, -scale, scale);
    return x;
}

/* Smooth images: a blob whose position depends on the image. */
static float *blob_images(int64_t n, int32_t size, uint64_t seed) {
    float *x = malloc((size_t)(n * size * size) * sizeof(float));
    uint64_t st = seed;
    for (int64_t i = 0; i < n; i++) {
        double cy = alae_test_uniform(&st, 4, size - 4), cx = alae_test_uniform(&st, 4, size - 4);
        for (int32_t r = 0; r < size; r++)
            for (int32_t c = 0; c < size; c++)
                x[(i * size + r) * size + c] = (float)exp(-((r - cy) * (r - cy) + (c - cx) * (c - cx)) / 18.0);
    }
    return x;
}

/* ---- MSE, PSNR, SSIM ---- */

START_TEST(quality_of_identical_images_is_perfect) {
    float *x = noise_images(3, 2 * 16 * 16, 1, 1.0);
    alae_image_quality q = {sizeof q, -1, -1, -1};
    ck_assert_alae_ok(alae_eval_image_quality(x, x, 3, 2, 16, 2.0, &q));
    ck_assert_double_eq(q.mse, 0);
    ck_assert_double_eq(q.psnr, 100);
    ck_assert_double_eq_tol(q.ssim, 1.0, 1e-12);
    free(x);
}
END_TEST

/* y = x + c: MSE c^2, PSNR 10 log10(peak^2 / c^2); on constant images SSIM is the luminance
 * term alone, 1 - c^2 / (m^2 + (m + c)^2 + C1). */
START_TEST(quality_of_shifted_images_has_the_closed_form) {
    const double m = 0.3, c = 0.1, peak = 1.0, c1 = 1e-4;
    float x[2 * 28 * 28], y[2 * 28 * 28];
    for (int k = 0; k < 2 * 28 * 28; k++) {
        x[k] = (float)m;
        y[k] = (float)(m + c);
    }
    alae_image_quality q = {sizeof q, 0, 0, 0};
    ck_assert_alae_ok(alae_eval_image_quality(x, y, 2, 1, 28, peak, &q));
    ck_assert_double_eq_tol(q.mse, c * c, 1e-8);
    ck_assert_double_eq_tol(q.psnr, 10 * log10(peak * peak / (c * c)), 1e-5);
    ck_assert_double_eq_tol(q.ssim, 1 - c * c / (m * m + (m + c) * (m + c) + c1), 1e-6);
    /* on textured images around 0.5 a shift keeps the structure term at 1 and the luminance term
     * near (2 * 0.5 * 0.6) / (0.5^2 + 0.6^2): SSIM about 0.98; independent noise of the same
     * spread drops it near 0 */
    float *a = noise_images(2, 28 * 28, 2, 0.2), *b = noise_images(2, 28 * 28, 3, 0.2);
    for (int k = 0; k < 2 * 28 * 28; k++) {
        a[k] += 0.5f;
        b[k] += 0.5f;
        y[k] = a[k] + 0.1f;
    }
    ck_assert_alae_ok(alae_eval_image_quality(a, y, 2, 1, 28, 1.0, &q));
    ck_assert_double_eq_tol(q.ssim, 0.6 / 0.61, 0.01);
    ck_assert_alae_ok(alae_eval_image_quality(a, b, 2, 1, 28, 1.0, &q));
    ck_assert_double_lt(fabs(q.ssim), 0.1);
    free(a);
    free(b);
}
END_TEST

START_TEST(quality_rejects_bad_arguments) {
    float x[16] = {0};
    alae_image_quality q = {sizeof q, 7, 7, 7}, zero = {0, 7, 7, 7};
    ck_assert_int_eq(alae_eval_image_quality(NULL, x, 1, 1, 4, 1, &q), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_image_quality(x, x, 0, 1, 4, 1, &q), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_image_quality(x, x, 1, 5, 4, 1, &q), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_image_quality(x, x, 1, 1, 4, 0, &q), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "peak"));
    ck_assert_int_eq(alae_eval_image_quality(x, x, 1, 1, 4, 1, &zero), ALAE_E_INVALID_ARG);
    float bad[16] = {0};
    bad[3] = NAN;
    ck_assert_int_eq(alae_eval_image_quality(x, bad, 1, 1, 4, 1, &q), ALAE_E_INVALID_ARG);
    ck_assert_double_eq(q.mse, 7);
}
END_TEST

/* ---- sliced Wasserstein distance ---- */

static alae_swd_result swd_result(void) {
    alae_swd_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    return r;
}

START_TEST(swd_levels_follow_the_image_size) {
    static const int32_t sizes[3] = {28, 32, 64};
    static const int32_t expect[3][4] = {{28, 14, 0, 0}, {32, 16, 0, 0}, {64, 32, 16, 0}};
    for (int k = 0; k < 3; k++) {
        float *a = blob_images(2, sizes[k], 5);
        alae_swd_result r = swd_result();
        ck_assert_alae_ok(alae_eval_swd(a, a, 2, 1, sizes[k], 1, &r));
        int32_t levels = 0;
        while (levels < 4 && expect[k][levels]) levels++;
        ck_assert_int_eq(r.levels, levels);
        for (int l = 0; l < levels; l++) {
            ck_assert_int_eq(r.resolution[l], expect[k][l]);
            ck_assert_double_eq(r.distance[l], 0); /* identical sets */
        }
        ck_assert_double_eq(r.mean, 0);
        free(a);
    }
}
END_TEST

/* The descriptors are normalised per set, so an offset or a gain of a whole set is invisible;
 * a second sample of the same distribution is close; another distribution is far. */
START_TEST(swd_separates_distributions_not_offsets) {
    const int64_t n = 48;
    float *a = blob_images(n, 32, 7), *a2 = blob_images(n, 32, 8), *noise = noise_images(n, 32 * 32, 9, 1.0);
    float *shifted = malloc((size_t)(n * 32 * 32) * sizeof(float));
    for (int64_t k = 0; k < n * 32 * 32; k++) shifted[k] = 2.0f * a[k] + 0.5f;
    alae_swd_result same = swd_result(), offset = swd_result(), other = swd_result();
    ck_assert_alae_ok(alae_eval_swd(a, shifted, n, 1, 32, 3, &offset));
    ck_assert_alae_ok(alae_eval_swd(a, a2, n, 1, 32, 3, &same));
    ck_assert_alae_ok(alae_eval_swd(a, noise, n, 1, 32, 3, &other));
    ck_assert_double_lt(offset.mean, 1e-2);
    ck_assert_double_gt(same.mean, offset.mean);
    ck_assert_double_gt(other.mean, 5 * same.mean);
    for (int l = 0; l < other.levels; l++) ck_assert_double_gt(other.distance[l], same.distance[l]);
    /* deterministic per seed */
    alae_swd_result again = swd_result();
    ck_assert_alae_ok(alae_eval_swd(a, noise, n, 1, 32, 3, &again));
    ck_assert_double_eq(again.mean, other.mean);
    ck_assert_int_eq(alae_eval_swd(a, a, n, 1, 6, 3, &again), ALAE_E_INVALID_ARG);
    free(a);
    free(a2);
    free(noise);
    free(shifted);
}
END_TEST

/* ---- precision and recall ---- */

/* Points of a cluster around centre (dim 4). */
static void cluster(float *dst, int64_t n, double centre, uint64_t seed) {
    uint64_t st = seed;
    for (int64_t k = 0; k < n * 4; k++) dst[k] = (float)(centre + alae_test_uniform(&st, -1, 1));
}

START_TEST(precision_recall_on_known_manifolds) {
    float real[80 * 4], fake[40 * 4], far[40 * 4];
    cluster(real, 40, 0, 1);
    cluster(real + 40 * 4, 40, 100, 2);   /* real: two clusters */
    memcpy(fake, real, sizeof fake);      /* fake: the points of the first one */
    cluster(far, 40, -100, 4);
    double p = -1, r = -1;
    ck_assert_alae_ok(alae_eval_precision_recall(real, 80, real, 80, 4, 3, &p, &r));
    ck_assert_double_eq(p, 1);
    ck_assert_double_eq(r, 1);
    ck_assert_alae_ok(alae_eval_precision_recall(real, 80, fake, 40, 4, 3, &p, &r));
    ck_assert_double_eq(r, 0.5); /* the second cluster is missed */
    ck_assert_double_eq(p, 1.0); /* every fake is a real point */
    cluster(fake, 40, 0, 3);     /* new points of the first cluster: all but the rim's inside */
    ck_assert_alae_ok(alae_eval_precision_recall(real, 80, fake, 40, 4, 3, &p, &r));
    ck_assert_double_ge(p, 0.8);
    ck_assert_double_le(r, 0.5);
    ck_assert_double_ge(r, 0.4);
    ck_assert_alae_ok(alae_eval_precision_recall(real, 80, far, 40, 4, 3, &p, &r));
    ck_assert_double_eq(p, 0);
    ck_assert_double_eq(r, 0);
    ck_assert_int_eq(alae_eval_precision_recall(real, 80, far, 40, 4, 40, &p, &r), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_precision_recall(real, 80, far, 40, 0, 3, &p, &r), ALAE_E_INVALID_ARG);
}
END_TEST

/* ---- 1-NN and linear accuracy ---- */

/* Training points on a line at 10 i with label i; test points at 10 i + 1, every other one
 * labelled wrongly: 1-NN gets exactly half right. */
START_TEST(nn_accuracy_of_a_known_toy) {
    float train[10], test[10];
    int32_t train_labels[10], test_labels[10];
    for (int i = 0; i < 10; i++) {
        train[i] = (float)(10 * i);
        test[i] = (float)(10 * i + 1);
        train_labels[i] = i;
        test_labels[i] = i % 2 ? i : 100 + i;
    }
    double acc = -1;
    ck_assert_alae_ok(alae_eval_nn_accuracy(train, train_labels, 10, test, test_labels, 10, 1, &acc));
    ck_assert_double_eq(acc, 0.5);
    ck_assert_alae_ok(alae_eval_nn_accuracy(train, train_labels, 10, train, train_labels, 10, 1, &acc));
    ck_assert_double_eq(acc, 1.0);
    ck_assert_int_eq(alae_eval_nn_accuracy(train, NULL, 10, test, test_labels, 10, 1, &acc), ALAE_E_INVALID_ARG);
}
END_TEST

/* Three separable clusters in 2-D (corners of a triangle): the linear classifier gets all test
 * points right, and exactly 3 of 4 when a quarter of the test labels are wrong. */
START_TEST(linear_accuracy_of_a_known_toy) {
    static const double corner[3][2] = {{0, 10}, {-9, -5}, {9, -5}};
    float train[60 * 2], test[40 * 2];
    int32_t train_labels[60], test_labels[40];
    uint64_t st = 11;
    for (int i = 0; i < 60; i++) {
        train_labels[i] = 7 * (i % 3);
        for (int d = 0; d < 2; d++) train[i * 2 + d] = (float)(corner[i % 3][d] + alae_test_uniform(&st, -2, 2));
    }
    for (int i = 0; i < 40; i++) {
        test_labels[i] = 7 * (i % 3);
        for (int d = 0; d < 2; d++) test[i * 2 + d] = (float)(corner[i % 3][d] + alae_test_uniform(&st, -2, 2));
    }
    double acc = -1;
    ck_assert_alae_ok(alae_eval_linear_accuracy(train, train_labels, 60, test, test_labels, 40, 2, &acc));
    ck_assert_double_eq(acc, 1.0);
    for (int i = 0; i < 40; i += 4) test_labels[i] = -1;
    ck_assert_alae_ok(alae_eval_linear_accuracy(train, train_labels, 60, test, test_labels, 40, 2, &acc));
    ck_assert_double_eq(acc, 0.75);
    ck_assert_int_eq(alae_eval_linear_accuracy(train, train_labels, 60, test, test_labels, 40, 5000, &acc),
                     ALAE_E_INVALID_ARG);
}
END_TEST

/* ---- perceptual path length ---- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* With leaky slope 1, G is affine, so G(w0 + eps (w1 - w0)) - G(w0) = eps (G(w1) - G(w0)): each
 * length is the mean squared pixel difference of the pair's end images, over peak^2. */
START_TEST(path_length_of_an_affine_generator) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(alae_test_device(), &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist-fc", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 16));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_G_SLOPE, 1));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 9, &m));
    enum { N = 201, P = 32 * 32 };
    int64_t zs[2] = {N, 8}, xs[4] = {N, 1, 32, 32};
    alae_tensor *z0, *z1, *x0, *x1;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, zs, &z0));
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, zs, &z1));
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x0));
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x1));
    ck_assert_alae_ok(alae_tensor_fill_normal(z0, 0, 1));
    ck_assert_alae_ok(alae_tensor_fill_normal(z1, 0, 1));
    ck_assert_alae_ok(alae_model_sample(m, z0, x0));
    ck_assert_alae_ok(alae_model_sample(m, z1, x1));
    float *a = malloc(N * P * sizeof(float)), *b = malloc(N * P * sizeof(float)), lengths[N], expect[N];
    ck_assert_alae_ok(alae_tensor_read(x0, a, N * P * sizeof(float)));
    ck_assert_alae_ok(alae_tensor_read(x1, b, N * P * sizeof(float)));
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int p = 0; p < P; p++) sum += ((double)b[i * P + p] - a[i * P + p]) * ((double)b[i * P + p] - a[i * P + p]);
        expect[i] = (float)(sum / P / 4.0); /* mnist-fc: [-1, 1], peak 2 */
    }
    double mean = -1;
    ck_assert_alae_ok(alae_model_path_length(m, z0, z1, 1e-2, lengths, &mean));
    for (int i = 0; i < N; i++) ck_assert_double_eq_tol(lengths[i], expect[i], 1e-3 * expect[i]);
    /* the trimmed mean: values between the 1st ('lower') and 99th ('higher') percentiles */
    qsort(expect, N, sizeof(float), cmp_float);
    double lo = expect[(int)floor(0.01 * (N - 1))], hi = expect[(int)ceil(0.99 * (N - 1))], sum = 0;
    int count = 0;
    for (int i = 0; i < N; i++)
        if (expect[i] >= lo && expect[i] <= hi) {
            sum += expect[i];
            count++;
        }
    ck_assert_int_eq(count, N - 4); /* 201 values: ranks 2 and 198 bound the kept ones */
    ck_assert_double_eq_tol(mean, sum / count, 2e-3 * mean);
    ck_assert_int_eq(alae_model_path_length(m, z0, z1, 0, lengths, &mean), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_path_length(m, z0, x0, 1e-4, lengths, &mean), ALAE_E_SHAPE);
    free(a);
    free(b);
    alae_tensor_destroy(z0);
    alae_tensor_destroy(z1);
    alae_tensor_destroy(x0);
    alae_tensor_destroy(x1);
    alae_model_destroy(m);
    alae_model_config_destroy(cfg);
    alae_context_destroy(ctx);
}
END_TEST

/* ---- Fréchet distance ---- */

/* n points of dim coordinates, correlated: x = u A with u uniform in [-1, 1] and A a fixed mix. */
static float *correlated_points(int64_t n, int64_t dim, uint64_t seed) {
    float *x = malloc((size_t)(n * dim) * sizeof(float));
    double *u = malloc((size_t)dim * sizeof(double));
    uint64_t st = seed;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < dim; k++) u[k] = alae_test_uniform(&st, -1, 1);
        for (int64_t k = 0; k < dim; k++) {
            double v = 0;
            for (int64_t j = 0; j < dim; j++) v += u[j] * (j == k ? 1.0 + 0.1 * (double)k : 0.3 / (1.0 + (double)(j + k)));
            x[i * dim + k] = (float)v;
        }
    }
    free(u);
    return x;
}

/* Sample mean [dim] and covariance trace of x, in double. */
static double covariance_trace(const float *x, int64_t n, int64_t dim, double *mean) {
    double tr = 0;
    for (int64_t k = 0; k < dim; k++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++) m += x[i * dim + k];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++) v += (x[i * dim + k] - m) * (x[i * dim + k] - m);
        mean[k] = m;
        tr += v / (double)(n - 1);
    }
    return tr;
}

/* Identical sets give 0; b = s (a - mu) + mu + c has S_b = s^2 S_a, so tr((S_a S_b)^(1/2)) =
 * s tr(S_a) and the distance is |c|^2 + (1 - s)^2 tr(S_a), for any covariance; also when there
 * are fewer points than dimensions (singular covariances). */
START_TEST(frechet_distance_of_scaled_and_shifted_sets) {
    static const int64_t shapes[][2] = {{400, 16}, {6, 24}, {300, 1}};
    for (int c = 0; c < 3; c++) {
        int64_t n = shapes[c][0], dim = shapes[c][1];
        float *a = correlated_points(n, dim, 10 + (uint64_t)c), *b = malloc((size_t)(n * dim) * sizeof(float));
        double *mean = malloc((size_t)dim * sizeof(double)), d = -1;
        double tr = covariance_trace(a, n, dim, mean);
        ck_assert_alae_ok(alae_eval_frechet_distance(a, n, a, n, dim, &d));
        ck_assert_double_eq_tol(d, 0, 1e-9 * tr);
        const double scale = 1.7, shift = 0.25;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < dim; k++)
                b[i * dim + k] = (float)(scale * (a[i * dim + k] - mean[k]) + mean[k] + shift);
        double want = (double)dim * shift * shift + (1 - scale) * (1 - scale) * tr;
        ck_assert_alae_ok(alae_eval_frechet_distance(a, n, b, n, dim, &d));
        ck_assert_double_eq_tol(d, want, 1e-5 * want);
        ck_assert_alae_ok(alae_eval_frechet_distance(b, n, a, n, dim, &d));
        ck_assert_double_eq_tol(d, want, 1e-5 * want);
        free(a);
        free(b);
        free(mean);
    }
}
END_TEST

/* Two unrelated 2-d sets against the closed form of a 2x2 product: its eigenvalues are real and
 * non-negative, so tr(M^(1/2)) = sqrt(tr M + 2 sqrt(det M)). */
START_TEST(frechet_distance_matches_the_2d_closed_form) {
    const int64_t n = 500;
    float *a = correlated_points(n, 2, 21), *b = noise_images(n, 2, 22, 2.0);
    double sa[4] = {0}, sb[4] = {0}, ma[2] = {0}, mb[2] = {0};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            ma[k] += a[i * 2 + k] / (double)n;
            mb[k] += b[i * 2 + k] / (double)n;
        }
    for (int64_t i = 0; i < n; i++)
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 2; k++) {
                sa[r * 2 + k] += (a[i * 2 + r] - ma[r]) * (a[i * 2 + k] - ma[k]) / (double)(n - 1);
                sb[r * 2 + k] += (b[i * 2 + r] - mb[r]) * (b[i * 2 + k] - mb[k]) / (double)(n - 1);
            }
    double m[4] = {sa[0] * sb[0] + sa[1] * sb[2], sa[0] * sb[1] + sa[1] * sb[3], sa[2] * sb[0] + sa[3] * sb[2],
                   sa[2] * sb[1] + sa[3] * sb[3]};
    double tr_sqrt = sqrt(m[0] + m[3] + 2 * sqrt(m[0] * m[3] - m[1] * m[2]));
    double want = (ma[0] - mb[0]) * (ma[0] - mb[0]) + (ma[1] - mb[1]) * (ma[1] - mb[1]) + sa[0] + sa[3] + sb[0] + sb[3] -
                  2 * tr_sqrt, d = -1;
    ck_assert_alae_ok(alae_eval_frechet_distance(a, n, b, n, 2, &d));
    ck_assert_double_eq_tol(d, want, 1e-9 + 1e-6 * want);
    ck_assert_double_gt(d, 0.1);
    free(a);
    free(b);
}
END_TEST

START_TEST(frechet_distance_rejects_bad_arguments) {
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double d = -1;
    ck_assert_int_eq(alae_eval_frechet_distance(NULL, 4, x, 4, 2, &d), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_frechet_distance(x, 1, x, 4, 2, &d), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "need 2.."));
    ck_assert_int_eq(alae_eval_frechet_distance(x, 4, x, 4, 0, &d), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_eval_frechet_distance(x, 4, x, 4, 5000, &d), ALAE_E_INVALID_ARG);
    x[3] = NAN;
    ck_assert_int_eq(alae_eval_frechet_distance(x, 4, x + 0, 4, 2, &d), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "non-finite"));
    ck_assert_double_eq(d, -1);
}
END_TEST

static Suite *metrics_suite(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, quality_of_identical_images_is_perfect);
    tcase_add_test(tc, quality_of_shifted_images_has_the_closed_form);
    tcase_add_test(tc, quality_rejects_bad_arguments);
    tcase_add_test(tc, swd_levels_follow_the_image_size);
    tcase_add_test(tc, swd_separates_distributions_not_offsets);
    tcase_add_test(tc, precision_recall_on_known_manifolds);
    tcase_add_test(tc, nn_accuracy_of_a_known_toy);
    tcase_add_test(tc, linear_accuracy_of_a_known_toy);
    tcase_add_test(tc, path_length_of_an_affine_generator);
    tcase_add_test(tc, frechet_distance_of_scaled_and_shifted_sets);
    tcase_add_test(tc, frechet_distance_matches_the_2d_closed_form);
    tcase_add_test(tc, frechet_distance_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("test_metrics");
    return alae_test_run_suite(metrics_suite());
}
