/* alae_eval_swd: sliced Wasserstein distance on Laplacian-pyramid patches (the progressive GAN's
 * metrics/sliced_wasserstein.py, re-implemented). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define NHOOD 7
#define NHOODS_PER_IMAGE 128
#define DIR_REPEATS 4
#define DIRS_PER_REPEAT 128
#define MIN_LEVEL_SIDE 16

static const double binomial5[5] = {1 / 16.0, 4 / 16.0, 6 / 16.0, 4 / 16.0, 1 / 16.0};

/* scipy.ndimage's 'mirror' boundary: -1 -> 1, n -> n - 2. */
static int32_t mirror(int32_t i, int32_t n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* 5x5 binomial filter of a plane (separable), scaled by gain, mirrored edges. */
static void blur(const float *src, float *dst, float *tmp, int32_t side, double gain) {
    for (int32_t r = 0; r < side; r++)
        for (int32_t c = 0; c < side; c++) {
            double acc = 0;
            for (int32_t k = 0; k < 5; k++) acc += binomial5[k] * src[r * side + mirror(c + k - 2, side)];
            tmp[r * side + c] = (float)acc;
        }
    for (int32_t r = 0; r < side; r++)
        for (int32_t c = 0; c < side; c++) {
            double acc = 0;
            for (int32_t k = 0; k < 5; k++) acc += binomial5[k] * tmp[mirror(r + k - 2, side) * side + c];
            dst[r * side + c] = (float)(acc * gain);
        }
}

/* One pyramid step of a plane of side `side` (even): down = blur, every other pixel; the
 * Laplacian band = plane - blur(zero-interleaved down) x 4. work holds 3 planes of side^2. */
static void pyramid_step(float *plane, float *down, int32_t side, float *work) {
    float *blurred = work, *tmp = work + side * side, *up = work + 2 * side * side;
    int32_t half = side / 2;
    blur(plane, blurred, tmp, side, 1.0);
    for (int32_t r = 0; r < half; r++)
        for (int32_t c = 0; c < half; c++) down[r * half + c] = blurred[2 * r * side + 2 * c];
    memset(up, 0, (size_t)side * (size_t)side * sizeof(float));
    for (int32_t r = 0; r < half; r++)
        for (int32_t c = 0; c < half; c++) up[2 * r * side + 2 * c] = down[r * half + c];
    blur(up, blurred, tmp, side, 4.0);
    for (int32_t k = 0; k < side * side; k++) plane[k] -= blurred[k];
}

/* The sides of the levels measured: from size halving while >= MIN_LEVEL_SIDE, at least two,
 * each >= NHOOD. */
static int32_t level_sides(int32_t size, int32_t *sides) {
    int32_t n = 0;
    for (int32_t s = size; n < ALAE_SWD_MAX_LEVELS && s >= NHOOD; s /= 2) {
        if (s < MIN_LEVEL_SIDE && n >= 2) break;
        sides[n++] = s;
        if (s % 2) break; /* an odd side cannot be halved exactly */
    }
    return n;
}

/* Descriptors [n * NHOODS_PER_IMAGE, channels * 49] of every level for one set: levels[l] points
 * to the block of level l. */
typedef struct descriptor_set {
    float *data[ALAE_SWD_MAX_LEVELS];
} descriptor_set;

static void free_descriptors(descriptor_set *d, int32_t levels) {
    for (int32_t l = 0; l < levels; l++) free(d->data[l]);
}

/* Cuts the random neighbourhoods of one image's level planes [channels, side, side]. */
static void cut_nhoods(const float *planes, int32_t channels, int32_t side, alaei_eval_rng *rng, float *dst) {
    int32_t dim = channels * NHOOD * NHOOD, h = NHOOD / 2;
    for (int32_t k = 0; k < NHOODS_PER_IMAGE; k++) {
        int32_t y = h + (int32_t)alaei_eval_rng_below(rng, side - 2 * h), x = h + (int32_t)alaei_eval_rng_below(rng, side - 2 * h);
        float *d = dst + (int64_t)k * dim;
        for (int32_t c = 0; c < channels; c++)
            for (int32_t r = 0; r < NHOOD; r++)
                memcpy(d + (c * NHOOD + r) * NHOOD, planes + ((int64_t)c * side + y - h + r) * side + x - h,
                       NHOOD * sizeof(float));
    }
}

/* Builds the pyramids image by image and cuts the neighbourhoods of every level. */
static alae_status describe_set(const float *images, int64_t n, int32_t channels, int32_t size, const int32_t *sides,
                                int32_t levels, uint64_t seed, descriptor_set *out) {
    int64_t dim = (int64_t)channels * NHOOD * NHOOD, plane = (int64_t)size * size;
    memset(out, 0, sizeof *out);
    float *cur = malloc((size_t)(plane * channels) * sizeof(float)), *next = malloc((size_t)(plane * channels) * sizeof(float));
    float *work = malloc((size_t)(3 * plane) * sizeof(float));
    alae_status s = cur && next && work ? ALAE_OK : ALAE_E_NOMEM;
    for (int32_t l = 0; s == ALAE_OK && l < levels; l++)
        if (!(out->data[l] = malloc((size_t)(n * NHOODS_PER_IMAGE * dim) * sizeof(float)))) s = ALAE_E_NOMEM;
    alaei_eval_rng rng = {seed};
    for (int64_t i = 0; s == ALAE_OK && i < n; i++) {
        memcpy(cur, images + i * plane * channels, (size_t)(plane * channels) * sizeof(float));
        for (int32_t l = 0; l < levels; l++) {
            int32_t side = sides[l], half = side / 2;
            int last = l == levels - 1;
            for (int32_t c = 0; !last && c < channels; c++)
                pyramid_step(cur + (int64_t)c * side * side, next + (int64_t)c * half * half, side, work);
            cut_nhoods(cur, channels, side, &rng, out->data[l] + i * NHOODS_PER_IMAGE * dim);
            float *t = cur;
            cur = next;
            next = t;
        }
    }
    free(cur);
    free(next);
    free(work);
    if (s != ALAE_OK) {
        free_descriptors(out, levels);
        return alaei_fail(s, "alae_eval_swd", "no memory for the descriptors of %lld images", (long long)n);
    }
    return ALAE_OK;
}

/* Per channel: zero mean, unit variance over every descriptor and position (the set's own). */
static void normalise(float *d, int64_t count, int32_t channels) {
    int64_t per_c = NHOOD * NHOOD, dim = channels * per_c;
    for (int32_t c = 0; c < channels; c++) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < count; i++)
            for (int64_t k = 0; k < per_c; k++) {
                double v = d[i * dim + c * per_c + k];
                sum += v;
                sq += v * v;
            }
        double total = (double)count * (double)per_c, mean = sum / total, var = sq / total - mean * mean;
        double inv = var > 0 ? 1.0 / sqrt(var) : 1.0;
        for (int64_t i = 0; i < count; i++)
            for (int64_t k = 0; k < per_c; k++) {
                float *v = &d[i * dim + c * per_c + k];
                *v = (float)(((double)*v - mean) * inv);
            }
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Sliced Wasserstein-1 of two descriptor sets of `count` rows of dim, over DIR_REPEATS x
 * DIRS_PER_REPEAT random unit directions. */
static alae_status sliced_wasserstein(const float *a, const float *b, int64_t count, int64_t dim, alaei_eval_rng *rng,
                                      double *out) {
    float *pa = malloc((size_t)count * sizeof(float)), *pb = malloc((size_t)count * sizeof(float));
    double *dir = malloc((size_t)dim * sizeof(double));
    if (!pa || !pb || !dir) {
        free(pa);
        free(pb);
        free(dir);
        return alaei_fail(ALAE_E_NOMEM, "alae_eval_swd", "no memory for %lld projections", (long long)count);
    }
    double total = 0;
    for (int32_t t = 0; t < DIR_REPEATS * DIRS_PER_REPEAT; t++) {
        double norm = 0;
        for (int64_t k = 0; k < dim; k++) {
            dir[k] = alaei_eval_rng_normal(rng);
            norm += dir[k] * dir[k];
        }
        norm = sqrt(norm);
        for (int64_t i = 0; i < count; i++) {
            double u = 0, v = 0;
            for (int64_t k = 0; k < dim; k++) {
                u += dir[k] * a[i * dim + k];
                v += dir[k] * b[i * dim + k];
            }
            pa[i] = (float)(u / norm);
            pb[i] = (float)(v / norm);
        }
        qsort(pa, (size_t)count, sizeof *pa, cmp_float);
        qsort(pb, (size_t)count, sizeof *pb, cmp_float);
        double sum = 0;
        for (int64_t i = 0; i < count; i++) sum += fabs((double)pa[i] - (double)pb[i]);
        total += sum / (double)count;
    }
    free(pa);
    free(pb);
    free(dir);
    *out = total / (DIR_REPEATS * DIRS_PER_REPEAT);
    return ALAE_OK;
}

ALAE_API alae_status alae_eval_swd(const float *a, const float *b, int64_t n, int32_t channels, int32_t size,
                                   uint64_t seed, alae_swd_result *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(a);
    ALAEI_CHECK_ARG(b);
    ALAEI_CHECK_ARG(out);
    if (out->struct_size == 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "out->struct_size is 0");
    if (n < 1 || n > (INT64_C(1) << 24) || channels < 1 || channels > 4 || size < NHOOD || size > 65536)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                          "n %lld, channels %d, size %d: need n 1..2^24, channels 1..4, size %d..65536", (long long)n,
                          (int)channels, (int)size, NHOOD);
    alae_swd_result full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    full.levels = level_sides(size, full.resolution);
    descriptor_set da, db;
    int64_t count = n * NHOODS_PER_IMAGE, dim = (int64_t)channels * NHOOD * NHOOD;
    /* both sets cut their neighbourhoods at the same positions (one seed) */
    alae_status s = describe_set(a, n, channels, size, full.resolution, full.levels, seed, &da);
    if (s != ALAE_OK) return s;
    if ((s = describe_set(b, n, channels, size, full.resolution, full.levels, seed, &db)) != ALAE_OK) {
        free_descriptors(&da, full.levels);
        return s;
    }
    alaei_eval_rng dirs = {seed ^ 0x5eedd1ec7u};
    for (int32_t l = 0; s == ALAE_OK && l < full.levels; l++) {
        normalise(da.data[l], count, channels);
        normalise(db.data[l], count, channels);
        s = sliced_wasserstein(da.data[l], db.data[l], count, dim, &dirs, &full.distance[l]);
        full.distance[l] *= 1e3;
        full.mean += full.distance[l] / full.levels;
    }
    free_descriptors(&da, full.levels);
    free_descriptors(&db, full.levels);
    if (s == ALAE_OK && !isfinite(full.mean))
        s = alaei_fail(ALAE_E_INVALID_ARG, __func__, "the images hold non-finite values");
    if (s == ALAE_OK) alaei_copy_sized(out, &full, sizeof full);
    return s;
}
