#!/bin/sh
# Data-parallel scaling on one machine (docs/distributed.md): one process with T threads against
# T processes (mpirun) with one thread each, at the same global batch, for the MLP ALAE and
# StyleALAE. Reports steady-state images per second from log.csv (the rows after the first, so
# start-up, planning and the final save are left out), the median of REPEATS runs in turn.
#
# Usage: bench/run_dist_bench.sh [BUILD_DIR] (default build); environment: T (2), REPEATS (3),
# MPIEXEC (mpiexec), DATA (Fashion-MNIST's training images), COMM (mpi; nccl on GPUs), EXTRA
# (options for both runs, e.g. "--device cuda").
set -eu
BUILD=${1:-build}
ALAE=$BUILD/tools/alae
T=${T:-2}
REPEATS=${REPEATS:-3}
MPIEXEC=${MPIEXEC:-mpiexec}
DATA=${DATA:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}
COMM=${COMM:-mpi}
EXTRA=${EXTRA:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Shared memory with its single-copy mechanism (CMA): without it (the tests' container setting
# btl_vader_single_copy_mechanism=none) a 15 MB all-reduce took 2.1 s here instead of 0.25 s.

# rate LOG: images per second between the first and the last row of a log.csv
rate() {
    awk -F, 'NR == 2 {i0 = $2; s0 = $NF} NR > 2 {i1 = $2; s1 = $NF} END {printf "%.1f", (i1 - i0) / (s1 - s0)}' "$1"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# run NAME GLOBAL_BATCH STEPS EVERY OPTIONS...: prints "NAME one-process-rate ranks-rate"
run() {
    name=$1 batch=$2 steps=$3 every=$4
    shift 4
    : >"$WORK/one" && : >"$WORK/ranks"
    for i in $(seq "$REPEATS"); do
        rm -rf "$WORK/a" "$WORK/b"
        # shellcheck disable=SC2086
        "$ALAE" train $EXTRA --comm none --threads "$T" --batch "$batch" --out "$WORK/a" --steps "$steps" \
            --report-every "$every" --save-every 100000 --data "$DATA" "$@" 2>/dev/null
        rate "$WORK/a/log.csv" >>"$WORK/one" && echo >>"$WORK/one"
        # shellcheck disable=SC2086
        "$MPIEXEC" -n "$T" "$ALAE" train $EXTRA --comm "$COMM" --threads 1 --batch $((batch / T)) --out "$WORK/b" \
            --steps "$steps" --report-every "$every" --save-every 100000 --data "$DATA" "$@" 2>/dev/null
        rate "$WORK/b/log.csv" >>"$WORK/ranks" && echo >>"$WORK/ranks"
    done
    one=$(median <"$WORK/one")
    ranks=$(median <"$WORK/ranks")
    echo "$name | $one | $ranks | $(awk -v a="$one" -v b="$ranks" 'BEGIN {printf "%.2f", b / a}') | $(tr '\n' ' ' <"$WORK/one")/ $(tr '\n' ' ' <"$WORK/ranks")"
}

echo "model (global batch) | 1 process x $T threads, img/s | $T processes x 1 thread, img/s | ratio | runs"
run "MLP mnist-fc (128)" 128 50 10 --preset mnist-fc --max-images 8192
run "StyleALAE mnist, 32 px (32)" 32 12 3 --preset mnist --max-images 4096 --set epochs_per_lod=0
