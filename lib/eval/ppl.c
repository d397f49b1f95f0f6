/* alae_model_path_length(_features): perceptual path length in W, end-point sampling, in pixel
 * space or in a feature network's. Built on the public entry points (F, then G on both ends of
 * each pair in one call, then the feature network on those images). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define PAIRS_PER_CALL 32

/* Geometry of a model's images and latents, from the public API. */
typedef struct ppl_geom {
    int64_t latent, channels, side, pixels;
    double peak;
} ppl_geom;

static alae_status model_geom(const alae_model *m, ppl_geom *g) {
    alae_model_config *cfg = NULL;
    double latent = 0, channels = 0, range = 0, side = 0;
    alae_status s = alae_model_get_config(m, &cfg);
    if (s == ALAE_OK) s = alae_model_config_get(cfg, ALAE_CFG_LATENT_DIM, &latent);
    if (s == ALAE_OK) s = alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &channels);
    if (s == ALAE_OK) s = alae_model_config_get(cfg, ALAE_CFG_DATA_RANGE, &range);
    if (s == ALAE_OK) s = alae_model_get(m, ALAE_MODEL_RESOLUTION, &side);
    alae_model_config_destroy(cfg);
    g->latent = (int64_t)latent;
    g->channels = (int64_t)channels;
    g->side = (int64_t)side;
    g->pixels = g->channels * g->side * g->side;
    g->peak = range == 1 ? 2.0 : 1.0;
    return s;
}

static alae_status check_latents(const alae_tensor *z0, const alae_tensor *z1, int64_t latent, const char *func) {
    int64_t a[2] = {0, 0}, b[2] = {0, 0};
    int ok = alae_tensor_ndim(z0) == 2 && alae_tensor_ndim(z1) == 2 && alae_tensor_shape(z0, a, 2) == ALAE_OK &&
             alae_tensor_shape(z1, b, 2) == ALAE_OK && a[0] >= 1 && a[0] == b[0] && a[1] == latent && b[1] == latent;
    if (!ok) return alaei_fail(ALAE_E_SHAPE, func, "z0 and z1 must both be [N, %lld] with N >= 1", (long long)latent);
    return ALAE_OK;
}

/* w = F(z) on the host [n, latent]. */
static alae_status map_to_host(alae_model *m, const alae_tensor *z, int64_t n, int64_t latent, float *host) {
    int64_t shape[2] = {n, latent};
    alae_tensor *w = NULL;
    alae_status s = alae_tensor_create(z->ctx, ALAE_DTYPE_F32, 2, shape, &w);
    if (s == ALAE_OK) s = alae_model_map(m, z, w);
    if (s == ALAE_OK) s = alae_tensor_read(w, host, (size_t)(n * latent) * sizeof(float));
    alae_tensor_destroy(w);
    return s;
}

/* Squared distance per pair of the k image pairs (img[i], img[k + i]): in pixels scaled to a
 * range of width 1, averaged over pixels; or, with a feature network, between the features,
 * summed over them. */
static alae_status pair_distances(alae_feature_net *fnet, const ppl_geom *g, const float *img, int64_t k, double *dist) {
    if (!fnet) {
        for (int64_t i = 0; i < k; i++) {
            double sum = 0;
            for (int64_t p = 0; p < g->pixels; p++) {
                double d = ((double)img[(k + i) * g->pixels + p] - (double)img[i * g->pixels + p]) / g->peak;
                sum += d * d;
            }
            dist[i] = sum / (double)g->pixels;
        }
        return ALAE_OK;
    }
    int64_t dim = alae_feature_net_dim(fnet);
    float *feat = malloc((size_t)(2 * k * dim) * sizeof *feat);
    if (!feat) return alaei_fail(ALAE_E_NOMEM, "alae_model_path_length_features", "no memory for the features");
    double lo = g->peak == 2.0 ? -1.0 : 0.0;
    alae_status s = alae_feature_net_features(fnet, img, 2 * k, (int32_t)g->channels, (int32_t)g->side, lo, lo + g->peak, feat);
    for (int64_t i = 0; s == ALAE_OK && i < k; i++) {
        double sum = 0;
        for (int64_t d = 0; d < dim; d++) {
            double v = (double)feat[(k + i) * dim + d] - (double)feat[i * dim + d];
            sum += v * v;
        }
        dist[i] = sum;
    }
    free(feat);
    return s;
}

/* Lengths of pairs [first, first + k): G of [w0 rows; lerp rows] in one call. */
static alae_status measure_chunk(alae_model *m, alae_feature_net *fnet, alae_context *ctx, const ppl_geom *g,
                                 const float *w0, const float *w1, int64_t first, int64_t k, double eps, float *lengths) {
    int64_t ws[2] = {2 * k, g->latent}, xs[4] = {2 * k, g->channels, g->side, g->side};
    float *ends = malloc((size_t)(2 * k * g->latent) * sizeof(float)), *img = malloc((size_t)(2 * k * g->pixels) * sizeof(float));
    double dist[PAIRS_PER_CALL];
    alae_tensor *w = NULL, *x = NULL;
    alae_status s = ends && img ? ALAE_OK : alaei_fail(ALAE_E_NOMEM, "alae_model_path_length", "no memory");
    for (int64_t i = 0; s == ALAE_OK && i < k; i++)
        for (int64_t d = 0; d < g->latent; d++) {
            double a = w0[(first + i) * g->latent + d], b = w1[(first + i) * g->latent + d];
            ends[i * g->latent + d] = (float)a;
            ends[(k + i) * g->latent + d] = (float)(a + eps * (b - a));
        }
    if (s == ALAE_OK) s = alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, ws, &w);
    if (s == ALAE_OK) s = alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x);
    if (s == ALAE_OK) s = alae_tensor_write(w, ends, (size_t)(2 * k * g->latent) * sizeof(float));
    if (s == ALAE_OK) s = alae_model_generate(m, w, x);
    if (s == ALAE_OK) s = alae_tensor_read(x, img, (size_t)(2 * k * g->pixels) * sizeof(float));
    if (s == ALAE_OK) s = pair_distances(fnet, g, img, k, dist);
    for (int64_t i = 0; s == ALAE_OK && i < k; i++) lengths[first + i] = (float)(dist[i] / (eps * eps));
    alae_tensor_destroy(w);
    alae_tensor_destroy(x);
    free(ends);
    free(img);
    return s;
}

/* The noise mode to measure with: off stays off, anything else becomes batch-constant. */
static alae_status use_shared_noise(alae_model *m, double *saved) {
    alae_status s = alae_model_get(m, ALAE_MODEL_NOISE, saved);
    if (s == ALAE_OK && *saved != ALAE_NOISE_OFF) s = alae_model_set(m, ALAE_MODEL_NOISE, ALAE_NOISE_BATCH_CONSTANT);
    return s;
}

static alae_status path_length(alae_model *m, alae_feature_net *fnet, const alae_tensor *z0, const alae_tensor *z1,
                               double epsilon, float *lengths, double *mean, const char *func) {
    if (!m || !z0 || !z1 || !mean)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "%s is NULL", !m ? "model" : !z0 ? "z0" : !z1 ? "z1" : "mean");
    if (!(epsilon > 0 && epsilon <= 1)) return alaei_fail(ALAE_E_INVALID_ARG, func, "epsilon %g is not in (0, 1]", epsilon);
    ppl_geom g;
    alae_status s = model_geom(m, &g);
    if (s == ALAE_OK) s = check_latents(z0, z1, g.latent, func);
    if (s != ALAE_OK) return s;
    int64_t n = z0->shape[0];
    float *w0 = malloc((size_t)(n * g.latent) * sizeof(float)), *w1 = malloc((size_t)(n * g.latent) * sizeof(float));
    float *len = malloc((size_t)n * sizeof(float));
    double saved = ALAE_NOISE_OFF;
    if (!w0 || !w1 || !len) s = alaei_fail(ALAE_E_NOMEM, func, "no memory for %lld pairs", (long long)n);
    if (s == ALAE_OK) s = map_to_host(m, z0, n, g.latent, w0);
    if (s == ALAE_OK) s = map_to_host(m, z1, n, g.latent, w1);
    if (s == ALAE_OK && (s = use_shared_noise(m, &saved)) == ALAE_OK) {
        for (int64_t at = 0; s == ALAE_OK && at < n; at += PAIRS_PER_CALL)
            s = measure_chunk(m, fnet, z0->ctx, &g, w0, w1, at, n - at < PAIRS_PER_CALL ? n - at : PAIRS_PER_CALL, epsilon, len);
        alae_model_set(m, ALAE_MODEL_NOISE, saved);
    }
    if (s == ALAE_OK && lengths) memcpy(lengths, len, (size_t)n * sizeof(float));
    if (s == ALAE_OK) *mean = alaei_trimmed_mean(len, n, 1.0, 99.0);
    free(w0);
    free(w1);
    free(len);
    return s;
}

ALAE_API alae_status alae_model_path_length(alae_model *m, const alae_tensor *z0, const alae_tensor *z1, double epsilon,
                                            float *lengths, double *mean) {
    alaei_clear_error();
    return path_length(m, NULL, z0, z1, epsilon, lengths, mean, __func__);
}

ALAE_API alae_status alae_model_path_length_features(alae_model *m, alae_feature_net *net, const alae_tensor *z0,
                                                     const alae_tensor *z1, double epsilon, float *lengths,
                                                     double *mean) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(net);
    return path_length(m, net, z0, z1, epsilon, lengths, mean, __func__);
}
