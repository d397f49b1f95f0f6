/* PNG image grids (stb_image_write, compiled into this translation unit only, all static). See
 * image_write.h. */
#include "io/image_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io/atomic_file.h"

/* stb_image_write: static functions only (nothing reaches the ABI), no stdio file functions, and
 * no assert (the library never aborts; every call below passes validated arguments). */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#define STBIW_ASSERT(x) ((void)0)
#if defined(__GNUC__) || defined(__clang__)
/* stb declares functions that this configuration never defines or uses; the warning comes at the
 * end of the translation unit, so it stays off for the whole file */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wvla"
#endif
#include "third_party/stb/stb_image_write.h"
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* ------------------------------------------------------------------------------------------ */
/* PNG grid                                                                                   */

typedef struct {
    alaei_atomic_file *af;
    alae_status st;
} png_sink_ctx;

static void png_sink(void *ctx, void *data, int size) {
    png_sink_ctx *c = ctx;
    if (c->st != ALAE_OK || size <= 0) return;
    c->st = alaei_atomic_write(c->af, data, (size_t)size, "alaei_write_png_grid");
}

static unsigned char to_byte(float v, float lo, float scale) {
    if (!(v == v)) return 0; /* NaN */
    float x = (v - lo) * scale + 0.5f;
    if (!(x > 0.0f)) return 0;
    if (x >= 255.0f) return 255;
    return (unsigned char)x;
}

alae_status alaei_write_png_grid(const char *path, const float *images, int64_t n, int64_t c,
                                 int64_t h, int64_t w, float lo, float hi, int32_t cols) {
    const char *func = __func__;
    ALAEI_CHECK_ARG(path);
    ALAEI_CHECK_ARG(images);
    if (n < 1) return alaei_fail(ALAE_E_INVALID_ARG, func, "n = %" PRId64 " must be >= 1", n);
    if (c != 1 && c != 3) return alaei_fail(ALAE_E_INVALID_ARG, func, "c = %" PRId64 " must be 1 or 3", c);
    if (h < 1 || w < 1 || h > ALAEI_GRID_MAX_SIDE || w > ALAEI_GRID_MAX_SIDE)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "image size %" PRId64 "x%" PRId64 " is outside 1..%d",
                          h, w, ALAEI_GRID_MAX_SIDE);
    if (cols < 1) return alaei_fail(ALAE_E_INVALID_ARG, func, "cols = %d must be >= 1", (int)cols);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "value range [%g, %g] is not finite and increasing",
                          (double)lo, (double)hi);
    int64_t gc = cols < n ? cols : n;
    int64_t gr = n / gc + (n % gc != 0);
    const int64_t pad = ALAEI_GRID_PAD;
    /* each factor is bounded (gc, gr <= n, and the products are checked against the limit) */
    if (gc > ALAEI_GRID_MAX_SIDE || gr > ALAEI_GRID_MAX_SIDE)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "a %" PRId64 "x%" PRId64 " grid is larger than %d pixels",
                          gr, gc, ALAEI_GRID_MAX_SIDE);
    int64_t gw = gc * (w + pad) + pad, gh = gr * (h + pad) + pad;
    if (gw > ALAEI_GRID_MAX_SIDE || gh > ALAEI_GRID_MAX_SIDE)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the grid would be %" PRId64 "x%" PRId64
                          " pixels, more than %d per side", gw, gh, ALAEI_GRID_MAX_SIDE);
    size_t plane = (size_t)h * (size_t)w, per_image = plane * (size_t)c; /* < 2^30 * 3 */
    size_t stride = (size_t)gw * (size_t)c, bytes = stride * (size_t)gh;   /* < 2^30 * 3 */
    unsigned char *pix = calloc(bytes, 1);
    if (!pix) return alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes for the grid", bytes);
    float scale = 255.0f / (hi - lo);
    if (!isfinite(scale)) scale = 255.0f / (float)((double)hi - (double)lo);
    for (int64_t k = 0; k < n; k++) {
        int64_t gy = k / gc, gx = k % gc;
        size_t y0 = (size_t)(pad + gy * (h + pad)), x0 = (size_t)(pad + gx * (w + pad));
        const float *img = images + (size_t)k * per_image;
        for (int64_t y = 0; y < h; y++) {
            unsigned char *row = pix + (y0 + (size_t)y) * stride + x0 * (size_t)c;
            for (int64_t x = 0; x < w; x++)
                for (int64_t ch = 0; ch < c; ch++)
                    row[(size_t)x * (size_t)c + (size_t)ch] =
                        to_byte(img[(size_t)ch * plane + (size_t)y * (size_t)w + (size_t)x], lo, scale);
        }
    }
    alaei_atomic_file af;
    alae_status st = alaei_atomic_open(&af, path, func);
    if (st != ALAE_OK) {
        free(pix);
        return st;
    }
    png_sink_ctx ctx = {&af, ALAE_OK};
    int ok = stbi_write_png_to_func(png_sink, &ctx, (int)gw, (int)gh, (int)c, pix, (int)stride);
    free(pix);
    if (ctx.st != ALAE_OK) return ctx.st; /* the atomic write already cleaned up */
    if (!ok) {
        alaei_atomic_abort(&af);
        return alaei_fail(ALAE_E_NOMEM, func, "PNG encoding of a %" PRId64 "x%" PRId64 " image failed", gw, gh);
    }
    return alaei_atomic_commit(&af, func);
}
