#!/bin/sh
# The GPU check (issue 6, DEVELOPERS.md): on a machine with an NVIDIA GPU, in one go
#   1. configures with the CUDA backend required (-DALAE_CUDA=ON) and builds with every core;
#   2. runs the GPU tests first, verbosely (cuda_backend_ops, cuda_gradcheck, cuda_mlp_parity,
#      cuda_style_parity: they must RUN here, a skip counts as a failure), then the rest of the
#      ctest suite in parallel;
#   3. benchmarks training iterations on the GPU against the project's PyTorch implementations
#      on the same GPU (python3 with torch + CUDA): MLP mnist-fc batch 128, StyleALAE mnist 32x32
#      batch 64 and celeba 128x128 batch 32; prints the speed ratios and the TFLOP/s achieved in
#      matrix products and convolutions against the GPU's float32 peak;
#   4. prints a summary.
# Meant to finish in under 8 minutes on one H100 or H200.
#
# Usage: tools/gpu-check.sh
# Environment: OUT (where logs and summary.txt go; default <repo>/gpu-check-out), BUILD_DIR
#   (default <repo>/build-gpu), CUDA_ARCHS (CMAKE_CUDA_ARCHITECTURES, default 90), JOBS (default:
#   online CPUs), SKIP_TESTS=1 / SKIP_BENCH=1 to leave a stage out.
# Exit status: 0 when the build, every test and every benchmark run succeeded; 1 otherwise.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT_DIR=${OUT:-$ROOT/gpu-check-out}
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 4)}
ARCHS=${CUDA_ARCHS:-90}
mkdir -p "$OUT_DIR"
SUMMARY=$OUT_DIR/summary.txt
: >"$SUMMARY"
status=0
t_start=$(date +%s)

say() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - t_start)); }
# field NAME FILE: the value of NAME=... on the last RESULT line of FILE
field() { sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" "$2" 2>/dev/null | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

say "==== gpu-check.sh on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi >"$OUT_DIR/nvidia-smi.txt" 2>&1
    say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
else
    say "GPU: nvidia-smi not found"
fi
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
say "nvcc: $("$NVCC" --version 2>/dev/null | tail -n 1)"

# ---- 1. configure + build ----
if ! cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DALAE_CUDA=ON -DALAE_WERROR=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" >"$OUT_DIR/configure.log" 2>&1; then
    say "FAIL: configure (see $OUT_DIR/configure.log)"
    tail -n 30 "$OUT_DIR/configure.log"
    exit 1
fi
if ! cmake --build "$BUILD" -j "$JOBS" >"$OUT_DIR/build.log" 2>&1; then
    say "FAIL: build (see $OUT_DIR/build.log)"
    grep -E "error|Error" "$OUT_DIR/build.log" | head -n 30
    exit 1
fi
say "build: ok after $(elapsed) s ($BUILD, CUDA architectures $ARCHS)"
"$BUILD/tools/alae" info >"$OUT_DIR/alae-info.txt" 2>&1
say "$(grep -E '^\s*\[|^cuda:|memory' "$OUT_DIR/alae-info.txt")"
export ALAE_CUDA_BACKEND="$BUILD/libalae-cuda.so"

# ---- 2. tests ----
if [ "${SKIP_TESTS:-0}" != 1 ]; then
    t0=$(date +%s)
    rc=0
    ctest --test-dir "$BUILD" -R '^cuda_' -V --timeout 400 >"$OUT_DIR/ctest-cuda.log" 2>&1 || rc=$?
    if grep -q "Skipped" "$OUT_DIR/ctest-cuda.log" || [ $rc -ne 0 ]; then
        status=1
        say "FAIL: GPU tests (rc $rc; a skip counts as a failure on a GPU machine):"
        grep -E "Test +#|SKIPPED" "$OUT_DIR/ctest-cuda.log" | tee -a "$SUMMARY"
    else
        say "GPU tests: $(grep -E 'tests passed' "$OUT_DIR/ctest-cuda.log") in $(($(date +%s) - t0)) s"
        grep -E "^ *[0-9]+/[0-9]+ Test" "$OUT_DIR/ctest-cuda.log" | tee -a "$SUMMARY"
    fi
    t0=$(date +%s)
    rc=0
    ctest --test-dir "$BUILD" -E '^cuda_' -j "$JOBS" --output-on-failure --timeout 400 >"$OUT_DIR/ctest.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        status=1
        say "FAIL: the rest of the suite (see $OUT_DIR/ctest.log):"
        sed -n '/tests passed/,$p' "$OUT_DIR/ctest.log" | tee -a "$SUMMARY"
    else
        say "rest of the suite: $(grep -E 'tests passed' "$OUT_DIR/ctest.log") in $(($(date +%s) - t0)) s"
        sed -n '/did not run/,$p' "$OUT_DIR/ctest.log" | tee -a "$SUMMARY"
    fi
fi

# ---- 3. benchmarks ----
if [ "${SKIP_BENCH:-0}" != 1 ]; then
    BENCH="$BUILD/bench/alae_bench_gpu"
    TORCH_OK=0
    if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >"$OUT_DIR/torch.txt" 2>&1; then
        TORCH_OK=1
        python3 -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))" \
            >>"$OUT_DIR/torch.txt" 2>&1
        say "$(tail -n 1 "$OUT_DIR/torch.txt")"
    else
        say "SKIPPED: the PyTorch comparisons: python3 has no torch with CUDA ($(tail -n 1 "$OUT_DIR/torch.txt"))"
    fi
    # float32 peak (dense, no tensor cores) of the GPU, from its name
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    case "$gpu" in
    *H100*PCIe*) PEAK=51.2 ;;
    *H100*NVL*) PEAK=60.0 ;;
    *H100* | *H200*) PEAK=66.9 ;;
    *A100*) PEAK=19.5 ;;
    *L40S*) PEAK=91.6 ;;
    *) PEAK=0 ;;
    esac
    say "float32 peak of '$gpu': ${PEAK} TFLOP/s (0: unknown)"
    BENCH_LINES=""

    # run NAME TIMEOUT COMMAND...: output to $OUT_DIR/NAME.log
    run() {
        name=$1
        limit=$2
        shift 2
        if ! timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1; then
            status=1
            say "FAIL: $name (see $OUT_DIR/$name.log): $(tail -n 2 "$OUT_DIR/$name.log" | tr '\n' ' ')"
            return 1
        fi
        return 0
    }
    # compare LABEL ALAE_LOG TORCH_LOG BATCH
    compare() {
        a=$(field median_s "$OUT_DIR/$2.log")
        tf=$(field tflops "$OUT_DIR/$2.log")
        t=""
        [ -f "$OUT_DIR/$3.log" ] && t=$(field median_s "$OUT_DIR/$3.log")
        pct=$(awk -v x="${tf:-0}" -v p="$PEAK" 'BEGIN { if (p > 0) printf "%.1f%%", 100 * x / p; else printf "n/a" }')
        line=$(printf "%-34s libalae %9s s  torch %9s s  speed-up x%-6s  %6s TFLOP/s = %s of fp32 peak" \
            "$1" "${a:-n/a}" "${t:-n/a}" "$(ratio "${t:-0}" "${a:-0}")" "${tf:-n/a}" "$pct")
        BENCH_LINES="$BENCH_LINES
$line"
    }

    # MLP, mnist-fc, batch 128: with and without CUDA graphs
    run alae-mlp 120 "$BENCH" --device cuda --preset mnist-fc --batch 128 --steps 100 --warmup 10
    run alae-mlp-nographs 120 "$BENCH" --device cuda --preset mnist-fc --batch 128 --steps 50 --warmup 5 --no-graphs
    [ $TORCH_OK = 1 ] && run torch-mlp 180 python3 "$ROOT/bench/pytorch_mlp_alae.py" --device cuda --batch 128 --steps 50 --warmup 5
    compare "MLP mnist-fc b128" alae-mlp torch-mlp
    compare "MLP mnist-fc b128, no graphs" alae-mlp-nographs torch-mlp

    # StyleALAE mnist 32x32 batch 64, celeba 128x128 batch 32 (also with TF32)
    STYLE_PY="$ROOT/bench/pytorch_style_alae.py"
    [ -f "$STYLE_PY" ] || say "SKIPPED: the StyleALAE PyTorch comparison: $STYLE_PY does not exist yet"
    run alae-style-mnist 180 "$BENCH" --device cuda --preset mnist --batch 64 --steps 20 --warmup 3
    [ $TORCH_OK = 1 ] && [ -f "$STYLE_PY" ] &&
        run torch-style-mnist 240 python3 "$STYLE_PY" --device cuda --preset mnist --resolution 32 --batch 64 --iters 20 --warmup 3
    compare "StyleALAE mnist 32px b64" alae-style-mnist torch-style-mnist
    run alae-style-celeba 240 "$BENCH" --device cuda --preset celeba --batch 32 --steps 8 --warmup 2
    run alae-style-celeba-tf32 240 "$BENCH" --device cuda --preset celeba --batch 32 --steps 8 --warmup 2 --tf32
    [ $TORCH_OK = 1 ] && [ -f "$STYLE_PY" ] &&
        run torch-style-celeba 300 python3 "$STYLE_PY" --device cuda --preset celeba --resolution 128 --batch 32 --iters 8 --warmup 2
    compare "StyleALAE celeba 128px b32" alae-style-celeba torch-style-celeba
    compare "StyleALAE celeba 128px b32, TF32" alae-style-celeba-tf32 torch-style-celeba
    say "benchmarks (median seconds per training iteration; speed-up = torch / libalae):$BENCH_LINES"
fi

say "==== gpu-check.sh: $( [ $status -eq 0 ] && echo PASSED || echo FAILED ) in $(elapsed) s; logs in $OUT_DIR"
exit $status
