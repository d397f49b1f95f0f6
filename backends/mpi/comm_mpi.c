/* The MPI communicator module, libalae-mpi.so (include/alae/alae_comm.h): host buffers,
 * MPI_Allreduce and MPI_Bcast on a duplicate of MPI_COMM_WORLD whose errors return instead of
 * aborting. libalae loads it at run time (alae_comm_open "mpi"), so libalae.so never links MPI. */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "internal/alae_backend_impl.h"
#include "alae/alae_comm.h"
#include "comm_mpi.h"

typedef struct mpi_state {
    MPI_Comm comm;
    int initialized_here; /* this module called MPI_Init_thread: it finalises at close */
    int rank, size;
} mpi_state;

static const alaei_host_services *host;

static alae_status mpi_allreduce(void *user, float *buf, size_t count, int32_t op, void *stream) {
    mpi_state *m = user;
    for (size_t done = 0; done < count;) { /* MPI counts are ints */
        int n = count - done > (size_t)1 << 30 ? 1 << 30 : (int)(count - done);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + done, n, MPI_FLOAT, MPI_SUM, m->comm);
        if (rc != MPI_SUCCESS) return alaei_mpi_fail(host, rc, "MPI_Allreduce", m->rank, m->size);
        done += (size_t)n;
    }
    if (op == ALAE_REDUCE_AVG) {
        float scale = 1.0f / (float)m->size;
        for (size_t i = 0; i < count; i++) buf[i] *= scale;
    }
    return ALAE_OK;
}

static alae_status mpi_broadcast(void *user, float *buf, size_t count, int32_t root, void *stream) {
    mpi_state *m = user;
    for (size_t done = 0; done < count;) {
        int n = count - done > (size_t)1 << 30 ? 1 << 30 : (int)(count - done);
        int rc = MPI_Bcast(buf + done, n, MPI_FLOAT, root, m->comm);
        if (rc != MPI_SUCCESS) return alaei_mpi_fail(host, rc, "MPI_Bcast", m->rank, m->size);
        done += (size_t)n;
    }
    return ALAE_OK;
}

static void mpi_destroy(void *user) {
    mpi_state *m = user;
    if (!m) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
        MPI_Comm_free(&m->comm);
        if (m->initialized_here) MPI_Finalize();
    }
    free(m);
}

__attribute__((visibility("default"))) alae_status alae_comm_module_entry(uint32_t version,
                                                                          const alaei_host_services *h,
                                                                          const char *backend, int32_t device,
                                                                          alae_comm *table) {
    if (!h || !table || !backend) return ALAE_E_INVALID_ARG;
    host = h;
    if (version != ALAE_COMM_VERSION || table->struct_size < sizeof(alae_comm))
        return h->fail(ALAE_E_VERSION, "alae_comm_open", "libalae-mpi implements communicator version %d, the "
                       "host asked for %u", ALAE_COMM_VERSION, version);
    mpi_state *m = calloc(1, sizeof *m);
    if (!m) return h->fail(ALAE_E_NOMEM, "alae_comm_open", "no memory for the MPI communicator");
    alae_status s = alaei_mpi_start(h, &m->comm, &m->initialized_here, &m->rank, &m->size);
    if (s != ALAE_OK) {
        free(m);
        return s;
    }
    table->rank = m->rank;
    table->size = m->size;
    table->memory = ALAE_COMM_HOST;
    table->user = m;
    table->allreduce = mpi_allreduce;
    table->broadcast = mpi_broadcast;
    table->destroy = mpi_destroy;
    return ALAE_OK;
}
