// CUDA index kernels against the CPU's: index_select / embedding, index_add
// (both of its kernels: one thread per column, and the sorted segments for
// few columns and many indices), gather, scatter_add, hashed_bigrams and the
// convolution windows (im2col, col2im).
// The accumulating ops add duplicates in index order on both backends, so
// with exact products (alpha 1 or 0.5) their float results are identical,
// not merely close.
#include <string>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::expect_identical;
using testing::expect_matches_cpu;
using testing::expect_parity;
using testing::kAllDtypes;
using testing::kCompute;
using testing::kCuda;
using testing::Tolerance;

Tensor values_of(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  if (dtype == kBool) return randint(0, 2, shape, kInt64, &gen) > 0;
  if (dtype == kInt64) return randint(-100, 100, shape, kInt64, &gen);
  return randn(shape, kFloat64, &gen).to(dtype);
}

Tensor indices(int64_t n, int64_t high, uint64_t seed) {
  Generator gen(seed);
  return randint(0, high, {n}, kInt64, &gen);
}

TEST(CudaIndexing, IndexSelectMatchesTheCpuOnEveryDim) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : kAllDtypes) {
    const Tensor x = values_of({4, 5, 6}, dtype, 1);
    for (int64_t dim = 0; dim < 3; ++dim) {
      // Repeats and every position: duplicates read the same row.
      const Tensor index = indices(9, x.shape()[dim], 10 + dim);
      expect_identical(
          x.to(kCuda).index_select(dim, index.to(kCuda)), x.index_select(dim, index),
          std::string("index_select ") + dtype_name(dtype) + " dim " + std::to_string(dim));
    }
    // A 0-d index and a strided input.
    expect_parity(
        {x, from_vector<int64_t>({3}).view({})},
        [](const std::vector<Tensor>& in) { return in[0].transpose(0, 2).index_select(1, in[1]); },
        std::string("index_select transposed ") + dtype_name(dtype));
    // index_select_or_zeros: the dim's size selects zeros.
    const Tensor with_size = from_vector<int64_t>({5, 0, 5, 4});
    expect_identical(native::index_select_or_zeros(x.to(kCuda), 1, with_size.to(kCuda)),
                     native::index_select_or_zeros(x, 1, with_size),
                     std::string("index_select_or_zeros ") + dtype_name(dtype));
  }
}

TEST(CudaIndexing, EmbeddingMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const Tensor weight = values_of({50, 16}, kFloat32, 2);
  Generator gen(3);
  const Tensor ids = randint(0, 50, {4, 33}, kInt64, &gen);
  expect_parity(
      {weight, ids}, [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); },
      "embedding");
}

// Both index_add kernels, with many duplicate indices. Shapes are
// [outer, dim, inner]; the sorted kernel runs for outer * inner < 65536
// columns with at least 256 indices.
TEST(CudaIndexing, IndexAddAccumulatesDuplicatesInOrder) {
  SKIP_WITHOUT_GPU();
  struct Case {
    std::string name;
    Shape shape;
    int64_t dim, n;
  };
  const std::vector<Case> cases = {
      {"columns, few indices", {4, 10, 30}, 1, 20},
      {"columns, dim 0", {10, 7}, 0, 40},
      {"sorted, embedding backward", {50, 16}, 0, 1000},
      {"sorted, middle dim", {3, 40, 5}, 1, 300},
      {"sorted, last dim", {6, 20}, 1, 500},
      {"sorted, one destination row", {1, 8}, 0, 700},
  };
  uint64_t seed = 20;
  for (const Case& c : cases) {
    for (DType dtype : kCompute) {
      const Tensor t = values_of(c.shape, dtype, seed++);
      Shape source_shape = c.shape;
      source_shape[c.dim] = c.n;
      const Tensor source = values_of(source_shape, dtype, seed++);
      const Tensor index = indices(c.n, c.shape[c.dim], seed++);
      const std::string name = c.name + " " + dtype_name(dtype);
      // alpha 1 and 0.5 multiply exactly: the sums are the same bits.
      expect_identical(index_add(t.to(kCuda), c.dim, index.to(kCuda), source.to(kCuda)),
                       index_add(t, c.dim, index, source), name);
      if (is_floating(dtype)) {
        expect_identical(index_add(t.to(kCuda), c.dim, index.to(kCuda), source.to(kCuda), 0.5),
                         index_add(t, c.dim, index, source, 0.5), name + " alpha 0.5");
        // alpha 0.3 rounds its products, and nvcc fuses them into the sums
        // (fma): up to hundreds of duplicates, whose sum may cancel, differ
        // by rounding errors of the partial sums, not of the result.
        const Tolerance tol = dtype == kFloat32 ? Tolerance{1e-5, 1e-4} : Tolerance{1e-10, 1e-10};
        expect_matches_cpu(index_add(t.to(kCuda), c.dim, index.to(kCuda), source.to(kCuda), 0.3),
                           index_add(t, c.dim, index, source, 0.3), name + " alpha 0.3", tol);
      } else if (dtype == kInt64) {
        expect_identical(index_add(t.to(kCuda), c.dim, index.to(kCuda), source.to(kCuda), 3),
                         index_add(t, c.dim, index, source, 3), name + " alpha 3");
      }
    }
  }
}

// The same call twice gives the same bits (no atomics).
TEST(CudaIndexing, IndexAddIsDeterministic) {
  SKIP_WITHOUT_GPU();
  const Tensor t = zeros({64, 32}, TensorOptions(kFloat32).device(kCuda));
  const Tensor source = values_of({5000, 32}, kFloat32, 5).to(kCuda);
  const Tensor index = indices(5000, 64, 6).to(kCuda);
  const Tensor first = index_add(t, 0, index, source, 0.1).to(kCPU);
  const Tensor second = index_add(t, 0, index, source, 0.1).to(kCPU);
  EXPECT_EQ(testing::values(first), testing::values(second));
}

TEST(CudaIndexing, GatherMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : kAllDtypes) {
    const Tensor x = values_of({4, 6}, dtype, 30);
    Generator gen(31);
    const Tensor rows = randint(0, 4, {3, 6}, kInt64, &gen);
    const Tensor cols = randint(0, 6, {4, 9}, kInt64, &gen);
    const std::string name = dtype_name(dtype);
    expect_parity(
        {x, rows}, [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); },
        "gather dim 0 " + name);
    expect_parity(
        {x, cols}, [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); },
        "gather dim 1 " + name);
    // Strided self and index.
    const Tensor index_t = randint(0, 6, {2, 4}, kInt64, &gen);
    expect_parity(
        {x, index_t}, [](const std::vector<Tensor>& in) { return gather(in[0].t(), 0, in[1].t()); },
        "gather transposed " + name);
  }
}

TEST(CudaIndexing, ScatterAddAccumulatesDuplicatesInOrder) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kInt64, kFloat32, kFloat64}) {
    const Tensor t = values_of({5, 6}, dtype, 40);
    const Tensor src = values_of({12, 9}, dtype, 41);
    Generator gen(42);
    const Tensor rows = randint(0, 5, {12, 6}, kInt64, &gen);  // every row hit ~2.4 times
    const Tensor cols = randint(0, 6, {5, 9}, kInt64, &gen);
    const std::string name = dtype_name(dtype);
    expect_identical(scatter_add(t.to(kCuda), 0, rows.to(kCuda), src.to(kCuda)),
                     scatter_add(t, 0, rows, src), "scatter_add dim 0 " + name);
    expect_identical(scatter_add(t.to(kCuda), 1, cols.to(kCuda), src.to(kCuda)),
                     scatter_add(t, 1, cols, src), "scatter_add dim 1 " + name);
    // Strided src and index.
    expect_parity(
        {t, src, cols},
        [](const std::vector<Tensor>& in) {
          return scatter_add(in[0].t(), 0, in[2].narrow(1, 0, 5).t(), in[1].narrow(1, 0, 5).t());
        },
        "scatter_add transposed " + name);
  }
}

TEST(CudaIndexing, HashedBigramsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  Generator gen(50);
  // Token 0 is padding: about one in five.
  const Tensor ids = randint(0, 5, {4, 33}, kInt64, &gen) * randint(1, 1000, {4, 33}, kInt64, &gen);
  for (int64_t buckets : {2, 97, 100000}) {
    expect_identical(hashed_bigrams(ids.to(kCuda), buckets), hashed_bigrams(ids, buckets),
                     "buckets " + std::to_string(buckets));
  }
  expect_identical(hashed_bigrams(ids.to(kCuda), 64, 7), hashed_bigrams(ids, 64, 7),
                   "padding_idx 7");
}

// The convolution windows: im2col copies, and col2im sums each input
// element's taps in the CPU's order, so both are identical, not close.
TEST(CudaIndexing, Im2colAndCol2imMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const ConvWindowOptions windows = {.kernel_size = {3, 2},
                                     .stride = {2, 1},
                                     .padding = {1, 0},
                                     .padding_end = {2, 1},
                                     .dilation = {1, 2}};
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor x = values_of({2, 3, 7, 6}, dtype, 60);
    const Tensor cols = native::im2col(x, windows);
    expect_identical(native::im2col(x.to(kCuda), windows), cols, "im2col");
    expect_identical(native::col2im(cols.to(kCuda), {7, 6}, windows),
                     native::col2im(cols, {7, 6}, windows), "col2im");
  }
}

// The stride-1 convolution entries (columns and cuBLAS on the GPU, grids
// on the CPU): output and every gradient close to the CPU's, with groups,
// dilation, uneven padding and a chunk of several images.
TEST(CudaIndexing, ConvKernelsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const ConvWindowOptions windows = {
      .kernel_size = {3, 2}, .padding = {1, 0}, .padding_end = {2, 1}, .dilation = {1, 2}};
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor x = values_of({3, 4, 7, 6}, dtype, 60);
    const Tensor w = values_of({6, 2, 3, 2}, dtype, 61);
    const Tensor b = values_of({6}, dtype, 62);
    const Tensor out = native::conv_forward(x, w, b, windows, 2);
    const Tolerance tol{1e-4, 1e-5};
    expect_matches_cpu(native::conv_forward(x.to(kCuda), w.to(kCuda), b.to(kCuda), windows, 2), out,
                       "conv_forward", tol);
    const Tensor g = values_of(out.shape(), dtype, 63);
    const native::ConvGrads cpu = native::conv_backward(g, x, w, windows, 2, true, true, true);
    const native::ConvGrads gpu =
        native::conv_backward(g.to(kCuda), x.to(kCuda), w.to(kCuda), windows, 2, true, true, true);
    expect_matches_cpu(gpu.input, cpu.input, "grad input", tol);
    expect_matches_cpu(gpu.weight, cpu.weight, "grad weight", tol);
    expect_matches_cpu(gpu.bias, cpu.bias, "grad bias", tol);
  }
}

}  // namespace
}  // namespace toadstool
