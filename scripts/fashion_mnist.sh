#!/usr/bin/env bash
# The main job: set-up (packages, the Fashion-MNIST data, a Release build),
# then examples/fashion_mnist: an MLP trained with the Toadstool trainer
# (progress bar, early stopping, checkpoints) to at least 88% test accuracy.
#
#   scripts/fashion_mnist.sh [example flags, e.g. --epochs 5 --resume]
#   scripts/fashion_mnist.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build/release -DTOADSTOOL_BUILD_TESTS=OFF -DTOADSTOOL_BUILD_BENCH=OFF
data_dir="$(scripts/get_fashion_mnist.sh)"
exec build/release/examples/fashion_mnist/fashion_mnist --data "$data_dir" --min-accuracy 0.88 "$@"
