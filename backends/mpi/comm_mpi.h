/* Shared by the MPI and NCCL communicator modules (both bootstrap through MPI). */
#ifndef ALAE_COMM_MPI_H
#define ALAE_COMM_MPI_H

#include <mpi.h>

#include "internal/alae_backend_impl.h"

/* Initialises MPI unless the process did (*initialized_here says which), and duplicates
 * MPI_COMM_WORLD with errors returned, not fatal. */
alae_status alaei_mpi_start(const alaei_host_services *h, MPI_Comm *comm, int *initialized_here, int *rank,
                            int *size);
/* Records MPI's message for code as ALAE_E_BACKEND, naming this rank and func. */
alae_status alaei_mpi_fail(const alaei_host_services *h, int code, const char *func, int rank, int size);

#endif
