#!/bin/sh
# End-to-end test of the alae command-line tool.
# Usage: test_cli.sh ALAE MAKE_IDX WORKDIR
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png

ALAE=$1
MAKE_IDX=$2
WORK=$3

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
"$MAKE_IDX" .

# train_tiny OUT [more options...]: the tiny mnist-fc run of the contract.
train_tiny() {
    out=$1
    shift
    "$ALAE" train --preset mnist-fc --data tiny.idx --out "$out" --batch 16 --threads 1 --report-every 2 \
        --save-every 3 --seed 5 "$@" 2>"$out.err" || fail "train $out: $(cat "$out.err")"
}

rows() { # data rows of a log.csv
    echo $(($(wc -l <"$1") - 1))
}

HEADER=step,images,loss_d,loss_g,loss_ae,r1,seconds

echo "== train: 6 steps, report every 2, save every 3"
train_tiny A --steps 6
for f in model.safetensors train-state.safetensors log.csv samples.png reconstructions.png; do
    [ -s "A/$f" ] || fail "A/$f is missing"
done
is_png A/samples.png
is_png A/reconstructions.png
[ "$(head -n 1 A/log.csv)" = "$HEADER" ] || fail "bad log.csv header: $(head -n 1 A/log.csv)"
[ "$(rows A/log.csv)" -eq 3 ] || fail "A/log.csv has $(rows A/log.csv) rows, expected 3"
[ "$(tail -n 1 A/log.csv | cut -d, -f1,2)" = "6,96" ] || fail "last row of A/log.csv: $(tail -n 1 A/log.csv)"

echo "== resume: 3 steps + --resume to 6 (gzipped copy of the data) == 6 steps"
"$ALAE" train --preset mnist-fc --data tiny.idx.gz --out B --steps 3 --batch 16 --threads 1 --report-every 2 \
    --save-every 3 --seed 5 2>B.err || fail "train B: $(cat B.err)"
"$ALAE" train --preset mnist-fc --data tiny.idx.gz --out B --steps 6 --batch 16 --threads 1 --report-every 2 \
    --save-every 3 --seed 5 --resume 2>B.err || fail "train B --resume: $(cat B.err)"
[ "$(grep -c "^$HEADER\$" B/log.csv)" -eq 1 ] || fail "B/log.csv: the header is not there once"
[ "$(tail -n 1 B/log.csv | cut -d, -f1)" = 6 ] || fail "B/log.csv does not end at step 6"
"$ALAE" encode --model A/model.safetensors --data tiny.idx --out a.npy
"$ALAE" encode --model B/model.safetensors --data tiny.idx --out b.npy
cmp a.npy b.npy || fail "the resumed run differs from the uninterrupted one"
grep -q "'shape': (256, 50)" a.npy || fail "a.npy is not [256, 50]"
"$ALAE" encode --model A/model.safetensors --data tiny.idx.gz --out a10.npy --n 10
grep -q "'shape': (10, 50)" a10.npy || fail "a10.npy is not [10, 50]"

echo "== sample, decode, reconstruct, info"
"$ALAE" sample --model A/model.safetensors --n 16 --seed 3 --out s1.png
"$ALAE" sample --model A/model.safetensors --n 16 --seed 3 --out s2.png
is_png s1.png
cmp s1.png s2.png || fail "sample is not reproducible"
"$ALAE" decode --model A/model.safetensors --codes a10.npy --out d.png
is_png d.png
"$ALAE" reconstruct --model A/model.safetensors --data tiny.idx --n 12 --out r.png
is_png r.png
"$ALAE" info --model A/model.safetensors >info.txt
for word in latent_dim image_size data_range d_layers "F (mapping)" "G (generator)" "E (encoder)" \
    "D (discriminator)" total; do
    grep -q "$word" info.txt || fail "info --model lacks '$word'"
done
"$ALAE" info | grep -q libalae || fail "info without --model lacks the version"

echo "== --set, --epochs, mnist-fc-paper"
"$ALAE" train --preset mnist-fc-paper --data tiny.idx --out C --epochs 1 --batch 128 --threads 1 \
    --set latent_dim=8 --set hidden=64 --lr 0.001 2>C.err || fail "train C: $(cat C.err)"
[ "$(tail -n 1 C/log.csv | cut -d, -f1,2)" = "2,256" ] || fail "C: 1 epoch of 256 images is not 2 steps"
"$ALAE" info --model C/model.safetensors | grep -q "latent_dim *8\$" || fail "--set latent_dim=8 not applied"
"$ALAE" info --model C/model.safetensors | grep -q "image_size *28\$" || fail "mnist-fc-paper is not 28x28"

echo "== SIGINT: finish the step, save, exit 130"
"$ALAE" train --preset mnist-fc --data tiny.idx --out I --steps 100000 --batch 16 --threads 1 \
    --report-every 1 --save-every 100000 --set hidden=64 >/dev/null 2>I.err &
pid=$!
tries=0
until [ -f I/log.csv ] && [ "$(rows I/log.csv)" -ge 2 ]; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || { kill -KILL "$pid"; fail "the interrupt run never logged a step"; }
    sleep 1
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 130 ] || fail "SIGINT: exit status $rc, expected 130 ($(cat I.err))"
[ -s I/train-state.safetensors ] || fail "SIGINT: no state saved"
is_png I/samples.png
"$ALAE" train --preset mnist-fc --data tiny.idx --out I --steps 100000 --batch 16 --threads 1 --resume \
    --set hidden=32 >/dev/null 2>I.err && fail "resuming with another configuration succeeded"

echo "== StyleALAE: image folder, progressive schedule, level samples, lod/blend in log.csv"
STYLE_HEADER=step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds
# style_tiny OUT [more options...]: a tiny celeba-architecture model on faces/ (24 images, 16x16),
# two epochs per level, 6 steps per epoch: levels 4x4, 8x8 (fading in during epoch 2), 16x16.
style_tiny() {
    out=$1
    shift
    "$ALAE" train --preset celeba --data faces --out "$out" --resolution 16 --set start_channels=8 \
        --set max_channels=16 --set latent_dim=16 --set mapping_layers=2 --set epochs_per_lod=2 --batch 4 \
        --threads 1 --report-every 2 --save-every 5 --seed 3 "$@" 2>"$out.err" || fail "train $out: $(cat "$out.err")"
}
style_tiny S --epochs 6
[ "$(head -n 1 S/log.csv)" = "$STYLE_HEADER" ] || fail "bad StyleALAE log.csv header: $(head -n 1 S/log.csv)"
[ "$(tail -n 1 S/log.csv | cut -d, -f1-3)" = "36,144,2" ] || fail "last row of S/log.csv: $(tail -n 1 S/log.csv)"
grep -q "^14,56,1,0\." S/log.csv || fail "no fade-in (blend < 1) at step 14 of S/log.csv: $(cat S/log.csv)"
for k in 0 1 2; do is_png "S/samples-lod$k.png"; done
is_png S/samples.png
is_png S/reconstructions.png
grep -q "lod 2" S.err || fail "the progress does not show the level: $(cat S.err)"

echo "== StyleALAE resume: 14 steps (in a fade-in) + --resume to 6 epochs == 6 epochs"
style_tiny R --steps 14
style_tiny R --epochs 6 --resume
cmp S/model.safetensors R/model.safetensors || fail "the resumed StyleALAE run differs from the uninterrupted one"
[ "$(grep -c "^$STYLE_HEADER\$" R/log.csv)" -eq 1 ] || fail "R/log.csv: the header is not there once"
"$ALAE" encode --model S/model.safetensors --data faces --out s.npy
"$ALAE" encode --model R/model.safetensors --data faces --out r.npy
cmp s.npy r.npy || fail "the resumed run encodes differently"
grep -q "'shape': (24, 16)" s.npy || fail "s.npy is not [24, 16]"
"$ALAE" encode --model S/model.safetensors --data faces/01.png --out one.npy
grep -q "'shape': (1, 16)" one.npy || fail "one.npy is not [1, 16]"

echo "== StyleALAE: --flip off differs; mnist preset on IDX (padded, pooled to 4x4)"
style_tiny F --steps 4 --flip off
style_tiny G --steps 4
cmp -s F/model.safetensors G/model.safetensors && fail "--flip off changed nothing"
"$ALAE" train --preset mnist --data tiny.idx --out M --steps 3 --batch 8 --threads 1 --set start_channels=4 \
    --set max_channels=8 --set latent_dim=8 --set mapping_layers=1 --set epochs_per_lod=1 2>M.err ||
    fail "train M: $(cat M.err)"
[ "$(tail -n 1 M/log.csv | cut -d, -f1-3)" = "3,24,0" ] || fail "last row of M/log.csv: $(tail -n 1 M/log.csv)"
"$ALAE" reconstruct --model M/model.safetensors --data tiny.idx --n 8 --out mr.png
is_png mr.png

echo "== mix, interpolate, --truncation"
"$ALAE" mix --model S/model.safetensors --src faces/00.png --dst faces --layers coarse --out mix.png
is_png mix.png
"$ALAE" mix --model S/model.safetensors --src faces --dst faces/05.png --layers 2-5 --noise off --out mix2.png
"$ALAE" mix --model S/model.safetensors --src faces --dst faces/05.png --layers 2-5 --noise off --out mix3.png
cmp mix2.png mix3.png || fail "mix is not reproducible"
"$ALAE" interpolate --model S/model.safetensors --a faces/00.png --b faces/07.png --steps 4 --out strip.png
is_png strip.png
"$ALAE" sample --model S/model.safetensors --n 9 --truncation 0.7 --out t1.png
"$ALAE" sample --model S/model.safetensors --n 9 --truncation 0.7 --out t2.png
"$ALAE" sample --model S/model.safetensors --n 9 --out t3.png
cmp t1.png t2.png || fail "truncated sampling is not reproducible"
cmp -s t1.png t3.png && fail "--truncation 0.7 changed nothing"
"$ALAE" reconstruct --model S/model.safetensors --data faces --truncation 0.5 --truncation-cutoff 2 --out tr.png
is_png tr.png
"$ALAE" decode --model S/model.safetensors --codes one.npy --truncation 0.7 --out td.png
is_png td.png

echo "== --noise on every generating command, --crop, --out X.npy"
"$ALAE" decode --model S/model.safetensors --codes s.npy --noise off --seed 1 --out d1.npy
"$ALAE" decode --model S/model.safetensors --codes s.npy --noise off --seed 2 --out d2.npy
cmp d1.npy d2.npy || fail "decode --noise off depends on the noise seed"
grep -q "'shape': (24, 3, 16, 16)" d1.npy || fail "d1.npy is not [24, 3, 16, 16]"
"$ALAE" decode --model S/model.safetensors --codes s.npy --noise sample --seed 2 --out d3.npy
cmp -s d2.npy d3.npy && fail "decode --noise sample made no difference"
"$ALAE" decode --model S/model.safetensors --codes s.npy --noise batch --out d4.npy
cmp -s d3.npy d4.npy && fail "decode --noise batch made no difference"
"$ALAE" sample --model S/model.safetensors --n 5 --noise off --out sn.npy
grep -q "'shape': (5, 3, 16, 16)" sn.npy || fail "sn.npy is not [5, 3, 16, 16]"
"$ALAE" reconstruct --model S/model.safetensors --data faces --n 6 --noise off --seed 1 --out r1.npy
"$ALAE" reconstruct --model S/model.safetensors --data faces --n 6 --noise off --seed 2 --out r2.npy
cmp r1.npy r2.npy || fail "reconstruct --noise off depends on the noise seed"
grep -q "'shape': (6, 3, 16, 16)" r1.npy || fail "r1.npy is not [6, 3, 16, 16]"
"$ALAE" mix --model S/model.safetensors --src faces/00.png --dst faces --n 4 --out mix.npy
grep -q "'shape': (4, 3, 16, 16)" mix.npy || fail "mix.npy is not [4, 3, 16, 16]"
"$ALAE" interpolate --model S/model.safetensors --a faces/00.png --b faces/07.png --steps 5 --out strip.npy
grep -q "'shape': (5, 3, 16, 16)" strip.npy || fail "strip.npy is not [5, 3, 16, 16]"
"$ALAE" encode --model S/model.safetensors --data wide.png --crop --out wc.npy
"$ALAE" encode --model S/model.safetensors --data wide-centre.png --out c.npy
cmp wc.npy c.npy || fail "encode --crop does not encode the centre square"
"$ALAE" encode --model S/model.safetensors --data wide.png --out ww.npy
cmp -s ww.npy wc.npy && fail "encode without --crop encoded the centre square only"
"$ALAE" reconstruct --model S/model.safetensors --data wide.png --crop --noise off --out rc.npy
"$ALAE" reconstruct --model S/model.safetensors --data wide-centre.png --noise off --out rcc.npy
cmp rc.npy rcc.npy || fail "reconstruct --crop does not use the centre square"
expect_fail 2 "--noise" "$ALAE" sample --model S/model.safetensors --noise loud --out x.png
expect_fail 2 "--noise" "$ALAE" decode --model S/model.safetensors --codes s.npy --noise 1 --out x.png
expect_fail 2 "--noise" "$ALAE" reconstruct --model S/model.safetensors --data faces --noise "" --out x.png
expect_fail 2 "--crop" "$ALAE" encode --model S/model.safetensors --data faces --crop=yes --out x.npy

echo "== bad image files: rejected by name, or skipped with --skip-bad"
B() { "$ALAE" train --preset celeba --data bad --resolution 16 --set start_channels=8 --set max_channels=16 \
    --set latent_dim=16 --set mapping_layers=2 --batch 2 --steps 1 --threads 1 "$@"; }
expect_fail 1 "b-corrupt.png" B --out BAD
B --skip-bad --out BAD2 2>skip.err || fail "--skip-bad: $(cat skip.err)"
grep -q "b-corrupt.png" skip.err || fail "--skip-bad named no file: $(cat skip.err)"
expect_fail 1 "b-corrupt.png" "$ALAE" reconstruct --model S/model.safetensors --data bad --out x.png
expect_fail 2 "--flip" B --out BAD --flip sideways
expect_fail 2 "--layers" "$ALAE" mix --model S/model.safetensors --src faces --dst faces --layers 5 --out x.png
expect_fail 1 "style rows" "$ALAE" mix --model S/model.safetensors --src faces --dst faces --layers fine --out x.png
expect_fail 2 "--noise" "$ALAE" interpolate --model S/model.safetensors --a faces/00.png --b faces/01.png --noise x --out x.png
expect_fail 2 "--truncation" "$ALAE" sample --model S/model.safetensors --truncation 3 --out x.png
expect_fail 1 "missing.png" "$ALAE" interpolate --model S/model.safetensors --a missing.png --b faces/01.png --out x.png
[ ! -e x.png ] || fail "a failed command left an output file"

echo "== --help"
for cmd in train sample encode decode reconstruct mix interpolate info version; do
    "$ALAE" "$cmd" --help >help.txt || fail "$cmd --help failed"
    grep -q "usage: alae $cmd" help.txt || fail "$cmd --help prints no usage"
done
"$ALAE" --help | grep -q "usage: alae" || fail "alae --help"

echo "== bad inputs"
printf 'not a safetensors file at all' >junk.safetensors
printf 'not an npy file' >junk.npy
# A train command line that never trains: each use below fails first.
T() { "$ALAE" train --preset mnist-fc --out E --steps 2 "$@"; }
expect_fail 1 "missing.idx" T --data missing.idx
expect_fail 2 "unknown preset" "$ALAE" train --preset mnist-xx --data tiny.idx --out E
expect_fail 2 "bogus" T --data tiny.idx --set bogus=3
expect_fail 2 "key=value" T --data tiny.idx --set latent_dim
expect_fail 2 "latent_dim" T --data tiny.idx --set latent_dim=0
expect_fail 2 "arch" T --data tiny.idx --set arch=2
expect_fail 2 "--steps" "$ALAE" train --preset mnist-fc --data tiny.idx --out E --steps abc
expect_fail 2 "--steps" "$ALAE" train --preset mnist-fc --data tiny.idx --out E --steps 12x
expect_fail 2 "--steps" "$ALAE" train --preset mnist-fc --data tiny.idx --out E --steps -4
expect_fail 2 "--steps" "$ALAE" train --preset mnist-fc --data tiny.idx --out E --steps ""
expect_fail 2 "--batch" T --data tiny.idx --batch 0
expect_fail 2 "--lr" T --data tiny.idx --lr -0.1
expect_fail 2 "--lr" T --data tiny.idx --lr nan
expect_fail 2 "--seed" T --data tiny.idx --seed -1
expect_fail 2 "--threads" T --data tiny.idx --threads 0
expect_fail 2 "not both" T --data tiny.idx --epochs 2
expect_fail 2 "needs a value" T --data tiny.idx --report-every
expect_fail 2 "unknown option" T --data tiny.idx --bogus 1
expect_fail 2 "--out is required" "$ALAE" train --preset mnist-fc --data tiny.idx
expect_fail 1 "trunc.idx" T --data trunc.idx
expect_fail 1 "badmagic.idx" T --data badmagic.idx
expect_fail 1 "fewer than one batch" T --data tiny.idx --batch 512
expect_fail 1 "larger than the model" T --data tiny.idx --set image_size=16
expect_fail 1 "channels" T --data tiny.idx --set channels=3
expect_fail 1 "already holds a training state" "$ALAE" train --preset mnist-fc --data tiny.idx --out A --steps 6
expect_fail 1 "does not exist" "$ALAE" train --preset mnist-fc --data tiny.idx --out nothing-here --resume
expect_fail 1 "junk.safetensors" "$ALAE" sample --model junk.safetensors --out x.png
expect_fail 1 "missing.safetensors" "$ALAE" info --model missing.safetensors
expect_fail 1 "train-state.safetensors" "$ALAE" encode --model A/train-state.safetensors --data tiny.idx --out x.npy
expect_fail 1 "trunc.idx" "$ALAE" encode --model A/model.safetensors --data trunc.idx --out x.npy
expect_fail 1 "fewer than" "$ALAE" encode --model A/model.safetensors --data tiny.idx --out x.npy --n 1000
expect_fail 1 "junk.npy" "$ALAE" decode --model A/model.safetensors --codes junk.npy --out x.png
expect_fail 1 "latent_dim" "$ALAE" decode --model C/model.safetensors --codes a10.npy --out x.png
expect_fail 1 "missing.idx" "$ALAE" reconstruct --model A/model.safetensors --data missing.idx --out x.png
expect_fail 2 "--n" "$ALAE" sample --model A/model.safetensors --n 0 --out x.png
expect_fail 2 "--out is required" "$ALAE" sample --model A/model.safetensors
expect_fail 2 "unexpected argument" "$ALAE" info extra
expect_fail 2 "unknown command" "$ALAE" bogus
[ ! -e x.png ] && [ ! -e x.npy ] || fail "a failed command left an output file"

echo "all CLI tests passed"
