/* The public data and file API (alae_io.h) over the internal IDX, image, PNG and .npy modules. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal/alae_backend_impl.h"
#include "io/idx.h"
#include "io/image_load.h"
#include "io/image_write.h"
#include "io/npy.h"

/* Images are stored as 8-bit planar [count, channels, rows, cols]: an IDX file's data as loaded
 * (one channel), or an image folder decoded and resized at opening. */
struct alae_dataset {
    size_t count, channels, rows, cols;
    const uint8_t *pixels;
    alaei_idx *images; /* IDX: owns pixels */
    alaei_idx *labels; /* or NULL */
    uint8_t *owned;    /* image folders: owns pixels */
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
    ds->count = ds->images->count;
    ds->channels = 1;
    ds->rows = ds->images->rows;
    ds->cols = ds->images->cols;
    ds->pixels = ds->images->data;
    *out = ds;
    return ALAE_OK;
}

/* ---- image folders ---- */

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static void names_free(name_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int names_add(name_list *l, const char *dir, const char *name) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown) return 0;
        l->names = grown;
        l->cap = cap;
    }
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = malloc(len);
    if (!p) return 0;
    if (dir)
        snprintf(p, len, "%s/%s", dir, name);
    else
        snprintf(p, len, "%s", name);
    l->names[l->n++] = p;
    return 1;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The image files of dir (sorted by name; hidden files and other extensions are left out), or
 * path itself when it is a file. */
static alae_status list_images(const char *path, name_list *l) {
    struct stat st;
    if (stat(path, &st) != 0) return alaei_fail(ALAE_E_IO, __func__, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return names_add(l, NULL, path) ? ALAE_OK : alaei_fail(ALAE_E_NOMEM, __func__, "no memory");
    DIR *d = opendir(path);
    if (!d) return alaei_fail(ALAE_E_IO, __func__, "%s: %s", path, strerror(errno));
    struct dirent *e;
    alae_status s = ALAE_OK;
    while (s == ALAE_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !alaei_image_name_ok(e->d_name)) continue;
        if (l->n >= ALAEI_IMAGE_MAX_COUNT)
            s = alaei_fail(ALAE_E_FORMAT, __func__, "%s holds more than %d images", path, ALAEI_IMAGE_MAX_COUNT);
        else if (!names_add(l, path, e->d_name))
            s = alaei_fail(ALAE_E_NOMEM, __func__, "no memory for the file names of %s", path);
    }
    closedir(d);
    if (s == ALAE_OK && l->n > 1) qsort(l->names, l->n, sizeof *l->names, cmp_names);
    return s;
}

ALAE_API alae_status alae_dataset_open_folder(const char *path_utf8, int32_t channels, int32_t size, int32_t flags,
                                              alae_dataset **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(path_utf8);
    ALAEI_CHECK_ARG(out);
    if (channels < 1 || channels > 4)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "channels %d is not in 1..4", (int)channels);
    if (size < 1 || size > 4096)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "size %d is not in 1..4096", (int)size);
    if (flags & ~(ALAE_FOLDER_SKIP_BAD | ALAE_FOLDER_NO_CROP))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown flags 0x%x", (unsigned)flags);
    name_list l = {0};
    alae_status s = list_images(path_utf8, &l);
    if (s != ALAE_OK) {
        names_free(&l);
        return alaei_fail_as(s, __func__, path_utf8);
    }
    if (l.n == 0) {
        names_free(&l);
        return alaei_fail(ALAE_E_FORMAT, __func__, "%s holds no .png, .jpg, .jpeg or .bmp files", path_utf8);
    }
    size_t per = (size_t)channels * (size_t)size * (size_t)size, total;
    alae_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !alaei_mul_size(per, l.n, &total) || !(ds->owned = malloc(total))) {
        free(ds);
        names_free(&l);
        return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for %zu images of %dx%dx%d", l.n, (int)channels,
                          (int)size, (int)size);
    }
    size_t kept = 0, skipped = 0;
    for (size_t i = 0; i < l.n && s == ALAE_OK; i++) {
        s = alaei_image_load_fit(l.names[i], channels, size, !(flags & ALAE_FOLDER_NO_CROP), ds->owned + kept * per);
        if (s == ALAE_OK) {
            kept++;
        } else if ((flags & ALAE_FOLDER_SKIP_BAD) && (s == ALAE_E_FORMAT || s == ALAE_E_IO)) {
            alaei_log(ALAE_LOG_WARN, "alae_dataset_open_folder: skipped %s", alae_last_error());
            alaei_clear_error();
            skipped++;
            s = ALAE_OK;
        } else {
            s = alaei_fail_as(s, __func__, l.names[i]);
        }
    }
    if (s == ALAE_OK && kept == 0)
        s = alaei_fail(ALAE_E_FORMAT, __func__, "%s: none of its %zu image files could be read", path_utf8, l.n);
    names_free(&l);
    if (s != ALAE_OK) {
        alae_dataset_destroy(ds);
        return s;
    }
    if (skipped) alaei_log(ALAE_LOG_WARN, "alae_dataset_open_folder: %s: %zu images, %zu skipped", path_utf8, kept, skipped);
    ds->count = kept;
    ds->channels = (size_t)channels;
    ds->rows = ds->cols = (size_t)size;
    ds->pixels = ds->owned;
    *out = ds;
    return ALAE_OK;
}

ALAE_API void alae_dataset_destroy(alae_dataset *ds) {
    if (!ds) return;
    alaei_idx_free(ds->images);
    alaei_idx_free(ds->labels);
    free(ds->owned);
    free(ds);
}

ALAE_API int64_t alae_dataset_count(const alae_dataset *ds) { return ds ? (int64_t)ds->count : 0; }

ALAE_API alae_status alae_dataset_image_shape(const alae_dataset *ds, int32_t *channels, int32_t *height,
                                              int32_t *width) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    if (channels) *channels = (int32_t)ds->channels;
    if (height) *height = (int32_t)ds->rows;
    if (width) *width = (int32_t)ds->cols;
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

static alae_status read_images(const char *func, const alae_dataset *ds, const int64_t *indices, const uint8_t *flips,
                               int64_t n, int32_t data_range, alae_tensor *out) {
    if (data_range != 0 && data_range != 1)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "data_range %d is not 0 or 1", (int)data_range);
    int64_t c = (int64_t)ds->channels, rows = (int64_t)ds->rows, cols = (int64_t)ds->cols;
    if (out->ndim != 4 || out->shape[0] != n || out->shape[1] != c || out->shape[2] < rows || out->shape[3] < cols)
        return alaei_fail(ALAE_E_SHAPE, func, "the output must be [%lld, %lld, S, S] with S >= %lldx%lld",
                          (long long)n, (long long)c, (long long)rows, (long long)cols);
    int64_t h = out->shape[2], w = out->shape[3], top = (h - rows) / 2, left = (w - cols) / 2;
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < 0 || (uint64_t)indices[i] >= ds->count)
            return alaei_fail(ALAE_E_INVALID_ARG, func, "index %lld is not in 0..%zu", (long long)indices[i],
                              ds->count - 1);
    float scale = data_range ? 1.0f / 127.5f : 1.0f / 255.0f, shift = data_range ? -1.0f : 0.0f;
    size_t total;
    if (!alaei_mul_size((size_t)n, (size_t)(c * h * w), &total) || !alaei_mul_size(total, sizeof(float), &total))
        return alaei_fail(ALAE_E_NOMEM, func, "%lld images are too many", (long long)n);
    float *host = malloc(total ? total : 1);
    if (!host) return alaei_fail(ALAE_E_NOMEM, func, "no memory for %lld images", (long long)n);
    for (size_t k = 0; k < total / sizeof(float); k++) host[k] = shift;
    for (int64_t i = 0; i < n; i++) {
        int flip = flips && flips[i];
        for (int64_t ch = 0; ch < c; ch++) {
            const uint8_t *src = ds->pixels + ((size_t)indices[i] * (size_t)c + (size_t)ch) * (size_t)(rows * cols);
            float *dst = host + (i * c + ch) * h * w;
            for (int64_t y = 0; y < rows; y++)
                for (int64_t x = 0; x < cols; x++)
                    dst[(y + top) * w + x + left] = src[y * cols + (flip ? cols - 1 - x : x)] * scale + shift;
        }
    }
    alae_status s = alae_tensor_write(out, host, total);
    free(host);
    return s;
}

ALAE_API alae_status alae_dataset_read(const alae_dataset *ds, const int64_t *indices, int64_t n, int32_t data_range,
                                       alae_tensor *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    ALAEI_CHECK_ARG(indices);
    ALAEI_CHECK_ARG(out);
    return read_images(__func__, ds, indices, NULL, n, data_range, out);
}

ALAE_API alae_status alae_dataset_read_flipped(const alae_dataset *ds, const int64_t *indices, const uint8_t *flips,
                                               int64_t n, int32_t data_range, alae_tensor *out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ds);
    ALAEI_CHECK_ARG(indices);
    ALAEI_CHECK_ARG(out);
    return read_images(__func__, ds, indices, flips, n, data_range, out);
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
