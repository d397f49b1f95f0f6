/* Attribute directions: the fitted normal of a known boundary (features of different scales and
 * correlated), held-out accuracy, named sets and their files, and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static double normal(uint64_t *st) {
    double u1 = alae_test_uniform(st, 1e-12, 1), u2 = alae_test_uniform(st, 0, 1);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Codes x = A g (g standard normal, A mixes and scales the axes); the attribute is the side of
 * the hyperplane u . x > 0. For Gaussian codes the least-squares normal is parallel to u. */
START_TEST(fit_recovers_a_known_boundary) {
    enum { N = 4000, D = 4 };
    static const double u[D] = {0.6, 0.0, -0.8, 0.0};
    static const double a[D][D] = {{3, 0, 0, 0}, {1, 1, 0, 0}, {0, 0.5, 1, 0}, {0, 0, 0.5, 1}};
    float *x = malloc(N * D * sizeof(float));
    int32_t *y = malloc(N * sizeof(int32_t));
    uint64_t st = 17;
    for (int i = 0; i < N; i++) {
        double g[D], dot = 0;
        for (int k = 0; k < D; k++) g[k] = normal(&st);
        for (int r = 0; r < D; r++) {
            double v = 0;
            for (int k = 0; k < D; k++) v += a[r][k] * g[k];
            x[i * D + r] = (float)v;
            dot += u[r] * v;
        }
        y[i] = dot > 0 ? 7 : 0; /* any non-zero value is positive */
    }
    float dir[D];
    double acc = -1, cosine = 0, norm = 0;
    ck_assert_alae_ok(alae_direction_fit(x, y, N, D, dir, &acc));
    for (int k = 0; k < D; k++) {
        cosine += dir[k] * u[k];
        norm += dir[k] * dir[k];
    }
    ck_assert_double_eq_tol(norm, 1.0, 1e-5);
    ck_assert_msg(cosine > 0.99, "cosine %g with the true normal", cosine);
    ck_assert_double_gt(acc, 0.95);
    /* one class only, too few codes, non-finite codes */
    for (int i = 0; i < N; i++) y[i] = 1;
    ck_assert_int_eq(alae_direction_fit(x, y, N, D, dir, &acc), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "both classes"));
    ck_assert_int_eq(alae_direction_fit(x, y, 9, D, dir, &acc), ALAE_E_INVALID_ARG);
    x[5] = NAN;
    ck_assert_int_eq(alae_direction_fit(x, y, N, D, dir, &acc), ALAE_E_INVALID_ARG);
    free(x);
    free(y);
}
END_TEST

START_TEST(sets_keep_names_unit_vectors_and_accuracies) {
    alae_directions *d = NULL;
    ck_assert_int_eq(alae_directions_create(0, &d), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alae_directions_create(3, &d));
    float v[3] = {3, 0, 4}, zero[3] = {0, 0, 0}, got[3];
    ck_assert_alae_ok(alae_directions_add(d, "smile", v, 0.875));
    ck_assert_alae_ok(alae_directions_add(d, "direction_0.gender", v, NAN));
    ck_assert_int_eq(alae_directions_add(d, "bad name", v, 0.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_directions_add(d, "", v, 0.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_directions_add(d, "z", zero, 0.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_directions_add(d, "z", v, 1.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_directions_count(d), 2);
    ck_assert_int_eq(alae_directions_dim(d), 3);
    int64_t i = -1;
    ck_assert_alae_ok(alae_directions_find(d, "smile", &i));
    ck_assert_int_eq(i, 0);
    ck_assert_int_eq(alae_directions_find(d, "age", &i), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "smile"));
    const char *name;
    double acc;
    ck_assert_alae_ok(alae_directions_get(d, 0, &name, got, &acc));
    ck_assert_str_eq(name, "smile");
    ck_assert_float_eq_tol(got[0], 0.6f, 1e-6f);
    ck_assert_float_eq_tol(got[2], 0.8f, 1e-6f);
    ck_assert_double_eq(acc, 0.875);
    ck_assert_int_eq(alae_directions_get(d, 2, &name, got, &acc), ALAE_E_INVALID_ARG);
    /* adding an existing name replaces it */
    float w[3] = {0, -2, 0};
    ck_assert_alae_ok(alae_directions_add(d, "smile", w, 0.5));
    ck_assert_int_eq(alae_directions_count(d), 2);
    ck_assert_alae_ok(alae_directions_get(d, 0, NULL, got, &acc));
    ck_assert_float_eq(got[1], -1.0f);
    /* files */
    char dir[256], path[300];
    alae_test_make_tmpdir(dir, sizeof dir, "alae-directions-");
    snprintf(path, sizeof path, "%s/dirs.safetensors", dir);
    ck_assert_alae_ok(alae_directions_save(d, path));
    alae_directions *back = NULL;
    ck_assert_alae_ok(alae_directions_load(path, &back));
    ck_assert_int_eq(alae_directions_count(back), 2);
    ck_assert_alae_ok(alae_directions_find(back, "direction_0.gender", &i));
    ck_assert_alae_ok(alae_directions_get(back, i, NULL, got, &acc));
    ck_assert(isnan(acc));
    ck_assert_float_eq_tol(got[2], 0.8f, 1e-6f);
    ck_assert_alae_ok(alae_directions_find(back, "smile", &i));
    ck_assert_alae_ok(alae_directions_get(back, i, NULL, got, &acc));
    ck_assert_double_eq_tol(acc, 0.5, 1e-9);
    alae_directions_destroy(back);
    /* not a directions file */
    alae_directions *empty = NULL;
    ck_assert_alae_ok(alae_directions_create(3, &empty));
    ck_assert_int_eq(alae_directions_save(empty, path), ALAE_E_INVALID_ARG);
    alae_directions_destroy(empty);
    snprintf(path, sizeof path, "%s/other.safetensors", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    static const char header[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint64_t len = sizeof header - 1;
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)(len >> (8 * k));
    float one = 1;
    fwrite(le, 1, 8, f);
    fwrite(header, 1, len, f);
    fwrite(&one, 4, 1, f);
    fclose(f);
    back = NULL;
    ck_assert_int_eq(alae_directions_load(path, &back), ALAE_E_FORMAT);
    ck_assert_ptr_null(back);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    ck_assert_int_eq(alae_directions_load(path, &back), ALAE_E_IO);
    alae_directions_destroy(NULL);
    alae_directions_destroy(d);
    alae_test_remove_tree(dir);
}
END_TEST

static Suite *directions_suite(void) {
    Suite *s = suite_create("directions");
    TCase *tc = tcase_create("directions");
    tcase_add_test(tc, fit_recovers_a_known_boundary);
    tcase_add_test(tc, sets_keep_names_unit_vectors_and_accuracies);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(directions_suite()); }
