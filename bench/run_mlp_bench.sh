#!/bin/sh
# Training-speed comparison of libalae and PyTorch on the mnist-fc MLP ALAE (batch 128):
# runs build/bench/alae_bench_mlp and bench/pytorch_mlp_alae.py for 1 and 2 threads and prints
# the per-iteration medians, peak RSS and the ratios torch/libalae.
#
#   bench/run_mlp_bench.sh [STEPS]            (default 20 measured iterations after 3 warm-up)
#   env: BUILD=build  PYTHON=/usr/bin/python3  THREADS="1 2"  BATCH=128
#        REPS=1 (runs of each program per thread count, alternating libalae / PyTorch; the table
#        shows the median over the runs of each run's median; cpu = process CPU time per iteration)
#        ALAE_BIN=path (another alae_bench_mlp, e.g. a build of the previous commit, for before/after)
#        TORCH_OMP_WAIT_POLICY=passive|active|default (passive: see bench/pytorch_mlp_alae.py)
#
# Timings are only meaningful on an otherwise idle machine (both programs' threads spin);
# the PyTorch benchmark prints a warning line when other processes used the CPU meanwhile.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
steps=${1:-20}
build=${BUILD:-$root/build}
python=${PYTHON:-/usr/bin/python3}
threads_list=${THREADS:-"1 2"}
batch=${BATCH:-128}
alae_bin=${ALAE_BIN:-$build/bench/alae_bench_mlp}
reps=${REPS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field NAME FILE: the value of NAME=... on the RESULT line of FILE
field() { sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" "$2" | tail -n 1; }

# CPUs busy with other processes over 2 s (from /proc/stat), e.g. "0.03"
busy_cpus() {
    [ -r /proc/stat ] || { echo "?"; return; }
    a=$(head -n 1 /proc/stat); sleep 2; b=$(head -n 1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk -v hz="$(getconf CLK_TCK)" \
        '{ u[NR] = $2 + $3 + $4 + $7 + $8 } END { printf "%.2f", (u[2] - u[1]) / hz / 2 }'
}
busy=$(busy_cpus)
echo "CPUs busy before the runs: $busy of $(nproc) (timings need an idle machine)"

have_alae=0
if [ -x "$alae_bin" ]; then
    have_alae=1
else
    echo "libalae: missing $alae_bin (build the bench target alae_bench_mlp); libalae columns left empty"
fi
have_torch=0
if "$python" -c "import torch" >/dev/null 2>&1; then
    have_torch=1
else
    echo "PyTorch: skipped: python3-torch is not installed (apt-get install -y python3-torch python3-numpy)"
fi

for t in $threads_list; do
    r=1
    while [ $r -le "$reps" ]; do
        if [ $have_alae = 1 ]; then
            echo "== libalae, $t thread(s), run $r (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
            "$alae_bin" --threads "$t" --steps "$steps" --batch "$batch" 2>&1 | tee "$tmp/alae.$t.$r"
        fi
        if [ $have_torch = 1 ]; then
            echo "== PyTorch, $t thread(s), run $r (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
            "$python" "$here/pytorch_mlp_alae.py" --threads "$t" --steps "$steps" --batch "$batch" \
                --omp-wait-policy "${TORCH_OMP_WAIT_POLICY:-passive}" 2>&1 | tee "$tmp/torch.$t.$r"
        fi
        r=$((r + 1))
    done
done

# med NAME WHO T: the median over the runs of field NAME of WHO's (alae|torch) runs with T threads
med() {
    for f in "$tmp/$2.$3".*; do [ -f "$f" ] && field "$1" "$f"; done | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; else printf -- "-"; fi; }

echo
echo "mnist-fc training iteration, batch $batch, median of $steps iterations per run, median of $reps run(s)"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg); CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
printf '%-8s %12s %12s %7s %12s %12s %7s %10s %10s %6s\n' threads alae_s torch_s time_x alae_cpu_s torch_cpu_s cpu_x \
    alae_MiB torch_MiB rss_x
for t in $threads_list; do
    as=$(med median_s alae "$t"); ts=$(med median_s torch "$t")
    ac=$(med cpu_s alae "$t"); tc=$(med cpu_s torch "$t")
    am=$(med peak_rss_mib alae "$t"); tm=$(med peak_rss_mib torch "$t")
    printf '%-8s %12s %12s %7s %12s %12s %7s %10s %10s %6s\n' "$t" "${as:--}" "${ts:--}" "$(ratio "$ts" "$as")" \
        "${ac:--}" "${tc:--}" "$(ratio "$tc" "$ac")" "${am:--}" "${tm:--}" "$(ratio "$tm" "$am")"
done
echo "time_x, cpu_x = torch / libalae (> 1: libalae faster); rss_x = torch peak RSS / libalae peak RSS"
[ $have_torch = 1 ] || echo "PyTorch: skipped: python3-torch is not installed"
[ $have_alae = 1 ] || echo "libalae: missing $alae_bin"
exit 0
