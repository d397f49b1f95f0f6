/* libalae: tensors (latent codes, images, logits) living on a context's device.
 *
 * Tensors are dense, row-major (images are NCHW) and opaque: data moves only through
 * alae_tensor_write / alae_tensor_read. A tensor belongs to the context it was created on and
 * follows that context's threading rules. */
#ifndef ALAE_TENSOR_H
#define ALAE_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_tensor alae_tensor;

typedef int32_t alae_dtype;
#define ALAE_DTYPE_F32 0
#define ALAE_DTYPE_F16 1 /* reserved */
#define ALAE_DTYPE_BF16 2 /* reserved */
#define ALAE_DTYPE_I32 3 /* reserved */
#define ALAE_DTYPE_U8 4 /* reserved */

#define ALAE_TENSOR_MAX_DIMS 4

/* Creates a zero-filled tensor of ndim (1..4) dimensions, each >= 1. Only ALAE_DTYPE_F32 is
 * supported for now (others: ALAE_E_UNSUPPORTED). *out is set only on success; the caller owns
 * the tensor and releases it with alae_tensor_destroy. */
ALAE_API alae_status alae_tensor_create(alae_context *ctx, alae_dtype dtype, int32_t ndim,
                                        const int64_t *shape, alae_tensor **out);
/* Destroys a tensor; NULL is a no-op. */
ALAE_API void alae_tensor_destroy(alae_tensor *t);
/* Number of dimensions, or 0 for NULL. */
ALAE_API int32_t alae_tensor_ndim(const alae_tensor *t);
/* The element type, or -1 for NULL. */
ALAE_API alae_dtype alae_tensor_dtype(const alae_tensor *t);
/* Total element count, or 0 for NULL. */
ALAE_API int64_t alae_tensor_numel(const alae_tensor *t);
/* Copies the shape into shape[0..ndim-1]. Errors: ALAE_E_INVALID_ARG (NULL argument, capacity <
 * ndim). */
ALAE_API alae_status alae_tensor_shape(const alae_tensor *t, int64_t *shape, int32_t capacity);
/* Copies nbytes (must equal numel * element size) from host memory into the tensor. Errors:
 * ALAE_E_INVALID_ARG (NULL argument), ALAE_E_SHAPE (nbytes differs), ALAE_E_BACKEND. */
ALAE_API alae_status alae_tensor_write(alae_tensor *t, const void *host, size_t nbytes);
/* Copies the tensor into host memory; nbytes must equal numel * element size. Errors:
 * ALAE_E_INVALID_ARG (NULL argument), ALAE_E_SHAPE (nbytes differs), ALAE_E_BACKEND. */
ALAE_API alae_status alae_tensor_read(const alae_tensor *t, void *host, size_t nbytes);
/* Fills the tensor with mean + stddev * N(0,1) numbers from the context's counter-based
 * generator (Philox4x32-10). The same seed gives the same numbers on every backend; each call
 * advances the context's counter. Errors: ALAE_E_INVALID_ARG (NULL tensor, mean or stddev not
 * finite, stddev < 0), ALAE_E_BACKEND. */
ALAE_API alae_status alae_tensor_fill_normal(alae_tensor *t, float mean, float stddev);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_TENSOR_H */
