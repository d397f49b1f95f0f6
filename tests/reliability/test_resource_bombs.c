/* Resource bombs (issue #8; the checkpoint reader's rules are in docs/checkpoint-format.md): every loader must bound header sizes, tensor counts,
 * image dimensions and allocation sizes, with overflow-safe arithmetic, BEFORE it allocates.
 *
 * Each case feeds a small hostile input to a loader with the allocation guard armed
 * (tests/fuzz/alloc_guard.c: this program is linked with --wrap=malloc,calloc,realloc,
 * posix_memalign,aligned_alloc, so every allocation libalae makes is seen, and a huge one is
 * refused without touching memory). It checks the precise status, and that the largest single
 * request stayed within a bound proportional to the input (the loader sized nothing from an
 * unchecked field).
 *
 * Bugs found this way are fixed with their case here (B1, B2 and L2 in docs/reliability.md). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc_guard.h"
#include "io/idx.h"
#include "io/image_load.h"
#include "io/image_write.h"
#include "io/npy.h"
#include "io/json_min.h"
#include "io/safetensors.h"
#include "test_util.h"

#define MiB ((size_t)1 << 20)
#define GUARD_SINGLE ((size_t)128 << 20) /* refused above this: the machine never commits a bomb */
#define GUARD_TOTAL ((size_t)256 << 20)

static char tmpdir[4096];

static void setup(void) {
    alae_test_make_tmpdir(tmpdir, sizeof tmpdir, "alae-bombs-");
    ck_assert_msg(alae_guard_active(), "the allocation guard is not linked in (--wrap options missing)");
}

static void teardown(void) {
    alae_test_remove_tree(tmpdir);
    ck_assert_msg(access(tmpdir, F_OK) != 0, "%s was not removed", tmpdir);
}

static const char *path_of(const char *name) {
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const void *data, size_t n) {
    const char *p = path_of(name);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fwrite(data, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
    return p;
}

static size_t file_size(const char *p) {
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return (size_t)n;
}

static void arm(void) { alae_guard_arm(GUARD_SINGLE, GUARD_TOTAL); }

/* Disarms and checks status and the largest allocation request. */
#define EXPECT_BOUNDED(status_expr, want, bound)                                                          \
    do {                                                                                                  \
        alae_status _s = (status_expr);                                                                   \
        alae_guard_disarm();                                                                              \
        size_t _big = alae_guard_largest(), _b = (bound);                                                 \
        ck_assert_msg(_big <= _b,                                                                         \
                      "%s: largest allocation request %zu bytes exceeds the bound %zu (%zu refused by the " \
                      "guard); status %d: %s",                                                            \
                      #status_expr, _big, _b, alae_guard_refused(), (int)_s, alae_last_error());          \
        ck_assert_msg(_s == (want), "%s returned %d (%s), expected %d: %s", #status_expr, (int)_s,         \
                      alae_status_string(_s), (int)(want), alae_last_error());                            \
    } while (0)

/* ---- safetensors ---- */

static size_t st_blob(uint8_t *buf, uint64_t n, const char *hdr, const void *data, size_t dn) {
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    size_t hl = strlen(hdr);
    memcpy(buf + 8, hdr, hl);
    if (dn) memcpy(buf + 8 + hl, data, dn);
    return 8 + hl + dn;
}

START_TEST(st_header_length_2pow64_minus_1) {
    uint8_t buf[64];
    size_t n = st_blob(buf, UINT64_MAX, "{}", NULL, 0);
    alaei_st_file *f = NULL;
    arm();
    EXPECT_BOUNDED(alaei_st_parse(buf, n, &f), ALAE_E_FORMAT, 4096);
    const char *p = write_file("max.st", buf, n);
    arm();
    EXPECT_BOUNDED(alaei_st_open(p, &f), ALAE_E_FORMAT, 4096);
}
END_TEST

START_TEST(st_header_length_past_eof) {
    /* 99 MB claimed (under the 100 MB limit), 2 bytes present: the header buffer must not be
     * allocated from the claim */
    uint8_t buf[64];
    size_t n = st_blob(buf, 99u * 1000u * 1000u, "{}", NULL, 0);
    alaei_st_file *f = NULL;
    arm();
    EXPECT_BOUNDED(alaei_st_parse(buf, n, &f), ALAE_E_FORMAT, 4096);
    const char *p = write_file("eof.st", buf, n);
    arm();
    EXPECT_BOUNDED(alaei_st_open(p, &f), ALAE_E_FORMAT, 4096);
}
END_TEST

START_TEST(st_shape_products_overflow) {
    static const char *hdrs[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}",
        "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,2],\"data_offsets\":[0,0]}}",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551615],\"data_offsets\":[0,0]}}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        uint8_t buf[256];
        size_t n = st_blob(buf, strlen(hdrs[i]), hdrs[i], NULL, 0);
        alaei_st_file *f = NULL;
        arm();
        EXPECT_BOUNDED(alaei_st_parse(buf, n, &f), ALAE_E_FORMAT, 64 * 1024);
    }
}
END_TEST

START_TEST(st_offsets_past_the_data) {
    const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1000000000],\"data_offsets\":[0,1000000000]}}";
    uint8_t buf[256];
    size_t n = st_blob(buf, strlen(h), h, "xy", 2);
    alaei_st_file *f = NULL;
    arm();
    EXPECT_BOUNDED(alaei_st_parse(buf, n, &f), ALAE_E_FORMAT, 64 * 1024);
    const char *p = write_file("offsets.st", buf, n);
    arm();
    EXPECT_BOUNDED(alaei_st_open(p, &f), ALAE_E_FORMAT, 64 * 1024);
}
END_TEST

START_TEST(st_tensor_count_limit) {
    /* 65537 tensors (one more than allowed), each empty */
    size_t cap = 65537 * 64 + 64, o = 8;
    uint8_t *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    buf[o++] = '{';
    for (int i = 0; i < 65537; i++)
        o += (size_t)snprintf((char *)buf + o, cap - o, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
                              i ? "," : "", i);
    buf[o++] = '}';
    uint64_t hn = o - 8;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hn >> (8 * i));
    alaei_st_file *f = NULL;
    arm();
    /* the JSON DOM is proportional to the header (one node per value), never to a claimed size */
    EXPECT_BOUNDED(alaei_st_parse(buf, o, &f), ALAE_E_FORMAT, 16 * o);
    ck_assert_msg(strstr(alae_last_error(), "65536") != NULL, "%s", alae_last_error());
    free(buf);
}
END_TEST

/* ---- JSON ---- */

START_TEST(json_deep_and_wide_inputs) {
    size_t n = 4 * MiB;
    char *text = malloc(n);
    ck_assert_ptr_nonnull(text);
    memset(text, '[', n);
    alaei_json_doc *doc = NULL;
    arm();
    /* the validating first pass allocates nothing: nesting fails before any DOM exists */
    EXPECT_BOUNDED(alaei_json_parse(text, n, ALAEI_JSON_MAX_DEPTH_LIMIT, 0, &doc, NULL), ALAE_E_FORMAT, 4096);
    /* a million values against a node limit of 1000 */
    text[0] = '[';
    for (size_t i = 1; i + 1 < n; i += 2) {
        text[i] = '0';
        text[i + 1] = ',';
    }
    text[n - 2] = '0';
    text[n - 1] = ']';
    arm();
    EXPECT_BOUNDED(alaei_json_parse(text, n, 3, 1000, &doc, NULL), ALAE_E_FORMAT, 4096);
    free(text);
}
END_TEST

/* ---- IDX ---- */

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static const char *idx_file(const char *name, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t data) {
    uint8_t *buf = calloc(1, 16 + data);
    ck_assert_ptr_nonnull(buf);
    be32(buf, magic);
    be32(buf + 4, n);
    be32(buf + 8, rows);
    be32(buf + 12, cols);
    const char *p = write_file(name, buf, 16 + data);
    free(buf);
    return p;
}

START_TEST(idx_huge_claims_raw) {
    alaei_idx *idx = NULL;
    const char *p = idx_file("side.idx", ALAEI_IDX_MAGIC_IMAGES, 1, 100000, 100000, 16);
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * 1024);
    p = idx_file("count.idx", ALAEI_IDX_MAGIC_IMAGES, 100000000, 4096, 4096, 16);
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * 1024);
    p = idx_file("zero.idx", ALAEI_IDX_MAGIC_IMAGES, 5, 0, 28, 0);
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * 1024);
    p = idx_file("max.idx", ALAEI_IDX_MAGIC_IMAGES, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0);
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * 1024);
    alae_dataset *ds = NULL;
    arm();
    EXPECT_BOUNDED(alae_dataset_open_idx(p, NULL, &ds), ALAE_E_FORMAT, 64 * 1024);
}
END_TEST

static const char *gz_file(const char *name, const uint8_t *raw, size_t n) {
    const char *p = path_of(name);
    gzFile gz = gzopen(p, "wb9");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, raw, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
    return p;
}

START_TEST(idx_huge_claims_gzip) {
    /* a tiny gzip stream whose header claims 100 million 28x28 images: refused from the ratio
     * alone (deflate cannot expand more than ~1032:1) */
    uint8_t hdr[16 + 64] = {0};
    be32(hdr, ALAEI_IDX_MAGIC_IMAGES);
    be32(hdr + 4, 100000000);
    be32(hdr + 8, 28);
    be32(hdr + 12, 28);
    const char *p = gz_file("claims.idx.gz", hdr, sizeof hdr);
    alaei_idx *idx = NULL;
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * 1024);
    /* a stream within the ratio but truncated: the reader allocates as the data arrives, starting
     * from at most 64 MiB (idx.c), whatever the header claims */
    size_t raw = 16 + MiB; /* 1 MiB of incompressible bytes, claiming 100 x 1024 x 1024 */
    uint8_t *buf = calloc(1, raw);
    ck_assert_ptr_nonnull(buf);
    uint64_t lcg = 1;
    for (size_t i = 16; i < raw; i++) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(lcg >> 56);
    }
    be32(buf, ALAEI_IDX_MAGIC_IMAGES);
    be32(buf + 4, 100);
    be32(buf + 8, 1024);
    be32(buf + 12, 1024);
    p = gz_file("truncated.idx.gz", buf, raw);
    free(buf);
    size_t fs = file_size(p);
    arm();
    EXPECT_BOUNDED(alaei_idx_load(p, &idx), ALAE_E_FORMAT, 64 * MiB + 64 * 1024);
    ck_assert_msg(fs * 1100 >= 100 * MiB, "the test file must be within the ratio (%zu bytes)", fs);
}
END_TEST

/* ---- .npy ---- */

static const char *npy_file(const char *name, int version, uint32_t hlen_override, const char *dict, size_t data) {
    uint8_t buf[4096] = {0};
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = dl + 1;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)version;
    buf[7] = 0;
    uint32_t h = hlen_override ? hlen_override : (uint32_t)hl;
    buf[8] = (uint8_t)h;
    buf[9] = (uint8_t)(h >> 8);
    if (version > 1) {
        buf[10] = (uint8_t)(h >> 16);
        buf[11] = (uint8_t)(h >> 24);
    }
    memcpy(buf + pre, dict, dl);
    buf[pre + dl] = '\n';
    return write_file(name, buf, pre + hl + data);
}

START_TEST(npy_huge_claims) {
    alaei_npy_f32 a;
    const char *p = npy_file("big.npy", 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", 8);
    arm();
    EXPECT_BOUNDED(alaei_read_npy_f32(p, &a), ALAE_E_FORMAT, 128 * 1024);
    p = npy_file("overflow.npy", 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", 0);
    arm();
    EXPECT_BOUNDED(alaei_read_npy_f32(p, &a), ALAE_E_FORMAT, 128 * 1024);
    p = npy_file("hlen.npy", 2, 0xFFFFFFFFu, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4);
    arm();
    EXPECT_BOUNDED(alaei_read_npy_f32(p, &a), ALAE_E_FORMAT, 128 * 1024);
    int32_t nd;
    int64_t shape[8];
    float *data = NULL;
    arm();
    EXPECT_BOUNDED(alae_npy_read_f32(p, &nd, shape, &data), ALAE_E_FORMAT, 128 * 1024);
}
END_TEST

/* ---- image files (lib/io/image_load.c, through stb_image) ---- */

START_TEST(image_header_claims) {
    /* small files whose headers claim up to 16384x16384 pixels (the corpus of fuzz_image):
     * refused from the file size before stb_image allocates for the claim (bug B3, fixed) */
    static const char *names[] = {"bmp_16384x16384_no_pixels", "bmp_16384x16384_top_down", "bmp_4096x4096_no_pixels",
                                  "png_16384x16384_tiny_idat", "png_huge_chunk_length", "jpeg_16384x16384_one_block",
                                  "jpeg_16384x16384_rgb", "png_100000x100000", "bmp_100000x100000"};
    uint8_t out[3 * 16 * 16];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/corpus/image/%s", ALAE_FUZZ_DIR, names[i]);
        arm();
        EXPECT_BOUNDED(alaei_image_load(p, 3, 16, out), ALAE_E_FORMAT, 64 * 1024);
    }
}
END_TEST

/* ---- model and training-state files ---- */

static alae_context *ctx;
static alae_model *tiny;

static void tiny_setup(void) {
    setup();
    alae_set_log_level(ALAE_LOG_NONE);
    ck_assert_alae_ok(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    alae_model_config *cfg;
    ck_assert_alae_ok(alae_model_config_create("mnist-fc-paper", &cfg));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 4));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 1));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 8));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 4));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_NET_SIZE, 4));
    ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_D_LAYERS, 1));
    ck_assert_alae_ok(alae_model_create(ctx, cfg, 1, &tiny));
    alae_model_config_destroy(cfg);
}

static void tiny_teardown(void) {
    alae_model_destroy(tiny);
    alae_context_destroy(ctx);
    tiny = NULL;
    ctx = NULL;
    teardown();
}

/* Copies a safetensors file, replacing the "alae.arch" metadata by `arch` (NULL: kept) and the
 * data of tensor `name` (NULL: none) by `data`. */
/* Copies safetensors file src to dst with the metadata value of meta_key (if not NULL) and the
 * data of tensor name (if not NULL) replaced. */
static void rewrite_meta(const char *src, const char *dst, const char *meta_key, const char *meta_value, const char *name,
                         const void *data) {
    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(src, &f));
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    for (size_t i = 0; i < alaei_st_count(f); i++) {
        const alaei_st_tensor *t = alaei_st_at(f, i);
        const void *d = name && !strcmp(t->name, name) ? data : t->data;
        ck_assert_alae_ok(alaei_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, d));
    }
    for (size_t i = 0; i < alaei_st_metadata_count(f); i++) {
        const char *k, *v;
        alaei_st_metadata_at(f, i, &k, &v);
        ck_assert_alae_ok(alaei_st_writer_set_metadata(w, k, meta_key && !strcmp(k, meta_key) ? meta_value : v));
    }
    ck_assert_alae_ok(alaei_st_writer_save(w, dst));
    alaei_st_writer_destroy(w);
    alaei_st_free(f);
}

static void rewrite(const char *src, const char *dst, const char *arch, const char *name, const void *data) {
    rewrite_meta(src, dst, arch ? "alae.arch" : NULL, arch, name, data);
}

/* The tiny model's configuration with some values replaced. */
static void arch_json(char *buf, size_t cap, int latent, int hidden, int image, int net, int mapping, int dl) {
    snprintf(buf, cap,
             "{\"arch\":1,\"preset\":\"mnist-fc-paper\",\"latent_dim\":%d,\"mapping_layers\":%d,\"hidden\":%d,"
             "\"image_size\":%d,\"channels\":1,\"net_size\":%d,\"data_range\":0,\"d_layers\":%d,"
             "\"g_slope\":0.01,\"e_slope\":0.20000000000000001,\"e_out_slope\":0.01}",
             latent, mapping, hidden, image, net, dl);
}

START_TEST(model_load_tiny_is_accepted) {
    /* the baseline: the guard lets a normal load through, within the bound */
    const char *good = path_of("tiny.model");
    ck_assert_alae_ok(alae_model_save(tiny, good));
    char goodp[4200];
    snprintf(goodp, sizeof goodp, "%s", good);
    alae_model *m = NULL;
    arm();
    EXPECT_BOUNDED(alae_model_load(ctx, goodp, &m), ALAE_OK, 16 * file_size(goodp) + MiB);
    alae_model_destroy(m);
}
END_TEST

START_TEST(trainer_load_other_config_bomb) {
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_trainer_create(tiny, fg, ed, &t));
    char src[4200], dst[4200], arch[512];
    snprintf(src, sizeof src, "%s", path_of("tiny.state"));
    snprintf(dst, sizeof dst, "%s", path_of("bomb.state"));
    ck_assert_alae_ok(alae_trainer_save(t, src));
    arch_json(arch, sizeof arch, 4096, 65536, 4, 4, 32, 32);
    rewrite(src, dst, arch, NULL, NULL);
    arm();
    EXPECT_BOUNDED(alae_trainer_load(t, dst), ALAE_E_SHAPE, 16 * file_size(dst) + MiB);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
}
END_TEST

/* A model file holding the tiny model's tensors but whose configuration claims a huge model:
 * the tensors cannot match, so the load must fail (ALAE_E_FORMAT or ALAE_E_SHAPE) before the
 * parameters of the claimed model are allocated. (Bug B1 in docs/reliability.md: alae_model_load
 * used to allocate and zero-fill every parameter of the configuration first — 16 GiB for a 4 KB
 * file; lib/nn/model.c now checks the tensors first.) */
static void model_bomb(int latent, int hidden, int image, int net, int mapping, int dl) {
    char src[4200], dst[4200], arch[512];
    snprintf(src, sizeof src, "%s", path_of("tiny.model"));
    snprintf(dst, sizeof dst, "%s", path_of("bomb.model"));
    ck_assert_alae_ok(alae_model_save(tiny, src));
    arch_json(arch, sizeof arch, latent, hidden, image, net, mapping, dl);
    rewrite(src, dst, arch, NULL, NULL);
    alae_model *m = NULL;
    arm();
    alae_status s = alae_model_load(ctx, dst, &m);
    alae_guard_disarm();
    size_t big = alae_guard_largest(), bound = 16 * file_size(dst) + MiB;
    alae_model_destroy(m);
    ck_assert_msg(big <= bound,
                  "alae_model_load of a %zu-byte file claiming %s asked for %zu bytes at once (bound %zu; %zu "
                  "requests refused by the guard); status %d: %s",
                  file_size(dst), arch, big, bound, alae_guard_refused(), (int)s, alae_last_error());
    ck_assert_msg(s == ALAE_E_FORMAT || s == ALAE_E_SHAPE, "status %d: %s", (int)s, alae_last_error());
}

START_TEST(model_load_config_bomb_hidden) { model_bomb(4, 65536, 4, 4, 1, 1); }
END_TEST

START_TEST(model_load_config_bomb_image) { model_bomb(4, 1024, 2048, 2048, 1, 1); }
END_TEST

START_TEST(model_load_config_bomb_layers) { model_bomb(4096, 16384, 4, 4, 32, 32); }
END_TEST

/* Bug B2 (docs/reliability.md): alae_trainer_load did not range-check the Adam step counts
 * (tensor "adam.t"). INT64_MAX loaded and the next alae_trainer_step overflowed it (undefined
 * behaviour); a negative count turned the parameters into NaN at the next step. */
START_TEST(trainer_load_adam_t_out_of_range) {
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_trainer_create(tiny, fg, ed, &t));
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s", path_of("tiny.state"));
    snprintf(dst, sizeof dst, "%s", path_of("adam_t.state"));
    ck_assert_alae_ok(alae_trainer_save(t, src));
    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(src, &f));
    const alaei_st_tensor *at = alaei_st_find(f, "adam.t");
    ck_assert_ptr_nonnull(at);
    int64_t *bad = malloc(at->numel * sizeof(int64_t));
    ck_assert_ptr_nonnull(bad);
    for (size_t i = 0; i < at->numel; i++) bad[i] = i % 2 ? INT64_MAX : -1;
    alaei_st_free(f);
    rewrite(src, dst, NULL, "adam.t", bad);
    free(bad);
    alae_status s = alae_trainer_load(t, dst);
    ck_assert_msg(s == ALAE_E_FORMAT, "alae_trainer_load of Adam step counts INT64_MAX and -1 returned %d (%s)", (int)s,
                  s ? alae_last_error() : "accepted");
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
}
END_TEST

/* Finding L2 (docs/reliability.md): the settings a training state restores must pass the
 * setters' range checks; an unparseable settings string is refused, not ignored. */
static alae_status load_with_settings(alae_trainer *t, const char *settings) {
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s", path_of("tiny.state"));
    snprintf(dst, sizeof dst, "%s", path_of("settings.state"));
    ck_assert_alae_ok(alae_trainer_save(t, src));
    rewrite_meta(src, dst, "alae.trainer", settings, NULL, NULL);
    return alae_trainer_load(t, dst);
}

START_TEST(trainer_load_settings_out_of_range) {
    static const char *bad[] = {
        "{\"r1_gamma\":-5}", "{\"fg_lr\":0}", "{\"ed_beta2\":1}", "{\"fg_eps\":-1}", "{\"dlatent_beta\":7}",
        "{\"latent_loss\":3}", "{\"ed_lr\":\"x\"}", "{\"fg_lr\":\"x\",\"ed_lr\":", "[1,2]", "{\"level_lr_3\":-1}",
    };
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_trainer_create(tiny, fg, ed, &t));
    ck_assert_alae_ok(alae_trainer_set(t, ALAE_TRAIN_R1_GAMMA, 3.0));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alae_status s = load_with_settings(t, bad[i]);
        ck_assert_msg(s == ALAE_E_FORMAT, "settings %s: alae_trainer_load returned %d", bad[i], (int)s);
        ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae.trainer"));
        double gamma = 0;
        ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_R1_GAMMA, &gamma));
        ck_assert_msg(gamma == 3.0, "settings %s: a refused file changed R1 gamma to %g", bad[i], gamma);
    }
    ck_assert_alae_ok(load_with_settings(t, "{\"r1_gamma\":2.5,\"fg_lr\":0.001}"));
    double gamma = 0, lr = 0;
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_R1_GAMMA, &gamma));
    ck_assert_alae_ok(alae_optimizer_get(fg, ALAE_OPT_LR, &lr));
    ck_assert(gamma == 2.5 && lr == 0.001);
    /* only top-level keys are settings: not a nested object's, not text inside a string */
    ck_assert_alae_ok(load_with_settings(t, "{\"nested\":{\"r1_gamma\":9},\"note\":\"\\\"r1_gamma\\\":7\"}"));
    ck_assert_alae_ok(alae_trainer_get(t, ALAE_TRAIN_R1_GAMMA, &gamma));
    ck_assert_msg(gamma == 2.5, "a nested or quoted r1_gamma was restored: %g", gamma);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
}
END_TEST

/* Issue #20: a state's counters are range-checked like the setters' values (they used to load
 * as they were, or fall back silently): step and seed at most 2^53, the schedule position within
 * alae_trainer_set_position's bounds, the level one of the model's. */
START_TEST(trainer_load_counters_out_of_range) {
    static const char *bad[] = {
        "{\"epoch\":1099511627777}", "{\"epoch_images\":-1}", "{\"epochs\":5e9}", "{\"lod\":1}",
        "{\"level_batch_2\":0}",     "{\"epochs_per_lod\":0.5}", "{\"schedule_active\":2}",
    };
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_F | ALAE_PART_G, &fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_E | ALAE_PART_D, &ed));
    ck_assert_alae_ok(alae_trainer_create(tiny, fg, ed, &t));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alae_status s = load_with_settings(t, bad[i]);
        ck_assert_msg(s == ALAE_E_FORMAT, "settings %s: alae_trainer_load returned %d", bad[i], (int)s);
    }
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s", path_of("tiny.state"));
    snprintf(dst, sizeof dst, "%s", path_of("counters.state"));
    ck_assert_alae_ok(alae_trainer_save(t, src));
    static const uint64_t states[][3] = {{(uint64_t)1 << 63, 0, 0}, {UINT64_MAX, 0, 0}, {0, 0, ((uint64_t)1 << 53) + 1}};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        rewrite(src, dst, NULL, "state", states[i]);
        alae_status s = alae_trainer_load(t, dst);
        ck_assert_msg(s == ALAE_E_FORMAT, "state {%llu, %llu, %llu}: alae_trainer_load returned %d",
                      (unsigned long long)states[i][0], (unsigned long long)states[i][1],
                      (unsigned long long)states[i][2], (int)s);
        ck_assert_uint_eq(alae_trainer_step_count(t), 0);
    }
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
}
END_TEST

/* The alae.inference metadata of a model file ({"lod": L, "blend": B}) is read with the strict
 * JSON parser: the tiny MLP has one level, so only lod 0 with blend 1 loads. */
START_TEST(model_load_inference_metadata) {
    static const struct {
        const char *json;
        int ok;
    } cases[] = {
        {"{\"lod\":0,\"blend\":1}", 1},     {"{\"blend\":1.0,\"lod\":0.0,\"note\":[1]}", 1},
        {"{\"lod\":0,\"blend\":0.5}", 0},   {"{\"lod\":1,\"blend\":1}", 0},
        {"{\"lod\":0}", 0},                 {"{\"lod\":\"0\",\"blend\":1}", 0},
        {"{\"lod\":0,\"blend\":1", 0},      {"{\"x\":{\"lod\":0,\"blend\":1}}", 0},
        {"{\"note\":\"\\\"lod\\\":0,\\\"blend\\\":1\"}", 0}, {"[0,1]", 0},
        {"{\"lod\":0x0,\"blend\":1}", 0},
    };
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s", path_of("tiny.model"));
    snprintf(dst, sizeof dst, "%s", path_of("inference.model"));
    ck_assert_alae_ok(alae_model_save(tiny, src));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rewrite_meta(src, dst, "alae.inference", cases[i].json, NULL, NULL);
        alae_model *m = NULL;
        alae_status s = alae_model_load(ctx, dst, &m);
        alae_model_destroy(m);
        ck_assert_msg(cases[i].ok ? s == ALAE_OK : s == ALAE_E_FORMAT, "alae.inference %s: status %d (%s)",
                      cases[i].json, (int)s, s ? alae_last_error() : "loaded");
    }
}
END_TEST

/* Every setting a trainer saves comes back in a fresh trainer that loads the file. */
typedef struct {
    int32_t key;
    double value;
} setting;

START_TEST(trainer_settings_round_trip) {
    static const setting train[] = {{ALAE_TRAIN_R1_GAMMA, 7.0},         {ALAE_TRAIN_LATENT_LOSS, ALAE_LATENT_L1},
                                    {ALAE_TRAIN_LATENT_LOSS_WEIGHT, 0.5}, {ALAE_TRAIN_EMA_HALF_LIFE, 1234.0},
                                    {ALAE_TRAIN_DLATENT_BETA, 0.9},      {ALAE_TRAIN_SEED, 77.0}};
    static const setting opt[2][4] = {{{ALAE_OPT_LR, 0.003}, {ALAE_OPT_BETA1, 0.1}, {ALAE_OPT_BETA2, 0.95}, {ALAE_OPT_EPS, 1e-7}},
                                      {{ALAE_OPT_LR, 0.004}, {ALAE_OPT_BETA1, 0.2}, {ALAE_OPT_BETA2, 0.9}, {ALAE_OPT_EPS, 2e-7}}};
    alae_optimizer *o[2][2];
    alae_trainer *t[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_F | ALAE_PART_G, &o[k][0]));
        ck_assert_alae_ok(alae_optimizer_create_adam(tiny, ALAE_PART_E | ALAE_PART_D, &o[k][1]));
        ck_assert_alae_ok(alae_trainer_create(tiny, o[k][0], o[k][1], &t[k]));
    }
    for (size_t i = 0; i < sizeof train / sizeof train[0]; i++)
        ck_assert_alae_ok(alae_trainer_set(t[0], train[i].key, train[i].value));
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 4; i++) ck_assert_alae_ok(alae_optimizer_set(o[0][j], opt[j][i].key, opt[j][i].value));
    char path[4200];
    snprintf(path, sizeof path, "%s", path_of("round_trip.state"));
    ck_assert_alae_ok(alae_trainer_save(t[0], path));
    ck_assert_alae_ok(alae_trainer_load(t[1], path));
    for (size_t i = 0; i < sizeof train / sizeof train[0]; i++) {
        double v = -1;
        ck_assert_alae_ok(alae_trainer_get(t[1], train[i].key, &v));
        ck_assert_msg(v == train[i].value, "trainer key %d: saved %g, loaded %g", (int)train[i].key, train[i].value, v);
    }
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 4; i++) {
            double v = -1;
            ck_assert_alae_ok(alae_optimizer_get(o[1][j], opt[j][i].key, &v));
            ck_assert_msg(v == opt[j][i].value, "optimizer %d key %d: saved %g, loaded %g", j, (int)opt[j][i].key,
                          opt[j][i].value, v);
        }
    for (int k = 0; k < 2; k++) {
        alae_trainer_destroy(t[k]);
        alae_optimizer_destroy(o[k][0]);
        alae_optimizer_destroy(o[k][1]);
    }
}
END_TEST

static Suite *bombs_suite(void) {
    Suite *s = suite_create("resource_bombs");
    TCase *io = tcase_create("readers");
    tcase_add_checked_fixture(io, setup, teardown);
    tcase_set_timeout(io, 300);
    tcase_add_test(io, st_header_length_2pow64_minus_1);
    tcase_add_test(io, st_header_length_past_eof);
    tcase_add_test(io, st_shape_products_overflow);
    tcase_add_test(io, st_offsets_past_the_data);
    tcase_add_test(io, st_tensor_count_limit);
    tcase_add_test(io, json_deep_and_wide_inputs);
    tcase_add_test(io, idx_huge_claims_raw);
    tcase_add_test(io, idx_huge_claims_gzip);
    tcase_add_test(io, npy_huge_claims);
    tcase_add_test(io, image_header_claims);
    suite_add_tcase(s, io);
    TCase *files = tcase_create("model_files");
    tcase_add_checked_fixture(files, tiny_setup, tiny_teardown);
    tcase_set_timeout(files, 300);
    tcase_add_test(files, model_load_tiny_is_accepted);
    tcase_add_test(files, trainer_load_other_config_bomb);
    tcase_add_test(files, model_load_config_bomb_hidden);
    tcase_add_test(files, model_load_config_bomb_image);
    tcase_add_test(files, model_load_config_bomb_layers);
    tcase_add_test(files, trainer_load_adam_t_out_of_range);
    tcase_add_test(files, trainer_load_settings_out_of_range);
    tcase_add_test(files, trainer_settings_round_trip);
    tcase_add_test(files, trainer_load_counters_out_of_range);
    tcase_add_test(files, model_load_inference_metadata);
    suite_add_tcase(s, files);
    return s;
}

int main(void) { return alae_test_run_suite(bombs_suite()); }
