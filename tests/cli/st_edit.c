/* Writes a modified copy of a safetensors file, for the CLI test's hostile inputs:
 *   st_edit SRC DST u64 NAME INDEX VALUE       element INDEX of integer tensor NAME := VALUE
 *   st_edit SRC DST f32 NAME INDEX VALUE       element INDEX of F32 tensor NAME := VALUE (nan, inf)
 *   st_edit SRC DST meta KEY OLD NEW           the first OLD in metadata KEY := NEW
 *   st_edit SRC DST sparse NAME BYTES          adds an unused U8 tensor of BYTES bytes at the end
 *                                              of the data area, as a hole (a sparse file)
 * Exit status 0 on success, 1 with a message otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "io/safetensors.h"

static int die(const char *what) {
    fprintf(stderr, "st_edit: %s\n", what);
    return 1;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* Copies f into a writer, with tensor `name` replaced by data and metadata key's value by value. */
static int save_copy(const alaei_st_file *f, const char *dst, const char *name, const void *data, const char *key,
                     const char *value) {
    alaei_st_writer *w = NULL;
    if (alaei_st_writer_create(&w) != ALAE_OK) return 1;
    for (size_t i = 0; i < alaei_st_count(f); i++) {
        const alaei_st_tensor *t = alaei_st_at(f, i);
        alaei_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, name && !strcmp(t->name, name) ? data : t->data);
    }
    for (size_t i = 0; i < alaei_st_metadata_count(f); i++) {
        const char *k, *v;
        alaei_st_metadata_at(f, i, &k, &v);
        alaei_st_writer_set_metadata(w, k, key && !strcmp(k, key) ? value : v);
    }
    alae_status s = alaei_st_writer_save(w, dst);
    alaei_st_writer_destroy(w);
    return s == ALAE_OK ? 0 : die(alae_last_error());
}

static int edit_element(const alaei_st_file *f, const char *dst, const char *name, size_t index, const char *text,
                        int is_float) {
    const alaei_st_tensor *t = alaei_st_find(f, name);
    if (!t || index >= t->numel) return die("no such tensor or element");
    uint8_t *copy = malloc(t->nbytes);
    if (!copy) return die("no memory");
    memcpy(copy, t->data, t->nbytes);
    if (is_float) {
        float v = strtof(text, NULL);
        memcpy(copy + index * 4, &v, 4);
    } else {
        uint64_t v = strtoull(text, NULL, 10);
        memcpy(copy + index * 8, &v, 8);
    }
    int rc = save_copy(f, dst, name, copy, NULL, NULL);
    free(copy);
    return rc;
}

static int edit_meta(const alaei_st_file *f, const char *dst, const char *key, const char *old, const char *new_text) {
    const char *v = alaei_st_metadata_get(f, key);
    const char *at = v ? strstr(v, old) : NULL;
    if (!at) return die("metadata key or text not found");
    size_t len = strlen(v) - strlen(old) + strlen(new_text) + 1;
    char *value = malloc(len);
    if (!value) return die("no memory");
    snprintf(value, len, "%.*s%s%s", (int)(at - v), v, new_text, at + strlen(old));
    int rc = save_copy(f, dst, NULL, NULL, key, value);
    free(value);
    return rc;
}

/* The header of src with one more U8 tensor whose bytes follow the data area, as a hole. */
static int add_sparse(const char *src, const char *dst, const char *name, uint64_t bytes) {
    size_t n = 0;
    uint8_t *buf = slurp(src, &n);
    if (!buf || n < 8) return die("cannot read the source");
    uint64_t hn = 0;
    for (int b = 0; b < 8; b++) hn |= (uint64_t)buf[b] << (8 * b);
    size_t end = (size_t)hn + 8, data = n - end;
    while (end > 8 && buf[end - 1] == ' ') end--; /* the padding */
    char extra[512];
    int k = snprintf(extra, sizeof extra, ",\"%s\":{\"dtype\":\"U8\",\"shape\":[%" PRIu64 "],\"data_offsets\":[%zu,%" PRIu64 "]}}",
                     name, bytes, data, (uint64_t)data + bytes);
    uint64_t new_hn = (uint64_t)(end - 1 - 8) + (uint64_t)k;
    FILE *out = fopen(dst, "wb");
    if (!out) return die("cannot write the destination");
    uint8_t len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (uint8_t)(new_hn >> (8 * b));
    int ok = fwrite(len8, 1, 8, out) == 8 && fwrite(buf + 8, 1, end - 1 - 8, out) == end - 9 &&
             fwrite(extra, 1, (size_t)k, out) == (size_t)k && fwrite(buf + 8 + hn, 1, data, out) == data;
    ok = fflush(out) == 0 && ok;
    ok = ok && ftruncate(fileno(out), (off_t)(8 + new_hn + data + bytes)) == 0;
    fclose(out);
    free(buf);
    return ok ? 0 : die("write failed");
}

int main(int argc, char **argv) {
    if (argc < 6) return die("usage: st_edit SRC DST u64|f32|meta|sparse ARGS...");
    const char *src = argv[1], *dst = argv[2], *op = argv[3];
    if (!strcmp(op, "sparse")) return add_sparse(src, dst, argv[4], strtoull(argv[5], NULL, 10));
    if (argc < 7) return die("missing arguments");
    alaei_st_file *f = NULL;
    if (alaei_st_open(src, &f) != ALAE_OK) return die(alae_last_error());
    int rc;
    if (!strcmp(op, "u64") || !strcmp(op, "f32"))
        rc = edit_element(f, dst, argv[4], strtoull(argv[5], NULL, 10), argv[6], op[0] == 'f');
    else if (!strcmp(op, "meta")) rc = edit_meta(f, dst, argv[4], argv[5], argv[6]);
    else rc = die("unknown operation");
    alaei_st_free(f);
    return rc;
}
