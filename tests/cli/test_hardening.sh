#!/bin/sh
# Hostile command lines and files for the alae command-line tool (issue #20; docs/reliability.md
# section 6). Every case here failed before its fix.
# Usage: test_hardening.sh ALAE MAKE_IDX ST_EDIT WORKDIR
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png
EXPECT_FAIL_TIMEOUT=60

ALAE=$1
MAKE_IDX=$2
ST_EDIT=$3
WORK=$4

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" .

# mlp OUT [options...]: a tiny mnist-fc run on $DATA.
DATA=tiny.idx
mlp() {
    out=$1
    shift
    "$ALAE" train --preset mnist-fc --data "$DATA" --out "$out" --batch 16 --threads 1 --report-every 2 \
        --save-every 100 --seed 5 --set hidden=32 "$@" 2>"$out.err" || fail "train $out: $(cat "$out.err")"
}

# style OUT [options...]: a tiny StyleALAE run on faces/ (6 steps per epoch, 2 epochs per level).
style() {
    out=$1
    shift
    "$ALAE" train --preset celeba --data faces --out "$out" --resolution 16 --set start_channels=8 \
        --set max_channels=16 --set latent_dim=16 --set mapping_layers=2 --set epochs_per_lod=2 --batch 4 \
        --threads 1 --report-every 2 --save-every 100 --seed 3 "$@" 2>"$out.err" || fail "train $out: $(cat "$out.err")"
}

echo "== resume: counters out of range are refused, not trusted"
mlp A --steps 3
cp A/train-state.safetensors A.state
# a step of 2^63 + 5 (was: a negative offset into the data order, SIGSEGV)
"$ST_EDIT" A.state A/train-state.safetensors u64 state 0 9223372036854775813
expect_fail 1 "step .* out of range" "$ALAE" train --preset mnist-fc --data tiny.idx --out A --batch 16 --threads 1 \
    --seed 5 --set hidden=32 --resume
# 2^53 passes the library's bound, but 2^53 steps of 16 images cannot have been trained
"$ST_EDIT" A.state A/train-state.safetensors u64 state 0 9007199254740992
expect_fail 1 "beyond any run" "$ALAE" train --preset mnist-fc --data tiny.idx --out A --batch 16 --threads 1 \
    --seed 5 --set hidden=32 --resume
cp A.state A/train-state.safetensors
style S --steps 8
cp S/train-state.safetensors S.state
# epoch 10^9 at step 8 (was: a walk over 10^9 epochs on every resume)
"$ST_EDIT" S.state S/train-state.safetensors meta alae.trainer '"epoch":1,' '"epoch":1000000000,'
expect_fail 1 "cannot be reached" "$ALAE" train --preset celeba --data faces --out S --resolution 16 \
    --set start_channels=8 --set max_channels=16 --set latent_dim=16 --set mapping_layers=2 --set epochs_per_lod=2 \
    --batch 4 --threads 1 --seed 3 --resume
"$ST_EDIT" S.state S/train-state.safetensors meta alae.trainer '"epoch":1,' '"epoch":1e15,'
expect_fail 1 "'epoch' = .* is not an integer in" "$ALAE" train --preset celeba --data faces --out S --resolution 16 \
    --set start_channels=8 --set max_channels=16 --set latent_dim=16 --set mapping_layers=2 --set epochs_per_lod=2 \
    --batch 4 --threads 1 --seed 3 --resume
cp S.state S/train-state.safetensors
style S --steps 10 --resume

echo "== resume: another --seed, --batch, --data or --max-images is refused, naming both values"
mlp B --steps 2
expect_fail 1 "\-\-seed 6 differs from the run's 5" "$ALAE" train --preset mnist-fc --data tiny.idx --out B \
    --batch 16 --threads 1 --set hidden=32 --seed 6 --resume
expect_fail 1 "\-\-batch 8 differs from the run's 16" "$ALAE" train --preset mnist-fc --data tiny.idx --out B \
    --batch 8 --threads 1 --set hidden=32 --seed 5 --resume
expect_fail 1 "\-\-max-images 128 differs from the run's (all images)" "$ALAE" train --preset mnist-fc --data tiny.idx \
    --out B --batch 16 --threads 1 --set hidden=32 --seed 5 --max-images 128 --resume
cp tiny.idx other.idx
printf '\377\377\377\377' | dd of=other.idx bs=1 seek=300 conv=notrunc 2>/dev/null
expect_fail 1 "\-\-data other.idx (256 images, fingerprint [0-9a-f]*) is not the run's data" "$ALAE" train \
    --preset mnist-fc --data other.idx --out B --batch 16 --threads 1 --set hidden=32 --seed 5 --resume
mlp B --steps 3 --resume --max-images 1000 # at least all the images: the same run
DATA=tiny.idx.gz # the same images, gzipped
mlp B --steps 4 --resume
DATA=tiny.idx
style T --steps 2
expect_fail 1 "\-\-batch 2 differs from the run's 4" "$ALAE" train --preset celeba --data faces --out T \
    --resolution 16 --set start_channels=8 --set max_channels=16 --set latent_dim=16 --set mapping_layers=2 \
    --set epochs_per_lod=2 --batch 2 --threads 1 --seed 3 --resume

echo "== --set trainer settings: applied and checked for the MLP presets too"
# (the settings are a JSON string inside the safetensors header: its quotes are escaped)
mlp C1 --steps 2
mlp C2 --steps 2 --set r1_gamma=100 --set latent_loss=1
grep -a -q 'r1_gamma\\":100,\\"latent_loss\\":1,' C2/train-state.safetensors ||
    fail "the state of a run with --set r1_gamma=100 --set latent_loss=1 does not hold them"
grep -a -q 'r1_gamma\\":10,\\"latent_loss\\":0,' C1/train-state.safetensors || fail "C1's state lacks the default settings"
[ "$(sed -n 2p C1/log.csv | cut -d, -f3,5)" != "$(sed -n 2p C2/log.csv | cut -d, -f3,5)" ] ||
    fail "r1_gamma and latent_loss changed neither loss_d nor loss_ae: $(sed -n 2p C2/log.csv)"
# lazy R1: --set r1_interval=4 reaches the trainer: the state holds it, the first D-step runs R1
# weighted 4 gamma (r1 4x the default run's, loss_d - r1 equal), the 2nd and 3rd skip it (r1 = 0)
for run in C4:4 C5:1; do
    "$ALAE" train --preset mnist-fc --data "$DATA" --out "${run%:*}" --batch 16 --threads 1 --report-every 1 \
        --seed 5 --set hidden=32 --steps 3 --set "r1_interval=${run#*:}" 2>"${run%:*}.err" ||
        fail "train ${run%:*}: $(cat "${run%:*}.err")"
done
grep -a -q 'r1_interval\\":4,' C4/train-state.safetensors || fail "the state of a run with --set r1_interval=4 lacks it"
grep -a -q 'r1_interval\\":1,' C5/train-state.safetensors || fail "C5's state lacks the default r1_interval 1"
paste -d, C4/log.csv C5/log.csv | sed -n 2p | awk -F, '{ d = ($3 - $6) - ($10 - $13); exit !(d < 0.01 && d > -0.01 &&
    $6 > 3.999 * $13 && $6 < 4.001 * $13 && $13 > 0) }' ||
    fail "r1_interval=4: the first iteration should be R1 x 4: $(sed -n 2p C4/log.csv) vs $(sed -n 2p C5/log.csv)"
[ "$(sed -n 3,4p C4/log.csv | cut -d, -f6 | tr '\n' ' ')" = "0 0 " ] ||
    fail "r1_interval=4: steps 2 and 3 should skip R1: $(cat C4/log.csv)"
[ "$(sed -n 3p C5/log.csv | cut -d, -f6)" != 0 ] || fail "r1 is 0 where R1 runs: $(cat C5/log.csv)"
for bad in r1_gamma=-1 r1_gamma=nan latent_loss=2 ema_half_life=inf latent_loss_weight=-3 r1_interval=0 r1_interval=2.5 \
    r1_interval=2000; do
    expect_fail 2 "\-\-set ${bad%%=*}" "$ALAE" train --preset mnist-fc --data tiny.idx --out C3 --steps 1 --set "$bad"
done
[ ! -e C3/train-state.safetensors ] || fail "a refused --set still trained"

echo "== a FIFO as an input is refused at once (it blocked the open forever)"
mkfifo fifo fifo.png
"$ALAE" encode --model C1/model.safetensors --data tiny.idx --n 4 --out codes.npy
expect_fail 1 "'fifo' is a FIFO, not a regular file" "$ALAE" info --model fifo
expect_fail 1 "'fifo' is a FIFO, not a regular file" "$ALAE" encode --model C1/model.safetensors --data fifo --out x.npy
expect_fail 1 "fifo.png' is a FIFO, not a regular file" "$ALAE" encode --model C1/model.safetensors --data fifo.png \
    --out x.npy
expect_fail 1 "'fifo' is a FIFO, not a regular file" "$ALAE" decode --model C1/model.safetensors --codes fifo --out x.png
expect_fail 1 "'fifo' is a FIFO, not a regular file" "$ALAE" train --preset mnist-fc --data fifo --out D --steps 1

echo "== an output that is an input, or not a regular file, is refused (the input was overwritten)"
M=C1/model.safetensors
cp $M model.keep
cp codes.npy codes.keep
ln -s C1/model.safetensors model-link
expect_fail 1 "\-\-out C1/model.safetensors is the same file as --model" "$ALAE" sample --model $M --n 4 --out $M
expect_fail 1 "is the same file as --model model-link" "$ALAE" encode --model model-link --data tiny.idx --out $M
expect_fail 1 "\-\-out model-link is the same file as --model" "$ALAE" reconstruct --model $M --data tiny.idx --n 2 \
    --out model-link
expect_fail 1 "\-\-out ./codes.npy is the same file as --codes codes.npy" "$ALAE" decode --model $M --codes codes.npy \
    --out ./codes.npy
expect_fail 1 "\-\-out tiny.idx is the same file as --data" "$ALAE" encode --model $M --data tiny.idx --out tiny.idx
cmp $M model.keep || fail "the model was changed"
cmp codes.npy codes.keep || fail "the codes were changed"
[ -L model-link ] || fail "the link was replaced"
ln -s fifo fifo-link
expect_fail 1 "\-\-out fifo is a FIFO: refusing to replace it" "$ALAE" sample --model $M --n 4 --out fifo
expect_fail 1 "\-\-out fifo-link is a FIFO: refusing" "$ALAE" encode --model $M --data tiny.idx --n 4 --out fifo-link
[ -p fifo ] && [ -L fifo-link ] || fail "the FIFO or the link to it was replaced"
cp -r faces F
expect_fail 1 "\-\-data F is the output directory" "$ALAE" train --preset celeba --data F --out F --resolution 16 \
    --steps 1
[ ! -e F/samples.png ] || fail "train wrote into its image folder"
mkdir -p E
cp faces/01.png E/samples.png
expect_fail 1 "\-\-out E/samples.png is the same file as --data E/samples.png" "$ALAE" train --preset celeba \
    --data E/samples.png --out E --resolution 16 --steps 1
cmp E/samples.png faces/01.png || fail "train overwrote its --data"
mkfifo E/log.csv
expect_fail 1 "\-\-out E/log.csv is a FIFO" "$ALAE" train --preset celeba --data faces --out E --resolution 16 --steps 1

echo "== non-finite parameters are refused, non-finite outputs reported (were: NaN codes, black images, exit 0)"
"$ST_EDIT" C1/model.safetensors nan.model f32 G.fc.1.weight 7 nan
expect_fail 1 "tensor 'G.fc.1.weight' holds a non-finite value (nan) at element 7" "$ALAE" info --model nan.model
expect_fail 1 "tensor 'G.fc.1.weight' holds a non-finite value" "$ALAE" sample --model nan.model --n 4 --out nan.png
[ ! -e nan.png ] || fail "sample wrote an image from a NaN model"
"$ST_EDIT" C1/train-state.safetensors C4.state f32 ema/E.fc.3.bias 0 inf
mkdir -p C4 && cp C1/train-run.txt C4/ && cp C4.state C4/train-state.safetensors
expect_fail 1 "tensor 'ema/E.fc.3.bias' holds a non-finite value (inf)" "$ALAE" train --preset mnist-fc --data tiny.idx \
    --out C4 --batch 16 --threads 1 --seed 5 --set hidden=32 --steps 3 --resume
# finite weights whose products overflow: the outputs are checked
"$ST_EDIT" C1/model.safetensors big1.model f32 E.fc.2.bias 0 3e38
"$ST_EDIT" big1.model big.model f32 E.fc.3.weight 0 3e38
expect_fail 1 "the model's output 0 holds a non-finite value" "$ALAE" encode --model big.model --data tiny.idx --n 4 \
    --out big.npy
expect_fail 1 "the model's output 0 holds a non-finite value" "$ALAE" reconstruct --model big.model --data tiny.idx \
    --n 4 --out big.png
[ ! -e big.npy ] && [ ! -e big.png ] || fail "non-finite outputs were written"

echo "== a huge unused tensor is not read (was: 3 GB of memory and 15 s for alae info)"
"$ST_EDIT" C1/model.safetensors sparse.model sparse unused 3221225472
timeout 60 "$ALAE" info --model sparse.model >info.out 2>info.err || fail "info of the sparse model: $(cat info.err)"
grep -q "latent_dim" info.out || fail "info printed no configuration: $(cat info.out)"
"$ALAE" encode --model sparse.model --data tiny.idx --n 4 --out sparse.npy
cmp sparse.npy codes.npy || fail "the model with an unused tensor encodes differently"

echo "== smaller: 2^53 + 1, log.csv rewritten by rename, control characters in names"
expect_fail 2 "\-\-seed: 9007199254740993 is out of range" "$ALAE" sample --model C1/model.safetensors \
    --seed 9007199254740993 --out s.png
expect_fail 2 "\-\-steps: 9007199254740993 is out of range" "$ALAE" train --preset mnist-fc --data tiny.idx --out L \
    --steps 9007199254740993
mlp L --steps 2
ln L/log.csv log.link
cp L/log.csv log.before
mlp L --steps 4 --resume
cmp log.link log.before || fail "log.csv was rewritten in place (a hard link to it changed)"
[ "$(tail -n 1 L/log.csv | cut -d, -f1)" = 4 ] || fail "L/log.csv does not end at step 4"
ls L | grep -q '\.tmp\.' && fail "temporary files left in L: $(ls L)"
name=$(printf 'evil\033[2J\nFAKE: done.idx')
expect_fail 1 'evil\\x1b\[2J\\x0aFAKE: done.idx' "$ALAE" encode --model C1/model.safetensors --data "$name" --out e.npy
[ "$(wc -l <fail.err)" -eq 1 ] || fail "a file name split the error message: $(cat fail.err)"
if grep -q "$(printf '\033')" fail.err; then fail "an escape character reached the terminal"; fi

echo "PASS"
