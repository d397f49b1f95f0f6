/* The built-in CPU backend: declarations shared by its source files (backends/cpu/) and by
 * the benchmark programs. Never installed. Storage is float32, dense, row-major, four dims.
 *
 * Threading model (see docs/threading.md): each backend context owns a fixed
 * pthread pool of (threads - 1) workers plus the calling thread. Elementwise, layout and im2col
 * kernels are split over that pool with a static ith/nth partition; GEMMs go to OpenBLAS, which
 * runs them with its own threads on the calling thread while our pool is idle. */
#ifndef ALAE_CPU_INTERNAL_H
#define ALAE_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_host.h"

/* ---------------------------------------------------------------------------------------------
 * Thread pool (cpu_threadpool.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct cpu_pool cpu_pool;

/* A task run by thread ith of nth (0 = the calling thread). */
typedef void (*cpu_task_fn)(void *arg, int ith, int nth);
/* A range task: processes items [begin, end). */
typedef void (*cpu_range_fn)(void *arg, int64_t begin, int64_t end);

/* Jobs with less total work than this (in "elements") run on the calling thread alone. */
#define CPU_PARALLEL_MIN_WORK 32768

/* Creates a pool of nthreads threads in all (nthreads - 1 workers are started; 1 <= nthreads
 * <= 256). Returns ALAE_E_NOMEM / ALAE_E_BACKEND with a message on failure. */
alae_status cpu_pool_create(int nthreads, cpu_pool **out);
/* Stops and joins the workers; NULL is a no-op. Must not be called while a job runs. */
void cpu_pool_destroy(cpu_pool *pool);
/* Threads in the pool, caller included (1 for a NULL pool). */
int cpu_pool_size(const cpu_pool *pool);
/* Runs fn(arg, ith, nth) for ith = 0..nth-1 (nth is clamped to 1..pool size) and returns when
 * all have finished (a barrier). The caller runs ith = 0. Not reentrant: a task must not call
 * back into the same pool. */
void cpu_pool_run(cpu_pool *pool, int nth, cpu_task_fn fn, void *arg);
/* Splits [0, n_items) into nth contiguous ranges (static: range ith is
 * [n*ith/nth, n*(ith+1)/nth)); nth is chosen from the total work n_items * cost_per_item so that
 * small jobs (< CPU_PARALLEL_MIN_WORK) stay on the caller. */
void cpu_parallel_for_cost(cpu_pool *pool, int64_t n_items, int64_t cost_per_item, cpu_range_fn fn,
                           void *arg);
/* The number of threads cpu_parallel_for_cost would use (1..pool size), for callers that run
 * cpu_pool_run themselves with per-thread buffers and the same static partition. */
int cpu_parallel_nth(const cpu_pool *pool, int64_t n_items, int64_t cost_per_item);
/* cpu_parallel_for_cost with a cost of 1 per item (items are elements). */
void cpu_parallel_for(cpu_pool *pool, int64_t n_items, cpu_range_fn fn, void *arg);

/* ---------------------------------------------------------------------------------------------
 * Per-context state (cpu_backend.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct cpu_ctx {
    cpu_pool *pool;       /* NULL until set_threads, or when threads == 1 */
    int32_t threads;
    int32_t device;
    void *scratch;        /* 64-byte aligned, grown on demand, owned by the context */
    size_t scratch_bytes;
    int32_t winograd;     /* ALAE_CTX_WINOGRAD: 0 off, 1 where it wins, 2 wherever it applies */
} cpu_ctx;

/* A 64-byte aligned scratch area of at least bytes, valid until the next call on the context;
 * NULL (with the error recorded as ALAE_E_NOMEM) when out of memory. */
void *cpu_scratch(cpu_ctx *ctx, size_t bytes);

/* ---------------------------------------------------------------------------------------------
 * CPU features (cpu_blas.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct cpu_features {
    int vendor_amd;       /* AuthenticAMD or HygonGenuine */
    int vendor_intel;
    unsigned family;      /* display family (base + extended) */
    int avx;              /* AVX usable (CPU + OS saves YMM state) */
    int avx2;
    int fma;
    int avx512;           /* AVX-512 F+BW+DQ+VL usable (CPU + OS saves ZMM state) */
} cpu_features;

/* Detected once per process (cpuid + xgetbv); all zero on non-x86 hosts. */
const cpu_features *cpu_get_features(void);

/* ---------------------------------------------------------------------------------------------
 * BLAS (cpu_blas.c): OpenBLAS loaded with dlopen at run time, once per process.
 * ------------------------------------------------------------------------------------------- */
/* Loads BLAS once (pthread_once); safe to call from any thread, cheap after the first call. */
void cpu_blas_init(void);
/* "OpenBLAS 0.3.21 Zen kernels (DYNAMIC_ARCH)", "cblas_sgemm from libblas.so.3" or "built-in
 * SGEMM (no BLAS found)". Loads BLAS on first use. Also used by lib/core (device info, logs). */
const char *alaei_cpu_blas_description(void);
/* OpenBLAS's core name ("Zen", "Haswell", "SkylakeX"...), or "" when not OpenBLAS. */
const char *cpu_blas_corename(void);
/* Calls openblas_set_num_threads(n) when available. PROCESS-GLOBAL: OpenBLAS has one thread
 * count for the whole process, so the context that set it last wins. Called once per context
 * creation / set_threads, never per GEMM. Serialized by a mutex. */
void cpu_blas_set_threads(int n);

/* The raw CBLAS entry point (CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112), or NULL
 * when the built-in kernel is in use. The benchmark compares against it. */
typedef void (*cpu_cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k,
                                   float alpha, const float *a, int lda, const float *b, int ldb,
                                   float beta, float *c, int ldc);
cpu_cblas_sgemm_fn cpu_blas_raw_sgemm(void);
/* 1 when cpu_sgemm splits GEMMs over the context's pool (OpenBLAS single-threaded). */
int cpu_blas_own_split(void);
/* OpenBLAS's own thread count, whatever cpu_sgemm does (for benchmarks of the raw SGEMM). */
void cpu_blas_raw_set_threads(int n);

/* Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, op = transpose when
 * trans_a / trans_b. A is stored k x m (lda >= m) when trans_a, else m x k (lda >= k); likewise B.
 * beta == 0 never reads C (NaN-safe); k == 0 gives beta * C. Uses OpenBLAS when loaded (and the
 * sizes fit in int), the built-in blocked kernel otherwise (parallel over ctx's pool; ctx may be
 * NULL). Returns ALAE_E_NOMEM only when the built-in kernel cannot get its packing buffers. */
alae_status cpu_sgemm(cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                      float beta, float *c, int64_t ldc);
/* The built-in kernel alone (tests and benchmarks). */
alae_status cpu_sgemm_builtin(cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                              int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                              int64_t ldb, float beta, float *c, int64_t ldc);

/* ---------------------------------------------------------------------------------------------
 * Kernels: one entry per op family. Each validates what could write out of bounds and returns
 * ALAE_E_SHAPE / ALAE_E_INVALID_ARG with a message; run_op dispatches here.
 * ------------------------------------------------------------------------------------------- */
alae_status cpu_op_gemm(cpu_ctx *ctx, const alaei_op *op);          /* cpu_kernels.c */
alae_status cpu_op_fill(cpu_ctx *ctx, const alaei_op *op);          /* cpu_elementwise.c */
alae_status cpu_op_rng_normal(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_binary(cpu_ctx *ctx, const alaei_op *op);        /* ADD SUB MUL DIV */
alae_status cpu_op_unary(cpu_ctx *ctx, const alaei_op *op);         /* NEG..SIGN, LEAKY_*, SCALE_SHIFT, CLAMP */
alae_status cpu_op_adam_step(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_adam_ema_step(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_reduce_sum(cpu_ctx *ctx, const alaei_op *op);    /* cpu_reduce.c */
alae_status cpu_op_broadcast(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_im2col(cpu_ctx *ctx, const alaei_op *op);        /* cpu_conv.c */
alae_status cpu_op_col2im(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_upsample2d(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_sumpool2d(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_fir2d(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_conv2d(cpu_ctx *ctx, const alaei_op *op);       /* cpu_conv2d.c: CONV2D, _BWD_DATA, _BWD_WEIGHT */
alae_status cpu_op_permute(cpu_ctx *ctx, const alaei_op *op);       /* cpu_layout.c */
alae_status cpu_op_slice(cpu_ctx *ctx, const alaei_op *op);
alae_status cpu_op_slice_adj(cpu_ctx *ctx, const alaei_op *op);

/* ---- Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions (cpu_winograd.c) ----
 * A forward convolution of images [n, c, h, w] by a 3x3 kernel with padding pad (0..2) into
 * [n, o, oh, ow], oh = h + 2 pad - 2, ow = w + 2 pad - 2. */
typedef struct cpu_wino_shape {
    int64_t n, c, h, w, o, oh, ow, pad;
} cpu_wino_shape;
/* Whether the context's setting picks Winograd for this shape (0 or 1). */
int cpu_winograd_wanted(const cpu_ctx *ctx, const cpu_wino_shape *s);
/* y = alpha conv(x, w): w is [o, c, 3, 3], or with flip [c, o, 3, 3] used rotated by 180 degrees
 * and transposed (the backward-data convolution). */
alae_status cpu_winograd_conv(cpu_ctx *ctx, const cpu_wino_shape *s, const float *x, const float *w, int flip,
                              float alpha, float *y);
/* dw [o, c, 3, 3] = alpha Σ gy ⋆ x, gy [n, o, oh, ow] (the weight gradient). */
alae_status cpu_winograd_bwd_weight(cpu_ctx *ctx, const cpu_wino_shape *s, const float *gy, const float *x,
                                    float alpha, float *dw);

/* Fills n floats with v, over the pool when large. */
void cpu_fill_f32(cpu_pool *pool, float *dst, int64_t n, float v);

/* ---- broadcasting plans (cpu_kernels.c) ----
 * The dims of a destination and of up to two sources whose dims are each the destination's or 1,
 * canonicalised: dims of extent 1 dropped, adjacent dims merged when every source is full (or
 * broadcast) along both, left-padded with 1s to four dims. st[s][k] is source s's element stride
 * along merged dim k: 0 when broadcast, else contiguous. So a [N, C, H, W] + b [1, C, 1, 1]
 * becomes ne = {1, N, C, H*W} with b strides {0, 0, 1, 0}. */
typedef struct cpu_bplan {
    int64_t ne[4];
    int64_t st[2][4];
} cpu_bplan;
/* Returns 0 when a source dim is neither the destination's nor 1. */
int cpu_bplan_make(const int64_t dst_ne[4], int nsrc, const int64_t *const src_ne[2], cpu_bplan *plan);

/* ---- shared validation helpers (cpu_kernels.c) ---- */
/* (cpu_run_op checks every op with alaei_op_validate before its kernel runs.) */
/* Checks that two views have the same four dims; ALAE_E_SHAPE naming the op and what otherwise. */
alae_status cpu_check_same_shape(const alaei_op *op, const alaei_tview *x, const char *xname,
                                 const alaei_tview *y, const char *yname);
/* Fails with ALAE_E_SHAPE: "<OP>: <message>". */
alae_status cpu_shape_error(const alaei_op *op, const char *fmt, ...) ALAEI_PRINTF(2, 3);

#endif /* ALAE_CPU_INTERNAL_H */
