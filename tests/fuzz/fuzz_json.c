/* Fuzz target: the strict JSON subset parser (lib/io/json_min.c), at the safetensors depth (3)
 * and at the hard limit (64), with the default node bound and a tight one. An accepted document is
 * walked completely: counts, sibling links, key order and lookups, string lengths, integers. */
#include <string.h>

#include "fuzz_common.h"
#include "io/json_min.h"

static size_t walk(const alaei_json *v, int depth, int max_depth) {
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK(depth <= max_depth);
    size_t nodes = 1;
    switch (v->type) {
    case ALAEI_JSON_NULL:
    case ALAEI_JSON_FALSE:
    case ALAEI_JSON_TRUE: break;
    case ALAEI_JSON_INT: {
        uint64_t u;
        const char *why = alaei_json_to_u64(v, &u);
        FUZZ_CHECK((why == NULL) == !v->negative);
        break;
    }
    case ALAEI_JSON_NUMBER: {
        uint64_t u;
        FUZZ_CHECK(v->str != NULL && v->len > 0);
        FUZZ_CHECK(alaei_json_to_u64(v, &u) != NULL);
        break;
    }
    case ALAEI_JSON_STRING:
        FUZZ_CHECK(v->str != NULL && v->str[v->len] == '\0');
        FUZZ_CHECK(alaei_utf8_valid(v->str, v->len, NULL));
        break;
    case ALAEI_JSON_ARRAY:
    case ALAEI_JSON_OBJECT: {
        FUZZ_CHECK(depth + 1 <= max_depth);
        const alaei_json *prev = NULL;
        for (size_t i = 0; i < v->count; i++) {
            const alaei_json *c = v->items[i];
            if (prev) FUZZ_CHECK(prev->next == c);
            prev = c;
            if (v->type == ALAEI_JSON_OBJECT) {
                FUZZ_CHECK(c->key != NULL && c->key[c->key_len] == '\0');
                FUZZ_CHECK(alaei_utf8_valid(c->key, c->key_len, NULL));
                FUZZ_CHECK(alaei_json_get_n(v, c->key, c->key_len) == c);
                if (i > 0) {
                    const alaei_json *a = v->sorted[i - 1], *b = v->sorted[i];
                    size_t m = a->key_len < b->key_len ? a->key_len : b->key_len;
                    int cmp = memcmp(a->key, b->key, m);
                    FUZZ_CHECK(cmp < 0 || (cmp == 0 && a->key_len < b->key_len));
                }
            }
            nodes += walk(c, depth + 1, max_depth);
        }
        if (prev) FUZZ_CHECK(prev->next == NULL);
        break;
    }
    default: FUZZ_CHECK(!"unknown JSON type");
    }
    FUZZ_CHECK(alaei_json_type_name(v->type) != NULL);
    return nodes;
}

static int parse(const uint8_t *data, size_t size, int max_depth, size_t max_nodes) {
    alaei_json_doc *sentinel = (alaei_json_doc *)(uintptr_t)0x5a5a, *doc = sentinel;
    alaei_json_error err;
    alae_status s = alaei_json_parse((const char *)data, size, max_depth, max_nodes, &doc, &err);
    if (s != ALAE_OK) {
        FUZZ_CHECK(doc == sentinel);
        alae_fuzz_check_failure(s, "alaei_json_parse");
        FUZZ_CHECK(s == ALAE_E_FORMAT || s == ALAE_E_NOMEM);
        FUZZ_CHECK(err.msg[0] != '\0' && memchr(err.msg, 0, sizeof err.msg) != NULL);
        FUZZ_CHECK(err.offset <= size);
        return 0;
    }
    size_t nodes = walk(alaei_json_root(doc), 0, max_depth);
    FUZZ_CHECK(max_nodes == 0 || nodes <= max_nodes);
    alaei_json_free(doc);
    return 1;
}

int alae_fuzz_json(const uint8_t *data, size_t size) {
    alae_fuzz_init();
    int deep = parse(data, size, ALAEI_JSON_MAX_DEPTH_LIMIT, 0);
    int shallow = parse(data, size, 3, 0);
    int tight = parse(data, size, ALAEI_JSON_MAX_DEPTH_LIMIT, 16);
    FUZZ_CHECK(deep || !shallow);   /* accepted at depth 3 implies accepted at depth 64 */
    FUZZ_CHECK(deep || !tight);
    /* a valid document is valid UTF-8 */
    if (deep) FUZZ_CHECK(alaei_utf8_valid((const char *)data, size, NULL));
    return deep;
}

ALAE_FUZZ_MAIN(alae_fuzz_json)
