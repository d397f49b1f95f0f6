/* alae serve: image headers, PNG and .npy bytes in memory, and uploads decoded through the
 * library (serve.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

/* stb_image_write for PNG bytes in memory (the library writes PNG files only): static
 * functions, no stdio, as lib/io/image_write.c configures it. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#define STBIW_ASSERT(x) ((void)0)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wvla"
#include "third_party/stb/stb_image_write.h"
#pragma GCC diagnostic pop

/* ---- image headers ---- */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

/* The frame header (SOF0..SOF15 but DHT, JPG, DAC) of a JPEG: its sides. */
static void jpeg_sides(const uint8_t *d, size_t len, int64_t *w, int64_t *h) {
    size_t i = 2;
    while (i + 9 < len) {
        if (d[i] != 0xFF) return;
        uint8_t marker = d[i + 1];
        if (marker == 0xFF) {
            i++;
            continue;
        }
        size_t seg = (size_t)d[i + 2] << 8 | d[i + 3];
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            *h = (int64_t)d[i + 5] << 8 | d[i + 6];
            *w = (int64_t)d[i + 7] << 8 | d[i + 8];
            return;
        }
        if (seg < 2) return;
        i += 2 + seg;
    }
}

serve_image_kind serve_image_sniff(const uint8_t *d, size_t len, int64_t *width, int64_t *height) {
    *width = *height = 0;
    if (len >= 24 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) {
        if (memcmp(d + 12, "IHDR", 4) == 0) {
            *width = be32(d + 16);
            *height = be32(d + 20);
        }
        return SERVE_IMAGE_PNG;
    }
    if (len >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
        jpeg_sides(d, len, width, height);
        return SERVE_IMAGE_JPEG;
    }
    if (len >= 26 && d[0] == 'B' && d[1] == 'M') {
        int32_t w = (int32_t)le32(d + 18), h = (int32_t)le32(d + 22);
        *width = w < 0 ? -(int64_t)w : w;
        *height = h < 0 ? -(int64_t)h : h;
        return SERVE_IMAGE_BMP;
    }
    return SERVE_IMAGE_NONE;
}

/* ---- PNG ---- */

static void png_sink(void *context, void *data, int size) { serve_buf_add(context, data, (size_t)size); }

static uint8_t to_byte(float v, float lo, float hi) {
    float t = (v - lo) / (hi - lo) * 255.0f + 0.5f;
    if (!(t > 0.0f)) return 0; /* NaN too */
    return t >= 255.0f ? 255 : (uint8_t)t;
}

int serve_png_encode(const float *images, int64_t n, const cli_geom *g, uint8_t **png, size_t *len) {
    const int64_t gap = 2, s = g->size, c = g->channels;
    const int64_t width = n * s + (n - 1) * gap, height = s;
    uint8_t *pixels = calloc((size_t)(width * height * c), 1);
    if (!pixels) return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < s; y++)
            for (int64_t x = 0; x < s; x++)
                for (int64_t k = 0; k < c; k++)
                    pixels[(y * width + i * (s + gap) + x) * c + k] =
                        to_byte(images[((i * c + k) * s + y) * s + x], g->lo, g->hi);
    serve_buf b = {0};
    int ok = stbi_write_png_to_func(png_sink, &b, (int)width, (int)height, (int)c, pixels, (int)(width * c));
    free(pixels);
    if (!ok || b.failed) {
        serve_buf_free(&b);
        return -1;
    }
    *png = (uint8_t *)b.data;
    *len = b.len;
    return 0;
}

/* ---- .npy ---- */

int serve_is_npy(const uint8_t *data, size_t len) { return len >= 6 && memcmp(data, "\x93NUMPY", 6) == 0; }

void serve_npy_bytes(serve_buf *b, int32_t ndim, const int64_t *shape, const float *data) {
    char header[256];
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    int64_t count = 1;
    for (int32_t i = 0; i < ndim; i++) {
        n += snprintf(header + n, sizeof header - (size_t)n, "%lld%s", (long long)shape[i],
                      ndim == 1 || i + 1 < ndim ? ", " : "");
        count *= shape[i];
    }
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xFF), (uint8_t)(hlen >> 8)};
    serve_buf_add(b, pre, sizeof pre);
    serve_buf_add(b, header, (size_t)n);
    for (size_t i = 0; i < pad; i++) serve_buf_add(b, " ", 1);
    serve_buf_add(b, "\n", 1);
    serve_buf_add(b, data, (size_t)count * sizeof(float)); /* little-endian hosts (x86-64, arm64) */
}

/* ---- uploads ---- */

/* The library's message about an upload, for the client: the temporary file's path (which the
 * client never named) becomes "the upload", and the function name goes. */
static void upload_message(const char *msg, const char *path, char *out, size_t outlen) {
    const char *colon = strchr(msg, ':');
    if (colon && colon[1] == ' ' && strncmp(msg, "alae_", 5) == 0) msg = colon + 2;
    size_t n = 0, plen = strlen(path);
    out[0] = 0;
    while (*msg && n + 1 < outlen) {
        if (strncmp(msg, path, plen) == 0) {
            n += (size_t)snprintf(out + n, outlen - n, "the upload");
            msg += plen;
            if (n >= outlen) n = outlen - 1;
        } else {
            out[n++] = *msg++;
            out[n] = 0;
        }
    }
}

/* Writes bytes to a fresh file of the upload folder; returns 0 and its path, or -1. */
static int write_upload(serve_worker *w, const char *ext, const uint8_t *data, size_t len, char *path,
                        size_t pathlen) {
    snprintf(path, pathlen, "%s/w%d-%llu.%s", w->shared->upload_dir, w->index, (unsigned long long)w->uploads++, ext);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, data + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        done += (size_t)k;
    }
    if (close(fd) != 0 || done != len) {
        unlink(path);
        return -1;
    }
    return 0;
}

int serve_decode_upload(serve_worker *w, const uint8_t *data, size_t len, float *x, char *err, size_t errlen) {
    const cli_geom *g = &w->shared->g;
    int64_t width, height;
    serve_image_kind kind = serve_image_sniff(data, len, &width, &height);
    static const char *const ext[] = {"", "png", "jpg", "bmp"};
    if (kind == SERVE_IMAGE_NONE) {
        snprintf(err, errlen, "the body is not a PNG, JPEG or BMP image (%zu bytes)", len);
        return 415;
    }
    if (width < 1 || height < 1 || width > SERVE_MAX_SIDE || height > SERVE_MAX_SIDE) {
        snprintf(err, errlen, "the image is %lldx%lld px; sides of 1 to %d px are accepted", (long long)width,
                 (long long)height, SERVE_MAX_SIDE);
        return 413;
    }
    char path[640];
    if (write_upload(w, ext[kind], data, len, path, sizeof path) != 0) {
        snprintf(err, errlen, "cannot store the upload: %s", strerror(errno));
        return 500;
    }
    alae_dataset *ds = NULL;
    alae_status s = alae_dataset_open_folder(path, g->channels, g->full, ALAE_FOLDER_NO_CROP, &ds);
    unlink(path);
    if (s != ALAE_OK) {
        char msg[400];
        upload_message(alae_last_error(), path, msg, sizeof msg);
        snprintf(err, errlen, "cannot decode the image: %s", msg);
        return s == ALAE_E_NOMEM ? 500 : 400;
    }
    s = cli_read_images(w->ctx, ds, g, 0, 1, x);
    alae_dataset_destroy(ds);
    if (s != ALAE_OK) {
        snprintf(err, errlen, "cannot read the image: %s", alae_last_error());
        return 500;
    }
    return 0;
}

int serve_read_npy_upload(serve_worker *w, const uint8_t *bytes, size_t len, int32_t *ndim, int64_t shape[8],
                          float **data, char *err, size_t errlen) {
    char path[640];
    if (write_upload(w, "npy", bytes, len, path, sizeof path) != 0) {
        snprintf(err, errlen, "cannot store the upload: %s", strerror(errno));
        return 500;
    }
    alae_status s = alae_npy_read_f32(path, ndim, shape, data);
    unlink(path);
    if (s != ALAE_OK) {
        char msg[400];
        upload_message(alae_last_error(), path, msg, sizeof msg);
        snprintf(err, errlen, "cannot read the .npy body: %s", msg);
        return s == ALAE_E_NOMEM ? 500 : 400;
    }
    return 0;
}
