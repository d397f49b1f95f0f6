/* alae command-line tool: options shared by the inference commands — the noise mode (--noise),
 * cropping (--crop) and float-array outputs (--out X.npy). */
#include <string.h>
#include <strings.h>

#include "cli.h"

int cli_parse_noise(const char *cmd, const char *noise, int dflt, int *mode) {
    if (!noise)
        *mode = dflt;
    else if (!strcmp(noise, "off"))
        *mode = ALAE_NOISE_OFF;
    else if (!strcmp(noise, "batch"))
        *mode = ALAE_NOISE_BATCH_CONSTANT;
    else if (!strcmp(noise, "sample"))
        *mode = ALAE_NOISE_PER_SAMPLE;
    else
        return cli_usage_error(cmd, "--noise must be 'off', 'batch' or 'sample', not '%s'", noise);
    return CLI_GO;
}

int cli_set_noise(const char *cmd, alae_model *model, int mode) {
    alae_status s = alae_model_set(model, ALAE_MODEL_NOISE, mode);
    return s == ALAE_OK ? CLI_GO : cli_fail(cmd, s);
}

int32_t cli_crop_flags(int crop) { return crop ? 0 : ALAE_FOLDER_NO_CROP; }

int cli_is_npy_path(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && !strcasecmp(path + n - 4, ".npy");
}

alae_status cli_write_images(const char *path, const float *images, int64_t n, const cli_geom *g, int32_t columns) {
    if (!cli_is_npy_path(path)) return cli_write_grid(path, images, n, g, columns);
    int64_t shape[4] = {n, g->channels, g->size, g->size};
    return alae_npy_write_f32(path, 4, shape, images);
}
