/* alae_bench_core: how close the CPU backend's GEMM and convolution paths get to raw SGEMM.
 *
 * For 1 and 2 threads, in one run:
 *   (a) the GEMM shapes of an MLP ALAE step at batch 128 (forward x W^T, backward dX = dY W and
 *       dW = dY^T X) run through the backend's run_op(GEMM), against cblas_sgemm called directly
 *       through the same dlopen'ed OpenBLAS handle;
 *   (b) 3x3 convolutions (stride 1, pad 1) done as run_op(IM2COL) + run_op(GEMM) (the decomposed
 *       path), against one raw SGEMM with the convolution's M, N, K (M = C_out, N = batch * H * W,
 *       K = C_in * 9);
 *   (c) the fused convolution ops run_op(CONV2D), run_op(CONV2D_BWD_DATA) and
 *       run_op(CONV2D_BWD_WEIGHT) (3x3, stride 1, pad 1), each against one raw SGEMM of the same
 *       FLOPs in that op's own GEMM form: forward C_out x (N*H*W) x C_in*9, backward-data
 *       C_in*9 x (N*H*W) x C_out (A transposed), backward-weight C_out x C_in*9 x (N*H*W) (B
 *       transposed), with the columns already in memory;
 *   (d) the CPU's FMA peak, measured with an unrolled AVX-512 / AVX2 / SSE register loop.
 * Each number is the median of REPS timed repetitions after WARMUP untimed ones; the op and the
 * raw SGEMM alternate within a repetition so that both see the same machine noise.
 * This is a benchmark, not a test: it always exits 0 unless something fails outright.
 *
 * With --style BATCH it instead times StyleALAE training iterations of the `mnist` preset at its
 * top level (32 px) through the public API: the arena alae_trainer_reserve plans, then the median
 * of --reps alae_trainer_step calls on random images in [-1, 1] after one warm-up, for 1 and 2
 * threads.
 *
 * With --winograd it instead times the three fused 3x3 stride-1 convolution ops on the StyleALAE
 * layer shapes with Winograd off (ALAE_CTX_WINOGRAD 0, im2col + GEMM) and forced (2), the two
 * alternating within a repetition, and prints im2col time / Winograd time per shape and thread
 * count (the data of cpu_winograd_wanted's per-shape choice).
 *
 * usage: alae_bench_core [--reps N] [--quick] [--conv-only] [--style BATCH] [--winograd] */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#else
#define BENCH_X86 0
#endif

#include "alae/alae.h"
#include "backends/cpu/cpu_internal.h"
#define BENCH_NAME "alae_bench_core"
#include "bench_util.h"

static int REPS = 9;
static const int WARMUP = 2;


static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_random(size_t n, unsigned *seed) {
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) * (1.0 / 16777216.0)) - 0.5f;
    }
    return p;
}

/* ------------------------------------------------------------------------------------------- */
/* FMA peak                                                                                     */
/* ------------------------------------------------------------------------------------------- */

#define FMA_CHAINS 12 /* independent accumulators: >= latency x ports on every current core */

#if BENCH_X86
__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters) {
    __m512 acc[FMA_CHAINS];
    const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_set1_ps(1.0f + 0.01f * (float)k);
    for (long i = 0; i < iters; i++) {
        acc[0] = _mm512_fmadd_ps(acc[0], b, c);
        acc[1] = _mm512_fmadd_ps(acc[1], b, c);
        acc[2] = _mm512_fmadd_ps(acc[2], b, c);
        acc[3] = _mm512_fmadd_ps(acc[3], b, c);
        acc[4] = _mm512_fmadd_ps(acc[4], b, c);
        acc[5] = _mm512_fmadd_ps(acc[5], b, c);
        acc[6] = _mm512_fmadd_ps(acc[6], b, c);
        acc[7] = _mm512_fmadd_ps(acc[7], b, c);
        acc[8] = _mm512_fmadd_ps(acc[8], b, c);
        acc[9] = _mm512_fmadd_ps(acc[9], b, c);
        acc[10] = _mm512_fmadd_ps(acc[10], b, c);
        acc[11] = _mm512_fmadd_ps(acc[11], b, c);
    }
    __m512 s = acc[0];
    for (int k = 1; k < FMA_CHAINS; k++) s = _mm512_add_ps(s, acc[k]);
    return (double)_mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters) {
    __m256 acc[FMA_CHAINS];
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm256_set1_ps(1.0f + 0.01f * (float)k);
    for (long i = 0; i < iters; i++) {
        acc[0] = _mm256_fmadd_ps(acc[0], b, c);
        acc[1] = _mm256_fmadd_ps(acc[1], b, c);
        acc[2] = _mm256_fmadd_ps(acc[2], b, c);
        acc[3] = _mm256_fmadd_ps(acc[3], b, c);
        acc[4] = _mm256_fmadd_ps(acc[4], b, c);
        acc[5] = _mm256_fmadd_ps(acc[5], b, c);
        acc[6] = _mm256_fmadd_ps(acc[6], b, c);
        acc[7] = _mm256_fmadd_ps(acc[7], b, c);
        acc[8] = _mm256_fmadd_ps(acc[8], b, c);
        acc[9] = _mm256_fmadd_ps(acc[9], b, c);
        acc[10] = _mm256_fmadd_ps(acc[10], b, c);
        acc[11] = _mm256_fmadd_ps(acc[11], b, c);
    }
    __m256 s = acc[0];
    for (int k = 1; k < FMA_CHAINS; k++) s = _mm256_add_ps(s, acc[k]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return (double)out[0] + out[7];
}

/* SSE2 has no FMA: a multiply and an add per lane (counted as 2 flops) */
static double fma_loop_sse(long iters) {
    __m128 acc[FMA_CHAINS];
    const __m128 b = _mm_set1_ps(0.9999999f), c = _mm_set1_ps(1e-7f);
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm_set1_ps(1.0f + 0.01f * (float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm_add_ps(_mm_mul_ps(acc[k], b), c);
    __m128 s = acc[0];
    for (int k = 1; k < FMA_CHAINS; k++) s = _mm_add_ps(s, acc[k]);
    float out[4];
    _mm_storeu_ps(out, s);
    return (double)out[0];
}
#endif

typedef struct peak_kernel {
    const char *name;
    double (*fn)(long);
    int lanes;
} peak_kernel;

static peak_kernel pick_peak_kernel(void) {
    peak_kernel k = {"none", NULL, 0};
#if BENCH_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        k.name = "AVX-512 FMA";
        k.fn = fma_loop_avx512;
        k.lanes = 16;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        k.name = "AVX2 FMA";
        k.fn = fma_loop_avx2;
        k.lanes = 8;
    } else {
        k.name = "SSE mul+add";
        k.fn = fma_loop_sse;
        k.lanes = 4;
    }
#endif
    return k;
}

typedef struct peak_thread {
    peak_kernel k;
    long iters;
    double sink, t0, t1;
    pthread_barrier_t *barrier;
} peak_thread;

static void *peak_main(void *p) {
    peak_thread *t = p;
    pthread_barrier_wait(t->barrier);
    t->t0 = now();
    t->sink = t->k.fn(t->iters);
    t->t1 = now();
    return NULL;
}

/* GFLOP/s of nthreads threads running the register loop at once */
static double measure_peak(peak_kernel k, int nthreads, long iters) {
    if (!k.fn) return 0;
    double times[64] = {0};
    int reps = REPS < 64 ? REPS : 64;
    for (int r = -1; r < reps; r++) {
        pthread_t th[8];
        peak_thread args[8];
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
        for (int i = 0; i < nthreads; i++) {
            args[i] = (peak_thread){k, iters, 0, 0, 0, &barrier};
            pthread_create(&th[i], NULL, peak_main, &args[i]);
        }
        /* wall time from the first thread's start to the last one's end, as the threads saw it */
        double t0 = 1e300, t1 = 0;
        for (int i = 0; i < nthreads; i++) {
            pthread_join(th[i], NULL);
            t0 = fmin(t0, args[i].t0);
            t1 = fmax(t1, args[i].t1);
        }
        double t = t1 - t0;
        pthread_barrier_destroy(&barrier);
        if (r >= 0) times[r] = t;
    }
    double flops = (double)nthreads * (double)iters * FMA_CHAINS * k.lanes * 2.0;
    return flops / median(times, reps) * 1e-9;
}

/* ------------------------------------------------------------------------------------------- */
/* Cases                                                                                        */
/* ------------------------------------------------------------------------------------------- */

typedef struct result {
    char name[64];
    int threads;
    int is_conv;
    double flops;
    double t_op, t_raw;     /* medians, seconds */
    double t_im2col;        /* conv: median of the IM2COL part */
} result;

static result results[128];
static int n_results = 0;

static const alaei_backend_vtbl *B;
static cpu_cblas_sgemm_fn raw_sgemm;
static int raw_threads = 1; /* the thread count of the run in progress */

/* The baseline: one SGEMM call with OpenBLAS's own threading at the run's thread count. The
 * context's GEMMs run OpenBLAS single-threaded on slices (cpu_blas.c), so the count is set
 * around the call and put back. */
static void raw_gemm(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c) {
    int lda = ta ? m : k, ldb = tb ? k : n;
    if (raw_sgemm) {
        cpu_blas_raw_set_threads(raw_threads);
        raw_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        cpu_blas_set_threads(raw_threads);
    } else {
        cpu_sgemm_builtin(NULL, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    }
}

static void check(alae_status s, const char *what) {
    if (s != ALAE_OK) {
        fprintf(stderr, "%s failed: %s\n", what, alae_last_error());
        exit(1);
    }
}

static void bench_gemm(void *bctx, int threads, const char *label, int ta, int tb, int m, int n, int k) {
    unsigned seed = 12345u + (unsigned)(m * 31 + n * 7 + k);
    float *a = alloc_random((size_t)m * k, &seed), *b = alloc_random((size_t)k * n, &seed);
    float *c1 = alloc_random((size_t)m * n, &seed), *c2 = alloc_random((size_t)m * n, &seed);
    alaei_op op;
    memset(&op, 0, sizeof op);
    op.code = ALAEI_OP_GEMM;
    op.nsrc = 2;
    op.dst = (alaei_tview){c1, {1, 1, m, n}};
    op.src[0] = (alaei_tview){a, {1, 1, ta ? k : m, ta ? m : k}};
    op.src[1] = (alaei_tview){b, {1, 1, tb ? n : k, tb ? k : n}};
    op.ip[0] = ta;
    op.ip[1] = tb;
    op.fp[0] = 1.0;
    double t_op[64] = {0}, t_raw[64] = {0};
    for (int r = -WARMUP; r < REPS; r++) {
        double t0 = now();
        check(B->run_op(bctx, &op), "run_op(GEMM)");
        double t1 = now();
        raw_gemm(ta, tb, m, n, k, a, b, c2);
        double t2 = now();
        if (r >= 0) {
            t_op[r] = t1 - t0;
            t_raw[r] = t2 - t1;
        }
    }
    double maxdiff = 0;
    for (size_t i = 0; i < (size_t)m * n; i++) maxdiff = fmax(maxdiff, fabs((double)c1[i] - c2[i]));
    if (maxdiff > 1e-3) fprintf(stderr, "warning: %s: op and raw SGEMM differ by %g\n", label, maxdiff);
    result *res = &results[n_results++];
    snprintf(res->name, sizeof res->name, "%s", label);
    res->threads = threads;
    res->flops = 2.0 * m * n * (double)k;
    res->t_op = median(t_op, REPS);
    res->t_raw = median(t_raw, REPS);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void bench_conv(void *bctx, int threads, int batch, int cin, int cout, int hw) {
    const int kk = 3, pad = 1;
    int64_t K = (int64_t)cin * kk * kk, P = (int64_t)hw * hw;
    unsigned seed = 777u + (unsigned)(batch * 13 + cin * 5 + hw);
    float *x = alloc_random((size_t)batch * cin * P, &seed);
    float *w = alloc_random((size_t)cout * K, &seed);
    float *cols = alloc_random((size_t)batch * K * P, &seed);
    float *y = alloc_random((size_t)batch * cout * P, &seed);
    /* raw: one SGEMM with M = cout, N = batch * H * W, K = cin * 9 */
    float *rb = alloc_random((size_t)K * batch * P, &seed);
    float *rc = alloc_random((size_t)cout * batch * P, &seed);
    alaei_op im;
    memset(&im, 0, sizeof im);
    im.code = ALAEI_OP_IM2COL;
    im.nsrc = 1;
    im.dst = (alaei_tview){cols, {1, batch, K, P}};
    im.src[0] = (alaei_tview){x, {batch, cin, hw, hw}};
    im.ip[0] = kk;
    im.ip[1] = kk;
    im.ip[2] = 1;
    im.ip[3] = pad;
    alaei_op gm;
    memset(&gm, 0, sizeof gm);
    gm.code = ALAEI_OP_GEMM;
    gm.nsrc = 2;
    gm.dst = (alaei_tview){y, {1, batch, cout, P}};
    gm.src[0] = (alaei_tview){w, {1, 1, cout, K}};
    gm.src[1] = (alaei_tview){cols, {1, batch, K, P}};
    gm.fp[0] = 1.0;
    double t_op[64] = {0}, t_raw[64] = {0}, t_im[64] = {0};
    for (int r = -WARMUP; r < REPS; r++) {
        double t0 = now();
        check(B->run_op(bctx, &im), "run_op(IM2COL)");
        double t1 = now();
        check(B->run_op(bctx, &gm), "run_op(GEMM)");
        double t2 = now();
        raw_gemm(0, 0, cout, (int)(batch * P), (int)K, w, rb, rc);
        double t3 = now();
        if (r >= 0) {
            t_op[r] = t2 - t0;
            t_im[r] = t1 - t0;
            t_raw[r] = t3 - t2;
        }
    }
    result *res = &results[n_results++];
    snprintf(res->name, sizeof res->name, "conv3x3 b%d %dx%d %d->%d", batch, hw, hw, cin, cout);
    res->threads = threads;
    res->is_conv = 1;
    res->flops = 2.0 * cout * (double)K * (double)(batch * P);
    res->t_op = median(t_op, REPS);
    res->t_raw = median(t_raw, REPS);
    res->t_im2col = median(t_im, REPS);
    free(x);
    free(w);
    free(cols);
    free(y);
    free(rb);
    free(rc);
}

/* The fused ops: kind 0 = CONV2D, 1 = CONV2D_BWD_DATA, 2 = CONV2D_BWD_WEIGHT (3x3, stride 1, pad 1). */
static void bench_fused_conv(void *bctx, int threads, int kind, int batch, int cin, int cout, int hw) {
    static const char *const names[3] = {"fwd ", "bwdD", "bwdW"};
    static const int codes[3] = {ALAEI_OP_CONV2D, ALAEI_OP_CONV2D_BWD_DATA, ALAEI_OP_CONV2D_BWD_WEIGHT};
    const int kk = 3;
    int64_t K = (int64_t)cin * kk * kk, P = (int64_t)hw * hw, NP = batch * P;
    unsigned seed = 4242u + (unsigned)(batch * 13 + cin * 5 + hw + kind);
    float *x = alloc_random((size_t)batch * cin * P, &seed), *w = alloc_random((size_t)cout * K, &seed);
    float *gy = alloc_random((size_t)batch * cout * P, &seed);
    alaei_op op;
    memset(&op, 0, sizeof op);
    op.code = codes[kind];
    op.nsrc = 2;
    alaei_tview xv = {x, {batch, cin, hw, hw}}, wv = {w, {cout, cin, kk, kk}}, gv = {gy, {batch, cout, hw, hw}};
    switch (kind) {
    case 0: op.src[0] = xv, op.src[1] = wv, op.dst = gv; break;
    case 1: op.src[0] = gv, op.src[1] = wv, op.dst = xv; break;
    default: op.src[0] = gv, op.src[1] = xv, op.dst = wv; break;
    }
    op.ip[0] = op.ip[1] = kk;
    op.ip[2] = 1;
    op.ip[3] = 1;
    op.fp[0] = 1.0;
    /* raw SGEMM of the op's own GEMM form, on an already-built column matrix */
    int m, n, k, ta = 0, tb = 0;
    switch (kind) {
    case 0: m = cout, n = (int)NP, k = (int)K; break;
    case 1: m = (int)K, n = (int)NP, k = cout, ta = 1; break;
    default: m = cout, n = (int)K, k = (int)NP, tb = 1; break;
    }
    float *ra = alloc_random((size_t)m * k, &seed), *rb = alloc_random((size_t)k * n, &seed);
    float *rc = alloc_random((size_t)m * n, &seed);
    double t_op[64] = {0}, t_raw[64] = {0};
    for (int r = -WARMUP; r < REPS; r++) {
        double t0 = now();
        check(B->run_op(bctx, &op), "run_op(fused conv)");
        double t1 = now();
        raw_gemm(ta, tb, m, n, k, ra, rb, rc);
        double t2 = now();
        if (r >= 0) {
            t_op[r] = t1 - t0;
            t_raw[r] = t2 - t1;
        }
    }
    result *res = &results[n_results++];
    snprintf(res->name, sizeof res->name, "CONV2D %s b%d %dx%d %d->%d", names[kind], batch, hw, hw, cin, cout);
    res->threads = threads;
    res->is_conv = 2;
    res->flops = 2.0 * cout * (double)K * (double)NP;
    res->t_op = median(t_op, REPS);
    res->t_raw = median(t_raw, REPS);
    free(x);
    free(w);
    free(gy);
    free(ra);
    free(rb);
    free(rc);
}

/* One fused 3x3 stride-1 pad-1 convolution op (kind 0 forward, 1 backward data, 2 backward
 * weight): the median times with Winograd off and forced; prints their ratio. */
static void bench_winograd_case(void *bctx, int threads, int kind, int batch, int cin, int cout, int hw) {
    static const char *const names[3] = {"fwd ", "bwdD", "bwdW"};
    static const int codes[3] = {ALAEI_OP_CONV2D, ALAEI_OP_CONV2D_BWD_DATA, ALAEI_OP_CONV2D_BWD_WEIGHT};
    int64_t P = (int64_t)hw * hw;
    unsigned seed = 77u + (unsigned)(batch * 13 + cin * 5 + hw + kind);
    float *x = alloc_random((size_t)batch * cin * P, &seed), *w = alloc_random((size_t)cout * cin * 9, &seed);
    float *gy = alloc_random((size_t)batch * cout * P, &seed);
    alaei_op op;
    memset(&op, 0, sizeof op);
    op.code = codes[kind];
    op.nsrc = 2;
    alaei_tview xv = {x, {batch, cin, hw, hw}}, wv = {w, {cout, cin, 3, 3}}, gv = {gy, {batch, cout, hw, hw}};
    switch (kind) {
    case 0: op.src[0] = xv, op.src[1] = wv, op.dst = gv; break;
    case 1: op.src[0] = gv, op.src[1] = wv, op.dst = xv; break;
    default: op.src[0] = gv, op.src[1] = xv, op.dst = wv; break;
    }
    op.ip[0] = op.ip[1] = 3;
    op.ip[2] = 1;
    op.ip[3] = 1;
    op.fp[0] = 1.0;
    double t[2][64] = {{0}};
    for (int r = -WARMUP; r < REPS; r++)
        for (int mode = 0; mode < 2; mode++) {
            check(B->set_option(bctx, ALAE_CTX_WINOGRAD, mode ? 2 : 0), "set_option(ALAE_CTX_WINOGRAD)");
            double t0 = now();
            check(B->run_op(bctx, &op), "run_op(fused conv)");
            if (r >= 0) t[mode][r] = now() - t0;
        }
    double im2col = median(t[0], REPS), wino = median(t[1], REPS);
    double flops = 2.0 * batch * P * cout * cin * 9;
    printf("%dt %s b%-3d %3dx%-3d %3d->%-3d  im2col %8.3f ms (%5.1f GFLOP/s)  winograd %8.3f ms  ratio %.2f\n",
           threads, names[kind], batch, hw, hw, cin, cout, im2col * 1e3, flops / im2col * 1e-9, wino * 1e3,
           im2col / wino);
    fflush(stdout);
    free(x);
    free(w);
    free(gy);
}

/* The StyleALAE layers (mnist 32 px batch 64, celeba 64 px batch 32) and small channel counts. */
static void bench_winograd(void) {
    static const int shapes[][4] = {/* batch, channels in, out, size */
                                    {64, 64, 64, 32},  {64, 128, 128, 16}, {64, 256, 256, 8},
                                    {64, 256, 256, 4}, {32, 128, 128, 64}, {32, 256, 256, 32},
                                    {32, 256, 256, 16}, {1, 256, 256, 8},  {1, 64, 64, 32},
                                    {64, 8, 8, 32},    {64, 16, 16, 32},   {64, 32, 32, 16}};
    for (int threads = 1; threads <= 2; threads++) {
        void *bctx = NULL;
        check(B->ctx_create(0, NULL, &bctx), "ctx_create");
        check(B->set_threads(bctx, threads), "set_threads");
        raw_threads = threads;
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int kind = 0; kind < 3; kind++)
                bench_winograd_case(bctx, threads, kind, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
        B->ctx_destroy(bctx);
    }
}

/* StyleALAE `mnist` at 32 px: arena and iteration time through the public API. */
static void check_api(alae_status s, const char *what) {
    if (s != ALAE_OK) {
        fprintf(stderr, "%s failed: %s\n", what, alae_last_error());
        exit(1);
    }
}

static void bench_style(int64_t batch) {
    printf("\n== StyleALAE mnist preset, level 3 (32 px), batch %lld: alae_trainer_step, median of %d after 1 warm-up ==\n",
           (long long)batch, REPS);
    for (int threads = 1; threads <= 2; threads++) {
        alae_context *ctx;
        alae_model_config *cfg;
        alae_model *m;
        alae_optimizer *o_fg, *o_ed;
        alae_trainer *t;
        check_api(alae_context_create(0, &ctx), "alae_context_create");
        check_api(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads), "threads");
        check_api(alae_model_config_create("mnist", &cfg), "alae_model_config_create");
        check_api(alae_model_create(ctx, cfg, 1, &m), "alae_model_create");
        check_api(alae_optimizer_create_adam(m, ALAE_PART_F | ALAE_PART_G, &o_fg), "optimizer");
        check_api(alae_optimizer_create_adam(m, ALAE_PART_E | ALAE_PART_D, &o_ed), "optimizer");
        check_api(alae_trainer_create(m, o_fg, o_ed, &t), "alae_trainer_create");
        check_api(alae_trainer_set(t, ALAE_TRAIN_LOD, 3), "ALAE_TRAIN_LOD");
        size_t bytes = 0;
        check_api(alae_trainer_reserve(t, batch, &bytes), "alae_trainer_reserve");
        int64_t shape[4] = {batch, 1, 32, 32};
        alae_tensor *x;
        check_api(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &x), "alae_tensor_create");
        size_t n = (size_t)batch * 32 * 32;
        float *h = malloc(n * sizeof(float));
        unsigned seed = 1;
        double ts[64] = {0};
        alae_step_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        for (int r = -1; r < REPS; r++) {
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                h[i] = (float)((seed >> 8) * (2.0 / 16777216.0) - 1.0);
            }
            check_api(alae_tensor_write(x, h, n * sizeof(float)), "alae_tensor_write");
            double t0 = now();
            check_api(alae_trainer_step(t, x, &st), "alae_trainer_step");
            if (r >= 0) ts[r] = now() - t0;
        }
        double steps[64];
        memcpy(steps, ts, sizeof steps);
        printf("  %d thread%s: arena %.1f MB, %.3f s per iteration (runs:", threads, threads > 1 ? "s" : " ",
               (double)bytes / 1e6, median(steps, REPS));
        for (int r = 0; r < REPS; r++) printf(" %.2f", ts[r]);
        printf("), loss_d %.3f\n", st.loss_d);
        fflush(stdout);
        free(h);
        alae_tensor_destroy(x);
        alae_trainer_destroy(t);
        alae_optimizer_destroy(o_fg);
        alae_optimizer_destroy(o_ed);
        alae_model_destroy(m);
        alae_model_config_destroy(cfg);
        alae_context_destroy(ctx);
    }
}

static void print_result(const result *r, double peak) {
    double g_op = r->flops / r->t_op * 1e-9, g_raw = r->flops / r->t_raw * 1e-9;
    printf("  %-34s %9.3f ms %7.1f GF/s | raw %9.3f ms %7.1f GF/s | ratio %5.2f | peak %4.0f%%", r->name,
           r->t_op * 1e3, g_op, r->t_raw * 1e3, g_raw, r->t_raw / r->t_op, peak > 0 ? 100.0 * g_op / peak : 0.0);
    if (r->is_conv == 1) printf(" | im2col %.0f%%", 100.0 * r->t_im2col / r->t_op);
    printf("\n");
}

int main(int argc, char **argv) {
    int quick = 0, conv_only = 0, winograd = 0;
    long style_batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            REPS = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--conv-only"))
            conv_only = 1;
        else if (!strcmp(argv[i], "--winograd"))
            winograd = 1;
        else if (!strcmp(argv[i], "--style") && i + 1 < argc)
            style_batch = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--reps N (7..63; --style: 3..63)] [--quick] [--conv-only] [--style BATCH] [--winograd]\n",
                    argv[0]);
            return 2;
        }
    }
    if (style_batch > 0) {
        if (REPS < 3) REPS = 3;
        if (REPS > 63) REPS = 63;
        bench_style(style_batch);
        return 0;
    }
    if (REPS < 7) REPS = 7;
    if (REPS > 63) REPS = 63;
    alae_set_log_level(ALAE_LOG_INFO);
    B = alaei_cpu_backend();
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    check(B->device_info(0, &info), "device_info");
    raw_sgemm = cpu_blas_raw_sgemm();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    printf("alae_bench_core: %s\n", info.description);
    if (winograd) {
        if (REPS > 15) REPS = 15;
        printf("Winograd F(4x4, 3x3) against im2col + GEMM, median of %d reps after %d warm-up\n", REPS, WARMUP);
        bench_winograd();
        return 0;
    }
    printf("online CPUs: %ld; GEMM kernels: %s; raw SGEMM: %s; median of %d reps after %d warm-up\n", online,
           alaei_cpu_blas_description(), raw_sgemm ? "cblas_sgemm via the same dlopen handle" : "built-in",
           REPS, WARMUP);

    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        double load1 = 0;
        if (fscanf(lf, "%lf", &load1) == 1)
            printf("load average (1 min) at start: %.2f%s\n", load1,
                   load1 > 0.5 ? "  -- other processes are running: expect noisy numbers, rerun on an idle machine" : "");
        fclose(lf);
    }

    peak_kernel pk = pick_peak_kernel();
    double peak[3] = {0, 0, 0};
    for (int t = 1; t <= 2; t++) {
        peak[t] = measure_peak(pk, t, quick ? 2000000 : 10000000);
        printf("FMA peak (%s register loop), %d thread%s: %.1f GFLOP/s\n", pk.name, t, t > 1 ? "s" : "", peak[t]);
    }

    /* the MLP ALAE step at batch 128: (K, N) of each linear layer */
    static const int layers[][2] = {{784, 1024}, {1024, 1024}, {1024, 784}, {50, 1024}, {1024, 50}};
    const int M = 128;
    for (int t = 1; t <= 2; t++) {
        void *bctx = NULL;
        check(B->ctx_create(0, NULL, &bctx), "ctx_create");
        check(B->set_threads(bctx, t), "set_threads");
        raw_threads = t;
        printf("\n== %d thread%s ==\n", t, t > 1 ? "s" : "");
        int first = n_results;
        for (size_t l = 0; !conv_only && l < sizeof layers / sizeof *layers; l++) {
            int K = layers[l][0], N = layers[l][1];
            char label[64];
            snprintf(label, sizeof label, "fwd  [%dx%d]x[%dx%d]^T", M, K, N, K);
            bench_gemm(bctx, t, label, 0, 1, M, N, K); /* Y = X W^T */
            snprintf(label, sizeof label, "dX   [%dx%d]x[%dx%d]", M, N, N, K);
            bench_gemm(bctx, t, label, 0, 0, M, K, N); /* dX = dY W */
            snprintf(label, sizeof label, "dW   [%dx%d]^Tx[%dx%d]", M, N, M, K);
            bench_gemm(bctx, t, label, 1, 0, N, K, M); /* dW = dY^T X */
        }
        bench_conv(bctx, t, 16, 64, 64, 32);
        bench_conv(bctx, t, 32, 32, 32, 32);
        bench_conv(bctx, t, 16, 32, 32, 64);
        if (!quick) bench_conv(bctx, t, 16, 64, 64, 64);
        /* the fused ops: {batch, channels in = out, size} */
        static const int fused[][3] = {{16, 64, 32}, {32, 64, 32}, {16, 128, 32}, {16, 64, 64}, {16, 128, 64}};
        for (size_t f = 0; f < sizeof fused / sizeof *fused; f++) {
            if (quick && f >= 3) break;
            for (int kind = 0; kind < 3; kind++)
                bench_fused_conv(bctx, t, kind, fused[f][0], fused[f][1], fused[f][1], fused[f][2]);
        }
        for (int i = first; i < n_results; i++) print_result(&results[i], peak[t]);
        B->ctx_destroy(bctx);
    }

    /* the built-in fallback kernel, for reference */
    {
        void *bctx = NULL;
        check(B->ctx_create(0, NULL, &bctx), "ctx_create");
        check(B->set_threads(bctx, 1), "set_threads");
        int n = 512;
        unsigned seed = 99;
        float *a = alloc_random((size_t)n * n, &seed), *b = alloc_random((size_t)n * n, &seed),
              *c = alloc_random((size_t)n * n, &seed);
        double ts[64] = {0};
        for (int r = -WARMUP; r < REPS; r++) {
            double t0 = now();
            check(cpu_sgemm_builtin(bctx, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n), "builtin");
            if (r >= 0) ts[r] = now() - t0;
        }
        printf("\nbuilt-in fallback SGEMM %d^3, 1 thread: %.1f GFLOP/s\n", n, 2.0 * n * n * n / median(ts, REPS) * 1e-9);
        free(a);
        free(b);
        free(c);
        B->ctx_destroy(bctx);
    }

    /* summary */
    printf("\n== summary (ratio = raw SGEMM time / backend time; targets: GEMM >= 0.90, conv >= 0.60;\n"
           "   CONV2D rows: the fused op vs one raw SGEMM of its own GEMM form and FLOPs) ==\n");
    printf("%-34s %8s %8s %8s %8s\n", "case", "1t ratio", "2t ratio", "1t %peak", "2t %peak");
    int half = n_results / 2;
    double worst[3][3] = {{1e9, 1e9, 1e9}, {1e9, 1e9, 1e9}, {1e9, 1e9, 1e9}}; /* [kind][threads] */
    double sum_op[3][3] = {{0}}, sum_raw[3][3] = {{0}};                           /* [threads][kind] */
    for (int i = 0; i < half; i++) {
        const result *r1 = &results[i], *r2 = &results[i + half];
        double q1 = r1->t_raw / r1->t_op, q2 = r2->t_raw / r2->t_op;
        printf("%-34s %8.2f %8.2f %7.0f%% %7.0f%%\n", r1->name, q1, q2, 100.0 * r1->flops / r1->t_op * 1e-9 / peak[1],
               100.0 * r2->flops / r2->t_op * 1e-9 / peak[2]);
        worst[r1->is_conv][1] = fmin(worst[r1->is_conv][1], q1);
        worst[r1->is_conv][2] = fmin(worst[r1->is_conv][2], q2);
        sum_op[1][r1->is_conv] += r1->t_op;
        sum_raw[1][r1->is_conv] += r1->t_raw;
        sum_op[2][r2->is_conv] += r2->t_op;
        sum_raw[2][r2->is_conv] += r2->t_raw;
    }
    for (int t = 1; t <= 2; t++)
        printf("%d thread%s: GEMM total ratio %.2f (worst %.2f); IM2COL+GEMM conv %.2f (worst %.2f); fused conv "
               "%.2f (worst %.2f)\n",
               t, t > 1 ? "s" : " ", sum_op[t][0] > 0 ? sum_raw[t][0] / sum_op[t][0] : 0.0,
               worst[0][t] < 1e9 ? worst[0][t] : 0.0, sum_raw[t][1] / sum_op[t][1], worst[1][t],
               sum_raw[t][2] / sum_op[t][2], worst[2][t]);
    return 0;
}
