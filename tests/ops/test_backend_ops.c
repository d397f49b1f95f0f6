/* Cross-backend op tests, in the spirit of ggml's test-backend-ops.
 *
 * Every primitive op (FILL .. ADAM_STEP) runs over many shapes on every backend under test (the
 * built-in CPU backend and whatever the registry offers, e.g. a CUDA plugin loaded through
 * ALAE_OPS_PLUGIN=/abs/path.so) and on the double-precision reference backend. Inputs are the same
 * float arrays written to each backend with write_f32; outputs are read back as float and
 * compared: NMSE = sum((x - ref)^2) / sum(ref^2) <= 1e-7, or exact equality for FILL, RNG_NORMAL
 * and the pure data-movement ops.
 *
 * The fused convolution ops (CONV2D, CONV2D_BWD_DATA, CONV2D_BWD_WEIGHT) are also checked at the
 * graph level against their IM2COL / GEMM / COL2IM decomposition on every backend ("fused equals
 * decomposition"), on a backend without them (the planner must plan the decomposition), and for
 * bit-for-bit repeatability at a fixed thread count.
 *
 * Modes (environment variable ALAE_OPS_MODE):
 *   test (default)  the Check suite: one test per op code, plus malformed-shape checks
 *   support         prints the op x backend support matrix and exits
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/cpu_internal.h" /* cpu_sgemm_builtin: the fallback when no BLAS is found */
#include "internal/alae_backend_impl.h"
#include "internal/alae_graph.h"
#include "internal/alae_internal.h"
#include "test_util.h"

#define NMSE_MAX 1e-7
/* Winograd F(4x4, 3x3) convolutions (CPU backend with ALAE_CTX_WINOGRAD = 2): their float32
 * rounding error is ~10-100x the direct form's (transform entries up to 8 and 1/24); measured
 * worst 1.6e-11 over the cases below. The tighter bound catches a less stable transform. */
#define WINOGRAD_NMSE_MAX 1e-9
#define MAX_BACKENDS 8

/* ---------------------------------------------------------------------------------------------
 * Backends under test
 * ------------------------------------------------------------------------------------------- */

typedef struct backend_ut {
    const alaei_backend_vtbl *vt;
    int32_t device;
    alae_context *ctx;
    int32_t threads; /* worker threads set before every run; 0: the context's default */
    int32_t winograd; /* ALAE_CTX_WINOGRAD set at creation; -1: the context's default */
    char label[64];
} backend_ut;

static backend_ut g_bk[MAX_BACKENDS];
static int g_nbk;
static backend_ut g_ref;

/* Adds (vt, device, threads, winograd) unless already present; 0 on success, -1 with a message
 * in err. */
static int add_backend(const alaei_backend_vtbl *vt, int32_t device, int32_t threads, int32_t winograd,
                       char *err, size_t errsize) {
    for (int i = 0; i < g_nbk; i++)
        if (g_bk[i].vt == vt && g_bk[i].device == device && g_bk[i].threads == threads &&
            g_bk[i].winograd == winograd)
            return 0;
    if (g_nbk == MAX_BACKENDS) return 0;
    backend_ut *b = &g_bk[g_nbk];
    memset(b, 0, sizeof *b);
    b->vt = vt;
    b->device = device;
    b->threads = threads;
    b->winograd = winograd;
    if (threads > 0)
        snprintf(b->label, sizeof b->label, "%s:%d/%dt%s", vt->name, (int)device, (int)threads,
                 winograd == 2 ? "/winograd" : "");
    else
        snprintf(b->label, sizeof b->label, "%s:%d", vt->name, (int)device);
    if (alaei_context_create_on(vt, device, &b->ctx) != ALAE_OK) {
        snprintf(err, errsize, "cannot create a context on backend %s: %s", b->label, alae_last_error());
        return -1;
    }
    if (winograd >= 0 && alae_context_set_param(b->ctx, ALAE_CTX_WINOGRAD, winograd) != ALAE_OK) {
        snprintf(err, errsize, "cannot set ALAE_CTX_WINOGRAD on backend %s: %s", b->label, alae_last_error());
        alae_context_destroy(b->ctx);
        return -1;
    }
    g_nbk++;
    return 0;
}

/* Opens a context on every backend under test and on the reference backend. No Check calls
 * here: the support mode runs it outside any test. */
static int backends_open(char *err, size_t errsize) {
    g_nbk = 0;
    memset(&g_ref, 0, sizeof g_ref);
    /* the CPU backend single-threaded and with an odd number of workers (split edges); with
     * ALAE_TEST_DEVICE=cuda the GPU alone (the CPU has its own run of this program); and with
     * Winograd for every 3x3 stride-1 convolution, whatever the shape (the default picks it for
     * large channel counts only, or never with ALAE_WINOGRAD=0) */
    if (!alae_test_on_cuda()) {
        if (add_backend(alaei_cpu_backend(), 0, 1, -1, err, errsize) != 0) return -1;
        if (add_backend(alaei_cpu_backend(), 0, 3, -1, err, errsize) != 0) return -1;
        if (add_backend(alaei_cpu_backend(), 0, 1, 2, err, errsize) != 0) return -1;
        if (add_backend(alaei_cpu_backend(), 0, 3, 2, err, errsize) != 0) return -1;
    }
    const char *plugin = getenv("ALAE_OPS_PLUGIN");
    if (plugin && plugin[0] && alae_backend_load(plugin) != ALAE_OK) {
        snprintf(err, errsize, "ALAE_OPS_PLUGIN=%s: %s", plugin, alae_last_error());
        return -1;
    }
    int32_t n = alae_device_count();
    for (int32_t i = 0; i < n; i++) {
        const alaei_backend_vtbl *vt;
        int32_t dev;
        if (alaei_registry_lookup(i, &vt, &dev) != ALAE_OK || vt == alaei_cpu_backend()) continue;
        if (add_backend(vt, dev, 0, -1, err, errsize) != 0) return -1;
    }
    g_ref.vt = alaei_reference_backend();
    snprintf(g_ref.label, sizeof g_ref.label, "reference");
    if (alaei_context_create_on(g_ref.vt, 0, &g_ref.ctx) != ALAE_OK) {
        snprintf(err, errsize, "cannot create a reference context: %s", alae_last_error());
        return -1;
    }
    return 0;
}

static void backends_setup(void) {
    char err[600] = "";
    int rc = backends_open(err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
}

static void backends_teardown(void) {
    for (int i = 0; i < g_nbk; i++) alae_context_destroy(g_bk[i].ctx);
    g_nbk = 0;
    alae_context_destroy(g_ref.ctx);
    g_ref.ctx = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Test cases
 * ------------------------------------------------------------------------------------------- */

/* How an input is filled. */
enum { G_NONE = 0, G_UNI, G_AWAY, G_AWAY_ZEROS };
typedef struct gen_spec {
    int kind;   /* G_UNI: uniform in [lo, hi); G_AWAY: same but |x| >= 1e-3 (no kinks);
                   G_AWAY_ZEROS: G_AWAY with every third element exactly 0 */
    double lo, hi;
} gen_spec;

typedef struct op_case {
    alaei_op op;      /* shapes, ip and fp; data pointers are set per backend */
    gen_spec gen_dst; /* initial contents of dst (ADAM_STEP's parameters); G_NONE: NaN poison */
    gen_spec gen[ALAEI_OP_MAX_SRC];
    int exact;        /* compare bit-for-bit (as float values) instead of NMSE */
    int inplace;      /* 1: dst is src[0]'s buffer (the planner runs elementwise ops in place);
                         2: dst, src[0] and src[1] are all the same buffer (x * x in place) */
    int offset;       /* > 0: every view starts `offset` elements into its buffer, with `offset`
                         guard elements after it (pointers off 16-byte alignment); the guards
                         of dst must come back untouched */
} op_case;

typedef struct case_list {
    op_case *v;
    int n, cap;
} case_list;

static void set4(int64_t ne[4], int64_t a, int64_t b, int64_t c, int64_t d) {
    ne[0] = a;
    ne[1] = b;
    ne[2] = c;
    ne[3] = d;
}

static void cpy4(int64_t dst[4], const int64_t src[4]) { memcpy(dst, src, 4 * sizeof(int64_t)); }

static const gen_spec UNI2 = {G_UNI, -2.0, 2.0};

static op_case *new_case(case_list *L, int32_t code, int32_t nsrc) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 64;
        L->v = realloc(L->v, (size_t)L->cap * sizeof *L->v);
        if (!L->v) abort();
    }
    op_case *c = &L->v[L->n++];
    memset(c, 0, sizeof *c);
    c->op.code = code;
    c->op.nsrc = nsrc;
    for (int k = 0; k < nsrc; k++) c->gen[k] = UNI2;
    return c;
}

static int is_unary(int32_t code) {
    return code >= ALAEI_OP_NEG && code <= ALAEI_OP_CLAMP;
}
static int is_binary(int32_t code) { return code >= ALAEI_OP_ADD && code <= ALAEI_OP_DIV; }

/* The input range of a unary op: positive for LOG/SQRT/RSQRT, away from the kink at 0 for the
 * piecewise ops. */
static gen_spec unary_gen(int32_t code) {
    switch (code) {
    case ALAEI_OP_LOG:
    case ALAEI_OP_SQRT:
    case ALAEI_OP_RSQRT: return (gen_spec){G_UNI, 0.05, 4.0};
    case ALAEI_OP_EXP: return (gen_spec){G_UNI, -5.0, 5.0};
    case ALAEI_OP_SIGMOID:
    case ALAEI_OP_SOFTPLUS: return (gen_spec){G_UNI, -12.0, 12.0};
    case ALAEI_OP_ABS:
    case ALAEI_OP_SIGN:
    case ALAEI_OP_LEAKY_RELU:
    case ALAEI_OP_LEAKY_MASK: return (gen_spec){G_AWAY, -3.0, 3.0};
    default: return (gen_spec){G_UNI, -4.0, 4.0};
    }
}

static void cases_unary(int32_t code, case_list *L) {
    static const int64_t shapes[][4] = {{1, 1, 1, 1},  {2, 3, 5, 7},   {1, 1, 1, 1031}, {3, 1, 17, 1},
                                        {1, 1, 1, 15}, {1, 1, 1, 16},  {1, 1, 1, 17},   {4, 8, 16, 16},
                                        {1, 4, 128, 129}, {1, 1, 3, 0}};
    static const double fps[][2] = {{0.2, 0.0}, {-0.37, 0.81}, {0.01, 1.5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int f = 0; f < 2; f++) {
            op_case *c = new_case(L, code, 1);
            cpy4(c->op.dst.ne, shapes[s]);
            cpy4(c->op.src[0].ne, shapes[s]);
            c->gen[0] = unary_gen(code);
            const double *fp = fps[(s + (size_t)f) % 3];
            switch (code) {
            case ALAEI_OP_LEAKY_RELU:
            case ALAEI_OP_LEAKY_MASK: c->op.fp[0] = fabs(fp[0]); break;
            case ALAEI_OP_SCALE_SHIFT:
                c->op.fp[0] = fp[1];
                c->op.fp[1] = fp[0];
                break;
            case ALAEI_OP_CLAMP:
                c->op.fp[0] = -fabs(fp[1]);
                c->op.fp[1] = fabs(fp[0]) + 0.5;
                break;
            default: break;
            }
        }
    /* in place (d is a's buffer), as the planner runs elementwise ops */
    for (int n = L->n, i = n - 2 * (int)(sizeof shapes / sizeof shapes[0]); i < n; i += 2) {
        op_case *c = new_case(L, code, 1);
        *c = L->v[i];
        c->inplace = 1;
    }
    /* sign(0) = 0, abs(0) = 0, leaky(0) = 0, mask(0) = slope: exact zeros among the inputs */
    if (code == ALAEI_OP_SIGN || code == ALAEI_OP_ABS || code == ALAEI_OP_LEAKY_RELU ||
        code == ALAEI_OP_LEAKY_MASK) {
        op_case *c = new_case(L, code, 1);
        set4(c->op.dst.ne, 1, 3, 5, 7);
        set4(c->op.src[0].ne, 1, 3, 5, 7);
        c->gen[0] = (gen_spec){G_AWAY_ZEROS, -3.0, 3.0};
        c->op.fp[0] = 0.2;
    }
}

/* d = a (op) b for every combination of broadcast dims of a and of b */
static void cases_binary(int32_t code, case_list *L) {
    static const int64_t dshapes[][4] = {{2, 3, 5, 7}, {3, 1, 7, 1}};
    gen_spec gb = code == ALAEI_OP_DIV ? (gen_spec){G_UNI, 0.5, 2.0} : UNI2;
    for (size_t s = 0; s < sizeof dshapes / sizeof dshapes[0]; s++)
        for (int ma = 0; ma < 16; ma++)
            for (int mb = 0; mb < 16; mb++) {
                const int64_t *d = dshapes[s];
                int64_t an[4], bn[4];
                for (int k = 0; k < 4; k++) {
                    an[k] = (ma >> k & 1) ? 1 : d[k];
                    bn[k] = (mb >> k & 1) ? 1 : d[k];
                }
                op_case *c = new_case(L, code, 2);
                cpy4(c->op.dst.ne, d);
                cpy4(c->op.src[0].ne, an);
                cpy4(c->op.src[1].ne, bn);
                c->gen[1] = gb;
            }
    /* larger rows: full with full, row vector, column vector, scalar, on either side */
    static const int64_t big[4] = {1, 2, 33, 129};
    static const int64_t smalls[][4] = {{1, 2, 33, 129}, {1, 1, 1, 129}, {1, 1, 33, 1}, {1, 1, 1, 1}, {1, 2, 1, 1}};
    for (size_t s = 0; s < sizeof smalls / sizeof smalls[0]; s++)
        for (int side = 0; side < 2; side++) {
            op_case *c = new_case(L, code, 2);
            cpy4(c->op.dst.ne, big);
            cpy4(c->op.src[0].ne, side ? smalls[s] : big);
            cpy4(c->op.src[1].ne, side ? big : smalls[s]);
            c->gen[1] = gb;
        }
    static const int64_t big2[4] = {4, 8, 64, 65};
    static const int64_t smalls2[][4] = {{4, 8, 64, 65}, {1, 8, 1, 1}, {1, 1, 1, 65}, {4, 1, 64, 1}, {1, 1, 1, 1}};
    for (size_t s = 0; s < sizeof smalls2 / sizeof smalls2[0]; s++)
        for (int side = 0; side < 2; side++) {
            op_case *c = new_case(L, code, 2);
            cpy4(c->op.dst.ne, big2);
            cpy4(c->op.src[0].ne, side ? smalls2[s] : big2);
            cpy4(c->op.src[1].ne, side ? big2 : smalls2[s]);
            c->gen[1] = gb;
        }
    /* in place: d is a's buffer, b full or broadcast in every combination; and x (op) x in place */
    for (int mb = 0; mb < 16; mb++) {
        op_case *c = new_case(L, code, 2);
        set4(c->op.dst.ne, 2, 3, 5, 7);
        set4(c->op.src[0].ne, 2, 3, 5, 7);
        for (int k = 0; k < 4; k++) c->op.src[1].ne[k] = (mb >> k & 1) ? 1 : c->op.dst.ne[k];
        c->gen[1] = gb;
        c->inplace = 1;
    }
    static const int64_t inpl[][2][4] = {{{4, 8, 64, 65}, {1, 8, 1, 1}}, {{4, 8, 64, 65}, {4, 8, 64, 65}},
                                         {{1, 4, 128, 129}, {1, 1, 1, 129}}};
    for (size_t s = 0; s < sizeof inpl / sizeof inpl[0]; s++) {
        op_case *c = new_case(L, code, 2);
        cpy4(c->op.dst.ne, inpl[s][0]);
        cpy4(c->op.src[0].ne, inpl[s][0]);
        cpy4(c->op.src[1].ne, inpl[s][1]);
        c->gen[1] = gb;
        c->inplace = 1;
    }
    static const int64_t same[][4] = {{2, 3, 5, 7}, {1, 4, 128, 129}};
    for (size_t s = 0; s < 2; s++) {
        op_case *c = new_case(L, code, 2);
        cpy4(c->op.dst.ne, same[s]);
        cpy4(c->op.src[0].ne, same[s]);
        cpy4(c->op.src[1].ne, same[s]);
        c->gen[0] = gb; /* DIV: x / x with x > 0 */
        c->inplace = 2;
    }
    op_case *c = new_case(L, code, 2); /* single element, and an empty tensor */
    set4(c->op.dst.ne, 1, 1, 1, 1);
    set4(c->op.src[0].ne, 1, 1, 1, 1);
    set4(c->op.src[1].ne, 1, 1, 1, 1);
    c->gen[1] = gb;
    c = new_case(L, code, 2);
    set4(c->op.dst.ne, 2, 0, 3, 1);
    set4(c->op.src[0].ne, 2, 0, 3, 1);
    set4(c->op.src[1].ne, 1, 1, 3, 1);
    c->gen[1] = gb;
}

static void cases_gemm(case_list *L) {
    static const int64_t mkn[][3] = {{1, 1, 1},    {1, 7, 1},     {3, 5, 7},   {7, 1, 3},
                                     {16, 16, 16}, {33, 17, 65},  {65, 33, 17}, {5, 4099, 3},
                                     {2, 1000, 130}, {64, 64, 64}, {127, 65, 129}, {17, 33, 31},
                                     {6, 257, 16}, {1, 513, 300}, {300, 40, 1}, {4, 0, 3}};
    static const double alphas[] = {1.0, 0.5, -1.25};
    int ai = 0;
    for (size_t s = 0; s < sizeof mkn / sizeof mkn[0]; s++) {
        int64_t M = mkn[s][0], K = mkn[s][1], N = mkn[s][2];
        int small = M * K * N <= 5000;
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1 & 1;
            /* batch dims of d, a, b: all 16 broadcast combinations for small matrices */
            int nb = small ? 16 : 2;
            for (int bm = 0; bm < nb; bm++) {
                int64_t d0, d1, a0, a1, b0, b1;
                if (small) {
                    d0 = 2;
                    d1 = 3;
                    a0 = (bm & 1) ? 1 : d0;
                    a1 = (bm & 2) ? 1 : d1;
                    b0 = (bm & 4) ? 1 : d0;
                    b1 = (bm & 8) ? 1 : d1;
                } else if (bm == 0) {
                    d0 = d1 = a0 = a1 = b0 = b1 = 1;
                } else {
                    d0 = 2, d1 = 1, a0 = 1, a1 = 1, b0 = 2, b1 = 1;
                }
                op_case *c = new_case(L, ALAEI_OP_GEMM, 2);
                set4(c->op.dst.ne, d0, d1, M, N);
                if (ta)
                    set4(c->op.src[0].ne, a0, a1, K, M);
                else
                    set4(c->op.src[0].ne, a0, a1, M, K);
                if (tb)
                    set4(c->op.src[1].ne, b0, b1, N, K);
                else
                    set4(c->op.src[1].ne, b0, b1, K, N);
                c->op.ip[0] = ta;
                c->op.ip[1] = tb;
                c->op.fp[0] = alphas[ai++ % 3];
            }
            /* products summed over batch dims where d has 1 (convolution weight gradients) */
            /* and batches along dim 0 alone (dim 1 is 1 everywhere: a GPU backend may fold them into
             * dim 1), broadcast, or summed */
            static const int64_t sums[][6] = {/* d0 d1 a0 a1 b0 b1 */
                                              {1, 3, 2, 3, 2, 3}, {2, 1, 2, 3, 2, 3}, {1, 1, 2, 3, 2, 3},
                                              {1, 1, 1, 3, 2, 3}, {1, 3, 2, 1, 1, 3}, {1, 1, 2, 1, 1, 3},
                                              {2, 1, 2, 1, 1, 1}, {2, 1, 1, 1, 2, 1}, {2, 1, 2, 1, 2, 1},
                                              {1, 1, 2, 1, 2, 1}, {1, 1, 2, 1, 1, 1}, {1, 1, 1, 1, 2, 1}};
            for (size_t v = 0; small && v < sizeof sums / sizeof sums[0]; v++) {
                const int64_t *q = sums[v];
                op_case *c = new_case(L, ALAEI_OP_GEMM, 2);
                set4(c->op.dst.ne, q[0], q[1], M, N);
                if (ta)
                    set4(c->op.src[0].ne, q[2], q[3], K, M);
                else
                    set4(c->op.src[0].ne, q[2], q[3], M, K);
                if (tb)
                    set4(c->op.src[1].ne, q[4], q[5], N, K);
                else
                    set4(c->op.src[1].ne, q[4], q[5], K, N);
                c->op.ip[0] = ta;
                c->op.ip[1] = tb;
                c->op.fp[0] = alphas[ai++ % 3];
            }
        }
    }
}

static void cases_reduce_broadcast(int32_t code, case_list *L) {
    static const int64_t full[4] = {2, 3, 5, 7};
    for (int m = 0; m < 16; m++) {
        int64_t r[4];
        for (int k = 0; k < 4; k++) r[k] = (m >> k & 1) ? 1 : full[k];
        op_case *c = new_case(L, code, 1);
        if (code == ALAEI_OP_REDUCE_SUM) {
            cpy4(c->op.src[0].ne, full);
            cpy4(c->op.dst.ne, r);
        } else {
            cpy4(c->op.src[0].ne, r);
            cpy4(c->op.dst.ne, full);
            c->exact = 1;
        }
    }
    static const int64_t bigs[][4] = {{1, 1, 64, 257}, {3, 1, 1, 4099}, {8, 16, 32, 33}};
    static const int64_t reds[][4] = {{1, 1, 1, 257}, {1, 1, 64, 1}, {1, 1, 1, 1},   {3, 1, 1, 1},
                                      {1, 1, 1, 4099}, {1, 16, 1, 1}, {8, 1, 1, 1}, {1, 16, 32, 33},
                                      {8, 16, 1, 1}, {1, 1, 32, 33}};
    for (size_t s = 0; s < sizeof bigs / sizeof bigs[0]; s++)
        for (size_t r = 0; r < sizeof reds / sizeof reds[0]; r++) {
            int ok = 1;
            for (int k = 0; k < 4; k++) ok &= reds[r][k] == 1 || reds[r][k] == bigs[s][k];
            if (!ok) continue;
            op_case *c = new_case(L, code, 1);
            if (code == ALAEI_OP_REDUCE_SUM) {
                cpy4(c->op.src[0].ne, bigs[s]);
                cpy4(c->op.dst.ne, reds[r]);
            } else {
                cpy4(c->op.src[0].ne, reds[r]);
                cpy4(c->op.dst.ne, bigs[s]);
                c->exact = 1;
            }
        }
}

static void cases_im2col(int32_t code, case_list *L) {
    static const int64_t imgs[][4] = {{2, 3, 7, 5}, {1, 2, 8, 8}, {1, 1, 4, 9}, {1, 4, 1, 6}, {2, 16, 32, 32}};
    static const int32_t kernels[][2] = {{1, 1}, {3, 3}, {4, 4}, {3, 1}, {1, 4}};
    for (size_t i = 0; i < sizeof imgs / sizeof imgs[0]; i++)
        for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
            for (int32_t stride = 1; stride <= 2; stride++)
                for (int32_t pad = 0; pad <= 2; pad++) {
                    const int64_t *im = imgs[i];
                    int32_t KH = kernels[k][0], KW = kernels[k][1];
                    if (im[2] + 2 * pad < KH || im[3] + 2 * pad < KW) continue;
                    int64_t OH = (im[2] + 2 * pad - KH) / stride + 1, OW = (im[3] + 2 * pad - KW) / stride + 1;
                    int64_t col[4] = {1, im[0], im[1] * KH * KW, OH * OW};
                    op_case *c = new_case(L, code, 1);
                    if (code == ALAEI_OP_IM2COL) {
                        cpy4(c->op.src[0].ne, im);
                        cpy4(c->op.dst.ne, col);
                        c->exact = 1;
                    } else {
                        cpy4(c->op.src[0].ne, col);
                        cpy4(c->op.dst.ne, im);
                    }
                    c->op.ip[0] = KH;
                    c->op.ip[1] = KW;
                    c->op.ip[2] = stride;
                    c->op.ip[3] = pad;
                }
}

/* One convolution op case: image [N, C, H, W], O output channels, kernel KH x KW, stride, pad. */
static void conv_case(case_list *L, int32_t code, const int64_t im[4], int64_t O, int32_t KH, int32_t KW,
                      int32_t stride, int32_t pad, double alpha) {
    if (im[2] + 2 * pad < KH || im[3] + 2 * pad < KW) return;
    int64_t OH = (im[2] + 2 * pad - KH) / stride + 1, OW = (im[3] + 2 * pad - KW) / stride + 1;
    int64_t x[4], w[4], g[4];
    cpy4(x, im);
    set4(w, O, im[1], KH, KW);
    set4(g, im[0], O, OH, OW);
    op_case *c = new_case(L, code, 2);
    switch (code) {
    case ALAEI_OP_CONV2D: cpy4(c->op.src[0].ne, x), cpy4(c->op.src[1].ne, w), cpy4(c->op.dst.ne, g); break;
    case ALAEI_OP_CONV2D_BWD_DATA: cpy4(c->op.src[0].ne, g), cpy4(c->op.src[1].ne, w), cpy4(c->op.dst.ne, x); break;
    default: cpy4(c->op.src[0].ne, g), cpy4(c->op.src[1].ne, x), cpy4(c->op.dst.ne, w); break;
    }
    c->op.ip[0] = KH;
    c->op.ip[1] = KW;
    c->op.ip[2] = stride;
    c->op.ip[3] = pad;
    c->op.fp[0] = alpha;
}

/* Kernels 1, 3, 4 (and non-square 3x1, 1x4), stride 1 and 2, pad 0..2, non-square images, batch
 * 1 and > 1, 1..17 channels on small images; then larger ones that exercise the CPU kernels'
 * chunking: groups of whole images with a partial last group, bands of output rows, the
 * no-column path of 1x1 convolutions. */
static void cases_conv(int32_t code, case_list *L) {
    static const int64_t imgs[][4] = {{1, 1, 5, 5}, {2, 3, 7, 5}, {3, 17, 6, 9}, {1, 4, 1, 6}, {4, 5, 8, 8}};
    static const int64_t outs[] = {1, 4, 17, 8, 3};
    static const int32_t kernels[][2] = {{1, 1}, {3, 3}, {4, 4}, {3, 1}, {1, 4}};
    static const double alphas[] = {1.0, 0.25, -1.7};
    int k_alpha = 0;
    for (size_t i = 0; i < sizeof imgs / sizeof imgs[0]; i++)
        for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
            for (int32_t stride = 1; stride <= 2; stride++)
                for (int32_t pad = 0; pad <= 2; pad++)
                    conv_case(L, code, imgs[i], outs[(i + k) % 5], kernels[k][0], kernels[k][1], stride, pad,
                              alphas[k_alpha++ % 3]);
    /* larger: {N, C, H, W}, O, K, stride, pad */
    static const int64_t big[][8] = {
        {2, 16, 32, 32, 16, 3, 1, 1}, /* StyleALAE's 3x3 "same" conv; all images in one group */
        {5, 64, 24, 24, 4, 3, 1, 1},  /* groups of 3 images: 3 + 2 */
        {5, 64, 24, 24, 6, 4, 2, 1},  /* the fused stride-2 4x4 down conv */
        {1, 64, 48, 40, 5, 3, 1, 1},  /* bands of output rows of one image (1 thread) */
        {1, 64, 96, 80, 3, 3, 1, 1},  /* bands with any thread count */
        {2, 16, 40, 36, 40, 3, 1, 1}, /* C < O: the backward-data col2im path at stride 1 */
        {1, 16, 120, 100, 24, 3, 1, 1}, /* C < O in bands (1 thread) */
        {2, 64, 45, 46, 3, 3, 2, 2},  /* bands, stride 2 */
        {3, 17, 20, 12, 9, 1, 1, 0},  /* 1x1, stride 1: no columns */
        {2, 9, 13, 11, 7, 1, 2, 0},   /* 1x1 stride 2: columns */
        {7, 32, 4, 4, 33, 3, 1, 1},   /* the 4x4 level: tiny images */
        /* Winograd F(4x4, 3x3) (the default picks it at C, O >= 16): tiles that do not divide
         * the map, every padding, several chunks of tiles (1 thread), a partial last chunk */
        {3, 64, 44, 37, 64, 3, 1, 1}, /* 11 x 10 tiles per image, 330 tiles in 2 chunks */
        {2, 16, 13, 9, 24, 3, 1, 0},  /* pad 0: 11 x 7 output, partial tiles both ways */
        {2, 24, 6, 7, 16, 3, 1, 2},   /* pad 2: 8 x 9 output */
        {5, 17, 5, 5, 19, 3, 1, 1},   /* one partial tile per image, odd channels */
        {1, 32, 8, 8, 48, 3, 1, 1},   /* C < O */
    };
    for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
        conv_case(L, code, big[b], big[b][4], (int32_t)big[b][5], (int32_t)big[b][5], (int32_t)big[b][6],
                  (int32_t)big[b][7], b % 2 ? 0.5 : 1.0);
}

static void cases_resample(int32_t code, case_list *L) {
    static const int64_t up[][4] = {{2, 3, 4, 5}, {1, 1, 1, 1}, {1, 2, 3, 8}, {3, 1, 7, 2}, {2, 8, 16, 16}};
    static const int64_t down[][4] = {{2, 3, 8, 4}, {1, 1, 4, 4}, {1, 2, 16, 12}, {3, 1, 8, 8}, {2, 8, 64, 64}};
    static const int32_t factors[] = {1, 2, 4};
    for (size_t s = 0; s < sizeof up / sizeof up[0]; s++)
        for (size_t f = 0; f < 3; f++) {
            int32_t fac = factors[f];
            op_case *c = new_case(L, code, 1);
            c->op.ip[0] = fac;
            if (code == ALAEI_OP_UPSAMPLE2D) {
                const int64_t *a = up[s];
                cpy4(c->op.src[0].ne, a);
                set4(c->op.dst.ne, a[0], a[1], a[2] * fac, a[3] * fac);
                c->exact = 1;
            } else {
                const int64_t *a = down[s];
                cpy4(c->op.src[0].ne, a);
                set4(c->op.dst.ne, a[0], a[1], a[2] / fac, a[3] / fac);
            }
        }
}

static void cases_fir2d(case_list *L) {
    static const int64_t imgs[][4] = {{2, 3, 8, 8}, {1, 2, 7, 5}, {1, 1, 4, 4}, {1, 1, 1, 1}, {2, 8, 32, 33}};
    double k3[9], k4[16], k2[4] = {0.9, -0.4, 0.25, 0.05}, k1[1] = {0.7};
    static const double b3[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) k3[i * 3 + j] = b3[i] * b3[j] / 16.0;
    for (int i = 0; i < 16; i++) k4[i] = 0.05 * (i + 1) - 0.013 * (i * i % 7); /* asymmetric */
    const double *ks[4] = {k1, k2, k3, k4};
    for (size_t s = 0; s < sizeof imgs / sizeof imgs[0]; s++)
        for (int K = 1; K <= 4; K++)
            for (int pad = 0; pad <= 2; pad++) {
                const int64_t *a = imgs[s];
                int64_t OH = a[2] + 2 * pad - K + 1, OW = a[3] + 2 * pad - K + 1;
                if (OH < 1 || OW < 1) continue;
                op_case *c = new_case(L, ALAEI_OP_FIR2D, 1);
                cpy4(c->op.src[0].ne, a);
                set4(c->op.dst.ne, a[0], a[1], OH, OW);
                c->op.ip[0] = K;
                c->op.ip[1] = pad;
                memcpy(c->op.fp, ks[K - 1], (size_t)(K * K) * sizeof(double));
            }
}

static void cases_permute(case_list *L) {
    static const int64_t shapes[][4] = {{2, 3, 5, 7}, {1, 3, 1, 5}, {5, 1, 4, 3}, {4, 8, 16, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int p0 = 0; p0 < 4; p0++)
            for (int p1 = 0; p1 < 4; p1++)
                for (int p2 = 0; p2 < 4; p2++) {
                    if (p1 == p0 || p2 == p0 || p2 == p1) continue;
                    int p3 = 6 - p0 - p1 - p2;
                    op_case *c = new_case(L, ALAEI_OP_PERMUTE, 1);
                    int32_t p[4] = {p0, p1, p2, p3};
                    cpy4(c->op.src[0].ne, shapes[s]);
                    for (int k = 0; k < 4; k++) {
                        c->op.ip[k] = p[k];
                        c->op.dst.ne[k] = shapes[s][p[k]];
                    }
                    c->exact = 1;
                }
}

static void cases_slice(int32_t code, case_list *L) {
    static const int64_t shapes[][4] = {{4, 5, 6, 7}, {1, 1, 1, 9}};
    for (size_t s = 0; s < 2; s++)
        for (int axis = 0; axis < 4; axis++) {
            int64_t n = shapes[s][axis];
            int64_t starts[3] = {0, 1, n - 1};
            for (int si = 0; si < 3; si++) {
                int64_t start = starts[si];
                if (start >= n || (si > 0 && start == starts[si - 1])) continue;
                int64_t lens[3] = {1, n - start, (n - start) / 2};
                for (int li = 0; li < 3; li++) {
                    int64_t len = lens[li];
                    if (len < 1 || (li > 0 && (len == lens[0] || len == lens[li - 1]))) continue;
                    int64_t small[4];
                    cpy4(small, shapes[s]);
                    small[axis] = len;
                    op_case *c = new_case(L, code, 1);
                    if (code == ALAEI_OP_SLICE) {
                        cpy4(c->op.src[0].ne, shapes[s]);
                        cpy4(c->op.dst.ne, small);
                    } else {
                        cpy4(c->op.src[0].ne, small);
                        cpy4(c->op.dst.ne, shapes[s]);
                    }
                    c->op.ip[0] = axis;
                    c->op.ip[1] = (int32_t)start;
                    c->exact = 1;
                }
            }
        }
}

static void cases_adam(case_list *L) {
    static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 1, 33, 65}, {1, 1, 256, 257}};
    static const double hp[][4] = {{0.1, 0.9, 0.999, 1e-8}, {0.01, 0.5, 0.9, 1e-3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t h = 0; h < 2; h++) {
            op_case *c = new_case(L, ALAEI_OP_ADAM_STEP, 3);
            cpy4(c->op.dst.ne, shapes[s]);
            for (int k = 0; k < 3; k++) cpy4(c->op.src[k].ne, shapes[s]);
            memcpy(c->op.fp, hp[h], sizeof hp[h]);
            c->gen_dst = (gen_spec){G_UNI, -0.1, 0.1};   /* parameters */
            c->gen[0] = (gen_spec){G_UNI, -1.0, 1.0};    /* gradient */
            c->gen[1] = (gen_spec){G_UNI, -0.5, 0.5};    /* m */
            c->gen[2] = (gen_spec){G_UNI, 1e-4, 1.0};    /* v > 0 */
        }
}

/* ADD_LEAKY_RELU: a of d's shape, b broadcast in every combination; slopes 0.2, 0, 1 and -0.5 */
static void cases_add_leaky(case_list *L) {
    static const int64_t dshapes[][4] = {{2, 3, 5, 7}, {1, 1, 128, 129}, {4, 8, 16, 17}};
    static const double slopes[] = {0.2, 0.0, 1.0, -0.5};
    for (size_t s = 0; s < sizeof dshapes / sizeof dshapes[0]; s++)
        for (int mb = 0; mb < 16; mb++) {
            const int64_t *d = dshapes[s];
            int64_t bn[4];
            for (int k = 0; k < 4; k++) bn[k] = (mb >> k & 1) ? 1 : d[k];
            op_case *c = new_case(L, ALAEI_OP_ADD_LEAKY_RELU, 2);
            cpy4(c->op.dst.ne, d);
            cpy4(c->op.src[0].ne, d);
            cpy4(c->op.src[1].ne, bn);
            c->op.fp[0] = slopes[(s * 16 + (size_t)mb) % 4];
            c->gen[1] = UNI2;
            if (mb == 7 || mb == 14) c->inplace = 1; /* d = a (the planner runs it in place) */
        }
}

/* ADAM_EMA_STEP: p, g and s of n elements (any shape), the moments [m; v] as [1, 1, 2, n] */
static void cases_adam_ema(case_list *L) {
    static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 1, 33, 65}, {1, 1, 256, 257}};
    static const double hp[][5] = {{0.1, 0.9, 0.999, 1e-8, 0.25}, {0.01, 0.0, 0.99, 1e-3, 0.006}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t h = 0; h < 2; h++) {
            op_case *c = new_case(L, ALAEI_OP_ADAM_EMA_STEP, 3);
            int64_t n = alaei_numel4(shapes[s]);
            cpy4(c->op.dst.ne, shapes[s]);
            cpy4(c->op.src[0].ne, shapes[s]);
            set4(c->op.src[1].ne, 1, 1, 2, n);
            set4(c->op.src[2].ne, 1, 1, 1, n);
            memcpy(c->op.fp, hp[h], sizeof hp[h]);
            c->gen_dst = (gen_spec){G_UNI, -0.1, 0.1};   /* parameters */
            c->gen[0] = (gen_spec){G_UNI, -1.0, 1.0};    /* gradient */
            c->gen[1] = (gen_spec){G_UNI, 1e-4, 0.5};    /* m and v (v > 0) */
            c->gen[2] = (gen_spec){G_UNI, -0.1, 0.1};    /* smoothed copy */
        }
}

static void cases_fill_rng(int32_t code, case_list *L) {
    static const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 1, 1, 2}, {2, 3, 5, 7}, {1, 1, 1, 4097}, {2, 1, 256, 257}};
    if (code == ALAEI_OP_FILL) {
        static const double values[] = {1.5, -0.25, 0.1, 0.0};
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t v = 0; v < 4; v++) {
                op_case *c = new_case(L, code, 0);
                cpy4(c->op.dst.ne, shapes[s]);
                c->op.fp[0] = values[v];
                c->exact = 1;
            }
        return;
    }
    /* Means representable in float and power-of-two deviations, so that mean + std * n is
     * exactly the same float whether computed in float or in double. */
    static const uint64_t seeds[] = {0, 42, 0xDEADBEEFCAFEF00Dull};
    static const uint64_t offsets[] = {0, 1, 12345, (1ull << 32) + 3};
    static const double ms[][2] = {{0.0, 1.0}, {0.5, 2.0}, {-3.0, 0.5}};
    int mi = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t si = 0; si < 3; si++)
            for (size_t oi = 0; oi < 4; oi++) {
                op_case *c = new_case(L, code, 0);
                cpy4(c->op.dst.ne, shapes[s]);
                c->op.ip[0] = (int32_t)(uint32_t)seeds[si];
                c->op.ip[1] = (int32_t)(uint32_t)(seeds[si] >> 32);
                c->op.ip[2] = (int32_t)(uint32_t)offsets[oi];
                c->op.ip[3] = (int32_t)(uint32_t)(offsets[oi] >> 32);
                c->op.fp[0] = ms[mi % 3][0];
                c->op.fp[1] = ms[mi % 3][1];
                mi++;
                c->exact = 1;
            }
}

static void gen_cases_base(int32_t code, case_list *L);

/* Large launches: more than 65535 blocks of 256 threads (4099 * 4099 > 65535 * 256 elements),
 * REDUCE_SUM with more than 65535 outputs on its block-per-output path, and batched / batch-summed
 * GEMMs with more than 65535 matrices (a grid dimension over 65535 in a GPU backend). */
static void cases_large(int32_t code, case_list *L) {
    op_case *c;
    switch (code) {
    case ALAEI_OP_SCALE_SHIFT:
        for (int inplace = 0; inplace < 2; inplace++) {
            c = new_case(L, code, 1);
            set4(c->op.dst.ne, 1, 1, 4099, 4099);
            set4(c->op.src[0].ne, 1, 1, 4099, 4099);
            c->op.fp[0] = -0.75, c->op.fp[1] = 0.5;
            c->inplace = inplace;
        }
        break;
    case ALAEI_OP_ADD: /* b a row (run without index arithmetic) */
    case ALAEI_OP_MUL: /* a a column, b full (the general broadcast path) */
        c = new_case(L, code, 2);
        set4(c->op.dst.ne, 1, 1, 4099, 4099);
        if (code == ALAEI_OP_ADD)
            set4(c->op.src[0].ne, 1, 1, 4099, 4099), set4(c->op.src[1].ne, 1, 1, 1, 4099);
        else
            set4(c->op.src[0].ne, 1, 1, 4099, 1), set4(c->op.src[1].ne, 1, 1, 4099, 4099);
        break;
    case ALAEI_OP_REDUCE_SUM: {
        static const int64_t red[][2][4] = {{{1, 1, 70001, 65}, {1, 1, 70001, 1}},
                                            {{1, 1, 4099, 4099}, {1, 1, 1, 4099}},
                                            {{1, 1, 4099, 4099}, {1, 1, 1, 1}}};
        for (size_t i = 0; i < sizeof red / sizeof red[0]; i++) {
            c = new_case(L, code, 1);
            cpy4(c->op.src[0].ne, red[i][0]);
            cpy4(c->op.dst.ne, red[i][1]);
        }
        break;
    }
    case ALAEI_OP_BROADCAST:
        c = new_case(L, code, 1);
        set4(c->op.src[0].ne, 1, 1, 1, 4099);
        set4(c->op.dst.ne, 1, 1, 4099, 4099);
        c->exact = 1;
        break;
    case ALAEI_OP_GEMM: {
        /* {d0, d1, a0, a1, b0, b1, ta, tb}, M = 2, K = 3, N = 2 */
        static const int64_t g[][8] = {
            {1, 70001, 1, 70001, 1, 1, 0, 0}, /* one strided batch of 70001 */
            {2, 35001, 2, 35001, 1, 35001, 1, 1},
            {1, 1, 1, 70001, 1, 70001, 1, 0}, /* summed: stacked along K */
            {1, 1, 1, 70001, 1, 70001, 0, 0}, /* summed through a batch of products */
            {70001, 1, 70001, 1, 1, 1, 0, 1}, /* batches along dim 0, b broadcast */
            {1, 1, 70001, 1, 70001, 1, 1, 0}, /* summed along dim 0, stacked along K */
        };
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
            const int64_t *q = g[i], M = 2, K = 3, N = 2;
            c = new_case(L, code, 2);
            set4(c->op.dst.ne, q[0], q[1], M, N);
            if (q[6])
                set4(c->op.src[0].ne, q[2], q[3], K, M);
            else
                set4(c->op.src[0].ne, q[2], q[3], M, K);
            if (q[7])
                set4(c->op.src[1].ne, q[4], q[5], N, K);
            else
                set4(c->op.src[1].ne, q[4], q[5], K, N);
            c->op.ip[0] = (int32_t)q[6];
            c->op.ip[1] = (int32_t)q[7];
            c->op.fp[0] = 0.5;
        }
        break;
    }
    default: break;
    }
}

/* Copies of some of the cases with every view at an odd element offset inside a larger buffer
 * (as views into an arena or a parameter block are: no 16-byte alignment), guarded on both sides. */
static void add_offset_copies(case_list *L) {
    int n = L->n, step = n / 12 > 0 ? n / 12 : 1, made = 0;
    for (int i = 0; i < n; i += step) {
        op_case *c = new_case(L, L->v[i].op.code, L->v[i].op.nsrc);
        *c = L->v[i];
        c->offset = 1 + 2 * (made++ % 3);
    }
}

static void gen_cases(int32_t code, case_list *L) {
    gen_cases_base(code, L);
    cases_large(code, L);
    add_offset_copies(L);
}

static void gen_cases_base(int32_t code, case_list *L) {
    if (is_unary(code)) {
        cases_unary(code, L);
        return;
    }
    if (is_binary(code)) {
        cases_binary(code, L);
        return;
    }
    switch (code) {
    case ALAEI_OP_FILL:
    case ALAEI_OP_RNG_NORMAL: cases_fill_rng(code, L); break;
    case ALAEI_OP_GEMM: cases_gemm(L); break;
    case ALAEI_OP_REDUCE_SUM:
    case ALAEI_OP_BROADCAST: cases_reduce_broadcast(code, L); break;
    case ALAEI_OP_IM2COL:
    case ALAEI_OP_COL2IM: cases_im2col(code, L); break;
    case ALAEI_OP_UPSAMPLE2D:
    case ALAEI_OP_SUMPOOL2D: cases_resample(code, L); break;
    case ALAEI_OP_FIR2D: cases_fir2d(L); break;
    case ALAEI_OP_PERMUTE: cases_permute(L); break;
    case ALAEI_OP_SLICE:
    case ALAEI_OP_SLICE_ADJ: cases_slice(code, L); break;
    case ALAEI_OP_ADAM_STEP: cases_adam(L); break;
    case ALAEI_OP_ADAM_EMA_STEP: cases_adam_ema(L); break;
    case ALAEI_OP_ADD_LEAKY_RELU: cases_add_leaky(L); break;
    case ALAEI_OP_CONV2D:
    case ALAEI_OP_CONV2D_BWD_DATA:
    case ALAEI_OP_CONV2D_BWD_WEIGHT: cases_conv(code, L); break;
    default: break;
    }
}

/* "GEMM d=[2,3,5,7] a=[...] b=[...] ip={1,0} fp={0.5}" */
static void describe(const alaei_op *op, char *buf, size_t size) {
    static const char *const names[3] = {"a", "b", "src2"};
    size_t n = 0;
#define APPEND(...)                                                                   \
    do {                                                                              \
        if (n < size) n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__);          \
    } while (0)
    APPEND("%s d=[%lld,%lld,%lld,%lld]", alaei_op_name(op->code), (long long)op->dst.ne[0],
           (long long)op->dst.ne[1], (long long)op->dst.ne[2], (long long)op->dst.ne[3]);
    for (int k = 0; k < op->nsrc && k < ALAEI_OP_MAX_SRC; k++)
        APPEND(" %s=[%lld,%lld,%lld,%lld]", names[k], (long long)op->src[k].ne[0],
               (long long)op->src[k].ne[1], (long long)op->src[k].ne[2], (long long)op->src[k].ne[3]);
    int nip = 0, nfp = 0;
    switch (op->code) {
    case ALAEI_OP_FILL: nfp = 1; break;
    case ALAEI_OP_RNG_NORMAL: nip = 4, nfp = 2; break;
    case ALAEI_OP_GEMM: nip = 2, nfp = 1; break;
    case ALAEI_OP_LEAKY_RELU:
    case ALAEI_OP_LEAKY_MASK:
    case ALAEI_OP_ADD_LEAKY_RELU: nfp = 1; break;
    case ALAEI_OP_SCALE_SHIFT:
    case ALAEI_OP_CLAMP: nfp = 2; break;
    case ALAEI_OP_IM2COL:
    case ALAEI_OP_COL2IM:
    case ALAEI_OP_PERMUTE: nip = 4; break;
    case ALAEI_OP_UPSAMPLE2D:
    case ALAEI_OP_SUMPOOL2D: nip = 1; break;
    case ALAEI_OP_FIR2D:
    case ALAEI_OP_SLICE:
    case ALAEI_OP_SLICE_ADJ: nip = 2; break;
    case ALAEI_OP_ADAM_STEP: nfp = 4; break;
    case ALAEI_OP_ADAM_EMA_STEP: nfp = 5; break;
    case ALAEI_OP_CONV2D:
    case ALAEI_OP_CONV2D_BWD_DATA:
    case ALAEI_OP_CONV2D_BWD_WEIGHT: nip = 4, nfp = 1; break;
    default: break;
    }
    if (nip) {
        APPEND(" ip={");
        for (int k = 0; k < nip; k++) APPEND(k ? ",%d" : "%d", (int)op->ip[k]);
        APPEND("}");
    }
    if (nfp) {
        APPEND(" fp={");
        for (int k = 0; k < nfp; k++) APPEND(k ? ",%g" : "%g", op->fp[k]);
        APPEND("}");
    }
#undef APPEND
}

static void describe_case(const op_case *c, char *buf, size_t size) {
    describe(&c->op, buf, size);
    size_t n = strlen(buf);
    if (c->inplace && n < size)
        snprintf(buf + n, size - n, "%s", c->inplace == 2 ? " in place (d = a = b)" : " in place (d = a)");
    n = strlen(buf);
    if (c->offset && n < size) snprintf(buf + n, size - n, " at element offset %d", c->offset);
}

/* ---------------------------------------------------------------------------------------------
 * Running a case on one backend
 * ------------------------------------------------------------------------------------------- */

static float gen_value(uint64_t *state, const gen_spec *g, size_t i) {
    if (g->kind == G_AWAY_ZEROS && i % 3 == 0) return 0.0f;
    for (;;) {
        float x = (float)alae_test_uniform(state, g->lo, g->hi);
        if (g->kind == G_UNI || fabsf(x) >= 1e-3f) return x;
    }
}

static float *gen_array(const gen_spec *g, size_t n, uint64_t seed) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
    for (size_t i = 0; i < n; i++) x[i] = gen_value(&state, g, i);
    return x;
}

static size_t numel_of(const alaei_tview *v) { return (size_t)alaei_numel4(v->ne); }

/* The result of one run: dst and, for ADAM_STEP, m and v; srcs_after: the sources read back. */
typedef struct run_result {
    alae_status status;
    char error[512];
    float *out[3];
    size_t nout[3];
    int n_out;
    float *srcs_after[ALAEI_OP_MAX_SRC];
    long guard_hit; /* >= 0: index (in dst's buffer) of a guard element the op overwrote */
} run_result;

static void free_result(run_result *r) {
    for (int k = 0; k < 3; k++) free(r->out[k]);
    for (int k = 0; k < ALAEI_OP_MAX_SRC; k++) free(r->srcs_after[k]);
    memset(r, 0, sizeof *r);
    r->guard_hit = -1;
}

#define GUARD_VALUE 12345.0f

#define TRY(expr)                                                                     \
    do {                                                                              \
        if (r->status == ALAE_OK && (r->status = (expr)) != ALAE_OK)                  \
            snprintf(r->error, sizeof r->error, "%s: %s", #expr, alae_last_error());   \
    } while (0)

/* Runs c on backend b with the given inputs (dst_init for ADAM_STEP, in[k] for src k). */
static void run_case(const backend_ut *b, const op_case *c, float *const dst_init,
                     float *const in[ALAEI_OP_MAX_SRC], run_result *r) {
    memset(r, 0, sizeof *r);
    r->guard_hit = -1;
    const alaei_backend_vtbl *vt = b->vt;
    void *bctx = b->ctx->bctx;
    alaei_op op = c->op;
    size_t off = c->offset > 0 ? (size_t)c->offset : 0;
    void *bufs[1 + ALAEI_OP_MAX_SRC] = {NULL}; /* owned buffers */
    alaei_tview *views[1 + ALAEI_OP_MAX_SRC] = {&op.dst, &op.src[0], &op.src[1], &op.src[2]};
    int nviews = 1 + op.nsrc;
    /* aliased views (in place) have no buffer of their own */
    int alias_of[1 + ALAEI_OP_MAX_SRC] = {-1, -1, -1, -1};
    if (c->inplace >= 1) alias_of[0] = 1;
    if (c->inplace == 2) alias_of[2] = 1;
    /* the CPU's BLAS thread count is process-global: set ours before every run */
    if (b->threads > 0) TRY(alae_context_set_param(b->ctx, ALAE_CTX_THREADS, b->threads));
    /* with an offset, each buffer holds off guards, the view, then off guards */
    size_t span[1 + ALAEI_OP_MAX_SRC] = {0};
    for (int k = 0; k < nviews; k++) {
        span[k] = numel_of(views[k]) + 2 * off;
        if (alias_of[k] < 0) TRY(vt->buf_alloc(bctx, span[k] * (size_t)vt->elem_size, &bufs[k]));
        if (alias_of[k] < 0 && off > 0) TRY(vt->fill(bctx, bufs[k], span[k], GUARD_VALUE));
    }
    for (int k = 0; k < nviews; k++) {
        void *base = alias_of[k] < 0 ? bufs[k] : bufs[alias_of[k]];
        views[k]->data = base ? (char *)base + off * (size_t)vt->elem_size : NULL;
    }
    for (int k = 0; k < op.nsrc; k++)
        if (alias_of[1 + k] < 0) TRY(vt->write_f32(bctx, views[1 + k]->data, in[k], numel_of(&op.src[k])));
    if (alias_of[0] >= 0)
        ; /* dst is a source */
    else if (dst_init)
        TRY(vt->write_f32(bctx, op.dst.data, dst_init, numel_of(&op.dst)));
    else
        TRY(vt->fill(bctx, op.dst.data, numel_of(&op.dst), NAN)); /* every element must be written */
    TRY(vt->run_op(bctx, &op));
    TRY(vt->synchronize(bctx));
    /* outputs: dst, plus m and v for ADAM_STEP */
    int outs[3] = {0, 2, 3};
    int adam = op.code == ALAEI_OP_ADAM_STEP || op.code == ALAEI_OP_ADAM_EMA_STEP; /* m, v (or s) written too */
    r->n_out = adam ? 3 : 1;
    for (int o = 0; o < r->n_out; o++) {
        size_t n = numel_of(views[outs[o]]);
        r->out[o] = calloc(n ? n : 1, sizeof(float));
        r->nout[o] = n;
        TRY(vt->read_f32(bctx, r->out[o], views[outs[o]]->data, n));
    }
    /* sources must be left alone (unless they are the destination) */
    if (!adam && !c->inplace)
        for (int k = 0; k < op.nsrc; k++) {
            size_t n = numel_of(&op.src[k]);
            r->srcs_after[k] = calloc(n ? n : 1, sizeof(float));
            TRY(vt->read_f32(bctx, r->srcs_after[k], op.src[k].data, n));
        }
    /* nothing may be written outside dst (nor, for ADAM_STEP, outside m and v) */
    for (int o = 0; off > 0 && r->status == ALAE_OK && o < r->n_out && r->guard_hit < 0; o++) {
        int k = outs[o];
        if (!bufs[k]) continue;
        float *all = calloc(span[k], sizeof(float));
        TRY(vt->read_f32(bctx, all, bufs[k], span[k]));
        for (size_t i = 0; r->status == ALAE_OK && i < span[k]; i++)
            if ((i < off || i >= span[k] - off) && !(all[i] == GUARD_VALUE)) {
                r->guard_hit = (long)i;
                break;
            }
        free(all);
    }
    for (int k = 0; k < nviews; k++)
        if (bufs[k]) vt->buf_free(bctx, bufs[k]);
}

/* NMSE of x against the reference y (inf when something is not finite). */
static double nmse(const float *x, const float *y, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) return INFINITY;
        double e = (double)x[i] - (double)y[i];
        num += e * e;
        den += (double)y[i] * (double)y[i];
    }
    if (num == 0.0) return 0.0;
    return den > 0.0 ? num / den : INFINITY;
}

/* first index where x and y differ as values (NaN never equal), or -1 */
static long first_mismatch(const float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(x[i] == y[i])) return (long)i;
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * The per-op test
 * ------------------------------------------------------------------------------------------- */

static int is_cpu_backend(const backend_ut *b) { return b->vt == alaei_cpu_backend(); }

START_TEST(test_op) {
    int32_t code = (int32_t)_i;
    const char *opname = alaei_op_name(code);
    case_list L = {0};
    gen_cases(code, &L);
    ck_assert_msg(L.n > 0, "no cases for op %s", opname);
    int nfail = 0, nrun = 0, nskip = 0;
    double worst_nmse = 0.0, worst_winograd = 0.0; /* the latter: backends with Winograd forced */
    char first[1024] = "";
    char desc[400];
    for (int ci = 0; ci < L.n; ci++) {
        const op_case *c = &L.v[ci];
        describe_case(c, desc, sizeof desc);
        float *in[ALAEI_OP_MAX_SRC] = {NULL, NULL, NULL};
        float *dst_init = NULL;
        uint64_t seed = (uint64_t)code * 1000003u + (uint64_t)ci;
        for (int k = 0; k < c->op.nsrc; k++) in[k] = gen_array(&c->gen[k], numel_of(&c->op.src[k]), seed * 4 + (uint64_t)k);
        if (c->gen_dst.kind != G_NONE) dst_init = gen_array(&c->gen_dst, numel_of(&c->op.dst), seed * 4 + 3);

        run_result ref;
        run_case(&g_ref, c, dst_init, in, &ref);
        if (ref.status != ALAE_OK) {
            nfail++;
            char msg[1024];
            snprintf(msg, sizeof msg, "%s on reference: status %d: %s", desc, (int)ref.status, ref.error);
            fprintf(stderr, "FAIL %s\n", msg);
            if (!first[0]) snprintf(first, sizeof first, "%s", msg);
        }
        for (int bi = 0; bi < g_nbk && ref.status == ALAE_OK; bi++) {
            const backend_ut *b = &g_bk[bi];
            if (b->winograd == 2 && !alaei_op_is_conv(code)) continue; /* same kernels as the others */
            char msg[1024] = "";
            alaei_op probe = c->op;
            if (!b->vt->supports(b->ctx->bctx, &probe)) {
                if (is_cpu_backend(b)) {
                    snprintf(msg, sizeof msg, "%s on %s: not supported", desc, b->label);
                } else {
                    nskip++;
                    continue;
                }
            }
            run_result got;
            memset(&got, 0, sizeof got);
            got.guard_hit = -1;
            if (!msg[0]) {
                nrun++;
                run_case(b, c, dst_init, in, &got);
                if (got.status != ALAE_OK)
                    snprintf(msg, sizeof msg, "%s on %s: status %d (%s): %s", desc, b->label,
                             (int)got.status, alae_status_string(got.status), got.error);
            }
            static const char *const outname[3] = {"d", "m", "v"};
            for (int o = 0; !msg[0] && o < ref.n_out; o++) {
                size_t n = ref.nout[o];
                if (c->exact) {
                    long i = first_mismatch(got.out[o], ref.out[o], n);
                    if (i >= 0)
                        snprintf(msg, sizeof msg, "%s on %s: %s[%ld] = %.9g, reference %.9g (exact compare)",
                                 desc, b->label, outname[o], i, (double)got.out[o][i], (double)ref.out[o][i]);
                } else {
                    double e = nmse(got.out[o], ref.out[o], n);
                    if (e > worst_nmse || isnan(e)) worst_nmse = e;
                    if (b->winograd == 2 && (e > worst_winograd || isnan(e))) worst_winograd = e;
                    double bound = b->winograd == 2 && alaei_op_is_conv(code) ? WINOGRAD_NMSE_MAX : NMSE_MAX;
                    if (!(e <= bound)) {
                        long i = 0;
                        double worst = -1.0;
                        for (size_t j = 0; j < n; j++) {
                            double dj = fabs((double)got.out[o][j] - (double)ref.out[o][j]);
                            if (!(dj <= worst)) worst = dj, i = (long)j;
                            if (isnan(dj)) break;
                        }
                        snprintf(msg, sizeof msg,
                                 "%s on %s: %s NMSE = %.3g > %g (worst [%ld]: %.9g vs reference %.9g)", desc,
                                 b->label, outname[o], e, bound, i, (double)got.out[o][i], (double)ref.out[o][i]);
                    }
                }
            }
            if (!msg[0] && got.guard_hit >= 0)
                snprintf(msg, sizeof msg, "%s on %s: the op wrote outside its output (guard element %ld of %d)",
                         desc, b->label, got.guard_hit, c->offset);
            for (int k = 0; !msg[0] && k < c->op.nsrc && got.srcs_after[k]; k++) {
                long i = first_mismatch(got.srcs_after[k], in[k], numel_of(&c->op.src[k]));
                if (i >= 0)
                    snprintf(msg, sizeof msg, "%s on %s: the op modified its source %d at [%ld]", desc,
                             b->label, k, i);
            }
            if (msg[0]) {
                nfail++;
                fprintf(stderr, "FAIL %s\n", msg);
                if (!first[0]) snprintf(first, sizeof first, "%s", msg);
            }
            free_result(&got);
        }
        free_result(&ref);
        for (int k = 0; k < ALAEI_OP_MAX_SRC; k++) free(in[k]);
        free(dst_init);
    }
    if (L.v[0].exact)
        printf("%-12s %4d cases, %4d runs, %d skipped (unsupported), %d failed, exact\n", opname, L.n, nrun,
               nskip, nfail);
    else if (alaei_op_is_conv(code))
        printf("%-12s %4d cases, %4d runs, %d skipped (unsupported), %d failed, worst NMSE %.2g (Winograd "
               "forced: %.2g)\n",
               opname, L.n, nrun, nskip, nfail, worst_nmse, worst_winograd);
    else
        printf("%-12s %4d cases, %4d runs, %d skipped (unsupported), %d failed, worst NMSE %.2g\n", opname, L.n,
               nrun, nskip, nfail, worst_nmse);
    fflush(stdout);
    int ncases = L.n;
    free(L.v);
    ck_assert_msg(nfail == 0, "%s: %d of %d cases failed; first: %s", opname, nfail, ncases, first);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Malformed ops must fail cleanly (ALAE_E_SHAPE or ALAE_E_INVALID_ARG), never write out of bounds
 * ------------------------------------------------------------------------------------------- */

static void bad_cases(case_list *L) {
    op_case *c;
    c = new_case(L, ALAEI_OP_GEMM, 2); /* inner dims 4 vs 5 */
    set4(c->op.dst.ne, 1, 1, 3, 6), set4(c->op.src[0].ne, 1, 1, 3, 4), set4(c->op.src[1].ne, 1, 1, 5, 6);
    c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_GEMM, 2); /* inner dims mismatch after transposing b */
    set4(c->op.dst.ne, 1, 1, 3, 6), set4(c->op.src[0].ne, 1, 1, 3, 4), set4(c->op.src[1].ne, 1, 1, 4, 6);
    c->op.ip[1] = 1, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_GEMM, 2); /* d has the wrong M */
    set4(c->op.dst.ne, 1, 1, 2, 6), set4(c->op.src[0].ne, 1, 1, 3, 4), set4(c->op.src[1].ne, 1, 1, 4, 6);
    c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_GEMM, 2); /* b's batch dim is neither d's nor 1 */
    set4(c->op.dst.ne, 2, 1, 3, 6), set4(c->op.src[0].ne, 2, 1, 3, 4), set4(c->op.src[1].ne, 3, 1, 4, 6);
    c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_ADD, 2); /* b does not broadcast */
    set4(c->op.dst.ne, 1, 1, 3, 4), set4(c->op.src[0].ne, 1, 1, 3, 4), set4(c->op.src[1].ne, 1, 1, 3, 5);
    c = new_case(L, ALAEI_OP_MUL, 2); /* a larger than d */
    set4(c->op.dst.ne, 1, 1, 3, 4), set4(c->op.src[0].ne, 2, 1, 3, 4), set4(c->op.src[1].ne, 1, 1, 3, 4);
    c = new_case(L, ALAEI_OP_DIV, 2); /* a broadcast (1) but b is neither */
    set4(c->op.dst.ne, 1, 4, 3, 1), set4(c->op.src[0].ne, 1, 1, 3, 1), set4(c->op.src[1].ne, 1, 2, 3, 1);
    c = new_case(L, ALAEI_OP_NEG, 1); /* unary with a different shape */
    set4(c->op.dst.ne, 1, 1, 4, 3), set4(c->op.src[0].ne, 1, 1, 3, 4);
    c = new_case(L, ALAEI_OP_EXP, 1); /* unary: a larger than d */
    set4(c->op.dst.ne, 1, 1, 1, 3), set4(c->op.src[0].ne, 1, 1, 1, 4);
    c = new_case(L, ALAEI_OP_REDUCE_SUM, 1); /* d dim neither a's nor 1 */
    set4(c->op.dst.ne, 1, 1, 2, 1), set4(c->op.src[0].ne, 1, 1, 3, 4);
    c = new_case(L, ALAEI_OP_BROADCAST, 1); /* a dim neither d's nor 1 */
    set4(c->op.dst.ne, 1, 1, 6, 4), set4(c->op.src[0].ne, 1, 1, 3, 4);
    c = new_case(L, ALAEI_OP_IM2COL, 1); /* wrong column count */
    set4(c->op.dst.ne, 1, 1, 9, 10), set4(c->op.src[0].ne, 1, 1, 4, 4);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = 0;
    c = new_case(L, ALAEI_OP_COL2IM, 1); /* columns do not match the image */
    set4(c->op.dst.ne, 1, 1, 4, 4), set4(c->op.src[0].ne, 1, 1, 9, 5);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = 0;
    c = new_case(L, ALAEI_OP_UPSAMPLE2D, 1);
    set4(c->op.dst.ne, 1, 1, 4, 6), set4(c->op.src[0].ne, 1, 1, 2, 2);
    c->op.ip[0] = 2;
    c = new_case(L, ALAEI_OP_SUMPOOL2D, 1);
    set4(c->op.dst.ne, 1, 1, 3, 2), set4(c->op.src[0].ne, 1, 1, 4, 4);
    c->op.ip[0] = 2;
    c = new_case(L, ALAEI_OP_FIR2D, 1); /* d too large */
    set4(c->op.dst.ne, 1, 1, 8, 8), set4(c->op.src[0].ne, 1, 1, 6, 6);
    c->op.ip[0] = 3, c->op.ip[1] = 0;
    c = new_case(L, ALAEI_OP_PERMUTE, 1); /* not a permutation */
    set4(c->op.dst.ne, 2, 2, 3, 4), set4(c->op.src[0].ne, 2, 3, 4, 5);
    c->op.ip[0] = 0, c->op.ip[1] = 0, c->op.ip[2] = 1, c->op.ip[3] = 2;
    c = new_case(L, ALAEI_OP_PERMUTE, 1); /* d's dims do not match the permutation */
    set4(c->op.dst.ne, 2, 3, 4, 5), set4(c->op.src[0].ne, 2, 3, 4, 5);
    c->op.ip[0] = 3, c->op.ip[1] = 2, c->op.ip[2] = 1, c->op.ip[3] = 0;
    c = new_case(L, ALAEI_OP_SLICE, 1); /* start + length past the end */
    set4(c->op.dst.ne, 1, 1, 3, 4), set4(c->op.src[0].ne, 1, 1, 5, 4);
    c->op.ip[0] = 2, c->op.ip[1] = 3;
    c = new_case(L, ALAEI_OP_SLICE, 1); /* other dims differ */
    set4(c->op.dst.ne, 1, 1, 2, 5), set4(c->op.src[0].ne, 1, 1, 5, 4);
    c->op.ip[0] = 2, c->op.ip[1] = 0;
    c = new_case(L, ALAEI_OP_SLICE_ADJ, 1); /* slice past the end of d */
    set4(c->op.dst.ne, 1, 6, 1, 1), set4(c->op.src[0].ne, 1, 4, 1, 1);
    c->op.ip[0] = 1, c->op.ip[1] = 3;
    c = new_case(L, ALAEI_OP_ADAM_STEP, 3); /* v smaller than p */
    set4(c->op.dst.ne, 1, 1, 1, 8), set4(c->op.src[0].ne, 1, 1, 1, 8), set4(c->op.src[1].ne, 1, 1, 1, 8),
        set4(c->op.src[2].ne, 1, 1, 1, 4);
    c->op.fp[0] = 0.1, c->op.fp[1] = 0.9, c->op.fp[2] = 0.999, c->op.fp[3] = 1e-8;
    c->gen_dst = UNI2;
    c->gen[2] = (gen_spec){G_UNI, 0.1, 1.0};
    c = new_case(L, ALAEI_OP_ADD_LEAKY_RELU, 2); /* a broadcast (it must have d's shape) */
    set4(c->op.dst.ne, 1, 1, 4, 8), set4(c->op.src[0].ne, 1, 1, 1, 8), set4(c->op.src[1].ne, 1, 1, 4, 8);
    c->op.fp[0] = 0.2;
    c = new_case(L, ALAEI_OP_ADD_LEAKY_RELU, 2); /* b does not broadcast */
    set4(c->op.dst.ne, 1, 1, 4, 8), set4(c->op.src[0].ne, 1, 1, 4, 8), set4(c->op.src[1].ne, 1, 1, 1, 4);
    c->op.fp[0] = 0.2;
    c = new_case(L, ALAEI_OP_ADAM_EMA_STEP, 3); /* moments [m; v] not twice the parameters */
    set4(c->op.dst.ne, 1, 1, 1, 8), set4(c->op.src[0].ne, 1, 1, 1, 8), set4(c->op.src[1].ne, 1, 1, 1, 8),
        set4(c->op.src[2].ne, 1, 1, 1, 8);
    c->op.fp[0] = 0.1, c->op.fp[1] = 0.9, c->op.fp[2] = 0.999, c->op.fp[3] = 1e-8, c->op.fp[4] = 0.5;
    c->gen_dst = UNI2;
    c->gen[1] = (gen_spec){G_UNI, 0.1, 1.0};
    c = new_case(L, ALAEI_OP_ADAM_EMA_STEP, 3); /* smoothed copy smaller than p */
    set4(c->op.dst.ne, 1, 1, 1, 8), set4(c->op.src[0].ne, 1, 1, 1, 8), set4(c->op.src[1].ne, 1, 1, 2, 8),
        set4(c->op.src[2].ne, 1, 1, 1, 4);
    c->op.fp[0] = 0.1, c->op.fp[1] = 0.9, c->op.fp[2] = 0.999, c->op.fp[3] = 1e-8, c->op.fp[4] = 0.5;
    c->gen_dst = UNI2;
    c->gen[1] = (gen_spec){G_UNI, 0.1, 1.0};
    c = new_case(L, ALAEI_OP_CONV2D, 2); /* kernel channels differ from the image's */
    set4(c->op.dst.ne, 1, 2, 4, 4), set4(c->op.src[0].ne, 1, 3, 4, 4), set4(c->op.src[1].ne, 2, 2, 3, 3);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = 1, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D, 2); /* d has the wrong output size */
    set4(c->op.dst.ne, 1, 2, 5, 4), set4(c->op.src[0].ne, 1, 3, 4, 4), set4(c->op.src[1].ne, 2, 3, 3, 3);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = 1, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D, 2); /* ip's kernel size is not w's */
    set4(c->op.dst.ne, 1, 2, 2, 2), set4(c->op.src[0].ne, 1, 3, 4, 4), set4(c->op.src[1].ne, 2, 3, 3, 3);
    c->op.ip[0] = 2, c->op.ip[1] = 2, c->op.ip[2] = 2, c->op.ip[3] = 0, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D, 2); /* kernel larger than the padded image */
    set4(c->op.dst.ne, 1, 2, 1, 1), set4(c->op.src[0].ne, 1, 3, 2, 2), set4(c->op.src[1].ne, 2, 3, 4, 4);
    c->op.ip[0] = 4, c->op.ip[1] = 4, c->op.ip[2] = 1, c->op.ip[3] = 0, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D_BWD_DATA, 2); /* the gradient's size does not come from the image's */
    set4(c->op.dst.ne, 2, 3, 8, 8), set4(c->op.src[0].ne, 2, 4, 3, 4), set4(c->op.src[1].ne, 4, 3, 3, 3);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 2, c->op.ip[3] = 1, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D_BWD_DATA, 2); /* batch of d differs */
    set4(c->op.dst.ne, 1, 3, 8, 8), set4(c->op.src[0].ne, 2, 4, 8, 8), set4(c->op.src[1].ne, 4, 3, 3, 3);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = 1, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D_BWD_WEIGHT, 2); /* dw's kernel differs from ip's */
    set4(c->op.dst.ne, 4, 3, 3, 3), set4(c->op.src[0].ne, 2, 4, 8, 8), set4(c->op.src[1].ne, 2, 3, 8, 8);
    c->op.ip[0] = 1, c->op.ip[1] = 1, c->op.ip[2] = 1, c->op.ip[3] = 0, c->op.fp[0] = 1.0;
    c = new_case(L, ALAEI_OP_CONV2D_BWD_WEIGHT, 2); /* negative pad */
    set4(c->op.dst.ne, 4, 3, 3, 3), set4(c->op.src[0].ne, 2, 4, 8, 8), set4(c->op.src[1].ne, 2, 3, 8, 8);
    c->op.ip[0] = 3, c->op.ip[1] = 3, c->op.ip[2] = 1, c->op.ip[3] = -1, c->op.fp[0] = 1.0;
}

START_TEST(test_bad_shapes) {
    case_list L = {0};
    bad_cases(&L);
    int nfail = 0;
    char first[1024] = "", desc[400];
    for (int bi = -1; bi < g_nbk; bi++) {
        const backend_ut *b = bi < 0 ? &g_ref : &g_bk[bi];
        for (int ci = 0; ci < L.n; ci++) {
            const op_case *c = &L.v[ci];
            describe(&c->op, desc, sizeof desc);
            float *in[ALAEI_OP_MAX_SRC] = {NULL, NULL, NULL};
            for (int k = 0; k < c->op.nsrc; k++) in[k] = gen_array(&c->gen[k], numel_of(&c->op.src[k]), (uint64_t)ci);
            float *dst_init = c->gen_dst.kind != G_NONE ? gen_array(&c->gen_dst, numel_of(&c->op.dst), 7) : NULL;
            run_result r;
            run_case(b, c, dst_init, in, &r);
            if (r.status != ALAE_E_SHAPE && r.status != ALAE_E_INVALID_ARG) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s on %s: status %d (%s), expected ALAE_E_SHAPE or ALAE_E_INVALID_ARG",
                         desc, b->label, (int)r.status, alae_status_string(r.status));
                fprintf(stderr, "FAIL %s\n", msg);
                if (!first[0]) snprintf(first, sizeof first, "%s", msg);
                nfail++;
            } else if (!strstr(r.error, "run_op")) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s on %s: failed before run_op: %s", desc, b->label, r.error);
                fprintf(stderr, "FAIL %s\n", msg);
                if (!first[0]) snprintf(first, sizeof first, "%s", msg);
                nfail++;
            }
            free_result(&r);
            for (int k = 0; k < ALAEI_OP_MAX_SRC; k++) free(in[k]);
            free(dst_init);
        }
    }
    int ncases = L.n;
    free(L.v);
    ck_assert_msg(nfail == 0, "%d of %d malformed ops were not rejected cleanly; first: %s", nfail,
                  ncases * (g_nbk + 1), first);
}
END_TEST

/* Every backend runs the same alaei_op_validate before its kernels: a malformed descriptor gets
 * the same status and the same message (after the "<function>: " prefix) everywhere. */
typedef struct malformed_op {
    const char *what;
    alaei_op op;
    alae_status status;
    const char *message;
} malformed_op;

static int malformed_ops(malformed_op *m) {
    static float cell[4];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        memset(&m[i], 0, sizeof m[i]);
        set4(m[i].op.dst.ne, 1, 1, 1, 4);
        m[i].op.dst.data = cell;
        for (int k = 0; k < ALAEI_OP_MAX_SRC; k++) set4(m[i].op.src[k].ne, 1, 1, 1, 4), m[i].op.src[k].data = cell;
    }
    m[n] = (malformed_op){"an extra source", m[n].op, ALAE_E_INVALID_ARG, "ADD: 3 sources, expected 2"};
    m[n].op.code = ALAEI_OP_ADD, m[n++].op.nsrc = 3;
    m[n] = (malformed_op){"a missing source", m[n].op, ALAE_E_INVALID_ARG, "GEMM: 1 sources, expected 2"};
    m[n].op.code = ALAEI_OP_GEMM, m[n++].op.nsrc = 1;
    m[n] = (malformed_op){"a negative dim", m[n].op, ALAE_E_SHAPE, "NEG: d has a negative dim [1, 1, -1, 4]"};
    m[n].op.code = ALAEI_OP_NEG, m[n].op.nsrc = 1, m[n++].op.dst.ne[2] = -1;
    m[n] = (malformed_op){"2^52 elements", m[n].op, ALAE_E_SHAPE,
                          "EXP: a [8192, 8192, 8192, 8192] has more than 2^50 elements"};
    m[n].op.code = ALAEI_OP_EXP, m[n].op.nsrc = 1, set4(m[n++].op.src[0].ne, 8192, 8192, 8192, 8192);
    m[n] = (malformed_op){"no data", m[n].op, ALAE_E_INVALID_ARG, "SQRT: a has no data"};
    m[n].op.code = ALAEI_OP_SQRT, m[n].op.nsrc = 1, m[n++].op.src[0].data = NULL;
    m[n] = (malformed_op){"a graph-only op", m[n].op, ALAE_E_UNSUPPORTED, "op RESHAPE (code 1) is not a backend op"};
    m[n].op.code = ALAEI_OP_RESHAPE, m[n++].op.nsrc = 1;
    return n;
}

START_TEST(test_shared_validation) {
    malformed_op m[6];
    int n = malformed_ops(m);
    for (int bi = -1; bi < g_nbk; bi++) {
        const backend_ut *b = bi < 0 ? &g_ref : &g_bk[bi];
        for (int i = 0; i < n; i++) {
            alaei_clear_error();
            alae_status s = b->vt->run_op(b->ctx->bctx, &m[i].op);
            const char *err = alae_last_error();
            const char *text = strstr(err, ": ");
            ck_assert_msg(s == m[i].status && text && strcmp(text + 2, m[i].message) == 0,
                          "%s on %s: status %d, message '%s'; expected %d, '...: %s'", m[i].what, b->label, (int)s,
                          err, (int)m[i].status, m[i].message);
        }
    }
}
END_TEST

/* The reference backend itself: FILL / RNG are checked against direct formulas, so the oracle is
 * not just self-consistent. */
START_TEST(test_reference_sanity) {
    const alaei_backend_vtbl *vt = g_ref.vt;
    void *bctx = g_ref.ctx->bctx;
    ck_assert_int_eq(vt->elem_size, 8);
    ck_assert_str_eq(vt->name, "reference");
    ck_assert_int_eq(vt->device_count(), 1);
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ck_assert_alae_ok(vt->device_info(0, &info));
    ck_assert_int_eq(info.kind, ALAE_DEVICE_CPU);
    ck_assert_str_eq(info.name, "reference");
    for (int32_t code = 0; code < ALAEI_OP_COUNT; code++) {
        alaei_op op;
        memset(&op, 0, sizeof op);
        op.code = code;
        int want = !alaei_op_is_graph_only(code);
        ck_assert_int_eq(!!vt->supports(bctx, &op), want);
    }
    /* RNG_NORMAL against alaei_philox_normal directly, and GEMM against a hand-computed product */
    double *d = NULL;
    ck_assert_alae_ok(vt->buf_alloc(bctx, 5 * sizeof(double), (void **)&d));
    alaei_op op;
    memset(&op, 0, sizeof op);
    op.code = ALAEI_OP_RNG_NORMAL;
    set4(op.dst.ne, 1, 1, 1, 5);
    op.dst.data = d;
    op.ip[0] = 7, op.ip[2] = 3, op.ip[3] = 1;
    op.fp[0] = 0.25, op.fp[1] = 3.0;
    ck_assert_alae_ok(vt->run_op(bctx, &op));
    for (int i = 0; i < 5; i++)
        ck_assert(d[i] == 0.25 + 3.0 * (double)alaei_philox_normal(7, (1ull << 32) + 3 + (uint64_t)i));
    vt->buf_free(bctx, d);

    double A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, -1, 2, 0, 0.5, 3}, C[4] = {0, 0, 0, 0};
    memset(&op, 0, sizeof op);
    op.code = ALAEI_OP_GEMM;
    op.nsrc = 2;
    set4(op.src[0].ne, 1, 1, 2, 3); /* [[1,2,3],[4,5,6]] */
    set4(op.src[1].ne, 1, 1, 3, 2); /* [[1,-1],[2,0],[0.5,3]] */
    set4(op.dst.ne, 1, 1, 2, 2);
    op.src[0].data = A, op.src[1].data = B, op.dst.data = C;
    op.fp[0] = 2.0;
    ck_assert_alae_ok(vt->run_op(bctx, &op));
    ck_assert(C[0] == 2 * 6.5 && C[1] == 2 * 8.0 && C[2] == 2 * 17.0 && C[3] == 2 * 14.0);
    /* the same with both transposed: op(a) = a'^T where a' = a^T stored [3,2] */
    double At[6] = {1, 4, 2, 5, 3, 6}, Bt[6] = {1, 2, 0.5, -1, 0, 3};
    set4(op.src[0].ne, 1, 1, 3, 2);
    set4(op.src[1].ne, 1, 1, 2, 3);
    op.src[0].data = At, op.src[1].data = Bt;
    op.ip[0] = op.ip[1] = 1;
    ck_assert_alae_ok(vt->run_op(bctx, &op));
    ck_assert(C[0] == 2 * 6.5 && C[1] == 2 * 8.0 && C[2] == 2 * 17.0 && C[3] == 2 * 14.0);
}
END_TEST

/* The CPU backend's built-in SGEMM is only used when no BLAS library is found, so the GEMM op
 * above may never reach it: check it directly (packing-tile edges, leading dims, beta, threads)
 * against a double-precision loop. */
START_TEST(test_cpu_builtin_sgemm) {
    static const int64_t mkn[][3] = {{1, 1, 1},     {3, 5, 17},    {4, 16, 16},   {5, 257, 33},
                                     {129, 300, 17}, {17, 9, 1030}, {130, 300, 131}, {2, 0, 3}};
    cpu_ctx *threaded = NULL;
    for (int i = 0; i < g_nbk; i++)
        if (is_cpu_backend(&g_bk[i]) && g_bk[i].threads > 1) threaded = g_bk[i].ctx->bctx;
    int nfail = 0;
    char first[512] = "";
    for (size_t s = 0; s < sizeof mkn / sizeof mkn[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int variant = 0; variant < 3; variant++) {
                int64_t M = mkn[s][0], K = mkn[s][1], N = mkn[s][2];
                int ta = t & 1, tb = t >> 1 & 1;
                int64_t pad = variant == 1 ? 3 : 0; /* leading dims larger than the rows */
                int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                int64_t arows = ta ? K : M, brows = tb ? N : K;
                float alpha = variant == 2 ? -0.75f : 1.25f, beta = variant == 2 ? 0.5f : 0.0f;
                float *A = gen_array(&UNI2, (size_t)(arows * lda), (uint64_t)(s * 16 + (size_t)t));
                float *B = gen_array(&UNI2, (size_t)(brows * ldb), (uint64_t)(s * 16 + (size_t)t + 7));
                float *C = gen_array(&UNI2, (size_t)(M * ldc), 99);
                size_t nc = (size_t)(M * ldc);
                float *C0 = malloc((nc > 0 ? nc : 1) * sizeof(float));
                ck_assert_ptr_nonnull(C0);
                if (beta == 0.0f)
                    for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN; /* beta 0 never reads C */
                memcpy(C0, C, (size_t)(M * ldc) * sizeof(float));
                alae_status st = cpu_sgemm_builtin(variant == 0 ? NULL : threaded, ta, tb, M, N, K, alpha, A,
                                                   lda, B, ldb, beta, C, ldc);
                double num = 0.0, den = 0.0;
                int pad_ok = 1;
                for (int64_t i = 0; i < M; i++) {
                    for (int64_t j = 0; j < N; j++) {
                        double acc = 0.0;
                        for (int64_t k = 0; k < K; k++)
                            acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                                   (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
                        double want = (double)alpha * acc + (beta != 0.0f ? (double)beta * C0[i * ldc + j] : 0.0);
                        double e = (double)C[i * ldc + j] - want;
                        num += isfinite(e) ? e * e : INFINITY;
                        den += want * want;
                    }
                    for (int64_t j = N; j < ldc; j++)
                        if (memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float)) != 0) pad_ok = 0;
                }
                double e = num == 0.0 ? 0.0 : den > 0.0 ? num / den : INFINITY;
                if (st != ALAE_OK || !(e <= NMSE_MAX) || !pad_ok) {
                    char msg[512];
                    snprintf(msg, sizeof msg,
                             "cpu_sgemm_builtin M=%lld K=%lld N=%lld ta=%d tb=%d lda=%lld ldb=%lld ldc=%lld "
                             "alpha=%g beta=%g %s: status %d, NMSE %.3g%s",
                             (long long)M, (long long)K, (long long)N, ta, tb, (long long)lda, (long long)ldb,
                             (long long)ldc, (double)alpha, (double)beta, variant == 0 ? "(no ctx)" : "(threaded ctx)",
                             (int)st, e, pad_ok ? "" : ", wrote past N in a row");
                    fprintf(stderr, "FAIL %s\n", msg);
                    if (!first[0]) snprintf(first, sizeof first, "%s", msg);
                    nfail++;
                }
                free(A);
                free(B);
                free(C);
                free(C0);
            }
    ck_assert_msg(nfail == 0, "%d built-in SGEMM cases failed; first: %s", nfail, first);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Fused convolutions at the graph level: fused equals decomposition, the planner's fallback on a
 * backend without them, and repeatability
 * ------------------------------------------------------------------------------------------- */

/* The reference backend minus the fused convolution ops: supports() says no and run_op refuses
 * them, so a plan only runs if the planner replaced them by their decomposition. */
static alaei_backend_vtbl g_noconv_vt;

static int noconv_supports(void *bctx, const alaei_op *op) {
    return op && !alaei_op_is_conv(op->code) && alaei_reference_backend()->supports(bctx, op);
}

static alae_status noconv_run_op(void *bctx, const alaei_op *op) {
    if (op && alaei_op_is_conv(op->code))
        return alaei_fail(ALAE_E_UNSUPPORTED, "noconv_run_op", "%s reached a backend that lacks it",
                          alaei_op_name(op->code));
    return alaei_reference_backend()->run_op(bctx, op);
}

static const alaei_backend_vtbl *noconv_backend(void) {
    g_noconv_vt = *alaei_reference_backend();
    g_noconv_vt.name = "reference-noconv";
    g_noconv_vt.supports = noconv_supports;
    g_noconv_vt.run_op = noconv_run_op;
    return &g_noconv_vt;
}

/* A float backend that refuses ADAM_EMA_STEP in supports(): alaei_device_adam_ema_step's fallback. */
static alaei_backend_vtbl g_noema_vt;

static int noema_supports(void *bctx, const alaei_op *op) {
    return op->code != ALAEI_OP_ADAM_EMA_STEP && alaei_cpu_backend()->supports(bctx, op);
}

/* ADAM_EMA_STEP gives the bits of ADAM_STEP, SUB, SCALE_SHIFT(rate, 0) and ADD run one after the
 * other on every float backend (what the trainer ran before the fusion, and what the core runs on
 * a backend without the op: checked here too); the parameters' and moments' bits are ADAM_STEP's. */
START_TEST(test_adam_ema_equals_separate_ops) {
    g_noema_vt = *alaei_cpu_backend();
    g_noema_vt.name = "cpu-noema";
    g_noema_vt.supports = noema_supports;
    alae_context *noema = NULL;
    ck_assert_alae_ok(alaei_context_create_on(&g_noema_vt, 0, &noema));
    static const int64_t sizes[] = {1, 7, 4097, 300000};
    static const double hp[][5] = {{0.0005, 0.0, 0.99, 1e-8, 0.0088}, {0.1, 0.9, 0.999, 1e-3, 0.5}};
    int nchecked = 0;
    for (int bi = 0; bi <= g_nbk; bi++) {
        alae_context *ctx = bi < g_nbk ? g_bk[bi].ctx : noema;
        const char *label = bi < g_nbk ? g_bk[bi].label : "cpu without ADAM_EMA_STEP";
        if (ctx->backend->elem_size != 4) continue;
        int exact = bi == g_nbk || is_cpu_backend(&g_bk[bi]); /* CUDA's ADAM_STEP contracts to FMAs */
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (size_t h = 0; h < 2; h++) {
                int64_t n = sizes[si];
                size_t un = (size_t)n;
                float *host[5], *got[2][4];
                static const gen_spec gens[5] = {{G_UNI, -0.1, 0.1}, {G_UNI, -1, 1}, {G_UNI, -0.5, 0.5},
                                                 {G_UNI, 1e-4, 1}, {G_UNI, -0.1, 0.1}}; /* p g m v s */
                for (int k = 0; k < 5; k++) host[k] = gen_array(&gens[k], un, 77 * si + 5 * h + (uint64_t)k);
                for (int way = 0; way < 2; way++) { /* 0: fused, 1: the separate ops */
                    void *p, *g, *mv, *s, *scratch;
                    ck_assert_alae_ok(alaei_device_alloc(ctx, un, &p));
                    ck_assert_alae_ok(alaei_device_alloc(ctx, un, &g));
                    ck_assert_alae_ok(alaei_device_alloc(ctx, 2 * un, &mv));
                    ck_assert_alae_ok(alaei_device_alloc(ctx, un, &s));
                    ck_assert_alae_ok(alaei_device_alloc(ctx, un, &scratch));
                    void *v = (char *)mv + un * sizeof(float);
                    ck_assert_alae_ok(alaei_device_upload(ctx, p, host[0], un));
                    ck_assert_alae_ok(alaei_device_upload(ctx, g, host[1], un));
                    ck_assert_alae_ok(alaei_device_upload(ctx, mv, host[2], un));
                    ck_assert_alae_ok(alaei_device_upload(ctx, v, host[3], un));
                    ck_assert_alae_ok(alaei_device_upload(ctx, s, host[4], un));
                    const double *f = hp[h];
                    if (way == 0) {
                        ck_assert_alae_ok(alaei_device_adam_ema_step(ctx, p, g, mv, s, scratch, n, f[0], f[1], f[2],
                                                                     f[3], f[4]));
                    } else {
                        ck_assert_alae_ok(alaei_device_adam_step(ctx, p, g, mv, v, n, f[0], f[1], f[2], f[3]));
                        ck_assert_alae_ok(alaei_device_binary(ctx, ALAEI_OP_SUB, scratch, p, s, n));
                        ck_assert_alae_ok(alaei_device_scale_shift(ctx, scratch, scratch, n, f[4], 0.0));
                        ck_assert_alae_ok(alaei_device_binary(ctx, ALAEI_OP_ADD, s, s, scratch, n));
                    }
                    void *bufs[4] = {p, mv, v, s};
                    for (int k = 0; k < 4; k++) {
                        got[way][k] = malloc(un * sizeof(float));
                        ck_assert_alae_ok(alaei_device_download(ctx, got[way][k], bufs[k], un));
                    }
                    alaei_device_free(ctx, p), alaei_device_free(ctx, g), alaei_device_free(ctx, mv);
                    alaei_device_free(ctx, s), alaei_device_free(ctx, scratch);
                }
                /* the op did something: the smoothed copy moved towards the new parameters */
                ck_assert_msg(first_mismatch(got[0][3], host[4], un) >= 0, "%s: the smoothed copy did not change",
                              label);
                static const char *const names[4] = {"p", "m", "v", "s"};
                for (int k = 0; k < 4; k++) {
                    if (exact)
                        ck_assert_msg(memcmp(got[0][k], got[1][k], un * sizeof(float)) == 0,
                                      "%s, n %lld, hp %zu: ADAM_EMA_STEP's %s differs from the separate ops' at %ld",
                                      label, (long long)n, h, names[k], first_mismatch(got[0][k], got[1][k], un));
                    else
                        ck_assert_msg(nmse(got[0][k], got[1][k], un) <= NMSE_MAX, "%s, n %lld: %s: NMSE %g", label,
                                      (long long)n, names[k], nmse(got[0][k], got[1][k], un));
                    free(got[0][k]), free(got[1][k]);
                }
                for (int k = 0; k < 5; k++) free(host[k]);
                nchecked++;
            }
    }
    alae_context_destroy(noema);
    ck_assert_int_ge(nchecked, 16);
}
END_TEST

typedef struct conv_graph {
    alaei_graph *g;
    int32_t a, b, fused, decomposed;
    float *in[2];
    size_t n_in[2], n_out;
} conv_graph;

/* a, b: the op's sources; fused: the op; decomposed: alaei_conv_decompose of it. */
static void conv_graph_build(conv_graph *cg, const op_case *c, uint64_t seed) {
    memset(cg, 0, sizeof *cg);
    cg->g = alaei_graph_create();
    ck_assert_ptr_nonnull(cg->g);
    const alaei_op *op = &c->op;
    cg->a = alaei_input(cg->g, 4, op->src[0].ne, "a");
    cg->b = alaei_input(cg->g, 4, op->src[1].ne, "b");
    int32_t stride = op->ip[2], pad = op->ip[3];
    switch (op->code) {
    case ALAEI_OP_CONV2D: cg->fused = alaei_conv2d_fwd(cg->g, cg->a, cg->b, stride, pad, op->fp[0]); break;
    case ALAEI_OP_CONV2D_BWD_DATA:
        cg->fused = alaei_conv2d_bwd_data(cg->g, cg->a, cg->b, op->dst.ne[2], op->dst.ne[3], stride, pad, op->fp[0]);
        break;
    default:
        cg->fused = alaei_conv2d_bwd_weight(cg->g, cg->a, cg->b, op->ip[0], op->ip[1], stride, pad, op->fp[0]);
        break;
    }
    ck_assert_msg(cg->fused >= 0, "building %s: %s", alaei_op_name(op->code), alaei_graph_error(cg->g));
    const alaei_node *n = alaei_graph_node(cg->g, cg->fused);
    ck_assert_msg(memcmp(n->ne, op->dst.ne, sizeof n->ne) == 0, "%s: the builder's shape differs from the case's",
                  alaei_op_name(op->code));
    int32_t src[2] = {cg->a, cg->b};
    cg->decomposed = alaei_conv_decompose(cg->g, n, src);
    ck_assert_msg(cg->decomposed >= 0, "decomposing %s: %s", alaei_op_name(op->code), alaei_graph_error(cg->g));
    for (int k = 0; k < 2; k++) {
        cg->n_in[k] = numel_of(&op->src[k]);
        cg->in[k] = gen_array(&UNI2, cg->n_in[k], seed * 2 + (uint64_t)k);
    }
    cg->n_out = numel_of(&op->dst);
}

static void conv_graph_free(conv_graph *cg) {
    alaei_graph_destroy(cg->g);
    free(cg->in[0]);
    free(cg->in[1]);
}

/* Runs outputs {fused, decomposed} (n_out of them) of cg on ctx `runs` times; out[r][k]: run r's
 * output k as float. */
static void conv_graph_run(const conv_graph *cg, alae_context *ctx, int32_t threads, int n_out, int runs,
                           float *out[2][2]) {
    const alaei_backend_vtbl *vt = ctx->backend;
    if (threads > 0) ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, threads));
    void *buf[2];
    for (int k = 0; k < 2; k++) {
        ck_assert_alae_ok(vt->buf_alloc(ctx->bctx, cg->n_in[k] * (size_t)vt->elem_size, &buf[k]));
        ck_assert_alae_ok(vt->write_f32(ctx->bctx, buf[k], cg->in[k], cg->n_in[k]));
    }
    int32_t outs[2] = {cg->fused, cg->decomposed};
    alaei_plan *plan = NULL;
    ck_assert_alae_ok(alaei_plan_create(ctx, cg->g, n_out, outs, &plan));
    ck_assert_alae_ok(alaei_plan_bind(plan, cg->a, buf[0]));
    ck_assert_alae_ok(alaei_plan_bind(plan, cg->b, buf[1]));
    for (int r = 0; r < runs; r++) {
        ck_assert_alae_ok(alaei_plan_run(plan));
        for (int k = 0; k < n_out; k++) {
            out[r][k] = malloc((cg->n_out ? cg->n_out : 1) * sizeof(float));
            ck_assert_ptr_nonnull(out[r][k]);
            const void *d = alaei_plan_data(plan, outs[k]);
            ck_assert_ptr_nonnull(d);
            ck_assert_alae_ok(vt->read_f32(ctx->bctx, out[r][k], d, cg->n_out));
        }
    }
    alaei_plan_destroy(plan);
    for (int k = 0; k < 2; k++) vt->buf_free(ctx->bctx, buf[k]);
}

START_TEST(test_conv_fused_equals_decomposition) {
    alae_context *noconv = NULL;
    ck_assert_alae_ok(alaei_context_create_on(noconv_backend(), 0, &noconv));
    int nfail = 0, ncases = 0;
    double worst_dec = 0, worst_ref = 0;
    char first[1024] = "", desc[400];
    for (int32_t code = ALAEI_OP_CONV2D; code <= ALAEI_OP_CONV2D_BWD_WEIGHT; code++) {
        case_list L = {0};
        cases_conv(code, &L);
        for (int ci = 0; ci < L.n; ci += 3) { /* every third case: all geometries, a third of the work */
            const op_case *c = &L.v[ci];
            describe(&c->op, desc, sizeof desc);
            conv_graph cg;
            conv_graph_build(&cg, c, (uint64_t)code * 7919u + (uint64_t)ci);
            ncases++;
            /* the reference's fused op (the oracle), then every backend's fused and decomposed
             * results; the backend without the fused ops plans the decomposition for both */
            float *ref[2][2] = {{NULL, NULL}, {NULL, NULL}};
            conv_graph_run(&cg, g_ref.ctx, 0, 2, 1, ref);
            for (int bi = 0; bi <= g_nbk + 1; bi++) {
                /* bi 0: the reference itself (its decomposition); 1..g_nbk: the backends under
                 * test; g_nbk + 1: the reference without the fused ops */
                const backend_ut *b = bi >= 1 && bi <= g_nbk ? &g_bk[bi - 1] : NULL;
                alae_context *ctx = bi == 0 ? g_ref.ctx : b ? b->ctx : noconv;
                const char *label = bi == 0 ? "reference" : b ? b->label : "reference without fused convs";
                int is_float = ctx->backend->elem_size == 4;
                int runs = is_float ? 2 : 1;
                float *got[2][2] = {{NULL, NULL}, {NULL, NULL}};
                if (bi == 0) {
                    got[0][0] = ref[0][0], got[0][1] = ref[0][1];
                } else {
                    conv_graph_run(&cg, ctx, b ? b->threads : 0, 2, runs, got);
                }
                /* float backends: 1e-7 like every op; double ones agree to rounding */
                double tol = is_float ? NMSE_MAX : 1e-12;
                double e_dec = nmse(got[0][0], got[0][1], cg.n_out), e_ref = nmse(got[0][0], ref[0][0], cg.n_out);
                if (e_dec > worst_dec || isnan(e_dec)) worst_dec = e_dec;
                if (e_ref > worst_ref || isnan(e_ref)) worst_ref = e_ref;
                char msg[1024] = "";
                if (!(e_dec <= tol))
                    snprintf(msg, sizeof msg, "%s on %s: fused vs decomposition NMSE %.3g > %g", desc, label, e_dec, tol);
                else if (!(e_ref <= tol))
                    snprintf(msg, sizeof msg, "%s on %s: fused vs the reference's fused NMSE %.3g > %g", desc, label,
                             e_ref, tol);
                for (int k = 0; k < 2 && !msg[0] && runs > 1; k++)
                    if (memcmp(got[0][k], got[1][k], cg.n_out * sizeof(float)) != 0)
                        snprintf(msg, sizeof msg, "%s on %s: two runs of the %s gave different bits", desc, label,
                                 k ? "decomposition" : "fused op");
                if (msg[0]) {
                    nfail++;
                    fprintf(stderr, "FAIL %s\n", msg);
                    if (!first[0]) snprintf(first, sizeof first, "%s", msg);
                }
                if (bi > 0)
                    for (int r = 0; r < 2; r++)
                        for (int k = 0; k < 2; k++) free(got[r][k]);
            }
            free(ref[0][0]);
            free(ref[0][1]);
            conv_graph_free(&cg);
        }
        free(L.v);
    }
    alae_context_destroy(noconv);
    printf("conv graphs  %4d cases on %d backends + the reference without fused convs: fused vs decomposition "
           "worst NMSE %.2g, vs reference %.2g, %d failed\n",
           ncases, g_nbk + 1, worst_dec, worst_ref, nfail);
    fflush(stdout);
    ck_assert_msg(nfail == 0, "%d conv graph checks failed; first: %s", nfail, first);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Support mode
 * ------------------------------------------------------------------------------------------- */

static int print_support_matrix(void) {
    char err[600] = "";
    if (backends_open(err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        backends_teardown();
        return EXIT_FAILURE;
    }
    printf("%-12s", "op");
    for (int b = 0; b < g_nbk; b++) printf(" %-14s", g_bk[b].label);
    printf(" %-14s\n", g_ref.label);
    for (int32_t code = ALAEI_OP_FILL; code < ALAEI_OP_COUNT; code++) {
        case_list L = {0};
        gen_cases(code, &L);
        printf("%-12s", alaei_op_name(code));
        for (int b = 0; b <= g_nbk; b++) {
            const backend_ut *bk = b < g_nbk ? &g_bk[b] : &g_ref;
            int yes = 0, n = 0;
            for (int ci = 0; ci < L.n; ci++, n++) {
                alaei_op op = L.v[ci].op;
                yes += !!bk->vt->supports(bk->ctx->bctx, &op);
            }
            printf(" %-14s", yes == n ? "yes" : yes == 0 ? "no" : "partial");
        }
        printf("\n");
        free(L.v);
    }
    backends_teardown();
    return EXIT_SUCCESS;
}

static Suite *backend_ops_suite(void) {
    Suite *s = suite_create("backend_ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, backends_setup, backends_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_reference_sanity);
    tcase_add_loop_test(tc, test_op, ALAEI_OP_FILL, ALAEI_OP_COUNT);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_shared_validation);
    if (!alae_test_on_cuda()) tcase_add_test(tc, test_cpu_builtin_sgemm);
    tcase_add_test(tc, test_conv_fused_equals_decomposition);
    tcase_add_test(tc, test_adam_ema_equals_separate_ops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    const char *mode = getenv("ALAE_OPS_MODE");
    if (mode && strcmp(mode, "support") == 0) {
        alae_test_select_device("cuda_backend_ops_support");
        return print_support_matrix();
    }
    if (mode && mode[0] && strcmp(mode, "test") != 0) {
        fprintf(stderr, "ALAE_OPS_MODE=%s: expected 'test' (default) or 'support'\n", mode);
        return EXIT_FAILURE;
    }
    alae_test_select_device("cuda_backend_ops"); /* ALAE_TEST_DEVICE=cuda: the GPU against the reference */
    return alae_test_run_suite(backend_ops_suite());
}
