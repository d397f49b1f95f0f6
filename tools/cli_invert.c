/* alae command-line tool: invert — codes for real images found by gradient descent through G,
 * starting from E(x) (alae_model_invert), with the PSNR of E alone and of the inverted codes. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define INVERT_MAX_IMAGES 65536

static const char invert_usage[] =
    "usage: alae invert --model M --data IMAGES.idx[.gz]|DIR|IMAGE --steps N --out codes.npy\n"
    "                   [--space w|w+] [--lr 0.1] [--n N] [--batch 64] [--grid pairs.png]\n"
    "                   [--seed S] [--threads T]\n"
    "\n"
    "Inverts the first N images: starts from w = E(x) and runs N Adam steps on the code to lower\n"
    "the pixel error of G(code) against the image, through the frozen generator (each image\n"
    "keeps its best code). Writes the codes as float32 .npy, [N, latent_dim] for --space w or\n"
    "[N, style_count, latent_dim] for w+ (one code per style row), and prints the PSNR (dB,\n"
    "mean over the images; G's output clamped to the data range) of G(E(x)) and of the inverted\n"
    "codes:\n"
    "  psnr_encoder  <dB>\n"
    "  psnr_inverted <dB>\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n"
    "  --data PATH    IDX images, a folder of PNG / JPEG / BMP images, or one image\n"
    "  --steps N      gradient steps, 0..1000000 (100 raise the PSNR of the MLP presets by 3+ dB)\n"
    "  --out FILE     the .npy file of codes to write\n"
    "  --space S      w (one code per image, default) or w+ (one per style row)\n"
    "  --lr LR        Adam's learning rate, 0 < LR <= 10 (0.1)\n"
    "  --n N          invert only the first N images, 1..65536 (all)\n"
    "  --batch B      images optimised together, 1..4096 (64)\n"
    "  --grid FILE    also write the images (top rows) above G(inverted code) (bottom rows), PNG\n"
    "  --seed S       StyleALAE: seed of the fixed noise maps, 0..2^53 (0)\n"
    "  --threads T    worker threads, 1..256 (all CPUs)\n";

typedef struct invert_args {
    const char *model, *data, *out, *space, *grid;
    int64_t steps, n, batch, seed, threads;
    double lr;
} invert_args;

/* Running totals over batches, weighted by batch size. */
typedef struct invert_totals {
    double psnr_before, psnr_after;
    int64_t images;
} invert_totals;

static int parse_invert(int argc, char **argv, invert_args *a) {
    memset(a, 0, sizeof *a);
    a->space = "w";
    a->lr = 0.1;
    a->batch = 64;
    cli_opt opts[] = {
        {"--model", CLI_STR, &a->model, 0, 0, 0},     {"--data", CLI_STR, &a->data, 0, 0, 0},
        {"--out", CLI_STR, &a->out, 0, 0, 0},         {"--steps", CLI_INT, &a->steps, 0, 1000000, 0},
        {"--space", CLI_STR, &a->space, 0, 0, 0},     {"--lr", CLI_REAL, &a->lr, 0, 10, 0},
        {"--n", CLI_INT, &a->n, 1, INVERT_MAX_IMAGES, 0}, {"--batch", CLI_INT, &a->batch, 1, 4096, 0},
        {"--grid", CLI_STR, &a->grid, 0, 0, 0},       {"--seed", CLI_INT, &a->seed, 0, CLI_SEED_MAX, 0},
        {"--threads", CLI_INT, &a->threads, 1, 256, 0},
    };
    const char *required[] = {"--model", "--data", "--out", "--steps"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("invert", invert_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require("invert", opts, nopt, required, 3);
    if (rc == CLI_GO && !cli_given(opts, nopt, "--steps")) rc = cli_usage_error("invert", "--steps is required");
    if (rc == CLI_GO && strcmp(a->space, "w") && strcmp(a->space, "w+"))
        rc = cli_usage_error("invert", "--space must be w or w+, not '%s'", a->space);
    return rc;
}

/* The shape of one item's code: [latent] or [rows, latent]. */
static cli_shape code_shape(const cli_geom *g, int w_plus, int32_t rows) {
    cli_shape s = {1, {g->latent, 0, 0}};
    if (w_plus) s = (cli_shape){2, {rows, g->latent, 0}};
    return s;
}

static int64_t code_floats(const cli_shape *s) { return s->ndim == 1 ? s->dims[0] : s->dims[0] * s->dims[1]; }

static alae_status make_batch_tensor(alae_context *ctx, int64_t n, const cli_shape *item, alae_tensor **out) {
    int64_t shape[4] = {n, item->dims[0], item->dims[1], item->dims[2]};
    return alae_tensor_create(ctx, ALAE_DTYPE_F32, item->ndim + 1, shape, out);
}

/* Inverts images [at, at + k) into codes (host) and optionally their images G(code). */
static alae_status invert_batch(alae_context *ctx, alae_model *model, const float *images, int64_t k,
                                const cli_geom *g, const cli_shape *cs, const invert_args *a, float *codes,
                                float *inverted, invert_totals *tot) {
    cli_shape xs = cli_image_shape(g);
    alae_tensor *x = NULL, *c = NULL, *y = NULL;
    alae_invert_report rep = {sizeof rep, 0, 0, 0, 0, 0};
    alae_status s = make_batch_tensor(ctx, k, &xs, &x);
    if (s == ALAE_OK) s = make_batch_tensor(ctx, k, cs, &c);
    if (s == ALAE_OK) s = alae_tensor_write(x, images, (size_t)(k * cli_image_floats(g)) * sizeof(float));
    if (s == ALAE_OK) s = alae_model_invert(model, x, (int32_t)a->steps, a->lr, c, &rep);
    if (s == ALAE_OK) s = alae_tensor_read(c, codes, (size_t)(k * code_floats(cs)) * sizeof(float));
    if (s == ALAE_OK && inverted) {
        s = make_batch_tensor(ctx, k, &xs, &y);
        if (s == ALAE_OK) s = cs->ndim == 2 ? alae_model_generate_styles(model, c, y) : alae_model_generate(model, c, y);
        if (s == ALAE_OK) s = alae_tensor_read(y, inverted, (size_t)(k * cli_image_floats(g)) * sizeof(float));
    }
    if (s == ALAE_OK) {
        tot->psnr_before += rep.psnr_before * (double)k;
        tot->psnr_after += rep.psnr_after * (double)k;
        tot->images += k;
    }
    alae_tensor_destroy(x);
    alae_tensor_destroy(c);
    alae_tensor_destroy(y);
    return s;
}

/* Reads the images and inverts them batch by batch; writes the codes (and the grid). */
static alae_status invert_all(alae_context *ctx, alae_model *model, const alae_dataset *ds, const cli_geom *g,
                              const invert_args *a, int64_t n, invert_totals *tot) {
    double rows = 1;
    alae_status s = alae_model_get(model, ALAE_MODEL_STYLE_COUNT, &rows);
    int w_plus = !strcmp(a->space, "w+");
    cli_shape cs = code_shape(g, w_plus, (int32_t)rows);
    int64_t img = cli_image_floats(g), per = code_floats(&cs);
    float *images = cli_alloc(n, (size_t)img * sizeof(float)), *codes = cli_alloc(n, (size_t)per * sizeof(float));
    float *inverted = a->grid ? cli_alloc(n, (size_t)img * sizeof(float)) : NULL;
    if (s == ALAE_OK && (!images || !codes || (a->grid && !inverted))) s = ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_read_images(ctx, ds, g, 0, n, images);
    for (int64_t at = 0; s == ALAE_OK && at < n; at += a->batch) {
        int64_t k = n - at < a->batch ? n - at : a->batch;
        s = invert_batch(ctx, model, images + at * img, k, g, &cs, a, codes + at * per,
                         inverted ? inverted + at * img : NULL, tot);
    }
    int64_t shape[3] = {n, cs.dims[0], cs.dims[1]};
    if (s == ALAE_OK) s = alae_npy_write_f32(a->out, cs.ndim + 1, shape, codes);
    if (s == ALAE_OK && a->grid) s = cli_write_pairs(a->grid, images, inverted, n, g, 8);
    free(images);
    free(codes);
    free(inverted);
    return s;
}

alae_status cli_encode_codes(alae_context *ctx, alae_model *model, const cli_geom *g, int64_t n, const float *images,
                             int64_t invert_steps, float *codes) {
    cli_shape xs = cli_image_shape(g), ws = cli_latent_shape(g);
    if (invert_steps <= 0) return cli_apply(ctx, model, alae_model_encode, n, images, &xs, codes, &ws);
    alae_status s = ALAE_OK;
    for (int64_t at = 0; s == ALAE_OK && at < n; at += CLI_BATCH) {
        int64_t k = n - at < CLI_BATCH ? n - at : CLI_BATCH;
        alae_tensor *x = NULL, *w = NULL;
        s = make_batch_tensor(ctx, k, &xs, &x);
        if (s == ALAE_OK) s = make_batch_tensor(ctx, k, &ws, &w);
        if (s == ALAE_OK) s = alae_tensor_write(x, images + at * cli_image_floats(g), (size_t)(k * cli_image_floats(g)) * sizeof(float));
        if (s == ALAE_OK) s = alae_model_invert(model, x, (int32_t)invert_steps, 0.1, w, NULL);
        if (s == ALAE_OK) s = alae_tensor_read(w, codes + at * g->latent, (size_t)(k * g->latent) * sizeof(float));
        alae_tensor_destroy(x);
        alae_tensor_destroy(w);
    }
    return s;
}

int cli_cmd_invert(int argc, char **argv) {
    const char *cmd = "invert";
    invert_args a;
    int rc = parse_invert(argc, argv, &a);
    if (rc != CLI_GO) return rc;
    alae_context *ctx = NULL;
    alae_model *model = NULL;
    alae_dataset *ds = NULL;
    cli_geom g;
    if ((rc = cli_load_model(cmd, a.model, a.threads, &ctx, &model)) != CLI_GO) return rc;
    alae_status s = cli_model_geometry(model, &g);
    if (s == ALAE_OK) s = alae_context_set_param(ctx, ALAE_CTX_SEED, a.seed);
    if (s != ALAE_OK) rc = cli_fail(cmd, s);
    if (rc == CLI_GO) rc = cli_open_dataset(cmd, a.data, &g, 0, &ds);
    int64_t have = ds ? alae_dataset_count(ds) : 0, n = a.n ? a.n : have;
    if (rc == CLI_GO && (have < 1 || n > have || n > INVERT_MAX_IMAGES))
        rc = cli_error(cmd, "%s holds %lld images; --n %lld asks for more (or more than %d)", a.data, (long long)have,
                       (long long)n, INVERT_MAX_IMAGES);
    invert_totals tot = {0, 0, 0};
    if (rc == CLI_GO) {
        s = invert_all(ctx, model, ds, &g, &a, n, &tot);
        rc = s == ALAE_OK ? CLI_OK : cli_fail(cmd, s);
    }
    if (rc == CLI_OK) {
        printf("psnr_encoder  %.3f\n", tot.psnr_before / (double)tot.images);
        printf("psnr_inverted %.3f\n", tot.psnr_after / (double)tot.images);
    }
    alae_dataset_destroy(ds);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}
