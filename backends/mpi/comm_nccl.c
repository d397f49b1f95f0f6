/* The NCCL communicator module, libalae-nccl.so (include/alae/alae_comm.h): device buffers,
 * ncclAllReduce and ncclBroadcast on the context's CUDA stream, one NCCL communicator over all
 * ranks created from a unique id that rank 0 broadcasts over MPI. libalae loads it at run time
 * (alae_comm_open "nccl"), so libalae.so never links NCCL, CUDA or MPI. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

#include "alae/alae_comm.h"
#include "comm_mpi.h"

typedef struct nccl_state {
    MPI_Comm mpi;
    ncclComm_t comm;
    int initialized_here;
    int rank, size, device;
} nccl_state;

static const alaei_host_services *host;

static alae_status nccl_fail(const nccl_state *n, ncclResult_t r, const char *func) {
    return host->fail(ALAE_E_BACKEND, func, "rank %d of %d: %s failed: %s%s", n->rank, n->size, func,
                      ncclGetErrorString(r), r == ncclRemoteError ? " (another rank failed or died)" : "");
}

static alae_status nccl_allreduce(void *user, float *buf, size_t count, int32_t op, void *stream) {
    nccl_state *n = user;
    ncclRedOp_t red = op == ALAE_REDUCE_AVG ? ncclAvg : ncclSum;
    ncclResult_t r = ncclAllReduce(buf, buf, count, ncclFloat, red, n->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? ALAE_OK : nccl_fail(n, r, "ncclAllReduce");
}

static alae_status nccl_broadcast(void *user, float *buf, size_t count, int32_t root, void *stream) {
    nccl_state *n = user;
    ncclResult_t r = ncclBroadcast(buf, buf, count, ncclFloat, root, n->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? ALAE_OK : nccl_fail(n, r, "ncclBroadcast");
}

static void nccl_destroy(void *user) {
    nccl_state *n = user;
    if (!n) return;
    if (n->comm) ncclCommDestroy(n->comm);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && n->mpi != MPI_COMM_NULL) {
        MPI_Comm_free(&n->mpi);
        if (n->initialized_here) MPI_Finalize();
    }
    free(n);
}

/* Rank 0's unique id, broadcast over MPI, then the NCCL communicator on the context's device. */
static alae_status nccl_start(nccl_state *n) {
    if (cudaSetDevice(n->device) != cudaSuccess)
        return host->fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "rank %d: cudaSetDevice(%d) failed", n->rank,
                          n->device);
    ncclUniqueId id;
    ncclResult_t r = n->rank == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
    if (r != ncclSuccess) return nccl_fail(n, r, "ncclGetUniqueId");
    int rc = MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, n->mpi);
    if (rc != MPI_SUCCESS) return alaei_mpi_fail(host, rc, "MPI_Bcast", n->rank, n->size);
    r = ncclCommInitRank(&n->comm, n->size, id, n->rank);
    if (r != ncclSuccess) {
        n->comm = NULL;
        return nccl_fail(n, r, "ncclCommInitRank");
    }
    return ALAE_OK;
}

__attribute__((visibility("default"))) alae_status alae_comm_module_entry(uint32_t version,
                                                                          const alaei_host_services *h,
                                                                          const char *backend, int32_t device,
                                                                          alae_comm *table) {
    if (!h || !table || !backend) return ALAE_E_INVALID_ARG;
    host = h;
    if (version != ALAE_COMM_VERSION || table->struct_size < sizeof(alae_comm))
        return h->fail(ALAE_E_VERSION, "alae_comm_open", "libalae-nccl implements communicator version %d, the "
                       "host asked for %u", ALAE_COMM_VERSION, version);
    if (backend[0] != 'c' || backend[1] != 'u') /* "cuda" (the host checked it already) */
        return h->fail(ALAE_E_INVALID_ARG, "alae_comm_open", "libalae-nccl needs a CUDA context");
    nccl_state *n = calloc(1, sizeof *n);
    if (!n) return h->fail(ALAE_E_NOMEM, "alae_comm_open", "no memory for the NCCL communicator");
    n->device = device;
    n->mpi = MPI_COMM_NULL;
    alae_status s = alaei_mpi_start(h, &n->mpi, &n->initialized_here, &n->rank, &n->size);
    if (s == ALAE_OK) s = nccl_start(n);
    if (s != ALAE_OK) {
        nccl_destroy(n);
        return s;
    }
    table->rank = n->rank;
    table->size = n->size;
    table->memory = ALAE_COMM_DEVICE;
    table->user = n;
    table->allreduce = nccl_allreduce;
    table->broadcast = nccl_broadcast;
    table->destroy = nccl_destroy;
    return ALAE_OK;
}
