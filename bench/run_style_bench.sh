#!/bin/sh
# StyleALAE speed and memory: libalae (build/bench/alae_bench_style) against the project's
# PyTorch implementation of the same networks and step (bench/pytorch_style_alae.py, checked
# against tests/fixtures/style16.safetensors first), in one script, on the same thread counts.
#
# Cases (issue 5):
#   train  mnist 32x32 batch 64 (the final level, blend 1) and celeba at the 64x64 level
#          (level 4 of the 128 px networks) batch 32: one full iteration (D-step with R1,
#          G-step, latent step, style mixing 0.9 as in training)
#   encode / decode at batch 1 and 64, mnist 32x32 and celeba 64x64 (model API: E(x); G(w)
#          with fresh noise)
# Every run is its own process (peak RSS from getrusage in it). The two programs alternate
# within each repetition (libalae first on odd repetitions, PyTorch first on even ones); the
# table gives medians over the repetitions of each program's per-run median.
#
#   bench/run_style_bench.sh                 (about 15 minutes on 2 busy cores)
#   env: BUILD=build  PYTHON=/usr/bin/python3  THREADS="1 2"  REPS=2  TRAIN_REPS_CELEBA=1
#        CODEC_BIG_REPS=1 (repetitions of the celeba batch-64 encode / decode, ~20 s a run)
#        CASES="train-mnist train-celeba codec-mnist codec-celeba codec-128"  LOG=file (raw RESULT lines)
#        TORCH_OMP_WAIT_POLICY=passive|active|default
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD:-$root/build}
python=${PYTHON:-/usr/bin/python3}
threads_list=${THREADS:-"1 2"}
reps=${REPS:-2}
celeba_train_reps=${TRAIN_REPS_CELEBA:-1}
codec_big_reps=${CODEC_BIG_REPS:-1}
cases=${CASES:-"train-mnist train-celeba codec-mnist codec-celeba"}
im2col=${IM2COL:-1} # 1: also libalae with Winograd off (ALAE_WINOGRAD=0), the "before" of each case
alae_bin=$build/bench/alae_bench_style
tmp=$(mktemp -d)
log=${LOG:-$tmp/results.txt}
trap 'rm -rf "$tmp"' EXIT
: >"$log"

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
uptime
busy() {
    [ -r /proc/stat ] || { echo "?"; return; }
    a=$(head -n 1 /proc/stat); sleep 2; b=$(head -n 1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk -v hz="$(getconf CLK_TCK)" \
        '{ u[NR] = $2 + $3 + $4 + $7 + $8 } END { printf "%.2f", (u[2] - u[1]) / hz / 2 }'
}
echo "CPUs busy with other processes before the runs: $(busy) of $(nproc)"

have_alae=0
[ -x "$alae_bin" ] && have_alae=1 || echo "libalae: missing $alae_bin (build the target alae_bench_style)"
have_torch=0
if "$python" -c "import torch, numpy" >/dev/null 2>&1; then
    have_torch=1
    echo "== PyTorch implementation against the fixture"
    "$python" "$here/pytorch_style_alae.py" --check-fixture "$root/tests/fixtures/style16.safetensors" | tail -n 1
else
    echo "PyTorch: skipped: python3-torch is not installed (apt-get install -y python3-torch python3-numpy)"
fi

# run_one PROG ARGS...: one process; its RESULT line goes to the log
run_one() {
    prog=$1; shift
    if [ "$prog" = alae ]; then
        [ $have_alae = 1 ] || return 0
        "$alae_bin" "$@" >"$tmp/out" 2>&1
    elif [ "$prog" = im2col ]; then
        [ $have_alae = 1 ] || return 0
        ALAE_WINOGRAD=0 "$alae_bin" "$@" 2>&1 | sed 's/^RESULT alae /RESULT im2col /' >"$tmp/out"
    else
        [ $have_torch = 1 ] || return 0
        "$python" "$here/pytorch_style_alae.py" --omp-wait-policy "${TORCH_OMP_WAIT_POLICY:-passive}" "$@" >"$tmp/out" 2>&1
    fi
    if grep -q '^RESULT' "$tmp/out"; then
        grep '^RESULT' "$tmp/out" | tee -a "$log"
    else
        echo "FAILED: $prog $*"; cat "$tmp/out"
    fi
}

# case_runs REPS ARGS...: REPS repetitions, each thread count, the two programs alternately
case_runs() {
    n_reps=$1; shift
    rep=1
    while [ "$rep" -le "$n_reps" ]; do
        for t in $threads_list; do
            if [ $((rep % 2)) = 1 ]; then order="alae torch"; else order="torch alae"; fi
            if [ "$im2col" = 1 ]; then
                if [ $((rep % 2)) = 1 ]; then order="alae im2col torch"; else order="im2col torch alae"; fi
            fi
            for prog in $order; do run_one "$prog" "$@" --threads "$t"; done
        done
        rep=$((rep + 1))
    done
}

for c in $cases; do
    case $c in
    train-mnist)  echo "== training iteration, mnist 32x32, batch 64"
                  case_runs "$reps" --preset mnist --mode train --resolution 32 --batch 64 --warmup 1 --iters 1 ;;
    train-celeba) echo "== training iteration, celeba at 64x64 (level 4), batch 32"
                  case_runs "$celeba_train_reps" --preset celeba --mode train --resolution 64 --batch 32 --warmup 0 --iters 1 ;;
    codec-mnist|codec-celeba)
        p=${c#codec-}
        side=32; [ "$p" = celeba ] && side=64
        for m in encode decode; do
            echo "== $m, $p ${side}x${side}, batch 1 and 64"
            case_runs "$reps" --preset "$p" --mode "$m" --resolution "$side" --batch 1 --warmup 3 --iters 15
            big=$reps; [ "$p" = celeba ] && big=$codec_big_reps
            case_runs "$big" --preset "$p" --mode "$m" --resolution "$side" --batch 64 --warmup 1 --iters 2
        done ;;
    codec-128)    # celeba at its full 128x128 (the top level): batch 1 REPS times, batch 64 CODEC_BIG_REPS times
        for m in encode decode; do
            echo "== $m, celeba 128x128, batch 1 and 64"
            case_runs "$reps" --preset celeba --mode "$m" --resolution 128 --batch 1 --warmup 2 --iters 7
            case_runs "$codec_big_reps" --preset celeba --mode "$m" --resolution 128 --batch 64 --warmup 1 --iters 1
        done ;;
    *) echo "unknown case $c" ;;
    esac
done

echo
uptime
echo "Medians over the repetitions. time_x = PyTorch s / libalae s (> 1: libalae faster); cpu_x the"
echo "same for the process CPU time of the measured call (the robust figure on 1 thread when other"
echo "jobs share the machine); rss_x = libalae peak RSS / PyTorch peak RSS (< 1: smaller; target <= 0.5);"
echo "im2col_s: libalae with Winograd off (ALAE_WINOGRAD=0), wino_x = im2col_s / alae_s (IM2COL=1)"
printf '%-7s %-7s %4s %6s %3s %10s %10s %7s %10s %10s %7s %9s %9s %6s %10s %7s\n' preset mode res batch thr alae_s torch_s \
    time_x alae_cpu torch_cpu cpu_x alae_MiB torch_MiB rss_x im2col_s wino_x
awk '
function field(name,   i, kv) {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    if (n == 0) return ""
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "RESULT" {
    key = field("preset") " " field("mode") " " field("res") " " field("batch") " " field("threads")
    if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
    s[$2, key] = s[$2, key] " " field("median_s")
    c[$2, key] = c[$2, key] " " field("cpu_s")
    m[$2, key] = m[$2, key] " " field("peak_rss_mib")
}
END {
    for (k = 1; k <= nk; k++) {
        key = keys[k]
        as = median(s["alae", key]); ts = median(s["torch", key])
        ac = median(c["alae", key]); tc = median(c["torch", key])
        am = median(m["alae", key]); tm = median(m["torch", key]); is = median(s["im2col", key])
        split(key, f, " ")
        printf "%-7s %-7s %4s %6s %3s %10s %10s %7s %10s %10s %7s %9s %9s %6s %10s %7s\n", f[1], f[2], f[3], f[4], f[5],
            as == "" ? "-" : sprintf("%.4f", as), ts == "" ? "-" : sprintf("%.4f", ts),
            (as > 0 && ts > 0) ? sprintf("%.2f", ts / as) : "-",
            ac == "" ? "-" : sprintf("%.4f", ac), tc == "" ? "-" : sprintf("%.4f", tc),
            (ac > 0 && tc > 0) ? sprintf("%.2f", tc / ac) : "-",
            am == "" ? "-" : am, tm == "" ? "-" : tm, (am > 0 && tm > 0) ? sprintf("%.2f", am / tm) : "-",
            is == "" ? "-" : sprintf("%.4f", is), (as > 0 && is > 0) ? sprintf("%.2f", is / as) : "-"
    }
}' "$log"
[ -n "${LOG:-}" ] && echo "raw RESULT lines: $log"
exit 0
