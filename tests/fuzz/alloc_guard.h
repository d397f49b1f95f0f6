/* An allocation guard for resource-bomb checks (regression_driver, test_resource_bombs).
 *
 * A program linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
 * and alloc_guard.c sends every allocation made by the objects it links (libalae included, when
 * linked statically) through the guard. While armed, the guard refuses (returns NULL / ENOMEM,
 * touching nothing) any single allocation above `single_limit` bytes and any allocation that would
 * take the bytes allocated since arming above `total_limit`, and remembers the largest request and
 * how many were refused. A loader that sizes an allocation from an unchecked field of a small
 * hostile file is caught here without the machine ever committing the memory.
 * Allocations made inside shared libraries (libc internals, zlib, OpenBLAS) are not seen. */
#ifndef ALAE_ALLOC_GUARD_H
#define ALAE_ALLOC_GUARD_H

#include <stddef.h>

/* Arms the guard with fresh counters. 0 for a limit means no limit. */
void alae_guard_arm(size_t single_limit, size_t total_limit);
/* Disarms it (counters are kept for reading). */
void alae_guard_disarm(void);
/* Largest single request seen since arming (refused ones included). */
size_t alae_guard_largest(void);
/* Bytes requested since arming (refused ones excluded). */
size_t alae_guard_total(void);
/* Requests refused since arming. */
size_t alae_guard_refused(void);
/* 1 if the program was linked with the --wrap options (the guard sees allocations). */
int alae_guard_active(void);

#endif
