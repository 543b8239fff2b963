// Fashion-MNIST from its IDX files (train/data/idx.h).
#include "toadstool/train/data/fashion_mnist.h"

#include <sys/stat.h>

#include <cstdlib>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"
#include "toadstool/train/data/idx.h"

namespace toadstool::train {

namespace {

constexpr const char* kDebianDir = "/usr/share/datasets/fashion-mnist";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// dir/name, or dir/name.gz; an Error naming both when neither exists.
std::string find_file(const std::string& dir, const std::string& name) {
  std::string plain = dir + "/" + name;
  if (is_file(plain)) return plain;
  if (is_file(plain + ".gz")) return plain + ".gz";
  TS_CHECK(false, "load_fashion_mnist: no '", name, "' or '", name, ".gz' in '", dir,
           "'; run scripts/get_fashion_mnist.sh, or set TOADSTOOL_FASHION_MNIST to a folder "
           "holding the official files");
  return {};
}

}  // namespace

std::string fashion_mnist_dir() {
  const char* env = std::getenv("TOADSTOOL_FASHION_MNIST");
  return env != nullptr && env[0] != '\0' ? std::string(env) : std::string(kDebianDir);
}

FashionMnist load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  NoGradGuard no_grad;
  Tensor images = read_idx(images_path, kFloat32);  // [N, 28, 28], 0..255
  Tensor labels = read_idx(labels_path, kInt64);    // [N]
  TS_CHECK(images.dim() == 3 && images.size(1) == 28 && images.size(2) == 28,
           "load_fashion_mnist: '", images_path, "' holds ", images.shape(),
           ", expected [N, 28, 28] images");
  TS_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "load_fashion_mnist: '",
           labels_path, "' holds ", labels.shape(), ", expected [", images.size(0),
           "] labels, one per image");
  if (labels.numel() > 0) {
    const int64_t low = native::amin(labels).item<int64_t>();
    const int64_t high = native::amax(labels).item<int64_t>();
    TS_CHECK(low >= 0 && high <= 9, "load_fashion_mnist: '", labels_path, "' has labels in [", low,
             ", ", high, "], expected 0..9");
  }
  native::div_(images, 255.0);
  return {images, labels};
}

FashionMnist load_fashion_mnist(bool train) {
  return load_fashion_mnist(fashion_mnist_dir(), train);
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace toadstool::train
