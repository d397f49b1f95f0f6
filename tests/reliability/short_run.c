/* A short end-to-end run against the public API only, for valgrind (and the sanitizers):
 * mnist-fc-paper, batch 8, 3 training steps on synthetic data, save the smoothed model, save the
 * training state and load it into a second trainer, load the model file, encode with both models
 * and compare, plus a few failing calls (their error paths must not leak either).
 *
 *   short_run [DIR]     DIR: where to write the files (default: a fresh directory under $TMPDIR)
 *
 * The context uses ALAE_CTX_THREADS from the environment variable of the same name (default 1).
 * Exit status 0 on success; 1 with a message on the first failure. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alae/alae.h"

#define BATCH 8
#define STEPS 3
#define SIDE 28
#define LATENT 50

#define CHECK(expr)                                                                                     \
    do {                                                                                                \
        alae_status _s = (expr);                                                                        \
        if (_s != ALAE_OK) {                                                                            \
            fprintf(stderr, "short_run: %s failed: %s (%s)\n", #expr, alae_status_string(_s), alae_last_error()); \
            return 1;                                                                                   \
        }                                                                                               \
    } while (0)
#define EXPECT(cond)                                                                                    \
    do {                                                                                                \
        if (!(cond)) {                                                                                  \
            fprintf(stderr, "short_run: expected %s\n", #cond);                                        \
            return 1;                                                                                   \
        }                                                                                               \
    } while (0)

typedef struct {
    alae_context *ctx;
    alae_model *model, *loaded;
    alae_optimizer *fg, *ed, *fg2, *ed2;
    alae_trainer *trainer, *trainer2;
    alae_tensor *batch, *w1, *w2;
    float *host;
} state;

static void release(state *s) {
    alae_tensor_destroy(s->batch);
    alae_tensor_destroy(s->w1);
    alae_tensor_destroy(s->w2);
    alae_trainer_destroy(s->trainer);
    alae_trainer_destroy(s->trainer2);
    alae_optimizer_destroy(s->fg);
    alae_optimizer_destroy(s->ed);
    alae_optimizer_destroy(s->fg2);
    alae_optimizer_destroy(s->ed2);
    alae_model_destroy(s->model);
    alae_model_destroy(s->loaded);
    alae_context_destroy(s->ctx);
    free(s->host);
}

static int body(state *s, const char *dir) {
    int64_t threads = 1;
    const char *env = getenv("ALAE_CTX_THREADS");
    if (env && env[0]) threads = strtoll(env, NULL, 10);
    CHECK(alae_context_create(ALAE_DEVICE_CPU, &s->ctx));
    CHECK(alae_context_set_param(s->ctx, ALAE_CTX_THREADS, threads));
    CHECK(alae_context_set_param(s->ctx, ALAE_CTX_SEED, 2024));

    alae_model_config *cfg = NULL;
    CHECK(alae_model_config_create("mnist-fc-paper", &cfg));
    alae_status st = alae_model_create(s->ctx, cfg, 1, &s->model);
    alae_status st2 = st == ALAE_OK ? alae_model_create(s->ctx, cfg, 2, &s->loaded) : st;
    alae_model_config_destroy(cfg);
    CHECK(st);
    CHECK(st2);
    CHECK(alae_optimizer_create_adam(s->model, ALAE_PART_F | ALAE_PART_G, &s->fg));
    CHECK(alae_optimizer_create_adam(s->model, ALAE_PART_E | ALAE_PART_D, &s->ed));
    CHECK(alae_trainer_create(s->model, s->fg, s->ed, &s->trainer));

    /* synthetic digits: a bright disc per image, in [0, 1] */
    int64_t xs[4] = {BATCH, 1, SIDE, SIDE};
    s->host = malloc(sizeof(float) * BATCH * SIDE * SIDE);
    EXPECT(s->host != NULL);
    for (int i = 0; i < BATCH; i++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                double cx = 10 + i, cy = 14 - i / 2.0, d = sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                s->host[(i * SIDE + y) * SIDE + x] = d < 5 ? (float)(1.0 - d / 10) : 0.0f;
            }
    CHECK(alae_tensor_create(s->ctx, ALAE_DTYPE_F32, 4, xs, &s->batch));
    CHECK(alae_tensor_write(s->batch, s->host, sizeof(float) * BATCH * SIDE * SIDE));

    for (int i = 0; i < STEPS; i++) {
        alae_step_stats stats;
        memset(&stats, 0, sizeof stats);
        stats.struct_size = sizeof stats;
        CHECK(alae_trainer_step(s->trainer, s->batch, &stats));
        EXPECT(isfinite(stats.loss_d) && isfinite(stats.loss_g) && isfinite(stats.loss_ae));
        printf("step %llu: loss_d %.5f loss_g %.5f loss_ae %.5f r1 %.5f\n", (unsigned long long)stats.step,
               (double)stats.loss_d, (double)stats.loss_g, (double)stats.loss_ae, (double)stats.r1);
    }

    char model_path[4200], state_path[4200], missing[4200];
    snprintf(model_path, sizeof model_path, "%s/short_run.model.safetensors", dir);
    snprintf(state_path, sizeof state_path, "%s/short_run.state.safetensors", dir);
    snprintf(missing, sizeof missing, "%s/does-not-exist.safetensors", dir);
    CHECK(alae_trainer_save_model(s->trainer, model_path));
    CHECK(alae_trainer_save(s->trainer, state_path));

    /* resume into a second trainer (on a model with other initial weights) */
    CHECK(alae_optimizer_create_adam(s->loaded, ALAE_PART_F | ALAE_PART_G, &s->fg2));
    CHECK(alae_optimizer_create_adam(s->loaded, ALAE_PART_E | ALAE_PART_D, &s->ed2));
    CHECK(alae_trainer_create(s->loaded, s->fg2, s->ed2, &s->trainer2));
    CHECK(alae_trainer_load(s->trainer2, state_path));
    EXPECT(alae_trainer_step_count(s->trainer2) == STEPS);
    CHECK(alae_trainer_step(s->trainer2, s->batch, NULL));

    /* error paths: they must not leak */
    alae_model *none = NULL;
    EXPECT(alae_model_load(s->ctx, missing, &none) == ALAE_E_IO && none == NULL);
    EXPECT(alae_model_load(s->ctx, state_path, &none) == ALAE_E_FORMAT && none == NULL); /* a state, not a model */
    EXPECT(alae_trainer_load(s->trainer2, model_path) == ALAE_E_FORMAT);                 /* a model, not a state */

    /* the saved smoothed model encodes exactly like the trainer's smoothed copy */
    alae_model *smoothed = NULL, *from_file = NULL;
    CHECK(alae_trainer_smoothed_model(s->trainer, &smoothed));
    st = alae_model_load(s->ctx, model_path, &from_file);
    if (st != ALAE_OK) alae_model_destroy(smoothed);
    CHECK(st);
    int64_t ws[2] = {BATCH, LATENT};
    st = alae_tensor_create(s->ctx, ALAE_DTYPE_F32, 2, ws, &s->w1);
    if (st == ALAE_OK) st = alae_tensor_create(s->ctx, ALAE_DTYPE_F32, 2, ws, &s->w2);
    if (st == ALAE_OK) st = alae_model_encode(smoothed, s->batch, s->w1);
    if (st == ALAE_OK) st = alae_model_encode(from_file, s->batch, s->w2);
    alae_model_destroy(smoothed);
    alae_model_destroy(from_file);
    CHECK(st);
    float a[BATCH * LATENT], b[BATCH * LATENT];
    CHECK(alae_tensor_read(s->w1, a, sizeof a));
    CHECK(alae_tensor_read(s->w2, b, sizeof b));
    EXPECT(memcmp(a, b, sizeof a) == 0);
    for (int i = 0; i < BATCH * LATENT; i++) EXPECT(isfinite(a[i]));
    printf("encoded %d images: w[0][0..2] = %.5f %.5f %.5f\n", BATCH, (double)a[0], (double)a[1], (double)a[2]);
    unlink(model_path);
    unlink(state_path);
    return 0;
}

int main(int argc, char **argv) {
    char dir[4096];
    int own_dir = argc < 2;
    if (own_dir) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/alae-short-run-XXXXXX", base && base[0] ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("short_run: mkdtemp");
            return 1;
        }
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    state s;
    memset(&s, 0, sizeof s);
    int rc = body(&s, dir);
    release(&s);
    if (own_dir) rmdir(dir);
    if (rc == 0) printf("short_run: OK\n");
    return rc;
}
