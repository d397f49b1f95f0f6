/* The backend interface: a versioned table of functions beneath the graph executor.
 *
 * A backend implements forward kernels for the primitive ops below. Autodiff never needs
 * backward kernels: every gradient is built from these same ops (see lib/graph/autodiff.c).
 * Every tensor an op sees is dense and row-major with exactly four dimensions ne[0..3]
 * (outermost first; lower-rank tensors have leading 1s). A backend stores elements as float
 * (CPU, CUDA) or double (the reference backend): elem_size says which. */
#ifndef ALAE_BACKEND_IMPL_H
#define ALAE_BACKEND_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "alae/alae.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ALAEI_BACKEND_ABI_VERSION 2

/* The primitive ops. Semantics (d = dst, a = src[0], b = src[1]; p = ip[], f = fp[]):
 *
 * FILL          d = f[0]
 * RNG_NORMAL    d[i] = f[0] + f[1] * n(j), j = offset + i (i = flat index), offset = p[2] | p[3] << 32,
 *               seed = p[0] | p[1] << 32; n(j) as alaei_philox_normal() computes it (bit-exact
 *               across backends: a float rounded from a double computation).
 * GEMM          d[b] = f[0] * op(a[b]) @ op(b[b]); op = transpose when p[0] (for a) / p[1] (for b).
 *               Matrices are the two inner dims; the two outer dims are batch dims. Per batch dim,
 *               with e = the largest of a's, b's and d's: a's and b's are e or 1 (broadcast), and
 *               d's is e, or 1 when the products are summed over that dim (the weight gradient of
 *               a convolution is one such GEMM). d is M x N, op(a) M x K, op(b) K x N.
 * ADD SUB MUL DIV  d = a (op) b with broadcasting: every dim of a and b equals d's or is 1.
 * NEG EXP LOG SQRT RSQRT SQUARE SIGMOID SOFTPLUS ABS SIGN  elementwise on a (same shape);
 *               softplus(x) = max(x, 0) + log1p(exp(-|x|)); sign(0) = 0.
 * LEAKY_RELU    d = a > 0 ? a : f[0] * a
 * LEAKY_MASK    d = a > 0 ? 1 : f[0]
 * ADD_LEAKY_RELU  d = LEAKY_RELU(a + b) with slope f[0] (a bias add and the activation in one
 *               pass): a has d's shape, every dim of b is d's or 1; the float sum a + b is
 *               rounded before the activation (the bits of ADD then LEAKY_RELU).
 * SCALE_SHIFT   d = f[0] * a + f[1]
 * CLAMP         d = min(max(a, f[0]), f[1])     (inference only: it has no gradient rule)
 * REDUCE_SUM    d = sum of a over the dims where d has 1 and a does not (every d dim is a's or 1)
 * BROADCAST     d = a repeated along the dims where a has 1 (every a dim is d's or 1)
 * IM2COL        a = [N, C, H, W] -> d = [1, N, C*KH*KW, OH*OW], p = {KH, KW, stride, pad};
 *               OH = (H + 2 pad - KH) / stride + 1 (likewise OW);
 *               d[0, n, (c*KH + i)*KW + j, oy*OW + ox] = a[n, c, oy*stride + i - pad, ox*stride + j - pad]
 *               (0 outside the image).
 * COL2IM        the adjoint of IM2COL: a = [1, N, C*KH*KW, OH*OW] -> d = [N, C, H, W] (d's shape
 *               gives H and W), every column element added back to the pixel it was read from.
 * UPSAMPLE2D    nearest: d[n, c, y, x] = a[n, c, y / p[0], x / p[0]]; d = [N, C, H*f, W*f]
 * SUMPOOL2D     d[n, c, y, x] = sum over the f x f block a[n, c, y*f + i, x*f + j], f = p[0]
 * FIR2D         depthwise correlation with a K x K kernel (K = p[0] <= 4, pad = p[1], kernel
 *               row-major in f[0..K*K-1]): d[n, c, y, x] = sum_ij k[i, j] a[n, c, y + i - pad, x + j - pad]
 *               (0 outside), d = [N, C, H + 2 pad - K + 1, W + 2 pad - K + 1]
 * PERMUTE       d.ne[k] = a.ne[p[k]]; d[i0, i1, i2, i3] = a at index e with e[p[k]] = i_k
 * SLICE         axis = p[0], start = p[1]: d[.., i, ..] = a[.., start + i, ..] (d.ne[axis] <= a.ne[axis])
 * SLICE_ADJ     the adjoint of SLICE: d = 0 except d[.., start + i, ..] = a[.., i, ..]
 * ADAM_STEP     in place on d = parameter p, with a = gradient, b = m, src[2] = v (all same shape):
 *               m = f[1] m + (1 - f[1]) g; v = f[2] v + (1 - f[2]) g^2;
 *               p -= f[0] * m / (sqrt(v) + f[3]), where f[0] already holds the bias-corrected rate.
 *               (not a graph op: the optimizer runs it directly)
 * ADAM_EMA_STEP ADAM_STEP and the update of the smoothed (EMA) copy in one pass: d = parameter p,
 *               a = gradient, b = the moments [1, 1, 2, n] (row 0 m, row 1 v; d and a are
 *               [1, 1, 1, n] or any shape of n elements), src[2] = smoothed copy s (n elements);
 *               the ADAM_STEP of f[0..3], then with the new p and r = (float)f[4]:
 *               t = p - s; t = r * t + 0; s = s + t   (float, in this order: the bits of SUB,
 *               SCALE_SHIFT(r, 0) and ADD run one after the other). Optional: the core runs
 *               ADAM_STEP and those three ops when supports() refuses it.
 *
 * The three convolution ops share p = {KH, KW, stride, pad} and the scale alpha = f[0]; images
 * are x [N, C, H, W], kernels w [O, C, KH, KW], output gradients g [N, O, OH, OW] with
 * OH = (H + 2 pad - KH) / stride + 1 (likewise OW), and taps outside the image read 0. With
 *     T(g, x, w) = alpha * sum g[n, o, oy, ox] w[o, c, i, j] x[n, c, oy*stride + i - pad, ox*stride + j - pad]
 * (sum over n, o, c, oy, ox, i, j) each op is the partial derivative of T in one argument, so
 * each is the adjoint of the others and their gradients are again these three ops:
 * CONV2D        d = dT/dg: a = x, b = w -> d = [N, O, OH, OW] (cross-correlation, as IM2COL + GEMM):
 *               d[n, o, oy, ox] = alpha * sum_{c, i, j} w[o, c, i, j] x[n, c, oy*stride + i - pad, ox*stride + j - pad]
 * CONV2D_BWD_DATA    d = dT/dx (a transposed convolution): a = g, b = w -> d = [N, C, H, W]; d's
 *               shape gives H and W (several sizes share one OH when stride > 1).
 * CONV2D_BWD_WEIGHT  d = dT/dw: a = g, b = x -> d = [O, C, KH, KW] (summed over the batch).
 * These are optional fused ops (kind ALAEI_OPK_FUSED in alae_ops.def): a backend advertises them
 * through supports(), and the planner replaces any it does not support with its IM2COL / GEMM /
 * COL2IM decomposition.
 */
typedef enum alaei_opcode {
#define ALAEI_OP(name, nsrc, kind) ALAEI_OP_##name,
#include "alae_ops.def"
#undef ALAEI_OP
    ALAEI_OP_COUNT
} alaei_opcode;

/* Where an op runs (the KIND column of alae_ops.def). */
typedef enum alaei_op_kind {
    ALAEI_OPK_GRAPH,  /* graph only: inputs and views, never reach a backend */
    ALAEI_OPK_KERNEL, /* every backend runs it */
    ALAEI_OPK_FUSED,  /* optional: the planner decomposes it for a backend that lacks it */
    ALAEI_OPK_DIRECT  /* run by the core outside graphs (ADAM_STEP, ADAM_EMA_STEP) */
} alaei_op_kind;

/* The op's kind, or -1 for an unknown code. */
static inline int alaei_op_kind_of(int32_t code) {
    switch (code) {
#define ALAEI_OP(name, nsrc, kind) \
    case ALAEI_OP_##name: return kind;
#include "alae_ops.def"
#undef ALAEI_OP
    default: return -1;
    }
}

/* The op's exact number of sources, or -1 for an unknown code. */
static inline int alaei_op_nsrc(int32_t code) {
    switch (code) {
#define ALAEI_OP(name, nsrc, kind) \
    case ALAEI_OP_##name: return nsrc;
#include "alae_ops.def"
#undef ALAEI_OP
    default: return -1;
    }
}

/* Ops that exist only in graphs (inputs and views): they never reach a backend. */
static inline int alaei_op_is_graph_only(int32_t code) { return alaei_op_kind_of(code) == ALAEI_OPK_GRAPH; }

/* The fused convolution ops (optional for a backend: see above). */
static inline int alaei_op_is_conv(int32_t code) { return alaei_op_kind_of(code) == ALAEI_OPK_FUSED; }

/* Ops a backend may be handed (every code but the graph-only ones). */
static inline int alaei_op_is_backend_op(int32_t code) {
    int kind = alaei_op_kind_of(code);
    return kind >= 0 && kind != ALAEI_OPK_GRAPH;
}

/* lib/backend/op_table.c: compiled into libalae and into every backend module, it depends on
 * nothing but the C library. */

/* Op name for messages ("GEMM"), or "?" for an unknown code. */
const char *alaei_op_name(int32_t code);

typedef struct alaei_tview {
    void *data;
    int64_t ne[4];
} alaei_tview;

#define ALAEI_OP_MAX_SRC 3
#define ALAEI_OP_MAX_IP 8
#define ALAEI_OP_MAX_FP 16

typedef struct alaei_op {
    int32_t code;
    int32_t nsrc;
    alaei_tview dst;
    alaei_tview src[ALAEI_OP_MAX_SRC];
    int32_t ip[ALAEI_OP_MAX_IP];
    double fp[ALAEI_OP_MAX_FP];
} alaei_op;

/* How a backend records an error: alaei_fail inside libalae, the host's fail() in a module. */
typedef alae_status (*alaei_fail_fn)(alae_status status, const char *func, const char *fmt, ...);

/* More elements than a view may have (graphs stop at 2^40): keeps kernels' index products far
 * from overflow. */
#define ALAEI_VIEW_MAX_NUMEL ((int64_t)1 << 50)

/* The checks every backend runs before an op's kernel: a backend op code, exactly
 * alaei_op_nsrc(code) sources, and views (d, a, b, src[2]) with dims >= 0, at most
 * ALAEI_VIEW_MAX_NUMEL elements and data when not empty. Failures are reported through fail as
 * func's, with messages "<OP>: <what>": ALAE_E_UNSUPPORTED for a code that is not a backend op,
 * ALAE_E_INVALID_ARG for a wrong source count or missing data, ALAE_E_SHAPE for bad dims. The
 * op-specific shape rules stay with each kernel. */
alae_status alaei_op_validate(const alaei_op *op, const char *func, alaei_fail_fn fail);

/* What the core hands a backend module: logging and error reporting, so a
 * backend never prints or exits on its own. */
typedef struct alaei_host_services {
    uint32_t struct_size;
    void (*log)(int32_t level, const char *message);
    /* records the thread-local error message and returns status */
    alaei_fail_fn fail;
} alaei_host_services;

typedef struct alaei_backend_vtbl {
    uint32_t abi_version;   /* ALAEI_BACKEND_ABI_VERSION */
    uint32_t struct_size;   /* sizeof(alaei_backend_vtbl) as the backend was built */
    const char *name;       /* "cpu", "reference", "cuda" */
    int32_t elem_size;      /* bytes per element: 4 (float) or 8 (double) */
    /* devices */
    int32_t (*device_count)(void);
    alae_status (*device_info)(int32_t device, alae_device_info *out);
    /* per-context state: thread pool or stream, BLAS handle, scratch */
    alae_status (*ctx_create)(int32_t device, const alaei_host_services *host, void **bctx);
    void (*ctx_destroy)(void *bctx);
    alae_status (*set_threads)(void *bctx, int32_t threads);
    alae_status (*synchronize)(void *bctx);
    /* memory: device pointers are opaque to the core */
    alae_status (*buf_alloc)(void *bctx, size_t bytes, void **out);
    void (*buf_free)(void *bctx, void *ptr);
    /* host <-> device copies convert between float (host) and the backend's element type */
    alae_status (*write_f32)(void *bctx, void *dst, const float *src, size_t count);
    alae_status (*read_f32)(void *bctx, float *dst, const void *src, size_t count);
    /* device-to-device copy of count elements */
    alae_status (*copy)(void *bctx, void *dst, const void *src, size_t count);
    /* fills count elements with value (zeroing, NaN poisoning) */
    alae_status (*fill)(void *bctx, void *dst, size_t count, double value);
    /* compute */
    int (*supports)(void *bctx, const alaei_op *op);
    alae_status (*run_op)(void *bctx, const alaei_op *op);
    /* ---- optional entries, appended within ABI 1 (a table may end before them: a host reads
     * one only when ALAEI_VTBL_HAS says the table's struct_size covers it and it is non-NULL) ---- */
    /* Context settings beyond threads (ALAE_CTX_TF32, ALAE_CTX_GRAPHS, ALAE_CTX_WINOGRAD): ALAE_OK
     * when applied, ALAE_E_UNSUPPORTED when the backend has no such setting (the core then
     * ignores the value). */
    alae_status (*set_option)(void *bctx, int32_t key, int64_t value);
    /* Runs ops[0..n) in order, with exactly the effect of n run_op calls. key names the caller's
     * recurring sequence (a plan): a backend may record the sequence and replay the recording
     * when called again with the same key and byte-identical ops (CUDA graphs). Descriptors are
     * fully initialised (memset) so that they compare with memcmp. */
    alae_status (*run_ops)(void *bctx, const void *key, const alaei_op *ops, int32_t n);
    /* Drops whatever run_ops recorded for key (the plan is being destroyed). Must not fail. */
    void (*forget)(void *bctx, const void *key);
    /* The context's native stream (cudaStream_t), on which a communicator orders collectives
     * over the context's memory (include/alae/alae_comm.h); NULL when there is none. */
    void *(*native_stream)(void *bctx);
} alaei_backend_vtbl;

/* The size of the table's required part: plugins built before the optional entries existed
 * have struct_size == ALAEI_VTBL_REQUIRED_SIZE and stay loadable. */
#define ALAEI_VTBL_REQUIRED_SIZE offsetof(alaei_backend_vtbl, set_option)
/* Whether table vt has the optional entry `field` (covered by its struct_size and non-NULL). */
#define ALAEI_VTBL_HAS(vt, field)                                                              \
    ((vt)->struct_size >= offsetof(alaei_backend_vtbl, field) + sizeof((vt)->field) &&         \
     (vt)->field != NULL)

/* The built-in CPU backend (backends/cpu), registered as device 0. */
const alaei_backend_vtbl *alaei_cpu_backend(void);

/* The double-precision reference backend (plain loops): the test oracle. It lives in a separate
 * static library (alae_reference) that only the tests link. */
const alaei_backend_vtbl *alaei_reference_backend(void);

/* The counter-based normal generator every backend shares: Philox4x32-10 keyed by seed, at
 * counter j / 2; Box-Muller on the first two words; element j takes the cosine (even j) or the
 * sine (odd j) branch. Computed in double, rounded to float. (lib/core/philox.c) */
float alaei_philox_normal(uint64_t seed, uint64_t j);

/* Helpers for kernels */
static inline int64_t alaei_numel4(const int64_t ne[4]) { return ne[0] * ne[1] * ne[2] * ne[3]; }

#ifdef __cplusplus
}
#endif

#endif /* ALAE_BACKEND_IMPL_H */
