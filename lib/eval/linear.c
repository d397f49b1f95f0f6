/* alae_eval_linear_accuracy: a one-vs-rest least-squares (ridge) linear classifier on
 * standardised features, fitted by solving the normal equations with a Cholesky factorisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define MAX_DIM 4096
#define RIDGE_PER_SAMPLE 1e-3

/* The distinct labels of the training set, in first-seen order; -1 when there are too many. */
static int32_t collect_classes(const int32_t *labels, int64_t n, int32_t *classes) {
    int32_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t j = 0;
        while (j < count && classes[j] != labels[i]) j++;
        if (j < count) continue;
        if (count == ALAEI_LINEAR_MAX_CLASSES) return -1;
        classes[count++] = labels[i];
    }
    return count;
}

/* Per feature mean and 1 / deviation of the training set (1 for constant features). */
static void standardiser(const float *x, int64_t n, int64_t dim, double *mean, double *inv_sd) {
    for (int64_t k = 0; k < dim; k++) {
        double s = 0, q = 0;
        for (int64_t i = 0; i < n; i++) s += x[i * dim + k];
        mean[k] = s / (double)n;
        for (int64_t i = 0; i < n; i++) q += (x[i * dim + k] - mean[k]) * (x[i * dim + k] - mean[k]);
        double sd = sqrt(q / (double)n);
        inv_sd[k] = sd > 0 ? 1.0 / sd : 1.0;
    }
}

/* Row i standardised, with a trailing 1 for the bias: dim + 1 values. */
static void feature_row(const float *x, int64_t dim, const double *mean, const double *inv_sd, double *row) {
    for (int64_t k = 0; k < dim; k++) row[k] = (x[k] - mean[k]) * inv_sd[k];
    row[dim] = 1.0;
}

/* In-place Cholesky of the symmetric positive definite a [m, m] (lower triangle); 0 on failure. */
static int cholesky(double *a, int64_t m) {
    for (int64_t j = 0; j < m; j++) {
        double d = a[j * m + j];
        for (int64_t k = 0; k < j; k++) d -= a[j * m + k] * a[j * m + k];
        if (!(d > 0)) return 0;
        a[j * m + j] = sqrt(d);
        for (int64_t i = j + 1; i < m; i++) {
            double v = a[i * m + j];
            for (int64_t k = 0; k < j; k++) v -= a[i * m + k] * a[j * m + k];
            a[i * m + j] = v / a[j * m + j];
        }
    }
    return 1;
}

/* Solves L L^T x = b in place for one right-hand side. */
static void cholesky_solve(const double *l, int64_t m, double *b) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t k = 0; k < i; k++) b[i] -= l[i * m + k] * b[k];
        b[i] /= l[i * m + i];
    }
    for (int64_t i = m - 1; i >= 0; i--) {
        for (int64_t k = i + 1; k < m; k++) b[i] -= l[k * m + i] * b[k];
        b[i] /= l[i * m + i];
    }
}

void alaei_linear_fit_free(alaei_linear_fit *f) {
    free(f->mean);
    free(f->inv_sd);
    free(f->gram);
    free(f->weights);
    free(f->row);
}

/* Gram matrix X^T X + ridge and right-hand sides X^T Y (Y = +1 for the class, -1 otherwise). */
static void accumulate(alaei_linear_fit *f, const float *x, const int32_t *labels, int64_t n) {
    int64_t m = f->m;
    for (int64_t i = 0; i < n; i++) {
        feature_row(x + i * f->dim, f->dim, f->mean, f->inv_sd, f->row);
        for (int64_t a = 0; a < m; a++)
            for (int64_t b = 0; b <= a; b++) f->gram[a * m + b] += f->row[a] * f->row[b];
        for (int32_t c = 0; c < f->n_classes; c++) {
            double y = labels[i] == f->classes[c] ? 1.0 : -1.0;
            for (int64_t a = 0; a < m; a++) f->weights[c * m + a] += y * f->row[a];
        }
    }
    for (int64_t a = 0; a < m; a++) {
        f->gram[a * m + a] += RIDGE_PER_SAMPLE * (double)n;
        for (int64_t b = a + 1; b < m; b++) f->gram[a * m + b] = f->gram[b * m + a];
    }
}

int32_t alaei_linear_fit_predict(const alaei_linear_fit *f, const float *x, double *row) {
    feature_row(x, f->dim, f->mean, f->inv_sd, row);
    int32_t best = 0;
    double best_score = -INFINITY;
    for (int32_t c = 0; c < f->n_classes; c++) {
        double score = 0;
        for (int64_t a = 0; a < f->m; a++) score += f->weights[c * f->m + a] * row[a];
        if (score > best_score) {
            best_score = score;
            best = c;
        }
    }
    return f->classes[best];
}

alae_status alaei_linear_fit_train(alaei_linear_fit *f, const float *x, const int32_t *labels, int64_t n, int64_t dim,
                                   const char *func) {
    memset(f, 0, sizeof *f);
    f->dim = dim;
    f->m = dim + 1;
    if ((f->n_classes = collect_classes(labels, n, f->classes)) < 0)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the training labels hold more than %d classes", ALAEI_LINEAR_MAX_CLASSES);
    f->mean = malloc((size_t)dim * sizeof(double));
    f->inv_sd = malloc((size_t)dim * sizeof(double));
    f->gram = calloc((size_t)(f->m * f->m), sizeof(double));
    f->weights = calloc((size_t)(f->n_classes * f->m), sizeof(double));
    f->row = malloc((size_t)f->m * sizeof(double));
    if (!f->mean || !f->inv_sd || !f->gram || !f->weights || !f->row) {
        alaei_linear_fit_free(f);
        return alaei_fail(ALAE_E_NOMEM, func, "no memory for a %lld-feature classifier", (long long)dim);
    }
    standardiser(x, n, dim, f->mean, f->inv_sd);
    accumulate(f, x, labels, n);
    if (!cholesky(f->gram, f->m)) {
        alaei_linear_fit_free(f);
        return alaei_fail(ALAE_E_INTERNAL, func, "the regularised normal equations are not positive definite");
    }
    for (int32_t c = 0; c < f->n_classes; c++) cholesky_solve(f->gram, f->m, f->weights + c * f->m);
    return ALAE_OK;
}

ALAE_API alae_status alae_eval_linear_accuracy(const float *train, const int32_t *train_labels, int64_t n_train,
                                               const float *test, const int32_t *test_labels, int64_t n_test,
                                               int64_t dim, double *accuracy) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(train);
    ALAEI_CHECK_ARG(train_labels);
    ALAEI_CHECK_ARG(test);
    ALAEI_CHECK_ARG(test_labels);
    ALAEI_CHECK_ARG(accuracy);
    if (n_train < 1 || n_test < 1 || dim < 1 || dim > MAX_DIM)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%lld training and %lld test points of dim %lld: need >= 1 each, dim 1..%d",
                          (long long)n_train, (long long)n_test, (long long)dim, MAX_DIM);
    alae_status s = alaei_eval_check_finite(__func__, train, n_train * dim, "the training set holds a non-finite value");
    if (s == ALAE_OK) s = alaei_eval_check_finite(__func__, test, n_test * dim, "the test set holds a non-finite value");
    if (s != ALAE_OK) return s;
    alaei_linear_fit f;
    s = alaei_linear_fit_train(&f, train, train_labels, n_train, dim, __func__);
    if (s != ALAE_OK) return s;
    int64_t correct = 0;
    for (int64_t i = 0; i < n_test; i++) correct += alaei_linear_fit_predict(&f, test + i * dim, f.row) == test_labels[i];
    *accuracy = (double)correct / (double)n_test;
    alaei_linear_fit_free(&f);
    return ALAE_OK;
}
