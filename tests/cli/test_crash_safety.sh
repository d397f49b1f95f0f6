#!/bin/sh
# Crash safety and divergence handling of `alae train`.
#  1. A run killed with SIGKILL at 20 random moments (saving after every step, so many kills
#     land inside a save), resumed after each kill, ends with the same model file, byte for
#     byte, as an uninterrupted run; after every kill both files on disk are readable.
#  2. A diverging run (a huge learning rate) stops with a message naming the step and the loss
#     and leaves the last saved state untouched; --on-divergence rollback reloads it and gives up
#     after 5 halvings of the rate.
# Usage: test_crash_safety.sh ALAE MAKE_IDX WORKDIR
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png
ALAE=$1
MAKE_IDX=$2
WORK=$3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" . >/dev/null

# Long enough that 20 kills (delays of 30-430 ms, about 4.6 s in all, minus each restart) end
# well before the last step even on an idle, fast machine: a whole run takes ~16 s here.
STEPS=1000
train() { # train OUT [options]; exec, so that a background train's pid is the tool's own
    out=$1
    shift
    exec "$ALAE" train --preset mnist-fc-paper --data tiny.idx --out "$out" --steps "$STEPS" --batch 16 \
        --threads 1 --seed 7 --save-every 1 --report-every 5 --set hidden=32 "$@"
}

# a small pseudo-random delay in milliseconds from the shell alone (no $RANDOM in POSIX sh)
seed=12345
next_delay() {
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    echo $(( 30 + seed % 400 ))
}

(train whole) >/dev/null 2>&1 || fail "uninterrupted run"

kills=0
attempts=0
while [ "$kills" -lt 20 ]; do
    attempts=$((attempts + 1))
    # a run that ends before its kill counts no kill; bound the loop instead of spinning forever
    [ "$attempts" -le 100 ] || fail "only $kills of 20 kills landed in 100 attempts"
    resume=
    [ -f killed/train-state.safetensors ] && resume=--resume
    (train killed $resume) >/dev/null 2>killed.err &
    pid=$!
    ms=$(next_delay)
    sleep "$(printf '0.%03d' "$ms")"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    grep -q "already at step $STEPS" killed.err && fail "training reached step $STEPS after $kills kills: raise STEPS"
    # whatever is on disk must be readable
    if [ -f killed/model.safetensors ]; then
        "$ALAE" info --model killed/model.safetensors >/dev/null 2>info.err || fail "unreadable model after kill $kills: $(cat info.err)"
    fi
    if [ -f killed/train-state.safetensors ]; then
        "$ALAE" train --preset mnist-fc-paper --data tiny.idx --out killed --steps 1 --batch 16 --threads 1 --set hidden=32 \
            --seed 7 --resume >/dev/null 2>check.err || grep -q "already" check.err ||
            fail "unreadable state after kill $kills: $(cat check.err)"
    fi
done
resume=
[ -f killed/train-state.safetensors ] && resume=--resume
(train killed $resume) >/dev/null 2>killed.err || fail "final resumed run: $(cat killed.err)"
# the kills must have landed during training, not after it
grep -q "resuming at step [0-9]* to $STEPS" killed.err || fail "the last run did not resume: $(cat killed.err)"
grep -q "resuming at step $STEPS to" killed.err && fail "all $STEPS steps were done before the kills ended"
cmp whole/model.safetensors killed/model.safetensors || fail "the resumed model differs from the uninterrupted one"
echo "ok: $kills kills, resumed each time; the final model equals the uninterrupted run's"

# divergence: stop, state untouched
STEPS=4
(train div) >/dev/null 2>&1 || fail "divergence setup run"
before=$(cksum < div/train-state.safetensors)
rc=0
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out div --steps 30 --batch 16 --threads 1 --seed 7 --set hidden=32 \
    --save-every 1000 --resume --lr 1000 >/dev/null 2>div.err || rc=$?
[ "$rc" -eq 1 ] || fail "a diverging run exited with $rc: $(cat div.err)"
grep -q "step [0-9]*: loss_[a-z]* is .*diverged.*state of step 4" div.err || fail "divergence message: $(cat div.err)"
[ "$(cksum < div/train-state.safetensors)" = "$before" ] || fail "the saved state changed after divergence"
# rollback: halves the rate up to 5 times, then gives up with the state intact
rc=0
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out div --steps 30 --batch 16 --threads 1 --seed 7 --set hidden=32 \
    --save-every 1000 --resume --lr 1000 --on-divergence rollback >/dev/null 2>roll.err || rc=$?
[ "$rc" -eq 1 ] || fail "rollback run exited with $rc"
[ "$(grep -c 'rolled back to step 4' roll.err)" -eq 5 ] || fail "expected 5 rollbacks: $(cat roll.err)"
grep -q "gave up after 5 rollbacks" roll.err || fail "rollback give-up message: $(cat roll.err)"
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out div --steps 30 --batch 16 --threads 1 --seed 7 --set hidden=32 \
    --resume --lr 1000 --on-divergence sometimes >/dev/null 2>bad.err && fail "accepted a bad --on-divergence"
grep -q "stop' or 'rollback" bad.err || fail "bad --on-divergence message: $(cat bad.err)"
echo "ok: divergence stops with the state intact; rollback halves the rate and gives up after 5 tries"
