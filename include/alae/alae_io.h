/* libalae: data sets and files — IDX image collections, PNG image grids, NumPy arrays. */
#ifndef ALAE_IO_H
#define ALAE_IO_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alae_dataset alae_dataset;

/* Opens an IDX image file (MNIST, Fashion-MNIST; raw or gzip, detected by content), with an
 * optional IDX label file (labels_path may be NULL; its count must match). Every malformed file
 * (bad magic, truncated, inconsistent sizes) fails with ALAE_E_FORMAT naming the file; missing
 * files with ALAE_E_IO, ALAE_E_NOMEM when memory runs out. *out is set only on success; the
 * caller owns the data set and releases it with alae_dataset_destroy (NULL is a no-op). The data
 * set is read-only after opening: it may be used from several threads at once. Thread-safe. */
ALAE_API alae_status alae_dataset_open_idx(const char *images_path, const char *labels_path, alae_dataset **out);
ALAE_API void alae_dataset_destroy(alae_dataset *ds);
/* Flags of alae_dataset_open_folder */
#define ALAE_FOLDER_SKIP_BAD 1 /* skip undecodable, empty or oversized files with a warning naming
                                  each (through the log, alae_set_log_callback) instead of failing */
#define ALAE_FOLDER_NO_CROP  2 /* resize the whole image to size x size (its aspect ratio is not
                                  kept) instead of its centre square */

/* Opens the images of a folder (its .png, .jpg, .jpeg and .bmp files, sorted by name; hidden
 * files, other files and subfolders are left out) or one image file, decoded with stb_image at
 * opening and held in memory as 8-bit pixels: converted to `channels` (1..4: grey images are
 * replicated to RGB, RGB images reduced to luminance), centre-cropped to a square (the whole
 * image with ALAE_FOLDER_NO_CROP) and resized to size x size (1..4096), each axis by area
 * averaging where it shrinks and by bicubic (Catmull-Rom) interpolation where it grows. Every
 * file's header is read before its pixels: sides above 16384, zero-sized and undecodable files fail with ALAE_E_FORMAT naming the
 * file, or are skipped with a warning when flags has ALAE_FOLDER_SKIP_BAD (if every file is
 * skipped, ALAE_E_FORMAT). Other errors: ALAE_E_INVALID_ARG (NULL argument, channels, size or
 * flags out of range), ALAE_E_IO (a missing or unreadable folder or file, named),
 * ALAE_E_FORMAT (no image files), ALAE_E_NOMEM. *out is set only on success; the caller owns
 * the data set (alae_dataset_destroy). It has no labels. Thread-safe. */
ALAE_API alae_status alae_dataset_open_folder(const char *path_utf8, int32_t channels, int32_t size, int32_t flags,
                                              alae_dataset **out);
/* Number of images (0 for NULL). */
ALAE_API int64_t alae_dataset_count(const alae_dataset *ds);
/* Channels, height and width of the stored images (NULL out-pointers are skipped). Errors:
 * ALAE_E_INVALID_ARG (NULL data set). */
ALAE_API alae_status alae_dataset_image_shape(const alae_dataset *ds, int32_t *channels, int32_t *height,
                                              int32_t *width);
/* The label of image index (ALAE_E_STATE if the data set has no labels). */
ALAE_API alae_status alae_dataset_label(const alae_dataset *ds, int64_t index, int32_t *label);
/* Writes images indices[0..n-1] into out [n, C, S, S] (C: the data set's channels) as floats: pixel/255 for data_range 0
 * ([0, 1]), pixel/127.5 - 1 for data_range 1 ([-1, 1]). Images smaller than S are centred and
 * padded with the value of a black pixel (as the reference pads 28x28 digits to 32x32); larger
 * ones are an ALAE_E_SHAPE error. */
ALAE_API alae_status alae_dataset_read(const alae_dataset *ds, const int64_t *indices, int64_t n, int32_t data_range,
                                       alae_tensor *out);
/* As alae_dataset_read, with image i mirrored left-right when flips[i] != 0 (flips may be NULL:
 * no flips), for data augmentation. out is [n, C, S, S] with C the data set's channels. */
ALAE_API alae_status alae_dataset_read_flipped(const alae_dataset *ds, const int64_t *indices, const uint8_t *flips,
                                               int64_t n, int32_t data_range, alae_tensor *out);
/* The order of epoch `epoch` of a shuffled pass over count items: perm[0..count-1], a
 * permutation drawn from (seed, epoch) with xoshiro256**, identical on every platform.
 * Thread-safe. Errors: ALAE_E_INVALID_ARG (NULL perm, negative count). */
ALAE_API alae_status alae_shuffle_order(uint64_t seed, uint64_t epoch, int64_t count, int64_t *perm);

/* Writes images [n, channels, height, width] (channels 1 or 3) as one PNG grid with `columns`
 * columns and 2-pixel gaps; values in [lo, hi] map to 0..255 (clamped). Atomic: a failed write
 * leaves any existing file intact. Thread-safe for different paths. Errors: ALAE_E_INVALID_ARG
 * (NULL argument, bad sizes or range), ALAE_E_IO (with the path), ALAE_E_NOMEM. */
ALAE_API alae_status alae_image_grid_write_png(const char *path_utf8, const float *images, int64_t n, int64_t channels,
                                               int64_t height, int64_t width, float lo, float hi, int32_t columns);
/* Writes a NumPy .npy file (float32, C order). Atomic. Thread-safe for different paths. Errors:
 * ALAE_E_INVALID_ARG (NULL argument, ndim > 8, negative dims), ALAE_E_IO (with the path). */
ALAE_API alae_status alae_npy_write_f32(const char *path_utf8, int32_t ndim, const int64_t *shape, const float *data);
/* Reads a float32 .npy file: *ndim (<= 8), shape[0..7] and *data (release it with alae_free).
 * The caller owns *data. Big-endian files are converted; Fortran-ordered files and other dtypes
 * fail with ALAE_E_FORMAT naming the problem; ALAE_E_IO for unreadable files. Thread-safe. */
ALAE_API alae_status alae_npy_read_f32(const char *path_utf8, int32_t *ndim, int64_t shape[8], float **data);
/* Frees memory the library handed to the caller (alae_npy_read_f32's data). NULL is a no-op.
 * Thread-safe. */
ALAE_API void alae_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_IO_H */
