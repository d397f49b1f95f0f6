/* The CUDA backend (a plugin module, libalae-cuda.so): declarations shared by its two sources.
 *
 * cuda_backend.cu   the plugin entry point, the vtable, devices, contexts (one stream, one cuBLAS
 *                   handle, pinned staging, scratch), memory, copies and the recorded plans
 *                   (CUDA graphs: run_ops / forget)
 * cuda_ops.cu       every primitive op: validation (alaei_op_validate, then the same shape rules
 *                   as the CPU and reference backends), our own kernels, and cuBLAS for the
 *                   matrix products
 * op_table.c        (lib/backend) the op table's names and shared validation, compiled in
 *
 * Storage is float32, dense, row-major, four dims. Errors go through the host's fail() with the
 * pinned status codes; the module never prints, aborts or exits. */
#ifndef ALAE_CUDA_INTERNAL_H
#define ALAE_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/alae_backend_impl.h"

#if defined(__GNUC__)
#define CU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CU_PRINTF(f, a)
#endif

/* One recorded plan: the op descriptors of its last run and, from the second identical run
 * on, the instantiated CUDA graph that replays them. */
typedef struct cu_record {
    const void *key;
    alaei_op *ops;
    int32_t n, cap;
    uint64_t generation; /* ctx->generation when recorded: scratch moves and math-mode changes
                            invalidate every recording */
    int no_graph;        /* capture failed once: run this plan op by op */
    cudaGraphExec_t exec;
} cu_record;

typedef struct cu_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;            /* cuBLAS workspace (set explicitly so that capture never allocates) */
    size_t blas_ws_bytes;
    float *staging;           /* pinned host memory for write_f32 / read_f32 */
    size_t staging_bytes;
    void *scratch;            /* device scratch (columns of convolutions, batch sums), grown on demand */
    size_t scratch_bytes;
    uint64_t generation;      /* bumped whenever the scratch moves or the math mode changes */
    alae_status scratch_status; /* why the last cu_scratch returned NULL */
    int tf32;                 /* ALAE_CTX_TF32 */
    int capturing;            /* inside cudaStreamBeginCapture .. EndCapture: nothing may allocate */
    int lost;                 /* a sticky device error happened: only ctx_destroy is allowed */
    cu_record *recs;
    int32_t n_recs, cap_recs;
    /* statistics (the GPU tests and benchmarks read them through the log) */
    uint64_t graph_launches, graph_captures, eager_batches;
    struct cu_profile *profile; /* ALAE_CUDA_PROFILE=1: GPU time per op, plans run op by op */
} cu_ctx;

/* ---- cuda_backend.cu ---- */
extern const alaei_host_services *cu_host;
/* Records the message (through the host) and returns status. */
alae_status cu_fail(alae_status status, const char *func, const char *fmt, ...) CU_PRINTF(3, 4);
/* Maps a CUDA error to a status (DEVICE_NOMEM, DEVICE_LOST for sticky errors, which also mark
 * the context lost, BACKEND otherwise) with "what: cudaErrorX: text". ALAE_OK for cudaSuccess. */
alae_status cu_check(cu_ctx *ctx, cudaError_t e, const char *func, const char *what);
/* Same for cuBLAS. */
alae_status cu_check_blas(cu_ctx *ctx, cublasStatus_t e, const char *func, const char *what);
/* cudaGetLastError after kernel launches, as cu_check. */
alae_status cu_check_launch(cu_ctx *ctx, const char *func, const char *kernel);
/* Device scratch of at least bytes, valid until the next op; NULL with the error recorded (as
 * DEVICE_NOMEM, or INTERNAL when it would have to grow during a capture). */
void *cu_scratch(cu_ctx *ctx, size_t bytes);
/* The status of the last cu_scratch that returned NULL (DEVICE_NOMEM, INTERNAL, DEVICE_LOST). */
alae_status cu_scratch_status(const cu_ctx *ctx);
/* Ensures the scratch holds bytes (outside a capture); may move it (generation++). */
alae_status cu_scratch_reserve(cu_ctx *ctx, size_t bytes);

/* ---- cuda_ops.cu ---- */
/* Runs one op (validated first) on the context's stream; no device selection, no lost check. */
alae_status cu_run_op(cu_ctx *ctx, const alaei_op *op);
/* The scratch bytes cu_run_op will ask for on this op (0 for most ops): the recorder reserves
 * the maximum over a plan before capturing it. */
size_t cu_op_scratch_bytes(const alaei_op *op);
/* Fills count floats at dst with v on the context's stream. */
alae_status cu_fill_f32(cu_ctx *ctx, float *dst, size_t count, float v);
/* Row-major (batched, strided) SGEMM through cuBLAS: C[b] = alpha op(A[b]) op(B[b]) + beta C[b]. */
alae_status cu_sgemm(cu_ctx *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t stride_a, const float *b, int64_t stride_b, float beta, float *c, int64_t stride_c,
                     int64_t batch);

#endif /* ALAE_CUDA_INTERNAL_H */
