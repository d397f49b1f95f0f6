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
 * mean squared pixel error of one image (G's output clamped to the model's data range, as image
 * files show it, against the image), averaged over the images; PSNR is 10 log10(peak^2 / MSE) of one image, peak the
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
 * codes to lower sum_i MSE_i, the per-image mean squared error of G(code_i), clamped to the
 * data range, against x_i (pixels outside the range are free to go further out); the
 * gradient through G comes from the library's autodiff, and the weights are not changed. The
 * shape of codes picks the space: [N, latent_dim] is W (one code per image, fed to every style
 * row, as alae_model_generate reads it); [N, style_count, latent_dim] is W+ (one code per style
 * row, ALAE_MODEL_STYLE_COUNT rows, each starting at E(x); for alae_model_generate_styles).
 * Each image keeps the code of its lowest error seen, so the error after is never above E's.
 * Noise (StyleALAE): with ALAE_NOISE_OFF G has none; otherwise one set of maps is drawn at the
 * start (advancing the context's random stream) and held fixed through the steps and the
 * measurement. Truncation does not apply. The whole batch is optimised together (memory grows
 * with N like a training step's G part); split large sets. steps: 0..1000000 (0: just E(x) and
 * its error); lr: 0 < lr <= 10 (0.1 suits the presets' latents). report may be NULL.
 * Errors: ALAE_E_INVALID_ARG (NULL model, x or codes; tensors of another context; steps or lr
 * out of range; report->struct_size 0), ALAE_E_SHAPE (names the tensor), ALAE_E_NOMEM,
 * ALAE_E_DEVICE_NOMEM, ALAE_E_BACKEND, ALAE_E_ABORTED (alae_context_request_abort between steps).
 * codes and report are written only on success. Follows the model's threading rules. */
ALAE_API alae_status alae_model_invert(alae_model *model, const alae_tensor *x, int32_t steps, double lr,
                                       alae_tensor *codes, alae_invert_report *report);

/* ---- metrics ----
 * They read host float32 arrays (images [n, channels, size, size] in any consistent range,
 * features [n, dim] row-major); none keeps a pointer after it returns. All are thread-safe
 * (no shared state) and deterministic for a given seed. docs/evaluation.md gives the protocols
 * and the values on the demos. Errors: ALAE_E_INVALID_ARG (NULL pointer, a count or size out of
 * range, a non-finite value where one is checked), ALAE_E_NOMEM; outputs are written only on
 * success. */

/* Reconstruction quality of n image pairs (x_i, y_i). Output struct: set struct_size =
 * sizeof(alae_image_quality); at most struct_size bytes are written. */
typedef struct alae_image_quality {
    uint32_t struct_size;
    double mse;   /* mean over images of the per-image mean squared error */
    double psnr;  /* mean over images of 10 log10(peak^2 / MSE), capped at 100 dB */
    double ssim;  /* mean over images and channels of SSIM (Wang et al. 2004: Gaussian window 11,
                     sigma 1.5, K1 0.01, K2 0.03, dynamic range peak, valid positions only; the
                     window is the image when it is smaller than 11) */
} alae_image_quality;

/* peak: the width of the pixel range (1 for [0, 1], 2 for [-1, 1]), > 0. n >= 1, channels 1..4,
 * size 1..65536. Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL pointer, out->struct_size 0, a
 * count, size or peak out of range, non-finite pixels). */
ALAE_API alae_status alae_eval_image_quality(const float *x, const float *y, int64_t n, int32_t channels,
                                             int32_t size, double peak, alae_image_quality *out);

#define ALAE_SWD_MAX_LEVELS 16

/* Sliced Wasserstein distance of two image sets (Karras et al. 2018, progressive GAN): per level
 * of a Laplacian pyramid (5x5 binomial filter, mirrored edges) of every image, 128 7x7
 * neighbourhoods at random positions per image, normalised per set and channel to zero mean and
 * unit variance; the distance is the mean, over 4 repeats of 128 random unit directions, of the
 * mean absolute difference of the sorted projections of the two sets, times 1000. Levels run
 * from the images' size down to 16 px as in the progressive-GAN code, always at least two
 * (28 px images: 28 and 14); a level needs at least 7 px. Output struct: set struct_size. */
typedef struct alae_swd_result {
    uint32_t struct_size;
    int32_t levels;                               /* levels measured, finest first */
    int32_t resolution[16];   /* their sides in pixels (16 = ALAE_SWD_MAX_LEVELS) */
    double distance[16];      /* SWD x 1000 per level */
    double mean;                                  /* the mean over the levels */
} alae_swd_result;

/* a and b: n images each (n 1..2^24), size >= 7. seed picks the positions and directions; both
 * sets are cut at the same positions. Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL pointer,
 * out->struct_size 0, a count or size out of range, non-finite pixels), ALAE_E_NOMEM (the
 * descriptors take 2 x n x 128 x channels x 49 floats per level). */
ALAE_API alae_status alae_eval_swd(const float *a, const float *b, int64_t n, int32_t channels, int32_t size,
                                   uint64_t seed, alae_swd_result *out);

/* Improved precision and recall (Kynkaenniemi et al. 2019) of generated features against real
 * ones: each set's manifold is the union of balls around its points, of radius the distance to
 * the point's k-th nearest neighbour in its own set; precision is the fraction of generated
 * points inside the real manifold, recall the fraction of real points inside the generated one.
 * Euclidean distances, brute force. n_real, n_fake > k >= 1; dim >= 1. Thread-safe. Errors:
 * ALAE_E_INVALID_ARG (NULL pointer, k or a size out of range, non-finite values), ALAE_E_NOMEM. */
ALAE_API alae_status alae_eval_precision_recall(const float *real, int64_t n_real, const float *fake, int64_t n_fake,
                                                int64_t dim, int32_t k, double *precision, double *recall);

/* Accuracy on a labelled test set of the 1-nearest-neighbour rule (Euclidean; ties go to the
 * first training point) over a labelled training set. Labels are any int32 values. Thread-safe.
 * Errors: ALAE_E_INVALID_ARG (NULL pointer, a size out of range, non-finite values). */
ALAE_API alae_status alae_eval_nn_accuracy(const float *train, const int32_t *train_labels, int64_t n_train,
                                           const float *test, const int32_t *test_labels, int64_t n_test,
                                           int64_t dim, double *accuracy);

/* Accuracy on a labelled test set of a linear classifier fitted on the training set: features
 * standardised by the training set's mean and deviation, then one-vs-rest least squares with a
 * bias and ridge 1e-3 per sample (targets +1 / -1 per class, prediction the largest score).
 * dim 1..4096, at most 1024 distinct labels. Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL
 * pointer, a size out of range, too many labels, non-finite values), ALAE_E_NOMEM. */
ALAE_API alae_status alae_eval_linear_accuracy(const float *train, const int32_t *train_labels, int64_t n_train,
                                               const float *test, const int32_t *test_labels, int64_t n_test,
                                               int64_t dim, double *accuracy);

/* Fréchet distance of two feature sets [n_a, dim] and [n_b, dim] (the distance FID reports,
 * Heusel et al. 2017): each set is summarised by its mean and covariance (divisor n - 1, as
 * numpy.cov), and
 *     distance = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)),
 * computed in double (the trace term from the eigenvalues of L^T S_b L, S_a = L L^T by a pivoted
 * Cholesky factorisation, so sets smaller than dim, whose covariances are singular, work). A
 * rounding error that would make it negative is clamped to 0. n_a, n_b 2..2^24, dim 1..4096;
 * memory about 5 dim^2 doubles (168 MB at dim 2048), time O(dim^3 + n dim^2). Thread-safe.
 * Errors: ALAE_E_INVALID_ARG (NULL pointer, a count or dim out of range, non-finite values),
 * ALAE_E_NOMEM. */
ALAE_API alae_status alae_eval_frechet_distance(const float *a, int64_t n_a, const float *b, int64_t n_b, int64_t dim,
                                                double *distance);

/* ---- a feature network: FID's Inception-v3 ----
 * The network of FID (Heusel et al. 2017) as pytorch-fid runs it: Inception-v3 with the
 * `pt_inception-2015-12-05` weights, images resized bilinearly to 299 x 299 and scaled to
 * [-1, 1], the 2048 averages of the last block's channels ("pool3") as features. libalae ships
 * no weights: the user supplies pytorch-fid's file (`pt_inception-2015-12-05-*.pth`, a PyTorch
 * state dict, read without PyTorch) or safetensors with the same tensor names
 * (docs/evaluation.md lists them: "Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch1x1.bn.
 * running_mean", ...; other tensors, such as "fc.weight", are ignored). The architecture is
 * fixed by the names; the widths are read from the shapes, and the feature dimension is the
 * last block's width (2048 for the standard weights). Batch normalisation (epsilon 1e-3) is
 * folded into the convolutions when loading. A network belongs to its context and follows the
 * context's threading rules: one call at a time. */
typedef struct alae_feature_net alae_feature_net;

/* Loads the network onto ctx's device from a file: a path ending in ".pth" or ".pt" is read as
 * a PyTorch state dict, any other as safetensors (about 90 MB of weights for the standard
 * network, plus the activations of a batch of 8 images: several hundred MB). Errors:
 * ALAE_E_INVALID_ARG (NULL argument), ALAE_E_IO, ALAE_E_FORMAT (not safetensors or not a state
 * dict; a tensor missing, named in the message), ALAE_E_SHAPE (a tensor whose shape does not fit the architecture),
 * ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM. The caller owns the network (alae_feature_net_destroy). */
ALAE_API alae_status alae_feature_net_load(alae_context *ctx, const char *path_utf8, alae_feature_net **out);
/* Destroys a network; NULL is a no-op. */
ALAE_API void alae_feature_net_destroy(alae_feature_net *net);
/* The feature dimension (2048 for the standard weights); 0 for NULL. */
ALAE_API int64_t alae_feature_net_dim(const alae_feature_net *net);
/* Features [n, dim] (host) of n host images [n, channels, size, size] whose pixels span [lo, hi]
 * (the model's data range: 0..1 or -1..1); one channel is repeated to three. n >= 1, channels 1
 * or 3, size 1..4096. Errors: ALAE_E_INVALID_ARG (NULL pointer, a count, size or range out of
 * range, non-finite pixels), ALAE_E_NOMEM, ALAE_E_DEVICE_NOMEM, ALAE_E_BACKEND, ALAE_E_ABORTED.
 * features are complete only on success. */
ALAE_API alae_status alae_feature_net_features(alae_feature_net *net, const float *images, int64_t n, int32_t channels,
                                               int32_t size, double lo, double hi, float *features);

/* Perceptual path length in W with end-point sampling (Karras et al. 2019), in pixel space: for
 * each pair (z0_i, z1_i) [N, latent_dim], w0 = F(z0), w1 = F(z1) and
 *   length_i = mean over pixels of (G(w0 + epsilon (w1 - w0)) - G(w0))^2 / (peak^2 epsilon^2)
 * (pixels scaled to a range of width 1). lengths (host [N]) receives every pair's value when not
 * NULL; *mean the mean of those between the 1st and 99th percentiles (inclusive), as StyleGAN's
 * ppl.py reports. epsilon in (0, 1]; the paper's 1e-4. StyleALAE noise: ALAE_NOISE_OFF stays off;
 * otherwise the images are generated with ALAE_NOISE_BATCH_CONSTANT (the reference's setting:
 * both ends of a pair see the same maps), and the model's setting is restored after. Errors: as alae_model_generate,
 * plus ALAE_E_INVALID_ARG (epsilon), ALAE_E_SHAPE (z0 and z1 differ or are not [N, latent_dim]).
 * Follows the model's threading rules. */
ALAE_API alae_status alae_model_path_length(alae_model *model, const alae_tensor *z0, const alae_tensor *z1,
                                            double epsilon, float *lengths, double *mean);

/* The same path length with the distance of a feature network instead of pixels:
 *   length_i = |phi(G(w0 + epsilon (w1 - w0))) - phi(G(w0))|^2 / epsilon^2
 * with phi the features of net (alae_feature_net_features over the model's data range), the
 * squared Euclidean distance summed over the features. With FID's Inception-v3 this is a path
 * length in Inception space; the paper's uses LPIPS (VGG16), so values are comparable only with
 * each other. Arguments, noise and errors as alae_model_path_length, plus ALAE_E_INVALID_ARG for a
 * NULL net; net and model may share a context or not. Follows both objects' threading rules. */
ALAE_API alae_status alae_model_path_length_features(alae_model *model, alae_feature_net *net, const alae_tensor *z0,
                                                     const alae_tensor *z1, double epsilon, float *lengths,
                                                     double *mean);

/* ---- attribute directions in W ----
 * A direction is a unit vector in W, the normal of a linear boundary between codes with and
 * without an attribute; moving a code along it adds (positive amounts) or removes the attribute.
 * A set of named directions is saved as safetensors: one F32 tensor [latent_dim] per direction
 * named "direction.<name>", metadata "alae.format" = "alae-directions" and
 * "alae.accuracy.<name>" (held-out accuracy, or "unknown" for imported ones). */

/* Fits the direction of one binary attribute from n codes [n, dim] and positive[i] (non-zero:
 * the attribute is present): every 5th code (i % 5 == 4) is held out, a least-squares linear
 * classifier (as alae_eval_linear_accuracy) is fitted on the others, and its boundary's normal,
 * mapped back to W and scaled to unit length, points to the positive side. *accuracy is its
 * accuracy on the held-out codes. n >= 10, dim 1..4096; both classes must occur among the
 * fitted codes. Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL pointer, n or dim out of range,
 * one class only, non-finite codes), ALAE_E_NOMEM. direction [dim] and accuracy are written
 * only on success. */
ALAE_API alae_status alae_direction_fit(const float *codes, const int32_t *positive, int64_t n, int64_t dim,
                                        float *direction, double *accuracy);

typedef struct alae_directions alae_directions;

/* An empty set of directions in a W of dim 1..4096. Errors: ALAE_E_INVALID_ARG, ALAE_E_NOMEM.
 * The caller owns the set (alae_directions_destroy). A set is a plain object: one must not be
 * changed from two threads at once. */
ALAE_API alae_status alae_directions_create(int64_t dim, alae_directions **out);
/* Destroys a set; NULL is a no-op. */
ALAE_API void alae_directions_destroy(alae_directions *set);
/* Adds (or replaces) the direction called name: 1..63 characters of A-Z a-z 0-9 _ . -; the
 * vector [dim] is scaled to unit length (it must not be zero); accuracy is its held-out accuracy
 * in [0, 1], or NaN when unknown. Errors: ALAE_E_INVALID_ARG (NULL argument, a bad name, a zero
 * or non-finite vector, accuracy out of range), ALAE_E_NOMEM. */
ALAE_API alae_status alae_directions_add(alae_directions *set, const char *name, const float *vector, double accuracy);
/* Number of directions (0 for NULL) and the dimension of W (0 for NULL). */
ALAE_API int64_t alae_directions_count(const alae_directions *set);
ALAE_API int64_t alae_directions_dim(const alae_directions *set);
/* Direction `index` (0..count-1, in the order added; after a load, by name): its name (owned by
 * the set, valid until it changes), unit vector [dim] and accuracy (NaN: unknown); any output
 * may be NULL. Errors: ALAE_E_INVALID_ARG (NULL set, index out of range). */
ALAE_API alae_status alae_directions_get(const alae_directions *set, int64_t index, const char **name, float *vector,
                                         double *accuracy);
/* The index of the direction called name. Errors: ALAE_E_INVALID_ARG (NULL argument; no such
 * name, the message lists the names there are). */
ALAE_API alae_status alae_directions_find(const alae_directions *set, const char *name, int64_t *index);
/* Writes the set as safetensors, atomically. Errors: ALAE_E_INVALID_ARG (NULL argument, an empty
 * set), ALAE_E_IO, ALAE_E_NOMEM. */
ALAE_API alae_status alae_directions_save(const alae_directions *set, const char *path_utf8);
/* Reads a set written by alae_directions_save. Errors: ALAE_E_INVALID_ARG (NULL argument),
 * ALAE_E_IO, ALAE_E_FORMAT (not a directions file; a tensor of another shape or name),
 * ALAE_E_NOMEM. The caller owns the set. Thread-safe. */
ALAE_API alae_status alae_directions_load(const char *path_utf8, alae_directions **out);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_EVAL_H */
