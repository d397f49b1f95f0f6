/* Internal declarations shared by the core, the backends and the tests. Never installed. */
#ifndef ALAE_INTERNAL_H
#define ALAE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alae/alae.h"

#if defined(__GNUC__) || defined(__clang__)
#define ALAEI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ALAEI_PRINTF(f, a)
#endif

/* ---- errors (lib/core/status.c) ---- */
/* Records the thread-local message "<func>: <formatted text>", logs it at ALAE_LOG_DEBUG and
 * returns status, so a failure is one line: return alaei_fail(ALAE_E_INVALID_ARG, __func__, ...). */
alae_status alaei_fail(alae_status status, const char *func, const char *fmt, ...) ALAEI_PRINTF(3, 4);
/* Re-records the current message as a failure of public_func: an internal function's name at
 * its head is dropped, and subject (a file name; may be NULL) is added if absent. */
alae_status alaei_fail_as(alae_status status, const char *public_func, const char *subject);
/* Clears the thread-local message (each public entry point calls it first). */
void alaei_clear_error(void);

/* ---- logging (lib/core/log.c) ---- */
void alaei_log(int32_t level, const char *fmt, ...) ALAEI_PRINTF(2, 3);

/* ---- checked arithmetic ---- */
/* *out = a * b; returns 0 on overflow (for sizes and element counts, all non-negative). */
static inline int alaei_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int alaei_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

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

/* ALAE_CTX_WINOGRAD's default: the environment's ALAE_WINOGRAD (0 or 2), else 1. */
int32_t alaei_winograd_default(void);

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

/* Per-op time and FLOP counts of every plan run on a context (lib/graph/exec.c); printed to
 * the log when the context is destroyed. */
typedef struct alaei_profile {
    double seconds[64];
    double flops[64];
    uint64_t calls[64];
} alaei_profile;
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

/* ---- backend registry (lib/core/registry.c) ---- */
const struct alaei_backend_vtbl *alaei_cpu_backend(void);
/* Maps a public device index to (backend, backend device). */
alae_status alaei_registry_lookup(int32_t index, const struct alaei_backend_vtbl **backend,
                                  int32_t *backend_device);

#endif /* ALAE_INTERNAL_H */
