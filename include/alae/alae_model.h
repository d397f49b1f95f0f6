/* libalae: ALAE models — configuration, creation, inference, save and load.
 *
 * An ALAE has four networks: F (z -> w, the mapping), G (w -> image, the generator),
 * E (image -> w, the encoder) and D (w -> logit, the discriminator). Images are float32 NCHW
 * tensors in the model's data range (ALAE_CFG_DATA_RANGE); latents are [N, latent_dim].
 *
 * Two architectures (docs/alae-reference.md sections 2 and 3):
 *  - ALAE_ARCH_MLP, the permutation-invariant MNIST model (presets "mnist-fc", "mnist-fc-paper");
 *  - ALAE_ARCH_STYLE, StyleALAE (presets "mnist" 32x32x1, "celeba" 128x128x3, "celeba-hq256",
 *    "bedroom" 256x256x3, "ffhq" 1024x1024x3; any power-of-two size through ALAE_CFG_IMAGE_SIZE).
 *    G is a StyleGAN-like synthesis network with two style inputs per resolution level, so it
 *    reads "styles" [N, style_count, latent_dim] (style_count = 2 x levels; row 2i and 2i+1 feed
 *    level i, 4x4 being level 0); E sums per-layer affine maps of instance-norm statistics into w.
 *    A model runs at a level of detail (ALAE_MODEL_LOD, default the top level: images of
 *    ALAE_CFG_IMAGE_SIZE) and draws fresh noise maps on every generator call (ALAE_MODEL_NOISE),
 *    from the context's random stream (ALAE_CTX_SEED), so generations are reproducible per
 *    context seed and call order. */
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
#define ALAE_ARCH_STYLE 2  /* StyleALAE */

/* Parts, for masks */
#define ALAE_PART_F 1
#define ALAE_PART_G 2
#define ALAE_PART_E 4
#define ALAE_PART_D 8
#define ALAE_PART_ALL 15

/* Configuration keys (append-only; 2001.., see ALAE_CTX_THREADS for the ranges). Values are
 * doubles; integer keys must hold integers. */
#define ALAE_CFG_ARCH           2001  /* ALAE_ARCH_* (read-only: fixed by the preset) */
#define ALAE_CFG_LATENT_DIM     2002  /* size of z and w, 1..4096 (50) */
#define ALAE_CFG_MAPPING_LAYERS 2003  /* layers of F, 1..32 (6) */
#define ALAE_CFG_HIDDEN         2004  /* width of the MLP G and E, 1..65536 (1024) */
#define ALAE_CFG_IMAGE_SIZE     2005  /* side of the images the model reads and writes, 2..4096 */
#define ALAE_CFG_CHANNELS       2006  /* image channels, 1..4 (1) */
#define ALAE_CFG_NET_SIZE       2007  /* MLP: side of the image the fully connected layers see; when it
                                         differs from IMAGE_SIZE, G and E resize (nearest), as the
                                         reference's mnist_fc does with 28 inside 32 */
#define ALAE_CFG_DATA_RANGE     2008  /* 0: pixels in [0, 1]; 1: pixels in [-1, 1] */
#define ALAE_CFG_G_SLOPE        2009  /* leaky-ReLU slope inside G (0.2 or the paper's 0.01) */
#define ALAE_CFG_E_SLOPE        2010  /* leaky-ReLU slope inside E */
#define ALAE_CFG_E_OUT_SLOPE    2011  /* leaky-ReLU slope on E's output w */
#define ALAE_CFG_D_LAYERS       2012  /* layers of D, 1..32 (3); StyleALAE's last is L -> 2L and the
                                         logit is its unit L, as the reference's MappingD */
#define ALAE_CFG_START_CHANNELS 2013  /* StyleALAE: channels at the top level (reference
                                         START_CHANNEL_COUNT), 1..65536; level i of G has
                                         min(MAX, START * 2^(levels-1-i)) channels */
#define ALAE_CFG_MAX_CHANNELS   2014  /* StyleALAE: channel cap (MAX_CHANNEL_COUNT), 1..65536 */
/* Keys by architecture. Both: ARCH, LATENT_DIM, MAPPING_LAYERS, IMAGE_SIZE (StyleALAE: a power
 * of two >= 4), CHANNELS, DATA_RANGE, D_LAYERS. MLP only: HIDDEN, NET_SIZE, G_SLOPE, E_SLOPE,
 * E_OUT_SLOPE. StyleALAE only: START_CHANNELS, MAX_CHANNELS. Setting or getting a key of the other
 * architecture fails with ALAE_E_INVALID_ARG. */

/* Inference settings of a model (alae_model_set / alae_model_get; append-only keys, 3001..). They
 * are not part of the configuration; a model file records LOD and BLEND. */
#define ALAE_MODEL_LOD               3001  /* level of detail, 0..levels-1 (default: the top level);
                                              images are 2^(LOD+2) px (MLP: one level, 0) */
#define ALAE_MODEL_BLEND             3002  /* fade-in of LOD over LOD-1, [0, 1] (1); < 1 needs LOD > 0 */
#define ALAE_MODEL_TRUNCATION_PSI    3003  /* truncation trick: style rows < CUTOFF become
                                              avg + psi (w - avg) with avg the running mean of w;
                                              [-2, 2], 1 = off (default; the reference's figures use 0.7) */
#define ALAE_MODEL_TRUNCATION_CUTOFF 3004  /* 0..style_count (8, the reference's) */
#define ALAE_MODEL_NOISE             3005  /* ALAE_NOISE_* (ALAE_NOISE_PER_SAMPLE) */
#define ALAE_MODEL_STYLE_COUNT       3006  /* read-only: style rows G reads (StyleALAE 2 x levels, MLP 1) */
#define ALAE_MODEL_RESOLUTION        3007  /* read-only: image side at the current LOD */
#define ALAE_MODEL_LEVELS            3008  /* read-only: levels of detail (MLP 1) */

#define ALAE_NOISE_OFF            0  /* no noise inputs (deterministic generations) */
#define ALAE_NOISE_PER_SAMPLE     1  /* fresh N(0,1) maps per sample and call (the reference) */
#define ALAE_NOISE_BATCH_CONSTANT 2  /* one map per layer shared by the whole batch (for
                                        interpolations; the reference's PPL setting) */

/* Creates a configuration from a preset. MLP: "mnist-fc" (the reference's mnist_fc: 32x32 padded
 * digits in [-1, 1], resized to 28x28 inside E and G) or "mnist-fc-paper" (the paper's
 * model: 28x28 digits in [0, 1], slopes 0.01 where the paper has them). StyleALAE (images in
 * [-1, 1]): "mnist" (32 px, 1 channel, START 64, MAX 256, latent 32, 4 mapping layers),
 * "celeba" (128 px, 3 channels, 64/256, latent 256, 8 mapping layers), "celeba-hq256"
 * (256 px, 64/512, latent 512), "bedroom" (256 px, 32/512, latent 512), "ffhq" (1024 px,
 * 16/512, latent 512). Errors: ALAE_E_INVALID_ARG (NULL argument; an unknown name, the message
 * lists the presets), ALAE_E_NOMEM. *out is set only on success; the caller owns the
 * configuration and releases it with alae_model_config_destroy. Thread-safe (no shared state). */
ALAE_API alae_status alae_model_config_create(const char *preset, alae_model_config **out);
/* Destroys a configuration; NULL is a no-op. */
ALAE_API void alae_model_config_destroy(alae_model_config *cfg);
/* Sets / reads a key. Errors: ALAE_E_INVALID_ARG (NULL argument, unknown key, a key of the other
 * architecture, ARCH for set, a non-integer for an integer key, out of range, a StyleALAE image
 * size that is not a power of two); the configuration is unchanged then. A configuration is a
 * plain object: one must not be used from two threads at once. */
ALAE_API alae_status alae_model_config_set(alae_model_config *cfg, int32_t key, double value);
ALAE_API alae_status alae_model_config_get(const alae_model_config *cfg, int32_t key, double *value);
/* The key of a setting name ("latent_dim", "mapping_layers", "hidden", "image_size", "channels",
 * "net_size", "data_range", "g_slope", "e_slope", "e_out_slope", "d_layers", "start_channels",
 * "max_channels"), for command lines and bindings. Errors: ALAE_E_INVALID_ARG (NULL argument,
 * unknown name). Thread-safe. */
ALAE_API alae_status alae_model_config_key(const char *name, int32_t *key);
/* The inclusive range of values a key accepts (StyleALAE's image size must also be a power of
 * two). Errors: ALAE_E_INVALID_ARG (NULL argument, unknown key). Thread-safe. */
ALAE_API alae_status alae_model_config_bounds(int32_t key, double *lo, double *hi);

/* Creates a model with freshly initialised parameters (equalised-learning-rate initialisation,
 * drawn from the context's generator with the given seed; StyleALAE's learned constant starts
 * at ones, biases and noise weights at zero). The model keeps a pointer to ctx, which must
 * outlive it, and follows its threading rules. Errors: ALAE_E_INVALID_ARG (NULL argument, an
 * inconsistent or oversized configuration), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM, ALAE_E_BACKEND.
 * *out is set only on success; the caller owns the model and releases it with
 * alae_model_destroy. */
ALAE_API alae_status alae_model_create(alae_context *ctx, const alae_model_config *cfg, uint64_t seed,
                                       alae_model **out);
/* Destroys a model; NULL is a no-op. Destroy trainers and optimizers using it first. */
ALAE_API void alae_model_destroy(alae_model *model);
/* A copy of the model's configuration; the caller owns it and releases it with
 * alae_model_config_destroy. Errors: ALAE_E_INVALID_ARG (NULL argument), ALAE_E_NOMEM. */
ALAE_API alae_status alae_model_get_config(const alae_model *model, alae_model_config **out);
/* Number of parameters in the parts of part_mask (ALAE_PART_*). Errors: ALAE_E_INVALID_ARG (NULL
 * argument, a mask outside ALAE_PART_ALL). */
ALAE_API alae_status alae_model_param_count(const alae_model *model, int32_t part_mask, uint64_t *out);

/* Inference settings (ALAE_MODEL_*). Unknown keys, read-only keys and out-of-range values fail
 * with ALAE_E_INVALID_ARG and leave the model unchanged. Not thread-safe with calls on the same
 * model (the model belongs to its context's thread). */
ALAE_API alae_status alae_model_set(alae_model *model, int32_t key, double value);
ALAE_API alae_status alae_model_get(const alae_model *model, int32_t key, double *value);

/* Inference. Batch sizes are taken from the inputs; outputs must have the matching shapes:
 * z, w: [N, latent_dim]; images: [N, channels, S, S] with S = ALAE_MODEL_RESOLUTION (the image
 * size at the top level); logits: [N]; styles: [N, ALAE_MODEL_STYLE_COUNT, latent_dim].
 * All run on the model's context and follow its threading rules; StyleALAE generator calls
 * advance the context's random stream by the noise they draw. Truncation (when
 * ALAE_MODEL_TRUNCATION_PSI != 1) applies to the styles of generate, generate_styles and sample,
 * never to reconstruct. Errors: ALAE_E_INVALID_ARG (NULL argument, tensors of another context),
 * ALAE_E_SHAPE (names the tensor with a wrong shape), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM,
 * ALAE_E_BACKEND, ALAE_E_ABORTED; the output is written only on success.
 * Each entry point plans its graph on the first call with a given batch shape and settings and
 * reuses that plan afterwards (the model keeps up to 8, least recently used first out, in one
 * activation arena of the largest size they need, until a setting change makes them stale or
 * the model is destroyed). */
ALAE_API alae_status alae_model_map(alae_model *model, const alae_tensor *z, alae_tensor *w);          /* F */
ALAE_API alae_status alae_model_generate(alae_model *model, const alae_tensor *w, alae_tensor *x);     /* G */
ALAE_API alae_status alae_model_encode(alae_model *model, const alae_tensor *x, alae_tensor *w);       /* E */
ALAE_API alae_status alae_model_discriminate(alae_model *model, const alae_tensor *w, alae_tensor *logit); /* D */
ALAE_API alae_status alae_model_reconstruct(alae_model *model, const alae_tensor *x, alae_tensor *x_rec); /* G(E(x)) */
ALAE_API alae_status alae_model_sample(alae_model *model, const alae_tensor *z, alae_tensor *x);       /* G(F(z)) */
/* G from per-layer styles [N, style_count, latent_dim]: row 2i and 2i+1 feed level i (style
 * mixing: take rows from different w; the reference's coarse / middle / fine ranges are rows
 * 0-3, 4-7 and 8 on). The MLP reads row 0. x: [N, channels, S, S]. Errors: as the entry
 * points above (ALAE_E_SHAPE when styles is not [N, ALAE_MODEL_STYLE_COUNT, latent_dim]). */
ALAE_API alae_status alae_model_generate_styles(alae_model *model, const alae_tensor *styles, alae_tensor *x);

/* Writes the model (parameters, running mean of w, configuration and the LOD / BLEND
 * settings in the metadata) as a safetensors file, atomically: an interrupted save leaves any
 * previous file intact. Errors: ALAE_E_INVALID_ARG (NULL argument), ALAE_E_NOMEM, ALAE_E_IO,
 * ALAE_E_BACKEND. */
ALAE_API alae_status alae_model_save(const alae_model *model, const char *path_utf8);
/* Loads a model file written by alae_model_save (or alae_trainer_save_model) onto ctx. Every
 * tensor's presence and shape is checked against the configuration in the file's metadata
 * before anything is allocated. Errors: ALAE_E_INVALID_ARG (NULL argument), ALAE_E_IO,
 * ALAE_E_FORMAT (not a libalae model file, a malformed configuration, a missing or misshaped
 * tensor, named with the file), ALAE_E_VERSION, ALAE_E_SHAPE, ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM.
 * *out is set only on success; the caller owns the model and releases it with
 * alae_model_destroy. */
ALAE_API alae_status alae_model_load(alae_context *ctx, const char *path_utf8, alae_model **out);

/* Which copy of the networks alae_model_import_pth takes from a checkpoint. */
#define ALAE_IMPORT_SMOOTHED 0 /* the smoothed (EMA) copies "*_s", those the authors use for inference */
#define ALAE_IMPORT_TRAINING 1 /* the training copies */

/* Imports a checkpoint of the authors' PyTorch ALAE (torch.save of {"models": {...},
 * "auxiliary": {...}, ...}: their published FFHQ, CelebA-HQ 256, LSUN Bedroom and CelebA models)
 * as a model of configuration cfg on ctx, without PyTorch. Both serialisations are read: the
 * legacy pickle stream of PyTorch < 1.6 and the zip archive of newer versions. The pickles are
 * interpreted as data, nothing in them is executed: objects of classes other than PyTorch's
 * tensors and collections.OrderedDict are inert values, accepted outside "models" (optimizer and
 * tracker state in "auxiliary") and refused inside it; globals of modules that can run commands
 * (os, subprocess, builtins.eval, ...) are refused anywhere.
 *
 * The networks discriminator (E), generator (G), mapping_tl (D) and mapping_fl (F) come from
 * their smoothed copies "<name>_s" (copy ALAE_IMPORT_SMOOTHED; a file without any smoothed copy
 * falls back to the training copies with a warning in the log) or from the training copies
 * (ALAE_IMPORT_TRAINING). Their tensors map one to one to the model's parameters (state_dict
 * names as docs/checkpoint-format.md lists them; the fixed blur kernels are skipped); every shape
 * is checked against cfg, and the tensors that are missing, misshaped or extra are named in the
 * message before anything is allocated. "dlatent_avg"/"buff" becomes the running mean of w (row 0
 * of its [style rows, latent] rows, which are equal), so truncation works at once. Values must be
 * finite. Storages may be float32, float64, float16 or bfloat16 (converted to float32); the data
 * is streamed from the file tensor by tensor, so the memory used is the model's plus a little.
 *
 * Errors: ALAE_E_INVALID_ARG (NULL argument, an invalid cfg, an unknown copy), ALAE_E_IO (cannot
 * open or read), ALAE_E_FORMAT (not a PyTorch checkpoint, malformed, refused, or not fitting cfg;
 * the message names the file and what is wrong), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM. *out is set
 * only on success; the caller owns the model and releases it with alae_model_destroy. The model
 * runs at its top level with blend 1. Since 0.1 (alae_model.h additions are append-only). */
ALAE_API alae_status alae_model_import_pth(alae_context *ctx, const char *path_utf8, const alae_model_config *cfg,
                                           int32_t copy, alae_model **out);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_MODEL_H */
