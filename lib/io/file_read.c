/* Opening an input file for reading. See file_read.h. */
#include "io/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

const char *alaei_file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISREG(mode)) return "a regular file";
    return "not a regular file";
}

alae_status alaei_open_regular(const char *path, const char *func, int *fd, uint64_t *size) {
    *fd = -1;
    /* O_NONBLOCK: opening a FIFO without a writer would block; it is cleared once the type is known */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f < 0) return alaei_fail(ALAE_E_IO, func, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return alaei_fail(ALAE_E_IO, func, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size < 0) {
        close(f);
        return alaei_fail(ALAE_E_IO, func, "'%s' is %s, not a regular file", path, alaei_file_kind(sb.st_mode));
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return alaei_fail(ALAE_E_IO, func, "cannot read '%s': %s", path, strerror(e));
    }
    *fd = f;
    *size = (uint64_t)sb.st_size;
    return ALAE_OK;
}
