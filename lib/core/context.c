/* Contexts: one backend context, its parameters, RNG counter and abort flag. */
#include <stdlib.h>
#include <unistd.h>

#include "internal/alae_backend_impl.h"
#include "internal/alae_internal.h"

extern const alaei_host_services alaei_host;

static int32_t default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return (int32_t)n;
}

int32_t alaei_winograd_default(void) {
    const char *env = getenv("ALAE_WINOGRAD");
    if (env && (env[0] == '0' || env[0] == '2') && env[1] == '\0') return env[0] - '0';
    return 1;
}

alae_status alaei_context_create_on(const alaei_backend_vtbl *backend, int32_t device,
                                    alae_context **out) {
    alae_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return alaei_fail(ALAE_E_NOMEM, "alae_context_create", "no memory for a context");
    ctx->backend = backend;
    ctx->device_index = -1;
    ctx->threads = default_threads();
    ctx->seed = 0;
    ctx->deterministic = 1;
    ctx->tf32 = 0;
    ctx->graphs = 1;
    ctx->winograd = alaei_winograd_default();
    /* Debugging aid: ALAE_POISON=1 in the environment turns on NaN poisoning of freed
     * activation memory for every context (the test suite runs this way). */
    const char *poison = getenv("ALAE_POISON");
    ctx->poison = poison && poison[0] == '1';
    const char *profile = getenv("ALAE_PROFILE");
    if (profile && profile[0] == '1') ctx->profile = calloc(1, sizeof *ctx->profile);
    atomic_init(&ctx->abort_requested, 0);
    alae_status s = backend->ctx_create(device, &alaei_host, &ctx->bctx);
    if (s == ALAE_OK) s = backend->set_threads(ctx->bctx, ctx->threads);
    if (s != ALAE_OK) {
        if (ctx->bctx) backend->ctx_destroy(ctx->bctx);
        free(ctx->profile);
        free(ctx);
        return s;
    }
    *out = ctx;
    return ALAE_OK;
}

ALAE_API alae_status alae_context_create(int32_t device_index, alae_context **out) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(out);
    const alaei_backend_vtbl *backend;
    int32_t device;
    alae_status s = alaei_registry_lookup(device_index, &backend, &device);
    if (s != ALAE_OK) return s;
    alae_context *ctx;
    if ((s = alaei_context_create_on(backend, device, &ctx)) != ALAE_OK) return s;
    ctx->device_index = device_index;
    *out = ctx;
    return ALAE_OK;
}

ALAE_API void alae_context_destroy(alae_context *ctx) {
    if (!ctx) return;
    if (ctx->profile) alaei_profile_report(ctx);
    ctx->backend->ctx_destroy(ctx->bctx);
    free(ctx->profile);
    free(ctx);
}

ALAE_API alae_status alae_context_set_param(alae_context *ctx, int32_t key, int64_t value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    switch (key) {
    case ALAE_CTX_THREADS: {
        if (value < 1 || value > 256)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "ALAE_CTX_THREADS = %lld is not in 1..256",
                              (long long)value);
        alae_status s = ctx->backend->set_threads(ctx->bctx, (int32_t)value);
        if (s != ALAE_OK) return s;
        ctx->threads = (int32_t)value;
        return ALAE_OK;
    }
    case ALAE_CTX_SEED:
        ctx->seed = value;
        ctx->rng_offset = 0;
        return ALAE_OK;
    case ALAE_CTX_TF32:
    case ALAE_CTX_GRAPHS: {
        const char *name = key == ALAE_CTX_TF32 ? "ALAE_CTX_TF32" : "ALAE_CTX_GRAPHS";
        if (value != 0 && value != 1)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%s = %lld must be 0 or 1", name, (long long)value);
        /* a backend without the setting (the CPU) accepts and ignores it */
        if (ALAEI_VTBL_HAS(ctx->backend, set_option)) {
            alae_status s = ctx->backend->set_option(ctx->bctx, key, value);
            if (s != ALAE_OK && s != ALAE_E_UNSUPPORTED) return s;
            alaei_clear_error();
        }
        if (key == ALAE_CTX_TF32)
            ctx->tf32 = (int32_t)value;
        else
            ctx->graphs = (int32_t)value;
        return ALAE_OK;
    }
    case ALAE_CTX_WINOGRAD: {
        if (value < 0 || value > 2)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "ALAE_CTX_WINOGRAD = %lld must be 0, 1 or 2",
                              (long long)value);
        if (ALAEI_VTBL_HAS(ctx->backend, set_option)) {
            alae_status s = ctx->backend->set_option(ctx->bctx, key, value);
            if (s != ALAE_OK && s != ALAE_E_UNSUPPORTED) return s;
            alaei_clear_error();
        }
        ctx->winograd = (int32_t)value;
        return ALAE_OK;
    }
    case ALAE_CTX_DETERMINISTIC:
    case ALAE_CTX_POISON:
        if (value != 0 && value != 1)
            return alaei_fail(ALAE_E_INVALID_ARG, __func__, "%s = %lld must be 0 or 1",
                              key == ALAE_CTX_POISON ? "ALAE_CTX_POISON" : "ALAE_CTX_DETERMINISTIC",
                              (long long)value);
        if (key == ALAE_CTX_POISON)
            ctx->poison = (int32_t)value;
        else
            ctx->deterministic = (int32_t)value;
        return ALAE_OK;
    default:
        return alaei_fail_key(__func__, key, ALAEI_KEYS_CTX);
    }
}

ALAE_API alae_status alae_context_get_param(const alae_context *ctx, int32_t key, int64_t *value) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    ALAEI_CHECK_ARG(value);
    switch (key) {
    case ALAE_CTX_THREADS: *value = ctx->threads; return ALAE_OK;
    case ALAE_CTX_SEED: *value = ctx->seed; return ALAE_OK;
    case ALAE_CTX_DETERMINISTIC: *value = ctx->deterministic; return ALAE_OK;
    case ALAE_CTX_POISON: *value = ctx->poison; return ALAE_OK;
    case ALAE_CTX_TF32: *value = ctx->tf32; return ALAE_OK;
    case ALAE_CTX_GRAPHS: *value = ctx->graphs; return ALAE_OK;
    case ALAE_CTX_WINOGRAD: *value = ctx->winograd; return ALAE_OK;
    default:
        return alaei_fail_key(__func__, key, ALAEI_KEYS_CTX);
    }
}

ALAE_API alae_status alae_context_synchronize(alae_context *ctx) {
    alaei_clear_error();
    ALAEI_CHECK_ARG(ctx);
    return ctx->backend->synchronize(ctx->bctx);
}

ALAE_API void alae_context_request_abort(alae_context *ctx) {
    if (ctx) atomic_store(&ctx->abort_requested, 1);
}

void alaei_context_begin_call(alae_context *ctx) { atomic_store(&ctx->abort_requested, 0); }

int alaei_context_abort_pending(alae_context *ctx) { return atomic_load(&ctx->abort_requested); }
