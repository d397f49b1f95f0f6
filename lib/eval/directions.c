/* Attribute directions in W: fitting one from labelled codes, and named sets of them kept in
 * safetensors files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "io/safetensors.h"

#define MAX_DIM 4096
#define MAX_NAME 63
#define HOLDOUT_EVERY 5
#define FORMAT "alae-directions"
#define TENSOR_PREFIX "direction."
#define ACCURACY_PREFIX "alae.accuracy."

typedef struct named_direction {
    char name[MAX_NAME + 1];
    float *vector;
    double accuracy;
} named_direction;

struct alae_directions {
    int64_t dim;
    named_direction *items;
    int64_t count, cap;
};

/* ---- fitting ---- */

static int held_out(int64_t i) { return i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1; }

/* The fitted codes and their labels (1 present, 0 absent), copied out of the hold-out pattern. */
static alae_status split_fit_rows(const float *codes, const int32_t *positive, int64_t n, int64_t dim, float **x,
                                  int32_t **y, int64_t *count) {
    *count = n - n / HOLDOUT_EVERY;
    *x = malloc((size_t)(*count * dim) * sizeof(float));
    *y = malloc((size_t)*count * sizeof(int32_t));
    if (!*x || !*y) return alaei_fail(ALAE_E_NOMEM, "alae_direction_fit", "no memory for %lld codes", (long long)n);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (held_out(i)) continue;
        memcpy(*x + k * dim, codes + i * dim, (size_t)dim * sizeof(float));
        (*y)[k++] = positive[i] != 0;
    }
    return ALAE_OK;
}

/* The unit normal in W of the classifier's positive score: weights over standardised features
 * divided by the deviations. */
static void normal_in_w(const alaei_linear_fit *f, float *direction) {
    int32_t c = f->classes[0] == 1 ? 0 : 1;
    double norm = 0;
    for (int64_t k = 0; k < f->dim; k++) {
        double v = f->weights[c * f->m + k] * f->inv_sd[k];
        norm += v * v;
    }
    norm = sqrt(norm);
    for (int64_t k = 0; k < f->dim; k++)
        direction[k] = norm > 0 ? (float)(f->weights[c * f->m + k] * f->inv_sd[k] / norm) : 0.0f;
}

static double held_out_accuracy(const alaei_linear_fit *f, const float *codes, const int32_t *positive, int64_t n) {
    int64_t correct = 0, total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!held_out(i)) continue;
        correct += alaei_linear_fit_predict(f, codes + i * f->dim, f->row) == (positive[i] != 0);
        total++;
    }
    return total ? (double)correct / (double)total : 0.0;
}

ALAE_API alae_status alae_direction_fit(const float *codes, const int32_t *positive, int64_t n, int64_t dim,
                                        float *direction, double *accuracy) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(codes);
    ALAEI_CHECK_ARG(positive);
    ALAEI_CHECK_ARG(direction);
    ALAEI_CHECK_ARG(accuracy);
    if (n < 2 * HOLDOUT_EVERY || n > (INT64_C(1) << 31) || dim < 1 || dim > MAX_DIM)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%lld codes of dim %lld: need n >= %d and dim 1..%d", (long long)n,
                          (long long)dim, 2 * HOLDOUT_EVERY, MAX_DIM);
    alae_status s = alaei_eval_check_finite(__func__, codes, n * dim, "the codes hold a non-finite value");
    if (s != ALAE_OK) return s;
    float *x = NULL;
    int32_t *y = NULL;
    int64_t count = 0;
    s = split_fit_rows(codes, positive, n, dim, &x, &y, &count);
    alaei_linear_fit f;
    memset(&f, 0, sizeof f);
    if (s == ALAE_OK) s = alaei_linear_fit_train(&f, x, y, count, dim, __func__);
    if (s == ALAE_OK && f.n_classes != 2)
        s = alaei_fail(ALAE_E_INVALID_ARG, __func__, "the fitted codes are all %s: need both classes",
                       y[0] ? "positive" : "negative");
    if (s == ALAE_OK) {
        normal_in_w(&f, direction);
        *accuracy = held_out_accuracy(&f, codes, positive, n);
    }
    alaei_linear_fit_free(&f);
    free(x);
    free(y);
    return s;
}

/* ---- sets ---- */

ALAE_API alae_status alae_directions_create(int64_t dim, alae_directions **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(out);
    if (dim < 1 || dim > MAX_DIM)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "dim %lld is not in 1..%d", (long long)dim, MAX_DIM);
    alae_directions *d = calloc(1, sizeof *d);
    if (!d) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    d->dim = dim;
    *out = d;
    return ALAE_OK;
}

ALAE_API void alae_directions_destroy(alae_directions *d) {
    if (!d) return;
    for (int64_t i = 0; i < d->count; i++) free(d->items[i].vector);
    free(d->items);
    free(d);
}

static int valid_name(const char *name) {
    size_t len = strlen(name);
    if (len < 1 || len > MAX_NAME) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                 c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static int64_t index_of(const alae_directions *d, const char *name) {
    for (int64_t i = 0; i < d->count; i++)
        if (!strcmp(d->items[i].name, name)) return i;
    return -1;
}

/* The slot for name: its existing entry, or a new one at the end. */
static named_direction *slot_for(alae_directions *d, const char *name) {
    int64_t i = index_of(d, name);
    if (i >= 0) return &d->items[i];
    if (d->count == d->cap) {
        int64_t cap = d->cap ? 2 * d->cap : 8;
        named_direction *items = realloc(d->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        d->items = items;
        d->cap = cap;
    }
    named_direction *e = &d->items[d->count];
    memset(e, 0, sizeof *e);
    if (!(e->vector = malloc((size_t)d->dim * sizeof(float)))) return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    d->count++;
    return e;
}

ALAE_API alae_status alae_directions_add(alae_directions *d, const char *name, const float *vector, double accuracy) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(d);
    ALAEI_CHECK_ARG(name);
    ALAEI_CHECK_ARG(vector);
    if (!valid_name(name))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "'%.80s' is not a direction name (1..%d of A-Z a-z 0-9 _ . -)", name,
                          MAX_NAME);
    if (!isnan(accuracy) && !(accuracy >= 0 && accuracy <= 1))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "accuracy %g is not in [0, 1] (or NaN)", accuracy);
    double norm = 0;
    for (int64_t k = 0; k < d->dim; k++) norm += (double)vector[k] * vector[k];
    if (!(norm > 0) || !isfinite(norm))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "direction '%s' is zero or not finite", name);
    named_direction *e = slot_for(d, name);
    if (!e) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    norm = sqrt(norm);
    for (int64_t k = 0; k < d->dim; k++) e->vector[k] = (float)(vector[k] / norm);
    e->accuracy = accuracy;
    return ALAE_OK;
}

ALAE_API int64_t alae_directions_count(const alae_directions *d) { return d ? d->count : 0; }
ALAE_API int64_t alae_directions_dim(const alae_directions *d) { return d ? d->dim : 0; }

ALAE_API alae_status alae_directions_get(const alae_directions *d, int64_t index, const char **name, float *vector,
                                         double *accuracy) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(d);
    if (index < 0 || index >= d->count)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "index %lld is not in 0..%lld", (long long)index,
                          (long long)d->count - 1);
    const named_direction *e = &d->items[index];
    if (name) *name = e->name;
    if (vector) memcpy(vector, e->vector, (size_t)d->dim * sizeof(float));
    if (accuracy) *accuracy = e->accuracy;
    return ALAE_OK;
}

ALAE_API alae_status alae_directions_find(const alae_directions *d, const char *name, int64_t *index) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(d);
    ALAEI_CHECK_ARG(name);
    ALAEI_CHECK_ARG(index);
    int64_t i = index_of(d, name);
    if (i >= 0) {
        *index = i;
        return ALAE_OK;
    }
    char list[512] = "";
    size_t at = 0;
    for (int64_t k = 0; k < d->count && at + MAX_NAME + 4 < sizeof list; k++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", k ? ", " : "", d->items[k].name);
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "no direction '%.80s' (there are: %s)", name, d->count ? list : "none");
}

/* ---- files ---- */

ALAE_API alae_status alae_directions_save(const alae_directions *d, const char *path) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(d);
    ALAEI_CHECK_ARG(path);
    if (d->count == 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the set holds no direction");
    alaei_st_writer *w = NULL;
    alae_status s = alaei_st_writer_create(&w);
    if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, "alae.format", FORMAT);
    for (int64_t i = 0; s == ALAE_OK && i < d->count; i++) {
        char key[128], value[32];
        snprintf(key, sizeof key, TENSOR_PREFIX "%s", d->items[i].name);
        s = alaei_st_writer_add(w, key, ALAEI_ST_F32, 1, &d->dim, d->items[i].vector);
        snprintf(key, sizeof key, ACCURACY_PREFIX "%s", d->items[i].name);
        if (isnan(d->items[i].accuracy)) snprintf(value, sizeof value, "unknown");
        else snprintf(value, sizeof value, "%.6f", d->items[i].accuracy);
        if (s == ALAE_OK) s = alaei_st_writer_set_metadata(w, key, value);
    }
    if (s == ALAE_OK) s = alaei_st_writer_save(w, path);
    alaei_st_writer_destroy(w);
    return s;
}

/* Adds tensor t (named "direction.<name>", F32 [dim]) with its accuracy from the metadata. */
static alae_status load_one(alae_directions *d, const alaei_st_file *f, const alaei_st_tensor *t, const char *path) {
    const char *name = t->name + strlen(TENSOR_PREFIX);
    if (strncmp(t->name, TENSOR_PREFIX, strlen(TENSOR_PREFIX)) || t->ndim != 1 || t->shape[0] != d->dim)
        return alaei_fail(ALAE_E_FORMAT, "alae_directions_load", "%s: tensor '%s' is not a direction of %lld values", path,
                          t->name, (long long)d->dim);
    float *v = malloc((size_t)d->dim * sizeof(float));
    if (!v) return alaei_fail(ALAE_E_NOMEM, "alae_directions_load", "no memory");
    alae_status s = alaei_st_get_f32(f, t->name, 1, &d->dim, v);
    char key[128];
    snprintf(key, sizeof key, ACCURACY_PREFIX "%s", name);
    const char *acc = alaei_st_metadata_get(f, key);
    double accuracy = acc && strcmp(acc, "unknown") ? strtod(acc, NULL) : NAN;
    if (s == ALAE_OK) s = alae_directions_add(d, name, v, accuracy);
    if (s != ALAE_OK && s != ALAE_E_NOMEM)
        s = alaei_fail(ALAE_E_FORMAT, "alae_directions_load", "%s: direction '%s': %s", path, name, alae_last_error());
    free(v);
    return s;
}

ALAE_API alae_status alae_directions_load(const char *path, alae_directions **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path);
    ALAEI_CHECK_ARG(out);
    alaei_st_file *f = NULL;
    alae_status s = alaei_st_open(path, &f);
    if (s != ALAE_OK) return s;
    const char *format = alaei_st_metadata_get(f, "alae.format");
    if (!format || strcmp(format, FORMAT) || alaei_st_count(f) == 0) {
        alaei_st_free(f);
        return alaei_fail(ALAE_E_FORMAT, __func__, "%s is not a directions file (alae.format \"%s\" expected)", path, FORMAT);
    }
    const alaei_st_tensor *first = alaei_st_at(f, 0);
    alae_directions *d = NULL;
    s = alae_directions_create(first->ndim == 1 ? first->shape[0] : 0, &d);
    if (s != ALAE_OK) s = alaei_fail(ALAE_E_FORMAT, __func__, "%s: tensor '%s' is not a direction", path, first->name);
    for (size_t i = 0; s == ALAE_OK && i < alaei_st_count(f); i++) s = load_one(d, f, alaei_st_at(f, i), path);
    alaei_st_free(f);
    if (s != ALAE_OK) {
        alae_directions_destroy(d);
        return s;
    }
    *out = d;
    return ALAE_OK;
}
