#!/bin/sh
# Data-parallel `alae train` under an MPI launcher (docs/distributed.md).
#
#   equivalence: two ranks of --batch 8 end with the same training state as one process of
#     --batch 16 on the same data order (parameters, smoothed copy and Adam moments within float
#     tolerance, the same log); resuming works with the other number of ranks (2 -> 1, 1 -> 2);
#     only rank 0 writes; a StyleALAE run crosses levels and epochs on two ranks.
#   fault: SIGKILL of rank 1 during training stops the job within a bounded time with a message
#     naming rank 1; the last saved state is intact and a resume continues from it.
#
# Usage: test_mpi.sh MODE ALAE MAKE_IDX WORKDIR MPIEXEC COMPARE_PY [DEVICE]
# DEVICE (default cpu) = cuda runs the equivalence on a GPU with the NCCL module; without a GPU
# the test prints "SKIPPED: ..." and exits 77 (ctest: skipped), as it does without an MPI
# launcher that starts.
set -eu
MODE=$1
ALAE=$2
MAKE_IDX=$3
WORK=$4
MPIEXEC=$5
COMPARE=$6
DEVICE=${7:-cpu}
NAME="dist_mpi_$MODE"
[ "$DEVICE" = cpu ] || NAME="dist_nccl_$MODE"

fail() {
    echo "FAIL: $NAME: $*" >&2
    exit 1
}
skip() {
    echo "SKIPPED: $NAME: $*"
    exit 77
}

# ---- a launcher that works here ----
# OpenMPI refuses root without these, and in containers needs shared-memory transport without
# the single-copy mechanism (CMA) and may see fewer slots than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_plm_rsh_agent=false # a single machine: never try ssh
# MPI libraries leak by design; LeakSanitizer (the ASan build) would fail every rank at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
launcher=
for c in "$MPIEXEC" "$MPIEXEC.openmpi" mpiexec.openmpi mpirun.openmpi "$MPIEXEC.mpich" mpiexec.mpich mpiexec mpirun; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && timeout 60 "$c" -n 1 true >/dev/null 2>&1; then
        launcher=$c
        break
    fi
done
[ -n "$launcher" ] || skip "no MPI launcher that starts a process here (tried $MPIEXEC, mpiexec.openmpi, mpiexec.mpich, mpirun)"
mpi() { # mpi N COMMAND...
    n=$1
    shift
    timeout 120 "$launcher" -n "$n" "$@"
}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" . >/dev/null

if [ "$DEVICE" != cpu ]; then
    "$ALAE" info --device "$DEVICE" >info.out 2>&1 || skip "no CUDA device ($(tail -n 1 info.out))"
fi

# train OUT BATCH STEPS [options]: the tiny MLP run; flips on, so that the global flip index counts
train() {
    out=$1
    batch=$2
    steps=$3
    shift 3
    "$ALAE" train --device "$DEVICE" --preset mnist-fc-paper --data tiny.idx --out "$out" --batch "$batch" \
        --steps "$steps" --threads 1 --seed 11 --report-every 2 --save-every 3 --flip on --set hidden=32 "$@"
}

if [ "$MODE" = equivalence ]; then
    tol=1e-4
    [ "$DEVICE" = cpu ] || tol=2e-3
    train one 16 6 --comm none 2>one.err || fail "one process: $(cat one.err)"
    mpi 2 "$ALAE" train --device "$DEVICE" --preset mnist-fc-paper --data tiny.idx --out two --batch 8 --steps 6 \
        --threads 1 --seed 11 --report-every 2 --save-every 3 --flip on --set hidden=32 >two.out 2>&1 ||
        fail "two ranks: $(cat two.out)"
    python3 "$COMPARE" two/train-state.safetensors one/train-state.safetensors "$tol" >cmp.out ||
        fail "two ranks of batch 8 and one process of batch 16 differ: $(cat cmp.out)"
    echo "two ranks vs one process: $(cat cmp.out)"
    rc=0
    train bad 16 1 --comm gloo 2>bad.err || rc=$?
    [ "$rc" -eq 2 ] && grep -q "'auto', 'none', 'mpi' or 'nccl'" bad.err || fail "--comm gloo: status $rc: $(cat bad.err)"
    grep -q "batch 16 (2 ranks x 8)" two.out || fail "the log does not show the global batch: $(cat two.out)"
    [ "$(grep -c '^alae train: mnist-fc-paper' two.out)" -eq 1 ] || fail "more than rank 0 reported: $(cat two.out)"
    [ "$(cut -d, -f1,2 two/log.csv)" = "$(cut -d, -f1,2 one/log.csv)" ] || fail "log.csv steps and images differ"
    # resume with the other number of ranks: 2 -> 1 and 1 -> 2
    mpi 2 "$ALAE" train --device "$DEVICE" --preset mnist-fc-paper --data tiny.idx --out r21 --batch 8 --steps 3 \
        --threads 1 --seed 11 --report-every 2 --save-every 3 --flip on --set hidden=32 >r21.out 2>&1 ||
        fail "two ranks, 3 steps: $(cat r21.out)"
    train r21 16 6 --resume --comm none 2>r21.err || fail "resume on one process: $(cat r21.err)"
    python3 "$COMPARE" r21/train-state.safetensors one/train-state.safetensors "$tol" >cmp.out ||
        fail "2 ranks then 1 process differ from 1 process: $(cat cmp.out)"
    train r12 16 3 --comm none 2>r12.err || fail "one process, 3 steps: $(cat r12.err)"
    mpi 2 "$ALAE" train --device "$DEVICE" --preset mnist-fc-paper --data tiny.idx --out r12 --batch 8 --steps 6 \
        --threads 1 --seed 11 --report-every 2 --save-every 3 --flip on --set hidden=32 --resume >r12.out 2>&1 ||
        fail "resume on two ranks: $(cat r12.out)"
    grep -q "resuming at step 3" r12.out || fail "the resume did not start at step 3: $(cat r12.out)"
    python3 "$COMPARE" r12/train-state.safetensors one/train-state.safetensors "$tol" >cmp.out ||
        fail "1 process then 2 ranks differ from 1 process: $(cat cmp.out)"
    echo "resumes 2 -> 1 and 1 -> 2 ranks match one process"
    # StyleALAE across two levels and an epoch boundary (64 images, global batch 16, 4 steps an epoch)
    mpi 2 "$ALAE" train --device "$DEVICE" --preset mnist --data tiny.idx --out style --batch 8 --steps 10 \
        --threads 1 --seed 3 --report-every 5 --max-images 64 --set epochs_per_lod=1 --set max_channels=16 \
        --set start_channels=16 >style.out 2>&1 || fail "StyleALAE on two ranks: $(cat style.out)"
    tail -n 1 style/log.csv | grep -q '^10,160,2,' || fail "StyleALAE: unexpected log: $(cat style/log.csv)"
    "$ALAE" info --model style/model.safetensors >/dev/null 2>&1 || fail "StyleALAE: unreadable model"
    echo "StyleALAE on two ranks: $(tail -n 1 style/log.csv)"
    exit 0
fi

[ "$MODE" = fault ] || fail "unknown mode $MODE"
# ---- fault: SIGKILL rank 1 ----
marker="alae-fault-$$-$(date +%s)"
ALAE_TEST_MARKER=$marker
export ALAE_TEST_MARKER
"$launcher" -n 2 "$ALAE" train --preset mnist-fc-paper --data tiny.idx --out run --batch 8 --steps 1000000 \
    --threads 1 --seed 11 --report-every 10 --save-every 10 --set hidden=32 >run.out 2>&1 &
job=$!
unset ALAE_TEST_MARKER

# the pid of rank RANK of this job: the process whose environment has the marker and the rank
rank_pid() {
    for env in $(grep -las "ALAE_TEST_MARKER=$marker" /proc/[0-9]*/environ); do
        { tr '\0' '\n' <"$env" | grep -qxE "(OMPI_COMM_WORLD_RANK|PMI_RANK)=$1"; } 2>/dev/null || continue
        pid=${env#/proc/}
        echo "${pid%/environ}"
        return 0
    done
    return 1
}

waited=0
until [ -f run/train-state.safetensors ] && [ "$(wc -l <run/log.csv)" -ge 3 ]; do
    kill -0 "$job" 2>/dev/null || fail "the job ended before its first saves: $(cat run.out)"
    [ "$waited" -lt 600 ] || { kill "$job"; fail "no training state after 60 s: $(cat run.out)"; }
    sleep 0.1
    waited=$((waited + 1))
done
victim=$(rank_pid 1) || { kill "$job"; fail "rank 1's process not found"; }
kill -9 "$victim"
start=$(date +%s)
rc=0
# bounded: the launcher must end the job by itself; give it 60 s before calling it hung
( sleep 60 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -9 "$job" ) >/dev/null 2>&1 &
watchdog=$!
wait "$job" || rc=$?
kill "$watchdog" 2>/dev/null || true
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail "the job exited 0 after rank 1 was killed"
[ "$took" -lt 60 ] || fail "the job did not stop within 60 s of rank 1's death"
grep -qiE "rank 1[^0-9]|rank: 1[^0-9]|RANK 1 " run.out || fail "no message names rank 1: $(cat run.out)"
if left=$(rank_pid 0); then
    kill -9 "$left"
    fail "rank 0 (pid $left) is still running after the job ended"
fi
echo "rank 1 killed: the job stopped after ${took} s with status $rc: $(grep -iE 'rank 1' run.out | head -n 1)"
# the last checkpoint is intact, and a resume continues from it
"$ALAE" info --model run/model.safetensors >/dev/null 2>info.err || fail "model.safetensors: $(cat info.err)"
last=$(tail -n 1 run/log.csv | cut -d, -f1)
target=$((last + 10))
"$launcher" -n 2 "$ALAE" train --preset mnist-fc-paper --data tiny.idx --out run --batch 8 --steps "$target" \
    --threads 1 --seed 11 --report-every 10 --save-every 10 --set hidden=32 --resume >resume.out 2>&1 ||
    fail "resume after the kill: $(cat resume.out)"
grep -qE "resuming at step [1-9][0-9]*" resume.out || fail "the resume did not continue from a saved step: $(cat resume.out)"
tail -n 1 run/log.csv | grep -q "^$target," || fail "the resumed run did not reach step $target: $(tail -n 3 run/log.csv)"
echo "resumed: $(grep -o 'resuming at step [0-9]*' resume.out) to step $target"
