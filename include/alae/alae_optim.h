/* libalae: optimizers. Adam as the ALAE reference uses it ("LREQAdam"): the step of every
 * parameter is multiplied by its equalised-learning-rate coefficient. */
#ifndef ALAE_OPTIM_H
#define ALAE_OPTIM_H

#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_optimizer alae_optimizer;

/* Optimizer keys (append-only, 6001..) */
#define ALAE_OPT_LR    6001  /* learning rate (0.002), > 0 */
#define ALAE_OPT_BETA1 6002  /* first-moment decay (0: the reference has no first moment), [0, 1) */
#define ALAE_OPT_BETA2 6003  /* second-moment decay (0.99), [0, 1) */
#define ALAE_OPT_EPS   6004  /* added to sqrt(v) before the bias correction (1e-8), > 0 */

/* Creates an Adam optimizer over the parts of model in part_mask (ALAE_PART_*): the reference
 * trains E|D with one and F|G with another. It keeps a pointer to model, which must outlive it.
 * *out is set only on success; the caller owns the optimizer and releases it with
 * alae_optimizer_destroy (NULL is a no-op). It follows the model's context's threading rules.
 * Errors: ALAE_E_INVALID_ARG (NULL argument, bad mask), ALAE_E_NOMEM / ALAE_E_DEVICE_NOMEM (the
 * moments). */
ALAE_API alae_status alae_optimizer_create_adam(alae_model *model, int32_t part_mask, alae_optimizer **out);
ALAE_API void alae_optimizer_destroy(alae_optimizer *opt);
/* Sets ALAE_OPT_* (takes effect at the next step). Errors: ALAE_E_INVALID_ARG (NULL, unknown key,
 * value out of range: the message names both). */
ALAE_API alae_status alae_optimizer_set(alae_optimizer *opt, int32_t key, double value);
/* Reads ALAE_OPT_* into *value. Errors: ALAE_E_INVALID_ARG (NULL argument, unknown key). */
ALAE_API alae_status alae_optimizer_get(const alae_optimizer *opt, int32_t key, double *value);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_OPTIM_H */
