/* Nearest-neighbour metrics: improved precision and recall of generated against real features,
 * and the 1-nearest-neighbour accuracy of labelled codes. Brute force over all pairs. */
#include <math.h>
#include <stdlib.h>

#include "eval_internal.h"

static alae_status check_features(const char *func, const float *a, int64_t na, const float *b, int64_t nb,
                                  int64_t dim) {
    if (na < 1 || nb < 1 || dim < 1 || dim > (INT64_C(1) << 24))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "sets of %lld and %lld points of dim %lld: need >= 1 each, dim 1..2^24",
                          (long long)na, (long long)nb, (long long)dim);
    alae_status s = alaei_eval_check_finite(func, a, na * dim, "the first set holds a non-finite value");
    return s != ALAE_OK ? s : alaei_eval_check_finite(func, b, nb * dim, "the second set holds a non-finite value");
}

/* Squared distance of every point of a set to its k-th nearest other point of the set. */
static void kth_radii(const float *x, int64_t n, int64_t dim, int32_t k, double *radius, double *best) {
    for (int64_t i = 0; i < n; i++) {
        int32_t filled = 0; /* best[0..k-1]: the k smallest so far, ascending */
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double d = alaei_sq_dist(x + i * dim, x + j * dim, dim);
            if (filled == k && d >= best[k - 1]) continue;
            int32_t at = filled < k ? filled++ : k - 1;
            while (at > 0 && best[at - 1] > d) {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = d;
        }
        radius[i] = best[k - 1];
    }
}

/* Fraction of the points of q inside some ball (centre, radius) of the manifold set. */
static double coverage(const float *q, int64_t nq, const float *centres, const double *radius, int64_t nc, int64_t dim) {
    int64_t inside = 0;
    for (int64_t i = 0; i < nq; i++)
        for (int64_t j = 0; j < nc; j++)
            if (alaei_sq_dist(q + i * dim, centres + j * dim, dim) <= radius[j]) {
                inside++;
                break;
            }
    return (double)inside / (double)nq;
}

ALAE_API alae_status alae_eval_precision_recall(const float *real, int64_t n_real, const float *fake, int64_t n_fake,
                                                int64_t dim, int32_t k, double *precision, double *recall) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(real);
    ALAEI_CHECK_ARG(fake);
    ALAEI_CHECK_ARG(precision);
    ALAEI_CHECK_ARG(recall);
    alae_status s = check_features(__func__, real, n_real, fake, n_fake, dim);
    if (s != ALAE_OK) return s;
    if (k < 1 || k >= n_real || k >= n_fake)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "k %d must be >= 1 and below both set sizes (%lld, %lld)", (int)k,
                          (long long)n_real, (long long)n_fake);
    double *r_real = malloc((size_t)n_real * sizeof(double)), *r_fake = malloc((size_t)n_fake * sizeof(double));
    double *best = malloc((size_t)k * sizeof(double));
    if (!r_real || !r_fake || !best) {
        free(r_real);
        free(r_fake);
        free(best);
        return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for %lld radii", (long long)(n_real + n_fake));
    }
    kth_radii(real, n_real, dim, k, r_real, best);
    kth_radii(fake, n_fake, dim, k, r_fake, best);
    *precision = coverage(fake, n_fake, real, r_real, n_real, dim);
    *recall = coverage(real, n_real, fake, r_fake, n_fake, dim);
    free(r_real);
    free(r_fake);
    free(best);
    return ALAE_OK;
}

ALAE_API alae_status alae_eval_nn_accuracy(const float *train, const int32_t *train_labels, int64_t n_train,
                                           const float *test, const int32_t *test_labels, int64_t n_test,
                                           int64_t dim, double *accuracy) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(train);
    ALAEI_CHECK_ARG(train_labels);
    ALAEI_CHECK_ARG(test);
    ALAEI_CHECK_ARG(test_labels);
    ALAEI_CHECK_ARG(accuracy);
    alae_status s = check_features(__func__, train, n_train, test, n_test, dim);
    if (s != ALAE_OK) return s;
    int64_t correct = 0;
    for (int64_t i = 0; i < n_test; i++) {
        double best = INFINITY;
        int64_t arg = 0;
        for (int64_t j = 0; j < n_train; j++) {
            double d = alaei_sq_dist(test + i * dim, train + j * dim, dim);
            if (d < best) {
                best = d;
                arg = j;
            }
        }
        correct += train_labels[arg] == test_labels[i];
    }
    *accuracy = (double)correct / (double)n_test;
    return ALAE_OK;
}
