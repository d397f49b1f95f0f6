/* encode_decode: encodes images with a saved model and decodes them back.
 *
 *   encode_decode MODEL.safetensors IMAGES.idx[.gz] OUT_DIR [--n 16]
 *
 * Loads a model file (from examples/c/train_mlp, `alae train` or alae_model_save), encodes the
 * first N images of an IDX file into their latents w = E(x), writes them to OUT_DIR/codes.npy,
 * reads that file back, decodes the latents into images G(w) and writes OUT_DIR/reconstruction.png
 * (the originals in the top rows, their reconstructions below). Prints the mean squared error.
 *
 * Inference needs only a context, the model and tensors: data moves in and out of tensors with
 * alae_tensor_write / alae_tensor_read; the model reads its geometry from its configuration. */
#include <alae/alae.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        alae_status s_ = (call);                                                                       \
        if (s_ != ALAE_OK) {                                                                           \
            fprintf(stderr, "encode_decode: %s (%s)\n", alae_last_error(), alae_status_string(s_));    \
            goto done;                                                                                 \
        }                                                                                              \
    } while (0)

static const char usage[] = "usage: encode_decode MODEL.safetensors IMAGES.idx[.gz] OUT_DIR [--n 16]\n";

/* Reads one integer setting of a model's configuration. */
static alae_status model_setting(const alae_model *model, int32_t key, int64_t *value) {
    alae_model_config *cfg = NULL;
    double v = 0;
    alae_status s = alae_model_get_config(model, &cfg);
    if (s == ALAE_OK) s = alae_model_config_get(cfg, key, &v);
    alae_model_config_destroy(cfg);
    if (s == ALAE_OK) *value = (int64_t)v;
    return s;
}

int main(int argc, char **argv) {
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        fprintf(stderr, "encode_decode: %s\n", alae_last_error());
        return 1;
    }
    long n = 16;
    if (argc == 6 && !strcmp(argv[4], "--n")) {
        n = strtol(argv[5], NULL, 10);
    } else if (argc != 4) {
        fputs(usage, stderr);
        return 2;
    }
    if (n < 1 || n > 1024) {
        fprintf(stderr, "encode_decode: --n must be in 1..1024\n");
        return 2;
    }
    const char *model_path = argv[1], *images_path = argv[2], *out = argv[3];
    int rc = 1;
    char path[4096];
    alae_context *ctx = NULL;
    alae_model *model = NULL;
    alae_dataset *data = NULL;
    alae_tensor *x = NULL, *w = NULL, *x_rec = NULL;
    float *pixels = NULL, *codes = NULL;
    int64_t *indices = NULL;

    CHECK(alae_context_create(ALAE_DEVICE_CPU, &ctx));
    CHECK(alae_model_load(ctx, model_path, &model)); /* configuration and shapes checked on load */
    int64_t latent, channels, size, range;
    CHECK(model_setting(model, ALAE_CFG_LATENT_DIM, &latent));
    CHECK(model_setting(model, ALAE_CFG_CHANNELS, &channels));
    CHECK(model_setting(model, ALAE_CFG_IMAGE_SIZE, &size));
    CHECK(model_setting(model, ALAE_CFG_DATA_RANGE, &range));

    /* The first n images, scaled to the model's data range and centred in its image size. */
    CHECK(alae_dataset_open_idx(images_path, NULL, &data));
    if (alae_dataset_count(data) < n) n = (long)alae_dataset_count(data);
    indices = malloc((size_t)n * sizeof *indices);
    if (!indices) goto done;
    for (long i = 0; i < n; i++) indices[i] = i;
    int64_t image_shape[4] = {n, channels, size, size}, latent_shape[2] = {n, latent};
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, image_shape, &x));
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, latent_shape, &w));
    CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, image_shape, &x_rec));
    CHECK(alae_dataset_read(data, indices, n, (int32_t)range, x));

    /* Encode, and save the codes as a NumPy file. */
    CHECK(alae_model_encode(model, x, w));
    size_t n_codes = (size_t)(n * latent);
    codes = malloc(n_codes * sizeof *codes);
    if (!codes) goto done;
    CHECK(alae_tensor_read(w, codes, n_codes * sizeof *codes));
    snprintf(path, sizeof path, "%s/codes.npy", out);
    CHECK(alae_npy_write_f32(path, 2, latent_shape, codes));
    free(codes);
    codes = NULL;

    /* Read the codes back (the library allocates them: release with alae_free) and decode. */
    int32_t ndim = 0;
    int64_t shape[8];
    float *loaded = NULL;
    CHECK(alae_npy_read_f32(path, &ndim, shape, &loaded));
    if (ndim != 2 || shape[0] != n || shape[1] != latent) {
        fprintf(stderr, "encode_decode: %s does not hold [%ld, %lld]\n", path, n, (long long)latent);
        alae_free(loaded);
        goto done;
    }
    alae_status s = alae_tensor_write(w, loaded, n_codes * sizeof *loaded);
    alae_free(loaded);
    CHECK(s);
    CHECK(alae_model_generate(model, w, x_rec)); /* decode: G(w) */

    /* Originals above reconstructions, 8 per row; and the mean squared error. */
    size_t per = (size_t)(n * channels * size * size);
    pixels = malloc(2 * per * sizeof *pixels);
    if (!pixels) goto done;
    CHECK(alae_tensor_read(x, pixels, per * sizeof *pixels));
    CHECK(alae_tensor_read(x_rec, pixels + per, per * sizeof *pixels));
    double mse = 0;
    for (size_t i = 0; i < per; i++) mse += (pixels[i] - pixels[per + i]) * (double)(pixels[i] - pixels[per + i]);
    mse /= (double)per;
    snprintf(path, sizeof path, "%s/reconstruction.png", out);
    int32_t columns = n < 8 ? (int32_t)n : 8;
    if (n % columns == 0) {
        CHECK(alae_image_grid_write_png(path, pixels, 2 * n, channels, size, size, range == 0 ? 0.0f : -1.0f, 1.0f,
                                        columns));
    } else { /* two grids' worth in one column layout keeps originals and reconstructions aligned */
        CHECK(alae_image_grid_write_png(path, pixels, 2 * n, channels, size, size, range == 0 ? 0.0f : -1.0f, 1.0f,
                                        (int32_t)n));
    }
    printf("encoded %ld images into %s/codes.npy [%ld, %lld]; reconstruction MSE %.5f; wrote %s\n", n, out, n,
           (long long)latent, mse, path);
    rc = 0;

done:
    free(pixels);
    free(codes);
    free(indices);
    alae_tensor_destroy(x_rec);
    alae_tensor_destroy(w);
    alae_tensor_destroy(x);
    alae_dataset_destroy(data);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}
