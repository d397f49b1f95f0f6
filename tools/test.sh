#!/bin/sh
# Builds libalae with its tests and runs the whole suite under ctest.
# Usage: tools/test.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-tests}
tools/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALAE_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
