/* Replays the fuzz corpus and the regression cases through every fuzz target, without libFuzzer
 * (builds with any C11 compiler; registered as the ctest "fuzz_regressions").
 *
 *   regression_driver FUZZ_DIR
 *       replays FUZZ_DIR/corpus/<target>/<file> and FUZZ_DIR/regressions/<target>/<file> through
 *       EVERY target (a file must not crash any of them), with these expectations:
 *         - corpus/<t>/ok_* must be accepted by target t (the seeds reach the deep code);
 *         - any other file in corpus/<t>/ must be rejected by target t (the nasty cases);
 *         - no input may make a target allocate more than 128 MiB at once or 256 MiB in all
 *           (allocation guard, alloc_guard.c): a resource bomb is a failure, unless the pair
 *           "<target> <path>" is listed in FUZZ_DIR/known_open.txt (an open, reported bug: an
 *           expected failure, XFAIL); a listed pair that no longer trips the guard is XPASS, also a
 *           failure, so the list is kept up to date when the bug is fixed.
 *   regression_driver --target NAME FILE...
 *       runs single files through one target (reproducing a crash found by the fuzzer).
 *   regression_driver --write-seeds FUZZ_DIR
 *       (re)writes the seeds that only the library itself can make in the current file format:
 *       corpus/model_load/ok_lib_mlp_tiny, ok_lib_style_tiny and corpus/trainer_load/ok_lib_state
 *       (the tiny trainer of fuzz_trainer_load.c after one step). make_corpus.py writes the rest.
 *
 * An invariant violation inside a target aborts with the input's name (FUZZ_CHECK). */
#define _DEFAULT_SOURCE /* scandir, alphasort */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_guard.h"
#include "fuzz_common.h"

#define GUARD_SINGLE ((size_t)128 << 20)
#define GUARD_TOTAL ((size_t)256 << 20)

typedef struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} target;

static const target targets[] = {
    {"safetensors", alae_fuzz_safetensors}, {"json", alae_fuzz_json},
    {"config", alae_fuzz_config},           {"model_load", alae_fuzz_model_load},
    {"trainer_load", alae_fuzz_trainer_load}, {"idx", alae_fuzz_idx},
    {"npy", alae_fuzz_npy},                 {"image", alae_fuzz_image},
    {"pth", alae_fuzz_pth},
};
#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

/* known_open.txt: "<target> <path relative to FUZZ_DIR>" per line; '#' starts a comment */
typedef struct {
    char target[64];
    char path[512];
    int hit;
} open_case;
static open_case open_cases[256];
static int n_open;

static void read_known_open(const char *dir) {
    char p[4096], line[1024];
    snprintf(p, sizeof p, "%s/known_open.txt", dir);
    FILE *fp = fopen(p, "r");
    if (!fp) return;
    while (fgets(line, sizeof line, fp) && n_open < (int)(sizeof open_cases / sizeof open_cases[0])) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        open_case *c = &open_cases[n_open];
        if (sscanf(line, "%63s %511s", c->target, c->path) == 2) n_open++;
    }
    fclose(fp);
}

static open_case *find_open(const char *t, const char *rel) {
    for (int i = 0; i < n_open; i++)
        if (!strcmp(open_cases[i].target, t) && !strcmp(open_cases[i].path, rel)) return &open_cases[i];
    return NULL;
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        size_t r = fread(buf + n, 1, cap - n, fp);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    *size = n;
    return buf;
}

static int failures, xfails, files, runs;
static int accepted[N_TARGETS], ran[N_TARGETS];

/* Runs one file through every target. own: index of the directory's target (-1: none);
 * expect: 1 accept, 0 reject, -1 either (for own). */
static void replay(const char *dir, const char *rel, int own, int expect) {
    char path[4096], label[4200];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (!data) {
        fprintf(stderr, "FAIL cannot read %s\n", path);
        failures++;
        return;
    }
    files++;
    for (int t = 0; t < N_TARGETS; t++) {
        snprintf(label, sizeof label, "%s (through target %s)", rel, targets[t].name);
        alae_fuzz_current_input = label;
        alae_guard_arm(GUARD_SINGLE, GUARD_TOTAL);
        int ok = targets[t].fn(data, size);
        alae_guard_disarm();
        runs++;
        ran[t]++;
        accepted[t] += ok;
        size_t refused = alae_guard_refused(), largest = alae_guard_largest();
        open_case *known = find_open(targets[t].name, rel);
        if (known) {
            known->hit = 1;
            if (refused) {
                xfails++;
                printf("XFAIL %s: known open bug (known_open.txt): largest allocation request %zu bytes\n", label,
                       largest);
            } else {
                failures++;
                printf("XPASS %s: no longer a resource bomb; remove it from known_open.txt\n", label);
            }
        } else if (refused) {
            failures++;
            printf("FAIL %s: resource bomb: %zu allocation(s) refused by the guard, largest request %zu bytes "
                   "(limits %zu at once, %zu in all) for a %zu-byte input\n",
                   label, refused, largest, GUARD_SINGLE, GUARD_TOTAL, size);
        }
        if (t == own && expect >= 0 && ok != expect) {
            failures++;
            printf("FAIL %s: expected the target to %s it, it %s it (%s)\n", label, expect ? "accept" : "reject",
                   ok ? "accepted" : "rejected", ok ? "" : alae_last_error());
        }
    }
    alae_fuzz_current_input = NULL;
    free(data);
}

static int name_filter(const struct dirent *e) { return e->d_name[0] != '.'; }

static void replay_dir(const char *fuzz_dir, const char *kind, int t) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/%s", fuzz_dir, kind, targets[t].name);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, name_filter, alphasort);
    if (n < 0) return; /* no such directory: nothing to replay */
    for (int i = 0; i < n; i++) {
        char rel[1024];
        snprintf(rel, sizeof rel, "%s/%s/%s", kind, targets[t].name, list[i]->d_name);
        int expect = -1;
        if (!strcmp(kind, "corpus")) expect = strncmp(list[i]->d_name, "ok_", 3) == 0;
        replay(fuzz_dir, rel, t, expect);
        free(list[i]);
    }
    free(list);
}

#define SEED_CHECK(expr)                                                                      \
    do {                                                                                      \
        if ((expr) != ALAE_OK) {                                                              \
            fprintf(stderr, "%s: %s\n", #expr, alae_last_error());                            \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

static int write_seeds(const char *dir) {
    alae_context *ctx = alae_fuzz_context();
    char path[4096];
    /* the MLP of fuzz_trainer_load.c, one training step, then its model and training state */
    alae_model_config *cfg;
    alae_model *m;
    SEED_CHECK(alae_fuzz_tiny_mlp(ctx, &m));
    alae_optimizer *fg, *ed;
    alae_trainer *t;
    SEED_CHECK(alae_optimizer_create_adam(m, ALAE_PART_F | ALAE_PART_G, &fg));
    SEED_CHECK(alae_optimizer_create_adam(m, ALAE_PART_E | ALAE_PART_D, &ed));
    SEED_CHECK(alae_trainer_create(m, fg, ed, &t));
    int64_t shape[4] = {2, 1, 4, 4};
    alae_tensor *x;
    float px[32];
    for (int i = 0; i < 32; i++) px[i] = (float)((i * 7) % 11) / 10.0f;
    SEED_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, shape, &x));
    SEED_CHECK(alae_tensor_write(x, px, sizeof px));
    SEED_CHECK(alae_trainer_step(t, x, NULL));
    snprintf(path, sizeof path, "%s/corpus/trainer_load/ok_lib_state", dir);
    SEED_CHECK(alae_trainer_save(t, path));
    snprintf(path, sizeof path, "%s/corpus/model_load/ok_lib_mlp_tiny", dir);
    SEED_CHECK(alae_trainer_save_model(t, path));
    alae_tensor_destroy(x);
    alae_trainer_destroy(t);
    alae_optimizer_destroy(fg);
    alae_optimizer_destroy(ed);
    alae_model_destroy(m);
    /* a two-level StyleALAE (4x4 and 8x8), as small as the configuration allows */
    SEED_CHECK(alae_model_config_create("mnist", &cfg));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 4));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 1));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 8));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 2));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 4));
    SEED_CHECK(alae_model_config_set(cfg, ALAE_CFG_D_LAYERS, 1));
    SEED_CHECK(alae_model_create(ctx, cfg, 9, &m));
    alae_model_config_destroy(cfg);
    snprintf(path, sizeof path, "%s/corpus/model_load/ok_lib_style_tiny", dir);
    SEED_CHECK(alae_model_save(m, path));
    alae_model_destroy(m);
    printf("wrote the library-made seeds under %s/corpus\n", dir);
    return 0;
}

int main(int argc, char **argv) {
    alae_fuzz_init();
    if (argc == 3 && !strcmp(argv[1], "--write-seeds")) return write_seeds(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "--target")) {
        for (int t = 0; t < N_TARGETS; t++) {
            if (strcmp(targets[t].name, argv[2]) != 0) continue;
            for (int i = 3; i < argc; i++) {
                size_t size = 0;
                uint8_t *data = read_file(argv[i], &size);
                if (!data) {
                    fprintf(stderr, "cannot read %s\n", argv[i]);
                    return 2;
                }
                alae_fuzz_current_input = argv[i];
                alae_guard_arm(GUARD_SINGLE, GUARD_TOTAL);
                int ok = targets[t].fn(data, size);
                alae_guard_disarm();
                printf("%s: %s by %s; largest allocation request %zu bytes, %zu refused; last error: %s\n", argv[i],
                       ok ? "accepted" : "rejected", argv[2], alae_guard_largest(), alae_guard_refused(),
                       ok ? "-" : alae_last_error());
                free(data);
            }
            return 0;
        }
        fprintf(stderr, "unknown target '%s'\n", argv[2]);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s FUZZ_DIR | --target NAME FILE... | --write-seeds FUZZ_DIR\n", argv[0]);
        return 2;
    }
    if (!alae_guard_active())
        printf("note: built without the allocation guard (--wrap); resource bombs are not detected\n");
    read_known_open(argv[1]);
    for (int t = 0; t < N_TARGETS; t++) {
        replay_dir(argv[1], "corpus", t);
        replay_dir(argv[1], "regressions", t);
    }
    for (int i = 0; i < n_open; i++)
        if (!open_cases[i].hit) {
            printf("FAIL known_open.txt lists '%s %s', which does not exist\n", open_cases[i].target,
                   open_cases[i].path);
            failures++;
        }
    printf("\nreplayed %d files, %d target runs\n", files, runs);
    for (int t = 0; t < N_TARGETS; t++)
        printf("  %-13s %5d runs, %4d accepted\n", targets[t].name, ran[t], accepted[t]);
    printf("%d expected failure(s) (known open bugs), %d failure(s)\n", xfails, failures);
    if (files == 0) {
        printf("FAIL no input found under %s\n", argv[1]);
        return 1;
    }
    return failures ? 1 : 0;
}
