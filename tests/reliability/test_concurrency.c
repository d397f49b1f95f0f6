/* Concurrency (docs/threading.md): contexts are the unit of concurrency.
 *
 * - Two independent trainings (mnist-fc-paper, batch 4, 2 steps, the same seeds), each on its own
 *   context with one thread, run from two threads at once, must give exactly what they give when
 *   run one after the other: the saved model and training-state files are compared bytewise.
 * - alae_context_request_abort from another thread stops a running alae_trainer_step with
 *   ALAE_E_ABORTED; the context, the model and the trainer stay usable (the next step succeeds
 *   with finite losses), and a request made while no call runs is cleared by the next call.
 * Run under ThreadSanitizer by tools/sanitize.sh. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, nanosleep */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define BATCH 4
#define STEPS 2
#define SIDE 28

static char tmpdir[4096];
/* The training images: written once by main before any thread starts, read-only afterwards. */
static float g_host_batch[BATCH * SIDE * SIDE];

static void make_tmpdir(void) { alae_test_make_tmpdir(tmpdir, sizeof tmpdir, "alae-concurrency-"); }

static void remove_file(const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    unlink(p);
}

/* Deterministic "digits": smooth blobs in [0, 1]. */
static void synthetic_batch(float *x, int n, uint64_t seed) {
    uint64_t st = seed;
    for (int i = 0; i < n; i++) {
        double cx = alae_test_uniform(&st, 8, 20), cy = alae_test_uniform(&st, 8, 20), r = alae_test_uniform(&st, 3, 7);
        for (int y = 0; y < SIDE; y++)
            for (int xx = 0; xx < SIDE; xx++) {
                double d = sqrt((xx - cx) * (xx - cx) + (y - cy) * (y - cy));
                x[(i * SIDE + y) * SIDE + xx] = (float)(d < r ? 1.0 - d / (2 * r) : 0.0);
            }
    }
}

typedef struct {
    alae_context *ctx;
    alae_model *model;
    alae_optimizer *fg, *ed;
    alae_trainer *trainer;
    alae_tensor *batch;
} run;

static alae_status run_open(run *r, uint64_t seed) {
    memset(r, 0, sizeof *r);
    alae_model_config *cfg = NULL;
    alae_status s = alae_context_create(ALAE_DEVICE_CPU, &r->ctx);
    if (s == ALAE_OK) s = alae_context_set_param(r->ctx, ALAE_CTX_THREADS, 1);
    if (s == ALAE_OK) s = alae_context_set_param(r->ctx, ALAE_CTX_SEED, (int64_t)seed);
    if (s == ALAE_OK) s = alae_model_config_create("mnist-fc-paper", &cfg);
    if (s == ALAE_OK) s = alae_model_create(r->ctx, cfg, seed, &r->model);
    alae_model_config_destroy(cfg);
    if (s == ALAE_OK) s = alae_optimizer_create_adam(r->model, ALAE_PART_F | ALAE_PART_G, &r->fg);
    if (s == ALAE_OK) s = alae_optimizer_create_adam(r->model, ALAE_PART_E | ALAE_PART_D, &r->ed);
    if (s == ALAE_OK) s = alae_trainer_create(r->model, r->fg, r->ed, &r->trainer);
    if (s == ALAE_OK) s = alae_trainer_set(r->trainer, ALAE_TRAIN_SEED, (double)seed);
    int64_t shape[4] = {BATCH, 1, SIDE, SIDE};
    if (s == ALAE_OK) s = alae_tensor_create(r->ctx, ALAE_DTYPE_F32, 4, shape, &r->batch);
    if (s == ALAE_OK) s = alae_tensor_write(r->batch, g_host_batch, sizeof g_host_batch);
    return s;
}

static void run_close(run *r) {
    alae_tensor_destroy(r->batch);
    alae_trainer_destroy(r->trainer);
    alae_optimizer_destroy(r->fg);
    alae_optimizer_destroy(r->ed);
    alae_model_destroy(r->model);
    alae_context_destroy(r->ctx);
    memset(r, 0, sizeof *r);
}

typedef struct {
    uint64_t seed;
    const char *tag;
    alae_status status;
    char error[512];
} job;

/* One complete training: create, STEPS steps, save the model and the state, destroy. */
static void *train_job(void *arg) {
    job *j = arg;
    run r;
    alae_status s = run_open(&r, j->seed);
    for (int i = 0; s == ALAE_OK && i < STEPS; i++) s = alae_trainer_step(r.trainer, r.batch, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.model", tmpdir, j->tag);
    if (s == ALAE_OK) s = alae_trainer_save_model(r.trainer, path);
    snprintf(path, sizeof path, "%s/%s.state", tmpdir, j->tag);
    if (s == ALAE_OK) s = alae_trainer_save(r.trainer, path);
    if (s != ALAE_OK) snprintf(j->error, sizeof j->error, "%s", alae_last_error()); /* thread-local message */
    run_close(&r);
    j->status = s;
    return NULL;
}

static unsigned char *slurp(const char *name, size_t *n) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *fp = fopen(p, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", p);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

static void assert_same_file(const char *a, const char *b) {
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    ck_assert_msg(na == nb, "%s has %zu bytes, %s has %zu", a, na, b, nb);
    size_t first = na;
    for (size_t i = 0; i < na; i++)
        if (x[i] != y[i]) {
            first = i;
            break;
        }
    ck_assert_msg(first == na, "%s and %s differ (first at byte %zu of %zu)", a, b, first, na);
    free(x);
    free(y);
}

START_TEST(test_parallel_equals_sequential) {
    make_tmpdir();
    /* one after the other */
    job s1 = {.seed = 3, .tag = "seq1"}, s2 = {.seed = 3, .tag = "seq2"};
    train_job(&s1);
    ck_assert_msg(s1.status == ALAE_OK, "sequential run 1: %s", s1.error);
    train_job(&s2);
    ck_assert_msg(s2.status == ALAE_OK, "sequential run 2: %s", s2.error);
    /* at the same time, from two threads */
    job p1 = {.seed = 3, .tag = "par1"}, p2 = {.seed = 3, .tag = "par2"};
    pthread_t t1, t2;
    ck_assert_int_eq(pthread_create(&t1, NULL, train_job, &p1), 0);
    ck_assert_int_eq(pthread_create(&t2, NULL, train_job, &p2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ck_assert_msg(p1.status == ALAE_OK, "parallel run 1: %s", p1.error);
    ck_assert_msg(p2.status == ALAE_OK, "parallel run 2: %s", p2.error);
    assert_same_file("seq1.model", "seq2.model");
    assert_same_file("seq1.model", "par1.model");
    assert_same_file("seq1.model", "par2.model");
    assert_same_file("seq1.state", "seq2.state");
    assert_same_file("seq1.state", "par1.state");
    assert_same_file("seq1.state", "par2.state");
    const char *names[] = {"seq1.model", "seq2.model", "par1.model", "par2.model",
                           "seq1.state", "seq2.state", "par1.state", "par2.state"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove_file(names[i]);
    rmdir(tmpdir);
}
END_TEST

/* ---- abort ---- */

typedef struct {
    alae_trainer *trainer;
    alae_tensor *batch;
    atomic_int started;  /* the first step is under way */
    atomic_int finished; /* the loop is over */
    alae_status last;
    int steps_ok;
    char error[512];
} abort_job;

#define MAX_STEPS 500

static void *step_until_aborted(void *arg) {
    abort_job *j = arg;
    alae_status s = ALAE_OK;
    for (int i = 0; i < MAX_STEPS; i++) {
        atomic_store(&j->started, 1);
        s = alae_trainer_step(j->trainer, j->batch, NULL);
        if (s != ALAE_OK) break;
        j->steps_ok++;
    }
    if (s != ALAE_OK && s != ALAE_E_ABORTED) snprintf(j->error, sizeof j->error, "%s", alae_last_error());
    j->last = s;
    atomic_store(&j->finished, 1);
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(test_abort_from_another_thread) {
    run r;
    ck_assert_alae_ok(run_open(&r, 11));
    /* plan the graphs first, so the abort lands inside the step's op loop */
    ck_assert_alae_ok(alae_trainer_reserve(r.trainer, BATCH, NULL));
    abort_job j;
    memset(&j, 0, sizeof j);
    j.trainer = r.trainer;
    j.batch = r.batch;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, step_until_aborted, &j), 0);
    while (!atomic_load(&j.started)) sleep_ms(1);
    /* a request made between two calls is cleared when the next call starts, so keep asking */
    while (!atomic_load(&j.finished)) {
        alae_context_request_abort(r.ctx);
        sleep_ms(1);
    }
    pthread_join(th, NULL);
    ck_assert_msg(j.last == ALAE_E_ABORTED, "the step loop ended with %d (%s) after %d steps, not ALAE_E_ABORTED: %s",
                  (int)j.last, alae_status_string(j.last), j.steps_ok, j.error);
    /* the context, model and trainer are still usable */
    uint64_t before = alae_trainer_step_count(r.trainer);
    alae_step_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    ck_assert_alae_ok(alae_trainer_step(r.trainer, r.batch, &st));
    ck_assert_uint_eq(alae_trainer_step_count(r.trainer), before + 1);
    ck_assert_msg(isfinite(st.loss_d) && isfinite(st.loss_g) && isfinite(st.loss_ae), "losses %g %g %g",
                  (double)st.loss_d, (double)st.loss_g, (double)st.loss_ae);
    int64_t ws[2] = {BATCH, 50};
    alae_tensor *w = NULL;
    ck_assert_alae_ok(alae_tensor_create(r.ctx, ALAE_DTYPE_F32, 2, ws, &w));
    ck_assert_alae_ok(alae_model_encode(r.model, r.batch, w));
    float host[BATCH * 50];
    ck_assert_alae_ok(alae_tensor_read(w, host, sizeof host));
    for (int i = 0; i < BATCH * 50; i++) ck_assert_msg(isfinite(host[i]), "w[%d] = %g", i, (double)host[i]);
    alae_tensor_destroy(w);
    run_close(&r);
}
END_TEST

START_TEST(test_stale_abort_request_is_cleared) {
    run r;
    ck_assert_alae_ok(run_open(&r, 5));
    alae_context_request_abort(r.ctx); /* nothing is running: the next call clears it */
    ck_assert_alae_ok(alae_trainer_step(r.trainer, r.batch, NULL));
    alae_context_request_abort(NULL); /* a no-op */
    run_close(&r);
}
END_TEST

static Suite *concurrency_suite(void) {
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("contexts");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_parallel_equals_sequential);
    tcase_add_test(tc, test_abort_from_another_thread);
    tcase_add_test(tc, test_stale_abort_request_is_cleared);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    alae_set_log_level(ALAE_LOG_ERROR);
    synthetic_batch(g_host_batch, BATCH, 12345);
    return alae_test_run_suite(concurrency_suite());
}
