#!/bin/sh
# Usage: check_consumers.sh BUILD_DIR SOURCE_DIR WORK_DIR [EXTRA_CFLAGS]
# Installs the built library into WORK_DIR/prefix, then builds and runs the two example
# consumers against that install: one with pkg-config and a plain Makefile, one with CMake's
# find_package(libalae CONFIG).
set -eu
build=$1
src=$2
work=$3
extra_cflags=${4:-}
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

pcdir=$(dirname "$(find "$prefix" -name libalae.pc | head -n 1)")
echo "== pkg-config consumer (pkg-config file in $pcdir)"
cp -r "$src/examples/consumers/pkgconfig" "$work/pkgconfig"
PKG_CONFIG_PATH="$pcdir" make -C "$work/pkgconfig" CFLAGS="-O2 -Wall $extra_cflags" >"$work/pkgconfig.log" 2>&1 || { cat "$work/pkgconfig.log"; exit 1; }
libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir libalae)
LD_LIBRARY_PATH="$libdir" "$work/pkgconfig/consumer"

echo "== CMake find_package consumer"
cmake -S "$src/examples/consumers/cmake" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="$extra_cflags" \
      >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
"$work/cmake/consumer"
"$work/cmake/consumer_static"
echo "ok: both consumers built and ran against $prefix"
