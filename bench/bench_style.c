/* StyleALAE benchmark through the public API: a training iteration (D-step with R1, G-step,
 * latent step, style mixing as in training) at a chosen level with blend 1, or encode / decode
 * calls of the model API, for the "mnist" or "celeba" preset. Compared with
 * bench/pytorch_style_alae.py by bench/run_style_bench.sh. Prints a machine-readable line
 *   RESULT alae preset=P mode=M res=R batch=B threads=T median_s=... items_per_s=... peak_rss_mib=... arena_mib=...
 * cpu_s=... (median seconds per iteration or call, the process CPU time of the same call: on a
 * machine shared with other jobs the 1-thread CPU time is the robust figure; peak resident memory
 * of the process, and for training the trainer's planned step memory from alae_trainer_reserve).
 * Usage: alae_bench_style [--preset mnist|celeba|ffhq|...] [--mode train|encode|decode|reconstruct]
 *                         [--resolution R] [--batch B] [--threads T] [--iters N] [--warmup N]
 *                         [--model FILE] [--save-model FILE] [--noise off|batch|sample]
 *                         [--input X.npy] [--output Y.npy] [--r1-interval K]
 * Defaults: mnist 32 px batch 64, celeba 64 px (level 4 of the 128 px networks) batch 32, other
 * presets their full size. --model runs a saved model instead of a fresh one (seed 1);
 * --save-model writes the model and exits (for bench/pytorch_style_alae.py --weights);
 * --input reads the images of encode / reconstruct (default: N(0, 0.25) noise) and --output
 * writes the last call's result, both float32 .npy. --r1-interval K: lazy R1
 * (ALAE_TRAIN_R1_INTERVAL; R1 on every K-th D-step), for which the mean (mean_s, over a multiple
 * of K iterations) is the figure, not the median. */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME "alae_bench_style"
#include <alae/alae.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"

static void usage(void) {
    fprintf(stderr, "usage: alae_bench_style [--preset mnist|celeba|ffhq|...] [--mode train|encode|decode|reconstruct]\n"
                    "                        [--resolution R] [--batch B] [--threads T] [--iters N] [--warmup N]\n"
                    "                        [--model FILE] [--save-model FILE] [--noise off|batch|sample]\n"
                    "                        [--input X.npy] [--output Y.npy] [--r1-interval K]\n");
}

/* Reads a float32 .npy of x's shape into x. */
static int load_input(const char *path, alae_tensor *x) {
    int32_t ndim = 0;
    int64_t shape[8];
    float *data = NULL;
    CHECK(alae_npy_read_f32(path, &ndim, shape, &data));
    int32_t xn = alae_tensor_ndim(x);
    int64_t xs[ALAE_TENSOR_MAX_DIMS];
    CHECK(alae_tensor_shape(x, xs, ALAE_TENSOR_MAX_DIMS));
    int same = ndim == xn;
    for (int32_t i = 0; same && i < ndim; i++) same = shape[i] == xs[i];
    if (!same) {
        fprintf(stderr, "alae_bench_style: %s does not have the input's shape\n", path);
        alae_free(data);
        return 1;
    }
    size_t bytes = sizeof(float);
    for (int32_t i = 0; i < ndim; i++) bytes *= (size_t)shape[i];
    alae_status s = alae_tensor_write(x, data, bytes);
    alae_free(data);
    CHECK(s);
    return 0;
}

/* Writes t as a float32 .npy. */
static int save_output(const char *path, const alae_tensor *t) {
    int32_t n = alae_tensor_ndim(t);
    int64_t shape[ALAE_TENSOR_MAX_DIMS];
    CHECK(alae_tensor_shape(t, shape, ALAE_TENSOR_MAX_DIMS));
    size_t count = 1;
    for (int32_t i = 0; i < n; i++) count *= (size_t)shape[i];
    float *host = malloc(count * sizeof(float));
    if (!host) return 1;
    alae_status s = alae_tensor_read(t, host, count * sizeof(float));
    if (s == ALAE_OK) s = alae_npy_write_f32(path, n, shape, host);
    free(host);
    CHECK(s);
    return 0;
}

int main(int argc, char **argv) {
    const char *preset = "mnist", *mode = "train", *model_path = NULL, *save_path = NULL, *noise = NULL;
    const char *input_path = NULL, *output_path = NULL;
    int threads = 1, iters = 5, warmup = 1, batch = 0, res = 0, r1_interval = 1;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--preset")) preset = v;
        else if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--resolution")) res = atoi(v);
        else if (!strcmp(k, "--batch")) batch = atoi(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--iters")) iters = atoi(v);
        else if (!strcmp(k, "--warmup")) warmup = atoi(v);
        else if (!strcmp(k, "--model")) model_path = v;
        else if (!strcmp(k, "--save-model")) save_path = v;
        else if (!strcmp(k, "--noise")) noise = v;
        else if (!strcmp(k, "--input")) input_path = v;
        else if (!strcmp(k, "--output")) output_path = v;
        else if (!strcmp(k, "--r1-interval")) r1_interval = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    int train = !strcmp(mode, "train"), encode = !strcmp(mode, "encode"), decode = !strcmp(mode, "decode");
    int recon = !strcmp(mode, "reconstruct");
    int noise_mode = !noise || !strcmp(noise, "sample") ? ALAE_NOISE_PER_SAMPLE
                     : !strcmp(noise, "batch")          ? ALAE_NOISE_BATCH_CONSTANT
                     : !strcmp(noise, "off")            ? ALAE_NOISE_OFF
                                                        : -1;
    if ((!train && !encode && !decode && !recon) || noise_mode < 0) {
        usage();
        return 2;
    }
    int is_celeba = !strcmp(preset, "celeba"), is_mnist = !strcmp(preset, "mnist");
    if (res == 0 && !model_path) res = is_celeba ? 64 : is_mnist ? 32 : 0;
    if (batch == 0) batch = is_celeba ? 32 : 64;
    if (threads < 1 || iters < 1 || warmup < 0 || batch < 1) {
        fprintf(stderr, "alae_bench_style: threads, iters and batch must be positive\n");
        return 2;
    }
    alae_context *ctx;
    alae_model_config *cfg;
    alae_model *model;
    CHECK(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads));
    if (model_path) {
        CHECK(alae_model_load(ctx, model_path, &model));
        CHECK(alae_model_get_config(model, &cfg));
    } else {
        CHECK(alae_model_config_create(preset, &cfg));
        CHECK(alae_model_create(ctx, cfg, 1, &model));
    }
    if (save_path) {
        CHECK(alae_model_save(model, save_path));
        printf("wrote %s\n", save_path);
        alae_model_destroy(model);
        alae_model_config_destroy(cfg);
        alae_context_destroy(ctx);
        return 0;
    }
    double image_size;
    CHECK(alae_model_config_get(cfg, ALAE_CFG_IMAGE_SIZE, &image_size));
    if (res == 0) res = (int)image_size;
    int lod = -1;
    for (int l = 0; l < 16; l++)
        if ((4 << l) == res) lod = l;
    if (lod < 0) {
        fprintf(stderr, "alae_bench_style: --resolution must be a power of two >= 4\n");
        return 2;
    }
    double channels, latent, levels;
    CHECK(alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &channels));
    CHECK(alae_model_config_get(cfg, ALAE_CFG_LATENT_DIM, &latent));
    CHECK(alae_model_get(model, ALAE_MODEL_LEVELS, &levels));
    if (lod >= (int)levels) {
        fprintf(stderr, "alae_bench_style: --resolution %d is above the %s networks' %d levels\n", res, preset,
                (int)levels);
        return 2;
    }
    int64_t img_shape[4] = {batch, (int64_t)channels, res, res}, w_shape[2] = {batch, (int64_t)latent};
    alae_tensor *x, *w;
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, img_shape, &x));
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, w_shape, &w));
    CHECK(alae_tensor_fill_normal(x, 0.0f, 0.5f));
    CHECK(alae_tensor_fill_normal(w, 0.0f, 1.0f));
    alae_tensor *rec = NULL;
    if (recon) CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, img_shape, &rec));
    if (input_path && load_input(input_path, x)) return 1;

    alae_optimizer *fg = NULL, *ed = NULL;
    alae_trainer *trainer = NULL;
    size_t planned = 0;
    alae_step_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    if (train) {
        CHECK(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &fg));
        CHECK(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &ed));
        CHECK(alae_trainer_create(model, fg, ed, &trainer));
        CHECK(alae_trainer_set(trainer, ALAE_TRAIN_LOD, lod));
        CHECK(alae_trainer_set(trainer, ALAE_TRAIN_BLEND, 1.0));
        CHECK(alae_trainer_set(trainer, ALAE_TRAIN_R1_INTERVAL, r1_interval));
        CHECK(alae_trainer_reserve(trainer, batch, &planned));
    } else {
        CHECK(alae_model_set(model, ALAE_MODEL_BLEND, 1.0));
        CHECK(alae_model_set(model, ALAE_MODEL_LOD, lod));
        CHECK(alae_model_set(model, ALAE_MODEL_NOISE, noise_mode));
    }
    double *times = malloc((size_t)iters * sizeof(double)), *cpu = malloc((size_t)iters * sizeof(double));
    if (!times || !cpu) return 1;
    for (int i = 0; i < warmup + iters; i++) {
        double t0 = now(), c0 = cpu_now();
        if (train) CHECK(alae_trainer_step(trainer, x, &stats));
        else if (encode) CHECK(alae_model_encode(model, x, w));
        else if (recon) CHECK(alae_model_reconstruct(model, x, rec));
        else CHECK(alae_model_generate(model, w, x));
        double t = now() - t0, c = cpu_now() - c0;
        if (i >= warmup) {
            times[i - warmup] = t;
            cpu[i - warmup] = c;
        }
    }
    double mean = 0, cpu_mean = 0;
    for (int i = 0; i < iters; i++) mean += times[i] / iters, cpu_mean += cpu[i] / iters;
    qsort(times, (size_t)iters, sizeof(double), compare_doubles);
    qsort(cpu, (size_t)iters, sizeof(double), compare_doubles);
    double median = times[iters / 2], cpu_median = cpu[iters / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s %s %d px batch %d, %d thread(s): %d measured after %d warm-up; min %.4f s, median %.4f s, max %.4f s",
           preset, mode, res, batch, threads, iters, warmup, times[0], median, times[iters - 1]);
    if (train)
        printf("; losses d %.4f g %.4f ae %.4f; planned step memory %.1f MiB", stats.loss_d, stats.loss_g,
               stats.loss_ae, planned / 1048576.0);
    printf("\n");
    printf("RESULT alae preset=%s mode=%s res=%d batch=%d threads=%d median_s=%.6f cpu_s=%.6f items_per_s=%.2f "
           "peak_rss_mib=%.1f arena_mib=%.1f mean_s=%.6f mean_cpu_s=%.6f r1_interval=%d\n",
           preset, mode, res, batch, threads, median, cpu_median, batch / median, ru.ru_maxrss / 1024.0,
           planned / 1048576.0, mean, cpu_mean, r1_interval);
    if (output_path && save_output(output_path, recon ? rec : encode ? w : x)) return 1;
    free(times);
    free(cpu);
    alae_tensor_destroy(rec);
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
    alae_trainer_destroy(trainer);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
    alae_model_destroy(model);
    alae_model_config_destroy(cfg);
    alae_context_destroy(ctx);
    return 0;
}
