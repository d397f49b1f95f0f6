/* alae command-line tool: train.
 *
 * The data order is a function of (seed, step) only: with bpe = floor(count / batch) batches per
 * epoch (the last partial batch is dropped), step k trains on batch k % bpe of the permutation
 * alae_shuffle_order(seed, k / bpe, count). The trainer draws its latents from ALAE_TRAIN_SEED =
 * seed and its state file holds its position, so a run resumed from DIR/train-state.safetensors
 * repeats an uninterrupted one bit for bit (same seed, one thread). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_train.h"

static const char train_usage[] =
    "usage: alae train --preset mnist-fc|mnist-fc-paper --data IMAGES.idx[.gz] --out DIR\n"
    "                  [--steps N | --epochs E] [--batch 128] [--seed S] [--threads T] [--resume]\n"
    "                  [--lr 0.002] [--report-every 100] [--save-every 1000] [--set key=value ...]\n"
    "                  [--on-divergence stop|rollback]\n"
    "\n"
    "Trains an ALAE on the images of an IDX file and writes into DIR:\n"
    "  model.safetensors        the smoothed (EMA) model, for sample/encode/decode/reconstruct/info\n"
    "  train-state.safetensors  the whole training state, for --resume\n"
    "  log.csv                  step,images,loss_d,loss_g,loss_ae,r1,seconds: the mean losses of each\n"
    "                           reporting interval and the training time so far\n"
    "  samples.png              64 samples of the smoothed model from fixed latents (8x8)\n"
    "  reconstructions.png      the first 32 images (top) above their reconstructions (bottom)\n"
    "The state, the model and the images are written every --save-every steps and at the end;\n"
    "Ctrl-C (SIGINT) finishes the current step, saves them and exits with status 130.\n"
    "\n"
    "  --preset NAME      mnist-fc (32x32 padded digits in [-1, 1]) or mnist-fc-paper (28x28 in [0, 1])\n"
    "  --data FILE        IDX images (MNIST, Fashion-MNIST; raw or gzip)\n"
    "  --out DIR          the output directory (created if missing)\n"
    "  --steps N          train until the trainer has done N steps in all\n"
    "  --epochs E         train until E epochs of floor(images / batch) steps (default: 1 epoch)\n"
    "  --batch B          images per step, 1..65536 (128)\n"
    "  --seed S           seed of the parameters, the latents and the data order, 0..2^53 (0)\n"
    "  --threads T        worker threads, 1..256 (all CPUs; 1 for bitwise-reproducible resumes)\n"
    "  --resume           continue from DIR/train-state.safetensors (same preset, --set, --batch\n"
    "                     and --seed as before); log.csv is appended to\n"
    "  --lr LR            learning rate of both optimizers (0.002); on --resume the saved one\n"
    "                     unless --lr is given\n"
    "  --report-every N   steps per log.csv row and progress report (100)\n"
    "  --save-every N     steps between saves (1000)\n"
    "  --set KEY=VALUE    a model setting by name (repeatable): latent_dim, mapping_layers,\n"
    "                     hidden, image_size, channels, net_size, data_range, g_slope, e_slope,\n"
    "                     e_out_slope, d_layers\n"
    "  --on-divergence W  when a loss becomes NaN or infinite: 'stop' (default) ends with an error\n"
    "                     naming the step and the loss, leaving the last saved state intact;\n"
    "                     'rollback' reloads that state, halves the learning rates and goes on\n"
    "                     (at most 5 times)\n";

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
    };
    const char *required[] = {"--preset", "--data", "--out"};
    int n = (int)(sizeof opts / sizeof opts[0]), rc = cli_parse("train", train_usage, argc, argv, opts, n);
    if (rc == CLI_GO) rc = cli_require("train", opts, n, required, 3);
    if (rc != CLI_GO) return rc;
    if (cli_given(opts, n, "--steps") && cli_given(opts, n, "--epochs"))
        return cli_usage_error("train", "give --steps or --epochs, not both");
    a->lr_given = cli_given(opts, n, "--lr");
    if (a->on_divergence && strcmp(a->on_divergence, "stop") != 0 && strcmp(a->on_divergence, "rollback") != 0)
        return cli_usage_error("train", "--on-divergence must be 'stop' or 'rollback', not '%s'", a->on_divergence);
    a->rollback = a->on_divergence && !strcmp(a->on_divergence, "rollback");
    return CLI_GO;
}

static int apply_setting(alae_model_config *cfg, const char *item) {
    const char *eq = strchr(item, '=');
    char name[64];
    if (!eq || eq == item || (size_t)(eq - item) >= sizeof name)
        return cli_usage_error("train", "--set: '%s' is not key=value", item);
    memcpy(name, item, (size_t)(eq - item));
    name[eq - item] = '\0';
    int32_t key;
    if (alae_model_config_key(name, &key) != ALAE_OK) {
        char known[512] = "";
        for (int i = 1; i < cli_setting_count; i++) /* [0] is the read-only "arch" */
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i > 1 ? ", " : "",
                     cli_setting_names[i]);
        return cli_usage_error("train", "--set: unknown setting '%s' (known: %s)", name, known);
    }
    char *end;
    double v = strtod(eq + 1, &end);
    if (!eq[1] || *end) return cli_usage_error("train", "--set %s: '%s' is not a number", name, eq + 1);
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
    return CLI_GO;
}

/* ---- setup ---- */

static int make_paths(train_run *r) {
    static const char *const names[5] = {"model.safetensors", "train-state.safetensors", "log.csv", "samples.png",
                                         "reconstructions.png"};
    char *dst[5] = {r->path_model, r->path_state, r->path_log, r->path_samples, r->path_recon};
    for (int i = 0; i < 5; i++) {
        int n = snprintf(dst[i], CLI_PATH_MAX, "%s/%s", r->a.out, names[i]);
        if (n < 0 || n >= CLI_PATH_MAX) return cli_usage_error("train", "--out: the path is too long");
    }
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
    alae_status s = alae_dataset_open_idx(r->a.data, NULL, &r->ds);
    if (s != ALAE_OK) return cli_fail_file("train", s, r->a.data);
    int rc = cli_check_data("train", r->ds, r->a.data, &r->g);
    if (rc != CLI_GO) return rc;
    r->count = alae_dataset_count(r->ds);
    r->bpe = r->count / r->a.batch;
    if (r->bpe < 1)
        return cli_error("train", "%s holds %lld images, fewer than one batch of %lld", r->a.data,
                         (long long)r->count, (long long)r->a.batch);
    if (r->a.steps == 0 && r->a.epochs > (int64_t)(CLI_SEED_MAX / (double)r->bpe))
        return cli_usage_error("train", "--epochs %lld is too many", (long long)r->a.epochs);
    r->total = r->a.steps ? r->a.steps : r->a.epochs * r->bpe;
    r->perm = cli_alloc(r->count, sizeof *r->perm);
    r->perm_epoch = -1;
    return r->perm ? CLI_GO : cli_error("train", "no memory for the order of %lld images", (long long)r->count);
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
    return s;
}

/* --resume: the saved state, with its learning rates unless --lr is given. */
static alae_status resume(train_run *r) {
    alae_status s = alae_trainer_load(r->tr, r->path_state);
    if (s == ALAE_OK && r->a.lr_given) s = alae_optimizer_set(r->opt_fg, ALAE_OPT_LR, r->a.lr);
    if (s == ALAE_OK && r->a.lr_given) s = alae_optimizer_set(r->opt_ed, ALAE_OPT_LR, r->a.lr);
    return s;
}

/* Plans the step for the batch size (all its memory, once) and the batch tensor. */
static alae_status prepare_step(train_run *r) {
    alae_status s = alae_trainer_reserve(r->tr, r->a.batch, &r->step_bytes);
    int64_t shape[4] = {r->a.batch, r->g.channels, r->g.size, r->g.size};
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

static int setup(train_run *r, int argc, char **argv) {
    int rc = parse_args(argc, argv, &r->a);
    if (rc == CLI_GO) rc = make_config(&r->a, &r->cfg);
    if (rc != CLI_GO) return rc;
    alae_status s = cli_config_geometry(r->cfg, &r->g);
    if (s != ALAE_OK) return cli_fail("train", s);
    if ((rc = open_data(r)) != CLI_GO || (rc = make_paths(r)) != CLI_GO) return rc;
    if ((s = make_trainer(r)) != ALAE_OK) return cli_fail("train", s);
    if (r->a.resume && (s = resume(r)) != ALAE_OK) return cli_fail_file("train", s, r->path_state);
    if ((s = prepare_step(r)) != ALAE_OK || (s = make_previews(r)) != ALAE_OK) return cli_fail("train", s);
    return report_open(r);
}

static void teardown(train_run *r) {
    report_close(r);
    alae_tensor_destroy(r->batch);
    alae_trainer_destroy(r->tr);
    alae_optimizer_destroy(r->opt_fg);
    alae_optimizer_destroy(r->opt_ed);
    alae_model_destroy(r->model);
    alae_context_destroy(r->ctx);
    alae_dataset_destroy(r->ds);
    alae_model_config_destroy(r->cfg);
    free(r->perm);
    free(r->fixed_z);
    free(r->originals);
}

/* ---- saving ---- */

static alae_status write_previews(train_run *r) {
    alae_model *smoothed = NULL;
    int64_t len = cli_image_floats(&r->g);
    float *x = cli_alloc(CLI_TRAIN_SAMPLES + r->n_orig, (size_t)len * sizeof(float));
    cli_shape zs = cli_latent_shape(&r->g), xs = cli_image_shape(&r->g);
    alae_status s = x ? alae_trainer_smoothed_model(r->tr, &smoothed) : ALAE_E_NOMEM;
    if (s == ALAE_OK) s = cli_apply(r->ctx, smoothed, alae_model_sample, CLI_TRAIN_SAMPLES, r->fixed_z, &zs, x, &xs);
    if (s == ALAE_OK) s = cli_write_grid(r->path_samples, x, CLI_TRAIN_SAMPLES, &r->g, 8);
    float *rec = x ? x + CLI_TRAIN_SAMPLES * len : NULL;
    if (s == ALAE_OK) s = cli_apply(r->ctx, smoothed, alae_model_reconstruct, r->n_orig, r->originals, &xs, rec, &xs);
    if (s == ALAE_OK) s = cli_write_pairs(r->path_recon, r->originals, rec, r->n_orig, &r->g, 8);
    alae_model_destroy(smoothed);
    free(x);
    return s;
}

static int save_all(train_run *r) {
    alae_status s = alae_trainer_save(r->tr, r->path_state);
    if (s == ALAE_OK) s = alae_trainer_save_model(r->tr, r->path_model);
    if (s == ALAE_OK) s = write_previews(r);
    if (s == ALAE_OK) r->saved_step = (int64_t)alae_trainer_step_count(r->tr);
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

static alae_status load_batch(train_run *r, int64_t step) {
    int64_t epoch = step / r->bpe, pos = step % r->bpe;
    if (epoch != r->perm_epoch) {
        alae_status s = alae_shuffle_order((uint64_t)r->a.seed, (uint64_t)epoch, r->count, r->perm);
        if (s != ALAE_OK) return s;
        r->perm_epoch = epoch;
    }
    return alae_dataset_read(r->ds, r->perm + pos * r->a.batch, r->a.batch, r->g.range, r->batch);
}

static int train_step(train_run *r) {
    int64_t step = (int64_t)alae_trainer_step_count(r->tr);
    alae_step_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    alae_status s = load_batch(r, step);
    if (s == ALAE_OK) s = alae_trainer_step(r->tr, r->batch, &st);
    if (s != ALAE_OK) return cli_error("train", "step %lld: %s", (long long)step + 1, alae_last_error());
    if (!isfinite(st.loss_d) || !isfinite(st.loss_g) || !isfinite(st.loss_ae) || !isfinite(st.r1))
        return diverged(r, step + 1, &st);
    return report_step(r, &st);
}

static int train_loop(train_run *r) {
    int rc = CLI_GO;
    r->saved_step = r->a.resume ? (int64_t)alae_trainer_step_count(r->tr) : -1;
    if (r->a.rollback && r->saved_step < 0) rc = save_all(r); /* something to roll back to */
    while (rc == CLI_GO && !caught_signal && (int64_t)alae_trainer_step_count(r->tr) < r->total) {
        rc = train_step(r);
        if (rc == CLI_GO && alae_trainer_step_count(r->tr) % (uint64_t)r->a.save_every == 0) rc = save_all(r);
    }
    if (rc == CLI_GO) rc = report_flush(r);
    if (rc == CLI_GO) rc = save_all(r);
    return rc;
}

int cli_cmd_train(int argc, char **argv) {
    train_run r;
    memset(&r, 0, sizeof r);
    int rc = setup(&r, argc, argv);
    if (rc == CLI_GO) {
        catch_signals();
        report_start(&r);
        rc = train_loop(&r);
        if (rc == CLI_GO) report_end(&r, (int)caught_signal);
        if (rc == CLI_GO) rc = caught_signal ? 128 + (int)caught_signal : CLI_OK;
    }
    teardown(&r);
    return rc;
}
