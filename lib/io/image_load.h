/* Image files (PNG, JPEG, BMP) and image folders, decoded with stb_image. Internal.
 *
 * The one translation unit that compiles stb_image (STB_IMAGE_IMPLEMENTATION + STB_IMAGE_STATIC,
 * so none of its symbols leave libalae) is image_load.c.
 *
 * Every file is checked before it is decoded: stbi_info must recognise it, and both sides must be
 * in 1..ALAEI_IMAGE_MAX_SIDE (a header claiming 100000x100000 is refused without allocating the
 * pixels). Decoded images are converted to the requested channel count (grey <-> RGB, as
 * stb_image converts: luminance for grey), centre-cropped to a square (or taken whole) and
 * resampled to size x size, each axis by area averaging when it shrinks and bicubic
 * (Catmull-Rom) interpolation when it grows. */
#ifndef ALAEI_IMAGE_LOAD_H
#define ALAEI_IMAGE_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_IMAGE_MAX_SIDE  16384
#define ALAEI_IMAGE_MAX_COUNT 100000000

/* Whether a file name has an image extension this loader reads (.png, .jpg, .jpeg, .bmp, any
 * case). */
int alaei_image_name_ok(const char *name);

/* Decodes the image at path into out (channels * size * size bytes, planar [C, size, size]).
 * channels 1..4, size 1..ALAEI_IMAGE_MAX_SIDE. Errors: ALAE_E_IO (unreadable file, with
 * strerror), ALAE_E_FORMAT (empty, undecodable or oversized file: the message names the path and
 * the reason), ALAE_E_NOMEM. */
alae_status alaei_image_load(const char *path, int32_t channels, int32_t size, uint8_t *out);
/* As alaei_image_load, from the centre square (crop) or the whole image (crop 0: the aspect ratio
 * is not kept). */
alae_status alaei_image_load_fit(const char *path, int32_t channels, int32_t size, int crop, uint8_t *out);

/* Resampling of one plane: src [sh, sw] (rows src_stride apart) -> dst [dh, dw], 8-bit,
 * rounded; per axis area averaging when shrinking, bicubic (Catmull-Rom, edges clamped) when
 * enlarging. */
void alaei_resample_plane(const uint8_t *src, int64_t sh, int64_t sw, int64_t src_stride, uint8_t *dst, int64_t dh,
                          int64_t dw);

#endif /* ALAEI_IMAGE_LOAD_H */
