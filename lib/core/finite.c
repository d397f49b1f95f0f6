/* Refusing non-finite values where parameters are loaded. See alae_internal.h. */
#include <math.h>

#include "internal/alae_internal.h"

alae_status alaei_check_finite(const float *values, size_t n, const char *what, const char *func) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s' holds a non-finite value (%g) at element %zu", what,
                              (double)values[i], i);
    return ALAE_OK;
}
