/* alae: the command-line tool of libalae. */
#include <alae/alae.h>
#include <stdio.h>
#include <string.h>

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: alae <command> [options]\n"
            "\n"
            "commands:\n"
            "  info        print the library version, the devices and the GEMM kernels in use\n"
            "  version     print the library version\n"
            "\n"
            "Run 'alae <command> --help' for a command's options.\n");
}

static int wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static int reject_extra_arguments(const char *command, int argc, char **argv) {
    if (argc == 0) return 0;
    fprintf(stderr, "alae %s: unexpected argument '%s' (see 'alae %s --help')\n", command, argv[0], command);
    return 2;
}

static int command_info(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        printf("usage: alae info\n\nPrints the library version, every device with its memory, and the\n"
               "matrix-multiplication kernels the CPU backend uses.\n");
        return 0;
    }
    int rc = reject_extra_arguments("info", argc, argv);
    if (rc) return rc;
    printf("libalae %s (headers %s)\n", alae_version_string(), ALAE_VERSION_STRING);
    int32_t n = alae_device_count();
    printf("devices: %d\n", (int)n);
    for (int32_t i = 0; i < n; i++) {
        alae_device_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (alae_device_get_info(i, &info) != ALAE_OK) {
            fprintf(stderr, "alae info: device %d: %s\n", (int)i, alae_last_error());
            return 1;
        }
        printf("  [%d] %-10s %s\n", (int)i, info.name, info.description);
        printf("       memory %.1f GiB total, %.1f GiB free; %d threads\n", info.mem_total / 1073741824.0,
               info.mem_free / 1073741824.0, (int)info.threads);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        fprintf(stderr, "alae: %s\n", alae_last_error());
        return 1;
    }
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (!strcmp(command, "--help") || !strcmp(command, "-h") || !strcmp(command, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(command, "version") || !strcmp(command, "--version")) {
        printf("%s\n", alae_version_string());
        return 0;
    }
    if (!strcmp(command, "info")) return command_info(argc - 2, argv + 2);
    fprintf(stderr, "alae: unknown command '%s'\n\n", command);
    print_usage(stderr);
    return 2;
}
