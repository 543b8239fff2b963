// The CUDA random fills: the Philox block map of kernels/philox.h with the
// per-block values of kernels/random_values.h, the functions the CPU's
// kernels/cpu/random.cpp uses, so a fill with the same (seed, offset) gives
// the same numbers on both backends: bit for bit for uniform, randint,
// Bernoulli and randperm; the normals go through log, sin and cos, whose
// last bit may differ between libm and the CUDA math library (philox.h).
//
// One thread per counter block b in [0, philox_blocks_used(n, kind)): it
// computes block offset + b and writes elements [b k, b k + k) of the fill
// (k = values_per_block(kind)), fewer in the last block.
#include <cstdint>
#include <type_traits>
#include <vector>

#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cuda {

namespace {

// values(bits) gives the BlockValues<T, k> of one block.
template <int kPerBlock, class T, class ValuesOf>
__global__ void fill_blocks_kernel(T* out, int64_t n, int64_t blocks, uint64_t seed,
                                   uint64_t offset, ValuesOf values) {
  for (int64_t b = first_index(); b < blocks; b += index_step()) {
    const Philox4x32 bits = philox4x32_10(offset + static_cast<uint64_t>(b), 0, seed);
    const BlockValues<T, kPerBlock> v = values(bits);
    const int64_t first = b * kPerBlock;
    for (int j = 0; j < kPerBlock && first + j < n; ++j) out[first + j] = v.value[j];
  }
}

template <RandomKind kKind, class T, class ValuesOf>
void fill_blocks(const char* kernel, T* out, int64_t n, uint64_t seed, uint64_t offset,
                 const ValuesOf& values) {
  if (n <= 0) return;
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, kKind));
  launch_kernel(kernel, fill_blocks_kernel<values_per_block(kKind), T, ValuesOf>,
                blocks_for(blocks), kThreads, 0, out, n, blocks, seed, offset, values);
}

// The functors of one block's values (device lambdas would need
// --extended-lambda; these are plain structs over random_values.h).
template <class T>
struct Uniform {
  T low, high;
  __device__ auto operator()(const Philox4x32& b) const { return uniform_values(b, low, high); }
};
template <class T>
struct Normal {
  T mean, std;
  __device__ auto operator()(const Philox4x32& b) const { return normal_values(b, mean, std); }
};
struct Randint {
  int64_t low;
  uint64_t span;
  __device__ BlockValues<int64_t, 2> operator()(const Philox4x32& b) const {
    return randint_values(b, low, span);
  }
};
template <class T>
struct Bernoulli {
  uint64_t threshold;
  __device__ BlockValues<T, 4> operator()(const Philox4x32& b) const {
    return bernoulli_values<T>(b, threshold);
  }
};

// RandomKind::UniformFloat for float, UniformDouble for double.
template <class T>
constexpr RandomKind uniform_kind() {
  return std::is_same_v<T, float> ? RandomKind::UniformFloat : RandomKind::UniformDouble;
}
template <class T>
constexpr RandomKind normal_kind() {
  return std::is_same_v<T, float> ? RandomKind::NormalFloat : RandomKind::NormalDouble;
}

void fill_uniform(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double low,
                  double high) {
  for_dtype<TypeSet::Float>(dtype, "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    fill_blocks<uniform_kind<T>()>("fill_uniform", typed<T>(out), n, seed, offset,
                                   Uniform<T>{T(low), T(high)});
  });
}

void fill_normal(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                 double std) {
  for_dtype<TypeSet::Float>(dtype, "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    fill_blocks<normal_kind<T>()>("fill_normal", typed<T>(out), n, seed, offset,
                                  Normal<T>{T(mean), T(std)});
  });
}

void fill_randint(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                  int64_t high) {
  // Unsigned: high - low can exceed INT64_MAX (kernels/random_values.h).
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  fill_blocks<RandomKind::Int64>("fill_randint", out, n, seed, offset, Randint{low, span});
}

void fill_bernoulli(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  for_dtype<TypeSet::All>(dtype, "fill_bernoulli", [&](auto zero) {
    using T = decltype(zero);
    fill_blocks<RandomKind::Bernoulli>("fill_bernoulli", typed<T>(out), n, seed, offset,
                                       Bernoulli<T>{bernoulli_threshold(p)});
  });
}

// Element i is 1 with probability probs[i], drawn from lane i % 4 of block
// offset + i / 4; out may be probs (each element is read, then written, by
// the same thread).
template <class T>
__global__ void bernoulli_tensor_kernel(T* out, const T* probs, int64_t n, int64_t blocks,
                                        uint64_t seed, uint64_t offset) {
  for (int64_t b = first_index(); b < blocks; b += index_step()) {
    const Philox4x32 bits = philox4x32_10(offset + static_cast<uint64_t>(b), 0, seed);
    const int64_t first = b * 4;
    for (int j = 0; j < 4 && first + j < n; ++j) {
      const auto p = static_cast<double>(probs[first + j]);
      out[first + j] = bernoulli_value<T>(bits.v[j], bernoulli_threshold(p));
    }
  }
}

void fill_bernoulli_tensor(DType dtype, void* out, const void* probs, int64_t n, uint64_t seed,
                           uint64_t offset) {
  if (n <= 0) return;
  // The float dtypes only, as the CPU's entry (probabilities are floats).
  for_dtype<TypeSet::Floating>(dtype, "fill_bernoulli_tensor", [&](auto zero) {
    using T = decltype(zero);
    const auto blocks = static_cast<int64_t>(philox_blocks_used(n, RandomKind::Bernoulli));
    launch_kernel("fill_bernoulli_tensor", bernoulli_tensor_kernel<T>, blocks_for(blocks), kThreads,
                  0, typed<T>(out), typed<T>(probs), n, blocks, seed, offset);
  });
}

// Dropout (DropoutMask): a thread per counter block, its eight elements
// (RandomKind::DropoutKeep: element i takes draw i % 8 of block i / 8).
template <class T>
__global__ void dropout_kernel(T* out, const T* in, const T* residual, int64_t n, int64_t blocks,
                               DropoutMask mask, uint32_t threshold, T keep_scale) {
  constexpr int kDraws = values_per_block(RandomKind::DropoutKeep);
  for (int64_t b = first_index(); b < blocks; b += index_step()) {
    const Philox4x32 bits = philox4x32_10(mask.offset + static_cast<uint64_t>(b), 0, mask.seed);
    const int64_t first = b * kDraws;
    for (int j = 0; j < kDraws && first + j < n; ++j) {
      const T dropped = dropout_value(in[first + j], dropout_draw(bits, j), threshold, keep_scale);
      out[first + j] =
          residual != nullptr ? static_cast<T>(residual[first + j] + dropped) : dropped;
    }
  }
}

void dropout(DType dtype, void* out, const void* in, const void* residual, int64_t n,
             const DropoutMask& mask) {
  if (n <= 0) return;
  for_dtype<TypeSet::Floating>(dtype, "dropout", [&](auto zero) {
    using T = decltype(zero);
    const auto blocks = static_cast<int64_t>(philox_blocks_used(n, RandomKind::DropoutKeep));
    launch_kernel("dropout", dropout_kernel<T>, blocks_for(blocks), kThreads, 0, typed<T>(out),
                  typed<T>(in), typed<T>(residual), n, blocks, mask,
                  dropout_threshold(1.0 - mask.p), static_cast<T>(1.0 / (1.0 - mask.p)));
  });
}

// randperm is a sequential Fisher-Yates (each swap depends on the previous
// ones), so it runs as the CPU's own algorithm on the host, bit-identical by
// construction, and the permutation is copied to the device. The copy is
// synchronous: the host buffer must outlive it. (The front-end draws randperm
// on the CPU today; this entry serves a device-side caller.)
void fill_randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset) {
  if (n <= 0) return;
  std::vector<int64_t> host(static_cast<size_t>(n));
  cpu::fill_randperm(host.data(), n, seed, offset);
  check(cudaMemcpyAsync(out, host.data(), host.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                        current_stream()),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(current_stream()), "cudaStreamSynchronize");
}

}  // namespace

void register_random(Backend& b) {
  b.fill_uniform = fill_uniform;
  b.fill_normal = fill_normal;
  b.fill_randint = fill_randint;
  b.fill_bernoulli = fill_bernoulli;
  b.fill_bernoulli_tensor = fill_bernoulli_tensor;
  b.fill_randperm = fill_randperm;
  b.dropout = dropout;
}

}  // namespace toadstool::kernels::cuda
