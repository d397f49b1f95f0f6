/* Fuzz target: the image-file loader behind image folders (lib/io/image_load.c: PNG, JPEG and
 * BMP through stb_image, with the size checks before decoding), as grey and as RGB, resampled to
 * 8x8 (and to 1x1 and 32x32 for accepted images). A rejected file leaves the output buffer
 * untouched; an accepted one is decoded the same way on every call. */
#include <string.h>

#include "fuzz_common.h"
#include "io/image_load.h"

#define SIDE 8

int alae_fuzz_image(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    const char *path = alae_fuzz_file(0, data, size);
    uint8_t out[3 * 32 * 32], again[3 * SIDE * SIDE];
    int accepted = 0;
    for (int32_t channels = 1; channels <= 3; channels += 2) {
        memset(out, 0xA5, sizeof out);
        alae_status s = alaei_image_load(path, channels, SIDE, out);
        if (s != ALAE_OK) {
            alae_fuzz_check_failure(s, "alaei_image_load");
            for (size_t i = 0; i < sizeof out; i++) FUZZ_CHECK(out[i] == 0xA5);
            FUZZ_CHECK(!accepted); /* grey and RGB agree on whether the file is readable */
            continue;
        }
        FUZZ_CHECK(channels == 1 || accepted);
        accepted = 1;
        /* nothing written past channels * SIDE * SIDE */
        for (size_t i = (size_t)channels * SIDE * SIDE; i < sizeof out; i++) FUZZ_CHECK(out[i] == 0xA5);
        memset(again, 0, sizeof again);
        FUZZ_CHECK(alaei_image_load(path, channels, SIDE, again) == ALAE_OK);
        FUZZ_CHECK(memcmp(out, again, (size_t)channels * SIDE * SIDE) == 0);
        FUZZ_CHECK(alaei_image_load(path, channels, 1, again) == ALAE_OK);
        FUZZ_CHECK(alaei_image_load(path, channels, 32, out) == ALAE_OK);
    }
    return accepted;
}

ALAE_FUZZ_MAIN(alae_fuzz_image)
