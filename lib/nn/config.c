/* Model configurations: presets, keyed settings with bounds, JSON for file metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

typedef struct key_info {
    int32_t key;
    const char *name;
    double lo, hi;
    int integer;
} key_info;

static const key_info keys[] = {
    {ALAE_CFG_ARCH, "arch", 1, 2, 1},
    {ALAE_CFG_LATENT_DIM, "latent_dim", 1, 4096, 1},
    {ALAE_CFG_MAPPING_LAYERS, "mapping_layers", 1, 32, 1},
    {ALAE_CFG_HIDDEN, "hidden", 1, 65536, 1},
    {ALAE_CFG_IMAGE_SIZE, "image_size", 2, 4096, 1},
    {ALAE_CFG_CHANNELS, "channels", 1, 4, 1},
    {ALAE_CFG_NET_SIZE, "net_size", 2, 4096, 1},
    {ALAE_CFG_DATA_RANGE, "data_range", 0, 1, 1},
    {ALAE_CFG_G_SLOPE, "g_slope", 0, 1, 0},
    {ALAE_CFG_E_SLOPE, "e_slope", 0, 1, 0},
    {ALAE_CFG_E_OUT_SLOPE, "e_out_slope", 0, 1, 0},
    {ALAE_CFG_D_LAYERS, "d_layers", 1, 32, 1},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static const key_info *find_key(int32_t key) {
    for (int i = 0; i < N_KEYS; i++)
        if (keys[i].key == key) return &keys[i];
    return NULL;
}

static void preset_mnist_fc_paper(alae_model_config *c) {
    memset(c, 0, sizeof *c);
    c->arch = ALAE_ARCH_MLP;
    snprintf(c->preset, sizeof c->preset, "mnist-fc-paper");
    c->latent_dim = 50;
    c->mapping_layers = 6;
    c->hidden = 1024;
    c->image_size = 28;
    c->net_size = 28;
    c->channels = 1;
    c->data_range = 0; /* [0, 1] */
    c->d_layers = 3;
    c->g_slope = 0.01;
    c->e_slope = 0.2;
    c->e_out_slope = 0.01;
}

static void preset_mnist_fc(alae_model_config *c) {
    preset_mnist_fc_paper(c);
    snprintf(c->preset, sizeof c->preset, "mnist-fc");
    c->image_size = 32; /* zero-padded digits; G and E resize to 28 inside */
    c->data_range = 1;  /* [-1, 1] */
    c->g_slope = 0.2;
    c->e_out_slope = 0.2;
}

ALAE_API alae_status alae_model_config_create(const char *preset, alae_model_config **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(preset);
    ALAEI_CHECK_ARG(out);
    alae_model_config c;
    if (!strcmp(preset, "mnist-fc"))
        preset_mnist_fc(&c);
    else if (!strcmp(preset, "mnist-fc-paper"))
        preset_mnist_fc_paper(&c);
    else
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown preset '%s' (known: mnist-fc, mnist-fc-paper)",
                          preset);
    alae_model_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a configuration");
    *cfg = c;
    *out = cfg;
    return ALAE_OK;
}

ALAE_API void alae_model_config_destroy(alae_model_config *cfg) { free(cfg); }

static double *double_field(alae_model_config *c, int32_t key) {
    switch (key) {
    case ALAE_CFG_G_SLOPE: return &c->g_slope;
    case ALAE_CFG_E_SLOPE: return &c->e_slope;
    case ALAE_CFG_E_OUT_SLOPE: return &c->e_out_slope;
    default: return NULL;
    }
}

static int32_t *int_field(alae_model_config *c, int32_t key) {
    switch (key) {
    case ALAE_CFG_ARCH: return &c->arch;
    case ALAE_CFG_LATENT_DIM: return &c->latent_dim;
    case ALAE_CFG_MAPPING_LAYERS: return &c->mapping_layers;
    case ALAE_CFG_HIDDEN: return &c->hidden;
    case ALAE_CFG_IMAGE_SIZE: return &c->image_size;
    case ALAE_CFG_CHANNELS: return &c->channels;
    case ALAE_CFG_NET_SIZE: return &c->net_size;
    case ALAE_CFG_DATA_RANGE: return &c->data_range;
    case ALAE_CFG_D_LAYERS: return &c->d_layers;
    default: return NULL;
    }
}

ALAE_API alae_status alae_model_config_set(alae_model_config *cfg, int32_t key, double value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(cfg);
    const key_info *k = find_key(key);
    if (!k) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown configuration key %d", (int)key);
    if (key == ALAE_CFG_ARCH)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "'arch' is fixed by the preset");
    if (!isfinite(value) || value < k->lo || value > k->hi || (k->integer && value != floor(value)))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%s = %g is not %s in [%g, %g]", k->name, value,
                          k->integer ? "an integer" : "a number", k->lo, k->hi);
    if (k->integer)
        *int_field(cfg, key) = (int32_t)value;
    else
        *double_field(cfg, key) = value;
    return ALAE_OK;
}

ALAE_API alae_status alae_model_config_get(const alae_model_config *cfg, int32_t key, double *value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(cfg);
    ALAEI_CHECK_ARG(value);
    const key_info *k = find_key(key);
    if (!k) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown configuration key %d", (int)key);
    alae_model_config *c = (alae_model_config *)cfg;
    *value = k->integer ? (double)*int_field(c, key) : *double_field(c, key);
    return ALAE_OK;
}

ALAE_API alae_status alae_model_config_key(const char *name, int32_t *key) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(name);
    ALAEI_CHECK_ARG(key);
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, name)) {
            *key = keys[i].key;
            return ALAE_OK;
        }
    return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown setting '%s'", name);
}

ALAE_API alae_status alae_model_config_bounds(int32_t key, double *lo, double *hi) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(lo);
    ALAEI_CHECK_ARG(hi);
    const key_info *k = find_key(key);
    if (!k) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "unknown configuration key %d", (int)key);
    *lo = k->lo;
    *hi = k->hi;
    return ALAE_OK;
}

alae_status alaei_config_validate(const alae_model_config *c, const char *func) {
    if (c->arch != ALAE_ARCH_MLP)
        return alaei_fail(ALAE_E_UNSUPPORTED, func, "architecture %d is not available in this version", (int)c->arch);
    int64_t pixels = (int64_t)c->channels * c->net_size * c->net_size;
    if (pixels > 16 * 1024 * 1024 || (int64_t)c->hidden * pixels > ((int64_t)1 << 32))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "an MLP over %dx%dx%d images with %d hidden units is too large",
                          (int)c->channels, (int)c->net_size, (int)c->net_size, (int)c->hidden);
    return ALAE_OK;
}

int alaei_config_to_json(const alae_model_config *c, char *buf, size_t cap) {
    return snprintf(buf, cap,
                    "{\"arch\":%d,\"preset\":\"%s\",\"latent_dim\":%d,\"mapping_layers\":%d,\"hidden\":%d,"
                    "\"image_size\":%d,\"channels\":%d,\"net_size\":%d,\"data_range\":%d,\"d_layers\":%d,"
                    "\"g_slope\":%.17g,\"e_slope\":%.17g,\"e_out_slope\":%.17g}",
                    (int)c->arch, c->preset, (int)c->latent_dim, (int)c->mapping_layers, (int)c->hidden,
                    (int)c->image_size, (int)c->channels, (int)c->net_size, (int)c->data_range,
                    (int)c->d_layers, c->g_slope, c->e_slope, c->e_out_slope);
}

/* Finds "name": in a flat JSON object and parses the number after it. */
static int json_number(const char *json, const char *name, double *out) {
    char pattern[48];
    snprintf(pattern, sizeof pattern, "\"%s\":", name);
    const char *at = strstr(json, pattern);
    if (!at) return 0;
    char *end;
    *out = strtod(at + strlen(pattern), &end);
    return end != at + strlen(pattern);
}

alae_status alaei_config_from_json(const char *json, alae_model_config *cfg, const char *func) {
    alae_model_config c;
    const char *preset_at = strstr(json, "\"preset\":\"");
    if (!preset_at) return alaei_fail(ALAE_E_FORMAT, func, "the model configuration has no preset");
    preset_at += strlen("\"preset\":\"");
    const char *preset_end = strchr(preset_at, '"');
    size_t len = preset_end ? (size_t)(preset_end - preset_at) : 0;
    char preset[32];
    if (!preset_end || len >= sizeof preset)
        return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's preset is malformed");
    memcpy(preset, preset_at, len);
    preset[len] = '\0';
    if (!strcmp(preset, "mnist-fc"))
        preset_mnist_fc(&c);
    else if (!strcmp(preset, "mnist-fc-paper"))
        preset_mnist_fc_paper(&c);
    else
        return alaei_fail(ALAE_E_FORMAT, func, "unknown preset '%s' in the model configuration", preset);
    for (int i = 0; i < N_KEYS; i++) {
        double v;
        if (!json_number(json, keys[i].name, &v))
            return alaei_fail(ALAE_E_FORMAT, func, "the model configuration lacks '%s'", keys[i].name);
        if (!isfinite(v) || v < keys[i].lo || v > keys[i].hi || (keys[i].integer && v != floor(v)))
            return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's %s = %g is out of range",
                              keys[i].name, v);
        if (keys[i].integer)
            *int_field(&c, keys[i].key) = (int32_t)v;
        else
            *double_field(&c, keys[i].key) = v;
    }
    alae_status s = alaei_config_validate(&c, func);
    if (s != ALAE_OK) return s;
    *cfg = c;
    return ALAE_OK;
}
