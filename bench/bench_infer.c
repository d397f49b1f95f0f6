/* What the inference plan cache buys: batch-1 latency of alae_model_encode and
 * alae_model_generate with the plan cached (the library's behaviour) against planning every call
 * (the behaviour before: the cache is emptied before each call, so each call builds, plans and
 * allocates its graph, runs it and keeps nothing), for the MLP and StyleALAE at 32-128 px, and
 * the CPU time of building and planning the graph alone (internal API). The
 * two variants alternate call by call in one process, so both see the same machine noise.
 * Prints one line per case with the medians of wall and process CPU time (the robust figure on
 * a machine shared with other jobs: 1 thread by default) and their ratios, and
 *   RESULT infer case=... mode=... replan_ms=... cached_ms=... speedup=... replan_cpu_ms=...
 *          cached_cpu_ms=... cpu_speedup=...
 * Usage: alae_bench_infer [--reps N] [--threads T] [--preset P (only that preset's cases)] */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME "alae_bench_infer"
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "nn/model_internal.h"

typedef struct bench_case {
    const char *name, *preset;
    int resolution; /* the level's image side; 0: the preset's */
} bench_case;

static const bench_case cases[] = {
    {"mlp mnist-fc 32px", "mnist-fc", 0},
    {"style mnist 32px", "mnist", 32},
    {"style celeba 32px", "celeba", 32},
    {"style celeba 64px", "celeba", 64},
    {"style celeba 128px", "celeba", 128},
};

static int level_of(int resolution) {
    int lod = 0;
    while ((4 << lod) < resolution) lod++;
    return lod;
}

/* One call, after emptying the cache when replan is set; wall and CPU seconds through t, c. */
static alae_status timed_call(alae_model *m, int encode, int replan, alae_tensor *x, alae_tensor *w, double *t,
                              double *c) {
    if (replan) alaei_plan_cache_clear(m);
    double t0 = now(), c0 = cpu_now();
    alae_status s = encode ? alae_model_encode(m, x, w) : alae_model_generate(m, w, x);
    *t = now() - t0;
    *c = cpu_now() - c0;
    return s;
}

/* CPU seconds to build and plan the call's graph alone (what each call paid before the cache):
 * the network on a fresh net at the model's level, planned without an arena, freed. */
static double plan_only_cpu(alae_model *m, int encode, const alae_tensor *in) {
    double c0 = cpu_now();
    alaei_net net;
    if (alaei_net_init(&net, m) != ALAE_OK) return -1;
    net.lod = m->lod;
    net.noise_mode = m->noise_mode;
    int64_t shape[ALAE_TENSOR_MAX_DIMS];
    if (alae_tensor_shape(in, shape, ALAE_TENSOR_MAX_DIMS) != ALAE_OK) return -1;
    int32_t x = alaei_input(net.g, alae_tensor_ndim(in), shape, "input");
    int32_t y = encode ? alaei_net_E(&net, x) : alaei_net_G(&net, x);
    alaei_plan *plan = NULL;
    alae_status s = alaei_graph_status(net.g) == ALAE_OK ? alaei_plan_create_shared(m->ctx, net.g, 1, &y, &plan)
                                                         : ALAE_E_INVALID_ARG;
    alaei_plan_destroy(plan);
    alaei_net_free(&net);
    return s == ALAE_OK ? cpu_now() - c0 : -1;
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), compare_doubles);
    return v[n / 2];
}

static int run_case(const bench_case *bc, int encode, int reps, int threads) {
    alae_context *ctx;
    alae_model_config *cfg;
    alae_model *m;
    CHECK(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    CHECK(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads));
    CHECK(alae_model_config_create(bc->preset, &cfg));
    CHECK(alae_model_create(ctx, cfg, 1, &m));
    alae_model_config_destroy(cfg);
    if (bc->resolution) CHECK(alae_model_set(m, ALAE_MODEL_LOD, level_of(bc->resolution)));
    double side, channels = m->cfg.channels;
    CHECK(alae_model_get(m, ALAE_MODEL_RESOLUTION, &side));
    int64_t xs[4] = {1, (int64_t)channels, (int64_t)side, (int64_t)side}, ws[2] = {1, m->cfg.latent_dim};
    alae_tensor *x, *w;
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x));
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, ws, &w));
    CHECK(alae_tensor_fill_normal(x, 0.0f, 0.5f));
    CHECK(alae_tensor_fill_normal(w, 0.0f, 1.0f));
    double *t[2], *c[2], *p = malloc((size_t)reps * sizeof(double));
    if (!p) return 1;
    for (int i = 0; i < reps; i++)
        if ((p[i] = plan_only_cpu(m, encode, encode ? x : w)) < 0) {
            fprintf(stderr, BENCH_NAME ": planning failed\n");
            return 1;
        }
    double plan_cpu = median_of(p, reps) * 1e3;
    free(p);
    for (int k = 0; k < 2; k++) {
        t[k] = malloc((size_t)reps * sizeof(double));
        c[k] = malloc((size_t)reps * sizeof(double));
        if (!t[k] || !c[k]) return 1;
    }
    double warm, warm_cpu;
    for (int k = 0; k < 3; k++) CHECK(timed_call(m, encode, k % 2, x, w, &warm, &warm_cpu));
    for (int i = 0; i < reps; i++)
        for (int k = 0; k < 2; k++) { /* alternate which variant goes first */
            int replan = (i + k) % 2;
            CHECK(timed_call(m, encode, replan, x, w, &t[replan][i], &c[replan][i]));
        }
    double cached = median_of(t[0], reps) * 1e3, replan = median_of(t[1], reps) * 1e3;
    double cached_cpu = median_of(c[0], reps) * 1e3, replan_cpu = median_of(c[1], reps) * 1e3;
    const char *mode = encode ? "encode" : "decode";
    printf("%-20s %-7s %4d px  plan every call %9.3f ms (CPU %9.3f)   cached plan %9.3f ms (CPU %9.3f)   %5.2fx (CPU "
           "%5.2fx); building + planning alone: CPU %.3f ms\n",
           bc->name, mode, (int)side, replan, replan_cpu, cached, cached_cpu, replan / cached, replan_cpu / cached_cpu,
           plan_cpu);
    printf("RESULT infer case=%s/%dpx mode=%s replan_ms=%.4f cached_ms=%.4f speedup=%.3f replan_cpu_ms=%.4f "
           "cached_cpu_ms=%.4f cpu_speedup=%.3f plan_cpu_ms=%.4f\n",
           bc->preset, (int)side, mode, replan, cached, replan / cached, replan_cpu, cached_cpu, replan_cpu / cached_cpu,
           plan_cpu);
    fflush(stdout);
    for (int k = 0; k < 2; k++) {
        free(t[k]);
        free(c[k]);
    }
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
    alae_model_destroy(m);
    alae_context_destroy(ctx);
    return 0;
}

int main(int argc, char **argv) {
    int reps = 21, threads = 1;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: alae_bench_infer [--reps N] [--threads T] [--preset P]\n");
            return 2;
        }
    }
    if (reps < 1 || threads < 1) {
        fprintf(stderr, "alae_bench_infer: --reps and --threads must be positive\n");
        return 2;
    }
    printf("batch 1, %d thread(s), median of %d calls per variant (alternating)\n", threads, reps);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int encode = 1; encode >= 0; encode--)
            if ((!only || !strcmp(only, cases[c].preset)) && run_case(&cases[c], encode, reps, threads)) return 1;
    return 0;
}
