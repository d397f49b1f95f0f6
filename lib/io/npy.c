/* NumPy .npy float32 files: an atomic writer and a strict reader. See npy.h. */
#include "io/npy.h"
#include "io/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io/atomic_file.h"

static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

alae_status alaei_write_npy_f32(const char *path, int32_t ndim, const int64_t *shape, const float *data) {
    const char *func = __func__;
    ALAEI_CHECK_ARG(path);
    if (ndim < 0 || ndim > ALAEI_NPY_MAX_DIMS)
        return alaei_fail(ALAE_E_INVALID_ARG, func, "ndim %d is outside 0..%d", (int)ndim, ALAEI_NPY_MAX_DIMS);
    if (ndim > 0 && !shape) return alaei_fail(ALAE_E_INVALID_ARG, func, "shape is NULL");
    size_t numel = 1;
    int overflow = 0, zero = 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return alaei_fail(ALAE_E_INVALID_ARG, func, "shape[%d] = %" PRId64 " is negative", (int)i, shape[i]);
        if (shape[i] == 0) zero = 1;
        if ((uint64_t)shape[i] > SIZE_MAX || !alaei_mul_size(numel, (size_t)shape[i], &numel)) overflow = 1;
    }
    size_t nbytes = 0;
    if (zero) numel = 0;
    else if (overflow || !alaei_mul_size(numel, 4, &nbytes))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "the array size overflows");
    if (nbytes > 0 && !data) return alaei_fail(ALAE_E_INVALID_ARG, func, "data is NULL");

    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int32_t i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%" PRId64, i ? ", " : "", shape[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", ndim == 1 ? "," : "");
    /* pad with spaces and a final '\n' so that the data starts at a multiple of 64 */
    size_t hlen = (size_t)k + 1;
    size_t total = 10 + hlen;
    size_t padded = (total + 63) / 64 * 64;
    hlen = padded - 10;
    unsigned char head[10 + 512 + 64];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xFF);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)k);
    memset(head + 10 + k, ' ', hlen - (size_t)k - 1);
    head[10 + hlen - 1] = '\n';

    alaei_atomic_file af;
    alae_status st = alaei_atomic_open(&af, path, func);
    if (st != ALAE_OK) return st;
    st = alaei_atomic_write(&af, head, 10 + hlen, func);
    if (st == ALAE_OK && nbytes > 0) {
        if (host_is_le()) {
            st = alaei_atomic_write(&af, data, nbytes, func);
        } else {
            unsigned char buf[4096];
            const unsigned char *src = (const unsigned char *)data;
            for (size_t done = 0; st == ALAE_OK && done < nbytes;) {
                size_t m = nbytes - done > sizeof buf ? sizeof buf : nbytes - done;
                for (size_t i = 0; i < m; i += 4)
                    for (size_t j = 0; j < 4; j++) buf[i + j] = src[done + i + 3 - j];
                st = alaei_atomic_write(&af, buf, m, func);
                done += m;
            }
        }
    }
    if (st != ALAE_OK) return st; /* cleaned up by the failed write */
    return alaei_atomic_commit(&af, func);
}

void alaei_npy_f32_free(alaei_npy_f32 *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

typedef struct {
    const char *s;
    size_t n, pos;
} lexer;

static void lx_ws(lexer *l) {
    while (l->pos < l->n && l->s[l->pos] == ' ') l->pos++;
}

static int lx_eat(lexer *l, char c) {
    lx_ws(l);
    if (l->pos < l->n && l->s[l->pos] == c) {
        l->pos++;
        return 1;
    }
    return 0;
}

/* A Python string literal in single or double quotes without escapes. */
static int lx_string(lexer *l, const char **s, size_t *len) {
    lx_ws(l);
    if (l->pos >= l->n || (l->s[l->pos] != '\'' && l->s[l->pos] != '"')) return 0;
    char q = l->s[l->pos++];
    size_t b = l->pos;
    while (l->pos < l->n && l->s[l->pos] != q) {
        if (l->s[l->pos] == '\\') return 0;
        l->pos++;
    }
    if (l->pos >= l->n) return 0;
    *s = l->s + b;
    *len = l->pos - b;
    l->pos++;
    return 1;
}

static int lx_word(lexer *l, const char *w) {
    lx_ws(l);
    size_t k = strlen(w);
    if (l->n - l->pos < k || memcmp(l->s + l->pos, w, k) != 0) return 0;
    l->pos += k;
    return 1;
}

static alae_status npy_fail(const char *path, const char *what) {
    return alaei_fail(ALAE_E_FORMAT, "alaei_read_npy_f32", "'%s': %s", path, what);
}

/* Parses the header dict; sets *swap for '>f4'. */
static alae_status parse_npy_dict(const char *path, const char *s, size_t n, alaei_npy_f32 *a, int *swap) {
    lexer l = {s, n, 0};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    if (!lx_eat(&l, '{')) return npy_fail(path, "header is not a dict");
    for (;;) {
        if (lx_eat(&l, '}')) break;
        const char *key;
        size_t kl;
        if (!lx_string(&l, &key, &kl)) return npy_fail(path, "header dict: expected a quoted key");
        if (!lx_eat(&l, ':')) return npy_fail(path, "header dict: expected ':'");
        if (kl == 5 && memcmp(key, "descr", 5) == 0) {
            const char *v;
            size_t vl;
            if (have_descr++) return npy_fail(path, "header dict: duplicate 'descr'");
            if (!lx_string(&l, &v, &vl)) return npy_fail(path, "header dict: 'descr' is not a string");
            if (vl == 3 && memcmp(v, "<f4", 3) == 0) *swap = !host_is_le();
            else if (vl == 3 && memcmp(v, ">f4", 3) == 0) *swap = host_is_le();
            else {
                char msg[96];
                snprintf(msg, sizeof msg, "dtype '%.*s' is not float32 ('<f4')", (int)(vl > 32 ? 32 : vl), v);
                return npy_fail(path, msg);
            }
        } else if (kl == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (have_fo++) return npy_fail(path, "header dict: duplicate 'fortran_order'");
            if (lx_word(&l, "True")) return npy_fail(path, "fortran_order True is not supported");
            if (!lx_word(&l, "False")) return npy_fail(path, "header dict: 'fortran_order' is not a boolean");
        } else if (kl == 5 && memcmp(key, "shape", 5) == 0) {
            if (have_shape++) return npy_fail(path, "header dict: duplicate 'shape'");
            if (!lx_eat(&l, '(')) return npy_fail(path, "header dict: 'shape' is not a tuple");
            a->ndim = 0;
            for (;;) {
                if (lx_eat(&l, ')')) break;
                lx_ws(&l);
                if (l.pos >= l.n || l.s[l.pos] < '0' || l.s[l.pos] > '9')
                    return npy_fail(path, "shape: expected a non-negative integer");
                uint64_t v = 0;
                while (l.pos < l.n && l.s[l.pos] >= '0' && l.s[l.pos] <= '9') {
                    v = v * 10 + (uint64_t)(l.s[l.pos++] - '0');
                    if (v > (uint64_t)INT64_MAX / 16) return npy_fail(path, "shape: dimension too large");
                }
                if (a->ndim >= ALAEI_NPY_MAX_DIMS) return npy_fail(path, "shape: more than 8 dimensions");
                a->shape[a->ndim++] = (int64_t)v;
                if (lx_eat(&l, ',')) continue;
                if (lx_eat(&l, ')')) break;
                return npy_fail(path, "shape: expected ',' or ')'");
            }
        } else {
            return npy_fail(path, "header dict: unknown key");
        }
        if (lx_eat(&l, ',')) continue;
        if (lx_eat(&l, '}')) break;
        return npy_fail(path, "header dict: expected ',' or '}'");
    }
    if (!have_descr || !have_fo || !have_shape)
        return npy_fail(path, "header dict must have 'descr', 'fortran_order' and 'shape'");
    lx_ws(&l);
    if (l.pos + 1 != l.n || l.s[l.pos] != '\n') return npy_fail(path, "header does not end with '\\n'");
    return ALAE_OK;
}

static int read_full(int fd, void *dst, size_t n) {
    unsigned char *p = dst;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = read(fd, p, chunk);
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
    }
    return 1;
}

alae_status alaei_read_npy_f32(const char *path, alaei_npy_f32 *out) {
    const char *func = __func__;
    ALAEI_CHECK_ARG(out);
    memset(out, 0, sizeof *out);
    ALAEI_CHECK_ARG(path);
    int fd;
    uint64_t fsize;
    alae_status opened = alaei_open_regular(path, func, &fd, &fsize);
    if (opened != ALAE_OK) return opened;
    unsigned char pre[12];
    alae_status st = ALAE_OK;
    char *hdr = NULL;
    float *data = NULL;
    alaei_npy_f32 a;
    memset(&a, 0, sizeof a);
    int swap = 0;
    if (fsize < 10) {
        st = npy_fail(path, "file is shorter than the 10-byte .npy preamble");
        goto done;
    }
    if (!read_full(fd, pre, 10)) {
        st = alaei_fail(ALAE_E_IO, func, "cannot read '%s': %s", path, errno ? strerror(errno) : "unexpected end of file");
        goto done;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = npy_fail(path, "bad magic (not a .npy file)");
        goto done;
    }
    uint64_t hlen, pre_len;
    if (pre[6] == 1 && pre[7] == 0) {
        hlen = (uint64_t)pre[8] | ((uint64_t)pre[9] << 8);
        pre_len = 10;
    } else if ((pre[6] == 2 || pre[6] == 3) && pre[7] == 0) {
        if (fsize < 12 || !read_full(fd, pre + 10, 2)) {
            st = npy_fail(path, "truncated .npy preamble");
            goto done;
        }
        hlen = (uint64_t)pre[8] | ((uint64_t)pre[9] << 8) | ((uint64_t)pre[10] << 16) | ((uint64_t)pre[11] << 24);
        pre_len = 12;
    } else {
        char msg[64];
        snprintf(msg, sizeof msg, "unsupported .npy version %u.%u", pre[6], pre[7]);
        st = npy_fail(path, msg);
        goto done;
    }
    if (hlen == 0 || hlen > ALAEI_NPY_MAX_HEADER) {
        st = npy_fail(path, "header length is 0 or larger than 64 KiB");
        goto done;
    }
    if (pre_len + hlen > fsize) {
        st = npy_fail(path, "the header runs past the end of the file");
        goto done;
    }
    hdr = malloc((size_t)hlen);
    if (!hdr) {
        st = alaei_fail(ALAE_E_NOMEM, func, "out of memory");
        goto done;
    }
    if (!read_full(fd, hdr, (size_t)hlen)) {
        st = alaei_fail(ALAE_E_IO, func, "cannot read '%s': %s", path, errno ? strerror(errno) : "unexpected end of file");
        goto done;
    }
    for (uint64_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)hdr[i];
        if (ch >= 0x80 || (ch < 0x20 && ch != '\n')) {
            st = npy_fail(path, "header is not printable ASCII");
            goto done;
        }
    }
    st = parse_npy_dict(path, hdr, (size_t)hlen, &a, &swap);
    if (st != ALAE_OK) goto done;
    size_t numel = 1, nbytes = 0;
    int overflow = 0, zero = 0;
    for (int32_t i = 0; i < a.ndim; i++) {
        if (a.shape[i] == 0) zero = 1;
        if ((uint64_t)a.shape[i] > SIZE_MAX || !alaei_mul_size(numel, (size_t)a.shape[i], &numel)) overflow = 1;
    }
    if (zero) numel = 0;
    else if (overflow || !alaei_mul_size(numel, 4, &nbytes)) {
        st = npy_fail(path, "shape product overflows");
        goto done;
    }
    if (fsize - pre_len - hlen != (uint64_t)nbytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "file has %" PRIu64 " data bytes, the shape needs %zu (%s)",
                 fsize - pre_len - hlen, nbytes, fsize - pre_len - hlen < nbytes ? "truncated" : "trailing data");
        st = npy_fail(path, msg);
        goto done;
    }
    data = malloc(nbytes ? nbytes : 1);
    if (!data) {
        st = alaei_fail(ALAE_E_NOMEM, func, "cannot allocate %zu bytes for '%s'", nbytes, path);
        goto done;
    }
    if (!read_full(fd, data, nbytes)) {
        st = alaei_fail(ALAE_E_IO, func, "cannot read '%s': %s", path, errno ? strerror(errno) : "unexpected end of file");
        goto done;
    }
    if (swap) {
        unsigned char *b = (unsigned char *)data;
        for (size_t i = 0; i < nbytes; i += 4) {
            unsigned char t0 = b[i], t1 = b[i + 1];
            b[i] = b[i + 3];
            b[i + 1] = b[i + 2];
            b[i + 2] = t1;
            b[i + 3] = t0;
        }
    }
    a.numel = numel;
    a.data = data;
    data = NULL;
    *out = a;
done:
    free(hdr);
    free(data);
    close(fd);
    return st;
}
