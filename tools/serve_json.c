/* alae serve: byte buffers, a small JSON reader for request bodies and the JSON writer of the
 * replies (serve.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ---- buffers ---- */

static int buf_reserve(serve_buf *b, size_t extra) {
    if (b->failed) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)1 << 40)) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = 1;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

void serve_buf_add(serve_buf *b, const void *data, size_t n) {
    if (buf_reserve(b, n) != 0) return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
}

void serve_buf_str(serve_buf *b, const char *s) { serve_buf_add(b, s, strlen(s)); }

void serve_buf_printf(serve_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void serve_buf_json_string(serve_buf *b, const char *s) {
    serve_buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            serve_buf_add(b, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            serve_buf_printf(b, "\\u%04x", *p);
        } else {
            serve_buf_add(b, p, 1);
        }
    }
    serve_buf_add(b, "\"", 1);
}

void serve_buf_json_floats(serve_buf *b, const float *v, int64_t n) {
    serve_buf_add(b, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (i) serve_buf_add(b, ",", 1);
        if (isfinite(v[i]))
            serve_buf_printf(b, "%.9g", (double)v[i]);
        else
            serve_buf_str(b, "null");
    }
    serve_buf_add(b, "]", 1);
}

void serve_buf_base64(serve_buf *b, const uint8_t *data, size_t n) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (buf_reserve(b, (n + 2) / 3 * 4) != 0) return;
    char *out = b->data + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *out++ = digits[v >> 18];
        *out++ = digits[(v >> 12) & 63];
        *out++ = digits[(v >> 6) & 63];
        *out++ = digits[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0);
        *out++ = digits[v >> 18];
        *out++ = digits[(v >> 12) & 63];
        *out++ = i + 1 < n ? digits[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    b->len = (size_t)(out - b->data);
    b->data[b->len] = 0;
}

void serve_buf_free(serve_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- JSON reader ---- */

#define JSON_MAX_DEPTH 4
#define JSON_MAX_ITEMS 65536   /* per array or object */
#define JSON_MAX_VALUES 262144 /* in a document (16 codes of 4096 numbers fit): bounds the memory
                                  a body can make the reader allocate (about 12 MiB) */

typedef struct json_reader {
    const char *p, *end;
    char *err;
    size_t errlen;
    int64_t values; /* allocated so far */
} json_reader;

static int json_fail(json_reader *r, const char *what) {
    if (r->err[0] == 0) snprintf(r->err, r->errlen, "malformed JSON: %s", what);
    return -1;
}

static void skip_space(json_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int literal(json_reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return 0;
    r->p += n;
    return 1;
}

/* A string without \u escapes beyond Latin-1 needs (names, group words): \uXXXX above 0x7f is
 * refused, the rest copied. */
static int parse_string(json_reader *r, char **out) {
    r->p++; /* the opening quote */
    serve_buf b = {0};
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20) {
            serve_buf_free(&b);
            return json_fail(r, "control character in a string");
        }
        if (c == '\\') {
            if (r->p >= r->end) break;
            char e = *r->p++;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, e);
            if (e != 0 && at) {
                c = to[at - from];
            } else if (e == 'u' && r->end - r->p >= 4) {
                char hex[5] = {r->p[0], r->p[1], r->p[2], r->p[3], 0};
                char *stop;
                long v = strtol(hex, &stop, 16);
                if (*stop || v < 1 || v > 0x7f) {
                    serve_buf_free(&b);
                    return json_fail(r, "unsupported \\u escape");
                }
                c = (char)v;
                r->p += 4;
            } else {
                serve_buf_free(&b);
                return json_fail(r, "bad escape in a string");
            }
        }
        serve_buf_add(&b, &c, 1);
    }
    if (r->p >= r->end) {
        serve_buf_free(&b);
        return json_fail(r, "unterminated string");
    }
    r->p++;
    if (b.failed || (!b.data && !(b.data = calloc(1, 1)))) {
        serve_buf_free(&b);
        return json_fail(r, "out of memory");
    }
    *out = b.data;
    return 0;
}

static int parse_number(json_reader *r, double *out) {
    char tmp[64];
    size_t n = 0;
    while (r->p + n < r->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", r->p[n])) n++;
    memcpy(tmp, r->p, n);
    tmp[n] = 0;
    char *stop;
    double v = strtod(tmp, &stop);
    if (n == 0 || *stop || !isfinite(v)) return json_fail(r, "bad number");
    r->p += n;
    *out = v;
    return 0;
}

static int parse_value(json_reader *r, json_value *v, int depth);

static int append_item(json_reader *r, json_value *v, int64_t *cap) {
    if (v->count >= JSON_MAX_ITEMS || ++r->values > JSON_MAX_VALUES) return json_fail(r, "too many items");
    if (v->count == *cap) {
        int64_t ncap = *cap ? *cap * 2 : 8;
        json_value *items = realloc(v->items, (size_t)ncap * sizeof *items);
        if (!items) return json_fail(r, "out of memory");
        v->items = items;
        if (v->type == JSON_OBJECT) {
            char **keys = realloc(v->keys, (size_t)ncap * sizeof *keys);
            if (!keys) return json_fail(r, "out of memory");
            v->keys = keys;
        }
        *cap = ncap;
    }
    memset(&v->items[v->count], 0, sizeof v->items[0]);
    if (v->type == JSON_OBJECT) v->keys[v->count] = NULL;
    v->count++;
    return 0;
}

static int parse_container(json_reader *r, json_value *v, int depth) {
    int object = *r->p == '{';
    char close = object ? '}' : ']';
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH) return json_fail(r, "nested too deep");
    r->p++;
    int64_t cap = 0;
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        if (append_item(r, v, &cap) != 0) return -1;
        skip_space(r);
        if (object) {
            if (r->p >= r->end || *r->p != '"') return json_fail(r, "expected a member name");
            if (parse_string(r, &v->keys[v->count - 1]) != 0) return -1;
            skip_space(r);
            if (r->p >= r->end || *r->p != ':') return json_fail(r, "expected ':'");
            r->p++;
        }
        if (parse_value(r, &v->items[v->count - 1], depth + 1) != 0) return -1;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return json_fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(json_reader *r, json_value *v, int depth) {
    skip_space(r);
    if (r->p >= r->end) return json_fail(r, "unexpected end");
    char c = *r->p;
    if (c == '{' || c == '[') return parse_container(r, v, depth);
    if (c == '"') {
        v->type = JSON_STRING;
        return parse_string(r, &v->string);
    }
    if (literal(r, "true") || literal(r, "false")) {
        v->type = JSON_BOOL;
        v->number = r->p[-1] == 'e' && r->p[-2] == 'u';
        return 0;
    }
    if (literal(r, "null")) {
        v->type = JSON_NULL;
        return 0;
    }
    v->type = JSON_NUMBER;
    return parse_number(r, &v->number);
}

int json_parse(const char *text, size_t len, json_value *out, char *err, size_t errlen) {
    json_reader r = {text, text + len, err, errlen, 0};
    err[0] = 0;
    memset(out, 0, sizeof *out);
    int rc = parse_value(&r, out, 0);
    if (rc == 0) {
        skip_space(&r);
        if (r.p != r.end) rc = json_fail(&r, "text after the value");
    }
    if (rc != 0) json_free(out);
    return rc;
}

void json_free(json_value *v) {
    if (!v) return;
    for (int64_t i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (int64_t i = 0; i < obj->count; i++)
        if (obj->keys[i] && strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}
