/* The StyleALAE building blocks against tests/fixtures/blocks.safetensors (a copy of
 * shared/fixtures/blocks.safetensors; README section 10): pixel norm, style modulation, nearest
 * 2x upscale, 2x2 average downscale, blur (kernel and output), minibatch stddev, the fused
 * down / up resampling convs (their 4x4 kernels and outputs), the encoder's and the
 * generator's instance norms, the nearest resizes (index tables and outputs), softplus and
 * leaky ReLU. Tolerance max |diff| <= 1e-6 max(1, max |ref|); exact where the README says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"
#include "parity_util.h"

#define BLOCK_TOL 1e-6

static alaei_st_file *fx;
static alae_context *ctx;

static void setup(void) {
    ck_assert_alae_ok(alaei_st_open(ALAE_FIXTURE_DIR "/blocks.safetensors", &fx));
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
}

static void teardown(void) {
    alae_context_destroy(ctx);
    alaei_st_free(fx);
}

/* A block of up to two fixture inputs: y = f(g, a, b) (b = -1 with one input). */
typedef int32_t (*block_fn)(alaei_graph *g, int32_t a, int32_t b);

static void check_block(const char *in_a, const char *in_b, block_fn f, const char *out, double tol) {
    alaei_graph *g = alaei_graph_create();
    const char *names[2] = {in_a, in_b};
    int32_t nodes[2] = {-1, -1};
    void *dev[2] = {NULL, NULL};
    for (int k = 0; k < 2 && names[k]; k++) {
        const alaei_st_tensor *t = pu_need(fx, names[k]);
        nodes[k] = alaei_input(g, t->ndim, t->shape, names[k]);
        float *host = pu_fixture_f32(fx, names[k], NULL);
        dev[k] = pu_upload(ctx, host, t->numel);
        free(host);
    }
    int32_t y = f(g, nodes[0], nodes[1]);
    ck_assert_alae_ok(alaei_graph_status(g));
    const alaei_st_tensor *ref = pu_need(fx, out);
    ck_assert_int_eq(alaei_graph_numel(g, y), (int64_t)ref->numel);
    alaei_plan *plan;
    ck_assert_alae_ok(alaei_plan_create(ctx, g, 1, &y, &plan));
    for (int k = 0; k < 2; k++)
        if (dev[k]) ck_assert_alae_ok(alaei_plan_bind(plan, nodes[k], dev[k]));
    ck_assert_alae_ok(alaei_plan_run(plan));
    pu_expect_device_close(ctx, fx, "blocks", out, alaei_plan_data(plan, y), out, tol);
    alaei_plan_destroy(plan);
    for (int k = 0; k < 2; k++)
        if (dev[k]) ctx->backend->buf_free(ctx->bctx, dev[k]);
    alaei_graph_destroy(g);
}

static int32_t pixel_norm(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_pixel_norm(g, a);
}
static int32_t style_mod(alaei_graph *g, int32_t x, int32_t style) { return alaei_blk_style_mod(g, x, style); }
static int32_t upscale(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_upscale2d(g, a);
}
static int32_t downscale(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_downscale2d(g, a);
}
static int32_t blur(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_blur(g, a);
}
static int32_t minibatch_stddev(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_minibatch_stddev(g, a, 4);
}
static int32_t down_fused(alaei_graph *g, int32_t x, int32_t w) { return alaei_blk_conv_down_fused(g, x, w); }
static int32_t up_fused(alaei_graph *g, int32_t x, int32_t w) { return alaei_blk_conv_up_fused(g, x, w); }
static int32_t down_kernel(alaei_graph *g, int32_t w, int32_t b) {
    (void)b;
    return alaei_scale_shift(g, alaei_blk_fused_kernel(g, w), 0.25, 0.0);
}
static int32_t up_kernel(alaei_graph *g, int32_t w, int32_t b) {
    (void)b;
    return alaei_blk_fused_kernel(g, w);
}
static int32_t norm_enc(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_instance_norm(g, a, 1e-5, NULL, NULL);
}
static int32_t norm_dec(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_blk_instance_norm(g, a, 1e-8, NULL, NULL);
}
static int32_t softplus(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_unary(g, ALAEI_OP_SOFTPLUS, a);
}
static int32_t leaky_relu(alaei_graph *g, int32_t a, int32_t b) {
    (void)b;
    return alaei_leaky_relu(g, a, 0.2);
}

START_TEST(elementwise_and_normalisation_blocks_match) {
    check_block("pixel_norm.in", NULL, pixel_norm, "pixel_norm.out", BLOCK_TOL);
    check_block("style_mod.x", "style_mod.style", style_mod, "style_mod.out", BLOCK_TOL);
    check_block("instance_norm.in", NULL, norm_enc, "instance_norm_enc.out", BLOCK_TOL);
    check_block("instance_norm.in", NULL, norm_dec, "instance_norm_dec.out", BLOCK_TOL);
    check_block("softplus.in", NULL, softplus, "softplus.out", BLOCK_TOL);
    check_block("leaky_relu.in", NULL, leaky_relu, "leaky_relu.out", BLOCK_TOL);
    check_block("minibatch_stddev.in", NULL, minibatch_stddev, "minibatch_stddev.out", BLOCK_TOL);
}
END_TEST

START_TEST(resampling_blocks_match) {
    check_block("upscale2d.in", NULL, upscale, "upscale2d.out", 0.0);
    check_block("downscale2d.in", NULL, downscale, "downscale2d.out", BLOCK_TOL);
    check_block("blur.in", NULL, blur, "blur.out", BLOCK_TOL);
    check_block("conv_down_fused.weight", NULL, down_kernel, "conv_down_fused.kernel4", BLOCK_TOL);
    check_block("conv_down_fused.in", "conv_down_fused.weight", down_fused, "conv_down_fused.out", BLOCK_TOL);
    check_block("conv_up_fused.weight", NULL, up_kernel, "conv_up_fused.kernel4", BLOCK_TOL);
    check_block("conv_up_fused.in", "conv_up_fused.weight", up_fused, "conv_up_fused.out", BLOCK_TOL);
    pu_print_summary("blocks");
}
END_TEST

/* The blur buffer of the reference equals the kernel libalae's FIR2D applies, exactly. */
START_TEST(blur_kernel_is_the_reference_buffer) {
    size_t n;
    float *w = pu_fixture_f32(fx, "blur.weight", &n);
    static const float k[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
    for (size_t i = 0; i < n; i++) ck_assert_float_eq(w[i], k[i % 9] / 16.0f);
    free(w);
}
END_TEST

/* F.interpolate(mode nearest) index tables, and the resizes they make, exactly. */
START_TEST(nearest_resizes_match_exactly) {
    static const struct {
        const char *name;
        int64_t in, out;
    } cases[] = {{"interp_nearest_28_to_32", 28, 32}, {"interp_nearest_32_to_28", 32, 28}, {"interp_nearest_8_to_16", 8, 16}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        snprintf(name, sizeof name, "%s.src_index", cases[c].name);
        const alaei_st_tensor *idx = pu_need(fx, name);
        ck_assert_int_eq((int64_t)idx->numel, cases[c].out);
        int64_t *src = malloc((size_t)cases[c].out * sizeof(int64_t));
        for (int64_t d = 0; d < cases[c].out; d++) {
            int64_t v = 0;
            for (int b = 0; b < 8; b++) v |= (int64_t)((uint64_t)idx->data[d * 8 + b] << (8 * b));
            src[d] = alaei_nearest_source(cases[c].in, cases[c].out, d);
            ck_assert_int_eq(src[d], v);
        }
        snprintf(name, sizeof name, "%s.in", cases[c].name);
        float *in = pu_fixture_f32(fx, name, NULL);
        snprintf(name, sizeof name, "%s.out", cases[c].name);
        size_t n;
        float *out = pu_fixture_f32(fx, name, &n);
        for (int64_t y = 0; y < cases[c].out; y++)
            for (int64_t x = 0; x < cases[c].out; x++)
                ck_assert_float_eq(out[y * cases[c].out + x], in[src[y] * cases[c].in + src[x]]);
        free(in);
        free(out);
        free(src);
    }
    /* the 2x case is the StyleALAE upscale */
    check_block("interp_nearest_8_to_16.in", NULL, upscale, "interp_nearest_8_to_16.out", 0.0);
}
END_TEST

static Suite *blocks_suite(void) {
    Suite *s = suite_create("style_blocks");
    TCase *tc = tcase_create("blocks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, elementwise_and_normalisation_blocks_match);
    tcase_add_test(tc, resampling_blocks_match);
    tcase_add_test(tc, blur_kernel_is_the_reference_buffer);
    tcase_add_test(tc, nearest_resizes_match_exactly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(blocks_suite()); }
