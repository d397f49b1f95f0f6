/* Fuzz target: alae_trainer_load into a small trainer (mnist-fc-paper with latent 4, hidden 8,
 * 4x4 images, one mapping and one D layer: the configuration make_corpus.py's seeds carry).
 *
 * A rejected file must leave the trainer as it was (alae_train.h: "Loading checks that the file's
 * configuration matches"; trainer.c checks every tensor before it overwrites anything): the model
 * parameters, the running mean of w, the step count and every setting are compared with a
 * snapshot. An accepted file must leave a trainer that can take a training step; the trainer is
 * then reset from a saved base state so that every input starts from the same state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nn/model_internal.h"

static alae_model *model;
static alae_optimizer *opt_fg, *opt_ed;
static alae_trainer *trainer;
static alae_tensor *batch;
static char base_path[4200];

static void destroy_all(void) {
    alae_tensor_destroy(batch);
    alae_trainer_destroy(trainer);
    alae_optimizer_destroy(opt_fg);
    alae_optimizer_destroy(opt_ed);
    alae_model_destroy(model);
    batch = NULL;
    trainer = NULL;
    opt_fg = opt_ed = NULL;
    model = NULL;
}

#define SETUP(expr)                                                                           \
    do {                                                                                      \
        if ((expr) != ALAE_OK) {                                                              \
            fprintf(stderr, "fuzz_trainer_load setup: %s: %s\n", #expr, alae_last_error());  \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static void setup(void) {
    if (trainer) return;
    alae_context *ctx = alae_fuzz_context();
    SETUP(alae_fuzz_tiny_mlp(ctx, &model));
    SETUP(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &opt_fg));
    SETUP(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &opt_ed));
    SETUP(alae_trainer_create(model, opt_fg, opt_ed, &trainer));
    atexit(destroy_all); /* registered after the context's: runs before it is destroyed */
    int64_t shape[4] = {2, 1, 4, 4};
    SETUP(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &batch));
    float px[32];
    for (int i = 0; i < 32; i++) px[i] = (float)((i * 7) % 11) / 10.0f;
    SETUP(alae_tensor_write(batch, px, sizeof px));
    snprintf(base_path, sizeof base_path, "%s/base.state", alae_fuzz_tmpdir());
    SETUP(alae_trainer_save(trainer, base_path));
}

typedef struct {
    float *params; /* all parameters, concatenated */
    size_t n;
    float dlatent[4];
    uint64_t steps;
    double settings[15 + 8];
} snapshot;

static void take(snapshot *s) {
    const alae_model *m = model;
    size_t n = 0;
    for (int32_t i = 0; i < m->n_params; i++) n += (size_t)m->params[i].numel;
    s->params = malloc(n * sizeof(float));
    FUZZ_CHECK(s->params != NULL);
    s->n = n;
    size_t at = 0;
    for (int32_t i = 0; i < m->n_params; i++) {
        /* CPU backend: parameter memory is host memory */
        memcpy(s->params + at, m->params[i].data, (size_t)m->params[i].numel * sizeof(float));
        at += (size_t)m->params[i].numel;
    }
    memcpy(s->dlatent, m->dlatent_avg, sizeof s->dlatent);
    s->steps = alae_trainer_step_count(trainer);
    int k = 0;
    for (int32_t key = ALAE_TRAIN_R1_GAMMA; key <= ALAE_TRAIN_BATCH; key++)
        if (alae_trainer_get(trainer, key, &s->settings[k++]) != ALAE_OK) s->settings[k - 1] = -12345.0;
    for (int32_t key = ALAE_OPT_LR; key <= ALAE_OPT_EPS; key++) {
        FUZZ_CHECK(alae_optimizer_get(opt_fg, key, &s->settings[k++]) == ALAE_OK);
        FUZZ_CHECK(alae_optimizer_get(opt_ed, key, &s->settings[k++]) == ALAE_OK);
    }
}

static int same(const snapshot *a, const snapshot *b) {
    return a->n == b->n && memcmp(a->params, b->params, a->n * sizeof(float)) == 0 &&
           memcmp(a->dlatent, b->dlatent, sizeof a->dlatent) == 0 && a->steps == b->steps &&
           memcmp(a->settings, b->settings, sizeof a->settings) == 0;
}

int alae_fuzz_trainer_load(const uint8_t *data, size_t size) {
    setup();
    snapshot before, after;
    take(&before);
    alae_status s = alae_trainer_load(trainer, alae_fuzz_file(1, data, size));
    if (s != ALAE_OK) {
        alae_fuzz_check_failure(s, "alae_trainer_load");
        take(&after);
        FUZZ_CHECK(same(&before, &after)); /* a bad file leaves the trainer as it was */
        free(before.params);
        free(after.params);
        return 0;
    }
    free(before.params);
    /* the loaded state must be usable */
    alae_step_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    alae_status s2 = alae_trainer_step(trainer, batch, &st);
    if (s2 != ALAE_OK) alae_fuzz_check_failure(s2, "alae_trainer_step after a load");
    /* back to the base state, so inputs do not depend on each other */
    alae_status s3 = alae_trainer_load(trainer, base_path);
    if (s3 != ALAE_OK) {
        fprintf(stderr, "reloading the base state failed: %s\n", alae_last_error());
        FUZZ_CHECK(s3 == ALAE_OK);
    }
    return 1;
}

ALAE_FUZZ_MAIN(alae_fuzz_trainer_load)
