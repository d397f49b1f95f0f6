/* libalae: training — the three ALAE steps, the latent-matching loss API and the
 * progressive-growing schedule.
 *
 * One alae_trainer_step runs a full ALAE iteration on a batch of real images, exactly as the
 * reference: (1) the D-step on E and D: softplus(D(E(G(F(z))))) + softplus(-D(E(x))) plus the
 * R1 penalty (gamma/2)||grad_x D(E(x))||^2, differentiated exactly; (2) the G-step on F and G:
 * softplus(-D(E(G(F(z))))); (3) the latent step: the latent-matching loss between E(G(w)) and
 * the detached w = F(z), reaching E, G and F. Then the smoothed (EMA) copy is updated.
 *
 * StyleALAE adds (docs/alae-reference.md 3.6, 4.1-4.3):
 *  - levels of detail: the networks run at ALAE_TRAIN_LOD (images of 2^(LOD+2) px) and, during
 *    a transition (ALAE_TRAIN_BLEND < 1), fade the new level in: G blends its RGB outputs, E
 *    its features after fromRGB and the first block's style contributions, and the real batch
 *    is blended with its 2x-downsampled copy. Changing the level wipes both optimizers' Adam
 *    state, as the reference does.
 *  - style mixing (probability ALAE_TRAIN_STYLE_MIXING, 0.9) in the D- and G-steps: one coin
 *    and one crossover row in 1..2(LOD+1) per batch, rows from the crossover on from a second
 *    latent; never in the latent step. The running mean of w uses the unmixed w.
 *  - fresh noise maps in every generator call, from the trainer's random stream.
 *  - the reference's schedule: alae_trainer_set_position(epoch, images) sets the level, the
 *    fade-in factor (1 - cos(pi t)) / 2 over the first half of each level's epochs, and both
 *    optimizers' learning rate from a per-level table; every step then advances the images
 *    seen by its batch size and updates the fade-in. Defaults come from the model's preset
 *    (its configs/<preset>.yaml, 1-GPU batch sizes).
 * Step graphs are planned once per (batch size, level, transition or not, real image size,
 * mixing on or off); the fade-in factor is an input of the graphs, so a whole transition runs
 * on one set of plans. */
#ifndef ALAE_TRAIN_H
#define ALAE_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_model.h"
#include "alae_optim.h"
#include "alae_comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_trainer alae_trainer;

/* Trainer keys (append-only, 4001..) */
#define ALAE_TRAIN_R1_GAMMA           4001  /* gamma of the R1 penalty (10), >= 0 */
#define ALAE_TRAIN_LATENT_LOSS        4002  /* ALAE_LATENT_L2 (default) or ALAE_LATENT_L1 */
#define ALAE_TRAIN_LATENT_LOSS_WEIGHT 4003  /* weight of the latent-matching loss (1), >= 0 */
#define ALAE_TRAIN_EMA_HALF_LIFE      4004  /* half-life of the smoothed copy in images (10000); 0 = no smoothing */
#define ALAE_TRAIN_DLATENT_BETA       4005  /* decay of the running mean of w (0.995) */
#define ALAE_TRAIN_SEED               4006  /* seed of the trainer's latent samples (0) */
#define ALAE_TRAIN_LOD                4007  /* level of detail being trained, 0..levels-1 (the top level);
                                               a change wipes both optimizers' state, sets BLEND to 1
                                               and stops following the schedule */
#define ALAE_TRAIN_BLEND              4008  /* fade-in factor of LOD, [0, 1] (1); < 1 needs LOD > 0;
                                               setting it stops following the schedule */
#define ALAE_TRAIN_STYLE_MIXING       4009  /* style-mixing probability, [0, 1] (StyleALAE 0.9; the MLP
                                               reads one style row, so mixing has no effect there) */
#define ALAE_TRAIN_EPOCHS_PER_LOD     4010  /* schedule: epochs per level, 0..10^6 (preset; 0 = the top
                                               level from the start, no fade-in) */
#define ALAE_TRAIN_DATASET_SIZE       4011  /* schedule: images per epoch for the fade-in ramp, >= 1
                                               (preset: the reference dataset's size) */
#define ALAE_TRAIN_EPOCHS             4012  /* schedule: total epochs (preset), for callers' loops */
#define ALAE_TRAIN_EPOCH              4013  /* read-only: epoch of the schedule position */
#define ALAE_TRAIN_EPOCH_IMAGES       4014  /* read-only: images seen in that epoch */
#define ALAE_TRAIN_BATCH              4015  /* read-only: the batch size of LOD in the level table */
#define ALAE_TRAIN_R1_INTERVAL        4016  /* lazy R1 (StyleGAN2): the penalty only on every k-th D-step
                                               (iterations 0, k, 2k, ...), weighted k gamma / 2, and the
                                               E|D optimizer's steps with learning rate times k/(k+1) and
                                               betas to the power k/(k+1); 1..1024 (1: the reference,
                                               R1 on every D-step) */

/* Per-level table of the schedule (alae_trainer_set_level / get_level; 5001..) */
#define ALAE_LEVEL_BATCH 5001  /* batch size of the level, 1..2^20 */
#define ALAE_LEVEL_LR    5002  /* learning rate of both optimizers at the level, >= 0 (0: leave it) */

#define ALAE_LATENT_L2 0  /* mean of squared differences (the reference) */
#define ALAE_LATENT_L1 1  /* mean of absolute differences */

/* Losses of one iteration. Set struct_size = sizeof(alae_step_stats) before the call. */
typedef struct alae_step_stats {
    uint32_t struct_size;
    float loss_d;   /* D-step loss, R1 included */
    float loss_g;   /* G-step loss */
    float loss_ae;  /* latent-matching loss */
    float r1;       /* the R1 term alone (batch mean, gamma/2 included) */
    uint64_t step;  /* iterations done, this one included */
} alae_step_stats;

/* Creates a trainer for model with the two optimizers (opt_fg over F|G, opt_ed over E|D). It
 * keeps pointers to all three (they must outlive it), and its own smoothed copy of the model's
 * parameters. Settings start at the reference's values and the preset's schedule (level: the
 * top one). Errors: ALAE_E_INVALID_ARG (NULL argument, optimizers of another model or other
 * parts), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM. *out is set only on success; the caller owns the
 * trainer and releases it with alae_trainer_destroy. A trainer follows its model's context's
 * threading rules. */
ALAE_API alae_status alae_trainer_create(alae_model *model, alae_optimizer *opt_fg, alae_optimizer *opt_ed,
                                         alae_trainer **out);
/* Destroys a trainer (its plans and smoothed copy, not the model or optimizers); NULL is a no-op. */
ALAE_API void alae_trainer_destroy(alae_trainer *trainer);
/* Sets / reads a key (ALAE_TRAIN_*). Errors: ALAE_E_INVALID_ARG (NULL argument, unknown key,
 * read-only key for set, out-of-range value; the trainer is unchanged then), ALAE_E_BACKEND
 * (wiping the optimizers' state on a level change). */
ALAE_API alae_status alae_trainer_set(alae_trainer *trainer, int32_t key, double value);
ALAE_API alae_status alae_trainer_get(const alae_trainer *trainer, int32_t key, double *value);
/* The per-level schedule table (lod in 0..levels-1, keys ALAE_LEVEL_*). Errors:
 * ALAE_E_INVALID_ARG (NULL argument, a bad level, key or value; the trainer is unchanged then). */
ALAE_API alae_status alae_trainer_set_level(alae_trainer *trainer, int32_t lod, int32_t key, double value);
ALAE_API alae_status alae_trainer_get_level(const alae_trainer *trainer, int32_t lod, int32_t key, double *value);
/* Moves the schedule to `images_in_epoch` images into `epoch` (call it with 0 images at the
 * start of every epoch, or with the saved position after alae_trainer_load): sets LOD
 * (min(levels - 1, epoch / EPOCHS_PER_LOD)), BLEND and, when the level's ALAE_LEVEL_LR is > 0,
 * both optimizers' ALAE_OPT_LR. Entering another level wipes the optimizers' state. From then
 * on every alae_trainer_step adds its batch size to the images seen and updates BLEND; the
 * caller draws ALAE_TRAIN_BATCH real images at 2^(LOD+2) px (or at the model's image size:
 * the trainer then average-pools them). Errors: ALAE_E_INVALID_ARG (NULL trainer, epoch above
 * 2^40 or images above 2^50), ALAE_E_BACKEND. */
ALAE_API alae_status alae_trainer_set_position(alae_trainer *trainer, uint64_t epoch, uint64_t images_in_epoch);
/* Plans the step graphs for a batch size (at the current level, fade-in phase and style-mixing
 * setting, for real images at the level's size) and allocates all their memory, so that a later
 * step of that batch size allocates nothing; *bytes_needed (may be NULL) receives the total.
 * Errors: ALAE_E_INVALID_ARG (NULL trainer, batch outside 1..2^20), ALAE_E_NOMEM,
 * ALAE_E_DEVICE_NOMEM (reported here, before any step runs). */
ALAE_API alae_status alae_trainer_reserve(alae_trainer *trainer, int64_t batch, size_t *bytes_needed);
/* One training iteration on real images [N, C, S, S] (N >= 1), S the size of the current level
 * (2^(LOD+2) for StyleALAE) or the model's image size (then average-pooled to the level; the
 * reference instead reads offline box-downsampled 8-bit images). stats may be NULL. A new batch
 * size, level, fade-in phase or image size plans new graphs first. Errors: ALAE_E_INVALID_ARG
 * (NULL argument, stats->struct_size 0, a batch of another context), ALAE_E_SHAPE (the batch's
 * shape, with the shapes accepted), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM, ALAE_E_BACKEND,
 * ALAE_E_ABORTED; the trainer's random stream is not advanced by a failed step. */
ALAE_API alae_status alae_trainer_step(alae_trainer *trainer, const alae_tensor *real, alae_step_stats *stats);
/* Trains data-parallel with a communicator (alae_comm.h, docs/distributed.md), or alone again
 * with comm NULL. The trainer copies the table (comm->user must outlive the trainer or the next
 * call), then broadcasts rank 0's parameters, smoothed copy and running mean of w to every rank:
 * call it on every rank after alae_trainer_load, before the first step. From then on each step
 * takes this rank's part of the global batch (every rank the same batch size N, the global batch
 * N * comm->size), averages the gradients before every optimizer step, draws the latents of its
 * rows of the global batch, counts the global batch in the schedule and the smoothed copy, and
 * reports losses averaged over the ranks. Errors: ALAE_E_INVALID_ARG (NULL trainer, a bad rank,
 * size, memory kind or a missing function), ALAE_E_VERSION (another table version or a smaller
 * struct_size), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM, or the communicator's status (the trainer is
 * then alone). */
ALAE_API alae_status alae_trainer_set_comm(alae_trainer *trainer, const alae_comm *comm);
/* Iterations done so far. */
ALAE_API uint64_t alae_trainer_step_count(const alae_trainer *trainer);
/* Writes the smoothed (EMA) model, for inference, as a model file (see alae_model_save); the
 * file records the trainer's LOD and BLEND as the model's inference level. Errors:
 * ALAE_E_INVALID_ARG (NULL argument), ALAE_E_NOMEM, ALAE_E_IO, ALAE_E_BACKEND. */
ALAE_API alae_status alae_trainer_save_model(const alae_trainer *trainer, const char *path_utf8);
/* Copies the smoothed (EMA) parameters and the running mean of w into a new model on the
 * trainer's context (the caller destroys it), its ALAE_MODEL_LOD / BLEND set to the trainer's,
 * so that samples during progressive training come out at the level being trained. Errors:
 * ALAE_E_INVALID_ARG (NULL argument), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM. */
ALAE_API alae_status alae_trainer_smoothed_model(const alae_trainer *trainer, alae_model **out);
/* Writes / reads the whole training state (parameters, smoothed copy, optimizer moments and
 * step counts, latent generator position, settings, level, fade-in and schedule position),
 * atomically. A run resumed from it continues exactly as an uninterrupted one (same seed, one
 * thread): unlike the reference, resuming keeps the optimizers' state. Loading checks that the
 * file's configuration matches the trainer's model and that every tensor is present before it
 * overwrites the parameters. Errors: ALAE_E_INVALID_ARG (NULL argument), ALAE_E_IO, ALAE_E_FORMAT
 * (not a training-state file, a missing or misshaped tensor), ALAE_E_VERSION, ALAE_E_SHAPE (the
 * file's model configuration differs), ALAE_E_NOMEM, ALAE_E_BACKEND. */
ALAE_API alae_status alae_trainer_save(const alae_trainer *trainer, const char *path_utf8);
ALAE_API alae_status alae_trainer_load(alae_trainer *trainer, const char *path_utf8);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_TRAIN_H */
