/* NumPy .npy float32 files. Internal.
 * The writer is atomic (<path>.tmp.<pid>, fflush, fsync, rename, directory fsync): a failure
 * leaves an existing file untouched and no temporary file behind.
 * Errors: ALAE_E_INVALID_ARG, ALAE_E_IO (path + strerror), ALAE_E_FORMAT (reader), ALAE_E_NOMEM. */
#ifndef ALAEI_NPY_H
#define ALAEI_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_NPY_MAX_DIMS   8
#define ALAEI_NPY_MAX_HEADER 65536  /* bytes of header dict accepted by the reader */

/* Writes a NumPy .npy v1.0 file: dtype '<f4', C order, the given shape (ndim 0..8). */
alae_status alaei_write_npy_f32(const char *path, int32_t ndim, const int64_t *shape, const float *data);

typedef struct {
    int32_t ndim;
    int64_t shape[ALAEI_NPY_MAX_DIMS];
    size_t numel;
    float *data; /* numel floats (malloc'ed; NULL-safe free with alaei_npy_f32_free) */
} alaei_npy_f32;

/* Strict reader: magic "\x93NUMPY", version 1.0, 2.0 or 3.0, a header dict with exactly 'descr'
 * ('<f4'; '>f4' is converted), 'fortran_order' (False) and 'shape' (<= 8 non-negative ints),
 * ending in '\n'; the file size must equal header + numel * 4 exactly. On failure *out is
 * zeroed. */
alae_status alaei_read_npy_f32(const char *path, alaei_npy_f32 *out);
void alaei_npy_f32_free(alaei_npy_f32 *a);

#endif /* ALAEI_NPY_H */
