/* Importing the authors' PyTorch checkpoints (alae_model_import_pth, lib/io/pickle.c,
 * lib/io/torch_file.c).
 *
 * tests/fixtures/pth holds style16_legacy.pth and style16_zip.pth (copies of
 * shared/fixtures/pth: the parameters of style16.safetensors in the layout of the published
 * checkpoints; training networks = theta0, smoothed networks = the "after.*" values) and the cases
 * make_cases.py wrote once with PyTorch. Checked: both formats import and reproduce the fixture's
 * forward outputs (F, G with the reference's noise, E, D) within its tolerances; the smoothed
 * copy is the default and the training copy the fallback; an auxiliary with objects of unknown
 * classes imports, the same class inside "models" is refused with its path; misfits are named;
 * and hostile inputs (truncations, flipped bytes, unknown opcodes, deep nesting, memo and size
 * bombs, storages past the end, os.system) fail cleanly with ALAE_E_FORMAT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle.h"
#include "nn/model_internal.h"
#include "parity_util.h"

#define PTH_DIR ALAE_FIXTURE_DIR "/pth"
#define LOD 2

static alaei_st_file *fx;
static alae_context *ctx;
static char tmpdir[512];

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
    alae_test_make_tmpdir(tmpdir, sizeof tmpdir, "alae-import-");
}

static void teardown(void) {
    alae_test_remove_tree(tmpdir);
    alae_context_destroy(ctx);
    alaei_st_free(fx);
}

static alae_status import_file(const char *path, int32_t copy, alae_model **out) {
    alae_model_config *cfg = style16_config();
    *out = NULL;
    alae_status s = alae_model_import_pth(ctx, path, cfg, copy, out);
    alae_model_config_destroy(cfg);
    return s;
}

static alae_model *import_ok(const char *path, int32_t copy) {
    alae_model *m;
    ck_assert_alae_ok(import_file(path, copy, &m));
    return m;
}

/* Fails the test unless importing path fails with `status` and a message containing `needle`. */
static void expect_refused(const char *path, alae_status status, const char *needle) {
    alae_model *m = (alae_model *)(uintptr_t)0x5a;
    alae_model_config *cfg = style16_config();
    alae_status s = alae_model_import_pth(ctx, path, cfg, ALAE_IMPORT_SMOOTHED, &m);
    alae_model_config_destroy(cfg);
    ck_assert_msg(s == status, "%s: status %d, expected %d (%s)", path, (int)s, (int)status, alae_last_error());
    ck_assert_ptr_eq(m, (alae_model *)(uintptr_t)0x5a);
    ck_assert_msg(strstr(alae_last_error(), needle), "%s: message '%s' lacks '%s'", path, alae_last_error(), needle);
}

/* Every parameter equals the fixture tensor <prefix><ref_name> exactly. */
static void expect_params_equal(alae_model *m, const char *prefix) {
    for (int32_t i = 0; i < m->n_params; i++) {
        const alaei_param *p = &m->params[i];
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, p->ref_name);
        float *ref = pu_fixture_f32(fx, name, NULL);
        float *got = pu_download(ctx, p->data, (size_t)p->numel);
        ck_assert_msg(memcmp(ref, got, (size_t)p->numel * sizeof(float)) == 0, "%s differs from %s", p->name, name);
        free(ref);
        free(got);
    }
}

/* ---- forward outputs of the imported training networks against the fixture ---- */

typedef struct bound {
    int32_t node;
    void *dev;
} bound;

typedef struct fwd {
    alaei_net net;
    bound in[12];
    int n_in;
} fwd;

static int32_t fixture_input(fwd *f, const char *name) {
    const alaei_st_tensor *t = pu_need(fx, name);
    int32_t node = alaei_input(f->net.g, t->ndim, t->shape, name);
    float *host = pu_fixture_f32(fx, name, NULL);
    f->in[f->n_in++] = (bound){node, pu_upload(ctx, host, t->numel)};
    free(host);
    return node;
}

/* noise.0 .. noise.5 concatenated: the generator's noise of the forward section */
static void bind_noise(fwd *f) {
    size_t total = 0, n;
    for (int k = 0; k < 6; k++) {
        char name[16];
        snprintf(name, sizeof name, "noise.%d", k);
        total += pu_need(fx, name)->numel;
    }
    float *all = malloc(total * sizeof(float)), *at = all;
    for (int k = 0; k < 6; k++) {
        char name[16];
        snprintf(name, sizeof name, "noise.%d", k);
        float *one = pu_fixture_f32(fx, name, &n);
        memcpy(at, one, n * sizeof(float));
        at += n;
        free(one);
    }
    ck_assert_int_eq((int64_t)total, alaei_graph_numel(f->net.g, f->net.noise[0]));
    f->in[f->n_in++] = (bound){f->net.noise[0], pu_upload(ctx, all, total)};
    free(all);
}

static void expect_forward_matches(alae_model *m) {
    fwd f;
    memset(&f, 0, sizeof f);
    ck_assert_alae_ok(alaei_net_init(&f.net, m));
    f.net.lod = LOD;
    int32_t w = alaei_net_F(&f.net, fixture_input(&f, "z"));
    int32_t x_fake = alaei_net_G_styles(&f.net, fixture_input(&f, "styles"));
    bind_noise(&f);
    int32_t w_fake = alaei_net_E(&f.net, fixture_input(&f, "x_fake"));
    int32_t d_fake = alaei_net_D(&f.net, w_fake);
    int32_t w_real = alaei_net_E(&f.net, fixture_input(&f, "x"));
    int32_t d_real = alaei_net_D(&f.net, w_real);
    int32_t outs[6] = {w, x_fake, w_fake, d_fake, w_real, d_real};
    static const char *names[6] = {"w", "x_fake", "w_fake", "d_fake", "w_real", "d_real"};
    ck_assert_alae_ok(alaei_graph_status(f.net.g));
    alaei_plan *plan;
    ck_assert_alae_ok(alaei_plan_create(ctx, f.net.g, 6, outs, &plan));
    ck_assert_alae_ok(alaei_net_bind(&f.net, plan, NULL));
    for (int i = 0; i < f.n_in; i++) ck_assert_alae_ok(alaei_plan_bind(plan, f.in[i].node, f.in[i].dev));
    ck_assert_alae_ok(alaei_plan_run(plan));
    for (int k = 0; k < 6; k++)
        pu_expect_device_close(ctx, fx, "forward", names[k], alaei_plan_data(plan, outs[k]), names[k],
                               PARITY_FORWARD_TOL);
    for (int i = 0; i < f.n_in; i++) ctx->backend->buf_free(ctx->bctx, f.in[i].dev);
    alaei_plan_destroy(plan);
    alaei_net_free(&f.net);
}

static const char *const formats[2] = {PTH_DIR "/style16_legacy.pth", PTH_DIR "/style16_zip.pth"};

START_TEST(training_copy_matches_the_fixture_forward_outputs) {
    alae_model *m = import_ok(formats[_i], ALAE_IMPORT_TRAINING);
    expect_params_equal(m, "");
    expect_forward_matches(m);
    alae_model_destroy(m);
    pu_print_summary(_i ? "import zip, forward" : "import legacy, forward");
}
END_TEST

START_TEST(smoothed_copy_is_the_default_and_holds_the_after_values) {
    alae_model *m = import_ok(formats[_i], ALAE_IMPORT_SMOOTHED);
    expect_params_equal(m, "after.");
    float *buff = pu_fixture_f32(fx, "dlatent_avg.buff", NULL);
    ck_assert_mem_eq(m->dlatent_avg, buff, 32 * sizeof(float));
    free(buff);
    double v;
    ck_assert_alae_ok(alae_model_get(m, ALAE_MODEL_LOD, &v));
    ck_assert_int_eq((int)v, 2);
    /* the imported model saves and loads like any other */
    char path[600];
    snprintf(path, sizeof path, "%s/imported.safetensors", tmpdir);
    ck_assert_alae_ok(alae_model_save(m, path));
    alae_model *back;
    ck_assert_alae_ok(alae_model_load(ctx, path, &back));
    expect_params_equal(back, "after.");
    alae_model_destroy(back);
    alae_model_destroy(m);
}
END_TEST

START_TEST(a_file_without_smoothed_networks_falls_back_to_the_training_copy) {
    alae_model *m = import_ok(PTH_DIR "/training_only.pth", ALAE_IMPORT_SMOOTHED);
    expect_params_equal(m, "");
    alae_model_destroy(m);
}
END_TEST

START_TEST(an_auxiliary_with_objects_of_unknown_classes_imports) {
    alae_model *m = import_ok(PTH_DIR "/aux_unknown.pth", ALAE_IMPORT_SMOOTHED);
    expect_params_equal(m, "after.");
    /* dlatent_avg rows 0.5 * [0..31]: the running mean of w, so truncation pulls towards it */
    for (int i = 0; i < 32; i++) ck_assert_float_eq(m->dlatent_avg[i], 0.5f * (float)i);
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 0.0));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_CUTOFF, 6));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_OFF));
    int64_t zs[2] = {2, 32}, xs[4] = {2, 3, 16, 16}, ss[3] = {1, 6, 32};
    alae_tensor *z, *x, *styles, *x_avg;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, zs, &z));
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x));
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 3, ss, &styles));
    xs[0] = 1;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x_avg));
    ck_assert_alae_ok(alae_tensor_fill_normal(z, 0.0f, 1.0f));
    ck_assert_alae_ok(alae_model_sample(m, z, x)); /* psi 0: every sample is G(avg) */
    float rows[6 * 32], got[2 * 768], want[768];
    for (int i = 0; i < 6 * 32; i++) rows[i] = 0.5f * (float)(i % 32);
    ck_assert_alae_ok(alae_tensor_write(styles, rows, sizeof rows));
    ck_assert_alae_ok(alae_model_set(m, ALAE_MODEL_TRUNCATION_PSI, 1.0));
    ck_assert_alae_ok(alae_model_generate_styles(m, styles, x_avg));
    ck_assert_alae_ok(alae_tensor_read(x, got, sizeof got));
    ck_assert_alae_ok(alae_tensor_read(x_avg, want, sizeof want));
    for (int i = 0; i < 768; i++) {
        ck_assert_float_eq_tol(got[i], want[i], 1e-5f);
        ck_assert_float_eq_tol(got[768 + i], want[i], 1e-5f);
    }
    alae_tensor_destroy(z);
    alae_tensor_destroy(x);
    alae_tensor_destroy(styles);
    alae_tensor_destroy(x_avg);
    alae_model_destroy(m);
    /* without the training networks, asking for them names what is missing */
    alae_model_config *cfg = style16_config();
    ck_assert_int_eq(alae_model_import_pth(ctx, PTH_DIR "/aux_unknown.pth", cfg, ALAE_IMPORT_TRAINING, &m),
                     ALAE_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "missing models/"));
    alae_model_config_destroy(cfg);
}
END_TEST

START_TEST(the_same_class_inside_models_is_refused_with_its_path) {
    expect_refused(PTH_DIR "/models_unknown.pth", ALAE_E_FORMAT,
                   "models/generator_s/stats is an object of class 'tracker.RunningMeanTorch'");
}
END_TEST

START_TEST(a_call_of_os_system_is_refused) {
    expect_refused(PTH_DIR "/os_system.pth", ALAE_E_FORMAT, "refused: the file names the global 'posix.system'");
}
END_TEST

START_TEST(missing_extra_and_misshaped_tensors_are_named) {
    expect_refused(PTH_DIR "/misfit.pth", ALAE_E_FORMAT, "missing models/generator_s/const");
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "extra models/generator_s/extra.weight"));
    /* another latent size: every F tensor is misshaped, named with the shape the preset needs */
    alae_model_config *cfg = style16_config();
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 16));
    alae_model *m = NULL;
    ck_assert_int_eq(alae_model_import_pth(ctx, formats[0], cfg, ALAE_IMPORT_SMOOTHED, &m), ALAE_E_FORMAT);
    ck_assert_msg(strstr(alae_last_error(), "is float32 [32,32]; the preset 'mnist' needs float [16,16]"), "%s",
                  alae_last_error());
    ck_assert_ptr_null(m);
    ck_assert_int_eq(alae_model_import_pth(ctx, formats[0], cfg, 7, &m), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_model_import_pth(ctx, formats[0], NULL, 0, &m), ALAE_E_INVALID_ARG);
    alae_model_config_destroy(cfg);
    expect_refused(PTH_DIR "/no-such-file.pth", ALAE_E_IO, "no-such-file.pth");
    expect_refused(ALAE_FIXTURE_DIR "/style16.safetensors", ALAE_E_FORMAT, "not a PyTorch checkpoint");
}
END_TEST

/* ---- damaged files ---- */

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    *size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(*size);
    ck_assert_uint_eq(fread(b, 1, *size, fp), *size);
    fclose(fp);
    return b;
}

static const char *write_tmp(const void *data, size_t size) {
    static char path[600];
    snprintf(path, sizeof path, "%s/case.pth", tmpdir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
    return path;
}

/* Imports data: success or a clean failure (a status that is not internal, and a message). */
static alae_status import_bytes(const void *data, size_t size) {
    alae_model *m = NULL;
    alae_status s = import_file(write_tmp(data, size), ALAE_IMPORT_SMOOTHED, &m);
    if (s == ALAE_OK) {
        ck_assert_ptr_nonnull(m);
        alae_model_destroy(m);
    } else {
        ck_assert_msg(s != ALAE_E_INTERNAL && alae_last_error()[0], "status %d, message '%s'", (int)s, alae_last_error());
        ck_assert_ptr_null(m);
    }
    return s;
}

START_TEST(every_truncation_fails_cleanly) {
    size_t size;
    unsigned char *b = slurp(formats[_i], &size);
    /* every cut in the first 4 KiB (the header and the start of the object pickle), every 61st to
     * 24 KiB (the pickles), then every 4999th */
    for (size_t cut = 0; cut < size; cut += cut < 4096 ? 1 : cut < 24576 ? 61 : 4999)
        ck_assert_msg(import_bytes(b, cut) != ALAE_OK, "a file cut at %zu bytes was accepted", cut);
    free(b);
}
END_TEST

START_TEST(non_finite_values_are_refused) {
    size_t size;
    unsigned char *b = slurp(formats[0], &size);
    /* the smoothed constant's data, found by its values, gets a NaN */
    float *ref = pu_fixture_f32(fx, "after.decoder.const", NULL);
    unsigned char *at = memmem(b, size, ref, 8 * sizeof(float));
    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_null(memmem(at + 1, size - (size_t)(at + 1 - b), ref, 8 * sizeof(float)));
    float nan = NAN;
    memcpy(at + 3 * sizeof(float), &nan, sizeof nan);
    alae_model *m = NULL;
    ck_assert_int_eq(import_file(write_tmp(b, size), ALAE_IMPORT_SMOOTHED, &m), ALAE_E_FORMAT);
    ck_assert_msg(strstr(alae_last_error(), "tensor 'decoder.const (libalae G.const)' holds a non-finite value"), "%s",
                  alae_last_error());
    ck_assert_ptr_null(m);
    /* the training copy is untouched and still imports from the same file */
    m = import_ok(write_tmp(b, size), ALAE_IMPORT_TRAINING);
    alae_model_destroy(m);
    free(ref);
    free(b);
}
END_TEST

START_TEST(flipped_bytes_never_crash) {
    size_t size;
    unsigned char *b = slurp(formats[_i], &size);
    uint64_t rng = 12345;
    int refused = 0;
    for (int k = 0; k < 200; k++) {
        size_t at = (size_t)alae_test_uniform(&rng, 0, k < 150 ? 20000 : (double)size);
        unsigned char old = b[at];
        b[at] ^= (unsigned char)(1u << (k % 8));
        refused += import_bytes(b, size) != ALAE_OK;
        b[at] = old;
    }
    ck_assert_int_gt(refused, 25); /* flips in the pickles are mostly caught */
    free(b);
}
END_TEST

/* ---- the pickle machine on its own ---- */

typedef struct mem {
    const unsigned char *p;
    size_t n, at;
} mem;

static int mem_read(void *user, void *buf, size_t n) {
    mem *m = user;
    if (n > m->n - m->at) return -1;
    memcpy(buf, m->p + m->at, n);
    m->at += n;
    return 0;
}

static uint64_t mem_remaining(void *user) {
    mem *m = user;
    return m->n - m->at;
}

static alae_status unpickle(const void *data, size_t n, const alaei_pk_value **out, alaei_pk_reader **r) {
    mem m = {data, n, 0};
    alaei_pk_source src = {mem_read, mem_remaining, &m, 0};
    ck_assert_alae_ok(alaei_pk_reader_create(r));
    return alaei_pk_read(*r, &src, NULL, NULL, out);
}

static void expect_pickle_refused(const void *data, size_t n, const char *needle) {
    const alaei_pk_value *v = NULL;
    alaei_pk_reader *r;
    alae_status s = unpickle(data, n, &v, &r);
    ck_assert_msg(s == ALAE_E_FORMAT, "status %d for a pickle that must fail with '%s'", (int)s, needle);
    ck_assert_msg(strstr(alae_last_error(), needle), "message '%s' lacks '%s'", alae_last_error(), needle);
    alaei_pk_reader_destroy(r);
}

START_TEST(the_pickle_machine_reads_values_and_refuses_bombs) {
    /* {"a": [1, -2, 3.5, None, True], "b": (unknown.Cls(), OrderedDict())} */
    static const unsigned char ok[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01J\xfe\xff\xff\xff"
                                      "G@\x0c\x00\x00\x00\x00\x00\x00N\x88" "eX\x01\x00\x00\x00" "b"
                                      "cunknown\nCls\n)R}bccollections\nOrderedDict\n)R\x86u.";
    const alaei_pk_value *v;
    alaei_pk_reader *r;
    ck_assert_alae_ok(unpickle(ok, sizeof ok - 1, &v, &r));
    const alaei_pk_value *a = alaei_pk_dict_get(v, "a"), *b = alaei_pk_dict_get(v, "b");
    ck_assert_int_eq(a->kind, ALAEI_PK_LIST);
    ck_assert_uint_eq(a->u.seq.n, 5);
    ck_assert_int_eq(a->u.seq.items[1]->u.i, -2);
    ck_assert_double_eq(a->u.seq.items[2]->u.f, 3.5);
    ck_assert_int_eq(b->u.seq.items[0]->kind, ALAEI_PK_OPAQUE);
    ck_assert_str_eq(b->u.seq.items[0]->u.opaque.cls, "unknown.Cls");
    ck_assert_int_eq(b->u.seq.items[1]->kind, ALAEI_PK_DICT);
    alaei_pk_reader_destroy(r);

    expect_pickle_refused("\x80\x02\xff.", 4, "unknown or unsupported opcode 0xff");
    expect_pickle_refused("\x80\x02\x82\x01.", 5, "unknown or unsupported opcode 0x82"); /* EXT1 */
    expect_pickle_refused("\x80\x02]", 3, "the data ends inside the pickle");
    expect_pickle_refused("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", 25, "'os.system'");
    expect_pickle_refused("\x80\x02\x8c\x08" "builtins\x8c\x04" "eval\x93.", 19, "'builtins.eval'");
    expect_pickle_refused("\x80\x02X\xff\xff\xff\x7f.", 8, "runs past the end");            /* huge string */
    expect_pickle_refused("\x80\x02\x8b\xff\xff\xff\xff.", 8, "runs past the end");          /* huge LONG4 */
    expect_pickle_refused("\x80\x02Nr\xff\xff\xff\x7f.", 9, "memo index past");               /* memo bomb */
    expect_pickle_refused("\x80\x02h\x05.", 5, "never stored");
    expect_pickle_refused("\x80\x02N\x86.", 5, "stack is empty");
    expect_pickle_refused("\x80\x02NN.", 5, "does not hold one value");
    expect_pickle_refused("\x80\x02Q.", 4, "stack is empty");

    /* deep nesting: 200 lists, each appended into the one before */
    unsigned char deep[512];
    size_t n = 0;
    deep[n++] = 0x80;
    deep[n++] = 2;
    for (int i = 0; i < 200; i++) deep[n++] = ']';
    for (int i = 0; i < 199; i++) deep[n++] = 'a';
    deep[n++] = '.';
    expect_pickle_refused(deep, n, "nested too deeply");
    /* mark nesting */
    unsigned char marks[5000];
    n = 0;
    marks[n++] = 0x80;
    marks[n++] = 2;
    for (int i = 0; i < 4500; i++) marks[n++] = '(';
    marks[n++] = '.';
    expect_pickle_refused(marks, n, "MARKs nested too deeply");
    /* a billion laughs: one list referenced a million times costs one pointer each, bounded */
    size_t big = 3 + 2 + 4 * 250000 + 2;
    unsigned char *laughs = malloc(big);
    n = 0;
    laughs[n++] = 0x80;
    laughs[n++] = 2;
    laughs[n++] = ']';
    laughs[n++] = 'q';
    laughs[n++] = 0;
    laughs[n++] = '(';
    for (int i = 0; i < 250000; i++) {
        laughs[n++] = 'h';
        laughs[n++] = 0;
    }
    laughs[n++] = 'l';
    laughs[n++] = '.';
    const alaei_pk_value *top = NULL;
    alae_status s = unpickle(laughs, n, &top, &r);
    /* the outer list and the inner one stay on the stack: two values, not one */
    ck_assert_int_eq(s, ALAE_E_FORMAT);
    alaei_pk_reader_destroy(r);
    free(laughs);
}
END_TEST

/* A legacy file whose object pickle is `object` (the header pickles as torch.save writes them). */
static size_t legacy_file(unsigned char *buf, const void *object, size_t n, const void *tail, size_t tail_n) {
    static const unsigned char head[] = "\x80\x02\x8a\x0al\xfc\x9c" "F\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.\x80\x02}q\x00.";
    size_t k = sizeof head - 1;
    memcpy(buf, head, k);
    memcpy(buf + k, object, n);
    memcpy(buf + k + n, tail, tail_n);
    return k + n + tail_n;
}

START_TEST(storages_outside_the_file_are_refused) {
    /* {"models": {"dlatent_avg": {"buff": tensor(storage '0' of 1000 floats, [32])}}} and the key list */
    static const unsigned char obj[] =
        "\x80\x02}X\x06\x00\x00\x00models}X\x0b\x00\x00\x00" "dlatent_avg}X\x04\x00\x00\x00" "buff"
        "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0"
        "X\x03\x00\x00\x00" "cpuM\xe8\x03Ntq\x00QK\x00K \x85K\x01\x85\x89" "ccollections\nOrderedDict\n)RtRsss.";
    static const unsigned char keys[] = "\x80\x02]X\x01\x00\x00\x00" "0a.";
    unsigned char tail[64], buf[1024];
    memcpy(tail, keys, sizeof keys - 1);
    /* the storage declares 1000 elements, the file holds 8 bytes of them */
    uint64_t numel = 1000;
    memcpy(tail + sizeof keys - 1, &numel, 8);
    memset(tail + sizeof keys - 1 + 8, 0, 8);
    size_t n = legacy_file(buf, obj, sizeof obj - 1, tail, sizeof keys - 1 + 16);
    alae_model *m = NULL;
    ck_assert_int_eq(import_file(write_tmp(buf, n), ALAE_IMPORT_SMOOTHED, &m), ALAE_E_FORMAT);
    ck_assert_msg(strstr(alae_last_error(), "runs past the end of the file"), "%s", alae_last_error());
    /* a size that disagrees with the pickle's */
    numel = 999;
    memcpy(tail + sizeof keys - 1, &numel, 8);
    n = legacy_file(buf, obj, sizeof obj - 1, tail, sizeof keys - 1 + 16);
    ck_assert_int_eq(import_file(write_tmp(buf, n), ALAE_IMPORT_SMOOTHED, &m), ALAE_E_FORMAT);
    ck_assert_msg(strstr(alae_last_error(), "holds 999 elements where the pickle declares 1000"), "%s",
                  alae_last_error());
}
END_TEST

static Suite *import_suite(void) {
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("pth");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, training_copy_matches_the_fixture_forward_outputs, 0, 2);
    tcase_add_loop_test(tc, smoothed_copy_is_the_default_and_holds_the_after_values, 0, 2);
    tcase_add_test(tc, a_file_without_smoothed_networks_falls_back_to_the_training_copy);
    tcase_add_test(tc, an_auxiliary_with_objects_of_unknown_classes_imports);
    tcase_add_test(tc, the_same_class_inside_models_is_refused_with_its_path);
    tcase_add_test(tc, a_call_of_os_system_is_refused);
    tcase_add_test(tc, missing_extra_and_misshaped_tensors_are_named);
    tcase_add_loop_test(tc, every_truncation_fails_cleanly, 0, 2);
    tcase_add_loop_test(tc, flipped_bytes_never_crash, 0, 2);
    tcase_add_test(tc, non_finite_values_are_refused);
    tcase_add_test(tc, the_pickle_machine_reads_values_and_refuses_bombs);
    tcase_add_test(tc, storages_outside_the_file_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_test_select_device("import");
    return alae_test_run_suite(import_suite());
}
