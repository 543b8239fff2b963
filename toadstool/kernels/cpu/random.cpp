#include "toadstool/kernels/cpu/random.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

namespace {

// A Philox block costs ~10x a simple element op, so fewer blocks than
// kDefaultGrain elements already pay for a thread.
constexpr int64_t kBlockGrain = 2048;

// Calls fn(bits, first, count) for every counter block of a fill of n values
// of kKind: bits is block `offset + b`, first the index of its first value,
// count (<= values_per_block) how many of its values fall inside the fill.
// Chunks are whole blocks, so the split never changes what an element gets.
// The words are made kWordBlocks blocks at a time by philox_words (SIMD).
constexpr int64_t kWordBlocks = 64;
template <RandomKind kKind, class Fn>
void for_each_block(int64_t n, uint64_t seed, uint64_t offset, const Fn& fn) {
  constexpr int64_t k = values_per_block(kKind);
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, kKind));
  parallel_for(0, blocks, kBlockGrain, [&](int64_t begin, int64_t end) {
    uint32_t words[4 * kWordBlocks];
    for (int64_t b0 = begin; b0 < end; b0 += kWordBlocks) {
      const int64_t count_blocks = std::min(kWordBlocks, end - b0);
      philox_words(offset + static_cast<uint64_t>(b0), count_blocks, seed, words);
      for (int64_t i = 0; i < count_blocks; ++i) {
        const int64_t first = (b0 + i) * k;
        const int count = static_cast<int>(std::min(k, n - first));
        const uint32_t* w = words + 4 * i;
        fn(Philox4x32{{w[0], w[1], w[2], w[3]}}, first, count);
      }
    }
  });
}

// The common case: values(bits) turns one block into the BlockValues of its
// values_per_block outputs (kernels/random_values.h), stored in order.
template <RandomKind kKind, class T, class ValuesOf>
void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t offset, const ValuesOf& values) {
  for_each_block<kKind>(n, seed, offset, [&](const Philox4x32& bits, int64_t first, int count) {
    constexpr int k = values_per_block(kKind);
    const BlockValues<T, k> v = values(bits);
    if (count == k) {  // a constant trip count: plain stores, not a memcpy call
      for (int j = 0; j < k; ++j) out[first + j] = v.value[j];
    } else {
      for (int j = 0; j < count; ++j) out[first + j] = v.value[j];
    }
  });
}

template <class T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, T low, T high) {
  if constexpr (std::is_same_v<T, float>) {
    fill_blocks<RandomKind::UniformFloat>(
        out, n, seed, offset, [=](const Philox4x32& b) { return uniform_values(b, low, high); });
  } else {
    fill_blocks<RandomKind::UniformDouble>(
        out, n, seed, offset, [=](const Philox4x32& b) { return uniform_values(b, low, high); });
  }
}

template <class T>
void bernoulli(T* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  const uint64_t threshold = bernoulli_threshold(p);
  fill_blocks<RandomKind::Bernoulli>(
      out, n, seed, offset, [=](const Philox4x32& b) { return bernoulli_values<T>(b, threshold); });
}

template <class T>
void bernoulli(T* out, const T* probs, int64_t n, uint64_t seed, uint64_t offset) {
  for_each_block<RandomKind::Bernoulli>(
      n, seed, offset, [=](const Philox4x32& b, int64_t first, int count) {
        for (int j = 0; j < count; ++j) {
          const auto p = static_cast<double>(probs[first + j]);
          out[first + j] = bernoulli_value<T>(b.v[j], bernoulli_threshold(p));
        }
      });
}

}  // namespace

void philox_words(uint64_t first_block, int64_t n, uint64_t seed, uint32_t* words) {
#pragma omp simd
  for (int64_t b = 0; b < n; ++b) {
    const Philox4x32 r = philox4x32_10(first_block + static_cast<uint64_t>(b), 0, seed);
    words[4 * b] = r.v[0];
    words[4 * b + 1] = r.v[1];
    words[4 * b + 2] = r.v[2];
    words[4 * b + 3] = r.v[3];
  }
}

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  uniform(out, n, seed, offset, low, high);
}
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t offset, double low, double high) {
  uniform(out, n, seed, offset, low, high);
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  fill_blocks<RandomKind::NormalFloat>(
      out, n, seed, offset, [=](const Philox4x32& b) { return normal_values(b, mean, std); });
}
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  fill_blocks<RandomKind::NormalDouble>(
      out, n, seed, offset, [=](const Philox4x32& b) { return normal_values(b, mean, std); });
}

void fill_randint(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                  int64_t high) {
  // Unsigned arithmetic: high - low can exceed INT64_MAX, and wraps back
  // into range when added to low.
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  fill_blocks<RandomKind::Int64>(out, n, seed, offset,
                                 [=](const Philox4x32& b) { return randint_values(b, low, span); });
}

void fill_randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset) {
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  // Draws come kWordBlocks blocks (2 draws each) at a time.
  uint32_t words[4 * kWordBlocks];
  const int64_t draws = n > 1 ? n - 1 : 0;
  for (int64_t t0 = 0; t0 < draws; t0 += 2 * kWordBlocks) {
    const int64_t count = std::min(2 * kWordBlocks, draws - t0);
    philox_words(offset + static_cast<uint64_t>(t0 / 2), (count + 1) / 2, seed, words);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t i = n - 1 - (t0 + k);
      const auto j = static_cast<int64_t>(
          random_below(words[2 * k], words[2 * k + 1], static_cast<uint64_t>(i + 1)));
      std::swap(out[i], out[j]);
    }
  }
}

void fill_bernoulli(bool* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(Half* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(BFloat16* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(float* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(double* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}

void fill_bernoulli(Half* out, const Half* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(BFloat16* out, const BFloat16* probs, int64_t n, uint64_t seed,
                    uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(float* out, const float* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(double* out, const double* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}

}  // namespace toadstool::kernels::cpu
