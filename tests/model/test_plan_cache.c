/* The inference plan cache of lib/nn/model_infer.c: an entry point plans its graph once per
 * (entry, batch shape, settings that shape the graph) and reuses it; a setting change drops the
 * plans it makes stale; every cached call gives what a freshly planned call on a new model
 * gives (same parameters, settings, running mean and random stream). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"
#include "test_util.h"

#define SIZE 16
#define L 8

static alae_context *ctx;

static void setup(void) {
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
}

static void teardown(void) { alae_context_destroy(ctx); }

/* A 16 px StyleALAE (3 levels) or the MLP, its zero-initialised parameters perturbed so that
 * noise weights, biases and every path matter. */
static alae_model *make_model(int style) {
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create(style ? "mnist" : "mnist-fc", &cfg));
    if (style) {
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, SIZE));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_CHANNELS, 3));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 4));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 8));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 2));
    } else {
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 32));
    }
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, L));
    alae_model *m;
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 5, &m));
    alae_model_config_destroy(cfg);
    for (int32_t i = 0; i < m->n_params; i++) {
        alaei_param *p = &m->params[i];
        if (p->init_std != 0.0) continue;
        float *v = malloc((size_t)p->numel * sizeof(float));
        for (int64_t e = 0; e < p->numel; e++) v[e] = (float)p->init_value + 0.1f * (float)sin(3.0 * (double)(i + e));
        ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, p->data, v, (size_t)p->numel));
        free(v);
    }
    for (int64_t j = 0; j < L; j++) m->dlatent_avg[j] = 0.3f * (float)cos((double)j);
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

/* The inference settings a check applies to both models. */
typedef struct settings {
    int32_t lod;
    double blend, psi;
    int32_t cutoff, noise;
} settings;

static void apply(alae_model *m, const settings *st) {
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_BLEND, 1.0)); /* any LOD may follow */
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_LOD, st->lod));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_BLEND, st->blend));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, st->psi));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_CUTOFF, st->cutoff));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, st->noise));
}

typedef alae_status (*entry_fn)(alae_model *, const alae_tensor *, alae_tensor *);

/* Runs fn on `cached` (whose cache may hold plans) and on a new model with the same parameters
 * and settings, from the same context seed, and checks the outputs agree (to rounding: the two
 * models' buffers lie at other addresses, which can change the order of SIMD sums). */
static void check_matches_fresh(alae_model *cached, int style, const settings *st, entry_fn fn,
                                const alae_tensor *in, alae_tensor *out) {
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 11));
    ck_assert_alae_ok(fn(cached, in, out));
    float *got = read_all(out);
    alae_model *fresh = make_model(style);
    apply(fresh, st);
    ck_assert_int_eq(alaei_plan_cache_count(fresh), 0);
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 11));
    ck_assert_alae_ok(fn(fresh, in, out));
    float *want = read_all(out);
    for (int64_t i = 0; i < out->numel; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= 1e-5 * (1.0 + fabs((double)want[i])),
                      "value %lld: %g from the cached plan, %g from a fresh one", (long long)i, got[i], want[i]);
    alae_model_destroy(fresh);
    free(got);
    free(want);
}

static alae_tensor *images_at(alae_model *m, int64_t n) {
    double side;
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_RESOLUTION, &side));
    alae_tensor *x = tensor(4, n, 3, (int64_t)side, (int64_t)side);
    ck_assert_alae_ok(alae_tensor_fill_normal(x, 0, 0.5f));
    return x;
}

START_TEST(repeated_calls_reuse_one_plan) {
    alae_model *m = make_model(1);
    settings st = {2, 1.0, 1.0, 4, ALAE_NOISE_PER_SAMPLE};
    alae_tensor *w = tensor(2, 2, L, 0, 0), *x = images_at(m, 2);
    ck_assert_alae_ok(alae_tensor_fill_normal(w, 0, 1));
    for (int i = 0; i < 3; i++) check_matches_fresh(m, 1, &st, alae_model_generate, w, x);
    ck_assert_int_eq(alaei_plan_cache_count(m), 1);
    /* the same call twice from the same seed: bitwise the same */
    float *first = read_all(x);
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 11));
    ck_assert_alae_ok(alae_model_generate(m, w, x));
    float *again = read_all(x);
    ck_assert_int_eq(memcmp(first, again, (size_t)x->numel * sizeof(float)), 0);
    free(first);
    free(again);
    size_t arena = alaei_plan_cache_arena_bytes(m);
    ck_assert_uint_gt(arena, 0);
    /* per-sample noise is drawn afresh on every call of the cached plan */
    float *a = read_all(x);
    ck_assert_alae_ok(alae_model_generate(m, w, x));
    float *b = read_all(x);
    ck_assert_int_ne(memcmp(a, b, (size_t)x->numel * sizeof(float)), 0);
    /* other entries and batch sizes get plans of their own, in the one arena */
    alae_tensor *w1 = tensor(2, 1, L, 0, 0), *x1 = images_at(m, 1);
    ck_assert_alae_ok(alae_tensor_fill_normal(w1, 0, 1));
    check_matches_fresh(m, 1, &st, alae_model_generate, w1, x1);
    check_matches_fresh(m, 1, &st, alae_model_encode, x, w);
    alae_tensor *r1 = images_at(m, 1);
    check_matches_fresh(m, 1, &st, alae_model_reconstruct, x1, r1);
    alae_tensor_destroy(r1);
    ck_assert_int_eq(alaei_plan_cache_count(m), 4);
    ck_assert_uint_ge(alaei_plan_cache_arena_bytes(m), arena);
    free(a);
    free(b);
    alae_tensor *all[] = {w, x, w1, x1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) alae_tensor_destroy(all[i]);
    alae_model_destroy(m);
}
END_TEST

/* Every setting that shapes the graph gets a new plan; the results stay those of fresh plans. */
START_TEST(setting_changes_replan_what_they_change) {
    alae_model *m = make_model(1);
    settings st = {2, 1.0, 1.0, 4, ALAE_NOISE_OFF};
    apply(m, &st);
    alae_tensor *w = tensor(2, 2, L, 0, 0), *z = tensor(2, 2, L, 0, 0);
    ck_assert_alae_ok(alae_tensor_fill_normal(w, 0, 1));
    ck_assert_alae_ok(alae_tensor_fill_normal(z, 0, 1));
    alae_tensor *x = images_at(m, 2);
    check_matches_fresh(m, 1, &st, alae_model_sample, z, x);
    check_matches_fresh(m, 1, &st, alae_model_encode, x, w);
    ck_assert_int_eq(alaei_plan_cache_count(m), 2);
    /* truncation shapes sample's graph, not encode's */
    st.psi = 0.5;
    apply(m, &st);
    ck_assert_int_eq(alaei_plan_cache_count(m), 1);
    check_matches_fresh(m, 1, &st, alae_model_sample, z, x);
    st.cutoff = 2;
    apply(m, &st);
    check_matches_fresh(m, 1, &st, alae_model_sample, z, x);
    st.psi = 0.7;
    apply(m, &st);
    check_matches_fresh(m, 1, &st, alae_model_sample, z, x);
    /* the running mean of w is read at every call (the trainer updates it in place) */
    for (int64_t j = 0; j < L; j++) m->dlatent_avg[j] += 0.25f;
    float *before = read_all(x);
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 11));
    ck_assert_alae_ok(alae_model_sample(m, z, x));
    float *after = read_all(x);
    ck_assert_int_ne(memcmp(before, after, (size_t)x->numel * sizeof(float)), 0);
    for (int64_t j = 0; j < L; j++) m->dlatent_avg[j] -= 0.25f;
    /* the noise mode */
    st.noise = ALAE_NOISE_BATCH_CONSTANT;
    apply(m, &st);
    check_matches_fresh(m, 1, &st, alae_model_sample, z, x);
    /* parameters are read at every call too */
    alaei_param *c = &m->params[0];
    float *v = malloc((size_t)c->numel * sizeof(float));
    for (int64_t e = 0; e < c->numel; e++) v[e] = 0.01f * (float)e;
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, c->data, v, (size_t)c->numel));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 11));
    ck_assert_alae_ok(alae_model_sample(m, z, x));
    free(before);
    before = read_all(x);
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, c->data, v, (size_t)c->numel));
    free(v);
    /* a level and a fade-in: images of another size; the blend value is an input of one plan */
    st.lod = 1;
    st.blend = 0.5;
    st.psi = 1.0;
    apply(m, &st);
    ck_assert_int_eq(alaei_plan_cache_count(m), 0);
    ck_assert_uint_eq(alaei_plan_cache_arena_bytes(m), 0);
    alae_tensor *x8 = images_at(m, 2);
    check_matches_fresh(m, 1, &st, alae_model_generate, w, x8);
    check_matches_fresh(m, 1, &st, alae_model_encode, x8, w);
    st.blend = 0.25;
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_BLEND, st.blend));
    ck_assert_int_eq(alaei_plan_cache_count(m), 2);
    check_matches_fresh(m, 1, &st, alae_model_generate, w, x8);
    check_matches_fresh(m, 1, &st, alae_model_encode, x8, w);
    ck_assert_int_eq(alaei_plan_cache_count(m), 2);
    free(before);
    free(after);
    alae_tensor *all[] = {w, z, x, x8};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) alae_tensor_destroy(all[i]);
    alae_model_destroy(m);
}
END_TEST

/* More shapes than slots: the least recently used plan goes, results stay right. */
START_TEST(the_cache_keeps_the_recently_used_plans) {
    alae_model *m = make_model(0);
    settings st = {0, 1.0, 1.0, 1, ALAE_NOISE_PER_SAMPLE};
    alae_tensor *z[12], *w[12];
    for (int i = 0; i < 12; i++) {
        z[i] = tensor(2, i + 1, L, 0, 0);
        w[i] = tensor(2, i + 1, L, 0, 0);
        ck_assert_alae_ok(alae_tensor_fill_normal(z[i], 0, 1));
        check_matches_fresh(m, 0, &st, alae_model_map, z[i], w[i]);
        ck_assert_int_eq(alaei_plan_cache_count(m), i < 8 ? i + 1 : 8);
    }
    for (int i = 0; i < 12; i++) check_matches_fresh(m, 0, &st, alae_model_map, z[i], w[i]);
    ck_assert_int_eq(alaei_plan_cache_count(m), 8);
    for (int i = 0; i < 12; i++) {
        alae_tensor_destroy(z[i]);
        alae_tensor_destroy(w[i]);
    }
    alae_model_destroy(m);
}
END_TEST

/* A failing call (a wrong shape) leaves the cache as it was; the model stays usable. */
START_TEST(failures_leave_the_cache_usable) {
    alae_model *m = make_model(0);
    alae_tensor *x = tensor(4, 3, 1, 32, 32), *w = tensor(2, 3, L, 0, 0), *bad = tensor(2, 2, L, 0, 0);
    ck_assert_alae_ok(alae_tensor_fill_normal(x, 0, 1));
    ck_assert_alae_ok(alae_model_encode(m, x, w));
    ck_assert_int_eq(alae_model_encode(m, x, bad), ALAE_E_SHAPE);
    ck_assert_int_eq(alaei_plan_cache_count(m), 1);
    settings st = {0, 1.0, 1.0, 1, ALAE_NOISE_PER_SAMPLE};
    check_matches_fresh(m, 0, &st, alae_model_encode, x, w);
    ck_assert_int_eq(alae_model_set(m, ALAE_MODEL_LOD, 1), ALAE_E_INVALID_ARG); /* the MLP has one level */
    ck_assert_int_eq(alaei_plan_cache_count(m), 1);
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
    alae_tensor_destroy(bad);
    alae_model_destroy(m);
}
END_TEST

static Suite *plan_cache_suite(void) {
    Suite *s = suite_create("plan_cache");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, repeated_calls_reuse_one_plan);
    tcase_add_test(tc, setting_changes_replan_what_they_change);
    tcase_add_test(tc, the_cache_keeps_the_recently_used_plans);
    tcase_add_test(tc, failures_leave_the_cache_usable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(plan_cache_suite()); }
