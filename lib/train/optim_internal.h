/* Internal optimizer and trainer state shared by lib/train. */
#ifndef ALAE_OPTIM_INTERNAL_H
#define ALAE_OPTIM_INTERNAL_H

#include "nn/model_internal.h"

struct alae_optimizer {
    alae_model *model;
    int32_t part_mask;
    double lr, beta1, beta2, eps;
    void **m, **v;  /* per model parameter (NULL outside part_mask): moments in backend memory */
    int64_t *t;     /* per model parameter: Adam steps taken */
};

/* One Adam step for every parameter of the optimizer's parts whose gradient is given
 * (grads[i] == NULL: no gradient, the parameter is skipped as the reference does). */
alae_status alaei_optimizer_step(alae_optimizer *opt, void *const *grads);

#endif
