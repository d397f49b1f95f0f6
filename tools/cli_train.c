/* alae command-line tool: train.
 *
 * The data order is a function of (seed, step) only: with bpe = floor(count / batch) batches per
 * epoch (the last partial batch is dropped), step k trains on batch k % bpe of the permutation
 * alae_shuffle_order(seed, k / bpe, count). The trainer draws its latents from ALAE_TRAIN_SEED =
 * seed and its state file holds its position, so a run resumed from DIR/train-state.safetensors
 * repeats an uninterrupted one bit for bit (same seed, one thread).
 *
 * Under mpirun (docs/distributed.md) each of R ranks trains on its part of a global batch of
 * R * --batch images: rank k reads positions k * batch .. (k + 1) * batch - 1 of the global
 * batch in the same order, so R ranks follow the data order of one process with R times the
 * batch; only rank 0 writes the log, the images and the files. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_train.h"

static const char train_usage[] =
    "usage: alae train --preset NAME --data IMAGES.idx[.gz]|DIR --out DIR\n"
    "                  [--steps N | --epochs E] [--batch B] [--seed S] [--threads T] [--resume]\n"
    "                  [--lr LR] [--report-every 100] [--save-every 1000] [--set key=value ...]\n"
    "                  [--resolution R] [--channels C] [--flip auto|on|off] [--max-images N]\n"
    "                  [--skip-bad] [--on-divergence stop|rollback] [--comm auto|none|mpi|nccl]\n"
    "\n"
    "Trains an ALAE on the images of an IDX file or an image folder and writes into DIR:\n"
    "  model.safetensors        the smoothed (EMA) model, for sample/encode/decode/reconstruct/info\n"
    "  train-state.safetensors  the whole training state, for --resume\n"
    "  log.csv                  step,images,loss_d,loss_g,loss_ae,r1,seconds (StyleALAE:\n"
    "                           step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds): the mean\n"
    "                           losses of each reporting interval and the training time so far\n"
    "  samples.png              64 samples of the smoothed model from fixed latents (8x8)\n"
    "  reconstructions.png      the first 32 images (top) above their reconstructions (bottom)\n"
    "  samples-lod<k>.png       StyleALAE: the samples when level k ends (and at the end of a run)\n"
    "  train-run.txt            the seed, batch and data that --resume checks\n"
    "  progress/                the samples and reconstructions of each save, step-<N>-*.png (the\n"
    "                           first, the last and 10 spread between them are kept)\n"
    "  report.html              the training report: curves, grids, metrics (alae report); it and\n"
    "                           progress/ at most every 10 s (ALAE_REPORT_SECONDS), and at the end\n"
    "The state, the model, the images and the report are written every --save-every steps and at\n"
    "the end; Ctrl-C (SIGINT) finishes the current step, saves them and exits with status 130.\n"
    "\n"
    "  --preset NAME      MLP: mnist-fc (32x32 padded digits in [-1, 1]) or mnist-fc-paper (28x28\n"
    "                     in [0, 1]); StyleALAE: mnist (32x32x1), celeba (128x128x3), celeba-hq256,\n"
    "                     bedroom, ffhq (progressive growing from 4x4, images in [-1, 1])\n"
    "  --data PATH        IDX images (MNIST, Fashion-MNIST; raw or gzip), or a folder of PNG / JPEG /\n"
    "                     BMP images (or one image), converted to the model's channels and resized\n"
    "                     to its image size\n"
    "  --out DIR          the output directory (created if missing)\n"
    "  --steps N          train until the trainer has done N steps in all\n"
    "  --epochs E         train until E epochs (MLP default: 1; StyleALAE default: the preset's\n"
    "                     schedule); an epoch has floor(images / batch) steps\n"
    "  --batch B          images per step, 1..65536 (MLP: 128; StyleALAE: every level's batch,\n"
    "                     default the preset's per-level table)\n"
    "  --seed S           seed of the parameters, the latents, the data order and the flips,\n"
    "                     0..2^53 (0)\n"
    "  --threads T        worker threads, 1..256 (all CPUs; 1 for bitwise-reproducible resumes)\n"
    "  --resume           continue from DIR/train-state.safetensors (same preset, --set, --batch,\n"
    "                     --seed, --data and --max-images as before, or it is refused); log.csv is\n"
    "                     appended to\n"
    "  --lr LR            learning rate of both optimizers (MLP 0.002; StyleALAE: of every level,\n"
    "                     default the preset's table); on --resume the saved one unless given\n"
    "  --report-every N   steps per log.csv row and progress report (100)\n"
    "  --save-every N     steps between saves (1000)\n"
    "  --set KEY=VALUE    a model setting by name (repeatable): latent_dim, mapping_layers,\n"
    "                     hidden, image_size, channels, net_size, data_range, g_slope, e_slope,\n"
    "                     e_out_slope, d_layers, start_channels, max_channels; or a trainer\n"
    "                     setting: r1_gamma, latent_loss (0 L2, 1 L1), latent_loss_weight,\n"
    "                     ema_half_life, dlatent_beta, style_mixing, epochs_per_lod,\n"
    "                     r1_interval (lazy R1: the penalty every k-th D-step, 1 = every one)\n"
    "  --resolution R     the image size (as --set image_size=R)\n"
    "  --channels C       the image channels (as --set channels=C)\n"
    "  --flip W           random horizontal flips of the training images, drawn from (seed, step):\n"
    "                     'auto' (default: on for image folders, off for IDX), 'on' or 'off'\n"
    "  --max-images N     train on the first N images only\n"
    "  --skip-bad         skip image files that cannot be decoded (a warning names each) instead\n"
    "                     of failing\n"
    "  --on-divergence W  when a loss becomes NaN or infinite: 'stop' (default) ends with an error\n"
    "                     naming the step and the loss, leaving the last saved state intact;\n"
    "                     'rollback' reloads that state, halves the learning rates and goes on\n"
    "                     (at most 5 times)\n"
    "  --comm C           data-parallel training over the ranks of an MPI job (mpirun -np N alae\n"
    "                     train ...; --batch is per rank): 'mpi', 'nccl' (GPUs), 'none', or 'auto'\n"
    "                     (default: nccl for --device cuda, else mpi, when started by mpirun)\n";

/* ---- SIGINT / SIGTERM: finish the step, save, exit 128 + signal ---- */

static volatile sig_atomic_t caught_signal = 0;

static void on_signal(int sig) { caught_signal = sig; }

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once (saves are atomic) */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- the command line ---- */

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->batch = 128;
    a->lr = 0.002;
    a->report_every = 100;
    a->save_every = 1000;
    a->epochs = 1;
    cli_opt opts[] = {
        {"--preset", CLI_STR, &a->preset, 0, 0, 0},
        {"--data", CLI_STR, &a->data, 0, 0, 0},
        {"--out", CLI_STR, &a->out, 0, 0, 0},
        {"--steps", CLI_INT, &a->steps, 1, CLI_SEED_MAX, 0},
        {"--epochs", CLI_INT, &a->epochs, 1, 1e6, 0},
        {"--batch", CLI_INT, &a->batch, 1, 65536, 0},
        {"--seed", CLI_INT, &a->seed, 0, CLI_SEED_MAX, 0},
        {"--threads", CLI_INT, &a->threads, 1, 256, 0},
        {"--resume", CLI_FLAG, &a->resume, 0, 0, 0},
        {"--lr", CLI_REAL, &a->lr, 0, 1e3, 0},
        {"--report-every", CLI_INT, &a->report_every, 1, CLI_SEED_MAX, 0},
        {"--save-every", CLI_INT, &a->save_every, 1, CLI_SEED_MAX, 0},
        {"--set", CLI_LIST, &a->sets, 0, 0, 0},
        {"--on-divergence", CLI_STR, &a->on_divergence, 0, 0, 0},
        {"--resolution", CLI_INT, &a->resolution, 1, 4096, 0},
        {"--channels", CLI_INT, &a->channels, 1, 4, 0},
        {"--flip", CLI_STR, &a->flip, 0, 0, 0},
        {"--max-images", CLI_INT, &a->max_images, 1, 1e12, 0},
        {"--skip-bad", CLI_FLAG, &a->skip_bad, 0, 0, 0},
        {"--comm", CLI_STR, &a->comm, 0, 0, 0},
    };
    const char *required[] = {"--preset", "--data", "--out"};
    int n = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("train", train_usage, argc, argv, opts, n);
    if (rc == CLI_GO) rc = cli_require("train", opts, n, required, 3);
    if (rc != CLI_GO) return rc;
    if (cli_given(opts, n, "--steps") && cli_given(opts, n, "--epochs"))
        return cli_usage_error("train", "give --steps or --epochs, not both");
    a->lr_given = cli_given(opts, n, "--lr");
    a->batch_given = cli_given(opts, n, "--batch");
    a->epochs_given = cli_given(opts, n, "--epochs");
    if (a->flip && strcmp(a->flip, "auto") != 0 && strcmp(a->flip, "on") != 0 && strcmp(a->flip, "off") != 0)
        return cli_usage_error("train", "--flip must be 'auto', 'on' or 'off', not '%s'", a->flip);
    if (a->on_divergence && strcmp(a->on_divergence, "stop") != 0 && strcmp(a->on_divergence, "rollback") != 0)
        return cli_usage_error("train", "--on-divergence must be 'stop' or 'rollback', not '%s'", a->on_divergence);
    a->rollback = a->on_divergence && !strcmp(a->on_divergence, "rollback");
    if (!a->comm) a->comm = "auto";
    if (strcmp(a->comm, "auto") != 0 && strcmp(a->comm, "none") != 0 && strcmp(a->comm, "mpi") != 0 &&
        strcmp(a->comm, "nccl") != 0)
        return cli_usage_error("train", "--comm must be 'auto', 'none', 'mpi' or 'nccl', not '%s'", a->comm);
    return CLI_GO;
}

/* Trainer settings --set accepts (alae_train.h). */
static const struct {
    const char *name;
    int32_t key;
} trainer_keys[] = {
    {"r1_gamma", ALAE_TRAIN_R1_GAMMA},       {"latent_loss", ALAE_TRAIN_LATENT_LOSS},
    {"latent_loss_weight", ALAE_TRAIN_LATENT_LOSS_WEIGHT}, {"ema_half_life", ALAE_TRAIN_EMA_HALF_LIFE},
    {"dlatent_beta", ALAE_TRAIN_DLATENT_BETA}, {"style_mixing", ALAE_TRAIN_STYLE_MIXING},
    {"epochs_per_lod", ALAE_TRAIN_EPOCHS_PER_LOD}, {"r1_interval", ALAE_TRAIN_R1_INTERVAL},
};
#define N_TRAINER_KEYS ((int)(sizeof trainer_keys / sizeof trainer_keys[0]))

static int trainer_key(const char *name) {
    for (int i = 0; i < N_TRAINER_KEYS; i++)
        if (!strcmp(trainer_keys[i].name, name)) return trainer_keys[i].key;
    return 0;
}

/* A trainer KEY=VALUE of --set (already checked by apply_setting); 0 for a model setting. */
static int32_t split_trainer_setting(const char *item, double *value) {
    const char *eq = strchr(item, '=');
    char name[64];
    if (!eq || (size_t)(eq - item) >= sizeof name) return 0;
    memcpy(name, item, (size_t)(eq - item));
    name[eq - item] = '\0';
    *value = strtod(eq + 1, NULL);
    return trainer_key(name);
}

static int apply_setting(alae_model_config *cfg, const char *item) {
    const char *eq = strchr(item, '=');
    char name[64];
    if (!eq || eq == item || (size_t)(eq - item) >= sizeof name)
        return cli_usage_error("train", "--set: '%s' is not key=value", item);
    memcpy(name, item, (size_t)(eq - item));
    name[eq - item] = '\0';
    int32_t key;
    int is_trainer = trainer_key(name) != 0;
    if (!is_trainer && alae_model_config_key(name, &key) != ALAE_OK) {
        char known[1024] = "";
        for (int i = 1; i < cli_setting_count; i++) /* [0] is the read-only "arch" */
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i > 1 ? ", " : "",
                     cli_setting_names[i]);
        for (int i = 0; i < N_TRAINER_KEYS; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), ", %s", trainer_keys[i].name);
        return cli_usage_error("train", "--set: unknown setting '%s' (known: %s)", name, known);
    }
    char *end;
    double v = strtod(eq + 1, &end);
    if (!eq[1] || *end || !isfinite(v))
        return cli_usage_error("train", "--set %s: '%s' is not a finite number", name, eq + 1);
    if (is_trainer) return CLI_GO; /* applied to the trainer once it exists */
    if (alae_model_config_set(cfg, key, v) != ALAE_OK)
        return cli_usage_error("train", "--set %s: %s", name, alae_last_error());
    return CLI_GO;
}

static int make_config(const train_args *a, alae_model_config **cfg) {
    if (alae_model_config_create(a->preset, cfg) != ALAE_OK)
        return cli_usage_error("train", "--preset: %s", alae_last_error());
    for (int i = 0; i < a->sets.n; i++) {
        int rc = apply_setting(*cfg, a->sets.items[i]);
        if (rc != CLI_GO) return rc;
    }
    if (a->resolution && alae_model_config_set(*cfg, ALAE_CFG_IMAGE_SIZE, (double)a->resolution) != ALAE_OK)
        return cli_usage_error("train", "--resolution: %s", alae_last_error());
    if (a->channels && alae_model_config_set(*cfg, ALAE_CFG_CHANNELS, (double)a->channels) != ALAE_OK)
        return cli_usage_error("train", "--channels: %s", alae_last_error());
    return CLI_GO;
}

/* ---- setup ---- */

/* Nothing train writes may be its --data: not one of the files, and not the directory (an
 * image folder that is also --out would take samples.png and reconstructions.png as data). */
static int check_outputs(const train_run *r) {
    const cli_input data = {"--data", r->a.data};
    char report[CLI_PATH_MAX];
    snprintf(report, sizeof report, "%s/report.html", r->a.out); /* fits: make_paths checked a longer name */
    const char *outputs[7] = {r->path_model, r->path_state, r->path_log, r->path_samples, r->path_recon, r->path_run,
                              report};
    for (int i = 0; i < 7; i++) {
        int rc = cli_check_output("train", "--out", outputs[i], &data, 1);
        if (rc != CLI_GO) return rc;
    }
    for (int k = 0; k < 9; k++) { /* samples-lod<k>.png */
        char path[CLI_PATH_MAX];
        snprintf(path, sizeof path, "%s/samples-lod%d.png", r->a.out, k);
        int rc = cli_check_output("train", "--out", path, &data, 1);
        if (rc != CLI_GO) return rc;
    }
    struct stat d, o;
    if (stat(r->a.data, &d) == 0 && stat(r->a.out, &o) == 0 && d.st_dev == o.st_dev && d.st_ino == o.st_ino)
        return cli_error("train", "--data %s is the output directory --out %s: its images would change as the run "
                         "writes its own", cli_shown(r->a.data), cli_shown(r->a.out));
    return CLI_GO;
}

static int make_paths(train_run *r) {
    static const char *const names[6] = {"model.safetensors", "train-state.safetensors", "log.csv", "samples.png",
                                         "reconstructions.png", "train-run.txt"};
    char *dst[6] = {r->path_model, r->path_state, r->path_log, r->path_samples, r->path_recon, r->path_run};
    for (int i = 0; i < 6; i++) {
        int n = snprintf(dst[i], CLI_PATH_MAX, "%s/%s", r->a.out, names[i]);
        if (n < 0 || n >= CLI_PATH_MAX) return cli_usage_error("train", "--out: the path is too long");
    }
    int rc = check_outputs(r);
    if (rc != CLI_GO) return rc;
    int err = cli_mkdirs(r->a.out);
    if (err) return cli_error("train", "cannot create the directory '%s': %s", r->a.out, strerror(err));
    if (r->a.resume && !cli_exists(r->path_state))
        return cli_error("train", "--resume: %s does not exist", r->path_state);
    if (!r->a.resume && cli_exists(r->path_state))
        return cli_error("train", "%s already holds a training state: add --resume to continue it, or choose "
                                  "another --out", r->a.out);
    return CLI_GO;
}

static int open_data(train_run *r) {
    int rc = cli_open_dataset("train", r->a.data, &r->g, r->a.skip_bad ? ALAE_FOLDER_SKIP_BAD : 0, &r->ds);
    if (rc != CLI_GO) return rc;
    r->count = alae_dataset_count(r->ds);
    if (r->a.max_images && r->a.max_images < r->count) r->count = r->a.max_images;
    r->flips_on = r->a.flip && strcmp(r->a.flip, "auto") != 0 ? !strcmp(r->a.flip, "on") : cli_is_image_path(r->a.data);
    r->cur_batch = r->a.batch;
    if (r->style) return CLI_GO; /* the schedule: style_schedule, once the trainer exists */
    r->bpe = r->count / r->a.batch;
    if (r->bpe < 1)
        return cli_error("train", "%s holds %lld images, fewer than one batch of %lld", r->a.data,
                         (long long)r->count, (long long)r->a.batch);
    if (r->a.steps == 0 && r->a.epochs > (int64_t)(CLI_SEED_MAX / (double)r->bpe))
        return cli_usage_error("train", "--epochs %lld is too many", (long long)r->a.epochs);
    r->total = r->a.steps ? r->a.steps : r->a.epochs * r->bpe;
    return CLI_GO;
}

static double style_schedule_sum(const train_run *r, int64_t epochs, int images);

/* The trainer settings of --set (every preset), through the setters' range checks. */
static int apply_trainer_settings(train_run *r) {
    for (int i = 0; i < r->a.sets.n; i++) {
        double v;
        int32_t key = split_trainer_setting(r->a.sets.items[i], &v);
        if (key && alae_trainer_set(r->tr, key, v) != ALAE_OK)
            return cli_usage_error("train", "--set %s: %s", r->a.sets.items[i], alae_last_error());
    }
    return CLI_GO;
}

/* StyleALAE: --batch and --lr, the data set size, and the step to train to (--epochs: the
 * steps of the schedule's epochs, level by level). */
static int style_schedule(train_run *r) {
    alae_status s = alae_trainer_set(r->tr, ALAE_TRAIN_DATASET_SIZE, (double)r->count);
    for (int32_t l = 0; s == ALAE_OK && l < r->levels; l++) {
        if (r->a.batch_given) s = alae_trainer_set_level(r->tr, l, ALAE_LEVEL_BATCH, (double)r->a.batch);
        if (s == ALAE_OK && r->a.lr_given) s = alae_trainer_set_level(r->tr, l, ALAE_LEVEL_LR, r->a.lr);
    }
    double epl = 0, epochs = 0;
    if (s == ALAE_OK) s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCHS_PER_LOD, &epl);
    if (s == ALAE_OK) s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCHS, &epochs);
    if (s != ALAE_OK) return cli_fail("train", s);
    for (int32_t l = 0; l < r->levels; l++) {
        double b = 1;
        if ((s = alae_trainer_get_level(r->tr, l, ALAE_LEVEL_BATCH, &b)) != ALAE_OK) return cli_fail("train", s);
        if ((int64_t)b * r->ranks > r->count)
            return cli_error("train", "%s holds %lld images, fewer than one batch of %lld (level %d)", r->a.data,
                             (long long)r->count, (long long)b * r->ranks, (int)l);
    }
    int64_t e_total = r->a.epochs_given ? r->a.epochs : (int64_t)epochs;
    double steps = r->a.steps ? (double)r->a.steps : style_schedule_sum(r, e_total, 0);
    if (steps > CLI_SEED_MAX) return cli_usage_error("train", "--epochs %lld is too many", (long long)e_total);
    r->total = (int64_t)steps;
    return CLI_GO;
}

/* The number of epochs among 0..epochs-1 that train level l (the last level takes every epoch
 * from (levels - 1) * epochs_per_lod on; epochs_per_lod 0: the last level throughout). */
static int64_t epochs_at_level(int64_t epl, int32_t levels, int32_t l, int64_t epochs) {
    if (epl <= 0) return l == levels - 1 ? epochs : 0;
    int64_t first = (int64_t)l * epl, end = l == levels - 1 ? epochs : first + epl;
    if (end > epochs) end = epochs;
    return end > first ? end - first : 0;
}

/* The steps (images = 0) or the images (images = 1) that the schedule trains in epochs
 * 0..epochs-1: each epoch of level l has floor(count / batch_l) steps. O(levels), as a double
 * (exact up to 2^53; callers refuse more). */
static double style_schedule_sum(const train_run *r, int64_t epochs, int images) {
    double epl = 0, sum = 0;
    alae_trainer_get(r->tr, ALAE_TRAIN_EPOCHS_PER_LOD, &epl);
    for (int32_t l = 0; l < r->levels; l++) {
        double b = 1;
        alae_trainer_get_level(r->tr, l, ALAE_LEVEL_BATCH, &b);
        int64_t global = (int64_t)b * r->ranks, per_epoch = r->count / global; /* the global batch */
        double n = (double)epochs_at_level((int64_t)epl, r->levels, l, epochs);
        sum += n * (double)per_epoch * (images ? (double)global : 1.0);
    }
    return sum;
}

static int alloc_order(train_run *r) {
    r->perm = cli_alloc(r->count, sizeof *r->perm);
    r->flips = cli_alloc(r->count, 1);
    r->perm_epoch = -1;
    return r->perm && r->flips ? CLI_GO : cli_error("train", "no memory for the order of %lld images", (long long)r->count);
}

static alae_status make_optimizer(train_run *r, int32_t parts, alae_optimizer **opt) {
    alae_status s = alae_optimizer_create_adam(r->model, parts, opt);
    return s == ALAE_OK ? alae_optimizer_set(*opt, ALAE_OPT_LR, r->a.lr) : s;
}

static alae_status make_trainer(train_run *r) {
    alae_status s = cli_context(r->a.threads, &r->ctx);
    if (s == ALAE_OK) s = alae_model_create(r->ctx, r->cfg, (uint64_t)r->a.seed, &r->model);
    if (s == ALAE_OK) s = make_optimizer(r, ALAE_PART_F | ALAE_PART_G, &r->opt_fg);
    if (s == ALAE_OK) s = make_optimizer(r, ALAE_PART_E | ALAE_PART_D, &r->opt_ed);
    if (s == ALAE_OK) s = alae_trainer_create(r->model, r->opt_fg, r->opt_ed, &r->tr);
    if (s == ALAE_OK) s = alae_trainer_set(r->tr, ALAE_TRAIN_SEED, (double)r->a.seed);
    double levels = 1;
    if (s == ALAE_OK) s = alae_model_get(r->model, ALAE_MODEL_LEVELS, &levels);
    r->levels = (int32_t)levels;
    return s;
}

/* --resume: the saved state, with its learning rates unless --lr is given. */
static alae_status resume(train_run *r) {
    alae_status s = alae_trainer_load(r->tr, r->path_state);
    if (s == ALAE_OK && r->a.lr_given) s = alae_optimizer_set(r->opt_fg, ALAE_OPT_LR, r->a.lr);
    if (s == ALAE_OK && r->a.lr_given) s = alae_optimizer_set(r->opt_ed, ALAE_OPT_LR, r->a.lr);
    return s;
}

/* --resume: the counters of the state must be ones this run can have reached (a corrupt or
 * foreign state could hold any): the images trained on fit in 2^53, every epoch had at least one
 * step (no level's batch exceeds the data), an epoch never holds more images than the data. */
static int check_resumed_counters(const train_run *r) {
    double step = (double)alae_trainer_step_count(r->tr), epoch = 0, images = 0;
    if (!r->style) {
        if (step > CLI_SEED_MAX / (double)(r->a.batch * r->ranks))
            return cli_error("train", "%s: step %.0f is beyond any run of batch %lld", r->path_state, step,
                             (long long)(r->a.batch * r->ranks));
        return CLI_GO;
    }
    alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH, &epoch);
    alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH_IMAGES, &images);
    if (epoch > step || images > (double)r->count || style_schedule_sum(r, (int64_t)epoch, 1) > CLI_SEED_MAX)
        return cli_error("train", "%s: position epoch %.0f, image %.0f at step %.0f cannot be reached with %lld images",
                         r->path_state, epoch, images, step, (long long)r->count);
    return CLI_GO;
}

/* StyleALAE: the schedule at its position (the start, or the one the state file holds). */
static alae_status style_position(train_run *r, int from_state) {
    double epoch = 0, images = 0, b = 1;
    alae_status s = ALAE_OK;
    if (from_state) s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH, &epoch);
    if (s == ALAE_OK && from_state) s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH_IMAGES, &images);
    if (s == ALAE_OK) s = alae_trainer_set_position(r->tr, (uint64_t)epoch, (uint64_t)images);
    if (s == ALAE_OK) s = alae_trainer_get(r->tr, ALAE_TRAIN_BATCH, &b);
    r->cur_batch = (int64_t)b;
    r->images = (int64_t)style_schedule_sum(r, (int64_t)epoch, 1) + (int64_t)images;
    return s;
}

/* Plans the step for the batch size (all its memory, once) and the batch tensor. */
static alae_status prepare_step(train_run *r) {
    alae_status s = alae_trainer_reserve(r->tr, r->cur_batch, &r->step_bytes);
    int64_t shape[4] = {r->cur_batch, r->g.channels, r->g.size, r->g.size};
    alae_tensor_destroy(r->batch);
    r->batch = NULL;
    return s == ALAE_OK ? alae_tensor_create(r->ctx, ALAE_DTYPE_F32, 4, shape, &r->batch) : s;
}

/* The fixed latents of samples.png and the originals of reconstructions.png. */
static alae_status make_previews(train_run *r) {
    r->n_orig = r->count < CLI_TRAIN_RECON ? r->count : CLI_TRAIN_RECON;
    r->fixed_z = cli_alloc(CLI_TRAIN_SAMPLES, (size_t)r->g.latent * sizeof(float));
    r->originals = cli_alloc(r->n_orig, (size_t)cli_image_floats(&r->g) * sizeof(float));
    if (!r->fixed_z || !r->originals) return ALAE_E_NOMEM;
    alae_status s = cli_normal_latents(r->ctx, (uint64_t)r->a.seed, CLI_TRAIN_SAMPLES, r->g.latent, r->fixed_z);
    return s == ALAE_OK ? cli_read_images(r->ctx, r->ds, &r->g, 0, r->n_orig, r->originals) : s;
}

/* ---- the run record: what --resume must find unchanged (DIR/train-run.txt) ---- */

/* What a run trains on and with: the options --resume checks, the images it uses and a
 * fingerprint of the first of them (so a gzipped copy of the data matches, other data does not). */
typedef struct run_record {
    int64_t seed, batch, max_images, images;
    uint64_t fingerprint;
} run_record;

static uint64_t fingerprint(const float *values, int64_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    const unsigned char *p = (const unsigned char *)values;
    for (size_t i = 0; i < (size_t)n * sizeof(float); i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* This run's record: the global batch, --batch times the ranks (StyleALAE batch 0: the preset's
 * per-level table), so that a resume may change the number of ranks and keep the batch;
 * max_images 0: all, also when --max-images is at least the number there is. */
static run_record this_run(const train_run *r) {
    int64_t max_images = r->a.max_images && r->a.max_images < alae_dataset_count(r->ds) ? r->a.max_images : 0;
    run_record rec = {r->a.seed, r->style && !r->a.batch_given ? 0 : r->a.batch * r->ranks, max_images, r->count,
                      fingerprint(r->originals, r->n_orig * cli_image_floats(&r->g))};
    return rec;
}

static int write_run_record(const train_run *r) {
    run_record rec = this_run(r);
    cli_replace rp;
    int rc = cli_replace_begin("train", r->path_run, &rp);
    if (rc != CLI_GO) return rc;
    fprintf(rp.fp, "# alae train: the data and options of this run, which --resume checks\n"
                   "seed %lld\nbatch %lld\nmax_images %lld\nimages %lld\nfingerprint %016llx\n",
            (long long)rec.seed, (long long)rec.batch, (long long)rec.max_images, (long long)rec.images,
            (unsigned long long)rec.fingerprint);
    /* for people and report.html (--resume reads the lines above only) */
    fprintf(rp.fp, "preset %s\ndata %s\n", cli_shown(r->a.preset), cli_shown(r->a.data));
    for (int i = 0; i < r->a.sets.n; i++) fprintf(rp.fp, "set %s\n", cli_shown(r->a.sets.items[i]));
    return cli_replace_commit("train", &rp, 0);
}

/* 1 if path holds a complete record. */
static int read_run_record(const char *path, run_record *rec) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long long seed, batch, max_images, images;
    unsigned long long fp;
    int n = fscanf(f, "# alae train: %*[^\n] seed %lld batch %lld max_images %lld images %lld fingerprint %llx", &seed,
                   &batch, &max_images, &images, &fp);
    fclose(f);
    *rec = (run_record){seed, batch, max_images, images, fp};
    return n == 5;
}

static int resume_mismatch(const train_run *r, const char *option, const char *saved, const char *given) {
    return cli_error("train", "--resume: %s %s differs from the run's %s (recorded in %s): give the same value, or "
                     "another --out for a new run", option, given, saved, cli_shown(r->path_run));
}

/* --resume: the seed (of the state itself), batch, data and --max-images of the earlier run.
 * A run directory of an older version without train-run.txt is checked for the seed only. */
static int check_resumed_run(const train_run *r) {
    char saved[64], given[64];
    double seed = 0;
    alae_trainer_get(r->tr, ALAE_TRAIN_SEED, &seed);
    snprintf(saved, sizeof saved, "%.0f", seed);
    snprintf(given, sizeof given, "%lld", (long long)r->a.seed);
    if (seed != (double)r->a.seed) return resume_mismatch(r, "--seed", saved, given);
    run_record old, now = this_run(r);
    if (!read_run_record(r->path_run, &old)) return r->rank == 0 ? write_run_record(r) : CLI_GO; /* from now on */
    if (old.batch != now.batch) {
        snprintf(saved, sizeof saved, old.batch ? "%lld" : "(the preset's per-level batches)", (long long)old.batch);
        if (r->ranks > 1 && now.batch)
            snprintf(given, sizeof given, "%lld (x %d ranks = %lld)", (long long)r->a.batch, (int)r->ranks,
                     (long long)now.batch);
        else
            snprintf(given, sizeof given, now.batch ? "%lld" : "(the preset's per-level batches)", (long long)now.batch);
        return resume_mismatch(r, "--batch", saved, given);
    }
    if (old.max_images != now.max_images) {
        snprintf(saved, sizeof saved, old.max_images ? "%lld" : "(all images)", (long long)old.max_images);
        snprintf(given, sizeof given, now.max_images ? "%lld" : "(all images)", (long long)now.max_images);
        return resume_mismatch(r, "--max-images", saved, given);
    }
    if (old.images != now.images || old.fingerprint != now.fingerprint) {
        snprintf(saved, sizeof saved, "data (%lld images, fingerprint %016llx)", (long long)old.images,
                 (unsigned long long)old.fingerprint);
        snprintf(given, sizeof given, "(%lld images, fingerprint %016llx)", (long long)now.images,
                 (unsigned long long)now.fingerprint);
        return cli_error("train", "--resume: --data %s %s is not the run's %s (recorded in %s): give the same data, "
                         "or another --out for a new run", cli_shown(r->a.data), given, saved, cli_shown(r->path_run));
    }
    return CLI_GO;
}


/* ---- data parallelism ---- */

/* Whether an MPI launcher started this process as one of several (OpenMPI, MPICH / Intel MPI,
 * Slurm's srun). */
static int under_mpi_launcher(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return 1;
    }
    return 0;
}

/* Opens the communicator of --comm (auto: under an MPI launcher, nccl on a GPU, else mpi). */
static int open_comm(train_run *r) {
    r->rank = 0;
    r->ranks = 1;
    const char *kind = r->a.comm;
    if (!strcmp(kind, "none") || (!strcmp(kind, "auto") && !under_mpi_launcher())) return CLI_GO;
    if (!strcmp(kind, "auto")) kind = strncmp(cli_device_name(), "cuda", 4) == 0 ? "nccl" : "mpi";
    alae_status s = alae_comm_open(kind, r->ctx, &r->comm);
    if (s != ALAE_OK) return cli_error("train", "--comm %s: %s", kind, alae_last_error());
    r->rank = r->comm->rank;
    r->ranks = r->comm->size;
    return CLI_GO;
}

/* MLP: batches per epoch and the step to train to, with the global batch. */
static int shard_epochs(train_run *r) {
    if (r->style || r->ranks == 1) return CLI_GO;
    r->bpe = r->count / (r->a.batch * r->ranks);
    if (r->bpe < 1)
        return cli_error("train", "%s holds %lld images, fewer than one global batch of %lld (%d ranks)", r->a.data,
                         (long long)r->count, (long long)(r->a.batch * r->ranks), (int)r->ranks);
    if (!r->a.steps) r->total = r->a.epochs * r->bpe;
    return CLI_GO;
}

static int is_root(const train_run *r) { return r->rank == 0; }

/* Whether any rank caught a signal: every rank must stop after the same step. */
static int stop_requested(train_run *r) {
    if (r->ranks == 1 || r->comm->memory != ALAE_COMM_HOST) return caught_signal != 0;
    float flag = caught_signal != 0;
    if (r->comm->allreduce(r->comm->user, &flag, 1, ALAE_REDUCE_SUM, NULL) != ALAE_OK) return 1;
    if (flag > 0 && !caught_signal) caught_signal = SIGINT;
    return flag > 0;
}

static int setup(train_run *r, int argc, char **argv) {
    int rc = parse_args(argc, argv, &r->a);
    if (rc == CLI_GO) rc = make_config(&r->a, &r->cfg);
    if (rc != CLI_GO) return rc;
    alae_status s = cli_config_geometry(r->cfg, &r->g);
    if (s != ALAE_OK) return cli_fail("train", s);
    double arch = 0;
    alae_model_config_get(r->cfg, ALAE_CFG_ARCH, &arch);
    r->style = arch == ALAE_ARCH_STYLE;
    if ((rc = open_data(r)) != CLI_GO || (rc = make_paths(r)) != CLI_GO || (rc = alloc_order(r)) != CLI_GO) return rc;
    if ((s = make_trainer(r)) != ALAE_OK) return cli_fail("train", s);
    if ((rc = apply_trainer_settings(r)) != CLI_GO) return rc;
    if ((rc = open_comm(r)) != CLI_GO || (rc = shard_epochs(r)) != CLI_GO) return rc;
    if (r->style && (rc = style_schedule(r)) != CLI_GO) return rc;
    if (r->a.resume && (s = resume(r)) != ALAE_OK) return cli_fail_file("train", s, r->path_state);
    if (r->a.resume && (rc = check_resumed_counters(r)) != CLI_GO) return rc;
    if (r->a.resume && (rc = apply_trainer_settings(r)) != CLI_GO) return rc; /* --set over the state's */
    if (r->style && r->a.resume && (rc = style_schedule(r)) != CLI_GO) return rc; /* --lr, --batch over the state's */
    if (r->style && (s = style_position(r, r->a.resume)) != ALAE_OK) return cli_fail("train", s);
    if (!r->style) r->images = (int64_t)alae_trainer_step_count(r->tr) * r->a.batch * r->ranks;
    if (r->comm && (s = alae_trainer_set_comm(r->tr, r->comm)) != ALAE_OK) return cli_fail("train", s);
    if ((s = prepare_step(r)) != ALAE_OK || (s = make_previews(r)) != ALAE_OK) return cli_fail("train", s);
    rc = r->a.resume ? check_resumed_run(r) : is_root(r) ? write_run_record(r) : CLI_GO;
    return rc == CLI_GO && is_root(r) ? report_open(r) : rc;
}

static void teardown(train_run *r) {
    report_close(r);
    alae_tensor_destroy(r->batch);
    alae_trainer_destroy(r->tr);
    alae_comm_close(r->comm);
    alae_optimizer_destroy(r->opt_fg);
    alae_optimizer_destroy(r->opt_ed);
    alae_model_destroy(r->model);
    alae_context_destroy(r->ctx);
    alae_dataset_destroy(r->ds);
    alae_model_config_destroy(r->cfg);
    free(r->perm);
    free(r->flips);
    free(r->fixed_z);
    free(r->originals);
}

/* ---- saving ---- */

/* samples_path: samples.png or samples-lod<k>.png; recon_path: NULL to skip the reconstructions. */
static alae_status write_images(train_run *r, const char *samples_path, const char *recon_path) {
    alae_model *smoothed = NULL;
    alae_status s = alae_trainer_smoothed_model(r->tr, &smoothed);
    cli_geom g = r->g; /* the smoothed model runs at the trainer's level */
    double side = g.size;
    if (s == ALAE_OK) s = alae_model_get(smoothed, ALAE_MODEL_RESOLUTION, &side);
    g.size = (int32_t)side;
    int64_t len = cli_image_floats(&g), full = cli_image_floats(&r->g);
    float *x = cli_alloc(CLI_TRAIN_SAMPLES + 2 * r->n_orig, (size_t)full * sizeof(float));
    cli_shape zs = cli_latent_shape(&g), xs = cli_image_shape(&g);
    if (!x && s == ALAE_OK) s = ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_apply(r->ctx, smoothed, alae_model_sample, CLI_TRAIN_SAMPLES, r->fixed_z, &zs, x, &xs);
    if (s == ALAE_OK) s = cli_write_grid(samples_path, x, CLI_TRAIN_SAMPLES, &g, 8);
    float *orig = x ? x + CLI_TRAIN_SAMPLES * len : NULL, *rec = orig ? orig + r->n_orig * full : NULL;
    if (s == ALAE_OK && recon_path) {
        memcpy(orig, r->originals, (size_t)(r->n_orig * full) * sizeof(float));
        cli_pool(orig, r->n_orig, g.channels, r->g.size, g.size);
        s = cli_apply(r->ctx, smoothed, alae_model_reconstruct, r->n_orig, orig, &xs, rec, &xs);
    }
    if (s == ALAE_OK && recon_path) s = cli_write_pairs(recon_path, orig, rec, r->n_orig, &g, 8);
    alae_model_destroy(smoothed);
    free(x);
    return s;
}

static alae_status write_level_samples(train_run *r) {
    int32_t lod;
    double blend;
    train_level(r, &lod, &blend);
    char path[CLI_PATH_MAX];
    snprintf(path, sizeof path, "%s/samples-lod%d.png", r->a.out, (int)lod);
    return write_images(r, path, NULL);
}

static alae_status write_previews(train_run *r) {
    alae_status s = write_images(r, r->path_samples, r->path_recon);
    return s == ALAE_OK && r->style ? write_level_samples(r) : s;
}

static int save_all(train_run *r) {
    if (!is_root(r)) { /* rank 0 writes for all */
        r->saved_step = (int64_t)alae_trainer_step_count(r->tr);
        return CLI_GO;
    }
    alae_status s = alae_trainer_save(r->tr, r->path_state);
    if (s == ALAE_OK) s = alae_trainer_save_model(r->tr, r->path_model);
    if (s == ALAE_OK) s = write_previews(r);
    if (s == ALAE_OK) r->saved_step = (int64_t)alae_trainer_step_count(r->tr);
    if (s == ALAE_OK) report_save(r, r->saved_step);
    return s == ALAE_OK ? CLI_GO : cli_fail("train", s);
}

/* ---- divergence: a NaN or infinite loss ---- */

#define CLI_MAX_ROLLBACKS 5

/* The name of the first non-finite loss of a step, or NULL. */
static const char *nonfinite_loss(const alae_step_stats *st, float *value) {
    const float values[4] = {st->loss_d, st->loss_g, st->loss_ae, st->r1};
    static const char *const names[4] = {"loss_d", "loss_g", "loss_ae", "r1"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(values[i])) {
            *value = values[i];
            return names[i];
        }
    return NULL;
}

/* Reloads the last saved state with both learning rates halved. */
static int roll_back(train_run *r, int64_t step, const char *loss, float value) {
    if (++r->rollbacks > CLI_MAX_ROLLBACKS)
        return cli_error("train", "step %lld: %s is %g again; gave up after %d rollbacks (the state of step %lld "
                         "in %s is intact)", (long long)step, loss, (double)value, CLI_MAX_ROLLBACKS,
                         (long long)r->saved_step, r->path_state);
    double lr_fg, lr_ed; /* the rates that diverged, halved */
    alae_status s = alae_optimizer_get(r->opt_fg, ALAE_OPT_LR, &lr_fg);
    if (s == ALAE_OK) s = alae_optimizer_get(r->opt_ed, ALAE_OPT_LR, &lr_ed);
    if (s == ALAE_OK) s = alae_trainer_load(r->tr, r->path_state);
    lr_fg *= 0.5;
    lr_ed *= 0.5;
    if (s == ALAE_OK) s = alae_optimizer_set(r->opt_fg, ALAE_OPT_LR, lr_fg);
    if (s == ALAE_OK) s = alae_optimizer_set(r->opt_ed, ALAE_OPT_LR, lr_ed);
    if (s == ALAE_OK && r->style) { /* the saved position, with its batch; then the halved rates again */
        int64_t batch = r->cur_batch;
        s = style_position(r, 1);
        if (s == ALAE_OK && r->cur_batch != batch) s = prepare_step(r);
        if (s == ALAE_OK) s = alae_optimizer_set(r->opt_fg, ALAE_OPT_LR, lr_fg);
        if (s == ALAE_OK) s = alae_optimizer_set(r->opt_ed, ALAE_OPT_LR, lr_ed);
    }
    if (!r->style) r->images = r->saved_step * r->a.batch * r->ranks;
    if (s != ALAE_OK) return cli_fail_file("train", s, r->path_state);
    fprintf(stderr, "\nalae train: step %lld: %s is %g; rolled back to step %lld with learning rates %g and %g\n",
            (long long)step, loss, (double)value, (long long)r->saved_step, lr_fg, lr_ed);
    r->perm_epoch = -1;
    memset(&r->iv, 0, sizeof r->iv); /* the diverged steps do not count in the next log row */
    r->iv.start = cli_now();
    return CLI_GO;
}

static int diverged(train_run *r, int64_t step, const alae_step_stats *st) {
    float value;
    const char *loss = nonfinite_loss(st, &value);
    if (!loss) return CLI_GO;
    if (r->a.rollback) return roll_back(r, step, loss, value);
    if (r->saved_step < 0)
        return cli_error("train", "step %lld: %s is %g: training diverged and stopped; nothing was saved (try a "
                         "lower --lr or --on-divergence rollback)", (long long)step, loss, (double)value);
    return cli_error("train", "step %lld: %s is %g: training diverged and stopped; the state of step %lld in %s "
                     "is intact (try a lower --lr, or --on-divergence rollback)", (long long)step, loss,
                     (double)value, (long long)r->saved_step, r->path_state);
}

/* ---- the loop ---- */

/* The flips of images first..first+n-1 of the global batch of `step`. */
static void make_flips(train_run *r, int64_t step, int64_t first, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (!r->flips_on) {
            r->flips[i] = 0;
            continue;
        }
        uint64_t h = (uint64_t)r->a.seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)step * 0xBF58476D1CE4E5B9ull ^
                     (uint64_t)(first + i) * 0x94D049BB133111EBull;
        h ^= h >> 31;
        h *= 0xD6E8FEB86A7B2B0Dull;
        h ^= h >> 29;
        r->flips[i] = (uint8_t)(h >> 63);
    }
}

static alae_status read_order(train_run *r, int64_t epoch, int64_t pos, int64_t n, int64_t step) {
    if (epoch != r->perm_epoch) {
        alae_status s = alae_shuffle_order((uint64_t)r->a.seed, (uint64_t)epoch, r->count, r->perm);
        if (s != ALAE_OK) return s;
        r->perm_epoch = epoch;
    }
    int64_t first = (int64_t)r->rank * n; /* this rank's part of the global batch */
    make_flips(r, step, first, n);
    return alae_dataset_read_flipped(r->ds, r->perm + pos + first, r->flips, n, r->g.range, r->batch);
}

static alae_status load_batch(train_run *r, int64_t step) {
    if (!r->style) return read_order(r, step / r->bpe, step % r->bpe * r->a.batch * r->ranks, r->a.batch, step);
    /* StyleALAE: the trainer holds the schedule position; an epoch ends before a partial batch. */
    double epoch, images, b;
    alae_status s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH, &epoch);
    if (s == ALAE_OK) s = alae_trainer_get(r->tr, ALAE_TRAIN_EPOCH_IMAGES, &images);
    if (s == ALAE_OK) s = alae_trainer_get(r->tr, ALAE_TRAIN_BATCH, &b);
    if (s != ALAE_OK) return s;
    if ((int64_t)images + (int64_t)b * r->ranks > r->count) {
        int32_t lod, next;
        double blend, epl = 0;
        train_level(r, &lod, &blend);
        alae_trainer_get(r->tr, ALAE_TRAIN_EPOCHS_PER_LOD, &epl);
        int64_t e = (int64_t)epoch + 1;
        next = epl > 0 && e / (int64_t)epl < r->levels - 1 ? (int32_t)(e / (int64_t)epl) : r->levels - 1;
        if (next != lod && is_root(r) && (s = write_level_samples(r)) != ALAE_OK) return s; /* the level ends */
        if ((s = alae_trainer_set_position(r->tr, (uint64_t)e, 0)) != ALAE_OK) return s;
        if ((s = alae_trainer_get(r->tr, ALAE_TRAIN_BATCH, &b)) != ALAE_OK) return s;
        epoch = (double)e;
        images = 0;
    }
    if ((int64_t)b != r->cur_batch) {
        r->cur_batch = (int64_t)b;
        if ((s = prepare_step(r)) != ALAE_OK) return s;
    }
    return read_order(r, (int64_t)epoch, (int64_t)images, r->cur_batch, step);
}

static int train_step(train_run *r) {
    int64_t step = (int64_t)alae_trainer_step_count(r->tr);
    alae_step_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    alae_status s = load_batch(r, step);
    if (s == ALAE_OK) s = alae_trainer_step(r->tr, r->batch, &st);
    if (s != ALAE_OK) return cli_error("train", "step %lld: %s", (long long)step + 1, alae_last_error());
    r->images += r->cur_batch * r->ranks;
    if (!isfinite(st.loss_d) || !isfinite(st.loss_g) || !isfinite(st.loss_ae) || !isfinite(st.r1))
        return diverged(r, step + 1, &st);
    return is_root(r) ? report_step(r, &st) : CLI_GO;
}

static int train_loop(train_run *r) {
    int rc = CLI_GO;
    r->saved_step = r->a.resume ? (int64_t)alae_trainer_step_count(r->tr) : -1;
    if (r->a.rollback && r->saved_step < 0) rc = save_all(r); /* something to roll back to */
    while (rc == CLI_GO && !stop_requested(r) && (int64_t)alae_trainer_step_count(r->tr) < r->total) {
        rc = train_step(r);
        if (rc == CLI_GO && alae_trainer_step_count(r->tr) % (uint64_t)r->a.save_every == 0) rc = save_all(r);
    }
    if (rc == CLI_GO && is_root(r)) rc = report_flush(r);
    r->final_save = 1;
    if (rc == CLI_GO) rc = save_all(r);
    return rc;
}

int cli_cmd_train(int argc, char **argv) {
    train_run r;
    memset(&r, 0, sizeof r);
    int rc = setup(&r, argc, argv);
    if (rc == CLI_GO) {
        catch_signals();
        if (is_root(&r)) report_start(&r);
        rc = train_loop(&r);
        if (rc == CLI_GO && is_root(&r)) report_end(&r, (int)caught_signal);
        if (rc == CLI_GO) rc = caught_signal ? 128 + (int)caught_signal : CLI_OK;
    }
    teardown(&r);
    return rc;
}
