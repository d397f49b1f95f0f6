/* libalae: status codes, error messages and logging.
 *
 * Every fallible function returns an alae_status: ALAE_OK (0) on success, a negative code on
 * failure. The values below are pinned forever; new codes are only ever appended.
 * After a failure, alae_last_error() returns a message naming the function and what was wrong. */
#ifndef ALAE_STATUS_H
#define ALAE_STATUS_H

#include <stdint.h>
#include "alae_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t alae_status;

#define ALAE_OK                      0
#define ALAE_E_INVALID_ARG          -1  /* a bad argument: NULL, out of range, unknown key */
#define ALAE_E_NOMEM                -2  /* host memory exhausted */
#define ALAE_E_DEVICE_NOMEM         -3  /* device memory exhausted */
#define ALAE_E_UNSUPPORTED          -4  /* the operation is not supported (by this backend or build) */
#define ALAE_E_BACKEND_UNAVAILABLE  -5  /* a backend could not be loaded or has no device */
#define ALAE_E_BACKEND              -6  /* a device reported an error */
#define ALAE_E_DEVICE_LOST          -7  /* sticky device failure; the context is poisoned */
#define ALAE_E_IO                   -8  /* a file could not be opened, read or written */
#define ALAE_E_FORMAT               -9  /* a file is malformed */
#define ALAE_E_VERSION             -10  /* incompatible versions (headers, library, plugin, file) */
#define ALAE_E_SHAPE               -11  /* tensor shapes do not match */
#define ALAE_E_STATE               -12  /* a call out of order */
#define ALAE_E_ABORTED             -13  /* cancelled through alae_context_request_abort */
#define ALAE_E_INTERNAL            -99  /* a bug in libalae: please report it */

/* Static English text for a status code, owned by the library; never NULL ("unknown status" for
 * unknown values). Thread-safe. */
ALAE_API const char *alae_status_string(alae_status status);

/* The detailed message of the last failure on the calling thread, e.g.
 * "alae_tensor_create: shape[1] = -3 is negative". Owned by the library, valid until the next
 * libalae call on this thread; "" if nothing has failed yet. Like errno, read it only right after
 * a call returned an error. */
ALAE_API const char *alae_last_error(void);

/* Log levels. ALAE_LOG_NONE as the minimum level silences the library. */
#define ALAE_LOG_DEBUG 0
#define ALAE_LOG_INFO  1
#define ALAE_LOG_WARN  2
#define ALAE_LOG_ERROR 3
#define ALAE_LOG_NONE  4

/* A log sink. It may be called from library worker threads; calls are serialized by the
 * library. It must not call back into libalae on the same context. */
typedef void (*alae_log_fn)(int32_t level, const char *message, void *user);

/* Installs the log sink; fn == NULL restores the default (stderr). Thread-safe. */
ALAE_API void alae_set_log_callback(alae_log_fn fn, void *user);
/* Messages below min_level are dropped (default ALAE_LOG_WARN). Returns ALAE_E_INVALID_ARG for a
 * level outside ALAE_LOG_DEBUG..ALAE_LOG_NONE. Thread-safe. */
ALAE_API alae_status alae_set_log_level(int32_t min_level);
/* The current minimum level. Thread-safe. */
ALAE_API int32_t alae_get_log_level(void);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_STATUS_H */
