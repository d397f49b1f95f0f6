/* Writes the small untrained models and the directions file that the alae serve tests use:
 *   make_models DIR  ->  DIR/mlp.safetensors (mnist-fc-paper, hidden 64, W of 16),
 *                        DIR/style.safetensors (StyleALAE mnist 32 px, 8/16 channels, W of 16),
 *                        DIR/dirs.safetensors (two directions of W: "thick", "slant"). */
#include <alae/alae.h>
#include <stdio.h>

static int check(alae_status s, const char *what) {
    if (s == ALAE_OK) return 0;
    fprintf(stderr, "make_models: %s: %s\n", what, alae_last_error());
    return 1;
}

static int make_model(alae_context *ctx, const char *preset, const char *const *keys, const double *values, int n,
                      const char *path) {
    alae_model_config *cfg = NULL;
    alae_model *model = NULL;
    int rc = check(alae_model_config_create(preset, &cfg), preset);
    for (int i = 0; rc == 0 && i < n; i++) {
        int32_t key;
        rc = check(alae_model_config_key(keys[i], &key), keys[i]);
        if (rc == 0) rc = check(alae_model_config_set(cfg, key, values[i]), keys[i]);
    }
    if (rc == 0) rc = check(alae_model_create(ctx, cfg, 7, &model), "alae_model_create");
    if (rc == 0) rc = check(alae_model_save(model, path), path);
    alae_model_destroy(model);
    alae_model_config_destroy(cfg);
    return rc;
}

static int make_directions(const char *path) {
    float thick[16], slant[16];
    for (int i = 0; i < 16; i++) {
        thick[i] = i < 8 ? 1.0f : 0.0f;
        slant[i] = (float)(i % 3) - 1.0f;
    }
    alae_directions *set = NULL;
    int rc = check(alae_directions_create(16, &set), "alae_directions_create");
    if (rc == 0) rc = check(alae_directions_add(set, "thick", thick, 0.9), "alae_directions_add");
    if (rc == 0) rc = check(alae_directions_add(set, "slant", slant, 0.75), "alae_directions_add");
    if (rc == 0) rc = check(alae_directions_save(set, path), path);
    alae_directions_destroy(set);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_models DIR\n");
        return 2;
    }
    char path[4096];
    alae_context *ctx = NULL;
    if (check(alae_context_create(ALAE_DEVICE_CPU, &ctx), "alae_context_create")) return 1;
    static const char *const mlp_keys[] = {"hidden", "latent_dim"};
    static const double mlp_values[] = {64, 16};
    static const char *const style_keys[] = {"start_channels", "max_channels", "latent_dim"};
    static const double style_values[] = {8, 16, 16};
    int rc = 0;
    snprintf(path, sizeof path, "%s/mlp.safetensors", argv[1]);
    rc |= make_model(ctx, "mnist-fc-paper", mlp_keys, mlp_values, 2, path);
    snprintf(path, sizeof path, "%s/style.safetensors", argv[1]);
    rc |= make_model(ctx, "mnist", style_keys, style_values, 3, path);
    snprintf(path, sizeof path, "%s/dirs.safetensors", argv[1]);
    rc |= make_directions(path);
    alae_context_destroy(ctx);
    return rc;
}
