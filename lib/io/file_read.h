/* Opening an input file for reading, for every loader in lib/io. Internal. */
#ifndef ALAEI_FILE_READ_H
#define ALAEI_FILE_READ_H

#include <stdint.h>
#include <sys/stat.h>

#include "internal/alae_internal.h"

/* "a directory", "a FIFO", "a character device", ... for a file type that is not a regular file. */
const char *alaei_file_kind(mode_t mode);

/* Opens path read-only after checking, without blocking, that it is a regular file: a FIFO or a
 * device would otherwise block the open or the reads forever. On success *fd is a blocking
 * descriptor (close-on-exec) and *size the file's size. Errors: ALAE_E_IO naming the path and
 * what it is ("'x' is a FIFO, not a regular file") or strerror(errno), under func. */
alae_status alaei_open_regular(const char *path, const char *func, int *fd, uint64_t *size);

#endif /* ALAEI_FILE_READ_H */
