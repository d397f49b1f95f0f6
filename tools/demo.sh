#!/bin/sh
# The main job: install the dependencies, build libalae, and train a small MLP ALAE on
# Fashion-MNIST (Debian's dataset-fashion-mnist package), writing sample and reconstruction
# images. Takes a few minutes on 2 cores.
# Usage: tools/demo.sh [output-dir] [steps]
set -eu
cd "$(dirname "$0")/.."
out=${1:-out/fashion-mnist}
steps=${2:-3000}
build=build
data=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
tools/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DALAE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
"$build/tools/alae" info
if [ -f "$out/train-state.safetensors" ]; then resume=--resume; else resume=; fi
"$build/tools/alae" train --preset mnist-fc-paper --data "$data" --out "$out" \
    --steps "$steps" --batch 128 --seed 1 --threads "$(nproc)" $resume
echo "samples:         $out/samples.png"
echo "reconstructions: $out/reconstructions.png"
echo "model:           $out/model.safetensors (try: $build/tools/alae sample --model $out/model.safetensors --out grid.png)"
