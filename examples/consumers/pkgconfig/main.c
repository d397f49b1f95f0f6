/* A minimal downstream program: checks the library version, then draws normal numbers into a
 * tensor on the CPU. Built by the tests against an installed libalae. */
#include <alae/alae.h>
#include <stdio.h>

int main(void) {
    if (alae_check_version(ALAE_VERSION_NUMBER) != ALAE_OK) {
        fprintf(stderr, "consumer: %s\n", alae_last_error());
        return 1;
    }
    alae_context *ctx = NULL;
    alae_tensor *t = NULL;
    int64_t shape[2] = {2, 3};
    float values[6];
    alae_status s = alae_context_create(ALAE_DEVICE_CPU, &ctx);
    if (s == ALAE_OK) s = alae_tensor_create(ctx, ALAE_DTYPE_F32, 2, shape, &t);
    if (s == ALAE_OK) s = alae_tensor_fill_normal(t, 0.0f, 1.0f);
    if (s == ALAE_OK) s = alae_tensor_read(t, values, sizeof values);
    if (s != ALAE_OK) {
        fprintf(stderr, "consumer: %s: %s\n", alae_status_string(s), alae_last_error());
        alae_tensor_destroy(t);
        alae_context_destroy(ctx);
        return 1;
    }
    printf("libalae %s: first normal number %.4f\n", alae_version_string(), values[0]);
    alae_tensor_destroy(t);
    alae_context_destroy(ctx);
    return 0;
}
