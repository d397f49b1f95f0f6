/* Adam as the ALAE reference runs it (LREQAdam): the step of each parameter is scaled by its
 * equalised-learning-rate coefficient and by sqrt(1 - beta2^t); eps is added to the
 * uncorrected sqrt(v). With beta1 = 0 (the reference) the first moment is the gradient. */
#include <math.h>
#include <stdlib.h>

#include "optim_internal.h"

ALAE_API alae_status alae_optimizer_create_adam(alae_model *model, int32_t part_mask, alae_optimizer **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(model);
    ALAEI_CHECK_ARG(out);
    if (part_mask <= 0 || part_mask > ALAE_PART_ALL)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "part mask %d is not a combination of ALAE_PART_*",
                          (int)part_mask);
    alae_optimizer *o = calloc(1, sizeof *o);
    int32_t n = model->n_params;
    if (!o || !(o->m = calloc((size_t)n, sizeof(void *))) || !(o->v = calloc((size_t)n, sizeof(void *))) ||
        !(o->t = calloc((size_t)n, sizeof(int64_t)))) {
        alae_optimizer_destroy(o);
        return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for an optimizer");
    }
    o->model = model;
    o->part_mask = part_mask;
    o->lr = 0.002;
    o->beta1 = 0.0;
    o->beta2 = 0.99;
    o->eps = 1e-8;
    alae_context *ctx = model->ctx;
    alae_status s = ALAE_OK;
    for (int32_t i = 0; s == ALAE_OK && i < n; i++) {
        const alaei_param *p = &model->params[i];
        if (!(p->part & part_mask)) continue;
        /* m and v in one buffer, v right after m: ADAM_EMA_STEP reads them as one source */
        s = alaei_device_alloc(ctx, 2 * (size_t)p->numel, &o->m[i]);
        if (s == ALAE_OK) o->v[i] = (char *)o->m[i] + (size_t)p->numel * alaei_device_elem_size(ctx);
        if (s == ALAE_OK) s = alaei_device_fill(ctx, o->m[i], 2 * (size_t)p->numel, 0.0);
    }
    if (s != ALAE_OK) {
        alae_optimizer_destroy(o);
        return s;
    }
    *out = o;
    return ALAE_OK;
}

ALAE_API void alae_optimizer_destroy(alae_optimizer *o) {
    if (!o) return;
    if (o->model) {
        alae_context *ctx = o->model->ctx;
        for (int32_t i = 0; i < o->model->n_params; i++)
            if (o->m) alaei_device_free(ctx, o->m[i]); /* v lies in the same buffer */
    }
    free(o->m);
    free(o->v);
    free(o->t);
    free(o);
}

ALAE_API alae_status alae_optimizer_set(alae_optimizer *o, int32_t key, double value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(o);
    switch (key) {
    case ALAE_OPT_LR:
        if (!(value > 0 && isfinite(value))) break;
        o->lr = value;
        return ALAE_OK;
    case ALAE_OPT_BETA1:
    case ALAE_OPT_BETA2:
        if (!(value >= 0 && value < 1)) break;
        if (key == ALAE_OPT_BETA1)
            o->beta1 = value;
        else
            o->beta2 = value;
        return ALAE_OK;
    case ALAE_OPT_EPS:
        if (!(value > 0 && isfinite(value))) break;
        o->eps = value;
        return ALAE_OK;
    default:
        return alaei_fail_key(__func__, key, ALAEI_KEYS_OPT);
    }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "value %g is out of range for optimizer key %d", value, (int)key);
}

ALAE_API alae_status alae_optimizer_get(const alae_optimizer *o, int32_t key, double *value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(o);
    ALAEI_CHECK_ARG(value);
    switch (key) {
    case ALAE_OPT_LR: *value = o->lr; return ALAE_OK;
    case ALAE_OPT_BETA1: *value = o->beta1; return ALAE_OK;
    case ALAE_OPT_BETA2: *value = o->beta2; return ALAE_OK;
    case ALAE_OPT_EPS: *value = o->eps; return ALAE_OK;
    default: return alaei_fail_key(__func__, key, ALAEI_KEYS_OPT);
    }
}

alae_status alaei_optimizer_step(alae_optimizer *o, void *const *grads) {
    return alaei_optimizer_step_smoothed(o, grads, NULL, NULL, 0.0, NULL);
}

alae_status alaei_optimizer_step_smoothed(alae_optimizer *o, void *const *grads, void *const *smoothed, void *scratch,
                                          double rate, unsigned char *smoothed_done) {
    alae_model *model = o->model;
    alae_context *ctx = model->ctx;
    for (int32_t i = 0; i < model->n_params; i++) {
        const alaei_param *p = &model->params[i];
        if (!(p->part & o->part_mask) || !grads[i]) continue;
        int64_t t = o->t[i] + 1;
        /* folded bias corrections, in double as the reference computes them */
        double step = o->lr * sqrt(1.0 - pow(o->beta2, (double)t)) / (1.0 - pow(o->beta1, (double)t)) * p->lr_coef;
        alae_status s;
        if (smoothed && smoothed[i]) {
            s = alaei_device_adam_ema_step(ctx, p->data, grads[i], o->m[i], smoothed[i], scratch, p->numel, step,
                                           o->beta1, o->beta2, o->eps, rate);
            if (s == ALAE_OK) smoothed_done[i] = 1;
        } else {
            s = alaei_device_adam_step(ctx, p->data, grads[i], o->m[i], o->v[i], p->numel, step, o->beta1, o->beta2,
                                       o->eps);
        }
        if (s != ALAE_OK) return s;
        o->t[i] = t; /* counted once it ran (an aborted step leaves it) */
    }
    return ALAE_OK;
}

alae_status alaei_optimizer_reset(alae_optimizer *o) {
    alae_model *model = o->model;
    alae_context *ctx = model->ctx;
    for (int32_t i = 0; i < model->n_params; i++) {
        if (!o->m[i]) continue;
        size_t count = (size_t)model->params[i].numel;
        alae_status s = alaei_device_fill(ctx, o->m[i], 2 * count, 0.0); /* m and v */
        if (s != ALAE_OK) return s;
        o->t[i] = 0;
    }
    return ALAE_OK;
}
