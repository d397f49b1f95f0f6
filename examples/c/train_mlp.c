/* train_mlp: trains the MLP ALAE on an IDX image file and writes samples.
 *
 *   train_mlp IMAGES.idx[.gz] OUT_DIR [--steps 1000] [--batch 64] [--hidden 1024]
 *             [--preset mnist-fc] [--seed 0] [--threads 0]
 *
 * Writes OUT_DIR/model.safetensors (the smoothed model: load it with alae_model_load or use it
 * with the alae tool and examples/c/encode_decode), OUT_DIR/train-state.safetensors (the whole
 * training state) and OUT_DIR/samples.png (64 samples G(F(z)) of the smoothed model). OUT_DIR
 * must exist.
 *
 * The whole public training API in one file: a context, a model from a preset, the two Adam
 * optimizers (F|G and E|D), the trainer, an IDX data set read in shuffled batches, and the
 * three-step ALAE iteration. Every call's status is checked; on failure the program prints
 * alae_last_error() and releases everything in reverse order of creation. */
#include <alae/alae.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks a status: on failure prints the library's message and jumps to `done`. */
#define CHECK(call)                                                                                    \
    do {                                                                                               \
        alae_status s_ = (call);                                                                       \
        if (s_ != ALAE_OK) {                                                                           \
            fprintf(stderr, "train_mlp: %s (%s)\n", alae_last_error(), alae_status_string(s_));        \
            goto done;                                                                                 \
        }                                                                                              \
    } while (0)

static const char usage[] =
    "usage: train_mlp IMAGES.idx[.gz] OUT_DIR [--steps 1000] [--batch 64] [--hidden 1024]\n"
    "                 [--preset mnist-fc] [--seed 0] [--threads 0]\n";

typedef struct args {
    const char *images, *out, *preset;
    long steps, batch, hidden, seed, threads;
} args;

static int parse(int argc, char **argv, args *a) {
    *a = (args){NULL, NULL, "mnist-fc", 1000, 64, 0, 0, 0};
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strncmp(arg, "--", 2)) {
            if (i + 1 >= argc) return 0;
            const char *value = argv[++i];
            char *end;
            long v = strtol(value, &end, 10);
            if (!strcmp(arg, "--preset")) {
                a->preset = value;
                continue;
            }
            if (*end || end == value || v < 0) return 0;
            if (!strcmp(arg, "--steps")) a->steps = v;
            else if (!strcmp(arg, "--batch")) a->batch = v;
            else if (!strcmp(arg, "--hidden")) a->hidden = v;
            else if (!strcmp(arg, "--seed")) a->seed = v;
            else if (!strcmp(arg, "--threads")) a->threads = v;
            else return 0;
        } else if (positional == 0) {
            a->images = arg, positional++;
        } else if (positional == 1) {
            a->out = arg, positional++;
        } else {
            return 0;
        }
    }
    return a->images && a->out && a->steps >= 1 && a->batch >= 1;
}

int main(int argc, char **argv) {
    /* Always first: the headers this program was built with must match the loaded library. */
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        fprintf(stderr, "train_mlp: %s\n", alae_last_error());
        return 1;
    }
    args a;
    if (!parse(argc, argv, &a)) {
        fputs(usage, stderr);
        return 2;
    }
    int rc = 1;
    char path[4096];
    alae_context *ctx = NULL;
    alae_model_config *cfg = NULL;
    alae_model *model = NULL, *smoothed = NULL;
    alae_optimizer *opt_fg = NULL, *opt_ed = NULL;
    alae_trainer *trainer = NULL;
    alae_dataset *data = NULL;
    alae_tensor *batch = NULL, *z = NULL, *x = NULL;
    int64_t *order = NULL;
    float *pixels = NULL;

    /* The data and the model configuration. */
    CHECK(alae_dataset_open_idx(a.images, NULL, &data));
    int64_t count = alae_dataset_count(data);
    if (count < a.batch) {
        fprintf(stderr, "train_mlp: %s holds %lld images, fewer than one batch of %ld\n", a.images,
                (long long)count, a.batch);
        goto done;
    }
    CHECK(alae_model_config_create(a.preset, &cfg));
    if (a.hidden > 0) CHECK(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, (double)a.hidden));
    double latent, channels, size, range;
    CHECK(alae_model_config_get(cfg, ALAE_CFG_LATENT_DIM, &latent));
    CHECK(alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &channels));
    CHECK(alae_model_config_get(cfg, ALAE_CFG_IMAGE_SIZE, &size));
    CHECK(alae_model_config_get(cfg, ALAE_CFG_DATA_RANGE, &range));

    /* A CPU context, the model, the optimizers (the reference's split: F|G and E|D) and the trainer. */
    CHECK(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    if (a.threads > 0) CHECK(alae_context_set_param(ctx, ALAE_CTX_THREADS, a.threads));
    CHECK(alae_model_create(ctx, cfg, (uint64_t)a.seed, &model));
    uint64_t params;
    CHECK(alae_model_param_count(model, ALAE_PART_ALL, &params));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &opt_fg));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &opt_ed));
    CHECK(alae_optimizer_set(opt_fg, ALAE_OPT_LR, 0.002));
    CHECK(alae_optimizer_set(opt_ed, ALAE_OPT_LR, 0.002));
    CHECK(alae_trainer_create(model, opt_fg, opt_ed, &trainer));
    CHECK(alae_trainer_set(trainer, ALAE_TRAIN_SEED, (double)a.seed));
    size_t bytes = 0;
    CHECK(alae_trainer_reserve(trainer, a.batch, &bytes)); /* all step memory, allocated now */
    printf("%s: %lld images; %s with %llu parameters; %.1f MiB per step of %ld\n", a.images, (long long)count,
           a.preset, (unsigned long long)params, bytes / 1048576.0, a.batch);

    /* The loop: each epoch visits the images in a new shuffled order, in whole batches. */
    int64_t shape[4] = {a.batch, (int64_t)channels, (int64_t)size, (int64_t)size};
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &batch));
    order = malloc((size_t)count * sizeof *order);
    if (!order) goto done;
    int64_t per_epoch = count / a.batch;
    for (long step = 0; step < a.steps; step++) {
        if (step % per_epoch == 0) CHECK(alae_shuffle_order((uint64_t)a.seed, (uint64_t)(step / per_epoch), count, order));
        CHECK(alae_dataset_read(data, order + (step % per_epoch) * a.batch, a.batch, (int32_t)range, batch));
        alae_step_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        CHECK(alae_trainer_step(trainer, batch, &st));
        if (step == 0 || (step + 1) % (a.steps < 10 ? 1 : a.steps / 10) == 0)
            printf("step %6llu  loss_d %8.4f  loss_g %8.4f  loss_ae %8.4f  r1 %8.4f\n", (unsigned long long)st.step,
                   st.loss_d, st.loss_g, st.loss_ae, st.r1);
    }

    /* Save the training state and the smoothed model; sample 64 images from the smoothed model. */
    snprintf(path, sizeof path, "%s/train-state.safetensors", a.out);
    CHECK(alae_trainer_save(trainer, path));
    snprintf(path, sizeof path, "%s/model.safetensors", a.out);
    CHECK(alae_trainer_save_model(trainer, path));
    CHECK(alae_trainer_smoothed_model(trainer, &smoothed));
    int64_t zshape[2] = {64, (int64_t)latent}, xshape[4] = {64, (int64_t)channels, (int64_t)size, (int64_t)size};
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, zshape, &z));
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xshape, &x));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_SEED, a.seed)); /* z ~ N(0, I) from the context's generator */
    CHECK(alae_tensor_fill_normal(z, 0.0f, 1.0f));
    CHECK(alae_model_sample(smoothed, z, x));
    size_t n = (size_t)alae_tensor_numel(x);
    pixels = malloc(n * sizeof *pixels);
    if (!pixels) goto done;
    CHECK(alae_tensor_read(x, pixels, n * sizeof *pixels));
    snprintf(path, sizeof path, "%s/samples.png", a.out);
    CHECK(alae_image_grid_write_png(path, pixels, 64, (int64_t)channels, (int64_t)size, (int64_t)size,
                                    range == 0 ? 0.0f : -1.0f, 1.0f, 8));
    printf("wrote %s/model.safetensors, %s/train-state.safetensors and %s/samples.png\n", a.out, a.out, a.out);
    rc = 0;

done:
    /* Reverse order of creation: everything made from a context goes before the context. */
    free(pixels);
    free(order);
    alae_tensor_destroy(x);
    alae_tensor_destroy(z);
    alae_tensor_destroy(batch);
    alae_model_destroy(smoothed);
    alae_trainer_destroy(trainer);
    alae_optimizer_destroy(opt_ed);
    alae_optimizer_destroy(opt_fg);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    alae_model_config_destroy(cfg);
    alae_dataset_destroy(data);
    return rc;
}
