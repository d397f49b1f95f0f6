/* libalae: measuring and editing a trained model — inversion of real images (a code that G
 * turns back into the image more faithfully than E's), image-quality metrics, and attribute
 * directions in W. docs/evaluation.md describes the protocols and shows them on the demos. */
#ifndef ALAE_EVAL_H
#define ALAE_EVAL_H

#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_tensor.h"
#include "alae_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- inversion ---- */

/* What an inversion measured. Output struct: set struct_size = sizeof(alae_invert_report) before
 * the call; the library writes at most struct_size bytes (fields may be appended). MSE is the
 * mean squared pixel error of one image (unclamped G output against the image, in the model's
 * data range), averaged over the images; PSNR is 10 log10(peak^2 / MSE) of one image, peak the
 * width of the data range (1 for [0, 1], 2 for [-1, 1]), capped at 100 dB, averaged over the
 * images. "before" is G(E(x)); "after" is G of the returned codes. */
typedef struct alae_invert_report {
    uint32_t struct_size;
    int32_t steps;       /* gradient steps run */
    double mse_before;   /* of G(E(x)) */
    double mse_after;    /* of G(codes) */
    double psnr_before;  /* dB */
    double psnr_after;   /* dB */
} alae_invert_report;

/* Inverts images x [N, C, S, S] (S = ALAE_MODEL_RESOLUTION, the model's data range) into codes:
 * starts from w = E(x) and runs `steps` Adam steps (learning rate lr, betas 0.9 / 0.999) on the
 * codes to lower sum_i MSE_i, the per-image mean squared error of G(code_i) against x_i; the
 * gradient through G comes from the library's autodiff, and the weights are not changed. The
 * shape of codes picks the space: [N, latent_dim] is W (one code per image, fed to every style
 * row, as alae_model_generate reads it); [N, style_count, latent_dim] is W+ (one code per style
 * row, ALAE_MODEL_STYLE_COUNT rows, each starting at E(x); for alae_model_generate_styles).
 * Each image keeps the code of its lowest error seen, so the error after is never above E's.
 * Noise (StyleALAE): with ALAE_NOISE_OFF G has none; otherwise one set of maps is drawn at the
 * start (advancing the context's random stream) and held fixed through the steps and the
 * measurement. Truncation does not apply. The whole batch is optimised together (memory grows
 * with N like a training step's G part); split large sets. steps: 0..1000000 (0: just E(x) and
 * its error); lr: 0 < lr <= 10 (0.01 suits the presets' latents). report may be NULL.
 * Errors: ALAE_E_INVALID_ARG (NULL model, x or codes; tensors of another context; steps or lr
 * out of range; report->struct_size 0), ALAE_E_SHAPE (names the tensor), ALAE_E_NOMEM,
 * ALAE_E_DEVICE_NOMEM, ALAE_E_BACKEND, ALAE_E_ABORTED (alae_context_request_abort between steps).
 * codes and report are written only on success. Follows the model's threading rules. */
ALAE_API alae_status alae_model_invert(alae_model *model, const alae_tensor *x, int32_t steps, double lr,
                                       alae_tensor *codes, alae_invert_report *report);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_EVAL_H */
