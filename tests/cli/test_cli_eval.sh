#!/bin/sh
# End-to-end test of the alae commands that measure and edit a model: invert.
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

echo "PASS"
