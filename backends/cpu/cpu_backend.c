/* The built-in CPU backend: its vtable, device description, per-context state (thread pool and
 * scratch), memory and the op dispatch. Elements are stored as float. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_internal.h"

#define CPU_ALIGN 64

/* ---- device ---- */

static int32_t cpu_device_count(void) { return 1; }

/* "AMD EPYC 7B12" from /proc/cpuinfo ("model name"), or "" when unknown. */
static void cpu_model_name(char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        const char *s = colon + 1;
        while (*s == ' ' || *s == '\t') s++;
        size_t n = strcspn(s, "\n");
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n >= size) n = size - 1;
        memcpy(out, s, n);
        out[n] = '\0';
        break;
    }
    fclose(f);
}

static int32_t online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return (int32_t)n;
}

static alae_status cpu_device_info(int32_t device, alae_device_info *out) {
    if (device != 0) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_device_info", "cpu device %d does not exist", (int)device);
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_device_info", "out is NULL");
    out->kind = ALAE_DEVICE_CPU;
    snprintf(out->name, sizeof out->name, "cpu");
    char model[96];
    cpu_model_name(model, sizeof model);
    snprintf(out->description, sizeof out->description, "%s | %s", model[0] ? model : "unknown CPU",
             alaei_cpu_blas_description());
    long page = sysconf(_SC_PAGESIZE), phys = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    out->mem_total = page > 0 && phys > 0 ? (uint64_t)page * (uint64_t)phys : 0;
    out->mem_free = page > 0 && avail > 0 ? (uint64_t)page * (uint64_t)avail : 0;
    out->threads = online_cpus();
    return ALAE_OK;
}

/* ---- contexts ---- */

static alae_status cpu_set_threads(void *bctx, int32_t threads) {
    cpu_ctx *ctx = bctx;
    if (!ctx) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_set_threads", "no context");
    if (threads < 1 || threads > 256)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_set_threads", "%d threads is not in 1..256", (int)threads);
    if (threads != ctx->threads || (threads > 1 && !ctx->pool)) {
        cpu_pool *pool = NULL;
        if (threads > 1) {
            alae_status s = cpu_pool_create(threads, &pool);
            if (s != ALAE_OK) return s; /* the old pool stays */
        }
        cpu_pool_destroy(ctx->pool);
        ctx->pool = pool;
        ctx->threads = threads;
    }
    /* process-global (see cpu_blas.c): the context that set it last wins */
    cpu_blas_set_threads(threads);
    return ALAE_OK;
}

static alae_status cpu_ctx_create(int32_t device, const alaei_host_services *host, void **bctx) {
    (void)host; /* built in: it calls alaei_fail / alaei_log directly */
    if (!bctx) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_ctx_create", "bctx is NULL");
    *bctx = NULL;
    if (device != 0) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_ctx_create", "cpu device %d does not exist", (int)device);
    cpu_blas_init();
    cpu_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return alaei_fail(ALAE_E_NOMEM, "cpu_ctx_create", "no memory for a cpu context");
    ctx->device = device;
    ctx->threads = 1; /* the core calls set_threads right after creation */
    ctx->winograd = alaei_winograd_default();
    *bctx = ctx;
    return ALAE_OK;
}

static void cpu_ctx_destroy(void *bctx) {
    cpu_ctx *ctx = bctx;
    if (!ctx) return;
    cpu_pool_destroy(ctx->pool);
    free(ctx->scratch);
    free(ctx);
}

static alae_status cpu_synchronize(void *bctx) {
    (void)bctx; /* every op completes before run_op returns */
    return ALAE_OK;
}

void *cpu_scratch(cpu_ctx *ctx, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (ctx->scratch_bytes >= bytes) return ctx->scratch;
    size_t want = bytes + bytes / 4;
    if (want < bytes) want = bytes;
    size_t rounded = (want + CPU_ALIGN - 1) & ~(size_t)(CPU_ALIGN - 1);
    if (rounded < want) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, CPU_ALIGN, rounded) != 0 || !p) {
        alaei_fail(ALAE_E_NOMEM, "cpu_scratch", "no memory for %zu bytes of scratch", bytes);
        return NULL;
    }
    free(ctx->scratch);
    ctx->scratch = p;
    ctx->scratch_bytes = rounded;
    return p;
}

/* ---- memory ---- */

static alae_status cpu_buf_alloc(void *bctx, size_t bytes, void **out) {
    (void)bctx;
    if (!out) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_buf_alloc", "out is NULL");
    *out = NULL;
    /* 0 bytes still gets a unique, freeable pointer */
    size_t rounded = bytes == 0 ? CPU_ALIGN : (bytes + CPU_ALIGN - 1) & ~(size_t)(CPU_ALIGN - 1);
    if (rounded < bytes)
        return alaei_fail(ALAE_E_NOMEM, "cpu_buf_alloc", "%zu bytes is too large to allocate", bytes);
    void *p = NULL;
    if (posix_memalign(&p, CPU_ALIGN, rounded) != 0 || !p)
        return alaei_fail(ALAE_E_NOMEM, "cpu_buf_alloc", "out of memory allocating %zu bytes", bytes);
    *out = p;
    return ALAE_OK;
}

static void cpu_buf_free(void *bctx, void *ptr) {
    (void)bctx;
    free(ptr);
}

static alae_status check_count(const char *func, size_t count, size_t *bytes) {
    *bytes = 0;
    if (!alaei_mul_size(count, sizeof(float), bytes))
        return alaei_fail(ALAE_E_INVALID_ARG, func, "%zu elements overflow size_t", count);
    return ALAE_OK;
}

static alae_status cpu_write_f32(void *bctx, void *dst, const float *src, size_t count) {
    (void)bctx;
    size_t bytes;
    alae_status s = check_count("cpu_write_f32", count, &bytes);
    if (s != ALAE_OK || count == 0) return s;
    if (!dst || !src) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_write_f32", "NULL pointer");
    memmove(dst, src, bytes);
    return ALAE_OK;
}

static alae_status cpu_read_f32(void *bctx, float *dst, const void *src, size_t count) {
    (void)bctx;
    size_t bytes;
    alae_status s = check_count("cpu_read_f32", count, &bytes);
    if (s != ALAE_OK || count == 0) return s;
    if (!dst || !src) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_read_f32", "NULL pointer");
    memmove(dst, src, bytes);
    return ALAE_OK;
}

static alae_status cpu_copy(void *bctx, void *dst, const void *src, size_t count) {
    (void)bctx;
    size_t bytes;
    alae_status s = check_count("cpu_copy", count, &bytes);
    if (s != ALAE_OK || count == 0 || dst == src) return s;
    if (!dst || !src) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_copy", "NULL pointer");
    memmove(dst, src, bytes);
    return ALAE_OK;
}

static alae_status cpu_fill(void *bctx, void *dst, size_t count, double value) {
    cpu_ctx *ctx = bctx;
    if (count == 0) return ALAE_OK;
    if (!dst) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_fill", "dst is NULL");
    if (count > (size_t)INT64_MAX / sizeof(float))
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_fill", "%zu elements is too many", count);
    cpu_fill_f32(ctx ? ctx->pool : NULL, dst, (int64_t)count, (float)value);
    return ALAE_OK;
}

/* ---- compute ---- */

static int cpu_supports(void *bctx, const alaei_op *op) {
    (void)bctx;
    return op && alaei_op_is_backend_op(op->code);
}

static alae_status cpu_run_op(void *bctx, const alaei_op *op) {
    cpu_ctx *ctx = bctx;
    if (!ctx) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_run_op", "NULL context");
    alae_status s = alaei_op_validate(op, "cpu_run_op", alaei_fail);
    if (s != ALAE_OK) return s;
    switch (op->code) {
    case ALAEI_OP_FILL: return cpu_op_fill(ctx, op);
    case ALAEI_OP_RNG_NORMAL: return cpu_op_rng_normal(ctx, op);
    case ALAEI_OP_GEMM: return cpu_op_gemm(ctx, op);
    case ALAEI_OP_ADD:
    case ALAEI_OP_ADD_LEAKY_RELU:
    case ALAEI_OP_SUB:
    case ALAEI_OP_MUL:
    case ALAEI_OP_DIV: return cpu_op_binary(ctx, op);
    case ALAEI_OP_NEG:
    case ALAEI_OP_EXP:
    case ALAEI_OP_LOG:
    case ALAEI_OP_SQRT:
    case ALAEI_OP_RSQRT:
    case ALAEI_OP_SQUARE:
    case ALAEI_OP_SIGMOID:
    case ALAEI_OP_SOFTPLUS:
    case ALAEI_OP_ABS:
    case ALAEI_OP_SIGN:
    case ALAEI_OP_LEAKY_RELU:
    case ALAEI_OP_LEAKY_MASK:
    case ALAEI_OP_SCALE_SHIFT:
    case ALAEI_OP_CLAMP: return cpu_op_unary(ctx, op);
    case ALAEI_OP_REDUCE_SUM: return cpu_op_reduce_sum(ctx, op);
    case ALAEI_OP_BROADCAST: return cpu_op_broadcast(ctx, op);
    case ALAEI_OP_IM2COL: return cpu_op_im2col(ctx, op);
    case ALAEI_OP_COL2IM: return cpu_op_col2im(ctx, op);
    case ALAEI_OP_UPSAMPLE2D: return cpu_op_upsample2d(ctx, op);
    case ALAEI_OP_SUMPOOL2D: return cpu_op_sumpool2d(ctx, op);
    case ALAEI_OP_FIR2D: return cpu_op_fir2d(ctx, op);
    case ALAEI_OP_PERMUTE: return cpu_op_permute(ctx, op);
    case ALAEI_OP_SLICE: return cpu_op_slice(ctx, op);
    case ALAEI_OP_SLICE_ADJ: return cpu_op_slice_adj(ctx, op);
    case ALAEI_OP_ADAM_STEP: return cpu_op_adam_step(ctx, op);
    case ALAEI_OP_ADAM_EMA_STEP: return cpu_op_adam_ema_step(ctx, op);
    case ALAEI_OP_CONV2D:
    case ALAEI_OP_CONV2D_BWD_DATA:
    case ALAEI_OP_CONV2D_BWD_WEIGHT: return cpu_op_conv2d(ctx, op);
    default:
        return alaei_fail(ALAE_E_UNSUPPORTED, "cpu_run_op", "the cpu backend has no kernel for op %s (code %d)",
                          alaei_op_name(op->code), (int)op->code);
    }
}

static alae_status cpu_set_option(void *bctx, int32_t key, int64_t value) {
    cpu_ctx *ctx = bctx;
    if (!ctx) return alaei_fail(ALAE_E_INVALID_ARG, "cpu_set_option", "no context");
    if (key != ALAE_CTX_WINOGRAD) return ALAE_E_UNSUPPORTED;
    if (value < 0 || value > 2)
        return alaei_fail(ALAE_E_INVALID_ARG, "cpu_set_option", "ALAE_CTX_WINOGRAD = %lld is not 0, 1 or 2",
                          (long long)value);
    ctx->winograd = (int32_t)value;
    return ALAE_OK;
}

static const alaei_backend_vtbl cpu_vtbl = {
    .abi_version = ALAEI_BACKEND_ABI_VERSION,
    .struct_size = sizeof(alaei_backend_vtbl),
    .name = "cpu",
    .elem_size = 4,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .ctx_create = cpu_ctx_create,
    .ctx_destroy = cpu_ctx_destroy,
    .set_threads = cpu_set_threads,
    .synchronize = cpu_synchronize,
    .buf_alloc = cpu_buf_alloc,
    .buf_free = cpu_buf_free,
    .write_f32 = cpu_write_f32,
    .read_f32 = cpu_read_f32,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .supports = cpu_supports,
    .run_op = cpu_run_op,
    .set_option = cpu_set_option,
};

const alaei_backend_vtbl *alaei_cpu_backend(void) { return &cpu_vtbl; }
