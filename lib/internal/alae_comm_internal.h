/* What the trainer needs to know about a context to hand its memory to a communicator
 * (lib/core/comm.c; include/alae/alae_comm.h). */
#ifndef ALAE_COMM_INTERNAL_H
#define ALAE_COMM_INTERNAL_H

#include "alae/alae_tensor.h"

/* The context's native stream (cudaStream_t for the CUDA backend), or NULL. */
void *alaei_comm_stream(const alae_context *ctx);
/* Whether the context's memory is host memory of floats (the CPU backend), which a host
 * communicator can read in place. */
int alaei_comm_host_floats(const alae_context *ctx);

#endif
