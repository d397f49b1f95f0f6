/* FID's Inception-v3 (alae_feature_net_*) against PyTorch: tests/fixtures/inception_tiny.safetensors
 * holds the network at 1/16 of the standard widths with random weights and batch-norm
 * statistics, a few test images and the features PyTorch computed for them in float64
 * (tests/fixtures/make_inception_fixture.py). Then FID end to end (the features of a set
 * against themselves and against a changed set) and the path length in feature space. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "test_util.h"

#define FIXTURE ALAE_FIXTURE_DIR "/inception_tiny.safetensors"

static alae_context *ctx;
static alaei_st_file *fx;

static void setup(void) {
    ck_assert_alae_ok(alae_context_create(alae_test_device(), &ctx));
    ck_assert_alae_ok(alaei_st_open(FIXTURE, &fx));
}

static void teardown(void) {
    alaei_st_free(fx);
    alae_context_destroy(ctx);
}

/* A fixture tensor as a new float array (its shape into shape[0..3]). */
static float *fixture(const char *name, int64_t *shape) {
    const alaei_st_tensor *t = alaei_st_find(fx, name);
    ck_assert_ptr_nonnull(t);
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    float *v = malloc(t->numel * sizeof *v);
    ck_assert_alae_ok(alaei_st_get_f32(fx, name, t->ndim, t->shape, v));
    return v;
}

static void check_features(alae_feature_net *net, const char *set, double lo, double hi) {
    char key[64];
    int64_t ish[4], fsh[2];
    snprintf(key, sizeof key, "test.%s.images", set);
    float *images = fixture(key, ish);
    snprintf(key, sizeof key, "test.%s.features", set);
    float *want = fixture(key, fsh);
    float *got = malloc((size_t)(fsh[0] * fsh[1]) * sizeof *got);
    ck_assert_int_eq(alae_feature_net_dim(net), fsh[1]);
    ck_assert_alae_ok(alae_feature_net_features(net, images, ish[0], (int32_t)ish[1], (int32_t)ish[2], lo, hi, got));
    double worst = 0, scale = 0;
    for (int64_t k = 0; k < fsh[0] * fsh[1]; k++) {
        worst = fmax(worst, fabs((double)got[k] - (double)want[k]));
        scale = fmax(scale, fabs((double)want[k]));
    }
    ck_assert_double_gt(scale, 0.01); /* the features are not all zero */
    ck_assert_msg(worst <= 2e-5 * scale, "%s: features differ from PyTorch's by %g (largest %g)", set, worst, scale);
    free(images);
    free(want);
    free(got);
}

START_TEST(features_match_pytorch) {
    alae_feature_net *net = NULL;
    ck_assert_alae_ok(alae_feature_net_load(ctx, FIXTURE, &net));
    check_features(net, "rgb", 0.0, 1.0);   /* 3 RGB images of 32 px in [0, 1] */
    check_features(net, "gray", -1.0, 1.0); /* 2 one-channel images of 28 px in [-1, 1] */
    alae_feature_net_destroy(net);
}
END_TEST

/* More images than one run takes (8) give each image the features it has alone. */
START_TEST(features_do_not_depend_on_the_batch) {
    const int64_t n = 11, per = 3 * 20 * 20;
    float *images = malloc((size_t)(n * per) * sizeof *images), *all = malloc((size_t)(n * 128) * sizeof *all);
    float one[128];
    uint64_t st = 3;
    for (int64_t k = 0; k < n * per; k++) images[k] = (float)alae_test_uniform(&st, 0, 1);
    alae_feature_net *net = NULL;
    ck_assert_alae_ok(alae_feature_net_load(ctx, FIXTURE, &net));
    ck_assert_alae_ok(alae_feature_net_features(net, images, n, 3, 20, 0, 1, all));
    for (int64_t i = 0; i < n; i += 5) {
        ck_assert_alae_ok(alae_feature_net_features(net, images + i * per, 1, 3, 20, 0, 1, one));
        for (int k = 0; k < 128; k++) ck_assert_float_eq_tol(one[k], all[i * 128 + k], 1e-5f * (1 + fabsf(one[k])));
    }
    /* FID end to end: a set against itself is 0, against brighter images it is not */
    double same = -1, other = -1;
    ck_assert_alae_ok(alae_eval_frechet_distance(all, n, all, n, 128, &same));
    ck_assert_double_eq_tol(same, 0, 1e-9);
    for (int64_t k = 0; k < n * per; k++) images[k] = 0.5f + 0.5f * images[k];
    float *bright = malloc((size_t)(n * 128) * sizeof *bright);
    ck_assert_alae_ok(alae_feature_net_features(net, images, n, 3, 20, 0, 1, bright));
    ck_assert_alae_ok(alae_eval_frechet_distance(all, n, bright, n, 128, &other));
    ck_assert_double_gt(other, 1e-3);
    alae_feature_net_destroy(net);
    free(images);
    free(all);
    free(bright);
}
END_TEST

START_TEST(loading_names_what_is_missing) {
    alae_feature_net *net = NULL;
    ck_assert_int_eq(alae_feature_net_load(ctx, ALAE_FIXTURE_DIR "/mlp.safetensors", &net), ALAE_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "'Conv2d_1a_3x3.conv.weight'"));
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "mlp.safetensors"));
    ck_assert_ptr_null(net);
    ck_assert_int_eq(alae_feature_net_load(ctx, ALAE_FIXTURE_DIR "/no-such-file.safetensors", &net), ALAE_E_IO);
    ck_assert_int_eq(alae_feature_net_load(NULL, FIXTURE, &net), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_feature_net_dim(NULL), 0);
    alae_feature_net_destroy(NULL);
}
END_TEST

/* A layer whose input width does not follow from the layers before it is refused by name. */
START_TEST(loading_checks_the_shapes) {
    char dir[256], path[300];
    alae_test_make_tmpdir(dir, sizeof dir, "alae_fnet_");
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    float *bad = NULL;
    for (size_t i = 0; i < alaei_st_count(fx); i++) {
        const alaei_st_tensor *t = alaei_st_at(fx, i);
        if (strcmp(t->name, "Mixed_6b.branch7x7_2.conv.weight") == 0) {
            int64_t shape[4] = {t->shape[0], t->shape[1] + 1, t->shape[2], t->shape[3]};
            bad = calloc((size_t)(shape[0] * shape[1] * shape[2] * shape[3]), sizeof *bad);
            ck_assert_alae_ok(alaei_st_writer_add(w, t->name, ALAEI_ST_F32, 4, shape, bad));
        } else {
            ck_assert_alae_ok(alaei_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
        }
    }
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alae_feature_net *net = NULL;
    ck_assert_int_eq(alae_feature_net_load(ctx, path, &net), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "'Mixed_6b.branch7x7_2.conv.weight' must be [O, 8, 1, 7]"));
    free(bad);
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(features_reject_bad_arguments) {
    alae_feature_net *net = NULL;
    ck_assert_alae_ok(alae_feature_net_load(ctx, FIXTURE, &net));
    float img[2 * 16 * 16] = {0}, out[2 * 128];
    out[0] = 7;
    ck_assert_int_eq(alae_feature_net_features(net, img, 1, 2, 16, 0, 1, out), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_feature_net_features(net, img, 0, 1, 16, 0, 1, out), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_feature_net_features(net, img, 1, 1, 16, 1, 1, out), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "range"));
    img[300] = NAN;
    ck_assert_int_eq(alae_feature_net_features(net, img, 2, 1, 16, 0, 1, out), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "image 1 holds a non-finite pixel"));
    ck_assert_int_eq(alae_feature_net_features(NULL, img, 1, 1, 16, 0, 1, out), ALAE_E_INVALID_ARG);
    ck_assert_float_eq(out[0], 7);
    alae_feature_net_destroy(net);
}
END_TEST

/* Path length in feature space: with epsilon 1 the pair's ends are G(F(z0)) and G(F(z1)), so each
 * length is the squared distance of those samples' features. */
START_TEST(path_length_in_feature_space) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist-fc", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 16));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 9, &m));
    alae_feature_net *net = NULL;
    ck_assert_alae_ok(alae_feature_net_load(ctx, FIXTURE, &net));
    enum { N = 5, P = 32 * 32, D = 128 };
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
    static float img[2][N * P], feat[2][N * D];
    ck_assert_alae_ok(alae_tensor_read(x0, img[0], sizeof img[0]));
    ck_assert_alae_ok(alae_tensor_read(x1, img[1], sizeof img[1]));
    for (int k = 0; k < 2; k++) ck_assert_alae_ok(alae_feature_net_features(net, img[k], N, 1, 32, -1, 1, feat[k]));
    float lengths[N];
    double mean = -1;
    ck_assert_alae_ok(alae_model_path_length_features(m, net, z0, z1, 1.0, lengths, &mean));
    for (int i = 0; i < N; i++) {
        double want = 0;
        for (int d = 0; d < D; d++) want += ((double)feat[1][i * D + d] - feat[0][i * D + d]) * ((double)feat[1][i * D + d] - feat[0][i * D + d]);
        ck_assert_double_gt(want, 0);
        ck_assert_double_eq_tol(lengths[i], want, 1e-3 * want);
    }
    ck_assert_double_gt(mean, 0);
    ck_assert_int_eq(alae_model_path_length_features(m, NULL, z0, z1, 1e-4, lengths, &mean), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_path_length_features(m, net, z0, x0, 1e-4, lengths, &mean), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae_model_path_length_features: z0 and z1"));
    alae_tensor_destroy(z0);
    alae_tensor_destroy(z1);
    alae_tensor_destroy(x0);
    alae_tensor_destroy(x1);
    alae_feature_net_destroy(net);
    alae_model_destroy(m);
    alae_model_config_destroy(cfg);
}
END_TEST

/* pytorch-fid ships its weights as a torch.save state dict: the same weights as .pth give the
 * same features. */
START_TEST(pytorch_state_dict_gives_the_same_network) {
    alae_feature_net *a = NULL, *b = NULL;
    ck_assert_alae_ok(alae_feature_net_load(ctx, FIXTURE, &a));
    ck_assert_alae_ok(alae_feature_net_load(ctx, ALAE_FIXTURE_DIR "/inception_tiny.pth", &b));
    int64_t ish[4];
    float *images = fixture("test.rgb.images", ish), fa[3 * 128], fb[3 * 128];
    ck_assert_alae_ok(alae_feature_net_features(a, images, 3, 3, 32, 0, 1, fa));
    ck_assert_alae_ok(alae_feature_net_features(b, images, 3, 3, 32, 0, 1, fb));
    ck_assert_mem_eq(fa, fb, sizeof fa);
    alae_feature_net_destroy(a);
    alae_feature_net_destroy(b);
    free(images);
    /* a .pth that is no state dict */
    ck_assert_int_eq(alae_feature_net_load(ctx, ALAE_FIXTURE_DIR "/pth/models_unknown.pth", &a), ALAE_E_FORMAT);
}
END_TEST

static Suite *feature_net_suite(void) {
    Suite *s = suite_create("feature_net");
    TCase *tc = tcase_create("inception");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, features_match_pytorch);
    tcase_add_test(tc, features_do_not_depend_on_the_batch);
    tcase_add_test(tc, loading_names_what_is_missing);
    tcase_add_test(tc, pytorch_state_dict_gives_the_same_network);
    tcase_add_test(tc, loading_checks_the_shapes);
    tcase_add_test(tc, features_reject_bad_arguments);
    tcase_add_test(tc, path_length_in_feature_space);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("test_feature_net");
    return alae_test_run_suite(feature_net_suite());
}
