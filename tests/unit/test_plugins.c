/* Plugin loading without a GPU: fake plugins (no entry point, a failing entry, another ABI, a
 * short table from before the optional entries), the search order of alae_backend_load_cuda
 * (explicit path, ALAE_CUDA_BACKEND, the directory of libalae, never the current directory),
 * messages for bad paths, and the real CUDA module: loaded, or cleanly unavailable.
 *
 * The program does not link libalae: it dlopens copies of it placed in temporary directories,
 * so that "the directory of libalae" is a directory the test controls, and each copy has its own
 * registry (RTLD_LOCAL: a copy's calls resolve within itself).
 *
 * Usage: test_plugins LIBALAE_SO FAKE_DIR CUDA_MODULE|-   (FAKE_DIR holds libalae_fake_<mode>.so) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alae/alae.h"

typedef struct lib {
    void *h;
    alae_status (*load)(const char *);
    alae_status (*load_cuda)(const char *);
    alae_status (*find)(const char *, int32_t *);
    int32_t (*count)(void);
    alae_status (*info)(int32_t, alae_device_info *);
    const char *(*last_error)(void);
    alae_status (*ctx_create)(int32_t, alae_context **);
    void (*ctx_destroy)(alae_context *);
    alae_status (*set_param)(alae_context *, int32_t, int64_t);
} lib;

static int failures = 0;

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static void *sym(void *h, const char *name) {
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "FAIL: %s missing: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

static lib open_lib(const char *path) {
    lib L;
    memset(&L, 0, sizeof L);
    L.h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!L.h) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    *(void **)&L.load = sym(L.h, "alae_backend_load");
    *(void **)&L.load_cuda = sym(L.h, "alae_backend_load_cuda");
    *(void **)&L.find = sym(L.h, "alae_device_find");
    *(void **)&L.count = sym(L.h, "alae_device_count");
    *(void **)&L.info = sym(L.h, "alae_device_get_info");
    *(void **)&L.last_error = sym(L.h, "alae_last_error");
    *(void **)&L.ctx_create = sym(L.h, "alae_context_create");
    *(void **)&L.ctx_destroy = sym(L.h, "alae_context_destroy");
    *(void **)&L.set_param = sym(L.h, "alae_context_set_param");
    return L;
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) {
        fprintf(stderr, "FAIL: copying %s to %s: %s\n", from, to, strerror(errno));
        exit(1);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out) != 0) exit(1);
    chmod(to, 0755);
}

static char g_tmp[256];

/* tmp/<name> (a directory, created) */
static const char *mkdir_in_tmp(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", g_tmp, name);
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "FAIL: mkdir %s: %s\n", buf, strerror(errno));
        exit(1);
    }
    return buf;
}

static char g_libalae[PATH_MAX], g_fake_dir[PATH_MAX]; /* realpath writes up to PATH_MAX */

static void fake_path(int mode, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/libalae_fake_%d.so", g_fake_dir, mode);
}

/* A private copy of libalae in tmp/<dir>/ */
static lib lib_copy_in(const char *dir) {
    char d[512], path[600];
    mkdir_in_tmp(dir, d, sizeof d);
    snprintf(path, sizeof path, "%s/libalae.so.copy", d);
    copy_file(g_libalae, path);
    return open_lib(path);
}

static void test_fake_plugins(void) {
    lib L = lib_copy_in("fakes");
    char p[PATH_MAX + 64];
    /* bad paths */
    EXPECT(L.load(NULL) == ALAE_E_INVALID_ARG, "NULL path");
    EXPECT(L.load("relative/libalae-cuda.so") == ALAE_E_INVALID_ARG, "relative path");
    EXPECT(strstr(L.last_error(), "not an absolute path") != NULL, "%s", L.last_error());
    EXPECT(L.load_cuda("relative/libalae-cuda.so") == ALAE_E_INVALID_ARG, "relative path (cuda)");
    EXPECT(L.load_cuda("/nonexistent/dir/libalae-cuda.so") == ALAE_E_BACKEND_UNAVAILABLE, "missing file");
    EXPECT(strstr(L.last_error(), "/nonexistent/dir/libalae-cuda.so") != NULL, "message names the file: %s",
           L.last_error());
    /* mode 0: no entry point */
    fake_path(0, p, sizeof p);
    EXPECT(L.load(p) == ALAE_E_BACKEND_UNAVAILABLE, "no entry");
    EXPECT(strstr(L.last_error(), "alae_backend_plugin_entry") != NULL, "%s", L.last_error());
    /* mode 1: the entry fails with its own message */
    fake_path(1, p, sizeof p);
    EXPECT(L.load(p) == ALAE_E_BACKEND_UNAVAILABLE, "failing entry");
    EXPECT(strstr(L.last_error(), "FAKE-PLUGIN") != NULL, "%s", L.last_error());
    /* mode 2: another ABI */
    fake_path(2, p, sizeof p);
    EXPECT(L.load(p) == ALAE_E_VERSION, "other ABI");
    EXPECT(strstr(L.last_error(), "plugin ABI 99") != NULL, "%s", L.last_error());
    EXPECT(L.count() == 1, "nothing registered by the failures: %d devices", (int)L.count());
    /* mode 3: a short (pre-extension) table loads and works; the host never touches the slots
     * beyond its struct_size (they would crash) */
    fake_path(3, p, sizeof p);
    EXPECT(L.load(p) == ALAE_OK, "short table: %s", L.last_error());
    EXPECT(L.load(p) == ALAE_OK, "loading twice is a no-op");
    EXPECT(L.count() == 2, "cpu + fake: %d devices", (int)L.count());
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT(L.info(1, &info) == ALAE_OK && strcmp(info.name, "fake:0") == 0, "device 1 is %s", info.name);
    alae_context *ctx = NULL;
    EXPECT(L.ctx_create(1, &ctx) == ALAE_OK, "context on the fake: %s", L.last_error());
    if (ctx) {
        EXPECT(L.set_param(ctx, ALAE_CTX_TF32, 1) == ALAE_OK, "TF32 on a table without set_option: %s",
               L.last_error());
        EXPECT(L.set_param(ctx, ALAE_CTX_GRAPHS, 0) == ALAE_OK, "GRAPHS: %s", L.last_error());
        EXPECT(L.set_param(ctx, ALAE_CTX_TF32, 2) == ALAE_E_INVALID_ARG, "TF32 = 2");
        L.ctx_destroy(ctx);
    }
    /* device names */
    int32_t idx = -1;
    EXPECT(L.find("cpu", &idx) == ALAE_OK && idx == 0, "cpu is %d", (int)idx);
    EXPECT(L.find("gpu", &idx) == ALAE_E_INVALID_ARG, "unknown name");
    EXPECT(L.find("cuda:x", &idx) == ALAE_E_INVALID_ARG, "cuda:x");
    EXPECT(L.find("cuda:", &idx) == ALAE_E_INVALID_ARG, "cuda:");
    EXPECT(L.find(NULL, &idx) == ALAE_E_INVALID_ARG, "NULL name");
}

/* Search order: the message of a failing fake names the file that was loaded. */
static void test_search_order(void) {
    char dir[512], path[700], other[700], cwd_dir[512], old_cwd[1024];
    char fail_fake[PATH_MAX + 64];
    fake_path(1, fail_fake, sizeof fail_fake);
    unsetenv("ALAE_CUDA_BACKEND");

    /* 1. the directory of libalae: DIR/libalae-cuda.so */
    lib A = lib_copy_in("order-a");
    snprintf(path, sizeof path, "%s/libalae-cuda.so", mkdir_in_tmp("order-a", dir, sizeof dir));
    copy_file(fail_fake, path);
    EXPECT(A.load_cuda(NULL) == ALAE_E_BACKEND_UNAVAILABLE, "fake in libalae's directory");
    EXPECT(strstr(A.last_error(), path) && strstr(A.last_error(), "FAKE-PLUGIN") &&
               strstr(A.last_error(), "the directory of libalae"),
           "expected %s to be loaded: %s", path, A.last_error());

    /* 2. ALAE_CUDA_BACKEND comes first, and nothing else is tried */
    snprintf(other, sizeof other, "%s/elsewhere.so", mkdir_in_tmp("order-env", dir, sizeof dir));
    copy_file(fail_fake, other);
    setenv("ALAE_CUDA_BACKEND", other, 1);
    EXPECT(A.load_cuda(NULL) == ALAE_E_BACKEND_UNAVAILABLE, "fake from the environment");
    EXPECT(strstr(A.last_error(), other) && strstr(A.last_error(), "ALAE_CUDA_BACKEND"),
           "expected %s to be loaded: %s", other, A.last_error());
    setenv("ALAE_CUDA_BACKEND", "/nonexistent/libalae-cuda.so", 1);
    EXPECT(A.load_cuda(NULL) == ALAE_E_BACKEND_UNAVAILABLE, "missing file in the environment");
    EXPECT(strstr(A.last_error(), "ALAE_CUDA_BACKEND=/nonexistent/libalae-cuda.so: no such file"), "%s",
           A.last_error());
    setenv("ALAE_CUDA_BACKEND", "libalae-cuda.so", 1);
    EXPECT(A.load_cuda(NULL) == ALAE_E_INVALID_ARG, "relative path in the environment");
    EXPECT(strstr(A.last_error(), "not an absolute path"), "%s", A.last_error());
    /* 3. an explicit path comes before the environment */
    EXPECT(A.load_cuda(fail_fake) == ALAE_E_BACKEND_UNAVAILABLE, "explicit path");
    EXPECT(strstr(A.last_error(), "FAKE-PLUGIN") && strstr(A.last_error(), fail_fake), "%s", A.last_error());
    unsetenv("ALAE_CUDA_BACKEND");

    /* 4. DIR/libalae-<soversion>/backends/libalae-cuda.so */
    lib B = lib_copy_in("order-b");
    char sub[700];
    mkdir_in_tmp("order-b", dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/libalae-%d.%d", dir, ALAE_VERSION_MAJOR, ALAE_VERSION_MINOR);
    mkdir(sub, 0755);
    strncat(sub, "/backends", sizeof sub - strlen(sub) - 1);
    mkdir(sub, 0755);
    snprintf(path, sizeof path, "%s/libalae-cuda.so", sub);
    copy_file(fail_fake, path);
    EXPECT(B.load_cuda(NULL) == ALAE_E_BACKEND_UNAVAILABLE, "fake in backends/");
    EXPECT(strstr(B.last_error(), path) && strstr(B.last_error(), "FAKE-PLUGIN"), "expected %s: %s", path,
           B.last_error());

    /* 5. never the current directory: a module there is ignored */
    lib C = lib_copy_in("order-c");
    mkdir_in_tmp("order-cwd", cwd_dir, sizeof cwd_dir);
    snprintf(path, sizeof path, "%s/libalae-cuda.so", cwd_dir);
    copy_file(fail_fake, path);
    if (!getcwd(old_cwd, sizeof old_cwd)) old_cwd[0] = '\0';
    if (chdir(cwd_dir) != 0) exit(1);
    alae_status s = C.load_cuda(NULL);
    const char *msg = C.last_error();
    /* the installed directory could hold a real module on a developer's machine */
    EXPECT(s != ALAE_OK || strstr(msg, "FAKE-PLUGIN") == NULL, "loaded from the current directory");
    EXPECT(strstr(msg, "FAKE-PLUGIN") == NULL && strstr(msg, cwd_dir) == NULL, "the current directory was used: %s",
           msg);
    if (s == ALAE_E_BACKEND_UNAVAILABLE && strstr(msg, "was not found"))
        EXPECT(strstr(msg, "order-c/libalae-cuda.so") != NULL, "the message lists the places tried: %s", msg);
    int32_t idx = -1;
    s = C.find("cuda", &idx);
    EXPECT(s == ALAE_E_BACKEND_UNAVAILABLE || s == ALAE_OK, "device_find(cuda) gives %d", (int)s);
    if (old_cwd[0] && chdir(old_cwd) != 0) exit(1);
    printf("ok: search order (explicit, ALAE_CUDA_BACKEND, libalae's directory, its backends/); "
           "the current directory is ignored: %s\n", msg);
}

/* The real module of this build tree: it loads and has devices, or it is cleanly unavailable. */
static void test_real_module(const char *module) {
    if (!module || strcmp(module, "-") == 0) {
        printf("SKIPPED part: the CUDA backend module is not built in this tree\n");
        return;
    }
    lib L = lib_copy_in("real");
    alae_status s = L.load_cuda(module);
    if (s == ALAE_OK) {
        int32_t idx = -1;
        EXPECT(L.find("cuda:0", &idx) == ALAE_OK && idx == 1, "cuda:0 is device %d: %s", (int)idx, L.last_error());
        alae_device_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        EXPECT(L.info(idx, &info) == ALAE_OK && info.kind == ALAE_DEVICE_CUDA && info.mem_total > 0,
               "device info: %s", L.last_error());
        printf("ok: the CUDA module loaded: %s, %s, %.1f GiB\n", info.name, info.description,
               info.mem_total / 1073741824.0);
    } else {
        char why[1024];
        snprintf(why, sizeof why, "%s", L.last_error());
        EXPECT(s == ALAE_E_BACKEND_UNAVAILABLE, "status %d: %s", (int)s, L.last_error());
        EXPECT(strstr(L.last_error(), "no CUDA device") != NULL || strstr(L.last_error(), "libcublas") != NULL,
               "a clear reason: %s", L.last_error());
        EXPECT(L.count() == 1, "nothing registered");
        int32_t idx = 7;
        alae_context *ctx = NULL;
        setenv("ALAE_CUDA_BACKEND", module, 1);
        EXPECT(L.find("cuda", &idx) == ALAE_E_BACKEND_UNAVAILABLE && idx == 7, "find(cuda) unavailable, idx untouched");
        EXPECT(L.ctx_create(1, &ctx) == ALAE_E_INVALID_ARG && ctx == NULL, "device 1 does not exist");
        unsetenv("ALAE_CUDA_BACKEND");
        printf("ok: the CUDA module is cleanly unavailable here: %s\n", why);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: test_plugins LIBALAE_SO FAKE_DIR CUDA_MODULE|-\n");
        return 2;
    }
    if (!realpath(argv[1], g_libalae) || !realpath(argv[2], g_fake_dir)) {
        fprintf(stderr, "FAIL: %s or %s not found\n", argv[1], argv[2]);
        return 1;
    }
    const char *base = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/alae-plugins-XXXXXX", base && base[0] == '/' ? base : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_fake_plugins();
    test_search_order();
    test_real_module(argv[3]);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmp);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all plugin checks passed\n");
    return 0;
}
