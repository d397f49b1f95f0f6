/* The backend registry: the built-in CPU backend plus plugins loaded at run time.
 * Public device indices are assigned in registration order: the CPU is device 0. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

#define MAX_BACKENDS 8

typedef alae_status (*plugin_entry_fn)(uint32_t host_abi_min, uint32_t host_abi_max,
                                       const alaei_host_services *host,
                                       const alaei_backend_vtbl **out);

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static const alaei_backend_vtbl *backends[MAX_BACKENDS];
static int n_backends = 0;

static void host_log(int32_t level, const char *message) { alaei_log(level, "%s", message); }

static alae_status host_fail(alae_status status, const char *func, const char *fmt, ...) {
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return alaei_fail(status, func, "%s", text);
}

const alaei_host_services alaei_host = {sizeof(alaei_host_services), host_log, host_fail};

static void ensure_cpu_registered(void) {
    if (n_backends == 0) backends[n_backends++] = alaei_cpu_backend();
}

ALAE_API int32_t alae_device_count(void) {
    pthread_mutex_lock(&registry_mutex);
    ensure_cpu_registered();
    int32_t count = 0;
    for (int i = 0; i < n_backends; i++) count += backends[i]->device_count();
    pthread_mutex_unlock(&registry_mutex);
    return count;
}

alae_status alaei_registry_lookup(int32_t index, const alaei_backend_vtbl **backend,
                                  int32_t *backend_device) {
    pthread_mutex_lock(&registry_mutex);
    ensure_cpu_registered();
    int32_t first = 0;
    for (int i = 0; i < n_backends; i++) {
        int32_t count = backends[i]->device_count();
        if (index >= first && index < first + count) {
            *backend = backends[i];
            *backend_device = index - first;
            pthread_mutex_unlock(&registry_mutex);
            return ALAE_OK;
        }
        first += count;
    }
    pthread_mutex_unlock(&registry_mutex);
    return alaei_fail(ALAE_E_INVALID_ARG, "alae_device", "device index %d is not in 0..%d",
                      (int)index, (int)first - 1);
}

ALAE_API alae_status alae_device_get_info(int32_t index, alae_device_info *info) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(info);
    if (info->struct_size == 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "info->struct_size is 0; set it to sizeof(alae_device_info)");
    const alaei_backend_vtbl *backend;
    int32_t device;
    alae_status s = alaei_registry_lookup(index, &backend, &device);
    if (s != ALAE_OK) return s;
    alae_device_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    s = backend->device_info(device, &full);
    if (s != ALAE_OK) return s;
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    uint32_t caller_size = info->struct_size;
    memcpy(info, &full, n);
    info->struct_size = caller_size;
    return ALAE_OK;
}

static alae_status check_plugin_table(const alaei_backend_vtbl *t, const char *path) {
    if (!t)
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_backend_load",
                          "%s: the entry point returned no table", path);
    if (t->abi_version != ALAEI_BACKEND_ABI_VERSION || t->struct_size < sizeof(alaei_backend_vtbl))
        return alaei_fail(ALAE_E_VERSION, "alae_backend_load",
                          "%s: plugin ABI %u (table of %u bytes), host supports %d..%d (%zu bytes)", path,
                          t->abi_version, t->struct_size, ALAEI_BACKEND_ABI_VERSION,
                          ALAEI_BACKEND_ABI_VERSION, sizeof(alaei_backend_vtbl));
    if (!t->name || !t->device_count || !t->device_info || !t->ctx_create || !t->ctx_destroy ||
        !t->buf_alloc || !t->buf_free || !t->write_f32 || !t->read_f32 || !t->copy || !t->fill ||
        !t->supports || !t->run_op || !t->set_threads || !t->synchronize)
        return alaei_fail(ALAE_E_VERSION, "alae_backend_load", "%s: the plugin's table is incomplete", path);
    return ALAE_OK;
}

ALAE_API alae_status alae_backend_load(const char *path_utf8) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path_utf8);
    if (path_utf8[0] != '/')
        return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                          "'%s' is not an absolute path (the current directory is never searched)",
                          path_utf8);
    /* Plugins are never unloaded: the handle is deliberately kept for the life of the process. */
    void *handle = dlopen(path_utf8, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, __func__, "%s", why ? why : path_utf8);
    }
    plugin_entry_fn entry;
    void *sym = dlsym(handle, "alae_backend_plugin_entry");
    memcpy(&entry, &sym, sizeof entry);
    if (!entry)
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, __func__,
                          "%s has no alae_backend_plugin_entry symbol", path_utf8);
    const alaei_backend_vtbl *table = NULL;
    alae_status s = entry(ALAEI_BACKEND_ABI_VERSION, ALAEI_BACKEND_ABI_VERSION, &alaei_host, &table);
    if (s != ALAE_OK) {
        if (alae_last_error()[0] == '\0')
            alaei_fail(s, __func__, "%s: the plugin's entry point failed", path_utf8);
        return s;
    }
    if ((s = check_plugin_table(table, path_utf8)) != ALAE_OK) return s;
    pthread_mutex_lock(&registry_mutex);
    ensure_cpu_registered();
    for (int i = 0; i < n_backends; i++) {
        if (backends[i] == table) {
            pthread_mutex_unlock(&registry_mutex);
            return ALAE_OK; /* already registered */
        }
    }
    if (n_backends == MAX_BACKENDS) {
        pthread_mutex_unlock(&registry_mutex);
        return alaei_fail(ALAE_E_UNSUPPORTED, __func__, "too many backends (%d)", MAX_BACKENDS);
    }
    backends[n_backends++] = table;
    pthread_mutex_unlock(&registry_mutex);
    alaei_log(ALAE_LOG_INFO, "loaded backend '%s' from %s", table->name, path_utf8);
    return ALAE_OK;
}
