/* The per-op profile of a context (ALAE_PROFILE=1): time, FLOPs and calls of every op run
 * through alaei_device_exec, logged when the context is destroyed. The backend is synchronised
 * around each op, so an asynchronous backend (CUDA) is measured by its kernels, not by its
 * launches; a profiled run is therefore slower, and plans run op by op (no recorded batches). */
#include <time.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

_Static_assert(ALAEI_OP_COUNT <= ALAEI_PROFILE_SLOTS, "the profile has a slot per op");

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Multiply-adds x 2 for the matrix products and convolutions, elements written otherwise. */
static double op_flops(const alaei_op *op) {
    const int64_t *a = op->src[0].ne, *b = op->src[1].ne;
    switch (op->code) {
    case ALAEI_OP_GEMM: return 2.0 * (double)alaei_numel4(op->dst.ne) * (double)(op->ip[0] ? a[2] : a[3]);
    /* 2 * output gradient elements * C * KH * KW for all three convolution ops */
    case ALAEI_OP_CONV2D: return 2.0 * (double)alaei_numel4(op->dst.ne) * (double)(b[1] * b[2] * b[3]);
    case ALAEI_OP_CONV2D_BWD_DATA: return 2.0 * (double)alaei_numel4(a) * (double)(b[1] * b[2] * b[3]);
    case ALAEI_OP_CONV2D_BWD_WEIGHT: return 2.0 * (double)alaei_numel4(a) * (double)(b[1] * op->ip[0] * op->ip[1]);
    default: return (double)alaei_numel4(op->dst.ne);
    }
}

alae_status alaei_profile_run(alae_context *ctx, const alaei_op *op) {
    const alaei_backend_vtbl *b = ctx->backend;
    alae_status s = b->synchronize(ctx->bctx); /* work queued before the op is not its time */
    double t0 = seconds_now();
    if (s == ALAE_OK) s = b->run_op(ctx->bctx, op);
    if (s == ALAE_OK) s = b->synchronize(ctx->bctx);
    if (s == ALAE_OK && op->code >= 0 && op->code < ALAEI_OP_COUNT) {
        alaei_profile *p = ctx->profile;
        p->seconds[op->code] += seconds_now() - t0;
        p->flops[op->code] += op_flops(op);
        p->calls[op->code]++;
    }
    return s;
}

void alaei_profile_report(const alae_context *ctx) {
    const alaei_profile *pr = ctx->profile;
    double total = 0;
    for (int i = 0; i < ALAEI_OP_COUNT; i++) total += pr->seconds[i];
    alaei_log(ALAE_LOG_WARN, "profile: %.3f s in kernels", total);
    for (int i = 0; i < ALAEI_OP_COUNT; i++)
        if (pr->calls[i])
            alaei_log(ALAE_LOG_WARN, "profile: %-17s %8llu calls %8.3f s %5.1f%% %8.2f GFLOP/s (elements/s for non-GEMM/conv)",
                      alaei_op_name(i), (unsigned long long)pr->calls[i], pr->seconds[i],
                      100.0 * pr->seconds[i] / (total > 0 ? total : 1), pr->flops[i] / (pr->seconds[i] + 1e-12) / 1e9);
}
