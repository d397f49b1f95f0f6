#!/bin/sh
# One 1024 px reconstruction (encode + decode, batch 1) of the ffhq StyleALAE on the CPU:
# libalae (build/bench/alae_bench_style --mode reconstruct) against the project's PyTorch port
# (bench/pytorch_style_alae.py --mode reconstruct) on the same weights: a freshly initialised
# ffhq model (the shapes and cost of the published one) saved by libalae and loaded by both.
#
#  1. agreement: both reconstruct the same image with the noise off; the script prints the
#     largest difference of PyTorch's result to libalae's
#  2. speed and memory: REPS repetitions, the two programs alternating (each run its own process,
#     WARMUP + ITERS calls with fresh noise; peak RSS from getrusage, model loading included);
#     medians of the per-run medians, and the ratios PyTorch / libalae (time) and libalae /
#     PyTorch (peak RSS)
#
#   bench/run_infer_1024.sh        (about 5 minutes on 2 busy cores)
#   env: BUILD=build  PYTHON=/usr/bin/python3  THREADS=2  REPS=3  WARMUP=1  ITERS=2  KEEP=dir
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD:-$root/build}
python=${PYTHON:-/usr/bin/python3}
threads=${THREADS:-2}
reps=${REPS:-3}
warmup=${WARMUP:-1}
iters=${ITERS:-2}
alae_bin=$build/bench/alae_bench_style
[ -x "$alae_bin" ] || { echo "missing $alae_bin (build the target alae_bench_style)"; exit 1; }
"$python" -c "import torch, numpy" >/dev/null 2>&1 || { echo "PyTorch and numpy are needed ($python)"; exit 1; }
tmp=${KEEP:-$(mktemp -d)}
mkdir -p "$tmp"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
model=$tmp/ffhq.safetensors
log=$tmp/results.txt
: >"$log"

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uptime)"
"$alae_bin" --preset ffhq --save-model "$model" || exit 1
"$python" -c "
import numpy as np
rng = np.random.default_rng(0)
np.save('$tmp/x.npy', (rng.random((1, 3, 1024, 1024), dtype=np.float32) * 2 - 1).astype(np.float32))" || exit 1

echo "== agreement, noise off"
"$alae_bin" --preset ffhq --model "$model" --mode reconstruct --batch 1 --threads "$threads" --warmup 0 --iters 1 \
    --noise off --input "$tmp/x.npy" --output "$tmp/y.npy" | grep '^RESULT' || exit 1
(cd "$here" && "$python" pytorch_style_alae.py --preset ffhq --mode reconstruct --batch 1 --threads "$threads" \
    --warmup 0 --iters 1 --noise off --weights "$model" --input "$tmp/x.npy" --compare "$tmp/y.npy") |
    grep -E '^(COMPARE|RESULT)' || exit 1

echo "== speed and memory, fresh noise, $reps repetitions of $warmup + $iters calls per run"
run_one() {
    if [ "$1" = alae ]; then
        "$alae_bin" --preset ffhq --model "$model" --mode reconstruct --batch 1 --threads "$threads" \
            --warmup "$warmup" --iters "$iters" --input "$tmp/x.npy" >"$tmp/out" 2>&1
    else
        (cd "$here" && "$python" pytorch_style_alae.py --preset ffhq --mode reconstruct --batch 1 --threads "$threads" \
            --warmup "$warmup" --iters "$iters" --weights "$model" --input "$tmp/x.npy") >"$tmp/out" 2>&1
    fi
    grep '^RESULT' "$tmp/out" | tee -a "$log" || { echo "FAILED: $1"; cat "$tmp/out"; }
}
rep=1
while [ "$rep" -le "$reps" ]; do
    if [ $((rep % 2)) = 1 ]; then order="alae torch"; else order="torch alae"; fi
    for prog in $order; do run_one "$prog"; done
    rep=$((rep + 1))
done

echo "== $(uptime)"
awk '
function field(name,   i, kv) {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
}
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$1 == "RESULT" { s[$2] = s[$2] " " field("median_s"); c[$2] = c[$2] " " field("cpu_s"); m[$2] = m[$2] " " field("peak_rss_mib") }
END {
    as = median(s["alae"]); ts = median(s["torch"]); ac = median(c["alae"]); tc = median(c["torch"])
    am = median(m["alae"]); tm = median(m["torch"])
    printf "libalae: %.2f s (CPU %.2f s), peak RSS %.0f MiB\n", as, ac, am
    printf "PyTorch: %.2f s (CPU %.2f s), peak RSS %.0f MiB\n", ts, tc, tm
    printf "time PyTorch / libalae: %.2f (CPU time %.2f); peak RSS libalae / PyTorch: %.2f\n", ts / as, tc / ac, am / tm
}' "$log"
