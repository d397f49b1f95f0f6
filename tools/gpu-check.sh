#!/bin/sh
# The GPU check (issue 6, DEVELOPERS.md): on a machine with an NVIDIA GPU, in one go
#   0. uses the Debian packages carried in .gpu-deps/debs (tools/gpu-deps-fetch.sh) for whatever
#      the machine lacks (Check, pkg-config, OpenBLAS, zlib headers);
#   1. configures with the CUDA backend required (-DALAE_CUDA=ON) and builds with every core
#      (-Werror; on a compiler that warns, the warnings are a failure and it builds without);
#   2. runs the GPU tests first, verbosely (cuda_backend_ops, cuda_gradcheck, cuda_mlp_parity,
#      cuda_style_parity: they must RUN here, a skip counts as a failure);
#   3. benchmarks training iterations on the GPU against the project's PyTorch implementations
#      on the same GPU (python3 with torch + CUDA): MLP mnist-fc batch 128, StyleALAE mnist 32x32
#      batch 64 and celeba 128x128 batch 32 (PyTorch also with TF32 and with cudnn.benchmark);
#      prints the speed ratios and the TFLOP/s achieved in matrix products and convolutions
#      against the GPU's float32 peak, then the GPU time per op (ALAE_CUDA_PROFILE=1) of the MLP
#      and celeba iterations;
#   4. runs the rest of the ctest suite in parallel (after the benchmarks, so that a short lease
#      gets the GPU results first), and prints a summary.
# Took 192 s on an H200; meant to finish in under 8 minutes on one H100 or H200.
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
# ---- 0. build dependencies the GPU image may lack (Check, pkg-config, OpenBLAS, zlib headers) ----
# GPU machines often have CUDA and PyTorch but none of Debian's -dev packages, and no network.
# tools/gpu-deps-fetch.sh downloads the Debian 12 packages into .gpu-deps/debs beforehand; each
# is unpacked under $DEPS and used only where the machine has no package of its own.
DEBS=${GPU_DEPS_DEBS:-$ROOT/.gpu-deps/debs}
DEPS=${GPU_DEPS_PREFIX:-/tmp/alae-gpu-deps}
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
use_carried_deps() {
    ls "$DEBS"/*.deb >/dev/null 2>&1 || { say "deps: no carried packages in $DEBS; using the machine's"; return 0; }
    rm -rf "$DEPS" && mkdir -p "$DEPS"
    for f in "$DEBS"/*.deb; do dpkg-deb -x "$f" "$DEPS" 2>/dev/null || dpkg -x "$f" "$DEPS"; done
    lib=$DEPS/usr/lib/x86_64-linux-gnu
    # the .pc files and libz.so point into /usr: repoint them at $DEPS and the machine's libz.so.1
    sed -i "s|^prefix=/usr\$|prefix=$DEPS/usr|" "$lib"/pkgconfig/*.pc
    sysz=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -n 1)
    [ -n "$sysz" ] && ln -sf "$sysz" "$lib/libz.so"
    # run-time directories, one per need, so that nothing else shadows the machine's own libraries
    mkdir -p "$DEPS/ld/pkgconf" "$DEPS/ld/check" "$DEPS/ld/openblas" "$DEPS/ld/minizip"
    ln -sf "$lib"/libpkgconf.so.3* "$DEPS/ld/pkgconf/"
    ln -sf "$lib"/libsubunit.so.0* "$DEPS/ld/check/"
    ln -sf "$lib"/libminizip.so* "$DEPS/ld/minizip/" 2>/dev/null || true
    ln -sf "$lib"/openblas-pthread/libopenblas*.so* "$DEPS/ld/openblas/"
    if ! $LDCONFIG -p 2>/dev/null | grep -q 'libgfortran\.so\.5'; then
        ln -sf "$lib"/libgfortran.so.5* "$lib"/libquadmath.so.0* "$DEPS/ld/openblas/"
    fi
    add_ld() { LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$1"; export LD_LIBRARY_PATH; }
    used=""
    if ! command -v pkg-config >/dev/null 2>&1; then
        export PATH="$PATH:$DEPS/usr/bin"
        add_ld "$DEPS/ld/pkgconf"
        used="$used pkg-config"
    fi
    if ! pkg-config --exists check 2>/dev/null || ! pkg-config --exists zlib 2>/dev/null ||
        ! pkg-config --exists minizip 2>/dev/null; then
        # after the machine's own directories: only what it lacks comes from here
        export PKG_CONFIG_PATH="${PKG_CONFIG_PATH:+$PKG_CONFIG_PATH:}$lib/pkgconfig"
        add_ld "$DEPS/ld/check"
        add_ld "$DEPS/ld/minizip"
        used="$used check-zlib-or-minizip.pc"
    fi
    if [ ! -f /usr/include/zlib.h ]; then
        export CMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH:}$DEPS/usr"
        used="$used zlib-headers"
    fi
    if ! $LDCONFIG -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then
        add_ld "$DEPS/ld/openblas"
        used="$used openblas"
    fi
    say "deps: carried Debian packages used for:${used:- nothing (the machine has them all)}"
}
use_carried_deps

# nvcc outside PATH (the toolkit's usual place): CMake's CUDA detection needs it on PATH
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="$PATH:/usr/local/cuda/bin"
fi
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
say "nvcc: $("$NVCC" --version 2>/dev/null | tail -n 1)"

# ---- 1. configure + build ----
# configure_and_build WERROR: configure $BUILD and build it with every core
configure_and_build() {
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DALAE_CUDA=ON -DALAE_WERROR="$1" \
        -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" >"$OUT_DIR/configure.log" 2>&1 || return 2
    cmake --build "$BUILD" -j "$JOBS" >"$OUT_DIR/build.log" 2>&1 || return 1
}
configure_and_build ON
rc=$?
if [ $rc -eq 1 ]; then
    # another compiler version may warn where ours does not: record the warnings, go on without -Werror
    status=1
    say "FAIL: the build with warnings as errors; the warnings (build-werror.log), then a build without -Werror:"
    cp "$OUT_DIR/build.log" "$OUT_DIR/build-werror.log"
    grep -E "error" "$OUT_DIR/build-werror.log" | head -n 20 | tee -a "$SUMMARY"
    configure_and_build OFF
    rc=$?
fi
if [ $rc -eq 2 ]; then
    say "FAIL: configure (see $OUT_DIR/configure.log)"
    tail -n 30 "$OUT_DIR/configure.log" | tee -a "$SUMMARY"
    exit 1
elif [ $rc -ne 0 ]; then
    say "FAIL: build (see $OUT_DIR/build.log)"
    grep -E "error|Error" "$OUT_DIR/build.log" | head -n 30 | tee -a "$SUMMARY"
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
    ctest --test-dir "$BUILD" -R '^cuda_' -V --timeout 180 >"$OUT_DIR/ctest-cuda.log" 2>&1 || rc=$?
    if grep -q "Skipped" "$OUT_DIR/ctest-cuda.log" || [ $rc -ne 0 ]; then
        status=1
        say "FAIL: GPU tests (rc $rc; a skip counts as a failure on a GPU machine):"
        grep -E "Test +#|SKIPPED" "$OUT_DIR/ctest-cuda.log" | tee -a "$SUMMARY"
    else
        say "GPU tests: $(grep -E 'tests passed' "$OUT_DIR/ctest-cuda.log") in $(($(date +%s) - t0)) s"
        grep -E "^ *[0-9]+/[0-9]+ Test" "$OUT_DIR/ctest-cuda.log" | tee -a "$SUMMARY"
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
    # torch_celeba NAME [OPTION]: the PyTorch StyleALAE on celeba 128x128 batch 32, 8 iterations
    torch_celeba() {
        [ $TORCH_OK = 1 ] && [ -f "$STYLE_PY" ] &&
            run "$1" 300 python3 "$STYLE_PY" --device cuda --preset celeba --resolution 128 --batch 32 --iters 8 \
                --warmup 2 ${2:+"$2"}
    }
    run alae-style-mnist 180 "$BENCH" --device cuda --preset mnist --batch 64 --steps 20 --warmup 3
    [ $TORCH_OK = 1 ] && [ -f "$STYLE_PY" ] &&
        run torch-style-mnist 240 python3 "$STYLE_PY" --device cuda --preset mnist --resolution 32 --batch 64 --iters 20 --warmup 3
    compare "StyleALAE mnist 32px b64" alae-style-mnist torch-style-mnist
    run alae-style-celeba 240 "$BENCH" --device cuda --preset celeba --batch 32 --steps 8 --warmup 2
    run alae-style-celeba-tf32 240 "$BENCH" --device cuda --preset celeba --batch 32 --steps 8 --warmup 2 --tf32
    torch_celeba torch-style-celeba
    torch_celeba torch-style-celeba-tf32 --tf32
    torch_celeba torch-style-celeba-cudnnbench --cudnn-benchmark
    compare "StyleALAE celeba 128px b32" alae-style-celeba torch-style-celeba
    compare "StyleALAE celeba 128px b32 vs cudnn.benchmark" alae-style-celeba torch-style-celeba-cudnnbench
    compare "StyleALAE celeba 128px b32, TF32 both" alae-style-celeba-tf32 torch-style-celeba-tf32
    say "benchmarks (median seconds per training iteration; speed-up = torch / libalae):$BENCH_LINES"

    # GPU time per op (ALAE_CUDA_PROFILE=1: op by op, each timed between two events)
    export ALAE_CUDA_PROFILE=1
    for p in "mlp mnist-fc 128" "style-celeba celeba 32"; do
        set -- $p
        run "profile-$1" 120 "$BENCH" --device cuda --preset "$2" --batch "$3" --steps 2 --warmup 0 &&
            say "op profile of $2 batch $3 (3 iterations, op by op):
$(grep -E 'plan ops|cuda profile' "$OUT_DIR/profile-$1.log" | head -n 30)"
    done
    unset ALAE_CUDA_PROFILE
fi

# ---- 4. the rest of the suite (CPU tests; after the benchmarks so that a short lease gets the GPU
# results first) ----
if [ "${SKIP_TESTS:-0}" != 1 ]; then
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

say "==== gpu-check.sh: $( [ $status -eq 0 ] && echo PASSED || echo FAILED ) in $(elapsed) s; logs in $OUT_DIR"
exit $status
