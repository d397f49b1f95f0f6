/* Model configurations: presets, keyed settings with bounds, JSON for file metadata, and the
 * geometry (levels, channel widths) the networks derive from them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_min.h"
#include "model_internal.h"

#define FOR_MLP 1
#define FOR_STYLE 2
#define FOR_BOTH (FOR_MLP | FOR_STYLE)

typedef struct key_info {
    int32_t key;
    const char *name;
    double lo, hi;
    int integer;
    int archs; /* FOR_* */
} key_info;

static const key_info keys[] = {
    {ALAE_CFG_ARCH, "arch", 1, 2, 1, FOR_BOTH},
    {ALAE_CFG_LATENT_DIM, "latent_dim", 1, 4096, 1, FOR_BOTH},
    {ALAE_CFG_MAPPING_LAYERS, "mapping_layers", 1, 32, 1, FOR_BOTH},
    {ALAE_CFG_HIDDEN, "hidden", 1, 65536, 1, FOR_MLP},
    {ALAE_CFG_IMAGE_SIZE, "image_size", 2, 4096, 1, FOR_BOTH},
    {ALAE_CFG_CHANNELS, "channels", 1, 4, 1, FOR_BOTH},
    {ALAE_CFG_NET_SIZE, "net_size", 2, 4096, 1, FOR_MLP},
    {ALAE_CFG_DATA_RANGE, "data_range", 0, 1, 1, FOR_BOTH},
    {ALAE_CFG_G_SLOPE, "g_slope", 0, 1, 0, FOR_MLP},
    {ALAE_CFG_E_SLOPE, "e_slope", 0, 1, 0, FOR_MLP},
    {ALAE_CFG_E_OUT_SLOPE, "e_out_slope", 0, 1, 0, FOR_MLP},
    {ALAE_CFG_D_LAYERS, "d_layers", 1, 32, 1, FOR_BOTH},
    {ALAE_CFG_START_CHANNELS, "start_channels", 1, 65536, 1, FOR_STYLE},
    {ALAE_CFG_MAX_CHANNELS, "max_channels", 1, 65536, 1, FOR_STYLE},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static const key_info *find_key(int32_t key) {
    for (int i = 0; i < N_KEYS; i++)
        if (keys[i].key == key) return &keys[i];
    return NULL;
}

static int arch_bit(int32_t arch) { return arch == ALAE_ARCH_STYLE ? FOR_STYLE : FOR_MLP; }

static const char *arch_name(int32_t arch) { return arch == ALAE_ARCH_STYLE ? "ALAE_ARCH_STYLE" : "ALAE_ARCH_MLP"; }

/* ---- presets ---- */

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

/* StyleALAE presets: the reference's configs/<name>.yaml (docs/alae-reference.md 3.2) */
typedef struct style_preset {
    const char *name;
    int32_t image_size, channels, start_channels, max_channels, latent_dim, mapping_layers;
} style_preset;

static const style_preset style_presets[] = {
    {"mnist", 32, 1, 64, 256, 32, 4},
    {"celeba", 128, 3, 64, 256, 256, 8},
    {"celeba-hq256", 256, 3, 64, 512, 512, 8},
    {"bedroom", 256, 3, 32, 512, 512, 8},
    {"ffhq", 1024, 3, 16, 512, 512, 8},
};
#define N_STYLE_PRESETS ((int)(sizeof style_presets / sizeof style_presets[0]))

static void preset_style(alae_model_config *c, const style_preset *p) {
    memset(c, 0, sizeof *c);
    c->arch = ALAE_ARCH_STYLE;
    snprintf(c->preset, sizeof c->preset, "%s", p->name);
    c->latent_dim = p->latent_dim;
    c->mapping_layers = p->mapping_layers;
    c->image_size = p->image_size;
    c->channels = p->channels;
    c->data_range = 1; /* [-1, 1] */
    c->d_layers = 3;   /* MappingD: hard-coded 3 layers in the reference's Model */
    c->start_channels = p->start_channels;
    c->max_channels = p->max_channels;
}

/* Fills c from a preset name; returns 0 for an unknown name. */
static int preset_by_name(const char *name, alae_model_config *c) {
    if (!strcmp(name, "mnist-fc")) {
        preset_mnist_fc(c);
        return 1;
    }
    if (!strcmp(name, "mnist-fc-paper")) {
        preset_mnist_fc_paper(c);
        return 1;
    }
    for (int i = 0; i < N_STYLE_PRESETS; i++)
        if (!strcmp(name, style_presets[i].name)) {
            preset_style(c, &style_presets[i]);
            return 1;
        }
    return 0;
}

ALAE_API alae_status alae_model_config_create(const char *preset, alae_model_config **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(preset);
    ALAEI_CHECK_ARG(out);
    alae_model_config c;
    if (!preset_by_name(preset, &c))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                          "unknown preset '%s' (known: mnist-fc, mnist-fc-paper, mnist, celeba, celeba-hq256, "
                          "bedroom, ffhq)",
                          preset);
    alae_model_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return alaei_fail(ALAE_E_NOMEM, __func__, "no memory for a configuration");
    *cfg = c;
    *out = cfg;
    return ALAE_OK;
}

ALAE_API void alae_model_config_destroy(alae_model_config *cfg) { free(cfg); }

/* ---- keyed access ---- */

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
    case ALAE_CFG_START_CHANNELS: return &c->start_channels;
    case ALAE_CFG_MAX_CHANNELS: return &c->max_channels;
    default: return NULL;
    }
}

static int is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/* The key of cfg's architecture, or a failure naming why not. */
static alae_status applicable_key(const alae_model_config *cfg, int32_t key, const key_info **out, const char *func) {
    const key_info *k = find_key(key);
    if (!k) return alaei_fail_key(func, key, ALAEI_KEYS_CFG);
    if (!(k->archs & arch_bit(cfg->arch)))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "'%s' is not a setting of %s models", k->name,
                          arch_name(cfg->arch));
    *out = k;
    return ALAE_OK;
}

ALAE_API alae_status alae_model_config_set(alae_model_config *cfg, int32_t key, double value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(cfg);
    const key_info *k = NULL;
    alae_status s = applicable_key(cfg, key, &k, __func__);
    if (s != ALAE_OK) return s;
    if (key == ALAE_CFG_ARCH)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "'arch' is fixed by the preset");
    if (!isfinite(value) || value < k->lo || value > k->hi || (k->integer && value != floor(value)))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%s = %g is not %s in [%g, %g]", k->name, value,
                          k->integer ? "an integer" : "a number", k->lo, k->hi);
    if (cfg->arch == ALAE_ARCH_STYLE && key == ALAE_CFG_IMAGE_SIZE && (value < 4 || !is_power_of_two((int64_t)value)))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__,
                          "image_size = %g: a StyleALAE needs a power of two from 4 to 4096", value);
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
    const key_info *k = NULL;
    alae_status s = applicable_key(cfg, key, &k, __func__);
    if (s != ALAE_OK) return s;
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
    if (!k) return alaei_fail_key(__func__, key, ALAEI_KEYS_CFG);
    *lo = k->lo;
    *hi = k->hi;
    return ALAE_OK;
}

/* ---- geometry ---- */

int32_t alaei_layer_count(const alae_model_config *c) {
    if (c->arch != ALAE_ARCH_STYLE) return 1;
    int32_t levels = 0;
    for (int64_t size = 4; size <= c->image_size; size *= 2) levels++;
    return levels;
}

int32_t alaei_style_count(const alae_model_config *c) {
    return c->arch == ALAE_ARCH_STYLE ? 2 * alaei_layer_count(c) : 1;
}

int64_t alaei_level_size(const alae_model_config *c, int32_t lod) {
    return c->arch == ALAE_ARCH_STYLE ? (int64_t)4 << lod : c->image_size;
}

static int64_t capped_channels(const alae_model_config *c, int32_t doublings) {
    int64_t ch = c->start_channels;
    for (int32_t i = 0; i < doublings && ch < c->max_channels; i++) ch *= 2;
    return ch < c->max_channels ? ch : c->max_channels;
}

int64_t alaei_style_g_channels(const alae_model_config *c, int32_t block) {
    return capped_channels(c, alaei_layer_count(c) - 1 - block);
}

int64_t alaei_style_e_in_channels(const alae_model_config *c, int32_t block) { return capped_channels(c, block); }

int64_t alaei_style_e_out_channels(const alae_model_config *c, int32_t block) { return capped_channels(c, block + 1); }

/* ---- validation ---- */

static alae_status validate_mlp(const alae_model_config *c, const char *func) {
    int64_t pixels = (int64_t)c->channels * c->net_size * c->net_size;
    if (pixels > 16 * 1024 * 1024 || (int64_t)c->hidden * pixels > ((int64_t)1 << 32))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "an MLP over %dx%dx%d images with %d hidden units is too large",
                          (int)c->channels, (int)c->net_size, (int)c->net_size, (int)c->hidden);
    return ALAE_OK;
}

/* Parameters of the largest StyleALAE we accept (a 4-byte float each: 16 GiB). */
#define STYLE_MAX_PARAMS ((int64_t)1 << 32)

static alae_status validate_style(const alae_model_config *c, const char *func) {
    if (c->image_size < 4 || c->image_size > 4096 || !is_power_of_two(c->image_size))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "image_size = %d: a StyleALAE needs a power of two from 4 to 4096",
                          (int)c->image_size);
    if (c->start_channels < 1 || c->max_channels < 1)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "start_channels and max_channels must be >= 1");
    /* the dominant terms: two 3x3 convs per block in G and E, and the style affines */
    int64_t total = 0, L = c->latent_dim;
    for (int32_t i = 0; i < alaei_layer_count(c); i++) {
        int64_t g = alaei_style_g_channels(c, i), ei = alaei_style_e_in_channels(c, i);
        int64_t eo = alaei_style_e_out_channels(c, i);
        total += 18 * g * g + 4 * L * g + 9 * ei * (ei + eo) + 2 * L * (ei + eo);
        if (total > STYLE_MAX_PARAMS)
            return alaei_fail(ALAE_E_INVALID_ARG, func,
                              "a StyleALAE of %d px with start_channels %d, max_channels %d, latent %d has more than "
                              "2^32 parameters",
                              (int)c->image_size, (int)c->start_channels, (int)c->max_channels, (int)c->latent_dim);
    }
    return ALAE_OK;
}

alae_status alaei_config_validate(const alae_model_config *c, const char *func) {
    if (c->arch == ALAE_ARCH_MLP) return validate_mlp(c, func);
    if (c->arch == ALAE_ARCH_STYLE) return validate_style(c, func);
    return alaei_fail(ALAE_E_UNSUPPORTED, func, "architecture %d is not available in this version", (int)c->arch);
}

/* ---- JSON (the "alae.arch" metadata of model and training-state files) ---- */

int alaei_config_to_json(const alae_model_config *c, char *buf, size_t cap) {
    if (c->arch == ALAE_ARCH_STYLE)
        return snprintf(buf, cap,
                        "{\"arch\":%d,\"preset\":\"%s\",\"latent_dim\":%d,\"mapping_layers\":%d,\"image_size\":%d,"
                        "\"channels\":%d,\"data_range\":%d,\"d_layers\":%d,\"start_channels\":%d,"
                        "\"max_channels\":%d}",
                        (int)c->arch, c->preset, (int)c->latent_dim, (int)c->mapping_layers, (int)c->image_size,
                        (int)c->channels, (int)c->data_range, (int)c->d_layers, (int)c->start_channels,
                        (int)c->max_channels);
    return snprintf(buf, cap,
                    "{\"arch\":%d,\"preset\":\"%s\",\"latent_dim\":%d,\"mapping_layers\":%d,\"hidden\":%d,"
                    "\"image_size\":%d,\"channels\":%d,\"net_size\":%d,\"data_range\":%d,\"d_layers\":%d,"
                    "\"g_slope\":%.17g,\"e_slope\":%.17g,\"e_out_slope\":%.17g}",
                    (int)c->arch, c->preset, (int)c->latent_dim, (int)c->mapping_layers, (int)c->hidden,
                    (int)c->image_size, (int)c->channels, (int)c->net_size, (int)c->data_range,
                    (int)c->d_layers, c->g_slope, c->e_slope, c->e_out_slope);
}

/* Finds "name": in a flat JSON object and parses the number after it. */
/* The preset named by the configuration object, into c. */
static alae_status config_preset(const alaei_json *root, alae_model_config *c, const char *func) {
    const alaei_json *p = alaei_json_get(root, "preset");
    if (!p) return alaei_fail(ALAE_E_FORMAT, func, "the model configuration has no preset");
    if (p->type != ALAEI_JSON_STRING || p->len >= 32 || strlen(p->str) != p->len)
        return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's preset is malformed");
    if (!preset_by_name(p->str, c))
        return alaei_fail(ALAE_E_FORMAT, func, "unknown preset '%s' in the model configuration", p->str);
    return ALAE_OK;
}

/* Reads every key of c's architecture from the configuration object, with its range. */
static alae_status config_keys(const alaei_json *root, alae_model_config *c, const char *preset, const char *func) {
    for (int i = 0; i < N_KEYS; i++) {
        if (!(keys[i].archs & arch_bit(c->arch))) continue;
        const alaei_json *item = alaei_json_get(root, keys[i].name);
        double v;
        if (!item) return alaei_fail(ALAE_E_FORMAT, func, "the model configuration lacks '%s'", keys[i].name);
        if (!alaei_json_to_double(item, &v))
            return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's %s is a %s, not a number", keys[i].name,
                              alaei_json_type_name(item->type));
        if (!isfinite(v) || v < keys[i].lo || v > keys[i].hi || (keys[i].integer && v != floor(v)))
            return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's %s = %g is out of range",
                              keys[i].name, v);
        if (keys[i].key == ALAE_CFG_ARCH && (int32_t)v != c->arch)
            return alaei_fail(ALAE_E_FORMAT, func, "the model configuration's arch %g is not preset '%s''s", v, preset);
        if (keys[i].integer)
            *int_field(c, keys[i].key) = (int32_t)v;
        else
            *double_field(c, keys[i].key) = v;
    }
    return ALAE_OK;
}

/* The configuration metadata ("alae.arch") is a flat JSON object, parsed strictly (no duplicate
 * keys, no trailing text, RFC 8259 numbers); keys this version does not know are ignored. */
alae_status alaei_config_from_json(const char *json, alae_model_config *cfg, const char *func) {
    alae_model_config c;
    alaei_json_doc *doc = NULL;
    alaei_json_error err;
    if (alaei_json_parse(json, strlen(json), 2, 0, &doc, &err) != ALAE_OK)
        return alaei_fail(ALAE_E_FORMAT, func, "the model configuration is not valid JSON: %s", err.msg);
    const alaei_json *root = alaei_json_root(doc);
    alae_status s = root->type == ALAEI_JSON_OBJECT
                        ? config_preset(root, &c, func)
                        : alaei_fail(ALAE_E_FORMAT, func, "the model configuration is a JSON %s, not an object",
                                     alaei_json_type_name(root->type));
    if (s == ALAE_OK) s = config_keys(root, &c, alaei_json_get(root, "preset")->str, func);
    alaei_json_free(doc);
    if (s != ALAE_OK) return s;
    s = alaei_config_validate(&c, func);
    if (s != ALAE_OK) return s;
    *cfg = c;
    return ALAE_OK;
}
