/* safetensors: a strict reader and an atomic writer (docs/checkpoint-format.md). Internal.
 *
 * Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON header, then the data area.
 * The reader validates everything before it allocates the data copy:
 *   - file >= 8 bytes, N <= ALAEI_ST_MAX_HEADER (100 MB), N + 8 <= file size;
 *   - the header is valid UTF-8 JSON starting with '{', nesting <= 3 levels, no duplicate keys;
 *   - every entry: a known dtype (an unknown dtype fails; it is never skipped), a shape of at
 *     most 8 non-negative integers, data_offsets [begin, end] with begin <= end, no other keys,
 *     prod(shape) * element size (overflow-checked) == end - begin;
 *   - names: 1..256 bytes, no NUL byte; at most 65536 tensors;
 *   - the offsets, sorted, are contiguous from 0 with no gap or overlap and cover the data area
 *     exactly;
 *   - "__metadata__" is an object of string -> string (no NUL bytes).
 * Errors: ALAE_E_FORMAT naming the tensor and what is wrong, ALAE_E_IO (path + strerror),
 * ALAE_E_NOMEM, ALAE_E_INVALID_ARG. Data is little-endian; the accessors convert byte by byte,
 * so they are correct on any host. */
#ifndef ALAEI_SAFETENSORS_H
#define ALAEI_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_ST_MAX_HEADER   (100u * 1000u * 1000u) /* bytes */
#define ALAEI_ST_MAX_DIMS     8
#define ALAEI_ST_MAX_NAME     256   /* bytes */
#define ALAEI_ST_MAX_TENSORS  65536
#define ALAEI_ST_MAX_METADATA 65536 /* entries */

typedef enum {
    ALAEI_ST_BOOL = 0,
    ALAEI_ST_U8,
    ALAEI_ST_I8,
    ALAEI_ST_F8_E5M2,
    ALAEI_ST_F8_E4M3,
    ALAEI_ST_I16,
    ALAEI_ST_U16,
    ALAEI_ST_F16,
    ALAEI_ST_BF16,
    ALAEI_ST_I32,
    ALAEI_ST_U32,
    ALAEI_ST_F32,
    ALAEI_ST_F64,
    ALAEI_ST_I64,
    ALAEI_ST_U64,
    ALAEI_ST_DTYPE_COUNT
} alaei_st_dtype;

/* "F32", "I64", ...; "?" for an invalid value. */
const char *alaei_st_dtype_name(alaei_st_dtype dt);
/* Element size in bytes, 0 for an invalid value. */
size_t alaei_st_dtype_size(alaei_st_dtype dt);
/* Looks a dtype up by its safetensors name; returns 0 if unknown. */
int alaei_st_dtype_from_name(const char *name, size_t len, alaei_st_dtype *out);

typedef struct {
    const char *name;      /* NUL-terminated UTF-8 */
    size_t name_len;
    alaei_st_dtype dtype;
    int32_t ndim;          /* 0 for a scalar */
    int64_t shape[ALAEI_ST_MAX_DIMS];
    size_t numel;          /* prod(shape); 1 for a scalar */
    uint64_t begin, end;   /* data_offsets, relative to the data area */
    const uint8_t *data;   /* end - begin bytes, little-endian, possibly unaligned */
    size_t nbytes;
} alaei_st_tensor;

typedef struct alaei_st_file alaei_st_file;

/* ---- reader ---- */
/* Parses a whole file image from memory; the data area is copied, buf may be freed afterwards. */
alae_status alaei_st_parse(const void *buf, size_t n, alaei_st_file **out);
/* Reads and parses a file (header first, the data area only once the header is valid). */
alae_status alaei_st_open(const char *path, alaei_st_file **out);
/* Reads and checks the header only and keeps the file open: alaei_st_get_f32 reads each tensor
 * from the file when asked (a short read, e.g. a file truncated meanwhile, is ALAE_E_IO), so a
 * model's weights are never held twice while they load. The other accessors of tensor data fail
 * with ALAE_E_STATE on such a file. */
alae_status alaei_st_open_lazy(const char *path, alaei_st_file **out);
void alaei_st_free(alaei_st_file *f);

size_t alaei_st_count(const alaei_st_file *f);
/* The i-th tensor in name order (bytewise), NULL if out of range. */
const alaei_st_tensor *alaei_st_at(const alaei_st_file *f, size_t i);
/* The tensor with this name, or NULL. */
const alaei_st_tensor *alaei_st_find(const alaei_st_file *f, const char *name);

size_t alaei_st_metadata_count(const alaei_st_file *f);
/* The i-th metadata entry in key order; returns 0 if out of range. */
int alaei_st_metadata_at(const alaei_st_file *f, size_t i, const char **key, const char **value);
/* The metadata value for key, or NULL. */
const char *alaei_st_metadata_get(const alaei_st_file *f, const char *key);

/* Copies tensor `name` into dst as float32, converting from F32, F64, F16 or BF16. The tensor
 * must have exactly (ndim, shape): otherwise ALAE_E_SHAPE, e.g.
 * "tensor 'G.fc1.weight' has shape [1024,50], expected [1024,64]". A missing tensor or another
 * dtype is ALAE_E_FORMAT. dst holds prod(shape) floats (ndim == 0: one). */
alae_status alaei_st_get_f32(const alaei_st_file *f, const char *name, int32_t ndim,
                             const int64_t *shape, float *dst);
/* A one-element integer tensor (shape [] or [1]) of dtype I64, I32, or U64 <= INT64_MAX. */
alae_status alaei_st_get_i64(const alaei_st_file *f, const char *name, int64_t *out);
/* A U64 tensor with exactly `count` elements (any shape) into dst. */
alae_status alaei_st_get_u64(const alaei_st_file *f, const char *name, size_t count, uint64_t *dst);

/* ---- writer ---- */
/* Collects tensors and metadata, then writes them atomically (<path>.tmp.<pid>, fflush, fsync,
 * rename, directory fsync). Tensor data is borrowed: it must stay valid until save returns.
 * Tensors are laid out by decreasing element size (I64/U64/F64 first), then by name, so every
 * tensor is aligned to its element size; the header is padded with spaces to a multiple of 8.
 * Multi-byte data is written little-endian. */
typedef struct alaei_st_writer alaei_st_writer;

alae_status alaei_st_writer_create(alaei_st_writer **out);
void alaei_st_writer_destroy(alaei_st_writer *w);
/* Copies name and shape. Duplicate names are reported by save. */
alae_status alaei_st_writer_add(alaei_st_writer *w, const char *name, alaei_st_dtype dtype,
                                int32_t ndim, const int64_t *shape, const void *data);
/* Copies key and value (UTF-8); setting an existing key replaces its value. */
alae_status alaei_st_writer_set_metadata(alaei_st_writer *w, const char *key, const char *value);
alae_status alaei_st_writer_save(alaei_st_writer *w, const char *path);

#endif /* ALAEI_SAFETENSORS_H */
