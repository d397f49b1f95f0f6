/* Fuzz target: the strict .npy float32 reader (alaei_read_npy_f32) and its public wrapper
 * (alae_npy_read_f32), which must agree. An accepted file has numel = prod(shape) floats. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/npy.h"

int alae_fuzz_npy(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    const char *path = alae_fuzz_file(3, data, size);
    alaei_npy_f32 a;
    memset(&a, 0x5a, sizeof a);
    alae_status s = alaei_read_npy_f32(path, &a);
    int32_t ndim = -7;
    int64_t shape[8];
    float *sentinel = (float *)(uintptr_t)0x5a5a, *pub = sentinel;
    alae_status s2 = alae_npy_read_f32(path, &ndim, shape, &pub);
    FUZZ_CHECK((s == ALAE_OK) == (s2 == ALAE_OK));
    if (s != ALAE_OK) {
        /* "On failure *out is zeroed" */
        FUZZ_CHECK(a.ndim == 0 && a.numel == 0 && a.data == NULL);
        alae_fuzz_check_failure(s, "alaei_read_npy_f32");
        alae_fuzz_check_failure(s2, "alae_npy_read_f32");
        FUZZ_CHECK(pub == sentinel);
        return 0;
    }
    FUZZ_CHECK(a.ndim >= 0 && a.ndim <= ALAEI_NPY_MAX_DIMS && a.data != NULL);
    size_t numel = 1;
    for (int32_t i = 0; i < a.ndim; i++) {
        FUZZ_CHECK(a.shape[i] >= 0);
        numel *= (size_t)a.shape[i];
    }
    FUZZ_CHECK(numel == a.numel);
    FUZZ_CHECK(numel * 4 <= size);
    FUZZ_CHECK(ndim == a.ndim && memcmp(shape, a.shape, (size_t)a.ndim * sizeof(int64_t)) == 0);
    FUZZ_CHECK(numel == 0 || memcmp(pub, a.data, numel * sizeof(float)) == 0);
    alae_free(pub);
    alaei_npy_f32_free(&a);
    return 1;
}

ALAE_FUZZ_MAIN(alae_fuzz_npy)
