/* alae command-line tool: the inference commands sample, encode, decode and reconstruct. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_GRID 65536 /* images in one PNG grid */

/* A loaded model with its context and geometry. */
typedef struct session {
    alae_context *ctx;
    alae_model *model;
    cli_geom g;
} session;

static int session_open(const char *cmd, const char *path, int64_t threads, session *ss) {
    memset(ss, 0, sizeof *ss);
    int rc = cli_load_model(cmd, path, threads, &ss->ctx, &ss->model);
    if (rc != CLI_GO) return rc;
    alae_status s = cli_model_geometry(ss->model, &ss->g);
    return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
}

static void session_close(session *ss) {
    alae_model_destroy(ss->model);
    alae_context_destroy(ss->ctx);
}

/* --truncation PSI and --truncation-cutoff K (StyleALAE; 0 options given: nothing to do). */
static int set_truncation(const char *cmd, alae_model *model, const cli_opt *opts, int n, double psi, int64_t cutoff) {
    alae_status s = ALAE_OK;
    if (cli_given(opts, n, "--truncation")) s = alae_model_set(model, ALAE_MODEL_TRUNCATION_PSI, psi);
    if (s == ALAE_OK && cli_given(opts, n, "--truncation-cutoff"))
        s = alae_model_set(model, ALAE_MODEL_TRUNCATION_CUTOFF, (double)cutoff);
    return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
}

/* Opens an IDX data set, an image folder or an image file and checks that its images fit the
 * model and that it holds at least `need` images (need 0: any, >= 1); image files are resized whole
 * or from their centre square (crop). */
static int open_data(const char *cmd, const char *path, const cli_geom *g, int64_t need, int crop, alae_dataset **ds) {
    int rc = cli_open_dataset(cmd, path, g, cli_crop_flags(crop), ds);
    if (rc != CLI_GO) return rc;
    int64_t count = alae_dataset_count(*ds);
    if (rc == CLI_GO && (count < 1 || count < need))
        rc = cli_error(cmd, "%s holds %lld images, fewer than the %lld asked for", path, (long long)count,
                       (long long)(need > 1 ? need : 1));
    if (rc != CLI_GO) {
        alae_dataset_destroy(*ds);
        *ds = NULL;
    }
    return rc;
}

/* ---- sample ---- */

static const char sample_usage[] =
    "usage: alae sample --model M [--n 64] [--seed S] [--threads T] [--noise off|batch|sample]\n"
    "                   [--truncation PSI [--truncation-cutoff K]] --out grid.png|images.npy\n"
    "\n"
    "Draws N latents z ~ N(0, I) from the seed and writes the images G(F(z)) of the model as a\n"
    "PNG grid with ceil(sqrt(N)) columns, or as a float32 .npy array [N, C, S, S].\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --n N          number of images, 1..65536 (64)\n"
    "  --seed S       seed of the latents and the noise, 0..2^53 (0)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n"
    "  --truncation PSI  StyleALAE: the truncation trick, style rows below the cutoff become\n"
    "                 avg + PSI (w - avg), -2 < PSI <= 2 (1: off; the paper's figures use 0.7)\n"
    "  --truncation-cutoff K  StyleALAE: rows truncated, 0..style_count (8)\n"
    "  --noise W      StyleALAE noise maps: 'off', 'batch' (one map shared by the batch) or\n"
    "                 'sample' (fresh per image; default)\n"
    "  --out FILE     the PNG to write, or a .npy file for the images as floats\n";

int cli_cmd_sample(int argc, char **argv) {
    const char *cmd = "sample", *model_path = NULL, *out = NULL, *noise = NULL;
    int64_t n = 64, seed = 0, threads = 0, cutoff = 0;
    double psi = 1;
    int noise_mode = ALAE_NOISE_PER_SAMPLE;
    cli_opt opts[] = {
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--out", CLI_STR, &out, 0, 0, 0},
        {"--n", CLI_INT, &n, 1, MAX_GRID, 0},       {"--seed", CLI_INT, &seed, 0, CLI_SEED_MAX, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0}, {"--truncation", CLI_REAL, &psi, -2, 2, 0},
        {"--truncation-cutoff", CLI_INT, &cutoff, 0, 4096, 0}, {"--noise", CLI_STR, &noise, 0, 0, 0},
    };
    const char *required[] = {"--model", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, sample_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 2);
    const cli_input inputs[] = {{"--model", model_path}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 1);
    if (rc == CLI_GO) rc = cli_parse_noise(cmd, noise, ALAE_NOISE_PER_SAMPLE, &noise_mode);
    if (rc != CLI_GO) return rc;
    session ss;
    if ((rc = session_open(cmd, model_path, threads, &ss)) != CLI_GO) return rc;
    if ((rc = set_truncation(cmd, ss.model, opts, nopt, psi, cutoff)) != CLI_GO ||
        (rc = cli_set_noise(cmd, ss.model, noise_mode)) != CLI_GO) {
        session_close(&ss);
        return rc;
    }
    cli_shape zs = cli_latent_shape(&ss.g), xs = cli_image_shape(&ss.g);
    float *z = cli_alloc(n, (size_t)ss.g.latent * sizeof(float));
    float *x = cli_alloc(n, (size_t)cli_image_floats(&ss.g) * sizeof(float));
    alae_status s = z && x ? cli_normal_latents(ss.ctx, (uint64_t)seed, n, ss.g.latent, z) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_apply(ss.ctx, ss.model, alae_model_sample, n, z, &zs, x, &xs);
    if (s == ALAE_OK) s = cli_write_images(out, x, n, &ss.g, 0);
    rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    free(z);
    free(x);
    session_close(&ss);
    return rc;
}

/* ---- encode ---- */

static const char encode_usage[] =
    "usage: alae encode --model M --data IMAGES.idx[.gz]|DIR|IMAGE --out codes.npy [--n N] [--crop]\n"
    "                   [--threads T]\n"
    "\n"
    "Encodes the first N images of an IDX file, an image folder (sorted by name) or one image file\n"
    "(all by default), in order, into their latents w = E(x) and writes them as a float32 .npy\n"
    "array [N, latent_dim].\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --data PATH    IDX images (MNIST, Fashion-MNIST; raw or gzip), or a folder of PNG / JPEG /\n"
    "                 BMP images, or one image (converted and resized to the model's images)\n"
    "  --out FILE     the .npy file to write\n"
    "  --n N          encode only the first N images\n"
    "  --crop         image files: take their centre square (default: the whole image, resized\n"
    "                 to the model's square without keeping its aspect ratio)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n";

int cli_cmd_encode(int argc, char **argv) {
    const char *cmd = "encode", *model_path = NULL, *data = NULL, *out = NULL;
    int64_t n = 0, threads = 0;
    int crop = 0;
    cli_opt opts[] = {
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--data", CLI_STR, &data, 0, 0, 0},
        {"--out", CLI_STR, &out, 0, 0, 0},          {"--n", CLI_INT, &n, 1, 1e12, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0}, {"--crop", CLI_FLAG, &crop, 0, 0, 0},
    };
    const char *required[] = {"--model", "--data", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, encode_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 3);
    const cli_input inputs[] = {{"--model", model_path}, {"--data", data}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 2);
    if (rc != CLI_GO) return rc;
    alae_dataset *ds = NULL;
    session ss;
    if ((rc = session_open(cmd, model_path, threads, &ss)) != CLI_GO) return rc;
    if ((rc = open_data(cmd, data, &ss.g, n, crop, &ds)) != CLI_GO) {
        session_close(&ss);
        return rc;
    }
    if (n == 0) n = alae_dataset_count(ds);
    float *codes = cli_alloc(n, (size_t)ss.g.latent * sizeof(float));
    alae_status s = codes ? cli_encode_dataset(ss.ctx, ss.model, ds, &ss.g, n, codes) : ALAE_E_NOMEM;
    int64_t shape[2] = {n, ss.g.latent};
    if (s == ALAE_OK) s = alae_npy_write_f32(out, 2, shape, codes);
    rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    free(codes);
    alae_dataset_destroy(ds);
    session_close(&ss);
    return rc;
}

/* ---- decode ---- */

static const char decode_usage[] =
    "usage: alae decode --model M --codes codes.npy --out grid.png|images.npy [--threads T] [--seed S]\n"
    "                   [--noise off|batch|sample] [--truncation PSI [--truncation-cutoff K]]\n"
    "\n"
    "Decodes latents w (a float32 .npy array [N, latent_dim], as 'alae encode' writes) into the\n"
    "images G(w) and writes them as a PNG grid with ceil(sqrt(N)) columns, or as a float32 .npy\n"
    "array [N, C, S, S].\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --codes FILE   the latents, [N, latent_dim] float32, N <= 65536\n"
    "  --out FILE     the PNG to write, or a .npy file for the images as floats\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n"
    "  --seed S       StyleALAE: seed of the noise maps, 0..2^53 (0)\n"
    "  --noise W      StyleALAE noise maps: 'off', 'batch' (one map shared by the batch) or\n"
    "                 'sample' (fresh per image; default)\n"
    "  --truncation PSI  StyleALAE: the truncation trick, style rows below the cutoff become\n"
    "                 avg + PSI (w - avg), -2 < PSI <= 2 (1: off; the paper's figures use 0.7)\n"
    "  --truncation-cutoff K  StyleALAE: rows truncated, 0..style_count (8)\n"
;

static int check_codes(const char *cmd, const char *path, int32_t ndim, const int64_t *shape, int32_t latent) {
    if (ndim != 2 || shape[1] != latent)
        return cli_error(cmd, "%s must hold a [N, %d] array (the model's latent_dim is %d)", path, (int)latent,
                         (int)latent);
    if (shape[0] < 1 || shape[0] > MAX_GRID)
        return cli_error(cmd, "%s holds %lld codes; 1..%d fit in one grid", path, (long long)shape[0], MAX_GRID);
    return CLI_GO;
}

int cli_cmd_decode(int argc, char **argv) {
    const char *cmd = "decode", *model_path = NULL, *codes_path = NULL, *out = NULL, *noise = NULL;
    int64_t threads = 0, seed = 0, cutoff = 0;
    double psi = 1;
    int noise_mode = ALAE_NOISE_PER_SAMPLE;
    cli_opt opts[] = {
        {"--noise", CLI_STR, &noise, 0, 0, 0},
        {"--model", CLI_STR, &model_path, 0, 0, 0},
        {"--codes", CLI_STR, &codes_path, 0, 0, 0},
        {"--out", CLI_STR, &out, 0, 0, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0},
        {"--seed", CLI_INT, &seed, 0, CLI_SEED_MAX, 0},
        {"--truncation", CLI_REAL, &psi, -2, 2, 0},
        {"--truncation-cutoff", CLI_INT, &cutoff, 0, 4096, 0},
    };
    const char *required[] = {"--model", "--codes", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, decode_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 3);
    const cli_input inputs[] = {{"--model", model_path}, {"--codes", codes_path}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 2);
    if (rc == CLI_GO) rc = cli_parse_noise(cmd, noise, ALAE_NOISE_PER_SAMPLE, &noise_mode);
    if (rc != CLI_GO) return rc;
    session ss;
    if ((rc = session_open(cmd, model_path, threads, &ss)) != CLI_GO) return rc;
    alae_status ts = alae_context_set_param(ss.ctx, ALAE_CTX_SEED, seed);
    if (ts != ALAE_OK || (rc = set_truncation(cmd, ss.model, opts, nopt, psi, cutoff)) != CLI_GO ||
        (rc = cli_set_noise(cmd, ss.model, noise_mode)) != CLI_GO) {
        if (ts != ALAE_OK) rc = cli_fail(cmd, ts);
        session_close(&ss);
        return rc;
    }
    int32_t ndim = 0;
    int64_t shape[8];
    float *codes = NULL, *x = NULL;
    alae_status s = alae_npy_read_f32(codes_path, &ndim, shape, &codes);
    if (s != ALAE_OK) {
        rc = cli_fail_file(cmd, s, codes_path);
    } else if ((rc = check_codes(cmd, codes_path, ndim, shape, ss.g.latent)) == CLI_GO) {
        cli_shape ws = cli_latent_shape(&ss.g), xs = cli_image_shape(&ss.g);
        x = cli_alloc(shape[0], (size_t)cli_image_floats(&ss.g) * sizeof(float));
        s = x ? cli_apply(ss.ctx, ss.model, alae_model_generate, shape[0], codes, &ws, x, &xs) : ALAE_E_NOMEM;
        if (s == ALAE_OK) s = cli_write_images(out, x, shape[0], &ss.g, 0);
        rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    }
    alae_free(codes);
    free(x);
    session_close(&ss);
    return rc;
}

/* ---- reconstruct ---- */

static const char reconstruct_usage[] =
    "usage: alae reconstruct --model M --data IMAGES.idx[.gz]|DIR|IMAGE [--n 32]\n"
    "                        --out grid.png|reconstructions.npy [--crop] [--threads T] [--seed S]\n"
    "                        [--noise off|batch|sample] [--truncation PSI [--truncation-cutoff K]]\n"
    "\n"
    "Writes the first N images of an IDX file, an image folder or one image file (top rows)\n"
    "above their reconstructions G(E(x)) (bottom rows) as a PNG grid with 8 columns, or the\n"
    "reconstructions alone as a float32 .npy array [N, C, S, S].\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --data PATH    IDX images (MNIST, Fashion-MNIST; raw or gzip), or a folder of PNG / JPEG /\n"
    "                 BMP images, or one image (converted and resized to the model's images)\n"
    "  --n N          number of images, 1..65536 (32; at most the number there is)\n"
    "  --out FILE     the PNG to write, or a .npy file for the reconstructions as floats\n"
    "  --crop         image files: take their centre square (default: the whole image, resized\n"
    "                 to the model's square without keeping its aspect ratio)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n"
    "  --seed S       StyleALAE: seed of the noise maps, 0..2^53 (0)\n"
    "  --noise W      StyleALAE noise maps: 'off', 'batch' (one map shared by the batch) or\n"
    "                 'sample' (fresh per image; default)\n"
    "  --truncation PSI  StyleALAE: the truncation trick, style rows below the cutoff become\n"
    "                 avg + PSI (w - avg), -2 < PSI <= 2 (1: off; the paper's figures use 0.7)\n"
    "  --truncation-cutoff K  StyleALAE: rows truncated, 0..style_count (8)\n"
;

int cli_cmd_reconstruct(int argc, char **argv) {
    const char *cmd = "reconstruct", *model_path = NULL, *data = NULL, *out = NULL, *noise = NULL;
    int64_t n = 32, threads = 0, seed = 0, cutoff = 0;
    double psi = 1;
    int crop = 0, noise_mode = ALAE_NOISE_PER_SAMPLE;
    cli_opt opts[] = {
        {"--crop", CLI_FLAG, &crop, 0, 0, 0},       {"--noise", CLI_STR, &noise, 0, 0, 0},
        {"--model", CLI_STR, &model_path, 0, 0, 0}, {"--data", CLI_STR, &data, 0, 0, 0},
        {"--out", CLI_STR, &out, 0, 0, 0},          {"--n", CLI_INT, &n, 1, MAX_GRID, 0},
        {"--threads", CLI_INT, &threads, 1, 256, 0}, {"--seed", CLI_INT, &seed, 0, CLI_SEED_MAX, 0},
        {"--truncation", CLI_REAL, &psi, -2, 2, 0},  {"--truncation-cutoff", CLI_INT, &cutoff, 0, 4096, 0},
    };
    const char *required[] = {"--model", "--data", "--out"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse(cmd, reconstruct_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require(cmd, opts, nopt, required, 3);
    const cli_input inputs[] = {{"--model", model_path}, {"--data", data}};
    if (rc == CLI_GO) rc = cli_check_output(cmd, "--out", out, inputs, 2);
    if (rc == CLI_GO) rc = cli_parse_noise(cmd, noise, ALAE_NOISE_PER_SAMPLE, &noise_mode);
    if (rc != CLI_GO) return rc;
    alae_dataset *ds = NULL;
    session ss;
    if ((rc = session_open(cmd, model_path, threads, &ss)) != CLI_GO) return rc;
    alae_status ts = alae_context_set_param(ss.ctx, ALAE_CTX_SEED, seed);
    if (ts != ALAE_OK) rc = cli_fail(cmd, ts);
    if (rc != CLI_GO || (rc = set_truncation(cmd, ss.model, opts, nopt, psi, cutoff)) != CLI_GO ||
        (rc = cli_set_noise(cmd, ss.model, noise_mode)) != CLI_GO ||
        (rc = open_data(cmd, data, &ss.g, 0, crop, &ds)) != CLI_GO) {
        session_close(&ss);
        return rc;
    }
    int64_t have = alae_dataset_count(ds);
    if (!cli_given(opts, nopt, "--n") && n > have) n = have; /* the default 32: as many as there are */
    if (n > have) {
        rc = cli_error(cmd, "%s holds %lld images, fewer than the %lld asked for", data, (long long)have, (long long)n);
        alae_dataset_destroy(ds);
        session_close(&ss);
        return rc;
    }
    cli_shape xs = cli_image_shape(&ss.g), ws = cli_latent_shape(&ss.g);
    float *x = cli_alloc(n, (size_t)cli_image_floats(&ss.g) * sizeof(float));
    float *rec = cli_alloc(n, (size_t)cli_image_floats(&ss.g) * sizeof(float));
    float *w = cli_alloc(n, (size_t)ss.g.latent * sizeof(float));
    alae_status s = x && rec && w ? cli_read_images(ss.ctx, ds, &ss.g, 0, n, x) : ALAE_E_NOMEM;
    /* G(E(x)); with --truncation as encode + generate, since alae_model_reconstruct never truncates */
    if (s == ALAE_OK && !cli_given(opts, nopt, "--truncation"))
        s = cli_apply(ss.ctx, ss.model, alae_model_reconstruct, n, x, &xs, rec, &xs);
    else if (s == ALAE_OK && (s = cli_apply(ss.ctx, ss.model, alae_model_encode, n, x, &xs, w, &ws)) == ALAE_OK)
        s = cli_apply(ss.ctx, ss.model, alae_model_generate, n, w, &ws, rec, &xs);
    if (s == ALAE_OK)
        s = cli_is_npy_path(out) ? cli_write_images(out, rec, n, &ss.g, 0) : cli_write_pairs(out, x, rec, n, &ss.g, 8);
    rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    free(x);
    free(w);
    free(rec);
    alae_dataset_destroy(ds);
    session_close(&ss);
    return rc;
}
