/* alae command-line tool: import (a checkpoint of the authors' PyTorch ALAE to a model file). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char import_usage[] =
    "usage: alae import --from FILE.pth --preset NAME --out MODEL.safetensors\n"
    "                   [--copy smoothed|training] [--set key=value ...]\n"
    "\n"
    "Converts a checkpoint of the authors' PyTorch ALAE (podgorskiy/ALAE: the published FFHQ,\n"
    "CelebA-HQ 256, LSUN Bedroom and CelebA models, or one of their training runs) into a libalae\n"
    "model file, without PyTorch. Both PyTorch serialisations are read (the legacy stream of the\n"
    "published files and the zip archive of PyTorch >= 1.6); nothing in the file is executed.\n"
    "Every tensor's shape is checked against the preset; missing and extra tensors are named.\n"
    "\n"
    "  --from FILE.pth    the checkpoint (e.g. training_artifacts/ffhq/model_157.pth)\n"
    "  --preset NAME      the configuration the checkpoint was trained with: ffhq (1024 px),\n"
    "                     celeba-hq256, bedroom (256 px), celeba (128 px), mnist (32 px)\n"
    "  --out FILE         the model file to write (atomically; not the input)\n"
    "  --copy C           smoothed (default: the EMA networks *_s the authors use for inference;\n"
    "                     a file without them falls back to the training networks with a warning)\n"
    "                     or training\n"
    "  --set KEY=VALUE    change a model setting of the preset (repeatable), for checkpoints of\n"
    "                     other configurations: latent_dim, mapping_layers, image_size, channels,\n"
    "                     start_channels, max_channels, ...\n";

/* Applies one "key=value" model setting. */
static int apply_setting(alae_model_config *cfg, const char *item) {
    const char *eq = strchr(item, '=');
    char name[64];
    if (!eq || eq == item || (size_t)(eq - item) >= sizeof name)
        return cli_usage_error("import", "--set: '%s' is not key=value", item);
    snprintf(name, sizeof name, "%.*s", (int)(eq - item), item);
    int32_t key;
    if (alae_model_config_key(name, &key) != ALAE_OK) return cli_usage_error("import", "--set: unknown setting '%s'", name);
    char *end;
    double v = strtod(eq + 1, &end);
    if (!eq[1] || *end) return cli_usage_error("import", "--set %s: '%s' is not a number", name, eq + 1);
    if (alae_model_config_set(cfg, key, v) != ALAE_OK) return cli_usage_error("import", "--set: %s", alae_last_error());
    return CLI_GO;
}

/* Whether two paths name the same existing file. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int parse_copy(const char *text, int32_t *copy) {
    if (!text || !strcmp(text, "smoothed")) *copy = ALAE_IMPORT_SMOOTHED;
    else if (!strcmp(text, "training")) *copy = ALAE_IMPORT_TRAINING;
    else return cli_usage_error("import", "--copy must be smoothed or training, not '%s'", text);
    return CLI_GO;
}

static int run_import(const char *from, const alae_model_config *cfg, int32_t copy, const char *out) {
    alae_context *ctx = NULL;
    alae_model *model = NULL;
    double t0 = cli_now();
    alae_status s = cli_context(0, &ctx);
    if (s != ALAE_OK) return cli_fail("import", s);
    s = alae_model_import_pth(ctx, from, cfg, copy, &model);
    double t1 = cli_now();
    if (s == ALAE_OK) s = alae_model_save(model, out);
    int rc = CLI_OK;
    if (s != ALAE_OK) {
        rc = cli_fail_file("import", s, from);
    } else {
        uint64_t n = 0;
        alae_model_param_count(model, ALAE_PART_ALL, &n);
        printf("imported %s (%s networks, %llu parameters) in %.2f s; wrote %s in %.2f s\n", from,
               copy == ALAE_IMPORT_TRAINING ? "training" : "smoothed", (unsigned long long)n, t1 - t0, out,
               cli_now() - t1);
    }
    alae_model_destroy(model);
    alae_context_destroy(ctx);
    return rc;
}

int cli_cmd_import(int argc, char **argv) {
    const char *from = NULL, *preset = NULL, *out = NULL, *copy_text = NULL;
    cli_list sets = {{0}, 0};
    cli_opt opts[] = {
        {"--from", CLI_STR, &from, 0, 0, 0},      {"--preset", CLI_STR, &preset, 0, 0, 0},
        {"--out", CLI_STR, &out, 0, 0, 0},        {"--copy", CLI_STR, &copy_text, 0, 0, 0},
        {"--set", CLI_LIST, &sets, 0, 0, 0},
    };
    int n_opts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse("import", import_usage, argc, argv, opts, n_opts);
    const char *required[] = {"--from", "--preset", "--out"};
    if (rc == CLI_GO) rc = cli_require("import", opts, n_opts, required, 3);
    int32_t copy = ALAE_IMPORT_SMOOTHED;
    if (rc == CLI_GO) rc = parse_copy(copy_text, &copy);
    if (rc == CLI_GO && same_file(from, out))
        rc = cli_usage_error("import", "--out '%s' is the input file; choose another path", out);
    if (rc != CLI_GO) return rc;
    alae_model_config *cfg = NULL;
    if (alae_model_config_create(preset, &cfg) != ALAE_OK) return cli_usage_error("import", "--preset: %s", alae_last_error());
    for (int i = 0; rc == CLI_GO && i < sets.n; i++) rc = apply_setting(cfg, sets.items[i]);
    if (rc == CLI_GO) rc = run_import(from, cfg, copy, out);
    alae_model_config_destroy(cfg);
    return rc;
}
