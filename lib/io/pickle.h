/* A strict reader of the pickle subset that torch.save writes (protocols 2 to 5, binary opcodes).
 *
 * It interprets opcodes as data and never executes anything. Known globals become values:
 * collections.OrderedDict makes dicts, torch's tensor and parameter rebuild functions make tensor
 * descriptions, torch's storage types name dtypes. Any other global, and whatever REDUCE, NEWOBJ,
 * BUILD, INST or OBJ build from it, is an inert opaque value that remembers the class name; the
 * caller decides where such values are acceptable. Globals of modules that can run commands (os,
 * subprocess, builtins.eval, ...) are refused outright. Storages come from persistent ids through a
 * callback (the container, legacy stream or zip archive, knows where their bytes are).
 *
 * Limits (a hostile file fails with ALAE_E_FORMAT instead of exhausting memory): stack, mark
 * stack and container nesting depth, memo indices, the number of values, string bytes kept, and
 * every declared length is checked against the bytes left in the source. */
#ifndef ALAE_IO_PICKLE_H
#define ALAE_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_PK_MAX_DIMS 8

typedef enum alaei_pk_kind {
    ALAEI_PK_NONE,
    ALAEI_PK_BOOL,
    ALAEI_PK_INT,     /* fits int64 */
    ALAEI_PK_BIGINT,  /* a longer LONG1/LONG4: raw little-endian two's complement bytes in str */
    ALAEI_PK_FLOAT,
    ALAEI_PK_STR,     /* unicode or bytes; str.dropped when the content was too long to keep */
    ALAEI_PK_TUPLE,
    ALAEI_PK_LIST,
    ALAEI_PK_SET,
    ALAEI_PK_DICT,    /* items: key, value, key, value, ... */
    ALAEI_PK_GLOBAL,  /* a reference to a module attribute (known or not) */
    ALAEI_PK_OPAQUE,  /* an object built from an unknown global: inert */
    ALAEI_PK_STORAGE, /* a storage named by a persistent id: index into the caller's table */
    ALAEI_PK_TENSOR
} alaei_pk_kind;

/* The globals that mean something here. */
typedef enum alaei_pk_global {
    ALAEI_PKG_UNKNOWN,
    ALAEI_PKG_ORDERED_DICT,
    ALAEI_PKG_REBUILD_TENSOR,
    ALAEI_PKG_REBUILD_PARAMETER,
    ALAEI_PKG_STORAGE_TYPE /* torch.<X>Storage; dtype in glob.dtype */
} alaei_pk_global;

/* Element types of storages. */
typedef enum alaei_pk_dtype {
    ALAEI_PKD_F32,
    ALAEI_PKD_F64,
    ALAEI_PKD_F16,
    ALAEI_PKD_BF16,
    ALAEI_PKD_I64,
    ALAEI_PKD_I32,
    ALAEI_PKD_I16,
    ALAEI_PKD_I8,
    ALAEI_PKD_U8,
    ALAEI_PKD_BOOL
} alaei_pk_dtype;

size_t alaei_pk_dtype_size(alaei_pk_dtype t);
const char *alaei_pk_dtype_name(alaei_pk_dtype t);

/* A tensor: a view of a storage (kept apart from the values, which stay small). */
typedef struct alaei_pk_tensor {
    int64_t storage; /* storage number */
    alaei_pk_dtype dtype;
    int64_t offset;  /* in elements */
    int32_t ndim;
    int64_t shape[ALAEI_PK_MAX_DIMS], stride[ALAEI_PK_MAX_DIMS];
    int64_t numel;
} alaei_pk_tensor;

typedef struct alaei_pk_value alaei_pk_value;
struct alaei_pk_value {
    alaei_pk_kind kind;
    int32_t depth; /* nesting below this container (0 for scalars) */
    union {
        int64_t i;   /* INT, BOOL */
        double f;    /* FLOAT */
        struct {
            char *s; /* NUL-terminated copy (NULL when dropped) */
            size_t len;
            int dropped;
        } str;       /* STR, BIGINT */
        struct {
            alaei_pk_value **items;
            size_t n, cap;
        } seq;       /* TUPLE, LIST, SET, DICT */
        struct {
            char *name; /* "module.name" */
            alaei_pk_global known;
            alaei_pk_dtype dtype;
        } glob;      /* GLOBAL */
        struct {
            const char *cls; /* the class or callable it came from ("tracker.RunningMeanTorch") */
        } opaque;
        struct {
            int64_t index; /* the caller's storage number */
            alaei_pk_dtype dtype;
        } storage;
        alaei_pk_tensor *tensor; /* TENSOR */
    } u;
};

/* A byte source: read exactly n bytes (returns 0 on success, -1 at a short read), and how many
 * bytes remain (for checking declared lengths). */
typedef struct alaei_pk_source {
    int (*read)(void *user, void *buf, size_t n);
    uint64_t (*remaining)(void *user);
    void *user;
    uint64_t consumed; /* kept by the reader, for messages */
} alaei_pk_source;

/* Persistent ids: the callback turns the id value into a storage number and its dtype (or fails
 * with a message through alaei_fail). */
typedef alae_status (*alaei_pk_persid_fn)(void *user, const alaei_pk_value *pid, int64_t *index,
                                          alaei_pk_dtype *dtype);

/* Owns every value made by the pickles it reads. */
typedef struct alaei_pk_reader alaei_pk_reader;

alae_status alaei_pk_reader_create(alaei_pk_reader **out);
void alaei_pk_reader_destroy(alaei_pk_reader *r);
/* Reads one pickle (up to its STOP) from src; *out stays owned by r. persid may be NULL (a
 * persistent id then fails). Messages name the byte offset from the start of src. */
alae_status alaei_pk_read(alaei_pk_reader *r, alaei_pk_source *src, alaei_pk_persid_fn persid, void *user,
                          const alaei_pk_value **out);

/* Lookups: the value of a string key in a dict (the last one, as Python keeps), or NULL. */
const alaei_pk_value *alaei_pk_dict_get(const alaei_pk_value *dict, const char *key);
/* Whether v is a string equal to s. */
int alaei_pk_is_str(const alaei_pk_value *v, const char *s);
/* A short description of a value's kind for messages ("a list", "an object of class 'x.Y'"). */
void alaei_pk_describe(const alaei_pk_value *v, char *buf, size_t cap);

#endif
