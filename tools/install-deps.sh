#!/bin/sh
# Installs the Debian 12 packages libalae needs to build and test (uses sudo when not root).
set -eu
packages="build-essential g++ cmake pkg-config check libopenblas0-pthread libopenblas-dev zlib1g-dev libminizip-dev \
dataset-fashion-mnist binutils python3 python3-numpy python3-pytest python3-pip openmpi-bin libopenmpi-dev \
libmicrohttpd-dev chromium chromium-driver python3-selenium"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
