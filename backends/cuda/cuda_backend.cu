/* The CUDA backend: the plugin entry point, the vtable, devices, contexts, memory, copies and
 * recorded plans (CUDA graphs). See cuda_internal.h for the layout of the module. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

const alaei_host_services *cu_host = NULL;

#define STAGING_BYTES ((size_t)8 << 20)   /* pinned staging of host copies, per context */
#define BLAS_WS_BYTES ((size_t)32 << 20)  /* cuBLAS workspace (what cuBLAS itself uses on Hopper) */
#define MAX_RECORDS 4096                  /* recorded plans per context (far more than any trainer) */

/* ---------------------------------------------------------------------------------------------
 * Errors and logging
 * ------------------------------------------------------------------------------------------- */

alae_status cu_fail(alae_status status, const char *func, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (cu_host && cu_host->fail) return cu_host->fail(status, func, "%s", text);
    return status;
}

static void cu_log(int32_t level, const char *fmt, ...) CU_PRINTF(2, 3);
static void cu_log(int32_t level, const char *fmt, ...) {
    if (!cu_host || !cu_host->log) return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cu_host->log(level, text);
}

/* Errors after which the CUDA context is unusable (the runtime keeps returning them). */
static int is_sticky(cudaError_t e) {
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorUnknown: return 1;
    default: return 0;
    }
}

alae_status cu_check(cu_ctx *ctx, cudaError_t e, const char *func, const char *what) {
    if (e == cudaSuccess) return ALAE_OK;
    alae_status status = ALAE_E_BACKEND;
    if (e == cudaErrorMemoryAllocation) {
        status = ALAE_E_DEVICE_NOMEM;
    } else if (is_sticky(e)) {
        status = ALAE_E_DEVICE_LOST;
        if (ctx) ctx->lost = 1;
    }
    return cu_fail(status, func, "%s: %s: %s%s", what, cudaGetErrorName(e), cudaGetErrorString(e),
                   status == ALAE_E_DEVICE_LOST ? " (the context is unusable now; destroy it)" : "");
}

alae_status cu_check_blas(cu_ctx *ctx, cublasStatus_t e, const char *func, const char *what) {
    if (e == CUBLAS_STATUS_SUCCESS) return ALAE_OK;
    alae_status status = e == CUBLAS_STATUS_ALLOC_FAILED ? ALAE_E_DEVICE_NOMEM : ALAE_E_BACKEND;
    if (e == CUBLAS_STATUS_EXECUTION_FAILED) {
        /* a kernel failed: find out whether the context survived */
        cudaError_t last = cudaGetLastError();
        if (is_sticky(last)) return cu_check(ctx, last, func, what);
    }
    return cu_fail(status, func, "%s: cuBLAS %s: %s", what, cublasGetStatusName(e), cublasGetStatusString(e));
}

alae_status cu_check_launch(cu_ctx *ctx, const char *func, const char *kernel) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return ALAE_OK;
    char what[128];
    snprintf(what, sizeof what, "launching %s", kernel);
    return cu_check(ctx, e, func, what);
}

/* Every entry that works on a context starts here: the context's device is made current, and a
 * context lost to a sticky error refuses further work. */
static alae_status enter(cu_ctx *ctx, const char *func) {
    if (!ctx) return cu_fail(ALAE_E_INVALID_ARG, func, "no context");
    if (ctx->lost)
        return cu_fail(ALAE_E_DEVICE_LOST, func, "an earlier device error left this context unusable; destroy it");
    return cu_check(ctx, cudaSetDevice(ctx->device), func, "cudaSetDevice");
}

/* ---------------------------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------------------------- */

static int32_t cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n < 0 ? 0 : (int32_t)n;
}

static alae_status cuda_device_info(int32_t device, alae_device_info *out) {
    if (!out) return cu_fail(ALAE_E_INVALID_ARG, "cuda_device_info", "out is NULL");
    int32_t n = cuda_device_count();
    if (device < 0 || device >= n)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_device_info", "CUDA device %d does not exist (%d devices)", (int)device,
                       (int)n);
    cudaDeviceProp prop;
    alae_status s = cu_check(NULL, cudaGetDeviceProperties(&prop, device), "cuda_device_info",
                             "cudaGetDeviceProperties");
    if (s != ALAE_OK) return s;
    int previous = 0, driver = 0, runtime = 0;
    size_t mem_free = 0, mem_total = 0;
    (void)cudaGetDevice(&previous);
    if (cudaSetDevice(device) == cudaSuccess && cudaMemGetInfo(&mem_free, &mem_total) != cudaSuccess) {
        mem_free = 0;
        mem_total = 0;
    }
    (void)cudaSetDevice(previous);
    (void)cudaDriverGetVersion(&driver);
    (void)cudaRuntimeGetVersion(&runtime);
    (void)cudaGetLastError();
    out->kind = ALAE_DEVICE_CUDA;
    snprintf(out->name, sizeof out->name, "cuda:%d", (int)device);
    char gpu[64];
    snprintf(gpu, sizeof gpu, "%.63s", prop.name);
    snprintf(out->description, sizeof out->description, "%s | sm_%d%d, %d SMs | driver %d.%d, runtime %d.%d",
             gpu, prop.major, prop.minor, prop.multiProcessorCount, driver / 1000, (driver % 1000) / 10,
             runtime / 1000, (runtime % 1000) / 10);
    out->mem_total = mem_total ? (uint64_t)mem_total : (uint64_t)prop.totalGlobalMem;
    out->mem_free = (uint64_t)mem_free;
    out->threads = 1;
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The op profiler (ALAE_CUDA_PROFILE=1 in the environment; a measuring aid, off by default):
 * every op is timed on the GPU between two events and waited for, plans run op by op (no
 * graphs), and the context's destruction logs the GPU time per op and the slowest single ops.
 * The synchronisation slows the run down; the GPU times are those of the kernels alone.
 * ------------------------------------------------------------------------------------------- */

#define PROFILE_TOP 10

typedef struct cu_profile {
    cudaEvent_t start, stop;
    double ms[ALAEI_OP_COUNT];
    uint64_t calls[ALAEI_OP_COUNT];
    int32_t n_top;
    float top_ms[PROFILE_TOP];
    alaei_op top[PROFILE_TOP];
} cu_profile;

static cu_profile *profile_create(void) {
    const char *env = getenv("ALAE_CUDA_PROFILE");
    if (!env || env[0] != '1') return NULL;
    cu_profile *p = (cu_profile *)calloc(1, sizeof *p);
    if (!p) return NULL;
    if (cudaEventCreate(&p->start) != cudaSuccess || cudaEventCreate(&p->stop) != cudaSuccess) {
        (void)cudaGetLastError();
        free(p);
        return NULL;
    }
    return p;
}

static void profile_keep_top(cu_profile *p, const alaei_op *op, float ms) {
    int32_t at = p->n_top;
    if (at == PROFILE_TOP) {
        if (ms <= p->top_ms[PROFILE_TOP - 1]) return;
        at = PROFILE_TOP - 1;
    } else {
        p->n_top++;
    }
    while (at > 0 && p->top_ms[at - 1] < ms) {
        p->top_ms[at] = p->top_ms[at - 1];
        p->top[at] = p->top[at - 1];
        at--;
    }
    p->top_ms[at] = ms;
    p->top[at] = *op;
}

/* cu_run_op, timed when the profiler is on (never inside a capture) */
static alae_status run_one(cu_ctx *ctx, const alaei_op *op) {
    cu_profile *p = ctx->profile;
    if (!p || ctx->capturing) return cu_run_op(ctx, op);
    (void)cudaEventRecord(p->start, ctx->stream);
    alae_status s = cu_run_op(ctx, op);
    (void)cudaEventRecord(p->stop, ctx->stream);
    float ms = 0.0f;
    if (cudaEventSynchronize(p->stop) == cudaSuccess && cudaEventElapsedTime(&ms, p->start, p->stop) == cudaSuccess &&
        op->code >= 0 && op->code < ALAEI_OP_COUNT) {
        p->ms[op->code] += ms;
        p->calls[op->code]++;
        profile_keep_top(p, op, ms);
    }
    (void)cudaGetLastError();
    return s;
}

static void profile_report(cu_ctx *ctx) {
    cu_profile *p = ctx->profile;
    double total = 0;
    uint64_t calls = 0;
    for (int i = 0; i < ALAEI_OP_COUNT; i++) total += p->ms[i], calls += p->calls[i];
    cu_log(ALAE_LOG_WARN, "cuda profile: %llu ops, %.3f ms of GPU time", (unsigned long long)calls, total);
    int done[ALAEI_OP_COUNT] = {0};
    for (int rank = 0; rank < ALAEI_OP_COUNT; rank++) {
        int best = -1;
        for (int i = 0; i < ALAEI_OP_COUNT; i++)
            if (!done[i] && p->calls[i] && (best < 0 || p->ms[i] > p->ms[best])) best = i;
        if (best < 0) break;
        done[best] = 1;
        cu_log(ALAE_LOG_WARN, "cuda profile: %-17s %8llu calls %9.3f ms %5.1f%% %8.1f us/call", alaei_op_name(best),
               (unsigned long long)p->calls[best], p->ms[best], 100.0 * p->ms[best] / (total > 0 ? total : 1),
               1000.0 * p->ms[best] / (double)p->calls[best]);
    }
    for (int32_t i = 0; i < p->n_top; i++) {
        const alaei_op *op = &p->top[i];
        cu_log(ALAE_LOG_WARN,
               "cuda profile: slowest #%d %s %.3f ms: dst [%lld %lld %lld %lld] src0 [%lld %lld %lld %lld] "
               "src1 [%lld %lld %lld %lld] ip %d %d %d %d",
               (int)i + 1, alaei_op_name(op->code), (double)p->top_ms[i], (long long)op->dst.ne[0],
               (long long)op->dst.ne[1], (long long)op->dst.ne[2], (long long)op->dst.ne[3], (long long)op->src[0].ne[0],
               (long long)op->src[0].ne[1], (long long)op->src[0].ne[2], (long long)op->src[0].ne[3],
               (long long)op->src[1].ne[0], (long long)op->src[1].ne[1], (long long)op->src[1].ne[2],
               (long long)op->src[1].ne[3], (int)op->ip[0], (int)op->ip[1], (int)op->ip[2], (int)op->ip[3]);
    }
}

static void profile_destroy(cu_ctx *ctx) {
    if (!ctx->profile) return;
    profile_report(ctx);
    (void)cudaEventDestroy(ctx->profile->start);
    (void)cudaEventDestroy(ctx->profile->stop);
    free(ctx->profile);
    ctx->profile = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------------------------- */

static void record_clear(cu_record *r) {
    if (r->exec) (void)cudaGraphExecDestroy(r->exec);
    r->exec = NULL;
    free(r->ops);
    r->ops = NULL;
    r->n = r->cap = 0;
}

static void cuda_ctx_destroy(void *bctx) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (!ctx) return;
    (void)cudaSetDevice(ctx->device);
    if (ctx->stream) (void)cudaStreamSynchronize(ctx->stream);
    profile_destroy(ctx);
    for (int32_t i = 0; i < ctx->n_recs; i++) record_clear(&ctx->recs[i]);
    free(ctx->recs);
    if (ctx->blas) (void)cublasDestroy(ctx->blas);
    if (ctx->blas_ws) (void)cudaFree(ctx->blas_ws);
    if (ctx->scratch) (void)cudaFree(ctx->scratch);
    if (ctx->staging) (void)cudaFreeHost(ctx->staging);
    if (ctx->stream) (void)cudaStreamDestroy(ctx->stream);
    (void)cudaGetLastError();
    if (ctx->graph_launches || ctx->graph_captures || ctx->eager_batches)
        cu_log(ALAE_LOG_DEBUG, "cuda:%d context: %llu graph captures, %llu graph launches, %llu batches run op by op",
               ctx->device, (unsigned long long)ctx->graph_captures, (unsigned long long)ctx->graph_launches,
               (unsigned long long)ctx->eager_batches);
    free(ctx);
}

static alae_status apply_math_mode(cu_ctx *ctx) {
    cublasMath_t mode = ctx->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    return cu_check_blas(ctx, cublasSetMathMode(ctx->blas, mode), "cuda_set_option", "cublasSetMathMode");
}

static alae_status cuda_ctx_create(int32_t device, const alaei_host_services *host, void **bctx) {
    (void)host; /* the entry point kept the (static) host services */
    if (!bctx) return cu_fail(ALAE_E_INVALID_ARG, "cuda_ctx_create", "bctx is NULL");
    *bctx = NULL;
    int32_t n = cuda_device_count();
    if (device < 0 || device >= n)
        return cu_fail(ALAE_E_INVALID_ARG, "cuda_ctx_create", "CUDA device %d does not exist (%d devices)", (int)device,
                       (int)n);
    cu_ctx *ctx = (cu_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return cu_fail(ALAE_E_NOMEM, "cuda_ctx_create", "no memory for a CUDA context");
    ctx->device = device;
    const char *f = "cuda_ctx_create";
    alae_status s = cu_check(ctx, cudaSetDevice(device), f, "cudaSetDevice");
    if (s == ALAE_OK) s = cu_check(ctx, cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), f, "cudaStreamCreate");
    if (s == ALAE_OK) s = cu_check_blas(ctx, cublasCreate(&ctx->blas), f, "cublasCreate");
    if (s == ALAE_OK) s = cu_check_blas(ctx, cublasSetStream(ctx->blas, ctx->stream), f, "cublasSetStream");
    if (s == ALAE_OK) s = cu_check(ctx, cudaMalloc(&ctx->blas_ws, BLAS_WS_BYTES), f, "cudaMalloc (cuBLAS workspace)");
    if (s == ALAE_OK) {
        ctx->blas_ws_bytes = BLAS_WS_BYTES;
        s = cu_check_blas(ctx, cublasSetWorkspace(ctx->blas, ctx->blas_ws, ctx->blas_ws_bytes), f, "cublasSetWorkspace");
    }
    if (s == ALAE_OK) s = apply_math_mode(ctx);
    if (s == ALAE_OK)
        s = cu_check(ctx, cudaMallocHost((void **)&ctx->staging, STAGING_BYTES), f, "cudaMallocHost (staging)");
    if (s == ALAE_OK) ctx->staging_bytes = STAGING_BYTES;
    if (s == ALAE_OK) ctx->profile = profile_create();
    if (s != ALAE_OK) {
        ctx->lost = 0;
        cuda_ctx_destroy(ctx);
        return s;
    }
    *bctx = ctx;
    return ALAE_OK;
}

static alae_status cuda_set_threads(void *bctx, int32_t threads) {
    (void)bctx;
    (void)threads; /* the GPU has no host worker threads */
    return ALAE_OK;
}

static alae_status cuda_synchronize(void *bctx) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    alae_status s = enter(ctx, "cuda_synchronize");
    if (s != ALAE_OK) return s;
    return cu_check(ctx, cudaStreamSynchronize(ctx->stream), "cuda_synchronize", "cudaStreamSynchronize");
}

static alae_status cuda_set_option(void *bctx, int32_t key, int64_t value) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    alae_status s = enter(ctx, "cuda_set_option");
    if (s != ALAE_OK) return s;
    if (key != ALAE_CTX_TF32) return ALAE_E_UNSUPPORTED; /* ALAE_CTX_GRAPHS lives in the executor */
    int want = value != 0;
    if (want == ctx->tf32) return ALAE_OK;
    ctx->tf32 = want;
    s = apply_math_mode(ctx);
    if (s != ALAE_OK) {
        ctx->tf32 = !want; /* the handle kept the old mode: say so */
        return s;
    }
    ctx->generation++; /* recorded graphs hold kernels chosen for the old math mode */
    return ALAE_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Scratch
 * ------------------------------------------------------------------------------------------- */

alae_status cu_scratch_reserve(cu_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->scratch_bytes) return ALAE_OK;
    if (ctx->capturing)
        return cu_fail(ALAE_E_INTERNAL, "cu_scratch", "the scratch would have to grow to %zu bytes during a graph capture",
                       bytes);
    size_t want = bytes + bytes / 4;
    if (want < bytes) want = bytes;
    want = (want + 255) & ~(size_t)255;
    /* the old scratch may still be read by queued kernels: cudaFree waits for the device */
    if (ctx->scratch) {
        (void)cudaFree(ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
        /* recorded graphs hold the freed pointer: invalidate them now, not only once the new
         * allocation succeeded (a failed cudaMalloc below must not leave them replayable) */
        ctx->generation++;
    }
    cudaError_t e = cudaMalloc(&ctx->scratch, want);
    if (e != cudaSuccess) {
        /* out of memory is not sticky: clear it, or the next cu_check_launch would report it as
         * the failure of an unrelated kernel launch */
        (void)cudaGetLastError();
        ctx->scratch = NULL;
        return cu_check(ctx, e, "cu_scratch", "cudaMalloc (scratch)");
    }
    ctx->scratch_bytes = want;
    ctx->generation++;
    return ALAE_OK;
}

void *cu_scratch(cu_ctx *ctx, size_t bytes) {
    if (bytes == 0) bytes = 1;
    ctx->scratch_status = cu_scratch_reserve(ctx, bytes);
    return ctx->scratch_status == ALAE_OK ? ctx->scratch : NULL;
}

alae_status cu_scratch_status(const cu_ctx *ctx) {
    return ctx->scratch_status != ALAE_OK ? ctx->scratch_status : ALAE_E_DEVICE_NOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * Memory and copies
 * ------------------------------------------------------------------------------------------- */

static alae_status cuda_buf_alloc(void *bctx, size_t bytes, void **out) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (!out) return cu_fail(ALAE_E_INVALID_ARG, "cuda_buf_alloc", "out is NULL");
    *out = NULL;
    alae_status s = enter(ctx, "cuda_buf_alloc");
    if (s != ALAE_OK) return s;
    size_t rounded = bytes == 0 ? 256 : (bytes + 255) & ~(size_t)255;
    if (rounded < bytes)
        return cu_fail(ALAE_E_DEVICE_NOMEM, "cuda_buf_alloc", "%zu bytes is too large to allocate", bytes);
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* out of memory is not sticky */
        if (e == cudaErrorMemoryAllocation)
            return cu_fail(ALAE_E_DEVICE_NOMEM, "cuda_buf_alloc", "out of GPU memory allocating %zu bytes on cuda:%d",
                           bytes, ctx->device);
        return cu_check(ctx, e, "cuda_buf_alloc", "cudaMalloc");
    }
    *out = p;
    return ALAE_OK;
}

static void cuda_buf_free(void *bctx, void *ptr) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (!ptr) return;
    if (ctx) (void)cudaSetDevice(ctx->device);
    (void)cudaFree(ptr); /* waits for the kernels that may still use it */
    (void)cudaGetLastError();
}

static alae_status count_bytes(const char *func, size_t count, size_t *bytes) {
    *bytes = 0;
    if (count > SIZE_MAX / sizeof(float))
        return cu_fail(ALAE_E_INVALID_ARG, func, "%zu elements overflow size_t", count);
    *bytes = count * sizeof(float);
    return ALAE_OK;
}

/* count floats between host and device through the pinned staging buffer, in chunks, each
 * finished before the next: to the device, the caller may reuse src at once; from it, the copy
 * is ordered after every kernel queued before. */
static alae_status staged_copy(cu_ctx *ctx, const char *f, void *dst, const void *src, size_t count, int to_device) {
    size_t bytes;
    alae_status s = count_bytes(f, count, &bytes);
    if (s != ALAE_OK || count == 0) return s;
    if (!dst || !src) return cu_fail(ALAE_E_INVALID_ARG, f, "NULL pointer");
    if ((s = enter(ctx, f)) != ALAE_OK) return s;
    for (size_t done = 0; done < bytes && s == ALAE_OK;) {
        size_t n = bytes - done < ctx->staging_bytes ? bytes - done : ctx->staging_bytes;
        if (to_device) memcpy(ctx->staging, (const char *)src + done, n);
        s = cu_check(ctx,
                     to_device ? cudaMemcpyAsync((char *)dst + done, ctx->staging, n, cudaMemcpyHostToDevice, ctx->stream)
                               : cudaMemcpyAsync(ctx->staging, (const char *)src + done, n, cudaMemcpyDeviceToHost,
                                                 ctx->stream),
                     f, "cudaMemcpyAsync");
        if (s == ALAE_OK) s = cu_check(ctx, cudaStreamSynchronize(ctx->stream), f, "cudaStreamSynchronize");
        if (s == ALAE_OK && !to_device) memcpy((char *)dst + done, ctx->staging, n);
        done += n;
    }
    return s;
}

static alae_status cuda_write_f32(void *bctx, void *dst, const float *src, size_t count) {
    return staged_copy((cu_ctx *)bctx, "cuda_write_f32", dst, src, count, 1);
}

static alae_status cuda_read_f32(void *bctx, float *dst, const void *src, size_t count) {
    return staged_copy((cu_ctx *)bctx, "cuda_read_f32", dst, src, count, 0);
}

static alae_status cuda_copy(void *bctx, void *dst, const void *src, size_t count) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    const char *f = "cuda_copy";
    size_t bytes;
    alae_status s = count_bytes(f, count, &bytes);
    if (s != ALAE_OK || count == 0 || dst == src) return s;
    if (!dst || !src) return cu_fail(ALAE_E_INVALID_ARG, f, "NULL pointer");
    if ((s = enter(ctx, f)) != ALAE_OK) return s;
    return cu_check(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream), f, "cudaMemcpyAsync");
}

static alae_status cuda_fill(void *bctx, void *dst, size_t count, double value) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (count == 0) return ALAE_OK;
    if (!dst) return cu_fail(ALAE_E_INVALID_ARG, "cuda_fill", "dst is NULL");
    alae_status s = enter(ctx, "cuda_fill");
    if (s != ALAE_OK) return s;
    return cu_fill_f32(ctx, (float *)dst, count, (float)value);
}

/* ---------------------------------------------------------------------------------------------
 * Compute
 * ------------------------------------------------------------------------------------------- */

static int cuda_supports(void *bctx, const alaei_op *op) {
    (void)bctx;
    return op && alaei_op_is_backend_op(op->code);
}

static alae_status cuda_run_op(void *bctx, const alaei_op *op) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (!op) return cu_fail(ALAE_E_INVALID_ARG, "cuda_run_op", "op is NULL");
    alae_status s = enter(ctx, "cuda_run_op");
    if (s != ALAE_OK) return s;
    return run_one(ctx, op);
}

/* ---- recorded plans: run_ops / forget ----
 * The first run of a plan runs op by op and keeps a copy of the descriptors. When the next run
 * has byte-identical descriptors (same pointers, shapes and parameters: the plans of a training
 * step are static), its kernels are captured into a CUDA graph, which is instantiated and launched;
 * every later identical run launches that graph only. Any difference (another input buffer bound,
 * a changed parameter), a moved scratch or a math-mode change records afresh, so a replay always
 * does exactly what the descriptors say. */

static cu_record *find_record(cu_ctx *ctx, const void *key, int create) {
    for (int32_t i = 0; i < ctx->n_recs; i++)
        if (ctx->recs[i].key == key) return &ctx->recs[i];
    if (!create || ctx->n_recs >= MAX_RECORDS) return NULL;
    if (ctx->n_recs == ctx->cap_recs) {
        int32_t cap = ctx->cap_recs ? 2 * ctx->cap_recs : 16;
        cu_record *grown = (cu_record *)realloc(ctx->recs, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        ctx->recs = grown;
        ctx->cap_recs = cap;
    }
    cu_record *r = &ctx->recs[ctx->n_recs++];
    memset(r, 0, sizeof *r);
    r->key = key;
    return r;
}

static alae_status run_eagerly(cu_ctx *ctx, const alaei_op *ops, int32_t n) {
    ctx->eager_batches++;
    for (int32_t i = 0; i < n; i++) {
        alae_status s = run_one(ctx, &ops[i]);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* Captures ops into r->exec. ALAE_OK with r->exec set; ALAE_OK with r->exec NULL when the CUDA
 * runtime or an op refused the capture (the caller runs the ops eagerly); an error when the
 * scratch cannot be reserved, the context was lost or instantiation ran out of memory. */
static alae_status capture(cu_ctx *ctx, cu_record *r, const alaei_op *ops, int32_t n) {
    const char *f = "cuda_run_ops";
    size_t need = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t b = cu_op_scratch_bytes(&ops[i]);
        if (b > need) need = b;
    }
    alae_status s = cu_scratch_reserve(ctx, need);
    if (s != ALAE_OK) return s;
    cudaError_t e = cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        cu_log(ALAE_LOG_WARN, "cuda:%d: cudaStreamBeginCapture failed (%s); running this plan op by op", ctx->device,
               cudaGetErrorName(e));
        return ALAE_OK;
    }
    ctx->capturing = 1;
    for (int32_t i = 0; i < n && s == ALAE_OK; i++) s = cu_run_op(ctx, &ops[i]);
    cudaGraph_t graph = NULL;
    e = cudaStreamEndCapture(ctx->stream, &graph);
    ctx->capturing = 0;
    if (s != ALAE_OK || e != cudaSuccess) {
        if (graph) (void)cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        /* Nothing ran. These very descriptors ran eagerly without error on the previous call, so
         * an op that fails now was refused by the capture itself (a launch or cuBLAS call that
         * is not capturable, an invalidated capture): fall back to running the plan op by op,
         * which reproduces any genuine error. Only a lost context gives up here. */
        if (s != ALAE_OK && ctx->lost) return s;
        cu_log(ALAE_LOG_WARN, "cuda:%d: graph capture failed (%s); running this plan op by op", ctx->device,
               s != ALAE_OK ? "an op failed while being captured" : cudaGetErrorName(e));
        return ALAE_OK;
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (e == cudaErrorMemoryAllocation) return cu_check(ctx, e, f, "cudaGraphInstantiate");
        cu_log(ALAE_LOG_WARN, "cuda:%d: cudaGraphInstantiate failed (%s); running this plan op by op", ctx->device,
               cudaGetErrorName(e));
        return ALAE_OK;
    }
    r->exec = exec;
    r->generation = ctx->generation;
    ctx->graph_captures++;
    return ALAE_OK;
}

static alae_status cuda_run_ops(void *bctx, const void *key, const alaei_op *ops, int32_t n) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    const char *f = "cuda_run_ops";
    if (n < 0 || (n > 0 && !ops)) return cu_fail(ALAE_E_INVALID_ARG, f, "%d ops at %p", (int)n, (const void *)ops);
    alae_status s = enter(ctx, f);
    if (s != ALAE_OK || n == 0) return s;
    cu_record *r = key && !ctx->profile ? find_record(ctx, key, 1) : NULL;
    if (!r) return run_eagerly(ctx, ops, n);
    size_t bytes = (size_t)n * sizeof *ops;
    int same = r->ops && r->n == n && memcmp(r->ops, ops, bytes) == 0;
    if (same && r->generation == ctx->generation && !r->no_graph) {
        if (!r->exec) {
            s = capture(ctx, r, ops, n);
            if (s != ALAE_OK) return s;
            if (!r->exec) {
                r->no_graph = 1;
                return run_eagerly(ctx, ops, n);
            }
        }
        ctx->graph_launches++;
        return cu_check(ctx, cudaGraphLaunch(r->exec, ctx->stream), f, "cudaGraphLaunch");
    }
    if (same && r->no_graph) return run_eagerly(ctx, ops, n);
    /* first run, or something changed: record the descriptors and run op by op */
    if (r->exec) {
        (void)cudaGraphExecDestroy(r->exec);
        r->exec = NULL;
    }
    r->no_graph = 0;
    if (n > r->cap) {
        alaei_op *grown = (alaei_op *)realloc(r->ops, bytes);
        if (!grown) {
            r->n = 0;
            return run_eagerly(ctx, ops, n);
        }
        r->ops = grown;
        r->cap = n;
    }
    memcpy(r->ops, ops, bytes);
    r->n = n;
    s = run_eagerly(ctx, ops, n);
    /* after the run: a scratch that grew during it does not force another recording */
    r->generation = ctx->generation;
    if (s != ALAE_OK) r->n = 0; /* never replay a sequence that failed */
    return s;
}

static void cuda_forget(void *bctx, const void *key) {
    cu_ctx *ctx = (cu_ctx *)bctx;
    if (!ctx) return;
    for (int32_t i = 0; i < ctx->n_recs; i++) {
        if (ctx->recs[i].key != key) continue;
        (void)cudaSetDevice(ctx->device);
        record_clear(&ctx->recs[i]);
        ctx->recs[i] = ctx->recs[--ctx->n_recs];
        (void)cudaGetLastError();
        return;
    }
}

static void *cuda_native_stream(void *bctx) { return bctx ? (void *)((cu_ctx *)bctx)->stream : NULL; }

/* ---------------------------------------------------------------------------------------------
 * The table and the entry point
 * ------------------------------------------------------------------------------------------- */

static alaei_backend_vtbl make_vtbl(void) {
    alaei_backend_vtbl t;
    memset(&t, 0, sizeof t);
    t.abi_version = ALAEI_BACKEND_ABI_VERSION;
    t.struct_size = (uint32_t)sizeof(alaei_backend_vtbl);
    t.name = "cuda";
    t.elem_size = 4;
    t.device_count = cuda_device_count;
    t.device_info = cuda_device_info;
    t.ctx_create = cuda_ctx_create;
    t.ctx_destroy = cuda_ctx_destroy;
    t.set_threads = cuda_set_threads;
    t.synchronize = cuda_synchronize;
    t.buf_alloc = cuda_buf_alloc;
    t.buf_free = cuda_buf_free;
    t.write_f32 = cuda_write_f32;
    t.read_f32 = cuda_read_f32;
    t.copy = cuda_copy;
    t.fill = cuda_fill;
    t.supports = cuda_supports;
    t.run_op = cuda_run_op;
    t.set_option = cuda_set_option;
    t.run_ops = cuda_run_ops;
    t.forget = cuda_forget;
    t.native_stream = cuda_native_stream;
    return t;
}

static const alaei_backend_vtbl cuda_vtbl = make_vtbl();

extern "C" __attribute__((visibility("default"))) alae_status
alae_backend_plugin_entry(uint32_t host_abi_min, uint32_t host_abi_max, const alaei_host_services *host,
                          const alaei_backend_vtbl **out) {
    if (!host || !out) return ALAE_E_INVALID_ARG;
    cu_host = host;
    const char *f = "alae_backend_plugin_entry";
    if (host->struct_size < sizeof(alaei_host_services))
        return cu_fail(ALAE_E_VERSION, f, "the host's services table is too small (%u bytes)", host->struct_size);
    if (ALAEI_BACKEND_ABI_VERSION < host_abi_min || ALAEI_BACKEND_ABI_VERSION > host_abi_max)
        return cu_fail(ALAE_E_VERSION, f, "the CUDA backend implements backend ABI %d, the host supports %u..%u",
                       ALAEI_BACKEND_ABI_VERSION, host_abi_min, host_abi_max);
    /* The static CUDA runtime loads the driver itself; asking first gives a clear message on
     * machines without one (and keeps it loaded: plugins are never unloaded). */
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver) {
        const char *why = dlerror();
        return cu_fail(ALAE_E_BACKEND_UNAVAILABLE, f,
                       "no CUDA device: the NVIDIA driver library libcuda.so.1 cannot be loaded (%s)",
                       why ? why : "not found");
    }
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return cu_fail(ALAE_E_BACKEND_UNAVAILABLE, f, "no CUDA device: cudaGetDeviceCount: %s: %s", cudaGetErrorName(e),
                       cudaGetErrorString(e));
    }
    if (n <= 0) return cu_fail(ALAE_E_BACKEND_UNAVAILABLE, f, "no CUDA device: the driver reports no GPU");
    int runtime = 0;
    (void)cudaRuntimeGetVersion(&runtime);
    cu_log(ALAE_LOG_INFO, "CUDA backend: %d device%s, runtime %d.%d, cuBLAS %d", n, n == 1 ? "" : "s", runtime / 1000,
           (runtime % 1000) / 10, (int)CUBLAS_VERSION);
    *out = &cuda_vtbl;
    return ALAE_OK;
}
