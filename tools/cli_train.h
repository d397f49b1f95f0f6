/* alae command-line tool: the state of a training run, shared by cli_train.c (setup, loop,
 * saving) and cli_train_report.c (log.csv and progress). */
#ifndef ALAE_CLI_TRAIN_H
#define ALAE_CLI_TRAIN_H

#include "cli.h"

#define CLI_PATH_MAX 4096
#define CLI_TRAIN_SAMPLES 64 /* samples.png: 8x8 */
#define CLI_TRAIN_RECON 32   /* reconstructions.png: 32 originals, 32 reconstructions */
#define CLI_TRAIN_PROGRESS 12 /* grid pairs kept in DIR/progress/ (thinned evenly over the run) */

typedef struct train_args {
    const char *preset, *data, *out, *flip;
    int64_t steps, epochs, batch, seed, threads, report_every, save_every, resolution, channels, max_images;
    double lr;
    const char *on_divergence, *comm;
    int resume, lr_given, rollback, batch_given, epochs_given, skip_bad;
    cli_list sets;
} train_args;

/* Sums over the current reporting interval. */
typedef struct train_interval {
    double loss_d, loss_g, loss_ae, r1;
    int64_t steps, images;
    double start; /* cli_now() when it began */
} train_interval;

typedef struct train_run {
    train_args a;
    char path_model[CLI_PATH_MAX], path_state[CLI_PATH_MAX], path_log[CLI_PATH_MAX];
    char path_samples[CLI_PATH_MAX], path_recon[CLI_PATH_MAX], path_run[CLI_PATH_MAX];
    alae_model_config *cfg;
    cli_geom g;
    alae_context *ctx;
    alae_model *model;
    alae_optimizer *opt_fg, *opt_ed;
    alae_trainer *tr;
    size_t step_bytes;
    alae_dataset *ds;
    int64_t count, bpe, total; /* images, batches per epoch, the step to train to */
    int64_t *perm, perm_epoch; /* the order of epoch perm_epoch */
    alae_tensor *batch;
    float *fixed_z, *originals; /* [64, latent]; the first n_orig images */
    int64_t n_orig;
    /* StyleALAE: the progressive schedule (alae_trainer_set_position at every epoch) */
    int style, flips_on;
    int32_t levels;
    int64_t cur_batch; /* images in the next step (MLP: --batch) */
    uint8_t *flips;    /* per image of the batch */
    int64_t images;    /* images trained on so far (the log's images column) */
    int64_t images_at_start;
    /* reporting */
    FILE *log;
    int tty;
    train_interval iv;
    int64_t first_step;   /* the trainer's step when this run began */
    double seconds_before; /* training time of earlier runs (from log.csv on --resume) */
    double run_start, last_draw, rate;
    int64_t saved_step; /* the step of the state last written (or resumed from), -1 if none */
    double last_report;  /* cli_now() when report.html was last written (0: not yet) */
    int final_save;      /* the save at the end of the run (always writes the report) */
    int rollbacks;
    /* data parallelism (mpirun): this process's rank of `ranks`; only rank 0 writes files */
    alae_comm *comm;
    int32_t rank, ranks;
} train_run;

/* Opens DIR/log.csv: a new one with its header, or on --resume the old one without the rows
 * past the restored step (a state saved before a crash is older than the log). */
int report_open(train_run *r);
/* The trainer's level of detail and fade-in (0 and 1 for the MLP). */
void train_level(const train_run *r, int32_t *lod, double *blend);
void report_close(train_run *r);
/* Prints what is about to happen and starts the clock. */
void report_start(train_run *r);
/* Adds a step's losses; writes the log row and the progress at the end of an interval. */
int report_step(train_run *r, const alae_step_stats *st);
/* Writes the row of a partial last interval, if any. */
int report_flush(train_run *r);
/* The summary line; signal != 0 when the run was interrupted. */
void report_end(train_run *r, int signal);
/* At a save: copies samples.png and reconstructions.png to DIR/progress/step-<N>-*.png (at most
 * CLI_TRAIN_PROGRESS pairs: the first, the last and evenly spread ones between; pairs past the
 * step, left by a run that crashed after its last save, are removed), then rewrites
 * DIR/report.html. At the first and the final save, and at others once CLI_REPORT_SECONDS
 * (ALAE_REPORT_SECONDS in the environment) have passed since the last report, so that frequent
 * saves (--save-every 1) do not spend their time on it. Failures are warnings: the run goes on. */
#define CLI_REPORT_SECONDS 10.0
void report_save(train_run *r, int64_t step);

#endif /* ALAE_CLI_TRAIN_H */
