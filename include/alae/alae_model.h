/* libalae: ALAE models — configuration, creation, inference, save and load.
 *
 * An ALAE has four networks: F (z -> w, the mapping), G (w -> image, the generator),
 * E (image -> w, the encoder) and D (w -> logit, the discriminator). Images are float32 NCHW
 * tensors in the model's data range (ALAE_CFG_DATA_RANGE); latents are [N, latent_dim]. */
#ifndef ALAE_MODEL_H
#define ALAE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_device.h"
#include "alae_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_model_config alae_model_config;
typedef struct alae_model alae_model;

/* Architectures */
#define ALAE_ARCH_MLP   1  /* the paper's permutation-invariant MNIST model */
#define ALAE_ARCH_STYLE 2  /* StyleALAE (reserved: not available yet) */

/* Parts, for masks */
#define ALAE_PART_F 1
#define ALAE_PART_G 2
#define ALAE_PART_E 4
#define ALAE_PART_D 8
#define ALAE_PART_ALL 15

/* Configuration keys (append-only). Values are doubles; integer keys must hold integers. */
#define ALAE_CFG_ARCH            1  /* ALAE_ARCH_* (read-only: fixed by the preset) */
#define ALAE_CFG_LATENT_DIM      2  /* size of z and w, 1..4096 (50) */
#define ALAE_CFG_MAPPING_LAYERS  3  /* layers of F, 1..32 (6) */
#define ALAE_CFG_HIDDEN          4  /* width of the MLP G and E, 1..65536 (1024) */
#define ALAE_CFG_IMAGE_SIZE      5  /* side of the images the model reads and writes, 2..4096 */
#define ALAE_CFG_CHANNELS        6  /* image channels, 1..4 (1) */
#define ALAE_CFG_NET_SIZE        7  /* MLP: side of the image the fully connected layers see; when it
                                       differs from IMAGE_SIZE, G and E resize (nearest), as the
                                       reference's mnist_fc does with 28 inside 32 */
#define ALAE_CFG_DATA_RANGE      8  /* 0: pixels in [0, 1]; 1: pixels in [-1, 1] */
#define ALAE_CFG_G_SLOPE         9  /* leaky-ReLU slope inside G (0.2 or the paper's 0.01) */
#define ALAE_CFG_E_SLOPE        10  /* leaky-ReLU slope inside E */
#define ALAE_CFG_E_OUT_SLOPE    11  /* leaky-ReLU slope on E's output w */
#define ALAE_CFG_D_LAYERS       12  /* layers of D, 1..32 (3) */

/* Creates a configuration from a preset: "mnist-fc" (the reference's mnist_fc: 32x32 padded
 * digits in [-1, 1], resized to 28x28 inside E and G) or "mnist-fc-paper" (the paper's
 * model: 28x28 digits in [0, 1], slopes 0.01 where the paper has them). Unknown names fail with
 * ALAE_E_INVALID_ARG listing the presets. *out is set only on success. */
ALAE_API alae_status alae_model_config_create(const char *preset, alae_model_config **out);
ALAE_API void alae_model_config_destroy(alae_model_config *cfg);
/* Sets a key; unknown keys, non-integers for integer keys and out-of-range values fail. */
ALAE_API alae_status alae_model_config_set(alae_model_config *cfg, int32_t key, double value);
ALAE_API alae_status alae_model_config_get(const alae_model_config *cfg, int32_t key, double *value);
/* The key of a setting name ("latent_dim", "mapping_layers", "hidden", "image_size", "channels",
 * "net_size", "data_range", "g_slope", "e_slope", "e_out_slope", "d_layers"), for command lines
 * and bindings. ALAE_E_INVALID_ARG for unknown names. */
ALAE_API alae_status alae_model_config_key(const char *name, int32_t *key);
/* The inclusive range of values a key accepts. */
ALAE_API alae_status alae_model_config_bounds(int32_t key, double *lo, double *hi);

/* Creates a model with freshly initialised parameters (equalised-learning-rate initialisation,
 * drawn from the context's generator with the given seed). The model keeps a pointer to ctx,
 * which must outlive it. *out is set only on success. */
ALAE_API alae_status alae_model_create(alae_context *ctx, const alae_model_config *cfg, uint64_t seed,
                                       alae_model **out);
ALAE_API void alae_model_destroy(alae_model *model);
/* A copy of the model's configuration (the caller destroys it). */
ALAE_API alae_status alae_model_get_config(const alae_model *model, alae_model_config **out);
/* Number of parameters in the parts of part_mask (ALAE_PART_*). */
ALAE_API alae_status alae_model_param_count(const alae_model *model, int32_t part_mask, uint64_t *out);

/* Inference. Batch sizes are taken from the inputs; outputs must have the matching shapes:
 * z, w: [N, latent_dim]; images: [N, channels, image_size, image_size]; logits: [N].
 * All run on the model's context and follow its threading rules. */
ALAE_API alae_status alae_model_map(alae_model *model, const alae_tensor *z, alae_tensor *w);          /* F */
ALAE_API alae_status alae_model_generate(alae_model *model, const alae_tensor *w, alae_tensor *x);     /* G */
ALAE_API alae_status alae_model_encode(alae_model *model, const alae_tensor *x, alae_tensor *w);       /* E */
ALAE_API alae_status alae_model_discriminate(alae_model *model, const alae_tensor *w, alae_tensor *logit); /* D */
ALAE_API alae_status alae_model_reconstruct(alae_model *model, const alae_tensor *x, alae_tensor *x_rec); /* G(E(x)) */
ALAE_API alae_status alae_model_sample(alae_model *model, const alae_tensor *z, alae_tensor *x);       /* G(F(z)) */

/* Writes the model (parameters, running mean of w, configuration in the metadata) as a
 * safetensors file, atomically: an interrupted save leaves any previous file intact. */
ALAE_API alae_status alae_model_save(const alae_model *model, const char *path_utf8);
/* Loads a model file written by alae_model_save (or alae_trainer_save_model). Every tensor's
 * shape is checked against the configuration in the file's metadata. */
ALAE_API alae_status alae_model_load(alae_context *ctx, const char *path_utf8, alae_model **out);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_MODEL_H */
