// The CUDA `reduce` entry (kernels/cuda/reduce.cu, the whole file: dtype
// dispatch, the choice of kernel, launch geometry, the two-stage merges
// through scratch) run on the CPU by the warp emulator
// (emulated_backend.h), against the CPU backend's on the same ReduceCall:
// every kind, each of the three kernels (tiles, with and without row
// chunks; threads; segments, one and several a output), several kept and
// reduced dims, strided inputs, ties and NaN. Max, min, the arg kinds and
// integer sums must match exactly; float sums and var accumulate in double
// on both, in other orders (tolerance 1e-6 relative for float32 results,
// 1e-12 for float64).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "compare.h"
#include "element_bytes.h"
#include "emulated_backend.h"
#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/kernel_args.h"

namespace toadstool::kernels::cuda {
namespace {

// A strided input: shape and element strides, and the dims to reduce.
struct Layout {
  std::vector<int64_t> shape, strides;
  std::vector<int> reduced;
  const char* path;  // the kernel reduce.cu picks, for the failure messages

  int64_t storage() const {  // elements spanned
    int64_t last = 0;
    for (size_t d = 0; d < shape.size(); ++d) last += (shape[d] - 1) * strides[d];
    return last + 1;
  }
  // As the front-end splits the dims (tensor/reduce_ops.cpp): kept and
  // reduced dims, each innermost first.
  ReduceGeometry geometry() const {
    ReduceGeometry g;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (std::find(reduced.begin(), reduced.end(), d) != reduced.end()) {
        g.reduced_sizes[g.reduced_ndim] = shape[d];
        g.reduced_strides[g.reduced_ndim++] = strides[d];
        g.reduce_numel *= shape[d];
      } else {
        g.kept_sizes[g.kept_ndim] = shape[d];
        g.kept_strides[g.kept_ndim++] = strides[d];
        g.outputs *= shape[d];
      }
    }
    return g;
  }
};

// The row-major strides of `shape`.
std::vector<int64_t> contiguous(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

Layout make(std::vector<int64_t> shape, std::vector<int> reduced, const char* path) {
  std::vector<int64_t> strides = contiguous(shape);
  return {std::move(shape), std::move(strides), std::move(reduced), path};
}

std::vector<Layout> layouts() {
  return {
      make({100, 40}, {0}, "tiles"),
      make({600, 40}, {0}, "tiles in two row chunks"),
      make({3, 600, 7}, {1}, "tiles over two kept dims, two chunks"),
      // [100, 40] read transposed: a [40, 100] view, reduced over its dim 1.
      {{40, 100}, {1, 40}, {1}, "tiles of a transposed view"},
      {{40, 100}, {1, 40}, {0}, "segments of a transposed view"},
      make({30, 20}, {1}, "threads"),
      make({4, 5, 6}, {0, 2}, "threads over two reduced dims"),
      make({10, 1000}, {1}, "segments"),
      make({8, 5, 12}, {0, 2}, "segments over two reduced dims"),
      make({37, 29}, {0, 1}, "segments, everything reduced"),
      make({2, 40000}, {1}, "two segments an output, merged"),
  };
}

// Element values of the given dtype: small integers (many ties), halves
// for the float types, or near 1 (products); optionally a NaN.
Bytes input_bytes(DType dtype, int64_t n, uint32_t seed, bool near_one, bool with_nan) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> small(-6, 6);
  const bool floating = dtype != DType::Int64 && dtype != DType::Bool;
  return make_elements(dtype, n, [&](int64_t i) {
    const int k = small(rng);
    if (!floating) return static_cast<double>(k);
    if (with_nan && i % 97 == 5) return std::numeric_limits<double>::quiet_NaN();
    return near_one ? 1.0 + k / 1024.0 : k / 2.0;
  });
}

// The result's dtype (ReduceKind's comments).
DType out_dtype(ReduceKind kind, DType in) {
  const bool sum_like = kind == ReduceKind::Sum || kind == ReduceKind::Prod;
  if (sum_like && (in == DType::Int64 || in == DType::Bool)) return DType::Int64;
  if (sum_like && (in == DType::BFloat16 || in == DType::Float16)) return DType::Float32;
  return in;
}

struct Case {
  ReduceKind kind;
  DType dtype;
  const char* name;
  bool near_one = false;
  bool with_nan = false;
  double scale = 1.0;
  double correction = 1.0;
  bool take_sqrt = false;
};

const Case kCases[] = {
    {ReduceKind::Sum, DType::Float32, "sum float32 (scale 0.5)", false, false, 0.5},
    {ReduceKind::Sum, DType::Float64, "sum float64"},
    {ReduceKind::Sum, DType::Int64, "sum int64"},
    {ReduceKind::Sum, DType::Bool, "sum bool"},
    {ReduceKind::Sum, DType::BFloat16, "sum bfloat16"},
    {ReduceKind::Prod, DType::Float32, "prod float32", true},
    {ReduceKind::Max, DType::Float32, "max float32 with NaN", false, true},
    {ReduceKind::Min, DType::Int64, "min int64"},
    {ReduceKind::Var, DType::Float32, "std float32", false, false, 1.0, 1.0, true},
    {ReduceKind::Var, DType::Float64, "var float64 (correction 0)", false, false, 1.0, 0.0},
    {ReduceKind::ArgMax, DType::Float32, "argmax float32"},
    {ReduceKind::ArgMax, DType::Float64, "argmax float64 with NaN", false, true},
    {ReduceKind::ArgMin, DType::Int64, "argmin int64"},
    {ReduceKind::SumSquares, DType::Float32, "sum of squares float32"},
};

struct Result {
  Bytes out;
  std::vector<int64_t> indices;
};

Result run(const Backend& backend, const Case& c, const ReduceGeometry& g, const Bytes& in) {
  Result r;
  // Poisoned (0xff bytes: NaN, or -1), so an output never written shows.
  r.out.assign(static_cast<size_t>(g.outputs) * element_size(out_dtype(c.kind, c.dtype)), 0xff);
  const bool arg = c.kind == ReduceKind::ArgMax || c.kind == ReduceKind::ArgMin;
  r.indices.assign(arg ? static_cast<size_t>(g.outputs) : 0, -1);
  ReduceCall call;
  call.kind = c.kind;
  call.dtype = c.dtype;
  call.geometry = g;
  call.in = in.data();
  call.out = r.out.data();
  call.indices = arg ? r.indices.data() : nullptr;
  call.scale = c.scale;
  call.correction = c.correction;
  call.take_sqrt = c.take_sqrt;
  backend.reduce(call);
  return r;
}

void check(const Case& c, const Layout& layout) {
  const std::string what = std::string(c.name) + ", " + layout.path;
  const ReduceGeometry g = layout.geometry();
  const auto in = input_bytes(c.dtype, layout.storage(), 21, c.near_one, c.with_nan);
  const Result want = run(cpu_backend(), c, g, in);
  const Result got = run(emulated_backend(), c, g, in);
  EXPECT_EQ(got.indices, want.indices) << what;
  const DType out = out_dtype(c.kind, c.dtype);
  const bool exact = out == DType::Int64 || c.kind == ReduceKind::Max ||
                     c.kind == ReduceKind::Min || c.kind == ReduceKind::ArgMax ||
                     c.kind == ReduceKind::ArgMin;
  if (exact) {
    EXPECT_EQ(got.out, want.out) << what;
    return;
  }
  const double tol = out == DType::Float32 ? 1e-6 : 1e-12;
  expect_close_values(to_doubles(out, got.out), to_doubles(out, want.out), tol, tol, what);
}

TEST(ReduceEmulated, EveryKindOnEachKernelMatchesTheCpu) {
  for (const Layout& layout : layouts()) {
    for (const Case& c : kCases) check(c, layout);
  }
}

}  // namespace
}  // namespace toadstool::kernels::cuda
