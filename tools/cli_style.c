/* alae command-line tool: StyleALAE inference — style mixing (mix) and latent interpolation
 * (interpolate). Both encode real images, work on w and the per-layer styles, and write grids. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct style_session {
    alae_context *ctx;
    alae_model *model;
    cli_geom g;
    int32_t rows; /* ALAE_MODEL_STYLE_COUNT */
} style_session;

static void close_session(style_session *ss) {
    alae_model_destroy(ss->model);
    alae_context_destroy(ss->ctx);
}

/* Loads the model and applies --seed (noise), --noise (noise_mode) and --truncation. */
static int open_session(const char *cmd, const char *path, int64_t threads, int64_t seed, int noise_mode,
                        const cli_opt *opts, int n, double psi, int64_t cutoff, style_session *ss) {
    memset(ss, 0, sizeof *ss);
    int rc = cli_load_model(cmd, path, threads, &ss->ctx, &ss->model);
    if (rc != CLI_GO) return rc;
    double rows = 0;
    alae_status s = cli_model_geometry(ss->model, &ss->g);
    if (s == ALAE_OK) s = alae_model_get(ss->model, ALAE_MODEL_STYLE_COUNT, &rows);
    ss->rows = (int32_t)rows;
    if (s == ALAE_OK) s = alae_context_set_param(ss->ctx, ALAE_CTX_SEED, seed);
    if (s == ALAE_OK) s = alae_model_set(ss->model, ALAE_MODEL_NOISE, noise_mode);
    if (s == ALAE_OK && cli_given(opts, n, "--truncation")) s = alae_model_set(ss->model, ALAE_MODEL_TRUNCATION_PSI, psi);
    if (s == ALAE_OK && cli_given(opts, n, "--truncation-cutoff"))
        s = alae_model_set(ss->model, ALAE_MODEL_TRUNCATION_CUTOFF, (double)cutoff);
    if (s != ALAE_OK) {
        rc = cli_fail(cmd, s);
        close_session(ss);
    }
    return rc;
}

/* Reads up to max images of path (an image file, an image folder or IDX) into *x (caller frees);
 * *n gets the count. Image files are resized whole or from their centre square (crop). */
static int read_inputs(const char *cmd, const style_session *ss, const char *path, int64_t max, int crop, float **x,
                       int64_t *n) {
    alae_dataset *ds = NULL;
    int rc = cli_open_dataset(cmd, path, &ss->g, cli_crop_flags(crop), &ds);
    if (rc != CLI_GO) return rc;
    *n = alae_dataset_count(ds);
    if (*n > max) *n = max;
    *x = cli_alloc(*n, (size_t)cli_image_floats(&ss->g) * sizeof(float));
    alae_status s = *x ? cli_read_images(ss->ctx, ds, &ss->g, 0, *n, *x) : ALAE_E_NOMEM;
    alae_dataset_destroy(ds);
    return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
}

/* ---- mix ---- */

static const char mix_usage[] =
    "usage: alae mix --model M --src A.png|DIR --dst B.png|DIR --out grid.png|mixes.npy\n"
    "                [--layers coarse|middle|fine|A-B] [--noise off|batch|sample] [--seed S]\n"
    "                [--truncation PSI [--truncation-cutoff K]] [--n 8] [--crop] [--invert N] [--threads T]\n"
    "\n"
    "Style mixing (StyleALAE): encodes the images of --src and --dst (pairs in order; one image\n"
    "on a side pairs with every image of the other), gives G the styles of dst with the rows of\n"
    "the chosen layer group taken from src, and writes one row per pair: src, dst, the mix (or\n"
    "the mixes alone as a float32 .npy array [N, C, S, S]).\n"
    "\n"
    "  --model M      a StyleALAE model file (DIR/model.safetensors from 'alae train')\n"
    "  --src PATH     image file, image folder or IDX file: the styles to copy\n"
    "  --dst PATH     image file, image folder or IDX file: the images to copy them into\n"
    "  --layers L     style rows from src: coarse (rows 0-3: 4x4 and 8x8, pose and shape), middle\n"
    "                 (4-7: 16x16 and 32x32), fine (8 to the last: finer levels, colours and\n"
    "                 texture), or A-B, rows A to B inclusive (default: coarse)\n"
    "  --noise W      the noise maps: 'off', 'batch' (one map shared by the batch; default) or\n"
    "                 'sample' (fresh per image)\n"
    "  --seed S       seed of the noise maps, 0..2^53 (0)\n"
    "  --truncation PSI  the truncation trick on the style rows below the cutoff, -2 < PSI <= 2\n"
    "  --truncation-cutoff K  rows truncated, 0..style_count (8)\n"
    "  --n N          at most N pairs, 1..64 (8)\n"
    "  --crop         image files: take their centre square (default: the whole image, resized\n"
    "                 to the model's square without keeping its aspect ratio)\n"
    "  --invert N     use the codes of N steps of inversion (alae invert) instead of E(x) (0)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n"
    "  --out FILE     the PNG to write, or a .npy file for the mixes as floats\n";

static int parse_layers(const char *cmd, const char *layers, int32_t rows, int32_t *a, int32_t *b) {
    if (!layers || !strcmp(layers, "coarse")) {
        *a = 0;
        *b = 3;
    } else if (!strcmp(layers, "middle")) {
        *a = 4;
        *b = 7;
    } else if (!strcmp(layers, "fine")) {
        *a = 8;
        *b = rows - 1;
    } else {
        char *end;
        long x = strtol(layers, &end, 10), y;
        if (end == layers || *end != '-') return cli_usage_error(cmd, "--layers: '%s' is not coarse, middle, fine or A-B", layers);
        const char *second = end + 1;
        y = strtol(second, &end, 10);
        if (end == second || *end || x < 0 || y < x || x > 4096 || y > 4096)
            return cli_usage_error(cmd, "--layers: '%s' is not coarse, middle, fine or A-B", layers);
        *a = (int32_t)x;
        *b = (int32_t)y;
    }
    if (*b > rows - 1) *b = rows - 1;
    if (*a > *b)
        return cli_error(cmd, "--layers %s: the model has style rows 0-%d only", layers ? layers : "coarse",
                         (int)rows - 1);
    return CLI_GO;
}

int cli_cmd_mix(int argc, char **argv) {
    const char *cmd = "mix", *model_path = NULL, *src = NULL, *dst = NULL, *out = NULL, *layers = NULL, *noise = NULL;
    int64_t threads = 0, seed = 0, cutoff = 0, pairs = 8, invert = 0;
    double psi = 1;
    int crop = 0, noise_mode = ALAE_NOISE_BATCH_CONSTANT;
    cli_opt opts[] = {
        {"--n", CLI_INT, &pairs, 1, 64, 0},         {"--crop", CLI_FLAG, &crop, 0, 0, 0},
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--src", CLI_STR, &src, 0, 0, 0},
        {"--dst", CLI_STR, &dst, 0, 0, 0},          {"--out", CLI_STR, &out, 0, 0, 0},
        {"--layers", CLI_STR, &layers, 0, 0, 0},    {"--noise", CLI_STR, &noise, 0, 0, 0},
        {"--seed", CLI_INT, &seed, 0, CLI_SEED_MAX, 0}, {"--threads", CLI_INT, &threads, 1, 256, 0},
        {"--truncation", CLI_REAL, &psi, -2, 2, 0}, {"--truncation-cutoff", CLI_INT, &cutoff, 0, 4096, 0},
        {"--invert", CLI_INT, &invert, 0, 100000, 0},
    };
    const char *required[] = {"--model", "--src", "--dst", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, mix_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 4);
    if (rc == CLI_GO) rc = cli_parse_noise(cmd, noise, ALAE_NOISE_BATCH_CONSTANT, &noise_mode);
    const cli_input inputs[] = {{"--model", model_path}, {"--src", src}, {"--dst", dst}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 3);
    if (rc != CLI_GO) return rc;
    style_session ss;
    if ((rc = open_session(cmd, model_path, threads, seed, noise_mode, opts, nopt, psi, cutoff, &ss)) != CLI_GO)
        return rc;
    int32_t a = 0, b = 0;
    float *xs_ = NULL, *xd = NULL, *ws = NULL, *wd = NULL, *styles = NULL, *mix = NULL, *grid = NULL;
    int64_t ns = 0, nd = 0;
    alae_status s = ALAE_OK;
    if ((rc = parse_layers(cmd, layers, ss.rows, &a, &b)) != CLI_GO ||
        (rc = read_inputs(cmd, &ss, src, pairs, crop, &xs_, &ns)) != CLI_GO ||
        (rc = read_inputs(cmd, &ss, dst, pairs, crop, &xd, &nd)) != CLI_GO)
        goto done;
    int64_t n = ns == 1 || nd == 1 ? (ns > nd ? ns : nd) : ns < nd ? ns : nd;
    int64_t len = cli_image_floats(&ss.g), L = ss.g.latent;
    if (ns < n || nd < n) { /* one image on a side: repeat it */
        float **one = ns < n ? &xs_ : &xd, *rep = cli_alloc(n, (size_t)len * sizeof(float));
        if (!rep) {
            rc = cli_fail(cmd, ALAE_E_NOMEM);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) memcpy(rep + i * len, *one, (size_t)len * sizeof(float));
        free(*one);
        *one = rep;
    }
    cli_shape is = cli_image_shape(&ss.g), ssh = {2, {ss.rows, L, 0}};
    ws = cli_alloc(n, (size_t)L * sizeof(float));
    wd = cli_alloc(n, (size_t)L * sizeof(float));
    styles = cli_alloc(n * ss.rows, (size_t)L * sizeof(float));
    mix = cli_alloc(n, (size_t)len * sizeof(float));
    grid = cli_alloc(3 * n, (size_t)len * sizeof(float));
    s = ws && wd && styles && mix && grid ? ALAE_OK : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_encode_codes(ss.ctx, ss.model, &ss.g, n, xs_, invert, ws);
    if (s == ALAE_OK) s = cli_encode_codes(ss.ctx, ss.model, &ss.g, n, xd, invert, wd);
    for (int64_t i = 0; s == ALAE_OK && i < n; i++)
        for (int32_t r = 0; r < ss.rows; r++)
            memcpy(styles + (i * ss.rows + r) * L, (r >= a && r <= b ? ws : wd) + i * L, (size_t)L * sizeof(float));
    if (s == ALAE_OK) s = cli_apply(ss.ctx, ss.model, alae_model_generate_styles, n, styles, &ssh, mix, &is);
    for (int64_t i = 0; s == ALAE_OK && i < n; i++) {
        memcpy(grid + (3 * i) * len, xs_ + i * len, (size_t)len * sizeof(float));
        memcpy(grid + (3 * i + 1) * len, xd + i * len, (size_t)len * sizeof(float));
        memcpy(grid + (3 * i + 2) * len, mix + i * len, (size_t)len * sizeof(float));
    }
    if (s == ALAE_OK) s = cli_is_npy_path(out) ? cli_write_images(out, mix, n, &ss.g, 0) : cli_write_grid(out, grid, 3 * n, &ss.g, 3);
    rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
done:
    free(xs_);
    free(xd);
    free(ws);
    free(wd);
    free(styles);
    free(mix);
    free(grid);
    close_session(&ss);
    return rc;
}

/* ---- interpolate ---- */

static const char interpolate_usage[] =
    "usage: alae interpolate --model M --a A.png --b B.png --out strip.png|images.npy [--steps 8]\n"
    "                        [--noise off|batch|sample] [--seed S] [--truncation PSI\n"
    "                        [--truncation-cutoff K]] [--crop] [--invert N] [--threads T]\n"
    "\n"
    "Encodes the first image of --a and of --b into w_a and w_b and writes one row: A, the images\n"
    "G((1 - t) w_a + t w_b) for t = 0, 1/(steps-1), ..., 1, and B (or the steps images alone as a\n"
    "float32 .npy array [steps, C, S, S]).\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --a PATH       image file (or the first image of a folder or an IDX file)\n"
    "  --b PATH       the other end\n"
    "  --steps N      images between and including the ends, 2..256 (8)\n"
    "  --noise W      StyleALAE noise maps: 'off', 'batch' (one map for the whole strip; default)\n"
    "                 or 'sample'\n"
    "  --seed S       seed of the noise maps, 0..2^53 (0)\n"
    "  --truncation PSI  StyleALAE: the truncation trick, -2 < PSI <= 2 (1: off)\n"
    "  --truncation-cutoff K  StyleALAE: rows truncated, 0..style_count (8)\n"
    "  --crop         image files: take their centre square (default: the whole image, resized\n"
    "                 to the model's square without keeping its aspect ratio)\n"
    "  --invert N     use the codes of N steps of inversion (alae invert) instead of E(x) (0)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n"
    "  --out FILE     the PNG to write, or a .npy file for the interpolated images as floats\n";

int cli_cmd_interpolate(int argc, char **argv) {
    const char *cmd = "interpolate", *model_path = NULL, *pa = NULL, *pb = NULL, *out = NULL, *noise = NULL;
    int64_t threads = 0, seed = 0, cutoff = 0, steps = 8, invert = 0;
    double psi = 1;
    int crop = 0, noise_mode = ALAE_NOISE_BATCH_CONSTANT;
    cli_opt opts[] = {
        {"--crop", CLI_FLAG, &crop, 0, 0, 0},
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--a", CLI_STR, &pa, 0, 0, 0},
        {"--b", CLI_STR, &pb, 0, 0, 0},             {"--out", CLI_STR, &out, 0, 0, 0},
        {"--steps", CLI_INT, &steps, 2, 256, 0},    {"--noise", CLI_STR, &noise, 0, 0, 0},
        {"--seed", CLI_INT, &seed, 0, CLI_SEED_MAX, 0}, {"--threads", CLI_INT, &threads, 1, 256, 0},
        {"--truncation", CLI_REAL, &psi, -2, 2, 0}, {"--truncation-cutoff", CLI_INT, &cutoff, 0, 4096, 0},
        {"--invert", CLI_INT, &invert, 0, 100000, 0},
    };
    const char *required[] = {"--model", "--a", "--b", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, interpolate_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 4);
    if (rc == CLI_GO) rc = cli_parse_noise(cmd, noise, ALAE_NOISE_BATCH_CONSTANT, &noise_mode);
    const cli_input inputs[] = {{"--model", model_path}, {"--a", pa}, {"--b", pb}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 3);
    if (rc != CLI_GO) return rc;
    style_session ss;
    if ((rc = open_session(cmd, model_path, threads, seed, noise_mode, opts, nopt, psi, cutoff, &ss)) != CLI_GO)
        return rc;
    float *xa = NULL, *xb = NULL, *w = NULL, *strip = NULL;
    int64_t na = 0, nb = 0, len = cli_image_floats(&ss.g), L = ss.g.latent;
    alae_status s = ALAE_OK;
    if ((rc = read_inputs(cmd, &ss, pa, 1, crop, &xa, &na)) != CLI_GO ||
        (rc = read_inputs(cmd, &ss, pb, 1, crop, &xb, &nb)) != CLI_GO)
        goto done;
    cli_shape is = cli_image_shape(&ss.g), wsh = cli_latent_shape(&ss.g);
    float wa[4096], wb[4096];
    w = cli_alloc(steps, (size_t)L * sizeof(float));
    strip = cli_alloc(steps + 2, (size_t)len * sizeof(float));
    s = w && strip && L <= 4096 ? ALAE_OK : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_encode_codes(ss.ctx, ss.model, &ss.g, 1, xa, invert, wa);
    if (s == ALAE_OK) s = cli_encode_codes(ss.ctx, ss.model, &ss.g, 1, xb, invert, wb);
    for (int64_t k = 0; s == ALAE_OK && k < steps; k++) {
        float t = (float)k / (float)(steps - 1);
        for (int64_t j = 0; j < L; j++) w[k * L + j] = (1.0f - t) * wa[j] + t * wb[j];
    }
    if (s == ALAE_OK) s = cli_apply(ss.ctx, ss.model, alae_model_generate, steps, w, &wsh, strip + len, &is);
    if (s == ALAE_OK && cli_is_npy_path(out)) {
        s = cli_write_images(out, strip + len, steps, &ss.g, 0);
    } else if (s == ALAE_OK) {
        memcpy(strip, xa, (size_t)len * sizeof(float));
        memcpy(strip + (steps + 1) * len, xb, (size_t)len * sizeof(float));
        s = cli_write_grid(out, strip, steps + 2, &ss.g, (int32_t)(steps + 2));
    }
    rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
done:
    free(xa);
    free(xb);
    free(w);
    free(strip);
    close_session(&ss);
    return rc;
}
