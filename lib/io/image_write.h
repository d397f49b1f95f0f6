/* Image grids as PNG. Internal.
 * The writer is atomic (<path>.tmp.<pid>, fflush, fsync, rename, directory fsync): a failure
 * leaves an existing file untouched and no temporary file behind.
 * Errors: ALAE_E_INVALID_ARG, ALAE_E_IO (path + strerror), ALAE_E_NOMEM. */
#ifndef ALAEI_IMAGE_WRITE_H
#define ALAEI_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_GRID_PAD       2      /* pixels between and around the images */
#define ALAEI_GRID_MAX_SIDE  32768  /* grid width / height limit in pixels */

/* Writes images [n, c, h, w] (c = 1 grey or 3 RGB, float32, row-major) as one PNG grid with
 * min(cols, n) columns and ALAEI_GRID_PAD black pixels around every image (torchvision's
 * make_grid layout). A value v maps to round((v - lo) / (hi - lo) * 255) clamped to 0..255;
 * NaN maps to 0. Requires lo < hi, both finite. */
alae_status alaei_write_png_grid(const char *path, const float *images, int64_t n, int64_t c,
                                 int64_t h, int64_t w, float lo, float hi, int32_t cols);

#endif /* ALAEI_IMAGE_WRITE_H */
