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

typedef struct {
    int fd;       /* raw */
    gzFile gz;    /* gzip (owns fd once opened) */
    int is_gz;
    uint64_t file_size;
    uint64_t pos; /* decompressed bytes consumed */
    const char *path;
    const char *func;
} src;

/* Reads up to n bytes; returns the count (< n only at the end of the data) or -1 after
 * recording an error. */
static long long src_read(src *s, void *dst, size_t n) {
    uint8_t *p = dst;
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : n - done;
        if (s->is_gz) {
            int r = gzread(s->gz, p + done, (unsigned)chunk);
            if (r < 0) {
                int zerr = 0;
                const char *msg = gzerror(s->gz, &zerr);
                if (zerr == Z_ERRNO)
                    alaei_fail(ALAE_E_IO, s->func, "cannot read '%s': %s", s->path, strerror(errno));
                else if (zerr == Z_BUF_ERROR)
                    alaei_fail(ALAE_E_FORMAT, s->func, "'%s': truncated gzip stream after %llu decompressed bytes",
                               s->path, (unsigned long long)(s->pos + done));
                else
                    alaei_fail(ALAE_E_FORMAT, s->func, "'%s': corrupt gzip data: %s", s->path, msg ? msg : "?");
                return zerr == Z_ERRNO ? -2 : -1;
            }
            if (r == 0) {
                /* zlib reports a stream cut short (even inside the CRC/size trailer) only
                 * through gzerror, after returning what it could decompress */
                int zerr = Z_OK;
                const char *msg = gzerror(s->gz, &zerr);
                if (zerr == Z_BUF_ERROR) {
                    alaei_fail(ALAE_E_FORMAT, s->func, "'%s': truncated gzip stream after %llu decompressed bytes",
                               s->path, (unsigned long long)(s->pos + done));
                    return -1;
                }
                if (zerr != Z_OK) {
                    alaei_fail(ALAE_E_FORMAT, s->func, "'%s': corrupt gzip data: %s", s->path, msg ? msg : "?");
                    return -1;
                }
                break;
            }
            done += (size_t)r;
        } else {
            ssize_t r = read(s->fd, p + done, chunk);
            if (r < 0) {
                if (errno == EINTR) continue;
                alaei_fail(ALAE_E_IO, s->func, "cannot read '%s': %s", s->path, strerror(errno));
                return -2;
            }
            if (r == 0) break;
            done += (size_t)r;
        }
    }
    s->pos += done;
    return (long long)done;
}

static alae_status src_status(long long r) { return r == -2 ? ALAE_E_IO : ALAE_E_FORMAT; }

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static const char *kind_name(uint32_t magic) {
    return magic == ALAEI_IDX_MAGIC_IMAGES ? "images" : "labels";
}

static alae_status load(const char *path, uint32_t want_magic, alaei_idx **out, const char *func) {
    if (!path) return alaei_fail(ALAE_E_INVALID_ARG, func, "path is NULL");
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, func, "out is NULL");
    src s;
    memset(&s, 0, sizeof s);
    s.path = path;
    s.func = func;
    alae_status opened = alaei_open_regular(path, func, &s.fd, &s.file_size);
    if (opened != ALAE_OK) return opened;
    uint8_t m2[2] = {0, 0};
    long long r = src_read(&s, m2, 2);
    if (r < 0) {
        close(s.fd);
        return src_status(r);
    }
    s.pos = 0;
    if (r == 2 && m2[0] == 0x1f && m2[1] == 0x8b) {
        s.is_gz = 1;
        if (lseek(s.fd, 0, SEEK_SET) != 0) {
            int e = errno;
            close(s.fd);
            return alaei_fail(ALAE_E_IO, func, "cannot seek '%s': %s", path, strerror(e));
        }
        s.gz = gzdopen(s.fd, "rb");
        if (!s.gz) {
            close(s.fd);
            return alaei_fail(ALAE_E_NOMEM, func, "cannot open a gzip stream on '%s'", path);
        }
        gzbuffer(s.gz, 1u << 17);
    } else if (lseek(s.fd, 0, SEEK_SET) != 0) {
        int e = errno;
        close(s.fd);
        return alaei_fail(ALAE_E_IO, func, "cannot seek '%s': %s", path, strerror(e));
    }
#define CLOSE_SRC() (s.is_gz ? (void)gzclose(s.gz) : (void)close(s.fd))

    const char *what = s.is_gz ? "decompresses to" : "has";
    uint32_t ndim = want_magic == ALAEI_IDX_MAGIC_IMAGES ? 3 : 1;
    uint8_t hdr[16];
    size_t hsize = 4 + 4 * (size_t)ndim;
    r = src_read(&s, hdr, 4);
    if (r < 0) {
        CLOSE_SRC();
        return src_status(r);
    }
    if (r < 4) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' %s %lld bytes, too short for an IDX header", path,
                          what, r);
    }
    uint32_t magic = be32(hdr);
    if (magic != want_magic) {
        CLOSE_SRC();
        if (magic == ALAEI_IDX_MAGIC_IMAGES || magic == ALAEI_IDX_MAGIC_LABELS)
            return alaei_fail(ALAE_E_FORMAT, func, "'%s' is an IDX %s file (magic 0x%08x), expected %s (0x%08x)",
                              path, kind_name(magic), magic, kind_name(want_magic), want_magic);
        if ((magic >> 16) == 0 && ((magic >> 8) & 0xFF) != 0x08)
            return alaei_fail(ALAE_E_FORMAT, func, "'%s': IDX element type 0x%02x is not unsigned byte (0x08)",
                              path, (magic >> 8) & 0xFF);
        return alaei_fail(ALAE_E_FORMAT, func, "'%s': bad magic 0x%08x, expected 0x%08x (IDX %s)", path,
                          magic, want_magic, kind_name(want_magic));
    }
    r = src_read(&s, hdr + 4, hsize - 4);
    if (r < 0) {
        CLOSE_SRC();
        return src_status(r);
    }
    if ((size_t)r < hsize - 4) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' %s %llu bytes, shorter than its %zu-byte IDX header",
                          path, what, (unsigned long long)s.pos, hsize);
    }
    uint32_t n = be32(hdr + 4);
    uint32_t rows = ndim == 3 ? be32(hdr + 8) : 1, cols = ndim == 3 ? be32(hdr + 12) : 1;
    if (n > ALAEI_IDX_MAX_COUNT) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s': item count %u exceeds %u", path, n, ALAEI_IDX_MAX_COUNT);
    }
    if (rows < 1 || rows > ALAEI_IDX_MAX_SIDE || cols < 1 || cols > ALAEI_IDX_MAX_SIDE) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s': image size %ux%u is outside 1..%u", path, rows,
                          cols, ALAEI_IDX_MAX_SIDE);
    }
    /* at most 1e8 * 4096 * 4096 < 2^61: no 64-bit overflow */
    uint64_t data_bytes = (uint64_t)n * rows * cols;
    uint64_t expected = data_bytes + hsize;
    if (data_bytes > (uint64_t)SIZE_MAX - 1) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s': %llu bytes of data do not fit this platform", path,
                          (unsigned long long)data_bytes);
    }
    if (!s.is_gz && s.file_size != expected) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' has %llu bytes, expected %llu (%u x %u x %u + %zu-byte header): %s",
                          path, (unsigned long long)s.file_size, (unsigned long long)expected, n, rows,
                          cols, hsize, s.file_size < expected ? "truncated" : "trailing data");
    }
    if (s.is_gz && expected / GZ_MAX_RATIO > s.file_size) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s': the header declares %llu bytes but a %llu-byte gzip file "
                          "cannot hold that much: truncated", path, (unsigned long long)expected,
                          (unsigned long long)s.file_size);
    }
    /* allocate as the data arrives (a gzip header cannot make us allocate what is not there) */
    size_t total = (size_t)data_bytes, cap = total, got = 0;
    if (s.is_gz && cap > ((size_t)64 << 20)) cap = (size_t)64 << 20;
    uint8_t *data = malloc(cap ? cap : 1);
    if (!data) {
        CLOSE_SRC();
        return alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes for '%s'", cap, path);
    }
    for (;;) {
        r = src_read(&s, data + got, cap - got);
        if (r < 0) {
            free(data);
            CLOSE_SRC();
            return src_status(r);
        }
        got += (size_t)r;
        if (got < cap) break; /* end of data */
        if (cap == total) break;
        size_t nc = cap > total / 2 ? total : cap * 2;
        uint8_t *nd = realloc(data, nc);
        if (!nd) {
            free(data);
            CLOSE_SRC();
            return alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes for '%s'", nc, path);
        }
        data = nd;
        cap = nc;
    }
    if (got < total) {
        free(data);
        CLOSE_SRC();
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' %s %llu bytes, expected %llu (%u x %u x %u + %zu-byte header): truncated",
                          path, what, (unsigned long long)(got + hsize), (unsigned long long)expected, n,
                          rows, cols, hsize);
    }
    /* nothing may follow */
    uint8_t scratch[4096];
    uint64_t extra = 0;
    for (;;) {
        r = src_read(&s, scratch, sizeof scratch);
        if (r < 0) {
            free(data);
            CLOSE_SRC();
            return src_status(r);
        }
        extra += (uint64_t)r;
        if ((size_t)r < sizeof scratch) break;
    }
    CLOSE_SRC();
#undef CLOSE_SRC
    if (extra > 0) {
        free(data);
        return alaei_fail(ALAE_E_FORMAT, func, "'%s' %s %llu bytes, expected %llu (%u x %u x %u + %zu-byte header): trailing data",
                          path, what, (unsigned long long)(expected + extra), (unsigned long long)expected,
                          n, rows, cols, hsize);
    }
    alaei_idx *idx = calloc(1, sizeof *idx);
    if (!idx) {
        free(data);
        return alaei_fail(ALAE_E_NOMEM, func, "out of memory");
    }
    idx->magic = magic;
    idx->count = n;
    idx->rows = rows;
    idx->cols = cols;
    idx->data = data;
    idx->nbytes = total;
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
