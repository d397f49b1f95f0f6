#!/bin/sh
# End-to-end test of the alae commands that measure and edit a model: invert, eval.
# Usage: test_cli_eval.sh ALAE MAKE_IDX WORKDIR
set -eu

ALAE=$1
MAKE_IDX=$2
WORK=$3

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" .

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_fail RC PATTERN COMMAND...: COMMAND must exit with RC (never a crash) and say PATTERN.
expect_fail() {
    want=$1
    pattern=$2
    shift 2
    rc=0
    "$@" >fail.out 2>fail.err || rc=$?
    [ "$rc" -lt 128 ] || fail "crashed with status $rc: $*"
    [ "$rc" -eq "$want" ] || fail "exit status $rc, expected $want: $* ($(cat fail.err))"
    grep -q -e "$pattern" fail.err || fail "stderr of '$*' lacks '$pattern': $(cat fail.err)"
}

is_png() {
    [ -s "$1" ] || fail "$1 is missing or empty"
    [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"
}

# value NAME FILE: the number after "NAME " on its line of FILE
value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# ge A B: A >= B as numbers
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

npy_shape() { head -c 128 "$1" | LC_ALL=C tr -cd '[:print:]' | LC_ALL=C sed -n "s/.*'shape': (\([^)]*\)).*/\1/p"; }

echo "== a tiny model"
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out M --batch 16 --steps 8 --threads 1 --seed 5 \
    >train.out 2>train.err || fail "train: $(cat train.err)"

echo "== invert: W codes, PSNR before and after, the grid"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 12 --batch 5 --steps 30 --lr 0.05 \
    --threads 1 --out w.npy --grid inv.png >inv.out 2>inv.err || fail "invert: $(cat inv.err)"
before=$(value psnr_encoder inv.out)
after=$(value psnr_inverted inv.out)
[ -n "$before" ] && [ -n "$after" ] || fail "invert printed no PSNR: $(cat inv.out)"
ge "$after" "$before + 1" || fail "30 steps did not raise the PSNR by 1 dB: $before -> $after"
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
grep -q "fid" eval.err || fail "eval does not say that FID was not computed"
# the training set scored against itself: 1-NN finds every point itself
[ "$(value nn_accuracy eval.out)" = 1 ] || fail "1-NN accuracy on the training set is $(value nn_accuracy eval.out)"
"$ALAE" invert --model M/model.safetensors --data tiny.idx --n 8 --steps 0 --threads 1 --out w8.npy >inv8.out
awk -v a="$(value rec_psnr eval.out)" -v b="$(value psnr_encoder inv8.out)" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "eval's rec_psnr $(value rec_psnr eval.out) differs from invert's $(value psnr_encoder inv8.out)"

echo "== eval: bad input"
expect_fail 2 "go together" "$ALAE" eval --model M/model.safetensors --data tiny.idx --labels labels.idx
expect_fail 2 "n" "$ALAE" eval --model M/model.safetensors --data tiny.idx --n 2
expect_fail 1 "badmagic.idx" "$ALAE" eval --model M/model.safetensors --data badmagic.idx
expect_fail 1 "trunc.idx" "$ALAE" eval --model M/model.safetensors --data tiny.idx --labels trunc.idx \
    --train-data tiny.idx --train-labels labels.idx --out bad.json
[ ! -e bad.json ] || fail "a failed eval wrote bad.json"

echo "PASS"
