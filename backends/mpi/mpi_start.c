/* The MPI bootstrap shared by the MPI and NCCL communicator modules. */
#include <stdio.h>

#include "comm_mpi.h"

alae_status alaei_mpi_fail(const alaei_host_services *h, int code, const char *func, int rank, int size) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    return h->fail(ALAE_E_BACKEND, func, "rank %d of %d: %s failed: %s (another rank may have died: see the "
                                         "launcher's message for which)", rank, size, func, text);
}

alae_status alaei_mpi_start(const alaei_host_services *h, MPI_Comm *comm, int *initialized_here, int *rank,
                            int *size) {
    int initialized = 0, provided = 0;
    *comm = MPI_COMM_NULL;
    MPI_Initialized(&initialized);
    *initialized_here = !initialized;
    if (!initialized && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return h->fail(ALAE_E_BACKEND_UNAVAILABLE, "alae_comm_open", "MPI_Init_thread failed");
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(*comm, rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(*comm, size);
    if (rc != MPI_SUCCESS) {
        if (*comm != MPI_COMM_NULL) MPI_Comm_free(comm);
        return alaei_mpi_fail(h, rc, "MPI_Comm_dup", 0, 1);
    }
    return ALAE_OK;
}

