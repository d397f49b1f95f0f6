#!/bin/sh
# End-to-end test of 'alae import': the style16 checkpoints in both PyTorch formats become model
# files that the other commands use; bad inputs fail with the documented exit status and message.
# Usage: test_cli_import.sh ALAE PTH_DIR WORKDIR
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png

ALAE=$1
PTH=$2
WORK=$3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

# the style16 configuration: the mnist preset's structure at 16 px, 3 channels, 8/16 channels
S16="--preset mnist --set image_size=16 --set channels=3 --set start_channels=8 --set max_channels=16"
S16="$S16 --set latent_dim=32 --set mapping_layers=3"

for f in legacy zip; do
    # shellcheck disable=SC2086
    "$ALAE" import --from "$PTH/style16_$f.pth" $S16 --out "$f.safetensors" >"$f.out" 2>"$f.err" ||
        fail "import $f: $(cat "$f.err")"
    grep -q "smoothed networks, 38873 parameters" "$f.out" || fail "import $f printed: $(cat "$f.out")"
    "$ALAE" info --model "$f.safetensors" >"$f.info" || fail "info $f"
    grep -q "latent_dim *32" "$f.info" || fail "info $f: $(cat "$f.info")"
    "$ALAE" sample --model "$f.safetensors" --n 4 --out "$f.png" --threads 1 || fail "sample $f"
    [ -s "$f.png" ] || fail "no $f.png"
done
cmp legacy.safetensors zip.safetensors || fail "the two formats gave different model files"

# shellcheck disable=SC2086
"$ALAE" import --from "$PTH/training_only.pth" $S16 --out t.safetensors >t.out 2>t.err || fail "import: $(cat t.err)"
grep -q "no smoothed" t.err || fail "no fallback warning: $(cat t.err)"
# shellcheck disable=SC2086
"$ALAE" import --from "$PTH/style16_legacy.pth" $S16 --copy training --out t2.safetensors >/dev/null ||
    fail "import --copy training"
cmp t.safetensors t2.safetensors || fail "the fallback is not the training copy"

expect_fail 1 "does not fit the configuration 'celeba'" "$ALAE" import --from "$PTH/style16_zip.pth" --preset celeba --out x.safetensors
expect_fail 1 "tracker.RunningMeanTorch" "$ALAE" import --from "$PTH/models_unknown.pth" --preset mnist --out x.safetensors
expect_fail 1 "posix.system" "$ALAE" import --from "$PTH/os_system.pth" --preset mnist --out x.safetensors
expect_fail 1 "missing.pth" "$ALAE" import --from missing.pth --preset ffhq --out x.safetensors
expect_fail 2 "--copy" "$ALAE" import --from "$PTH/style16_zip.pth" --preset mnist --copy ema --out x.safetensors
expect_fail 2 "unknown preset" "$ALAE" import --from "$PTH/style16_zip.pth" --preset ffhq2 --out x.safetensors
expect_fail 2 "unknown setting" "$ALAE" import --from "$PTH/style16_zip.pth" --preset mnist --set bogus=1 --out x.safetensors
expect_fail 2 "--out is required" "$ALAE" import --from "$PTH/style16_zip.pth" --preset mnist
cp legacy.safetensors same.pth
expect_fail 1 "is the same file as --from" "$ALAE" import --from same.pth --preset mnist --out ./same.pth
ln -s same.pth link.pth
expect_fail 1 "is the same file as --from" "$ALAE" import --from same.pth --preset mnist --out link.pth
mkdir adir
# shellcheck disable=SC2086
expect_fail 1 "refusing to replace it" "$ALAE" import --from "$PTH/style16_zip.pth" $S16 --out adir
cmp same.pth legacy.safetensors || fail "the input was overwritten"
[ ! -e x.safetensors ] || fail "a failed import left an output file"
echo "all import CLI tests passed"
