/* Shared helpers of the metrics (lib/eval): argument checks and a small seeded generator for
 * the host-side sampling (positions, directions), independent of the contexts' Philox stream. */
#ifndef ALAE_EVAL_INTERNAL_H
#define ALAE_EVAL_INTERNAL_H

#include <stdint.h>

#include "alae/alae_eval.h"
#include "internal/alae_internal.h"

/* splitmix64: a 64-bit state advanced per draw. */
typedef struct alaei_eval_rng {
    uint64_t state;
} alaei_eval_rng;

uint64_t alaei_eval_rng_next(alaei_eval_rng *r);
/* Uniform integer in [0, n), n >= 1. */
int64_t alaei_eval_rng_below(alaei_eval_rng *r, int64_t n);
/* Standard normal (Box-Muller). */
double alaei_eval_rng_normal(alaei_eval_rng *r);

/* Writes the first struct_size bytes of full (a struct whose first member is uint32_t
 * struct_size, size bytes long) into out, and sets out->struct_size to what was written. */
void alaei_copy_sized(void *out, const void *full, uint32_t size);

/* ALAE_OK when the count values of x are finite; otherwise ALAE_E_INVALID_ARG from func with
 * the message what (e.g. "the first set holds a non-finite value"). */
alae_status alaei_eval_check_finite(const char *func, const float *x, int64_t count, const char *what);

/* Squared Euclidean distance of two dim-vectors. */
double alaei_sq_dist(const float *a, const float *b, int64_t dim);

/* Mean of the values between the lo-th percentile (numpy's 'lower') and the hi-th ('higher'),
 * inclusive, as StyleGAN's ppl.py filters its distances; sorts v in place. n >= 1. */
double alaei_trimmed_mean(float *v, int64_t n, double lo, double hi);

/* A one-vs-rest least-squares linear classifier on standardised features (lib/eval/linear.c). */
#define ALAEI_LINEAR_MAX_CLASSES 1024
typedef struct alaei_linear_fit {
    int64_t dim, m; /* features, features + bias */
    int32_t n_classes;
    int32_t classes[ALAEI_LINEAR_MAX_CLASSES]; /* distinct labels, first-seen order */
    double *mean, *inv_sd;                     /* the standardisation, per feature */
    double *gram, *weights, *row;              /* weights [n_classes, m]: scores of standardised rows */
} alaei_linear_fit;

/* Fits on x [n, dim] with labels; on failure f holds nothing to free. */
alae_status alaei_linear_fit_train(alaei_linear_fit *f, const float *x, const int32_t *labels, int64_t n, int64_t dim,
                                   const char *func);
/* The predicted label of x [dim]; row is scratch of dim + 1 doubles. */
int32_t alaei_linear_fit_predict(const alaei_linear_fit *f, const float *x, double *row);
void alaei_linear_fit_free(alaei_linear_fit *f);

#endif
