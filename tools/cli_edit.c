/* alae command-line tool: editing along directions in W — directions (fit attribute directions
 * from labelled images, or import them), edit (move one image's code along a direction) and
 * traverse (grids along latent dimensions or directions). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ROWS 64
#define MAX_ATTRIBUTES 1024
#define CSV_LINE 65536

/* ---- labels: IDX1 classes, float32 .npy columns, CSV columns ---- */

/* Attributes: names and positive[attr * n + i] (the attribute holds for image i). */
typedef struct attributes {
    int64_t n;
    int count;
    char names[MAX_ATTRIBUTES][64];
    int32_t *positive;
} attributes;

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int add_attribute(const char *cmd, attributes *at, const char *name) {
    if (at->count == MAX_ATTRIBUTES) return cli_error(cmd, "more than %d attributes", MAX_ATTRIBUTES);
    snprintf(at->names[at->count], sizeof at->names[0], "%s", name);
    for (char *c = at->names[at->count]; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-') *c = '_';
    at->count++;
    return CLI_GO;
}

/* Class labels (one-vs-rest): one attribute "class_<k>" per distinct label. */
static int classes_to_attributes(const char *cmd, const int32_t *labels, int64_t n, attributes *at) {
    int32_t distinct[MAX_ATTRIBUTES];
    int count = 0;
    for (int64_t i = 0; i < n; i++) {
        int k = 0;
        while (k < count && distinct[k] != labels[i]) k++;
        if (k < count) continue;
        if (count == MAX_ATTRIBUTES) return cli_error(cmd, "more than %d classes", MAX_ATTRIBUTES);
        distinct[count++] = labels[i];
    }
    at->positive = cli_alloc((int64_t)count * n, sizeof(int32_t));
    if (!at->positive) return cli_error(cmd, "no memory");
    for (int k = 0; k < count; k++) {
        char name[64];
        snprintf(name, sizeof name, "class_%d", (int)distinct[k]);
        int rc = add_attribute(cmd, at, name);
        if (rc != CLI_GO) return rc;
        for (int64_t i = 0; i < n; i++) at->positive[k * n + i] = labels[i] == distinct[k];
    }
    return CLI_GO;
}

static int labels_from_idx(const char *cmd, const char *images, const char *labels, attributes *at) {
    alae_dataset *ds = NULL;
    alae_status s = alae_dataset_open_idx(images, labels, &ds);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, labels);
    int64_t n = alae_dataset_count(ds);
    int32_t *l = cli_alloc(n, sizeof(int32_t));
    for (int64_t i = 0; l && s == ALAE_OK && i < n; i++) s = alae_dataset_label(ds, i, &l[i]);
    alae_dataset_destroy(ds);
    int rc = !l ? cli_error(cmd, "no memory") : s != ALAE_OK ? cli_fail_file(cmd, s, labels) : CLI_GO;
    at->n = n;
    if (rc == CLI_GO) rc = classes_to_attributes(cmd, l, n, at);
    free(l);
    return rc;
}

/* float32 .npy [N] (class labels when they are whole numbers with more than two values, else one
 * attribute "attr_0", positive when > 0) or [N, A] (attribute j "attr_<j>", positive when > 0). */
static int labels_from_npy(const char *cmd, const char *path, attributes *at) {
    int32_t ndim = 0;
    int64_t shape[8];
    float *v = NULL;
    alae_status s = alae_npy_read_f32(path, &ndim, shape, &v);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, path);
    int rc = CLI_GO;
    if (ndim < 1 || ndim > 2 || shape[0] < 1 || (ndim == 2 && (shape[1] < 1 || shape[1] > MAX_ATTRIBUTES)))
        rc = cli_error(cmd, "%s: labels must be [N] or [N, A] with A <= %d", path, MAX_ATTRIBUTES);
    int64_t n = rc == CLI_GO ? shape[0] : 0, cols = ndim == 2 ? shape[1] : 1;
    at->n = n;
    int whole = 1, two_valued = 1;
    for (int64_t i = 0; rc == CLI_GO && ndim == 1 && i < n; i++) {
        whole &= v[i] == floorf(v[i]) && fabsf(v[i]) < 1e9f;
        two_valued &= v[i] == v[0] || v[i] == 0 || v[i] == 1 || v[i] == -1;
    }
    if (rc == CLI_GO && ndim == 1 && whole && !two_valued) {
        int32_t *l = cli_alloc(n, sizeof(int32_t));
        for (int64_t i = 0; l && i < n; i++) l[i] = (int32_t)v[i];
        rc = l ? classes_to_attributes(cmd, l, n, at) : cli_error(cmd, "no memory");
        free(l);
    } else if (rc == CLI_GO) {
        at->positive = cli_alloc(n * cols, sizeof(int32_t));
        if (!at->positive) rc = cli_error(cmd, "no memory");
        for (int64_t j = 0; rc == CLI_GO && j < cols; j++) {
            char name[64];
            snprintf(name, sizeof name, "attr_%lld", (long long)j);
            rc = add_attribute(cmd, at, name);
            for (int64_t i = 0; rc == CLI_GO && i < n; i++) at->positive[j * n + i] = v[i * cols + j] > 0;
        }
    }
    alae_free(v);
    return rc;
}

/* Splits a CSV line in place at commas (no quoting); returns the number of fields. */
static int split_csv(char *line, char **fields, int cap) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < cap;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* CSV: a header row of attribute names, then one row per image; a value > 0 is positive. */
static int labels_from_csv(const char *cmd, const char *path, attributes *at) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_error(cmd, "cannot open %s", path);
    char *line = malloc(CSV_LINE), *fields[MAX_ATTRIBUTES];
    if (!line) {
        fclose(f);
        return cli_error(cmd, "no memory");
    }
    int rc = CLI_GO;
    int cols = 0;
    if (rc == CLI_GO && fgets(line, CSV_LINE, f)) cols = split_csv(line, fields, MAX_ATTRIBUTES);
    for (int j = 0; rc == CLI_GO && j < cols; j++) rc = add_attribute(cmd, at, fields[j][0] ? fields[j] : "unnamed");
    if (rc == CLI_GO && cols == 0) rc = cli_error(cmd, "%s: no header row", path);
    int64_t cap = 0;
    while (rc == CLI_GO && fgets(line, CSV_LINE, f)) {
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        if (split_csv(line, fields, MAX_ATTRIBUTES) != cols) {
            rc = cli_error(cmd, "%s: row %lld does not have %d values", path, (long long)at->n + 2, cols);
            break;
        }
        if (at->n == cap) {
            cap = cap ? 2 * cap : 1024;
            int32_t *grown = realloc(at->positive, (size_t)(cap * cols) * sizeof(int32_t));
            if (!grown) {
                rc = cli_error(cmd, "no memory");
                break;
            }
            at->positive = grown;
        }
        for (int j = 0; rc == CLI_GO && j < cols; j++) {
            char *end;
            double v = strtod(fields[j], &end);
            if (end == fields[j] || !isfinite(v)) rc = cli_error(cmd, "%s: row %lld: '%s' is not a number", path, (long long)at->n + 2, fields[j]);
            at->positive[at->n * cols + j] = v > 0;
        }
        at->n++;
    }
    fclose(f);
    free(line);
    if (rc != CLI_GO) return rc;
    /* rows were stored image-major; make them attribute-major */
    int32_t *t = cli_alloc(at->n * cols, sizeof(int32_t));
    if (!t) return cli_error(cmd, "no memory");
    for (int64_t i = 0; i < at->n; i++)
        for (int j = 0; j < cols; j++) t[j * at->n + i] = at->positive[i * cols + j];
    free(at->positive);
    at->positive = t;
    return CLI_GO;
}

static int read_labels(const char *cmd, const char *images, const char *labels, attributes *at) {
    memset(at, 0, sizeof *at);
    if (ends_with(labels, ".npy")) return labels_from_npy(cmd, labels, at);
    if (ends_with(labels, ".csv")) return labels_from_csv(cmd, labels, at);
    return labels_from_idx(cmd, images, labels, at);
}

/* ---- directions ---- */

static const char directions_usage[] =
    "usage: alae directions --model M --out dirs.safetensors [--data IMAGES --labels L] [--n N]\n"
    "                       [--from FILE.npy:NAME ...] [--threads T]\n"
    "\n"
    "Fits one direction in W per attribute: encodes the images, fits a linear classifier on 4 of\n"
    "every 5 codes and stores its boundary's unit normal (towards the attribute) with the name\n"
    "and the accuracy on the held-out fifth, printed as 'name accuracy' lines. Labels: IDX1 class\n"
    "labels (one direction per class, one-vs-rest: class_<k>), a float32 .npy [N] (class labels)\n"
    "or [N, A] (attr_<j>, present when > 0), or a CSV file with a header row of names and one\n"
    "column per attribute (present when > 0). --from adds directions made elsewhere (a float32\n"
    ".npy of latent_dim values, e.g. the authors' FFHQ directions) under NAME.\n"
    "\n"
    "  --model M        a model file (its encoder and latent size)\n"
    "  --out FILE       the directions file to write (safetensors)\n"
    "  --data IMAGES    IDX images, an image folder or one image, in the order of the labels\n"
    "  --labels L       their labels: IDX1, .npy or .csv\n"
    "  --n N            use only the first N images (all)\n"
    "  --from FILE:NAME a direction from a .npy file, repeatable\n"
    "  --threads T      worker threads, 1..256 (all CPUs)\n";

/* Adds FILE.npy:NAME to the set. */
static int import_direction(const char *cmd, const char *spec, alae_directions *set) {
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) return cli_usage_error(cmd, "--from '%s' is not FILE.npy:NAME", spec);
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(colon - spec), spec);
    int32_t ndim = 0;
    int64_t shape[8];
    float *v = NULL;
    alae_status s = alae_npy_read_f32(path, &ndim, shape, &v);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, path);
    int64_t numel = 1;
    for (int32_t i = 0; i < ndim; i++) numel *= shape[i];
    int rc = CLI_GO;
    if (numel != alae_directions_dim(set))
        rc = cli_error(cmd, "%s holds %lld values; the model's W has %lld", path, (long long)numel,
                       (long long)alae_directions_dim(set));
    else if ((s = alae_directions_add(set, colon + 1, v, NAN)) != ALAE_OK)
        rc = cli_fail(cmd, s);
    alae_free(v);
    return rc;
}

static int fit_attributes(const char *cmd, alae_directions *set, const float *codes, int64_t n, int32_t dim,
                          const attributes *at) {
    float *d = cli_alloc(dim, sizeof(float));
    if (!d) return cli_error(cmd, "no memory");
    int rc = CLI_GO;
    for (int k = 0; rc == CLI_GO && k < at->count; k++) {
        double acc = 0;
        alae_status s = alae_direction_fit(codes, at->positive + (int64_t)k * at->n, n, dim, d, &acc);
        if (s == ALAE_OK) s = alae_directions_add(set, at->names[k], d, acc);
        if (s != ALAE_OK) rc = cli_error(cmd, "attribute %s: %s", at->names[k], alae_last_error());
        else printf("%s %.4f\n", at->names[k], acc);
    }
    free(d);
    return rc;
}

static int fit_from_data(const char *cmd, alae_context *ctx, alae_model *model, const cli_geom *g, const char *data,
                         const char *labels, int64_t limit, alae_directions *set) {
    attributes at;
    int rc = read_labels(cmd, data, labels, &at);
    alae_dataset *ds = NULL;
    if (rc == CLI_GO) rc = cli_open_dataset(cmd, data, g, 0, &ds);
    int64_t n = ds ? alae_dataset_count(ds) : 0;
    if (rc == CLI_GO && n != at.n)
        rc = cli_error(cmd, "%s holds %lld images but %s %lld labels", data, (long long)n, labels, (long long)at.n);
    if (limit > 0 && limit < n) n = limit;
    float *codes = rc == CLI_GO ? cli_alloc(n, (size_t)g->latent * sizeof(float)) : NULL;
    if (rc == CLI_GO && !codes) rc = cli_error(cmd, "no memory");
    alae_status s = ALAE_OK;
    if (rc == CLI_GO && (s = cli_encode_dataset(ctx, model, ds, g, n, codes)) != ALAE_OK) rc = cli_fail(cmd, s);
    if (rc == CLI_GO) {
        attributes first = at;
        first.n = n; /* the first n labels of each attribute row */
        int32_t *rows = cli_alloc((int64_t)at.count * n, sizeof(int32_t));
        for (int k = 0; rows && k < at.count; k++) memcpy(rows + (int64_t)k * n, at.positive + (int64_t)k * at.n, (size_t)n * sizeof(int32_t));
        first.positive = rows;
        rc = rows ? fit_attributes(cmd, set, codes, n, g->latent, &first) : cli_error(cmd, "no memory");
        free(rows);
    }
    free(codes);
    free(at.positive);
    alae_dataset_destroy(ds);
    return rc;
}

int cli_cmd_directions(int argc, char **argv) {
    const char *cmd = "directions", *model_path = NULL, *out = NULL, *data = NULL, *labels = NULL;
    int64_t n = 0, threads = 0;
    cli_list from = {{0}, 0};
    cli_opt opts[] = {
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--out", CLI_STR, &out, 0, 0, 0},
        {"--data", CLI_STR, &data, 0, 0, 0},        {"--labels", CLI_STR, &labels, 0, 0, 0},
        {"--n", CLI_INT, &n, 10, 1e12, 0},          {"--from", CLI_LIST, &from, 0, 0, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0},
    };
    const char *required[] = {"--model", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, directions_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 2);
    if (rc == CLI_GO && (data != NULL) != (labels != NULL)) rc = cli_usage_error(cmd, "--data and --labels go together");
    if (rc == CLI_GO && !data && from.n == 0) rc = cli_usage_error(cmd, "give --data and --labels, or --from");
    if (rc != CLI_GO) return rc;
    alae_context *ctx = NULL;
    alae_model *model = NULL;
    alae_directions *set = NULL;
    cli_geom g;
    if ((rc = cli_load_model(cmd, model_path, threads, &ctx, &model)) != CLI_GO) return rc;
    alae_status s = cli_model_geometry(model, &g);
    if (s == ALAE_OK) s = alae_directions_create(g.latent, &set);
    if (s != ALAE_OK) rc = cli_fail(cmd, s);
    if (rc == CLI_GO && data) rc = fit_from_data(cmd, ctx, model, &g, data, labels, n, set);
    for (int i = 0; rc == CLI_GO && i < from.n; i++) rc = import_direction(cmd, from.items[i], set);
    if (rc == CLI_GO) rc = (s = alae_directions_save(set, out)) == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    alae_directions_destroy(set);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}

/* ---- edit and traverse ---- */

/* A grid: `rows` unit vectors in W, each walked over `steps` amounts from lo to hi around base. */
typedef struct walk {
    int rows;
    float *vectors; /* [rows, latent] */
    double lo, hi;
    int64_t steps;
} walk;

/* "A" (from -A to A) or "LO..HI". */
static int parse_amount(const char *cmd, const char *text, double *lo, double *hi) {
    const char *dots = strstr(text, "..");
    char *end;
    if (!dots) {
        double a = strtod(text, &end);
        if (end != text && *end == '\0' && isfinite(a) && a > 0 && a <= 1e6) {
            *lo = -a;
            *hi = a;
            return CLI_GO;
        }
    } else {
        char first[64];
        snprintf(first, sizeof first, "%.*s", (int)(dots - text < 63 ? dots - text : 63), text);
        double a = strtod(first, &end);
        int ok = end != first && *end == '\0';
        double b = strtod(dots + 2, &end);
        ok = ok && end != dots + 2 && *end == '\0';
        if (ok && isfinite(a) && isfinite(b) && a < b && fabs(a) <= 1e6 && fabs(b) <= 1e6) {
            *lo = a;
            *hi = b;
            return CLI_GO;
        }
    }
    return cli_usage_error(cmd, "--amount '%s' is not A (> 0) or LO..HI", text);
}

/* Adds the direction of "FILE:NAME" as a row of the walk. */
static int add_direction_row(const char *cmd, const char *spec, int32_t latent, walk *wk) {
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) return cli_usage_error(cmd, "--direction '%s' is not FILE:NAME", spec);
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(colon - spec), spec);
    alae_directions *set = NULL;
    int64_t index = 0;
    alae_status s = alae_directions_load(path, &set);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, path);
    int rc = CLI_GO;
    if (alae_directions_dim(set) != latent)
        rc = cli_error(cmd, "%s has directions of %lld values; the model's W has %d", path,
                       (long long)alae_directions_dim(set), (int)latent);
    else if ((s = alae_directions_find(set, colon + 1, &index)) != ALAE_OK ||
             (s = alae_directions_get(set, index, NULL, wk->vectors + (int64_t)wk->rows * latent, NULL)) != ALAE_OK)
        rc = cli_fail_file(cmd, s, path);
    else
        wk->rows++;
    alae_directions_destroy(set);
    return rc;
}

/* Adds the unit vectors of the latent dimensions in "0,3,7" as rows. */
static int add_dimension_rows(const char *cmd, const char *list, int32_t latent, walk *wk) {
    const char *p = list;
    while (*p) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || k < 0 || k >= latent || (*end && *end != ','))
            return cli_usage_error(cmd, "--dims '%s' is not a list of dimensions 0..%d", list, (int)latent - 1);
        if (wk->rows == MAX_ROWS) return cli_usage_error(cmd, "more than %d rows", MAX_ROWS);
        float *v = wk->vectors + (int64_t)wk->rows++ * latent;
        memset(v, 0, (size_t)latent * sizeof(float));
        v[k] = 1.0f;
        p = *end ? end + 1 : end;
    }
    return CLI_GO;
}

typedef struct walk_args {
    const char *model, *image, *dims, *amount, *out;
    cli_list directions;
    int64_t steps, invert, index, seed, threads;
} walk_args;

/* The base code: E(image) (inverted with `invert` steps when > 0), or F(z) of a seeded z.
 * Prints the error and returns CLI_RUNTIME on failure, CLI_GO on success. */
static int base_code(const char *cmd, alae_context *ctx, alae_model *model, const cli_geom *g, const walk_args *a,
                     float *code, float *original) {
    cli_shape zs = cli_latent_shape(g);
    if (!a->image) {
        float *z = cli_alloc(1, (size_t)g->latent * sizeof(float));
        alae_status s = z ? cli_normal_latents(ctx, (uint64_t)a->seed, 1, g->latent, z) : ALAE_E_NOMEM;
        if (s == ALAE_OK) s = cli_apply(ctx, model, alae_model_map, 1, z, &zs, code, &zs);
        free(z);
        return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
    }
    alae_dataset *ds = NULL;
    int rc = cli_open_dataset(cmd, a->image, g, 0, &ds);
    if (rc != CLI_GO) return rc;
    if (a->index >= alae_dataset_count(ds)) {
        rc = cli_error(cmd, "--index %lld: %s holds %lld images", (long long)a->index, a->image,
                       (long long)alae_dataset_count(ds));
        alae_dataset_destroy(ds);
        return rc;
    }
    alae_status s = cli_read_images(ctx, ds, g, a->index, 1, original);
    alae_dataset_destroy(ds);
    if (s == ALAE_OK) s = cli_encode_codes(ctx, model, g, 1, original, a->invert, code);
    return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
}

/* Images G(base + t v_r) for every row r and amount t; with an original, it heads each row. */
static alae_status render_walk(alae_context *ctx, alae_model *model, const cli_geom *g, const float *base,
                               const walk *wk, const float *original, const char *out) {
    int64_t cols = wk->steps + (original ? 1 : 0), n = wk->rows * cols, per = cli_image_floats(g);
    float *codes = cli_alloc(n, (size_t)g->latent * sizeof(float)), *images = cli_alloc(n, (size_t)per * sizeof(float));
    alae_status s = codes && images ? ALAE_OK : ALAE_E_NOMEM;
    for (int r = 0; s == ALAE_OK && r < wk->rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t step = original ? c - 1 : c;
            double t = step < 0 ? 0 : wk->steps == 1 ? wk->lo : wk->lo + (wk->hi - wk->lo) * (double)step / (double)(wk->steps - 1);
            for (int32_t k = 0; k < g->latent; k++)
                codes[(r * cols + c) * g->latent + k] = (float)(base[k] + t * wk->vectors[(int64_t)r * g->latent + k]);
        }
    cli_shape ws = cli_latent_shape(g), xs = cli_image_shape(g);
    if (s == ALAE_OK) s = cli_apply(ctx, model, alae_model_generate, n, codes, &ws, images, &xs);
    for (int r = 0; s == ALAE_OK && original && r < wk->rows; r++)
        memcpy(images + r * cols * per, original, (size_t)per * sizeof(float));
    if (s == ALAE_OK) s = cli_write_grid(out, images, n, g, (int32_t)cols);
    free(codes);
    free(images);
    return s;
}


static int run_walk(const char *cmd, const walk_args *a) {
    alae_context *ctx = NULL;
    alae_model *model = NULL;
    cli_geom g;
    walk wk = {0, NULL, 0, 0, a->steps};
    int rc = parse_amount(cmd, a->amount, &wk.lo, &wk.hi);
    if (rc == CLI_GO) rc = cli_load_model(cmd, a->model, a->threads, &ctx, &model);
    if (rc != CLI_GO) return rc;
    alae_status s = cli_model_geometry(model, &g);
    wk.vectors = cli_alloc(MAX_ROWS, (size_t)g.latent * sizeof(float));
    float *base = cli_alloc(1, (size_t)g.latent * sizeof(float)), *original = cli_alloc(1, (size_t)cli_image_floats(&g) * sizeof(float));
    if (s == ALAE_OK && (!wk.vectors || !base || !original)) s = ALAE_E_NOMEM;
    if (s != ALAE_OK) rc = cli_fail(cmd, s);
    if (rc == CLI_GO && a->directions.n > MAX_ROWS) rc = cli_usage_error(cmd, "more than %d rows", MAX_ROWS);
    for (int i = 0; rc == CLI_GO && i < a->directions.n; i++) rc = add_direction_row(cmd, a->directions.items[i], g.latent, &wk);
    if (rc == CLI_GO && a->dims) rc = add_dimension_rows(cmd, a->dims, g.latent, &wk);
    if (rc == CLI_GO && wk.rows == 0) rc = cli_usage_error(cmd, "give --direction or --dims");
    if (rc == CLI_GO && (s = alae_context_set_param(ctx, ALAE_CTX_SEED, a->seed)) != ALAE_OK) rc = cli_fail(cmd, s);
    if (rc == CLI_GO) rc = base_code(cmd, ctx, model, &g, a, base, original);
    if (rc == CLI_GO)
        rc = (s = render_walk(ctx, model, &g, base, &wk, a->image ? original : NULL, a->out)) == ALAE_OK ? CLI_OK
                                                                                                    : cli_fail(cmd, s);
    free(wk.vectors);
    free(base);
    free(original);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}

static const char edit_usage[] =
    "usage: alae edit --model M --image X --direction dirs.safetensors:NAME --out strip.png\n"
    "                 [--amount 3] [--steps 7] [--invert N] [--index K] [--seed S] [--threads T]\n"
    "\n"
    "Moves an image's code along a direction in W and writes a strip: the image, then G(w + t d)\n"
    "for STEPS amounts t from -A to A (or LO..HI). w is E(x), or the code after N steps of\n"
    "inversion (alae invert) with --invert N.\n"
    "\n"
    "  --model M        a model file\n"
    "  --image X        an image file, an image folder or IDX images (image --index of them)\n"
    "  --direction F:N  direction N of the directions file F ('alae directions')\n"
    "  --out FILE       the PNG strip to write\n"
    "  --amount A       the range of t: A (from -A to A, > 0) or LO..HI (3)\n"
    "  --steps S        images in the strip besides the original, 1..64 (7)\n"
    "  --invert N       invert the image with N steps first, 0..100000 (0: E(x))\n"
    "  --index K        which image of --image, 0-based (0)\n"
    "  --seed S         StyleALAE: seed of the noise, 0..2^53 (0)\n"
    "  --threads T      worker threads, 1..256 (all CPUs)\n";

int cli_cmd_edit(int argc, char **argv) {
    walk_args a;
    memset(&a, 0, sizeof a);
    a.amount = "3";
    a.steps = 7;
    const char *direction = NULL;
    cli_opt opts[] = {
        {"--model", CLI_STR, &a.model, 0, 0, 0},      {"--image", CLI_STR, &a.image, 0, 0, 0},
        {"--direction", CLI_STR, &direction, 0, 0, 0}, {"--out", CLI_STR, &a.out, 0, 0, 0},
        {"--amount", CLI_STR, &a.amount, 0, 0, 0},    {"--steps", CLI_INT, &a.steps, 1, 64, 0},
        {"--invert", CLI_INT, &a.invert, 0, 100000, 0}, {"--index", CLI_INT, &a.index, 0, 1e12, 0},
        {"--seed", CLI_INT, &a.seed, 0, CLI_SEED_MAX, 0}, {"--threads", CLI_INT, &a.threads, 1, 256, 0},
    };
    const char *required[] = {"--model", "--image", "--direction", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("edit", edit_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require("edit", opts, nopt, required, 4);
    if (rc != CLI_GO) return rc;
    a.directions.items[0] = direction;
    a.directions.n = 1;
    return run_walk("edit", &a);
}

static const char traverse_usage[] =
    "usage: alae traverse --model M (--dims 0,1,2 | --direction F:NAME ...) --out grid.png\n"
    "                     [--image X [--invert N] [--index K] | --seed S] [--amount 3] [--steps 7]\n"
    "                     [--threads T]\n"
    "\n"
    "Writes a traversal grid: one row per latent dimension of W (--dims, unit steps along that\n"
    "axis) or per direction (--direction, repeatable), STEPS images from -A to A (or LO..HI) around\n"
    "a code: E(image) (after N steps of inversion with --invert; the image heads each row) or F(z)\n"
    "of a latent drawn from --seed.\n"
    "\n"
    "  --model M        a model file\n"
    "  --dims LIST      latent dimensions, comma-separated, 0..latent_dim-1\n"
    "  --direction F:N  direction N of the directions file F, repeatable\n"
    "  --out FILE       the PNG grid to write\n"
    "  --image X        an image file, an image folder or IDX images (image --index of them)\n"
    "  --invert N       invert the image with N steps first, 0..100000 (0: E(x))\n"
    "  --index K        which image of --image, 0-based (0)\n"
    "  --seed S         seed of the latent (without --image) and the noise, 0..2^53 (0)\n"
    "  --amount A       the range: A (from -A to A, > 0) or LO..HI (3)\n"
    "  --steps S        images per row, 1..64 (7)\n"
    "  --threads T      worker threads, 1..256 (all CPUs)\n";

int cli_cmd_traverse(int argc, char **argv) {
    walk_args a;
    memset(&a, 0, sizeof a);
    a.amount = "3";
    a.steps = 7;
    cli_opt opts[] = {
        {"--model", CLI_STR, &a.model, 0, 0, 0},        {"--dims", CLI_STR, &a.dims, 0, 0, 0},
        {"--direction", CLI_LIST, &a.directions, 0, 0, 0}, {"--out", CLI_STR, &a.out, 0, 0, 0},
        {"--image", CLI_STR, &a.image, 0, 0, 0},        {"--invert", CLI_INT, &a.invert, 0, 100000, 0},
        {"--index", CLI_INT, &a.index, 0, 1e12, 0},     {"--seed", CLI_INT, &a.seed, 0, CLI_SEED_MAX, 0},
        {"--amount", CLI_STR, &a.amount, 0, 0, 0},      {"--steps", CLI_INT, &a.steps, 1, 64, 0},
        {"--threads", CLI_INT, &a.threads, 1, 256, 0},
    };
    const char *required[] = {"--model", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("traverse", traverse_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require("traverse", opts, nopt, required, 2);
    if (rc == CLI_GO && a.invert && !a.image) rc = cli_usage_error("traverse", "--invert needs --image");
    return rc == CLI_GO ? run_walk("traverse", &a) : rc;
}
