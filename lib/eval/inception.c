/* alae_feature_net: the Inception-v3 network of FID (the `pt_inception-2015-12-05` weights of
 * pytorch-fid, read from a user-supplied safetensors file or pytorch-fid's own .pth) run as a graph of the library's own
 * ops, so it works on every backend. The architecture is fixed by the tensor names; the channel
 * counts come from the tensors' shapes (so a narrow network with the same names runs too, which
 * the tests use). Batch normalisation is folded into the convolutions at load time.
 *
 * Ops the op table lacks are composed: 3x3 max pooling as the maximum of the 9 IM2COL taps
 * (max(a, b) = (a + b + |a - b|) / 2; the padded pooling only ever sees ReLU outputs, so zero
 * padding is as good as -inf), average pooling without the padded taps as the tap sum over the
 * count of real taps, and the 1x7 / 7x1 / 1x3 / 3x1 convolutions as a convolution padded equally
 * on both axes whose extra rows or columns are sliced away. docs/evaluation.md lists the names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "internal/alae_graph.h"
#include "io/safetensors.h"
#include "io/torch_file.h"

#define FN_SIDE 299      /* the network's input size; images are resized to it */
#define FN_BATCH 8       /* images per run */
#define FN_BN_EPS 1e-3   /* the batch-norm epsilon of the FID network */
#define FN_MAX_LAYERS 128
#define FN_MAX_WIDTH 65536

typedef struct fn_layer {
    char name[40];
    int64_t out_c, in_c, kh, kw;
    void *w, *b; /* device memory: the folded weight [O, C, KH, KW] and bias [O] */
} fn_layer;

struct alae_feature_net {
    alae_context *ctx;
    fn_layer layers[FN_MAX_LAYERS];
    int32_t n_layers;
    struct fn_source *file; /* the weights, open only while loading */
    int64_t dim;
    /* the planned graph for `batch` images */
    int64_t batch;
    alaei_graph *g;
    alaei_plan *plan;
    int32_t input, output;
    int32_t w_node[FN_MAX_LAYERS], b_node[FN_MAX_LAYERS];
    void *in_buf;
};

/* ---- where the weights come from: safetensors, or pytorch-fid's own .pth (a state dict) ---- */

typedef struct fn_source {
    alaei_st_file *st;
    alaei_pth *pth;
    const alaei_pk_value *dict;
} fn_source;

static int is_torch_path(const char *path) {
    size_t n = strlen(path);
    return (n > 4 && strcmp(path + n - 4, ".pth") == 0) || (n > 3 && strcmp(path + n - 3, ".pt") == 0);
}

static alae_status source_open(const char *path, fn_source *src) {
    memset(src, 0, sizeof *src);
    if (!is_torch_path(path)) return alaei_st_open(path, &src->st);
    alae_status s = alaei_pth_open(path, &src->pth);
    if (s != ALAE_OK) return s;
    src->dict = alaei_pth_root(src->pth);
    if (src->dict && src->dict->kind == ALAEI_PK_DICT) return ALAE_OK;
    alaei_pth_close(src->pth);
    src->pth = NULL;
    return alaei_fail(ALAE_E_FORMAT, "alae_feature_net_load", "the file does not hold a state dict (name -> tensor)");
}

static void source_close(fn_source *src) {
    alaei_st_free(src->st);
    alaei_pth_close(src->pth);
}

/* The shape of tensor `name` (at most 4 dims); 0 when the file has no such floating tensor. */
static int source_shape(const fn_source *src, const char *name, int32_t *ndim, int64_t shape[4]) {
    if (src->st) {
        const alaei_st_tensor *t = alaei_st_find(src->st, name);
        if (!t || t->ndim > 4) return 0;
        *ndim = t->ndim;
        memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
        return 1;
    }
    const alaei_pk_value *v = alaei_pk_dict_get(src->dict, name);
    if (!v || v->kind != ALAEI_PK_TENSOR || v->u.tensor->ndim > 4) return 0;
    *ndim = v->u.tensor->ndim;
    memcpy(shape, v->u.tensor->shape, (size_t)*ndim * sizeof *shape);
    return 1;
}

/* Reads tensor `name`, which must have exactly (ndim, shape), as float32. */
static alae_status source_read(fn_source *src, const char *name, int32_t ndim, const int64_t *shape, float *dst) {
    if (src->st) return alaei_st_get_f32(src->st, name, ndim, shape, dst);
    int32_t have_ndim = 0;
    int64_t have[4] = {0, 0, 0, 0};
    if (!source_shape(src, name, &have_ndim, have))
        return alaei_fail(ALAE_E_FORMAT, "alae_feature_net_load", "the file has no tensor '%s' (docs/evaluation.md lists the names)", name);
    if (have_ndim != ndim || memcmp(have, shape, (size_t)ndim * sizeof *shape) != 0)
        return alaei_fail(ALAE_E_SHAPE, "alae_feature_net_load", "tensor '%s' has another shape than its layer needs", name);
    return alaei_pth_read_f32(src->pth, alaei_pk_dict_get(src->dict, name), dst, name);
}

/* ---- the layers ---- */

static alae_status read_bn_folded(fn_source *f, const char *name, int64_t out_c, int64_t per_out, float *w,
                                  float *b) {
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *bn = malloc((size_t)(4 * out_c) * sizeof *bn);
    if (!bn) return alaei_fail(ALAE_E_NOMEM, "alae_feature_net_load", "no memory for layer '%s'", name);
    alae_status s = ALAE_OK;
    for (int k = 0; s == ALAE_OK && k < 4; k++) {
        char key[96];
        snprintf(key, sizeof key, "%s.bn.%s", name, parts[k]);
        s = source_read(f, key, 1, &out_c, bn + k * out_c);
    }
    for (int64_t o = 0; s == ALAE_OK && o < out_c; o++) {
        double var = bn[3 * out_c + o];
        if (!(var >= 0) || !isfinite(var))
            s = alaei_fail(ALAE_E_FORMAT, "alae_feature_net_load", "'%s.bn.running_var' holds %g", name, var);
        double scale = (double)bn[o] / sqrt(var + FN_BN_EPS);
        for (int64_t k = 0; k < per_out; k++) w[o * per_out + k] = (float)((double)w[o * per_out + k] * scale);
        b[o] = (float)((double)bn[out_c + o] - (double)bn[2 * out_c + o] * scale);
    }
    free(bn);
    return s;
}

/* Reads `name`.conv.weight [O, in_c, kh, kw] and its batch norm from the file, folds and uploads. */
static alae_status load_layer(alae_feature_net *net, const char *name, int64_t in_c, int64_t kh, int64_t kw,
                              fn_layer *out) {
    const char *func = "alae_feature_net_load";
    char key[96];
    snprintf(key, sizeof key, "%s.conv.weight", name);
    int32_t ndim = 0;
    int64_t shape[4] = {0, 0, 0, 0};
    if (!source_shape(net->file, key, &ndim, shape))
        return alaei_fail(ALAE_E_FORMAT, func, "the file has no tensor '%s' (docs/evaluation.md lists the names)", key);
    if (ndim != 4 || shape[0] < 1 || shape[0] > FN_MAX_WIDTH || shape[1] != in_c || shape[2] != kh || shape[3] != kw)
        return alaei_fail(ALAE_E_SHAPE, func, "tensor '%s' must be [O, %lld, %lld, %lld] with O 1..%d", key,
                          (long long)in_c, (long long)kh, (long long)kw, FN_MAX_WIDTH);
    int64_t out_c = shape[0], per_out = in_c * kh * kw;
    float *w = malloc((size_t)(out_c * per_out) * sizeof *w), *b = malloc((size_t)out_c * sizeof *b);
    alae_status s = w && b ? ALAE_OK : alaei_fail(ALAE_E_NOMEM, func, "no memory for layer '%s'", name);
    if (s == ALAE_OK) s = source_read(net->file, key, 4, shape, w);
    if (s == ALAE_OK) s = read_bn_folded(net->file, name, out_c, per_out, w, b);
    *out = (fn_layer){.out_c = out_c, .in_c = in_c, .kh = kh, .kw = kw};
    snprintf(out->name, sizeof out->name, "%s", name);
    if (s == ALAE_OK) s = alaei_device_alloc(net->ctx, (size_t)(out_c * per_out), &out->w);
    if (s == ALAE_OK) s = alaei_device_alloc(net->ctx, (size_t)out_c, &out->b);
    if (s == ALAE_OK) s = alaei_device_upload(net->ctx, out->w, w, (size_t)(out_c * per_out));
    if (s == ALAE_OK) s = alaei_device_upload(net->ctx, out->b, b, (size_t)out_c);
    free(w);
    free(b);
    return s;
}

/* The message without the leading "function: " names that calls on the way added. */
static const char *bare_message(const char *msg) {
    for (;;) {
        const char *colon = strstr(msg, ": ");
        int is_name = colon && colon > msg && strncmp(msg, "alae", 4) == 0;
        for (const char *c = msg; is_name && c < colon; c++)
            if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))) is_name = 0;
        if (!is_name) return msg;
        msg = colon + 2;
    }
}

/* The index of layer `name`, loading it while the file is open; -1 with the graph failed. */
static int32_t find_layer(alae_feature_net *net, alaei_graph *g, const char *name, int64_t in_c, int64_t kh, int64_t kw) {
    for (int32_t i = 0; i < net->n_layers; i++)
        if (strcmp(net->layers[i].name, name) == 0) return i;
    if (!net->file || net->n_layers == FN_MAX_LAYERS)
        return alaei_graph_set_error(g, ALAE_E_INTERNAL, "feature net: layer '%s' was not loaded", name);
    fn_layer *l = &net->layers[net->n_layers];
    alae_status s = load_layer(net, name, in_c, kh, kw, l);
    if (s != ALAE_OK) {
        alaei_device_free(net->ctx, l->w);
        alaei_device_free(net->ctx, l->b);
        return alaei_graph_set_error(g, s, "%s", bare_message(alae_last_error()));
    }
    return net->n_layers++;
}

/* ---- the graph ---- */

typedef struct fn_build {
    alae_feature_net *net;
    alaei_graph *g;
} fn_build;

static const alaei_node *shape_of(fn_build *b, int32_t x) { return alaei_graph_node(b->g, x); }

/* conv (kh x kw, stride, padding ph / pw) + folded batch norm + ReLU: a BasicConv2d. */
static int32_t conv(fn_build *b, int32_t x, const char *name, int32_t kh, int32_t kw, int32_t stride, int32_t ph,
                    int32_t pw) {
    if (x < 0 || alaei_graph_status(b->g) != ALAE_OK) return -1;
    const alaei_node *X = shape_of(b, x);
    int64_t h = X->ne[2], wd = X->ne[3];
    int32_t i = find_layer(b->net, b->g, name, X->ne[1], kh, kw);
    if (i < 0) return -1;
    fn_layer *l = &b->net->layers[i];
    int64_t w_shape[4] = {l->out_c, l->in_c, kh, kw};
    b->net->w_node[i] = alaei_input(b->g, 4, w_shape, name);
    b->net->b_node[i] = alaei_input(b->g, 1, &l->out_c, name);
    int32_t pad = ph > pw ? ph : pw;
    int32_t y = alaei_conv2d(b->g, x, b->net->w_node[i], b->net->b_node[i], 1.0, stride, pad);
    if (ph < pad) y = alaei_slice(b->g, y, 2, pad - ph, (h + 2 * ph - kh) / stride + 1);
    if (pw < pad) y = alaei_slice(b->g, y, 3, pad - pw, (wd + 2 * pw - kw) / stride + 1);
    return alaei_leaky_relu(b->g, y, 0.0);
}

static int32_t conv_sq(fn_build *b, int32_t x, const char *block, const char *layer, int32_t k, int32_t stride,
                       int32_t pad) {
    char name[40];
    snprintf(name, sizeof name, "%s%s%s", block, *block ? "." : "", layer);
    return conv(b, x, name, k, k, stride, pad, pad);
}

/* 1 x k then k x 1 (or the reverse) convolutions of a factorised branch, "same" padding. */
static int32_t conv_row(fn_build *b, int32_t x, const char *block, const char *layer, int32_t k) {
    char name[40];
    snprintf(name, sizeof name, "%s.%s", block, layer);
    return conv(b, x, name, 1, k, 1, 0, k / 2);
}

static int32_t conv_col(fn_build *b, int32_t x, const char *block, const char *layer, int32_t k) {
    char name[40];
    snprintf(name, sizeof name, "%s.%s", block, layer);
    return conv(b, x, name, k, 1, 1, k / 2, 0);
}

/* The 9 taps of 3x3 windows: [N, C, 9, OH * OW]. */
static int32_t taps3x3(fn_build *b, int32_t x, int32_t stride, int32_t pad) {
    const alaei_node *X = shape_of(b, x);
    int64_t oh = (X->ne[2] + 2 * pad - 3) / stride + 1, ow = (X->ne[3] + 2 * pad - 3) / stride + 1;
    int64_t ne[4] = {X->ne[0], X->ne[1], 9, oh * ow};
    return alaei_reshape4(b->g, alaei_im2col(b->g, x, 3, 3, stride, pad), ne);
}

static int32_t to_image(fn_build *b, int32_t flat, int64_t n, int64_t c, int64_t in_h, int64_t in_w, int32_t stride,
                        int32_t pad) {
    int64_t ne[4] = {n, c, (in_h + 2 * pad - 3) / stride + 1, (in_w + 2 * pad - 3) / stride + 1};
    return alaei_reshape4(b->g, flat, ne);
}

static int32_t max_pool3x3(fn_build *b, int32_t x, int32_t stride, int32_t pad) {
    if (x < 0 || alaei_graph_status(b->g) != ALAE_OK) return -1;
    const alaei_node X = *shape_of(b, x);
    int32_t taps = taps3x3(b, x, stride, pad), m = alaei_slice(b->g, taps, 2, 0, 1);
    for (int64_t k = 1; k < 9; k++) {
        int32_t t = alaei_slice(b->g, taps, 2, k, 1);
        int32_t sum = alaei_add(b->g, m, t), gap = alaei_unary(b->g, ALAEI_OP_ABS, alaei_sub(b->g, m, t));
        m = alaei_scale_shift(b->g, alaei_add(b->g, sum, gap), 0.5, 0.0);
    }
    return to_image(b, m, X.ne[0], X.ne[1], X.ne[2], X.ne[3], stride, pad);
}

/* 3x3 average pooling, stride 1, padding 1, the padded taps not counted. */
static int32_t avg_pool3x3(fn_build *b, int32_t x) {
    if (x < 0 || alaei_graph_status(b->g) != ALAE_OK) return -1;
    const alaei_node X = *shape_of(b, x);
    int64_t sum_ne[4] = {X.ne[0], X.ne[1], 1, X.ne[2] * X.ne[3]}, one_ne[4] = {1, 1, X.ne[2], X.ne[3]};
    int64_t count_ne[4] = {1, 1, 1, X.ne[2] * X.ne[3]};
    int32_t sum = alaei_reduce_sum(b->g, taps3x3(b, x, 1, 1), sum_ne);
    int32_t count = alaei_reduce_sum(b->g, taps3x3(b, alaei_fill(b->g, 4, one_ne, 1.0), 1, 1), count_ne);
    return to_image(b, alaei_div(b->g, sum, count), X.ne[0], X.ne[1], X.ne[2], X.ne[3], 1, 1);
}

static int32_t concat(fn_build *b, int32_t n, const int32_t *parts) {
    int32_t y = parts[0];
    for (int32_t i = 1; i < n; i++) y = alaei_concat(b->g, y, parts[i], 1);
    return y;
}

/* Mixed_5b/5c/5d (InceptionA). */
static int32_t block_a(fn_build *b, int32_t x, const char *n) {
    int32_t p[4];
    p[0] = conv_sq(b, x, n, "branch1x1", 1, 1, 0);
    p[1] = conv_sq(b, conv_sq(b, x, n, "branch5x5_1", 1, 1, 0), n, "branch5x5_2", 5, 1, 2);
    int32_t d = conv_sq(b, conv_sq(b, x, n, "branch3x3dbl_1", 1, 1, 0), n, "branch3x3dbl_2", 3, 1, 1);
    p[2] = conv_sq(b, d, n, "branch3x3dbl_3", 3, 1, 1);
    p[3] = conv_sq(b, avg_pool3x3(b, x), n, "branch_pool", 1, 1, 0);
    return concat(b, 4, p);
}

/* Mixed_6a (InceptionB): the grid 35 -> 17. */
static int32_t block_b(fn_build *b, int32_t x, const char *n) {
    int32_t p[3];
    p[0] = conv_sq(b, x, n, "branch3x3", 3, 2, 0);
    int32_t d = conv_sq(b, conv_sq(b, x, n, "branch3x3dbl_1", 1, 1, 0), n, "branch3x3dbl_2", 3, 1, 1);
    p[1] = conv_sq(b, d, n, "branch3x3dbl_3", 3, 2, 0);
    p[2] = max_pool3x3(b, x, 2, 0);
    return concat(b, 3, p);
}

/* Mixed_6b..6e (InceptionC): factorised 7x7 convolutions. */
static int32_t block_c(fn_build *b, int32_t x, const char *n) {
    int32_t p[4];
    p[0] = conv_sq(b, x, n, "branch1x1", 1, 1, 0);
    int32_t s = conv_row(b, conv_sq(b, x, n, "branch7x7_1", 1, 1, 0), n, "branch7x7_2", 7);
    p[1] = conv_col(b, s, n, "branch7x7_3", 7);
    int32_t d = conv_col(b, conv_sq(b, x, n, "branch7x7dbl_1", 1, 1, 0), n, "branch7x7dbl_2", 7);
    d = conv_col(b, conv_row(b, d, n, "branch7x7dbl_3", 7), n, "branch7x7dbl_4", 7);
    p[2] = conv_row(b, d, n, "branch7x7dbl_5", 7);
    p[3] = conv_sq(b, avg_pool3x3(b, x), n, "branch_pool", 1, 1, 0);
    return concat(b, 4, p);
}

/* Mixed_7a (InceptionD): the grid 17 -> 8. */
static int32_t block_d(fn_build *b, int32_t x, const char *n) {
    int32_t p[3];
    p[0] = conv_sq(b, conv_sq(b, x, n, "branch3x3_1", 1, 1, 0), n, "branch3x3_2", 3, 2, 0);
    int32_t s = conv_row(b, conv_sq(b, x, n, "branch7x7x3_1", 1, 1, 0), n, "branch7x7x3_2", 7);
    s = conv_col(b, s, n, "branch7x7x3_3", 7);
    p[1] = conv_sq(b, s, n, "branch7x7x3_4", 3, 2, 0);
    p[2] = max_pool3x3(b, x, 2, 0);
    return concat(b, 3, p);
}

/* Mixed_7b / 7c (InceptionE): 1x3 and 3x1 side by side; FID's 7b pools by average (padded taps
 * not counted), its 7c by maximum. */
static int32_t block_e(fn_build *b, int32_t x, const char *n, int max_pool) {
    int32_t p[4], pair[2];
    p[0] = conv_sq(b, x, n, "branch1x1", 1, 1, 0);
    int32_t s = conv_sq(b, x, n, "branch3x3_1", 1, 1, 0);
    pair[0] = conv_row(b, s, n, "branch3x3_2a", 3);
    pair[1] = conv_col(b, s, n, "branch3x3_2b", 3);
    p[1] = concat(b, 2, pair);
    int32_t d = conv_sq(b, conv_sq(b, x, n, "branch3x3dbl_1", 1, 1, 0), n, "branch3x3dbl_2", 3, 1, 1);
    pair[0] = conv_row(b, d, n, "branch3x3dbl_3a", 3);
    pair[1] = conv_col(b, d, n, "branch3x3dbl_3b", 3);
    p[2] = concat(b, 2, pair);
    p[3] = conv_sq(b, max_pool ? max_pool3x3(b, x, 1, 1) : avg_pool3x3(b, x), n, "branch_pool", 1, 1, 0);
    return concat(b, 4, p);
}

/* images [N, 3, 299, 299] in [-1, 1] -> pool3 features [N, D]. */
static int32_t build_network(fn_build *b, int32_t x) {
    x = conv_sq(b, x, "", "Conv2d_1a_3x3", 3, 2, 0);
    x = conv_sq(b, x, "", "Conv2d_2a_3x3", 3, 1, 0);
    x = conv_sq(b, x, "", "Conv2d_2b_3x3", 3, 1, 1);
    x = max_pool3x3(b, x, 2, 0);
    x = conv_sq(b, x, "", "Conv2d_3b_1x1", 1, 1, 0);
    x = conv_sq(b, x, "", "Conv2d_4a_3x3", 3, 1, 0);
    x = max_pool3x3(b, x, 2, 0);
    x = block_a(b, block_a(b, block_a(b, x, "Mixed_5b"), "Mixed_5c"), "Mixed_5d");
    x = block_b(b, x, "Mixed_6a");
    x = block_c(b, block_c(b, x, "Mixed_6b"), "Mixed_6c");
    x = block_c(b, block_c(b, x, "Mixed_6d"), "Mixed_6e");
    x = block_d(b, x, "Mixed_7a");
    x = block_e(b, block_e(b, x, "Mixed_7b", 0), "Mixed_7c", 1);
    if (x < 0 || alaei_graph_status(b->g) != ALAE_OK) return -1;
    const alaei_node X = *shape_of(b, x);
    int64_t pooled[4] = {X.ne[0], X.ne[1], 1, 1}, flat[2] = {X.ne[0], X.ne[1]};
    int32_t mean = alaei_scale_shift(b->g, alaei_reduce_sum(b->g, x, pooled), 1.0 / (double)(X.ne[2] * X.ne[3]), 0.0);
    return alaei_reshape(b->g, mean, 2, flat);
}

static void drop_plan(alae_feature_net *net) {
    alaei_plan_destroy(net->plan);
    alaei_graph_destroy(net->g);
    alaei_device_free(net->ctx, net->in_buf);
    net->plan = NULL;
    net->g = NULL;
    net->in_buf = NULL;
    net->batch = 0;
}

/* Builds, plans and binds the network for `batch` images (loading the layers on the first build). */
static alae_status prepare(alae_feature_net *net, int64_t batch, const char *func) {
    if (net->batch == batch) return ALAE_OK;
    drop_plan(net);
    net->g = alaei_graph_create();
    if (!net->g) return alaei_fail(ALAE_E_NOMEM, func, "no memory for the network's graph");
    for (int32_t i = 0; i < FN_MAX_LAYERS; i++) net->w_node[i] = net->b_node[i] = -1;
    fn_build b = {net, net->g};
    int64_t in_shape[4] = {batch, 3, FN_SIDE, FN_SIDE};
    net->input = alaei_input(net->g, 4, in_shape, "images");
    net->output = build_network(&b, net->input);
    alae_status s = alaei_graph_status(net->g) == ALAE_OK ? alaei_plan_create(net->ctx, net->g, 1, &net->output, &net->plan)
                                                          : alaei_graph_fail_public(net->g, func);
    for (int32_t i = 0; s == ALAE_OK && i < net->n_layers; i++) {
        s = alaei_plan_bind(net->plan, net->w_node[i], net->layers[i].w);
        if (s == ALAE_OK) s = alaei_plan_bind(net->plan, net->b_node[i], net->layers[i].b);
    }
    if (s == ALAE_OK) s = alaei_device_alloc(net->ctx, (size_t)(batch * 3 * FN_SIDE * FN_SIDE), &net->in_buf);
    if (s == ALAE_OK) s = alaei_plan_bind(net->plan, net->input, net->in_buf);
    if (s == ALAE_OK) {
        net->batch = batch;
        net->dim = alaei_graph_node(net->g, net->output)->ne[3]; /* [1, 1, N, D] */
    } else {
        drop_plan(net);
    }
    return s;
}

/* ---- the public entry points ---- */

ALAE_API void alae_feature_net_destroy(alae_feature_net *net) {
    if (!net) return;
    drop_plan(net);
    for (int32_t i = 0; i < net->n_layers; i++) {
        alaei_device_free(net->ctx, net->layers[i].w);
        alaei_device_free(net->ctx, net->layers[i].b);
    }
    free(net);
}

ALAE_API alae_status alae_feature_net_load(alae_context *ctx, const char *path_utf8, alae_feature_net **out) {
    const char *func = __func__;
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(out);
    fn_source src;
    alae_status s = source_open(path_utf8, &src);
    if (s != ALAE_OK) return alaei_fail_as(s, func, path_utf8);
    alae_feature_net *net = calloc(1, sizeof *net);
    if (!net) {
        source_close(&src);
        return alaei_fail(ALAE_E_NOMEM, func, "no memory");
    }
    net->ctx = ctx;
    net->file = &src;
    s = prepare(net, 1, func);
    net->file = NULL;
    source_close(&src);
    if (s != ALAE_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", bare_message(alae_last_error()));
        alae_feature_net_destroy(net);
        return alaei_fail(s, func, "%s: %s", path_utf8, message);
    }
    *out = net;
    return ALAE_OK;
}

ALAE_API int64_t alae_feature_net_dim(const alae_feature_net *net) { return net ? net->dim : 0; }

/* Bilinear resize (align_corners false, as PyTorch's interpolate) of one channel to side x side. */
static void resize_channel(const float *src, int32_t size, double lo, double hi, float *dst) {
    double ratio = (double)size / FN_SIDE, to_unit = 2.0 / (hi - lo);
    for (int32_t r = 0; r < FN_SIDE; r++) {
        double sy = fmax(((double)r + 0.5) * ratio - 0.5, 0.0);
        int32_t y0 = (int32_t)sy, y1 = y0 + 1 < size ? y0 + 1 : size - 1;
        double fy = sy - y0;
        for (int32_t c = 0; c < FN_SIDE; c++) {
            double sx = fmax(((double)c + 0.5) * ratio - 0.5, 0.0);
            int32_t x0 = (int32_t)sx, x1 = x0 + 1 < size ? x0 + 1 : size - 1;
            double fx = sx - x0;
            double top = src[y0 * size + x0] * (1 - fx) + src[y0 * size + x1] * fx;
            double bottom = src[y1 * size + x0] * (1 - fx) + src[y1 * size + x1] * fx;
            dst[r * FN_SIDE + c] = (float)((top * (1 - fy) + bottom * fy - lo) * to_unit - 1.0);
        }
    }
}

static alae_status check_images(const char *func, const float *images, int64_t n, int32_t channels, int32_t size,
                                double lo, double hi) {
    if (n < 1 || n > (INT64_C(1) << 24) || (channels != 1 && channels != 3) || size < 1 || size > 4096)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "%lld images of %d channels, %d px: need n >= 1, 1 or 3 channels, 1..4096 px",
                          (long long)n, (int)channels, (int)size);
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the pixel range [%g, %g] is not a finite interval", lo, hi);
    int64_t count = n * channels * (int64_t)size * size;
    for (int64_t k = 0; k < count; k++)
        if (!isfinite(images[k])) return alaei_fail(ALAE_E_INVALID_ARG, func, "image %lld holds a non-finite pixel",
                                                    (long long)(k / ((int64_t)channels * size * size)));
    return ALAE_OK;
}

ALAE_API alae_status alae_feature_net_features(alae_feature_net *net, const float *images, int64_t n, int32_t channels,
                                               int32_t size, double lo, double hi, float *features) {
    const char *func = __func__;
    alaei_clear_error();
    ALAEI_CHECK_ARG(net);
    ALAEI_CHECK_ARG(images);
    ALAEI_CHECK_ARG(features);
    alae_status s = check_images(func, images, n, channels, size, lo, hi);
    if (s != ALAE_OK) return s;
    int64_t batch = n < FN_BATCH ? n : FN_BATCH, per_image = (int64_t)channels * size * size;
    const int64_t plane = (int64_t)FN_SIDE * FN_SIDE;
    s = prepare(net, batch, func);
    float *host = s == ALAE_OK ? malloc((size_t)(batch * 3 * plane) * sizeof *host) : NULL;
    float *feat = s == ALAE_OK ? malloc((size_t)(batch * net->dim) * sizeof *feat) : NULL;
    if (s == ALAE_OK && (!host || !feat)) s = alaei_fail(ALAE_E_NOMEM, func, "no memory for a batch of %lld images", (long long)batch);
    for (int64_t at = 0; s == ALAE_OK && at < n; at += batch) {
        int64_t k = n - at < batch ? n - at : batch;
        memset(host, 0, (size_t)(batch * 3 * plane) * sizeof *host);
        for (int64_t i = 0; i < k; i++)
            for (int32_t c = 0; c < 3; c++)
                resize_channel(images + (at + i) * per_image + (channels == 3 ? c : 0) * (int64_t)size * size, size, lo,
                               hi, host + (i * 3 + c) * plane);
        s = alaei_device_upload(net->ctx, net->in_buf, host, (size_t)(batch * 3 * plane));
        if (s == ALAE_OK) s = alaei_plan_run(net->plan);
        if (s == ALAE_OK)
            s = alaei_device_download(net->ctx, feat, alaei_plan_data(net->plan, net->output), (size_t)(batch * net->dim));
        if (s == ALAE_OK) memcpy(features + at * net->dim, feat, (size_t)(k * net->dim) * sizeof *feat);
    }
    free(host);
    free(feat);
    return s;
}
