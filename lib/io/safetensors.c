/* safetensors: strict reader and atomic writer. See safetensors.h and docs/checkpoint-format.md. */
#include "io/safetensors.h"
#include "io/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/json_min.h"

/* ------------------------------------------------------------------------------------------ */
/* dtypes                                                                                     */

static const struct {
    const char *name;
    size_t size;
} dtype_info[ALAEI_ST_DTYPE_COUNT] = {
    [ALAEI_ST_BOOL] = {"BOOL", 1},       [ALAEI_ST_U8] = {"U8", 1},
    [ALAEI_ST_I8] = {"I8", 1},           [ALAEI_ST_F8_E5M2] = {"F8_E5M2", 1},
    [ALAEI_ST_F8_E4M3] = {"F8_E4M3", 1}, [ALAEI_ST_I16] = {"I16", 2},
    [ALAEI_ST_U16] = {"U16", 2},         [ALAEI_ST_F16] = {"F16", 2},
    [ALAEI_ST_BF16] = {"BF16", 2},       [ALAEI_ST_I32] = {"I32", 4},
    [ALAEI_ST_U32] = {"U32", 4},         [ALAEI_ST_F32] = {"F32", 4},
    [ALAEI_ST_F64] = {"F64", 8},         [ALAEI_ST_I64] = {"I64", 8},
    [ALAEI_ST_U64] = {"U64", 8},
};

const char *alaei_st_dtype_name(alaei_st_dtype dt) {
    return ((unsigned)dt < ALAEI_ST_DTYPE_COUNT) ? dtype_info[dt].name : "?";
}

size_t alaei_st_dtype_size(alaei_st_dtype dt) {
    return ((unsigned)dt < ALAEI_ST_DTYPE_COUNT) ? dtype_info[dt].size : 0;
}

int alaei_st_dtype_from_name(const char *name, size_t len, alaei_st_dtype *out) {
    if (!name) return 0;
    for (int i = 0; i < ALAEI_ST_DTYPE_COUNT; i++) {
        if (strlen(dtype_info[i].name) == len && memcmp(dtype_info[i].name, name, len) == 0) {
            *out = (alaei_st_dtype)i;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* little helpers                                                                             */

static uint64_t rd_le(const uint8_t *p, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Printable, bounded rendering of a (possibly hostile) name for messages. */
static const char *shown(const char *s, size_t len, char buf[96]) {
    size_t o = 0, max = 80;
    for (size_t i = 0; i < len && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (len > max) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = 0;
    return buf;
}

static void format_shape(char *buf, size_t cap, int32_t ndim, const int64_t *shape) {
    size_t o = 0;
    int k = snprintf(buf, cap, "[");
    if (k > 0) o = (size_t)k;
    for (int32_t i = 0; i < ndim && o < cap; i++) {
        k = snprintf(buf + o, cap - o, "%s%" PRId64, i ? "," : "", shape[i]);
        if (k < 0) break;
        o += (size_t)k;
    }
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* ------------------------------------------------------------------------------------------ */
/* reader                                                                                     */

struct alaei_st_file {
    size_t count;
    alaei_st_tensor *tensors; /* sorted by name */
    size_t meta_count;
    const char **meta_keys;   /* sorted by key */
    const char **meta_values;
    char *strings;            /* names, keys and values */
    uint8_t *data;            /* the data area: malloc'ed, inside map, or NULL when opened lazily */
    size_t data_size;
    void *map;                /* alaei_st_open: the whole file, mapped read-only (NULL: data is malloc'ed) */
    size_t map_size;
    int lazy_fd1;             /* alaei_st_open_lazy: the open file's descriptor + 1; else 0 */
    uint64_t data_offset;     /* alaei_st_open_lazy: where the data area starts in the file */
    const char *path;         /* alaei_st_open_lazy: for messages */
};

void alaei_st_free(alaei_st_file *f) {
    if (!f) return;
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->strings);
    if (f->map) munmap(f->map, f->map_size);
    else free(f->data);
    if (f->lazy_fd1 > 0) close(f->lazy_fd1 - 1);
    free((void *)f->path);
    free(f);
}

static int tensor_name_cmp(const void *a, const void *b) {
    return strcmp(((const alaei_st_tensor *)a)->name, ((const alaei_st_tensor *)b)->name);
}

static int tensor_offset_cmp(const void *a, const void *b) {
    const alaei_st_tensor *x = *(const alaei_st_tensor *const *)a;
    const alaei_st_tensor *y = *(const alaei_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *a_type(alaei_json_type t);

/* Parses one tensor entry into t (name already set). */
static alae_status parse_entry(const char *func, const alaei_json *v, alaei_st_tensor *t,
                               size_t data_size) {
    char nb[96];
    const char *nm = shown(t->name, t->name_len, nb);
    if (v->type != ALAEI_JSON_OBJECT)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': entry is %s, expected an object", nm,
                          a_type(v->type));
    const alaei_json *dt = NULL, *shape = NULL, *offs = NULL;
    for (size_t i = 0; i < v->count; i++) {
        const alaei_json *m = v->items[i];
        if (strcmp(m->key, "dtype") == 0 && m->key_len == 5) dt = m;
        else if (strcmp(m->key, "shape") == 0 && m->key_len == 5) shape = m;
        else if (strcmp(m->key, "data_offsets") == 0 && m->key_len == 12) offs = m;
        else {
            char kb[96];
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': unknown key '%s'", nm,
                              shown(m->key, m->key_len, kb));
        }
    }
    if (!dt) return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': missing \"dtype\"", nm);
    if (!shape) return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': missing \"shape\"", nm);
    if (!offs) return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': missing \"data_offsets\"", nm);

    if (dt->type != ALAEI_JSON_STRING)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': dtype is %s, expected a string", nm,
                          a_type(dt->type));
    if (!alaei_st_dtype_from_name(dt->str, dt->len, &t->dtype)) {
        char db[96];
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': unknown dtype '%s'", nm,
                          shown(dt->str, dt->len, db));
    }

    if (shape->type != ALAEI_JSON_ARRAY)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': shape is %s, expected an array", nm,
                          a_type(shape->type));
    if (shape->count > ALAEI_ST_MAX_DIMS)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': shape has %zu dimensions, at most %d allowed",
                          nm, shape->count, ALAEI_ST_MAX_DIMS);
    t->ndim = (int32_t)shape->count;
    size_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < shape->count; i++) {
        uint64_t d;
        const char *why = alaei_json_to_u64(shape->items[i], &d);
        if (why) return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': shape[%zu] %s", nm, i, why);
        t->shape[i] = (int64_t)d; /* <= INT64_MAX by alaei_json_to_u64 */
        if (d > SIZE_MAX || !alaei_mul_size(numel, (size_t)d, &numel)) overflow = 1;
    }
    /* a zero dimension makes the product 0 even if other dimensions overflowed alone */
    for (int32_t i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0) {
            overflow = 0;
            numel = 0;
        }
    size_t esize = alaei_st_dtype_size(t->dtype), nbytes = 0;
    if (overflow || !alaei_mul_size(numel, esize, &nbytes)) {
        char sb[200];
        format_shape(sb, sizeof sb, t->ndim, t->shape);
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': shape %s of %s overflows the size", nm,
                          sb, alaei_st_dtype_name(t->dtype));
    }
    t->numel = numel;

    if (offs->type != ALAEI_JSON_ARRAY || offs->count != 2)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets must be an array [begin, end]", nm);
    uint64_t be[2];
    for (int i = 0; i < 2; i++) {
        const char *why = alaei_json_to_u64(offs->items[i], &be[i]);
        if (why)
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets[%d] %s", nm, i, why);
    }
    if (be[0] > be[1])
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                          "] are reversed (begin > end)", nm, be[0], be[1]);
    if (be[1] > data_size)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                          "] go past the end of the %zu-byte data area", nm, be[0], be[1], data_size);
    if (be[1] - be[0] != (uint64_t)nbytes) {
        char sb[200];
        format_shape(sb, sizeof sb, t->ndim, t->shape);
        return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                          "] span %" PRIu64 " bytes but shape %s of %s needs %zu", nm, be[0], be[1],
                          be[1] - be[0], sb, alaei_st_dtype_name(t->dtype), nbytes);
    }
    t->begin = be[0];
    t->end = be[1];
    t->nbytes = nbytes;
    return ALAE_OK;
}

/* "an object", "a string", ... for messages */
static const char *a_type(alaei_json_type t) {
    switch (t) {
    case ALAEI_JSON_NULL: return "null";
    case ALAEI_JSON_FALSE:
    case ALAEI_JSON_TRUE: return "a boolean";
    case ALAEI_JSON_INT: return "an integer";
    case ALAEI_JSON_NUMBER: return "a number";
    case ALAEI_JSON_STRING: return "a string";
    case ALAEI_JSON_ARRAY: return "an array";
    case ALAEI_JSON_OBJECT: return "an object";
    }
    return "?";
}

static int has_nul(const char *s, size_t n) { return memchr(s, 0, n) != NULL; }

static int cstr_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates the header (hdr[0..hn)) for a data area of data_size bytes and builds the file
 * without its data. */
/* The header as a JSON object (UTF-8, starting with '{', at most 3 levels). */
static alae_status parse_json_header(const char *func, const uint8_t *hdr, size_t hn, alaei_json_doc **doc) {
    size_t bad = 0;
    if (!alaei_utf8_valid((const char *)hdr, hn, &bad))
        return alaei_fail(ALAE_E_FORMAT, func, "header is not valid UTF-8 (byte %zu of the header)", bad);
    if (hn == 0 || hdr[0] != '{') return alaei_fail(ALAE_E_FORMAT, func, "header does not start with '{'");
    /* root, metadata object and its values, and per tensor: entry, dtype, shape + 8 dims,
     * offsets + 2 */
    size_t max_nodes = 2 + ALAEI_ST_MAX_METADATA + (size_t)ALAEI_ST_MAX_TENSORS * 14 + 64;
    alaei_json_error jerr;
    alae_status st = alaei_json_parse((const char *)hdr, hn, 3, max_nodes, doc, &jerr);
    if (st == ALAE_E_FORMAT)
        return alaei_fail(st, func, "header JSON: %s of the header (file offset %zu)", jerr.msg, jerr.offset + 8);
    if (st != ALAE_OK) return st;
    if (alaei_json_root(*doc)->type != ALAEI_JSON_OBJECT)
        return alaei_fail(ALAE_E_FORMAT, func, "header is not a JSON object");
    return ALAE_OK;
}

/* "__metadata__": an object of at most ALAEI_ST_MAX_METADATA string -> string without NUL;
 * adds the bytes its keys and values need to *strbytes. */
static alae_status check_metadata(const char *func, const alaei_json *meta, size_t *strbytes) {
    if (meta->type != ALAEI_JSON_OBJECT)
        return alaei_fail(ALAE_E_FORMAT, func, "__metadata__ is %s, expected an object of strings", a_type(meta->type));
    if (meta->count > ALAEI_ST_MAX_METADATA)
        return alaei_fail(ALAE_E_FORMAT, func, "__metadata__ has %zu entries, at most %d allowed", meta->count,
                          ALAEI_ST_MAX_METADATA);
    for (size_t i = 0; i < meta->count; i++) {
        const alaei_json *m = meta->items[i];
        char kb[96];
        if (m->type != ALAEI_JSON_STRING)
            return alaei_fail(ALAE_E_FORMAT, func, "__metadata__ '%s' is %s, expected a string",
                              shown(m->key, m->key_len, kb), a_type(m->type));
        if (has_nul(m->key, m->key_len) || has_nul(m->str, m->len))
            return alaei_fail(ALAE_E_FORMAT, func, "__metadata__ '%s' contains a NUL character",
                              shown(m->key, m->key_len, kb));
        *strbytes += m->key_len + 1 + m->len + 1; /* bounded by the header size */
    }
    return ALAE_OK;
}

/* One tensor entry m into t: its name (1..256 bytes, no NUL) and parse_entry's checks. */
static alae_status parse_named_entry(const char *func, const alaei_json *m, alaei_st_tensor *t, size_t data_size) {
    char nb[96];
    t->name = m->key;
    t->name_len = m->key_len;
    if (m->key_len == 0) return alaei_fail(ALAE_E_FORMAT, func, "a tensor has an empty name");
    if (m->key_len > ALAEI_ST_MAX_NAME)
        return alaei_fail(ALAE_E_FORMAT, func, "tensor name '%s' is %zu bytes, at most %d allowed",
                          shown(m->key, m->key_len, nb), m->key_len, ALAEI_ST_MAX_NAME);
    if (has_nul(m->key, m->key_len))
        return alaei_fail(ALAE_E_FORMAT, func, "tensor name '%s' contains a NUL character", shown(m->key, m->key_len, nb));
    return parse_entry(func, m, t, data_size);
}

/* The offsets, sorted: contiguous from 0, no gap, no overlap, covering the data area exactly. */
static alae_status check_layout(const char *func, const alaei_st_tensor **order, size_t n, size_t data_size) {
    qsort(order, n, sizeof *order, tensor_offset_cmp);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const alaei_st_tensor *t = order[i];
        char nb[96], pb[96];
        if (t->begin < pos)
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                              "] overlap tensor '%s' (which ends at %" PRIu64 ")", shown(t->name, t->name_len, nb),
                              t->begin, t->end, shown(order[i - 1]->name, order[i - 1]->name_len, pb), pos);
        if (t->begin > pos)
            return alaei_fail(ALAE_E_FORMAT, func, "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64
                              "] leave a gap of %" PRIu64 " bytes after offset %" PRIu64,
                              shown(t->name, t->name_len, nb), t->begin, t->end, t->begin - pos, pos);
        pos = t->end;
    }
    if (pos != data_size)
        return alaei_fail(ALAE_E_FORMAT, func, "the tensors cover %" PRIu64 " bytes but the data area has %zu "
                          "(incomplete or oversized buffer)", pos, data_size);
    return ALAE_OK;
}

/* Every entry of root but meta into ts[n] (names still in the DOM), the layout checked. */
static alae_status parse_entries(const char *func, const alaei_json *root, const alaei_json *meta, size_t data_size,
                                 alaei_st_tensor *ts, size_t n, size_t *strbytes) {
    const alaei_st_tensor **order = calloc(n ? n : 1, sizeof *order);
    if (!order) return alaei_fail(ALAE_E_NOMEM, func, "out of memory for %zu tensor entries", n);
    alae_status st = ALAE_OK;
    size_t k = 0;
    for (size_t i = 0; st == ALAE_OK && i < root->count; i++) {
        const alaei_json *m = root->items[i];
        if (m == meta) continue;
        st = parse_named_entry(func, m, &ts[k], data_size);
        *strbytes += m->key_len + 1;
        order[k] = &ts[k];
        k++;
    }
    if (st == ALAE_OK) st = check_layout(func, order, n, data_size);
    free(order);
    return st;
}

/* The compact result: strings copied out of the DOM, tensors sorted by name, metadata by key.
 * Takes ts (freed on failure). */
static alae_status build_file(const char *func, alaei_st_tensor *ts, size_t n, const alaei_json *meta,
                              size_t strbytes, size_t data_size, alaei_st_file **out) {
    size_t nmeta = meta ? meta->count : 0;
    alaei_st_file *f = calloc(1, sizeof *f);
    char *strings = malloc(strbytes ? strbytes : 1);
    const char **mk = calloc(nmeta ? nmeta : 1, sizeof *mk);
    const char **mv = calloc(nmeta ? nmeta : 1, sizeof *mv);
    if (!f || !strings || !mk || !mv) {
        free(f);
        free(strings);
        free(mk);
        free(mv);
        free(ts);
        return alaei_fail(ALAE_E_NOMEM, func, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(strings + o, ts[i].name, ts[i].name_len + 1);
        ts[i].name = strings + o;
        o += ts[i].name_len + 1;
    }
    for (size_t i = 0; i < nmeta; i++) { /* stored key\0value\0, sorted by key through mk */
        const alaei_json *m = meta->items[i];
        memcpy(strings + o, m->key, m->key_len + 1);
        mk[i] = strings + o;
        o += m->key_len + 1;
        memcpy(strings + o, m->str, m->len + 1);
        o += m->len + 1;
    }
    qsort(mk, nmeta, sizeof *mk, cstr_ptr_cmp);
    for (size_t i = 0; i < nmeta; i++) mv[i] = mk[i] + strlen(mk[i]) + 1;
    qsort(ts, n, sizeof *ts, tensor_name_cmp);
    *f = (alaei_st_file){n, ts, nmeta, mk, mv, strings, NULL, data_size, NULL, 0, 0, 0, NULL};
    *out = f;
    return ALAE_OK;
}

static alae_status parse_header(const char *func, const uint8_t *hdr, size_t hn, size_t data_size,
                                alaei_st_file **out) {
    alaei_json_doc *doc = NULL;
    alaei_st_tensor *ts = NULL;
    size_t strbytes = 0, n = 0;
    alae_status st = parse_json_header(func, hdr, hn, &doc);
    const alaei_json *root = st == ALAE_OK ? alaei_json_root(doc) : NULL;
    const alaei_json *meta = root ? alaei_json_get(root, "__metadata__") : NULL;
    if (root) n = root->count - (meta ? 1 : 0);
    if (st == ALAE_OK && n > ALAEI_ST_MAX_TENSORS)
        st = alaei_fail(ALAE_E_FORMAT, func, "header lists %zu tensors, at most %d allowed", n, ALAEI_ST_MAX_TENSORS);
    if (st == ALAE_OK && meta) st = check_metadata(func, meta, &strbytes);
    if (st == ALAE_OK && !(ts = calloc(n ? n : 1, sizeof *ts)))
        st = alaei_fail(ALAE_E_NOMEM, func, "out of memory for %zu tensor entries", n);
    if (st == ALAE_OK) st = parse_entries(func, root, meta, data_size, ts, n, &strbytes);
    if (st == ALAE_OK) st = build_file(func, ts, n, meta, strbytes, data_size, out); /* takes ts */
    else free(ts);
    alaei_json_free(doc);
    return st;
}

static void attach_data(alaei_st_file *f, uint8_t *data) {
    f->data = data;
    for (size_t i = 0; i < f->count; i++) f->tensors[i].data = data + f->tensors[i].begin;
}

/* Checks the 8-byte prefix against the total size; *hn = N, *data_size = size - 8 - N. */
static alae_status check_prefix(const char *func, const uint8_t *p8, size_t total, size_t *hn,
                                size_t *data_size) {
    uint64_t n = rd_le(p8, 8);
    if (n > ALAEI_ST_MAX_HEADER)
        return alaei_fail(ALAE_E_FORMAT, func, "header length %" PRIu64 " exceeds the limit of %u bytes",
                          n, (unsigned)ALAEI_ST_MAX_HEADER);
    uint64_t need = n + 8; /* no overflow: n <= 100 MB */
    if (need > (uint64_t)total)
        return alaei_fail(ALAE_E_FORMAT, func, "header length %" PRIu64 " needs %" PRIu64
                          " bytes but the file has %zu", n, need, total);
    *hn = (size_t)n;
    *data_size = total - (size_t)need;
    return ALAE_OK;
}

alae_status alaei_st_parse(const void *buf, size_t n, alaei_st_file **out) {
    ALAEI_CHECK_ARG(out);
    if (!buf && n > 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "buf is NULL");
    if (n < 8)
        return alaei_fail(ALAE_E_FORMAT, __func__, "file is %zu bytes, shorter than the 8-byte header length", n);
    const uint8_t *b = buf;
    size_t hn = 0, ds = 0;
    alae_status st = check_prefix(__func__, b, n, &hn, &ds);
    if (st != ALAE_OK) return st;
    alaei_st_file *f = NULL;
    st = parse_header(__func__, b + 8, hn, ds, &f);
    if (st != ALAE_OK) return st;
    uint8_t *data = malloc(ds ? ds : 1);
    if (!data) {
        alaei_st_free(f);
        return alaei_fail(ALAE_E_NOMEM, __func__, "cannot allocate %zu bytes of tensor data", ds);
    }
    if (ds) memcpy(data, b + 8 + hn, ds);
    attach_data(f, data);
    *out = f;
    return ALAE_OK;
}

/* Reads exactly n bytes at offset off; 1 on success, 0 with errno (0 = early end of file). */
static int read_at(int fd, void *dst, size_t n, uint64_t off) {
    uint8_t *p = dst;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        if (r == 0) {
            errno = 0;
            return 0;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 1;
}

static alae_status read_fail(const char *func, const char *path) {
    if (errno == 0)
        return alaei_fail(ALAE_E_IO, func, "'%s': unexpected end of file (was it truncated while reading?)", path);
    return alaei_fail(ALAE_E_IO, func, "cannot read '%s': %s", path, strerror(errno));
}

/* The header of the open file fd of `total` bytes, parsed into *out (no data attached yet). */
static alae_status read_header(int fd, const char *path, size_t total, size_t *hn, alaei_st_file **out) {
    const char *func = "alaei_st_open";
    if (total < 8)
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' is %zu bytes, shorter than the 8-byte header length", path, total);
    uint8_t p8[8];
    if (!read_at(fd, p8, 8, 0)) return read_fail(func, path);
    size_t ds = 0;
    alae_status st = check_prefix(func, p8, total, hn, &ds);
    if (st != ALAE_OK) return st;
    uint8_t *hdr = malloc(*hn ? *hn : 1);
    if (!hdr) return alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes for the header", *hn);
    st = read_at(fd, hdr, *hn, 8) ? parse_header(func, hdr, *hn, ds, out) : read_fail(func, path);
    free(hdr);
    return st;
}

/* The data area of f: the file mapped read-only, so that only the tensors a caller reads are
 * paged in (a file may hold huge tensors nobody uses); read into memory where it cannot be
 * mapped. */
static alae_status attach_file_data(alaei_st_file *f, int fd, const char *path, size_t total, size_t hn) {
    if (f->data_size == 0) {
        uint8_t *none = malloc(1);
        if (!none) return alaei_fail(ALAE_E_NOMEM, "alaei_st_open", "out of memory");
        attach_data(f, none);
        return ALAE_OK;
    }
    void *map = mmap(NULL, total, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
        f->map = map;
        f->map_size = total;
        attach_data(f, (uint8_t *)map + 8 + hn);
        return ALAE_OK;
    }
    uint8_t *data = malloc(f->data_size);
    if (!data)
        return alaei_fail(ALAE_E_NOMEM, "alaei_st_open", "cannot allocate %zu bytes of tensor data", f->data_size);
    if (!read_at(fd, data, f->data_size, 8 + (uint64_t)hn)) {
        free(data);
        return read_fail("alaei_st_open", path);
    }
    attach_data(f, data);
    return ALAE_OK;
}

/* Keeps the file open in f: each tensor's bytes are read when a caller converts it. */
static alae_status keep_file_open(alaei_st_file *f, int fd, const char *path, size_t hn) {
    f->path = strdup(path);
    if (!f->path) return alaei_fail(ALAE_E_NOMEM, "alaei_st_open_lazy", "no memory");
    f->lazy_fd1 = fd + 1;
    f->data_offset = 8 + (uint64_t)hn;
    return ALAE_OK;
}

/* Opens path; lazy: keeps the file open and reads each tensor's bytes when it is read, else maps
 * (or reads) the data area. */
static alae_status open_file(const char *path, int lazy, alaei_st_file **out, const char *func) {
    int fd;
    uint64_t size;
    alae_status st = alaei_open_regular(path, func, &fd, &size);
    if (st != ALAE_OK) return st;
    alaei_st_file *f = NULL;
    size_t hn = 0;
    if (size > (uint64_t)SIZE_MAX) st = alaei_fail(ALAE_E_IO, func, "'%s' is too large for this platform", path);
    if (st == ALAE_OK) st = read_header(fd, path, (size_t)size, &hn, &f);
    if (st == ALAE_OK && lazy && (st = keep_file_open(f, fd, path, hn)) == ALAE_OK) {
        *out = f;
        return ALAE_OK;
    }
    if (st == ALAE_OK) st = attach_file_data(f, fd, path, (size_t)size, hn);
    close(fd);
    if (st != ALAE_OK) {
        alaei_st_free(f);
        return st;
    }
    *out = f;
    return ALAE_OK;
}

alae_status alaei_st_open(const char *path, alaei_st_file **out) {
    ALAEI_CHECK_ARG(path);
    ALAEI_CHECK_ARG(out);
    return open_file(path, 0, out, __func__);
}

alae_status alaei_st_open_lazy(const char *path, alaei_st_file **out) {
    ALAEI_CHECK_ARG(path);
    ALAEI_CHECK_ARG(out);
    return open_file(path, 1, out, __func__);
}

size_t alaei_st_count(const alaei_st_file *f) { return f ? f->count : 0; }

const alaei_st_tensor *alaei_st_at(const alaei_st_file *f, size_t i) {
    return (f && i < f->count) ? &f->tensors[i] : NULL;
}

const alaei_st_tensor *alaei_st_find(const alaei_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t alaei_st_metadata_count(const alaei_st_file *f) { return f ? f->meta_count : 0; }

int alaei_st_metadata_at(const alaei_st_file *f, size_t i, const char **key, const char **value) {
    if (!f || i >= f->meta_count) return 0;
    if (key) *key = f->meta_keys[i];
    if (value) *value = f->meta_values[i];
    return 1;
}

const char *alaei_st_metadata_get(const alaei_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    size_t lo = 0, hi = f->meta_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->meta_keys[mid], key);
        if (c == 0) return f->meta_values[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static const alaei_st_tensor *find_or_fail(const alaei_st_file *f, const char *name, const char *func,
                                           alae_status *st) {
    const alaei_st_tensor *t = alaei_st_find(f, name);
    if (!t) {
        char nb[96];
        *st = alaei_fail(ALAE_E_FORMAT, func, "tensor '%s' not found", shown(name, strlen(name), nb));
    }
    return t;
}

/* A lazily opened file's tensor bytes, read from the file into *buf (the caller frees it). */
static alae_status read_lazy(const alaei_st_file *f, const alaei_st_tensor *t, uint8_t **buf, const char *func) {
    if (f->lazy_fd1 <= 0) return alaei_fail(ALAE_E_STATE, func, "the file's data is not loaded");
    *buf = malloc(t->nbytes ? t->nbytes : 1);
    if (!*buf) return alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes", t->nbytes);
    if (!read_at(f->lazy_fd1 - 1, *buf, t->nbytes, f->data_offset + t->begin)) {
        alae_status st = read_fail(func, f->path);
        free(*buf);
        *buf = NULL;
        return st;
    }
    return ALAE_OK;
}

alae_status alaei_st_get_f32(const alaei_st_file *f, const char *name, int32_t ndim,
                             const int64_t *shape, float *dst) {
    ALAEI_CHECK_ARG(f);
    ALAEI_CHECK_ARG(name);
    if (ndim < 0 || ndim > ALAEI_ST_MAX_DIMS)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "ndim %d is outside 0..%d", (int)ndim, ALAEI_ST_MAX_DIMS);
    if (ndim > 0 && !shape) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "shape is NULL");
    alae_status st = ALAE_OK;
    const alaei_st_tensor *t = find_or_fail(f, name, __func__, &st);
    if (!t) return st;
    int same = t->ndim == ndim;
    for (int32_t i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    char nb[96];
    if (!same) {
        char have[200], want[200];
        format_shape(have, sizeof have, t->ndim, t->shape);
        for (int32_t i = 0; i < ndim; i++)
            if (shape[i] < 0)
                return alaei_fail(ALAE_E_INVALID_ARG, __func__, "expected shape[%d] = %" PRId64 " is negative",
                                  (int)i, shape[i]);
        format_shape(want, sizeof want, ndim, shape);
        return alaei_fail(ALAE_E_SHAPE, __func__, "tensor '%s' has shape %s, expected %s",
                          shown(t->name, t->name_len, nb), have, want);
    }
    if (t->dtype != ALAEI_ST_F32 && t->dtype != ALAEI_ST_F64 && t->dtype != ALAEI_ST_F16 &&
        t->dtype != ALAEI_ST_BF16)
        return alaei_fail(ALAE_E_FORMAT, __func__, "tensor '%s' has dtype %s, expected F32 (or F64/F16/BF16)",
                          shown(t->name, t->name_len, nb), alaei_st_dtype_name(t->dtype));
    if (t->numel == 0) return ALAE_OK;
    if (!dst) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "dst is NULL");
    uint8_t *lazy = NULL;
    if (!t->data && (st = read_lazy(f, t, &lazy, __func__)) != ALAE_OK) return st;
    const uint8_t *p = lazy ? lazy : t->data;
    switch (t->dtype) {
    case ALAEI_ST_F32:
        if (host_is_le()) {
            memcpy(dst, p, t->nbytes);
        } else {
            for (size_t i = 0; i < t->numel; i++) {
                uint32_t b = (uint32_t)rd_le(p + 4 * i, 4);
                memcpy(&dst[i], &b, 4);
            }
        }
        break;
    case ALAEI_ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            uint64_t b = rd_le(p + 8 * i, 8);
            double d;
            memcpy(&d, &b, 8);
            dst[i] = (float)d;
        }
        break;
    case ALAEI_ST_F16:
        for (size_t i = 0; i < t->numel; i++) dst[i] = half_to_float((uint16_t)rd_le(p + 2 * i, 2));
        break;
    default: /* BF16 */
        for (size_t i = 0; i < t->numel; i++) {
            uint32_t b = (uint32_t)rd_le(p + 2 * i, 2) << 16;
            memcpy(&dst[i], &b, 4);
        }
        break;
    }
    free(lazy);
    return ALAE_OK;
}

alae_status alaei_st_get_i64(const alaei_st_file *f, const char *name, int64_t *out) {
    ALAEI_CHECK_ARG(f);
    ALAEI_CHECK_ARG(name);
    ALAEI_CHECK_ARG(out);
    alae_status st = ALAE_OK;
    const alaei_st_tensor *t = find_or_fail(f, name, __func__, &st);
    if (!t) return st;
    char nb[96];
    if (t->numel != 1 || t->ndim > 1) {
        char have[200];
        format_shape(have, sizeof have, t->ndim, t->shape);
        return alaei_fail(ALAE_E_SHAPE, __func__, "tensor '%s' has shape %s, expected a scalar ([] or [1])",
                          shown(t->name, t->name_len, nb), have);
    }
    if (!t->data) return alaei_fail(ALAE_E_STATE, __func__, "the file was opened lazily");
    switch (t->dtype) {
    case ALAEI_ST_I64: *out = (int64_t)rd_le(t->data, 8); return ALAE_OK;
    case ALAEI_ST_I32: *out = (int32_t)(uint32_t)rd_le(t->data, 4); return ALAE_OK;
    case ALAEI_ST_U64: {
        uint64_t v = rd_le(t->data, 8);
        if (v > (uint64_t)INT64_MAX)
            return alaei_fail(ALAE_E_FORMAT, __func__, "tensor '%s' = %" PRIu64 " does not fit int64",
                              shown(t->name, t->name_len, nb), v);
        *out = (int64_t)v;
        return ALAE_OK;
    }
    default:
        return alaei_fail(ALAE_E_FORMAT, __func__, "tensor '%s' has dtype %s, expected I64",
                          shown(t->name, t->name_len, nb), alaei_st_dtype_name(t->dtype));
    }
}

alae_status alaei_st_get_u64(const alaei_st_file *f, const char *name, size_t count, uint64_t *dst) {
    ALAEI_CHECK_ARG(f);
    ALAEI_CHECK_ARG(name);
    alae_status st = ALAE_OK;
    const alaei_st_tensor *t = find_or_fail(f, name, __func__, &st);
    if (!t) return st;
    char nb[96];
    if (t->dtype != ALAEI_ST_U64)
        return alaei_fail(ALAE_E_FORMAT, __func__, "tensor '%s' has dtype %s, expected U64",
                          shown(t->name, t->name_len, nb), alaei_st_dtype_name(t->dtype));
    if (t->numel != count) {
        char have[200];
        format_shape(have, sizeof have, t->ndim, t->shape);
        return alaei_fail(ALAE_E_SHAPE, __func__, "tensor '%s' has shape %s (%zu elements), expected %zu elements",
                          shown(t->name, t->name_len, nb), have, t->numel, count);
    }
    if (count && !dst) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "dst is NULL");
    if (count && !t->data) return alaei_fail(ALAE_E_STATE, __func__, "the file was opened lazily");
    for (size_t i = 0; i < count; i++) dst[i] = rd_le(t->data + 8 * i, 8);
    return ALAE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* writer                                                                                     */

typedef struct {
    char *name;
    size_t name_len;
    alaei_st_dtype dtype;
    int32_t ndim;
    int64_t shape[ALAEI_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wentry;

struct alaei_st_writer {
    wentry *e;
    size_t n, cap;
    char **mkey, **mval;
    size_t mn, mcap;
};

alae_status alaei_st_writer_create(alaei_st_writer **out) {
    ALAEI_CHECK_ARG(out);
    alaei_st_writer *w = calloc(1, sizeof *w);
    if (!w) return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
    *out = w;
    return ALAE_OK;
}

void alaei_st_writer_destroy(alaei_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->e[i].name);
    for (size_t i = 0; i < w->mn; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->e);
    free(w->mkey);
    free(w->mval);
    free(w);
}

static char *dup_str(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

alae_status alaei_st_writer_add(alaei_st_writer *w, const char *name, alaei_st_dtype dtype,
                                int32_t ndim, const int64_t *shape, const void *data) {
    ALAEI_CHECK_ARG(w);
    ALAEI_CHECK_ARG(name);
    size_t len = strlen(name);
    char nb[96];
    if (len == 0 || len > ALAEI_ST_MAX_NAME)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor name '%s' must be 1..%d bytes",
                          shown(name, len, nb), ALAEI_ST_MAX_NAME);
    if (!alaei_utf8_valid(name, len, NULL))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor name '%s' is not valid UTF-8", shown(name, len, nb));
    if (strcmp(name, "__metadata__") == 0)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "'__metadata__' is reserved");
    if ((unsigned)dtype >= ALAEI_ST_DTYPE_COUNT)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': invalid dtype %d", shown(name, len, nb), (int)dtype);
    if (ndim < 0 || ndim > ALAEI_ST_MAX_DIMS)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': ndim %d is outside 0..%d",
                          shown(name, len, nb), (int)ndim, ALAEI_ST_MAX_DIMS);
    if (ndim > 0 && !shape)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': shape is NULL", shown(name, len, nb));
    size_t numel = 1;
    int overflow = 0, zero = 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': shape[%d] = %" PRId64 " is negative",
                              shown(name, len, nb), (int)i, shape[i]);
        if (shape[i] == 0) zero = 1;
        if ((uint64_t)shape[i] > SIZE_MAX || !alaei_mul_size(numel, (size_t)shape[i], &numel)) overflow = 1;
    }
    size_t nbytes = 0;
    if (zero) numel = 0;
    else if (overflow || !alaei_mul_size(numel, alaei_st_dtype_size(dtype), &nbytes))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': size overflows", shown(name, len, nb));
    if (nbytes > 0 && !data)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "tensor '%s': data is NULL", shown(name, len, nb));
    if (w->n >= ALAEI_ST_MAX_TENSORS)
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "more than %d tensors", ALAEI_ST_MAX_TENSORS);
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        wentry *ne = realloc(w->e, nc * sizeof *ne);
        if (!ne) return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
        w->e = ne;
        w->cap = nc;
    }
    wentry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = dup_str(name, len);
    if (!e->name) return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
    e->name_len = len;
    e->dtype = dtype;
    e->ndim = ndim;
    for (int32_t i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return ALAE_OK;
}

alae_status alaei_st_writer_set_metadata(alaei_st_writer *w, const char *key, const char *value) {
    ALAEI_CHECK_ARG(w);
    ALAEI_CHECK_ARG(key);
    ALAEI_CHECK_ARG(value);
    size_t kl = strlen(key), vl = strlen(value);
    if (kl == 0) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "metadata key is empty");
    if (!alaei_utf8_valid(key, kl, NULL) || !alaei_utf8_valid(value, vl, NULL))
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "metadata '%s' is not valid UTF-8", key);
    char *v = dup_str(value, vl);
    if (!v) return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
    for (size_t i = 0; i < w->mn; i++) {
        if (strcmp(w->mkey[i], key) == 0) {
            free(w->mval[i]);
            w->mval[i] = v;
            return ALAE_OK;
        }
    }
    if (w->mn >= ALAEI_ST_MAX_METADATA) {
        free(v);
        return alaei_fail(ALAE_E_INVALID_ARG, __func__, "more than %d metadata entries", ALAEI_ST_MAX_METADATA);
    }
    if (w->mn == w->mcap) {
        size_t nc = w->mcap ? w->mcap * 2 : 8;
        char **nk = realloc(w->mkey, nc * sizeof *nk);
        if (nk) w->mkey = nk;
        char **nv = nk ? realloc(w->mval, nc * sizeof *nv) : NULL;
        if (nv) w->mval = nv;
        if (!nk || !nv) {
            free(v);
            return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
        }
        w->mcap = nc;
    }
    char *k = dup_str(key, kl);
    if (!k) {
        free(v);
        return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
    }
    w->mkey[w->mn] = k;
    w->mval[w->mn] = v;
    w->mn++;
    return ALAE_OK;
}

/* A growable byte buffer; any failure is sticky. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    size_t need;
    if (!alaei_add_size(b->len, n, &need) || need > (size_t)ALAEI_ST_MAX_HEADER + 64) {
        b->oom = 2; /* too large */
        return;
    }
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < need) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_put(b, run, (size_t)(s - run));
        char esc[8];
        switch (c) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_str(b, esc);
        }
        run = s + 1;
    }
    sb_put(b, run, (size_t)(s - run));
    sb_put(b, "\"", 1);
}

static int wentry_name_cmp(const void *a, const void *b) {
    return strcmp((*(const wentry *const *)a)->name, (*(const wentry *const *)b)->name);
}

static int wentry_layout_cmp(const void *a, const void *b) {
    const wentry *x = *(const wentry *const *)a, *y = *(const wentry *const *)b;
    size_t sx = alaei_st_dtype_size(x->dtype), sy = alaei_st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int meta_idx_cmp(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static alae_status write_data(alaei_atomic_file *af, const wentry *e, const char *func) {
    size_t es = alaei_st_dtype_size(e->dtype);
    if (e->nbytes == 0) return ALAE_OK;
    if (es == 1 || host_is_le()) return alaei_atomic_write(af, e->data, e->nbytes, func);
    /* big-endian host: byte-swap through a small buffer */
    uint8_t buf[4096];
    const uint8_t *src = e->data;
    size_t done = 0;
    while (done < e->nbytes) {
        size_t k = e->nbytes - done;
        if (k > sizeof buf) k = sizeof buf;
        for (size_t i = 0; i < k; i += es)
            for (size_t j = 0; j < es; j++) buf[i + j] = src[done + i + es - 1 - j];
        alae_status st = alaei_atomic_write(af, buf, k, func);
        if (st != ALAE_OK) return st;
        done += k;
    }
    return ALAE_OK;
}

alae_status alaei_st_writer_save(alaei_st_writer *w, const char *path) {
    ALAEI_CHECK_ARG(w);
    ALAEI_CHECK_ARG(path);
    const wentry **order = calloc(w->n ? w->n : 1, sizeof *order);
    char ***midx = calloc(w->mn ? w->mn : 1, sizeof *midx);
    if (!order || !midx) {
        free(order);
        free(midx);
        return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory");
    }
    for (size_t i = 0; i < w->n; i++) order[i] = &w->e[i];
    qsort(order, w->n, sizeof *order, wentry_name_cmp);
    for (size_t i = 1; i < w->n; i++) {
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            char nb[96];
            alae_status st = alaei_fail(ALAE_E_INVALID_ARG, __func__, "duplicate tensor name '%s'",
                                        shown(order[i]->name, order[i]->name_len, nb));
            free(order);
            free(midx);
            return st;
        }
    }
    qsort(order, w->n, sizeof *order, wentry_layout_cmp);
    for (size_t i = 0; i < w->mn; i++) midx[i] = &w->mkey[i];
    qsort(midx, w->mn, sizeof *midx, meta_idx_cmp);

    sbuf b = {0};
    sb_put(&b, "{", 1);
    if (w->mn > 0) {
        sb_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->mn; i++) {
            size_t k = (size_t)(midx[i] - w->mkey);
            if (i) sb_put(&b, ",", 1);
            sb_json_string(&b, w->mkey[k]);
            sb_put(&b, ":", 1);
            sb_json_string(&b, w->mval[k]);
        }
        sb_put(&b, "}", 1);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const wentry *e = order[i];
        char num[64];
        if (i || w->mn) sb_put(&b, ",", 1);
        sb_json_string(&b, e->name);
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, alaei_st_dtype_name(e->dtype));
        sb_str(&b, "\",\"shape\":[");
        for (int32_t d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", e->shape[d]);
            sb_str(&b, num);
        }
        /* offsets cannot overflow: each nbytes fits size_t and there are <= 65536 tensors */
        snprintf(num, sizeof num, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + e->nbytes);
        sb_str(&b, num);
        off += e->nbytes;
    }
    sb_put(&b, "}", 1);
    while (!b.oom && b.len % 8 != 0) sb_put(&b, " ", 1);
    free(midx);
    if (b.oom || b.len > ALAEI_ST_MAX_HEADER) {
        int too_large = b.oom != 1;
        free(b.p);
        free(order);
        if (too_large)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "the header would exceed %u bytes",
                              (unsigned)ALAEI_ST_MAX_HEADER);
        return alaei_fail(ALAE_E_NOMEM, __func__, "out of memory for the header");
    }
    uint8_t p8[8];
    for (int i = 0; i < 8; i++) p8[i] = (uint8_t)((uint64_t)b.len >> (8 * i));

    alaei_atomic_file af;
    alae_status st = alaei_atomic_open(&af, path, __func__);
    if (st == ALAE_OK) st = alaei_atomic_write(&af, p8, 8, __func__);
    if (st == ALAE_OK) st = alaei_atomic_write(&af, b.p, b.len, __func__);
    for (size_t i = 0; st == ALAE_OK && i < w->n; i++) st = write_data(&af, order[i], __func__);
    if (st == ALAE_OK) st = alaei_atomic_commit(&af, __func__);
    else alaei_atomic_abort(&af);
    free(b.p);
    free(order);
    return st;
}
