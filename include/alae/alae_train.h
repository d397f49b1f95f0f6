/* libalae: training — the three ALAE steps and the latent-matching loss API.
 *
 * One alae_trainer_step runs a full ALAE iteration on a batch of real images, exactly as the
 * reference: (1) the D-step on E and D: softplus(D(E(G(F(z))))) + softplus(-D(E(x))) plus the
 * R1 penalty (gamma/2)||grad_x D(E(x))||^2, differentiated exactly; (2) the G-step on F and G:
 * softplus(-D(E(G(F(z))))); (3) the latent step: the latent-matching loss between E(G(w)) and
 * the detached w = F(z), reaching E, G and F. Then the smoothed (EMA) copy is updated. */
#ifndef ALAE_TRAIN_H
#define ALAE_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_model.h"
#include "alae_optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_trainer alae_trainer;

/* Trainer keys (append-only) */
#define ALAE_TRAIN_R1_GAMMA            1  /* gamma of the R1 penalty (10), >= 0 */
#define ALAE_TRAIN_LATENT_LOSS         2  /* ALAE_LATENT_L2 (default) or ALAE_LATENT_L1 */
#define ALAE_TRAIN_LATENT_LOSS_WEIGHT  3  /* weight of the latent-matching loss (1), >= 0 */
#define ALAE_TRAIN_EMA_HALF_LIFE       4  /* half-life of the smoothed copy in images (10000); 0 = no smoothing */
#define ALAE_TRAIN_DLATENT_BETA        5  /* decay of the running mean of w (0.995) */
#define ALAE_TRAIN_SEED                6  /* seed of the trainer's latent samples (0) */

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
 * keeps pointers to all three, and its own smoothed copy of the model's parameters. */
ALAE_API alae_status alae_trainer_create(alae_model *model, alae_optimizer *opt_fg, alae_optimizer *opt_ed,
                                         alae_trainer **out);
ALAE_API void alae_trainer_destroy(alae_trainer *trainer);
ALAE_API alae_status alae_trainer_set(alae_trainer *trainer, int32_t key, double value);
ALAE_API alae_status alae_trainer_get(const alae_trainer *trainer, int32_t key, double *value);
/* Plans the step graphs for a batch size and allocates all their memory, so that a later step
 * of that batch size allocates nothing; *bytes_needed (may be NULL) receives the total. */
ALAE_API alae_status alae_trainer_reserve(alae_trainer *trainer, int64_t batch, size_t *bytes_needed);
/* One training iteration on real images [N, C, S, S] (N >= 1). stats may be NULL. */
ALAE_API alae_status alae_trainer_step(alae_trainer *trainer, const alae_tensor *real, alae_step_stats *stats);
/* Iterations done so far. */
ALAE_API uint64_t alae_trainer_step_count(const alae_trainer *trainer);
/* Writes the smoothed (EMA) model, for inference, as a model file (see alae_model_save). */
ALAE_API alae_status alae_trainer_save_model(const alae_trainer *trainer, const char *path_utf8);
/* Copies the smoothed (EMA) parameters into a new model (the caller destroys it). */
ALAE_API alae_status alae_trainer_smoothed_model(const alae_trainer *trainer, alae_model **out);
/* Writes / reads the whole training state (parameters, smoothed copy, optimizer moments and
 * step counts, latent generator position, settings), atomically. A run resumed from it
 * continues exactly as an uninterrupted one (same seed, one thread). Loading checks that the
 * file's configuration matches the trainer's model. */
ALAE_API alae_status alae_trainer_save(const alae_trainer *trainer, const char *path_utf8);
ALAE_API alae_status alae_trainer_load(alae_trainer *trainer, const char *path_utf8);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_TRAIN_H */
