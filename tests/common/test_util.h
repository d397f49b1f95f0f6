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

/* Deterministic uniform numbers in [lo, hi) from a simple LCG state. */
double alae_test_uniform(uint64_t *state, double lo, double hi);

#endif
