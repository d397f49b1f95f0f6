/* Importing the authors' published checkpoints (torch.save of {"models": {...}, "auxiliary": ...})
 * into a libalae model: the networks' state dicts are matched to the model's parameters through
 * their reference names (ref_name), every shape is checked against the configuration, missing
 * and extra tensors are reported by name, and only then is anything allocated and read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/torch_file.h"
#include "model_internal.h"

#define FUNC "alae_model_import_pth"
#define REPORT_CAP 360

/* The reference's module prefix of a parameter and the checkpoint's network names. */
static const struct {
    const char *ref_prefix, *training, *smoothed;
} networks[] = {
    {"encoder.", "discriminator", "discriminator_s"},
    {"decoder.", "generator", "generator_s"},
    {"mapping_d.", "mapping_tl", "mapping_tl_s"},
    {"mapping_f.", "mapping_fl", "mapping_fl_s"},
};
#define N_NETWORKS 4
#define DLATENT_AVG "dlatent_avg"

/* ---- problems, collected into one message ---- */

typedef struct report {
    char text[REPORT_CAP];
    size_t len;
    int count, dropped;
} report;

static void note(report *r, const char *fmt, const char *a, const char *b, const char *c) {
    char line[1024];
    snprintf(line, sizeof line, fmt, a, b, c);
    r->count++;
    if (r->len + strlen(line) + 3 >= sizeof r->text - 40) {
        r->dropped++;
        return;
    }
    r->len += (size_t)snprintf(r->text + r->len, sizeof r->text - r->len, "%s%s", r->len ? "; " : "", line);
}

/* ---- the checkpoint's structure ---- */

static const char *str_of(const alaei_pk_value *v) {
    return v->kind == ALAEI_PK_STR && v->u.str.s && strlen(v->u.str.s) == v->u.str.len ? v->u.str.s : NULL;
}

static int known_network(const char *name) {
    if (!strcmp(name, DLATENT_AVG)) return 1;
    for (int i = 0; i < N_NETWORKS; i++)
        if (!strcmp(name, networks[i].training) || !strcmp(name, networks[i].smoothed)) return 1;
    return 0;
}

/* models/<net>: a dict of name -> tensor; anything else there (an object of any class included)
 * is refused with its path. */
static alae_status check_state_dict(const char *net, const alaei_pk_value *sd) {
    char what[160];
    if (sd->kind != ALAEI_PK_DICT) {
        alaei_pk_describe(sd, what, sizeof what);
        return alaei_fail(ALAE_E_FORMAT, FUNC, "models/%s is %s, not a state dict", net, what);
    }
    for (size_t i = 0; i + 1 < sd->u.seq.n; i += 2) {
        const alaei_pk_value *k = sd->u.seq.items[i], *v = sd->u.seq.items[i + 1];
        const char *key = str_of(k);
        if (!key) {
            alaei_pk_describe(k, what, sizeof what);
            return alaei_fail(ALAE_E_FORMAT, FUNC, "models/%s has a key that is %s, not a name", net, what);
        }
        if (v->kind != ALAEI_PK_TENSOR) {
            alaei_pk_describe(v, what, sizeof what);
            return alaei_fail(ALAE_E_FORMAT, FUNC, "models/%s/%s is %s; only tensors are read inside 'models'", net,
                              key, what);
        }
    }
    return ALAE_OK;
}

static alae_status find_models(const alaei_pk_value *root, const alaei_pk_value **models) {
    char what[160];
    if (root->kind != ALAEI_PK_DICT) {
        alaei_pk_describe(root, what, sizeof what);
        return alaei_fail(ALAE_E_FORMAT, FUNC, "the checkpoint holds %s, not a dict with 'models'", what);
    }
    *models = alaei_pk_dict_get(root, "models");
    if (!*models) return alaei_fail(ALAE_E_FORMAT, FUNC, "the checkpoint has no 'models' entry");
    if ((*models)->kind != ALAEI_PK_DICT) {
        alaei_pk_describe(*models, what, sizeof what);
        return alaei_fail(ALAE_E_FORMAT, FUNC, "'models' is %s, not a dict", what);
    }
    const alaei_pk_value *m = *models;
    for (size_t i = 0; i + 1 < m->u.seq.n; i += 2) {
        const char *net = str_of(m->u.seq.items[i]);
        if (!net) return alaei_fail(ALAE_E_FORMAT, FUNC, "'models' has a key that is not a name");
        alae_status s = check_state_dict(net, m->u.seq.items[i + 1]);
        if (s != ALAE_OK) return s;
    }
    return ALAE_OK;
}

/* Smoothed copies when asked and present; the training copies otherwise (with a warning when the
 * smoothed ones were asked for). */
static alae_status choose_copy(const alaei_pk_value *models, int32_t copy, int *smoothed, const char *path) {
    if (copy != ALAE_IMPORT_SMOOTHED && copy != ALAE_IMPORT_TRAINING)
        return alaei_fail(ALAE_E_INVALID_ARG, FUNC, "copy = %d is not ALAE_IMPORT_SMOOTHED or ALAE_IMPORT_TRAINING",
                          (int)copy);
    int any_smoothed = 0;
    for (int i = 0; i < N_NETWORKS; i++) any_smoothed |= alaei_pk_dict_get(models, networks[i].smoothed) != NULL;
    *smoothed = copy == ALAE_IMPORT_SMOOTHED && any_smoothed;
    if (copy == ALAE_IMPORT_SMOOTHED && !any_smoothed)
        alaei_log(ALAE_LOG_WARN, "%s: the checkpoint has no smoothed (_s) networks; importing the training copy", path);
    return ALAE_OK;
}

static int network_of(const alaei_param *p) {
    for (int i = 0; i < N_NETWORKS; i++)
        if (!strncmp(p->ref_name, networks[i].ref_prefix, strlen(networks[i].ref_prefix))) return i;
    return -1;
}

static const char *net_name(int i, int smoothed) { return smoothed ? networks[i].smoothed : networks[i].training; }

static void shape_text(char *buf, size_t cap, int32_t ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int32_t d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static int is_float(alaei_pk_dtype t) {
    return t == ALAEI_PKD_F32 || t == ALAEI_PKD_F64 || t == ALAEI_PKD_F16 || t == ALAEI_PKD_BF16;
}

static int same_shape(const alaei_pk_value *t, int32_t ndim, const int64_t *shape) {
    if (t->u.tensor->ndim != ndim) return 0;
    for (int32_t d = 0; d < ndim; d++)
        if (t->u.tensor->shape[d] != shape[d]) return 0;
    return 1;
}

/* The tensor of parameter p, or NULL (noting why). */
static const alaei_pk_value *param_tensor(const alaei_pk_value *models, const alaei_param *p, int smoothed,
                                          const char *preset, report *r) {
    int n = network_of(p);
    const char *net = net_name(n, smoothed), *key = p->ref_name + strlen(networks[n].ref_prefix);
    const alaei_pk_value *t = alaei_pk_dict_get(alaei_pk_dict_get(models, net), key);
    char path[200], want[96], have[96];
    snprintf(path, sizeof path, "models/%s/%s", net, key);
    if (!t) {
        note(r, "missing %s%s%s", path, "", "");
        return NULL;
    }
    shape_text(want, sizeof want, p->ndim, p->shape);
    if (!same_shape(t, p->ndim, p->shape) || !is_float(t->u.tensor->dtype)) {
        shape_text(have, sizeof have, t->u.tensor->ndim, t->u.tensor->shape);
        char line[300];
        snprintf(line, sizeof line, "%s is %s %s", path, alaei_pk_dtype_name(t->u.tensor->dtype), have);
        note(r, "%s; the preset '%s' needs float %s", line, preset, want);
        return NULL;
    }
    return t;
}

/* Whether key of network n is a parameter of m (or a fixed blur kernel, which libalae builds). */
static int expected_key(const alae_model *m, int n, const char *key) {
    size_t len = strlen(key);
    if (len > 12 && !strcmp(key + len - 12, ".blur.weight") && m->cfg.arch == ALAE_ARCH_STYLE) return 1;
    size_t pl = strlen(networks[n].ref_prefix);
    for (int32_t i = 0; i < m->n_params; i++)
        if (!strncmp(m->params[i].ref_name, networks[n].ref_prefix, pl) && !strcmp(m->params[i].ref_name + pl, key))
            return 1;
    return 0;
}

static void note_extras(const alae_model *m, const alaei_pk_value *models, int smoothed, report *r) {
    for (size_t i = 0; i + 1 < models->u.seq.n; i += 2) {
        const char *net = str_of(models->u.seq.items[i]);
        const alaei_pk_value *sd = models->u.seq.items[i + 1];
        if (!known_network(net)) {
            note(r, "extra network models/%s%s%s", net, "", "");
            continue;
        }
        int n = -1;
        for (int k = 0; k < N_NETWORKS; k++)
            if (!strcmp(net, net_name(k, smoothed))) n = k;
        for (size_t j = 0; j + 1 < sd->u.seq.n; j += 2) {
            const char *key = str_of(sd->u.seq.items[j]);
            int ok = n >= 0 ? expected_key(m, n, key) : strcmp(net, DLATENT_AVG) != 0 || !strcmp(key, "buff");
            if (!ok) note(r, "extra models/%s/%s%s", net, key, "");
        }
    }
}

/* models/dlatent_avg/buff: [style rows, L] (all rows equal in practice) or [L]. */
static const alaei_pk_value *dlatent_tensor(const alaei_pk_value *models, const alae_model *m, report *r) {
    const alaei_pk_value *t = alaei_pk_dict_get(alaei_pk_dict_get(models, DLATENT_AVG), "buff");
    int64_t L = m->cfg.latent_dim, rows_shape[2] = {alaei_style_count(&m->cfg), L};
    if (!t) {
        note(r, "missing models/%s/buff%s%s", DLATENT_AVG, "", "");
        return NULL;
    }
    if (!is_float(t->u.tensor->dtype) || !(same_shape(t, 2, rows_shape) || same_shape(t, 1, &L))) {
        char want[64], have[64];
        shape_text(have, sizeof have, t->u.tensor->ndim, t->u.tensor->shape);
        shape_text(want, sizeof want, 2, rows_shape);
        note(r, "models/dlatent_avg/buff is %s; the configuration needs %s or [latent]%s", have, want, "");
        return NULL;
    }
    return t;
}

/* ---- reading ---- */

static alae_status read_param(alaei_pth *f, alae_model *m, int32_t i, const alaei_pk_value *t, float *host) {
    alaei_param *p = &m->params[i];
    char what[200];
    snprintf(what, sizeof what, "%s (libalae %s)", p->ref_name, p->name);
    alae_status s = alaei_pth_read_f32(f, t, host, p->ref_name);
    if (s == ALAE_OK) s = alaei_check_finite(host, (size_t)p->numel, what, FUNC);
    if (s == ALAE_OK) s = alaei_device_upload(m->ctx, p->data, host, (size_t)p->numel);
    return s;
}

static alae_status read_dlatent(alaei_pth *f, alae_model *m, const alaei_pk_value *t, const char *path) {
    size_t n = (size_t)t->u.tensor->numel, L = (size_t)m->cfg.latent_dim;
    float *rows = malloc(n * sizeof *rows);
    alae_status s = rows ? alaei_pth_read_f32(f, t, rows, "models/dlatent_avg/buff")
                         : alaei_fail(ALAE_E_NOMEM, FUNC, "no memory");
    if (s == ALAE_OK) s = alaei_check_finite(rows, n, "models/dlatent_avg/buff", FUNC);
    if (s == ALAE_OK) {
        memcpy(m->dlatent_avg, rows, L * sizeof *rows);
        float worst = 0;
        for (size_t i = L; i < n; i++) worst = fmaxf(worst, fabsf(rows[i] - rows[i % L]));
        if (worst > 1e-5f)
            alaei_log(ALAE_LOG_WARN, "%s: the rows of dlatent_avg differ (by up to %g); using the first", path, worst);
    }
    free(rows);
    return s;
}

static alae_status read_all(alaei_pth *f, alae_model *m, const alaei_pk_value *const *tensors,
                            const alaei_pk_value *avg, const char *path) {
    int64_t largest = 1;
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->params[i].numel > largest) largest = m->params[i].numel;
    float *host = malloc((size_t)largest * sizeof *host);
    alae_status s = host ? ALAE_OK : alaei_fail(ALAE_E_NOMEM, FUNC, "no memory");
    for (int32_t i = 0; s == ALAE_OK && i < m->n_params; i++) s = read_param(f, m, i, tensors[i], host);
    free(host);
    return s == ALAE_OK ? read_dlatent(f, m, avg, path) : s;
}

/* Matches every parameter of the declared model m to a tensor of the file (tensors[i]), or fails
 * with the list of what is missing, misshaped or extra. */
static alae_status match_tensors(const alaei_pk_value *models, const alae_model *m, int smoothed,
                                 const alaei_pk_value **tensors, const alaei_pk_value **avg) {
    report r;
    memset(&r, 0, sizeof r);
    for (int32_t i = 0; i < m->n_params; i++) tensors[i] = param_tensor(models, &m->params[i], smoothed, m->cfg.preset, &r);
    *avg = dlatent_tensor(models, m, &r);
    note_extras(m, models, smoothed, &r);
    if (r.count == 0) return ALAE_OK;
    return alaei_fail(ALAE_E_FORMAT, FUNC, "the checkpoint does not fit the configuration '%s' (%d problem%s): %s%s",
                      m->cfg.preset, r.count, r.count == 1 ? "" : "s", r.text, r.dropped ? "; ..." : "");
}

static alae_status import(alae_context *ctx, alaei_pth *f, const alae_model_config *cfg, int32_t copy,
                          const char *path, alae_model **out) {
    const alaei_pk_value *models = NULL, *avg = NULL;
    int smoothed = 0;
    alae_model *m = NULL;
    alae_status s = find_models(alaei_pth_root(f), &models);
    if (s == ALAE_OK) s = choose_copy(models, copy, &smoothed, path);
    if (s == ALAE_OK) s = alaei_model_declare(cfg, &m);
    const alaei_pk_value **tensors = m ? calloc((size_t)m->n_params, sizeof *tensors) : NULL;
    if (s == ALAE_OK && !tensors) s = alaei_fail(ALAE_E_NOMEM, FUNC, "no memory");
    if (s == ALAE_OK) s = match_tensors(models, m, smoothed, tensors, &avg);
    if (s == ALAE_OK) s = alaei_model_allocate_params(ctx, m);
    if (s == ALAE_OK) s = read_all(f, m, tensors, avg, path);
    free(tensors);
    if (s != ALAE_OK) {
        alae_model_destroy(m);
        return s;
    }
    *out = m;
    return ALAE_OK;
}

ALAE_API alae_status alae_model_import_pth(alae_context *ctx, const char *path_utf8, const alae_model_config *cfg,
                                           int32_t copy, alae_model **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(cfg);
    ALAEI_CHECK_ARG(out);
    alaei_pth *f = NULL;
    alae_status s = alaei_pth_open(path_utf8, &f);
    if (s == ALAE_OK) s = import(ctx, f, cfg, copy, path_utf8, out);
    alaei_pth_close(f);
    if (s != ALAE_OK && s != ALAE_E_INVALID_ARG) {
        char why[1600];
        snprintf(why, sizeof why, "%s", alae_last_error());
        const char *tail = strncmp(why, FUNC ": ", strlen(FUNC) + 2) ? why : why + strlen(FUNC) + 2;
        return alaei_fail(s, FUNC, "%s: %s", path_utf8, tail);
    }
    return s;
}
