/* Fuzz target: importing a PyTorch checkpoint (alae_model_import_pth: the pickle-subset reader,
 * the legacy stream and the zip archive, the name and shape matching) into a tiny StyleALAE
 * (4 px, 1 channel, 2 channels per level, latent 2, 1 mapping layer), and the pickle machine
 * alone on the raw bytes. A rejected file leaves *out untouched and sets a message; an accepted
 * one gives a model whose parameters the file could hold and that runs inference.
 *
 * Seeds: tests/fuzz/corpus/pth, written once with PyTorch by tests/fuzz/make_pth_corpus.py. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/pickle.h"

static alae_status tiny_style_config(alae_model_config **out) {
    alae_model_config *cfg = NULL;
    alae_status s = alae_model_config_create("mnist", &cfg);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_IMAGE_SIZE, 4);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_CHANNELS, 1);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_START_CHANNELS, 2);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_MAX_CHANNELS, 2);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_LATENT_DIM, 2);
    if (s == ALAE_OK) s = alae_model_config_set(cfg, ALAE_CFG_MAPPING_LAYERS, 1);
    if (s != ALAE_OK) alae_model_config_destroy(cfg);
    else *out = cfg;
    return s;
}

typedef struct mem {
    const uint8_t *p;
    size_t n, at;
} mem;

static int mem_read(void *user, void *buf, size_t n) {
    mem *m = user;
    if (n > m->n - m->at) return -1;
    memcpy(buf, m->p + m->at, n);
    m->at += n;
    return 0;
}

static uint64_t mem_remaining(void *user) {
    mem *m = user;
    return m->n - m->at;
}

/* The pickle machine on the raw bytes (a legacy file's first pickle, or anything). */
static void unpickle_raw(const uint8_t *data, size_t size) {
    mem m = {data, size, 0};
    alaei_pk_source src = {mem_read, mem_remaining, &m, 0};
    alaei_pk_reader *r = NULL;
    FUZZ_CHECK(alaei_pk_reader_create(&r) == ALAE_OK);
    const alaei_pk_value *v = NULL;
    alae_status s = alaei_pk_read(r, &src, NULL, NULL, &v);
    if (s != ALAE_OK) alae_fuzz_check_failure(s, "alaei_pk_read");
    else FUZZ_CHECK(v != NULL && src.consumed <= size);
    alaei_pk_reader_destroy(r);
}

static void run_inference(alae_model *m) {
    alae_context *ctx = alae_fuzz_context();
    int64_t xs[4] = {1, 1, 4, 4}, ws[2] = {1, 2};
    alae_tensor *x = NULL, *w = NULL;
    FUZZ_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, xs, &x) == ALAE_OK);
    FUZZ_CHECK(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, ws, &w) == ALAE_OK);
    alae_status s = alae_model_encode(m, x, w);
    if (s == ALAE_OK) s = alae_model_generate(m, w, x);
    FUZZ_CHECK(s == ALAE_OK);
    alae_tensor_destroy(x);
    alae_tensor_destroy(w);
}

int alae_fuzz_pth(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    unpickle_raw(data, size);
    alae_context *ctx = alae_fuzz_context();
    alae_model_config *cfg = NULL;
    FUZZ_CHECK(tiny_style_config(&cfg) == ALAE_OK);
    alae_model *sentinel = (alae_model *)(uintptr_t)0x5a5a, *m = sentinel;
    alae_status s = alae_model_import_pth(ctx, alae_fuzz_file(2, data, size), cfg, ALAE_IMPORT_SMOOTHED, &m);
    alae_model_config_destroy(cfg);
    if (s != ALAE_OK) {
        FUZZ_CHECK(m == sentinel);
        alae_fuzz_check_failure(s, "alae_model_import_pth");
        return 0;
    }
    FUZZ_CHECK(m != NULL && m != sentinel);
    uint64_t params = 0;
    FUZZ_CHECK(alae_model_param_count(m, ALAE_PART_ALL, &params) == ALAE_OK);
    FUZZ_CHECK(params * 2 <= size); /* every value came from the file, in 2 bytes at least */
    run_inference(m);
    alae_model_destroy(m);
    return 1;
}

ALAE_FUZZ_MAIN(alae_fuzz_pth)
