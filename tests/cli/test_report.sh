#!/bin/sh
# The training report (tools/report.c) on crafted run folders, through `alae report --run DIR`,
# and the report.html and progress/ grids that a short `alae train` run writes.
# Usage: test_report.sh ALAE MAKE_IDX WORKDIR
set -eu
. "$(dirname "$0")/cli_lib.sh" # fail, expect_fail, is_png

ALAE=$1
MAKE_IDX=$2
WORK=$3

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

# report DIR: writes DIR/report.html (it must succeed).
report() {
    "$ALAE" report --run "$1" >report.out 2>report.err || fail "report --run $1: $(cat report.err)"
    [ -s "$1/report.html" ] || fail "$1/report.html is missing"
}

has() { grep -q -e "$2" "$1/report.html" || fail "$1/report.html lacks '$2'"; }
lacks() { ! grep -q -e "$2" "$1/report.html" || fail "$1/report.html has '$2'"; }

# points DIR SERIES: the vertices of a curve's polyline.
points() {
    sed -n "s/.*data-series=\"$2\"[^>]*points=\"\([^\"]*\)\".*/\1/p" "$1/report.html" | tr ' ' '\n' | grep -c ,
}

MLP_HEADER=step,images,loss_d,loss_g,loss_ae,r1,seconds

echo "== an empty folder, a header alone, a header cut"
mkdir empty header cut-header
report empty
has empty "No log.csv yet"
has empty "samples.png: not written yet"
lacks empty "<polyline"
echo "$MLP_HEADER" >header/log.csv
report header
has header '<td id="rows">0</td>'
has header "No data yet"
printf 'step,images,lo' >cut-header/log.csv
report cut-header
has cut-header "no header with a step column"

echo "== a growing log: the last line cut, a malformed line"
mkdir partial
{
    echo "$MLP_HEADER"
    echo "2,32,4.5,1.5,0.8,3.0,0.5"
    echo "4,64,4.0,1.4,0.6,2.5,1.0"
    echo "6,96,nan,1.3,0.5,2.0,1.5"
    echo "7,100,1e300,1.3,0.5,2.0,1.5"
    echo "8,128,3.0,1.2,0.4,1.5,2.0"
    printf '10,160,2.9,1.1'
} >partial/log.csv
report partial
has partial '<td id="rows">3</td>'
has partial "incomplete (being written)"
has partial "2 malformed line"
[ "$(points partial 'D (loss_d)')" -eq 3 ] || fail "the D curve has $(points partial 'D (loss_d)') points, not 3"
[ "$(points partial 'images\/s')" -eq 3 ] || fail "images/s has $(points partial 'images\/s') points, not 3"
lacks partial 'id="plot-lod"'

echo "== StyleALAE: the lod and blend columns"
mkdir style
{
    echo "step,images,lod,blend,loss_d,loss_g,loss_ae,r1,seconds"
    for i in 1 2 3 4 5 6 7 8; do
        echo "$i,$((i * 64)),$((i / 3)),0.$i,1.$i,0.$i,0.0$i,0.5,$i.0"
    done
} >style/log.csv
report style
has style 'id="plot-lod"'
has style "StyleALAE"
[ "$(points style lod)" -eq 8 ] || fail "the lod curve has $(points style lod) points, not 8"
[ "$(points style blend)" -eq 8 ] || fail "the blend curve has $(points style blend) points, not 8"
has style "2 (16 px), blend 0.8"

echo "== text from files and names is escaped"
evil='ev<il>&"q'"'"
mkdir "$evil"
printf '%s\n' "$MLP_HEADER" "1,16,1,1,1,1,1" >"$evil/log.csv"
printf 'seed 0\npreset <script>alert(1)</script>\ndata a&b"c\n' >"$evil/train-run.txt"
printf '{"<img src=x onerror=alert(2)>": 1.5, "mse": 0.25}\n' >"$evil/metrics.json"
printf 'not json <b>' >"$evil/broken.json"
report "$evil"
lacks "$evil" "<script"
lacks "$evil" "<img src=x"
lacks "$evil" "<b>"
lacks "$evil" 'ev<il>'
has "$evil" "&lt;script&gt;alert(1)&lt;/script&gt;"
has "$evil" "a&amp;b&quot;c"
has "$evil" "&lt;img src=x onerror=alert(2)&gt;"
has "$evil" "ev&lt;il&gt;&amp;&quot;q&#39;"
has "$evil" "<td>0.25</td>"
has "$evil" "Not a metrics file"

echo "== images: a PNG is inlined, a non-PNG and a FIFO are not, and nothing blocks"
mkdir images
printf '%s\n' "$MLP_HEADER" "1,16,1,1,1,1,1" >images/log.csv
"$MAKE_IDX" images >/dev/null # writes wide.png among its files
cp images/wide.png images/samples.png
printf 'not a png' >images/reconstructions.png
mkfifo images/train-run.txt
report images
has images 'src="data:image/png;base64,iVBORw0KGgo'
has images 'reconstructions.png</a> (not a PNG file)'
has images "No train-run.txt"

echo "== a long log is averaged down: the report stays small"
mkdir long
awk -v h="$MLP_HEADER" 'BEGIN { print h; for (i = 1; i <= 200000; i++) printf "%d,%d,%.4f,%.4f,%.4f,%.4f,%.3f\n", i, i * 16, 1 + sin(i / 900), 2 + cos(i / 700), 1 / i, 0.5, i * 0.01 }' >long/log.csv
report long
size=$(wc -c <long/report.html)
[ "$size" -lt 150000 ] || fail "the report of 200000 rows has $size bytes"
[ "$(points long 'R1')" -eq 500 ] || fail "R1 has $(points long R1) points, not 500"
has long "average the 200000 rows down to 500 points"
has long '<td id="rows">200000</td>'

echo "== the temporary file of a killed write is removed, a running process's is kept"
printf 'half a report' >long/report.html.tmp.999999999 # above any pid_max: no such process
printf 'being written' >"long/report.html.tmp.$$"      # this shell runs
report long
[ ! -e long/report.html.tmp.999999999 ] || fail "the stale temporary file was left"
[ -e "long/report.html.tmp.$$" ] || fail "the temporary file of a running process was removed"

echo "== errors: a missing folder, a file, no --run"
rc=0
"$ALAE" report --run missing-dir 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot open the run folder 'missing-dir'" err.txt || fail "missing folder: $rc $(cat err.txt)"
rc=0
"$ALAE" report --run long/log.csv 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q "not a directory" err.txt || fail "a file as --run: $rc $(cat err.txt)"
rc=0
"$ALAE" report 2>err.txt || rc=$?
[ "$rc" -eq 2 ] || fail "report without --run exited $rc"

echo "== alae train writes report.html and at most 12 progress pairs"
export ALAE_REPORT_SECONDS=0 # at every save, however fast
"$MAKE_IDX" . >/dev/null
"$ALAE" train --preset mnist-fc --data tiny.idx --out run --batch 16 --threads 1 --steps 13 --report-every 1 \
    --save-every 1 2>train.err || fail "train: $(cat train.err)"
has run "Training report: run"
has run '<td id="rows">13</td>'
[ "$(points run 'D (loss_d)')" -eq 13 ] || fail "the D curve of the run has $(points run 'D (loss_d)') points"
[ "$(grep -o 'src="data:image/png;base64,' run/report.html | wc -l)" -eq 26 ] ||
    fail "the run's report inlines $(grep -o 'src="data:image/png;base64,' run/report.html | wc -l) images, not 2 + 2 x 12"
has run "preset mnist-fc"
pairs=$(ls run/progress | grep -c samples.png)
[ "$pairs" -eq 12 ] || fail "run/progress holds $pairs pairs, not 12: $(ls run/progress)"
[ -f run/progress/step-000000001-samples.png ] && [ -f run/progress/step-000000013-reconstructions.png ] ||
    fail "the first and last pairs are not kept: $(ls run/progress)"
! ls run | grep -q '\.tmp\.' || fail "temporary files left: $(ls run)"

echo "== --resume drops the progress pairs past the restored step"
# as if an earlier run had saved step 99's grids and crashed before its state reached the disk
cp run/progress/step-000000013-samples.png run/progress/step-000000099-samples.png
cp run/progress/step-000000013-reconstructions.png run/progress/step-000000099-reconstructions.png
"$ALAE" train --preset mnist-fc --data tiny.idx --out run --batch 16 --threads 1 --steps 14 --report-every 1 \
    --save-every 100 --resume 2>train.err || fail "train --resume: $(cat train.err)"
[ ! -f run/progress/step-000000099-samples.png ] || fail "the pair of step 99 survived a resume at step 13"
[ -f run/progress/step-000000014-samples.png ] || fail "no pair at step 14: $(ls run/progress)"
[ "$(ls run/progress | grep -c samples.png)" -eq 12 ] || fail "not 12 pairs after the resume: $(ls run/progress)"
has run '<td id="rows">14</td>'
echo "PASS"
