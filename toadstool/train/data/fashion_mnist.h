#pragma once
// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grayscale images of
// clothing in 10 classes, 60000 for training and 10000 for testing, in the
// IDX files of the original release (train-images-idx3-ubyte[.gz],
// train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
// t10k-labels-idx1-ubyte[.gz]).
//
// scripts/get_fashion_mnist.sh installs Debian's dataset-fashion-mnist
// package, which puts the four .gz files in /usr/share/datasets/fashion-mnist;
// any folder holding the official files (plain or gzip) works as well.
#include <string>
#include <vector>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train {

struct FashionMnist {
  Tensor images;  // [N, 28, 28] float32, pixel / 255 in [0, 1]
  Tensor labels;  // [N] int64, class indices 0..9
};

// The folder to look in: $TOADSTOOL_FASHION_MNIST when set and not empty,
// else /usr/share/datasets/fashion-mnist (the Debian package's).
std::string fashion_mnist_dir();

// Loads the training (60000) or test (10000) split from `dir`, preferring the
// uncompressed file of each pair when both are there. A missing file is an
// Error naming the folder and the names tried; a malformed one, an Error from
// read_idx; images and labels that disagree in count, or a label outside
// 0..9, are Errors too.
FashionMnist load_fashion_mnist(const std::string& dir, bool train);
// The same, from fashion_mnist_dir().
FashionMnist load_fashion_mnist(bool train);

// The class names, by label: "T-shirt/top", "Trouser", ... "Ankle boot".
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace toadstool::train
