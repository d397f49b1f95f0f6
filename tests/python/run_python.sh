#!/bin/sh
# Runs Python for ctest with the package of this source tree and the libalae just built.
#
#   run_python.sh MODE LIBRARY REPO [ARGS...]
#
#   MODE pytest   python3 -m pytest REPO/tests/python ARGS   (needs numpy and pytest)
#   MODE numpy    python3 ARGS                               (a script that needs numpy)
#   MODE selenium python3 ARGS                               (a browser test: needs selenium)
#   MODE plain    python3 ARGS                               (the standard library only)
#   MODE selenium python3 ARGS                               (a headless-browser test: selenium)
#
# The interpreter is the first of $ALAE_PYTHON, python3 on PATH and /usr/bin/python3 that has
# the modules MODE needs. When none has them, it prints "SKIPPED: <package> not installed" and
# exits 77, which ctest reports as a skipped test (SKIP_RETURN_CODE 77), never as a pass.
set -u
mode=$1 library=$2 repo=$3
shift 3

case $mode in
  pytest) modules="numpy pytest" ;;
  numpy) modules="numpy" ;;
  selenium) modules="selenium" ;;
  plain) modules="" ;;
  selenium) modules="selenium" ;;
  *) echo "run_python.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac

python=
missing=
for candidate in ${ALAE_PYTHON:-} python3 /usr/bin/python3; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  lacks=
  for m in $modules; do
    "$candidate" -c "import $m" >/dev/null 2>&1 || lacks="$lacks $m"
  done
  if [ -z "$lacks" ]; then python=$candidate; break; fi
  [ -n "$missing" ] || missing=$lacks
done
if [ -z "$python" ]; then
  if [ -z "$missing" ]; then
    echo "SKIPPED: python3 not installed"
  else
    for m in $missing; do echo "SKIPPED: python3-$m not installed (apt-get install python3-$m)"; done
  fi
  exit 77
fi

export ALAE_LIBRARY="$library"
export PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
echo "python: $(command -v "$python") ($("$python" -c 'import sys; print(sys.version.split()[0])')); libalae: $library"
if [ "$mode" = pytest ]; then
  exec "$python" -m pytest -p no:cacheprovider -q -rs "$repo/tests/python" "$@"
fi
exec "$python" "$@"
