/* Fake backend plugins for tests/unit/test_plugins.c, one per FAKE_MODE:
 *   0  no entry point at all
 *   1  an entry point that fails with ALAE_E_BACKEND_UNAVAILABLE and a message naming its file
 *   2  a table of another ABI version
 *   3  a working one-device backend whose table ends before the optional entries (a plugin built
 *      before they were appended): its struct_size is ALAEI_VTBL_REQUIRED_SIZE, and the optional
 *      slots hold pointers that crash if the host ever calls them */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"

/* mode 1 uses only part of the table */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#if FAKE_MODE != 0
static const alaei_host_services *host;

static int32_t fake_device_count(void) { return 1; }
static alae_status fake_device_info(int32_t device, alae_device_info *out) {
    if (device != 0 || !out) return host->fail(ALAE_E_INVALID_ARG, "fake_device_info", "device %d", (int)device);
    out->kind = ALAE_DEVICE_CPU;
    snprintf(out->name, sizeof out->name, "fake:%d", (int)device);
    snprintf(out->description, sizeof out->description, "a fake plugin with a short table");
    out->threads = 1;
    return ALAE_OK;
}
static alae_status fake_ctx_create(int32_t device, const alaei_host_services *h, void **bctx) {
    *bctx = malloc(16);
    return *bctx ? ALAE_OK : ALAE_E_NOMEM;
}
static void fake_ctx_destroy(void *bctx) { free(bctx); }
static alae_status fake_ok(void *bctx) { return ALAE_OK; }
static alae_status fake_set_threads(void *bctx, int32_t n) { return ALAE_OK; }
static alae_status fake_alloc(void *bctx, size_t bytes, void **out) {
    *out = malloc(bytes ? bytes : 1);
    return *out ? ALAE_OK : ALAE_E_NOMEM;
}
static void fake_free(void *bctx, void *p) { free(p); }
static alae_status fake_write(void *bctx, void *dst, const float *src, size_t n) {
    memcpy(dst, src, n * sizeof(float));
    return ALAE_OK;
}
static alae_status fake_read(void *bctx, float *dst, const void *src, size_t n) {
    memcpy(dst, src, n * sizeof(float));
    return ALAE_OK;
}
static alae_status fake_copy(void *bctx, void *dst, const void *src, size_t n) {
    memmove(dst, src, n * sizeof(float));
    return ALAE_OK;
}
static alae_status fake_fill(void *bctx, void *dst, size_t n, double v) {
    for (size_t i = 0; i < n; i++) ((float *)dst)[i] = (float)v;
    return ALAE_OK;
}
static int fake_supports(void *bctx, const alaei_op *op) { return op && op->code == ALAEI_OP_FILL; }
static alae_status fake_run_op(void *bctx, const alaei_op *op) {
    if (op->code != ALAEI_OP_FILL) return host->fail(ALAE_E_UNSUPPORTED, "fake_run_op", "only FILL");
    return fake_fill(bctx, op->dst.data, (size_t)alaei_numel4(op->dst.ne), op->fp[0]);
}

static alaei_backend_vtbl table;

ALAE_API alae_status alae_backend_plugin_entry(uint32_t host_abi_min, uint32_t host_abi_max,
                                               const alaei_host_services *h, const alaei_backend_vtbl **out) {
    host = h;
#if FAKE_MODE == 1
    Dl_info info;
    const char *self = dladdr((void *)fake_device_count, &info) && info.dli_fname ? info.dli_fname : "?";
    (void)host_abi_min, (void)host_abi_max, (void)out;
    return h->fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_backend_plugin_entry", "FAKE-PLUGIN %s refuses to load", self);
#else
    table.abi_version = FAKE_MODE == 2 ? 99 : ALAEI_BACKEND_ABI_VERSION;
    table.struct_size = (uint32_t)ALAEI_VTBL_REQUIRED_SIZE;
    table.name = "fake";
    table.elem_size = 4;
    table.device_count = fake_device_count;
    table.device_info = fake_device_info;
    table.ctx_create = fake_ctx_create;
    table.ctx_destroy = fake_ctx_destroy;
    table.set_threads = fake_set_threads;
    table.synchronize = fake_ok;
    table.buf_alloc = fake_alloc;
    table.buf_free = fake_free;
    table.write_f32 = fake_write;
    table.read_f32 = fake_read;
    table.copy = fake_copy;
    table.fill = fake_fill;
    table.supports = fake_supports;
    table.run_op = fake_run_op;
    /* beyond struct_size: a host that reads these crashes */
    uintptr_t bad = 16;
    memcpy(&table.set_option, &bad, sizeof bad);
    memcpy(&table.run_ops, &bad, sizeof bad);
    memcpy(&table.forget, &bad, sizeof bad);
    (void)host_abi_min, (void)host_abi_max;
    *out = &table;
    return ALAE_OK;
#endif
}
#else
ALAE_API int alae_fake_plugin_without_entry(void) { return 0; }
#endif
