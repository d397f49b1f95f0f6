/* Internal optimizer, schedule and trainer state shared by lib/train. */
#ifndef ALAE_OPTIM_INTERNAL_H
#define ALAE_OPTIM_INTERNAL_H

#include "nn/model_internal.h"

struct alae_optimizer {
    alae_model *model;
    int32_t part_mask;
    double lr, beta1, beta2, eps;
    void **m, **v;  /* per model parameter (NULL outside part_mask): moments in backend memory, one
                     * buffer of 2 numel per parameter (v = m + numel: ADAM_EMA_STEP's layout) */
    int64_t *t;     /* per model parameter: Adam steps taken */
};

/* One Adam step for every parameter of the optimizer's parts whose gradient is given
 * (grads[i] == NULL: no gradient, the parameter is skipped as the reference does). */
alae_status alaei_optimizer_step(alae_optimizer *opt, void *const *grads);
/* The same, and for every parameter i stepped with smoothed[i] != NULL the smoothed copy's update
 * smoothed[i] += rate (p - smoothed[i]) in the same pass over memory (ADAM_EMA_STEP; scratch of
 * the largest parameter's size for backends without it); sets smoothed_done[i] = 1 for those. */
alae_status alaei_optimizer_step_smoothed(alae_optimizer *opt, void *const *grads, void *const *smoothed, void *scratch,
                                          double rate, unsigned char *smoothed_done);
/* Forgets the moments and step counts (the reference does this at every level change). */
alae_status alaei_optimizer_reset(alae_optimizer *opt);

/* The progressive-growing schedule of the reference's LODDriver (docs/alae-reference.md 4.1, 4.3):
 * level k trains from epoch k * epochs_per_lod on (the last level until the end), fades in
 * over the first floor(epochs_per_lod / 2) epochs of the level, with its own batch size and
 * learning rate. epochs_per_lod = 0: the top level throughout, no fade-in. */
typedef struct alaei_schedule {
    int64_t epochs_per_lod, dataset_size, epochs;
    int64_t batch[ALAEI_MAX_LEVELS];
    double lr[ALAEI_MAX_LEVELS]; /* 0: leave the optimizers' learning rate alone */
} alaei_schedule;

/* The largest schedule position alae_trainer_set_position and a training state accept. */
#define ALAEI_MAX_EPOCH        1099511627776.0     /* 2^40 */
#define ALAEI_MAX_EPOCH_IMAGES 1125899906842624.0  /* 2^50 */

/* The reference configuration of cfg's preset (1-GPU batch sizes). */
void alaei_schedule_defaults(const alae_model_config *cfg, alaei_schedule *s);
int32_t alaei_schedule_lod(const alaei_schedule *s, int32_t levels, uint64_t epoch);
/* The fade-in factor at (epoch, images seen in it): (1 - cos(pi t)) / 2 during the transition
 * into the level, 1 otherwise. */
double alaei_schedule_blend(const alaei_schedule *s, int32_t levels, uint64_t epoch, uint64_t images);

#endif
