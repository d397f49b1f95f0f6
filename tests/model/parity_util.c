#include "parity_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"

const alaei_st_tensor *pu_need(const alaei_st_file *fx, const char *name) {
    const alaei_st_tensor *t = alaei_st_find(fx, name);
    ck_assert_msg(t != NULL, "fixture tensor '%s' is missing", name);
    return t;
}

float *pu_fixture_f32(const alaei_st_file *fx, const char *name, size_t *count) {
    const alaei_st_tensor *t = pu_need(fx, name);
    float *v = malloc((t->numel ? t->numel : 1) * sizeof(float));
    ck_assert_ptr_nonnull(v);
    ck_assert_alae_ok(alaei_st_get_f32(fx, name, t->ndim, t->shape, v));
    if (count) *count = t->numel;
    return v;
}

#define MAX_GROUPS 32
static struct {
    char name[32];
    double worst;
    char where[96];
} groups[MAX_GROUPS];
static int n_groups;

void pu_record_at(const char *group, double rel, const char *what) {
    int i = 0;
    while (i < n_groups && strcmp(groups[i].name, group) != 0) i++;
    if (i == n_groups) {
        if (n_groups == MAX_GROUPS) return;
        snprintf(groups[i].name, sizeof groups[i].name, "%s", group);
        groups[i].worst = -1;
        n_groups++;
    }
    if (rel > groups[i].worst) {
        groups[i].worst = rel;
        snprintf(groups[i].where, sizeof groups[i].where, "%s", what);
    }
}

void pu_record(const char *group, double rel) { pu_record_at(group, rel, ""); }

void pu_print_summary(const char *title) {
    printf("%s: worst max|diff| / max(1, max|ref|) per group\n", title);
    for (int i = 0; i < n_groups; i++) printf("  %-12s %.3g  (%s)\n", groups[i].name, groups[i].worst, groups[i].where);
    n_groups = 0;
}

void pu_expect_close(const char *group, const char *what, const float *got, const float *ref, size_t n, double tol) {
    double worst = 0, scale = 1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    pu_record_at(group, worst / scale, what);
    ck_assert_msg(worst <= tol * scale, "%s: max |diff| %.3g at %zu (got %.8g, ref %.8g) > %.3g", what, worst, at,
                  n ? got[at] : 0.0f, n ? ref[at] : 0.0f, tol * scale);
}

void *pu_upload(alae_context *ctx, const float *host, size_t n) {
    void *dev;
    ck_assert_alae_ok(ctx->backend->buf_alloc(ctx->bctx, (n ? n : 1) * (size_t)ctx->backend->elem_size, &dev));
    ck_assert_alae_ok(ctx->backend->write_f32(ctx->bctx, dev, host, n));
    return dev;
}

float *pu_download(alae_context *ctx, const void *dev, size_t n) {
    float *v = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(v);
    ck_assert_alae_ok(ctx->backend->read_f32(ctx->bctx, v, dev, n));
    return v;
}

void pu_expect_device_close(alae_context *ctx, const alaei_st_file *fx, const char *group, const char *what,
                            const void *dev, const char *ref_name, double tol) {
    size_t n;
    float *ref = pu_fixture_f32(fx, ref_name, &n);
    ck_assert_msg(dev != NULL, "%s: no data", what);
    float *got = pu_download(ctx, dev, n);
    pu_expect_close(group, what, got, ref, n, tol);
    free(ref);
    free(got);
}
