#pragma once
// The values one Philox counter block gives each kind of random fill, written
// once for both backends (the CPU's kernels/cpu/random.cpp and the CUDA
// kernels/cuda/random.cu), so that the same (seed, offset) fills a buffer
// with the same numbers on either. The block map (which block and lanes
// element i uses) is kernels/philox.h's table: block b of a fill holds
// elements [b k, b k + k) for k = values_per_block(kind), in the order of
// BlockValues::value.
#include <cmath>
#include <cstdint>

#include "toadstool/kernels/host_device.h"
#include "toadstool/kernels/philox.h"

namespace toadstool::kernels {

// The k values of one block, first element first.
template <class T, int K>
struct BlockValues {
  T value[K];
};

// Uniform in [low, high): RandomKind::UniformFloat (one lane each) and
// UniformDouble (two lanes each).
TS_HOST_DEVICE BlockValues<float, 4> uniform_values(const Philox4x32& b, float low, float high) {
  BlockValues<float, 4> v;
  for (int j = 0; j < 4; ++j) v.value[j] = scale_uniform(uniform_float(b.v[j]), low, high);
  return v;
}
TS_HOST_DEVICE BlockValues<double, 2> uniform_values(const Philox4x32& b, double low, double high) {
  return {{scale_uniform(uniform_double(b.v[0], b.v[1]), low, high),
           scale_uniform(uniform_double(b.v[2], b.v[3]), low, high)}};
}

// mean + std * z for standard normals z (Box-Muller, both outputs used):
// RandomKind::NormalFloat (a pair per two lanes) and NormalDouble (a pair
// per block).
TS_HOST_DEVICE BlockValues<float, 4> normal_values(const Philox4x32& b, float mean, float std) {
  const NormalPairF z01 = box_muller(b.v[0], b.v[1]);
  const NormalPairF z23 = box_muller(b.v[2], b.v[3]);
  return {{std::fma(z01.cos_part, std, mean), std::fma(z01.sin_part, std, mean),
           std::fma(z23.cos_part, std, mean), std::fma(z23.sin_part, std, mean)}};
}
TS_HOST_DEVICE BlockValues<double, 2> normal_values(const Philox4x32& b, double mean, double std) {
  const NormalPairD z = box_muller(b);
  return {{std::fma(z.cos_part, std, mean), std::fma(z.sin_part, std, mean)}};
}

// Integers low + [0, span): RandomKind::Int64, two lanes each. span is
// high - low in unsigned arithmetic (it can exceed INT64_MAX), and the sum
// wraps back into [low, high).
TS_HOST_DEVICE int64_t randint_value(uint32_t lo, uint32_t hi, int64_t low, uint64_t span) {
  return static_cast<int64_t>(static_cast<uint64_t>(low) + random_below(lo, hi, span));
}
TS_HOST_DEVICE BlockValues<int64_t, 2> randint_values(const Philox4x32& b, int64_t low,
                                                      uint64_t span) {
  return {{randint_value(b.v[0], b.v[1], low, span), randint_value(b.v[2], b.v[3], low, span)}};
}

// One Bernoulli draw in T (1 or 0) from lane `word`, for the threshold of
// its probability (bernoulli_threshold): RandomKind::Bernoulli.
template <class T>
TS_HOST_DEVICE T bernoulli_value(uint32_t word, uint64_t threshold) {
  return static_cast<T>(word < threshold ? 1.0f : 0.0f);
}
// Dropout of one element: in * keep_scale when its 16-bit `draw`
// (dropout_draw) is below `threshold` (dropout_threshold of the keep
// probability), else in * 0. The multiplication by 0 (not a select) keeps
// in * mask's NaN for an infinite or NaN input, as a mask tensor would.
// RandomKind::DropoutKeep.
template <class T>
TS_HOST_DEVICE T dropout_value(T in, uint32_t draw, uint32_t threshold, T keep_scale) {
  // 16-bit values are multiplied in float and rounded once, as MulOp does.
  using Compute = decltype(static_cast<float>(in) * keep_scale);
  const Compute scale = draw < threshold ? static_cast<Compute>(keep_scale) : Compute(0);
  return static_cast<T>(static_cast<Compute>(in) * scale);
}
// The four draws of one block for one probability.
template <class T>
TS_HOST_DEVICE BlockValues<T, 4> bernoulli_values(const Philox4x32& b, uint64_t threshold) {
  BlockValues<T, 4> v;
  for (int j = 0; j < 4; ++j) v.value[j] = bernoulli_value<T>(b.v[j], threshold);
  return v;
}

}  // namespace toadstool::kernels
