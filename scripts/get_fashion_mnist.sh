#!/usr/bin/env bash
# Installs Fashion-MNIST from Debian's dataset-fashion-mnist package (the four
# official .gz IDX files) and prints the folder that holds them, the one
# train::fashion_mnist_dir() looks in by default.
#
#   scripts/get_fashion_mnist.sh
#
# A copy of the official files anywhere else works too: point
# TOADSTOOL_FASHION_MNIST at its folder (or pass the folder to
# train::load_fashion_mnist).
set -euo pipefail

package=dataset-fashion-mnist
dir=/usr/share/datasets/fashion-mnist

if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # apt-get update only when the package is not known yet.
  if ! apt-cache show "$package" >/dev/null 2>&1; then
    $SUDO apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "$package" >/dev/null
fi

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
         t10k-labels-idx1-ubyte; do
  if [ ! -f "$dir/$f.gz" ] && [ ! -f "$dir/$f" ]; then
    echo "get_fashion_mnist: $dir/$f.gz is missing after installing $package" >&2
    exit 1
  fi
done
echo "$dir"
