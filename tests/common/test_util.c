#include "test_util.h"

#include <stdlib.h>

int alae_test_run_suite(Suite *suite) {
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

double alae_test_uniform(uint64_t *state, double lo, double hi) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(*state >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}
