/* Fuzz target: the model configuration parser that reads the "alae.arch" metadata of model and
 * training-state files (alaei_config_from_json) and the configuration validation behind it. An
 * accepted configuration must pass alaei_config_validate, keep every key inside the bounds that
 * alae_model_config_bounds publishes, and survive a JSON round trip unchanged. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "nn/model_internal.h"

int alae_fuzz_config(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    char *json = malloc(size + 1);
    FUZZ_CHECK(json != NULL);
    if (size) memcpy(json, data, size);
    json[size] = '\0'; /* metadata values are NUL-free C strings (the reader rejects NUL) */
    alae_model_config cfg, sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    cfg = sentinel;
    alae_status s = alaei_config_from_json(json, &cfg, "fuzz_config");
    free(json);
    if (s != ALAE_OK) {
        FUZZ_CHECK(memcmp(&cfg, &sentinel, sizeof cfg) == 0);
        alae_fuzz_check_failure(s, "alaei_config_from_json");
        return 0;
    }
    FUZZ_CHECK(alaei_config_validate(&cfg, "fuzz_config") == ALAE_OK);
    /* every key of the configuration's architecture is within its published bounds (keys of the
     * other architecture fail with ALAE_E_INVALID_ARG) */
    int keys = 0;
    for (int32_t key = ALAE_CFG_ARCH; key < ALAE_CFG_ARCH + 64; key++) {
        double v, lo, hi;
        alae_status g = alae_model_config_get(&cfg, key, &v);
        if (g != ALAE_OK) {
            FUZZ_CHECK(g == ALAE_E_INVALID_ARG);
            continue;
        }
        keys++;
        FUZZ_CHECK(alae_model_config_bounds(key, &lo, &hi) == ALAE_OK);
        FUZZ_CHECK(v >= lo && v <= hi);
    }
    FUZZ_CHECK(keys >= 7);
    FUZZ_CHECK(memchr(cfg.preset, 0, sizeof cfg.preset) != NULL);
    char a[1024], b[1024];
    int n = alaei_config_to_json(&cfg, a, sizeof a);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof a);
    alae_model_config again;
    FUZZ_CHECK(alaei_config_from_json(a, &again, "fuzz_config") == ALAE_OK);
    alaei_config_to_json(&again, b, sizeof b);
    FUZZ_CHECK(strcmp(a, b) == 0);
    return 1;
}

ALAE_FUZZ_MAIN(alae_fuzz_config)
