/* Data-parallel training through alae_comm (include/alae/alae_comm.h, docs/distributed.md),
 * without MPI: the ranks are threads, each with its own context, model and trainer, joined by a
 * communicator over shared memory.
 *
 * - Two ranks with batch B/2 each average to the gradients of one trainer with batch B in all three
 *   steps of the first iteration (R1 included; learning rate 1e-30, so that every step sees the same
 *   parameters on both sides), keep bitwise the same parameters (rank 1 starts
 *   from other parameters: the broadcast replaces them), and after several iterations match the
 *   single trainer's losses and, for the MLP ALAE, its parameters, smoothed copy and running
 *   mean of w, within float tolerance. StyleALAE (its noise and style mixing included) is
 *   compared in double precision (the reference backend, through the host-staging path, whose
 *   float buffers round the gradients) by the first iteration's gradients and by the losses
 *   after the iterations, and in float by the losses only: Adam turns rounding noise in the
 *   gradients of its nearly shift-invariant biases (bias -> leaky ReLU -> instance norm) into
 *   steps of the size of the learning rate, so this small GAN's parameters and losses drift
 *   apart between any two summation orders (merely rotating the batch of one float trainer moves
 *   its D loss by 1% after 4 iterations), not only between one and two ranks.
 * - The host-staging path (a host communicator on a double-precision backend) gives the same.
 * - Bad tables, a failing communicator (the step fails naming the rank and leaves the trainer
 *   usable) and bad alae_comm_open arguments return their pinned statuses with a message. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "internal/alae_internal.h"
#include "train/trainer_internal.h"

/* test hooks of lib/train/trainer.c */
void alaei_trainer_set_phase_hook(alae_trainer *t, void (*hook)(void *user, int phase), void *user);
void *alaei_trainer_grad(const alae_trainer *t, int step, int32_t param);

#define RANKS 2
#define STEPS 4
#define LR 0.002

/* ---- a communicator over shared memory: the ranks are threads ---- */

typedef struct shared {
    pthread_barrier_t barrier;
    float *bufs[RANKS];
} shared;

typedef struct thread_comm {
    shared *sh;
    int rank;
    int fail_after; /* tests: the collective number that fails (0: never) */
    int calls;
} thread_comm;

static alae_status thread_allreduce(void *user, float *buf, size_t count, int32_t op, void *stream) {
    thread_comm *c = user;
    if (c->fail_after && ++c->calls >= c->fail_after) return ALAE_E_BACKEND;
    c->sh->bufs[c->rank] = buf;
    pthread_barrier_wait(&c->sh->barrier);
    float *sum = malloc(count * sizeof *sum);
    for (size_t i = 0; sum && i < count; i++) {
        float v = 0.0f;
        for (int r = 0; r < RANKS; r++) v += c->sh->bufs[r][i];
        sum[i] = op == ALAE_REDUCE_AVG ? v * (1.0f / RANKS) : v;
    }
    pthread_barrier_wait(&c->sh->barrier); /* every rank has read every buffer */
    if (sum) memcpy(buf, sum, count * sizeof *sum);
    free(sum);
    return sum ? ALAE_OK : ALAE_E_NOMEM;
}

static alae_status thread_broadcast(void *user, float *buf, size_t count, int32_t root, void *stream) {
    thread_comm *c = user;
    if (c->rank == root) c->sh->bufs[root] = buf;
    pthread_barrier_wait(&c->sh->barrier);
    if (c->rank != root) memcpy(buf, c->sh->bufs[root], count * sizeof *buf);
    pthread_barrier_wait(&c->sh->barrier);
    return ALAE_OK;
}

static alae_comm make_table(thread_comm *c, int32_t memory) {
    alae_comm t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.version = ALAE_COMM_VERSION;
    t.rank = c->rank;
    t.size = RANKS;
    t.memory = memory;
    t.user = c;
    t.allreduce = thread_allreduce;
    t.broadcast = thread_broadcast;
    return t;
}

/* ---- one trainer ---- */

typedef struct setup {
    const char *preset;
    int side;           /* image side */
    int batch;          /* the global batch */
    int reference;      /* 1: the double-precision reference backend */
    double mixing;      /* StyleALAE's style-mixing probability */
} setup;

typedef struct run {
    alae_context *ctx;
    alae_model *model;
    alae_optimizer *fg, *ed;
    alae_trainer *trainer;
    alae_tensor *batch;
    alae_step_stats last;
} run;

static float *g_images; /* [batch, 1, side, side] smooth blobs, written before any thread starts */

static void make_images(const setup *su) {
    size_t side = (size_t)su->side;
    g_images = malloc((size_t)su->batch * side * side * sizeof(float));
    ck_assert_ptr_nonnull(g_images);
    uint64_t st = 99;
    for (int i = 0; i < su->batch; i++) {
        double cx = alae_test_uniform(&st, 0.3, 0.7) * su->side, cy = alae_test_uniform(&st, 0.3, 0.7) * su->side;
        double r = alae_test_uniform(&st, 0.1, 0.25) * su->side;
        for (size_t y = 0; y < side; y++)
            for (size_t x = 0; x < side; x++) {
                double d = sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                g_images[(i * side + y) * side + x] = (float)(d < r ? 1.0 - d / r : -0.5);
            }
    }
}

static alae_context *make_context(const setup *su) {
    alae_context *ctx = NULL;
    if (su->reference) {
        ck_assert_alae_ok(alaei_context_create_on(alaei_reference_backend(), 0, &ctx));
    } else {
        ck_assert_alae_ok(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    }
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    return ctx;
}

/* A trainer on images first..first+n-1 of g_images; model_seed differs per rank on purpose. */
static void run_open(run *r, const setup *su, uint64_t model_seed, int first, int n) {
    memset(r, 0, sizeof *r);
    alae_model_config *cfg = NULL;
    r->ctx = make_context(su);
    ck_assert_alae_ok(alae_model_config_create(su->preset, &cfg));
    if (su->side == 28) ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_HIDDEN, 48));
    if (su->side == 32) {
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 16));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 16));
        ck_assert_alae_ok(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 16));
    }
    ck_assert_alae_ok(alae_model_create(r->ctx, cfg, model_seed, &r->model));
    alae_model_config_destroy(cfg);
    ck_assert_alae_ok(alae_optimizer_create_adam(r->model, ALAE_PART_F | ALAE_PART_G, &r->fg));
    ck_assert_alae_ok(alae_optimizer_create_adam(r->model, ALAE_PART_E | ALAE_PART_D, &r->ed));
    ck_assert_alae_ok(alae_trainer_create(r->model, r->fg, r->ed, &r->trainer));
    ck_assert_alae_ok(alae_trainer_set(r->trainer, ALAE_TRAIN_SEED, 7));
    ck_assert_alae_ok(alae_trainer_set(r->trainer, ALAE_TRAIN_EMA_HALF_LIFE, 16));
    if (su->side == 32) ck_assert_alae_ok(alae_trainer_set(r->trainer, ALAE_TRAIN_STYLE_MIXING, su->mixing));
    if (su->side == 32 && su->reference) ck_assert_alae_ok(alae_trainer_set(r->trainer, ALAE_TRAIN_LOD, 1));
    int64_t shape[4] = {n, 1, su->side, su->side};
    size_t image = (size_t)su->side * (size_t)su->side;
    ck_assert_alae_ok(alae_tensor_create(r->ctx, ALAE_DTYPE_F32, 4, shape, &r->batch));
    ck_assert_alae_ok(alae_tensor_write(r->batch, g_images + (size_t)first * image, (size_t)n * image * sizeof(float)));
}

static void keep_gradients(void *user, int phase) {}

/* lr 1e-30 (> 0 is required) for the first iteration: all three steps then see the same parameters on both sides. */
static void set_lr(run *r, double lr) {
    ck_assert_alae_ok(alae_optimizer_set(r->fg, ALAE_OPT_LR, lr));
    ck_assert_alae_ok(alae_optimizer_set(r->ed, ALAE_OPT_LR, lr));
}

static void run_steps(run *r, int steps) {
    for (int k = 0; k < steps; k++) {
        memset(&r->last, 0, sizeof r->last);
        r->last.struct_size = sizeof r->last;
        alae_status s = alae_trainer_step(r->trainer, r->batch, &r->last);
        ck_assert_msg(s == ALAE_OK, "step %d: %s", k, alae_last_error());
    }
}

static void run_close(run *r) {
    alae_tensor_destroy(r->batch);
    alae_trainer_destroy(r->trainer);
    alae_optimizer_destroy(r->fg);
    alae_optimizer_destroy(r->ed);
    alae_model_destroy(r->model);
    alae_context_destroy(r->ctx);
}

/* ---- the ranks ---- */

typedef struct rank_job {
    const setup *su;
    thread_comm comm;
    int32_t memory;
    run r;
    int steps; /* to run in this call */
    alae_status set_comm, step;
    char error[512];
} rank_job;

static void *rank_main(void *arg) {
    rank_job *j = arg;
    int n = j->su->batch / RANKS;
    if (!j->r.trainer) {
        run_open(&j->r, j->su, 1000 + (uint64_t)j->comm.rank, j->comm.rank * n, n);
        alaei_trainer_set_phase_hook(j->r.trainer, keep_gradients, NULL);
        /* rank 0 has the single run's parameters (seed 1000); rank 1 gets them by broadcast */
        alae_comm table = make_table(&j->comm, j->memory);
        j->set_comm = alae_trainer_set_comm(j->r.trainer, &table);
        set_lr(&j->r, 1e-30);
    } else {
        set_lr(&j->r, LR);
    }
    j->step = ALAE_OK;
    for (int k = 0; j->set_comm == ALAE_OK && j->step == ALAE_OK && k < j->steps; k++) {
        memset(&j->r.last, 0, sizeof j->r.last);
        j->r.last.struct_size = sizeof j->r.last;
        j->step = alae_trainer_step(j->r.trainer, j->r.batch, &j->r.last);
    }
    snprintf(j->error, sizeof j->error, "%s", alae_last_error());
    return NULL;
}

/* Host floats of a parameter or smoothed-copy tensor. */
static void read_floats(const run *r, const void *data, int64_t count, float *out) {
    alae_context *ctx = r->model->ctx;
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, out, data, (size_t)count));
}

/* max |a - b| / (tol max|b| + atol) over every gradient of the iteration's three steps. */
static double worst_gradient(const run *a, const run *b, double tol, double atol, char *where, size_t cap) {
    double worst = 0.0;
    for (int step = 0; step < 3; step++)
        for (int32_t i = 0; i < a->model->n_params; i++) {
            const void *ga = alaei_trainer_grad(a->trainer, step, i), *gb = alaei_trainer_grad(b->trainer, step, i);
            ck_assert_msg((ga == NULL) == (gb == NULL), "step %d, %s: a gradient on one side only", step,
                          a->model->params[i].name);
            if (!ga) continue;
            int64_t n = a->model->params[i].numel;
            float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
            ck_assert_ptr_nonnull(x);
            ck_assert_ptr_nonnull(y);
            read_floats(a, ga, n, x);
            read_floats(b, gb, n, y);
            double scale = 1e-30;
            for (int64_t e = 0; e < n; e++) scale = fmax(scale, fabs((double)y[e]));
            for (int64_t e = 0; e < n; e++) {
                double d = fabs((double)x[e] - y[e]) / (tol * scale + atol);
                if (d > worst || isnan(d)) {
                    worst = isnan(d) ? INFINITY : d;
                    snprintf(where, cap, "step %d, d/d%s[%lld]: %.9g vs %.9g", step, a->model->params[i].name,
                             (long long)e, (double)x[e], (double)y[e]);
                }
            }
            free(x);
            free(y);
        }
    return worst;
}

/* max |a - b| / (tol_abs + tol_rel |b|) over every parameter, smoothed copy and the mean of w. */
static double worst_difference(const run *a, const run *b, double tol_rel, double tol_abs, char *where, size_t cap) {
    double worst = 0.0;
    for (int32_t i = 0; i < a->model->n_params; i++) {
        const alaei_param *p = &a->model->params[i];
        float *x = malloc((size_t)p->numel * sizeof *x), *y = malloc((size_t)p->numel * sizeof *y);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(y);
        for (int kind = 0; kind < 2; kind++) {
            read_floats(a, kind ? a->trainer->ema[i] : p->data, p->numel, x);
            read_floats(b, kind ? b->trainer->ema[i] : b->model->params[i].data, p->numel, y);
            for (int64_t e = 0; e < p->numel; e++) {
                double d = fabs((double)x[e] - y[e]) / (tol_abs + tol_rel * fabs((double)y[e]));
                if (d > worst || isnan(d)) {
                    worst = isnan(d) ? INFINITY : d;
                    snprintf(where, cap, "%s%s[%lld]: %.9g vs %.9g", kind ? "smoothed " : "", p->name, (long long)e,
                             (double)x[e], (double)y[e]);
                }
            }
        }
        free(x);
        free(y);
    }
    for (int32_t j = 0; j < a->model->cfg.latent_dim; j++) {
        double d = fabs((double)a->model->dlatent_avg[j] - b->model->dlatent_avg[j]) /
                   (tol_abs + tol_rel * fabs((double)b->model->dlatent_avg[j]));
        if (d > worst) {
            worst = d;
            snprintf(where, cap, "mean of w[%d]", (int)j);
        }
    }
    return worst;
}

static void check_losses(const alae_step_stats *a, const alae_step_stats *b, double tol) {
    const float x[4] = {a->loss_d, a->loss_g, a->loss_ae, a->r1}, y[4] = {b->loss_d, b->loss_g, b->loss_ae, b->r1};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs((double)x[i] - y[i]) <= tol * (1 + fabs((double)y[i])), "loss %d: %.9g (ranks) vs %.9g", i,
                      (double)x[i], (double)y[i]);
    ck_assert_uint_eq(a->step, b->step);
}

/* Runs `steps` more iterations on every rank (one thread per rank). */
static void run_ranks(rank_job *jobs, int steps) {
    pthread_t th[RANKS];
    for (int r = 0; r < RANKS; r++) {
        jobs[r].steps = steps;
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &jobs[r]), 0);
    }
    for (int r = 0; r < RANKS; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < RANKS; r++) {
        ck_assert_msg(jobs[r].set_comm == ALAE_OK, "rank %d: alae_trainer_set_comm: %s", r, jobs[r].error);
        ck_assert_msg(jobs[r].step == ALAE_OK, "rank %d: alae_trainer_step: %s", r, jobs[r].error);
    }
}

/* RANKS threads with batch/RANKS each against one trainer with the whole batch: the first
 * iteration's gradients within tol_grad (of each tensor's largest) when tol_grad > 0, then after
 * STEPS the losses within tol_loss and, when tol_params > 0, the parameters within tol_params. */
static void check_equivalence(const setup *su, int32_t memory, double tol_grad, double atol_grad, double tol_params,
                              double tol_loss) {
    make_images(su);
    run single;
    run_open(&single, su, 1000, 0, su->batch);
    alaei_trainer_set_phase_hook(single.trainer, keep_gradients, NULL);
    set_lr(&single, 1e-30);
    shared sh;
    memset(&sh, 0, sizeof sh);
    ck_assert_int_eq(pthread_barrier_init(&sh.barrier, NULL, RANKS), 0);
    rank_job jobs[RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < RANKS; r++) {
        jobs[r].su = su;
        jobs[r].comm.sh = &sh;
        jobs[r].comm.rank = r;
        jobs[r].memory = memory;
    }
    char where[256] = "";
    run_steps(&single, 1);
    run_ranks(jobs, 1);
    double g = tol_grad > 0 ? worst_gradient(&jobs[0].r, &single, tol_grad, atol_grad, where, sizeof where) : 0;
    ck_assert_msg(g <= 1.0, "the averaged gradients differ from one process's by %.3g x tolerance at %s", g, where);
    set_lr(&single, LR);
    run_steps(&single, STEPS - 1);
    run_ranks(jobs, STEPS - 1);
    pthread_barrier_destroy(&sh.barrier);
    double same = worst_difference(&jobs[1].r, &jobs[0].r, 0.0, 1e-30, where, sizeof where);
    ck_assert_msg(same == 0.0, "the ranks differ: %s", where);
    double d = tol_params > 0 ? worst_difference(&jobs[0].r, &single, tol_params, tol_params, where, sizeof where) : 0;
    ck_assert_msg(d <= 1.0, "two ranks of batch %d and one of %d differ by %.3g x tolerance at %s", su->batch / RANKS,
                  su->batch, d, where);
    check_losses(&jobs[0].r.last, &single.last, tol_loss);
    check_losses(&jobs[1].r.last, &single.last, tol_loss);
    ck_assert_uint_eq(alae_trainer_step_count(jobs[0].r.trainer), STEPS);
    for (int r = 0; r < RANKS; r++) run_close(&jobs[r].r);
    run_close(&single);
    free(g_images);
}

START_TEST(test_mlp_two_ranks_equal_one_process) {
    setup su = {"mnist-fc-paper", 28, 8, 0, 0.0};
    check_equivalence(&su, ALAE_COMM_DEVICE, 1e-5, 1e-9, 1e-4, 1e-5);
}
END_TEST

START_TEST(test_mlp_host_staging_on_a_double_backend) {
    setup su = {"mnist-fc-paper", 28, 4, 1, 0.0};
    check_equivalence(&su, ALAE_COMM_HOST, 1e-5, 1e-9, 1e-4, 1e-5);
}
END_TEST

START_TEST(test_style_mixing_two_ranks_equal_one_process) {
    setup su = {"mnist", 32, 4, 1, 1.0}; /* in double precision, at level 1 (8x8): see the top */
    check_equivalence(&su, ALAE_COMM_HOST, 1e-5, 1e-9, 0, 2e-2);
}
END_TEST

START_TEST(test_style_float_two_ranks_stay_identical) {
    setup su = {"mnist", 32, 8, 0, 0.9};
    check_equivalence(&su, ALAE_COMM_DEVICE, 0, 0, 0, 5e-2);
}
END_TEST

/* ---- bad tables, failing communicators, alae_comm_open ---- */

static void expect(alae_status got, alae_status want, const char *words) {
    ck_assert_msg(got == want, "status %d (%s), expected %d: %s", (int)got, alae_status_string(got), (int)want,
                  alae_last_error());
    ck_assert_msg(strstr(alae_last_error(), words) != NULL, "the message '%s' does not say '%s'", alae_last_error(),
                  words);
}

START_TEST(test_bad_tables) {
    setup su = {"mnist-fc-paper", 28, 2, 0, 0.0};
    make_images(&su);
    run r;
    run_open(&r, &su, 1, 0, 2);
    thread_comm c = {NULL, 0, 0, 0};
    alae_comm t = make_table(&c, ALAE_COMM_DEVICE);
    expect(alae_trainer_set_comm(NULL, &t), ALAE_E_INVALID_ARG, "trainer");
    t.version = 2;
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_VERSION, "version 2");
    t = make_table(&c, ALAE_COMM_DEVICE);
    t.struct_size = 8;
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_VERSION, "8 bytes");
    t = make_table(&c, ALAE_COMM_DEVICE);
    t.rank = 2;
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_INVALID_ARG, "rank 2 of 2");
    t = make_table(&c, ALAE_COMM_DEVICE);
    t.size = 0;
    t.rank = 0;
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_INVALID_ARG, "rank 0 of 0");
    t = make_table(&c, ALAE_COMM_DEVICE);
    t.allreduce = NULL;
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_INVALID_ARG, "allreduce");
    t = make_table(&c, 7);
    expect(alae_trainer_set_comm(r.trainer, &t), ALAE_E_INVALID_ARG, "memory 7");
    /* a one-rank communicator trains as no communicator; NULL detaches */
    t = make_table(&c, ALAE_COMM_DEVICE);
    t.size = 1;
    ck_assert_alae_ok(alae_trainer_set_comm(r.trainer, &t));
    ck_assert_alae_ok(alae_trainer_step(r.trainer, r.batch, NULL));
    ck_assert_alae_ok(alae_trainer_set_comm(r.trainer, NULL));
    ck_assert_alae_ok(alae_trainer_step(r.trainer, r.batch, NULL));
    run_close(&r);
    free(g_images);
}
END_TEST

/* A communicator that fails its third all-reduce: the step fails with the rank in the message,
 * the trainer's random stream is where it was, and it trains again once the communicator is
 * detached. Two ranks as threads, both failing at the same call. */
typedef struct fail_job {
    const setup *su;
    thread_comm comm;
    run r;
    alae_status step;
    char error[512];
    uint64_t steps_after;
} fail_job;

static void *fail_main(void *arg) {
    fail_job *j = arg;
    run_open(&j->r, j->su, 5, j->comm.rank * 2, 2);
    alae_comm table = make_table(&j->comm, ALAE_COMM_DEVICE);
    ck_assert_alae_ok(alae_trainer_set_comm(j->r.trainer, &table));
    j->comm.fail_after = 3;
    j->step = alae_trainer_step(j->r.trainer, j->r.batch, NULL);
    snprintf(j->error, sizeof j->error, "%s", alae_last_error());
    ck_assert_alae_ok(alae_trainer_set_comm(j->r.trainer, NULL));
    ck_assert_alae_ok(alae_trainer_step(j->r.trainer, j->r.batch, NULL));
    j->steps_after = alae_trainer_step_count(j->r.trainer);
    return NULL;
}

START_TEST(test_failing_communicator) {
    setup su = {"mnist-fc-paper", 28, 4, 0, 0.0};
    make_images(&su);
    shared sh;
    memset(&sh, 0, sizeof sh);
    ck_assert_int_eq(pthread_barrier_init(&sh.barrier, NULL, RANKS), 0);
    fail_job jobs[RANKS];
    pthread_t th[RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < RANKS; r++) {
        jobs[r].su = &su;
        jobs[r].comm.sh = &sh;
        jobs[r].comm.rank = r;
        ck_assert_int_eq(pthread_create(&th[r], NULL, fail_main, &jobs[r]), 0);
    }
    for (int r = 0; r < RANKS; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&sh.barrier);
    for (int r = 0; r < RANKS; r++) {
        char words[32];
        snprintf(words, sizeof words, "rank %d of 2", r);
        ck_assert_msg(jobs[r].step == ALAE_E_BACKEND, "rank %d: status %d", r, (int)jobs[r].step);
        ck_assert_msg(strstr(jobs[r].error, words) && strstr(jobs[r].error, "all-reduce"), "rank %d: '%s'", r,
                      jobs[r].error);
        ck_assert_uint_eq(jobs[r].steps_after, 1); /* the failed step did not count */
        run_close(&jobs[r].r);
    }
    free(g_images);
}
END_TEST

START_TEST(test_comm_open_errors) {
    alae_context *ctx = NULL;
    ck_assert_alae_ok(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    alae_comm *c = (alae_comm *)&c; /* must stay untouched on failure */
    alae_comm *const untouched = c;
    expect(alae_comm_open(NULL, ctx, &c), ALAE_E_INVALID_ARG, "kind");
    expect(alae_comm_open("mpi", NULL, &c), ALAE_E_INVALID_ARG, "ctx");
    expect(alae_comm_open("mpi", ctx, NULL), ALAE_E_INVALID_ARG, "out");
    expect(alae_comm_open("gloo", ctx, &c), ALAE_E_INVALID_ARG, "unknown communicator 'gloo'");
    expect(alae_comm_open("nccl", ctx, &c), ALAE_E_INVALID_ARG, "needs a CUDA context");
    setenv("ALAE_MPI_MODULE", "relative/libalae-mpi.so", 1);
    expect(alae_comm_open("mpi", ctx, &c), ALAE_E_INVALID_ARG, "not an absolute path");
    setenv("ALAE_MPI_MODULE", "/nonexistent-dir/libalae-mpi.so", 1);
    expect(alae_comm_open("mpi", ctx, &c), ALAE_E_BACKEND_UNAVAILABLE, "no such file");
    char dir[4096], path[4200];
    alae_test_make_tmpdir(dir, sizeof dir, "alae-comm-");
    snprintf(path, sizeof path, "%s/libalae-mpi.so", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a shared object\n", f);
    fclose(f);
    setenv("ALAE_MPI_MODULE", path, 1);
    expect(alae_comm_open("mpi", ctx, &c), ALAE_E_BACKEND_UNAVAILABLE, path);
    unsetenv("ALAE_MPI_MODULE");
    ck_assert_ptr_eq(c, untouched);
    alae_comm_close(NULL);
    alae_test_remove_tree(dir);
    alae_context_destroy(ctx);
}
END_TEST

Suite *comm_suite(void);
Suite *comm_suite(void) {
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("equivalence");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_mlp_two_ranks_equal_one_process);
    tcase_add_test(tc, test_mlp_host_staging_on_a_double_backend);
    tcase_add_test(tc, test_style_mixing_two_ranks_equal_one_process);
    tcase_add_test(tc, test_style_float_two_ranks_stay_identical);
    suite_add_tcase(s, tc);
    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 300);
    tcase_add_test(errors, test_bad_tables);
    tcase_add_test(errors, test_failing_communicator);
    tcase_add_test(errors, test_comm_open_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void) {
    alae_set_log_level(ALAE_LOG_ERROR);
    return alae_test_run_suite(comm_suite());
}
