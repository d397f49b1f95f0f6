/* Communicator modules (include/alae/alae_comm.h): libalae-mpi.so and libalae-nccl.so, loaded at
 * run time so that libalae itself never links MPI, NCCL or CUDA. A module exports one symbol,
 * alae_comm_module_entry, which fills the table for a device of a backend. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"
#include "alae/alae_comm.h"

/* The module's entry point: fills *table (struct_size and version already set by the host) for
 * `device` of the backend named `backend` ("cpu", "cuda"). */
typedef alae_status (*comm_entry_fn)(uint32_t version, const alaei_host_services *host, const char *backend,
                                     int32_t device, alae_comm *table);

extern const alaei_host_services alaei_host;

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of libalae itself (of the program when it is linked statically), or "". */
static void library_dir(char *dir, size_t cap) {
    Dl_info info;
    void *self = NULL;
    alae_status (*fn)(const char *, alae_context *, alae_comm **) = alae_comm_open;
    memcpy(&self, &fn, sizeof self);
    char real[PATH_MAX];
    dir[0] = '\0';
    if (!dladdr(self, &info) || !info.dli_fname || !realpath(info.dli_fname, real)) return;
    char *slash = strrchr(real, '/');
    if (!slash) return;
    *slash = '\0';
    snprintf(dir, cap, "%s", real[0] ? real : "/");
}

/* Finds the module `file`: $env (nothing else when set), the directory of libalae, the installed
 * backend directory. */
static alae_status find_module(const char *env, const char *file, char *path, size_t cap) {
    const char *given = getenv(env);
    if (given && given[0]) {
        if (given[0] != '/')
            return alaei_fail(ALAE_E_INVALID_ARG, "alae_comm_open", "%s='%s' is not an absolute path", env, given);
        if (!is_file(given))
            return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "%s=%s: no such file", env, given);
        snprintf(path, cap, "%s", given);
        return ALAE_OK;
    }
    char dir[PATH_MAX], tried[3 * PATH_MAX] = "";
    library_dir(dir, sizeof dir);
    if (dir[0]) {
        snprintf(path, cap, "%s/%s", dir, file);
        if (is_file(path)) return ALAE_OK;
        snprintf(tried, sizeof tried, "%s, ", path);
    }
    snprintf(path, cap, "%s/%s", ALAE_BACKEND_DIR, file);
    if (is_file(path)) return ALAE_OK;
    return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open",
                      "the communicator module %s was not found (tried: %s unset, %s%s); build libalae with "
                      "-DALAE_MPI=ON or set %s to the module's absolute path",
                      file, env, tried, path, env);
}

/* The module's table must be complete and describe a sane rank. */
static alae_status check_table(const alae_comm *c, const char *path) {
    if (!c->allreduce || !c->broadcast)
        return alaei_fail(ALAE_E_VERSION, "alae_comm_open", "%s: the module's table is incomplete", path);
    if (c->size < 1 || c->rank < 0 || c->rank >= c->size)
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "%s: rank %d of %d is not valid", path,
                          (int)c->rank, (int)c->size);
    return ALAE_OK;
}

static alae_status load_module(const char *path, const char *backend, int32_t device, alae_comm *table) {
    /* Modules are never unloaded, as backend plugins (MPI keeps threads and handlers). */
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        const char *why = dlerror();
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "%s", why ? why : path);
    }
    comm_entry_fn entry;
    void *sym = dlsym(handle, "alae_comm_module_entry");
    memcpy(&entry, &sym, sizeof entry);
    if (!entry)
        return alaei_fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "%s has no alae_comm_module_entry symbol",
                          path);
    alae_status s = entry(ALAE_COMM_VERSION, &alaei_host, backend, device, table);
    if (s != ALAE_OK) {
        if (alae_last_error()[0] == '\0') alaei_fail(s, "alae_comm_open", "%s: the module's entry point failed", path);
        return s;
    }
    s = check_table(table, path);
    if (s != ALAE_OK && table->destroy) table->destroy(table->user);
    return s;
}

ALAE_API alae_status alae_comm_open(const char *kind, alae_context *ctx, alae_comm **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(kind);
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(out);
    int nccl = strcmp(kind, "nccl") == 0;
    if (!nccl && strcmp(kind, "mpi") != 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown communicator '%s' (expected mpi or nccl)", kind);
    if (nccl && strcmp(ctx->backend->name, "cuda") != 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the nccl communicator needs a CUDA context, not '%s' (use mpi)",
                          ctx->backend->name);
    int32_t device = 0;
    const alaei_backend_vtbl *backend = ctx->backend;
    if (ctx->device_index >= 0) {
        alae_status s = alaei_registry_lookup(ctx->device_index, &backend, &device);
        if (s != ALAE_OK) return s;
    }
    char path[PATH_MAX + 64];
    alae_status s = find_module(nccl ? "ALAE_NCCL_MODULE" : "ALAE_MPI_MODULE",
                                nccl ? "libalae-nccl.so" : "libalae-mpi.so", path, sizeof path);
    alae_comm *c = s == ALAE_OK ? calloc(1, sizeof *c) : NULL;
    if (s == ALAE_OK && !c) s = alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a communicator");
    if (s != ALAE_OK) return s;
    c->struct_size = sizeof *c;
    c->version = ALAE_COMM_VERSION;
    s = load_module(path, ctx->backend->name, device, c);
    if (s != ALAE_OK) {
        free(c);
        return s;
    }
    alaei_log(ALAE_LOG_INFO, "communicator '%s' from %s: rank %d of %d", kind, path, (int)c->rank, (int)c->size);
    *out = c;
    return ALAE_OK;
}

ALAE_API void alae_comm_close(alae_comm *comm) {
    if (!comm) return;
    if (comm->destroy) comm->destroy(comm->user);
    free(comm);
}
