/* Helpers shared by the Check test programs. */
#ifndef ALAE_TEST_UTIL_H
#define ALAE_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "alae/alae.h"

/* Asserts that an alae call returned ALAE_OK, printing the library's message otherwise. */
#define ck_assert_alae_ok(expr)                                                               \
    do {                                                                                      \
        alae_status _s = (expr);                                                              \
        ck_assert_msg(_s == ALAE_OK, "%s returned %d (%s): %s", #expr, (int)_s,              \
                      alae_status_string(_s), alae_last_error());                             \
    } while (0)

/* Runs one suite and returns the process exit status (0 if everything passed). */
int alae_test_run_suite(Suite *suite);

/* Creates a new directory $TMPDIR/<prefix>XXXXXX (/tmp without TMPDIR) and writes its path
 * into buf (cap bytes); a failure fails the test. */
void alae_test_make_tmpdir(char *buf, size_t cap, const char *prefix);

/* Removes path and everything below it, making directories writable first; a missing path is
 * not an error. */
void alae_test_remove_tree(const char *path);

/* Deterministic uniform numbers in [lo, hi) from a simple LCG state. */
double alae_test_uniform(uint64_t *state, double lo, double hi);

/* The device a test program runs on. Call alae_test_select_device(name) at the start of main():
 * without ALAE_TEST_DEVICE (or with "cpu") it selects device 0, the CPU; with ALAE_TEST_DEVICE=cuda
 * it loads the CUDA backend (alae_backend_load_cuda(NULL): ctest sets ALAE_CUDA_BACKEND to the
 * module of the build tree) and selects the first CUDA device; when that is unavailable it prints
 * "SKIPPED: <name>: no CUDA device (<reason>)" and exits 77, which ctest reports as a skipped
 * test (SKIP_RETURN_CODE 77). */
void alae_test_select_device(const char *name);
/* The selected public device index (0 before alae_test_select_device). */
int32_t alae_test_device(void);
/* 1 when ALAE_TEST_DEVICE=cuda selected a CUDA device. */
int alae_test_on_cuda(void);

#endif
