/* A minimal strict JSON parser (RFC 8259) for safetensors headers and small configs. Internal.
 *
 * - Input must be valid UTF-8 (overlongs, surrogates and code points above U+10FFFF are
 *   rejected, inside and outside strings); control characters must be escaped in strings.
 * - Escapes, including \uXXXX and surrogate pairs, are decoded to UTF-8; lone surrogates fail.
 * - Integers (no fraction, no exponent) that fit int64 become ALAEI_JSON_INT; every other
 *   number (fraction, exponent, or an integer outside int64) becomes ALAEI_JSON_NUMBER and keeps
 *   only its source text.
 * - Nesting deeper than max_depth, more than max_nodes values, duplicate keys in one object, and
 *   anything after the top-level value other than whitespace are errors.
 * - Validation is a first pass that allocates nothing; the DOM is then built in one allocation
 *   and released with one alaei_json_free call.
 * Errors: ALAE_E_FORMAT with "<what> at byte <offset>" (offsets from the start of the text),
 * ALAE_E_NOMEM, ALAE_E_INVALID_ARG. The message is recorded through alaei_fail and also returned
 * in the optional alaei_json_error. */
#ifndef ALAEI_JSON_MIN_H
#define ALAEI_JSON_MIN_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_JSON_MAX_DEPTH_LIMIT 64 /* hard cap on max_depth (the parser recurses) */

typedef enum {
    ALAEI_JSON_NULL = 0,
    ALAEI_JSON_FALSE,
    ALAEI_JSON_TRUE,
    ALAEI_JSON_INT,    /* integer that fits int64: .ival (and .negative if written with '-') */
    ALAEI_JSON_NUMBER, /* any other number: .str/.len hold its source text */
    ALAEI_JSON_STRING, /* .str/.len: decoded UTF-8, NUL-terminated (may contain \u0000) */
    ALAEI_JSON_ARRAY,  /* .count elements in .items */
    ALAEI_JSON_OBJECT  /* .count members in .items (document order), each with .key/.key_len */
} alaei_json_type;

typedef struct alaei_json alaei_json;
struct alaei_json {
    alaei_json_type type;
    size_t offset;             /* byte offset of the value in the text */
    const char *key;           /* member of an object: its decoded key (NUL-terminated) */
    size_t key_len;
    size_t key_offset;         /* byte offset of the key in the text */
    const char *str;           /* STRING, NUMBER */
    size_t len;
    int64_t ival;              /* INT */
    int negative;              /* INT, NUMBER: written with a leading '-' (so "-0" counts) */
    size_t count;              /* ARRAY, OBJECT */
    const alaei_json *const *items;  /* ARRAY, OBJECT: children in document order */
    const alaei_json *const *sorted; /* OBJECT: members sorted by key (bytewise) */
    const alaei_json *next;    /* next element/member of the parent container, or NULL */
};

typedef struct alaei_json_doc alaei_json_doc;

typedef struct {
    size_t offset;   /* byte offset of the error in the text */
    char msg[160];   /* "<what> at byte <offset>" */
} alaei_json_error;

/* Parses text[0..n). max_depth: 1..ALAEI_JSON_MAX_DEPTH_LIMIT (1 = a scalar or a container
 * holding only scalars); max_nodes: upper bound on the number of values (0 = n + 1). On success
 * *out owns the DOM; err (may be NULL) is filled on failure. */
alae_status alaei_json_parse(const char *text, size_t n, int max_depth, size_t max_nodes,
                             alaei_json_doc **out, alaei_json_error *err);
void alaei_json_free(alaei_json_doc *doc);
const alaei_json *alaei_json_root(const alaei_json_doc *doc);

/* The member of an object with this key (binary search), or NULL (also for non-objects). */
const alaei_json *alaei_json_get(const alaei_json *obj, const char *key);
const alaei_json *alaei_json_get_n(const alaei_json *obj, const char *key, size_t key_len);

/* A non-negative integer: returns NULL and sets *out, or a static reason such as
 * "is negative", "is not an integer", "is not a number", "is too large". */
const char *alaei_json_to_u64(const alaei_json *v, uint64_t *out);

/* Any JSON number as a double (1e999 becomes infinity: callers check the range): returns 1 and
 * sets *out, or 0 for a missing value, another type or a number longer than 63 characters. */
int alaei_json_to_double(const alaei_json *v, double *out);
/* The finite number under key in the object obj, or fallback when obj is NULL or not an object,
 * or the key is absent, not a number or not finite. */
double alaei_json_get_number(const alaei_json *obj, const char *key, double fallback);
/* "null", "false", "true", "integer", "number", "string", "array", "object". */
const char *alaei_json_type_name(alaei_json_type t);

/* Validates UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns 1 if valid; otherwise 0
 * and *bad_offset (may be NULL) is the offset of the first bad byte. */
int alaei_utf8_valid(const char *s, size_t n, size_t *bad_offset);

#endif /* ALAEI_JSON_MIN_H */
