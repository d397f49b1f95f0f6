/* Elementwise CPU kernels: FILL, RNG_NORMAL, ADD/SUB/MUL/DIV with broadcasting, the unary ops,
 * LEAKY_RELU/MASK, SCALE_SHIFT, CLAMP, ADAM_STEP and ADAM_EMA_STEP.
 *
 * In place: the planner may run an elementwise op with dst == src[0] (same shape). The loops
 * therefore do not use restrict (which would make that aliasing undefined); they carry
 * `#pragma GCC ivdep` instead, which is exactly true here (element i only reads index i of each
 * source, or a broadcast value that is never written), so GCC vectorises them without run-time
 * overlap checks. Every element is computed independently, so results do not depend on the
 * thread count. Math is float, except RNG_NORMAL's affine map (double, rounded once). */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

#if defined(__GNUC__) && !defined(__clang__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

/* ---- FILL ---- */

typedef struct fill_job {
    float *d;
    float v;
} fill_job;

static void fill_range(void *p, int64_t i0, int64_t i1) {
    const fill_job *job = p;
    float *d = job->d;
    float v = job->v;
    if (v == 0.0f && !signbit(v)) {
        memset(d + i0, 0, (size_t)(i1 - i0) * sizeof(float));
        return;
    }
    for (int64_t i = i0; i < i1; i++) d[i] = v;
}

void cpu_fill_f32(cpu_pool *pool, float *dst, int64_t n, float v) {
    fill_job job = {dst, v};
    cpu_parallel_for_cost(pool, n, 1, fill_range, &job);
}

alae_status cpu_op_fill(cpu_ctx *ctx, const alaei_op *op) {
    cpu_fill_f32(ctx->pool, op->dst.data, alaei_numel4(op->dst.ne), (float)op->fp[0]);
    return ALAE_OK;
}

/* ---- RNG_NORMAL ---- */

typedef struct rng_job {
    float *d;
    uint64_t seed, offset;
    double mean, stddev;
} rng_job;

static void rng_range(void *p, int64_t i0, int64_t i1) {
    const rng_job *job = p;
    for (int64_t i = i0; i < i1; i++) {
        double z = alaei_philox_normal(job->seed, job->offset + (uint64_t)i);
        job->d[i] = (float)(job->mean + job->stddev * z);
    }
}

alae_status cpu_op_rng_normal(cpu_ctx *ctx, const alaei_op *op) {
    rng_job job = {op->dst.data,
                   (uint64_t)(uint32_t)op->ip[0] | (uint64_t)(uint32_t)op->ip[1] << 32,
                   (uint64_t)(uint32_t)op->ip[2] | (uint64_t)(uint32_t)op->ip[3] << 32, op->fp[0], op->fp[1]};
    /* ~100 ns per element: weight the cost so that a few thousand elements already go parallel */
    cpu_parallel_for_cost(ctx->pool, alaei_numel4(op->dst.ne), 32, rng_range, &job);
    return ALAE_OK;
}

/* ---- binary ops with broadcasting ---- */

/* One inner run of len elements; sa, sb are 0 (broadcast value) or 1 (contiguous). */
#define BIN_LOOPS(EXPR)                                                  \
    if (sa && sb) {                                                      \
        IVDEP for (int64_t i = 0; i < len; i++) {                        \
            float x = a[i], y = b[i];                                    \
            d[i] = EXPR;                                                 \
        }                                                                \
    } else if (sa) {                                                     \
        const float y = b[0];                                            \
        IVDEP for (int64_t i = 0; i < len; i++) {                        \
            float x = a[i];                                              \
            d[i] = EXPR;                                                 \
        }                                                                \
    } else if (sb) {                                                     \
        const float x = a[0];                                            \
        IVDEP for (int64_t i = 0; i < len; i++) {                        \
            float y = b[i];                                              \
            d[i] = EXPR;                                                 \
        }                                                                \
    } else {                                                             \
        const float x = a[0], y = b[0];                                  \
        const float v = EXPR;                                            \
        for (int64_t i = 0; i < len; i++) d[i] = v;                      \
    }

static void bin_add(float *d, const float *a, int sa, const float *b, int sb, int64_t len) { BIN_LOOPS(x + y) }
static void bin_sub(float *d, const float *a, int sa, const float *b, int sb, int64_t len) { BIN_LOOPS(x - y) }
static void bin_mul(float *d, const float *a, int sa, const float *b, int sb, int64_t len) { BIN_LOOPS(x * y) }
static void bin_div(float *d, const float *a, int sa, const float *b, int sb, int64_t len) { BIN_LOOPS(x / y) }

typedef void (*bin_fn)(float *d, const float *a, int sa, const float *b, int sb, int64_t len);

typedef struct bin_job {
    cpu_bplan plan;
    bin_fn fn;
    float *d;
    const float *a, *b;
    int leaky;   /* ADD_LEAKY_RELU: the activation follows each run while it is in L1 */
    float slope;
} bin_job;

static inline float leakyf(float x, float slope);

static void bin_range(void *p, int64_t e0, int64_t e1) {
    const bin_job *job = p;
    const cpu_bplan *pl = &job->plan;
    const int64_t n3 = pl->ne[3], n2 = pl->ne[2], n1 = pl->ne[1];
    const int64_t *sa = pl->st[0], *sb = pl->st[1];
    int64_t j = e0 % n3, r = e0 / n3;
    int64_t i2 = r % n2;
    r /= n2;
    int64_t i1 = r % n1, i0 = r / n1;
    for (int64_t e = e0; e < e1;) {
        int64_t len = n3 - j < e1 - e ? n3 - j : e1 - e;
        int64_t oa = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + j * sa[3];
        int64_t ob = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + j * sb[3];
        job->fn(job->d + e, job->a + oa, (int)sa[3], job->b + ob, (int)sb[3], len);
        if (job->leaky) {
            float *d = job->d + e;
            const float slope = job->slope;
            IVDEP for (int64_t i = 0; i < len; i++) d[i] = leakyf(d[i], slope);
        }
        e += len;
        j = 0;
        if (++i2 == n2) {
            i2 = 0;
            if (++i1 == n1) {
                i1 = 0;
                i0++;
            }
        }
    }
}

alae_status cpu_op_binary(cpu_ctx *ctx, const alaei_op *op) {
    const alaei_tview *d = &op->dst, *a = &op->src[0], *b = &op->src[1];
    bin_job job;
    const int64_t *src_ne[2] = {a->ne, b->ne};
    if (!cpu_bplan_make(d->ne, 2, src_ne, &job.plan))
        return cpu_shape_error(op, "a [%lld, %lld, %lld, %lld] and b [%lld, %lld, %lld, %lld] do not broadcast to "
                                   "d [%lld, %lld, %lld, %lld]",
                               (long long)a->ne[0], (long long)a->ne[1], (long long)a->ne[2], (long long)a->ne[3],
                               (long long)b->ne[0], (long long)b->ne[1], (long long)b->ne[2], (long long)b->ne[3],
                               (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2], (long long)d->ne[3]);
    int64_t n = alaei_numel4(d->ne);
    if (n == 0) return ALAE_OK;
    alae_status s;
    if (op->code == ALAEI_OP_ADD_LEAKY_RELU && (s = cpu_check_same_shape(op, a, "a", d, "d")) != ALAE_OK) return s;
    job.leaky = op->code == ALAEI_OP_ADD_LEAKY_RELU;
    job.slope = (float)op->fp[0];
    switch (op->code) {
    case ALAEI_OP_ADD_LEAKY_RELU:
    case ALAEI_OP_ADD: job.fn = bin_add; break;
    case ALAEI_OP_SUB: job.fn = bin_sub; break;
    case ALAEI_OP_MUL: job.fn = bin_mul; break;
    default: job.fn = bin_div; break;
    }
    job.d = d->data;
    job.a = a->data;
    job.b = b->data;
    cpu_parallel_for_cost(ctx->pool, n, op->code == ALAEI_OP_DIV ? 2 : 1, bin_range, &job);
    return ALAE_OK;
}

/* ---- unary ops ---- */

typedef struct un_job {
    int code;
    float *d;
    const float *a;
    float f0, f1;
} un_job;

#define UN_LOOP(EXPR)                                \
    IVDEP for (int64_t i = i0; i < i1; i++) {        \
        float x = a[i];                              \
        d[i] = EXPR;                                 \
    }                                                \
    break;

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
static inline float leakyf(float x, float slope) {
    float negative = x < 0.0f ? x : 0.0f;
    return (x - negative) + slope * negative;
}
/* sign(0) = 0; NaN propagates */
static inline float signf(float x) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x == x ? 0.0f : x; }

static void un_range(void *p, int64_t i0, int64_t i1) {
    const un_job *job = p;
    float *d = job->d;
    const float *a = job->a;
    const float f0 = job->f0, f1 = job->f1;
    switch (job->code) {
    case ALAEI_OP_NEG: UN_LOOP(-x)
    case ALAEI_OP_EXP: UN_LOOP(expf(x))
    case ALAEI_OP_LOG: UN_LOOP(logf(x))
    case ALAEI_OP_SQRT: UN_LOOP(sqrtf(x))
    case ALAEI_OP_RSQRT: UN_LOOP(1.0f / sqrtf(x))
    case ALAEI_OP_SQUARE: UN_LOOP(x * x)
    case ALAEI_OP_SIGMOID: UN_LOOP(sigmoidf(x))
    case ALAEI_OP_SOFTPLUS: UN_LOOP(softplusf(x))
    case ALAEI_OP_ABS: UN_LOOP(fabsf(x))
    case ALAEI_OP_SIGN: UN_LOOP(signf(x))
    /* split into negative and positive parts so it vectorises (a branch mispredicts on random
     * signs); NaN and -0 come out as x > 0 ? x : f0 * x gives them */
    case ALAEI_OP_LEAKY_RELU: UN_LOOP(leakyf(x, f0))
    case ALAEI_OP_LEAKY_MASK: UN_LOOP(x > 0.0f ? 1.0f : f0)
    case ALAEI_OP_SCALE_SHIFT: UN_LOOP(f0 * x + f1)
    /* min(max(x, lo), hi) written with comparisons, so a NaN input stays NaN */
    case ALAEI_OP_CLAMP: UN_LOOP(x < f0 ? f0 : (x > f1 ? f1 : x))
    default: break;
    }
}

alae_status cpu_op_unary(cpu_ctx *ctx, const alaei_op *op) {
    alae_status s = cpu_check_same_shape(op, &op->dst, "d", &op->src[0], "a");
    if (s != ALAE_OK) return s;
    un_job job = {op->code, op->dst.data, op->src[0].data, (float)op->fp[0], (float)op->fp[1]};
    int64_t cost;
    switch (op->code) {
    case ALAEI_OP_EXP:
    case ALAEI_OP_LOG:
    case ALAEI_OP_SIGMOID: cost = 8; break;
    case ALAEI_OP_SOFTPLUS: cost = 16; break;
    case ALAEI_OP_SQRT:
    case ALAEI_OP_RSQRT: cost = 2; break;
    default: cost = 1; break;
    }
    cpu_parallel_for_cost(ctx->pool, alaei_numel4(op->dst.ne), cost, un_range, &job);
    return ALAE_OK;
}

/* ---- ADAM_STEP ---- */

typedef struct adam_job {
    float *p, *m, *v;
    const float *g;
    float lr, b1, one_minus_b1, b2, one_minus_b2, eps;
} adam_job;

/* One Adam step of one parameter: updates the moments in place and returns the new value.
 * c is a local copy of the job's coefficients, so the loops' stores cannot alias them. */
static inline float adam_next(const adam_job *c, float *m, float *v, float p, float g) {
    float mi = c->b1 * *m + c->one_minus_b1 * g;
    float vi = c->b2 * *v + c->one_minus_b2 * (g * g);
    *m = mi;
    *v = vi;
    return p - c->lr * mi / (sqrtf(vi) + c->eps);
}

static void adam_range(void *arg, int64_t i0, int64_t i1) {
    const adam_job c = *(const adam_job *)arg;
    float *p = c.p, *m = c.m, *v = c.v;
    const float *g = c.g;
    IVDEP for (int64_t i = i0; i < i1; i++) p[i] = adam_next(&c, &m[i], &v[i], p[i], g[i]);
}

alae_status cpu_op_adam_step(cpu_ctx *ctx, const alaei_op *op) {
    alae_status s;
    if ((s = cpu_check_same_shape(op, &op->dst, "parameter", &op->src[0], "gradient")) != ALAE_OK ||
        (s = cpu_check_same_shape(op, &op->dst, "parameter", &op->src[1], "m")) != ALAE_OK ||
        (s = cpu_check_same_shape(op, &op->dst, "parameter", &op->src[2], "v")) != ALAE_OK)
        return s;
    adam_job job = {op->dst.data,
                    op->src[1].data,
                    op->src[2].data,
                    op->src[0].data,
                    (float)op->fp[0],
                    (float)op->fp[1],
                    (float)(1.0 - op->fp[1]),
                    (float)op->fp[2],
                    (float)(1.0 - op->fp[2]),
                    (float)op->fp[3]};
    cpu_parallel_for_cost(ctx->pool, alaei_numel4(op->dst.ne), 4, adam_range, &job);
    return ALAE_OK;
}

/* ---- ADAM_EMA_STEP: Adam, then the smoothed copy follows the new parameter, in one pass ---- */

typedef struct adam_ema_job {
    adam_job adam;
    float *s;
    float rate;
} adam_ema_job;

static void adam_ema_range(void *arg, int64_t i0, int64_t i1) {
    const adam_ema_job *job = arg;
    const adam_job c = job->adam;
    float *p = c.p, *m = c.m, *v = c.v, *sm = job->s;
    const float *g = c.g;
    const float rate = job->rate;
    IVDEP for (int64_t i = i0; i < i1; i++) {
        float pi = adam_next(&c, &m[i], &v[i], p[i], g[i]);
        p[i] = pi;
        /* as SUB, SCALE_SHIFT(rate, 0) and ADD compute it, one after the other */
        float t = pi - sm[i];
        t = rate * t + 0.0f;
        sm[i] = sm[i] + t;
    }
}

alae_status cpu_op_adam_ema_step(cpu_ctx *ctx, const alaei_op *op) {
    int64_t n = alaei_numel4(op->dst.ne);
    if (alaei_numel4(op->src[0].ne) != n || alaei_numel4(op->src[2].ne) != n || alaei_numel4(op->src[1].ne) != 2 * n)
        return alaei_fail(ALAE_E_SHAPE, "cpu_run_op",
                          "ADAM_EMA_STEP: %lld parameters need as many gradients and smoothed values and 2x as "
                          "many moments (got %lld, %lld, %lld)",
                          (long long)n, (long long)alaei_numel4(op->src[0].ne), (long long)alaei_numel4(op->src[2].ne),
                          (long long)alaei_numel4(op->src[1].ne));
    float *moments = op->src[1].data;
    adam_ema_job job = {{op->dst.data, moments, moments + n, op->src[0].data, (float)op->fp[0], (float)op->fp[1],
                         (float)(1.0 - op->fp[1]), (float)op->fp[2], (float)(1.0 - op->fp[2]), (float)op->fp[3]},
                        op->src[2].data,
                        (float)op->fp[4]};
    cpu_parallel_for_cost(ctx->pool, n, 6, adam_ema_range, &job);
    return ALAE_OK;
}
