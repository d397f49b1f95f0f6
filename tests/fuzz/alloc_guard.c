/* The allocation guard (see alloc_guard.h): __wrap_ versions of the allocation functions. */
#include "alloc_guard.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **out, size_t alignment, size_t n);
void *__real_aligned_alloc(size_t alignment, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **out, size_t alignment, size_t n);
void *__wrap_aligned_alloc(size_t alignment, size_t n);

static atomic_int armed;
static atomic_int seen; /* a wrapped function ran at least once */
static atomic_size_t single_limit, total_limit, largest, total, refused;

void alae_guard_arm(size_t single, size_t tot) {
    atomic_store(&single_limit, single);
    atomic_store(&total_limit, tot);
    atomic_store(&largest, 0);
    atomic_store(&total, 0);
    atomic_store(&refused, 0);
    atomic_store(&armed, 1);
}

void alae_guard_disarm(void) { atomic_store(&armed, 0); }
size_t alae_guard_largest(void) { return atomic_load(&largest); }
size_t alae_guard_total(void) { return atomic_load(&total); }
size_t alae_guard_refused(void) { return atomic_load(&refused); }

int alae_guard_active(void) {
    void *volatile p = malloc(1); /* __wrap_malloc when the program is linked with --wrap */
    free(p);
    return atomic_load(&seen);
}

/* 1 if a request of n bytes may proceed. */
static int admit(size_t n) {
    atomic_store(&seen, 1);
    if (!atomic_load(&armed)) return 1;
    size_t prev = atomic_load(&largest);
    while (n > prev && !atomic_compare_exchange_weak(&largest, &prev, n)) {
    }
    size_t single = atomic_load(&single_limit), tot = atomic_load(&total_limit);
    size_t now = atomic_fetch_add(&total, n) + n;
    if ((single && n > single) || (tot && (now > tot || now < n))) {
        atomic_fetch_sub(&total, n);
        atomic_fetch_add(&refused, 1);
        return 0;
    }
    return 1;
}

void *__wrap_malloc(size_t n) {
    if (!admit(n)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t size) {
    size_t n = count * size;
    if (size && n / size != count) n = SIZE_MAX; /* overflow: let the guard see a huge request */
    if (!admit(n)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t n) {
    if (!admit(n)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t n) {
    if (!admit(n)) return ENOMEM;
    return __real_posix_memalign(out, alignment, n);
}

void *__wrap_aligned_alloc(size_t alignment, size_t n) {
    if (!admit(n)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_aligned_alloc(alignment, n);
}
