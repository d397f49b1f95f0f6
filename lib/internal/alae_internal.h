/* Internal declarations of the core, shared by the layers above it and the tests. Never installed.
 * Backends include only alae_backend_impl.h (and, built in, alae_host.h). */
#ifndef ALAE_INTERNAL_H
#define ALAE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alae/alae.h"
#include "alae_host.h"

/* ---- errors (lib/core/status.c; the host services are in alae_host.h) ---- */
/* Re-records the current message as a failure of public_func: an internal function's name at
 * its head is dropped, and subject (a file name; may be NULL) is added if absent. */
alae_status alaei_fail_as(alae_status status, const char *public_func, const char *subject);

/* ---- setting keys (lib/core/status.c) ----
 * Each family of public keys has its own range of 1000: key / 1000 is its family. */
typedef enum alaei_key_family {
    ALAEI_KEYS_CTX = 1,   /* ALAE_CTX_*   1001.. */
    ALAEI_KEYS_CFG = 2,   /* ALAE_CFG_*   2001.. */
    ALAEI_KEYS_MODEL = 3, /* ALAE_MODEL_* 3001.. */
    ALAEI_KEYS_TRAIN = 4, /* ALAE_TRAIN_* 4001.. */
    ALAEI_KEYS_LEVEL = 5, /* ALAE_LEVEL_* 5001.. */
    ALAEI_KEYS_OPT = 6    /* ALAE_OPT_*   6001.. */
} alaei_key_family;
/* Refuses a key that family does not know: ALAE_E_INVALID_ARG with "key 3001 is an ALAE_MODEL_*
 * key, not an ALAE_TRAIN_* key" for a key of another family, else "unknown ALAE_TRAIN_* key 4099". */
alae_status alaei_fail_key(const char *func, int32_t key, alaei_key_family family);

/* ---- non-finite values (lib/core/finite.c) ---- */
/* ALAE_OK when the n floats are all finite; else ALAE_E_FORMAT under func naming `what` (a
 * tensor's name), the first bad element and its value: "tensor 'G.fc.0.weight' holds a
 * non-finite value (nan) at element 17". For every loader of parameters. */
alae_status alaei_check_finite(const float *values, size_t n, const char *what, const char *func);

/* Checks a public NULL argument; used as: ALAEI_CHECK_ARG(ptr); */
#define ALAEI_CHECK_ARG(p)                                                                   \
    do {                                                                                     \
        if ((p) == NULL) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%s is NULL", #p); \
    } while (0)

/* Internal invariant: returns ALAE_E_INTERNAL with the failed expression, never aborts. */
#define ALAEI_ASSERT(cond)                                                                       \
    do {                                                                                         \
        if (!(cond))                                                                             \
            return alaei_fail(ALAE_E_INTERNAL, __func__, "internal check failed: %s (%s:%d)", \
                              #cond, __FILE__, __LINE__);                                        \
    } while (0)

struct alaei_backend_vtbl;
struct alaei_op;

/* Slots of the profile: at least ALAEI_OP_COUNT (checked in lib/core/profile.c). */
#define ALAEI_PROFILE_SLOTS 64

/* ---- contexts (lib/core/context.c) ---- */
struct alae_context {
    const struct alaei_backend_vtbl *backend;
    void *bctx;            /* the backend's per-context state */
    int32_t device_index;  /* public device index, -1 for internal (reference) contexts */
    int32_t threads;
    int64_t seed;
    uint64_t rng_offset;   /* counter of the Philox stream, advanced by every random fill */
    int32_t deterministic;
    int32_t poison;
    int32_t tf32;          /* ALAE_CTX_TF32 */
    int32_t graphs;        /* ALAE_CTX_GRAPHS */
    int32_t winograd;      /* ALAE_CTX_WINOGRAD */
    atomic_int abort_requested;
    struct alaei_profile *profile; /* per-op timings when ALAE_PROFILE=1, else NULL */
};

/* ---- the profile (lib/core/profile.c) ----
 * Per-op time, FLOPs and calls of a context with ALAE_PROFILE=1 (ctx->profile, else NULL),
 * logged when the context is destroyed. */
typedef struct alaei_profile {
    double seconds[ALAEI_PROFILE_SLOTS];
    double flops[ALAEI_PROFILE_SLOTS];
    uint64_t calls[ALAEI_PROFILE_SLOTS];
} alaei_profile;
/* Runs op with the backend synchronised before and after, and records its time in the profile. */
alae_status alaei_profile_run(alae_context *ctx, const struct alaei_op *op);
void alaei_profile_report(const alae_context *ctx);

/* Creates a context on an explicit backend (the tests use it for the reference backend). */
alae_status alaei_context_create_on(const struct alaei_backend_vtbl *backend, int32_t device,
                                    alae_context **out);
/* Clears a pending abort request; called when a public call starts work on ctx. */
void alaei_context_begin_call(alae_context *ctx);
int alaei_context_abort_pending(alae_context *ctx);

/* ---- tensors (lib/core/tensor.c) ---- */
struct alae_tensor {
    alae_context *ctx;
    alae_dtype dtype;
    int32_t ndim;
    int64_t shape[ALAE_TENSOR_MAX_DIMS];
    int64_t numel;
    void *data;            /* backend memory: numel * backend element size bytes */
};

/* ---- device helpers (lib/core/device.c) ----
 * What code above the core uses instead of the backend table. Counts are elements (the
 * backend's type: float or double); host data is float. */
alae_status alaei_device_alloc(alae_context *ctx, size_t count, void **out);
alae_status alaei_device_alloc_bytes(alae_context *ctx, size_t bytes, void **out);
void alaei_device_free(alae_context *ctx, void *ptr); /* NULL: no-op */
alae_status alaei_device_upload(alae_context *ctx, void *dst, const float *host, size_t count);
alae_status alaei_device_download(alae_context *ctx, float *host, const void *src, size_t count);
alae_status alaei_device_copy(alae_context *ctx, void *dst, const void *src, size_t count);
alae_status alaei_device_fill(alae_context *ctx, void *dst, size_t count, double value);
/* The backend's native stream (a cudaStream_t for CUDA), NULL where it has none. */
void *alaei_device_native_stream(const alae_context *ctx);
/* Whether the context's buffers are plain host floats (the CPU backend). */
int alaei_device_is_host_float(const alae_context *ctx);
/* Bytes per element of the context's buffers. */
size_t alaei_device_elem_size(const alae_context *ctx);
/* Runs one op (profiled when ALAE_PROFILE is on); the executor calls it between its own abort
 * checks. */
alae_status alaei_device_exec(alae_context *ctx, const struct alaei_op *op);
/* The same after the executor's abort check: ALAE_E_ABORTED when an abort is pending. The helpers
 * below run their op through it. */
alae_status alaei_device_run(alae_context *ctx, const struct alaei_op *op);
/* RNG_NORMAL over count elements: mean + stddev * n(offset + i) of the Philox stream of seed. */
alae_status alaei_device_normal(alae_context *ctx, void *dst, int64_t count, uint64_t seed, uint64_t offset,
                                double mean, double stddev);
/* The same from the context's stream (ALAE_CTX_SEED), which then advances by count. */
alae_status alaei_context_draw_normal(alae_context *ctx, void *dst, int64_t count, double mean, double stddev);
/* dst = a (code) b over count elements; code is ALAEI_OP_ADD, SUB, MUL or DIV. */
alae_status alaei_device_binary(alae_context *ctx, int32_t code, void *dst, const void *a, const void *b,
                                int64_t count);
/* dst = scale * a + shift over count elements */
alae_status alaei_device_scale_shift(alae_context *ctx, void *dst, const void *a, int64_t count, double scale,
                                     double shift);
/* ADAM_STEP on param (count elements) with gradient grad and moments m, v (alae_backend_impl.h). */
alae_status alaei_device_adam_step(alae_context *ctx, void *param, const void *grad, void *m, void *v, int64_t count,
                                   double step, double beta1, double beta2, double eps);
/* ADAM_EMA_STEP: the same ADAM_STEP with the moments m, v = m + count elements in one buffer,
 * then the smoothed copy s += (float)rate * (p - s), in one pass; on a backend without the op,
 * ADAM_STEP then SUB, SCALE_SHIFT and ADD through scratch (count elements), with the same bits. */
alae_status alaei_device_adam_ema_step(alae_context *ctx, void *param, const void *grad, void *moments,
                                       void *smoothed, void *scratch, int64_t count, double step, double beta1,
                                       double beta2, double eps, double rate);

/* ---- backend registry (lib/core/registry.c) ---- */
/* Maps a public device index to (backend, backend device). */
alae_status alaei_registry_lookup(int32_t index, const struct alaei_backend_vtbl **backend,
                                  int32_t *backend_device);

#endif /* ALAE_INTERNAL_H */
