/* libalae: data-parallel training across processes (docs/distributed.md).
 *
 * A communicator is a small versioned table of collectives that the trainer calls: all-reduce
 * (sum or average) and broadcast of float buffers, with the caller's rank and the number of
 * ranks. libalae ships two implementations as separately built modules that libalae itself
 * never links (alae_comm_open): "mpi" (libalae-mpi.so: host buffers, MPI_Allreduce) and "nccl"
 * (libalae-nccl.so: device buffers on the context's CUDA stream, the NCCL unique id broadcast
 * over MPI). A caller may also fill an alae_comm of its own (around Gloo, or its framework's
 * collectives) and give it to alae_trainer_set_comm.
 *
 * With a communicator, every rank trains the same model on its own part of each global batch:
 * the trainer broadcasts the parameters, the smoothed copy and the running mean of w from rank 0,
 * averages the gradients over the ranks before every optimizer step (R1 included), averages
 * the batch mean of w, and draws each rank's latents from its rows of the global batch's
 * random stream, so that N ranks with batch B each train as one process with batch N*B (exactly
 * for the MLP ALAE; docs/distributed.md lists what differs for StyleALAE). */
#ifndef ALAE_COMM_H
#define ALAE_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "alae_export.h"
#include "alae_status.h"
#include "alae_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ALAE_COMM_VERSION 1 /* the version of alae_comm this header describes */

#define ALAE_REDUCE_SUM 0 /* all-reduce: the sum over the ranks */
#define ALAE_REDUCE_AVG 1 /* all-reduce: the mean over the ranks */

/* Where the buffers given to the collectives live (alae_comm.memory). */
#define ALAE_COMM_HOST 0   /* host memory: the trainer stages device buffers through the host */
#define ALAE_COMM_DEVICE 1 /* memory of the context's device (for the CPU backend: host memory) */

/* A communicator. Set struct_size = sizeof(alae_comm) and version = ALAE_COMM_VERSION. The
 * collectives work in place on `count` floats at `buf`, are called by every rank in the same
 * order with the same counts, and return ALAE_OK or an error status (recording a message is
 * kind: alae_last_error() then says what failed). `stream` is the context's native stream
 * (cudaStream_t for the CUDA backend), or NULL for the CPU backend; a collective on device
 * memory must be ordered on it (it may return before the stream reaches it). */
typedef struct alae_comm {
    uint32_t struct_size;
    uint32_t version;
    int32_t rank;   /* this process, 0..size-1 */
    int32_t size;   /* the number of ranks, >= 1 */
    int32_t memory; /* ALAE_COMM_HOST or ALAE_COMM_DEVICE */
    void *user;     /* passed to every function */
    alae_status (*allreduce)(void *user, float *buf, size_t count, int32_t op, void *stream);
    alae_status (*broadcast)(void *user, float *buf, size_t count, int32_t root, void *stream);
    void (*destroy)(void *user); /* called by alae_comm_close; may be NULL */
} alae_comm;

/* Opens one of libalae's communicator modules for contexts like ctx: kind "mpi" or "nccl".
 * The module is found like the CUDA backend module: the environment variable ALAE_MPI_MODULE
 * or ALAE_NCCL_MODULE (an absolute path), the directory of libalae (libalae-mpi.so,
 * libalae-nccl.so), then the installed backend directory. The module initialises MPI when the
 * process has not (every rank of the job must call this); "nccl" needs a CUDA context and
 * creates one NCCL communicator over all ranks on the context's device. Errors:
 * ALAE_E_INVALID_ARG (NULL argument, unknown kind, a CPU context for "nccl"),
 * ALAE_E_BACKEND_UNAVAILABLE (no module, or MPI / NCCL failed to start: the message says why),
 * ALAE_E_VERSION, ALAE_E_NOMEM. *out is set only on success; close it with alae_comm_close
 * after the trainers that use it are destroyed. */
ALAE_API alae_status alae_comm_open(const char *kind, alae_context *ctx, alae_comm **out);
/* Closes a communicator from alae_comm_open (finalising MPI when the module initialised it);
 * NULL is a no-op. */
ALAE_API void alae_comm_close(alae_comm *comm);

#ifdef __cplusplus
}
#endif
#endif /* ALAE_COMM_H */
