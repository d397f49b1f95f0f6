#!/bin/sh
# The main job: install the dependencies, build libalae, and run it.
# Usage: tools/demo.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tools/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DALAE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
"$build/tools/alae" info
