#!/bin/sh
# StyleALAE on a small folder of face photographs (e.g. the 146 FFHQ samples of
# ../shared/data/faces128, non-commercial license: keep them out of the repository): a short
# progressive run at 32x32 (4x4 -> 8x8 -> 16x16 -> 32x32) that overfits the faces, then
# reconstructions, style mixing, an interpolation between two of them, and inversion in W and W+.
# Usage: tools/demo-faces.sh DIR [output-dir] [epochs] [alae-binary]
#   epochs: total epochs (4 per level for the three lower levels, the rest at 32x32; 40)
# Re-running with the same output directory resumes the run (give more epochs to train further).
set -eu
[ $# -ge 1 ] || { echo "usage: tools/demo-faces.sh DIR [output-dir] [epochs] [alae-binary]" >&2; exit 2; }
data=$1
out=${2:-out/faces}
epochs=${3:-40}
alae=${4:-}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$alae" ]; then
    alae=$root/build/tools/alae
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DALAE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$root/build" -j "$(nproc)" --target alae_cli >/dev/null
fi
if [ -f "$out/train-state.safetensors" ]; then resume=--resume; else resume=; fi
# The celeba architecture at 32x32, narrowed so that a CPU run takes minutes: 32..64 channels,
# latent 64, 4 mapping layers; batch 8; 4 epochs per level (the fade-in takes the first 2);
# a short EMA half-life, since the whole run sees only a few thousand images; random flips.
"$alae" train --preset celeba --data "$data" --out "$out" --resolution 32 \
    --set start_channels=32 --set max_channels=64 --set latent_dim=64 --set mapping_layers=4 \
    --set epochs_per_lod=4 --set ema_half_life=500 --batch 8 --epochs "$epochs" --seed 1 \
    --threads "$(nproc)" --report-every 50 --save-every 200 $resume
first=$(ls "$data" | grep -iE '\.(png|jpe?g|bmp)$' | sort | head -n 1)
second=$(ls "$data" | grep -iE '\.(png|jpe?g|bmp)$' | sort | sed -n 2p)
"$alae" reconstruct --model "$out/model.safetensors" --data "$data" --n 32 --out "$out/faces-reconstructed.png"
"$alae" mix --model "$out/model.safetensors" --src "$data" --dst "$data/$second" --layers coarse --n 8 \
    --noise off --out "$out/faces-mix-coarse.png"
"$alae" interpolate --model "$out/model.safetensors" --a "$data/$first" --b "$data/$second" --steps 8 \
    --noise off --out "$out/faces-interpolation.png"
# the same 32 faces through 100 steps of inversion, one code (W) and one code per style row (W+)
echo "inversion in W (PSNR in dB of G(E(x)), then of G(inverted codes)):"
"$alae" invert --model "$out/model.safetensors" --data "$data" --n 32 --steps 100 --out "$out/faces-w.npy" \
    --grid "$out/faces-inverted-w.png"
echo "inversion in W+:"
"$alae" invert --model "$out/model.safetensors" --data "$data" --n 32 --steps 100 --space w+ \
    --out "$out/faces-wplus.npy" --grid "$out/faces-inverted-wplus.png"
echo "training images:  $out/samples.png (samples), $out/reconstructions.png, $out/samples-lod*.png"
echo "reconstructions:  $out/faces-reconstructed.png (first 32 faces above their reconstructions)"
echo "style mixing:     $out/faces-mix-coarse.png (rows: one of the first 8 faces, $second, $second with its coarse styles)"
echo "interpolation:    $out/faces-interpolation.png ($first ... $second in W)"
echo "inversion:        $out/faces-inverted-w.png, $out/faces-inverted-wplus.png (the same 32 faces above G(inverted codes))"
