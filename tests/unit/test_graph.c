/* The graph builder, the planner and the executor: shapes and errors, planned memory
 * (no overlap of live tensors, reuse, no allocation in steady state, out-of-memory before
 * anything runs), NaN poisoning, abort from another thread, and run-to-run determinism. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_graph.h"
#include "test_util.h"

/* ---- a CPU backend wrapped to count allocations, fail big ones, or request an abort ---- */
static alaei_backend_vtbl wrapped;
static int alloc_calls;
static size_t alloc_limit = SIZE_MAX;
static alae_context *abort_ctx;
static int abort_after_ops = -1, ops_run;

static alae_status counting_alloc(void *bctx, size_t bytes, void **out) {
    alloc_calls++;
    if (bytes > alloc_limit) return alaei_fail(ALAE_E_DEVICE_NOMEM, "test", "%zu bytes over the limit", bytes);
    return alaei_cpu_backend()->buf_alloc(bctx, bytes, out);
}

/* The trace of run_op ('r') and synchronize ('s') calls, as an asynchronous backend sees them. */
static char trace[256];
static int trace_len;

static void trace_call(char c) {
    if (trace_len < (int)sizeof trace - 1) trace[trace_len++] = c;
}

static alae_status aborting_run_op(void *bctx, const alaei_op *op) {
    trace_call('r');
    if (++ops_run == abort_after_ops) alae_context_request_abort(abort_ctx);
    return alaei_cpu_backend()->run_op(bctx, op);
}

static alae_status tracing_synchronize(void *bctx) {
    trace_call('s');
    return alaei_cpu_backend()->synchronize(bctx);
}

static alae_context *wrapped_context(void) {
    wrapped = *alaei_cpu_backend();
    wrapped.buf_alloc = counting_alloc;
    wrapped.run_op = aborting_run_op;
    wrapped.synchronize = tracing_synchronize;
    memset(trace, 0, sizeof trace);
    trace_len = 0;
    alloc_calls = 0;
    alloc_limit = SIZE_MAX;
    abort_after_ops = -1;
    ops_run = 0;
    alae_context *ctx;
    ck_assert_alae_ok(alaei_context_create_on(&wrapped, 0, &ctx));
    abort_ctx = ctx;
    return ctx;
}

/* An MLP with a loss and the gradients of its weights: a graph with real liveness structure. */
typedef struct mlp_graph {
    alaei_graph *g;
    int32_t x, w[3], loss, grads[3];
} mlp_graph;

static mlp_graph build_mlp(int64_t batch, int64_t width) {
    mlp_graph m;
    m.g = alaei_graph_create();
    ck_assert_ptr_nonnull(m.g);
    int64_t xs[2] = {batch, width}, ws[2] = {width, width};
    m.x = alaei_input(m.g, 2, xs, "x");
    int32_t h = m.x;
    for (int i = 0; i < 3; i++) {
        m.w[i] = alaei_input(m.g, 2, ws, "w");
        h = alaei_leaky_relu(m.g, alaei_linear(m.g, h, m.w[i], -1, 1.0 / sqrt((double)width)), 0.2);
    }
    m.loss = alaei_mean_all(m.g, alaei_unary(m.g, ALAEI_OP_SOFTPLUS, h));
    ck_assert_alae_ok(alaei_grad(m.g, m.loss, -1, 3, m.w, m.grads));
    return m;
}

static void *alloc_filled(alae_context *ctx, int64_t n, uint64_t seed) {
    float *host = malloc((size_t)n * sizeof(float));
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) host[i] = (float)alae_test_uniform(&state, -1, 1);
    void *dev;
    ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, (size_t)n * (size_t)ctx->backend->elem_size, &dev));
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, dev, host, (size_t)n));
    free(host);
    return dev;
}

typedef struct bound_mlp {
    void *x, *w[3];
} bound_mlp;

static bound_mlp bind_mlp(alae_context *ctx, alaei_plan *p, const mlp_graph *m, int64_t batch, int64_t width) {
    bound_mlp b;
    b.x = alloc_filled(ctx, batch * width, 1);
    ck_assert_alae_ok(alaei_plan_bind(p, m->x, b.x));
    for (int i = 0; i < 3; i++) {
        b.w[i] = alloc_filled(ctx, width * width, 10 + (uint64_t)i);
        ck_assert_alae_ok(alaei_plan_bind(p, m->w[i], b.w[i]));
    }
    return b;
}

static void free_bound(alae_context *ctx, bound_mlp *b) {
    ctx->backend->buf_free(ctx->bctx, b->x);
    for (int i = 0; i < 3; i++) ctx->backend->buf_free(ctx->bctx, b->w[i]);
}

static void read_outputs(alae_context *ctx, alaei_plan *p, const mlp_graph *m, int64_t width, float *out) {
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, out, alaei_plan_data(p, m->loss), 1));
    for (int i = 0; i < 3; i++)
        ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, out + 1 + i * width * width,
                                                 alaei_plan_data(p, m->grads[i]), (size_t)(width * width)));
}

START_TEST(builder_errors_are_sticky_and_named) {
    alaei_graph *g = alaei_graph_create();
    int64_t a_shape[2] = {3, 4}, b_shape[2] = {5, 6};
    int32_t a = alaei_input(g, 2, a_shape, "a"), b = alaei_input(g, 2, b_shape, "b");
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(alaei_gemm(g, a, b, 0, 0, 1.0), -1);
    ck_assert_int_eq(alaei_graph_status(g), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alaei_graph_error(g), "GEMM"));
    /* later calls keep failing and keep the first message */
    ck_assert_int_eq(alaei_add(g, a, a), -1);
    ck_assert_ptr_nonnull(strstr(alaei_graph_error(g), "GEMM"));
    alaei_graph_destroy(g);

    g = alaei_graph_create();
    a = alaei_input(g, 2, a_shape, "a");
    ck_assert_int_eq(alaei_add(g, a, 12345), -1);
    ck_assert_int_eq(alaei_graph_status(g), ALAE_E_INVALID_ARG);
    alaei_graph_destroy(g);

    g = alaei_graph_create();
    int64_t bad[2] = {3, 0};
    ck_assert_int_eq(alaei_input(g, 2, bad, "bad"), -1);
    ck_assert_int_eq(alaei_graph_status(g), ALAE_E_SHAPE);
    alaei_graph_destroy(g);

    g = alaei_graph_create();
    a = alaei_input(g, 2, a_shape, "a");
    int32_t perm[4] = {0, 1, 1, 3};
    ck_assert_int_eq(alaei_permute(g, a, perm), -1);
    ck_assert_int_eq(alaei_graph_status(g), ALAE_E_INVALID_ARG);
    alaei_graph_destroy(g);
    alaei_graph_destroy(NULL);
}
END_TEST

START_TEST(gradient_through_clamp_is_refused) {
    alaei_graph *g = alaei_graph_create();
    int64_t s[1] = {4};
    int32_t x = alaei_input(g, 1, s, "x");
    int32_t y = alaei_sum_all(g, alaei_clamp(g, x, -1, 1));
    int32_t dx;
    ck_assert_int_eq(alaei_grad(g, y, -1, 1, &x, &dx), ALAE_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(alaei_graph_error(g), "CLAMP"));
    alaei_graph_destroy(g);
}
END_TEST

START_TEST(simple_gradient_on_cpu) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    alaei_graph *g = alaei_graph_create();
    int64_t s[1] = {5};
    int32_t x = alaei_input(g, 1, s, "x");
    int32_t y = alaei_sum_all(g, alaei_unary(g, ALAEI_OP_SQUARE, x));
    int32_t wrt[2] = {x, -1}, grads[2];
    int32_t unrelated = alaei_input(g, 1, s, "unrelated");
    wrt[1] = unrelated;
    ck_assert_alae_ok(alaei_grad(g, y, -1, 2, wrt, grads));
    int32_t outs[3] = {y, grads[0], grads[1]};
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, g, 3, outs, &p));
    float xs[5] = {1, -2, 3, 0.5f, -0.25f}, dx[5], du[5], yv;
    void *xd = alloc_filled(ctx, 5, 3), *ud = alloc_filled(ctx, 5, 4);
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, xd, xs, 5));
    ck_assert_int_eq(alaei_plan_run(p), ALAE_E_STATE); /* 'x' is not bound yet */
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "'x'"));
    ck_assert_alae_ok(alaei_plan_bind(p, x, xd));
    ck_assert_alae_ok(alaei_plan_bind(p, unrelated, ud));
    ck_assert_alae_ok(alaei_plan_run(p));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, &yv, alaei_plan_data(p, y), 1));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, dx, alaei_plan_data(p, grads[0]), 5));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, du, alaei_plan_data(p, grads[1]), 5));
    ck_assert_float_eq_tol(yv, 1 + 4 + 9 + 0.25f + 0.0625f, 1e-5f);
    for (int i = 0; i < 5; i++) {
        ck_assert_float_eq_tol(dx[i], 2 * xs[i], 1e-6f);
        ck_assert_float_eq(du[i], 0.0f);
    }
    ck_assert_int_eq(alaei_plan_bind(p, y, xd), ALAE_E_INVALID_ARG); /* not an input */
    ctx->backend->buf_free(ctx->bctx, xd);
    ctx->backend->buf_free(ctx->bctx, ud);
    alaei_plan_destroy(p);
    alaei_graph_destroy(g);
    alae_context_destroy(ctx);
}
END_TEST

static int blocks_share(const alaei_plan *p, int32_t a, int32_t b) {
    /* true when b reuses a's memory in place (directly or through a chain), or vice versa */
    for (int32_t k = b; k >= 0; k = alaei_plan_block(p, k)->shares_with)
        if (k == a) return 1;
    for (int32_t k = a; k >= 0; k = alaei_plan_block(p, k)->shares_with)
        if (k == b) return 1;
    return 0;
}

START_TEST(planner_never_overlaps_live_tensors) {
    alae_context *ctx = wrapped_context();
    mlp_graph m = build_mlp(8, 24);
    int32_t outs[4] = {m.loss, m.grads[0], m.grads[1], m.grads[2]};
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 4, outs, &p));
    size_t arena = alaei_plan_arena_bytes(p), naive = alaei_plan_naive_bytes(p);
    ck_assert_uint_gt(naive, 0);
    ck_assert_uint_le(arena, naive);
    ck_assert_uint_lt(arena, naive); /* this graph has dead intermediates to reuse */
    int32_t n = alaei_plan_block_count(p), checked = 0;
    for (int32_t i = 0; i < n; i++) {
        const alaei_block *a = alaei_plan_block(p, i);
        if (!a->in_arena) continue;
        ck_assert_uint_le(a->offset + a->bytes, arena);
        for (int32_t j = i + 1; j < n; j++) {
            const alaei_block *b = alaei_plan_block(p, j);
            if (!b->in_arena) continue;
            int live_together = a->first <= b->last && b->first <= a->last;
            int memory_overlaps = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
            if (live_together && memory_overlaps)
                ck_assert_msg(blocks_share(p, i, j), "nodes %d [%d,%d] and %d [%d,%d] overlap in memory", i,
                              a->first, a->last, j, b->first, b->last);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 100);
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(steady_state_allocates_nothing_and_poison_changes_nothing) {
    const int64_t batch = 8, width = 24, n_out = 1 + 3 * 24 * 24;
    alae_context *ctx = wrapped_context();
    mlp_graph m = build_mlp(batch, width);
    int32_t outs[4] = {m.loss, m.grads[0], m.grads[1], m.grads[2]};
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 4, outs, &p));
    bound_mlp b = bind_mlp(ctx, p, &m, batch, width);
    float *first = malloc(n_out * sizeof(float)), *again = malloc(n_out * sizeof(float));
    ck_assert_alae_ok(alaei_plan_run(p));
    read_outputs(ctx, p, &m, width, first);
    int before = alloc_calls;
    for (int r = 0; r < 3; r++) ck_assert_alae_ok(alaei_plan_run(p));
    ck_assert_int_eq(alloc_calls, before); /* no allocation in steady state */
    read_outputs(ctx, p, &m, width, again);
    ck_assert_mem_eq(first, again, n_out * sizeof(float));
    /* with freed memory poisoned by NaN, a correct plan computes the same */
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_POISON, 1));
    ck_assert_alae_ok(alaei_plan_run(p));
    read_outputs(ctx, p, &m, width, again);
    ck_assert_mem_eq(first, again, n_out * sizeof(float));
    for (int64_t i = 0; i < n_out; i++) ck_assert(isfinite(first[i]));
    free(first);
    free(again);
    free_bound(ctx, &b);
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(out_of_memory_is_reported_at_planning) {
    alae_context *ctx = wrapped_context();
    mlp_graph m = build_mlp(64, 256);
    int32_t outs[4] = {m.loss, m.grads[0], m.grads[1], m.grads[2]};
    alloc_limit = 1024;
    alaei_plan *p = (alaei_plan *)(uintptr_t)0x42;
    ck_assert_int_eq(alaei_plan_create(ctx, m.g, 4, outs, &p), ALAE_E_DEVICE_NOMEM);
    ck_assert_ptr_eq(p, (alaei_plan *)(uintptr_t)0x42);
    ck_assert_int_eq(ops_run, 0); /* nothing ran */
    alloc_limit = SIZE_MAX;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 4, outs, &p));
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(abort_stops_between_ops_and_context_survives) {
    alae_context *ctx = wrapped_context();
    mlp_graph m = build_mlp(8, 24);
    int32_t outs[1] = {m.grads[0]};
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 1, outs, &p));
    bound_mlp b = bind_mlp(ctx, p, &m, 8, 24);
    abort_after_ops = 3;
    ck_assert_int_eq(alaei_plan_run(p), ALAE_E_ABORTED);
    ck_assert_int_eq(ops_run, 3);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "aborted"));
    alaei_context_begin_call(ctx); /* the next public call clears the request */
    abort_after_ops = -1;
    ck_assert_alae_ok(alaei_plan_run(p));
    free_bound(ctx, &b);
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx);
}
END_TEST

/* ALAE_PROFILE: the core times each op between two synchronisations (an asynchronous backend
 * is measured by its kernels, not its launches) and counts it under its op. */
START_TEST(profile_synchronises_around_every_op) {
    alae_context *ctx = wrapped_context();
    ctx->profile = calloc(1, sizeof *ctx->profile); /* what ALAE_PROFILE=1 does at creation */
    ck_assert_ptr_nonnull(ctx->profile);
    mlp_graph m = build_mlp(4, 8);
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 1, &m.loss, &p));
    bound_mlp b = bind_mlp(ctx, p, &m, 4, 8);
    trace_len = 0;
    ck_assert_alae_ok(alaei_plan_run(p));
    int32_t n = alaei_plan_op_count(p);
    ck_assert_int_gt(n, 3);
    ck_assert_int_eq(trace_len, 3 * n);
    for (int32_t i = 0; i < n; i++) ck_assert_msg(!strncmp(trace + 3 * i, "srs", 3), "trace %s", trace);
    uint64_t calls = 0;
    for (int i = 0; i < ALAEI_OP_COUNT; i++) calls += ctx->profile->calls[i];
    ck_assert_uint_eq(calls, (uint64_t)n);
    ck_assert_uint_eq(ctx->profile->calls[ALAEI_OP_GEMM], 3);
    ck_assert(ctx->profile->seconds[ALAEI_OP_GEMM] > 0);
    free_bound(ctx, &b);
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx); /* logs the report and frees the profile */
}
END_TEST

/* The device helpers that lib/nn and lib/train use run their op on the executor's path: an
 * abort request stops them, profiling counts them. */
START_TEST(device_helpers_take_the_executor_path) {
    alae_context *ctx = wrapped_context();
    void *a = alloc_filled(ctx, 16, 3), *d;
    ck_assert_alae_ok(alaei_device_alloc(ctx, 16, &d));
    ck_assert_alae_ok(alaei_device_scale_shift(ctx, d, a, 16, 2.0, 1.0));
    float host_a[16], host_d[16];
    ck_assert_alae_ok(alaei_device_download(ctx, host_a, a, 16));
    ck_assert_alae_ok(alaei_device_download(ctx, host_d, d, 16));
    for (int i = 0; i < 16; i++) ck_assert_float_eq(host_d[i], 2.0f * host_a[i] + 1.0f);
    ck_assert_int_eq(ops_run, 1);
    alae_context_request_abort(ctx);
    ck_assert_int_eq(alaei_device_binary(ctx, ALAEI_OP_ADD, d, a, a, 16), ALAE_E_ABORTED);
    ck_assert_str_eq(alae_last_error(), "alaei_device_run: aborted before ADD");
    ck_assert_int_eq(ops_run, 1); /* it never reached the backend */
    alaei_context_begin_call(ctx);
    ctx->profile = calloc(1, sizeof *ctx->profile);
    ck_assert_alae_ok(alaei_device_normal(ctx, d, 16, 7, 0, 0.0, 1.0));
    ck_assert_uint_eq(ctx->profile->calls[ALAEI_OP_RNG_NORMAL], 1);
    alaei_device_free(ctx, a);
    alaei_device_free(ctx, d);
    alae_context_destroy(ctx);
}
END_TEST

typedef struct abort_job {
    alae_context *ctx;
    atomic_int started;
} abort_job;

static void *abort_later(void *arg) {
    abort_job *job = arg;
    while (!atomic_load(&job->started)) sched_yield();
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    alae_context_request_abort(job->ctx);
    return NULL;
}

START_TEST(abort_from_another_thread) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    mlp_graph m = build_mlp(64, 256);
    int32_t outs[1] = {m.grads[0]};
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, m.g, 1, outs, &p));
    bound_mlp b = bind_mlp(ctx, p, &m, 64, 256);
    abort_job job = {ctx, 0};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, abort_later, &job), 0);
    alae_status s = ALAE_OK;
    alaei_context_begin_call(ctx);
    atomic_store(&job.started, 1);
    for (int r = 0; r < 100000 && s == ALAE_OK; r++) s = alaei_plan_run(p);
    pthread_join(thread, NULL);
    ck_assert_int_eq(s, ALAE_E_ABORTED);
    alaei_context_begin_call(ctx);
    ck_assert_alae_ok(alaei_plan_run(p)); /* still usable */
    free_bound(ctx, &b);
    alaei_plan_destroy(p);
    alaei_graph_destroy(m.g);
    alae_context_destroy(ctx);
}
END_TEST

static void run_random_graph(float *out, int64_t n) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    alaei_graph *g = alaei_graph_create();
    int64_t s[2] = {n / 16, 16};
    int32_t a = alaei_rng_normal(g, 2, s, 1234, 0, 0.0, 1.0);
    int32_t b = alaei_rng_normal(g, 2, s, 1234, (uint64_t)n, 0.0, 1.0);
    int32_t y = alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_gemm(g, a, b, 0, 1, 0.1));
    int32_t loss = alaei_sum_all(g, y);
    int32_t da;
    ck_assert_alae_ok(alaei_grad(g, loss, -1, 1, &a, &da));
    alaei_plan *p;
    ck_assert_alae_ok(alaei_plan_create(ctx, g, 1, &da, &p));
    ck_assert_alae_ok(alaei_plan_run(p));
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, out, alaei_plan_data(p, da), (size_t)n));
    alaei_plan_destroy(p);
    alaei_graph_destroy(g);
    alae_context_destroy(ctx);
}

START_TEST(same_seed_one_thread_is_bitwise_reproducible) {
    enum { N = 64 * 16 };
    float a[N], b[N];
    run_random_graph(a, N);
    run_random_graph(b, N);
    ck_assert_mem_eq(a, b, sizeof a);
    int nonzero = 0;
    for (int i = 0; i < N; i++) nonzero += a[i] != 0;
    ck_assert_int_gt(nonzero, N / 2);
}
END_TEST

static Suite *graph_suite(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, builder_errors_are_sticky_and_named);
    tcase_add_test(tc, gradient_through_clamp_is_refused);
    tcase_add_test(tc, simple_gradient_on_cpu);
    tcase_add_test(tc, planner_never_overlaps_live_tensors);
    tcase_add_test(tc, steady_state_allocates_nothing_and_poison_changes_nothing);
    tcase_add_test(tc, out_of_memory_is_reported_at_planning);
    tcase_add_test(tc, abort_stops_between_ops_and_context_survives);
    tcase_add_test(tc, abort_from_another_thread);
    tcase_add_test(tc, profile_synchronises_around_every_op);
    tcase_add_test(tc, device_helpers_take_the_executor_path);
    tcase_add_test(tc, same_seed_one_thread_is_bitwise_reproducible);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(graph_suite()); }
