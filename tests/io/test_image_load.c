/* Image folders through the public API (alae_dataset_open_folder, alae_dataset_read_flipped):
 * PNG, JPEG and BMP files written here with stb_image_write, grey <-> RGB conversion, area
 * resizing, flips, and the files that must be refused before they are decoded: a corrupt PNG, an
 * empty file and a PNG header claiming 100000x100000 pixels — each rejected with its name, or
 * skipped with a warning naming it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#include "third_party/stb/stb_image_write.h"
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

static char dir[256];

static void make_dir(void) { alae_test_make_tmpdir(dir, sizeof dir, "alae_test_image."); }

static const char *in_dir(const char *sub, const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A PNG of w x h RGB pixels, all (r, g, b). */
static void write_solid_png(const char *path, int w, int h, int r, int g, int b) {
    unsigned char *px = malloc((size_t)(w * h * 3));
    for (int i = 0; i < w * h; i++) {
        px[3 * i] = (unsigned char)r;
        px[3 * i + 1] = (unsigned char)g;
        px[3 * i + 2] = (unsigned char)b;
    }
    ck_assert_int_ne(stbi_write_png(path, w, h, 3, px, w * 3), 0);
    free(px);
}

static void read_all(const alae_dataset *ds, int32_t c, int32_t s, const uint8_t *flips, float *host) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    int64_t n = alae_dataset_count(ds), shape[4] = {n, c, s, s};
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &t));
    ck_assert_alae_ok(alae_dataset_read_flipped(ds, idx, flips, n, 0, t));
    ck_assert_alae_ok(alae_tensor_read(t, host, (size_t)(n * c * s * s) * sizeof(float)));
    alae_tensor_destroy(t);
    alae_context_destroy(ctx);
    free(idx);
}

/* ---- formats, channels, sizes ---- */

START_TEST(folder_png_jpeg_bmp) {
    make_dir();
    /* a.png: 8x6 RGB horizontal gradient (centre-cropped to 6x6); b.jpg: 16x16 grey; c.bmp: 4x4
     * solid RGB; other files are left out */
    unsigned char grad[8 * 6 * 3];
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 8; x++)
            for (int k = 0; k < 3; k++) grad[(y * 8 + x) * 3 + k] = (unsigned char)(x * 30);
    ck_assert_int_ne(stbi_write_png(in_dir("", "a.png"), 8, 6, 3, grad, 8 * 3), 0);
    unsigned char grey[16 * 16];
    for (int i = 0; i < 256; i++) grey[i] = (unsigned char)i;
    ck_assert_int_ne(stbi_write_jpg(in_dir("", "b.jpg"), 16, 16, 1, grey, 90), 0);
    unsigned char solid[4 * 4 * 3];
    for (int i = 0; i < 16; i++) {
        solid[3 * i] = 10;
        solid[3 * i + 1] = 200;
        solid[3 * i + 2] = 30;
    }
    ck_assert_int_ne(stbi_write_bmp(in_dir("", "c.bmp"), 4, 4, 3, solid), 0);
    write_bytes(in_dir("", "notes.txt"), "not an image", 12);
    write_solid_png(in_dir("", ".hidden.png"), 2, 2, 1, 2, 3);

    alae_dataset *ds = NULL;
    ck_assert_alae_ok(alae_dataset_open_folder(dir, 3, 8, 0, &ds));
    ck_assert_int_eq(alae_dataset_count(ds), 3);
    int32_t c, h, w;
    ck_assert_alae_ok(alae_dataset_image_shape(ds, &c, &h, &w));
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(h, 8);
    ck_assert_int_eq(w, 8);
    float px[3 * 3 * 64];
    read_all(ds, 3, 8, NULL, px);
    /* c.bmp (the third, sorted by name): a constant stays exact through the area filter */
    const float *cbmp = px + 2 * 3 * 64;
    ck_assert_float_eq_tol(cbmp[0], 10.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(cbmp[64 + 27], 200.0f / 255.0f, 1e-6f);
    ck_assert_float_eq_tol(cbmp[128 + 63], 30.0f / 255.0f, 1e-6f);
    /* the grey JPEG became RGB: three equal planes */
    const float *bjpg = px + 1 * 3 * 64;
    for (int i = 0; i < 64; i++) {
        ck_assert_float_eq(bjpg[i], bjpg[64 + i]);
        ck_assert_float_eq(bjpg[i], bjpg[128 + i]);
    }
    /* a.png's gradient increases left to right; flipped, right to left */
    ck_assert_float_lt(px[0], px[7]);
    uint8_t flips[3] = {1, 0, 0};
    read_all(ds, 3, 8, flips, px);
    ck_assert_float_gt(px[0], px[7]);
    alae_dataset_destroy(ds);

    /* grey: luminance as stb_image computes it, (77 r + 150 g + 29 b) >> 8 = 123 */
    ck_assert_alae_ok(alae_dataset_open_folder(dir, 1, 4, 0, &ds));
    float g1[3 * 16];
    read_all(ds, 1, 4, NULL, g1);
    ck_assert_float_eq_tol(g1[2 * 16 + 5], 123.0f / 255.0f, 1e-6f);
    alae_dataset_destroy(ds);

    /* one file instead of a folder */
    ck_assert_alae_ok(alae_dataset_open_folder(in_dir("", "c.bmp"), 3, 4, 0, &ds));
    ck_assert_int_eq(alae_dataset_count(ds), 1);
    alae_dataset_destroy(ds);
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(area_downsampling) {
    make_dir();
    /* 4x4 grey with 2x2 blocks 0 / 100 / 200 / 40: at size 2 each block becomes its mean */
    unsigned char px[16];
    const unsigned char block[4] = {0, 100, 200, 40};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) px[y * 4 + x] = block[(y / 2) * 2 + x / 2];
    ck_assert_int_ne(stbi_write_png(in_dir("", "blocks.png"), 4, 4, 1, px, 4), 0);
    /* 4x4 with a checkerboard of 0 / 255: at size 1 the mean 127.5 rounds to 128 */
    for (int i = 0; i < 16; i++) px[i] = (unsigned char)(((i / 4 + i % 4) % 2) * 255);
    ck_assert_int_ne(stbi_write_png(in_dir("", "checker.png"), 4, 4, 1, px, 4), 0);
    alae_dataset *ds;
    ck_assert_alae_ok(alae_dataset_open_folder(in_dir("", "blocks.png"), 1, 2, 0, &ds));
    float out[4];
    read_all(ds, 1, 2, NULL, out);
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(out[i], block[i] / 255.0f, 1e-6f);
    alae_dataset_destroy(ds);
    ck_assert_alae_ok(alae_dataset_open_folder(in_dir("", "checker.png"), 1, 1, 0, &ds));
    read_all(ds, 1, 1, NULL, out);
    ck_assert_float_eq_tol(out[0], 128.0f / 255.0f, 1e-6f);
    alae_dataset_destroy(ds);
    alae_test_remove_tree(dir);
}
END_TEST

/* ---- resampling: area when shrinking, bicubic when enlarging, crop or the whole image ---- */

/* Opens one grey PNG of w x h pixels px at size, with flags, and returns its pixels * 255. */
static void load_grey(const unsigned char *px, int w, int h, int size, int32_t flags, float *out) {
    ck_assert_int_ne(stbi_write_png(in_dir("", "grey.png"), w, h, 1, px, w), 0);
    alae_dataset *ds;
    ck_assert_alae_ok(alae_dataset_open_folder(in_dir("", "grey.png"), 1, size, flags, &ds));
    read_all(ds, 1, size, NULL, out);
    for (int i = 0; i < size * size; i++) out[i] *= 255.0f;
    alae_dataset_destroy(ds);
}

START_TEST(constant_images_stay_constant) {
    make_dir();
    unsigned char px[7 * 5];
    memset(px, 37, sizeof px);
    static const int sizes[] = {1, 3, 5, 7, 11, 32}; /* shrinking and growing, not multiples */
    float out[32 * 32];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int32_t flags = 0; flags <= ALAE_FOLDER_NO_CROP; flags += ALAE_FOLDER_NO_CROP) {
            load_grey(px, 7, 5, sizes[k], flags, out);
            for (int i = 0; i < sizes[k] * sizes[k]; i++)
                ck_assert_msg(out[i] == 37.0f, "size %d, flags %d, pixel %d: %g", sizes[k], (int)flags, i, out[i]);
        }
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(shrinking_averages_areas_of_any_ratio) {
    make_dir();
    /* 3 -> 2 (each output covers 1.5 pixels): columns 0, 90, 180 give (0 + 45) / 1.5 = 30 and
     * (45 + 180) / 1.5 = 150 */
    const unsigned char px[9] = {0, 90, 180, 0, 90, 180, 0, 90, 180};
    float out[4];
    load_grey(px, 3, 3, 2, 0, out);
    const float want[4] = {30, 150, 30, 150};
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(out[i], want[i], 1e-4f);
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(growing_interpolates_bicubically) {
    make_dir();
    /* a ramp 0, 40, ..., 200 across 6 columns, 6 rows, to 12: output column o samples source
     * position o / 2 - 0.25; where its four taps are inside (o = 3..8) Catmull-Rom reproduces
     * the ramp exactly: 40 (o / 2 - 0.25) */
    unsigned char px[36];
    for (int i = 0; i < 36; i++) px[i] = (unsigned char)(40 * (i % 6));
    float out[144];
    load_grey(px, 6, 6, 12, 0, out);
    for (int y = 0; y < 12; y++) {
        for (int o = 3; o <= 8; o++)
            ck_assert_float_eq_tol(out[y * 12 + o], 40.0f * ((float)o / 2.0f - 0.25f), 1e-4f);
        /* near the edges (taps clamped) the ramp stays monotonic and overshoots by little */
        ck_assert_float_ge(out[y * 12], 0.0f);
        ck_assert_float_le(out[y * 12 + 11], 210.0f);
        for (int o = 1; o < 12; o++) ck_assert_float_ge(out[y * 12 + o], out[y * 12 + o - 1]);
    }
    /* a step edge overshoots with a cubic filter: the 8-bit result is clamped to 0..255 */
    for (int i = 0; i < 36; i++) px[i] = (unsigned char)(i % 6 < 3 ? 0 : 255);
    load_grey(px, 6, 6, 12, 0, out);
    for (int i = 0; i < 144; i++) ck_assert(out[i] >= 0.0f && out[i] <= 255.0f);
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(crop_or_the_whole_image) {
    make_dir();
    /* 6 x 2: columns in pairs of 0, 100, 200. The centre square is the 100 pair; the whole image
     * at size 3 shrinks 6 -> 3 across (the pairs' means) and grows 2 -> 3 down (constant rows) */
    unsigned char px[12];
    for (int i = 0; i < 12; i++) px[i] = (unsigned char)(100 * ((i % 6) / 2));
    float out[9];
    load_grey(px, 6, 2, 3, 0, out);
    for (int i = 0; i < 9; i++) ck_assert_float_eq_tol(out[i], 100.0f, 1e-4f);
    load_grey(px, 6, 2, 3, ALAE_FOLDER_NO_CROP, out);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) ck_assert_float_eq_tol(out[y * 3 + x], 100.0f * (float)x, 1e-4f);
    /* unknown flags are refused */
    alae_dataset *ds = NULL;
    ck_assert_int_eq(alae_dataset_open_folder(in_dir("", "grey.png"), 1, 3, 4, &ds), ALAE_E_INVALID_ARG);
    ck_assert_ptr_null(ds);
    alae_test_remove_tree(dir);
}
END_TEST

/* ---- refused files ---- */

static char warnings[4096];

static void catch_log(int32_t level, const char *message, void *user) {
    (void)user;
    if (level >= ALAE_LOG_WARN && strlen(warnings) + strlen(message) + 2 < sizeof warnings) {
        strcat(warnings, message);
        strcat(warnings, "\n");
    }
}

/* A PNG signature and an IHDR chunk claiming w x h, 8-bit RGB, then nothing. */
static void write_png_header(const char *path, uint32_t w, uint32_t h) {
    unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        b[16 + i] = (unsigned char)(w >> (24 - 8 * i));
        b[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    b[24] = 8; /* bit depth */
    b[25] = 2; /* RGB */
    write_bytes(path, b, sizeof b);
}

START_TEST(bad_files_rejected_or_skipped) {
    make_dir();
    write_solid_png(in_dir("", "good.png"), 8, 8, 50, 60, 70);
    unsigned char junk[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (int i = 8; i < 64; i++) junk[i] = (unsigned char)(i * 37);
    write_bytes(in_dir("", "corrupt.png"), junk, sizeof junk);
    write_bytes(in_dir("", "empty.png"), "", 0);
    write_png_header(in_dir("", "huge.png"), 100000, 100000);

    alae_dataset *ds = NULL;
    /* reject: the first bad file, sorted by name, is named */
    ck_assert_int_eq(alae_dataset_open_folder(dir, 3, 8, 0, &ds), ALAE_E_FORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "corrupt.png"));
    /* each one alone */
    ck_assert_int_eq(alae_dataset_open_folder(in_dir("", "empty.png"), 3, 8, 0, &ds), ALAE_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "empty.png"));
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "empty"));
    ck_assert_int_eq(alae_dataset_open_folder(in_dir("", "huge.png"), 3, 8, 0, &ds), ALAE_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "huge.png"));
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "16384"));
    /* skip: the good image only, a warning naming each bad file */
    warnings[0] = '\0';
    alae_set_log_callback(catch_log, NULL);
    alae_status s = alae_dataset_open_folder(dir, 3, 8, ALAE_FOLDER_SKIP_BAD, &ds);
    alae_set_log_callback(NULL, NULL);
    ck_assert_alae_ok(s);
    ck_assert_int_eq(alae_dataset_count(ds), 1);
    ck_assert_ptr_nonnull(strstr(warnings, "corrupt.png"));
    ck_assert_ptr_nonnull(strstr(warnings, "empty.png"));
    ck_assert_ptr_nonnull(strstr(warnings, "huge.png"));
    alae_dataset_destroy(ds);
    /* nothing left when every file is bad */
    unlink(in_dir("", "good.png"));
    ds = NULL;
    ck_assert_int_eq(alae_dataset_open_folder(dir, 3, 8, ALAE_FOLDER_SKIP_BAD, &ds), ALAE_E_FORMAT);
    ck_assert_ptr_null(ds);
    alae_test_remove_tree(dir);
}
END_TEST

START_TEST(bad_arguments) {
    make_dir();
    alae_dataset *ds = NULL;
    ck_assert_int_eq(alae_dataset_open_folder(dir, 3, 8, 0, &ds), ALAE_E_FORMAT); /* no images */
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "no .png"));
    ck_assert_int_eq(alae_dataset_open_folder(in_dir("", "missing"), 3, 8, 0, &ds), ALAE_E_IO);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "missing"));
    ck_assert_int_eq(alae_dataset_open_folder(NULL, 3, 8, 0, &ds), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_dataset_open_folder(dir, 0, 8, 0, &ds), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_dataset_open_folder(dir, 3, 0, 0, &ds), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_dataset_open_folder(dir, 3, 8, 8, &ds), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_dataset_read_flipped(NULL, NULL, NULL, 0, 0, NULL), ALAE_E_INVALID_ARG);
    ck_assert_ptr_null(ds);
    alae_test_remove_tree(dir);
}
END_TEST

/* Issue #20 (finding L4): stb_image checks no PNG CRC, so a PNG with a damaged chunk loaded as
 * an image; every chunk's CRC is checked now, up to IEND. */
START_TEST(png_crc_errors_rejected) {
    make_dir();
    const char *path = in_dir("", "a.png");
    write_solid_png(path, 6, 4, 10, 200, 30);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char png[4096];
    size_t n = fread(png, 1, sizeof png, f);
    fclose(f);
    ck_assert(n > 57 && n < sizeof png);
    alae_dataset *ds = NULL;
    ck_assert_alae_ok(alae_dataset_open_folder(path, 3, 4, 0, &ds));
    alae_dataset_destroy(ds);
    ds = NULL;
    const size_t damaged[3] = {19, 45, n - 1}; /* IHDR's width (6 -> 7), inside IDAT, IEND's CRC */
    for (int i = 0; i < 3; i++) {
        png[damaged[i]] ^= 0x01;
        write_bytes(path, png, n);
        png[damaged[i]] ^= 0x01;
        ck_assert_int_eq(alae_dataset_open_folder(path, 3, 4, 0, &ds), ALAE_E_FORMAT);
        ck_assert_msg(strstr(alae_last_error(), "fails its CRC check"), "byte %zu: %s", damaged[i], alae_last_error());
        ck_assert_ptr_null(ds);
    }
    write_bytes(path, png, n - 12); /* no IEND */
    ck_assert_int_eq(alae_dataset_open_folder(path, 3, 4, 0, &ds), ALAE_E_FORMAT);
    alae_test_remove_tree(dir);
}
END_TEST

static Suite *image_suite(void) {
    Suite *s = suite_create("image_load");
    TCase *t = tcase_create("folders");
    tcase_add_test(t, folder_png_jpeg_bmp);
    tcase_add_test(t, area_downsampling);
    tcase_add_test(t, constant_images_stay_constant);
    tcase_add_test(t, shrinking_averages_areas_of_any_ratio);
    tcase_add_test(t, growing_interpolates_bicubically);
    tcase_add_test(t, crop_or_the_whole_image);
    tcase_add_test(t, bad_files_rejected_or_skipped);
    tcase_add_test(t, bad_arguments);
    tcase_add_test(t, png_crc_errors_rejected);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return alae_test_run_suite(image_suite()); }
