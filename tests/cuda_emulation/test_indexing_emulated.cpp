// The CUDA index kernels (kernels/cuda/indexing.cu, the whole file; CUB's
// sort by the shim's model of its contract) run on the CPU by the warp
// emulator (emulated_backend.h), against the CPU backend's entries on the
// same buffers. Every one of them copies or adds in the CPU's order, so the
// results must be the same bits: index_select, index_add (the column form
// and the sorted one of an embedding's backward, with duplicate rows),
// gather and scatter_add along each dim of a 3-d tensor, hashed_bigrams,
// im2col and col2im with padding, stride and dilation.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

// Multiples of 1/8 in [-8, 8]: every sum here is exact in any order, so any
// difference is an indexing error.
std::vector<double> values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> eighths(-64, 64);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = eighths(rng) / 8.0;
  return v;
}

std::vector<int64_t> indices(int64_t n, int64_t bound, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t& x : v) x = static_cast<int64_t>(rng() % static_cast<uint32_t>(bound));
  return v;
}

TEST(IndexingEmulated, IndexSelectAndIndexAddMatchTheCpu) {
  // [outer, in_dim, inner] -> [outer, n, inner]
  const int64_t outer = 3, in_dim = 11, n = 17, inner = 5;
  const std::vector<double> in = values(outer * in_dim * inner, 1);
  const std::vector<int64_t> index = indices(n, in_dim, 2);
  std::vector<double> cpu(outer * n * inner), gpu(cpu.size(), -1);
  cpu_backend().index_select(DType::Float64, in.data(), index.data(), cpu.data(), outer, in_dim, n,
                             inner);
  emulated_backend().index_select(DType::Float64, in.data(), index.data(), gpu.data(), outer,
                                  in_dim, n, inner);
  EXPECT_EQ(gpu, cpu) << "index_select";

  // index_add: the column form (n < 256), then the sorted one (an
  // embedding's backward: outer 1, few columns, n >= 256 with duplicates).
  struct Shape {
    int64_t outer, out_dim, n, inner;
    const char* form;
  };
  for (const Shape& s : {Shape{3, 11, 17, 5, "columns"}, Shape{1, 40, 700, 6, "sorted"}}) {
    const std::vector<double> src = values(s.outer * s.n * s.inner, 3);
    const std::vector<int64_t> rows = indices(s.n, s.out_dim, 4);
    const std::vector<double> out = values(s.outer * s.out_dim * s.inner, 5);
    std::vector<double> out_cpu = out, out_gpu = out;
    const KernelScalar alpha{.f = -0.5};
    cpu_backend().index_add(DType::Float64, out_cpu.data(), rows.data(), src.data(), alpha, s.outer,
                            s.out_dim, s.n, s.inner);
    emulated_backend().index_add(DType::Float64, out_gpu.data(), rows.data(), src.data(), alpha,
                                 s.outer, s.out_dim, s.n, s.inner);
    EXPECT_EQ(out_gpu, out_cpu) << "index_add, " << s.form;
  }
}

// The geometry of gather / scatter_add over contiguous [4, 5, 6] tensors
// along `dim`, the index [4, 5, 6] with values in [0, size of self's dim).
IndexGeometry geometry(int dim) {
  IndexGeometry g;
  g.ndim = 3;
  g.dim = dim;
  const int64_t sizes[] = {4, 5, 6}, strides[] = {30, 6, 1};
  for (int d = 0; d < 3; ++d) {
    g.sizes[d] = sizes[d];
    g.index_strides[d] = g.self_strides[d] = g.other_strides[d] = strides[d];
  }
  return g;
}

TEST(IndexingEmulated, GatherAndScatterAddMatchTheCpu) {
  const int64_t numel = 4 * 5 * 6;
  const int64_t sizes[] = {4, 5, 6};
  for (int dim = 0; dim < 3; ++dim) {
    const IndexGeometry g = geometry(dim);
    const std::vector<int64_t> index = indices(numel, sizes[dim], 6 + dim);
    const std::vector<double> self = values(numel, 7);
    std::vector<double> cpu(numel), gpu(numel, -1);
    cpu_backend().gather(DType::Float64, g, self.data(), index.data(), cpu.data(), numel);
    emulated_backend().gather(DType::Float64, g, self.data(), index.data(), gpu.data(), numel);
    EXPECT_EQ(gpu, cpu) << "gather along dim " << dim;

    const std::vector<double> src = values(numel, 8);
    std::vector<double> self_cpu = self, self_gpu = self;
    cpu_backend().scatter_add(DType::Float64, g, self_cpu.data(), index.data(), src.data(), numel);
    emulated_backend().scatter_add(DType::Float64, g, self_gpu.data(), index.data(), src.data(),
                                   numel);
    EXPECT_EQ(self_gpu, self_cpu) << "scatter_add along dim " << dim;
  }
}

TEST(IndexingEmulated, HashedBigramsMatchTheCpu) {
  const int64_t rows = 3, cols = 41, padding = 0;
  std::vector<int64_t> ids = indices(rows * cols, 1000, 9);
  ids[5] = padding;  // a padded token: bucket 0, and the next pairs with padding
  ids[cols] = padding;
  std::vector<int64_t> cpu(ids.size()), gpu(ids.size(), -1);
  cpu_backend().hashed_bigrams(ids.data(), cpu.data(), rows, cols, 5003, padding);
  emulated_backend().hashed_bigrams(ids.data(), gpu.data(), rows, cols, 5003, padding);
  EXPECT_EQ(gpu, cpu);
}

TEST(IndexingEmulated, Im2colAndCol2imMatchTheCpu) {
  ConvWindows w;
  w.batch = 2;
  w.channels = 3;
  w.in = {7, 9};
  w.kernel = {3, 2};
  w.stride = {2, 1};
  w.pad_begin = {1, 0};
  w.dilation = {1, 2};
  // out = (in + 2 pad - dilation (kernel - 1) - 1) / stride + 1, padding 1
  // on both sides of dim 0, none of dim 1.
  w.out = {(7 + 2 - 2 - 1) / 2 + 1, (9 - 2 - 1) / 1 + 1};
  const int64_t input_numel = w.batch * w.channels * w.in[0] * w.in[1];
  const int64_t columns_numel =
      w.batch * w.channels * w.kernel[0] * w.kernel[1] * w.out[0] * w.out[1];
  const std::vector<double> input = values(input_numel, 10);
  std::vector<double> cpu(columns_numel), gpu(columns_numel, -1);
  cpu_backend().im2col(DType::Float64, w, input.data(), cpu.data());
  emulated_backend().im2col(DType::Float64, w, input.data(), gpu.data());
  EXPECT_EQ(gpu, cpu) << "im2col";

  const std::vector<double> columns = values(columns_numel, 11);
  std::vector<double> back_cpu(input_numel), back_gpu(input_numel, -1);
  cpu_backend().col2im(DType::Float64, w, columns.data(), back_cpu.data());
  emulated_backend().col2im(DType::Float64, w, columns.data(), back_gpu.data());
  EXPECT_EQ(back_gpu, back_cpu) << "col2im";
}

}  // namespace
}  // namespace toadstool::kernels::cuda
