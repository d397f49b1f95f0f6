/* Fuzz target: alae_model_load on a file — the configuration comes from the "alae.arch" metadata
 * and every tensor's shape is checked against it. A rejected file leaves *out untouched; an
 * accepted model (MLP or StyleALAE) must report a parameter count that the file can actually
 * hold, and must run inference (encode, generate, discriminate) on one sample at its level of
 * detail.
 *
 * Resource bombs: a file whose configuration claims a huge model must be refused before the
 * parameters are allocated. libFuzzer flags violations with -malloc_limit_mb / -rss_limit_mb;
 * regression_driver flags them with its allocation guard (alloc_guard.c). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void run_inference(alae_model *m) {
    alae_context *ctx = alae_fuzz_context();
    alae_model_config *cfg = NULL;
    FUZZ_CHECK(alae_model_get_config(m, &cfg) == ALAE_OK);
    double latent, channels, size;
    FUZZ_CHECK(alae_model_config_get(cfg, ALAE_CFG_LATENT_DIM, &latent) == ALAE_OK);
    FUZZ_CHECK(alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &channels) == ALAE_OK);
    alae_model_config_destroy(cfg);
    /* the image side at the model's level of detail (a model file records it) */
    FUZZ_CHECK(alae_model_get(m, ALAE_MODEL_RESOLUTION, &size) == ALAE_OK);
    if (channels * size * size > 65536.0) return; /* keep iterations fast */
    int64_t xs[4] = {1, (int64_t)channels, (int64_t)size, (int64_t)size}, ws[2] = {1, (int64_t)latent}, ls[1] = {1};
    alae_tensor *x = NULL, *w = NULL, *logit = NULL;
    FUZZ_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x) == ALAE_OK);
    FUZZ_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, ws, &w) == ALAE_OK);
    FUZZ_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 1, ls, &logit) == ALAE_OK);
    alae_status s = alae_model_encode(m, x, w);
    if (s == ALAE_OK) s = alae_model_generate(m, w, x);
    if (s == ALAE_OK) s = alae_model_discriminate(m, w, logit);
    if (s != ALAE_OK) alae_fuzz_check_failure(s, "inference on a loaded model");
    FUZZ_CHECK(s == ALAE_OK || s == ALAE_E_NOMEM);
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
    alae_tensor_destroy(logit);
}

int alae_fuzz_model_load(const uint8_t *data, size_t size) {
    alae_context *ctx = alae_fuzz_context();
    alae_model *sentinel = (alae_model *)(uintptr_t)0x5a5a, *m = sentinel;
    alae_status s = alae_model_load(ctx, alae_fuzz_file(0, data, size), &m);
    if (s != ALAE_OK) {
        FUZZ_CHECK(m == sentinel);
        alae_fuzz_check_failure(s, "alae_model_load");
        return 0;
    }
    FUZZ_CHECK(m != NULL && m != sentinel);
    uint64_t params = 0;
    FUZZ_CHECK(alae_model_param_count(m, ALAE_PART_ALL, &params) == ALAE_OK);
    /* every parameter came from the file, in at least 2 bytes (F16/BF16) */
    FUZZ_CHECK(params * 2 <= size);
    run_inference(m);
    alae_model_destroy(m);
    return 1;
}

ALAE_FUZZ_MAIN(alae_fuzz_model_load)
