/* Helpers shared by the fixture parity tests (the safetensors files in tests/fixtures, whose README is
 * shared/fixtures/README.md): fixture tensors, device buffers and tolerance checks. */
#ifndef ALAE_PARITY_UTIL_H
#define ALAE_PARITY_UTIL_H

#include <stddef.h>

#include "io/safetensors.h"
#include "test_util.h"

#define PARITY_FORWARD_TOL 5e-5 /* README section 11: forward outputs, activations, losses */
#define PARITY_GRAD_TOL 1e-4    /* gradients */

/* The tensor (the test fails if it is missing). */
const alaei_st_tensor *pu_need(const alaei_st_file *fx, const char *name);
/* A fixture tensor as floats (caller frees); *count receives its size when count != NULL. */
float *pu_fixture_f32(const alaei_st_file *fx, const char *name, size_t *count);
/* Asserts max |got - ref| <= tol * max(1, max |ref|) and records the relative error under
 * `group` for the summary. */
void pu_expect_close(const char *group, const char *what, const float *got, const float *ref, size_t n, double tol);
/* The same for device memory against a fixture tensor. */
void pu_expect_device_close(alae_context *ctx, const alaei_st_file *fx, const char *group, const char *what,
                            const void *dev, const char *ref_name, double tol);
/* Records a relative error under group (max over the run). */
void pu_record(const char *group, double rel);
void pu_record_at(const char *group, double rel, const char *what);
/* Prints the worst relative error of every group ("max |diff| / max(1, max |ref|)"). */
void pu_print_summary(const char *title);

/* Device buffers: a copy of host floats, and host floats from device memory (caller frees). */
void *pu_upload(alae_context *ctx, const float *host, size_t n);
float *pu_download(alae_context *ctx, const void *dev, size_t n);

#endif
