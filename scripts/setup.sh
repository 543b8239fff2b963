#!/usr/bin/env bash
# Installs what Toadstool needs to build (Debian packages only), then
# configures and builds a Release tree. Idempotent: a second run installs
# nothing and rebuilds only what changed.
#
#   scripts/setup.sh [build-dir] [extra cmake args...]
#   TOADSTOOL_SKIP_BUILD=1 scripts/setup.sh    # packages only
#   TOADSTOOL_EXTRA_PACKAGES="clang" scripts/setup.sh   # and these too
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build libeigen3-dev libgtest-dev libgmock-dev
          libbenchmark-dev nlohmann-json3-dev zlib1g-dev libarchive-dev libcxxopts-dev clang-format
          clang-tidy
          qemu-user  # the install test runs the consumer on emulated older CPUs
          openmpi-bin libopenmpi-dev  # the MPI process group and its tests (mpirun)
          pkg-config libcairo2-dev fonts-dejavu-core  # charts (PlotCallback, scripts/plot.sh)
          python3)
# What another script needs beside them (scripts/fuzz.sh: clang), space-separated.
read -r -a extra <<< "${TOADSTOOL_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${TOADSTOOL_SKIP_BUILD:-0}" = "1" ] && exit 0

build_dir="${1:-build/release}"
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j "$(nproc)"
