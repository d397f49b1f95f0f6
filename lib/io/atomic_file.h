/* Atomic file replacement for every writer in lib/io. Internal.
 *
 * alaei_atomic_open creates "<path>.tmp.<pid>" (never following a symlink there); the writer
 * appends with alaei_atomic_write; alaei_atomic_commit flushes, fsyncs, closes, renames the
 * temporary file over <path> and fsyncs the directory. Any failure removes the temporary file
 * (only if this process created it) and leaves an existing <path> untouched; after a failed
 * write or commit the handle is closed, and alaei_atomic_abort is a no-op on it.
 * alaei_atomic_open first removes "<path>.tmp.<pid>" files of processes that no longer run
 * (regular files only; left by a save that was killed before its rename).
 * An existing <path> that is not a regular file (a FIFO, a device node, a directory, or a
 * symbolic link to one) is refused by alaei_atomic_open: the rename would replace it.
 * Errors are ALAE_E_IO naming the path and strerror(errno), recorded under the caller's name
 * (func), or ALAE_E_INVALID_ARG / ALAE_E_NOMEM.
 * The temporary name depends only on the path and the process id: two threads of one process
 * must not save to the same path at the same time. */
#ifndef ALAEI_ATOMIC_FILE_H
#define ALAEI_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "internal/alae_internal.h"

typedef struct {
    char *path;     /* final path (copy) */
    char *tmp_path; /* "<path>.tmp.<pid>" */
    FILE *fp;       /* NULL once closed */
    int failed;     /* a write failed: commit refuses */
} alaei_atomic_file;

alae_status alaei_atomic_open(alaei_atomic_file *af, const char *path, const char *func);
alae_status alaei_atomic_write(alaei_atomic_file *af, const void *data, size_t n, const char *func);
alae_status alaei_atomic_commit(alaei_atomic_file *af, const char *func);
/* Closes and removes the temporary file, frees the handle's memory. Safe to call twice. */
void alaei_atomic_abort(alaei_atomic_file *af);

#endif /* ALAEI_ATOMIC_FILE_H */
