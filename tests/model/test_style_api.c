/* The StyleALAE public API: presets and their parameter counts (docs/alae-reference.md 3.2, 3.7),
 * configuration keys, inference settings and entry points (noise modes, truncation, per-row
 * styles, levels of detail), the trainer's levels, fade-in, style mixing and schedule, and
 * model / training-state files. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/model_internal.h"
#include "test_util.h"
#include "train/trainer_internal.h"

static alae_context *ctx;

static void setup(void) {
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 7));
}

static void teardown(void) { alae_context_destroy(ctx); }

/* ---- presets ---- */

typedef struct preset_counts {
    const char *name;
    int32_t image_size, channels;
    uint64_t f, g, e, d;
} preset_counts;

/* docs/alae-reference.md 3.7, verified there by instantiating the reference */
static const preset_counts presets[] = {
    {"mnist", 32, 1, 4224, 2422980, 3017920, 4224},
    {"celeba", 128, 3, 526336, 5944402, 6625600, 263168},
    {"celeba-hq256", 256, 3, 2101248, 23984981, 26789952, 1050624},
    {"bedroom", 256, 3, 2101248, 18305717, 21145888, 1050624},
    {"ffhq", 1024, 3, 2101248, 24118379, 26974352, 1050624},
};

START_TEST(presets_have_the_reference_parameter_counts) {
    const preset_counts *p = &presets[_i];
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create(p->name, &cfg));
    double v;
    ck_assert_alae_ok(alae_model_config_get(cfg, ALAE_CFG_ARCH, &v));
    ck_assert_int_eq((int)v, ALAE_ARCH_STYLE);
    ck_assert_alae_ok(alae_model_config_get(cfg, ALAE_CFG_IMAGE_SIZE, &v));
    ck_assert_int_eq((int)v, p->image_size);
    ck_assert_alae_ok(alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &v));
    ck_assert_int_eq((int)v, p->channels);
    alae_model *shell;
    ck_assert_alae_ok(alaei_model_declare(cfg, &shell));
    ck_assert_uint_eq(alaei_model_param_numel(shell, ALAE_PART_F), p->f);
    ck_assert_uint_eq(alaei_model_param_numel(shell, ALAE_PART_G), p->g);
    ck_assert_uint_eq(alaei_model_param_numel(shell, ALAE_PART_E), p->e);
    ck_assert_uint_eq(alaei_model_param_numel(shell, ALAE_PART_D), p->d);
    alae_model_destroy(shell);
    alae_model_config_destroy(cfg);
}
END_TEST

/* The per-block tables of docs/alae-reference.md 3.2 (mnist and celeba) */
static uint64_t params_with_prefix(const alae_model *m, const char *prefix) {
    uint64_t n = 0;
    for (int32_t i = 0; i < m->n_params; i++)
        if (!strncmp(m->params[i].ref_name, prefix, strlen(prefix))) n += (uint64_t)m->params[i].numel;
    return n;
}

START_TEST(blocks_have_the_reference_sizes_and_fused_layouts) {
    static const uint64_t mnist_g[4] = {624640, 1214464, 459776, 119296}, mnist_e[4] = {123136, 467392, 1212992, 1212992};
    static const uint64_t celeba_g[6] = {854016, 1443840, 1443840, 1443840, 574464, 176640};
    static const uint64_t celeba_e[6] = {209600, 639872, 1442816, 1442816, 1442816, 1442816};
    const char *names[2] = {"mnist", "celeba"};
    const uint64_t *g_sizes[2] = {mnist_g, celeba_g}, *e_sizes[2] = {mnist_e, celeba_e};
    for (int k = 0; k < 2; k++) {
        alae_model_config *cfg;
        alae_model *m;
        ck_assert_alae_ok(alae_model_config_create(names[k], &cfg));
        ck_assert_alae_ok(alaei_model_declare(cfg, &m));
        for (int32_t i = 0; i < alaei_layer_count(cfg); i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "decoder.decode_block.%d.", i);
            uint64_t g = params_with_prefix(m, prefix);
            ck_assert_uint_eq(g, g_sizes[k][i]);
            snprintf(prefix, sizeof prefix, "encoder.encode_block.%d.", i);
            ck_assert_uint_eq(params_with_prefix(m, prefix), e_sizes[k][i]);
        }
        /* celeba's 128 px level: the transposed conv's weight is [in, out, 3, 3] */
        for (int32_t i = 0; k == 1 && i < m->n_params; i++)
            if (!strcmp(m->params[i].ref_name, "decoder.decode_block.5.conv_1.weight")) {
                ck_assert_int_eq(m->params[i].shape[0], 128);
                ck_assert_int_eq(m->params[i].shape[1], 64);
            }
        alae_model_destroy(m);
        alae_model_config_destroy(cfg);
    }
}
END_TEST

START_TEST(configuration_keys_follow_the_architecture) {
    alae_model_config *style, *mlp;
    ck_assert_alae_ok(alae_model_config_create("celeba", &style));
    ck_assert_alae_ok(alae_model_config_create("mnist-fc", &mlp));
    double v;
    ck_assert_int_eq(alae_model_config_set(style, ALAE_CFG_HIDDEN, 512), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "hidden"));
    ck_assert_int_eq(alae_model_config_get(style, ALAE_CFG_G_SLOPE, &v), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_config_set(mlp, ALAE_CFG_START_CHANNELS, 32), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_config_set(style, ALAE_CFG_IMAGE_SIZE, 96), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_config_set(style, ALAE_CFG_IMAGE_SIZE, 2), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_config_set(style, 999, 1), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alae_model_config_set(style, ALAE_CFG_IMAGE_SIZE, 64));
    ck_assert_alae_ok(alae_model_config_set(style, ALAE_CFG_START_CHANNELS, 32));
    ck_assert_alae_ok(alae_model_config_set(style, ALAE_CFG_MAX_CHANNELS, 128));
    ck_assert_alae_ok(alae_model_config_get(style, ALAE_CFG_MAX_CHANNELS, &v));
    ck_assert_int_eq((int)v, 128);
    int32_t key;
    ck_assert_alae_ok(alae_model_config_key("start_channels", &key));
    ck_assert_int_eq(key, ALAE_CFG_START_CHANNELS);
    /* JSON round trip */
    char json[1024];
    alaei_config_to_json(style, json, sizeof json);
    alae_model_config back;
    ck_assert_alae_ok(alaei_config_from_json(json, &back, "test"));
    ck_assert_int_eq(back.image_size, 64);
    ck_assert_int_eq(back.start_channels, 32);
    ck_assert_int_eq(back.max_channels, 128);
    ck_assert_int_eq(back.arch, ALAE_ARCH_STYLE);
    /* a model too large to be sane is refused before anything is allocated */
    ck_assert_alae_ok(alae_model_config_set(style, ALAE_CFG_START_CHANNELS, 65536));
    ck_assert_alae_ok(alae_model_config_set(style, ALAE_CFG_MAX_CHANNELS, 65536));
    alae_model *m = (alae_model *)&v;
    ck_assert_int_eq(alae_model_create(ctx, style, 0, &m), ALAE_E_INVALID_ARG);
    ck_assert_ptr_eq(m, (alae_model *)&v);
    alae_model_config_destroy(style);
    alae_model_config_destroy(mlp);
}
END_TEST

/* ---- inference ---- */

#define TINY_L 8
#define TINY_SIZE 16

static alae_model *tiny_model(uint64_t seed) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, TINY_SIZE));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_CHANNELS, 3));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 4));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, TINY_L));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 2));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, seed, &m));
    alae_model_config_destroy(cfg);
    /* perturb the zero-initialised noise weights and biases so that every path matters */
    for (int32_t i = 0; i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        if (p->init_std != 0.0) continue;
        float *v = malloc((size_t)p->numel * sizeof(float));
        for (int64_t e = 0; e < p->numel; e++) v[e] = (float)p->init_value + 0.1f * (float)sin(3.0 * (double)(i + e));
        ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, p->data, v, (size_t)p->numel));
        free(v);
    }
    return m;
}

static alae_tensor *tensor(int32_t ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t shape[4] = {a, b, c, d};
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, ndim, shape, &t));
    return t;
}

static float *read_all(const alae_tensor *t) {
    float *v = malloc((size_t)t->numel * sizeof(float));
    ck_assert_alae_ok(alae_tensor_read(t, v, (size_t)t->numel * sizeof(float)));
    return v;
}

static double max_diff(const alae_tensor *a, const alae_tensor *b) {
    float *x = read_all(a), *y = read_all(b);
    double worst = 0;
    for (int64_t i = 0; i < a->numel; i++) worst = fmax(worst, fabs((double)x[i] - y[i]));
    free(x);
    free(y);
    return worst;
}

static int all_finite(const alae_tensor *t) {
    float *v = read_all(t);
    int ok = 1;
    for (int64_t i = 0; i < t->numel; i++) ok &= isfinite(v[i]) != 0;
    free(v);
    return ok;
}

START_TEST(every_entry_point_runs_with_checked_shapes) {
    alae_model *m = tiny_model(1);
    double v;
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_STYLE_COUNT, &v));
    ck_assert_int_eq((int)v, 6);
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_RESOLUTION, &v));
    ck_assert_int_eq((int)v, TINY_SIZE);
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_LEVELS, &v));
    ck_assert_int_eq((int)v, 3);
    alae_tensor *z = tensor(2, 3, TINY_L, 0, 0), *w = tensor(2, 3, TINY_L, 0, 0), *w2 = tensor(2, 3, TINY_L, 0, 0);
    alae_tensor *x = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE), *x2 = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE);
    alae_tensor *logit = tensor(1, 3, 0, 0, 0), *styles = tensor(3, 3, 6, TINY_L, 0);
    ck_assert_alae_ok(alae_tensor_fill_normal(z, 0, 1));
    ck_assert_alae_ok(alae_model_map(m, z, w));
    ck_assert_alae_ok(alae_model_generate(m, w, x));
    ck_assert_alae_ok(alae_model_encode(m, x, w2));
    ck_assert_alae_ok(alae_model_discriminate(m, w2, logit));
    ck_assert_alae_ok(alae_model_reconstruct(m, x, x2));
    ck_assert_alae_ok(alae_model_sample(m, z, x2));
    ck_assert_alae_ok(alae_tensor_fill_normal(styles, 0, 1));
    ck_assert_alae_ok(alae_model_generate_styles(m, styles, x2));
    ck_assert(all_finite(x) && all_finite(x2) && all_finite(w2) && all_finite(logit));
    /* wrong shapes and NULLs fail with a message and leave the output alone */
    alae_tensor *small = tensor(4, 3, 3, 8, 8);
    ck_assert_alae_ok(alae_tensor_fill_normal(small, 0, 1));
    float *before = read_all(small);
    ck_assert_int_eq(alae_model_generate(m, w, small), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae_model_generate"));
    float *after = read_all(small);
    ck_assert_int_eq(memcmp(before, after, (size_t)small->numel * sizeof(float)), 0);
    ck_assert_int_eq(alae_model_generate_styles(m, w, x), ALAE_E_SHAPE);
    ck_assert_int_eq(alae_model_encode(m, small, w2), ALAE_E_SHAPE);
    ck_assert_int_eq(alae_model_encode(NULL, x, w2), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_generate_styles(m, NULL, x), ALAE_E_INVALID_ARG);
    /* at level 1 the model reads and writes 8 px images, also while fading in */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_LOD, 1));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_BLEND, 0.5));
    ck_assert_alae_ok(alae_model_generate(m, w, small));
    ck_assert_alae_ok(alae_model_encode(m, small, w2));
    ck_assert(all_finite(small) && all_finite(w2));
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_LOD, 0), ALAE_E_INVALID_ARG); /* blend < 1 at level 0 */
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_LOD, 3), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_RESOLUTION, 8), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_NOISE, 3), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_TRUNCATION_CUTOFF, 7), ALAE_E_INVALID_ARG);
    free(before);
    free(after);
    alae_tensor *all[] = {z, w, w2, x, x2, logit, styles, small};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) alae_tensor_destroy(all[i]);
    alae_model_destroy(m);
}
END_TEST

/* alae_model_encode runs batches above 16 images in chunks (lib/nn/model.c): each image's code
 * must be the one it gets alone, also for the chunk boundaries and the short last chunk. */
START_TEST(encode_in_chunks_matches_single_images) {
    alae_model *m = tiny_model(4);
    const int64_t n = 37, per = 3 * TINY_SIZE * TINY_SIZE;
    alae_tensor *x = tensor(4, n, 3, TINY_SIZE, TINY_SIZE), *w = tensor(2, n, TINY_L, 0, 0);
    alae_tensor *x1 = tensor(4, 1, 3, TINY_SIZE, TINY_SIZE), *w1 = tensor(2, 1, TINY_L, 0, 0);
    ck_assert_alae_ok(alae_tensor_fill_normal(x, 0, 1));
    ck_assert_alae_ok(alae_model_encode(m, x, w));
    float *images = read_all(x), *codes = read_all(w);
    static const int64_t picks[] = {0, 15, 16, 31, 32, 36};
    for (size_t k = 0; k < sizeof picks / sizeof picks[0]; k++) {
        int64_t i = picks[k];
        ck_assert_alae_ok(alae_tensor_write(x1, images + i * per, (size_t)per * sizeof(float)));
        ck_assert_alae_ok(alae_model_encode(m, x1, w1));
        float *one = read_all(w1);
        for (int64_t j = 0; j < TINY_L; j++)
            ck_assert_msg(fabs((double)one[j] - codes[i * TINY_L + j]) <= 1e-5 * (1.0 + fabs((double)one[j])),
                          "image %lld, code %lld: %g alone, %g in the batch", (long long)i, (long long)j, one[j],
                          codes[i * TINY_L + j]);
        free(one);
    }
    free(images);
    free(codes);
    alae_tensor *all[] = {x, w, x1, w1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) alae_tensor_destroy(all[i]);
    alae_model_destroy(m);
}
END_TEST

START_TEST(noise_modes_and_per_row_styles) {
    alae_model *m = tiny_model(2);
    alae_tensor *w = tensor(2, 2, TINY_L, 0, 0), *styles = tensor(3, 2, 6, TINY_L, 0);
    alae_tensor *a = tensor(4, 2, 3, TINY_SIZE, TINY_SIZE), *b = tensor(4, 2, 3, TINY_SIZE, TINY_SIZE);
    ck_assert_alae_ok(alae_tensor_fill_normal(w, 0, 1));
    /* fresh noise per call */
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    ck_assert_alae_ok(alae_model_generate(m, w, b));
    ck_assert(max_diff(a, b) > 1e-4);
    /* without noise: deterministic, and per-row styles that all equal w are w */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    float *wv = read_all(w), *rows = malloc(2 * 6 * TINY_L * sizeof(float));
    for (int n = 0; n < 2; n++)
        for (int r = 0; r < 6; r++) memcpy(rows + (n * 6 + r) * TINY_L, wv + n * TINY_L, TINY_L * sizeof(float));
    ck_assert_alae_ok(alae_tensor_write(styles, rows, 2 * 6 * TINY_L * sizeof(float)));
    ck_assert_alae_ok(alae_model_generate_styles(m, styles, b));
    ck_assert(max_diff(a, b) == 0.0);
    /* changing only the last (finest) rows changes the image */
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < TINY_L; j++) rows[(n * 6 + 5) * TINY_L + j] += 1.0f;
    ck_assert_alae_ok(alae_tensor_write(styles, rows, 2 * 6 * TINY_L * sizeof(float)));
    ck_assert_alae_ok(alae_model_generate_styles(m, styles, b));
    ck_assert(max_diff(a, b) > 0.0);
    /* batch-constant noise: two samples from the same w are the same image */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_BATCH_CONSTANT));
    for (int j = 0; j < TINY_L; j++) wv[TINY_L + j] = wv[j];
    ck_assert_alae_ok(alae_tensor_write(w, wv, 2 * TINY_L * sizeof(float)));
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    float *img = read_all(a);
    size_t half = (size_t)a->numel / 2;
    ck_assert_int_eq(memcmp(img, img + half, half * sizeof(float)), 0);
    free(img);
    free(wv);
    free(rows);
    alae_tensor_destroy(w);
    alae_tensor_destroy(styles);
    alae_tensor_destroy(a);
    alae_tensor_destroy(b);
    alae_model_destroy(m);
}
END_TEST

START_TEST(truncation_pulls_styles_to_the_running_mean) {
    alae_model *m = tiny_model(3);
    for (int j = 0; j < TINY_L; j++) m->dlatent_avg[j] = 0.1f * (float)j;
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    alae_tensor *w = tensor(2, 3, TINY_L, 0, 0), *avg = tensor(2, 3, TINY_L, 0, 0);
    alae_tensor *a = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE), *b = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE);
    ck_assert_alae_ok(alae_tensor_fill_normal(w, 0, 1));
    float avg_rows[3 * TINY_L];
    for (int n = 0; n < 3; n++) memcpy(avg_rows + n * TINY_L, m->dlatent_avg, TINY_L * sizeof(float));
    ck_assert_alae_ok(alae_tensor_write(avg, avg_rows, sizeof avg_rows));
    /* psi 0 on every row: every sample is G(avg) */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 0.0));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_CUTOFF, 6));
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 1.0));
    ck_assert_alae_ok(alae_model_generate(m, avg, b));
    ck_assert(max_diff(a, b) < 1e-5);
    /* psi 0 on the first 2 rows only: differs from both */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 0.0));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_CUTOFF, 2));
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    ck_assert(max_diff(a, b) > 1e-4);
    /* reconstruct never truncates: psi has no effect there */
    alae_tensor *r1 = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE), *r2 = tensor(4, 3, 3, TINY_SIZE, TINY_SIZE);
    ck_assert_alae_ok(alae_model_reconstruct(m, a, r1));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 1.0));
    ck_assert_alae_ok(alae_model_reconstruct(m, a, r2));
    ck_assert(max_diff(r1, r2) == 0.0);
    alae_tensor *all[] = {w, avg, a, b, r1, r2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) alae_tensor_destroy(all[i]);
    alae_model_destroy(m);
}
END_TEST

START_TEST(model_files_keep_the_configuration_and_level) {
    alae_model *m = tiny_model(4);
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_LOD, 1));
    m->dlatent_avg[3] = 0.25f;
    char path[] = "/tmp/alae-style-model-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_alae_ok(alae_model_save(m, path));
    alae_model *back;
    ck_assert_alae_ok(alae_model_load(ctx, path, &back));
    double v;
    ck_assert_alae_ok(alae_model_get(back, ALAE_MODEL_LOD, &v));
    ck_assert_int_eq((int)v, 1);
    ck_assert_int_eq(back->cfg.start_channels, 4);
    ck_assert_int_eq(back->cfg.arch, ALAE_ARCH_STYLE);
    ck_assert_float_eq(back->dlatent_avg[3], 0.25f);
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    ck_assert_alae_ok(alae_model_set(back, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    alae_tensor *w = tensor(2, 2, TINY_L, 0, 0), *a = tensor(4, 2, 3, 8, 8), *b = tensor(4, 2, 3, 8, 8);
    ck_assert_alae_ok(alae_tensor_fill_normal(w, 0, 1));
    ck_assert_alae_ok(alae_model_generate(m, w, a));
    ck_assert_alae_ok(alae_model_generate(back, w, b));
    ck_assert(max_diff(a, b) == 0.0);
    unlink(path);
    alae_tensor_destroy(w);
    alae_tensor_destroy(a);
    alae_tensor_destroy(b);
    alae_model_destroy(back);
    alae_model_destroy(m);
}
END_TEST

/* ---- training ---- */

typedef struct rig {
    alae_model *m;
    alae_optimizer *fg, *ed;
    alae_trainer *t;
} rig;

static void rig_create(rig *r, uint64_t seed) {
    r->m = tiny_model(seed);
    ck_assert_alae_ok(alae_optimizer_create_adam(r->m, ALAE_PART_F | ALAE_PART_G, &r->fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(r->m, ALAE_PART_E | ALAE_PART_D, &r->ed));
    ck_assert_alae_ok(alae_trainer_create(r->m, r->fg, r->ed, &r->t));
    ck_assert_alae_ok(alae_trainer_set(r->t, ALAE_TRAIN_SEED, 11));
}

static void rig_destroy(rig *r) {
    alae_trainer_destroy(r->t);
    alae_optimizer_destroy(r->fg);
    alae_optimizer_destroy(r->ed);
    alae_model_destroy(r->m);
}

static alae_tensor *real_batch(int64_t n, int64_t size, double phase) {
    alae_tensor *x = tensor(4, n, 3, size, size);
    float *v = malloc((size_t)x->numel * sizeof(float));
    for (int64_t i = 0; i < x->numel; i++) v[i] = (float)(0.8 * sin(0.37 * (double)i + phase));
    ck_assert_alae_ok(alae_tensor_write(x, v, (size_t)x->numel * sizeof(float)));
    free(v);
    return x;
}

START_TEST(schedule_follows_the_reference_driver) {
    alae_model_config *cfg;
    alae_model *m;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 0, &m));
    alae_model_config_destroy(cfg);
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    ck_assert_alae_ok(alae_optimizer_create_adam(m, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(m, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_trainer_create(m, fg, ed, &t));
    double v;
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_EPOCHS_PER_LOD, &v));
    ck_assert_int_eq((int)v, 10);
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_EPOCHS, &v));
    ck_assert_int_eq((int)v, 60);
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_STYLE_MIXING, &v));
    ck_assert_double_eq(v, 0.9);
    ck_assert_alae_ok(alae_trainer_get_level(t, 3, ALAE_LEVEL_BATCH, &v));
    ck_assert_int_eq((int)v, 64);
    ck_assert_alae_ok(alae_trainer_get_level(t, 0, ALAE_LEVEL_LR, &v));
    ck_assert_double_eq(v, 0.0015);
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_LOD, &v));
    ck_assert_int_eq((int)v, 3); /* the top level until a position is set */
    static const struct {
        uint64_t epoch, images;
        int lod;
        double blend;
    } points[] = {{0, 0, 0, 1.0},   {9, 59000, 0, 1.0}, {10, 0, 1, 0.0},    {12, 30000, 1, 0.5},
                  {14, 60000, 1, 1.0}, {15, 0, 1, 1.0},  {30, 0, 3, 0.0},    {35, 0, 3, 1.0},
                  {59, 0, 3, 1.0},  {100, 0, 3, 1.0}};
    for (size_t k = 0; k < sizeof points / sizeof points[0]; k++) {
        ck_assert_alae_ok(alae_trainer_set_position(t, points[k].epoch, points[k].images));
        ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_LOD, &v));
        ck_assert_msg((int)v == points[k].lod, "epoch %llu: level %g, expected %d", (unsigned long long)points[k].epoch, v,
                      points[k].lod);
        ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_BLEND, &v));
        ck_assert_msg(fabs(v - points[k].blend) < 1e-12, "epoch %llu + %llu: blend %.17g, expected %g",
                      (unsigned long long)points[k].epoch, (unsigned long long)points[k].images, v, points[k].blend);
    }
    ck_assert_alae_ok(alae_optimizer_get(fg, ALAE_OPT_LR, &v));
    ck_assert_double_eq(v, 0.0015);
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_BATCH, &v));
    ck_assert_int_eq((int)v, 64);
    /* bad settings */
    ck_assert_int_eq(alae_trainer_set(t, ALAE_TRAIN_LOD, 4), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set(t, ALAE_TRAIN_EPOCH, 4), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set_level(t, 4, ALAE_LEVEL_BATCH, 8), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set_level(t, 0, ALAE_LEVEL_BATCH, 0.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set_level(t, 0, 9, 1), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_LOD, 0));
    ck_assert_int_eq(alae_trainer_set(t, ALAE_TRAIN_BLEND, 0.5), ALAE_E_INVALID_ARG);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
    alae_model_destroy(m);
}
END_TEST

/* Every family of keys has its own range: each setter and getter refuses the keys of every other
 * family (ALAE_MODEL_LOD used to set the R1 gamma through alae_trainer_set). */
static void expect_foreign(alae_status s, int32_t key, const char *call) {
    ck_assert_msg(s == ALAE_E_INVALID_ARG, "%s(%d): status %d", call, (int)key, (int)s);
    ck_assert_msg(strstr(alae_last_error(), "key, not an ALAE_") != NULL, "%s(%d): '%s'", call, (int)key,
                  alae_last_error());
}

START_TEST(every_setter_refuses_keys_of_other_families) {
    static const int32_t first_keys[] = {ALAE_CTX_THREADS, ALAE_CFG_LATENT_DIM, ALAE_MODEL_LOD,
                                         ALAE_TRAIN_R1_GAMMA, ALAE_LEVEL_BATCH, ALAE_OPT_LR};
    rig r;
    rig_create(&r, 3);
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    double before, after, v = -7;
    ck_assert_alae_ok(alae_trainer_get(r.t, ALAE_TRAIN_R1_GAMMA, &before));
    int64_t iv = -7;
    for (size_t i = 0; i < sizeof first_keys / sizeof first_keys[0]; i++) {
        int32_t key = first_keys[i];
        if (key / 1000 != ALAE_CTX_THREADS / 1000) {
            expect_foreign(alae_context_set_param(ctx, key, 1), key, "alae_context_set_param");
            expect_foreign(alae_context_get_param(ctx, key, &iv), key, "alae_context_get_param");
        }
        if (key / 1000 != ALAE_CFG_ARCH / 1000) {
            expect_foreign(alae_model_config_set(cfg, key, 3), key, "alae_model_config_set");
            expect_foreign(alae_model_config_get(cfg, key, &v), key, "alae_model_config_get");
        }
        if (key / 1000 != ALAE_MODEL_LOD / 1000) {
            expect_foreign(alae_model_set(r.m, key, 1), key, "alae_model_set");
            expect_foreign(alae_model_get(r.m, key, &v), key, "alae_model_get");
        }
        if (key / 1000 != ALAE_TRAIN_R1_GAMMA / 1000) {
            expect_foreign(alae_trainer_set(r.t, key, 3), key, "alae_trainer_set");
            expect_foreign(alae_trainer_get(r.t, key, &v), key, "alae_trainer_get");
        }
        if (key / 1000 != ALAE_LEVEL_BATCH / 1000) {
            expect_foreign(alae_trainer_set_level(r.t, 0, key, 1), key, "alae_trainer_set_level");
            expect_foreign(alae_trainer_get_level(r.t, 0, key, &v), key, "alae_trainer_get_level");
        }
        if (key / 1000 != ALAE_OPT_LR / 1000) {
            expect_foreign(alae_optimizer_set(r.fg, key, 0.5), key, "alae_optimizer_set");
            expect_foreign(alae_optimizer_get(r.fg, key, &v), key, "alae_optimizer_get");
        }
    }
    ck_assert_double_eq(v, -7); /* getters leave the value alone on failure */
    ck_assert_int_eq(iv, -7);
    ck_assert_alae_ok(alae_trainer_get(r.t, ALAE_TRAIN_R1_GAMMA, &after));
    ck_assert_double_eq(after, before);
    ck_assert_str_eq((alae_trainer_set(r.t, ALAE_MODEL_LOD, 3), alae_last_error()),
                     "alae_trainer_set: key 3001 is an ALAE_MODEL_* key, not an ALAE_TRAIN_* key");
    ck_assert_int_eq(alae_trainer_set(r.t, 4099, 1), ALAE_E_INVALID_ARG);
    ck_assert_str_eq(alae_last_error(), "alae_trainer_set: unknown ALAE_TRAIN_* key 4099");
    alae_model_config_destroy(cfg);
    rig_destroy(&r);
}
END_TEST

static int64_t max_adam_steps(const alae_optimizer *o, const alae_model *m) {
    int64_t most = 0;
    for (int32_t i = 0; i < m->n_params; i++)
        if (o->t[i] > most) most = o->t[i];
    return most;
}

/* Progressive training through a schedule: levels, a transition with a changing fade-in on one
 * set of plans, Adam state wiped on a level change, style mixing, reals at full size. */
START_TEST(progressive_training_runs_on_static_plans) {
    rig r;
    rig_create(&r, 5);
    alae_trainer *t = r.t;
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_EPOCHS_PER_LOD, 2));
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_DATASET_SIZE, 8));
    ck_assert_alae_ok(alae_trainer_set_position(t, 0, 0));
    alae_step_stats st = {sizeof st, 0, 0, 0, 0, 0};
    alae_tensor *small = real_batch(2, 4, 0.0), *full = real_batch(2, TINY_SIZE, 1.0);
    ck_assert_alae_ok(alae_trainer_step(t, small, &st));
    ck_assert_alae_ok(alae_trainer_step(t, full, &st)); /* average-pooled to 4 px */
    ck_assert(isfinite(st.loss_d) && isfinite(st.loss_g) && isfinite(st.loss_ae));
    ck_assert_int_gt(max_adam_steps(r.fg, r.m), 0);
    /* epoch 2: level 1 starts its transition with fresh Adam state */
    ck_assert_alae_ok(alae_trainer_set_position(t, 2, 0));
    ck_assert_int_eq(max_adam_steps(r.fg, r.m), 0);
    ck_assert_int_eq(max_adam_steps(r.ed, r.m), 0);
    double blend, previous = -1;
    alaei_plan *plan = NULL;
    for (int k = 0; k < 4; k++) {
        ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_BLEND, &blend));
        ck_assert(blend > previous && blend < 1.0);
        previous = blend;
        ck_assert_alae_ok(alae_trainer_step(t, full, &st));
        ck_assert(isfinite(st.loss_d) && isfinite(st.loss_g) && isfinite(st.loss_ae));
        if (k == 0) plan = t->d.plan;
        ck_assert_ptr_eq(t->d.plan, plan); /* one set of plans for the whole fade-in */
    }
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_EPOCH_IMAGES, &blend));
    ck_assert_int_eq((int)blend, 8);
    /* epoch 3: stable level 1; epoch 4: level 2 at 16 px */
    ck_assert_alae_ok(alae_trainer_set_position(t, 3, 0));
    ck_assert_alae_ok(alae_trainer_step(t, full, &st));
    ck_assert_alae_ok(alae_trainer_set_position(t, 4, 0));
    alae_tensor *eight = real_batch(3, 8, 2.0);
    ck_assert_int_eq(alae_trainer_step(t, eight, &st), ALAE_E_SHAPE); /* level 2 reads 16 px */
    ck_assert_alae_ok(alae_trainer_step(t, full, &st));
    ck_assert(isfinite(st.loss_d) && isfinite(st.loss_g) && isfinite(st.loss_ae));
    ck_assert_uint_eq(st.step, 8);
    /* the smoothed model samples at the trainer's level */
    alae_model *smooth;
    ck_assert_alae_ok(alae_trainer_smoothed_model(t, &smooth));
    double lod;
    ck_assert_alae_ok(alae_model_get(smooth, ALAE_MODEL_LOD, &lod));
    ck_assert_int_eq((int)lod, 2);
    alae_model_destroy(smooth);
    alae_tensor_destroy(small);
    alae_tensor_destroy(full);
    alae_tensor_destroy(eight);
    rig_destroy(&r);
}
END_TEST

/* ---- lazy R1 (ALAE_TRAIN_R1_INTERVAL) ---- */

/* Whether every parameter of a and b compares equal (==: -0 equals +0). */
static int same_params(const alae_model *a, const alae_model *b) {
    int same = 1;
    for (int32_t i = 0; same && i < a->n_params; i++) {
        int64_t n = a->params[i].numel;
        float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
        ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, x, a->params[i].data, (size_t)n));
        ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, y, b->params[i].data, (size_t)n));
        for (int64_t e = 0; e < n; e++) same &= x[e] == y[e];
        free(x);
        free(y);
    }
    return same;
}

START_TEST(lazy_r1_interval_one_is_the_default) {
    rig a, b;
    rig_create(&a, 21);
    rig_create(&b, 21);
    double v;
    ck_assert_alae_ok(alae_trainer_get(a.t, ALAE_TRAIN_R1_INTERVAL, &v));
    ck_assert_double_eq(v, 1.0);
    ck_assert_alae_ok(alae_trainer_set(b.t, ALAE_TRAIN_R1_INTERVAL, 1));
    ck_assert_int_eq(alae_trainer_set(b.t, ALAE_TRAIN_R1_INTERVAL, 0), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set(b.t, ALAE_TRAIN_R1_INTERVAL, 2.5), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_trainer_set(b.t, ALAE_TRAIN_R1_INTERVAL, 1025), ALAE_E_INVALID_ARG);
    alae_tensor *x = real_batch(2, TINY_SIZE, 0.7);
    for (int k = 0; k < 3; k++) {
        alae_step_stats sa = {sizeof sa, 0, 0, 0, 0, 0}, sb = sa;
        ck_assert_alae_ok(alae_trainer_step(a.t, x, &sa));
        ck_assert_alae_ok(alae_trainer_step(b.t, x, &sb));
        /* bitwise, field by field: the struct's padding holds no value to compare */
        ck_assert_int_eq(memcmp(&sa.loss_d, &sb.loss_d, sizeof sa.loss_d), 0);
        ck_assert_int_eq(memcmp(&sa.loss_g, &sb.loss_g, sizeof sa.loss_g), 0);
        ck_assert_int_eq(memcmp(&sa.loss_ae, &sb.loss_ae, sizeof sa.loss_ae), 0);
        ck_assert_int_eq(memcmp(&sa.r1, &sb.r1, sizeof sa.r1), 0);
        ck_assert_uint_eq(sa.step, sb.step);
    }
    ck_assert(same_params(a.m, b.m));
    alae_tensor_destroy(x);
    rig_destroy(&a);
    rig_destroy(&b);
}
END_TEST

/* k = 3 equals the reference step (interval 1) driven by hand: gamma 3 * 10 on iterations 0 and
 * 3, gamma 0 on the others, and the E|D optimizer set to learning rate times 3/4 and betas to
 * the power 3/4. */
START_TEST(lazy_r1_penalises_every_kth_d_step) {
    const int k = 3;
    const double gamma = 10.0, c = k / (k + 1.0);
    rig a, b;
    rig_create(&a, 22);
    rig_create(&b, 22);
    ck_assert_alae_ok(alae_trainer_set(a.t, ALAE_TRAIN_R1_GAMMA, gamma));
    ck_assert_alae_ok(alae_trainer_set(a.t, ALAE_TRAIN_R1_INTERVAL, k));
    double lr, beta1, beta2;
    ck_assert_alae_ok(alae_optimizer_get(b.ed, ALAE_OPT_LR, &lr));
    ck_assert_alae_ok(alae_optimizer_get(b.ed, ALAE_OPT_BETA1, &beta1));
    ck_assert_alae_ok(alae_optimizer_get(b.ed, ALAE_OPT_BETA2, &beta2));
    ck_assert_alae_ok(alae_optimizer_set(b.ed, ALAE_OPT_LR, lr * c));
    ck_assert_alae_ok(alae_optimizer_set(b.ed, ALAE_OPT_BETA1, pow(beta1, c)));
    ck_assert_alae_ok(alae_optimizer_set(b.ed, ALAE_OPT_BETA2, pow(beta2, c)));
    alae_tensor *x = real_batch(2, TINY_SIZE, 0.2);
    for (int i = 0; i < 5; i++) {
        int penalised = i % k == 0;
        ck_assert_alae_ok(alae_trainer_set(b.t, ALAE_TRAIN_R1_GAMMA, penalised ? k * gamma : 0.0));
        alae_step_stats sa = {sizeof sa, 0, 0, 0, 0, 0}, sb = sa;
        ck_assert_alae_ok(alae_trainer_step(a.t, x, &sa));
        ck_assert_alae_ok(alae_trainer_step(b.t, x, &sb));
        ck_assert_msg(penalised ? sa.r1 > 0 : sa.r1 == 0, "iteration %d: r1 = %g", i, (double)sa.r1);
        ck_assert_float_eq(sa.loss_d, sb.loss_d);
        ck_assert_float_eq(sa.r1, sb.r1);
        ck_assert_float_eq(sa.loss_g, sb.loss_g);
        ck_assert_float_eq(sa.loss_ae, sb.loss_ae);
        ck_assert_msg(same_params(a.m, b.m), "iteration %d: the parameters differ", i);
    }
    /* the adjustment is transient: a's optimizer keeps its settings */
    double v;
    ck_assert_alae_ok(alae_optimizer_get(a.ed, ALAE_OPT_LR, &v));
    ck_assert_double_eq(v, lr);
    ck_assert_alae_ok(alae_optimizer_get(a.ed, ALAE_OPT_BETA2, &v));
    ck_assert_double_eq(v, beta2);
    /* the interval is part of the training state */
    char path[] = "/tmp/alae-lazy-r1-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_alae_ok(alae_trainer_save(a.t, path));
    ck_assert_alae_ok(alae_trainer_load(b.t, path));
    unlink(path);
    ck_assert_alae_ok(alae_trainer_get(b.t, ALAE_TRAIN_R1_INTERVAL, &v));
    ck_assert_double_eq(v, k);
    alae_tensor_destroy(x);
    rig_destroy(&a);
    rig_destroy(&b);
}
END_TEST

/* Unused levels take no Adam steps; the latent step steps D with zero gradients. */
START_TEST(parameters_outside_the_level_take_no_steps) {
    rig r;
    rig_create(&r, 6);
    ck_assert_alae_ok(alae_trainer_set(r.t, ALAE_TRAIN_LOD, 1));
    alae_tensor *x = real_batch(2, 8, 0.5);
    alae_step_stats st = {sizeof st, 0, 0, 0, 0, 0};
    ck_assert_alae_ok(alae_trainer_step(r.t, x, &st));
    for (int32_t i = 0; i < r.m->n_params; i++) {
        const alaei_param *p = &r.m->params[i];
        const alae_optimizer *o = (p->part & (ALAE_PART_F | ALAE_PART_G)) ? r.fg : r.ed;
        int unused = strstr(p->ref_name, "decode_block.2.") || strstr(p->ref_name, "to_rgb.0.") ||
                     strstr(p->ref_name, "to_rgb.2.") || strstr(p->ref_name, "from_rgb.0.") ||
                     strstr(p->ref_name, "from_rgb.2.") || strstr(p->ref_name, "encode_block.0.");
        ck_assert_msg(o->t[i] == (unused ? 0 : 2), "%s: %lld Adam steps", p->ref_name, (long long)o->t[i]);
    }
    alae_tensor_destroy(x);
    rig_destroy(&r);
}
END_TEST

/* A run resumed from a training-state file continues exactly as the uninterrupted run. */
START_TEST(training_state_resumes_exactly_mid_transition) {
    rig a, b;
    rig_create(&a, 8);
    rig_create(&b, 8);
    alae_trainer *ts[2] = {a.t, b.t};
    for (int k = 0; k < 2; k++) {
        ck_assert_alae_ok(alae_trainer_set(ts[k], ALAE_TRAIN_EPOCHS_PER_LOD, 2));
        ck_assert_alae_ok(alae_trainer_set(ts[k], ALAE_TRAIN_DATASET_SIZE, 8));
        ck_assert_alae_ok(alae_trainer_set_level(ts[k], 1, ALAE_LEVEL_LR, 0.002));
        ck_assert_alae_ok(alae_trainer_set_position(ts[k], 2, 0));
    }
    alae_tensor *x = real_batch(2, 8, 0.3);
    alae_step_stats sa = {sizeof sa, 0, 0, 0, 0, 0}, sb = sa;
    ck_assert_alae_ok(alae_trainer_step(a.t, x, &sa));
    char path[] = "/tmp/alae-style-state-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_alae_ok(alae_trainer_save(a.t, path));
    ck_assert_alae_ok(alae_trainer_step(a.t, x, &sa));
    ck_assert_alae_ok(alae_trainer_load(b.t, path));
    unlink(path);
    double v;
    ck_assert_alae_ok(alae_trainer_get(b.t, ALAE_TRAIN_EPOCH_IMAGES, &v));
    ck_assert_int_eq((int)v, 2);
    ck_assert_alae_ok(alae_trainer_get(b.t, ALAE_TRAIN_LOD, &v));
    ck_assert_int_eq((int)v, 1);
    ck_assert_alae_ok(alae_trainer_get_level(b.t, 1, ALAE_LEVEL_LR, &v));
    ck_assert_double_eq(v, 0.002);
    ck_assert_alae_ok(alae_trainer_step(b.t, x, &sb));
    ck_assert_float_eq(sa.loss_d, sb.loss_d);
    ck_assert_float_eq(sa.loss_g, sb.loss_g);
    ck_assert_float_eq(sa.loss_ae, sb.loss_ae);
    ck_assert_alae_ok(alae_trainer_get(a.t, ALAE_TRAIN_BLEND, &v));
    double vb;
    ck_assert_alae_ok(alae_trainer_get(b.t, ALAE_TRAIN_BLEND, &vb));
    ck_assert_double_eq(v, vb);
    alae_tensor_destroy(x);
    rig_destroy(&a);
    rig_destroy(&b);
}
END_TEST

/* The fused resampling convs of levels >= 128 px, in training (R1's double backward through
 * COL2IM and the strided conv) and inference. */
START_TEST(fused_levels_train_and_infer) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 128));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 1));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 2));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 4));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 1));
    rig r;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 9, &r.m));
    alae_model_config_destroy(cfg);
    ck_assert_alae_ok(alae_optimizer_create_adam(r.m, ALAE_PART_F | ALAE_PART_G, &r.fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(r.m, ALAE_PART_E | ALAE_PART_D, &r.ed));
    ck_assert_alae_ok(alae_trainer_create(r.m, r.fg, r.ed, &r.t));
    ck_assert_alae_ok(alae_trainer_set(r.t, ALAE_TRAIN_BLEND, 0.3));
    alae_tensor *x = tensor(4, 1, 1, 128, 128), *rec = tensor(4, 1, 1, 128, 128);
    ck_assert_alae_ok(alae_tensor_fill_normal(x, 0, 0.5));
    alae_step_stats st = {sizeof st, 0, 0, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        ck_assert_alae_ok(alae_trainer_step(r.t, x, &st));
        ck_assert(isfinite(st.loss_d) && isfinite(st.loss_g) && isfinite(st.loss_ae) && isfinite(st.r1));
    }
    ck_assert_alae_ok(alae_model_reconstruct(r.m, x, rec));
    ck_assert(all_finite(rec));
    alae_tensor_destroy(x);
    alae_tensor_destroy(rec);
    rig_destroy(&r);
}
END_TEST

static Suite *api_suite(void) {
    Suite *s = suite_create("style_api");
    TCase *tc = tcase_create("style");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, presets_have_the_reference_parameter_counts, 0, (int)(sizeof presets / sizeof presets[0]));
    tcase_add_test(tc, blocks_have_the_reference_sizes_and_fused_layouts);
    tcase_add_test(tc, configuration_keys_follow_the_architecture);
    tcase_add_test(tc, every_entry_point_runs_with_checked_shapes);
    tcase_add_test(tc, encode_in_chunks_matches_single_images);
    tcase_add_test(tc, noise_modes_and_per_row_styles);
    tcase_add_test(tc, truncation_pulls_styles_to_the_running_mean);
    tcase_add_test(tc, model_files_keep_the_configuration_and_level);
    tcase_add_test(tc, schedule_follows_the_reference_driver);
    tcase_add_test(tc, every_setter_refuses_keys_of_other_families);
    tcase_add_test(tc, progressive_training_runs_on_static_plans);
    tcase_add_test(tc, parameters_outside_the_level_take_no_steps);
    tcase_add_test(tc, lazy_r1_interval_one_is_the_default);
    tcase_add_test(tc, lazy_r1_penalises_every_kth_d_step);
    tcase_add_test(tc, training_state_resumes_exactly_mid_transition);
    tcase_add_test(tc, fused_levels_train_and_infer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(api_suite()); }
