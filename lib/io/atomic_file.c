/* Atomic file replacement: temp file, fflush, fsync, rename, directory fsync. See atomic_file.h. */
#include "io/atomic_file.h"
#include "io/file_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static void release(alaei_atomic_file *af) {
    free(af->path);
    free(af->tmp_path);
    af->path = NULL;
    af->tmp_path = NULL;
    af->fp = NULL;
}

static char *dir_of(const char *path);

/* The process id of a temporary file of `base` ("<base>.tmp.<pid>"), or 0 if name is not one. */
static long temp_pid(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
    const char *digits = name + n + 5;
    long pid = 0;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9' || p - digits >= 9) return 0;
        pid = pid * 10 + (*p - '0');
    }
    return pid;
}

/* Removes the temporary files of earlier saves of path that a killed process left behind:
 * exactly "<name>.tmp.<pid>", a regular file, pid not ours and no longer running (a running
 * process, even an unrelated one that reuses the pid, keeps its file). Best effort. */
static void remove_stale_temporaries(const char *path) {
    char *dir = dir_of(path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        long pid = temp_pid(e->d_name, base);
        struct stat st;
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            alaei_log(ALAE_LOG_INFO, "removed '%s/%s', left by process %ld, which no longer runs", dir, e->d_name, pid);
    }
    if (d) closedir(d);
    free(dir);
}

alae_status alaei_atomic_open(alaei_atomic_file *af, const char *path, const char *func) {
    if (!af) return alaei_fail(ALAE_E_INVALID_ARG, func, "atomic file handle is NULL");
    memset(af, 0, sizeof *af);
    if (!path) return alaei_fail(ALAE_E_INVALID_ARG, func, "path is NULL");
    size_t len = strlen(path);
    if (len == 0) return alaei_fail(ALAE_E_INVALID_ARG, func, "path is empty");
    if (path[len - 1] == '/') return alaei_fail(ALAE_E_INVALID_ARG, func, "path '%s' names a directory", path);
    size_t cap;
    if (!alaei_add_size(len, 40, &cap)) return alaei_fail(ALAE_E_INVALID_ARG, func, "path is too long");
    af->path = malloc(len + 1);
    af->tmp_path = malloc(cap);
    if (!af->path || !af->tmp_path) {
        release(af);
        return alaei_fail(ALAE_E_NOMEM, func, "out of memory");
    }
    struct stat existing;
    if (stat(path, &existing) == 0 && !S_ISREG(existing.st_mode)) {
        release(af);
        return alaei_fail(ALAE_E_IO, func, "'%s' is %s: refusing to replace it with a regular file", path,
                          alaei_file_kind(existing.st_mode));
    }
    remove_stale_temporaries(path);
    memcpy(af->path, path, len + 1);
    snprintf(af->tmp_path, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        int e = errno;
        alae_status st = alaei_fail(ALAE_E_IO, func, "cannot write '%s' (temporary file '%s'): %s", af->path,
                                    af->tmp_path, strerror(e));
        release(af);
        return st;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        alae_status st = alaei_fail(ALAE_E_IO, func, "cannot write '%s': %s", af->path, strerror(e));
        release(af);
        return st;
    }
    return ALAE_OK;
}

void alaei_atomic_abort(alaei_atomic_file *af) {
    if (!af) return;
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
        if (af->tmp_path) unlink(af->tmp_path);
    }
    release(af);
}

static alae_status fail_abort(alaei_atomic_file *af, const char *func, const char *what, int e) {
    alae_status st = alaei_fail(ALAE_E_IO, func, "%s '%s': %s", what, af->path ? af->path : "?", strerror(e));
    alaei_atomic_abort(af);
    return st;
}

alae_status alaei_atomic_write(alaei_atomic_file *af, const void *data, size_t n, const char *func) {
    if (!af || !af->fp) return alaei_fail(ALAE_E_STATE, func, "atomic file is not open");
    if (n == 0) return ALAE_OK;
    if (!data) return alaei_fail(ALAE_E_INVALID_ARG, func, "data is NULL");
    errno = 0;
    if (fwrite(data, 1, n, af->fp) != n) {
        int e = errno ? errno : EIO;
        return fail_abort(af, func, "cannot write", e);
    }
    return ALAE_OK;
}

/* The directory that holds path ("." if none); malloc'ed. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        char *d = malloc(2);
        if (d) memcpy(d, ".", 2);
        return d;
    }
    size_t k = (size_t)(slash - path);
    if (k == 0) k = 1; /* "/file" -> "/" */
    char *d = malloc(k + 1);
    if (!d) return NULL;
    memcpy(d, path, k);
    d[k] = 0;
    return d;
}

alae_status alaei_atomic_commit(alaei_atomic_file *af, const char *func) {
    if (!af || !af->fp) return alaei_fail(ALAE_E_STATE, func, "atomic file is not open");
    errno = 0;
    if (fflush(af->fp) != 0) return fail_abort(af, func, "cannot write", errno ? errno : EIO);
    if (fsync(fileno(af->fp)) != 0) return fail_abort(af, func, "cannot fsync", errno);
    FILE *fp = af->fp;
    af->fp = NULL;
    errno = 0;
    if (fclose(fp) != 0) {
        int e = errno ? errno : EIO;
        unlink(af->tmp_path);
        alae_status st = alaei_fail(ALAE_E_IO, func, "cannot write '%s': %s", af->path, strerror(e));
        release(af);
        return st;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        int e = errno;
        unlink(af->tmp_path);
        alae_status st = alaei_fail(ALAE_E_IO, func, "cannot rename '%s' to '%s': %s", af->tmp_path,
                                    af->path, strerror(e));
        release(af);
        return st;
    }
    /* make the rename durable; filesystems that cannot fsync a directory are tolerated */
    alae_status st = ALAE_OK;
    char *dir = dir_of(af->path);
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
                int e = errno;
                st = alaei_fail(ALAE_E_IO, func, "wrote '%s' but cannot fsync directory '%s': %s",
                                af->path, dir, strerror(e));
            }
            close(dfd);
        } else {
            alaei_log(ALAE_LOG_WARN, "%s: wrote '%s' but cannot open directory '%s' to fsync it: %s",
                      func, af->path, dir, strerror(errno));
        }
        free(dir);
    }
    release(af);
    return st;
}
