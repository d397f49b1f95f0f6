/* The public data and file API (alae_io.h) over the internal IDX, PNG and .npy modules. */
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "io/idx.h"
#include "io/image_write.h"

struct alae_dataset {
    alaei_idx *images;
    alaei_idx *labels; /* or NULL */
};

ALAE_API alae_status alae_dataset_open_idx(const char *images_path, const char *labels_path, alae_dataset **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(images_path);
    ALAEI_CHECK_ARG(out);
    alae_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    alae_status s = alaei_idx_load(images_path, &ds->images);
    if (s != ALAE_OK) s = alaei_fail_as(s, __func__, images_path);
    if (s == ALAE_OK && labels_path && (s = alaei_idx_load_labels(labels_path, &ds->labels)) != ALAE_OK)
        s = alaei_fail_as(s, __func__, labels_path);
    if (s == ALAE_OK && ds->labels && ds->labels->count != ds->images->count)
        s = alaei_fail(ALAE_E_FORMAT, __func__, "%s has %zu labels but %s has %zu images", labels_path,
                       ds->labels->count, images_path, ds->images->count);
    if (s != ALAE_OK) {
        alae_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return ALAE_OK;
}

ALAE_API void alae_dataset_destroy(alae_dataset *ds) {
    if (!ds) return;
    alaei_idx_free(ds->images);
    alaei_idx_free(ds->labels);
    free(ds);
}

ALAE_API int64_t alae_dataset_count(const alae_dataset *ds) { return ds ? (int64_t)ds->images->count : 0; }

ALAE_API alae_status alae_dataset_image_shape(const alae_dataset *ds, int32_t *channels, int32_t *height,
                                              int32_t *width) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    if (channels) *channels = 1;
    if (height) *height = (int32_t)ds->images->rows;
    if (width) *width = (int32_t)ds->images->cols;
    return ALAE_OK;
}

ALAE_API alae_status alae_dataset_label(const alae_dataset *ds, int64_t index, int32_t *label) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    ALAEI_CHECK_ARG(label);
    if (!ds->labels) return alaei_fail(ALAE_E_STATE, __func__, "the data set was opened without labels");
    if (index < 0 || (uint64_t)index >= ds->labels->count)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "index %lld is not in 0..%zu", (long long)index,
                          ds->labels->count - 1);
    *label = ds->labels->data[index];
    return ALAE_OK;
}

ALAE_API alae_status alae_dataset_read(const alae_dataset *ds, const int64_t *indices, int64_t n, int32_t data_range,
                                       alae_tensor *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    ALAEI_CHECK_ARG(indices);
    ALAEI_CHECK_ARG(out);
    if (data_range != 0 && data_range != 1)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "data_range %d is not 0 or 1", (int)data_range);
    int64_t rows = (int64_t)ds->images->rows, cols = (int64_t)ds->images->cols;
    if (out->ndim != 4 || out->shape[0] != n || out->shape[1] != 1 || out->shape[2] < rows || out->shape[3] < cols)
        return alaei_fail(ALAE_E_SHAPE, __func__, "the output must be [%lld, 1, S, S] with S >= %lldx%lld", (long long)n,
                          (long long)rows, (long long)cols);
    int64_t h = out->shape[2], w = out->shape[3], top = (h - rows) / 2, left = (w - cols) / 2;
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < 0 || (uint64_t)indices[i] >= ds->images->count)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "index %lld is not in 0..%zu", (long long)indices[i],
                              ds->images->count - 1);
    float scale = data_range ? 1.0f / 127.5f : 1.0f / 255.0f, shift = data_range ? -1.0f : 0.0f;
    float *host = malloc((size_t)(n * h * w) * sizeof(float));
    if (!host) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for %lld images", (long long)n);
    for (int64_t k = 0; k < n * h * w; k++) host[k] = shift;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *src = ds->images->data + (size_t)indices[i] * (size_t)(rows * cols);
        float *dst = host + i * h * w;
        for (int64_t y = 0; y < rows; y++)
            for (int64_t x = 0; x < cols; x++) dst[(y + top) * w + x + left] = src[y * cols + x] * scale + shift;
    }
    alae_status s = alae_tensor_write(out, host, (size_t)(n * h * w) * sizeof(float));
    free(host);
    return s;
}

ALAE_API alae_status alae_shuffle_order(uint64_t seed, uint64_t epoch, int64_t count, int64_t *perm) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(perm);
    if (count < 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "count %lld is negative", (long long)count);
    uint64_t mix = seed ^ (epoch * 0x9E3779B97F4A7C15ull);
    alaei_xoshiro r;
    alaei_xoshiro_seed(&r, alaei_splitmix64(&mix));
    for (int64_t i = 0; i < count; i++) perm[i] = i;
    for (int64_t i = count - 1; i > 0; i--) {
        int64_t j = (int64_t)alaei_xoshiro_below(&r, (uint64_t)i + 1);
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    return ALAE_OK;
}

ALAE_API alae_status alae_image_grid_write_png(const char *path_utf8, const float *images, int64_t n, int64_t channels,
                                               int64_t height, int64_t width, float lo, float hi, int32_t columns) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(images);
    alae_status s = alaei_write_png_grid(path_utf8, images, n, channels, height, width, lo, hi, columns);
    return s == ALAE_OK ? s : alaei_fail_as(s, __func__, path_utf8);
}

ALAE_API alae_status alae_npy_write_f32(const char *path_utf8, int32_t ndim, const int64_t *shape, const float *data) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(data);
    if (ndim > 0) ALAEI_CHECK_ARG(shape);
    alae_status s = alaei_write_npy_f32(path_utf8, ndim, shape, data);
    return s == ALAE_OK ? s : alaei_fail_as(s, __func__, path_utf8);
}

ALAE_API alae_status alae_npy_read_f32(const char *path_utf8, int32_t *ndim, int64_t shape[8], float **data) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(ndim);
    ALAEI_CHECK_ARG(shape);
    ALAEI_CHECK_ARG(data);
    alaei_npy_f32 a;
    alae_status s = alaei_read_npy_f32(path_utf8, &a);
    if (s != ALAE_OK) return alaei_fail_as(s, __func__, path_utf8);
    *ndim = a.ndim;
    for (int i = 0; i < 8; i++) shape[i] = i < a.ndim ? a.shape[i] : 0;
    *data = a.data;
    return ALAE_OK;
}

ALAE_API void alae_free(void *ptr) { free(ptr); }
