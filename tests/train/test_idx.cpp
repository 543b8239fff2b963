// read_idx on small files written here (plain and gzip), one damaged file
// per check, and Fashion-MNIST: fake files in a temporary folder, and the
// real data when it is installed (scripts/get_fashion_mnist.sh).
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "temp_dir.h"
#include "test_util.h"

namespace toadstool::train {
namespace {

using testing::expect_values;
using testing::TempDir;

// An IDX file: magic 0x0000TTDD, big-endian uint32 dims, then `data` (already
// big-endian).
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(d >> shift));
  }
  return out + data;
}

std::string bytes(const std::vector<int>& values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, content.data(), static_cast<unsigned>(content.size())),
            static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ubyte images [2, 2, 3]: 0, 1, ..., 10, 255.
const std::string kImages =
    idx_bytes(0x08, {2, 2, 3}, bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255}));

TEST(Idx, ReadsUbyteImagesAndLabels) {
  TempDir dir;
  write_file(dir.file("images"), kImages);
  const Tensor images = read_idx(dir.file("images"));
  EXPECT_EQ(images.dtype(), kFloat32);
  expect_values(images, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255}, {2, 2, 3});
  write_file(dir.file("labels"), idx_bytes(0x08, {3}, bytes({9, 0, 3})));
  const Tensor labels = read_idx(dir.file("labels"), kInt64);
  EXPECT_EQ(labels.dtype(), kInt64);
  expect_values(labels, {9, 0, 3}, {3});
  EXPECT_EQ(read_idx(dir.file("images"), kFloat16).dtype(), kFloat16);
  expect_values(read_idx(dir.file("images"), kBFloat16), testing::values(images), {2, 2, 3});
  // Zero examples.
  write_file(dir.file("none"), idx_bytes(0x08, {0, 28, 28}, ""));
  EXPECT_EQ(read_idx(dir.file("none")).shape(), (Shape{0, 28, 28}));
}

TEST(Idx, ReadsEveryElementTypeBigEndian) {
  TempDir dir;
  const std::string path = dir.file("t");
  write_file(path, idx_bytes(0x09, {2}, bytes({0xFF, 0x7F})));  // sbyte -1, 127
  expect_values(read_idx(path, kInt64), {-1, 127}, {2});
  write_file(path, idx_bytes(0x0B, {2}, bytes({0x01, 0x02, 0xFF, 0xFE})));  // short 258, -2
  expect_values(read_idx(path, kInt64), {258, -2}, {2});
  write_file(path, idx_bytes(0x0C, {1, 2}, bytes({0, 1, 0, 0, 0x80, 0, 0, 0})));  // int
  expect_values(read_idx(path, kInt64), {65536, -2147483648.0}, {1, 2});
  write_file(path, idx_bytes(0x0D, {1}, bytes({0x3F, 0xC0, 0, 0})));  // float 1.5
  expect_values(read_idx(path), {1.5}, {1});
  write_file(path, idx_bytes(0x0E, {1}, bytes({0xC0, 0x04, 0, 0, 0, 0, 0, 0})));  // double -2.5
  expect_values(read_idx(path, kFloat64), {-2.5}, {1});
  EXPECT_ERROR(read_idx(path, kInt64),
               (std::vector<std::string>{"double", "cannot be read as int64"}));
  EXPECT_ERROR(read_idx(path, kBool), "bool");
}

TEST(Idx, ReadsGzipByContent) {
  TempDir dir;
  write_gzip(dir.file("images.gz"), kImages);
  write_file(dir.file("plain"), kImages);
  testing::expect_close(read_idx(dir.file("images.gz")), read_idx(dir.file("plain")), 0, 0);
  // A gzip file without .gz and a plain one with it read the same.
  write_gzip(dir.file("gzip-no-suffix"), kImages);
  write_file(dir.file("plain.gz"), kImages);
  testing::expect_close(read_idx(dir.file("gzip-no-suffix")), read_idx(dir.file("plain")), 0, 0);
  testing::expect_close(read_idx(dir.file("plain.gz")), read_idx(dir.file("plain")), 0, 0);
}

TEST(Idx, DamagedFilesAreErrorsNamingTheFile) {
  TempDir dir;
  const std::string path = dir.file("bad");
  const auto expect_bad = [&](const std::string& content, const std::string& what) {
    write_file(path, content);
    EXPECT_ERROR(read_idx(path), (std::vector<std::string>{"read_idx", path, what}));
  };
  expect_bad("", "truncated: 0 bytes");
  expect_bad(bytes({0, 0}), "truncated: 2 bytes");
  expect_bad(bytes({0x1F, 0x02, 0x08, 0x03}) + kImages.substr(4), "not an IDX file");
  expect_bad(bytes({0x01, 0x00, 0x08, 0x01, 0, 0, 0, 0}), "magic number is 0x01000801");
  expect_bad(idx_bytes(0x0A, {1}, "x"), "unknown element type 0x0a");
  expect_bad(bytes({0, 0, 8, 0}), "0 dimensions");
  expect_bad(kImages.substr(0, 10), "truncated: its header of 3 sizes needs 12 bytes");
  expect_bad(kImages.substr(0, kImages.size() - 1), "12 bytes of data, the file has 11");
  expect_bad(kImages + "z", "longer than its header says");
  // Sizes whose product overflows, and a header claiming ~10 GB over a
  // 20-byte file: Errors, with nothing of that size allocated.
  expect_bad(idx_bytes(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, ""), "impossible size");
  expect_bad(idx_bytes(0x08, {100000, 100000}, "abcd"), "truncated");
  EXPECT_ERROR(read_idx(dir.file("missing")), (std::vector<std::string>{"cannot open", "missing"}));
  EXPECT_ERROR(read_idx(dir.file("")), "not a regular file");
}

TEST(Idx, DamagedGzipFilesAreErrors) {
  TempDir dir;
  // A larger file so the compressed stream has a body to damage.
  std::string pixels;
  for (int i = 0; i < 4096; ++i) pixels.push_back(static_cast<char>((i * 37) % 251));
  const std::string content = idx_bytes(0x08, {16, 16, 16}, pixels);
  write_gzip(dir.file("good.gz"), content);
  const std::string gz = read_file(dir.file("good.gz"));
  const auto expect_bad = [&](const std::string& damaged, const std::string& what) {
    const std::string path = dir.file("bad.gz");
    write_file(path, damaged);
    EXPECT_ERROR(read_idx(path), (std::vector<std::string>{"read_idx", path, what}));
  };
  expect_bad(gz.substr(0, gz.size() / 2), "truncated");
  expect_bad(gz.substr(0, gz.size() - 4), "truncated");  // the data, but no complete trailer
  std::string flipped = gz;
  flipped[flipped.size() - 6] ^= 0x55;  // in the CRC-32 of the trailer
  expect_bad(flipped, "corrupt");
  std::string garbled = gz;
  for (size_t i = 20; i < 60; ++i) garbled[i] = static_cast<char>(0xFF);
  write_file(dir.file("garbled.gz"), garbled);
  EXPECT_THROW(read_idx(dir.file("garbled.gz")), Error);
}

// ---- Fashion-MNIST --------------------------------------------------------------

TEST(DataFashionMnist, LoadsAndScalesTheOfficialFileNames) {
  TempDir dir;
  std::string pixels(2 * 28 * 28, '\0');
  pixels[0] = static_cast<char>(255);
  pixels[28 * 28 + 1] = 51;
  write_file(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x08, {2, 28, 28}, pixels));
  write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_bytes(0x08, {2}, bytes({9, 2})));
  const FashionMnist test = load_fashion_mnist(dir.file(""), false);
  EXPECT_EQ(test.images.shape(), (Shape{2, 28, 28}));
  EXPECT_EQ(test.images.dtype(), kFloat32);
  EXPECT_EQ(test.images.select(0, 0).select(0, 0).select(0, 0).item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(test.images.select(0, 1).select(0, 0).select(0, 1).item<float>(), 0.2f);
  EXPECT_EQ(test.images.sum().item<float>(), 1.2f);
  expect_values(test.labels, {9, 2}, {2});
  EXPECT_EQ(fashion_mnist_classes().at(9), "Ankle boot");
  // The training split is not there.
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), true),
               (std::vector<std::string>{"train-images-idx3-ubyte", "get_fashion_mnist.sh"}));
  // Labels that do not match the images.
  write_file(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x08, {3}, bytes({1, 2, 3})));
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), false), "one per image");
  write_file(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x08, {2}, bytes({1, 10})));
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), false), "expected 0..9");
}

TEST(DataFashionMnist, DirFromTheEnvironment) {
  const char* old = std::getenv("TOADSTOOL_FASHION_MNIST");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("TOADSTOOL_FASHION_MNIST", "/some/where", 1);
  EXPECT_EQ(fashion_mnist_dir(), "/some/where");
  ::setenv("TOADSTOOL_FASHION_MNIST", "", 1);
  EXPECT_EQ(fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
  if (old != nullptr) {
    ::setenv("TOADSTOOL_FASHION_MNIST", saved.c_str(), 1);
  } else {
    ::unsetenv("TOADSTOOL_FASHION_MNIST");
  }
}

// The real test split: 10000 images, 1000 per class, first label 9 (ankle
// boot) and pixel sum 573469082 / 255 (numpy on the same files), up to the
// float32 rounding of each pixel / 255 (relative 6e-8: at most ~34 in total).
TEST(DataFashionMnist, RealTestSplit) {
  const std::string dir = fashion_mnist_dir();
  if (!std::ifstream(dir + "/t10k-labels-idx1-ubyte.gz") &&
      !std::ifstream(dir + "/t10k-labels-idx1-ubyte")) {
    GTEST_SKIP() << "no Fashion-MNIST in " << dir << " (scripts/get_fashion_mnist.sh installs it)";
  }
  const FashionMnist test = load_fashion_mnist(false);
  EXPECT_EQ(test.images.shape(), (Shape{10000, 28, 28}));
  EXPECT_EQ(test.labels.shape(), (Shape{10000}));
  EXPECT_EQ(test.labels.select(0, 0).item<int64_t>(), 9);
  EXPECT_GE(test.images.amin().item<float>(), 0.0f);
  EXPECT_LE(test.images.amax().item<float>(), 1.0f);
  EXPECT_NEAR(test.images.to(kFloat64).sum().item<double>() * 255.0, 573469082.0, 40.0);
  const Tensor counts =
      (test.labels.view({10000, 1}) == arange(10).view({1, 10})).to(kInt64).sum({0});
  expect_values(counts, std::vector<double>(10, 1000), {10});
}

}  // namespace
}  // namespace toadstool::train
