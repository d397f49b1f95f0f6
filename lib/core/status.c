/* Status codes and the thread-local error message. */
#include <stdio.h>
#include <string.h>

#include "internal/alae_internal.h"

static _Thread_local char last_error[512];

ALAE_API const char *alae_status_string(alae_status status) {
    switch (status) {
    case ALAE_OK: return "ok";
    case ALAE_E_INVALID_ARG: return "invalid argument";
    case ALAE_E_NOMEM: return "out of host memory";
    case ALAE_E_DEVICE_NOMEM: return "out of device memory";
    case ALAE_E_UNSUPPORTED: return "operation not supported";
    case ALAE_E_BACKEND_UNAVAILABLE: return "backend unavailable";
    case ALAE_E_BACKEND: return "device error";
    case ALAE_E_DEVICE_LOST: return "device lost (context poisoned)";
    case ALAE_E_IO: return "file input/output error";
    case ALAE_E_FORMAT: return "malformed file";
    case ALAE_E_VERSION: return "incompatible version";
    case ALAE_E_SHAPE: return "shape mismatch";
    case ALAE_E_STATE: return "call out of order";
    case ALAE_E_ABORTED: return "aborted";
    case ALAE_E_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

ALAE_API const char *alae_last_error(void) { return last_error; }

void alaei_clear_error(void) { last_error[0] = '\0'; }

alae_status alaei_fail(alae_status status, const char *func, const char *fmt, ...) {
    int n = snprintf(last_error, sizeof last_error, "%s: ", func ? func : "alae");
    if (n < 0 || (size_t)n >= sizeof last_error) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    alaei_log(status == ALAE_E_INTERNAL ? ALAE_LOG_ERROR : ALAE_LOG_DEBUG, "%s (%s)", last_error,
              alae_status_string(status));
    return status;
}

alae_status alaei_fail_as(alae_status status, const char *public_func, const char *subject) {
    char detail[sizeof last_error];
    const char *text = last_error;
    /* drop a leading "alaei_<name>: " naming an internal function */
    if (strncmp(text, "alaei_", 6) == 0) {
        const char *colon = strstr(text, ": ");
        if (colon) text = colon + 2;
    }
    snprintf(detail, sizeof detail, "%s", text);
    if (subject && !strstr(detail, subject))
        return alaei_fail(status, public_func, "%s: %s", subject, detail);
    return alaei_fail(status, public_func, "%s", detail);
}

_Static_assert(ALAE_CTX_THREADS / 1000 == ALAEI_KEYS_CTX && ALAE_CFG_ARCH / 1000 == ALAEI_KEYS_CFG &&
                   ALAE_MODEL_LOD / 1000 == ALAEI_KEYS_MODEL && ALAE_TRAIN_R1_GAMMA / 1000 == ALAEI_KEYS_TRAIN &&
                   ALAE_LEVEL_BATCH / 1000 == ALAEI_KEYS_LEVEL && ALAE_OPT_LR / 1000 == ALAEI_KEYS_OPT,
               "every key family has its own range of 1000");

static const char *key_family_name(int32_t family) {
    switch (family) {
    case ALAEI_KEYS_CTX: return "ALAE_CTX_*";
    case ALAEI_KEYS_CFG: return "ALAE_CFG_*";
    case ALAEI_KEYS_MODEL: return "ALAE_MODEL_*";
    case ALAEI_KEYS_TRAIN: return "ALAE_TRAIN_*";
    case ALAEI_KEYS_LEVEL: return "ALAE_LEVEL_*";
    case ALAEI_KEYS_OPT: return "ALAE_OPT_*";
    default: return NULL;
    }
}

alae_status alaei_fail_key(const char *func, int32_t key, alaei_key_family family) {
    const char *expected = key_family_name(family), *actual = key > 0 ? key_family_name(key / 1000) : NULL;
    if (actual && key / 1000 != (int32_t)family)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "key %d is an %s key, not an %s key", (int)key, actual, expected);
    return alaei_fail(ALAE_E_INVALID_ARG, func, "unknown %s key %d", expected, (int)key);
}
