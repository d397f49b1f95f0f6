/* alae command-line tool: helpers shared by the commands. Everything here uses the public API
 * only (the tool links the shared libalae, which exports nothing but alae_*). */
#ifndef ALAE_CLI_H
#define ALAE_CLI_H

#include <alae/alae.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
#define CLI_OK 0
#define CLI_RUNTIME 1 /* the library or a file failed */
#define CLI_USAGE 2   /* a bad command line */
#define CLI_GO (-1)   /* cli_parse: carry on with the command */

/* ---- options ---- */

typedef enum cli_kind {
    CLI_STR,  /* dest: const char ** */
    CLI_INT,  /* dest: int64_t *, lo <= value <= hi */
    CLI_REAL, /* dest: double *, lo < value <= hi, finite */
    CLI_FLAG, /* dest: int *, set to 1; takes no value */
    CLI_LIST  /* dest: cli_list *, repeatable */
} cli_kind;

#define CLI_LIST_MAX 64
typedef struct cli_list {
    const char *items[CLI_LIST_MAX];
    int n;
} cli_list;

typedef struct cli_opt {
    const char *name; /* "--steps" */
    cli_kind kind;
    void *dest;
    double lo, hi;
    int given; /* set by cli_parse */
} cli_opt;

/* Parses "--name value" and "--name=value" into opts. Prints `usage` to stdout and returns 0 when
 * argv holds --help or -h; prints a usage error and returns CLI_USAGE for anything it cannot
 * take; returns CLI_GO otherwise. */
int cli_parse(const char *cmd, const char *usage, int argc, char **argv, cli_opt *opts, int n_opts);
/* Whether the option called name was given (0 for unknown names). */
int cli_given(const cli_opt *opts, int n_opts, const char *name);
/* Checks that each of the n names (options of kind CLI_STR) was given; CLI_GO or CLI_USAGE. */
int cli_require(const char *cmd, const cli_opt *opts, int n_opts, const char *const *names, int n);

/* ---- messages ---- */

/* "alae <cmd>: <message> (see 'alae <cmd> --help')" on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* "alae <cmd>: <message>" on stderr; returns CLI_RUNTIME. */
int cli_error(const char *cmd, const char *fmt, ...);
/* "alae <cmd>: <alae_last_error()>" on stderr (the status text if the message is empty); returns
 * CLI_RUNTIME. Call it right after the failing library call. */
int cli_fail(const char *cmd, alae_status s);
/* Like cli_fail, for a failure about the file at path: names the file when the library's message
 * does not (some of its messages about malformed files omit the path). */
int cli_fail_file(const char *cmd, alae_status s, const char *path);

/* A file name (or any text) for a message: control characters (newlines, escape sequences)
 * shown as \xNN, so that a hostile name cannot forge or hide lines of the output. Returns one of
 * 4 rotating static buffers (up to 4 names per message; long names are cut with "..."). */
const char *cli_shown(const char *text);

/* ---- outputs ---- */

/* An input of a command: its option ("--model") and path (NULL: not given). */
typedef struct cli_input {
    const char *option, *path;
} cli_input;

/* Refuses to write `out` (given as out_option) when it is one of the inputs (same device and
 * inode, through symbolic links; never a comparison of strings) or an existing file that is not
 * a regular file (a device node, a FIFO, a directory, or a symbolic link to one), which the atomic
 * rename would replace: prints the error and returns CLI_RUNTIME, else CLI_GO. */
int cli_check_output(const char *cmd, const char *out_option, const char *out, const cli_input *inputs, int n);

/* ---- models and data ---- */

/* What the commands need to know about a model's images and latents. */
typedef struct cli_geom {
    int32_t latent;   /* latent_dim */
    int32_t channels; /* image channels */
    int32_t size;     /* image side (a model's: at its level of detail) */
    int32_t full;     /* the configured image_size (data is read at this size, then pooled to size) */
    int32_t range;    /* ALAE_CFG_DATA_RANGE: 0 = [0, 1], 1 = [-1, 1] */
    float lo, hi;     /* the pixel range for image grids */
} cli_geom;

alae_status cli_config_geometry(const alae_model_config *cfg, cli_geom *g);
alae_status cli_model_geometry(const alae_model *model, cli_geom *g);
/* Floats in one image / one latent of the geometry. */
int64_t cli_image_floats(const cli_geom *g);

/* A context on the device of --device (the CPU unless given; with --tf32 set on it) with `threads`
 * workers (0: the library's default). */
alae_status cli_context(int64_t threads, alae_context **out);
/* The --device name ("cpu" by default). */
const char *cli_device_name(void);
/* A context plus the model loaded from path; prints the error and returns CLI_RUNTIME on failure
 * (both out-parameters then stay NULL), CLI_GO on success. */
int cli_load_model(const char *cmd, const char *path, int64_t threads, alae_context **ctx, alae_model **model);

/* A model entry point: alae_model_encode, alae_model_sample, ... */
typedef alae_status (*cli_model_fn)(alae_model *, const alae_tensor *, alae_tensor *);

/* The shape of one item (one latent, one image) without the batch dimension. */
typedef struct cli_shape {
    int32_t ndim;
    int64_t dims[3];
} cli_shape;
cli_shape cli_latent_shape(const cli_geom *g);
cli_shape cli_image_shape(const cli_geom *g);

/* The status cli_apply and cli_encode_dataset return when the model's outputs hold a NaN or an
 * infinity (a model whose weights overflow): cli_fail and cli_fail_file print what and where. */
#define CLI_E_NONFINITE ((alae_status)-1000)

/* Runs fn over n items in batches of cli_batch_size(the larger item): in holds n items of
 * in_shape, out receives n items of out_shape (all finite, else CLI_E_NONFINITE). ctx must be
 * the model's context (the public API has no getter for it). */
#define CLI_BATCH 256
/* Items per batch: CLI_BATCH, fewer for large images (at most CLI_BATCH_FLOATS floats of input
 * or output per batch, at least one item: one 1024 px RGB image, 21 of 256 px), so that a batch's
 * plan stays small at any resolution. */
#define CLI_BATCH_FLOATS (1 << 22)
int64_t cli_batch_size(int64_t item_floats);
alae_status cli_apply(alae_context *ctx, alae_model *model, cli_model_fn fn, int64_t n, const float *in,
                      const cli_shape *in_shape, float *out, const cli_shape *out_shape);
/* Reads images start..start+n-1 of ds into host [n, C, S, S] in the geometry's data range, S =
 * g->size: read at g->full, then average-pooled when the model runs at a lower level. */
alae_status cli_read_images(alae_context *ctx, const alae_dataset *ds, const cli_geom *g, int64_t start, int64_t n,
                            float *host);
/* Average-pools n images [n, C, from, from] in place to [n, C, to, to] (to divides from). */
void cli_pool(float *images, int64_t n, int32_t channels, int32_t from, int32_t to);
/* Whether path names an image folder or an image file (.png, .jpg, .jpeg, .bmp) rather than IDX. */
int cli_is_image_path(const char *path);
/* Opens path as an image folder / image file (decoded to the geometry's channels at g->full, with
 * alae_dataset_open_folder's flags: ALAE_FOLDER_SKIP_BAD, ALAE_FOLDER_NO_CROP) or as an IDX file;
 * prints the error and returns CLI_RUNTIME on failure, CLI_GO on success. */
int cli_open_dataset(const char *cmd, const char *path, const cli_geom *g, int32_t folder_flags, alae_dataset **ds);
/* Checks that the images of ds fit the model (channels, at most image_size per side; smaller
 * ones are centred and padded); prints the error and returns CLI_RUNTIME if not, else CLI_GO. */
int cli_check_data(const char *cmd, const alae_dataset *ds, const char *path, const cli_geom *g);
/* Encodes images 0..n-1 of ds (in batches of CLI_BATCH) into codes [n, latent] (all finite,
 * else CLI_E_NONFINITE). */
alae_status cli_encode_dataset(alae_context *ctx, alae_model *model, const alae_dataset *ds, const cli_geom *g,
                               int64_t n, float *codes);
/* Codes w [n, latent] of images [n, C, S, S]: E(x), or with invert_steps > 0 the codes of
 * alae_model_invert in W (learning rate 0.1) from E(x). */
alae_status cli_encode_codes(alae_context *ctx, alae_model *model, const cli_geom *g, int64_t n, const float *images,
                             int64_t invert_steps, float *codes);
/* Draws n standard normal latents [n, latent] from a context seeded with seed. */
alae_status cli_normal_latents(alae_context *ctx, uint64_t seed, int64_t n, int32_t latent, float *host);

/* Writes n images as a grid with `columns` columns (0: ceil(sqrt(n))). */
alae_status cli_write_grid(const char *path, const float *images, int64_t n, const cli_geom *g, int32_t columns);
/* Writes n originals above their n reconstructions, `columns` per row; the originals' last row is
 * padded with blank tiles so that each reconstruction sits in the column of its original. */
alae_status cli_write_pairs(const char *path, const float *originals, const float *reconstructions, int64_t n,
                            const cli_geom *g, int32_t columns);

/* ---- inference options (cli_infer_opts.c) ---- */

/* --noise off|batch|sample -> ALAE_NOISE_*; NULL gives dflt. CLI_GO, or CLI_USAGE with the
 * message. */
int cli_parse_noise(const char *cmd, const char *noise, int dflt, int *mode);
/* Sets the model's noise mode (a no-op for the MLP, which has no noise); CLI_GO or CLI_RUNTIME. */
int cli_set_noise(const char *cmd, alae_model *model, int mode);
/* Folder flags for --crop: the centre square (crop) or the whole image resized. */
int32_t cli_crop_flags(int crop);
/* Whether path ends in .npy (any case): write float arrays there instead of a PNG. */
int cli_is_npy_path(const char *path);
/* Writes n images [n, C, S, S] as a float32 .npy (path ends in .npy) or as a PNG grid with
 * `columns` columns (0: ceil(sqrt(n))). */
alae_status cli_write_images(const char *path, const float *images, int64_t n, const cli_geom *g, int32_t columns);

/* ---- system ---- */

/* Creates a directory and its parents (like mkdir -p); 0 on success, else an errno value. */
int cli_mkdirs(const char *path);
/* Whether a file exists. */
int cli_exists(const char *path);
/* Atomic replacement of a small file the tool writes itself (log.csv, train-run.txt), like the
 * library's: cli_replace_begin opens "<path>.tmp.<pid>" (fp), cli_replace_commit flushes, fsyncs
 * and renames it over path; fp stays open on the renamed file when keep_open is set (log.csv
 * appends to it), else it is closed. Both print the error and return CLI_RUNTIME on failure (the
 * temporary file is removed and path left as it was), else CLI_GO. */
typedef struct cli_replace {
    char *path, *tmp;
    FILE *fp;
} cli_replace;
int cli_replace_begin(const char *cmd, const char *path, cli_replace *rp);
int cli_replace_commit(const char *cmd, cli_replace *rp, int keep_open);
/* Removes the temporary file of a begun replacement (nothing if committed). */
void cli_replace_abort(cli_replace *rp);
/* Writes len bytes to path through "<path>.tmp.<pid>", fsynced and renamed over path; 0 on
 * success, else an errno value (path then left as it was). First removes the temporaries of
 * path that killed processes left (report.html, progress/ grids, eval's JSON). */
int cli_write_atomically(const char *path, const void *data, size_t len);
/* The contents of the regular file at path (never a FIFO, a device or a directory), at most max
 * bytes, NUL-terminated (len excludes the NUL); *cut (if not NULL) is set when the file holds
 * more. NULL if it is missing, not a regular file or unreadable, or on out-of-memory. */
char *cli_read_regular(const char *path, size_t max, size_t *len, int *cut);
/* Monotonic seconds. */
double cli_now(void);
/* malloc of n * size bytes with overflow checks; NULL on failure. */
void *cli_alloc(int64_t n, size_t size);

/* ---- commands ---- */

int cli_cmd_train(int argc, char **argv);
int cli_cmd_sample(int argc, char **argv);
int cli_cmd_encode(int argc, char **argv);
int cli_cmd_decode(int argc, char **argv);
int cli_cmd_reconstruct(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_mix(int argc, char **argv);
int cli_cmd_interpolate(int argc, char **argv);
int cli_cmd_import(int argc, char **argv);
int cli_cmd_invert(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_directions(int argc, char **argv);
int cli_cmd_edit(int argc, char **argv);
int cli_cmd_traverse(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);

/* The setting names alae_model_config_key knows (alae_model.h lists them; the API cannot). */
extern const char *const cli_setting_names[];
extern const int cli_setting_count;

/* The largest seed the library accepts everywhere (the trainer stores it as a double). */
#define CLI_SEED_MAX 9007199254740992.0

#endif /* ALAE_CLI_H */
