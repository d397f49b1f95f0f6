/* Helpers shared by the benchmark programs: clocks, sorting for medians, and CHECK, which
 * prints the failing call's status and message and returns 1 from main. Define BENCH_NAME
 * (the program's name, a string literal) before including. */
#ifndef ALAE_BENCH_UTIL_H
#define ALAE_BENCH_UTIL_H
#include <stdio.h>
#include <time.h>

#include "alae/alae.h"

/* Monotonic wall-clock seconds. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds used by the whole process (all threads). */
static inline double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* qsort comparator for doubles, ascending. */
static inline int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define CHECK(call)                                                                                  \
    do {                                                                                             \
        alae_status s_ = (call);                                                                     \
        if (s_ != ALAE_OK) {                                                                         \
            fprintf(stderr, BENCH_NAME ": %s: %s: %s\n", #call, alae_status_string(s_), alae_last_error()); \
            return 1;                                                                                \
        }                                                                                            \
    } while (0)

#endif
