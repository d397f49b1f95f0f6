/* Image files through stb_image (see image_load.h). The only translation unit that compiles
 * stb_image: STB_IMAGE_STATIC keeps every stbi_* symbol local to it. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/image_load.h"
#include "io/file_read.h"

#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_FAILURE_STRINGS_LONG
#define STBI_MAX_DIMENSIONS ALAEI_IMAGE_MAX_SIDE
/* Zeroed allocations: stb_image 2.27 reads quantisation and Huffman tables that a corrupt JPEG
 * never defined from its (malloc'ed) decoder state, so without this the decoded pixels of such a
 * file depend on leftover heap contents (non-deterministic output, heap data leaking into
 * images). */
#define STBI_MALLOC(sz) calloc(1, sz)
#define STBI_REALLOC(p, newsz) realloc(p, newsz)
#define STBI_FREE(p) free(p)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
/* The vendored copy: Debian's 2.27 with the JPEG bit-reader bounds checks of 2.28 (bug B6 in
 * docs/reliability.md; third_party/stb/README.md). */
#include "third_party/stb/stb_image.h"
#ifndef ALAE_STB_IMAGE_PATCHED
#error "lib/io/image_load.c must use the patched stb_image.h of third_party/stb"
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
/* stb_image declares functions that the format selection above leaves undefined. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

int alaei_image_name_ok(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

/* 1-D area weights (shrinking): output cell o covers source [o * scale, (o + 1) * scale). */
static void area_line(const float *src, int64_t n, int64_t stride, float *dst, int64_t m, int64_t dstride) {
    double scale = (double)n / (double)m;
    for (int64_t o = 0; o < m; o++) {
        double a = (double)o * scale, b = (double)(o + 1) * scale, acc = 0.0;
        int64_t i0 = (int64_t)a, i1 = (int64_t)b;
        if (i1 >= n) i1 = n - 1;
        for (int64_t i = i0; i <= i1; i++) {
            double lo = (double)i > a ? (double)i : a, hi = (double)(i + 1) < b ? (double)(i + 1) : b;
            if (hi > lo) acc += (hi - lo) * src[i * stride];
        }
        dst[o * dstride] = (float)(acc / (b - a));
    }
}

/* Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom): interpolating, its weights sum
 * to 1, and it reproduces linear ramps exactly. */
static double cubic_weight(double t) {
    t = fabs(t);
    if (t < 1.0) return (1.5 * t - 2.5) * t * t + 1.0;
    if (t < 2.0) return ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0;
    return 0.0;
}

/* 1-D bicubic interpolation (enlarging): output sample o sits at source position
 * (o + 0.5) n / m - 0.5 (pixel centres aligned); the four taps around it, clamped to the edge. */
static void cubic_line(const float *src, int64_t n, int64_t stride, float *dst, int64_t m, int64_t dstride) {
    double scale = (double)n / (double)m;
    for (int64_t o = 0; o < m; o++) {
        double u = ((double)o + 0.5) * scale - 0.5, base = floor(u), acc = 0.0;
        for (int64_t k = -1; k <= 2; k++) {
            int64_t i = (int64_t)base + k;
            i = i < 0 ? 0 : i >= n ? n - 1 : i;
            acc += cubic_weight(u - (base + (double)k)) * src[i * stride];
        }
        dst[o * dstride] = (float)acc;
    }
}

/* One axis: area averaging when shrinking, bicubic when enlarging, a copy at the same size. */
static void resample_line(const float *src, int64_t n, int64_t stride, float *dst, int64_t m, int64_t dstride) {
    if (m < n)
        area_line(src, n, stride, dst, m, dstride);
    else if (m > n)
        cubic_line(src, n, stride, dst, m, dstride);
    else
        for (int64_t i = 0; i < n; i++) dst[i * dstride] = src[i * stride];
}

void alaei_resample_plane(const uint8_t *src, int64_t sh, int64_t sw, int64_t src_stride, uint8_t *dst, int64_t dh,
                          int64_t dw) {
    float *row = malloc((size_t)sw * sizeof(float));
    float *tmp = malloc((size_t)(sh * dw) * sizeof(float)); /* rows resampled: [sh, dw] */
    float *col = malloc((size_t)dh * sizeof(float));
    if (!row || !tmp || !col) { /* fall back to nearest neighbour: no memory needed */
        for (int64_t y = 0; y < dh; y++)
            for (int64_t x = 0; x < dw; x++) dst[y * dw + x] = src[(y * sh / dh) * src_stride + x * sw / dw];
        free(row);
        free(tmp);
        free(col);
        return;
    }
    for (int64_t y = 0; y < sh; y++) {
        for (int64_t x = 0; x < sw; x++) row[x] = src[y * src_stride + x];
        resample_line(row, sw, 1, tmp + y * dw, dw, 1);
    }
    for (int64_t x = 0; x < dw; x++) {
        resample_line(tmp + x, sh, dw, col, dh, 1);
        for (int64_t y = 0; y < dh; y++) {
            float v = col[y] + 0.5f; /* bicubic overshoots at edges: clamp */
            dst[y * dw + x] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
        }
    }
    free(row);
    free(tmp);
    free(col);
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Checks every Huffman table (DHT segment) of a JPEG: at most 256 symbols, inside the segment.
 * stb_image 2.27 builds a table from the 16 code counts without checking that they sum to at
 * most 256, writing up to 4080 bytes into arrays of 257 and 256 (a heap buffer overflow from a
 * crafted file; later stb_image versions check it). Walks the markers from the start of the file
 * (stb_image accepts fill bytes before SOI), skipping entropy-coded data, until EOI or the end of
 * the file; leaves the file position at 0. */
static alae_status check_jpeg_tables(FILE *f, const char *path, uint64_t fsize) {
    const char *func = "alaei_image_load";
    uint64_t pos = 0;
    alae_status st = ALAE_OK;
    if (fseek(f, 0, SEEK_SET) != 0) return alaei_fail(ALAE_E_IO, func, "%s: %s", path, strerror(errno));
    int c = getc(f);
    while (c != EOF && st == ALAE_OK) {
        if (c != 0xFF) { /* entropy-coded data (or garbage) between markers */
            c = getc(f);
            pos++;
            continue;
        }
        int m = getc(f);
        pos++;
        while (m == 0xFF) { /* fill bytes */
            m = getc(f);
            pos++;
        }
        if (m == EOF || m == 0xD9) break;                 /* EOI */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { /* stuffed byte, TEM, RSTn, SOI */
            c = getc(f);
            pos++;
            continue;
        }
        int hi = getc(f), lo = getc(f);
        if (hi == EOF || lo == EOF) break;
        uint64_t len = (uint64_t)hi << 8 | (uint64_t)lo, start = pos + 3; /* pos: at the marker byte */
        if (len < 2) break; /* stb_image reports the malformed segment itself */
        if (m == 0xC4) {
            uint64_t off = 2;
            while (off < len) { /* as stb_image: a table starts wherever bytes of the segment remain */
                /* stb_image reads zeros past the end of the file: so does this check */
                unsigned char counts[17] = {0};
                size_t got = fread(counts, 1, 17, f);
                uint64_t n = 0;
                for (int i = 1; i < 17; i++) n += counts[i];
                if (n > 256 || off + 17 + n > len) {
                    st = alaei_fail(ALAE_E_FORMAT, func, "%s: JPEG Huffman table at offset %llu declares %llu codes "
                                    "(at most 256, inside its %llu-byte segment)", path, (unsigned long long)(start - 4),
                                    (unsigned long long)n, (unsigned long long)len);
                    break;
                }
                if (got != 17 || fseek(f, (long)n, SEEK_CUR) != 0) break;
                off += 17 + n;
            }
        }
        pos = start + len - 2; /* the first byte after the segment */
        if (pos >= fsize || fseek(f, (long)pos, SEEK_SET) != 0) break;
        c = getc(f);
    }
    rewind(f);
    return st;
}

/* Whether a file of fsize bytes can hold the w x h image its header claims. stb_image allocates
 * for the claim before it reads the data (the PNG IDAT buffer from a chunk length, the inflate
 * output and the JPEG planes from the size) and fills missing BMP and JPEG data with zeros, so a
 * 60-byte header claiming 16384x16384 pixels would cost gigabytes: refuse it before decoding.
 * The bounds, with a factor 2 of slack, never refuse a complete file: raw BMP data is stored as
 * is; deflate expands at most 1032:1; a JPEG spends at least one bit on every 8x8 luma block. */
static alae_status check_claim(FILE *f, const char *path, uint64_t fsize, const unsigned char *head, size_t hn,
                               uint64_t w, uint64_t h) {
    const char *func = "alaei_image_load";
    if (hn >= 26 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8)) {
        static const unsigned char samples[7] = {1, 0, 3, 1, 2, 0, 4}; /* by colour type */
        uint64_t n = head[25] < 7 ? samples[head[25]] : 0, depth = head[24];
        uint64_t raw = ((w * n * depth + 7) / 8 + 1) * h; /* filtered scanlines: < 2^40 */
        if (raw / (2 * 1032) > fsize)
            return alaei_fail(ALAE_E_FORMAT, func, "%s claims %llux%llu pixels (%llu bytes of image data), more than a "
                              "%llu-byte PNG can hold", path, (unsigned long long)w, (unsigned long long)h,
                              (unsigned long long)raw, (unsigned long long)fsize);
        /* every chunk must end inside the file (stb_image allocates an IDAT chunk's length first) */
        uint64_t pos = 8;
        unsigned char ch[8];
        while (pos + 12 <= fsize && fseek(f, (long)pos, SEEK_SET) == 0 && fread(ch, 1, 8, f) == 8) {
            uint64_t len = be32(ch);
            if (len > fsize - pos - 12)
                return alaei_fail(ALAE_E_FORMAT, func, "%s: PNG chunk '%.4s' at offset %llu claims %llu bytes, past the "
                                  "end of the %llu-byte file (truncated?)", path, (const char *)ch + 4,
                                  (unsigned long long)pos, (unsigned long long)len, (unsigned long long)fsize);
            if (!memcmp(ch + 4, "IEND", 4)) break;
            pos += 12 + len;
        }
        rewind(f);
    } else if (hn >= 34 && head[0] == 'B' && head[1] == 'M') {
        uint64_t offset = le32(head + 10), hsz = le32(head + 14);
        uint64_t bpp = hsz == 12 ? (uint64_t)(head[24] | head[25] << 8) : (uint64_t)(head[28] | head[29] << 8);
        /* whatever the compression field says: stb_image refuses RLE and reads every other BMP
         * (an invalid field included) as uncompressed rows */
        uint64_t need = offset + (w * bpp + 31) / 32 * 4 * h; /* < 2^42 */
        if (need > fsize)
            return alaei_fail(ALAE_E_FORMAT, func, "%s claims %llux%llu pixels at %llu bits, %llu bytes, but has %llu: "
                              "truncated", path, (unsigned long long)w, (unsigned long long)h, (unsigned long long)bpp,
                              (unsigned long long)need, (unsigned long long)fsize);
    } else if (hn >= 1 && head[0] == 0xFF) { /* JPEG: SOI, possibly after fill bytes */
        if (w * h / (2 * 8 * 8 * 8) > fsize)
            return alaei_fail(ALAE_E_FORMAT, func, "%s claims %llux%llu pixels, more than a %llu-byte JPEG can hold",
                              path, (unsigned long long)w, (unsigned long long)h, (unsigned long long)fsize);
    }
    return ALAE_OK;
}

static uint32_t be32_at(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Every chunk of a PNG up to IEND has the CRC it declares (stb_image checks none): a corrupt
 * file is an error, not an image with damaged pixels or settings. f is at any position. */
static alae_status check_png_crcs(FILE *f, const char *path, const char *func) {
    unsigned char buf[1 << 15];
    if (fseek(f, 8, SEEK_SET) != 0) return alaei_fail(ALAE_E_IO, func, "%s: %s", path, strerror(errno));
    for (uint64_t at = 8;;) {
        unsigned char head[8], crc[4];
        if (fread(head, 1, 8, f) != 8)
            return alaei_fail(ALAE_E_FORMAT, func, "%s: PNG ends at byte %llu without an IEND chunk", path,
                              (unsigned long long)at);
        uint32_t len = be32_at(head);
        if (len > 0x7FFFFFFFu)
            return alaei_fail(ALAE_E_FORMAT, func, "%s: PNG chunk at byte %llu has length %u", path,
                              (unsigned long long)at, (unsigned)len);
        uLong sum = crc32(0L, head + 4, 4);
        for (uint32_t left = len; left > 0;) {
            size_t want = left < sizeof buf ? left : sizeof buf;
            if (fread(buf, 1, want, f) != want)
                return alaei_fail(ALAE_E_FORMAT, func, "%s: PNG chunk '%.4s' at byte %llu is cut off", path,
                                  (const char *)head + 4, (unsigned long long)at);
            sum = crc32(sum, buf, (uInt)want);
            left -= (uint32_t)want;
        }
        if (fread(crc, 1, 4, f) != 4 || be32_at(crc) != (uint32_t)sum)
            return alaei_fail(ALAE_E_FORMAT, func, "%s: PNG chunk '%.4s' at byte %llu fails its CRC check", path,
                              (const char *)head + 4, (unsigned long long)at);
        if (!memcmp(head + 4, "IEND", 4)) return ALAE_OK;
        at += 12 + (uint64_t)len;
    }
}

alae_status alaei_image_load(const char *path, int32_t channels, int32_t size, uint8_t *out) {
    return alaei_image_load_fit(path, channels, size, 1, out);
}

alae_status alaei_image_load_fit(const char *path, int32_t channels, int32_t size, int crop, uint8_t *out) {
    if (!path || !out || channels < 1 || channels > 4 || size < 1 || size > ALAEI_IMAGE_MAX_SIDE)
        return alaei_fail(ALAE_E_INVALID_ARG, "alaei_image_load", "bad arguments (channels %d, size %d)", (int)channels,
                          (int)size);
    int fd;
    uint64_t fsize;
    alae_status opened = alaei_open_regular(path, "alaei_image_load", &fd, &fsize);
    if (opened != ALAE_OK) return opened;
    if (fsize == 0) {
        close(fd);
        return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s is empty (0 bytes)", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return alaei_fail(ALAE_E_IO, "alaei_image_load", "%s: %s", path, strerror(e));
    }
    /* A PNG's size, straight from its IHDR chunk (stbi_info would fail on a truncated file with
     * a vaguer reason). */
    unsigned char head[34];
    size_t hn = fread(head, 1, sizeof head, f);
    if (hn >= 24 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8) && !memcmp(head + 12, "IHDR", 4)) {
        uint32_t pw = (uint32_t)head[16] << 24 | (uint32_t)head[17] << 16 | (uint32_t)head[18] << 8 | head[19];
        uint32_t ph = (uint32_t)head[20] << 24 | (uint32_t)head[21] << 16 | (uint32_t)head[22] << 8 | head[23];
        if (pw > ALAEI_IMAGE_MAX_SIDE || ph > ALAEI_IMAGE_MAX_SIDE || pw == 0 || ph == 0) {
            fclose(f);
            return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s is %ux%u pixels: sides must be 1..%d", path,
                              (unsigned)pw, (unsigned)ph, ALAEI_IMAGE_MAX_SIDE);
        }
    }
    if (hn >= 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8)) {
        alae_status crcs = check_png_crcs(f, path, "alaei_image_load");
        if (crcs != ALAE_OK) {
            fclose(f);
            return crcs;
        }
    }
    /* stbi_info already builds a JPEG's Huffman tables: check them first (a JPEG starts with
     * 0xFF: SOI, or fill bytes before it) */
    if (hn >= 1 && head[0] == 0xFF) {
        alae_status js = check_jpeg_tables(f, path, fsize);
        if (js != ALAE_OK) {
            fclose(f);
            return js;
        }
    }
    rewind(f);
    int w = 0, h = 0, comp = 0;
    /* The header first: sizes are checked before any pixel memory is allocated. */
    if (!stbi_info_from_file(f, &w, &h, &comp)) {
        const char *why = stbi_failure_reason();
        fclose(f);
        if (why && !strcmp(why, "too large"))
            return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s claims a size above %dx%d pixels: refused", path,
                              ALAEI_IMAGE_MAX_SIDE, ALAEI_IMAGE_MAX_SIDE);
        return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s is not a readable PNG, JPEG or BMP image (%s)", path,
                          why ? why : "unknown format");
    }
    /* stb_image 2.27's stbi_info reports a top-down BMP's height as negative (its decoder does
     * not) */
    if (h < 0 && h != INT_MIN && hn >= 2 && head[0] == 'B' && head[1] == 'M') h = -h;
    size_t bytes;
    if (w < 1 || h < 1 || w > ALAEI_IMAGE_MAX_SIDE || h > ALAEI_IMAGE_MAX_SIDE ||
        !alaei_mul_size((size_t)w, (size_t)h, &bytes) || !alaei_mul_size(bytes, (size_t)channels, &bytes)) {
        fclose(f);
        return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s is %dx%d pixels: sides must be 1..%d", path, w, h,
                          ALAEI_IMAGE_MAX_SIDE);
    }
    alae_status claim = check_claim(f, path, fsize, head, hn, (uint64_t)w, (uint64_t)h);
    if (claim != ALAE_OK) {
        fclose(f);
        return claim;
    }
    int gw = 0, gh = 0, gc = 0;
    unsigned char *px = stbi_load_from_file(f, &gw, &gh, &gc, channels);
    fclose(f);
    if (!px) {
        const char *why = stbi_failure_reason();
        return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s cannot be decoded (%s)", path, why ? why : "corrupt data");
    }
    if (gw != w || gh != h) {
        stbi_image_free(px);
        return alaei_fail(ALAE_E_FORMAT, "alaei_image_load", "%s: the header says %dx%d but the data %dx%d", path, w, h, gw,
                          gh);
    }
    /* The centre square (crop) or the whole image, resampled to size x size plane by plane. */
    int64_t side = w < h ? w : h;
    int64_t rw = crop ? side : w, rh = crop ? side : h, left = (w - rw) / 2, top = (h - rh) / 2;
    uint8_t *plane = malloc((size_t)(rw * rh));
    if (!plane) {
        stbi_image_free(px);
        return alaei_fail(ALAE_E_NOMEM, "alaei_image_load", "no memory to resize %s", path);
    }
    for (int32_t c = 0; c < channels; c++) {
        for (int64_t y = 0; y < rh; y++)
            for (int64_t x = 0; x < rw; x++)
                plane[y * rw + x] = px[((size_t)(y + top) * (size_t)w + (size_t)(x + left)) * (size_t)channels + (size_t)c];
        uint8_t *dst = out + (size_t)c * (size_t)size * (size_t)size;
        if (rw == size && rh == size)
            memcpy(dst, plane, (size_t)(rw * rh));
        else
            alaei_resample_plane(plane, rh, rw, rw, dst, size, size);
    }
    free(plane);
    stbi_image_free(px);
    return ALAE_OK;
}
