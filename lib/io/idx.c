/* IDX reader (raw or gzip) and the deterministic shuffle. See idx.h. */
#include "io/idx.h"
#include "io/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* deflate cannot expand data by more than about 1032:1; anything beyond this is truncated */
#define GZ_MAX_RATIO 1100u
#define GZ_INPUT (1u << 15)

/* The bytes of an IDX file: the file itself, or the data of its gzip members, decompressed with
 * zlib's inflate (not gzread, which ignores what follows the last member). */
typedef struct {
    int fd;
    int is_gz, in_member, at_end; /* gzip: inside a member; nothing more to decompress */
    int members;                  /* gzip: members decompressed whole */
    z_stream z;
    uint8_t *in;                  /* gzip: GZ_INPUT bytes of compressed input */
    uint64_t file_size;
    uint64_t pos;                 /* decompressed bytes consumed */
    const char *path;
    const char *func;
} src;

/* Statuses of src_read: the count, or one of these after recording the error. */
#define SRC_FORMAT (-1)
#define SRC_IO     (-2)

static long long fail_io(const src *s) {
    alaei_fail(ALAE_E_IO, s->func, "cannot read '%s': %s", s->path, strerror(errno));
    return SRC_IO;
}

static long long fail_truncated(const src *s, size_t done) {
    alaei_fail(ALAE_E_FORMAT, s->func, "'%s': truncated gzip stream after %llu decompressed bytes", s->path,
               (unsigned long long)(s->pos + done));
    return SRC_FORMAT;
}

/* Reads up to n raw bytes; the count (< n only at the end of the file) or SRC_IO. */
static long long raw_read(src *s, uint8_t *dst, size_t n) {
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - done;
        ssize_t r = read(s->fd, dst + done, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail_io(s);
        if (r == 0) break;
        done += (size_t)r;
    }
    return (long long)done;
}

/* More compressed input: 1, 0 at the end of the file, or SRC_IO. */
static int gz_fill(src *s) {
    ssize_t r;
    do r = read(s->fd, s->in, GZ_INPUT);
    while (r < 0 && errno == EINTR);
    if (r < 0) return (int)fail_io(s);
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)r;
    return r > 0;
}

/* A member ended: what follows must be another member (inflate checks its header), or nothing.
 * Trailing bytes that are not a gzip member are refused (zlib's gzread ignores them). */
static long long gz_member_end(src *s, size_t done) {
    s->in_member = 0;
    s->members++;
    if (s->z.avail_in == 0) {
        int more = gz_fill(s);
        if (more < 0) return more;
        if (!more) {
            s->at_end = 1;
            return 0;
        }
    }
    if (inflateReset(&s->z) != Z_OK) return fail_truncated(s, done);
    s->in_member = 1;
    return 0;
}

/* Decompresses up to n bytes; the count (< n only at the end of the data) or a SRC_ status. */
static long long gz_read(src *s, uint8_t *dst, size_t n) {
    size_t done = 0;
    while (done < n && !s->at_end) {
        if (s->z.avail_in == 0) {
            int more = gz_fill(s);
            if (more < 0) return more;
            if (!more) return s->in_member ? fail_truncated(s, done) : (s->at_end = 1, (long long)done);
        }
        size_t chunk = n - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - done;
        s->z.next_out = dst + done;
        s->z.avail_out = (uInt)chunk;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        done += chunk - s->z.avail_out;
        if (zr == Z_STREAM_END) {
            long long r = gz_member_end(s, done);
            if (r < 0) return r;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && s->z.avail_in == 0)) {
            if (s->members > 0 && s->z.total_in <= 10) /* not even a member header */
                alaei_fail(ALAE_E_FORMAT, s->func, "'%s': trailing data after the gzip stream (%s)", s->path,
                           s->z.msg ? s->z.msg : "?");
            else
                alaei_fail(ALAE_E_FORMAT, s->func, "'%s': corrupt gzip data: %s", s->path, s->z.msg ? s->z.msg : "?");
            return SRC_FORMAT;
        }
    }
    return (long long)done;
}

/* Reads up to n bytes; the count (< n only at the end of the data) or a SRC_ status. */
static long long src_read(src *s, void *dst, size_t n) {
    long long r = s->is_gz ? gz_read(s, dst, n) : raw_read(s, dst, n);
    if (r > 0) s->pos += (uint64_t)r;
    return r;
}

static alae_status src_status(long long r) { return r == SRC_IO ? ALAE_E_IO : ALAE_E_FORMAT; }

static void src_close(src *s) {
    if (s->is_gz) inflateEnd(&s->z);
    free(s->in);
    if (s->fd >= 0) close(s->fd);
}

/* Opens path and detects gzip by its magic bytes. On failure everything is released. */
static alae_status src_open(src *s, const char *path, const char *func) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->path = path;
    s->func = func;
    alae_status st = alaei_open_regular(path, func, &s->fd, &s->file_size);
    if (st != ALAE_OK) return st;
    uint8_t m2[2] = {0, 0};
    long long r = raw_read(s, m2, 2);
    if (r < 0) st = src_status(r);
    else if (lseek(s->fd, 0, SEEK_SET) != 0)
        st = alaei_fail(ALAE_E_IO, func, "cannot seek '%s': %s", path, strerror(errno));
    if (st == ALAE_OK && r == 2 && m2[0] == 0x1f && m2[1] == 0x8b) {
        s->in = malloc(GZ_INPUT);
        if (!s->in || inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            free(s->in);
            s->in = NULL;
            st = alaei_fail(ALAE_E_NOMEM, func, "cannot open a gzip stream on '%s'", path);
        } else {
            s->is_gz = s->in_member = 1;
        }
    }
    if (st != ALAE_OK) src_close(s);
    return st;
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static const char *kind_name(uint32_t magic) {
    return magic == ALAEI_IDX_MAGIC_IMAGES ? "images" : "labels";
}

/* What the header declares. */
typedef struct {
    uint32_t magic, n, rows, cols;
    size_t hsize;
    uint64_t data_bytes, expected; /* n * rows * cols; plus the header */
} idx_header;

static const char *size_verb(const src *s) { return s->is_gz ? "decompresses to" : "has"; }

static alae_status bad_magic(const src *s, uint32_t magic, uint32_t want) {
    if (magic == ALAEI_IDX_MAGIC_IMAGES || magic == ALAEI_IDX_MAGIC_LABELS)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s' is an IDX %s file (magic 0x%08x), expected %s (0x%08x)",
                          s->path, kind_name(magic), magic, kind_name(want), want);
    if ((magic >> 16) == 0 && ((magic >> 8) & 0xFF) != 0x08)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': IDX element type 0x%02x is not unsigned byte (0x08)",
                          s->path, (magic >> 8) & 0xFF);
    return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': bad magic 0x%08x, expected 0x%08x (IDX %s)", s->path, magic,
                      want, kind_name(want));
}

/* The magic and the dimensions, range-checked. */
static alae_status read_header(src *s, uint32_t want_magic, idx_header *h) {
    uint32_t ndim = want_magic == ALAEI_IDX_MAGIC_IMAGES ? 3 : 1;
    uint8_t hdr[16];
    h->hsize = 4 + 4 * (size_t)ndim;
    long long r = src_read(s, hdr, 4);
    if (r < 0) return src_status(r);
    if (r < 4)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s' %s %lld bytes, too short for an IDX header", s->path,
                          size_verb(s), r);
    h->magic = be32(hdr);
    if (h->magic != want_magic) return bad_magic(s, h->magic, want_magic);
    r = src_read(s, hdr + 4, h->hsize - 4);
    if (r < 0) return src_status(r);
    if ((size_t)r < h->hsize - 4)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s' %s %llu bytes, shorter than its %zu-byte IDX header", s->path,
                          size_verb(s), (unsigned long long)s->pos, h->hsize);
    h->n = be32(hdr + 4);
    h->rows = ndim == 3 ? be32(hdr + 8) : 1;
    h->cols = ndim == 3 ? be32(hdr + 12) : 1;
    if (h->n > ALAEI_IDX_MAX_COUNT)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': item count %u exceeds %u", s->path, h->n, ALAEI_IDX_MAX_COUNT);
    if (h->rows < 1 || h->rows > ALAEI_IDX_MAX_SIDE || h->cols < 1 || h->cols > ALAEI_IDX_MAX_SIDE)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': image size %ux%u is outside 1..%u", s->path, h->rows, h->cols,
                          ALAEI_IDX_MAX_SIDE);
    h->data_bytes = (uint64_t)h->n * h->rows * h->cols; /* at most 1e8 * 4096 * 4096 < 2^61 */
    h->expected = h->data_bytes + h->hsize;
    return ALAE_OK;
}

static alae_status size_mismatch(const src *s, const idx_header *h, uint64_t actual, const char *why) {
    return alaei_fail(ALAE_E_FORMAT, s->func, "'%s' %s %llu bytes, expected %llu (%u x %u x %u + %zu-byte header): %s",
                      s->path, size_verb(s), (unsigned long long)actual, (unsigned long long)h->expected, h->n,
                      h->rows, h->cols, h->hsize, why);
}

/* The declared size against what the file can hold, before anything large is allocated. */
static alae_status check_claim(const src *s, const idx_header *h) {
    if (h->data_bytes > (uint64_t)SIZE_MAX - 1)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': %llu bytes of data do not fit this platform", s->path,
                          (unsigned long long)h->data_bytes);
    if (!s->is_gz && s->file_size != h->expected)
        return size_mismatch(s, h, s->file_size, s->file_size < h->expected ? "truncated" : "trailing data");
    if (s->is_gz && h->expected / GZ_MAX_RATIO > s->file_size)
        return alaei_fail(ALAE_E_FORMAT, s->func, "'%s': the header declares %llu bytes but a %llu-byte gzip file "
                          "cannot hold that much: truncated", s->path, (unsigned long long)h->expected,
                          (unsigned long long)s->file_size);
    return ALAE_OK;
}

/* The data, allocated as it arrives (a gzip header cannot make the reader allocate what is not
 * there: at most 64 MiB ahead of the data). */
static alae_status read_data(src *s, const idx_header *h, uint8_t **out) {
    size_t total = (size_t)h->data_bytes, cap = total, got = 0;
    if (s->is_gz && cap > ((size_t)64 << 20)) cap = (size_t)64 << 20;
    uint8_t *data = malloc(cap ? cap : 1);
    if (!data) return alaei_fail(ALAE_E_NOMEM, s->func, "cannot allocate %zu bytes for '%s'", cap, s->path);
    *out = data;
    for (;;) {
        long long r = src_read(s, data + got, cap - got);
        if (r < 0) return src_status(r);
        got += (size_t)r;
        if (got < cap || cap == total) break; /* the end of the data, or all of it */
        size_t grown = cap > total / 2 ? total : cap * 2;
        if (!(data = realloc(*out, grown)))
            return alaei_fail(ALAE_E_NOMEM, s->func, "cannot allocate %zu bytes for '%s'", grown, s->path);
        *out = data;
        cap = grown;
    }
    return got < total ? size_mismatch(s, h, got + h->hsize, "truncated") : ALAE_OK;
}

/* Nothing may follow the data. */
static alae_status expect_end(src *s, const idx_header *h) {
    uint8_t scratch[4096];
    uint64_t extra = 0;
    for (;;) {
        long long r = src_read(s, scratch, sizeof scratch);
        if (r < 0) return src_status(r);
        extra += (uint64_t)r;
        if ((size_t)r < sizeof scratch) break;
    }
    return extra > 0 ? size_mismatch(s, h, h->expected + extra, "trailing data") : ALAE_OK;
}

static alae_status load(const char *path, uint32_t want_magic, alaei_idx **out, const char *func) {
    if (!path) return alaei_fail(ALAE_E_INVALID_ARG, func, "path is NULL");
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, func, "out is NULL");
    src s;
    alae_status st = src_open(&s, path, func);
    if (st != ALAE_OK) return st;
    idx_header h = {0};
    uint8_t *data = NULL;
    alaei_idx *idx = NULL;
    st = read_header(&s, want_magic, &h);
    if (st == ALAE_OK) st = check_claim(&s, &h);
    if (st == ALAE_OK) st = read_data(&s, &h, &data);
    if (st == ALAE_OK) st = expect_end(&s, &h);
    if (st == ALAE_OK && !(idx = calloc(1, sizeof *idx))) st = alaei_fail(ALAE_E_NOMEM, func, "out of memory");
    src_close(&s);
    if (st != ALAE_OK) {
        free(data);
        return st;
    }
    *idx = (alaei_idx){h.magic, h.n, h.rows, h.cols, data, (size_t)h.data_bytes};
    *out = idx;
    return ALAE_OK;
}

alae_status alaei_idx_load(const char *path, alaei_idx **out) {
    return load(path, ALAEI_IDX_MAGIC_IMAGES, out, __func__);
}

alae_status alaei_idx_load_labels(const char *path, alaei_idx **out) {
    return load(path, ALAEI_IDX_MAGIC_LABELS, out, __func__);
}

void alaei_idx_free(alaei_idx *idx) {
    if (!idx) return;
    free(idx->data);
    free(idx);
}

/* ---- deterministic randomness ---- */

uint64_t alaei_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void alaei_xoshiro_seed(alaei_xoshiro *r, uint64_t seed) {
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) r->s[i] = alaei_splitmix64(&sm);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t alaei_xoshiro_next(alaei_xoshiro *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t alaei_xoshiro_below(alaei_xoshiro *r, uint64_t bound) {
    if (bound == 0) return 0;
    uint64_t threshold = (0 - bound) % bound; /* 2^64 mod bound */
    for (;;) {
        uint64_t x = alaei_xoshiro_next(r);
        if (x >= threshold) return x % bound;
    }
}

void alaei_shuffle(alaei_xoshiro *r, size_t *perm, size_t n) {
    if (!r || !perm) return;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)alaei_xoshiro_below(r, (uint64_t)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

alae_status alaei_permutation(uint64_t seed, size_t n, size_t *perm) {
    if (n > 0 && !perm) return alaei_fail(ALAE_E_INVALID_ARG, __func__, "perm is NULL");
    for (size_t i = 0; i < n; i++) perm[i] = i;
    alaei_xoshiro r;
    alaei_xoshiro_seed(&r, seed);
    alaei_shuffle(&r, perm, n);
    return ALAE_OK;
}
