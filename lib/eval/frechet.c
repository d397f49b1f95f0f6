/* alae_eval_frechet_distance: the Fréchet distance of two Gaussians fitted to feature sets, the
 * distance FID reports (Heusel et al. 2017):
 *
 *     d = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))
 *
 * The trace of the square root is the sum of the square roots of the eigenvalues of S_a S_b, which
 * are those of the symmetric L^T S_b L for S_a = L L^T. L comes from a pivoted Cholesky
 * factorisation that stops at S_a's numerical rank (feature sets smaller than their dimension give
 * singular covariances), the symmetric matrix is reduced to tridiagonal form by Householder
 * reflections, and its eigenvalues are found by bisection on Sturm counts. Everything in double. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define FRECHET_MAX_DIM 4096

/* Mean [dim] and covariance [dim, dim] (divisor n - 1, as numpy.cov) of x [n, dim]. */
static void gaussian_fit(const float *x, int64_t n, int64_t dim, double *mean, double *cov, double *row) {
    memset(mean, 0, (size_t)dim * sizeof *mean);
    memset(cov, 0, (size_t)(dim * dim) * sizeof *cov);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < dim; k++) mean[k] += (double)x[i * dim + k];
    for (int64_t k = 0; k < dim; k++) mean[k] /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < dim; k++) row[k] = (double)x[i * dim + k] - mean[k];
        for (int64_t r = 0; r < dim; r++) {
            double v = row[r];
            double *c = cov + r * dim;
            for (int64_t k = r; k < dim; k++) c[k] += v * row[k];
        }
    }
    for (int64_t r = 0; r < dim; r++)
        for (int64_t k = r; k < dim; k++) {
            cov[r * dim + k] /= (double)(n - 1);
            cov[k * dim + r] = cov[r * dim + k];
        }
}

/* Element (i, k) of a symmetric matrix kept in the lower triangle of a [n, n]. */
static double *lower(double *a, int64_t n, int64_t i, int64_t k) { return i >= k ? a + i * n + k : a + k * n + i; }

/* Exchanges indices j < p of the symmetric lower-stored a (rows and columns together). */
static void swap_index(double *a, int64_t n, int64_t j, int64_t p) {
    for (int64_t m = 0; m < n; m++) {
        if (m == j || m == p) continue;
        double *x = lower(a, n, j, m), *y = lower(a, n, p, m), t = *x;
        *x = *y;
        *y = t;
    }
    double t = a[j * n + j];
    a[j * n + j] = a[p * n + p];
    a[p * n + p] = t;
}

/* Pivoted Cholesky of the PSD matrix s [dim, dim] (its lower triangle, destroyed): with the
 * symmetric permutation perm, s[perm, perm] ~ L L^T, L [dim, rank] written to l (row stride
 * rank). Stops when the largest remaining diagonal falls below tol. Returns the rank; c is
 * scratch of dim doubles. Rows and columns are exchanged in place, so every loop runs along rows. */
static int64_t pivoted_cholesky(double *s, int64_t dim, double tol, double *l, int64_t *perm, double *c) {
    for (int64_t i = 0; i < dim; i++) perm[i] = i;
    int64_t rank = 0;
    for (int64_t j = 0; j < dim; j++) {
        int64_t best = j;
        for (int64_t i = j + 1; i < dim; i++)
            if (s[i * dim + i] > s[best * dim + best]) best = i;
        if (!(s[best * dim + best] > tol)) break;
        if (best != j) {
            swap_index(s, dim, j, best);
            int64_t t = perm[j];
            perm[j] = perm[best];
            perm[best] = t;
        }
        double d = sqrt(s[j * dim + j]);
        s[j * dim + j] = d;
        for (int64_t i = j + 1; i < dim; i++) c[i] = s[i * dim + j] /= d;
        for (int64_t i = j + 1; i < dim; i++) { /* the Schur complement, lower triangle */
            double ci = c[i], *row = s + i * dim;
            for (int64_t k = j + 1; k <= i; k++) row[k] -= ci * c[k];
        }
        rank++;
    }
    for (int64_t i = 0; i < dim; i++)
        for (int64_t k = 0; k < rank; k++) l[i * rank + k] = k <= i ? s[i * dim + k] : 0.0;
    return rank;
}

/* m [rank, rank] = L^T P S_b P^T L with L [dim, rank] and the permutation; t: dim * rank. */
static void congruence(const double *l, const int64_t *perm, const double *sb, int64_t dim, int64_t rank, double *t,
                       double *m) {
    /* t [dim, rank] = S_b[perm, perm] L */
    memset(t, 0, (size_t)(dim * rank) * sizeof *t);
    for (int64_t i = 0; i < dim; i++) {
        const double *srow = sb + perm[i] * dim;
        double *trow = t + i * rank;
        for (int64_t k = 0; k < dim; k++) {
            double v = srow[perm[k]];
            const double *lrow = l + k * rank;
            for (int64_t c = 0; c < rank; c++) trow[c] += v * lrow[c];
        }
    }
    memset(m, 0, (size_t)(rank * rank) * sizeof *m);
    for (int64_t k = 0; k < dim; k++) {
        const double *lrow = l + k * rank, *trow = t + k * rank;
        for (int64_t r = 0; r < rank; r++) {
            double v = lrow[r];
            double *mrow = m + r * rank;
            for (int64_t c = 0; c < rank; c++) mrow[c] += v * trow[c];
        }
    }
    for (int64_t r = 0; r < rank; r++) /* symmetrise the rounding */
        for (int64_t c = r + 1; c < rank; c++) m[r * rank + c] = m[c * rank + r] = 0.5 * (m[r * rank + c] + m[c * rank + r]);
}

/* Householder reduction of the symmetric a [n, n] (destroyed) to tridiagonal form: diagonal
 * diag [n], off-diagonal off [n - 1]. v and p are scratch of n doubles. */
static void tridiagonalize(double *a, int64_t n, double *diag, double *off, double *v, double *p) {
    for (int64_t k = 0; k + 2 < n; k++) {
        int64_t len = n - k - 1; /* the column below the diagonal: rows k+1 .. n-1 */
        double norm = 0;
        for (int64_t i = 0; i < len; i++) {
            v[i] = a[(k + 1 + i) * n + k];
            norm += v[i] * v[i];
        }
        norm = sqrt(norm);
        double alpha = v[0] > 0 ? -norm : norm; /* the value the column is reflected to */
        off[k] = alpha;
        v[0] -= alpha;
        double vnorm2 = 0;
        for (int64_t i = 0; i < len; i++) vnorm2 += v[i] * v[i];
        if (vnorm2 == 0) continue; /* the column is already zero below the sub-diagonal */
        double beta = 2.0 / vnorm2;
        /* A' = H A H on the trailing block, H = I - beta v v^T: A' = A - v w^T - w v^T with
         * p = beta A v, w = p - (beta / 2)(v^T p) v */
        double vp = 0;
        for (int64_t i = 0; i < len; i++) {
            const double *row = a + (k + 1 + i) * n + k + 1;
            double acc = 0;
            for (int64_t j = 0; j < len; j++) acc += row[j] * v[j];
            p[i] = beta * acc;
            vp += v[i] * p[i];
        }
        for (int64_t i = 0; i < len; i++) p[i] -= 0.5 * beta * vp * v[i];
        for (int64_t i = 0; i < len; i++) {
            double *row = a + (k + 1 + i) * n + k + 1;
            for (int64_t j = 0; j < len; j++) row[j] -= v[i] * p[j] + p[i] * v[j];
        }
    }
    for (int64_t k = 0; k < n; k++) diag[k] = a[k * n + k];
    if (n >= 2) off[n - 2] = a[(n - 1) * n + n - 2];
}

/* Number of eigenvalues of the tridiagonal (diag, off) below x (Sturm count of T - x I = L D L^T). */
static int64_t count_below(const double *diag, const double *off, int64_t n, double x) {
    int64_t count = 0;
    double q = 1;
    for (int64_t i = 0; i < n; i++) {
        double b2 = i ? off[i - 1] * off[i - 1] : 0;
        q = diag[i] - x - (i ? b2 / q : 0);
        if (q == 0) q = -DBL_EPSILON * (fabs(diag[i]) + fabs(x) + DBL_MIN);
        if (q < 0) count++;
    }
    return count;
}

/* Sum of the square roots of the (clamped non-negative) eigenvalues of the tridiagonal, each
 * found by bisection between Gershgorin bounds. */
static double sum_sqrt_eigenvalues(const double *diag, const double *off, int64_t n) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double r = (i ? fabs(off[i - 1]) : 0) + (i + 1 < n ? fabs(off[i]) : 0);
        if (diag[i] - r < lo) lo = diag[i] - r;
        if (diag[i] + r > hi) hi = diag[i] + r;
    }
    double tol = 4 * DBL_EPSILON * fmax(fabs(lo), fabs(hi)) + DBL_MIN, sum = 0;
    for (int64_t k = 0; k < n; k++) { /* the k-th smallest: count_below(x) <= k < count_below(y) */
        double a = lo, b = hi;
        while (b - a > tol) {
            double mid = 0.5 * (a + b);
            if (mid <= a || mid >= b) break;
            if (count_below(diag, off, n, mid) > k) b = mid;
            else a = mid;
        }
        double lambda = 0.5 * (a + b);
        if (lambda > 0) sum += sqrt(lambda);
    }
    return sum;
}

/* tr((S_a S_b)^(1/2)); sa is destroyed. work: 3 dim^2 + 4 dim doubles, perm dim. */
static double trace_sqrt_product(double *sa, const double *sb, int64_t dim, double *work, int64_t *perm) {
    double *l = work, *t = l + dim * dim, *m = t + dim * dim, *vec = m + dim * dim;
    double max_diag = 0;
    for (int64_t i = 0; i < dim; i++) max_diag = fmax(max_diag, sa[i * dim + i]);
    int64_t rank = pivoted_cholesky(sa, dim, (double)dim * DBL_EPSILON * max_diag, l, perm, vec);
    if (rank == 0) return 0;
    congruence(l, perm, sb, dim, rank, t, m);
    double *diag = vec, *off = vec + dim, *v = vec + 2 * dim, *p = vec + 3 * dim;
    tridiagonalize(m, rank, diag, off, v, p);
    return sum_sqrt_eigenvalues(diag, off, rank);
}

static alae_status check_set(const char *func, const char *name, const float *x, int64_t n, int64_t dim) {
    if (n < 2 || n > (INT64_C(1) << 24))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "%s has %lld points: need 2..2^24", name, (long long)n);
    char what[96];
    snprintf(what, sizeof what, "%s holds a non-finite value", name);
    return alaei_eval_check_finite(func, x, n * dim, what);
}

ALAE_API alae_status alae_eval_frechet_distance(const float *a, int64_t n_a, const float *b, int64_t n_b, int64_t dim,
                                                double *distance) {
    const char *func = __func__;
    alaei_clear_error();
    ALAEI_CHECK_ARG(a);
    ALAEI_CHECK_ARG(b);
    ALAEI_CHECK_ARG(distance);
    if (dim < 1 || dim > FRECHET_MAX_DIM)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "dim %lld is not in 1..%d", (long long)dim, FRECHET_MAX_DIM);
    alae_status s = check_set(func, "the first set", a, n_a, dim);
    if (s == ALAE_OK) s = check_set(func, "the second set", b, n_b, dim);
    if (s != ALAE_OK) return s;
    size_t d2 = (size_t)(dim * dim);
    double *buf = malloc((5 * d2 + 7 * (size_t)dim) * sizeof *buf);
    int64_t *perm = malloc((size_t)dim * sizeof *perm);
    if (!buf || !perm) {
        free(buf);
        free(perm);
        return alaei_fail(ALAE_E_NOMEM, func, "no memory for two %lldx%lld covariances", (long long)dim, (long long)dim);
    }
    double *sa = buf, *sb = sa + d2, *work = sb + d2, *mu_a = work + 3 * d2 + 4 * (size_t)dim, *mu_b = mu_a + dim,
           *row = mu_b + dim;
    gaussian_fit(a, n_a, dim, mu_a, sa, row);
    gaussian_fit(b, n_b, dim, mu_b, sb, row);
    double d = 0;
    for (int64_t k = 0; k < dim; k++) d += (mu_a[k] - mu_b[k]) * (mu_a[k] - mu_b[k]) + sa[k * dim + k] + sb[k * dim + k];
    d -= 2 * trace_sqrt_product(sa, sb, dim, work, perm);
    *distance = d > 0 ? d : 0;
    free(buf);
    free(perm);
    return ALAE_OK;
}
