/* libalae: devices and contexts.
 *
 * Device 0 is always the CPU, built into the library. Other backends (CUDA) are plugins
 * loaded at run time. An alae_context is the unit of concurrency: calls on one context (and on
 * the tensors created from it) must be serialized by the caller; different contexts may be used
 * from different threads at once. alae_context_request_abort is the one call allowed on a busy
 * context from another thread. */
#ifndef ALAE_DEVICE_H
#define ALAE_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_context alae_context;

#define ALAE_DEVICE_CPU  0
#define ALAE_DEVICE_CUDA 1

/* Output struct: set struct_size = sizeof(alae_device_info) before the call; the library writes
 * at most struct_size bytes, so older callers keep working when fields are appended. */
typedef struct alae_device_info {
    uint32_t struct_size;
    int32_t kind;        /* ALAE_DEVICE_CPU or ALAE_DEVICE_CUDA */
    char name[64];       /* "cpu", "cuda:0", ... */
    char description[128]; /* CPU model and GEMM kernels, or GPU name */
    uint64_t mem_total;  /* bytes; 0 if unknown */
    uint64_t mem_free;   /* bytes; 0 if unknown */
    int32_t threads;     /* default worker threads (CPU) */
} alae_device_info;

/* Number of devices (>= 1: the CPU is device 0). Thread-safe. */
ALAE_API int32_t alae_device_count(void);
/* Fills info for device index. Thread-safe. Errors: ALAE_E_INVALID_ARG for a bad index, NULL info
 * or struct_size 0; a backend's device query may fail with ALAE_E_BACKEND. */
ALAE_API alae_status alae_device_get_info(int32_t index, alae_device_info *info);

/* Loads a backend plugin from an explicit, absolute path (the current directory is never
 * searched); loaded plugins stay loaded for the life of the process. Thread-safe. Errors:
 * ALAE_E_INVALID_ARG (NULL or relative path), ALAE_E_BACKEND_UNAVAILABLE with the loader's message
 * if it cannot be loaded or lacks the entry point, ALAE_E_VERSION if its ABI does not match. */
ALAE_API alae_status alae_backend_load(const char *path_utf8);

/* The file name of the CUDA backend module. */
#define ALAE_CUDA_BACKEND_FILE "libalae-cuda.so"

/* Loads the CUDA backend module, so that its GPUs become devices (numbered after the CPU and
 * any plugin loaded before). With path_utf8 non-NULL, exactly that absolute path is loaded, as
 * alae_backend_load does. With NULL, the module is searched for in this order, and the first file
 * that exists is loaded (a later place is not tried when it fails):
 *   1. the environment variable ALAE_CUDA_BACKEND, when set and non-empty: an absolute path to the
 *      module file (nothing else is tried then);
 *   2. the directory of libalae itself: DIR/libalae-cuda.so, then DIR/libalae-<soversion>/backends/
 *      libalae-cuda.so (a build tree, or a relocated install);
 *   3. the installed backend directory ALAE_BACKEND_DIR.
 * The current working directory is never searched. Loading it again is a no-op that returns
 * ALAE_OK. Thread-safe. Errors: ALAE_E_INVALID_ARG (a relative path, also in ALAE_CUDA_BACKEND);
 * ALAE_E_BACKEND_UNAVAILABLE when no module is found (the message lists every place tried), when
 * it cannot be loaded (the loader's message, e.g. a missing libcublas), or when the machine has no
 * usable GPU or driver (the message says why, e.g. "no CUDA device: ... libcuda.so.1 ..."); nothing
 * is registered then; ALAE_E_VERSION when the module was built for another libalae. */
ALAE_API alae_status alae_backend_load_cuda(const char *path_utf8);

/* Finds a device by name and writes its index to *index: "cpu" (always 0), "cuda" (the first CUDA
 * device) or "cuda:N" (the Nth, from 0). A CUDA name loads the CUDA backend first, as
 * alae_backend_load_cuda(NULL) does, when no CUDA device is registered yet. *index is written only
 * on success. Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL argument, an unknown name, N out of
 * range); ALAE_E_BACKEND_UNAVAILABLE and ALAE_E_VERSION as for alae_backend_load_cuda. */
ALAE_API alae_status alae_device_find(const char *name, int32_t *index);

/* Context parameters (alae_context_set_param). Keys are append-only. Each family of keys has
 * its own range (ALAE_CTX_* 1001.., ALAE_CFG_* 2001.., ALAE_MODEL_* 3001.., ALAE_TRAIN_* 4001..,
 * ALAE_LEVEL_* 5001.., ALAE_OPT_* 6001..), so every setter and getter refuses a key of another
 * family with ALAE_E_INVALID_ARG and a message naming it. */
#define ALAE_CTX_THREADS       1001  /* worker threads, 1..256; default: online CPUs */
#define ALAE_CTX_SEED          1002  /* seed of the context's counter-based RNG (any int64) */
#define ALAE_CTX_DETERMINISTIC 1003  /* 0/1: bitwise-reproducible kernels (default 1 on CPU) */
#define ALAE_CTX_POISON        1004  /* 0/1: fill freed activation memory with NaN (debugging;
                                        default 1 when the environment has ALAE_POISON=1) */
#define ALAE_CTX_TF32          1005  /* 0/1: CUDA matrix products on TF32 tensor cores (faster, about
                                        10 mantissa bits per product); default 0 = exact float32.
                                        No effect on the CPU */
#define ALAE_CTX_GRAPHS        1006  /* 0/1: let the backend record a step's kernels once and replay
                                        them (CUDA graphs); default 1. No effect on the CPU */
#define ALAE_CTX_WINOGRAD      1007  /* 0/1/2: CPU 3x3 stride-1 convolutions by Winograd F(4x4, 3x3):
                                        0 never (im2col + GEMM, the bits of earlier releases), 1 for
                                        the shapes where it is faster (default), 2 for every such
                                        convolution (tests). The environment variable ALAE_WINOGRAD
                                        (0, 1 or 2) sets the default. Ignored by other backends */

/* Creates a context on a device. *out is set only on success; the caller owns the context and
 * releases it with alae_context_destroy. Thread-safe (each call creates a new context). Errors:
 * ALAE_E_INVALID_ARG (NULL out, unknown device index), ALAE_E_NOMEM, ALAE_E_BACKEND_UNAVAILABLE or
 * ALAE_E_BACKEND from the device's backend. */
ALAE_API alae_status alae_context_create(int32_t device_index, alae_context **out);
/* Destroys a context; NULL is a no-op. Every object created from it must be destroyed first. */
ALAE_API void alae_context_destroy(alae_context *ctx);
/* Sets a context parameter; ALAE_E_INVALID_ARG for an unknown key or an out-of-range value. */
ALAE_API alae_status alae_context_set_param(alae_context *ctx, int32_t key, int64_t value);
/* Reads a context parameter into *value. Errors: ALAE_E_INVALID_ARG (NULL argument, unknown key);
 * *value is untouched on failure. */
ALAE_API alae_status alae_context_get_param(const alae_context *ctx, int32_t key, int64_t *value);
/* Waits until all work queued on the context has finished. Errors: ALAE_E_INVALID_ARG (NULL),
 * ALAE_E_BACKEND or ALAE_E_DEVICE_LOST from the device. */
ALAE_API alae_status alae_context_synchronize(alae_context *ctx);
/* Asks the call running on ctx (possibly in another thread) to stop; it returns ALAE_E_ABORTED
 * at the next operation boundary and the context stays usable. The request is cleared when the
 * next call on the context starts. NULL is a no-op. Thread-safe. */
ALAE_API void alae_context_request_abort(alae_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_DEVICE_H */
