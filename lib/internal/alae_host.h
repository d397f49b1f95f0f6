/* The host's services that every layer may use, the built-in backends included: the
 * thread-local error message, the log and checked size arithmetic (lib/core/status.c, log.c).
 * Backend modules get the same services as alaei_host_services. Never installed. */
#ifndef ALAE_HOST_H
#define ALAE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "alae/alae_status.h"

#if defined(__GNUC__) || defined(__clang__)
#define ALAEI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ALAEI_PRINTF(f, a)
#endif

/* ---- errors (lib/core/status.c) ---- */
/* Records the thread-local message "<func>: <formatted text>", logs it at ALAE_LOG_DEBUG and
 * returns status, so a failure is one line: return alaei_fail(ALAE_E_INVALID_ARG, __func__, ...). */
alae_status alaei_fail(alae_status status, const char *func, const char *fmt, ...) ALAEI_PRINTF(3, 4);
/* Clears the thread-local message (each public entry point calls it first). */
void alaei_clear_error(void);

/* ---- logging (lib/core/log.c) ---- */
void alaei_log(int32_t level, const char *fmt, ...) ALAEI_PRINTF(2, 3);

/* ---- settings from the environment (lib/core/context.c) ---- */
/* ALAE_CTX_WINOGRAD's default: the environment's ALAE_WINOGRAD (0 or 2), else 1. */
int32_t alaei_winograd_default(void);

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

#endif /* ALAE_HOST_H */
