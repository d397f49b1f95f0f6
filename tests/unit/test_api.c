/* The public API conventions: status codes, messages, versions, logging, NULL handling,
 * out-parameters left untouched on failure, destroy(NULL), contexts and tensors. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

START_TEST(status_codes_are_pinned) {
    ck_assert_int_eq(ALAE_OK, 0);
    ck_assert_int_eq(ALAE_E_INVALID_ARG, -1);
    ck_assert_int_eq(ALAE_E_NOMEM, -2);
    ck_assert_int_eq(ALAE_E_DEVICE_NOMEM, -3);
    ck_assert_int_eq(ALAE_E_UNSUPPORTED, -4);
    ck_assert_int_eq(ALAE_E_BACKEND_UNAVAILABLE, -5);
    ck_assert_int_eq(ALAE_E_BACKEND, -6);
    ck_assert_int_eq(ALAE_E_DEVICE_LOST, -7);
    ck_assert_int_eq(ALAE_E_IO, -8);
    ck_assert_int_eq(ALAE_E_FORMAT, -9);
    ck_assert_int_eq(ALAE_E_VERSION, -10);
    ck_assert_int_eq(ALAE_E_SHAPE, -11);
    ck_assert_int_eq(ALAE_E_STATE, -12);
    ck_assert_int_eq(ALAE_E_ABORTED, -13);
    ck_assert_int_eq(ALAE_E_INTERNAL, -99);
}
END_TEST

START_TEST(status_strings_are_distinct_and_never_null) {
    const int codes[] = {0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -99};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = alae_status_string(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown status");
        for (size_t j = 0; j < i; j++) ck_assert_str_ne(s, alae_status_string(codes[j]));
    }
    ck_assert_str_eq(alae_status_string(-1234), "unknown status");
    ck_assert_str_eq(alae_status_string(7), "unknown status");
}
END_TEST

START_TEST(version_matches_headers) {
    ck_assert_uint_eq(alae_version_number(), ALAE_VERSION_NUMBER);
    ck_assert_str_eq(alae_version_string(), ALAE_VERSION_STRING);
    ck_assert_int_eq(alae_check_version(ALAE_VERSION_NUMBER), ALAE_OK);
    /* a different major (or, in 0.x, minor) is incompatible */
    ck_assert_int_eq(alae_check_version(ALAE_VERSION_NUMBER + 10000), ALAE_E_VERSION);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae_check_version"));
    ck_assert_int_eq(alae_check_version(ALAE_VERSION_NUMBER + 100), ALAE_E_VERSION);
    /* headers newer than the library (same ABI line, higher patch) are refused too */
    ck_assert_int_eq(alae_check_version(ALAE_VERSION_NUMBER + 1), ALAE_E_VERSION);
    if (ALAE_VERSION_PATCH > 0) ck_assert_int_eq(alae_check_version(ALAE_VERSION_NUMBER - 1), ALAE_OK);
}
END_TEST

typedef struct log_capture {
    int count;
    int32_t level;
    char last[256];
} log_capture;

static void capture_log(int32_t level, const char *message, void *user) {
    log_capture *c = user;
    c->count++;
    c->level = level;
    snprintf(c->last, sizeof c->last, "%s", message);
}

START_TEST(log_callback_levels_and_silence) {
    log_capture cap = {0};
    alae_set_log_callback(capture_log, &cap);
    ck_assert_int_eq(alae_set_log_level(ALAE_LOG_DEBUG), ALAE_OK);
    ck_assert_int_eq(alae_get_log_level(), ALAE_LOG_DEBUG);
    alae_context *ctx = NULL;
    ck_assert_int_eq(alae_context_create(999, &ctx), ALAE_E_INVALID_ARG); /* failures log at debug */
    ck_assert_int_gt(cap.count, 0);
    ck_assert_ptr_nonnull(strstr(cap.last, "999"));
    ck_assert_int_eq(alae_set_log_level(ALAE_LOG_NONE), ALAE_OK);
    int before = cap.count;
    ck_assert_int_eq(alae_context_create(999, &ctx), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(cap.count, before); /* silenced */
    ck_assert_int_eq(alae_set_log_level(ALAE_LOG_NONE + 1), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_set_log_level(-1), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_get_log_level(), ALAE_LOG_NONE);
    alae_set_log_callback(NULL, NULL);
    ck_assert_int_eq(alae_set_log_level(ALAE_LOG_WARN), ALAE_OK);
}
END_TEST

START_TEST(devices_cpu_first) {
    ck_assert_int_ge(alae_device_count(), 1);
    alae_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ck_assert_alae_ok(alae_device_get_info(0, &info));
    ck_assert_int_eq(info.kind, ALAE_DEVICE_CPU);
    ck_assert_str_eq(info.name, "cpu");
    ck_assert_int_ge(info.threads, 1);
    ck_assert_uint_eq(info.struct_size, sizeof info);
    /* an older, shorter struct: the library writes only what the caller has */
    unsigned char small[16];
    memset(small, 0xAB, sizeof small);
    uint32_t size8 = 8;
    memcpy(small, &size8, sizeof size8);
    ck_assert_alae_ok(alae_device_get_info(0, (alae_device_info *)(void *)small));
    for (int i = 8; i < 16; i++) ck_assert_uint_eq(small[i], 0xAB);
    /* bad arguments */
    ck_assert_int_eq(alae_device_get_info(0, NULL), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "info"));
    ck_assert_int_eq(alae_device_get_info(alae_device_count(), &info), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_device_get_info(-1, &info), ALAE_E_INVALID_ARG);
    info.struct_size = 0;
    ck_assert_int_eq(alae_device_get_info(0, &info), ALAE_E_INVALID_ARG);
}
END_TEST

START_TEST(destroy_functions_accept_null) {
    alae_context_destroy(NULL);
    alae_tensor_destroy(NULL);
    alae_context_request_abort(NULL);
    ck_assert_int_eq(alae_tensor_ndim(NULL), 0);
    ck_assert_int_eq(alae_tensor_numel(NULL), 0);
    ck_assert_int_eq(alae_tensor_dtype(NULL), -1);
}
END_TEST

START_TEST(context_params) {
    alae_context *ctx = (alae_context *)(uintptr_t)0x1234;
    ck_assert_int_eq(alae_context_create(0, NULL), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_context_create(-5, &ctx), ALAE_E_INVALID_ARG);
    ck_assert_ptr_eq(ctx, (alae_context *)(uintptr_t)0x1234); /* untouched on failure */
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    int64_t v = -7;
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_THREADS, 1));
    ck_assert_alae_ok(alae_context_get_param(ctx, ALAE_CTX_THREADS, &v));
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(alae_context_set_param(ctx, ALAE_CTX_THREADS, 0), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "ALAE_CTX_THREADS"));
    ck_assert_int_eq(alae_context_set_param(ctx, ALAE_CTX_THREADS, 100000), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_context_set_param(ctx, 37, 1), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "unknown ALAE_CTX_* key 37"));
    v = -7;
    ck_assert_int_eq(alae_context_get_param(ctx, 37, &v), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(alae_context_get_param(ctx, ALAE_CTX_SEED, NULL), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_context_set_param(NULL, ALAE_CTX_SEED, 1), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_context_set_param(ctx, ALAE_CTX_POISON, 2), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, 42));
    ck_assert_alae_ok(alae_context_get_param(ctx, ALAE_CTX_SEED, &v));
    ck_assert_int_eq(v, 42);
    /* ALAE_CTX_WINOGRAD: the default comes from ALAE_WINOGRAD (ctest runs this test without it) */
    const char *wenv = getenv("ALAE_WINOGRAD");
    ck_assert_alae_ok(alae_context_get_param(ctx, ALAE_CTX_WINOGRAD, &v));
    ck_assert_int_eq(v, wenv && (!strcmp(wenv, "0") || !strcmp(wenv, "2")) ? wenv[0] - '0' : 1);
    for (int64_t mode = 0; mode <= 2; mode++) {
        ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_WINOGRAD, mode));
        ck_assert_alae_ok(alae_context_get_param(ctx, ALAE_CTX_WINOGRAD, &v));
        ck_assert_int_eq(v, mode);
    }
    ck_assert_int_eq(alae_context_set_param(ctx, ALAE_CTX_WINOGRAD, 3), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "ALAE_CTX_WINOGRAD"));
    ck_assert_int_eq(alae_context_set_param(ctx, ALAE_CTX_WINOGRAD, -1), ALAE_E_INVALID_ARG);
    ck_assert_alae_ok(alae_context_get_param(ctx, ALAE_CTX_WINOGRAD, &v));
    ck_assert_int_eq(v, 2); /* unchanged by the refused values */
    ck_assert_alae_ok(alae_context_synchronize(ctx));
    ck_assert_int_eq(alae_context_synchronize(NULL), ALAE_E_INVALID_ARG);
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(tensor_create_validates) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    alae_tensor *t = (alae_tensor *)(uintptr_t)0x99;
    int64_t shape[4] = {2, 3, 4, 5};
    ck_assert_int_eq(alae_tensor_create(NULL, ALAE_DTYPE_F32, 2, shape, &t), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, NULL, &t), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, shape, NULL), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 0, shape, &t), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 5, shape, &t), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_create(ctx, 77, 2, shape, &t), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "dtype 77"));
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F16, 2, shape, &t), ALAE_E_UNSUPPORTED);
    int64_t bad[2] = {3, -3};
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, bad, &t), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "shape[1] = -3"));
    int64_t huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    ck_assert_int_eq(alae_tensor_create(ctx, ALAE_DTYPE_F32, 4, huge, &t), ALAE_E_INVALID_ARG);
    ck_assert_ptr_eq(t, (alae_tensor *)(uintptr_t)0x99); /* untouched by every failure */
    alae_context_destroy(ctx);
}
END_TEST

START_TEST(tensor_roundtrip_and_shape) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    int64_t shape[3] = {2, 3, 5};
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 3, shape, &t));
    ck_assert_int_eq(alae_tensor_ndim(t), 3);
    ck_assert_int_eq(alae_tensor_numel(t), 30);
    ck_assert_int_eq(alae_tensor_dtype(t), ALAE_DTYPE_F32);
    int64_t got[4] = {0};
    ck_assert_alae_ok(alae_tensor_shape(t, got, 4));
    ck_assert_int_eq(got[0], 2);
    ck_assert_int_eq(got[2], 5);
    ck_assert_int_eq(alae_tensor_shape(t, got, 2), ALAE_E_INVALID_ARG);
    float in[30], out[30];
    ck_assert_alae_ok(alae_tensor_read(t, out, sizeof out));
    for (int i = 0; i < 30; i++) ck_assert_float_eq(out[i], 0.0f); /* zero-filled */
    for (int i = 0; i < 30; i++) in[i] = (float)i * 0.5f - 3.0f;
    ck_assert_alae_ok(alae_tensor_write(t, in, sizeof in));
    ck_assert_alae_ok(alae_tensor_read(t, out, sizeof out));
    ck_assert_mem_eq(in, out, sizeof in);
    ck_assert_int_eq(alae_tensor_write(t, in, sizeof in - 4), ALAE_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "nbytes = 116"));
    ck_assert_int_eq(alae_tensor_read(t, NULL, sizeof out), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_write(NULL, in, sizeof in), ALAE_E_INVALID_ARG);
    alae_tensor_destroy(t);
    alae_context_destroy(ctx);
}
END_TEST

static void fill_normal_with_seed(int64_t seed, float *out, int64_t n, int twice) {
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    ck_assert_alae_ok(alae_context_set_param(ctx, ALAE_CTX_SEED, seed));
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 1, &n, &t));
    ck_assert_alae_ok(alae_tensor_fill_normal(t, 0.0f, 1.0f));
    if (twice) ck_assert_alae_ok(alae_tensor_fill_normal(t, 0.0f, 1.0f));
    ck_assert_alae_ok(alae_tensor_read(t, out, (size_t)n * sizeof(float)));
    alae_tensor_destroy(t);
    alae_context_destroy(ctx);
}

START_TEST(fill_normal_is_seeded_and_normal) {
    enum { N = 20000 };
    static float a[N], b[N], c[N], d[N];
    fill_normal_with_seed(7, a, N, 0);
    fill_normal_with_seed(7, b, N, 0);
    fill_normal_with_seed(8, c, N, 0);
    fill_normal_with_seed(7, d, N, 1);
    ck_assert_mem_eq(a, b, sizeof a);     /* same seed, same numbers */
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0); /* another seed, other numbers */
    ck_assert_int_ne(memcmp(a, d, sizeof a), 0); /* the counter advances */
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += a[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (a[i] - mean) * (a[i] - mean);
    var /= N;
    ck_assert_double_lt(fabs(mean), 0.03);
    ck_assert_double_lt(fabs(var - 1.0), 0.05);
    alae_context *ctx;
    ck_assert_alae_ok(alae_context_create(0, &ctx));
    int64_t n = 4;
    alae_tensor *t;
    ck_assert_alae_ok(alae_tensor_create(ctx, ALAE_DTYPE_F32, 1, &n, &t));
    ck_assert_int_eq(alae_tensor_fill_normal(t, 0.0f, -1.0f), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_fill_normal(t, NAN, 1.0f), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_tensor_fill_normal(NULL, 0.0f, 1.0f), ALAE_E_INVALID_ARG);
    alae_tensor_destroy(t);
    alae_context_destroy(ctx);
}
END_TEST

static void *fail_in_other_thread(void *arg) {
    (void)arg;
    alae_context_set_param(NULL, ALAE_CTX_SEED, 1); /* sets this thread's message */
    return NULL;
}

START_TEST(last_error_is_thread_local_and_cleared) {
    ck_assert_int_eq(alae_set_log_level(99), ALAE_E_INVALID_ARG);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", alae_last_error());
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, fail_in_other_thread, NULL), 0);
    pthread_join(thread, NULL);
    ck_assert_str_eq(alae_last_error(), mine); /* the other thread's failure did not leak here */
    ck_assert_ptr_nonnull(strstr(mine, "alae_set_log_level"));

    ck_assert_int_eq(alae_context_create(0, NULL), ALAE_E_INVALID_ARG);
    ck_assert_str_ne(alae_last_error(), "");
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae_context_create"));
    ck_assert_alae_ok(alae_check_version(ALAE_VERSION_NUMBER));
    ck_assert_str_eq(alae_last_error(), ""); /* a successful call clears it */
}
END_TEST

START_TEST(backend_load_reports_errors) {
    ck_assert_int_eq(alae_backend_load(NULL), ALAE_E_INVALID_ARG);
    ck_assert_int_eq(alae_backend_load("relative/libalae-cuda.so"), ALAE_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "current directory"));
    ck_assert_int_eq(alae_backend_load("/nonexistent/libalae-cuda.so"), ALAE_E_BACKEND_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "/nonexistent/libalae-cuda.so"));
    /* a real library without the entry point */
    alae_status s = alae_backend_load("/lib/x86_64-linux-gnu/libm.so.6");
    ck_assert_int_eq(s, ALAE_E_BACKEND_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(alae_last_error(), "alae_backend_plugin_entry"));
}
END_TEST

static Suite *api_suite(void) {
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("conventions");
    tcase_add_test(tc, status_codes_are_pinned);
    tcase_add_test(tc, status_strings_are_distinct_and_never_null);
    tcase_add_test(tc, version_matches_headers);
    tcase_add_test(tc, log_callback_levels_and_silence);
    tcase_add_test(tc, devices_cpu_first);
    tcase_add_test(tc, destroy_functions_accept_null);
    tcase_add_test(tc, context_params);
    tcase_add_test(tc, tensor_create_validates);
    tcase_add_test(tc, tensor_roundtrip_and_shape);
    tcase_add_test(tc, fill_normal_is_seeded_and_normal);
    tcase_add_test(tc, last_error_is_thread_local_and_cleared);
    tcase_add_test(tc, backend_load_reports_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return alae_test_run_suite(api_suite()); }
