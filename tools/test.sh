#!/bin/sh
# Builds libalae with its tests and runs the whole suite under ctest.
# Usage: tools/test.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-tests}
tools/install-deps.sh
# _FORTIFY_SOURCE=3 as Ubuntu's and Fedora's compilers enable it by default (a GPU image's gcc
# caught an undersized realpath buffer that Debian's default flags let through)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALAE_WERROR=ON \
    -DCMAKE_C_FLAGS="-D_FORTIFY_SOURCE=3" >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
