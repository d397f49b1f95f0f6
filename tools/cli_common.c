/* alae command-line tool: option parsing, messages and the model and data helpers. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---- messages ---- */

static void escape_controls(char *dst, size_t cap, const char *text);

/* The message with control characters escaped: file names (the user's, or in the library's
 * messages) must not forge or hide lines of the output. */
static void vreport(const char *cmd, const char *fmt, va_list ap) {
    char msg[8192], shown[4 * sizeof msg + 8];
    vsnprintf(msg, sizeof msg, fmt, ap);
    escape_controls(shown, sizeof shown, msg);
    fprintf(stderr, "alae %s: %s", cmd, shown);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'alae %s --help')\n", cmd);
    return CLI_USAGE;
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_RUNTIME;
}

/* What CLI_E_NONFINITE stands for: set by check_finite. */
static char nonfinite_message[256];

int cli_fail(const char *cmd, alae_status s) {
    if (s == CLI_E_NONFINITE) return cli_error(cmd, "%s", nonfinite_message);
    const char *msg = alae_last_error();
    return cli_error(cmd, "%s", msg && *msg ? msg : alae_status_string(s));
}

int cli_fail_file(const char *cmd, alae_status s, const char *path) {
    if (s == CLI_E_NONFINITE) return cli_fail(cmd, s);
    const char *msg = alae_last_error();
    if (!msg || !*msg) msg = alae_status_string(s);
    if (strstr(msg, path)) return cli_error(cmd, "%s", msg);
    return cli_error(cmd, "%s: %s", path, msg);
}

/* Copies text into dst (cap bytes) with control characters as \xNN. */
static void escape_controls(char *dst, size_t cap, const char *text) {
    size_t at = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (; *p && at + 8 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f) at += (size_t)snprintf(dst + at, cap - at, "\\x%02x", *p);
        else dst[at++] = (char)*p;
    }
    if (*p) at += (size_t)snprintf(dst + at, cap - at, "...");
    dst[at] = '\0';
}

const char *cli_shown(const char *text) {
    static char ring[4][4096 + 16];
    static int next = 0;
    char *buf = ring[next];
    next = (next + 1) % 4;
    escape_controls(buf, sizeof ring[0], text ? text : "(null)");
    return buf;
}

/* ---- options ---- */

static int is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

static cli_opt *find_opt(cli_opt *opts, int n_opts, const char *name, size_t len) {
    for (int i = 0; i < n_opts; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) return &opts[i];
    return NULL;
}

static int parse_int(const char *cmd, const cli_opt *o, const char *text) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    int digits = (text[0] >= '0' && text[0] <= '9') || (text[0] == '-' && text[1] >= '0' && text[1] <= '9');
    if (!digits || *end || errno == ERANGE)
        return cli_usage_error(cmd, "%s: '%s' is not an integer", o->name, text);
    /* compared as integers: as doubles, 2^53 + 1 rounds to 2^53 and passes a bound of 2^53 (the
     * bounds are integers within +-2^62, exact as doubles and as long long) */
    if (v < (long long)o->lo || v > (long long)o->hi)
        return cli_usage_error(cmd, "%s: %lld is out of range (%.0f..%.0f)", o->name, v, o->lo, o->hi);
    *(int64_t *)o->dest = v;
    return CLI_GO;
}

static int parse_real(const char *cmd, const cli_opt *o, const char *text) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    int starts_ok = text[0] && !strchr(" \t\n", text[0]);
    if (!starts_ok || end == text || *end || !isfinite(v))
        return cli_usage_error(cmd, "%s: '%s' is not a finite number", o->name, text);
    if (!(v > o->lo && v <= o->hi))
        return cli_usage_error(cmd, "%s: %g is out of range (more than %g, at most %g)", o->name, v, o->lo, o->hi);
    *(double *)o->dest = v;
    return CLI_GO;
}

static int take_value(const char *cmd, cli_opt *o, const char *text) {
    switch (o->kind) {
    case CLI_STR:
        if (!*text) return cli_usage_error(cmd, "%s: the value is empty", o->name);
        *(const char **)o->dest = text;
        return CLI_GO;
    case CLI_INT: return parse_int(cmd, o, text);
    case CLI_REAL: return parse_real(cmd, o, text);
    case CLI_LIST: {
        cli_list *l = o->dest;
        if (l->n >= CLI_LIST_MAX) return cli_usage_error(cmd, "%s: more than %d given", o->name, CLI_LIST_MAX);
        l->items[l->n++] = text;
        return CLI_GO;
    }
    case CLI_FLAG: break;
    }
    return cli_usage_error(cmd, "%s takes no value", o->name);
}

/* Takes argv[*i] (and its value); advances *i past what it used. */
static int take_option(const char *cmd, int argc, char **argv, int *i, cli_opt *opts, int n_opts) {
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0 || !arg[2]) return cli_usage_error(cmd, "unexpected argument '%s'", arg);
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    cli_opt *o = find_opt(opts, n_opts, arg, len);
    if (!o) return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, arg);
    if (o->given && o->kind != CLI_LIST) return cli_usage_error(cmd, "%s is given twice", o->name);
    o->given = 1;
    (*i)++;
    if (o->kind == CLI_FLAG) {
        if (eq) return cli_usage_error(cmd, "%s takes no value", o->name);
        *(int *)o->dest = 1;
        return CLI_GO;
    }
    if (eq) return take_value(cmd, o, eq + 1);
    if (*i >= argc) return cli_usage_error(cmd, "%s needs a value", o->name);
    return take_value(cmd, o, argv[(*i)++]);
}

/* ---- the device options, shared by every command that runs a model ---- */

static const char *device_name = "cpu";
static int device_tf32 = 0;

static const char device_usage[] =
    "\n"
    "device options:\n"
    "  --device D     cpu (the default), cuda (the first GPU) or cuda:N; a GPU loads the CUDA\n"
    "                 backend module (libalae-cuda.so; see ALAE_CUDA_BACKEND)\n"
    "  --tf32         on a GPU: matrix products on TF32 tensor cores (faster, about 3 decimal\n"
    "                 digits per product; the default is exact float32)\n";

static int command_uses_device(const char *cmd) {
    return strcmp(cmd, "info") != 0 && strcmp(cmd, "version") != 0 && strcmp(cmd, "report") != 0;
}

int cli_parse(const char *cmd, const char *usage, int argc, char **argv, cli_opt *opts, int n_opts) {
    int with_device = command_uses_device(cmd);
    for (int i = 0; i < argc; i++)
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            if (with_device) fputs(device_usage, stdout);
            return CLI_OK;
        }
    /* the command's own options plus, for commands that run a model, --device and --tf32 */
    cli_opt all[64 + 2];
    if (n_opts > 64) return cli_error(cmd, "too many options");
    memcpy(all, opts, (size_t)n_opts * sizeof *opts);
    int n_all = n_opts;
    if (with_device) {
        all[n_all++] = (cli_opt){"--device", CLI_STR, &device_name, 0, 0, 0};
        all[n_all++] = (cli_opt){"--tf32", CLI_FLAG, &device_tf32, 0, 0, 0};
    }
    for (int i = 0; i < argc;) {
        int rc = take_option(cmd, argc, argv, &i, all, n_all);
        if (rc != CLI_GO) return rc;
    }
    memcpy(opts, all, (size_t)n_opts * sizeof *opts); /* the given flags */
    return CLI_GO;
}

int cli_given(const cli_opt *opts, int n_opts, const char *name) {
    for (int i = 0; i < n_opts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].given;
    return 0;
}

int cli_require(const char *cmd, const cli_opt *opts, int n_opts, const char *const *names, int n) {
    for (int k = 0; k < n; k++)
        if (!cli_given(opts, n_opts, names[k])) return cli_usage_error(cmd, "%s is required", names[k]);
    return CLI_GO;
}

/* ---- outputs ---- */

static const char *kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

int cli_check_output(const char *cmd, const char *out_option, const char *out, const cli_input *inputs, int n) {
    struct stat o;
    if (stat(out, &o) != 0) return CLI_GO; /* a new file (or a dangling link, which the rename replaces) */
    if (!S_ISREG(o.st_mode))
        return cli_error(cmd, "%s %s is %s: refusing to replace it with a regular file", out_option, cli_shown(out),
                         kind_of(o.st_mode));
    for (int i = 0; i < n; i++) {
        struct stat in;
        if (inputs[i].path && stat(inputs[i].path, &in) == 0 && in.st_dev == o.st_dev && in.st_ino == o.st_ino)
            return cli_error(cmd, "%s %s is the same file as %s %s: refusing to overwrite an input", out_option,
                             cli_shown(out), inputs[i].option, cli_shown(inputs[i].path));
    }
    return CLI_GO;
}

/* ---- models ---- */

const char *const cli_setting_names[] = {"arch",        "latent_dim",     "mapping_layers", "hidden",
                                         "image_size",  "channels",       "net_size",       "data_range",
                                         "g_slope",     "e_slope",        "e_out_slope",    "d_layers",
                                         "start_channels", "max_channels"};
const int cli_setting_count = (int)(sizeof cli_setting_names / sizeof cli_setting_names[0]);

static alae_status get_int(const alae_model_config *cfg, int32_t key, int32_t *out) {
    double v;
    alae_status s = alae_model_config_get(cfg, key, &v);
    if (s == ALAE_OK) *out = (int32_t)v;
    return s;
}

alae_status cli_config_geometry(const alae_model_config *cfg, cli_geom *g) {
    alae_status s = get_int(cfg, ALAE_CFG_LATENT_DIM, &g->latent);
    if (s == ALAE_OK) s = get_int(cfg, ALAE_CFG_CHANNELS, &g->channels);
    if (s == ALAE_OK) s = get_int(cfg, ALAE_CFG_IMAGE_SIZE, &g->size);
    if (s == ALAE_OK) s = get_int(cfg, ALAE_CFG_DATA_RANGE, &g->range);
    g->full = g->size;
    g->lo = g->range ? -1.0f : 0.0f;
    g->hi = 1.0f;
    return s;
}

alae_status cli_model_geometry(const alae_model *model, cli_geom *g) {
    alae_model_config *cfg;
    alae_status s = alae_model_get_config(model, &cfg);
    if (s != ALAE_OK) return s;
    s = cli_config_geometry(cfg, g);
    alae_model_config_destroy(cfg);
    double side; /* the image side at the model's level of detail (the configured one for MLPs) */
    if (s == ALAE_OK && alae_model_get(model, ALAE_MODEL_RESOLUTION, &side) == ALAE_OK) g->size = (int32_t)side;
    return s;
}

int64_t cli_image_floats(const cli_geom *g) { return (int64_t)g->channels * g->size * g->size; }

const char *cli_device_name(void) { return device_name; }

/* The rank of this process on its machine when an MPI launcher started it, else -1. */
static int local_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && v[0] >= '0' && v[0] <= '9') return atoi(v);
    }
    return -1;
}

alae_status cli_context(int64_t threads, alae_context **out) {
    int32_t device = ALAE_DEVICE_CPU;
    alae_status s = alae_device_find(device_name, &device);
    if (s != ALAE_OK) return s;
    int rank = local_rank(); /* --device cuda under mpirun: GPU (local rank mod GPUs) */
    if (!strcmp(device_name, "cuda") && rank > 0) {
        int32_t count = 1, index;
        char name[32];
        for (;; count++) {
            snprintf(name, sizeof name, "cuda:%d", (int)count);
            if (count >= 4096 || alae_device_find(name, &index) != ALAE_OK) break;
        }
        snprintf(name, sizeof name, "cuda:%d", rank % (int)count);
        if ((s = alae_device_find(name, &device)) != ALAE_OK) return s;
    }
    alae_context *ctx;
    if ((s = alae_context_create(device, &ctx)) != ALAE_OK) return s;
    if (threads > 0) s = alae_context_set_param(ctx, ALAE_CTX_THREADS, threads);
    if (s == ALAE_OK && device_tf32) s = alae_context_set_param(ctx, ALAE_CTX_TF32, 1);
    if (s != ALAE_OK) {
        alae_context_destroy(ctx);
        return s;
    }
    *out = ctx;
    return ALAE_OK;
}

int cli_load_model(const char *cmd, const char *path, int64_t threads, alae_context **ctx, alae_model **model) {
    alae_status s = cli_context(threads, ctx);
    if (s != ALAE_OK) return cli_fail(cmd, s);
    s = alae_model_load(*ctx, path, model);
    if (s != ALAE_OK) {
        int rc = cli_fail_file(cmd, s, path);
        alae_context_destroy(*ctx);
        *ctx = NULL;
        return rc;
    }
    return CLI_GO;
}

/* ---- batched inference ---- */

static int64_t item_floats(int32_t ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

static alae_status make_tensor(alae_context *ctx, int64_t n, int32_t ndim, const int64_t *dims, alae_tensor **out) {
    int64_t shape[ALAE_TENSOR_MAX_DIMS] = {n};
    for (int32_t i = 0; i < ndim && i + 1 < ALAE_TENSOR_MAX_DIMS; i++) shape[i + 1] = dims[i];
    return alae_tensor_create(ctx, ALAE_DTYPE_F32, ndim + 1, shape, out);
}

/* One batch: in [n, in_dims] -> fn -> out [n, out_dims]. */
static alae_status apply_batch(alae_context *ctx, alae_model *model, cli_model_fn fn, int64_t n, const float *in,
                               const cli_shape *in_shape, float *out, const cli_shape *out_shape) {
    alae_tensor *x = NULL, *y = NULL;
    alae_status s = make_tensor(ctx, n, in_shape->ndim, in_shape->dims, &x);
    if (s == ALAE_OK) s = make_tensor(ctx, n, out_shape->ndim, out_shape->dims, &y);
    if (s == ALAE_OK) s = alae_tensor_write(x, in, (size_t)(n * item_floats(in_shape->ndim, in_shape->dims)) * sizeof(float));
    if (s == ALAE_OK) s = fn(model, x, y);
    if (s == ALAE_OK) s = alae_tensor_read(y, out, (size_t)(n * item_floats(out_shape->ndim, out_shape->dims)) * sizeof(float));
    alae_tensor_destroy(x);
    alae_tensor_destroy(y);
    return s;
}

/* CLI_E_NONFINITE (with its message) if one of the n items of len floats at values is not finite;
 * first: the index of values' first item among the command's outputs. */
static alae_status check_finite(const float *values, int64_t n, int64_t len, int64_t first) {
    for (int64_t i = 0; i < n * len; i++)
        if (!isfinite(values[i])) {
            snprintf(nonfinite_message, sizeof nonfinite_message,
                     "the model's output %lld holds a non-finite value (%g): its parameters overflow (a corrupt "
                     "file or a diverged training run?)", (long long)(first + i / len), (double)values[i]);
            return CLI_E_NONFINITE;
        }
    return ALAE_OK;
}

int64_t cli_batch_size(int64_t item_floats_) {
    int64_t b = item_floats_ > 0 ? CLI_BATCH_FLOATS / item_floats_ : CLI_BATCH;
    return b < 1 ? 1 : b > CLI_BATCH ? CLI_BATCH : b;
}

alae_status cli_apply(alae_context *ctx, alae_model *model, cli_model_fn fn, int64_t n, const float *in,
                      const cli_shape *in_shape, float *out, const cli_shape *out_shape) {
    int64_t in_len = item_floats(in_shape->ndim, in_shape->dims);
    int64_t out_len = item_floats(out_shape->ndim, out_shape->dims);
    int64_t batch = cli_batch_size(in_len > out_len ? in_len : out_len);
    alae_status s = ALAE_OK;
    for (int64_t at = 0; s == ALAE_OK && at < n; at += batch) {
        int64_t k = n - at < batch ? n - at : batch;
        s = apply_batch(ctx, model, fn, k, in + at * in_len, in_shape, out + at * out_len, out_shape);
        if (s == ALAE_OK) s = check_finite(out + at * out_len, k, out_len, at);
    }
    return s;
}

cli_shape cli_latent_shape(const cli_geom *g) {
    cli_shape sh = {1, {g->latent, 0, 0}};
    return sh;
}

cli_shape cli_image_shape(const cli_geom *g) {
    cli_shape sh = {3, {g->channels, g->size, g->size}};
    return sh;
}

/* ---- data ---- */

/* Reads images start..start+n-1 of ds into a new tensor *x [n, C, S, S]. */
static alae_status read_batch(alae_context *ctx, const alae_dataset *ds, const cli_geom *g, int64_t start, int64_t n,
                              alae_tensor **x) {
    int64_t *idx = cli_alloc(n, sizeof *idx);
    if (!idx) return ALAE_E_NOMEM;
    for (int64_t i = 0; i < n; i++) idx[i] = start + i;
    cli_shape sh = cli_image_shape(g);
    sh.dims[1] = sh.dims[2] = g->full;
    alae_status s = make_tensor(ctx, n, sh.ndim, sh.dims, x);
    if (s == ALAE_OK) s = alae_dataset_read(ds, idx, n, g->range, *x);
    free(idx);
    return s;
}

alae_status cli_read_images(alae_context *ctx, const alae_dataset *ds, const cli_geom *g, int64_t start, int64_t n,
                            float *host) {
    alae_tensor *x = NULL;
    alae_status s = ALAE_OK;
    float *full = host;
    if (g->full != g->size && !(full = cli_alloc(n, (size_t)g->channels * (size_t)g->full * (size_t)g->full * sizeof(float))))
        return ALAE_E_NOMEM;
    s = read_batch(ctx, ds, g, start, n, &x);
    if (s == ALAE_OK) s = alae_tensor_read(x, full, (size_t)(n * g->channels * g->full * g->full) * sizeof(float));
    alae_tensor_destroy(x);
    if (full != host) {
        if (s == ALAE_OK) {
            cli_pool(full, n, g->channels, g->full, g->size);
            memcpy(host, full, (size_t)(n * cli_image_floats(g)) * sizeof(float));
        }
        free(full);
    }
    return s;
}

void cli_pool(float *images, int64_t n, int32_t channels, int32_t from, int32_t to) {
    if (to >= from || to < 1) return;
    int64_t f = from / to;
    float inv = 1.0f / (float)(f * f);
    for (int64_t p = 0; p < n * channels; p++) {
        const float *src = images + p * from * from;
        float *dst = images + p * to * to; /* dst never overtakes src: to * to <= from * from */
        for (int64_t y = 0; y < to; y++)
            for (int64_t x = 0; x < to; x++) {
                float acc = 0.0f;
                for (int64_t dy = 0; dy < f; dy++)
                    for (int64_t dx = 0; dx < f; dx++) acc += src[(y * f + dy) * from + x * f + dx];
                dst[y * to + x] = acc * inv;
            }
    }
}

int cli_is_image_path(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
    const char *dot = strrchr(path, '.');
    if (!dot) return 0;
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".PNG", ".JPG", ".JPEG", ".BMP"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcmp(dot, exts[i])) return 1;
    return 0;
}

int cli_open_dataset(const char *cmd, const char *path, const cli_geom *g, int32_t folder_flags, alae_dataset **ds) {
    alae_status s = cli_is_image_path(path)
                        ? alae_dataset_open_folder(path, g->channels, g->full, folder_flags, ds)
                        : alae_dataset_open_idx(path, NULL, ds);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, path);
    int rc = cli_check_data(cmd, *ds, path, g);
    if (rc != CLI_GO) {
        alae_dataset_destroy(*ds);
        *ds = NULL;
    }
    return rc;
}

static alae_status encode_batch(alae_context *ctx, alae_model *model, const alae_dataset *ds, const cli_geom *g,
                                int64_t start, int64_t n, float *codes) {
    alae_tensor *x = NULL, *w = NULL;
    cli_shape sh = cli_latent_shape(g), xs = cli_image_shape(g);
    float *host = cli_alloc(n, (size_t)cli_image_floats(g) * sizeof(float));
    alae_status s = host ? cli_read_images(ctx, ds, g, start, n, host) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = make_tensor(ctx, n, xs.ndim, xs.dims, &x);
    if (s == ALAE_OK) s = alae_tensor_write(x, host, (size_t)(n * cli_image_floats(g)) * sizeof(float));
    free(host);
    if (s == ALAE_OK) s = make_tensor(ctx, n, sh.ndim, sh.dims, &w);
    if (s == ALAE_OK) s = alae_model_encode(model, x, w);
    if (s == ALAE_OK) s = alae_tensor_read(w, codes, (size_t)(n * g->latent) * sizeof(float));
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
    return s;
}

alae_status cli_encode_dataset(alae_context *ctx, alae_model *model, const alae_dataset *ds, const cli_geom *g,
                               int64_t n, float *codes) {
    alae_status s = ALAE_OK;
    int64_t batch = cli_batch_size(cli_image_floats(g));
    for (int64_t at = 0; s == ALAE_OK && at < n; at += batch) {
        int64_t k = n - at < batch ? n - at : batch;
        s = encode_batch(ctx, model, ds, g, at, k, codes + at * g->latent);
        if (s == ALAE_OK) s = check_finite(codes + at * g->latent, k, g->latent, at);
    }
    return s;
}

alae_status cli_normal_latents(alae_context *ctx, uint64_t seed, int64_t n, int32_t latent, float *host) {
    int64_t shape[2] = {n, latent};
    alae_tensor *z = NULL;
    alae_status s = alae_context_set_param(ctx, ALAE_CTX_SEED, (int64_t)seed);
    if (s == ALAE_OK) s = alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, shape, &z);
    if (s == ALAE_OK) s = alae_tensor_fill_normal(z, 0.0f, 1.0f);
    if (s == ALAE_OK) s = alae_tensor_read(z, host, (size_t)(n * latent) * sizeof(float));
    alae_tensor_destroy(z);
    return s;
}

/* ---- image grids ---- */

alae_status cli_write_grid(const char *path, const float *images, int64_t n, const cli_geom *g, int32_t columns) {
    if (columns <= 0) columns = (int32_t)ceil(sqrt((double)n));
    if (columns < 1) columns = 1;
    return alae_image_grid_write_png(path, images, n, g->channels, g->size, g->size, g->lo, g->hi, columns);
}

alae_status cli_write_pairs(const char *path, const float *originals, const float *reconstructions, int64_t n,
                            const cli_geom *g, int32_t columns) {
    if (columns > n) columns = (int32_t)n;
    int64_t rows = (n + columns - 1) / columns, len = cli_image_floats(g), padded = rows * columns;
    float *grid = cli_alloc(padded + n, (size_t)len * sizeof(float));
    if (!grid) return ALAE_E_NOMEM;
    memcpy(grid, originals, (size_t)(n * len) * sizeof(float));
    for (int64_t k = n * len; k < padded * len; k++) grid[k] = g->lo;
    memcpy(grid + padded * len, reconstructions, (size_t)(n * len) * sizeof(float));
    alae_status s = cli_write_grid(path, grid, padded + n, g, columns);
    free(grid);
    return s;
}

/* ---- system ---- */

int cli_mkdirs(const char *path) {
    size_t len = strlen(path);
    char *p = malloc(len + 1);
    if (!p) return ENOMEM;
    memcpy(p, path, len + 1);
    int err = 0;
    for (size_t i = 1; i <= len && !err; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char saved = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) err = errno;
        else if (stat(p, &st) != 0) err = errno;
        else if (!S_ISDIR(st.st_mode)) err = ENOTDIR;
        p[i] = saved;
    }
    free(p);
    return err;
}

int cli_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int cli_replace_begin(const char *cmd, const char *path, cli_replace *rp) {
    memset(rp, 0, sizeof *rp);
    size_t len = strlen(path) + 32;
    rp->path = strdup(path);
    rp->tmp = malloc(len);
    if (!rp->path || !rp->tmp) {
        cli_replace_abort(rp);
        return cli_error(cmd, "no memory");
    }
    snprintf(rp->tmp, len, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(rp->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd >= 0) rp->fp = fdopen(fd, "w");
    if (!rp->fp) {
        int e = errno;
        if (fd >= 0) close(fd);
        cli_replace_abort(rp);
        return cli_error(cmd, "cannot write %s: %s", cli_shown(path), strerror(e));
    }
    return CLI_GO;
}

int cli_replace_commit(const char *cmd, cli_replace *rp, int keep_open) {
    int ok = fflush(rp->fp) == 0 && fsync(fileno(rp->fp)) == 0;
    int e = errno;
    if (ok && rename(rp->tmp, rp->path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        int rc = cli_error(cmd, "cannot write %s: %s", cli_shown(rp->path), strerror(e));
        cli_replace_abort(rp);
        return rc;
    }
    if (!keep_open) fclose(rp->fp);
    rp->fp = keep_open ? rp->fp : NULL;
    free(rp->path);
    free(rp->tmp);
    rp->path = rp->tmp = NULL;
    return CLI_GO;
}

void cli_replace_abort(cli_replace *rp) {
    if (rp->fp) {
        fclose(rp->fp);
        rp->fp = NULL;
    }
    if (rp->tmp && rp->path) unlink(rp->tmp);
    free(rp->path);
    free(rp->tmp);
    rp->path = rp->tmp = NULL;
}

/* The process id of a temporary file of `base` ("<base>.tmp.<pid>"), or 0 if name is not one. */
static long temp_pid(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
    const char *digits = name + n + 5;
    long pid = 0;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9' || p - digits >= 9) return 0;
        pid = pid * 10 + (*p - '0');
    }
    return pid;
}

/* As the library's writers do (docs/reliability.md 6.9): removes "<path>.tmp.<pid>" files that a
 * killed process left (regular files, pid not ours and no longer running). Best effort. */
static void remove_stale_temporaries(const char *path) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char dir[4096];
    int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) : snprintf(dir, sizeof dir, ".");
    DIR *d = n > 0 && (size_t)n < sizeof dir ? opendir(slash == path ? "/" : dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        long pid = temp_pid(e->d_name, base);
        struct stat st;
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d) closedir(d);
}

int cli_write_atomically(const char *path, const void *data, size_t len) {
    remove_stale_temporaries(path);
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) return ENOMEM;
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666), err = fd < 0 ? errno : 0;
    for (size_t done = 0; !err && done < len;) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0 && errno != EINTR) err = errno;
        if (n > 0) done += (size_t)n;
    }
    if (fd >= 0 && !err && fsync(fd) != 0) err = errno;
    if (fd >= 0 && close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err && fd >= 0) unlink(tmp);
    free(tmp);
    return err;
}

char *cli_read_regular(const char *path, size_t max, size_t *len, int *cut) {
    *len = 0;
    if (cut) *cut = 0;
    /* O_NONBLOCK: opening a FIFO without a writer would block; cleared once the type is known */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0) return NULL;
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return NULL;
    }
    size_t cap = st.st_size > 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
    if (cap > max + 1) cap = max + 1;
    char *buf = malloc(cap);
    while (buf) {
        if (*len + 1 >= cap) { /* the file grew as it was read */
            size_t grown_cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *grown = grown_cap > cap ? realloc(buf, grown_cap) : NULL;
            if (!grown) break; /* at max: what was read */
            buf = grown;
            cap = grown_cap;
        }
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            free(buf);
            buf = NULL;
        } else if (n == 0) {
            break;
        } else {
            *len += (size_t)n;
        }
    }
    if (buf && cut && *len >= max) {
        char probe;
        *cut = read(fd, &probe, 1) > 0;
    }
    close(fd);
    if (buf) buf[*len] = '\0';
    return buf;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *cli_alloc(int64_t n, size_t size) {
    if (n <= 0 || size == 0 || (uint64_t)n > SIZE_MAX / size) return NULL;
    return malloc((size_t)n * size);
}

int cli_check_data(const char *cmd, const alae_dataset *ds, const char *path, const cli_geom *g) {
    int32_t channels = 0, height = 0, width = 0;
    alae_status s = alae_dataset_image_shape(ds, &channels, &height, &width);
    if (s != ALAE_OK) return cli_fail_file(cmd, s, path);
    if (channels != g->channels)
        return cli_error(cmd, "%s has %d-channel images but the model has %d channels", path, (int)channels,
                         (int)g->channels);
    if (height > g->full || width > g->full)
        return cli_error(cmd, "%s has %dx%d images, larger than the model's image_size %d", path, (int)height,
                         (int)width, (int)g->full);
    return CLI_GO;
}
