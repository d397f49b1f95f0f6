/* Training-iteration benchmark of the MLP ALAE (mnist-fc, all three steps): median seconds
 * per iteration, images/s and peak resident memory. Prints a machine-readable line
 *   RESULT alae threads=T median_s=... images_per_s=... peak_rss_mib=... cpu_s=... mean_s=... mean_cpu_s=...
 * (cpu_s: the median process CPU time of an iteration, all threads: the comparable figure when
 * other processes share the cores). --r1-interval K: lazy R1 (ALAE_TRAIN_R1_INTERVAL); take
 * the mean_* figures then, over a multiple of K steps.
 * Usage: alae_bench_mlp [--threads T] [--steps N] [--batch B] [--preset P] [--r1-interval K] */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME "alae_bench_mlp"
#include <alae/alae.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"

int main(int argc, char **argv) {
    int threads = 1, steps = 20, batch = 128, r1_interval = 1;
    const char *preset = "mnist-fc";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else if (!strcmp(argv[i], "--r1-interval")) r1_interval = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: alae_bench_mlp [--threads T] [--steps N] [--batch B] [--preset P] [--r1-interval K]\n");
            return 2;
        }
    }
    if (threads < 1 || steps < 1 || batch < 1 || r1_interval < 1) {
        fprintf(stderr, "alae_bench_mlp: threads, steps and batch must be positive\n");
        return 2;
    }
    alae_context *ctx;
    alae_model_config *cfg;
    alae_model *model;
    alae_optimizer *fg, *ed;
    alae_trainer *trainer;
    CHECK(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads));
    CHECK(alae_model_config_create(preset, &cfg));
    CHECK(alae_model_create(ctx, cfg, 1, &model));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &fg));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &ed));
    CHECK(alae_trainer_create(model, fg, ed, &trainer));
    CHECK(alae_trainer_set(trainer, ALAE_TRAIN_R1_INTERVAL, r1_interval));
    double size;
    CHECK(alae_model_config_get(cfg, ALAE_CFG_IMAGE_SIZE, &size));
    int64_t shape[4] = {batch, 1, (int64_t)size, (int64_t)size};
    alae_tensor *x;
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &x));
    CHECK(alae_tensor_fill_normal(x, 0.0f, 0.5f));
    size_t planned;
    CHECK(alae_trainer_reserve(trainer, batch, &planned));
    alae_step_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    /* warm-up: 3 iterations, rounded up to a whole lazy-R1 period so the measured ones start on an R1 step */
    int warmup = (3 + r1_interval - 1) / r1_interval * r1_interval;
    for (int i = 0; i < warmup; i++) CHECK(alae_trainer_step(trainer, x, &stats));
    double *times = malloc(2 * (size_t)steps * sizeof(double)), *cpus = times + steps;
    double sum = 0, sum_cpu = 0;
    for (int i = 0; i < steps; i++) {
        double t0 = now(), c0 = cpu_now();
        CHECK(alae_trainer_step(trainer, x, &stats));
        cpus[i] = cpu_now() - c0;
        times[i] = now() - t0;
        sum += times[i], sum_cpu += cpus[i];
    }
    qsort(times, (size_t)steps, sizeof(double), compare_doubles);
    qsort(cpus, (size_t)steps, sizeof(double), compare_doubles);
    double median = times[steps / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("preset %s, batch %d, %d threads: median %.4f s/iteration (min %.4f, max %.4f), planned step memory %.1f MiB\n",
           preset, batch, threads, median, times[0], times[steps - 1], planned / 1048576.0);
    printf("RESULT alae threads=%d median_s=%.5f images_per_s=%.1f peak_rss_mib=%.1f cpu_s=%.5f mean_s=%.5f "
           "mean_cpu_s=%.5f r1_interval=%d\n",
           threads, median, batch / median, ru.ru_maxrss / 1024.0, cpus[steps / 2], sum / steps, sum_cpu / steps,
           r1_interval);
    free(times);
    alae_tensor_destroy(x);
    alae_trainer_destroy(trainer);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
    alae_model_destroy(model);
    alae_model_config_destroy(cfg);
    alae_context_destroy(ctx);
    return 0;
}
