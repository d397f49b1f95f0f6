#!/bin/sh
# Builds and tests libalae under the sanitizers (docs/reliability.md):
#
#   1. AddressSanitizer + UndefinedBehaviorSanitizer: the whole project in build-asan
#      (-DALAE_SANITIZE="address;undefined"), then the whole ctest suite there;
#   2. ThreadSanitizer: build-tsan (-DALAE_SANITIZE=thread), then the threaded tests:
#      test_graph, test_backend_ops, test_api, test_concurrency, test_comm, serve_load (and short_run and
#      test_report_render, the training report rendered on several threads).
#
# Usage: tools/sanitize.sh [--asan-only | --tsan-only] [--keep-going]
# Environment: CC (compiler, default cc), JOBS (parallel build jobs, default: online CPUs),
#              ASAN_DIR, TSAN_DIR (build directories, default <repo>/build-asan, <repo>/build-tsan),
#              CTEST_ARGS (extra ctest arguments, e.g. "-E valgrind").
# Exit status: 0 when both stages pass; 1 otherwise. Prints the time each stage took.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
ASAN_DIR=${ASAN_DIR:-$ROOT/build-asan}
TSAN_DIR=${TSAN_DIR:-$ROOT/build-tsan}
CC=${CC:-cc}
CTEST_ARGS=${CTEST_ARGS:-}
TSAN_TESTS='^(test_graph|test_backend_ops|test_api|test_concurrency|test_comm|serve_load|short_run|test_report_render)$'

do_asan=1
do_tsan=1
keep_going=0
for arg in "$@"; do
    case "$arg" in
    --asan-only) do_tsan=0 ;;
    --tsan-only) do_asan=0 ;;
    --keep-going) keep_going=1 ;;
    -h | --help)
        sed -n '2,14p' "$0"
        exit 0
        ;;
    *)
        echo "sanitize.sh: unknown argument '$arg'" >&2
        exit 2
        ;;
    esac
done

# Sanitizer run-time options: stop at the first report, with a stack, and fail the process.
#  - detect_leaks: LeakSanitizer at exit (the Check tests run with CK_FORK=no, so a leak is
#    attributed to the test program that made it);
#  - detect_stack_use_after_return, strict_init_order, check_initialization_order: the
#    stricter ASan checks that are off by default;
#  - UBSan: print_stacktrace; the build already uses -fno-sanitize-recover=all.
#  - TSan: second_deadlock_stack for lock-order reports; halt_on_error so ctest sees a failure.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}"

now() { date +%s; }
status=0
summary=""

stage() { # name build-dir sanitize-value ctest-filter
    name=$1
    dir=$2
    san=$3
    filter=$4
    t0=$(now)
    echo "==== $name: configure + build in $dir"
    if ! cmake -S "$ROOT" -B "$dir" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DALAE_SANITIZE="$san" -DALAE_CUDA=OFF >"$dir.configure.log" 2>&1; then
        cat "$dir.configure.log" >&2
        return 1
    fi
    rm -f "$dir.configure.log"
    cmake --build "$dir" -j "$JOBS" || return 1
    t1=$(now)
    echo "==== $name: ctest ${filter:+-R '$filter'}"
    rc=0
    # shellcheck disable=SC2086
    if [ -n "$filter" ]; then
        ctest --test-dir "$dir" --output-on-failure -j "$JOBS" -R "$filter" $CTEST_ARGS || rc=$?
    else
        ctest --test-dir "$dir" --output-on-failure -j "$JOBS" $CTEST_ARGS || rc=$?
    fi
    t2=$(now)
    line="$name: build $((t1 - t0)) s, tests $((t2 - t1)) s, $( [ $rc -eq 0 ] && echo PASSED || echo FAILED)"
    summary="$summary
$line"
    echo "==== $line"
    return $rc
}

start=$(now)
if [ $do_asan -eq 1 ]; then
    stage "address+undefined" "$ASAN_DIR" "address;undefined" "" || {
        status=1
        [ $keep_going -eq 1 ] || { echo "sanitize.sh: ASan/UBSan stage failed$summary"; exit 1; }
    }
fi
if [ $do_tsan -eq 1 ]; then
    stage "thread" "$TSAN_DIR" "thread" "$TSAN_TESTS" || status=1
fi
echo "==== sanitize.sh summary (total $(( $(now) - start )) s):$summary"
exit $status
