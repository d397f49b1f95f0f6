#!/bin/sh
# Usage: check_exports.sh path/to/libalae.so SOVERSION
# Fails unless the shared library exports only alae_* functions, carries the SONAME
# libalae.so.SOVERSION, and has no dynamic dependency on CUDA, BLAS, MPI or NCCL libraries (all
# are loaded at run time: OpenBLAS by libalae, the others by its modules).
set -eu
lib=$1
soversion=$2
fail=0
exports=$(nm -D --defined-only "$lib" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')
count=$(printf '%s\n' "$exports" | grep -c . || true)
bad=$(printf '%s\n' "$exports" | grep -v '^alae_' || true)
if [ -n "$bad" ]; then
    echo "FAIL: symbols exported outside the alae_ namespace:"; printf '%s\n' "$bad"; fail=1
fi
for required in alae_version_number alae_version_string alae_check_version alae_status_string \
                alae_last_error alae_context_create alae_tensor_create; do
    printf '%s\n' "$exports" | grep -qx "$required" || { echo "FAIL: $required is not exported"; fail=1; }
done
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libalae.so.$soversion" ]; then
    echo "FAIL: SONAME is '$soname', expected libalae.so.$soversion"; fail=1
fi
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -Eiq 'cuda|cublas|openblas|libblas|mpi|nccl|pmix|open-pal|open-rte'; then
    echo "FAIL: libalae depends on CUDA, BLAS, MPI or NCCL at load time:"; printf '%s\n' "$needed"; fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "ok: $count exported symbols, all alae_*; SONAME $soname; NEEDED: $(printf '%s ' $needed)"
