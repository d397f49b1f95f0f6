/* Gradient checks of the graph autodiff (lib/graph/autodiff.c); docs/architecture.md, "How the numerics are checked".
 *
 * 1. First order, every differentiable primitive: a scalar loss L = sum(w * op(x...)) with a fixed
 *    random weight tensor w (an INPUT), so every output element gets a distinct weight; the
 *    autodiff gradients dL/dx are compared with central differences of L computed with the
 *    4-point stencil of ggml's grad_precise:
 *        f'(x) ~ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h,
 *    in double precision on the reference backend. Inputs are sampled away from kinks.
 * 2. Second order (Hessian-vector products): g = grad(L, vars) with vars = the op's inputs AND w
 *    (so the mixed blocks, i.e. the gradients of every op's adjoint, are tested even for linear
 *    ops), then h = grad(sum(g * v), vars) by a second alaei_grad on the same graph (reverse over
 *    reverse), against the same 4-point stencil applied to g along v:
 *        Hv ~ (8 (g(x+ev) - g(x-ev)) - (g(x+2ev) - g(x-2ev))) / 12e,
 *    run through the first-order graph at shifted inputs. (The 2-point difference
 *    (g(x+ev) - g(x-ev)) / 2e has an O(e^2) error, too coarse for a 1e-6 tolerance.) Two losses:
 *    L = sum(w * op(x)) and L = sum(w * op(x)^2) (the latter makes the x-x block of linear ops
 *    non-zero, so an adjoint's adjoint is exercised twice).
 * 3. The R1 penalty (ALAE's discriminator_logistic_simple_gp) on a tiny conv encoder +
 *    discriminator and on a tiny MLP: dL_D/dtheta and dR1/dtheta, where R1 contains
 *    grad_x sum(D(E(x))) built by alaei_grad inside the graph, against finite differences of L_D
 *    and R1 (the graph recomputes grad_x at every perturbed weight).
 * 4. The same R1 gradients computed in float on the CPU backend against the reference backend.
 * 5. alaei_grad through CLAMP fails cleanly (ALAE_E_UNSUPPORTED, message naming CLAMP), and
 *    gradients with respect to inputs the output does not depend on are zero; constant ops stop
 *    gradients but a gradient with respect to a FILL / RNG node itself is the real one; a seeded
 *    alaei_grad equals the gradient of sum(seed * y).
 *
 * Double data goes in and out of the reference backend by memcpy: ASSUMPTION (documented by
 * alae_backend_impl.h and backends/reference/ref_backend.c) that the reference backend's device
 * memory is plain host memory holding doubles (elem_size 8). For any backend with elem_size 4
 * (the CPU backend) the helpers go through write_f32 / read_f32 instead.
 *
 * Each test prints one line per case with the largest relative error it saw (ctest -V shows them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_graph.h"
#include "internal/alae_internal.h"
#include "test_util.h"

#define MAX_IN 40
#define FD_TOL 1e-6      /* relative tolerance, double precision */
#define FD_EPS 1e-3      /* step of the 4-point stencil for the op checks */
#define HVP_EPS 1e-3     /* step along v for the Hessian-vector products */
#define R1_EPS 2e-4      /* step for the R1 network checks */
#define KINK_MARGIN 2e-3 /* |pre-activation| of every leaky ReLU in the R1 nets at the base point */
#define F32_TOL 1e-4     /* float (CPU) vs double (reference): relative error of the norm */

/* ------------------------------------------------------------------------------------------ */
/* A graph with its INPUT nodes and host data (double) for each.                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct net {
    alaei_graph *g;
    int n_in;
    int32_t id[MAX_IN];
    int64_t n[MAX_IN];
    double *x[MAX_IN];
} net;

static void net_init(net *nt) {
    memset(nt, 0, sizeof *nt);
    nt->g = alaei_graph_create();
    ck_assert_ptr_nonnull(nt->g);
}

static void net_free(net *nt) {
    for (int k = 0; k < nt->n_in; k++) free(nt->x[k]);
    alaei_graph_destroy(nt->g);
    memset(nt, 0, sizeof *nt);
}

/* Adds an INPUT node of four dims ne; returns its index in nt (not its node id). */
static int net_input4(net *nt, const int64_t ne[4], const char *name) {
    ck_assert_int_lt(nt->n_in, MAX_IN);
    int k = nt->n_in++;
    nt->id[k] = alaei_input(nt->g, 4, ne, name);
    ck_assert_msg(nt->id[k] >= 0, "input %s: %s", name, alaei_graph_error(nt->g));
    nt->n[k] = alaei_numel4(ne);
    nt->x[k] = calloc((size_t)nt->n[k], sizeof(double));
    ck_assert_ptr_nonnull(nt->x[k]);
    return k;
}

static int net_input(net *nt, int ndim, const int64_t *shape, const char *name) {
    int64_t ne[4] = {1, 1, 1, 1};
    for (int i = 0; i < ndim; i++) ne[4 - ndim + i] = shape[i];
    return net_input4(nt, ne, name);
}

static void fill_uniform(uint64_t *state, double *x, int64_t n, double lo, double hi, double minabs) {
    for (int64_t i = 0; i < n; i++) {
        double v;
        do v = alae_test_uniform(state, lo, hi);
        while (fabs(v) < minabs);
        x[i] = v;
    }
}

static void ck_graph_ok(const alaei_graph *g, const char *what) {
    ck_assert_msg(alaei_graph_status(g) == ALAE_OK, "%s: graph failed (%s): %s", what,
                  alae_status_string(alaei_graph_status(g)), alaei_graph_error(g));
}

/* ------------------------------------------------------------------------------------------ */
/* A plan of some outputs of a net on a context, with device buffers for every input.          */
/* ------------------------------------------------------------------------------------------ */

typedef struct exec {
    alae_context *ctx;
    const net *nt;
    void *dev[MAX_IN];
    alaei_plan *plan;
    float *tmp;
    int64_t tmp_n;
} exec;

static void exec_open(exec *ex, alae_context *ctx, const net *nt, int n_out, const int32_t *outs) {
    memset(ex, 0, sizeof *ex);
    ex->ctx = ctx;
    ex->nt = nt;
    ck_graph_ok(nt->g, "exec_open");
    size_t es = (size_t)ctx->backend->elem_size;
    int32_t max_out = 0;
    for (int i = 0; i < n_out; i++) max_out = outs[i] > max_out ? outs[i] : max_out;
    for (int k = 0; k < nt->n_in; k++) {
        ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, (size_t)nt->n[k] * es, &ex->dev[k]));
        if (nt->n[k] > ex->tmp_n) ex->tmp_n = nt->n[k];
    }
    ck_assert_alae_ok(alaei_plan_create(ctx, nt->g, n_out, outs, &ex->plan));
    for (int k = 0; k < nt->n_in; k++)
        if (nt->id[k] <= max_out) ck_assert_alae_ok(alaei_plan_bind(ex->plan, nt->id[k], ex->dev[k]));
    for (int i = 0; i < n_out; i++)
        if (alaei_graph_numel(nt->g, outs[i]) > ex->tmp_n) ex->tmp_n = alaei_graph_numel(nt->g, outs[i]);
    ex->tmp = malloc((size_t)ex->tmp_n * sizeof(float));
    ck_assert_ptr_nonnull(ex->tmp);
}

static void exec_close(exec *ex) {
    if (!ex->ctx) return;
    alaei_plan_destroy(ex->plan);
    for (int k = 0; k < MAX_IN; k++)
        if (ex->dev[k]) ex->ctx->backend->buf_free(ex->ctx->bctx, ex->dev[k]);
    free(ex->tmp);
    memset(ex, 0, sizeof *ex);
}

/* Copies every input's host data to its device buffer, then runs the plan. */
static void exec_run(exec *ex) {
    const alaei_backend_vtbl *be = ex->ctx->backend;
    for (int k = 0; k < ex->nt->n_in; k++) {
        if (be->elem_size == (int32_t)sizeof(double)) {
            /* reference backend: device memory is host memory of doubles (see the header comment) */
            memcpy(ex->dev[k], ex->nt->x[k], (size_t)ex->nt->n[k] * sizeof(double));
        } else {
            for (int64_t i = 0; i < ex->nt->n[k]; i++) ex->tmp[i] = (float)ex->nt->x[k][i];
            ck_assert_alae_ok(be->write_f32(ex->ctx->bctx, ex->dev[k], ex->tmp, (size_t)ex->nt->n[k]));
        }
    }
    ck_assert_alae_ok(alaei_plan_run(ex->plan));
}

/* Reads node into out, which holds cap elements: the node must have exactly cap elements (a
 * gradient of the wrong shape fails here instead of overflowing out). */
static void exec_read(exec *ex, int32_t node, double *out, int64_t cap) {
    const alaei_backend_vtbl *be = ex->ctx->backend;
    int64_t n = alaei_graph_numel(ex->nt->g, node);
    ck_assert_msg(n == cap, "node %d (%s) has %lld elements, expected %lld", (int)node,
                  alaei_op_name(alaei_graph_node(ex->nt->g, node)->op), (long long)n, (long long)cap);
    const void *p = alaei_plan_data(ex->plan, node);
    ck_assert_msg(p != NULL, "node %d has no data after the run", (int)node);
    if (be->elem_size == (int32_t)sizeof(double)) {
        memcpy(out, p, (size_t)n * sizeof(double));
    } else {
        ck_assert_int_le(n, ex->tmp_n);
        ck_assert_alae_ok(be->read_f32(ex->ctx->bctx, ex->tmp, p, (size_t)n));
        for (int64_t i = 0; i < n; i++) out[i] = ex->tmp[i];
    }
}

static double exec_scalar(exec *ex, int32_t node) {
    double v;
    ck_assert_int_eq(alaei_graph_numel(ex->nt->g, node), 1);
    exec_read(ex, node, &v, 1);
    return v;
}

static alae_context *make_context(const alaei_backend_vtbl *backend) {
    alae_context *ctx = NULL;
    ck_assert_alae_ok(alaei_context_create_on(backend, 0, &ctx));
    ctx->poison = 1; /* NaN-poison released activations: a planner bug shows up as NaN */
    return ctx;
}

static double *dalloc(int64_t n) {
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Comparison                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct cmp {
    double max_rel;
    int64_t worst;
    double a, n;
    int64_t n_bad;
} cmp;

/* Relative error per element: |a - n| / max(|a|, |n|, floor), with floor the larger of
 * - 1e-3 * the largest magnitude in the tensor, so that elements that are zero up to rounding are
 *   judged against the tensor's scale rather than against themselves, and
 * - noise / tol, where noise is the rounding noise of the finite difference itself: each function
 *   value carries an error of a few hundred ulps of its magnitude fmax, and the stencil divides
 *   by h, so noise = 1e-13 * fmax / h (pass fmax = 0 for no such term).
 * NaN counts as an infinite error. */
static cmp compare(const double *a, const double *n, int64_t count, double tol, double fmax_, double h) {
    cmp r = {0, -1, 0, 0, 0};
    double scale = 0;
    for (int64_t i = 0; i < count; i++) scale = fmax(scale, fmax(fabs(a[i]), fabs(n[i])));
    double noise = h > 0 ? 1e-13 * fmax_ / h : 0;
    double floor_ = fmax(1e-3 * scale, noise / tol) + 1e-300;
    for (int64_t i = 0; i < count; i++) {
        double d = fabs(a[i] - n[i]);
        double rel = d / fmax(fmax(fabs(a[i]), fabs(n[i])), floor_);
        if (isnan(a[i]) || isnan(n[i]) || isnan(rel)) rel = INFINITY;
        if (rel > tol) r.n_bad++;
        if (r.worst < 0 || rel > r.max_rel) {
            r.max_rel = rel;
            r.worst = i;
            r.a = a[i];
            r.n = n[i];
        }
    }
    return r;
}

/* Relative error of the norm: ||a - b|| / ||b||. */
static double norm_rel(const double *a, const double *b, int64_t count) {
    double dd = 0, bb = 0;
    for (int64_t i = 0; i < count; i++) {
        dd += (a[i] - b[i]) * (a[i] - b[i]);
        bb += b[i] * b[i];
    }
    if (isnan(dd)) return INFINITY;
    return bb > 0 ? sqrt(dd / bb) : sqrt(dd);
}

/* 4-point central difference from f(x+h), f(x-h), f(x+2h), f(x-2h). */
static double stencil(double p1, double m1, double p2, double m2, double h) {
    return (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h);
}

/* ------------------------------------------------------------------------------------------ */
/* The op cases                                                                               */
/* ------------------------------------------------------------------------------------------ */

enum {
    K_GEMM,
    K_GEMM_SELF,       /* gemm(x, x, ...): both operands are the same node */
    K_BINARY,
    K_BINARY_SELF,     /* op(x, x) */
    K_UNARY,
    K_LEAKY,
    K_ADD_LEAKY,       /* ADD_LEAKY_RELU(a = in 0, b = in 1 broadcast), slope fp[0] */
    K_SCALE_SHIFT,
    K_REDUCE,
    K_BROADCAST,
    K_IM2COL,
    K_COL2IM,
    K_UPSAMPLE,
    K_SUMPOOL,
    K_FIR,
    K_PERMUTE,
    K_SLICE,
    K_SLICE_ADJ,
    K_RESHAPE,
    K_RESHAPE_CHAIN,   /* reshape(sigmoid(reshape(scale_shift(x)))): views inside the graph */
    K_CONCAT,
    K_CONV,            /* CONV2D(x = in 0, w = in 1): ip = {KH, KW, stride, pad}, fp[0] = alpha */
    K_CONV_BWD_DATA,   /* CONV2D_BWD_DATA(g = in 0, w = in 1), tne: the image shape */
    K_CONV_BWD_WEIGHT, /* CONV2D_BWD_WEIGHT(g = in 0, x = in 1) */
};

typedef struct op_case {
    const char *name;
    int kind;
    int n_in;
    int64_t ne[2][4];
    double lo[2], hi[2]; /* sampling range per input; both 0 means [-1, 1] */
    double minabs;       /* every input element has |x| >= minabs (kinks at 0) */
    int op;              /* opcode for K_BINARY / K_UNARY */
    int ip[4];
    double fp[16];
    int64_t tne[4];      /* target shape (reduce, broadcast, col2im image, slice_adj, reshape) */
    int const_mask;      /* bit k: input k is a constant (not differentiated) */
} op_case;

#define BLUR3 {1 / 16., 2 / 16., 1 / 16., 2 / 16., 4 / 16., 2 / 16., 1 / 16., 2 / 16., 1 / 16.}
#define ASYM3 {0.1, -0.4, 0.7, 0.3, 0.9, -0.2, -0.6, 0.25, 0.5}
#define ASYM4 {0.2, -0.1, 0.4, 0.05, -0.3, 0.8, 0.15, -0.25, 0.6, -0.7, 0.35, 0.1, -0.05, 0.45, -0.55, 0.3}
#define ASYM2 {0.3, -0.8, 0.5, 1.1}

#define GEMM_CASE(nm, a0, a1, a2, a3, b0, b1, b2, b3, ta, tb) \
    {.name = nm, .kind = K_GEMM, .n_in = 2, .ne = {{a0, a1, a2, a3}, {b0, b1, b2, b3}}, .ip = {ta, tb}, .fp = {0.7}}

#define BIN_CASES(nm, opc, blo, bhi)                                                                         \
    {.name = nm "_same", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 3, 2, 4}}, .lo = {-1, blo},     \
     .hi = {1, bhi}, .op = opc},                                                                             \
    {.name = nm "_bcast_b", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {1, 3, 1, 4}}, .lo = {-1, blo},  \
     .hi = {1, bhi}, .op = opc},                                                                             \
    {.name = nm "_bcast_a", .kind = K_BINARY, .n_in = 2, .ne = {{1, 3, 2, 1}, {2, 3, 2, 4}}, .lo = {-1, blo},  \
     .hi = {1, bhi}, .op = opc},                                                                             \
    {.name = nm "_bcast_both", .kind = K_BINARY, .n_in = 2, .ne = {{2, 1, 2, 4}, {1, 3, 2, 1}},               \
     .lo = {-1, blo}, .hi = {1, bhi}, .op = opc}

#define UN_CASE(nm, opc, l, h, m) \
    {.name = nm, .kind = K_UNARY, .n_in = 1, .ne = {{1, 2, 3, 4}}, .lo = {l}, .hi = {h}, .minabs = m, .op = opc}

static const op_case cases[] = {
    /* GEMM: the four transpose combinations, batch broadcasting of a, of b, of both */
    GEMM_CASE("gemm_nn", 2, 3, 4, 5, 2, 3, 5, 3, 0, 0),
    GEMM_CASE("gemm_tn", 2, 3, 5, 4, 2, 3, 5, 3, 1, 0),
    GEMM_CASE("gemm_nt", 2, 3, 4, 5, 2, 3, 3, 5, 0, 1),
    GEMM_CASE("gemm_tt", 2, 3, 5, 4, 2, 3, 3, 5, 1, 1),
    GEMM_CASE("gemm_bcast_a_nn", 1, 1, 4, 5, 2, 3, 5, 3, 0, 0),
    GEMM_CASE("gemm_bcast_b_nn", 2, 3, 4, 5, 1, 1, 5, 3, 0, 0),
    GEMM_CASE("gemm_bcast_a_tt", 1, 3, 5, 4, 2, 3, 3, 5, 1, 1),
    GEMM_CASE("gemm_bcast_b_tn", 2, 3, 5, 4, 1, 1, 5, 3, 1, 0),
    GEMM_CASE("gemm_bcast_a_nt", 1, 1, 4, 5, 2, 1, 3, 5, 0, 1),
    GEMM_CASE("gemm_bcast_mixed_nt", 2, 1, 4, 5, 1, 3, 3, 5, 0, 1),
    {.name = "gemm_self_xxT", .kind = K_GEMM_SELF, .n_in = 1, .ne = {{1, 2, 3, 4}}, .ip = {0, 1}, .fp = {1.3}},
    {.name = "gemm_self_xTx", .kind = K_GEMM_SELF, .n_in = 1, .ne = {{1, 2, 3, 4}}, .ip = {1, 0}, .fp = {0.9}},
    /* binary ops: same shapes, b broadcast, a broadcast, both broadcast */
    BIN_CASES("add", ALAEI_OP_ADD, -1, 1),
    BIN_CASES("sub", ALAEI_OP_SUB, -1, 1),
    BIN_CASES("mul", ALAEI_OP_MUL, -1, 1),
    BIN_CASES("div", ALAEI_OP_DIV, 0.5, 2.0),
    {.name = "mul_self", .kind = K_BINARY_SELF, .n_in = 1, .ne = {{2, 3, 2, 4}}, .op = ALAEI_OP_MUL},
    {.name = "sub_self", .kind = K_BINARY_SELF, .n_in = 1, .ne = {{2, 3, 2, 4}}, .op = ALAEI_OP_SUB},
    {.name = "div_self", .kind = K_BINARY_SELF, .n_in = 1, .ne = {{2, 3, 2, 4}}, .lo = {0.5}, .hi = {2}, .op = ALAEI_OP_DIV},
    /* one operand a constant input (only the other is differentiated) */
    {.name = "sub_const_a", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {1, 3, 1, 4}}, .op = ALAEI_OP_SUB, .const_mask = 1},
    {.name = "sub_const_b", .kind = K_BINARY, .n_in = 2, .ne = {{1, 3, 1, 4}, {2, 3, 2, 4}}, .op = ALAEI_OP_SUB, .const_mask = 2},
    {.name = "div_const_a", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 3, 2, 4}}, .lo = {-1, 0.5},
     .hi = {1, 2}, .op = ALAEI_OP_DIV, .const_mask = 1},
    {.name = "div_const_b", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {1, 1, 2, 4}}, .lo = {-1, 0.5},
     .hi = {1, 2}, .op = ALAEI_OP_DIV, .const_mask = 2},
    {.name = "mul_const_a", .kind = K_BINARY, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 3, 2, 4}}, .op = ALAEI_OP_MUL, .const_mask = 1},
    /* elementwise */
    UN_CASE("neg", ALAEI_OP_NEG, -1, 1, 0),
    UN_CASE("exp", ALAEI_OP_EXP, -1.5, 1.5, 0),
    UN_CASE("log", ALAEI_OP_LOG, 0.3, 2.0, 0),
    UN_CASE("sqrt", ALAEI_OP_SQRT, 0.3, 2.0, 0),
    UN_CASE("rsqrt", ALAEI_OP_RSQRT, 0.3, 2.0, 0),
    UN_CASE("square", ALAEI_OP_SQUARE, -1.5, 1.5, 0),
    UN_CASE("sigmoid", ALAEI_OP_SIGMOID, -3, 3, 0),
    UN_CASE("softplus", ALAEI_OP_SOFTPLUS, -3, 3, 0),
    UN_CASE("softplus_wide", ALAEI_OP_SOFTPLUS, -15, 15, 0.05),
    UN_CASE("abs", ALAEI_OP_ABS, -1, 1, 0.05),
    {.name = "leaky_relu", .kind = K_LEAKY, .n_in = 1, .ne = {{1, 2, 3, 4}}, .minabs = 0.05, .fp = {0.2}},
    /* bias + activation in one op: b small against |a| >= 0.05, so a + b stays off the kink */
    {.name = "add_leaky_relu_row_bias", .kind = K_ADD_LEAKY, .n_in = 2, .ne = {{1, 1, 3, 4}, {1, 1, 1, 4}},
     .lo = {-1, -0.02}, .hi = {1, 0.02}, .minabs = 0.05, .fp = {0.2}},
    {.name = "add_leaky_relu_channel_bias", .kind = K_ADD_LEAKY, .n_in = 2, .ne = {{2, 3, 2, 2}, {1, 3, 1, 1}},
     .lo = {-1, -0.02}, .hi = {1, 0.02}, .minabs = 0.05, .fp = {0.0}},
    {.name = "add_leaky_relu_full", .kind = K_ADD_LEAKY, .n_in = 2, .ne = {{1, 2, 3, 4}, {1, 2, 3, 4}},
     .lo = {-1, -0.02}, .hi = {1, 0.02}, .minabs = 0.05, .fp = {1.0}},
    {.name = "add_leaky_relu_const_b", .kind = K_ADD_LEAKY, .n_in = 2, .ne = {{1, 1, 3, 4}, {1, 1, 1, 4}},
     .lo = {-1, -0.02}, .hi = {1, 0.02}, .minabs = 0.05, .fp = {0.2}, .const_mask = 2},
    {.name = "leaky_relu_neg_slope", .kind = K_LEAKY, .n_in = 1, .ne = {{1, 2, 3, 4}}, .minabs = 0.05, .fp = {-0.3}},
    {.name = "scale_shift", .kind = K_SCALE_SHIFT, .n_in = 1, .ne = {{1, 2, 3, 4}}, .fp = {1.7, -0.3}},
    /* reductions and broadcasts */
    {.name = "reduce_sum_1315", .kind = K_REDUCE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {1, 3, 1, 5}},
    {.name = "reduce_sum_2141", .kind = K_REDUCE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {2, 1, 4, 1}},
    {.name = "reduce_sum_all", .kind = K_REDUCE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {1, 1, 1, 1}},
    {.name = "reduce_sum_inner", .kind = K_REDUCE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {2, 3, 4, 1}},
    {.name = "broadcast_1315", .kind = K_BROADCAST, .n_in = 1, .ne = {{1, 3, 1, 5}}, .tne = {2, 3, 4, 5}},
    {.name = "broadcast_2141", .kind = K_BROADCAST, .n_in = 1, .ne = {{2, 1, 4, 1}}, .tne = {2, 3, 4, 5}},
    {.name = "broadcast_scalar", .kind = K_BROADCAST, .n_in = 1, .ne = {{1, 1, 1, 1}}, .tne = {2, 3, 4, 5}},
    /* im2col / col2im: ip = {KH, KW, stride, pad} */
    {.name = "im2col_k33_s1_p1", .kind = K_IM2COL, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 3, 1, 1}},
    {.name = "im2col_k32_s2_p1", .kind = K_IM2COL, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 2, 2, 1}},
    {.name = "im2col_k22_s2_p0", .kind = K_IM2COL, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {2, 2, 2, 0}},
    {.name = "im2col_k33_s2_p2", .kind = K_IM2COL, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 3, 2, 2}},
    {.name = "col2im_k33_s1_p1", .kind = K_COL2IM, .n_in = 1, .ne = {{1, 1, 18, 20}}, .ip = {3, 3, 1, 1}, .tne = {1, 2, 4, 5}},
    {.name = "col2im_k32_s2_p1", .kind = K_COL2IM, .n_in = 1, .ne = {{1, 2, 12, 6}}, .ip = {3, 2, 2, 1}, .tne = {2, 2, 4, 5}},
    {.name = "col2im_k22_s2_p0", .kind = K_COL2IM, .n_in = 1, .ne = {{1, 2, 8, 4}}, .ip = {2, 2, 2, 0}, .tne = {2, 2, 4, 5}},
    /* resampling */
    {.name = "upsample2d_f2", .kind = K_UPSAMPLE, .n_in = 1, .ne = {{2, 2, 3, 3}}, .ip = {2}},
    {.name = "upsample2d_f3", .kind = K_UPSAMPLE, .n_in = 1, .ne = {{1, 2, 2, 3}}, .ip = {3}},
    {.name = "sumpool2d_f2", .kind = K_SUMPOOL, .n_in = 1, .ne = {{2, 2, 4, 6}}, .ip = {2}},
    {.name = "sumpool2d_f3", .kind = K_SUMPOOL, .n_in = 1, .ne = {{1, 2, 3, 6}}, .ip = {3}},
    /* FIR2D: ip = {K, pad} */
    {.name = "fir2d_blur_p0", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 0}, .fp = BLUR3},
    {.name = "fir2d_blur_p1", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 1}, .fp = BLUR3},
    {.name = "fir2d_blur_p2", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 2}, .fp = BLUR3},
    {.name = "fir2d_asym3_p0", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 0}, .fp = ASYM3},
    {.name = "fir2d_asym3_p1", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 1}, .fp = ASYM3},
    {.name = "fir2d_asym3_p2", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 5, 6}}, .ip = {3, 2}, .fp = ASYM3},
    {.name = "fir2d_asym4_p0", .kind = K_FIR, .n_in = 1, .ne = {{1, 2, 5, 6}}, .ip = {4, 0}, .fp = ASYM4},
    {.name = "fir2d_asym4_p1", .kind = K_FIR, .n_in = 1, .ne = {{1, 2, 5, 6}}, .ip = {4, 1}, .fp = ASYM4},
    {.name = "fir2d_asym4_p2", .kind = K_FIR, .n_in = 1, .ne = {{1, 2, 5, 6}}, .ip = {4, 2}, .fp = ASYM4},
    {.name = "fir2d_asym4_p3", .kind = K_FIR, .n_in = 1, .ne = {{1, 2, 5, 6}}, .ip = {4, 3}, .fp = ASYM4},
    {.name = "fir2d_asym2_p0", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 4, 5}}, .ip = {2, 0}, .fp = ASYM2},
    {.name = "fir2d_asym2_p1", .kind = K_FIR, .n_in = 1, .ne = {{2, 2, 4, 5}}, .ip = {2, 1}, .fp = ASYM2},
    /* layout */
    {.name = "permute_0213", .kind = K_PERMUTE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .ip = {0, 2, 1, 3}},
    {.name = "permute_3102", .kind = K_PERMUTE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .ip = {3, 1, 0, 2}},
    {.name = "permute_1320", .kind = K_PERMUTE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .ip = {1, 3, 2, 0}},
    {.name = "permute_2031", .kind = K_PERMUTE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .ip = {2, 0, 3, 1}},
    /* slice: ip = {axis, start, length}; slice_adj: ip = {axis, start}, tne the full shape */
    {.name = "slice_ax1", .kind = K_SLICE, .n_in = 1, .ne = {{2, 5, 3, 4}}, .ip = {1, 1, 3}},
    {.name = "slice_ax3", .kind = K_SLICE, .n_in = 1, .ne = {{2, 5, 3, 4}}, .ip = {3, 2, 2}},
    {.name = "slice_ax0", .kind = K_SLICE, .n_in = 1, .ne = {{2, 5, 3, 4}}, .ip = {0, 1, 1}},
    {.name = "slice_ax2", .kind = K_SLICE, .n_in = 1, .ne = {{2, 5, 3, 4}}, .ip = {2, 0, 2}},
    {.name = "slice_adj_ax1", .kind = K_SLICE_ADJ, .n_in = 1, .ne = {{2, 2, 3, 4}}, .ip = {1, 2}, .tne = {2, 5, 3, 4}},
    {.name = "slice_adj_ax3", .kind = K_SLICE_ADJ, .n_in = 1, .ne = {{2, 2, 3, 1}}, .ip = {3, 3}, .tne = {2, 2, 3, 4}},
    {.name = "slice_adj_ax0", .kind = K_SLICE_ADJ, .n_in = 1, .ne = {{1, 2, 3, 4}}, .ip = {0, 1}, .tne = {3, 2, 3, 4}},
    {.name = "reshape_1645", .kind = K_RESHAPE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {1, 6, 4, 5}},
    {.name = "reshape_flat", .kind = K_RESHAPE, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {1, 1, 12, 10}},
    {.name = "reshape_chain", .kind = K_RESHAPE_CHAIN, .n_in = 1, .ne = {{2, 3, 4, 5}}, .tne = {4, 3, 2, 5}},
    /* concat (two SLICE_ADJ + ADD) along each axis */
    {.name = "concat_ax1", .kind = K_CONCAT, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 1, 2, 4}}, .ip = {1}},
    {.name = "concat_ax0", .kind = K_CONCAT, .n_in = 2, .ne = {{1, 3, 2, 4}, {2, 3, 2, 4}}, .ip = {0}},
    {.name = "concat_ax2", .kind = K_CONCAT, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 3, 3, 4}}, .ip = {2}},
    {.name = "concat_ax3", .kind = K_CONCAT, .n_in = 2, .ne = {{2, 3, 2, 4}, {2, 3, 2, 1}}, .ip = {3}},
    /* the fused convolutions: every first derivative of each is another of the three, so the
     * HVPs (vars = both inputs and w) prove each VJP rule's own VJPs as well */
    {.name = "conv_k33_s1_p1", .kind = K_CONV, .n_in = 2, .ne = {{2, 3, 5, 6}, {4, 3, 3, 3}}, .ip = {3, 3, 1, 1}, .fp = {0.7}},
    {.name = "conv_k33_s2_p1", .kind = K_CONV, .n_in = 2, .ne = {{2, 2, 5, 6}, {3, 2, 3, 3}}, .ip = {3, 3, 2, 1}, .fp = {1.0}},
    {.name = "conv_k44_s2_p1", .kind = K_CONV, .n_in = 2, .ne = {{1, 2, 6, 6}, {2, 2, 4, 4}}, .ip = {4, 4, 2, 1}, .fp = {0.25}},
    {.name = "conv_k11_s1_p0", .kind = K_CONV, .n_in = 2, .ne = {{2, 3, 4, 5}, {2, 3, 1, 1}}, .ip = {1, 1, 1, 0}, .fp = {-1.3}},
    {.name = "conv_k11_s2_p1", .kind = K_CONV, .n_in = 2, .ne = {{1, 2, 5, 5}, {3, 2, 1, 1}}, .ip = {1, 1, 2, 1}, .fp = {1.0}},
    {.name = "conv_k32_s2_p2", .kind = K_CONV, .n_in = 2, .ne = {{1, 2, 5, 4}, {2, 2, 3, 2}}, .ip = {3, 2, 2, 2}, .fp = {0.9}},
    {.name = "conv_bwd_data_k33_s1_p1", .kind = K_CONV_BWD_DATA, .n_in = 2, .ne = {{2, 4, 5, 6}, {4, 3, 3, 3}},
     .ip = {3, 3, 1, 1}, .fp = {0.7}, .tne = {2, 3, 5, 6}},
    {.name = "conv_bwd_data_k33_s2_p1", .kind = K_CONV_BWD_DATA, .n_in = 2, .ne = {{2, 3, 3, 3}, {3, 2, 3, 3}},
     .ip = {3, 3, 2, 1}, .fp = {1.0}, .tne = {2, 2, 5, 6}},
    {.name = "conv_bwd_data_k44_s2_p1", .kind = K_CONV_BWD_DATA, .n_in = 2, .ne = {{1, 2, 3, 3}, {2, 2, 4, 4}},
     .ip = {4, 4, 2, 1}, .fp = {0.25}, .tne = {1, 2, 6, 6}},
    {.name = "conv_bwd_data_k33_s2_p0", .kind = K_CONV_BWD_DATA, .n_in = 2, .ne = {{1, 3, 2, 2}, {3, 2, 3, 3}},
     .ip = {3, 3, 2, 0}, .fp = {-1.1}, .tne = {1, 2, 6, 5}}, /* the image's last row and column unread */
    {.name = "conv_bwd_data_k11_s1_p0", .kind = K_CONV_BWD_DATA, .n_in = 2, .ne = {{2, 2, 4, 5}, {2, 3, 1, 1}},
     .ip = {1, 1, 1, 0}, .fp = {0.6}, .tne = {2, 3, 4, 5}},
    {.name = "conv_bwd_weight_k33_s1_p1", .kind = K_CONV_BWD_WEIGHT, .n_in = 2, .ne = {{2, 4, 5, 6}, {2, 3, 5, 6}},
     .ip = {3, 3, 1, 1}, .fp = {0.7}},
    {.name = "conv_bwd_weight_k33_s2_p1", .kind = K_CONV_BWD_WEIGHT, .n_in = 2, .ne = {{2, 3, 3, 3}, {2, 2, 5, 6}},
     .ip = {3, 3, 2, 1}, .fp = {1.0}},
    {.name = "conv_bwd_weight_k44_s2_p1", .kind = K_CONV_BWD_WEIGHT, .n_in = 2, .ne = {{1, 2, 3, 3}, {1, 2, 6, 6}},
     .ip = {4, 4, 2, 1}, .fp = {0.25}},
    {.name = "conv_bwd_weight_k33_s2_p0", .kind = K_CONV_BWD_WEIGHT, .n_in = 2, .ne = {{1, 3, 2, 2}, {1, 2, 6, 5}},
     .ip = {3, 3, 2, 0}, .fp = {-1.1}},
    {.name = "conv_bwd_weight_k11_s1_p0", .kind = K_CONV_BWD_WEIGHT, .n_in = 2, .ne = {{2, 2, 4, 5}, {2, 3, 4, 5}},
     .ip = {1, 1, 1, 0}, .fp = {0.6}},
};

#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static int32_t build_case(alaei_graph *g, const op_case *c, const int32_t *x) {
    switch (c->kind) {
    case K_GEMM: return alaei_gemm(g, x[0], x[1], c->ip[0], c->ip[1], c->fp[0]);
    case K_GEMM_SELF: return alaei_gemm(g, x[0], x[0], c->ip[0], c->ip[1], c->fp[0]);
    case K_BINARY: return alaei_binary(g, c->op, x[0], x[1]);
    case K_BINARY_SELF: return alaei_binary(g, c->op, x[0], x[0]);
    case K_UNARY: return alaei_unary(g, c->op, x[0]);
    case K_LEAKY: return alaei_leaky_relu(g, x[0], c->fp[0]);
    case K_ADD_LEAKY: return alaei_add_leaky_relu(g, x[0], x[1], c->fp[0]);
    case K_SCALE_SHIFT: return alaei_scale_shift(g, x[0], c->fp[0], c->fp[1]);
    case K_REDUCE: return alaei_reduce_sum(g, x[0], c->tne);
    case K_BROADCAST: return alaei_broadcast(g, x[0], c->tne);
    case K_IM2COL: return alaei_im2col(g, x[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3]);
    case K_COL2IM: return alaei_col2im(g, x[0], c->tne, c->ip[0], c->ip[1], c->ip[2], c->ip[3]);
    case K_UPSAMPLE: return alaei_upsample2d(g, x[0], c->ip[0]);
    case K_SUMPOOL: return alaei_sumpool2d(g, x[0], c->ip[0]);
    case K_FIR: return alaei_fir2d(g, x[0], c->ip[0], c->ip[1], c->fp);
    case K_PERMUTE: {
        int32_t p[4] = {c->ip[0], c->ip[1], c->ip[2], c->ip[3]};
        return alaei_permute(g, x[0], p);
    }
    case K_SLICE: return alaei_slice(g, x[0], c->ip[0], c->ip[1], c->ip[2]);
    case K_SLICE_ADJ: return alaei_slice_adj(g, x[0], c->tne, c->ip[0], c->ip[1]);
    case K_RESHAPE: return alaei_reshape4(g, x[0], c->tne);
    case K_RESHAPE_CHAIN: {
        int32_t s = alaei_scale_shift(g, x[0], 1.3, 0.1);
        int32_t r = alaei_reshape4(g, s, c->tne);
        int32_t sg = alaei_unary(g, ALAEI_OP_SIGMOID, r);
        return alaei_reshape4(g, sg, c->ne[0]);
    }
    case K_CONCAT: return alaei_concat(g, x[0], x[1], c->ip[0]);
    case K_CONV: return alaei_conv2d_fwd(g, x[0], x[1], c->ip[2], c->ip[3], c->fp[0]);
    case K_CONV_BWD_DATA: return alaei_conv2d_bwd_data(g, x[0], x[1], c->tne[2], c->tne[3], c->ip[2], c->ip[3], c->fp[0]);
    case K_CONV_BWD_WEIGHT: return alaei_conv2d_bwd_weight(g, x[0], x[1], c->ip[0], c->ip[1], c->ip[2], c->ip[3], c->fp[0]);
    default: return -1;
    }
}

/* Builds the case's inputs (with data) and y = op(x...); returns y. kin[i]: net index of input i. */
static int32_t setup_case(net *nt, const op_case *c, uint64_t *rng, int *kin) {
    int32_t xid[2];
    for (int i = 0; i < c->n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        kin[i] = net_input4(nt, c->ne[i], name);
        double lo = c->lo[i], hi = c->hi[i];
        if (lo == 0 && hi == 0) lo = -1, hi = 1;
        /* (ADD_LEAKY_RELU: the kink is at a + b = 0; its small bias b has no minimum) */
        fill_uniform(rng, nt->x[kin[i]], nt->n[kin[i]], lo, hi, c->kind == K_ADD_LEAKY && i == 1 ? 0 : c->minabs);
        xid[i] = nt->id[kin[i]];
    }
    int32_t y = build_case(nt->g, c, xid);
    ck_assert_msg(y >= 0, "%s: building the op failed: %s", c->name, alaei_graph_error(nt->g));
    return y;
}

/* w: an INPUT of y's shape with random data; returns L = sum(w * y). */
static int32_t weighted_sum(net *nt, int32_t y, uint64_t *rng, int *kw) {
    int64_t ne[4];
    memcpy(ne, alaei_graph_node(nt->g, y)->ne, sizeof ne);
    *kw = net_input4(nt, ne, "w");
    fill_uniform(rng, nt->x[*kw], nt->n[*kw], -1, 1, 0);
    return alaei_sum_all(nt->g, alaei_mul(nt->g, y, nt->id[*kw]));
}

static double worst_first = 0, worst_hvp = 0;

/* ---- 1. first order ---- */
static double check_first_order(alae_context *ctx, const op_case *c, uint64_t seed) {
    uint64_t rng = seed;
    net nt;
    net_init(&nt);
    int kin[2], kw;
    int32_t y = setup_case(&nt, c, &rng, kin);
    int32_t L = weighted_sum(&nt, y, &rng, &kw);
    int32_t wrt[2], grads[2];
    int kwrt[2], nw = 0;
    for (int i = 0; i < c->n_in; i++)
        if (!(c->const_mask & (1 << i))) {
            kwrt[nw] = kin[i];
            wrt[nw++] = nt.id[kin[i]];
        }
    alae_status s = alaei_grad(nt.g, L, -1, nw, wrt, grads);
    ck_assert_msg(s == ALAE_OK, "%s: alaei_grad: %s", c->name, alaei_graph_error(nt.g));

    exec eg, el;
    exec_open(&eg, ctx, &nt, nw, grads);
    exec_open(&el, ctx, &nt, 1, &L);
    exec_run(&eg);
    double case_max = 0;
    for (int i = 0; i < nw; i++) {
        int k = kwrt[i];
        int64_t n = nt.n[k];
        ck_assert_int_eq(alaei_graph_numel(nt.g, grads[i]), n);
        double *an = dalloc(n), *nu = dalloc(n), *x = nt.x[k];
        exec_read(&eg, grads[i], an, n);
        double fmax_ = 0;
        for (int64_t j = 0; j < n; j++) {
            double x0 = x[j], f[4];
            const double off[4] = {FD_EPS, -FD_EPS, 2 * FD_EPS, -2 * FD_EPS};
            for (int t = 0; t < 4; t++) {
                x[j] = x0 + off[t];
                exec_run(&el);
                f[t] = exec_scalar(&el, L);
                fmax_ = fmax(fmax_, fabs(f[t]));
            }
            x[j] = x0;
            nu[j] = stencil(f[0], f[1], f[2], f[3], FD_EPS);
        }
        cmp r = compare(an, nu, n, FD_TOL, fmax_, FD_EPS);
        free(an);
        free(nu);
        if (r.max_rel > case_max) case_max = r.max_rel;
        ck_assert_msg(r.n_bad == 0,
                      "first order %s: d/d(input %d): %lld of %lld elements off; worst element %lld: "
                      "autodiff %.12g vs finite difference %.12g (relative error %.3g > %.1g)",
                      c->name, i, (long long)r.n_bad, (long long)n, (long long)r.worst, r.a, r.n, r.max_rel,
                      FD_TOL);
    }
    exec_close(&eg);
    exec_close(&el);
    net_free(&nt);
    return case_max;
}

/* ---- 2. Hessian-vector products ---- */
static double check_hvp(alae_context *ctx, const op_case *c, int quadratic, uint64_t seed) {
    uint64_t rng = seed;
    net nt;
    net_init(&nt);
    alaei_graph *g = nt.g;
    int kin[2], kw;
    int32_t y = setup_case(&nt, c, &rng, kin);
    if (quadratic) y = alaei_unary(g, ALAEI_OP_SQUARE, y);
    int32_t L = weighted_sum(&nt, y, &rng, &kw);
    /* variables: the differentiated inputs and w */
    int32_t vars[3], g1[3], h[3];
    int kvar[3], kv[3], nv = 0;
    for (int i = 0; i < c->n_in; i++)
        if (!(c->const_mask & (1 << i))) {
            kvar[nv] = kin[i];
            vars[nv++] = nt.id[kin[i]];
        }
    kvar[nv] = kw;
    vars[nv++] = nt.id[kw];
    alae_status s = alaei_grad(g, L, -1, nv, vars, g1);
    ck_assert_msg(s == ALAE_OK, "%s: first alaei_grad: %s", c->name, alaei_graph_error(g));
    /* s = sum_k sum(g1_k * v_k); h = grad(s, vars) = H v */
    int32_t sv = -1;
    for (int i = 0; i < nv; i++) {
        int64_t ne[4];
        memcpy(ne, alaei_graph_node(g, vars[i])->ne, sizeof ne);
        kv[i] = net_input4(&nt, ne, "v");
        fill_uniform(&rng, nt.x[kv[i]], nt.n[kv[i]], -1, 1, 0);
        int32_t t = alaei_sum_all(g, alaei_mul(g, g1[i], nt.id[kv[i]]));
        sv = sv < 0 ? t : alaei_add(g, sv, t);
    }
    s = alaei_grad(g, sv, -1, nv, vars, h);
    ck_assert_msg(s == ALAE_OK, "%s: second alaei_grad: %s", c->name, alaei_graph_error(g));

    exec eh, eg;
    exec_open(&eh, ctx, &nt, nv, h);
    exec_open(&eg, ctx, &nt, nv, g1);
    exec_run(&eh);
    double *an[3], *gs[3][4], *x0[3];
    for (int i = 0; i < nv; i++) {
        int64_t n = nt.n[kvar[i]];
        an[i] = dalloc(n);
        exec_read(&eh, h[i], an[i], n);
        x0[i] = dalloc(n);
        memcpy(x0[i], nt.x[kvar[i]], (size_t)n * sizeof(double));
        for (int t = 0; t < 4; t++) gs[i][t] = dalloc(n);
    }
    const double off[4] = {HVP_EPS, -HVP_EPS, 2 * HVP_EPS, -2 * HVP_EPS};
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < nv; i++)
            for (int64_t j = 0; j < nt.n[kvar[i]]; j++)
                nt.x[kvar[i]][j] = x0[i][j] + off[t] * nt.x[kv[i]][j];
        exec_run(&eg);
        for (int i = 0; i < nv; i++) exec_read(&eg, g1[i], gs[i][t], nt.n[kvar[i]]);
    }
    double case_max = 0;
    char msg[512] = "";
    for (int i = 0; i < nv; i++) {
        int64_t n = nt.n[kvar[i]];
        memcpy(nt.x[kvar[i]], x0[i], (size_t)n * sizeof(double));
        double *nu = dalloc(n), fmax_ = 0;
        for (int64_t j = 0; j < n; j++) {
            nu[j] = stencil(gs[i][0][j], gs[i][1][j], gs[i][2][j], gs[i][3][j], HVP_EPS);
            for (int t = 0; t < 4; t++) fmax_ = fmax(fmax_, fabs(gs[i][t][j]));
        }
        cmp r = compare(an[i], nu, n, FD_TOL, fmax_, HVP_EPS);
        if (r.max_rel > case_max) case_max = r.max_rel;
        if (r.n_bad && !msg[0])
            snprintf(msg, sizeof msg,
                     "Hessian-vector product %s (%s loss): block of %s: %lld of %lld elements off; worst "
                     "element %lld: reverse-over-reverse %.12g vs finite difference of the gradient %.12g "
                     "(relative error %.3g)",
                     c->name, quadratic ? "quadratic" : "linear", i == nv - 1 ? "w" : "an op input",
                     (long long)r.n_bad, (long long)n, (long long)r.worst, r.a, r.n, r.max_rel);
        free(nu);
        free(an[i]);
        free(x0[i]);
        for (int t = 0; t < 4; t++) free(gs[i][t]);
    }
    exec_close(&eh);
    exec_close(&eg);
    net_free(&nt);
    ck_assert_msg(msg[0] == 0, "%s", msg);
    return case_max;
}

START_TEST(test_first_order_ops) {
    alae_context *ctx = make_context(alaei_reference_backend());
    for (int i = 0; i < N_CASES; i++) {
        double e = check_first_order(ctx, &cases[i], 0x9e3779b97f4a7c15ull + (uint64_t)i * 7919u);
        printf("grad1 %-24s max rel err %.2e\n", cases[i].name, e);
        if (e > worst_first) worst_first = e;
    }
    printf("grad1: %d op cases, largest relative error %.2e (tolerance %.0e)\n", N_CASES, worst_first, FD_TOL);
    fflush(stdout);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(test_second_order_ops) {
    alae_context *ctx = make_context(alaei_reference_backend());
    for (int i = 0; i < N_CASES; i++)
        for (int q = 0; q < 2; q++) {
            double e = check_hvp(ctx, &cases[i], q, 0x243f6a8885a308d3ull + (uint64_t)i * 104729u + (uint64_t)q);
            printf("hvp   %-24s %-9s max rel err %.2e\n", cases[i].name, q ? "quadratic" : "linear", e);
            if (e > worst_hvp) worst_hvp = e;
        }
    printf("hvp: %d op cases x 2 losses, largest relative error %.2e (tolerance %.0e)\n", N_CASES, worst_hvp,
           FD_TOL);
    fflush(stdout);
    alae_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 3. R1 on tiny encoder + discriminator networks                                            */
/* ------------------------------------------------------------------------------------------ */

#define R1_GAMMA 10.0
#define MAX_PARAMS 16
#define MAX_PRE 16

typedef struct r1net {
    net nt;
    int conv;                /* conv encoder (else MLP) */
    int64_t batch;
    int kx_real, kx_fake;
    int n_param;
    int kparam[MAX_PARAMS];  /* net indices of the parameters */
    const char *pname[MAX_PARAMS];
    int32_t d_real, d_fake, gx, r1, loss;
    int32_t gL[MAX_PARAMS], gR[MAX_PARAMS];
    int n_pre;
    int32_t pre[MAX_PRE];    /* leaky ReLU inputs (kinks) */
} r1net;

static int r1_param(r1net *r, int ndim, const int64_t *shape, const char *name, uint64_t *rng, double range) {
    int k = net_input(&r->nt, ndim, shape, name);
    fill_uniform(rng, r->nt.x[k], r->nt.n[k], -range, range, 0);
    ck_assert_int_lt(r->n_param, MAX_PARAMS);
    r->pname[r->n_param] = name;
    r->kparam[r->n_param++] = k;
    return r->nt.id[k];
}

static int32_t leaky(r1net *r, int32_t x) {
    ck_assert_int_lt(r->n_pre, MAX_PRE);
    r->pre[r->n_pre++] = x;
    return alaei_leaky_relu(r->nt.g, x, 0.2);
}

static const int64_t *ne_of(r1net *r, int32_t id) {
    const alaei_node *n = alaei_graph_node(r->nt.g, id);
    ck_assert_msg(n != NULL, "node %d: %s", (int)id, alaei_graph_error(r->nt.g));
    return n->ne;
}

/* One encoder block: 3x3 conv (equalised-lr scale, bias), leaky ReLU 0.2, blur [1,2,1]^2/16 pad 1,
 * 2x2 average pool (SUMPOOL2D * 0.25), then instance-norm statistics over H, W:
 * mean m, std = sqrt(var + 1e-8) (biased variance), the normalised features (x - m) / std as the
 * block's output and the style vector concat(m, std) [N, 2C, 1, 1]. */
static int32_t enc_block(r1net *r, int32_t h, int32_t w, int32_t b, int32_t *style) {
    alaei_graph *g = r->nt.g;
    int64_t cin = ne_of(r, h)[1];
    static const double blur[9] = BLUR3;
    int32_t c = alaei_conv2d(g, h, w, b, sqrt(2.0) / sqrt(9.0 * (double)cin), 1, 1);
    int32_t a = leaky(r, c);
    int32_t bl = alaei_fir2d(g, a, 3, 1, blur);
    int32_t p = alaei_scale_shift(g, alaei_sumpool2d(g, bl, 2), 0.25, 0.0);
    int64_t ne[4];
    memcpy(ne, ne_of(r, p), sizeof ne);
    double hw = (double)(ne[2] * ne[3]);
    int64_t st_ne[4] = {ne[0], ne[1], 1, 1};
    int32_t m = alaei_scale_shift(g, alaei_reduce_sum(g, p, st_ne), 1.0 / hw, 0.0);
    int32_t cen = alaei_sub(g, p, alaei_broadcast(g, m, ne));
    int32_t var = alaei_scale_shift(g, alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, cen), st_ne), 1.0 / hw, 0.0);
    int32_t sd = alaei_unary(g, ALAEI_OP_SQRT, alaei_scale_shift(g, var, 1.0, 1e-8));
    *style = alaei_concat(g, m, sd, 1);
    return alaei_div(g, cen, alaei_broadcast(g, sd, ne));
}

typedef struct conv_params {
    int32_t w1, b1, w2, b2, we, be;
} conv_params;

static int32_t conv_encoder(r1net *r, const conv_params *P, int32_t x) {
    alaei_graph *g = r->nt.g;
    int32_t s1, s2;
    int32_t h = enc_block(r, x, P->w1, P->b1, &s1);
    enc_block(r, h, P->w2, P->b2, &s2);
    int32_t st = alaei_concat(g, s1, s2, 1); /* [N, 2*C1 + 2*C2, 1, 1] */
    const int64_t *ne = ne_of(r, st);
    int64_t flat[2] = {ne[0], ne[1]};
    int32_t f = alaei_reshape(g, st, 2, flat);
    return alaei_linear(g, f, P->we, P->be, sqrt(2.0) / sqrt((double)flat[1]));
}

typedef struct mlp_params {
    int32_t e1, eb1, e2, eb2;
} mlp_params;

static int32_t mlp_encoder(r1net *r, const mlp_params *P, int32_t x) {
    alaei_graph *g = r->nt.g;
    int32_t h = leaky(r, alaei_linear(g, x, P->e1, P->eb1, sqrt(2.0 / 6.0)));
    return alaei_linear(g, h, P->e2, P->eb2, sqrt(2.0 / 5.0));
}

typedef struct disc_params {
    int32_t d1, db1, d2, db2;
} disc_params;

static int32_t discriminator(r1net *r, const disc_params *P, int32_t w) {
    alaei_graph *g = r->nt.g;
    int32_t h = leaky(r, alaei_linear(g, w, P->d1, P->db1, sqrt(2.0 / 4.0)));
    return alaei_linear(g, h, P->d2, P->db2, sqrt(2.0 / 8.0));
}

/* L_D = mean(softplus(D(E(x_fake)))) + mean(softplus(-D(E(x_real)))) + gamma/2 * mean_batch(R1),
 * R1_i = sum over the non-batch dims of (grad_{x_real} sum(D(E(x_real))))^2. */
static void build_r1net(r1net *r, int conv, uint64_t seed) {
    memset(r, 0, sizeof *r);
    net_init(&r->nt);
    r->conv = conv;
    alaei_graph *g = r->nt.g;
    uint64_t rng = seed;
    conv_params cp;
    mlp_params mp;
    disc_params dp;
    if (conv) {
        r->batch = 2;
        int64_t xs[4] = {2, 1, 8, 8};
        r->kx_real = net_input(&r->nt, 4, xs, "x_real");
        r->kx_fake = net_input(&r->nt, 4, xs, "x_fake");
        int64_t w1[4] = {3, 1, 3, 3}, b1[1] = {3}, w2[4] = {4, 3, 3, 3}, b2[1] = {4}, we[2] = {4, 14}, be[1] = {4};
        cp.w1 = r1_param(r, 4, w1, "enc.conv1.weight", &rng, 1.0);
        cp.b1 = r1_param(r, 1, b1, "enc.conv1.bias", &rng, 0.3);
        cp.w2 = r1_param(r, 4, w2, "enc.conv2.weight", &rng, 1.0);
        cp.b2 = r1_param(r, 1, b2, "enc.conv2.bias", &rng, 0.3);
        cp.we = r1_param(r, 2, we, "enc.linear.weight", &rng, 3.0);
        cp.be = r1_param(r, 1, be, "enc.linear.bias", &rng, 0.3);
    } else {
        r->batch = 3;
        int64_t xs[2] = {3, 6};
        r->kx_real = net_input(&r->nt, 2, xs, "x_real");
        r->kx_fake = net_input(&r->nt, 2, xs, "x_fake");
        int64_t e1[2] = {5, 6}, eb1[1] = {5}, e2[2] = {4, 5}, eb2[1] = {4};
        mp.e1 = r1_param(r, 2, e1, "enc.fc1.weight", &rng, 1.0);
        mp.eb1 = r1_param(r, 1, eb1, "enc.fc1.bias", &rng, 0.3);
        mp.e2 = r1_param(r, 2, e2, "enc.fc2.weight", &rng, 1.0);
        mp.eb2 = r1_param(r, 1, eb2, "enc.fc2.bias", &rng, 0.3);
    }
    int64_t d1[2] = {8, 4}, db1[1] = {8}, d2[2] = {1, 8}, db2[1] = {1};
    /* larger D weights (and E's last layer in the conv net): an R1 term comparable to the logistic
     * terms, so that it matters in dL_D */
    dp.d1 = r1_param(r, 2, d1, "disc.fc1.weight", &rng, 2.0);
    dp.db1 = r1_param(r, 1, db1, "disc.fc1.bias", &rng, 0.3);
    dp.d2 = r1_param(r, 2, d2, "disc.fc2.weight", &rng, 2.0);
    dp.db2 = r1_param(r, 1, db2, "disc.fc2.bias", &rng, 0.3);
    fill_uniform(&rng, r->nt.x[r->kx_real], r->nt.n[r->kx_real], -1, 1, 0);
    fill_uniform(&rng, r->nt.x[r->kx_fake], r->nt.n[r->kx_fake], -1, 1, 0);

    int32_t xr = r->nt.id[r->kx_real], xf = r->nt.id[r->kx_fake];
    int32_t wr = conv ? conv_encoder(r, &cp, xr) : mlp_encoder(r, &mp, xr);
    int32_t wf = conv ? conv_encoder(r, &cp, xf) : mlp_encoder(r, &mp, xf);
    r->d_real = discriminator(r, &dp, wr);
    r->d_fake = discriminator(r, &dp, wf);
    ck_graph_ok(g, "R1 net forward");
    int32_t sp_fake = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, r->d_fake));
    int32_t sp_real = alaei_mean_all(g, alaei_unary(g, ALAEI_OP_SOFTPLUS, alaei_unary(g, ALAEI_OP_NEG, r->d_real)));
    /* real_grads = autograd.grad(real_logit.sum(), reals, create_graph=True) */
    alae_status s = alaei_grad(g, alaei_sum_all(g, r->d_real), -1, 1, &xr, &r->gx);
    ck_assert_msg(s == ALAE_OK, "R1: grad wrt x_real: %s", alaei_graph_error(g));
    int64_t per_sample[4];
    memcpy(per_sample, ne_of(r, xr), sizeof per_sample);
    if (conv) per_sample[1] = per_sample[2] = per_sample[3] = 1; /* [N, C, H, W] -> [N, 1, 1, 1] */
    else per_sample[3] = 1;                                       /* [1, 1, N, F] -> [1, 1, N, 1] */
    int32_t r1_i = alaei_reduce_sum(g, alaei_unary(g, ALAEI_OP_SQUARE, r->gx), per_sample);
    r->r1 = alaei_scale_shift(g, alaei_mean_all(g, r1_i), R1_GAMMA * 0.5, 0.0);
    r->loss = alaei_add(g, alaei_add(g, sp_fake, sp_real), r->r1);
    ck_graph_ok(g, "R1 net loss");
    int32_t params[MAX_PARAMS];
    for (int i = 0; i < r->n_param; i++) params[i] = r->nt.id[r->kparam[i]];
    s = alaei_grad(g, r->loss, -1, r->n_param, params, r->gL);
    ck_assert_msg(s == ALAE_OK, "R1: grad of L_D: %s", alaei_graph_error(g));
    s = alaei_grad(g, r->r1, -1, r->n_param, params, r->gR);
    ck_assert_msg(s == ALAE_OK, "R1: grad of the R1 term: %s", alaei_graph_error(g));
}

/* The leaky ReLU inputs of the last run of ex (a plan that has them among its outputs): smallest
 * |value|, and whether their signs match signs[] (recorded there when record is set). */
static double read_kinks(exec *ex, r1net *r, uint8_t *signs, int record, int *same) {
    double margin = INFINITY;
    int64_t at = 0;
    *same = 1;
    for (int i = 0; i < r->n_pre; i++) {
        int64_t n = alaei_graph_numel(r->nt.g, r->pre[i]);
        double *v = dalloc(n);
        exec_read(ex, r->pre[i], v, n);
        for (int64_t j = 0; j < n; j++, at++) {
            margin = fmin(margin, fabs(v[j]));
            uint8_t sg = v[j] > 0;
            if (record) signs[at] = sg;
            else if (signs[at] != sg) *same = 0;
        }
        free(v);
    }
    return margin;
}

static int64_t kink_count(r1net *r) {
    int64_t n = 0;
    for (int i = 0; i < r->n_pre; i++) n += alaei_graph_numel(r->nt.g, r->pre[i]);
    return n;
}

static double kink_margin(alae_context *ctx, r1net *r) {
    exec ep;
    exec_open(&ep, ctx, &r->nt, r->n_pre, r->pre);
    exec_run(&ep);
    uint8_t *signs = calloc((size_t)kink_count(r), 1);
    ck_assert_ptr_nonnull(signs);
    int same;
    double margin = read_kinks(&ep, r, signs, 1, &same);
    free(signs);
    exec_close(&ep);
    return margin;
}

/* Builds the net with the first seed (from seed on) whose data keep every leaky ReLU input at
 * least KINK_MARGIN away from 0, so that the finite differences never cross a kink (the R1 term
 * jumps there: its gradient contains the leaky mask). The finite-difference loop also checks at
 * every evaluation that no leaky ReLU input changed sign. */
static void build_r1net_away_from_kinks(alae_context *ctx, r1net *r, int conv, uint64_t seed) {
    for (int attempt = 0; attempt < 200; attempt++) {
        build_r1net(r, conv, seed + (uint64_t)attempt * 0x1000193u);
        if (kink_margin(ctx, r) >= KINK_MARGIN) return;
        net_free(&r->nt);
    }
    ck_abort_msg("no seed keeps the leaky ReLU inputs away from 0");
}

static double check_r1net(alae_context *ctx, int conv) {
    r1net r;
    build_r1net_away_from_kinks(ctx, &r, conv, conv ? 1234567u : 7654321u);
    const char *what = conv ? "conv E+D" : "MLP E+D";
    net *nt = &r.nt;
    int32_t grads[2 * MAX_PARAMS];
    for (int i = 0; i < r.n_param; i++) {
        grads[i] = r.gL[i];
        grads[r.n_param + i] = r.gR[i];
    }
    exec eg, el;
    exec_open(&eg, ctx, nt, 2 * r.n_param, grads);
    int32_t losses[2 + MAX_PRE] = {r.loss, r.r1};
    for (int i = 0; i < r.n_pre; i++) losses[2 + i] = r.pre[i];
    exec_open(&el, ctx, nt, 2 + r.n_pre, losses);
    exec_run(&eg);
    exec_run(&el);
    double L0 = exec_scalar(&el, r.loss), R0 = exec_scalar(&el, r.r1);
    uint8_t *signs = calloc((size_t)kink_count(&r), 1);
    ck_assert_ptr_nonnull(signs);
    int same;
    double margin = read_kinks(&el, &r, signs, 1, &same);
    double worst = 0;
    int64_t total = 0;
    for (int p = 0; p < r.n_param; p++) {
        int k = r.kparam[p];
        int64_t n = nt->n[k];
        total += n;
        double *aL = dalloc(n), *aR = dalloc(n), *nL = dalloc(n), *nR = dalloc(n), *x = nt->x[k];
        exec_read(&eg, r.gL[p], aL, n);
        exec_read(&eg, r.gR[p], aR, n);
        double fmaxL = 0, fmaxR = 0;
        for (int64_t j = 0; j < n; j++) {
            double x0 = x[j], fl[4], fr[4];
            const double off[4] = {R1_EPS, -R1_EPS, 2 * R1_EPS, -2 * R1_EPS};
            for (int t = 0; t < 4; t++) {
                x[j] = x0 + off[t];
                exec_run(&el);
                fl[t] = exec_scalar(&el, r.loss);
                fr[t] = exec_scalar(&el, r.r1);
                fmaxL = fmax(fmaxL, fabs(fl[t]));
                fmaxR = fmax(fmaxR, fabs(fr[t]));
                read_kinks(&el, &r, signs, 0, &same);
                ck_assert_msg(same, "%s: perturbing %s[%lld] by %g moved a leaky ReLU input across 0",
                              what, r.pname[p], (long long)j, off[t]);
            }
            x[j] = x0;
            nL[j] = stencil(fl[0], fl[1], fl[2], fl[3], R1_EPS);
            nR[j] = stencil(fr[0], fr[1], fr[2], fr[3], R1_EPS);
        }
        cmp cl = compare(aL, nL, n, FD_TOL, fmaxL, R1_EPS), cr = compare(aR, nR, n, FD_TOL, fmaxR, R1_EPS);
        printf("r1    %-8s %-20s dL_D max rel err %.2e   dR1 max rel err %.2e\n", conv ? "conv" : "mlp",
               r.pname[p], cl.max_rel, cr.max_rel);
        worst = fmax(worst, fmax(cl.max_rel, cr.max_rel));
        free(aL);
        free(aR);
        free(nL);
        free(nR);
        ck_assert_msg(cl.n_bad == 0,
                      "%s: dL_D/d%s: %lld of %lld elements off; worst element %lld: autodiff %.12g vs "
                      "finite difference %.12g (relative error %.3g)",
                      what, r.pname[p], (long long)cl.n_bad, (long long)n, (long long)cl.worst, cl.a, cl.n,
                      cl.max_rel);
        ck_assert_msg(cr.n_bad == 0,
                      "%s: dR1/d%s: %lld of %lld elements off; worst element %lld: autodiff %.12g vs "
                      "finite difference %.12g (relative error %.3g)",
                      what, r.pname[p], (long long)cr.n_bad, (long long)n, (long long)cr.worst, cr.a, cr.n,
                      cr.max_rel);
    }
    exec_close(&eg);
    exec_close(&el);
    free(signs);

    /* the inner gradient itself: grad_x sum(D(E(x_real))) against finite differences */
    {
        int32_t dsum = alaei_sum_all(nt->g, r.d_real);
        ck_graph_ok(nt->g, "sum of d_real");
        exec ex, ed;
        exec_open(&ex, ctx, nt, 1, &r.gx);
        exec_open(&ed, ctx, nt, 1, &dsum);
        exec_run(&ex);
        int k = r.kx_real;
        int64_t n = nt->n[k];
        double *an = dalloc(n), *nu = dalloc(n), *x = nt->x[k];
        exec_read(&ex, r.gx, an, n);
        double fmax_ = 0;
        for (int64_t j = 0; j < n; j++) {
            double x0 = x[j], f[4];
            const double off[4] = {R1_EPS, -R1_EPS, 2 * R1_EPS, -2 * R1_EPS};
            for (int t = 0; t < 4; t++) {
                x[j] = x0 + off[t];
                exec_run(&ed);
                f[t] = exec_scalar(&ed, dsum);
                fmax_ = fmax(fmax_, fabs(f[t]));
            }
            x[j] = x0;
            nu[j] = stencil(f[0], f[1], f[2], f[3], R1_EPS);
        }
        cmp c = compare(an, nu, n, FD_TOL, fmax_, R1_EPS);
        free(an);
        free(nu);
        exec_close(&ex);
        exec_close(&ed);
        printf("r1    %-8s %-20s d(sum D)/dx max rel err %.2e\n", conv ? "conv" : "mlp", "x_real", c.max_rel);
        worst = fmax(worst, c.max_rel);
        ck_assert_msg(c.n_bad == 0,
                      "%s: grad_x sum(D(E(x))): worst element %lld: autodiff %.12g vs finite difference %.12g "
                      "(relative error %.3g)",
                      what, (long long)c.worst, c.a, c.n, c.max_rel);
    }
    printf("r1    %-8s L_D = %.6f, R1 term = %.6f, %lld parameters, %lld leaky ReLU inputs (all |.| >= %.1e), "
           "largest relative error %.2e\n",
           conv ? "conv" : "mlp", L0, R0, (long long)total, (long long)kink_count(&r), margin, worst);
    fflush(stdout);
    ck_assert_msg(R0 > 1e-3, "%s: the R1 term is %g: too small to test anything", what, R0);
    net_free(nt);
    return worst;
}

START_TEST(test_r1_conv) {
    alae_context *ctx = make_context(alaei_reference_backend());
    check_r1net(ctx, 1);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(test_r1_mlp) {
    alae_context *ctx = make_context(alaei_reference_backend());
    check_r1net(ctx, 0);
    alae_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 4. Cross-precision: the R1 gradients in float on the CPU backend vs double on the reference  */
/* ------------------------------------------------------------------------------------------ */

static void check_cross_precision(int conv) {
    alae_context *ref = make_context(alaei_reference_backend());
    /* the float backend under test: the CPU, or the GPU with ALAE_TEST_DEVICE=cuda */
    const alaei_backend_vtbl *fvt = alaei_cpu_backend();
    int32_t fdev = 0;
    if (alae_test_on_cuda()) ck_assert_alae_ok(alaei_registry_lookup(alae_test_device(), &fvt, &fdev));
    alae_context *cpu = NULL;
    ck_assert_alae_ok(alaei_context_create_on(fvt, fdev, &cpu));
    cpu->poison = 1;
    r1net r;
    build_r1net_away_from_kinks(ref, &r, conv, conv ? 1234567u : 7654321u);
    net *nt = &r.nt;
    /* both backends see the same (float-representable) inputs */
    for (int k = 0; k < nt->n_in; k++)
        for (int64_t j = 0; j < nt->n[k]; j++) nt->x[k][j] = (double)(float)nt->x[k][j];
    int32_t outs[2 * MAX_PARAMS + 2];
    int n_out = 0;
    outs[n_out++] = r.loss;
    outs[n_out++] = r.r1;
    for (int i = 0; i < r.n_param; i++) outs[n_out++] = r.gL[i];
    for (int i = 0; i < r.n_param; i++) outs[n_out++] = r.gR[i];
    exec er, ec;
    exec_open(&er, ref, nt, n_out, outs);
    exec_open(&ec, cpu, nt, n_out, outs);
    exec_run(&er);
    exec_run(&ec);
    /* On the GPU: the first run went op by op, the second is captured as a CUDA graph and the
     * third replays it; all three must give the same bits. */
    double *first_run[2 * MAX_PARAMS + 2] = {NULL};
    if (alae_test_on_cuda()) {
        for (int o = 0; o < n_out; o++) {
            int64_t n = alaei_graph_numel(nt->g, outs[o]);
            first_run[o] = dalloc(n);
            exec_read(&ec, outs[o], first_run[o], n);
        }
        exec_run(&ec);
        exec_run(&ec);
        for (int o = 0; o < n_out; o++) {
            int64_t n = alaei_graph_numel(nt->g, outs[o]);
            double *again = dalloc(n);
            exec_read(&ec, outs[o], again, n);
            ck_assert_msg(memcmp(again, first_run[o], (size_t)n * sizeof(double)) == 0,
                          "%s net on %s: output %d differs between the first run and the graph replay",
                          conv ? "conv" : "MLP", fvt->name, o);
            free(again);
            free(first_run[o]);
        }
    }
    double worst = 0;
    char msg[512] = "";
    for (int o = 0; o < n_out; o++) {
        int64_t n = alaei_graph_numel(nt->g, outs[o]);
        double *a = dalloc(n), *b = dalloc(n);
        exec_read(&ec, outs[o], a, n);
        exec_read(&er, outs[o], b, n);
        double e = norm_rel(a, b, n);
        const char *what = o == 0 ? "L_D" : o == 1 ? "R1" : r.pname[(o - 2) % r.n_param];
        const char *kind = o < 2 ? "value" : o < 2 + r.n_param ? "dL_D" : "dR1";
        printf("f32   %-8s %-5s %-20s |%s - ref| / |ref| = %.2e\n", conv ? "conv" : "mlp", kind, what, fvt->name, e);
        worst = fmax(worst, e);
        if (!(e <= F32_TOL) && !msg[0])
            snprintf(msg, sizeof msg,
                     "%s net: %s (float) vs reference (double): %s %s: relative error of the norm %.3g > %.0e "
                     "(first element %.9g, ref %.9g)",
                     conv ? "conv" : "MLP", fvt->name, kind, what, e, F32_TOL, a[0], b[0]);
        free(a);
        free(b);
    }
    exec_close(&er);
    exec_close(&ec);
    net_free(nt);
    alae_context_destroy(ref);
    alae_context_destroy(cpu);
    printf("f32   %-8s largest relative error of the norm %.2e (tolerance %.0e)\n", conv ? "conv" : "mlp", worst,
           F32_TOL);
    fflush(stdout);
    ck_assert_msg(msg[0] == 0, "%s", msg);
}

START_TEST(test_cross_precision_conv) { check_cross_precision(1); }
END_TEST

START_TEST(test_cross_precision_mlp) { check_cross_precision(0); }
END_TEST

/* The R1 conv net (CONV2D and, through autodiff twice, all three fused convolution ops) on a
 * backend without the fused ops: the planner must plan their IM2COL / GEMM / COL2IM
 * decompositions, and every output must equal the fused ops' up to double rounding. */
static alaei_backend_vtbl noconv_vt;

static int noconv_supports(void *bctx, const alaei_op *op) {
    return op && !alaei_op_is_conv(op->code) && alaei_reference_backend()->supports(bctx, op);
}

static alae_status noconv_run_op(void *bctx, const alaei_op *op) {
    if (op && alaei_op_is_conv(op->code))
        return alaei_fail(ALAE_E_UNSUPPORTED, "noconv_run_op", "%s reached a backend that lacks it",
                          alaei_op_name(op->code));
    return alaei_reference_backend()->run_op(bctx, op);
}

START_TEST(test_r1_conv_decomposed) {
    noconv_vt = *alaei_reference_backend();
    noconv_vt.name = "reference-noconv";
    noconv_vt.supports = noconv_supports;
    noconv_vt.run_op = noconv_run_op;
    alae_context *ref = make_context(alaei_reference_backend());
    alae_context *dec = make_context(&noconv_vt);
    r1net r;
    build_r1net_away_from_kinks(ref, &r, 1, 1234567u);
    net *nt = &r.nt;
    int32_t outs[2 * MAX_PARAMS + 2];
    int n_out = 0, n_conv = 0;
    outs[n_out++] = r.loss;
    outs[n_out++] = r.r1;
    for (int i = 0; i < r.n_param; i++) outs[n_out++] = r.gL[i];
    for (int i = 0; i < r.n_param; i++) outs[n_out++] = r.gR[i];
    for (int32_t i = 0; i < nt->g->n; i++) n_conv += alaei_op_is_conv(alaei_graph_node(nt->g, i)->op);
    exec er, ed;
    exec_open(&er, ref, nt, n_out, outs);
    exec_open(&ed, dec, nt, n_out, outs);
    exec_run(&er);
    exec_run(&ed);
    double worst = 0;
    for (int o = 0; o < n_out; o++) {
        int64_t n = alaei_graph_numel(nt->g, outs[o]);
        double *a = dalloc(n), *b = dalloc(n);
        exec_read(&ed, outs[o], a, n);
        exec_read(&er, outs[o], b, n);
        double e = norm_rel(a, b, n);
        worst = fmax(worst, e);
        ck_assert_msg(e <= 1e-12, "output %d: decomposed vs fused convolutions: relative error of the norm %.3g", o, e);
        free(a);
        free(b);
    }
    printf("r1    conv     %d fused convolution nodes planned as their decompositions: L_D, R1 and their "
           "gradients equal the fused ones to %.2e\n",
           n_conv, worst);
    fflush(stdout);
    ck_assert_int_gt(n_conv, 8);
    ck_assert_int_gt(alaei_plan_op_count(ed.plan), alaei_plan_op_count(er.plan));
    exec_close(&er);
    exec_close(&ed);
    net_free(nt);
    alae_context_destroy(ref);
    alae_context_destroy(dec);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* 5. Failure and zero-gradient behaviour                                                     */
/* ------------------------------------------------------------------------------------------ */

START_TEST(test_clamp_unsupported) {
    alaei_graph *g = alaei_graph_create();
    ck_assert_ptr_nonnull(g);
    int64_t shape[2] = {2, 3};
    int32_t x = alaei_input(g, 2, shape, "x");
    int32_t c = alaei_clamp(g, alaei_unary(g, ALAEI_OP_EXP, x), -0.5, 0.5);
    int32_t L = alaei_sum_all(g, c);
    ck_graph_ok(g, "clamp graph");
    int32_t gx = -7;
    alae_status s = alaei_grad(g, L, -1, 1, &x, &gx);
    ck_assert_int_eq(s, ALAE_E_UNSUPPORTED);
    ck_assert_int_eq(alaei_graph_status(g), ALAE_E_UNSUPPORTED);
    ck_assert_msg(strstr(alaei_graph_error(g), "CLAMP") != NULL, "message does not name CLAMP: '%s'",
                  alaei_graph_error(g));
    /* the failure is sticky and clean: later builders and planning fail without crashing */
    ck_assert_int_eq(alaei_unary(g, ALAEI_OP_EXP, x), -1);
    int32_t again;
    ck_assert_int_eq(alaei_grad(g, L, -1, 1, &x, &again), ALAE_E_UNSUPPORTED);
    alae_context *ctx = make_context(alaei_reference_backend());
    alaei_plan *plan = NULL;
    ck_assert_int_eq(alaei_plan_create(ctx, g, 1, &L, &plan), ALAE_E_UNSUPPORTED);
    ck_assert_ptr_null(plan);
    ck_assert_msg(strstr(alae_last_error(), "CLAMP") != NULL, "alae_last_error: '%s'", alae_last_error());
    alae_context_destroy(ctx);
    alaei_graph_destroy(g);
}
END_TEST

/* A CLAMP on a branch that does not lead to a differentiated input is fine; gradients with respect
 * to inputs the output does not depend on (or that come after it) are zeros of the input's shape;
 * constant ops (SIGN, LEAKY_MASK, FILL) stop gradients. */
START_TEST(test_zero_gradients) {
    alae_context *ctx = make_context(alaei_reference_backend());
    net nt;
    net_init(&nt);
    alaei_graph *g = nt.g;
    uint64_t rng = 42;
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s32[2] = {3, 2};
    int kx = net_input(&nt, 2, s23, "x"), kc = net_input(&nt, 2, s23, "c"), ku = net_input(&nt, 1, s4, "u");
    for (int k = 0; k < 3; k++) fill_uniform(&rng, nt.x[k], nt.n[k], -1, 1, 0.05);
    int32_t x = nt.id[kx], cc = nt.id[kc], u = nt.id[ku];
    /* L = sum(exp(x) * clamp(c)) + sum(sign(x) * x0) where x0 = leaky_mask(x): the last term is
     * x-dependent only through constant ops, so it contributes no gradient. */
    int32_t t1 = alaei_mul(g, alaei_unary(g, ALAEI_OP_EXP, x), alaei_clamp(g, cc, -0.5, 0.5));
    int32_t t2 = alaei_mul(g, alaei_unary(g, ALAEI_OP_SIGN, x), alaei_leaky_mask(g, x, 0.2));
    int32_t L = alaei_add(g, alaei_sum_all(g, t1), alaei_sum_all(g, t2));
    int32_t later = nt.id[net_input(&nt, 2, s32, "later")]; /* created after L */
    ck_graph_ok(g, "zero-gradient graph");
    int32_t wrt[4] = {x, u, later, x}, grads[4];
    alae_status s = alaei_grad(g, L, -1, 4, wrt, grads);
    ck_assert_msg(s == ALAE_OK, "alaei_grad: %s", alaei_graph_error(g));
    ck_assert_int_eq(alaei_graph_numel(g, grads[1]), 4);
    ck_assert_int_eq(alaei_graph_numel(g, grads[2]), 6);
    exec ex;
    exec_open(&ex, ctx, &nt, 4, grads);
    exec_run(&ex);
    double gx[6], gu[4], gl[6], gx2[6];
    exec_read(&ex, grads[0], gx, 6);
    exec_read(&ex, grads[1], gu, 4);
    exec_read(&ex, grads[2], gl, 6);
    exec_read(&ex, grads[3], gx2, 6);
    for (int i = 0; i < 6; i++) {
        double want = exp(nt.x[kx][i]) * fmin(fmax(nt.x[kc][i], -0.5), 0.5);
        ck_assert_msg(fabs(gx[i] - want) <= 1e-14 * fmax(1, fabs(want)), "dL/dx[%d] = %.17g, want %.17g", i, gx[i],
                      want);
        ck_assert_msg(gx2[i] == gx[i], "the same wrt twice gave different gradients");
        ck_assert_msg(gl[i] == 0.0, "dL/d(later)[%d] = %g", i, gl[i]);
    }
    for (int i = 0; i < 4; i++) ck_assert_msg(gu[i] == 0.0, "dL/du[%d] = %g", i, gu[i]);
    exec_close(&ex);
    /* nothing reaches the wrt at all: y independent of x */
    int32_t y2 = alaei_sum_all(g, alaei_unary(g, ALAEI_OP_SQUARE, u));
    int32_t gz;
    ck_assert_int_eq(alaei_grad(g, y2, -1, 1, &x, &gz), ALAE_OK);
    exec_open(&ex, ctx, &nt, 1, &gz);
    exec_run(&ex);
    exec_read(&ex, gz, gx, 6);
    for (int i = 0; i < 6; i++) ck_assert_msg(gx[i] == 0.0, "d(sum u^2)/dx[%d] = %g", i, gx[i]);
    exec_close(&ex);
    net_free(&nt);
    alae_context_destroy(ctx);
}
END_TEST

/* Constant ops stop gradients flowing through them, but a gradient with respect to such a node
 * itself (a FILL or RNG_NORMAL node as wrt, e.g. a noise map) is the real derivative. */
START_TEST(test_grad_wrt_constant_nodes) {
    alae_context *ctx = make_context(alaei_reference_backend());
    net nt;
    net_init(&nt);
    alaei_graph *g = nt.g;
    uint64_t rng = 99;
    int64_t s3[1] = {3};
    int kx = net_input(&nt, 1, s3, "x");
    fill_uniform(&rng, nt.x[kx], 3, -1, 1, 0);
    int32_t x = nt.id[kx];
    int32_t noise = alaei_rng_normal(g, 1, s3, 5, 0, 0.0, 1.0);
    int32_t f = alaei_fill(g, 1, s3, 0.5);
    /* y = sum(noise * x) + sum(f * x^2): dy/dnoise = x, dy/df = x^2, dy/dx = noise + 2 f x */
    int32_t y = alaei_add(g, alaei_sum_all(g, alaei_mul(g, noise, x)),
                          alaei_sum_all(g, alaei_mul(g, f, alaei_unary(g, ALAEI_OP_SQUARE, x))));
    int32_t wrt[3] = {noise, f, x}, gr[3];
    ck_assert_msg(alaei_grad(g, y, -1, 3, wrt, gr) == ALAE_OK, "alaei_grad: %s", alaei_graph_error(g));
    int32_t outs[4] = {gr[0], gr[1], gr[2], noise};
    exec ex;
    exec_open(&ex, ctx, &nt, 4, outs);
    exec_run(&ex);
    double gn[3], gf[3], gx[3], nv[3];
    exec_read(&ex, gr[0], gn, 3);
    exec_read(&ex, gr[1], gf, 3);
    exec_read(&ex, gr[2], gx, 3);
    exec_read(&ex, noise, nv, 3);
    for (int i = 0; i < 3; i++) {
        double xi = nt.x[kx][i];
        ck_assert_msg(fabs(gn[i] - xi) <= 1e-15, "dy/dnoise[%d] = %.17g, want %.17g", i, gn[i], xi);
        ck_assert_msg(fabs(gf[i] - xi * xi) <= 1e-15, "dy/dfill[%d] = %.17g, want %.17g", i, gf[i], xi * xi);
        ck_assert_msg(fabs(gx[i] - (nv[i] + xi)) <= 1e-14, "dy/dx[%d] = %.17g, want %.17g", i, gx[i], nv[i] + xi);
    }
    exec_close(&ex);
    net_free(&nt);
    alae_context_destroy(ctx);
}
END_TEST

/* alaei_grad with a seed equals the gradient of sum(seed * y); a non-scalar y needs a seed. */
START_TEST(test_seeded_grad) {
    alae_context *ctx = make_context(alaei_reference_backend());
    net nt;
    net_init(&nt);
    alaei_graph *g = nt.g;
    uint64_t rng = 7;
    int64_t s[2] = {3, 4};
    int kx = net_input(&nt, 2, s, "x"), ks = net_input(&nt, 2, s, "seed");
    fill_uniform(&rng, nt.x[kx], 12, -1, 1, 0);
    fill_uniform(&rng, nt.x[ks], 12, -1, 1, 0);
    int32_t x = nt.id[kx], sd = nt.id[ks];
    int32_t y = alaei_unary(g, ALAEI_OP_SIGMOID, alaei_unary(g, ALAEI_OP_SQUARE, x));
    int32_t bad;
    ck_assert_int_eq(alaei_grad(g, y, -1, 1, &x, &bad), ALAE_E_SHAPE);
    net_free(&nt);

    net_init(&nt);
    g = nt.g;
    kx = net_input(&nt, 2, s, "x");
    ks = net_input(&nt, 2, s, "seed");
    fill_uniform(&rng, nt.x[kx], 12, -1, 1, 0);
    fill_uniform(&rng, nt.x[ks], 12, -1, 1, 0);
    x = nt.id[kx];
    sd = nt.id[ks];
    y = alaei_unary(g, ALAEI_OP_SIGMOID, alaei_unary(g, ALAEI_OP_SQUARE, x));
    int32_t g_seeded, g_sum;
    ck_assert_int_eq(alaei_grad(g, y, sd, 1, &x, &g_seeded), ALAE_OK);
    int32_t L = alaei_sum_all(g, alaei_mul(g, y, sd));
    ck_assert_int_eq(alaei_grad(g, L, -1, 1, &x, &g_sum), ALAE_OK);
    int32_t outs[2] = {g_seeded, g_sum};
    exec ex;
    exec_open(&ex, ctx, &nt, 2, outs);
    exec_run(&ex);
    double a[12], b[12];
    exec_read(&ex, g_seeded, a, 12);
    exec_read(&ex, g_sum, b, 12);
    for (int i = 0; i < 12; i++) {
        double xi = nt.x[kx][i], sg = 1 / (1 + exp(-xi * xi));
        double want = nt.x[ks][i] * sg * (1 - sg) * 2 * xi;
        ck_assert_msg(fabs(a[i] - want) <= 1e-13 && fabs(b[i] - want) <= 1e-13,
                      "element %d: seeded %.17g, summed %.17g, want %.17g", i, a[i], b[i], want);
    }
    exec_close(&ex);
    net_free(&nt);
    alae_context_destroy(ctx);
}
END_TEST

/* Plans on a caller-provided arena (alaei_plan_create_shared + alaei_plan_set_arena): two plans of
 * one graph (a conv net's loss, and its gradients) share an arena of the larger size and, run one
 * after the other, give the same values as plans with their own arenas; a plan without an arena
 * refuses to run, a too small arena is refused, and a plan that owns its arena keeps it. */
START_TEST(test_shared_arena) {
    alae_context *ctx = make_context(alaei_reference_backend());
    r1net r;
    build_r1net(&r, 1, 4242u);
    net *nt = &r.nt;
    int32_t grads[MAX_PARAMS];
    for (int i = 0; i < r.n_param; i++) grads[i] = r.gL[i];
    int32_t loss_out[2] = {r.loss, r.r1};
    /* reference values with plans that own their arenas */
    exec own_l, own_g;
    exec_open(&own_l, ctx, nt, 2, loss_out);
    exec_open(&own_g, ctx, nt, r.n_param, grads);
    exec_run(&own_l);
    exec_run(&own_g);
    /* the same plans on one shared arena */
    alaei_plan *pl = NULL, *pg = NULL;
    ck_assert_alae_ok(alaei_plan_create_shared(ctx, nt->g, 2, loss_out, &pl));
    ck_assert_alae_ok(alaei_plan_create_shared(ctx, nt->g, r.n_param, grads, &pg));
    size_t bl = alaei_plan_arena_bytes(pl), bg = alaei_plan_arena_bytes(pg), big = bl > bg ? bl : bg;
    ck_assert_uint_gt(bl, 0);
    ck_assert_uint_eq(bl, alaei_plan_arena_bytes(own_l.plan));
    int32_t max_l = loss_out[0] > loss_out[1] ? loss_out[0] : loss_out[1], max_g = 0;
    for (int i = 0; i < r.n_param; i++) max_g = grads[i] > max_g ? grads[i] : max_g;
    for (int k = 0; k < nt->n_in; k++) { /* the inputs' data: own_l's device buffers (filled by its run) */
        if (nt->id[k] <= max_l) ck_assert_alae_ok(alaei_plan_bind(pl, nt->id[k], own_l.dev[k]));
        if (nt->id[k] <= max_g) ck_assert_alae_ok(alaei_plan_bind(pg, nt->id[k], own_l.dev[k]));
    }
    ck_assert_int_eq(alaei_plan_run(pl), ALAE_E_STATE); /* no arena yet */
    void *arena = NULL;
    ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, big, &arena));
    ck_assert_int_eq(alaei_plan_set_arena(pl, arena, bl - 1), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alaei_plan_set_arena(own_l.plan, arena, big), ALAE_E_STATE);
    ck_assert_alae_ok(alaei_plan_set_arena(pl, arena, big));
    ck_assert_alae_ok(alaei_plan_set_arena(pg, arena, big));
    for (int round = 0; round < 2; round++) {
        ck_assert_alae_ok(alaei_plan_run(pl));
        for (int o = 0; o < 2; o++) {
            double a = *(const double *)alaei_plan_data(pl, loss_out[o]);
            ck_assert_msg(a == exec_scalar(&own_l, loss_out[o]), "shared-arena output %d: %.17g", o, a);
        }
        ck_assert_alae_ok(alaei_plan_run(pg)); /* overwrites the loss plan's activations */
        for (int i = 0; i < r.n_param; i++) {
            int64_t n = alaei_graph_numel(nt->g, grads[i]);
            double *want = dalloc(n);
            exec_read(&own_g, grads[i], want, n);
            ck_assert_msg(memcmp(want, alaei_plan_data(pg, grads[i]), (size_t)n * sizeof(double)) == 0,
                          "shared-arena gradient %s differs", r.pname[i]);
            free(want);
        }
    }
    printf("api   shared arena: loss plan %zu B + gradient plan %zu B run in one arena of %zu B\n", bl, bg, big);
    alaei_plan_destroy(pl);
    alaei_plan_destroy(pg);
    ctx->backend->buf_free(ctx->bctx, arena);
    exec_close(&own_l);
    exec_close(&own_g);
    net_free(nt);
    alae_context_destroy(ctx);
}
END_TEST

static Suite *gradcheck_suite(void) {
    Suite *s = suite_create("gradcheck");
    TCase *ops = tcase_create("ops");
    tcase_add_test(ops, test_first_order_ops);
    tcase_add_test(ops, test_second_order_ops);
    tcase_set_timeout(ops, 600);
    suite_add_tcase(s, ops);
    TCase *r1 = tcase_create("r1");
    tcase_add_test(r1, test_r1_conv);
    tcase_add_test(r1, test_r1_mlp);
    tcase_add_test(r1, test_r1_conv_decomposed);
    tcase_set_timeout(r1, 600);
    suite_add_tcase(s, r1);
    TCase *f32 = tcase_create("cross_precision");
    tcase_add_test(f32, test_cross_precision_conv);
    tcase_add_test(f32, test_cross_precision_mlp);
    tcase_set_timeout(f32, 600);
    suite_add_tcase(s, f32);
    TCase *api = tcase_create("api");
    tcase_add_test(api, test_clamp_unsupported);
    tcase_add_test(api, test_zero_gradients);
    tcase_add_test(api, test_seeded_grad);
    tcase_add_test(api, test_grad_wrt_constant_nodes);
    tcase_add_test(api, test_shared_arena);
    suite_add_tcase(s, api);
    return s;
}

/* ALAE_TEST_DEVICE=cuda: the float-vs-double R1 gradient checks (conv and MLP nets, first and
 * second order through every op autodiff emits) with the GPU as the float backend. */
static Suite *cuda_gradcheck_suite(void) {
    Suite *s = suite_create("cuda_gradcheck");
    TCase *f32 = tcase_create("cross_precision");
    tcase_add_test(f32, test_cross_precision_conv);
    tcase_add_test(f32, test_cross_precision_mlp);
    tcase_set_timeout(f32, 600);
    suite_add_tcase(s, f32);
    return s;
}

int main(void) {
    alae_test_select_device("cuda_gradcheck");
    return alae_test_run_suite(alae_test_on_cuda() ? cuda_gradcheck_suite() : gradcheck_suite());
}
