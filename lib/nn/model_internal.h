/* Internal model representation shared by lib/nn (networks, model API) and lib/train. */
#ifndef ALAE_MODEL_INTERNAL_H
#define ALAE_MODEL_INTERNAL_H

#include "internal/alae_graph.h"
#include "internal/alae_internal.h"

struct alae_model_config {
    int32_t arch;
    char preset[32];
    int32_t latent_dim, mapping_layers, hidden, image_size, channels, net_size, data_range, d_layers;
    double g_slope, e_slope, e_out_slope;
};

typedef struct alaei_param {
    char name[64];      /* libalae's name: "G.fc.1.weight" */
    char ref_name[96];  /* the reference implementation's state_dict name */
    int32_t part;       /* ALAE_PART_* */
    int32_t ndim;
    int64_t shape[4];
    int64_t numel;
    double init_std;    /* N(0, init_std^2) at creation; 0: zeros (biases) */
    double lr_coef;     /* equalised learning-rate multiplier of its Adam step */
    void *data;         /* backend memory */
} alaei_param;

struct alae_model {
    alae_context *ctx;
    alae_model_config cfg;
    alaei_param *params;
    int32_t n_params;
    float *dlatent_avg;      /* [latent_dim] on the host: running mean of w */
    void *resize_up;         /* [image_size, net_size] 0/1 matrix, or NULL */
    void *resize_down;       /* [net_size, image_size] */
};

/* lib/nn/config.c */
alae_status alaei_config_validate(const alae_model_config *cfg, const char *func);
/* The configuration as JSON (for file metadata), and back. */
int alaei_config_to_json(const alae_model_config *cfg, char *buf, size_t cap);
alae_status alaei_config_from_json(const char *json, alae_model_config *cfg, const char *func);

/* lib/nn/mlp.c: parameters and networks of the MLP ALAE */
alae_status alaei_mlp_declare_params(alae_model *m);
alae_status alaei_mlp_create_buffers(alae_model *m);

/* Graph building over a model's parameters: each parameter becomes an INPUT node on first use. */
typedef struct alaei_net {
    alaei_graph *g;
    const alae_model *m;
    int32_t *param_node; /* per parameter: its INPUT node, or -1 */
    int32_t resize_up_node, resize_down_node;
} alaei_net;

alae_status alaei_net_init(alaei_net *net, const alae_model *m);
void alaei_net_free(alaei_net *net);
/* Binds every parameter and buffer node the plan uses. params overrides the model's parameter
 * memory (e.g. the smoothed copy); NULL uses the model's own. */
alae_status alaei_net_bind(const alaei_net *net, alaei_plan *plan, void *const *params);

int32_t alaei_net_F(alaei_net *net, int32_t z);   /* [N, L] -> [N, L] */
int32_t alaei_net_G(alaei_net *net, int32_t w);   /* [N, L] -> [N, C, S, S] */
int32_t alaei_net_E(alaei_net *net, int32_t x);   /* [N, C, S, S] -> [N, L] */
int32_t alaei_net_D(alaei_net *net, int32_t w);   /* [N, L] -> [N] */
/* The INPUT node of parameter i (created on first use). */
int32_t alaei_net_param(alaei_net *net, int32_t i);

/* Sum of numel over the parameters of part_mask. */
uint64_t alaei_model_param_numel(const alae_model *m, int32_t part_mask);
/* Creates an empty model shell for cfg: parameters declared and allocated, not initialised. */
alae_status alaei_model_alloc(alae_context *ctx, const alae_model_config *cfg, alae_model **out);
/* Initialises parameters: weights N(0, std^2) from Philox(seed), biases 0. */
alae_status alaei_model_init_params(alae_model *m, uint64_t seed);
/* Writes a model file from explicit parameter memory (the model's or a smoothed copy). */
alae_status alaei_model_save_params(const alae_model *m, void *const *params, const char *path,
                                    const char *func);

/* Files (lib/nn/model.c): the configuration of a model or training-state file, checked
 * against the expected kind; every parameter (prefix + name) of m from f, shapes checked. */
struct alaei_st_file;
alae_status alaei_file_config(const struct alaei_st_file *f, const char *kind, alae_model_config *cfg,
                              const char *func);
alae_status alaei_load_params(const struct alaei_st_file *f, const alae_model *m, const char *prefix,
                              void *const *dst, const char *func);

#endif
