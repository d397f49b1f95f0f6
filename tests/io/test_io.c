/* lib/io: the strict JSON subset parser, safetensors (strict reader, atomic writer), IDX (raw and
 * gzip) with the deterministic shuffle, PNG grids and .npy files. Every malformed input must give
 * a clean status and message, never a crash (run under ASan/UBSan). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, lstat */
#endif
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

#include "io/idx.h"
#include "io/image_write.h"
#include "io/npy.h"
#include "io/json_min.h"
#include "io/safetensors.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#endif
#include "third_party/stb/stb_image.h"
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define FASHION_T10K "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define FASHION_T10K_LABELS "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"

/* ---- helpers ---- */

static char tmpdir[256];

static void setup(void) { alae_test_make_tmpdir(tmpdir, sizeof tmpdir, "alae_test_io."); }
static void teardown(void) { alae_test_remove_tree(tmpdir); }

static void tpath(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static void write_bytes(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* number of entries in a directory (excluding . and ..), -1 if it cannot be opened */
static int dir_entries(const char *path, const char *containing) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (!containing || strstr(e->d_name, containing)) k++;
    }
    closedir(d);
    return k;
}

static int last_error_has(const char *s) { return strstr(alae_last_error(), s) != NULL; }

#define ck_assert_status(expr, want)                                                          \
    do {                                                                                      \
        alae_status _s = (expr);                                                              \
        ck_assert_msg(_s == (want), "%s returned %d (%s), expected %d: %s", #expr, (int)_s, \
                      alae_status_string(_s), (int)(want), alae_last_error());                \
    } while (0)

/* ================================================================================== */
/* JSON                                                                               */

static alae_status jparse(const char *s, int depth, alaei_json_doc **doc) {
    return alaei_json_parse(s, strlen(s), depth, 0, doc, NULL);
}

START_TEST(json_values) {
    const char *text =
        " {\"a\": [1, -2, 0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808,"
        " 1.5, 2e3], \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000z\","
        " \"t\": true, \"f\": false, \"n\": null, \"o\": {}, \"e\": [], \"u\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} ";
    alaei_json_doc *doc = NULL;
    ck_assert_alae_ok(jparse(text, 8, &doc));
    const alaei_json *r = alaei_json_root(doc);
    ck_assert_int_eq(r->type, ALAEI_JSON_OBJECT);
    ck_assert_uint_eq(r->count, 8);
    const alaei_json *a = alaei_json_get(r, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->type, ALAEI_JSON_ARRAY);
    ck_assert_uint_eq(a->count, 9);
    ck_assert_int_eq(a->items[0]->type, ALAEI_JSON_INT);
    ck_assert_int_eq(a->items[0]->ival, 1);
    ck_assert_int_eq(a->items[1]->ival, -2);
    ck_assert_int_eq(a->items[3]->ival, 0);
    ck_assert_int_eq(a->items[3]->negative, 1);
    ck_assert_int_eq(a->items[4]->ival, INT64_MAX);
    ck_assert_int_eq(a->items[5]->ival, INT64_MIN);
    ck_assert_int_eq(a->items[6]->type, ALAEI_JSON_NUMBER);
    ck_assert_int_eq(a->items[7]->type, ALAEI_JSON_NUMBER);
    ck_assert_int_eq(a->items[8]->type, ALAEI_JSON_NUMBER);
    uint64_t u = 0;
    ck_assert_ptr_null(alaei_json_to_u64(a->items[4], &u));
    ck_assert_uint_eq(u, (uint64_t)INT64_MAX);
    ck_assert_str_eq(alaei_json_to_u64(a->items[1], &u), "is negative");
    ck_assert_str_eq(alaei_json_to_u64(a->items[3], &u), "is negative");
    ck_assert_str_eq(alaei_json_to_u64(a->items[6], &u), "is too large");
    ck_assert_str_eq(alaei_json_to_u64(a->items[7], &u), "is not an integer");
    ck_assert_str_eq(alaei_json_to_u64(a->items[8], &u), "is not an integer");
    const alaei_json *s = alaei_json_get(r, "s");
    ck_assert_int_eq(s->type, ALAEI_JSON_STRING);
    const char want[] = "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0z";
    ck_assert_uint_eq(s->len, sizeof want - 1);
    ck_assert_int_eq(memcmp(s->str, want, sizeof want), 0);
    ck_assert_int_eq(alaei_json_get(r, "t")->type, ALAEI_JSON_TRUE);
    ck_assert_int_eq(alaei_json_get(r, "f")->type, ALAEI_JSON_FALSE);
    ck_assert_int_eq(alaei_json_get(r, "n")->type, ALAEI_JSON_NULL);
    ck_assert_uint_eq(alaei_json_get(r, "o")->count, 0);
    ck_assert_uint_eq(alaei_json_get(r, "e")->count, 0);
    ck_assert_str_eq(alaei_json_get(r, "u")->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ck_assert_ptr_null(alaei_json_get(r, "zz"));
    ck_assert_ptr_null(alaei_json_get(a, "a"));
    /* document order and key order */
    ck_assert_str_eq(r->items[0]->key, "a");
    ck_assert_str_eq(r->items[7]->key, "u");
    ck_assert_str_eq(r->sorted[0]->key, "a");
    ck_assert_str_eq(r->sorted[1]->key, "e");
    alaei_json_free(doc);
    alaei_json_free(NULL);

    /* scalars at the top level */
    ck_assert_alae_ok(jparse("42", 1, &doc));
    ck_assert_int_eq(alaei_json_root(doc)->ival, 42);
    alaei_json_free(doc);
    ck_assert_alae_ok(jparse("\"\"", 1, &doc));
    ck_assert_uint_eq(alaei_json_root(doc)->len, 0);
    alaei_json_free(doc);
}
END_TEST

START_TEST(json_rejects) {
    static const struct {
        const char *text;
        size_t len; /* 0 = strlen */
        const char *msg;
    } bad[] = {
        {"", 0, "unexpected end"},
        {"   ", 0, "unexpected end"},
        {"[1,]", 0, "unexpected character"},
        {"{\"a\":1,}", 0, "expected a string key"},
        {"[1 2]", 0, "expected ','"},
        {"01", 0, "trailing data"},
        {"-", 0, "invalid number"},
        {"1.", 0, "invalid number"},
        {".5", 0, "unexpected character"},
        {"1e", 0, "invalid number"},
        {"+1", 0, "unexpected character"},
        {"\"abc", 0, "unterminated string"},
        {"\"a\x01\"", 0, "control character"},
        {"\"\\q\"", 0, "invalid escape"},
        {"\"\\u12\"", 0, "invalid \\u escape"},
        {"\"\\udc00\"", 0, "lone low surrogate"},
        {"\"\\ud800\"", 0, "without a low surrogate"},
        {"\"\\ud800\\u0041\"", 0, "without a low surrogate"},
        {"\"\xc0\x80\"", 0, "invalid UTF-8"},          /* overlong NUL */
        {"\"\xe0\x80\xaf\"", 0, "invalid UTF-8"},      /* overlong '/' */
        {"\"\xed\xa0\x80\"", 0, "invalid UTF-8"},      /* encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8"},  /* > U+10FFFF */
        {"\"\xe2\x82\"", 0, "invalid UTF-8"},          /* truncated sequence */
        {"\"\x80\"", 0, "invalid UTF-8"},              /* stray continuation */
        {"\"\xff\"", 0, "invalid UTF-8"},
        {"\xc3\xa9", 0, "outside a string"},
        {"{\"a\":1,\"a\":2}", 0, "duplicate key \"a\""},
        {"{\"a\":1}x", 0, "trailing data"},
        {"{\"a\":1} \xff", 0, "invalid UTF-8"},
        {"{\"a\"}", 0, "expected ':'"},
        {"{1:2}", 0, "expected a string key"},
        {"tru", 0, "invalid literal"},
        {"nul", 0, "invalid literal"},
        {"True", 0, "unexpected character"},
        {"[1]\0", 4, "trailing data"},
        {"[\0]", 3, "unexpected byte 0x00"},
        {"[[[[1]]]]", 0, "nesting deeper than 3"},
        {"{\"a\":{\"b\":{\"c\":{}}}}", 0, "nesting deeper than 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alaei_json_doc *doc = (alaei_json_doc *)(uintptr_t)1;
        alaei_json_error err;
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        alae_status st = alaei_json_parse(bad[i].text, len, 3, 0, &doc, &err);
        ck_assert_msg(st == ALAE_E_FORMAT, "case %zu: status %d", i, (int)st);
        ck_assert_msg(doc == (alaei_json_doc *)(uintptr_t)1, "case %zu: out touched", i);
        ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL, "case %zu: message '%s' lacks '%s'", i,
                      err.msg, bad[i].msg);
        ck_assert_msg(strstr(alae_last_error(), "at byte") != NULL, "case %zu: %s", i, alae_last_error());
    }
    /* the offset of the duplicate key is its second occurrence */
    alaei_json_doc *doc = NULL;
    alaei_json_error err;
    const char *dup = "{\"k\":1, \"x\":2, \"k\":3}";
    ck_assert_status(alaei_json_parse(dup, strlen(dup), 3, 0, &doc, &err), ALAE_E_FORMAT);
    ck_assert_uint_eq(err.offset, 15);
    /* depth: exactly the limit is fine; a deep array is refused without deep recursion */
    ck_assert_alae_ok(jparse("[[[1]]]", 3, &doc));
    alaei_json_free(doc);
    char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = 0;
    ck_assert_status(jparse(deep, 64, &doc), ALAE_E_FORMAT);
    ck_assert_status(jparse(deep, 65, &doc), ALAE_E_INVALID_ARG);
    ck_assert_status(jparse("1", 0, &doc), ALAE_E_INVALID_ARG);
    /* the node limit */
    ck_assert_status(alaei_json_parse("[1,2,3]", 7, 3, 3, &doc, NULL), ALAE_E_FORMAT);
    ck_assert(last_error_has("more than 3 values"));
    ck_assert_alae_ok(alaei_json_parse("[1,2,3]", 7, 3, 4, &doc, NULL));
    alaei_json_free(doc);
    ck_assert_status(alaei_json_parse("1", 1, 3, 0, NULL, NULL), ALAE_E_INVALID_ARG);
}
END_TEST

START_TEST(json_utf8_validator) {
    size_t bad = 99;
    ck_assert_int_eq(alaei_utf8_valid("abc\xc3\xa9", 5, &bad), 1);
    ck_assert_int_eq(alaei_utf8_valid("ab\xc3", 3, &bad), 0);
    ck_assert_uint_eq(bad, 2);
    ck_assert_int_eq(alaei_utf8_valid("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, NULL), 1); /* U+FFFF, U+10FFFF */
    ck_assert_int_eq(alaei_utf8_valid("\xf5\x80\x80\x80", 4, NULL), 0);
    ck_assert_int_eq(alaei_utf8_valid("", 0, NULL), 1);
}
END_TEST

/* random mutations of a valid document: any status but no crash, and OK only for valid JSON */
START_TEST(json_mutations_never_crash) {
    const char *base = "{\"a\":[1,2,{\"b\":\"c\\u00e9\\ud83d\\ude00\"}],\"d\":-1.5e3,\"e\":[true,false,null]}";
    size_t n = strlen(base);
    char buf[256];
    uint64_t rng = 7;
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, n);
        size_t len = n;
        int edits = 1 + (int)alae_test_uniform(&rng, 0, 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)alae_test_uniform(&rng, 0, (double)len);
            int kind = (int)alae_test_uniform(&rng, 0, 3);
            if (kind == 0) buf[pos] = (char)(int)alae_test_uniform(&rng, 0, 256);
            else if (kind == 1 && len > 1) len = pos + 1; /* truncate */
            else buf[pos] = "{}[]\",:\\u0e-.\xff\xc3"[(int)alae_test_uniform(&rng, 0, 16)];
        }
        alaei_json_doc *doc = NULL;
        alae_status st = alaei_json_parse(buf, len, 8, 0, &doc, NULL);
        ck_assert(st == ALAE_OK || st == ALAE_E_FORMAT);
        if (st == ALAE_OK) {
            ok++;
            alaei_json_free(doc);
        }
    }
    ck_assert_int_gt(ok, 0);
}
END_TEST

/* ================================================================================== */
/* safetensors                                                                        */

/* A file image from a header text and a data area of data_len bytes (value i & 0xff). */
static unsigned char *st_image(const char *header, size_t data_len, size_t *n) {
    size_t hn = strlen(header);
    *n = 8 + hn + data_len;
    unsigned char *b = malloc(*n);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    for (size_t i = 0; i < data_len; i++) b[8 + hn + i] = (unsigned char)i;
    return b;
}

static alae_status st_try(const char *header, size_t data_len) {
    size_t n;
    unsigned char *b = st_image(header, data_len, &n);
    alaei_st_file *f = (alaei_st_file *)(uintptr_t)1;
    alae_status st = alaei_st_parse(b, n, &f);
    if (st == ALAE_OK) alaei_st_free(f);
    else ck_assert_msg(f == (alaei_st_file *)(uintptr_t)1, "out touched on failure");
    free(b);
    return st;
}

/* expects ALAE_E_FORMAT and a message containing msg */
static void st_bad(const char *header, size_t data_len, const char *msg) {
    alae_status st = st_try(header, data_len);
    ck_assert_msg(st == ALAE_E_FORMAT, "header %.120s: status %d (%s)", header, (int)st, alae_last_error());
    ck_assert_msg(last_error_has(msg), "header %.120s: message '%s' lacks '%s'", header,
                  alae_last_error(), msg);
}

static float f32_data[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e30f};
static int64_t i64_step = -1234567890123ll;
static uint64_t u64_rng[4] = {1u, UINT64_MAX, 0x0123456789abcdefull, 42u};
static float f32_scalar = 7.0f;

static alaei_st_writer *make_writer(void) {
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s05[2] = {0, 5};
    ck_assert_alae_ok(alaei_st_writer_add(w, "G.fc1.weight", ALAEI_ST_F32, 2, s23, f32_data));
    ck_assert_alae_ok(alaei_st_writer_add(w, "state.step", ALAEI_ST_I64, 0, NULL, &i64_step));
    ck_assert_alae_ok(alaei_st_writer_add(w, "state.rng", ALAEI_ST_U64, 1, s4, u64_rng));
    ck_assert_alae_ok(alaei_st_writer_add(w, "a.scalar", ALAEI_ST_F32, 0, NULL, &f32_scalar));
    ck_assert_alae_ok(alaei_st_writer_add(w, "empty", ALAEI_ST_F32, 2, s05, NULL));
    ck_assert_alae_ok(alaei_st_writer_add(w, "odd \"name\"\n\xc3\xa9", ALAEI_ST_F32, 1, s4, f32_data));
    ck_assert_alae_ok(alaei_st_writer_set_metadata(w, "alae.format", "1"));
    ck_assert_alae_ok(alaei_st_writer_set_metadata(w, "alae.arch", "{\"latent\": 50, \"q\": \"a\\\\b\"}\t\x01"));
    ck_assert_alae_ok(alaei_st_writer_set_metadata(w, "alae.kind", "model"));
    ck_assert_alae_ok(alaei_st_writer_set_metadata(w, "alae.kind", "trainer")); /* replaces */
    return w;
}

static void check_roundtrip_file(const alaei_st_file *f) {
    ck_assert_uint_eq(alaei_st_count(f), 6);
    /* name order */
    ck_assert_str_eq(alaei_st_at(f, 0)->name, "G.fc1.weight");
    ck_assert_str_eq(alaei_st_at(f, 1)->name, "a.scalar");
    ck_assert_ptr_null(alaei_st_at(f, 6));
    const alaei_st_tensor *t = alaei_st_find(f, "G.fc1.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, ALAEI_ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_int_eq(t->shape[1], 3);
    ck_assert_uint_eq(t->numel, 6);
    ck_assert_uint_eq(t->nbytes, 24);
    ck_assert_int_eq(t->begin % 4, 0);
    float got[6];
    int64_t s23[2] = {2, 3};
    ck_assert_alae_ok(alaei_st_get_f32(f, "G.fc1.weight", 2, s23, got));
    ck_assert_int_eq(memcmp(got, f32_data, sizeof got), 0);
    /* shape mismatch message */
    int64_t wrong[2] = {2, 4};
    ck_assert_status(alaei_st_get_f32(f, "G.fc1.weight", 2, wrong, got), ALAE_E_SHAPE);
    ck_assert_msg(last_error_has("tensor 'G.fc1.weight' has shape [2,3], expected [2,4]"), "%s", alae_last_error());
    ck_assert_status(alaei_st_get_f32(f, "G.fc1.weight", 1, s23, got), ALAE_E_SHAPE);
    ck_assert_status(alaei_st_get_f32(f, "nope", 2, s23, got), ALAE_E_FORMAT);
    ck_assert(last_error_has("tensor 'nope' not found"));
    ck_assert_status(alaei_st_get_f32(f, "state.step", 0, NULL, got), ALAE_E_FORMAT);
    ck_assert(last_error_has("dtype I64"));
    ck_assert_status(alaei_st_get_f32(f, "G.fc1.weight", 9, s23, got), ALAE_E_INVALID_ARG);
    float sc = 0;
    ck_assert_alae_ok(alaei_st_get_f32(f, "a.scalar", 0, NULL, &sc));
    ck_assert(sc == 7.0f);
    ck_assert_int_eq(alaei_st_find(f, "a.scalar")->numel, 1);
    int64_t s05[2] = {0, 5};
    ck_assert_alae_ok(alaei_st_get_f32(f, "empty", 2, s05, NULL));
    ck_assert_uint_eq(alaei_st_find(f, "empty")->nbytes, 0);
    int64_t s4[1] = {4};
    ck_assert_alae_ok(alaei_st_get_f32(f, "odd \"name\"\n\xc3\xa9", 1, s4, got));
    ck_assert_int_eq(memcmp(got, f32_data, 16), 0);
    int64_t step = 0;
    ck_assert_alae_ok(alaei_st_get_i64(f, "state.step", &step));
    ck_assert_int_eq(step, i64_step);
    ck_assert_status(alaei_st_get_i64(f, "G.fc1.weight", &step), ALAE_E_SHAPE);
    ck_assert_status(alaei_st_get_i64(f, "a.scalar", &step), ALAE_E_FORMAT);
    uint64_t rng[4];
    ck_assert_alae_ok(alaei_st_get_u64(f, "state.rng", 4, rng));
    ck_assert_int_eq(memcmp(rng, u64_rng, sizeof rng), 0);
    ck_assert_status(alaei_st_get_u64(f, "state.rng", 3, rng), ALAE_E_SHAPE);
    /* alignment: 8-byte tensors first */
    ck_assert_int_eq(alaei_st_find(f, "state.rng")->begin % 8, 0);
    ck_assert_int_eq(alaei_st_find(f, "state.step")->begin % 8, 0);
    ck_assert_uint_lt(alaei_st_find(f, "state.step")->begin, alaei_st_find(f, "G.fc1.weight")->begin);
    /* metadata */
    ck_assert_uint_eq(alaei_st_metadata_count(f), 3);
    ck_assert_str_eq(alaei_st_metadata_get(f, "alae.format"), "1");
    ck_assert_str_eq(alaei_st_metadata_get(f, "alae.kind"), "trainer");
    ck_assert_str_eq(alaei_st_metadata_get(f, "alae.arch"), "{\"latent\": 50, \"q\": \"a\\\\b\"}\t\x01");
    ck_assert_ptr_null(alaei_st_metadata_get(f, "alae.lod"));
    const char *k = NULL, *v = NULL;
    ck_assert_int_eq(alaei_st_metadata_at(f, 0, &k, &v), 1);
    ck_assert_str_eq(k, "alae.arch");
    ck_assert_int_eq(alaei_st_metadata_at(f, 3, &k, &v), 0);
}

START_TEST(st_roundtrip) {
    char path[512];
    tpath(path, sizeof path, "model.safetensors");
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alaei_st_writer_destroy(NULL);
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 1); /* no temporary file left */

    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(path, &f));
    check_roundtrip_file(f);
    alaei_st_free(f);
    alaei_st_free(NULL);

    /* the same bytes from memory; the header is padded with spaces to a multiple of 8 */
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    ck_assert_ptr_nonnull(b);
    uint64_t hn = 0;
    for (int i = 0; i < 8; i++) hn |= (uint64_t)b[i] << (8 * i);
    ck_assert_uint_eq(hn % 8, 0);
    ck_assert_uint_eq(b[8], '{');
    ck_assert(memcmp(b + 8, "{\"__metadata__\":{\"alae.arch\":", 29) == 0);
    ck_assert_uint_eq(n, 8 + hn + 24 + 8 + 32 + 4 + 0 + 16);
    ck_assert_alae_ok(alaei_st_parse(b, n, &f));
    free(b); /* the parsed file owns a copy */
    check_roundtrip_file(f);
    alaei_st_free(f);
}
END_TEST

START_TEST(st_float_conversions) {
    /* F64, F16, BF16 read as float32 */
    double d[3] = {1.0, -2.5, 1e-3};
    uint16_t h[6] = {0x3C00, 0xC000, 0x0001, 0x7C00, 0x0000, 0x8000}; /* 1, -2, 2^-24, inf, 0, -0 */
    uint16_t bf[2] = {0x3F80, 0xC040};                                  /* 1, -3 */
    int64_t s3[1] = {3}, s6[1] = {6}, s2[1] = {2};
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    ck_assert_alae_ok(alaei_st_writer_add(w, "d", ALAEI_ST_F64, 1, s3, d));
    ck_assert_alae_ok(alaei_st_writer_add(w, "h", ALAEI_ST_F16, 1, s6, h));
    ck_assert_alae_ok(alaei_st_writer_add(w, "bf", ALAEI_ST_BF16, 1, s2, bf));
    char path[512];
    tpath(path, sizeof path, "conv.safetensors");
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(path, &f));
    float o[6];
    ck_assert_alae_ok(alaei_st_get_f32(f, "d", 1, s3, o));
    ck_assert(o[0] == 1.0f && o[1] == -2.5f && o[2] == (float)1e-3);
    ck_assert_alae_ok(alaei_st_get_f32(f, "h", 1, s6, o));
    ck_assert(o[0] == 1.0f && o[1] == -2.0f && o[2] == ldexpf(1.0f, -24) && isinf(o[3]) && o[4] == 0.0f &&
              signbit(o[5]));
    ck_assert_alae_ok(alaei_st_get_f32(f, "bf", 1, s2, o));
    ck_assert(o[0] == 1.0f && o[1] == -3.0f);
    /* layout: F64 (8) first, then F16/BF16 by name */
    ck_assert_uint_eq(alaei_st_find(f, "d")->begin, 0);
    ck_assert_uint_eq(alaei_st_find(f, "bf")->begin, 24);
    ck_assert_uint_eq(alaei_st_find(f, "h")->begin, 28);
    alaei_st_free(f);
}
END_TEST

/* alaei_st_open_lazy: the header at open, each tensor read from the file when asked; the same
 * floats as a full open; integer accessors refuse; a file cut short after opening fails with
 * ALAE_E_IO, not a crash or stale data. */
START_TEST(st_lazy_reads_tensors_from_the_file) {
    char path[512];
    tpath(path, sizeof path, "lazy.safetensors");
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alaei_st_file *full = NULL, *lazy = NULL;
    ck_assert_alae_ok(alaei_st_open(path, &full));
    ck_assert_alae_ok(alaei_st_open_lazy(path, &lazy));
    int64_t s23[2] = {2, 3}, s4[1] = {4};
    float a[6], b[6];
    ck_assert_alae_ok(alaei_st_get_f32(full, "G.fc1.weight", 2, s23, a));
    ck_assert_alae_ok(alaei_st_get_f32(lazy, "G.fc1.weight", 2, s23, b));
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_alae_ok(alaei_st_get_f32(lazy, "odd \"name\"\n\xc3\xa9", 1, s4, b));
    ck_assert_int_eq(memcmp(a, b, 4 * sizeof(float)), 0);
    ck_assert_str_eq(alaei_st_metadata_get(lazy, "alae.arch"), alaei_st_metadata_get(full, "alae.arch"));
    int64_t step = 0;
    ck_assert_status(alaei_st_get_i64(lazy, "state.step", &step), ALAE_E_STATE);
    ck_assert_int_eq(truncate(path, 8), 0);
    ck_assert_status(alaei_st_get_f32(lazy, "G.fc1.weight", 2, s23, b), ALAE_E_IO);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "lazy.safetensors"));
    alaei_st_free(lazy);
    alaei_st_free(full);
    ck_assert_status(alaei_st_open_lazy(path, &lazy), ALAE_E_FORMAT); /* too short now: refused at open */
}
END_TEST

START_TEST(st_writer_rejects) {
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    float x[2] = {0, 0};
    int64_t s2[1] = {2}, neg[1] = {-1}, big[3] = {INT64_MAX, INT64_MAX, 2};
    int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    char longname[300];
    memset(longname, 'n', 257);
    longname[257] = 0;
    ck_assert_status(alaei_st_writer_add(w, longname, ALAEI_ST_F32, 1, s2, x), ALAE_E_INVALID_ARG);
    longname[256] = 0;
    ck_assert_alae_ok(alaei_st_writer_add(w, longname, ALAEI_ST_F32, 1, s2, x));
    ck_assert_status(alaei_st_writer_add(w, "", ALAEI_ST_F32, 1, s2, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "__metadata__", ALAEI_ST_F32, 1, s2, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "bad\xff", ALAEI_ST_F32, 1, s2, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_DTYPE_COUNT, 1, s2, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_F32, 9, s9, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_F32, 1, neg, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_F32, 3, big, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_F32, 1, s2, NULL), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_add(w, "n", ALAEI_ST_F32, 1, NULL, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_set_metadata(w, "", "v"), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_writer_set_metadata(w, "k", "\xc0\x80"), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alaei_st_writer_add(w, "dup", ALAEI_ST_F32, 1, s2, x));
    ck_assert_alae_ok(alaei_st_writer_add(w, "dup", ALAEI_ST_I32, 1, s2, x));
    char path[512];
    tpath(path, sizeof path, "dup.safetensors");
    ck_assert_status(alaei_st_writer_save(w, path), ALAE_E_INVALID_ARG);
    ck_assert(last_error_has("duplicate tensor name 'dup'"));
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 0);
    alaei_st_writer_destroy(w);
    ck_assert_status(alaei_st_writer_create(NULL), ALAE_E_INVALID_ARG);
}
END_TEST

START_TEST(st_empty_and_limits) {
    ck_assert_alae_ok(st_try("{}", 0));
    ck_assert_alae_ok(st_try("{}      ", 0));
    ck_assert_alae_ok(st_try("{\"__metadata__\":{}}", 0));
    ck_assert_alae_ok(st_try("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1));
    /* a writer with nothing in it */
    alaei_st_writer *w = NULL;
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    char path[512];
    tpath(path, sizeof path, "empty.safetensors");
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(path, &f));
    ck_assert_uint_eq(alaei_st_count(f), 0);
    ck_assert_uint_eq(alaei_st_metadata_count(f), 0);
    alaei_st_free(f);

    /* 65536 tensors are fine, 65537 are not */
    size_t cap = 70000 * 64;
    char *h = malloc(cap);
    ck_assert_ptr_nonnull(h);
    for (int total = 65536; total <= 65537; total++) {
        size_t o = 0;
        h[o++] = '{';
        for (int i = 0; i < total; i++)
            o += (size_t)snprintf(h + o, cap - o, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                                  i ? "," : "", i, i, i + 1);
        h[o++] = '}';
        h[o] = 0;
        if (total == 65536) {
            ck_assert_alae_ok(st_try(h, (size_t)total));
        } else {
            st_bad(h, (size_t)total, "65537 tensors, at most 65536");
        }
    }
    free(h);
}
END_TEST

START_TEST(st_rejects_malformed_headers) {
    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ck_assert_alae_ok(st_try(ok1, 8));
    /* sizes and prefix */
    st_bad(ok1, 4, "go past the end");
    st_bad(ok1, 16, "the tensors cover 8 bytes but the data area has 16");
    st_bad(" {}", 0, "does not start with '{'");
    st_bad("[]", 0, "does not start with '{'");
    st_bad("", 0, "does not start with '{'");
    st_bad("{} x", 0, "trailing data");
    /* offsets */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           12, "overlap tensor 'a'");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
           20, "gap of 4 bytes");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "gap of 4 bytes after offset 0");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "reversed");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
           8, "overlap");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8, "too large");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "span 4 bytes but shape [2] of F32 needs 8");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets must be an array [begin, end]");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "data_offsets must be");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{}}}", 8, "data_offsets must be");
    /* dtype */
    st_bad("{\"a\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': unknown dtype 'F12'");
    st_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'f32'");
    st_bad("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype is an integer");
    /* duplicates */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
           8, "duplicate key \"a\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "duplicate key");
    /* shapes */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", 8, "overflows");
    st_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", 8, "overflows");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "shape[0] is negative");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 0, "shape[0] is negative");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,8]}}", 8, "data_offsets[0] is negative");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "shape[0] is not an integer");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}", 8, "is not an integer");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "is not a number");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
           "shape has 9 dimensions, at most 8");
    ck_assert_alae_ok(st_try("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8));
    ck_assert_alae_ok(st_try("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0));
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "shape is an integer");
    /* entries */
    st_bad("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing \"dtype\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing \"shape\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing \"data_offsets\"");
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown key 'x'");
    st_bad("{\"a\":[1]}", 0, "entry is an array");
    st_bad("{\"a\":\"x\"}", 0, "entry is a string");
    /* names */
    st_bad("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "empty name");
    st_bad("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "NUL");
    {
        char h[1024], name[300];
        memset(name, 'x', 257);
        name[257] = 0;
        snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
        st_bad(h, 1, "257 bytes, at most 256");
        name[256] = 0;
        snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name);
        ck_assert_alae_ok(st_try(h, 1));
    }
    /* UTF-8 */
    st_bad("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "not valid UTF-8 (byte 3");
    st_bad("{\"a\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "not valid UTF-8");
    st_bad("{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "lone low surrogate");
    /* nesting */
    st_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]}}", 8, "nesting deeper than 3");
    {
        char h[4200];
        size_t o = (size_t)snprintf(h, sizeof h, "{\"a\":");
        for (int i = 0; i < 2000; i++) h[o++] = '[';
        for (int i = 0; i < 2000; i++) h[o++] = ']';
        h[o++] = '}';
        h[o] = 0;
        st_bad(h, 0, "nesting deeper than 3");
    }
    /* metadata */
    st_bad("{\"__metadata__\":\"x\"}", 0, "__metadata__ is a string, expected an object");
    st_bad("{\"__metadata__\":[]}", 0, "__metadata__ is an array");
    st_bad("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ 'k' is an integer, expected a string");
    st_bad("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ 'k' is an object");
    st_bad("{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0, "NUL");
    st_bad("{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}}", 0, "duplicate key");
}
END_TEST

static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

START_TEST(st_rejects_bad_prefix) {
    unsigned char b[64] = {0};
    alaei_st_file *f = NULL;
    ck_assert_status(alaei_st_parse(b, 0, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("shorter than the 8-byte header length"));
    ck_assert_status(alaei_st_parse(NULL, 0, &f), ALAE_E_FORMAT);
    ck_assert_status(alaei_st_parse(b, 7, &f), ALAE_E_FORMAT);
    put_u64(b, UINT64_MAX);
    ck_assert_status(alaei_st_parse(b, sizeof b, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("header length 18446744073709551615 exceeds"));
    put_u64(b, UINT64_MAX - 7); /* N + 8 wraps to 0 */
    ck_assert_status(alaei_st_parse(b, sizeof b, &f), ALAE_E_FORMAT);
    put_u64(b, 100000001);
    ck_assert_status(alaei_st_parse(b, sizeof b, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("exceeds the limit"));
    put_u64(b, 57); /* 57 + 8 = 65 > 64 */
    ck_assert_status(alaei_st_parse(b, sizeof b, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("needs 65 bytes but the file has 64"));
    put_u64(b, 0);
    ck_assert_status(alaei_st_parse(b, 8, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("does not start with '{'"));
    /* a header padded with NUL bytes instead of spaces */
    put_u64(b, 8);
    memcpy(b + 8, "{}\0\0\0\0\0\0", 8);
    ck_assert_status(alaei_st_parse(b, 16, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("trailing data"));
    memcpy(b + 8, "{}      ", 8);
    ck_assert_alae_ok(alaei_st_parse(b, 16, &f));
    alaei_st_free(f);
    f = NULL;
    ck_assert_status(alaei_st_parse(b, 8, NULL), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_st_parse(NULL, 8, &f), ALAE_E_INVALID_ARG);
    ck_assert_ptr_null(f);
    /* files */
    char path[512];
    tpath(path, sizeof path, "short.safetensors");
    write_bytes(path, b, 5);
    ck_assert_status(alaei_st_open(path, &f), ALAE_E_FORMAT);
    tpath(path, sizeof path, "missing.safetensors");
    ck_assert_status(alaei_st_open(path, &f), ALAE_E_IO);
    ck_assert(last_error_has("cannot open"));
    ck_assert(last_error_has(strerror(ENOENT)));
    ck_assert_status(alaei_st_open(tmpdir, &f), ALAE_E_IO);
    ck_assert(last_error_has("not a regular file"));
    ck_assert_ptr_null(f);
}
END_TEST

/* a small valid file truncated at every length, from memory and from disk */
START_TEST(st_truncated_at_every_length) {
    char path[512];
    tpath(path, sizeof path, "full.safetensors");
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    ck_assert_ptr_nonnull(b);
    char cut[512];
    tpath(cut, sizeof cut, "cut.safetensors");
    for (size_t len = 0; len < n; len++) {
        alaei_st_file *f = NULL;
        unsigned char *copy = malloc(len ? len : 1); /* exact size so ASan sees over-reads */
        memcpy(copy, b, len);
        alae_status st = alaei_st_parse(copy, len, &f);
        ck_assert_msg(st == ALAE_E_FORMAT, "length %zu: status %d", len, (int)st);
        free(copy);
        if (len % 7 == 0 || len < 16 || len + 16 > n) {
            write_bytes(cut, b, len);
            st = alaei_st_open(cut, &f);
            ck_assert_msg(st == ALAE_E_FORMAT, "file length %zu: status %d (%s)", len, (int)st, alae_last_error());
        }
    }
    /* one byte more is an oversized data area */
    unsigned char *more = malloc(n + 1);
    memcpy(more, b, n);
    more[n] = 0;
    alaei_st_file *f = NULL;
    ck_assert_status(alaei_st_parse(more, n + 1, &f), ALAE_E_FORMAT);
    ck_assert(last_error_has("incomplete or oversized"));
    free(more);
    free(b);
}
END_TEST

START_TEST(st_mutations_never_crash) {
    char path[512];
    tpath(path, sizeof path, "m.safetensors");
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    uint64_t hn = 0;
    for (int i = 0; i < 8; i++) hn |= (uint64_t)b[i] << (8 * i);
    unsigned char *m = malloc(n);
    uint64_t rng = 99;
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, b, n);
        int edits = 1 + (int)alae_test_uniform(&rng, 0, 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)alae_test_uniform(&rng, 0, (double)(8 + hn)); /* prefix and header */
            int kind = (int)alae_test_uniform(&rng, 0, 3);
            if (kind == 0) m[pos] = (unsigned char)(int)alae_test_uniform(&rng, 0, 256);
            else if (kind == 1) m[pos] = (unsigned char)"0123456789[]{},:\"-"[(int)alae_test_uniform(&rng, 0, 18)];
            else m[pos] ^= (unsigned char)(1u << (int)alae_test_uniform(&rng, 0, 8));
        }
        alaei_st_file *f = NULL;
        alae_status st = alaei_st_parse(m, n, &f);
        ck_assert_msg(st == ALAE_OK || st == ALAE_E_FORMAT, "iteration %d: status %d", it, (int)st);
        if (st == ALAE_OK) {
            ok++;
            /* whatever was accepted must be self-consistent */
            for (size_t i = 0; i < alaei_st_count(f); i++) {
                const alaei_st_tensor *t = alaei_st_at(f, i);
                ck_assert_uint_le(t->end, n);
                ck_assert_uint_eq(t->end - t->begin, t->nbytes);
            }
            alaei_st_free(f);
        }
    }
    ck_assert_int_gt(ok, 0); /* e.g. edits inside metadata values */
    free(m);
    free(b);
}
END_TEST

/* ---- atomic writes ---- */

START_TEST(atomic_missing_directory) {
    char path[512];
    tpath(path, sizeof path, "no/such/dir/model.safetensors");
    alaei_st_writer *w = make_writer();
    ck_assert_status(alaei_st_writer_save(w, path), ALAE_E_IO);
    ck_assert(last_error_has("no/such/dir/model.safetensors.tmp."));
    ck_assert(last_error_has(strerror(ENOENT)));
    alaei_st_writer_destroy(w);
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 0);
    float img[4] = {0, 0, 0, 0};
    int64_t s[1] = {4};
    ck_assert_status(alaei_write_npy_f32(path, 1, s, img), ALAE_E_IO);
    ck_assert_status(alaei_write_png_grid(path, img, 1, 1, 2, 2, 0, 1, 1), ALAE_E_IO);
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 0);
    ck_assert_status(alaei_write_npy_f32("", 1, s, img), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_npy_f32(NULL, 1, s, img), ALAE_E_INVALID_ARG);
}
END_TEST

START_TEST(atomic_failure_keeps_old_file) {
    char path[512], tmp[600];
    tpath(path, sizeof path, "keep.safetensors");
    /* a good old file */
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    size_t n0;
    unsigned char *old = read_bytes(path, &n0);

    /* the temporary name cannot be created: a directory is in the way */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    ck_assert_alae_ok(alaei_st_writer_create(&w));
    float x = 1;
    ck_assert_alae_ok(alaei_st_writer_add(w, "new", ALAEI_ST_F32, 0, NULL, &x));
    ck_assert_status(alaei_st_writer_save(w, path), ALAE_E_IO);
    ck_assert(last_error_has("cannot write"));
    ck_assert(last_error_has(path)); /* names the file the caller asked for */
    size_t n1;
    unsigned char *now = read_bytes(path, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_int_eq(memcmp(old, now, n0), 0);
    free(now);
    struct stat sb;
    ck_assert_int_eq(stat(tmp, &sb), 0); /* not ours: left alone */
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(rmdir(tmp), 0);

    /* the target is a non-empty directory: refused before anything is written */
    char dpath[512], inner[600];
    tpath(dpath, sizeof dpath, "adir");
    ck_assert_int_eq(mkdir(dpath, 0700), 0);
    snprintf(inner, sizeof inner, "%s/x", dpath);
    write_bytes(inner, "x", 1);
    ck_assert_status(alaei_st_writer_save(w, dpath), ALAE_E_IO);
    ck_assert(last_error_has("is a directory: refusing to replace it"));
    ck_assert_int_eq(dir_entries(tmpdir, ".tmp."), 0);
    ck_assert_int_eq(stat(inner, &sb), 0);

    /* a read-only directory (only meaningful when not running as root) */
    if (geteuid() != 0) {
        char rdir[512], rpath[600];
        tpath(rdir, sizeof rdir, "ro");
        ck_assert_int_eq(mkdir(rdir, 0700), 0);
        snprintf(rpath, sizeof rpath, "%s/keep.safetensors", rdir);
        write_bytes(rpath, old, n0);
        ck_assert_int_eq(chmod(rdir, 0500), 0);
        ck_assert_status(alaei_st_writer_save(w, rpath), ALAE_E_IO);
        ck_assert(last_error_has(strerror(EACCES)));
        now = read_bytes(rpath, &n1);
        ck_assert_uint_eq(n0, n1);
        ck_assert_int_eq(memcmp(old, now, n0), 0);
        free(now);
        ck_assert_int_eq(dir_entries(rdir, NULL), 1);
        chmod(rdir, 0700);
    } else {
        printf("test_io: running as root: the read-only directory case is covered by the temp-name cases\n");
    }

    /* and a successful overwrite replaces the old content */
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    alaei_st_file *f = NULL;
    ck_assert_alae_ok(alaei_st_open(path, &f));
    ck_assert_uint_eq(alaei_st_count(f), 1);
    ck_assert_ptr_nonnull(alaei_st_find(f, "new"));
    alaei_st_free(f);
    ck_assert_int_eq(dir_entries(tmpdir, ".tmp."), 0);
    free(old);
}
END_TEST

/* Issue #20: an existing target that is not a regular file (a FIFO, or a symbolic link to one)
 * was replaced by the rename; a FIFO given to a reader blocked the open forever. */
START_TEST(atomic_refuses_non_regular_target) {
    char fifo[512], link[512];
    tpath(fifo, sizeof fifo, "fifo");
    tpath(link, sizeof link, "link-to-fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlink(fifo, link), 0);
    alaei_st_writer *w = make_writer();
    const char *targets[2] = {fifo, link};
    for (int i = 0; i < 2; i++) {
        ck_assert_status(alaei_st_writer_save(w, targets[i]), ALAE_E_IO);
        ck_assert(last_error_has("is a FIFO: refusing to replace it"));
        alaei_st_file *f = NULL;
        ck_assert_status(alaei_st_open(targets[i], &f), ALAE_E_IO); /* at once, not blocked */
        ck_assert(last_error_has("is a FIFO, not a regular file"));
    }
    float img[4] = {0, 0, 0, 0};
    int64_t shape[1] = {4};
    ck_assert_status(alaei_write_npy_f32(fifo, 1, shape, img), ALAE_E_IO);
    ck_assert_status(alaei_write_png_grid(link, img, 1, 1, 2, 2, 0, 1, 1), ALAE_E_IO);
    alaei_st_writer_destroy(w);
    struct stat sb;
    ck_assert_int_eq(lstat(fifo, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(dir_entries(tmpdir, ".tmp."), 0);
    unlink(link);
    unlink(fifo);
}
END_TEST

/* A process id that no longer runs: a child that has exited and been reaped. */
static long dead_pid(void) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    ck_assert_int_gt(child, 0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    return (long)child;
}

/* Issue #20: a save killed between writing its temporary file and the rename left
 * "<path>.tmp.<pid>" (model-sized) behind for ever. The next save of path removes exactly those
 * of processes that no longer run. */
START_TEST(atomic_removes_stale_temporaries) {
    char path[512], stale[600], live[600], other[600], odd[600], dir[600];
    tpath(path, sizeof path, "model.safetensors");
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, dead_pid());
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid()); /* a running process */
    tpath(other, sizeof other, "other.safetensors.tmp.1");               /* another file's */
    snprintf(odd, sizeof odd, "%s.tmp.12x", path);                        /* not the pattern */
    snprintf(dir, sizeof dir, "%s.tmp.%ld", path, dead_pid());            /* not a regular file */
    const char *kept[3] = {live, other, odd};
    write_bytes(stale, "stale", 5);
    for (int i = 0; i < 3; i++) write_bytes(kept[i], "keep", 4);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    alaei_st_writer *w = make_writer();
    ck_assert_alae_ok(alaei_st_writer_save(w, path));
    alaei_st_writer_destroy(w);
    struct stat sb;
    ck_assert_msg(stat(stale, &sb) != 0, "the stale temporary file %s is still there", stale);
    for (int i = 0; i < 3; i++) ck_assert_msg(stat(kept[i], &sb) == 0, "%s was removed", kept[i]);
    ck_assert_int_eq(stat(dir, &sb), 0);
    for (int i = 0; i < 3; i++) unlink(kept[i]);
    rmdir(dir);
    unlink(path);
}
END_TEST

/* ================================================================================== */
/* npy                                                                                */

START_TEST(npy_roundtrip) {
    char path[512];
    tpath(path, sizeof path, "a.npy");
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i * 0.5f - 3.0f;
    int64_t s[3] = {2, 3, 4};
    ck_assert_alae_ok(alaei_write_npy_f32(path, 3, s, x));
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    ck_assert_uint_eq(n, 128 + 96);
    ck_assert(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    ck_assert_uint_eq(b[8] | (b[9] << 8), 118);
    ck_assert(memcmp(b + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 62) == 0);
    ck_assert_uint_eq(b[127], '\n');
    free(b);
    alaei_npy_f32 a;
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    ck_assert_int_eq(a.ndim, 3);
    ck_assert_int_eq(a.shape[0], 2);
    ck_assert_int_eq(a.shape[2], 4);
    ck_assert_uint_eq(a.numel, 24);
    ck_assert_int_eq(memcmp(a.data, x, sizeof x), 0);
    alaei_npy_f32_free(&a);
    alaei_npy_f32_free(&a);

    /* 1-D uses "(5,)", 0-D uses "()", empty arrays are fine */
    int64_t s1[1] = {5};
    ck_assert_alae_ok(alaei_write_npy_f32(path, 1, s1, x));
    b = read_bytes(path, &n);
    ck_assert(memcmp(b + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 57) == 0);
    free(b);
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    ck_assert_int_eq(a.ndim, 1);
    ck_assert_int_eq(a.shape[0], 5);
    alaei_npy_f32_free(&a);
    ck_assert_alae_ok(alaei_write_npy_f32(path, 0, NULL, x));
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    ck_assert_int_eq(a.ndim, 0);
    ck_assert_uint_eq(a.numel, 1);
    ck_assert(a.data[0] == x[0]);
    alaei_npy_f32_free(&a);
    int64_t s0[2] = {0, 3};
    ck_assert_alae_ok(alaei_write_npy_f32(path, 2, s0, NULL));
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    ck_assert_uint_eq(a.numel, 0);
    alaei_npy_f32_free(&a);
    int64_t neg[1] = {-1};
    ck_assert_status(alaei_write_npy_f32(path, 1, neg, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_npy_f32(path, 9, s, x), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_npy_f32(path, 1, s1, NULL), ALAE_E_INVALID_ARG);
}
END_TEST

/* writes a .npy with the given header text (padding and newline added) and data bytes */
static void npy_raw(const char *path, int major, const char *dict, size_t data_bytes) {
    unsigned char buf[1024];
    size_t k = strlen(dict);
    size_t pre = major == 1 ? 10 : 12;
    size_t hl = (pre + k + 1 + 63) / 64 * 64 - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hl & 0xFF);
    buf[9] = (unsigned char)(hl >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, k);
    memset(buf + pre + k, ' ', hl - k);
    buf[pre + hl - 1] = '\n';
    for (size_t i = 0; i < data_bytes; i++) buf[pre + hl + i] = (unsigned char)i;
    write_bytes(path, buf, pre + hl + data_bytes);
}

START_TEST(npy_rejects) {
    char path[512];
    tpath(path, sizeof path, "bad.npy");
    alaei_npy_f32 a;
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    npy_raw(path, 1, good, 8);
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    alaei_npy_f32_free(&a);
    npy_raw(path, 2, "{\"descr\":'<f4','fortran_order':False,'shape':(2,)}", 8);
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    alaei_npy_f32_free(&a);
    npy_raw(path, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4);
    ck_assert_alae_ok(alaei_read_npy_f32(path, &a));
    uint32_t bits;
    memcpy(&bits, a.data, 4);
    ck_assert_uint_eq(bits, 0x00010203u); /* bytes 00 01 02 03 big-endian */
    alaei_npy_f32_free(&a);

    static const struct {
        const char *dict;
        size_t data;
        const char *msg;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "trailing data"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 8, "'<f8' is not float32"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, "fortran_order True"},
        {"{'descr': '<f4', 'shape': (2,), }", 8, "must have"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unknown key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "duplicate"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }", 8, "more than 8"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 8,
         "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "not a tuple"},
        {"['descr']", 8, "not a dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "does not end"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        npy_raw(path, 1, bad[i].dict, bad[i].data);
        alae_status st = alaei_read_npy_f32(path, &a);
        ck_assert_msg(st == ALAE_E_FORMAT, "case %zu: status %d (%s)", i, (int)st, alae_last_error());
        ck_assert_msg(last_error_has(bad[i].msg), "case %zu: '%s' lacks '%s'", i, alae_last_error(), bad[i].msg);
        ck_assert_ptr_null(a.data);
    }
    /* preamble */
    write_bytes(path, "\x93NUMPY\x01", 7);
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_FORMAT);
    write_bytes(path, "\x93NUMPX\x01\x00\x10\x00", 10);
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_FORMAT);
    ck_assert(last_error_has("bad magic"));
    write_bytes(path, "\x93NUMPY\x09\x00\x10\x00", 10);
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_FORMAT);
    ck_assert(last_error_has("version 9.0"));
    write_bytes(path, "\x93NUMPY\x01\x00\xff\xff", 10);
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_FORMAT);
    write_bytes(path, "\x93NUMPY\x01\x00\x00\x00", 10);
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_FORMAT);
    /* a truncated valid file at every length */
    int64_t s[2] = {3, 5};
    float x[15] = {0};
    ck_assert_alae_ok(alaei_write_npy_f32(path, 2, s, x));
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    char cut[512];
    tpath(cut, sizeof cut, "cut.npy");
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, b, len);
        ck_assert_status(alaei_read_npy_f32(cut, &a), ALAE_E_FORMAT);
    }
    free(b);
    tpath(path, sizeof path, "missing.npy");
    ck_assert_status(alaei_read_npy_f32(path, &a), ALAE_E_IO);
}
END_TEST

/* ================================================================================== */
/* PNG grids                                                                          */

START_TEST(png_grid_grey) {
    /* 5 images of 4x3, 3 columns: 17 x 14 pixels */
    enum { N = 5, H = 4, W = 3 };
    float img[N * H * W];
    for (int k = 0; k < N; k++)
        for (int i = 0; i < H * W; i++) img[k * H * W + i] = -1.0f + 2.0f * (float)(k * H * W + i) / (N * H * W - 1);
    img[0] = -5.0f;     /* clamps to 0 */
    img[1] = 5.0f;      /* clamps to 255 */
    img[2] = NAN;       /* 0 */
    img[3] = 0.0f;      /* 127.5 + 0.5 -> 128 */
    char path[512];
    tpath(path, sizeof path, "grid.png");
    ck_assert_alae_ok(alaei_write_png_grid(path, img, N, 1, H, W, -1.0f, 1.0f, 3));
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 1);
    int w = 0, h = 0, comp = 0;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 0);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(w, 3 * (W + 2) + 2);
    ck_assert_int_eq(h, 2 * (H + 2) + 2);
    ck_assert_int_eq(comp, 1);
    for (int k = 0; k < N; k++) {
        int y0 = 2 + (k / 3) * (H + 2), x0 = 2 + (k % 3) * (W + 2);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float v = img[k * H * W + y * W + x];
                int want;
                if (isnan(v)) want = 0;
                else {
                    float t = (v + 1.0f) * 127.5f + 0.5f;
                    want = t <= 0 ? 0 : t >= 255 ? 255 : (int)t;
                }
                ck_assert_int_eq(px[(y0 + y) * w + x0 + x], want);
            }
    }
    ck_assert_int_eq(px[0 * w + 2], 0);    /* top padding */
    ck_assert_int_eq(px[2 * w + 2], 0);    /* image 0 pixel (0,0) = clamp(-5) */
    ck_assert_int_eq(px[2 * w + 3], 255);  /* clamp(5) */
    ck_assert_int_eq(px[2 * w + 4], 0);    /* NaN */
    ck_assert_int_eq(px[3 * w + 2], 128);  /* 0.0 */
    ck_assert_int_eq(px[2 * w + 5], 0);    /* padding between columns */
    /* the empty sixth cell is black */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) ck_assert_int_eq(px[(2 + H + 2 + y) * w + 2 + 2 * (W + 2) + x], 0);
    stbi_image_free(px);

    /* more columns than images: one row of n */
    ck_assert_alae_ok(alaei_write_png_grid(path, img, 2, 1, H, W, -1.0f, 1.0f, 8));
    ck_assert_ptr_nonnull(px = stbi_load(path, &w, &h, &comp, 0));
    ck_assert_int_eq(w, 2 * (W + 2) + 2);
    ck_assert_int_eq(h, H + 4);
    stbi_image_free(px);
}
END_TEST

START_TEST(png_grid_rgb_and_rejects) {
    enum { N = 2, C = 3, H = 2, W = 2 };
    float img[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) img[i] = (float)i / (N * C * H * W - 1); /* [0, 1] */
    char path[512];
    tpath(path, sizeof path, "rgb.png");
    ck_assert_alae_ok(alaei_write_png_grid(path, img, N, C, H, W, 0.0f, 1.0f, 1));
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 0);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(comp, 3);
    ck_assert_int_eq(w, W + 4);
    ck_assert_int_eq(h, 2 * (H + 2) + 2);
    for (int k = 0; k < N; k++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float v = img[((k * C + c) * H + y) * W + x];
                    int want = (int)(v * 255.0f + 0.5f);
                    int py = 2 + k * (H + 2) + y, pxx = 2 + x;
                    ck_assert_int_eq(px[(py * w + pxx) * 3 + c], want);
                }
    stbi_image_free(px);
    ck_assert_status(alaei_write_png_grid(path, img, N, 2, H, W, 0, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, 0, 1, H, W, 0, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, N, 1, H, W, 1, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, N, 1, H, W, 0, INFINITY, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, N, 1, H, W, 0, 1, 0), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, N, 1, 0, W, 0, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, INT64_MAX, 1, H, W, 0, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, img, 100000, 1, H, W, 0, 1, 100000), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_write_png_grid(path, NULL, N, 1, H, W, 0, 1, 1), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(dir_entries(tmpdir, NULL), 1);
}
END_TEST

/* ================================================================================== */
/* IDX                                                                                */

static size_t idx_image(unsigned char *buf, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, int labels) {
    size_t o = 0;
    uint32_t v[4] = {magic, n, rows, cols};
    int k = labels ? 2 : 4;
    for (int i = 0; i < k; i++) {
        buf[o++] = (unsigned char)(v[i] >> 24);
        buf[o++] = (unsigned char)(v[i] >> 16);
        buf[o++] = (unsigned char)(v[i] >> 8);
        buf[o++] = (unsigned char)v[i];
    }
    size_t data = (size_t)n * (labels ? 1 : rows * cols);
    for (size_t i = 0; i < data; i++) buf[o++] = (unsigned char)(i * 7 + 3);
    return o;
}

static void write_gz(const char *path, const void *buf, size_t n) {
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    if (n) ck_assert_int_eq(gzwrite(g, buf, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static void expect_idx_ok(const char *path, size_t n, size_t rows, size_t cols) {
    alaei_idx *idx = NULL;
    ck_assert_alae_ok(alaei_idx_load(path, &idx));
    ck_assert_uint_eq(idx->count, n);
    ck_assert_uint_eq(idx->rows, rows);
    ck_assert_uint_eq(idx->cols, cols);
    ck_assert_uint_eq(idx->nbytes, n * rows * cols);
    for (size_t i = 0; i < idx->nbytes; i++) ck_assert_uint_eq(idx->data[i], (unsigned char)(i * 7 + 3));
    alaei_idx_free(idx);
}

START_TEST(idx_raw_and_gzip) {
    unsigned char buf[4096];
    char p[512];
    size_t n = idx_image(buf, 0x803, 3, 5, 4, 0);
    tpath(p, sizeof p, "img.idx");
    write_bytes(p, buf, n);
    expect_idx_ok(p, 3, 5, 4);
    tpath(p, sizeof p, "img.idx.gz");
    write_gz(p, buf, n);
    expect_idx_ok(p, 3, 5, 4);
    /* detection by content, not by name */
    tpath(p, sizeof p, "raw-named.gz");
    write_bytes(p, buf, n);
    expect_idx_ok(p, 3, 5, 4);
    tpath(p, sizeof p, "gz-named.idx");
    write_gz(p, buf, n);
    expect_idx_ok(p, 3, 5, 4);
    /* zero images is a valid (empty) file */
    n = idx_image(buf, 0x803, 0, 28, 28, 0);
    tpath(p, sizeof p, "zero.idx");
    write_bytes(p, buf, n);
    expect_idx_ok(p, 0, 28, 28);
    /* labels */
    n = idx_image(buf, 0x801, 10, 0, 0, 1);
    tpath(p, sizeof p, "lab.idx.gz");
    write_gz(p, buf, n);
    alaei_idx *idx = NULL;
    ck_assert_alae_ok(alaei_idx_load_labels(p, &idx));
    ck_assert_uint_eq(idx->count, 10);
    ck_assert_uint_eq(idx->rows, 1);
    ck_assert_uint_eq(idx->cols, 1);
    ck_assert_uint_eq(idx->data[9], (unsigned char)(9 * 7 + 3));
    alaei_idx_free(idx);
    alaei_idx_free(NULL);
    ck_assert_status(alaei_idx_load(p, &idx), ALAE_E_FORMAT);
    ck_assert(last_error_has("IDX labels file (magic 0x00000801), expected images"));
}
END_TEST

static void expect_idx_bad(const char *path, int labels, alae_status want, const char *msg) {
    alaei_idx *idx = (alaei_idx *)(uintptr_t)1;
    alae_status st = labels ? alaei_idx_load_labels(path, &idx) : alaei_idx_load(path, &idx);
    ck_assert_msg(st == want, "%s: status %d (%s)", path, (int)st, alae_last_error());
    ck_assert_msg(idx == (alaei_idx *)(uintptr_t)1, "out touched");
    ck_assert_msg(last_error_has(msg), "%s: '%s' lacks '%s'", path, alae_last_error(), msg);
}

START_TEST(idx_rejects) {
    unsigned char buf[4096];
    char p[512], pg[512];
    tpath(p, sizeof p, "bad.idx");
    tpath(pg, sizeof pg, "bad.idx.gz");
    size_t n;
    /* bad magic */
    n = idx_image(buf, 0x804, 2, 2, 2, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "bad magic 0x00000804");
    n = idx_image(buf, 0x01000803, 2, 2, 2, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "bad magic");
    n = idx_image(buf, 0x0D03, 2, 2, 2, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "element type 0x0d is not unsigned byte");
    n = idx_image(buf, 0x803, 2, 2, 2, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 1, ALAE_E_FORMAT, "IDX images file");
    /* truncated / oversized, raw and gzip */
    n = idx_image(buf, 0x803, 3, 5, 4, 0);
    write_bytes(p, buf, n - 1);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "has 75 bytes, expected 76 (3 x 5 x 4 + 16-byte header): truncated");
    write_gz(pg, buf, n - 1);
    expect_idx_bad(pg, 0, ALAE_E_FORMAT, "decompresses to 75 bytes, expected 76");
    buf[n] = 9;
    write_bytes(p, buf, n + 1);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "has 77 bytes, expected 76");
    write_gz(pg, buf, n + 1);
    expect_idx_bad(pg, 0, ALAE_E_FORMAT, "decompresses to 77 bytes, expected 76 (3 x 5 x 4 + 16-byte header): trailing data");
    /* header truncation */
    for (size_t len = 0; len < 16; len++) {
        write_bytes(p, buf, len);
        expect_idx_bad(p, 0, ALAE_E_FORMAT, "");
        write_gz(pg, buf, len);
        expect_idx_bad(pg, 0, ALAE_E_FORMAT, "");
    }
    /* a truncated gzip stream: cut the compressed file */
    write_gz(pg, buf, n);
    size_t gn;
    unsigned char *g = read_bytes(pg, &gn);
    for (size_t len = 2; len < gn; len++) {
        write_bytes(pg, g, len);
        alaei_idx *idx = NULL;
        alae_status st = alaei_idx_load(pg, &idx);
        ck_assert_msg(st == ALAE_E_FORMAT, "gzip cut at %zu of %zu: status %d (%s)", len, gn, (int)st,
                      alae_last_error());
    }
    /* issue #20 (finding L3): garbage after the last member was ignored; a second member that
     * holds the rest of the data is valid gzip */
    memcpy(buf + 1000, g, gn);
    memcpy(buf + 1000 + gn, "garbage", 7);
    write_bytes(pg, buf + 1000, gn + 7);
    expect_idx_bad(pg, 0, ALAE_E_FORMAT, "trailing data after the gzip stream");
    memset(buf + 1000 + gn, 0, 8);
    write_bytes(pg, buf + 1000, gn + 8);
    expect_idx_bad(pg, 0, ALAE_E_FORMAT, "trailing data after the gzip stream");
    {
        char half[600];
        tpath(half, sizeof half, "half.gz");
        write_gz(half, buf, 40);
        size_t n1, n2;
        unsigned char *m1 = read_bytes(half, &n1);
        write_gz(half, buf + 40, n - 40);
        unsigned char *m2 = read_bytes(half, &n2);
        memcpy(buf + 1000, m1, n1);
        memcpy(buf + 1000 + n1, m2, n2);
        write_bytes(pg, buf + 1000, n1 + n2);
        alaei_idx *two = NULL;
        ck_assert_alae_ok(alaei_idx_load(pg, &two));
        ck_assert_uint_eq(two->count, 3);
        ck_assert_int_eq(memcmp(two->data, buf + 16, 60), 0);
        alaei_idx_free(two);
        free(m1);
        free(m2);
        unlink(half);
    }
    /* corrupt gzip data */
    memcpy(buf + 1000, g, gn);
    for (size_t i = 12; i < gn - 8; i += 3) buf[1000 + i] ^= 0x5A;
    write_bytes(pg, buf + 1000, gn);
    expect_idx_bad(pg, 0, ALAE_E_FORMAT, "");
    free(g);
    /* dimensions */
    n = idx_image(buf, 0x803, 1, 0, 4, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "image size 0x4 is outside 1..4096");
    n = idx_image(buf, 0x803, 0, 4097, 1, 0);
    write_bytes(p, buf, n);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "outside 1..4096");
    idx_image(buf, 0x803, 0, 1, 1, 0); /* a header only, then the count patched */
    buf[4] = (unsigned char)(100000001u >> 24);
    buf[5] = (unsigned char)(100000001u >> 16);
    buf[6] = (unsigned char)(100000001u >> 8);
    buf[7] = (unsigned char)100000001u;
    write_bytes(p, buf, 16);
    expect_idx_bad(p, 0, ALAE_E_FORMAT, "item count 100000001 exceeds");
    /* a huge declared size in a tiny file: refused before allocating */
    {
        unsigned char hdr[16];
        uint32_t v[4] = {0x803, 100000000, 4096, 4096};
        for (int i = 0; i < 4; i++) {
            hdr[4 * i] = (unsigned char)(v[i] >> 24);
            hdr[4 * i + 1] = (unsigned char)(v[i] >> 16);
            hdr[4 * i + 2] = (unsigned char)(v[i] >> 8);
            hdr[4 * i + 3] = (unsigned char)v[i];
        }
        write_bytes(p, hdr, 16);
        expect_idx_bad(p, 0, ALAE_E_FORMAT, "truncated");
        write_gz(pg, hdr, 16);
        expect_idx_bad(pg, 0, ALAE_E_FORMAT, "cannot hold that much");
    }
    /* files that are not there or not files */
    tpath(p, sizeof p, "missing.idx");
    expect_idx_bad(p, 0, ALAE_E_IO, strerror(ENOENT));
    expect_idx_bad(tmpdir, 0, ALAE_E_IO, "not a regular file");
    alaei_idx *idx = NULL;
    ck_assert_status(alaei_idx_load(NULL, &idx), ALAE_E_INVALID_ARG);
    ck_assert_status(alaei_idx_load(p, NULL), ALAE_E_INVALID_ARG);
}
END_TEST

START_TEST(idx_fashion_mnist) {
    if (access(FASHION_T10K, R_OK) != 0) {
        printf("test_io: skipped: %s not installed (Fashion-MNIST); the synthetic IDX cases still ran\n",
               FASHION_T10K);
        return;
    }
    alaei_idx *idx = NULL;
    ck_assert_alae_ok(alaei_idx_load(FASHION_T10K, &idx));
    ck_assert_uint_eq(idx->count, 10000);
    ck_assert_uint_eq(idx->rows, 28);
    ck_assert_uint_eq(idx->cols, 28);
    ck_assert_uint_eq(idx->nbytes, 10000u * 28u * 28u);
    unsigned mx = 0;
    for (size_t i = 0; i < idx->nbytes; i++)
        if (idx->data[i] > mx) mx = idx->data[i];
    ck_assert_uint_eq(mx, 255);
    alaei_idx_free(idx);
    if (access(FASHION_T10K_LABELS, R_OK) == 0) {
        ck_assert_alae_ok(alaei_idx_load_labels(FASHION_T10K_LABELS, &idx));
        ck_assert_uint_eq(idx->count, 10000);
        for (size_t i = 0; i < idx->count; i++) ck_assert_uint_lt(idx->data[i], 10);
        alaei_idx_free(idx);
    }
}
END_TEST

START_TEST(shuffle_is_deterministic) {
    /* reference vectors: splitmix64 and xoshiro256** (Blackman & Vigna) */
    uint64_t sm = 0;
    ck_assert_uint_eq(alaei_splitmix64(&sm), 0xE220A8397B1DCDAFull);
    alaei_xoshiro r = {{1, 2, 3, 4}};
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 11520u);
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 0u);
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 1509978240u);
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 1215971899390074240ull);
    alaei_xoshiro_seed(&r, 12345);
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 13720838825685603483ull);
    ck_assert_uint_eq(alaei_xoshiro_next(&r), 2398916695208396998ull);
    /* pinned permutations (computed independently) */
    size_t p[16];
    const size_t want42[10] = {7, 3, 8, 9, 5, 6, 4, 1, 0, 2};
    ck_assert_alae_ok(alaei_permutation(42, 10, p));
    for (int i = 0; i < 10; i++) ck_assert_uint_eq(p[i], want42[i]);
    const size_t want0[16] = {10, 5, 13, 6, 3, 8, 0, 1, 11, 15, 7, 9, 12, 14, 2, 4};
    ck_assert_alae_ok(alaei_permutation(0, 16, p));
    for (int i = 0; i < 16; i++) ck_assert_uint_eq(p[i], want0[i]);
    ck_assert_alae_ok(alaei_permutation(0, 0, NULL));
    ck_assert_status(alaei_permutation(0, 3, NULL), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alaei_permutation(5, 1, p));
    ck_assert_uint_eq(p[0], 0);
    /* a permutation of a large range, and roughly uniform positions */
    size_t big = 100000;
    size_t *q = malloc(big * sizeof *q);
    unsigned char *seen = calloc(big, 1);
    ck_assert_alae_ok(alaei_permutation(7, big, q));
    for (size_t i = 0; i < big; i++) {
        ck_assert_uint_lt(q[i], big);
        ck_assert_uint_eq(seen[q[i]], 0);
        seen[q[i]] = 1;
    }
    free(seen);
    free(q);
    int count[3] = {0, 0, 0};
    for (uint64_t s = 0; s < 30000; s++) {
        ck_assert_alae_ok(alaei_permutation(s, 3, p));
        count[p[0]]++;
    }
    for (int i = 0; i < 3; i++) ck_assert_msg(count[i] > 9500 && count[i] < 10500, "count[%d] = %d", i, count[i]);
    alaei_xoshiro_seed(&r, 1);
    ck_assert_uint_eq(alaei_xoshiro_below(&r, 0), 0);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(alaei_xoshiro_below(&r, 7), 7);
}
END_TEST

static Suite *io_suite(void) {
    Suite *s = suite_create("io");
    TCase *tj = tcase_create("json");
    tcase_add_test(tj, json_values);
    tcase_add_test(tj, json_rejects);
    tcase_add_test(tj, json_utf8_validator);
    tcase_add_test(tj, json_mutations_never_crash);
    suite_add_tcase(s, tj);

    TCase *ts = tcase_create("safetensors");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_set_timeout(ts, 600);
    tcase_add_test(ts, st_roundtrip);
    tcase_add_test(ts, st_float_conversions);
    tcase_add_test(ts, st_lazy_reads_tensors_from_the_file);
    tcase_add_test(ts, st_writer_rejects);
    tcase_add_test(ts, st_empty_and_limits);
    tcase_add_test(ts, st_rejects_malformed_headers);
    tcase_add_test(ts, st_rejects_bad_prefix);
    tcase_add_test(ts, st_truncated_at_every_length);
    tcase_add_test(ts, st_mutations_never_crash);
    tcase_add_test(ts, atomic_missing_directory);
    tcase_add_test(ts, atomic_failure_keeps_old_file);
    tcase_add_test(ts, atomic_refuses_non_regular_target);
    tcase_add_test(ts, atomic_removes_stale_temporaries);
    suite_add_tcase(s, ts);

    TCase *tn = tcase_create("npy_png");
    tcase_add_checked_fixture(tn, setup, teardown);
    tcase_add_test(tn, npy_roundtrip);
    tcase_add_test(tn, npy_rejects);
    tcase_add_test(tn, png_grid_grey);
    tcase_add_test(tn, png_grid_rgb_and_rejects);
    suite_add_tcase(s, tn);

    TCase *ti = tcase_create("idx");
    tcase_add_checked_fixture(ti, setup, teardown);
    tcase_set_timeout(ti, 600);
    tcase_add_test(ti, idx_raw_and_gzip);
    tcase_add_test(ti, idx_rejects);
    tcase_add_test(ti, idx_fashion_mnist);
    tcase_add_test(ti, shuffle_is_deterministic);
    suite_add_tcase(s, ti);
    return s;
}

int main(void) { return alae_test_run_suite(io_suite()); }
