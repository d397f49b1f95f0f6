#!/bin/sh
# check_outputs.sh OUT: the files the examples promise, each non-empty. The Python examples'
# directories are checked only when they hold something (empty: the examples were skipped).
out=$1 rc=0
check() {
  for f in "$@"; do
    if [ -s "$out/$f" ]; then echo "ok $f"; else echo "MISSING or empty: $f"; rc=1; fi
  done
}
check c/model.safetensors c/train-state.safetensors c/samples.png c/codes.npy c/reconstruction.png
if [ -n "$(ls -A "$out/py" 2>/dev/null)" ]; then
  check py/reconstructions.png py/interpolation.png
else
  echo "skipped: py/ is empty (example_python_with_model was skipped)"
fi
if [ -n "$(ls -A "$out/py-trained" 2>/dev/null)" ]; then
  check py-trained/model.safetensors py-trained/reconstructions.png py-trained/interpolation.png
else
  echo "skipped: py-trained/ is empty (example_python_trains was skipped)"
fi
exit $rc
