/* alae command-line tool: info (the library and its devices, or a model file). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char info_usage[] =
    "usage: alae info [--model M]\n"
    "\n"
    "Without --model: prints the library version, every device with its name and memory (the\n"
    "GPUs too when the CUDA backend module loads, else why not), and the matrix-multiplication\n"
    "kernels the CPU backend uses.\n"
    "With --model: prints the model's configuration by setting name and its parameter counts\n"
    "per network (F: mapping, G: generator, E: encoder, D: discriminator) and in total.\n"
    "\n"
    "  --model M      a model file (DIR/model.safetensors from 'alae train')\n";

static int print_library(void) {
    printf("libalae %s (headers %s)\n", alae_version_string(), ALAE_VERSION_STRING);
    /* the GPUs, when the CUDA backend module is installed and a driver and GPU are present */
    char cuda_why[600] = "";
    if (alae_backend_load_cuda(NULL) != ALAE_OK) snprintf(cuda_why, sizeof cuda_why, "%s", alae_last_error());
    int32_t n = alae_device_count();
    printf("devices: %d\n", (int)n);
    for (int32_t i = 0; i < n; i++) {
        alae_device_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        alae_status s = alae_device_get_info(i, &info);
        if (s != ALAE_OK) return cli_fail("info", s);
        printf("  [%d] %-10s %s\n", (int)i, info.name, info.description);
        printf("       memory %.1f GiB total, %.1f GiB free; %d threads\n", info.mem_total / 1073741824.0,
               info.mem_free / 1073741824.0, (int)info.threads);
    }
    if (cuda_why[0]) printf("cuda: unavailable: %s\n", cuda_why);
    return CLI_OK;
}

/* The shortest of %.15g..%.17g that reads back as v (0.2, not 0.20000000000000001). */
static void format_number(double v, char *buf, size_t cap) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static const char *arch_name(int32_t key, double v) {
    if (key != ALAE_CFG_ARCH) return "";
    return v == ALAE_ARCH_MLP ? " (mlp)" : v == ALAE_ARCH_STYLE ? " (style)" : "";
}

static alae_status print_settings(const alae_model *model) {
    alae_model_config *cfg;
    alae_status s = alae_model_get_config(model, &cfg);
    if (s != ALAE_OK) return s;
    printf("configuration:\n");
    for (size_t i = 0; s == ALAE_OK && i < (size_t)cli_setting_count; i++) {
        int32_t key;
        double v;
        s = alae_model_config_key(cli_setting_names[i], &key);
        if (s != ALAE_OK) break;
        if (alae_model_config_get(cfg, key, &v) != ALAE_OK) continue; /* a key of another architecture */
        char text[40];
        format_number(v, text, sizeof text);
        printf("  %-15s %s%s\n", cli_setting_names[i], text, arch_name(key, v));
    }
    alae_model_config_destroy(cfg);
    return s;
}

static alae_status print_counts(const alae_model *model) {
    static const struct {
        const char *name;
        int32_t mask;
    } parts[] = {{"F (mapping)", ALAE_PART_F},
                 {"G (generator)", ALAE_PART_G},
                 {"E (encoder)", ALAE_PART_E},
                 {"D (discriminator)", ALAE_PART_D},
                 {"total", ALAE_PART_ALL}};
    printf("parameters:\n");
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t n;
        alae_status s = alae_model_param_count(model, parts[i].mask, &n);
        if (s != ALAE_OK) return s;
        printf("  %-17s %llu\n", parts[i].name, (unsigned long long)n);
    }
    return ALAE_OK;
}

static int print_model(const char *path) {
    alae_context *ctx;
    alae_model *model;
    int rc = cli_load_model("info", path, 1, &ctx, &model);
    if (rc != CLI_GO) return rc;
    printf("model: %s\n", cli_shown(path));
    alae_status s = print_settings(model);
    if (s == ALAE_OK) s = print_counts(model);
    rc = s == ALAE_OK ? CLI_OK : cli_fail("info", s);
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}

int cli_cmd_info(int argc, char **argv) {
    const char *model_path = NULL;
    cli_opt opts[] = {{"--model", CLI_STR, &model_path, 0, 0, 0}};
    int rc = cli_parse("info", info_usage, argc, argv, opts, 1);
    if (rc != CLI_GO) return rc;
    return model_path ? print_model(model_path) : print_library();
}
