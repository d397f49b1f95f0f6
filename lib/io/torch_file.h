/* PyTorch checkpoint files (torch.save) read without PyTorch: the legacy stream of PyTorch < 1.6
 * (magic number, protocol, system info, the object, the storage keys, then each storage's bytes)
 * and the zip archive of newer versions (<name>/data.pkl, <name>/data/<key>, read with libzip).
 *
 * Opening parses the pickles (pickle.h) and locates every storage, checking its declared size
 * against the file; no tensor data is read until alaei_pth_read_f32 asks for one tensor, which
 * streams its bytes from the file into the caller's buffer. */
#ifndef ALAE_IO_TORCH_FILE_H
#define ALAE_IO_TORCH_FILE_H

#include "pickle.h"

typedef struct alaei_pth alaei_pth;

/* Errors: ALAE_E_IO (cannot open or read), ALAE_E_FORMAT (anything malformed or refused, with
 * the byte offset or the storage), ALAE_E_NOMEM. */
alae_status alaei_pth_open(const char *path, alaei_pth **out);
void alaei_pth_close(alaei_pth *f);
/* The unpickled object (owned by f). */
const alaei_pk_value *alaei_pth_root(const alaei_pth *f);
/* "legacy" or "zip" */
const char *alaei_pth_format(const alaei_pth *f);
/* Reads tensor t (a value of f) as float32 into dst, t->u.tensor.numel floats; the tensor must be
 * of a floating type and contiguous. `what` names it in messages. */
alae_status alaei_pth_read_f32(alaei_pth *f, const alaei_pk_value *t, float *dst, const char *what);

#endif
