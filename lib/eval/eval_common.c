/* Helpers shared by the metrics: a seeded generator, sized output structs, distances and the
 * trimmed mean of the path lengths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

uint64_t alaei_eval_rng_next(alaei_eval_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t alaei_eval_rng_below(alaei_eval_rng *r, int64_t n) { return (int64_t)(alaei_eval_rng_next(r) % (uint64_t)n); }

double alaei_eval_rng_normal(alaei_eval_rng *r) {
    double u1 = ((double)(alaei_eval_rng_next(r) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (double)(alaei_eval_rng_next(r) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void alaei_copy_sized(void *out, const void *full, uint32_t size) {
    uint32_t want;
    memcpy(&want, out, sizeof want);
    uint32_t n = want < size ? want : size;
    memcpy(out, full, n);
    memcpy(out, &n, sizeof n);
}

alae_status alaei_eval_check_finite(const char *func, const float *x, int64_t count, const char *what) {
    for (int64_t k = 0; k < count; k++)
        if (!isfinite(x[k])) return alaei_fail(ALAE_E_INVALID_ARG, func, "%s", what);
    return ALAE_OK;
}

double alaei_sq_dist(const float *a, const float *b, int64_t dim) {
    float acc = 0.0f;
    for (int64_t k = 0; k < dim; k++) {
        float d = a[k] - b[k];
        acc += d * d;
    }
    return (double)acc;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double alaei_trimmed_mean(float *v, int64_t n, double lo_q, double hi_q) {
    qsort(v, (size_t)n, sizeof *v, cmp_float);
    /* numpy.percentile with interpolation 'lower' for the low bound and 'higher' for the high one */
    double lo = (double)v[(int64_t)floor(lo_q / 100.0 * (double)(n - 1))];
    double hi = (double)v[(int64_t)ceil(hi_q / 100.0 * (double)(n - 1))], sum = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        if ((double)v[i] >= lo && (double)v[i] <= hi) {
            sum += (double)v[i];
            count++;
        }
    return count ? sum / (double)count : 0.0;
}
