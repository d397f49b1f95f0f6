/* Shared pieces of the libalae fuzz targets (tests/fuzz).
 *
 * Every target is an entry function `int alae_fuzz_<name>(const uint8_t *data, size_t size)` that
 * returns 1 if the input was accepted and 0 if it was rejected, and never crashes. Besides memory
 * safety (checked by ASan/UBSan/valgrind) the targets check invariants with FUZZ_CHECK: a rejected
 * input leaves the out-parameters untouched, sets a message and never returns ALAE_E_INTERNAL;
 * an accepted input is internally consistent. A violated invariant aborts the process, which
 * libFuzzer reports as a crash and regression_driver.c as a failed file.
 *
 * The same sources build two ways:
 *   - with ALAE_LIBFUZZER defined (clang, -DALAE_FUZZ=ON): ALAE_FUZZ_MAIN(fn) defines
 *     LLVMFuzzerTestOneInput, one binary per target (fuzz_<name>);
 *   - without it (any compiler): the functions are linked into regression_driver, which replays
 *     tests/fuzz/corpus and tests/fuzz/regressions as a plain ctest. */
#ifndef ALAE_FUZZ_COMMON_H
#define ALAE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "alae/alae.h"

int alae_fuzz_safetensors(const uint8_t *data, size_t size);
int alae_fuzz_json(const uint8_t *data, size_t size);
int alae_fuzz_config(const uint8_t *data, size_t size);
int alae_fuzz_model_load(const uint8_t *data, size_t size);
int alae_fuzz_trainer_load(const uint8_t *data, size_t size);
int alae_fuzz_idx(const uint8_t *data, size_t size);
int alae_fuzz_npy(const uint8_t *data, size_t size);
int alae_fuzz_image(const uint8_t *data, size_t size);
int alae_fuzz_pth(const uint8_t *data, size_t size);

/* Silences the library's log (once per process). */
void alae_fuzz_init(void);

/* A path naming a file that holds exactly data[0..size): a memfd on Linux ("/proc/self/fd/N"),
 * a temporary file elsewhere; reused (rewritten) on the next call with the same slot (0..3).
 * Path-based loaders (IDX, .npy, models, training states) read fuzz inputs through it. */
const char *alae_fuzz_file(int slot, const uint8_t *data, size_t size);

/* A private temporary directory (created once, removed at exit) for files the targets write. */
const char *alae_fuzz_tmpdir(void);

/* The CPU context the targets share: one worker thread, deterministic. */
alae_context *alae_fuzz_context(void);

/* The small MLP model of the trainer_load target (latent 4, 1 mapping layer, hidden 8, 4x4
 * images, 1 D layer; parameters from seed 7) on ctx. regression_driver --write-seeds writes the
 * target's library-made seeds from the same model, so the two cannot drift apart. */
alae_status alae_fuzz_tiny_mlp(alae_context *ctx, alae_model **out);

/* Checks the failure contract of a rejected call: s < 0, s != ALAE_E_INTERNAL, and a message. */
void alae_fuzz_check_failure(alae_status s, const char *what);

/* Reports a violated invariant (with the input being replayed, if the driver set it) and aborts. */
void alae_fuzz_fail(const char *file, int line, const char *expr) __attribute__((noreturn));
#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) alae_fuzz_fail(__FILE__, __LINE__, #cond);                               \
    } while (0)

/* Name of the input being replayed (set by regression_driver for messages), or NULL. */
extern const char *alae_fuzz_current_input;

#ifdef ALAE_LIBFUZZER
#define ALAE_FUZZ_MAIN(fn)                                                                    \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                            \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {                           \
        (void)fn(data, size);                                                                 \
        return 0;                                                                             \
    }
#else
#define ALAE_FUZZ_MAIN(fn)
#endif

#endif
