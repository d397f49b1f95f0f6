/* A minimal strict JSON parser: a validating first pass that allocates nothing and counts what
 * the DOM needs, then one allocation and a second pass that builds the DOM. See json_min.h. */
#include "io/json_min.h"

#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alaei_json_doc {
    const alaei_json *root;
};

typedef struct {
    const unsigned char *s;
    size_t n;
    size_t pos;
    int max_depth;
    size_t max_nodes;
    int build;
    /* pass 1 counts */
    size_t nodes;
    size_t ptrs;
    size_t str_bytes;
    /* pass 2 pools */
    alaei_json *node_pool;
    size_t node_used, node_cap;
    const alaei_json **ptr_pool;
    size_t ptr_used, ptr_cap;
    char *str_pool;
    size_t str_used, str_cap;
    /* first error */
    int failed;
    alae_status status;
    size_t err_off;
    char err[160];
} parser;

static void set_error(parser *p, alae_status st, size_t off, const char *fmt, ...) ALAEI_PRINTF(4, 5);
static void set_error(parser *p, alae_status st, size_t off, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = 1;
    p->status = st;
    p->err_off = off;
    char what[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, sizeof p->err, "%s at byte %zu", what, off);
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

int alaei_utf8_valid(const char *s, size_t n, size_t *bad_offset) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (k == 0) {
            if (bad_offset) *bad_offset = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static void put_bytes(parser *p, const void *b, size_t k) {
    if (!p->build) return;
    /* pass 1 reserved raw length + 1 per string, and decoding never grows a string */
    if (k > p->str_cap - p->str_used) {
        set_error(p, ALAE_E_INTERNAL, p->pos, "internal: string pool exhausted");
        return;
    }
    memcpy(p->str_pool + p->str_used, b, k);
    p->str_used += k;
}

static void put_cp(parser *p, unsigned cp) {
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    put_bytes(p, b, k);
}

/* Parses a string at p->pos (which is '"'). In pass 2 stores the decoded text in the pool and
 * returns its start and length through out and out_len. Returns 0 on error. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
    size_t start = p->pos;
    p->pos++; /* opening quote */
    size_t begin_used = p->str_used;
    for (;;) {
        if (p->failed) return 0;
        if (p->pos >= p->n) {
            set_error(p, ALAE_E_FORMAT, start, "unterminated string");
            return 0;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            set_error(p, ALAE_E_FORMAT, p->pos, "unescaped control character 0x%02x in string", c);
            return 0;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->n) {
                set_error(p, ALAE_E_FORMAT, start, "unterminated string");
                return 0;
            }
            unsigned char e = p->s[p->pos + 1];
            char ch = 0;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                unsigned cp;
                size_t at = p->pos;
                if (p->n - p->pos < 6 || !hex4(p->s + p->pos + 2, &cp)) {
                    set_error(p, ALAE_E_FORMAT, at, "invalid \\u escape");
                    return 0;
                }
                p->pos += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                        !hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        set_error(p, ALAE_E_FORMAT, at, "high surrogate \\u%04X without a low surrogate", cp);
                        return 0;
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    set_error(p, ALAE_E_FORMAT, at, "lone low surrogate \\u%04X", cp);
                    return 0;
                }
                put_cp(p, cp);
                continue;
            }
            default:
                set_error(p, ALAE_E_FORMAT, p->pos, "invalid escape '\\%c'",
                          (e >= 0x20 && e < 0x7F) ? (char)e : '?');
                return 0;
            }
            put_bytes(p, &ch, 1);
            p->pos += 2;
            continue;
        }
        size_t k = utf8_seq(p->s + p->pos, p->n - p->pos);
        if (k == 0) {
            set_error(p, ALAE_E_FORMAT, p->pos, "invalid UTF-8 in string");
            return 0;
        }
        put_bytes(p, p->s + p->pos, k);
        p->pos += k;
    }
    size_t raw = p->pos - start; /* >= 2 */
    if (!p->build) {
        /* reserve raw length + 1 (decoded text is never longer than its source) */
        if (!alaei_add_size(p->str_bytes, raw, &p->str_bytes)) {
            set_error(p, ALAE_E_FORMAT, start, "strings too large");
            return 0;
        }
        return 1;
    }
    char nul = 0;
    put_bytes(p, &nul, 1);
    if (p->failed) return 0;
    *out = p->str_pool + begin_used;
    *out_len = p->str_used - begin_used - 1;
    return 1;
}

static int parse_number(parser *p, alaei_json *node) {
    size_t start = p->pos;
    int neg = 0;
    if (p->s[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
        set_error(p, ALAE_E_FORMAT, start, "invalid number");
        return 0;
    }
    uint64_t mag = 0;
    int overflow = 0, is_int = 1;
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            unsigned d = (unsigned)(p->s[p->pos] - '0');
            if (mag > (UINT64_MAX - d) / 10) overflow = 1;
            else mag = mag * 10 + d;
            p->pos++;
        }
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        is_int = 0;
        p->pos++;
        size_t d0 = p->pos;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
        if (p->pos == d0) {
            set_error(p, ALAE_E_FORMAT, start, "invalid number (no digits after '.')");
            return 0;
        }
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        is_int = 0;
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        size_t d0 = p->pos;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
        if (p->pos == d0) {
            set_error(p, ALAE_E_FORMAT, start, "invalid number (no digits in exponent)");
            return 0;
        }
    }
    if (!node) return 1;
    node->negative = neg;
    if (is_int && !overflow && (neg ? mag <= (uint64_t)INT64_MAX + 1u : mag <= (uint64_t)INT64_MAX)) {
        node->type = ALAEI_JSON_INT;
        node->ival = neg ? (mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    } else {
        node->type = ALAEI_JSON_NUMBER;
        node->str = (const char *)p->s + start;
        node->len = p->pos - start;
    }
    return 1;
}

static int key_cmp(const alaei_json *a, const alaei_json *b) {
    size_t m = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, m);
    if (c != 0) return c;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len ? 1 : 0;
}

static int member_cmp(const void *x, const void *y) {
    const alaei_json *a = *(const alaei_json *const *)x;
    const alaei_json *b = *(const alaei_json *const *)y;
    int c = key_cmp(a, b);
    if (c != 0) return c;
    return a->key_offset < b->key_offset ? -1 : a->key_offset > b->key_offset ? 1 : 0;
}

static alaei_json *new_node(parser *p, size_t off) {
    if (!alaei_add_size(p->nodes, 1, &p->nodes) || p->nodes > p->max_nodes) {
        set_error(p, ALAE_E_FORMAT, off, "more than %zu values", p->max_nodes);
        return NULL;
    }
    if (!p->build) return NULL;
    if (p->node_used >= p->node_cap) {
        set_error(p, ALAE_E_INTERNAL, off, "internal: node pool exhausted");
        return NULL;
    }
    alaei_json *v = &p->node_pool[p->node_used++];
    memset(v, 0, sizeof *v);
    v->offset = off;
    return v;
}

static const alaei_json **take_ptrs(parser *p, size_t k) {
    if (k > p->ptr_cap - p->ptr_used) {
        set_error(p, ALAE_E_INTERNAL, p->pos, "internal: pointer pool exhausted");
        return NULL;
    }
    const alaei_json **r = p->ptr_pool + p->ptr_used;
    p->ptr_used += k;
    return r;
}

static int parse_value(parser *p, int depth, alaei_json **out);

static int parse_container(parser *p, int depth, alaei_json *node, int is_object) {
    size_t start = p->pos;
    unsigned char close = is_object ? '}' : ']';
    if (depth + 1 > p->max_depth) {
        set_error(p, ALAE_E_FORMAT, start, "nesting deeper than %d levels", p->max_depth);
        return 0;
    }
    p->pos++;
    size_t count = 0;
    alaei_json *first = NULL, *last = NULL;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            const char *key = NULL;
            size_t key_len = 0, key_off = 0;
            if (is_object) {
                skip_ws(p);
                if (p->pos >= p->n) {
                    set_error(p, ALAE_E_FORMAT, p->pos, "unexpected end of input in object");
                    return 0;
                }
                if (p->s[p->pos] != '"') {
                    set_error(p, ALAE_E_FORMAT, p->pos, "expected a string key");
                    return 0;
                }
                key_off = p->pos;
                if (!parse_string(p, &key, &key_len)) return 0;
                skip_ws(p);
                if (p->pos >= p->n || p->s[p->pos] != ':') {
                    set_error(p, ALAE_E_FORMAT, p->pos, "expected ':' after key");
                    return 0;
                }
                p->pos++;
            }
            alaei_json *child = NULL;
            if (!parse_value(p, depth + 1, &child)) return 0;
            count++;
            if (p->build) {
                child->key = key;
                child->key_len = key_len;
                child->key_offset = key_off;
                if (last) last->next = child;
                else first = child;
                last = child;
            }
            skip_ws(p);
            if (p->pos >= p->n) {
                set_error(p, ALAE_E_FORMAT, p->pos, "unexpected end of input in %s",
                          is_object ? "object" : "array");
                return 0;
            }
            unsigned char c = p->s[p->pos];
            if (c == ',') {
                p->pos++;
                continue;
            }
            if (c == close) {
                p->pos++;
                break;
            }
            set_error(p, ALAE_E_FORMAT, p->pos, "expected ',' or '%c'", close);
            return 0;
        }
    }
    size_t need = is_object ? 2 * count : count; /* cannot overflow: count <= n */
    if (!p->build) {
        if (!alaei_add_size(p->ptrs, need, &p->ptrs)) {
            set_error(p, ALAE_E_FORMAT, start, "too many values");
            return 0;
        }
        return 1;
    }
    const alaei_json **items = take_ptrs(p, need);
    if (!items) return 0;
    size_t i = 0;
    for (const alaei_json *c = first; c; c = c->next) items[i++] = c;
    node->count = count;
    node->items = items;
    if (is_object) {
        const alaei_json **sorted = items + count;
        memcpy(sorted, items, count * sizeof *sorted);
        qsort(sorted, count, sizeof *sorted, member_cmp);
        for (size_t k = 1; k < count; k++) {
            if (key_cmp(sorted[k - 1], sorted[k]) == 0) {
                const alaei_json *dup = sorted[k]; /* the later occurrence (stable by offset) */
                char shown[64];
                size_t m = dup->key_len < 48 ? dup->key_len : 48;
                size_t o = 0;
                for (size_t j = 0; j < m; j++) {
                    unsigned char ch = (unsigned char)dup->key[j];
                    shown[o++] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '?';
                }
                shown[o] = 0;
                set_error(p, ALAE_E_FORMAT, dup->key_offset, "duplicate key \"%s%s\"", shown,
                          dup->key_len > m ? "..." : "");
                return 0;
            }
        }
        node->sorted = sorted;
    }
    return 1;
}

static int parse_value(parser *p, int depth, alaei_json **out) {
    skip_ws(p);
    if (p->failed) return 0;
    if (p->pos >= p->n) {
        set_error(p, ALAE_E_FORMAT, p->pos, "unexpected end of input");
        return 0;
    }
    size_t off = p->pos;
    unsigned char c = p->s[p->pos];
    alaei_json *node = new_node(p, off);
    if (p->failed) return 0;
    if (out) *out = node;
    switch (c) {
    case '{':
        if (node) node->type = ALAEI_JSON_OBJECT;
        return parse_container(p, depth, node, 1);
    case '[':
        if (node) node->type = ALAEI_JSON_ARRAY;
        return parse_container(p, depth, node, 0);
    case '"': {
        const char *s = NULL;
        size_t len = 0;
        if (!parse_string(p, &s, &len)) return 0;
        if (node) {
            node->type = ALAEI_JSON_STRING;
            node->str = s;
            node->len = len;
        }
        return 1;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t k = strlen(lit);
        if (p->n - p->pos < k || memcmp(p->s + p->pos, lit, k) != 0) {
            set_error(p, ALAE_E_FORMAT, off, "invalid literal");
            return 0;
        }
        p->pos += k;
        if (node) node->type = c == 't' ? ALAEI_JSON_TRUE : c == 'f' ? ALAEI_JSON_FALSE : ALAEI_JSON_NULL;
        return 1;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, node);
        if (c >= 0x80)
            set_error(p, ALAE_E_FORMAT, off, "%s byte 0x%02x outside a string",
                      utf8_seq(p->s + off, p->n - off) ? "unexpected" : "invalid UTF-8", c);
        else if (c >= 0x20 && c < 0x7F)
            set_error(p, ALAE_E_FORMAT, off, "unexpected character '%c'", (char)c);
        else
            set_error(p, ALAE_E_FORMAT, off, "unexpected byte 0x%02x", c);
        return 0;
    }
}

static int run_pass(parser *p, alaei_json **root) {
    p->pos = 0;
    if (!parse_value(p, 0, root)) return 0;
    skip_ws(p);
    if (p->pos != p->n) {
        unsigned char c = p->s[p->pos];
        if (c >= 0x80 && !utf8_seq(p->s + p->pos, p->n - p->pos))
            set_error(p, ALAE_E_FORMAT, p->pos, "invalid UTF-8 after the top-level value");
        else
            set_error(p, ALAE_E_FORMAT, p->pos, "trailing data after the top-level value");
        return 0;
    }
    return 1;
}

static alae_status fail_with(parser *p, alaei_json_error *err) {
    if (err) {
        err->offset = p->err_off;
        snprintf(err->msg, sizeof err->msg, "%s", p->err);
    }
    return alaei_fail(p->status, "alaei_json_parse", "%s", p->err);
}

alae_status alaei_json_parse(const char *text, size_t n, int max_depth, size_t max_nodes,
                             alaei_json_doc **out, alaei_json_error *err) {
    if (err) {
        err->offset = 0;
        err->msg[0] = 0;
    }
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "out is NULL");
    if (!text && n > 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "text is NULL");
    if (max_depth < 1 || max_depth > ALAEI_JSON_MAX_DEPTH_LIMIT)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "max_depth %d is outside 1..%d", max_depth,
                          ALAEI_JSON_MAX_DEPTH_LIMIT);
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)(text ? text : "");
    p.n = n;
    p.max_depth = max_depth;
    p.max_nodes = max_nodes ? max_nodes : (n == SIZE_MAX ? n : n + 1);

    /* pass 1: validate and count, no allocation */
    if (!run_pass(&p, NULL)) return fail_with(&p, err);

    /* one allocation: header, nodes, pointers, strings */
    size_t hdr = (sizeof(struct alaei_json_doc) + alignof(alaei_json) - 1) / alignof(alaei_json) *
                 alignof(alaei_json);
    size_t node_bytes, ptr_bytes, total;
    if (!alaei_mul_size(p.nodes, sizeof(alaei_json), &node_bytes) ||
        !alaei_mul_size(p.ptrs, sizeof(alaei_json *), &ptr_bytes) ||
        !alaei_add_size(hdr, node_bytes, &total) || !alaei_add_size(total, ptr_bytes, &total) ||
        !alaei_add_size(total, p.str_bytes, &total))
        return alaei_fail(ALAE_E_NOMEM, __func__, "JSON DOM size overflows");
    unsigned char *mem = malloc(total ? total : 1);
    if (!mem) return alaei_fail(ALAE_E_NOMEM, __func__, "cannot allocate %zu bytes for the JSON DOM", total);
    struct alaei_json_doc *doc = (struct alaei_json_doc *)(void *)mem;
    p.node_pool = (alaei_json *)(void *)(mem + hdr);
    p.node_cap = p.nodes;
    p.ptr_pool = (const alaei_json **)(void *)(mem + hdr + node_bytes);
    p.ptr_cap = p.ptrs;
    p.str_pool = (char *)(mem + hdr + node_bytes + ptr_bytes);
    p.str_cap = p.str_bytes;
    p.nodes = 0;
    p.build = 1;

    /* pass 2: build (can still fail: duplicate keys) */
    alaei_json *root = NULL;
    if (!run_pass(&p, &root)) {
        free(mem);
        return fail_with(&p, err);
    }
    doc->root = root;
    *out = doc;
    return ALAE_OK;
}

void alaei_json_free(alaei_json_doc *doc) { free(doc); }

const alaei_json *alaei_json_root(const alaei_json_doc *doc) { return doc ? doc->root : NULL; }

const alaei_json *alaei_json_get_n(const alaei_json *obj, const char *key, size_t key_len) {
    if (!obj || obj->type != ALAEI_JSON_OBJECT || !key) return NULL;
    alaei_json probe;
    memset(&probe, 0, sizeof probe);
    probe.key = key;
    probe.key_len = key_len;
    size_t lo = 0, hi = obj->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(obj->sorted[mid], &probe);
        if (c == 0) return obj->sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const alaei_json *alaei_json_get(const alaei_json *obj, const char *key) {
    return key ? alaei_json_get_n(obj, key, strlen(key)) : NULL;
}

const char *alaei_json_to_u64(const alaei_json *v, uint64_t *out) {
    if (!v) return "is missing";
    if (v->type == ALAEI_JSON_INT) {
        if (v->negative) return "is negative";
        *out = (uint64_t)v->ival;
        return NULL;
    }
    if (v->type != ALAEI_JSON_NUMBER) return "is not a number";
    if (v->negative) return "is negative";
    for (size_t i = 0; i < v->len; i++)
        if (v->str[i] == '.' || v->str[i] == 'e' || v->str[i] == 'E') return "is not an integer";
    return "is too large";
}

int alaei_json_to_double(const alaei_json *v, double *out) {
    if (!v) return 0;
    if (v->type == ALAEI_JSON_INT) {
        *out = (double)v->ival;
        return 1;
    }
    if (v->type != ALAEI_JSON_NUMBER || v->len >= 64) return 0;
    char text[64]; /* .str is the number's source text, not terminated */
    memcpy(text, v->str, v->len);
    text[v->len] = '\0';
    char *end;
    *out = strtod(text, &end);
    return *end == '\0';
}

double alaei_json_get_number(const alaei_json *obj, const char *key, double fallback) {
    double x;
    return alaei_json_to_double(alaei_json_get(obj, key), &x) && isfinite(x) ? x : fallback;
}

const char *alaei_json_type_name(alaei_json_type t) {
    switch (t) {
    case ALAEI_JSON_NULL: return "null";
    case ALAEI_JSON_FALSE: return "false";
    case ALAEI_JSON_TRUE: return "true";
    case ALAEI_JSON_INT: return "integer";
    case ALAEI_JSON_NUMBER: return "number";
    case ALAEI_JSON_STRING: return "string";
    case ALAEI_JSON_ARRAY: return "array";
    case ALAEI_JSON_OBJECT: return "object";
    }
    return "unknown";
}
