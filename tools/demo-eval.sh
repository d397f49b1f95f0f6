#!/bin/sh
# Measures a trained model and writes the pictures of docs/evaluation.md: the metrics of
# 'alae eval', inversion in W (and W+ for StyleALAE) of held-out images with the PSNR before and
# after, attribute directions fitted on labelled images, an edit strip and a traversal grid.
# Usage: tools/demo-eval.sh MODEL TEST_IMAGES TEST_LABELS TRAIN_IMAGES TRAIN_LABELS OUT_DIR [alae-binary]
# (IDX files; Fashion-MNIST: /usr/share/datasets/fashion-mnist/{t10k,train}-{images-idx3,labels-idx1}-ubyte.gz)
# INCEPTION=pt_inception-2015-12-05-6726825d.pth in the environment adds FID and the metrics in
# Inception's feature space (the user's copy of pytorch-fid's weights; 100 path-length pairs then).
set -eu
[ $# -ge 6 ] || { sed -n '2,9p' "$0"; exit 2; }
model=$1 test=$2 test_labels=$3 train=$4 train_labels=$5 out=$6
alae=${7:-build/tools/alae}
mkdir -p "$out"
pairs=1000
set --
if [ -n "${INCEPTION:-}" ]; then pairs=100; set -- --inception "$INCEPTION"; fi
"$alae" eval --model "$model" --data "$test" --labels "$test_labels" --train-data "$train" \
    --train-labels "$train_labels" --n 1000 --n-train 10000 --ppl-samples "$pairs" "$@" --out "$out/metrics.json" |
    tee "$out/metrics.txt"
"$alae" invert --model "$model" --data "$test" --n 256 --steps 100 --out "$out/codes-w.npy" |
    tee "$out/invert-w.txt"
"$alae" invert --model "$model" --data "$test" --n 32 --steps 100 --out "$out/codes-w32.npy" \
    --grid "$out/inversions-test.png" >/dev/null
"$alae" reconstruct --model "$model" --data "$test" --n 32 --out "$out/reconstructions-test.png"
if "$alae" info --model "$model" | grep -q '^  arch *2'; then # StyleALAE: W+ too
    "$alae" invert --model "$model" --data "$test" --n 256 --steps 100 --space w+ --out "$out/codes-wplus.npy" |
        tee "$out/invert-wplus.txt"
fi
"$alae" directions --model "$model" --data "$test" --labels "$test_labels" --out "$out/directions.safetensors" |
    tee "$out/directions.txt"
"$alae" edit --model "$model" --image "$test" --index 0 --direction "$out/directions.safetensors:class_7" \
    --amount 4 --steps 7 --invert 100 --out "$out/edit-class_7.png"
"$alae" traverse --model "$model" --image "$test" --index 1 --invert 100 --dims 0,1,2,3 --amount 3 --steps 7 \
    --out "$out/traverse-dims.png"
"$alae" traverse --model "$model" --image "$test" --index 1 --invert 100 --direction "$out/directions.safetensors:class_1" \
    --direction "$out/directions.safetensors:class_5" --direction "$out/directions.safetensors:class_8" \
    --amount 4 --steps 7 --out "$out/traverse-directions.png"
