/* The backend registry: the built-in CPU backend plus plugins loaded at run time.
 * Public device indices are assigned in registration order: the CPU is device 0. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    /* A table may end before the optional entries (a plugin built before they were appended):
     * the host reads those only through ALAEI_VTBL_HAS. */
    if (t->abi_version != ALAEI_BACKEND_ABI_VERSION || t->struct_size < ALAEI_VTBL_REQUIRED_SIZE)
        return alaei_fail(ALAE_E_VERSION, "alae_backend_load",
                          "%s: plugin ABI %u (table of %u bytes), host supports %d..%d (tables of at least %zu bytes)",
                          path, t->abi_version, t->struct_size, ALAEI_BACKEND_ABI_VERSION,
                          ALAEI_BACKEND_ABI_VERSION, (size_t)ALAEI_VTBL_REQUIRED_SIZE);
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

/* ---- the CUDA backend module: search order and device names ---- */

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Appends "; what" to the list of places tried (truncated silently: it is only a message). */
static void add_tried(char *tried, size_t cap, const char *what) {
    size_t len = strlen(tried);
    if (len > 0 && len + 2 < cap) {
        tried[len++] = ',';
        tried[len++] = ' ';
    }
    size_t n = strlen(what);
    if (n > cap - 1 - len) n = cap - 1 - len;
    memcpy(tried + len, what, n);
    tried[len + n] = '\0';
}

/* Loads candidate `path`; prefixes the loader's message with where the path came from. */
static alae_status load_candidate(const char *path, const char *origin) {
    alae_status s = alae_backend_load(path);
    if (s == ALAE_OK) {
        alaei_log(ALAE_LOG_INFO, "CUDA backend module: %s (%s)", path, origin);
        return ALAE_OK;
    }
    char why[600];
    snprintf(why, sizeof why, "%s", alae_last_error());
    return alaei_fail(s, "alae_backend_load_cuda", "%s (found through %s): %s", path, origin, why);
}

ALAE_API alae_status alae_backend_load_cuda(const char *path_utf8) {
    alaei_clear_error();
    if (path_utf8) return alae_backend_load(path_utf8);
    /* 1. the environment: exactly this file */
    const char *env = getenv("ALAE_CUDA_BACKEND");
    if (env && env[0]) {
        if (env[0] != '/')
            return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                              "ALAE_CUDA_BACKEND='%s' is not an absolute path (the current directory is never searched)",
                              env);
        if (!is_regular_file(env))
            return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, __func__, "ALAE_CUDA_BACKEND=%s: no such file", env);
        return load_candidate(env, "ALAE_CUDA_BACKEND");
    }
    char tried[2048] = "";
    add_tried(tried, sizeof tried, "ALAE_CUDA_BACKEND (unset)");
    /* 2. the directory of libalae itself (of the program, when libalae is linked statically) */
    Dl_info info;
    void *self = NULL;
    alae_status (*fn)(const char *) = alae_backend_load_cuda;
    memcpy(&self, &fn, sizeof self);
    char real[PATH_MAX];
    if (dladdr(self, &info) && info.dli_fname && realpath(info.dli_fname, real)) {
        char *slash = strrchr(real, '/');
        if (slash) {
            *slash = '\0';
            char path[PATH_MAX + 64];
            snprintf(path, sizeof path, "%s/" ALAE_CUDA_BACKEND_FILE, real[0] ? real : "/");
            if (is_regular_file(path)) return load_candidate(path, "the directory of libalae");
            add_tried(tried, sizeof tried, path);
            snprintf(path, sizeof path, "%s/libalae-%s/backends/" ALAE_CUDA_BACKEND_FILE, real, ALAE_SOVERSION_STR);
            if (is_regular_file(path)) return load_candidate(path, "the directory of libalae");
            add_tried(tried, sizeof tried, path);
        }
    } else {
        add_tried(tried, sizeof tried, "(the directory of libalae is unknown)");
    }
    /* 3. the installed backend directory */
    const char *installed = ALAE_BACKEND_DIR "/" ALAE_CUDA_BACKEND_FILE;
    if (is_regular_file(installed)) return load_candidate(installed, "ALAE_BACKEND_DIR");
    add_tried(tried, sizeof tried, installed);
    return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, __func__,
                      "the CUDA backend module " ALAE_CUDA_BACKEND_FILE " was not found (tried: %s); build libalae "
                      "with CUDA (-DALAE_CUDA=ON) or set ALAE_CUDA_BACKEND to the module's absolute path",
                      tried);
}

/* The first public index and the device count of the backend named `name`; 0 when none. */
static int find_backend(const char *name, int32_t *first, int32_t *count) {
    pthread_mutex_lock(&registry_mutex);
    ensure_cpu_registered();
    int32_t index = 0;
    int found = 0;
    for (int i = 0; i < n_backends; i++) {
        int32_t n = backends[i]->device_count();
        if (!found && strcmp(backends[i]->name, name) == 0) {
            *first = index;
            *count = n;
            found = 1;
        }
        index += n;
    }
    pthread_mutex_unlock(&registry_mutex);
    return found;
}

ALAE_API alae_status alae_device_find(const char *name, int32_t *index) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(name);
    ALAEI_CHECK_ARG(index);
    if (strcmp(name, "cpu") == 0 || strcmp(name, "cpu:0") == 0) {
        *index = ALAE_DEVICE_CPU;
        return ALAE_OK;
    }
    long n = 0;
    if (strcmp(name, "cuda") != 0) {
        const char *digits = strncmp(name, "cuda:", 5) == 0 ? name + 5 : NULL;
        size_t len = digits ? strlen(digits) : 0;
        if (!digits || len == 0 || len > 4 || strspn(digits, "0123456789") != len)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown device '%s' (expected cpu, cuda or cuda:N)", name);
        n = strtol(digits, NULL, 10);
    }
    int32_t first = 0, count = 0;
    if (!find_backend("cuda", &first, &count)) {
        alae_status s = alae_backend_load_cuda(NULL);
        if (s != ALAE_OK) return s;
        if (!find_backend("cuda", &first, &count))
            return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, __func__, "the CUDA backend loaded but registered no devices");
    }
    if (n >= count)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "device '%s': the CUDA backend has %d device%s (cuda:0..cuda:%d)",
                          name, (int)count, count == 1 ? "" : "s", (int)count - 1);
    *index = first + (int32_t)n;
    return ALAE_OK;
}
