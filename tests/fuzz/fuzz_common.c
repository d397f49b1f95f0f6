/* Shared pieces of the fuzz targets: in-memory files, a temporary directory, the shared context
 * and the failure contract. See fuzz_common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *alae_fuzz_current_input = NULL;

void alae_fuzz_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "\nFUZZ INVARIANT VIOLATED at %s:%d: %s\n", file, line, expr);
    if (alae_fuzz_current_input) fprintf(stderr, "  input: %s\n", alae_fuzz_current_input);
    fprintf(stderr, "  last libalae error: %s\n", alae_last_error());
    fflush(stderr);
    abort();
}

void alae_fuzz_init(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    alae_set_log_level(ALAE_LOG_NONE);
}

void alae_fuzz_check_failure(alae_status s, const char *what) {
    if (s >= 0 || s == ALAE_E_INTERNAL || alae_last_error()[0] == '\0') {
        fprintf(stderr, "\n%s: status %d (%s), message '%s'\n", what, (int)s, alae_status_string(s),
                alae_last_error());
        FUZZ_CHECK(s < 0 && s != ALAE_E_INTERNAL && alae_last_error()[0] != '\0');
    }
}

/* ---- in-memory files ---- */

#define N_SLOTS 4
static int slot_fd[N_SLOTS] = {-1, -1, -1, -1};
static char slot_path[N_SLOTS][4200];

static int write_all(int fd, const uint8_t *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(fd, p + off, n - off, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        off += (size_t)w;
    }
    return 1;
}

const char *alae_fuzz_file(int slot, const uint8_t *data, size_t size) {
    if (slot < 0 || slot >= N_SLOTS) slot = 0;
    if (slot_fd[slot] < 0) {
#if defined(__linux__) && defined(MFD_CLOEXEC)
        int fd = memfd_create("alae-fuzz", MFD_CLOEXEC);
        if (fd >= 0) {
            slot_fd[slot] = fd;
            snprintf(slot_path[slot], sizeof slot_path[slot], "/proc/self/fd/%d", fd);
        }
#endif
        if (slot_fd[slot] < 0) {
            snprintf(slot_path[slot], sizeof slot_path[slot], "%s/input%d", alae_fuzz_tmpdir(), slot);
            slot_fd[slot] = open(slot_path[slot], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        }
        if (slot_fd[slot] < 0) {
            perror("alae_fuzz_file");
            abort();
        }
    }
    int fd = slot_fd[slot];
    if (ftruncate(fd, 0) != 0 || !write_all(fd, data, size)) {
        perror("alae_fuzz_file: write");
        abort();
    }
    return slot_path[slot];
}

/* ---- temporary directory ---- */

static char tmpdir[4096];

static void remove_tmpdir(void) {
    if (!tmpdir[0]) return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[8192];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

const char *alae_fuzz_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/alae-fuzz-XXXXXX", base && base[0] ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("alae_fuzz_tmpdir");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

/* ---- the shared context ---- */

static alae_context *shared_ctx;

static void destroy_ctx(void) {
    alae_context_destroy(shared_ctx);
    shared_ctx = NULL;
}

alae_status alae_fuzz_tiny_mlp(alae_context *ctx, alae_model **out) {
    alae_model_config *cfg;
    alae_status s = alae_model_config_create("mnist-fc-paper", &cfg);
    if (s != ALAE_OK) return s;
    static const struct {
        int32_t key;
        double value;
    } settings[] = {{ALAE_CFG_LATENT_DIM, 4}, {ALAE_CFG_MAPPING_LAYERS, 1}, {ALAE_CFG_HIDDEN, 8},
                    {ALAE_CFG_IMAGE_SIZE, 4}, {ALAE_CFG_NET_SIZE, 4},       {ALAE_CFG_D_LAYERS, 1}};
    for (size_t i = 0; s == ALAE_OK && i < sizeof settings / sizeof settings[0]; i++)
        s = alae_model_config_set(cfg, settings[i].key, settings[i].value);
    if (s == ALAE_OK) s = alae_model_create(ctx, cfg, 7, out);
    alae_model_config_destroy(cfg);
    return s;
}

alae_context *alae_fuzz_context(void) {
    if (!shared_ctx) {
        alae_fuzz_init();
        if (alae_context_create(ALAE_DEVICE_CPU, &shared_ctx) != ALAE_OK ||
            alae_context_set_param(shared_ctx, ALAE_CTX_THREADS, 1) != ALAE_OK) {
            fprintf(stderr, "alae_fuzz_context: %s\n", alae_last_error());
            abort();
        }
        atexit(destroy_ctx);
    }
    return shared_ctx;
}
