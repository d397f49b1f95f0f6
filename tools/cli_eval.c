/* alae command-line tool: eval — the metrics of alae_eval.h on a model and a data set, one
 * "name value" line each on stdout and all of them in an optional JSON file. */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define EVAL_MAX_METRICS 48
#define PR_NEIGHBOURS 3

static const char eval_usage[] =
    "usage: alae eval --model M --data IMAGES [--labels L --train-data D2 --train-labels L2]\n"
    "                 [--n 1000] [--n-train N] [--ppl-samples 1000] [--seed S] [--threads T]\n"
    "                 [--inception W.safetensors] [--out metrics.json]\n"
    "\n"
    "Measures a model without downloading anything and prints one 'name value' line per metric\n"
    "(docs/evaluation.md describes each):\n"
    "  rec_mse, rec_psnr, rec_ssim   G(E(x)), clamped to the data range, against the first N\n"
    "                                images of --data\n"
    "  swd, swd_<side>               sliced Wasserstein distance (x 1000) of N samples G(F(z))\n"
    "                                against those images: mean over the pyramid levels, per level\n"
    "  precision, recall             of the samples against the images, k = 3 nearest neighbours,\n"
    "                                in pixel space\n"
    "  ppl_w_end                     perceptual path length in W, end-point sampling, epsilon 1e-4,\n"
    "                                pixel distance (images scaled to a range of width 1)\n"
    "  nn_accuracy, linear_accuracy  with labels: 1-nearest-neighbour and linear-classifier\n"
    "                                accuracy of E's codes, --train-data as neighbours / training\n"
    "                                set, --data (all its images) scored\n"
    "With --inception (FID's Inception-v3 weights, which libalae does not ship; without them the\n"
    "command says on stderr what is not computed):\n"
    "  fid                           Frechet Inception distance of the N samples to the N images\n"
    "  precision_inception,          precision and recall, k = 3, in Inception's feature space\n"
    "  recall_inception\n"
    "  ppl_w_end_inception           the path length with Inception's feature distance\n"
    "\n"
    "  --model M          a model file\n"
    "  --data PATH        the images measured (IDX, an image folder or one image)\n"
    "  --labels L         IDX1 labels of --data (needs --train-data and --train-labels)\n"
    "  --train-data D2    IDX images whose codes train the classifiers\n"
    "  --train-labels L2  their IDX1 labels\n"
    "  --n N              images for the reconstruction and generation metrics, 8..65536 (1000;\n"
    "                     at most the number there is)\n"
    "  --n-train N        use only the first N training images (all)\n"
    "  --ppl-samples N    pairs for the path length, 0..1000000 (1000; 0 skips it)\n"
    "  --seed S           seed of the samples, pairs, noise and patch positions, 0..2^53 (0)\n"
    "  --threads T        worker threads, 1..256 (all CPUs)\n"
    "  --inception W      FID's Inception-v3 weights: pytorch-fid's pt_inception-2015-12-05-*.pth\n"
    "                     as it is, or safetensors with its tensor names (docs/evaluation.md)\n"
    "  --out FILE         also write the metrics as a JSON object (atomically)\n";

typedef struct eval_args {
    const char *model, *data, *labels, *train_data, *train_labels, *out, *inception;
    int64_t n, n_train, ppl_samples, seed, threads;
} eval_args;

typedef struct metric_list {
    char name[EVAL_MAX_METRICS][32];
    double value[EVAL_MAX_METRICS];
    int count;
} metric_list;

typedef struct eval_run {
    eval_args a;
    alae_context *ctx;
    alae_model *model;
    alae_feature_net *inception; /* with --inception */
    cli_geom g;
    alae_dataset *ds;
    metric_list m;
} eval_run;

static void add_metric(metric_list *m, const char *name, double value) {
    if (m->count == EVAL_MAX_METRICS) return;
    snprintf(m->name[m->count], sizeof m->name[0], "%s", name);
    m->value[m->count++] = value;
}

static int parse_eval(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->n = 1000;
    a->ppl_samples = 1000;
    cli_opt opts[] = {
        {"--model", CLI_STR, &a->model, 0, 0, 0},
        {"--data", CLI_STR, &a->data, 0, 0, 0},
        {"--labels", CLI_STR, &a->labels, 0, 0, 0},
        {"--train-data", CLI_STR, &a->train_data, 0, 0, 0},
        {"--train-labels", CLI_STR, &a->train_labels, 0, 0, 0},
        {"--out", CLI_STR, &a->out, 0, 0, 0},
        {"--inception", CLI_STR, &a->inception, 0, 0, 0},
        {"--n", CLI_INT, &a->n, 8, 65536, 0},
        {"--n-train", CLI_INT, &a->n_train, 1, 1e9, 0},
        {"--ppl-samples", CLI_INT, &a->ppl_samples, 0, 1000000, 0},
        {"--seed", CLI_INT, &a->seed, 0, CLI_SEED_MAX, 0},
        {"--threads", CLI_INT, &a->threads, 1, 256, 0},
    };
    const char *required[] = {"--model", "--data"};
    int nopt = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("eval", eval_usage, argc, argv, opts, nopt);
    if (rc == CLI_GO) rc = cli_require("eval", opts, nopt, required, 2);
    int labelled = (a->labels != NULL) + (a->train_data != NULL) + (a->train_labels != NULL);
    if (rc == CLI_GO && labelled != 0 && labelled != 3)
        rc = cli_usage_error("eval", "--labels, --train-data and --train-labels go together");
    return rc;
}

/* ---- reconstruction and generation ---- */

static alae_status reconstruction_metrics(eval_run *r, const float *x, int64_t n) {
    cli_shape xs = cli_image_shape(&r->g);
    float *rec = cli_alloc(n, (size_t)cli_image_floats(&r->g) * sizeof(float));
    alae_image_quality q = {sizeof q, 0, 0, 0};
    alae_status s = rec ? cli_apply(r->ctx, r->model, alae_model_reconstruct, n, x, &xs, rec, &xs) : ALAE_E_NOMEM;
    for (int64_t k = 0; s == ALAE_OK && k < n * cli_image_floats(&r->g); k++) /* as image files show it */
        rec[k] = rec[k] < r->g.lo ? r->g.lo : rec[k] > r->g.hi ? r->g.hi : rec[k];
    if (s == ALAE_OK)
        s = alae_eval_image_quality(x, rec, n, r->g.channels, r->g.size, (double)(r->g.hi - r->g.lo), &q);
    if (s == ALAE_OK) {
        add_metric(&r->m, "rec_mse", q.mse);
        add_metric(&r->m, "rec_psnr", q.psnr);
        add_metric(&r->m, "rec_ssim", q.ssim);
    }
    free(rec);
    return s;
}

/* FID and precision / recall in Inception's feature space, of the samples against the images. */
static alae_status inception_metrics(eval_run *r, const float *x, const float *fake, int64_t n) {
    int64_t dim = alae_feature_net_dim(r->inception);
    float *fx = cli_alloc(n, (size_t)dim * sizeof(float)), *ff = cli_alloc(n, (size_t)dim * sizeof(float));
    double fid = 0, precision = 0, recall = 0;
    alae_status s = fx && ff ? ALAE_OK : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = alae_feature_net_features(r->inception, x, n, r->g.channels, r->g.size, r->g.lo, r->g.hi, fx);
    if (s == ALAE_OK) s = alae_feature_net_features(r->inception, fake, n, r->g.channels, r->g.size, r->g.lo, r->g.hi, ff);
    if (s == ALAE_OK) s = alae_eval_frechet_distance(fx, n, ff, n, dim, &fid);
    if (s == ALAE_OK) s = alae_eval_precision_recall(fx, n, ff, n, dim, PR_NEIGHBOURS, &precision, &recall);
    if (s == ALAE_OK) {
        add_metric(&r->m, "fid", fid);
        add_metric(&r->m, "precision_inception", precision);
        add_metric(&r->m, "recall_inception", recall);
    }
    free(fx);
    free(ff);
    return s;
}

static alae_status generation_metrics(eval_run *r, const float *x, int64_t n) {
    cli_shape zs = cli_latent_shape(&r->g), xs = cli_image_shape(&r->g);
    int64_t per = cli_image_floats(&r->g);
    float *z = cli_alloc(n, (size_t)r->g.latent * sizeof(float)), *fake = cli_alloc(n, (size_t)per * sizeof(float));
    alae_swd_result swd;
    memset(&swd, 0, sizeof swd);
    swd.struct_size = sizeof swd;
    double precision = 0, recall = 0;
    alae_status s = z && fake ? cli_normal_latents(r->ctx, (uint64_t)r->a.seed, n, r->g.latent, z) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_apply(r->ctx, r->model, alae_model_sample, n, z, &zs, fake, &xs);
    if (s == ALAE_OK) s = alae_eval_swd(x, fake, n, r->g.channels, r->g.size, (uint64_t)r->a.seed, &swd);
    if (s == ALAE_OK) s = alae_eval_precision_recall(x, n, fake, n, per, PR_NEIGHBOURS, &precision, &recall);
    if (s == ALAE_OK) {
        add_metric(&r->m, "swd", swd.mean);
        for (int32_t l = 0; l < swd.levels; l++) {
            char name[32];
            snprintf(name, sizeof name, "swd_%d", (int)swd.resolution[l]);
            add_metric(&r->m, name, swd.distance[l]);
        }
        add_metric(&r->m, "precision", precision);
        add_metric(&r->m, "recall", recall);
    }
    if (s == ALAE_OK && r->inception) s = inception_metrics(r, x, fake, n);
    free(z);
    free(fake);
    return s;
}

static alae_status path_length_metric(eval_run *r) {
    int64_t n = r->a.ppl_samples, shape[2] = {n, r->g.latent};
    if (n == 0) return ALAE_OK;
    alae_tensor *z0 = NULL, *z1 = NULL;
    double mean = 0;
    alae_status s = alae_context_set_param(r->ctx, ALAE_CTX_SEED, r->a.seed + 1);
    if (s == ALAE_OK) s = alae_tensor_create(r->ctx, ALAE_DTYPE_F32, 2, shape, &z0);
    if (s == ALAE_OK) s = alae_tensor_create(r->ctx, ALAE_DTYPE_F32, 2, shape, &z1);
    if (s == ALAE_OK) s = alae_tensor_fill_normal(z0, 0.0f, 1.0f);
    if (s == ALAE_OK) s = alae_tensor_fill_normal(z1, 0.0f, 1.0f);
    if (s == ALAE_OK) s = alae_model_path_length(r->model, z0, z1, 1e-4, NULL, &mean);
    if (s == ALAE_OK) add_metric(&r->m, "ppl_w_end", mean);
    if (s == ALAE_OK && r->inception) s = alae_model_path_length_features(r->model, r->inception, z0, z1, 1e-4, NULL, &mean);
    if (s == ALAE_OK && r->inception) add_metric(&r->m, "ppl_w_end_inception", mean);
    alae_tensor_destroy(z0);
    alae_tensor_destroy(z1);
    return s;
}

/* ---- representation ---- */

/* Opens IDX images with their labels and checks they fit the model. */
static int open_labelled(const char *images, const char *labels, const cli_geom *g, alae_dataset **ds) {
    alae_status s = alae_dataset_open_idx(images, labels, ds);
    if (s != ALAE_OK) return cli_fail_file("eval", s, images);
    int rc = cli_check_data("eval", *ds, images, g);
    if (rc != CLI_GO) {
        alae_dataset_destroy(*ds);
        *ds = NULL;
    }
    return rc;
}

/* The codes E(x) and labels of the first n images of a labelled data set. */
static alae_status encode_labelled(eval_run *r, const alae_dataset *ds, int64_t n, float **codes, int32_t **labels) {
    *codes = cli_alloc(n, (size_t)r->g.latent * sizeof(float));
    *labels = cli_alloc(n, sizeof(int32_t));
    if (!*codes || !*labels) return ALAE_E_NOMEM;
    alae_status s = cli_encode_dataset(r->ctx, r->model, ds, &r->g, n, *codes);
    for (int64_t i = 0; s == ALAE_OK && i < n; i++) s = alae_dataset_label(ds, i, &(*labels)[i]);
    return s;
}

static int representation_metrics(eval_run *r) {
    alae_dataset *test = NULL, *train = NULL;
    int rc = open_labelled(r->a.data, r->a.labels, &r->g, &test);
    if (rc == CLI_GO) rc = open_labelled(r->a.train_data, r->a.train_labels, &r->g, &train);
    if (rc != CLI_GO) {
        alae_dataset_destroy(test);
        return rc;
    }
    int64_t n_test = alae_dataset_count(test), n_train = alae_dataset_count(train);
    if (r->a.n_train > 0 && r->a.n_train < n_train) n_train = r->a.n_train;
    float *c_test = NULL, *c_train = NULL;
    int32_t *l_test = NULL, *l_train = NULL;
    double nn = 0, linear = 0;
    alae_status s = encode_labelled(r, test, n_test, &c_test, &l_test);
    if (s == ALAE_OK) s = encode_labelled(r, train, n_train, &c_train, &l_train);
    if (s == ALAE_OK) s = alae_eval_nn_accuracy(c_train, l_train, n_train, c_test, l_test, n_test, r->g.latent, &nn);
    if (s == ALAE_OK)
        s = alae_eval_linear_accuracy(c_train, l_train, n_train, c_test, l_test, n_test, r->g.latent, &linear);
    if (s == ALAE_OK) {
        add_metric(&r->m, "nn_accuracy", nn);
        add_metric(&r->m, "linear_accuracy", linear);
    }
    rc = s == ALAE_OK ? CLI_GO : cli_fail("eval", s);
    free(c_test);
    free(c_train);
    free(l_test);
    free(l_train);
    alae_dataset_destroy(test);
    alae_dataset_destroy(train);
    return rc;
}

/* ---- output ---- */

static int write_json(const char *cmd, const char *path, const metric_list *m) {
    char *text = malloc((size_t)m->count * 64 + 8);
    if (!text) return cli_error(cmd, "no memory");
    size_t at = (size_t)snprintf(text, 8, "{\n");
    for (int i = 0; i < m->count; i++)
        at += (size_t)sprintf(text + at, "  \"%s\": %.17g%s\n", m->name[i], m->value[i], i + 1 < m->count ? "," : "");
    sprintf(text + at, "}\n");
    int err = cli_write_atomically(path, text, strlen(text));
    free(text);
    return err ? cli_error(cmd, "cannot write %s: %s", path, strerror(err)) : CLI_GO;
}

/* ---- the command ---- */

static int measure(eval_run *r) {
    int64_t have = alae_dataset_count(r->ds), n = r->a.n < have ? r->a.n : have;
    if (n < 8) return cli_error("eval", "%s holds %lld images; the metrics need at least 8", r->a.data, (long long)have);
    float *x = cli_alloc(n, (size_t)cli_image_floats(&r->g) * sizeof(float));
    alae_status s = x ? cli_read_images(r->ctx, r->ds, &r->g, 0, n, x) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = reconstruction_metrics(r, x, n);
    if (s == ALAE_OK) s = generation_metrics(r, x, n);
    if (s == ALAE_OK) s = path_length_metric(r);
    free(x);
    if (s != ALAE_OK) return cli_fail("eval", s);
    return r->a.labels ? representation_metrics(r) : CLI_GO;
}

int cli_cmd_eval(int argc, char **argv) {
    eval_run r;
    memset(&r, 0, sizeof r);
    int rc = parse_eval(argc, argv, &r.a);
    if (rc != CLI_GO) return rc;
    if ((rc = cli_load_model("eval", r.a.model, r.a.threads, &r.ctx, &r.model)) != CLI_GO) return rc;
    alae_status s = cli_model_geometry(r.model, &r.g);
    if (s != ALAE_OK) rc = cli_fail("eval", s);
    if (rc == CLI_GO && r.a.inception && (s = alae_feature_net_load(r.ctx, r.a.inception, &r.inception)) != ALAE_OK)
        rc = cli_fail_file("eval", s, r.a.inception);
    if (rc == CLI_GO) rc = cli_open_dataset("eval", r.a.data, &r.g, 0, &r.ds);
    if (rc == CLI_GO) rc = measure(&r);
    if (rc == CLI_GO && r.a.out) rc = write_json("eval", r.a.out, &r.m);
    if (rc == CLI_GO) {
        for (int i = 0; i < r.m.count; i++) printf("%s %.6g\n", r.m.name[i], r.m.value[i]);
        if (!r.inception)
            fprintf(stderr, "alae eval: fid, precision/recall_inception and ppl_w_end_inception not computed: they "
                            "need FID's Inception-v3 weights (--inception W.safetensors; docs/evaluation.md)\n");
        rc = CLI_OK;
    }
    alae_dataset_destroy(r.ds);
    alae_feature_net_destroy(r.inception);
    alae_model_destroy(r.model);
    alae_context_destroy(r.ctx);
    return rc;
}
