/* alae: the command-line tool of libalae. Each command lives in a tools/cli_*.c file. */
#include <alae/alae.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: alae <command> [options]\n"
            "\n"
            "commands:\n"
            "  train        train an ALAE on IDX images or an image folder (writes a model, a training\n"
            "               state, a log, images)\n"
            "  sample       write a grid of images generated from random latents\n"
            "  encode       encode images (IDX, image files or folders) into latents (.npy)\n"
            "  decode       write a grid of images decoded from latents (.npy)\n"
            "  reconstruct  write a grid of images above their reconstructions\n"
            "  mix          StyleALAE style mixing: styles of one image's layers in another\n"
            "  interpolate  write a strip of images interpolated in W between two images\n"
            "  import       convert a checkpoint of the authors' PyTorch ALAE (.pth) to a model file\n"
            "  invert       find codes that G turns back into real images more faithfully than E's\n"
            "  eval         measure a model: reconstruction, generation, path length, codes' accuracy\n"
            "  directions   fit attribute directions in W from labelled images (or import them)\n"
            "  edit         move an image's code along a direction and write the strip\n"
            "  traverse     grids along latent dimensions or directions\n"
            "  report       write a training run's report.html (loss curves, grids, metrics)\n"
            "  serve        serve a model to a browser (a page with sliders) and over an HTTP API\n"
            "  info         print the library version, the devices and the GEMM kernels in use,\n"
            "               or with --model a model's configuration and parameter counts\n"
            "  version      print the library version\n"
            "\n"
            "Run 'alae <command> --help' for a command's options.\n");
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"train", cli_cmd_train},   {"sample", cli_cmd_sample},           {"encode", cli_cmd_encode},
    {"decode", cli_cmd_decode}, {"reconstruct", cli_cmd_reconstruct}, {"info", cli_cmd_info},
    {"mix", cli_cmd_mix},       {"interpolate", cli_cmd_interpolate}, {"import", cli_cmd_import},
    {"invert", cli_cmd_invert}, {"eval", cli_cmd_eval},           {"directions", cli_cmd_directions},
    {"edit", cli_cmd_edit},     {"traverse", cli_cmd_traverse},       {"report", cli_cmd_report},
    {"serve", cli_cmd_serve},
};

static int command_version(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: alae version\n\nPrints the version of the loaded libalae.\n");
            return CLI_OK;
        }
    if (argc > 0) return cli_usage_error("version", "unexpected argument '%s'", argv[0]);
    printf("%s\n", alae_version_string());
    return CLI_OK;
}

int main(int argc, char **argv) {
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        fprintf(stderr, "alae: %s\n", alae_last_error());
        return CLI_RUNTIME;
    }
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    const char *command = argv[1];
    if (!strcmp(command, "--help") || !strcmp(command, "-h") || !strcmp(command, "help")) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(command, "version") || !strcmp(command, "--version")) return command_version(argc - 2, argv + 2);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(command, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "alae: unknown command '%s'\n\n", command);
    print_usage(stderr);
    return CLI_USAGE;
}
