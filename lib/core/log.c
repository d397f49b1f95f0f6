/* Logging: one process-wide sink and level, calls serialized by a mutex. */
#include <pthread.h>
#include <stdio.h>

#include "internal/alae_internal.h"

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static alae_log_fn log_fn = NULL;
static void *log_user = NULL;
static atomic_int log_level = ALAE_LOG_WARN;

static const char *level_name(int32_t level) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    return level >= 0 && level < 4 ? names[level] : "log";
}

ALAE_API void alae_set_log_callback(alae_log_fn fn, void *user) {
    pthread_mutex_lock(&log_mutex);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_mutex);
}

ALAE_API alae_status alae_set_log_level(int32_t min_level) {
    alaei_clear_error();
    if (min_level < ALAE_LOG_DEBUG || min_level > ALAE_LOG_NONE)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "level %d is not in %d..%d", (int)min_level,
                          ALAE_LOG_DEBUG, ALAE_LOG_NONE);
    atomic_store(&log_level, min_level);
    return ALAE_OK;
}

ALAE_API int32_t alae_get_log_level(void) { return atomic_load(&log_level); }

void alaei_log(int32_t level, const char *fmt, ...) {
    if (level < atomic_load(&log_level) || level >= ALAE_LOG_NONE) return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mutex);
    if (log_fn)
        log_fn(level, message, log_user);
    else
        fprintf(stderr, "libalae %s: %s\n", level_name(level), message);
    pthread_mutex_unlock(&log_mutex);
}
