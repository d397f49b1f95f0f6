# Shared by the CLI test scripts, which source it: fail, expect_fail and is_png.

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_fail RC PATTERN COMMAND...: COMMAND must exit with RC (never succeed, never crash and,
# when EXPECT_FAIL_TIMEOUT is set, never run longer than that many seconds) and say PATTERN on
# stderr.
expect_fail() {
    want=$1
    pattern=$2
    shift 2
    rc=0
    if [ -n "${EXPECT_FAIL_TIMEOUT:-}" ]; then
        timeout "$EXPECT_FAIL_TIMEOUT" "$@" >fail.out 2>fail.err || rc=$?
        [ "$rc" -ne 124 ] || fail "hung: $*"
    else
        "$@" >fail.out 2>fail.err || rc=$?
    fi
    [ "$rc" -ne 0 ] || fail "succeeded: $*"
    [ "$rc" -lt 128 ] || fail "crashed with status $rc: $*"
    [ "$rc" -eq "$want" ] || fail "exit status $rc, expected $want: $* ($(cat fail.err))"
    grep -q -e "$pattern" fail.err || fail "stderr of '$*' lacks '$pattern': $(cat fail.err)"
}

is_png() {
    [ -s "$1" ] || fail "$1 is missing or empty"
    [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"
}
