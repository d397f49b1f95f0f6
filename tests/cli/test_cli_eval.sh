#!/bin/sh
# End-to-end test of the alae commands that measure and edit a model: invert, eval, directions,
# edit, traverse.
# Usage: test_cli_eval.sh ALAE MAKE_IDX WORKDIR FIXTURES
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png

ALAE=$1
MAKE_IDX=$2
WORK=$3
FIXTURES=$(cd "$4" && pwd)

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" .

# value NAME FILE: the number after "NAME " on its line of FILE
value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# ge A B: A >= B as numbers
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

npy_shape() { head -c 128 "$1" | LC_ALL=C tr -cd '[:print:]' | LC_ALL=C sed -n "s/.*'shape': (\([^)]*\)).*/\1/p"; }

echo "== a tiny model"
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out M --batch 16 --steps 8 --threads 1 --seed 5 \
    >train.out 2>train.err || fail "train: $(cat train.err)"

echo "== invert: W codes, PSNR before and after, the grid"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 12 --batch 5 --steps 100 \
    --threads 1 --out w.npy --grid inv.png >inv.out 2>inv.err || fail "invert: $(cat inv.err)"
before=$(value psnr_encoder inv.out)
after=$(value psnr_inverted inv.out)
[ -n "$before" ] && [ -n "$after" ] || fail "invert printed no PSNR: $(cat inv.out)"
ge "$after" "$before + 3" || fail "100 steps did not raise the PSNR by 3 dB: $before -> $after"
[ "$(npy_shape w.npy)" = "12, 50" ] || fail "w.npy has shape ($(npy_shape w.npy))"
is_png inv.png
"$ALAE" decode --model M/model.safetensors --codes w.npy --out dec.png --threads 1 2>dec.err ||
    fail "decode of the inverted codes: $(cat dec.err)"

echo "== invert: 0 steps is E alone; W+ codes"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 4 --steps 0 --threads 1 --out w0.npy >inv0.out
[ "$(value psnr_encoder inv0.out)" = "$(value psnr_inverted inv0.out)" ] || fail "0 steps changed the PSNR: $(cat inv0.out)"
"$ALAE" encode --model M/model.safetensors --data tiny.idx --n 4 --out e.npy --threads 1
cmp -s w0.npy e.npy || fail "0 steps of inversion did not return E(x)"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 4 --steps 5 --space w+ --threads 1 \
    --out wp.npy >invp.out || fail "invert --space w+"
[ "$(npy_shape wp.npy)" = "4, 1, 50" ] || fail "wp.npy has shape ($(npy_shape wp.npy))"

echo "== invert: bad input"
expect_fail 2 "steps" "$ALAE" invert --model M/model.safetensors --data tiny.idx --out x.npy
expect_fail 2 "space" "$ALAE" invert --model M/model.safetensors --data tiny.idx --steps 1 --space z --out x.npy
expect_fail 2 "lr" "$ALAE" invert --model M/model.safetensors --data tiny.idx --steps 1 --lr 0 --out x.npy
expect_fail 1 "fewer\|holds" "$ALAE" invert --model M/model.safetensors --data tiny.idx --steps 1 --n 999 --out x.npy
expect_fail 1 "badmagic.idx" "$ALAE" invert --model M/model.safetensors --data badmagic.idx --steps 1 --out x.npy
expect_fail 1 "nothere" "$ALAE" invert --model nothere.safetensors --data tiny.idx --steps 1 --out x.npy
[ ! -e x.npy ] || fail "a failed invert wrote x.npy"

echo "== eval: every metric, stdout and JSON agree, PSNR as invert measures it"
{ printf '\000\000\010\001\000\000\001\000'; awk 'BEGIN { for (i = 0; i < 256; i++) printf "%c", 65 + i % 4 }'; } >labels.idx
"$ALAE" eval --model M/model.safetensors --data tiny.idx --labels labels.idx --train-data tiny.idx \
    --train-labels labels.idx --n 8 --ppl-samples 20 --threads 1 --out m.json >eval.out 2>eval.err ||
    fail "eval: $(cat eval.err)"
for k in rec_mse rec_psnr rec_ssim swd swd_28 swd_14 precision recall ppl_w_end nn_accuracy linear_accuracy; do
    v=$(value "$k" eval.out)
    [ -n "$v" ] || fail "eval printed no $k: $(cat eval.out)"
    grep -q "\"$k\": " m.json || fail "m.json lacks $k"
done
grep -q "fid.*not computed.*--inception" eval.err || fail "eval does not say that FID was not computed and why"
# the training set scored against itself: 1-NN finds every point itself
[ "$(value nn_accuracy eval.out)" = 1 ] || fail "1-NN accuracy on the training set is $(value nn_accuracy eval.out)"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 8 --steps 0 --threads 1 --out w8.npy >inv8.out
awk -v a="$(value rec_psnr eval.out)" -v b="$(value psnr_encoder inv8.out)" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "eval's rec_psnr $(value rec_psnr eval.out) differs from invert's $(value psnr_encoder inv8.out)"

echo "== eval --inception: FID, precision/recall and path length in Inception's space"
# a narrow Inception-v3 with the standard tensor names (tests/fixtures/make_inception_fixture.py)
"$ALAE" eval --model M/model.safetensors --data tiny.idx --n 8 --ppl-samples 3 --threads 1 \
    --inception "$FIXTURES/inception_tiny.safetensors" --out mi.json >evali.out 2>evali.err ||
    fail "eval --inception: $(cat evali.err)"
for k in fid precision_inception recall_inception ppl_w_end_inception rec_psnr; do
    v=$(value "$k" evali.out)
    [ -n "$v" ] || fail "eval --inception printed no $k: $(cat evali.out)"
    grep -q "\"$k\": " mi.json || fail "mi.json lacks $k"
done
ge "$(value fid evali.out)" 0 || fail "negative FID: $(cat evali.out)"
ge "$(value ppl_w_end_inception evali.out)" 0 || fail "negative path length: $(cat evali.out)"
! grep -q "not computed" evali.err || fail "eval --inception says something was not computed: $(cat evali.err)"
expect_fail 1 "Conv2d_1a_3x3.conv.weight" "$ALAE" eval --model M/model.safetensors --data tiny.idx \
    --inception M/model.safetensors --out bad.json

echo "== eval: bad input"
expect_fail 2 "go together" "$ALAE" eval --model M/model.safetensors --data tiny.idx --labels labels.idx
expect_fail 2 "n" "$ALAE" eval --model M/model.safetensors --data tiny.idx --n 2
expect_fail 1 "badmagic.idx" "$ALAE" eval --model M/model.safetensors --data badmagic.idx
expect_fail 1 "trunc.idx" "$ALAE" eval --model M/model.safetensors --data tiny.idx --labels trunc.idx \
    --train-data tiny.idx --train-labels labels.idx --out bad.json
[ ! -e bad.json ] || fail "a failed eval wrote bad.json"

echo "== directions: IDX1 classes, CSV columns, imported .npy"
"$ALAE" directions --model M/model.safetensors --data tiny.idx --labels labels.idx --threads 1 \
    --out d.safetensors >dirs.out 2>dirs.err || fail "directions: $(cat dirs.err)"
[ "$(wc -l <dirs.out)" -eq 4 ] || fail "directions printed $(cat dirs.out)"
for k in 65 66 67 68; do
    acc=$(value "class_$k" dirs.out)
    [ -n "$acc" ] && ge "$acc" 0 && ge 1 "$acc" || fail "no accuracy in [0, 1] for class_$k: $(cat dirs.out)"
done
{ echo "first_half,odd"; i=0; while [ $i -lt 256 ]; do echo "$((i < 128)),$((i % 2))"; i=$((i + 1)); done; } >attrs.csv
"$ALAE" encode --model M/model.safetensors --data tiny.idx --n 1 --out one.npy --threads 1
"$ALAE" directions --model M/model.safetensors --data tiny.idx --labels attrs.csv --from one.npy:imported \
    --threads 1 --out d2.safetensors >dirs2.out 2>dirs2.err || fail "directions (CSV): $(cat dirs2.err)"
[ -n "$(value first_half dirs2.out)" ] && [ -n "$(value odd dirs2.out)" ] || fail "CSV attributes: $(cat dirs2.out)"

echo "== edit and traverse"
"$ALAE" edit --model M/model.safetensors --image tiny.idx --index 2 --direction d2.safetensors:imported \
    --amount 2 --steps 5 --invert 3 --threads 1 --out strip.png 2>edit.err || fail "edit: $(cat edit.err)"
is_png strip.png
"$ALAE" traverse --model M/model.safetensors --dims 0,1,49 --direction d.safetensors:class_65 --amount -1..2 \
    --steps 4 --seed 3 --threads 1 --out grid.png 2>trav.err || fail "traverse: $(cat trav.err)"
is_png grid.png
"$ALAE" interpolate --model M/model.safetensors --a tiny.idx --b faces/02.png --invert 3 --steps 4 --threads 1 \
    --out interp.png 2>interp.err || fail "interpolate --invert: $(cat interp.err)"
is_png interp.png
expect_fail 1 "class_65" "$ALAE" edit --model M/model.safetensors --image tiny.idx --direction d.safetensors:nope --out x.png
expect_fail 2 "amount" "$ALAE" edit --model M/model.safetensors --image tiny.idx --direction d.safetensors:class_65 \
    --amount 0 --out x.png
expect_fail 2 "dims" "$ALAE" traverse --model M/model.safetensors --dims 50 --out x.png
expect_fail 1 "index" "$ALAE" edit --model M/model.safetensors --image tiny.idx --index 999 \
    --direction d.safetensors:class_65 --out x.png
expect_fail 1 "labels\|holds" "$ALAE" directions --model M/model.safetensors --data tiny.idx --labels one.npy --out x.st
expect_fail 2 "from" "$ALAE" directions --model M/model.safetensors --out x.st
[ ! -e x.png ] && [ ! -e x.st ] || fail "a failed command wrote its output"

echo "PASS"
