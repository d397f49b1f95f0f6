#define _GNU_SOURCE /* mkdtemp, lstat */
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void alae_test_make_tmpdir(char *buf, size_t cap, const char *prefix) {
    const char *base = getenv("TMPDIR");
    int n = snprintf(buf, cap, "%s/%sXXXXXX", base && *base ? base : "/tmp", prefix);
    ck_assert_msg(n > 0 && (size_t)n < cap, "temporary directory name too long");
    ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp(%s) failed", buf);
}

void alae_test_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700); /* tests make directories unreadable on purpose */
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            alae_test_remove_tree(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

int alae_test_run_suite(Suite *suite) {
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

double alae_test_uniform(uint64_t *state, double lo, double hi) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(*state >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

static int32_t g_device = 0;
static int g_on_cuda = 0;

void alae_test_select_device(const char *name) {
    const char *want = getenv("ALAE_TEST_DEVICE");
    if (!want || !want[0] || strcmp(want, "cpu") == 0) return;
    if (strcmp(want, "cuda") != 0) {
        fprintf(stderr, "%s: ALAE_TEST_DEVICE=%s: expected cpu or cuda\n", name, want);
        exit(EXIT_FAILURE);
    }
    int32_t index = -1;
    alae_status s = alae_device_find("cuda", &index);
    if (s == ALAE_E_BACKEND_UNAVAILABLE) {
        printf("SKIPPED: %s: no CUDA device (%s)\n", name, alae_last_error());
        fflush(stdout);
        exit(77);
    }
    if (s != ALAE_OK) {
        fprintf(stderr, "%s: the CUDA backend failed to load: %s: %s\n", name, alae_status_string(s), alae_last_error());
        exit(EXIT_FAILURE);
    }
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (alae_device_get_info(index, &info) == ALAE_OK)
        printf("%s: running on device %d, %s (%s)\n", name, (int)index, info.name, info.description);
    fflush(stdout);
    g_device = index;
    g_on_cuda = 1;
}

int32_t alae_test_device(void) { return g_device; }

int alae_test_on_cuda(void) { return g_on_cuda; }
