#!/bin/sh
# Usage: check_comm_module.sh path/to/libalae-mpi.so|libalae-nccl.so
# Fails unless a communicator module exports exactly alae_comm_module_entry, does not link libalae
# (it reaches the library only through the host services it is given), links MPI (both modules
# bootstrap through it), and has no RUNPATH entry that the loader would read as the current
# directory (empty or relative).
set -eu
mod=$1
fail=0
exports=$(nm -D --defined-only "$mod" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')
if [ "$exports" != "alae_comm_module_entry" ]; then
    echo "FAIL: the module exports more or other than alae_comm_module_entry:"; printf '%s\n' "$exports"; fail=1
fi
needed=$(readelf -d "$mod" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -q '^libalae\.so'; then
    echo "FAIL: the module links libalae:"; printf '%s\n' "$needed"; fail=1
fi
if ! printf '%s\n' "$needed" | grep -q 'mpi'; then
    echo "FAIL: MPI is not a dynamic dependency:"; printf '%s\n' "$needed"; fail=1
fi
runpath=$(readelf -d "$mod" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
for entry in $(printf '%s' "$runpath" | tr ':' ' '); do
    case "$entry" in
    /*) ;;
    *) echo "FAIL: RUNPATH entry '$entry' is not absolute"; fail=1 ;;
    esac
done
case "$runpath" in
:* | *: | *::*) echo "FAIL: RUNPATH '$runpath' has an empty entry (the current directory)"; fail=1 ;;
esac
[ "$fail" -eq 0 ] || exit 1
echo "ok: exports alae_comm_module_entry only; NEEDED: $(printf '%s ' $needed); RUNPATH: ${runpath:-none}"
