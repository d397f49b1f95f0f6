/* Fuzz target: the IDX reader (MNIST / Fashion-MNIST; raw or gzip, detected by content), as
 * images (alaei_idx_load), as labels (alaei_idx_load_labels) and through the public data-set API
 * (alae_dataset_open_idx + alae_dataset_read of the first image). An accepted file holds exactly
 * count * rows * cols bytes, with sizes inside the documented limits. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/idx.h"

static int load(const char *path, int labels) {
    alaei_idx *sentinel = (alaei_idx *)(uintptr_t)0x5a5a, *idx = sentinel;
    alae_status s = labels ? alaei_idx_load_labels(path, &idx) : alaei_idx_load(path, &idx);
    if (s != ALAE_OK) {
        FUZZ_CHECK(idx == sentinel);
        alae_fuzz_check_failure(s, labels ? "alaei_idx_load_labels" : "alaei_idx_load");
        return 0;
    }
    FUZZ_CHECK(idx->magic == (labels ? ALAEI_IDX_MAGIC_LABELS : ALAEI_IDX_MAGIC_IMAGES));
    FUZZ_CHECK(idx->count <= ALAEI_IDX_MAX_COUNT);
    FUZZ_CHECK(idx->rows >= 1 && idx->rows <= ALAEI_IDX_MAX_SIDE);
    FUZZ_CHECK(idx->cols >= 1 && idx->cols <= ALAEI_IDX_MAX_SIDE);
    FUZZ_CHECK(!labels || (idx->rows == 1 && idx->cols == 1));
    FUZZ_CHECK(idx->nbytes == idx->count * idx->rows * idx->cols);
    FUZZ_CHECK(idx->data != NULL);
    if (idx->nbytes) {
        volatile uint8_t first = idx->data[0], last = idx->data[idx->nbytes - 1];
        (void)first;
        (void)last;
    }
    alaei_idx_free(idx);
    return 1;
}

static void dataset(const char *path, int accepted) {
    alae_dataset *sentinel = (alae_dataset *)(uintptr_t)0x5a5a, *ds = sentinel;
    alae_status s = alae_dataset_open_idx(path, NULL, &ds);
    FUZZ_CHECK((s == ALAE_OK) == accepted);
    if (s != ALAE_OK) {
        FUZZ_CHECK(ds == sentinel);
        alae_fuzz_check_failure(s, "alae_dataset_open_idx");
        return;
    }
    int32_t c = 0, h = 0, w = 0;
    FUZZ_CHECK(alae_dataset_image_shape(ds, &c, &h, &w) == ALAE_OK);
    int64_t count = alae_dataset_count(ds);
    FUZZ_CHECK(count >= 0 && c == 1 && h >= 1 && w >= 1);
    int32_t label;
    FUZZ_CHECK(alae_dataset_label(ds, 0, &label) == ALAE_E_STATE);
    if (count > 0 && (int64_t)h * w <= 65536) {
        int64_t side = h > w ? h : w, shape[4] = {1, 1, side, side}, index = count - 1;
        alae_tensor *t = NULL;
        FUZZ_CHECK(alae_tensor_create(alae_fuzz_context(), ALAE_DTYPE_F32, 4, shape, &t) == ALAE_OK);
        FUZZ_CHECK(alae_dataset_read(ds, &index, 1, 1, t) == ALAE_OK);
        index = count;
        FUZZ_CHECK(alae_dataset_read(ds, &index, 1, 0, t) == ALAE_E_INVALID_ARG);
        alae_tensor_destroy(t);
    }
    alae_dataset_destroy(ds);
}

int alae_fuzz_idx(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    const char *path = alae_fuzz_file(2, data, size);
    int images = load(path, 0);
    int labels = load(path, 1);
    FUZZ_CHECK(!(images && labels));
    dataset(path, images);
    return images || labels;
}

ALAE_FUZZ_MAIN(alae_fuzz_idx)
