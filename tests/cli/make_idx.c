/* Writes the synthetic IDX files the CLI test trains on, into the directory argv[1]:
 *   tiny.idx      256 28x28 unsigned-byte images of digit-like strokes (rings and bars)
 *   tiny.idx.gz   the same file gzipped
 *   trunc.idx     tiny.idx cut off in the middle of its pixels
 *   badmagic.idx  a header with a wrong magic number
 *   faces/        24 RGB images (PNG, plus one JPEG and one BMP) of 16x16 coloured discs
 *   bad/          two good PNGs and a corrupt one (bad/b-corrupt.png)
 *   wide.png      40x16 RGB: a red band, the disc of faces/05.png, a blue band (for --crop);
 *   wide-centre.png its centre 16x16 square */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <sys/stat.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#include "third_party/stb/stb_image_write.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define COUNT 256
#define SIDE 28
#define HEADER 16
#define TOTAL (HEADER + COUNT * SIDE * SIDE)

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static double next_unit(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (double)(*state >> 8) / 16777216.0;
}

/* A ring (even i) or a slanted bar (odd i) with a soft 2-pixel stroke. */
static void draw(unsigned char *img, int i, uint32_t *rng) {
    double cx = 10 + 8 * next_unit(rng), cy = 10 + 8 * next_unit(rng), r = 4 + 5 * next_unit(rng);
    double angle = 3.14159265 * next_unit(rng), ca = cos(angle), sa = sin(angle);
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            double dx = x - cx, dy = y - cy, d;
            if (i % 2 == 0) {
                d = fabs(sqrt(dx * dx + dy * dy) - r);
            } else {
                double along = dx * ca + dy * sa, across = -dx * sa + dy * ca;
                d = fabs(along) > r + 2 ? 99 : fabs(across);
            }
            double v = d < 2.5 ? 1.0 - d / 2.5 : 0.0;
            img[y * SIDE + x] = (unsigned char)(255.0 * v + 0.5);
        }
}

static int write_file(const char *dir, const char *name, const unsigned char *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "make_idx: cannot write %s\n", path);
    return ok;
}

static int write_gz(const char *dir, const char *name, const unsigned char *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile g = gzopen(path, "wb9");
    int ok = g && gzwrite(g, data, (unsigned)n) == (int)n;
    if (g && gzclose(g) != Z_OK) ok = 0;
    if (!ok) fprintf(stderr, "make_idx: cannot write %s\n", path);
    return ok;
}

/* A 16x16 RGB disc of colour i on a dark background. */
static void disc(unsigned char *px, int i) {
    int cx = 5 + i % 6, cy = 5 + (i / 6) % 6, r = 3 + i % 3;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            int in = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
            px[(y * 16 + x) * 3] = (unsigned char)(in ? 60 + 8 * i : 10);
            px[(y * 16 + x) * 3 + 1] = (unsigned char)(in ? 250 - 9 * i : 20);
            px[(y * 16 + x) * 3 + 2] = (unsigned char)(in ? 40 + 5 * (i % 7) : 30);
        }
}

static int write_images(const char *dir) {
    char path[1024];
    unsigned char px[16 * 16 * 3];
    snprintf(path, sizeof path, "%s/faces", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/bad", dir);
    mkdir(path, 0777);
    int ok = 1;
    for (int i = 0; i < 24 && ok; i++) {
        disc(px, i);
        if (i == 3) {
            snprintf(path, sizeof path, "%s/faces/%02d.jpg", dir, i);
            ok = stbi_write_jpg(path, 16, 16, 3, px, 95) != 0;
        } else if (i == 4) {
            snprintf(path, sizeof path, "%s/faces/%02d.bmp", dir, i);
            ok = stbi_write_bmp(path, 16, 16, 3, px) != 0;
        } else {
            snprintf(path, sizeof path, "%s/faces/%02d.png", dir, i);
            ok = stbi_write_png(path, 16, 16, 3, px, 48) != 0;
        }
        if (ok && i < 2) {
            snprintf(path, sizeof path, "%s/bad/%c-good.png", dir, i ? 'c' : 'a');
            ok = stbi_write_png(path, 16, 16, 3, px, 48) != 0;
        }
    }
    unsigned char wide[40 * 16 * 3];
    disc(px, 5);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 40; x++)
            for (int c = 0; c < 3; c++)
                wide[(y * 40 + x) * 3 + c] = x < 12    ? (unsigned char)(c == 0 ? 230 : 20)
                                             : x >= 28 ? (unsigned char)(c == 2 ? 230 : 20)
                                                       : px[(y * 16 + x - 12) * 3 + c];
    snprintf(path, sizeof path, "%s/wide.png", dir);
    ok = ok && stbi_write_png(path, 40, 16, 3, wide, 40 * 3) != 0;
    snprintf(path, sizeof path, "%s/wide-centre.png", dir);
    ok = ok && stbi_write_png(path, 16, 16, 3, px, 48) != 0;
    const unsigned char junk[40] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3, 4, 5};
    return ok && write_file(dir, "bad/b-corrupt.png", junk, sizeof junk);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_idx DIR\n");
        return 2;
    }
    unsigned char *buf = malloc(TOTAL);
    if (!buf) return 1;
    put_be32(buf, 0x00000803u);
    put_be32(buf + 4, COUNT);
    put_be32(buf + 8, SIDE);
    put_be32(buf + 12, SIDE);
    uint32_t rng = 12345;
    for (int i = 0; i < COUNT; i++) draw(buf + HEADER + (size_t)i * SIDE * SIDE, i, &rng);
    int ok = write_file(argv[1], "tiny.idx", buf, TOTAL) && write_gz(argv[1], "tiny.idx.gz", buf, TOTAL) &&
             write_file(argv[1], "trunc.idx", buf, TOTAL / 2);
    put_be32(buf, 0x00000801u);
    ok = ok && write_file(argv[1], "badmagic.idx", buf, HEADER + SIDE * SIDE) && write_images(argv[1]);
    free(buf);
    return ok ? 0 : 1;
}
