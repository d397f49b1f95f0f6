#!/bin/sh
# The main job: install the dependencies, build libalae, and train a small MLP ALAE on
# Fashion-MNIST (Debian's dataset-fashion-mnist package), writing sample and reconstruction
# images, then inverts the reconstructed images (100 gradient steps on their codes through G) and
# prints the PSNR of E alone and of the inversion. Takes a few minutes on 2 cores.
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
# the 32 images of reconstructions.png again, through inverted codes instead of E(x)
"$build/tools/alae" invert --model "$out/model.safetensors" --data "$data" --n 32 --steps 100 \
    --threads "$(nproc)" --out "$out/inverted-codes.npy" --grid "$out/inversions.png" >"$out/inversion.txt"
echo "samples:         $out/samples.png"
echo "reconstructions: $out/reconstructions.png  (G(E(x)): PSNR $(awk '$1 == "psnr_encoder" { print $2 }' "$out/inversion.txt") dB)"
echo "inversions:      $out/inversions.png  (100 steps of inversion: PSNR $(awk '$1 == "psnr_inverted" { print $2 }' "$out/inversion.txt") dB)"
echo "model:           $out/model.safetensors (try: $build/tools/alae sample --model $out/model.safetensors --out grid.png)"
echo "report:          $out/report.html (loss curves and grids: open it in a browser)"
echo "studio:          $build/tools/alae serve --model $out/model.safetensors  (then open http://127.0.0.1:8080/)"
