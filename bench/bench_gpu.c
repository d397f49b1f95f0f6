/* Training-iteration benchmark of any preset on any device (the CUDA backend's benchmark; run by
 * tools/gpu-check.sh): median seconds per iteration (all three steps of ALAE: D, G and latent
 * matching, R1 included), images/s, and the FLOP rate of the matrix products and convolutions
 * (their FLOPs counted once, op by op, then divided by the median time). Prints
 *   RESULT alae device=cuda:0 preset=P batch=B size=S median_s=... images_per_s=... gflop=... tflops=...
 * Usage: alae_bench_gpu [--device cpu|cuda|cuda:N] [--preset P] [--batch B] [--size S] [--steps N]
 *                       [--warmup W] [--tf32] [--no-graphs] [--threads T] */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME "alae_bench_gpu"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "alae/alae.h"
#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

static void usage(void) {
    fprintf(stderr, "usage: alae_bench_gpu [--device cpu|cuda|cuda:N] [--preset P] [--batch B] [--size S] "
                    "[--steps N] [--warmup W] [--tf32] [--no-graphs] [--threads T]\n");
}

/* The kernels of one iteration's plans (optimizer and EMA updates not included), by op: on a
 * GPU, where each op is at least one kernel, their count bounds the iteration from below. */
static void print_op_counts(const alaei_profile *prof) {
    uint64_t total = 0;
    for (int op = 0; op < ALAEI_OP_COUNT && op < 64; op++) total += prof->calls[op];
    printf("plan ops per iteration: %llu;", (unsigned long long)total);
    for (int op = 0; op < ALAEI_OP_COUNT && op < 64; op++)
        if (prof->calls[op]) printf(" %s %llu", alaei_op_name(op), (unsigned long long)prof->calls[op]);
    printf("\n");
}

int main(int argc, char **argv) {
    const char *device = "cuda", *preset = "mnist-fc";
    int batch = 128, size = 0, steps = 30, warmup = 5, tf32 = 0, graphs = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tf32")) tf32 = 1;
        else if (!strcmp(a, "--no-graphs")) graphs = 0;
        else if (!v) { usage(); return 2; }
        else if (!strcmp(a, "--device")) device = v, i++;
        else if (!strcmp(a, "--preset")) preset = v, i++;
        else if (!strcmp(a, "--batch")) batch = atoi(v), i++;
        else if (!strcmp(a, "--size")) size = atoi(v), i++;
        else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
        else if (!strcmp(a, "--warmup")) warmup = atoi(v), i++;
        else if (!strcmp(a, "--threads")) threads = atoi(v), i++;
        else { usage(); return 2; }
    }
    if (batch < 1 || steps < 1 || warmup < 0 || size < 0 || threads < 0) { usage(); return 2; }
    int32_t index;
    CHECK(alae_device_find(device, &index));
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK(alae_device_get_info(index, &info));
    alae_context *ctx;
    CHECK(alae_context_create(index, &ctx));
    if (threads > 0) CHECK(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_TF32, tf32));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_GRAPHS, graphs));
    alae_model_config *cfg;
    CHECK(alae_model_config_create(preset, &cfg));
    if (size > 0) CHECK(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, size));
    double side, channels;
    CHECK(alae_model_config_get(cfg, ALAE_CFG_IMAGE_SIZE, &side));
    CHECK(alae_model_config_get(cfg, ALAE_CFG_CHANNELS, &channels));
    alae_model *model;
    alae_optimizer *fg, *ed;
    alae_trainer *trainer;
    CHECK(alae_model_create(ctx, cfg, 1, &model));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_F | ALAE_PART_G, &fg));
    CHECK(alae_optimizer_create_adam(model, ALAE_PART_E | ALAE_PART_D, &ed));
    CHECK(alae_trainer_create(model, fg, ed, &trainer));
    int64_t shape[4] = {batch, (int64_t)channels, (int64_t)side, (int64_t)side};
    alae_tensor *x;
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &x));
    CHECK(alae_tensor_fill_normal(x, 0.0f, 0.5f));
    size_t planned;
    CHECK(alae_trainer_reserve(trainer, batch, &planned));
    alae_step_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    /* one iteration op by op with the profiler on: the FLOPs of the GEMMs and convolutions */
    alaei_profile prof;
    memset(&prof, 0, sizeof prof);
    ctx->profile = &prof;
    CHECK(alae_trainer_step(trainer, x, &stats));
    ctx->profile = NULL;
    double flops = 0;
    for (int op = 0; op < ALAEI_OP_COUNT && op < 64; op++)
        if (op == ALAEI_OP_GEMM || alaei_op_is_conv(op)) flops += prof.flops[op];
    print_op_counts(&prof);
    for (int i = 0; i < warmup; i++) CHECK(alae_trainer_step(trainer, x, &stats));
    CHECK(alae_context_synchronize(ctx));
    double *times = malloc((size_t)steps * sizeof(double));
    if (!times) return 1;
    for (int i = 0; i < steps; i++) {
        double t0 = now();
        CHECK(alae_trainer_step(trainer, x, &stats)); /* reads the losses back: synchronised */
        CHECK(alae_context_synchronize(ctx));
        times[i] = now() - t0;
    }
    qsort(times, (size_t)steps, sizeof(double), compare_doubles);
    double median = times[steps / 2];
    printf("%s (%s): preset %s %dx%dx%d, batch %d, tf32 %d, graphs %d: median %.5f s/iteration (min %.5f, max %.5f), "
           "%.1f images/s, %.2f GFLOP/iteration in GEMMs and convolutions = %.2f TFLOP/s; planned step memory %.1f MiB; "
           "losses d %.4f g %.4f lae %.4f\n",
           info.name, info.description, preset, (int)channels, (int)side, (int)side, batch, tf32, graphs, median,
           times[0], times[steps - 1], batch / median, flops / 1e9, flops / median / 1e12, planned / 1048576.0,
           (double)stats.loss_d, (double)stats.loss_g, (double)stats.loss_ae);
    printf("RESULT alae device=%s preset=%s batch=%d size=%d tf32=%d graphs=%d median_s=%.6f images_per_s=%.1f "
           "gflop=%.3f tflops=%.3f\n",
           info.name, preset, batch, (int)side, tf32, graphs, median, batch / median, flops / 1e9, flops / median / 1e12);
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
