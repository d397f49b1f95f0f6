/* Internal model representation shared by lib/nn (networks, model API) and lib/train. */
#ifndef ALAE_MODEL_INTERNAL_H
#define ALAE_MODEL_INTERNAL_H

#include "internal/alae_graph.h"
#include "internal/alae_internal.h"

/* Most levels of detail a StyleALAE can have (4096 px = level 10). */
#define ALAEI_MAX_LEVELS 11
/* Resolution from which the reference uses the fused (strided / transposed) resampling convs. */
#define ALAEI_FUSED_MIN_SIZE 128

struct alae_model_config {
    int32_t arch;
    char preset[32];
    int32_t latent_dim, mapping_layers, hidden, image_size, channels, net_size, data_range, d_layers;
    double g_slope, e_slope, e_out_slope;
    int32_t start_channels, max_channels; /* StyleALAE */
};

typedef struct alaei_param {
    char name[64];      /* libalae's name: "G.fc.1.weight" */
    char ref_name[96];  /* the reference implementation's state_dict name */
    int32_t part;       /* ALAE_PART_* */
    int32_t ndim;
    int64_t shape[4];
    int64_t numel;
    double init_std;    /* N(0, init_std^2) at creation; 0: the constant init_value */
    double init_value;  /* 0 for biases, 1 for StyleALAE's learned constant */
    double lr_coef;     /* equalised learning-rate multiplier of its Adam step */
    void *data;         /* backend memory */
} alaei_param;

struct alae_model {
    alae_context *ctx;
    alae_model_config cfg;
    alaei_param *params;
    int32_t n_params, cap_params;
    float *dlatent_avg;      /* [latent_dim] on the host: running mean of w */
    void *resize_up;         /* [image_size, net_size] 0/1 matrix, or NULL */
    void *resize_down;       /* [net_size, image_size] */
    /* inference settings (alae_model_set) */
    int32_t lod;             /* level of detail the entry points run at */
    double blend;            /* fade-in factor at lod, 1 = none */
    double truncation_psi;   /* 1 = no truncation */
    int32_t truncation_cutoff;
    int32_t noise_mode;      /* ALAE_NOISE_* */
    struct alaei_plan_cache *plan_cache; /* model_infer.c: planned inference calls, or NULL */
};

/* lib/nn/model_infer.c: the cached inference plans. clear frees them all (destroy); drop_stale
 * frees those planned for other settings than the model's current ones (alae_model_set). */
void alaei_plan_cache_clear(alae_model *m);
void alaei_plan_cache_drop_stale(alae_model *m);
/* Planned calls in the cache, and the bytes of its shared arena (for the tests). */
int32_t alaei_plan_cache_count(const alae_model *m);
size_t alaei_plan_cache_arena_bytes(const alae_model *m);

/* lib/nn/config.c */
alae_status alaei_config_validate(const alae_model_config *cfg, const char *func);
/* The configuration as JSON (for file metadata), and back. */
int alaei_config_to_json(const alae_model_config *cfg, char *buf, size_t cap);
alae_status alaei_config_from_json(const char *json, alae_model_config *cfg, const char *func);

/* Geometry shared by the networks, the model API and the trainer. The MLP has one level. */
int32_t alaei_layer_count(const alae_model_config *cfg);
int32_t alaei_style_count(const alae_model_config *cfg);  /* style rows G reads: 2 per level (MLP: 1) */
int64_t alaei_level_size(const alae_model_config *cfg, int32_t lod); /* image side at lod */
int64_t alaei_style_g_channels(const alae_model_config *cfg, int32_t block);  /* G block output */
int64_t alaei_style_e_in_channels(const alae_model_config *cfg, int32_t block);
int64_t alaei_style_e_out_channels(const alae_model_config *cfg, int32_t block);

/* lib/nn/model_params.c: parameter declaration (the array grows as needed) */
alaei_param *alaei_model_add_param(alae_model *m, int32_t part, const char *name, const char *ref_name, int32_t ndim,
                                   const int64_t *shape, double init_std, double init_value, double lr_coef);
/* A linear layer "<name>.weight" [out, in] (N(0, 2/in)), "<name>.bias" [out] (0), with the
 * equalised-learning-rate coefficients of gain sqrt(2) and lrmul. */
alae_status alaei_model_add_linear(alae_model *m, int32_t part, const char *name, const char *ref_name, int64_t in,
                                   int64_t out, double gain, double lrmul);

/* lib/nn/mlp.c: parameters and networks of the MLP ALAE */
alae_status alaei_mlp_declare_params(alae_model *m);
alae_status alaei_mlp_create_buffers(alae_model *m);
struct alaei_net;
int32_t alaei_mlp_G(struct alaei_net *net, int32_t w); /* [N, L] -> [N, C, S, S] */
int32_t alaei_mlp_E(struct alaei_net *net, int32_t x); /* [N, C, S, S] -> [N, L] */
/* Nearest-neighbour source index of destination d for a resize in -> out (PyTorch's float32
 * floor(d * in / out), clamped). */
int64_t alaei_nearest_source(int64_t in, int64_t out, int64_t d);

/* lib/nn/style_net.c: parameters of StyleALAE (F, G, E, D) */
alae_status alaei_style_declare_params(alae_model *m);
/* Elements of the noise one generator call at lod reads for a batch of n (ALAE_NOISE_*). */
int64_t alaei_style_noise_numel(const alae_model_config *cfg, int32_t lod, int64_t n, int32_t noise_mode);
/* The batch of noise map k (1, 2) of a level: n, or 1 for a map every sample shares. The flat
 * noise input holds the maps in draw order: level 0 map 1, level 0 map 2, level 1 map 1, ... */
int64_t alaei_style_noise_map_batch(int32_t level, int k, int64_t n, int32_t noise_mode);

/* Graph building over a model's parameters: each parameter becomes an INPUT node on first use. */
typedef struct alaei_tap {
    char name[64];
    int32_t node;
} alaei_tap;

#define ALAEI_NET_MAX_NOISE 4

typedef struct alaei_net {
    alaei_graph *g;
    const alae_model *m;
    int32_t *param_node; /* per parameter: its INPUT node, or -1 */
    int32_t resize_up_node, resize_down_node;
    /* StyleALAE: what the networks run at (alaei_net_init: the top level, blend 1, per-sample
     * noise; the model API and the trainer set them before building) */
    int32_t lod;
    int32_t blend;       /* node [1] of the fade-in factor during a transition; -1: blend 1 */
    int32_t noise_mode;  /* ALAE_NOISE_* */
    int32_t noise[ALAEI_NET_MAX_NOISE]; /* per generator call: its noise INPUT node (flat, in draw order) */
    int32_t n_noise;
    /* named intermediate nodes, recorded only when taps_on (tests and trainer diagnostics) */
    int taps_on;
    alaei_tap *taps;
    int32_t n_taps, cap_taps;
} alaei_net;

/* A net at the model's top level, blend 1, per-sample noise (training builds on this). */
alae_status alaei_net_init(alaei_net *net, const alae_model *m);
void alaei_net_free(alaei_net *net);
/* Binds every parameter and buffer node the plan uses. params overrides the model's parameter
 * memory (e.g. the smoothed copy); NULL uses the model's own. Noise and blend inputs are the
 * caller's to bind. */
alae_status alaei_net_bind(const alaei_net *net, alaei_plan *plan, void *const *params);
/* Records node under a printf-formatted name when taps are on (no-op otherwise). */
void alaei_net_tap(alaei_net *net, int32_t node, const char *fmt, ...) ALAEI_PRINTF(3, 4);
/* The node recorded under name, or -1. */
int32_t alaei_net_find_tap(const alaei_net *net, const char *name);
/* The INPUT node of parameter i (created on first use). */
int32_t alaei_net_param(alaei_net *net, int32_t i);
/* The INPUT node of the parameter called name; fails the graph if there is none. */
int32_t alaei_net_param_named(alaei_net *net, const char *name);
/* x W^T + b with the parameters "<layer>.weight" and "<layer>.bias" */
int32_t alaei_net_linear(alaei_net *net, int32_t x, const char *layer);
/* leaky_relu(alaei_net_linear(net, x, layer), slope), bias and activation fused (alaei_linear_leaky) */
int32_t alaei_net_linear_leaky(alaei_net *net, int32_t x, const char *layer, double slope);

int32_t alaei_net_F(alaei_net *net, int32_t z);   /* [N, L] -> [N, L] */
/* G from w [N, L]: every style row is w. -> [N, C, S, S] (S: the level's size) */
int32_t alaei_net_G(alaei_net *net, int32_t w);
/* G from per-row styles [N, R, L] (R >= the rows the level reads; the MLP reads row 0). */
int32_t alaei_net_G_styles(alaei_net *net, int32_t styles);
int32_t alaei_net_E(alaei_net *net, int32_t x);   /* [N, C, S, S] -> [N, L] */
int32_t alaei_net_D(alaei_net *net, int32_t w);   /* [N, L] -> [N] */

/* lib/nn/style_net.c: the StyleALAE generator and encoder (dispatched to by alaei_net_G/E) */
int32_t alaei_style_G(alaei_net *net, int32_t styles, int per_row);
int32_t alaei_style_E(alaei_net *net, int32_t x);
/* Per-row styles [N, R, L] from w [N, L]: every row w, except the rows r where mask[r] = 1,
 * which take w2 (style mixing: mask [R] is 0 before the crossover, 1 from it on). */
int32_t alaei_style_mix(alaei_net *net, int32_t w, int32_t w2, int32_t mask);
/* Truncation: per-row styles [N, R, L] with avg + psi (s - avg) on the rows < cutoff, from
 * per-row styles (per_row) or from w [N, L] tiled to every row; avg is a node [L]. */
int32_t alaei_style_truncate(alaei_net *net, int32_t styles, int per_row, int32_t avg, double psi, int32_t cutoff);

/* lib/nn/style_blocks.c: the building blocks, as compositions of graph primitives */
int32_t alaei_blk_pixel_norm(alaei_graph *g, int32_t z);                 /* [N, L] */
int32_t alaei_blk_channel_mean(alaei_graph *g, int32_t x);               /* [N, C, H, W] -> [N, C, 1, 1] */
/* Instance norm; also returns (when not NULL) the per-channel mean and biased variance. */
int32_t alaei_blk_instance_norm(alaei_graph *g, int32_t x, double eps, int32_t *mean, int32_t *var);
int32_t alaei_blk_style_mod(alaei_graph *g, int32_t x, int32_t style);   /* x [N|1, C, H, W], style [N, 2C] */
int32_t alaei_blk_blur(alaei_graph *g, int32_t x);
int32_t alaei_blk_upscale2d(alaei_graph *g, int32_t x);
int32_t alaei_blk_downscale2d(alaei_graph *g, int32_t x);
int32_t alaei_blk_fused_kernel(alaei_graph *g, int32_t w);               /* [A, B, 3, 3] -> [A, B, 4, 4] */
int32_t alaei_blk_conv_up_fused(alaei_graph *g, int32_t x, int32_t w);   /* w [in, out, 3, 3] */
int32_t alaei_blk_conv_down_fused(alaei_graph *g, int32_t x, int32_t w); /* w [out, in, 3, 3] */
int32_t alaei_blk_conv1x1(alaei_graph *g, int32_t x, int32_t w, int32_t bias);
int32_t alaei_blk_lerp(alaei_graph *g, int32_t a, int32_t b, int32_t t); /* a + t (b - a) */
int32_t alaei_blk_minibatch_stddev(alaei_graph *g, int32_t x, int32_t group_size);
/* Average pooling by factor (a power of two) */
int32_t alaei_blk_avg_pool(alaei_graph *g, int32_t x, int32_t factor);

/* Sum of numel over the parameters of part_mask. */
uint64_t alaei_model_param_numel(const alae_model *m, int32_t part_mask);
/* A model shell for cfg with its parameters declared but no memory allocated (for counts). */
alae_status alaei_model_declare(const alae_model_config *cfg, alae_model **out);
/* Allocates (zeroed) memory on ctx for every declared parameter of m and the MLP's resize tables. */
alae_status alaei_model_allocate_params(alae_context *ctx, alae_model *m);
/* Creates an empty model shell for cfg: parameters declared and allocated, not initialised. */
alae_status alaei_model_alloc(alae_context *ctx, const alae_model_config *cfg, alae_model **out);
/* Initialises parameters: weights N(0, std^2) from Philox(seed), the others constant. */
alae_status alaei_model_init_params(alae_model *m, uint64_t seed);
/* Writes a model file from explicit parameter memory (the model's or a smoothed copy). */
alae_status alaei_model_save_params(const alae_model *m, void *const *params, const char *path,
                                    const char *func);

/* Files (lib/nn/model_io.c): the configuration of a model or training-state file, checked
 * against the expected kind; every parameter (prefix + name) of m from f, shapes checked and
 * non-finite values refused (ALAE_E_FORMAT naming the tensor). */
struct alaei_st_file;
alae_status alaei_file_config(const struct alaei_st_file *f, const char *kind, alae_model_config *cfg,
                              const char *func);
alae_status alaei_load_params(const struct alaei_st_file *f, const alae_model *m, const char *prefix,
                              void *const *dst, const char *func);
/* Checks, before anything is allocated, that f holds every parameter of the declared model m
 * (prefix + name) as floats (F32, F64, F16, BF16) of its shape. */
alae_status alaei_check_file_params(const struct alaei_st_file *f, const alae_model *m, const char *prefix,
                                    const char *func);
/* Checks that every parameter of m in f (prefix + name, already checked by
 * alaei_check_file_params) is finite, without loading anything: for loaders that must refuse a
 * file before they overwrite what they hold. alaei_load_params checks the values it loads too. */
alae_status alaei_check_file_finite(const struct alaei_st_file *f, const alae_model *m, const char *prefix,
                                    const char *func);

#endif
