/* PyTorch checkpoint containers (torch_file.h): the legacy stream and the zip archive. */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L
#include "torch_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minizip/unzip.h>

#define FUNC "alae_model_import_pth"
#define MAX_STORAGES (1 << 20)
#define MAX_KEY 64
#define LEGACY_PROTOCOL 1001
#define BUF_SIZE 65536

/* 0x1950a86a20f9469cfc6c, torch.serialization's MAGIC_NUMBER, as LONG1 bytes */
static const uint8_t legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

typedef struct storage {
    char key[MAX_KEY];
    alaei_pk_dtype dtype;
    uint64_t numel;
    int64_t root;        /* a view's storage (legacy view_metadata), else -1 */
    uint64_t view_offset; /* elements into root */
    int located;
    uint64_t pos;        /* legacy: file offset of the bytes */
    unz64_file_pos entry; /* zip: archive entry */
} storage;

struct alaei_pth {
    int is_zip;
    FILE *fp;
    uint64_t file_size;
    unzFile zip;
    char prefix[256]; /* zip: "<name>/" */
    alaei_pk_reader *reader;
    const alaei_pk_value *root;
    storage *st;
    int64_t n_st, cap_st;
    int64_t *slots; /* open-addressing index of st by key (-1: empty), hash_cap a power of two */
    size_t hash_cap;
};

/* ---- storages named by persistent ids ---- */

static uint64_t key_hash(const char *key) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *key; key++) h = (h ^ (uint8_t)*key) * 1099511628211ull;
    return h;
}

static int64_t find_storage(const alaei_pth *f, const char *key) {
    if (!f->hash_cap) return -1;
    for (size_t i = (size_t)key_hash(key) & (f->hash_cap - 1);; i = (i + 1) & (f->hash_cap - 1)) {
        int64_t at = f->slots[i];
        if (at < 0 || !strcmp(f->st[at].key, key)) return at;
    }
}

/* Indexes st[0 .. n_st) again in a table of at least twice as many slots. */
static alae_status rehash(alaei_pth *f) {
    size_t cap = f->hash_cap ? f->hash_cap : 64;
    while (cap < 2 * (size_t)f->n_st) cap *= 2;
    int64_t *slots = malloc(cap * sizeof *slots);
    if (!slots) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory for the storage table");
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (int64_t k = 0; k < f->n_st; k++) {
        size_t i = (size_t)key_hash(f->st[k].key) & (cap - 1);
        while (slots[i] >= 0) i = (i + 1) & (cap - 1);
        slots[i] = k;
    }
    free(f->slots);
    f->slots = slots;
    f->hash_cap = cap;
    return ALAE_OK;
}

static alae_status add_storage(alaei_pth *f, const char *key, alaei_pk_dtype dtype, uint64_t numel, int64_t *index) {
    int64_t i = find_storage(f, key);
    if (i >= 0) {
        if (f->st[i].dtype != dtype || f->st[i].numel != numel)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "storage '%s' is declared twice with different types or sizes", key);
        *index = i;
        return ALAE_OK;
    }
    if (f->n_st >= MAX_STORAGES) return alaei_fail(ALAE_E_FORMAT, FUNC, "more storages than the reader allows");
    if (f->n_st == f->cap_st) {
        int64_t cap = f->cap_st ? 2 * f->cap_st : 64;
        storage *st = realloc(f->st, (size_t)cap * sizeof *st);
        if (!st) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory for the storage table");
        f->st = st;
        f->cap_st = cap;
    }
    storage *s = &f->st[f->n_st];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    s->dtype = dtype;
    s->numel = numel;
    s->root = -1;
    *index = f->n_st++;
    if ((size_t)f->n_st * 2 > f->hash_cap) return rehash(f);
    size_t slot = (size_t)key_hash(s->key) & (f->hash_cap - 1);
    while (f->slots[slot] >= 0) slot = (slot + 1) & (f->hash_cap - 1);
    f->slots[slot] = *index;
    return ALAE_OK;
}

static int short_key(const alaei_pk_value *v) {
    if (v->kind != ALAEI_PK_STR || !v->u.str.s || v->u.str.len == 0 || v->u.str.len >= MAX_KEY) return 0;
    for (size_t i = 0; i < v->u.str.len; i++)
        if (v->u.str.s[i] <= 0x20 || v->u.str.s[i] == '/' || v->u.str.s[i] >= 0x7f) return 0;
    return 1;
}

/* ('storage', <X>Storage, key, location, numel[, view_metadata]) */
static alae_status on_persid(void *user, const alaei_pk_value *pid, int64_t *index, alaei_pk_dtype *dtype) {
    alaei_pth *f = user;
    const alaei_pk_value *const *a = pid->kind == ALAEI_PK_TUPLE ? (const alaei_pk_value *const *)pid->u.seq.items : NULL;
    size_t n = a ? pid->u.seq.n : 0;
    if (!a || (n != 5 && n != 6) || !alaei_pk_is_str(a[0], "storage") || a[1]->kind != ALAEI_PK_GLOBAL ||
        a[1]->u.glob.known != ALAEI_PKG_STORAGE_TYPE || !short_key(a[2]) || a[4]->kind != ALAEI_PK_INT || a[4]->u.i < 0)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "pickle: a persistent id that is not a storage reference");
    *dtype = a[1]->u.glob.dtype;
    alae_status s = add_storage(f, a[2]->u.str.s, *dtype, (uint64_t)a[4]->u.i, index);
    if (s != ALAE_OK || n == 5 || a[5]->kind == ALAEI_PK_NONE) return s;
    /* legacy view_metadata: (view_key, offset, view_size) into the root storage */
    const alaei_pk_value *vm = a[5];
    if (vm->kind != ALAEI_PK_TUPLE || vm->u.seq.n != 3 || !short_key(vm->u.seq.items[0]) ||
        vm->u.seq.items[1]->kind != ALAEI_PK_INT || vm->u.seq.items[2]->kind != ALAEI_PK_INT ||
        vm->u.seq.items[1]->u.i < 0 || vm->u.seq.items[2]->u.i < 0 ||
        (uint64_t)vm->u.seq.items[1]->u.i > f->st[*index].numel ||
        (uint64_t)vm->u.seq.items[2]->u.i > f->st[*index].numel - (uint64_t)vm->u.seq.items[1]->u.i)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "pickle: a storage view outside its storage '%s'", f->st[*index].key);
    int64_t root = *index;
    s = add_storage(f, vm->u.seq.items[0]->u.str.s, *dtype, (uint64_t)vm->u.seq.items[2]->u.i, index);
    if (s == ALAE_OK && *index != root) {
        f->st[*index].root = root;
        f->st[*index].view_offset = (uint64_t)vm->u.seq.items[1]->u.i;
    }
    return s;
}

/* ---- the legacy stream ---- */

static int file_read(void *user, void *buf, size_t n) {
    return fread(buf, 1, n, ((alaei_pth *)user)->fp) == n ? 0 : -1;
}

static uint64_t file_remaining(void *user) {
    alaei_pth *f = user;
    off_t at = ftello(f->fp);
    return at < 0 || (uint64_t)at > f->file_size ? 0 : f->file_size - (uint64_t)at;
}

static alae_status read_legacy_header(alaei_pth *f, alaei_pk_source *src) {
    const alaei_pk_value *magic, *protocol, *sys_info;
    alae_status s = alaei_pk_read(f->reader, src, NULL, NULL, &magic);
    if (s != ALAE_OK) return s;
    if (magic->kind != ALAEI_PK_BIGINT || magic->u.str.len != sizeof legacy_magic || !magic->u.str.s ||
        memcmp(magic->u.str.s, legacy_magic, sizeof legacy_magic) != 0)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "not a PyTorch checkpoint: the magic number is wrong");
    s = alaei_pk_read(f->reader, src, NULL, NULL, &protocol);
    if (s == ALAE_OK && (protocol->kind != ALAEI_PK_INT || protocol->u.i != LEGACY_PROTOCOL))
        s = alaei_fail(ALAE_E_FORMAT, FUNC, "unsupported PyTorch serialization protocol (expected %d)", LEGACY_PROTOCOL);
    if (s == ALAE_OK) s = alaei_pk_read(f->reader, src, NULL, NULL, &sys_info);
    if (s != ALAE_OK) return s;
    const alaei_pk_value *little = alaei_pk_dict_get(sys_info, "little_endian");
    if (sys_info->kind != ALAEI_PK_DICT || (little && (little->kind != ALAEI_PK_BOOL || !little->u.i)))
        return alaei_fail(ALAE_E_FORMAT, FUNC, "the checkpoint was written on a big-endian machine or its system "
                                               "information is malformed");
    return ALAE_OK;
}

/* After the object: the list of storage keys, then per key an int64 element count and the bytes. */
static alae_status locate_legacy_storages(alaei_pth *f, alaei_pk_source *src) {
    const alaei_pk_value *keys;
    alae_status s = alaei_pk_read(f->reader, src, NULL, NULL, &keys);
    if (s != ALAE_OK) return s;
    if (keys->kind != ALAEI_PK_LIST) return alaei_fail(ALAE_E_FORMAT, FUNC, "the list of storage keys is missing");
    for (size_t k = 0; k < keys->u.seq.n; k++) {
        const alaei_pk_value *key = keys->u.seq.items[k];
        int64_t i = short_key(key) ? find_storage(f, key->u.str.s) : -1;
        if (i < 0 || f->st[i].root >= 0 || f->st[i].located)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "storage key %zu is unknown, a view or listed twice", k);
        uint8_t b[8];
        if (fread(b, 1, 8, f->fp) != 8)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "the file ends before storage '%s'", f->st[i].key);
        uint64_t numel = 0;
        for (int j = 7; j >= 0; j--) numel = (numel << 8) | b[j];
        size_t bytes;
        if (numel != f->st[i].numel || !alaei_mul_size((size_t)numel, alaei_pk_dtype_size(f->st[i].dtype), &bytes) ||
            bytes > file_remaining(f))
            return alaei_fail(ALAE_E_FORMAT, FUNC,
                              "storage '%s' holds %llu elements where the pickle declares %llu, or runs past the end "
                              "of the file",
                              f->st[i].key, (unsigned long long)numel, (unsigned long long)f->st[i].numel);
        f->st[i].pos = (uint64_t)ftello(f->fp);
        f->st[i].located = 1;
        if (fseeko(f->fp, (off_t)bytes, SEEK_CUR) != 0) return alaei_fail(ALAE_E_IO, FUNC, "cannot seek in the file");
    }
    for (int64_t i = 0; i < f->n_st; i++)
        if (f->st[i].root < 0 && !f->st[i].located)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "storage '%s' has no data in the file", f->st[i].key);
    if (file_remaining(f) != 0)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "%llu bytes follow the last storage",
                          (unsigned long long)file_remaining(f));
    return ALAE_OK;
}

static alae_status open_legacy(alaei_pth *f) {
    alaei_pk_source src = {file_read, file_remaining, f, 0};
    alae_status s = read_legacy_header(f, &src);
    if (s == ALAE_OK) s = alaei_pk_read(f->reader, &src, on_persid, f, &f->root);
    if (s == ALAE_OK) s = locate_legacy_storages(f, &src);
    return s;
}

/* ---- the zip archive (zlib's minizip) ---- */

typedef struct zip_src {
    unzFile zip;
    uint64_t size, consumed;
    uint8_t buf[BUF_SIZE];
    size_t have, at;
} zip_src;

/* Reads exactly n bytes of the open entry. */
static int zip_read_exact(unzFile zip, void *out, size_t n) {
    uint8_t *o = out;
    while (n > 0) {
        unsigned k = n < (1u << 30) ? (unsigned)n : (1u << 30);
        int got = unzReadCurrentFile(zip, o, k);
        if (got <= 0) return -1;
        o += got;
        n -= (size_t)got;
    }
    return 0;
}

static int zip_src_read(void *user, void *out, size_t n) {
    zip_src *z = user;
    uint8_t *o = out;
    while (n > 0) {
        if (z->at == z->have) {
            int got = unzReadCurrentFile(z->zip, z->buf, sizeof z->buf);
            if (got <= 0) return -1;
            z->have = (size_t)got;
            z->at = 0;
        }
        size_t k = z->have - z->at < n ? z->have - z->at : n;
        memcpy(o, z->buf + z->at, k);
        z->at += k;
        o += k;
        n -= k;
        z->consumed += k;
    }
    return 0;
}

static uint64_t zip_src_remaining(void *user) {
    zip_src *z = user;
    return z->consumed <= z->size ? z->size - z->consumed : 0;
}

/* The current entry's name and size. */
static int entry_info(unzFile zip, char *name, size_t cap, uint64_t *size) {
    unz_file_info64 info;
    if (unzGetCurrentFileInfo64(zip, &info, name, (uLong)cap, NULL, 0, NULL, 0) != UNZ_OK) return -1;
    if (info.size_filename >= cap) return -1;
    name[info.size_filename] = '\0';
    *size = info.uncompressed_size;
    return 0;
}

/* The one "<name>/data.pkl" entry gives the archive's prefix; leaves it the current entry. */
static alae_status find_data_pkl(alaei_pth *f, uint64_t *size) {
    char name[512];
    int found = 0, err = unzGoToFirstFile(f->zip);
    unz64_file_pos pos = {0};
    for (; err == UNZ_OK; err = unzGoToNextFile(f->zip)) {
        uint64_t n;
        if (entry_info(f->zip, name, sizeof name, &n) != 0) continue;
        const char *slash = strchr(name, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (found++ || (size_t)(slash - name) + 2 > sizeof f->prefix)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: several or odd data.pkl entries");
        snprintf(f->prefix, sizeof f->prefix, "%.*s/", (int)(slash - name), name);
        *size = n;
        if (unzGetFilePos64(f->zip, &pos) != UNZ_OK) return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: unreadable");
    }
    if (err != UNZ_END_OF_LIST_OF_FILE) return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: a malformed directory");
    if (!found) return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive without a <name>/data.pkl entry");
    if (unzGoToFilePos64(f->zip, &pos) != UNZ_OK) return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: unreadable");
    return ALAE_OK;
}

static alae_status check_byteorder(alaei_pth *f) {
    char name[300], text[16] = {0};
    snprintf(name, sizeof name, "%sbyteorder", f->prefix);
    if (unzLocateFile(f->zip, name, 1) != UNZ_OK) return ALAE_OK; /* older writers leave it out: little-endian */
    int got = -1;
    if (unzOpenCurrentFile(f->zip) == UNZ_OK) {
        got = unzReadCurrentFile(f->zip, text, sizeof text - 1);
        unzCloseCurrentFile(f->zip);
    }
    if (got != 6 || strcmp(text, "little") != 0)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "the checkpoint's byte order is not little-endian");
    return ALAE_OK;
}

static alae_status read_zip_pickle(alaei_pth *f) {
    uint64_t size = 0;
    alae_status s = find_data_pkl(f, &size);
    if (s != ALAE_OK) return s;
    zip_src *z = calloc(1, sizeof *z);
    if (!z) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory");
    z->zip = f->zip;
    z->size = size;
    if (unzOpenCurrentFile(f->zip) != UNZ_OK) {
        free(z);
        return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: data.pkl cannot be opened");
    }
    alaei_pk_source src = {zip_src_read, zip_src_remaining, z, 0};
    s = alaei_pk_read(f->reader, &src, on_persid, f, &f->root);
    unzCloseCurrentFile(f->zip);
    free(z);
    return s == ALAE_OK ? check_byteorder(f) : s;
}

/* One pass over the archive's entries: "<prefix>data/<key>" locates storage <key>. */
static alae_status locate_zip_storages(alaei_pth *f) {
    char name[512], data_dir[300];
    snprintf(data_dir, sizeof data_dir, "%sdata/", f->prefix);
    size_t dl = strlen(data_dir);
    int err = unzGoToFirstFile(f->zip);
    for (; err == UNZ_OK; err = unzGoToNextFile(f->zip)) {
        uint64_t size = 0;
        if (entry_info(f->zip, name, sizeof name, &size) != 0 || strncmp(name, data_dir, dl) != 0) continue;
        int64_t i = find_storage(f, name + dl);
        if (i < 0 || f->st[i].root >= 0) continue; /* a storage nothing refers to */
        storage *s = &f->st[i];
        size_t bytes;
        if (s->located || unzGetFilePos64(f->zip, &s->entry) != UNZ_OK ||
            !alaei_mul_size((size_t)s->numel, alaei_pk_dtype_size(s->dtype), &bytes) || size < bytes)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: storage '%s' is listed twice or shorter than its %llu elements",
                              s->key, (unsigned long long)s->numel);
        s->located = 1;
    }
    if (err != UNZ_END_OF_LIST_OF_FILE) return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: a malformed directory");
    for (int64_t i = 0; i < f->n_st; i++)
        if (f->st[i].root < 0 && !f->st[i].located)
            return alaei_fail(ALAE_E_FORMAT, FUNC, "zip archive: storage '%s' is missing", f->st[i].key);
    return ALAE_OK;
}

static alae_status open_zip(alaei_pth *f, const char *path) {
    f->zip = unzOpen64(path);
    if (!f->zip) return alaei_fail(ALAE_E_FORMAT, FUNC, "not a readable zip archive");
    alae_status s = read_zip_pickle(f);
    if (s == ALAE_OK) s = locate_zip_storages(f);
    return s;
}

/* ---- opening ---- */

alae_status alaei_pth_open(const char *path, alaei_pth **out) {
    *out = NULL;
    alaei_pth *f = calloc(1, sizeof *f);
    if (!f) return alaei_fail(ALAE_E_NOMEM, FUNC, "no memory");
    f->fp = fopen(path, "rb");
    if (!f->fp) {
        free(f);
        return alaei_fail(ALAE_E_IO, FUNC, "cannot open %s", path);
    }
    uint8_t head[4] = {0};
    size_t got = fread(head, 1, 4, f->fp);
    alae_status s = fseeko(f->fp, 0, SEEK_END) == 0 ? ALAE_OK : alaei_fail(ALAE_E_IO, FUNC, "cannot seek in %s", path);
    off_t size = ftello(f->fp);
    f->file_size = size > 0 ? (uint64_t)size : 0;
    if (s == ALAE_OK && fseeko(f->fp, 0, SEEK_SET) != 0) s = alaei_fail(ALAE_E_IO, FUNC, "cannot seek in %s", path);
    if (s == ALAE_OK) s = alaei_pk_reader_create(&f->reader);
    f->is_zip = got == 4 && !memcmp(head, "PK\x03\x04", 4);
    if (s == ALAE_OK && !f->is_zip && (got < 2 || head[0] != 0x80))
        s = alaei_fail(ALAE_E_FORMAT, FUNC, "not a PyTorch checkpoint (neither a zip archive nor a pickle stream)");
    if (s == ALAE_OK) s = f->is_zip ? open_zip(f, path) : open_legacy(f);
    if (s != ALAE_OK) {
        alaei_pth_close(f);
        return s;
    }
    *out = f;
    return ALAE_OK;
}

void alaei_pth_close(alaei_pth *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    if (f->zip) unzClose(f->zip);
    alaei_pk_reader_destroy(f->reader);
    free(f->st);
    free(f->slots);
    free(f);
}

const alaei_pk_value *alaei_pth_root(const alaei_pth *f) { return f->root; }

const char *alaei_pth_format(const alaei_pth *f) { return f->is_zip ? "zip" : "legacy"; }

/* ---- tensor data ---- */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0x1F)
        bits = sign | 0x7F800000u | (man << 13);
    else if (exp != 0)
        bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0)
        bits = sign;
    else { /* subnormal */
        int e = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | ((uint32_t)e << 23) | ((man & 0x3FFu) << 13);
    }
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void to_f32(alaei_pk_dtype t, const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (t == ALAEI_PKD_F64) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        } else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            if (t == ALAEI_PKD_F16) {
                dst[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
    }
}

/* Reads n elements at element offset `at` of a located storage, converting to float32. */
static int read_raw(alaei_pth *f, void *dst, size_t bytes) {
    if (!f->is_zip) return fread(dst, 1, bytes, f->fp) == bytes ? 0 : -1;
    return zip_read_exact(f->zip, dst, bytes);
}

static int seek_raw(alaei_pth *f, const storage *s, uint64_t byte_offset) {
    if (!f->is_zip) return fseeko(f->fp, (off_t)(s->pos + byte_offset), SEEK_SET);
    uint8_t buf[4096]; /* minizip cannot seek inside an entry: read up to the offset */
    while (byte_offset > 0) {
        size_t k = byte_offset < sizeof buf ? (size_t)byte_offset : sizeof buf;
        if (read_raw(f, buf, k) != 0) return -1;
        byte_offset -= k;
    }
    return 0;
}

static alae_status read_elements(alaei_pth *f, const storage *s, uint64_t at, float *dst, size_t n, const char *what) {
    size_t es = alaei_pk_dtype_size(s->dtype);
    if (f->is_zip && (unzGoToFilePos64(f->zip, &s->entry) != UNZ_OK || unzOpenCurrentFile(f->zip) != UNZ_OK))
        return alaei_fail(ALAE_E_FORMAT, FUNC, "%s: zip entry of storage '%s' cannot be opened", what, s->key);
    alae_status st = ALAE_OK;
    if (seek_raw(f, s, at * es) != 0) st = alaei_fail(ALAE_E_FORMAT, FUNC, "%s: cannot reach its data", what);
    if (st == ALAE_OK && s->dtype == ALAEI_PKD_F32) {
        if (read_raw(f, dst, n * 4) != 0) st = alaei_fail(ALAE_E_FORMAT, FUNC, "%s: its data cannot be read", what);
    } else {
        uint8_t buf[BUF_SIZE];
        for (size_t done = 0; st == ALAE_OK && done < n;) {
            size_t k = (n - done) < BUF_SIZE / es ? n - done : BUF_SIZE / es;
            if (read_raw(f, buf, k * es) != 0)
                st = alaei_fail(ALAE_E_FORMAT, FUNC, "%s: its data cannot be read", what);
            else
                to_f32(s->dtype, buf, dst + done, k);
            done += k;
        }
    }
    if (f->is_zip) unzCloseCurrentFile(f->zip);
    return st;
}

static int is_contiguous(const alaei_pk_value *t) {
    int64_t expect = 1;
    for (int d = t->u.tensor->ndim - 1; d >= 0; d--) {
        if (t->u.tensor->shape[d] != 1 && t->u.tensor->stride[d] != expect) return 0;
        expect *= t->u.tensor->shape[d];
    }
    return 1;
}

alae_status alaei_pth_read_f32(alaei_pth *f, const alaei_pk_value *t, float *dst, const char *what) {
    if (t->kind != ALAEI_PK_TENSOR || t->u.tensor->storage < 0 || t->u.tensor->storage >= f->n_st)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "%s is not a tensor", what);
    alaei_pk_dtype dt = t->u.tensor->dtype;
    if (dt != ALAEI_PKD_F32 && dt != ALAEI_PKD_F64 && dt != ALAEI_PKD_F16 && dt != ALAEI_PKD_BF16)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "%s holds %s, not floats", what, alaei_pk_dtype_name(dt));
    if (!is_contiguous(t)) return alaei_fail(ALAE_E_FORMAT, FUNC, "%s is not contiguous", what);
    const storage *s = &f->st[t->u.tensor->storage];
    uint64_t at = (uint64_t)t->u.tensor->offset, n = (uint64_t)t->u.tensor->numel;
    if (n == 0) return ALAE_OK;
    if (at > s->numel || n > s->numel - at)
        return alaei_fail(ALAE_E_FORMAT, FUNC, "%s runs past the end of its storage '%s'", what, s->key);
    if (s->root >= 0) {
        at += s->view_offset;
        s = &f->st[s->root];
    }
    if (!s->located) return alaei_fail(ALAE_E_FORMAT, FUNC, "%s: storage '%s' has no data", what, s->key);
    return read_elements(f, s, at, dst, (size_t)n, what);
}
