/* StyleALAE (docs/alae-reference.md section 3, fixtures README section 4): the parameters of its
 * four networks, the generator G (GeneratorDefault), the encoder E (EncoderDefault), and the
 * style-row helpers (mixing, truncation). F and D are in lib/nn/net.c.
 *
 * Parameters keep the reference's shapes ([1, C, 1, 1] biases and noise weights, [in, out, 3, 3]
 * for the transposed conv of fused levels) so checkpoints map one to one (ref_name). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

#define SQRT2 1.4142135623730951
#define SLOPE 0.2
#define G_NORM_EPS 1e-8
#define E_NORM_EPS 1e-5

/* ---- parameters ---- */

static alae_status add_conv3x3(alae_model *m, int32_t part, const char *name, const char *ref, int64_t d0,
                               int64_t d1, int64_t in_channels) {
    int64_t shape[4] = {d0, d1, 3, 3};
    double std = SQRT2 / sqrt(9.0 * (double)in_channels);
    return alaei_model_add_param(m, part, name, ref, 4, shape, std, 0.0, std) ? ALAE_OK : ALAE_E_NOMEM;
}

/* A plain tensor parameter [1, C, 1, 1] (no equalisation: coefficient 1) */
static alae_status add_channel_param(alae_model *m, int32_t part, const char *name, const char *ref, int64_t c) {
    int64_t shape[4] = {1, c, 1, 1};
    return alaei_model_add_param(m, part, name, ref, 4, shape, 0.0, 0.0, 1.0) ? ALAE_OK : ALAE_E_NOMEM;
}

/* A 1x1 conv with bias: weight [out, in, 1, 1] with the given gain, bias [out] */
static alae_status add_conv1x1(alae_model *m, int32_t part, const char *name, const char *ref, int64_t in, int64_t out,
                               double gain) {
    char n[64], r[96];
    int64_t w_shape[4] = {out, in, 1, 1}, b_shape[1] = {out};
    double std = gain / sqrt((double)in);
    snprintf(n, sizeof n, "%s.weight", name);
    snprintf(r, sizeof r, "%s.weight", ref);
    if (!alaei_model_add_param(m, part, n, r, 4, w_shape, std, 0.0, std)) return ALAE_E_NOMEM;
    snprintf(n, sizeof n, "%s.bias", name);
    snprintf(r, sizeof r, "%s.bias", ref);
    return alaei_model_add_param(m, part, n, r, 1, b_shape, 0.0, 0.0, 1.0) ? ALAE_OK : ALAE_E_NOMEM;
}

static alae_status declare_F_and_D(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    int64_t L = c->latent_dim;
    char name[64], ref[96];
    alae_status s = ALAE_OK;
    for (int i = 0; s == ALAE_OK && i < c->mapping_layers; i++) {
        snprintf(name, sizeof name, "F.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_f.map_blocks.%d.fc", i);
        s = alaei_model_add_linear(m, ALAE_PART_F, name, ref, L, L, SQRT2, 0.1);
    }
    for (int i = 0; s == ALAE_OK && i < c->d_layers; i++) {
        snprintf(name, sizeof name, "D.dense.%d", i);
        snprintf(ref, sizeof ref, "mapping_d.map_blocks.%d", i);
        s = alaei_model_add_linear(m, ALAE_PART_D, name, ref, L, i == c->d_layers - 1 ? 2 * L : L, SQRT2, 0.1);
    }
    return s;
}

static alae_status declare_G_block(alae_model *m, int32_t i) {
    const alae_model_config *c = &m->cfg;
    int64_t out = alaei_style_g_channels(c, i), in = i > 0 ? alaei_style_g_channels(c, i - 1) : out;
    int64_t size = alaei_level_size(c, i), L = c->latent_dim;
    char name[64], ref[96];
    alae_status s = ALAE_OK;
    if (i > 0) {
        int fused = size >= ALAEI_FUSED_MIN_SIZE; /* transposed conv: weight [in, out, 3, 3] */
        snprintf(name, sizeof name, "G.block.%d.conv_1.weight", i);
        snprintf(ref, sizeof ref, "decoder.decode_block.%d.conv_1.weight", i);
        s = add_conv3x3(m, ALAE_PART_G, name, ref, fused ? in : out, fused ? out : in, in);
    }
    for (int k = 1; s == ALAE_OK && k <= 2; k++) {
        if (k == 2) {
            snprintf(name, sizeof name, "G.block.%d.conv_2.weight", i);
            snprintf(ref, sizeof ref, "decoder.decode_block.%d.conv_2.weight", i);
            s = add_conv3x3(m, ALAE_PART_G, name, ref, out, out, out);
        }
        snprintf(name, sizeof name, "G.block.%d.noise_%d", i, k);
        snprintf(ref, sizeof ref, "decoder.decode_block.%d.noise_weight_%d", i, k);
        if (s == ALAE_OK) s = add_channel_param(m, ALAE_PART_G, name, ref, out);
        snprintf(name, sizeof name, "G.block.%d.bias_%d", i, k);
        snprintf(ref, sizeof ref, "decoder.decode_block.%d.bias_%d", i, k);
        if (s == ALAE_OK) s = add_channel_param(m, ALAE_PART_G, name, ref, out);
        snprintf(name, sizeof name, "G.block.%d.style_%d", i, k);
        snprintf(ref, sizeof ref, "decoder.decode_block.%d.style_%d", i, k);
        if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_G, name, ref, L, 2 * out, 1.0, 1.0);
    }
    snprintf(name, sizeof name, "G.to_rgb.%d", i);
    snprintf(ref, sizeof ref, "decoder.to_rgb.%d.to_rgb", i);
    if (s == ALAE_OK) s = add_conv1x1(m, ALAE_PART_G, name, ref, out, c->channels, 0.03);
    return s;
}

static alae_status declare_E_block(alae_model *m, int32_t j) {
    const alae_model_config *c = &m->cfg;
    int64_t in = alaei_style_e_in_channels(c, j), out = alaei_style_e_out_channels(c, j), L = c->latent_dim;
    char name[64], ref[96];
    snprintf(name, sizeof name, "E.from_rgb.%d", j);
    snprintf(ref, sizeof ref, "encoder.from_rgb.%d.from_rgb", j);
    alae_status s = add_conv1x1(m, ALAE_PART_E, name, ref, c->channels, in, SQRT2);
    snprintf(name, sizeof name, "E.block.%d.conv_1.weight", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.conv_1.weight", j);
    if (s == ALAE_OK) s = add_conv3x3(m, ALAE_PART_E, name, ref, in, in, in);
    snprintf(name, sizeof name, "E.block.%d.bias_1", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.bias_1", j);
    if (s == ALAE_OK) s = add_channel_param(m, ALAE_PART_E, name, ref, in);
    snprintf(name, sizeof name, "E.block.%d.conv_2.weight", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.conv_2.weight", j);
    if (s == ALAE_OK) s = add_conv3x3(m, ALAE_PART_E, name, ref, out, in, in);
    snprintf(name, sizeof name, "E.block.%d.bias_2", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.bias_2", j);
    if (s == ALAE_OK) s = add_channel_param(m, ALAE_PART_E, name, ref, out);
    snprintf(name, sizeof name, "E.block.%d.style_1", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.style_1", j);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_E, name, ref, 2 * in, L, SQRT2, 1.0);
    snprintf(name, sizeof name, "E.block.%d.style_2", j);
    snprintf(ref, sizeof ref, "encoder.encode_block.%d.style_2", j);
    if (s == ALAE_OK) s = alaei_model_add_linear(m, ALAE_PART_E, name, ref, 2 * out, L, SQRT2, 1.0);
    return s;
}

alae_status alaei_style_declare_params(alae_model *m) {
    const alae_model_config *c = &m->cfg;
    int32_t levels = alaei_layer_count(c);
    alae_status s = declare_F_and_D(m);
    int64_t const_shape[4] = {1, alaei_style_g_channels(c, 0), 4, 4};
    /* the learned constant starts at ones */
    if (s == ALAE_OK && !alaei_model_add_param(m, ALAE_PART_G, "G.const", "decoder.const", 4, const_shape, 0.0, 1.0, 1.0))
        s = ALAE_E_NOMEM;
    for (int32_t i = 0; s == ALAE_OK && i < levels; i++) s = declare_G_block(m, i);
    for (int32_t j = 0; s == ALAE_OK && j < levels; j++) s = declare_E_block(m, j);
    if (s != ALAE_OK) return alaei_fail(s, "alae_model_create", "no memory for the StyleALAE parameters");
    return ALAE_OK;
}

/* ---- noise ---- */

/* Batch of a noise map: the first map of level 0 follows the batch-1 learned constant. */
static int64_t noise_batch(int32_t level, int k, int64_t n, int32_t noise_mode) {
    if (noise_mode == ALAE_NOISE_BATCH_CONSTANT || (level == 0 && k == 1)) return 1;
    return n;
}

int64_t alaei_style_noise_map_batch(int32_t level, int k, int64_t n, int32_t noise_mode) {
    return noise_batch(level, k, n, noise_mode);
}

int64_t alaei_style_noise_numel(const alae_model_config *cfg, int32_t lod, int64_t n, int32_t noise_mode) {
    if (noise_mode == ALAE_NOISE_OFF) return 0;
    int64_t total = 0;
    for (int32_t i = 0; i <= lod; i++) {
        int64_t size = alaei_level_size(cfg, i);
        total += (noise_batch(i, 1, n, noise_mode) + noise_batch(i, 2, n, noise_mode)) * size * size;
    }
    return total;
}

/* One generator call: its flat noise input and how much of it the layers so far consumed. */
typedef struct g_call {
    int32_t noise;
    int64_t consumed;
    int64_t n;
} g_call;

/* The next noise map [batch, 1, size, size] (draw order: level 0 map 1, level 0 map 2, ...). */
static int32_t next_noise_map(alaei_net *net, g_call *call, int64_t batch, int64_t size) {
    if (call->noise < 0) return -1;
    int64_t count = batch * size * size, ne[4] = {batch, 1, size, size};
    int32_t flat = alaei_slice(net->g, call->noise, 3, call->consumed, count);
    call->consumed += count;
    return alaei_reshape4(net->g, flat, ne);
}

/* x + noise_weight[c] * map (map [N|1, 1, H, W] shared across channels) */
static int32_t inject_noise(alaei_net *net, g_call *call, int32_t x, int32_t level, int k) {
    if (call->noise < 0) return x;
    int64_t size = alaei_level_size(&net->m->cfg, level);
    int32_t map = next_noise_map(net, call, noise_batch(level, k, call->n, net->noise_mode), size);
    char name[64];
    snprintf(name, sizeof name, "G.block.%d.noise_%d", level, k);
    return alaei_add(net->g, x, alaei_mul(net->g, alaei_net_param_named(net, name), map));
}

/* ---- generator ---- */

static int32_t block_param(alaei_net *net, const char *net_name, int32_t block, const char *what) {
    char name[64];
    snprintf(name, sizeof name, "%s.block.%d.%s", net_name, block, what);
    return alaei_net_param_named(net, name);
}

/* What a generator call reads: w [N, L] for every row, or per-row styles [N, R, L]. */
typedef struct style_source {
    int32_t node;
    int per_row;
} style_source;

/* Style row r: w itself, or row r of the per-row styles. */
static int32_t style_row(alaei_net *net, style_source src, int32_t r) {
    if (!src.per_row) return src.node;
    const alaei_node *s = alaei_graph_node(net->g, src.node);
    if (!s) return -1;
    int64_t shape[2] = {s->ne[1], s->ne[3]};
    return alaei_reshape(net->g, alaei_slice(net->g, src.node, 2, r, 1), 2, shape);
}

/* noise -> bias -> leaky ReLU -> instance norm (eps 1e-8) -> AdaIN with style row `row` */
static int32_t g_modulate(alaei_net *net, g_call *call, int32_t x, int32_t level, int k, style_source styles) {
    alaei_graph *g = net->g;
    char what[16], layer[48];
    x = inject_noise(net, call, x, level, k);
    snprintf(what, sizeof what, "bias_%d", k);
    x = alaei_add_leaky_relu(g, x, block_param(net, "G", level, what), SLOPE);
    x = alaei_blk_instance_norm(g, x, G_NORM_EPS, NULL, NULL);
    snprintf(layer, sizeof layer, "G.block.%d.style_%d", level, k);
    int32_t style = alaei_net_linear(net, style_row(net, styles, 2 * level + k - 1), layer);
    alaei_net_tap(net, style, "decoder.decode_block.%d.style_%d", level, k);
    return alaei_blk_style_mod(g, x, style);
}

/* Decode block `level`: [upsample + conv (or the fused transposed conv), blur] -> modulate ->
 * 3x3 conv -> modulate. Level 0 starts from the learned constant. */
static int32_t g_block(alaei_net *net, g_call *call, int32_t level, int32_t x, style_source styles) {
    alaei_graph *g = net->g;
    if (level == 0) {
        x = alaei_net_param_named(net, "G.const");
    } else {
        int32_t w = block_param(net, "G", level, "conv_1.weight");
        if (alaei_level_size(&net->m->cfg, level) >= ALAEI_FUSED_MIN_SIZE)
            x = alaei_blk_conv_up_fused(g, x, w);
        else
            x = alaei_conv2d(g, alaei_blk_upscale2d(g, x), w, -1, 1.0, 1, 1);
        x = alaei_blk_blur(g, x);
    }
    x = g_modulate(net, call, x, level, 1, styles);
    x = alaei_conv2d(g, x, block_param(net, "G", level, "conv_2.weight"), -1, 1.0, 1, 1);
    x = g_modulate(net, call, x, level, 2, styles);
    alaei_net_tap(net, x, "decoder.decode_block.%d", level);
    return x;
}

static int32_t to_rgb(alaei_net *net, int32_t level, int32_t x) {
    char name[64];
    snprintf(name, sizeof name, "G.to_rgb.%d.weight", level);
    int32_t w = alaei_net_param_named(net, name);
    snprintf(name, sizeof name, "G.to_rgb.%d.bias", level);
    int32_t y = alaei_blk_conv1x1(net->g, x, w, alaei_net_param_named(net, name));
    alaei_net_tap(net, y, "decoder.to_rgb.%d", level);
    return y;
}

/* Checks the styles: w [N, L], or per-row [N, R >= 2 (lod + 1), L]; returns N or -1. */
static int64_t styles_batch(alaei_net *net, style_source src) {
    const alaei_node *s = alaei_graph_node(net->g, src.node);
    if (!s || alaei_graph_status(net->g) != ALAE_OK) return -1;
    int64_t L = net->m->cfg.latent_dim;
    int ok = s->ne[3] == L && (src.per_row ? s->ne[0] == 1 && s->ne[2] >= 2 * (net->lod + 1) : s->ne[0] * s->ne[1] == 1);
    if (!ok)
        return alaei_graph_set_error(net->g, ALAE_E_SHAPE, "the generator's styles do not fit latent %lld at level %d",
                                     (long long)L, (int)net->lod);
    return src.per_row ? s->ne[1] : s->ne[2];
}

int32_t alaei_style_G(alaei_net *net, int32_t styles_node, int per_row) {
    alaei_graph *g = net->g;
    style_source styles = {styles_node, per_row};
    int64_t n = styles_batch(net, styles);
    if (n < 0) return -1;
    if (net->n_noise >= ALAEI_NET_MAX_NOISE)
        return alaei_graph_set_error(g, ALAE_E_INTERNAL, "more than %d generator calls in one graph", ALAEI_NET_MAX_NOISE);
    g_call call = {-1, 0, n};
    int64_t noise_numel = alaei_style_noise_numel(&net->m->cfg, net->lod, n, net->noise_mode);
    if (noise_numel > 0) {
        call.noise = alaei_input(g, 1, &noise_numel, "noise");
        net->noise[net->n_noise++] = call.noise;
    }
    int transition = net->blend >= 0 && net->lod > 0;
    int32_t x = -1, prev = -1;
    for (int32_t level = 0; level <= net->lod; level++) {
        if (transition && level == net->lod) prev = to_rgb(net, level - 1, x);
        x = g_block(net, &call, level, x, styles);
    }
    x = to_rgb(net, net->lod, x);
    /* fade-in: only the RGB outputs are blended, the previous one nearest-upsampled */
    return transition ? alaei_blk_lerp(g, alaei_blk_upscale2d(g, prev), x, net->blend) : x;
}

/* ---- encoder ---- */

/* fromRGB: 1x1 conv + bias and a leaky ReLU (the caller applies the second one) */
static int32_t from_rgb(alaei_net *net, int32_t block, int32_t x) {
    char name[64];
    snprintf(name, sizeof name, "E.from_rgb.%d.weight", block);
    int32_t w = alaei_net_param_named(net, name);
    snprintf(name, sizeof name, "E.from_rgb.%d.bias", block);
    int32_t y = alaei_leaky_relu(net->g, alaei_blk_conv1x1(net->g, x, w, alaei_net_param_named(net, name)), SLOPE);
    alaei_net_tap(net, y, "encoder.from_rgb.%d", block);
    return y;
}

/* concat(mean, std) [N, 2C] from the per-channel moments, std without epsilon */
static int32_t style_statistics(alaei_graph *g, int32_t mean, int32_t var) {
    const alaei_node *M = alaei_graph_node(g, mean);
    if (!M || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t flat[2] = {M->ne[0], M->ne[1]};
    int32_t std = alaei_unary(g, ALAEI_OP_SQRT, var);
    return alaei_concat(g, alaei_reshape(g, mean, 2, flat), alaei_reshape(g, std, 2, flat), 3);
}

/* Encode block j: conv, bias, lrelu, statistics 1, instance norm, blur, conv + 2x2 average
 * pool (or the fused stride-2 conv), bias, lrelu, statistics 2, instance norm. Returns the
 * normalised map; *w1, *w2 the two style contributions [N, L]. */
static int32_t e_block(alaei_net *net, int32_t j, int32_t x, int32_t *w1, int32_t *w2) {
    alaei_graph *g = net->g;
    int32_t levels = alaei_layer_count(&net->m->cfg);
    int64_t in_size = alaei_level_size(&net->m->cfg, levels - 1 - j);
    int32_t mean, var;
    x = alaei_conv2d(g, x, block_param(net, "E", j, "conv_1.weight"), -1, 1.0, 1, 1);
    x = alaei_add_leaky_relu(g, x, block_param(net, "E", j, "bias_1"), SLOPE);
    x = alaei_blk_instance_norm(g, x, E_NORM_EPS, &mean, &var);
    int32_t stats1 = style_statistics(g, mean, var);
    x = alaei_blk_blur(g, x);
    int32_t w = block_param(net, "E", j, "conv_2.weight");
    if (in_size >= ALAEI_FUSED_MIN_SIZE)
        x = alaei_blk_conv_down_fused(g, x, w);
    else /* 3x3 conv then 2x2 average pooling, the 1/4 folded into the conv's product */
        x = alaei_sumpool2d(g, alaei_conv2d(g, x, w, -1, 0.25, 1, 1), 2);
    x = alaei_add_leaky_relu(g, x, block_param(net, "E", j, "bias_2"), SLOPE);
    x = alaei_blk_instance_norm(g, x, E_NORM_EPS, &mean, &var);
    int32_t stats2 = style_statistics(g, mean, var);
    char layer[48];
    snprintf(layer, sizeof layer, "E.block.%d.style_1", j);
    *w1 = alaei_net_linear(net, stats1, layer);
    snprintf(layer, sizeof layer, "E.block.%d.style_2", j);
    *w2 = alaei_net_linear(net, stats2, layer);
    alaei_net_tap(net, x, "encoder.encode_block.%d.x", j);
    alaei_net_tap(net, *w1, "encoder.encode_block.%d.w1", j);
    alaei_net_tap(net, *w2, "encoder.encode_block.%d.w2", j);
    return x;
}

int32_t alaei_style_E(alaei_net *net, int32_t x) {
    alaei_graph *g = net->g;
    const alae_model_config *c = &net->m->cfg;
    const alaei_node *X = alaei_graph_node(g, x);
    if (!X || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t size = alaei_level_size(c, net->lod);
    if (X->ne[1] != c->channels || X->ne[2] != size || X->ne[3] != size)
        return alaei_graph_set_error(g, ALAE_E_SHAPE, "the encoder at level %d reads [N, %d, %lld, %lld] images",
                                     (int)net->lod, (int)c->channels, (long long)size, (long long)size);
    int32_t levels = alaei_layer_count(c), first = levels - 1 - net->lod;
    int transition = net->blend >= 0 && net->lod > 0;
    int32_t w1, w2, acc;
    /* fromRGB's own leaky ReLU, then the encoder's second one */
    int32_t h = alaei_leaky_relu(g, from_rgb(net, first, x), SLOPE);
    h = e_block(net, first, h, &w1, &w2);
    if (transition) {
        acc = alaei_add(g, alaei_mul(g, w1, net->blend), alaei_mul(g, w2, net->blend));
        int32_t prev = alaei_leaky_relu(g, from_rgb(net, first + 1, alaei_blk_downscale2d(g, x)), SLOPE);
        h = alaei_blk_lerp(g, prev, h, net->blend);
    } else {
        acc = alaei_add(g, w1, w2);
    }
    for (int32_t j = first + 1; j < levels; j++) {
        h = e_block(net, j, h, &w1, &w2);
        acc = alaei_add(g, acc, alaei_add(g, w1, w2));
    }
    return acc; /* the last block's 2x2 map is not used */
}

/* ---- style rows ---- */

int32_t alaei_style_mix(alaei_net *net, int32_t w, int32_t w2, int32_t mask) {
    alaei_graph *g = net->g;
    int64_t L = net->m->cfg.latent_dim, n = alaei_graph_numel(g, w) / L, rows = alaei_graph_numel(g, mask);
    int64_t w_ne[4] = {1, n, 1, L}, mask_ne[4] = {1, 1, rows, 1};
    /* w (1 - mask) + w2 mask: exactly w or w2 per row, with the gradient of a selection */
    int32_t m = alaei_reshape4(g, mask, mask_ne);
    int32_t keep = alaei_mul(g, alaei_reshape4(g, w, w_ne), alaei_scale_shift(g, m, -1.0, 1.0));
    return alaei_add(g, keep, alaei_mul(g, alaei_reshape4(g, w2, w_ne), m));
}

int32_t alaei_style_truncate(alaei_net *net, int32_t styles, int per_row, int32_t avg, double psi, int32_t cutoff) {
    alaei_graph *g = net->g;
    const alaei_node *S = alaei_graph_node(g, styles);
    if (!S || alaei_graph_status(g) != ALAE_OK) return -1;
    int64_t L = net->m->cfg.latent_dim, rows = alaei_style_count(&net->m->cfg);
    if (per_row) {
        rows = S->ne[2];
    } else { /* tile w to every row */
        int64_t n = alaei_graph_numel(g, styles) / L, w_ne[4] = {1, n, 1, L}, tiled[4] = {1, n, rows, L};
        styles = alaei_broadcast(g, alaei_reshape4(g, styles, w_ne), tiled);
    }
    int64_t head = cutoff < rows ? cutoff : rows, avg_ne[4] = {1, 1, 1, L};
    if (head <= 0) return styles;
    int32_t a = alaei_reshape4(g, avg, avg_ne);
    int32_t s = head == rows ? styles : alaei_slice(g, styles, 2, 0, head);
    int32_t t = alaei_add(g, a, alaei_scale_shift(g, alaei_sub(g, s, a), psi, 0.0));
    return head == rows ? t : alaei_concat(g, t, alaei_slice(g, styles, 2, head, rows - head), 2);
}
