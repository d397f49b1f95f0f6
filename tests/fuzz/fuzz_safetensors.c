/* Fuzz target: the strict safetensors reader (docs/checkpoint-format.md), from memory (alaei_st_parse) and
 * from a file (alaei_st_open), which must agree. An accepted file must be self-consistent: tensors
 * sorted by name and findable, data inside the copied area, nbytes = numel * element size,
 * metadata findable; every float tensor converts with alaei_st_get_f32 under its own shape. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/safetensors.h"

static void check_file(const alaei_st_file *f) {
    size_t n = alaei_st_count(f);
    FUZZ_CHECK(n <= ALAEI_ST_MAX_TENSORS);
    FUZZ_CHECK(alaei_st_at(f, n) == NULL);
    uint64_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        const alaei_st_tensor *t = alaei_st_at(f, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        FUZZ_CHECK(t->name_len >= 1 && t->name_len <= ALAEI_ST_MAX_NAME && strlen(t->name) == t->name_len);
        if (i > 0) FUZZ_CHECK(strcmp(alaei_st_at(f, i - 1)->name, t->name) < 0);
        FUZZ_CHECK(alaei_st_find(f, t->name) == t);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= ALAEI_ST_MAX_DIMS);
        size_t numel = 1;
        for (int32_t d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d]; /* cannot wrap: the reader checked the product */
        }
        FUZZ_CHECK(numel == t->numel);
        FUZZ_CHECK(t->nbytes == t->numel * alaei_st_dtype_size(t->dtype));
        FUZZ_CHECK(t->end - t->begin == t->nbytes);
        covered += t->nbytes;
        if (t->nbytes > 0) {
            /* touch the first and the last byte: ASan catches a pointer outside the copy */
            volatile uint8_t first = t->data[0], last = t->data[t->nbytes - 1];
            (void)first;
            (void)last;
        }
        if (t->dtype == ALAEI_ST_F32 || t->dtype == ALAEI_ST_F16 || t->dtype == ALAEI_ST_BF16 ||
            t->dtype == ALAEI_ST_F64) {
            float *dst = malloc(t->numel ? t->numel * sizeof(float) : 1);
            FUZZ_CHECK(dst != NULL);
            FUZZ_CHECK(alaei_st_get_f32(f, t->name, t->ndim, t->shape, dst) == ALAE_OK);
            free(dst);
        }
        if (t->numel == 1 && (t->dtype == ALAEI_ST_I64 || t->dtype == ALAEI_ST_I32 || t->dtype == ALAEI_ST_U64)) {
            int64_t v = 0;
            alae_status s = alaei_st_get_i64(f, t->name, &v);
            if (s != ALAE_OK) alae_fuzz_check_failure(s, "alaei_st_get_i64");
        }
        if (t->dtype == ALAEI_ST_U64 && t->numel <= 64) {
            uint64_t v[64];
            FUZZ_CHECK(alaei_st_get_u64(f, t->name, t->numel, v) == ALAE_OK);
        }
    }
    (void)covered;
    size_t m = alaei_st_metadata_count(f);
    FUZZ_CHECK(m <= ALAEI_ST_MAX_METADATA);
    const char *prev = NULL;
    for (size_t i = 0; i < m; i++) {
        const char *k = NULL, *v = NULL;
        FUZZ_CHECK(alaei_st_metadata_at(f, i, &k, &v) == 1);
        FUZZ_CHECK(k != NULL && v != NULL);
        if (prev) FUZZ_CHECK(strcmp(prev, k) < 0);
        FUZZ_CHECK(alaei_st_metadata_get(f, k) == v);
        prev = k;
    }
    FUZZ_CHECK(alaei_st_metadata_at(f, m, NULL, NULL) == 0);
    /* lookups of names that are not there */
    FUZZ_CHECK(alaei_st_find(f, "\x01 not a tensor") == NULL);
    float one;
    alae_status s = alaei_st_get_f32(f, "\x01 not a tensor", 0, NULL, &one);
    FUZZ_CHECK(s == ALAE_E_FORMAT);
}

int alae_fuzz_safetensors(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    alaei_st_file *sentinel = (alaei_st_file *)(uintptr_t)0x5a5a, *f = sentinel;
    alae_status s = alaei_st_parse(size ? (const void *)data : (const void *)"", size, &f);
    if (s != ALAE_OK) {
        FUZZ_CHECK(f == sentinel);
        alae_fuzz_check_failure(s, "alaei_st_parse");
    } else {
        FUZZ_CHECK(f != sentinel && f != NULL);
        check_file(f);
    }
    /* the file reader must reach the same verdict */
    alaei_st_file *g = sentinel;
    alae_status s2 = alaei_st_open(alae_fuzz_file(0, data, size), &g);
    if (s2 != ALAE_OK) {
        FUZZ_CHECK(g == sentinel);
        alae_fuzz_check_failure(s2, "alaei_st_open");
    }
    FUZZ_CHECK((s == ALAE_OK) == (s2 == ALAE_OK));
    if (s == ALAE_OK) {
        FUZZ_CHECK(alaei_st_count(f) == alaei_st_count(g));
        for (size_t i = 0; i < alaei_st_count(f); i++) {
            const alaei_st_tensor *a = alaei_st_at(f, i), *b = alaei_st_at(g, i);
            FUZZ_CHECK(strcmp(a->name, b->name) == 0 && a->nbytes == b->nbytes);
            FUZZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
        }
        alaei_st_free(f);
        alaei_st_free(g);
        return 1;
    }
    return 0;
}

ALAE_FUZZ_MAIN(alae_fuzz_safetensors)
