#!/bin/sh
# Downloads (here, where the network is reachable) the Debian 12 packages that tools/gpu-check.sh
# unpacks on a GPU machine that lacks them and cannot fetch them: Check and libsubunit (the test
# suite), pkg-config, OpenBLAS with its Fortran run time (the CPU backend), zlib's headers, zlib's
# minizip (reading the zip archives of PyTorch checkpoints).
# They land in .gpu-deps/debs (ignored by git); carry that folder to the GPU machine with the tree.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
dest=$ROOT/.gpu-deps/debs
mkdir -p "$dest"
cd "$dest"
apt-get download check libsubunit-dev libsubunit0 pkgconf pkgconf-bin libpkgconf3 \
    libopenblas0-pthread libgfortran5 libquadmath0 zlib1g-dev zlib1g \
    libminizip-dev libminizip1
ls -l "$dest"
