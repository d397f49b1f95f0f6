/* IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, and a deterministic shuffle. Internal.
 *
 * Images: magic 0x00000803, big-endian dims N, rows, cols, then N*rows*cols uint8.
 * Labels: magic 0x00000801, big-endian N, then N uint8.
 * gzip is detected by its magic bytes (1f 8b), not by the file name. Validation before any large
 * allocation: the magic, 1 <= rows, cols <= 4096, N <= 100 million, and the size: a raw file must
 * be exactly header + data bytes, a gzip stream must decompress to exactly that many (truncated
 * or oversized files are ALAE_E_FORMAT naming the expected and the actual size). A gzip file is
 * one or more gzip members (each CRC-checked) and nothing after the last one.
 * Errors: ALAE_E_IO (path + strerror), ALAE_E_FORMAT, ALAE_E_NOMEM, ALAE_E_INVALID_ARG. */
#ifndef ALAEI_IDX_H
#define ALAEI_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "internal/alae_internal.h"

#define ALAEI_IDX_MAGIC_IMAGES 0x00000803u
#define ALAEI_IDX_MAGIC_LABELS 0x00000801u
#define ALAEI_IDX_MAX_SIDE     4096u
#define ALAEI_IDX_MAX_COUNT    100000000u

typedef struct {
    uint32_t magic;  /* ALAEI_IDX_MAGIC_IMAGES or ALAEI_IDX_MAGIC_LABELS */
    size_t count;    /* N */
    size_t rows;     /* 1 for labels */
    size_t cols;     /* 1 for labels */
    uint8_t *data;   /* count * rows * cols bytes, row-major [N, rows, cols] */
    size_t nbytes;
} alaei_idx;

/* Loads an image file (magic 0x00000803). */
alae_status alaei_idx_load(const char *path, alaei_idx **out);
/* Loads a label file (magic 0x00000801). */
alae_status alaei_idx_load_labels(const char *path, alaei_idx **out);
void alaei_idx_free(alaei_idx *idx);

/* ---- deterministic randomness (identical on every platform) ---- */
/* xoshiro256** seeded through splitmix64. */
typedef struct {
    uint64_t s[4];
} alaei_xoshiro;

uint64_t alaei_splitmix64(uint64_t *state);
void alaei_xoshiro_seed(alaei_xoshiro *r, uint64_t seed);
uint64_t alaei_xoshiro_next(alaei_xoshiro *r);
/* Uniform in [0, bound) without modulo bias (rejection); bound 0 returns 0. */
uint64_t alaei_xoshiro_below(alaei_xoshiro *r, uint64_t bound);
/* Fisher-Yates shuffle of perm[0..n) in place. */
void alaei_shuffle(alaei_xoshiro *r, size_t *perm, size_t n);
/* perm = a permutation of [0, n) determined by seed alone. */
alae_status alaei_permutation(uint64_t seed, size_t n, size_t *perm);

#endif /* ALAEI_IDX_H */
