#include "toadstool/kernels/cpu/dropout.h"

#include <algorithm>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

// Element i takes draw i % 8 of block offset + i / 8 (RandomKind::
// DropoutKeep), so the draws of consecutive blocks, made
// kPhiloxChunkBlocks at a time by philox_words, line up with consecutive
// elements.

template <class T>
void dropout_span(T* out, const T* in, const T* residual, int64_t first, int64_t n,
                  const DropoutMask& mask) {
  if (n <= 0) return;
  constexpr int64_t kDraws = values_per_block(RandomKind::DropoutKeep);
  const uint32_t threshold = dropout_threshold(1.0 - mask.p);
  const auto keep_scale = static_cast<T>(1.0 / (1.0 - mask.p));
  uint32_t words[4 * kPhiloxChunkBlocks];
  auto* draws = reinterpret_cast<DropoutDraws*>(words);
  // Blocks first / 8 .. (first + n - 1) / 8, kPhiloxChunkBlocks at a time;
  // element g of the whole tensor is draw g - 8 * b0 of a chunk from block b0.
  const int64_t last_block = (first + n - 1) / kDraws;
  for (int64_t b0 = first / kDraws; b0 <= last_block; b0 += kPhiloxChunkBlocks) {
    const int64_t count = std::min(kPhiloxChunkBlocks, last_block + 1 - b0);
    philox_words(mask.offset + static_cast<uint64_t>(b0), count, mask.seed, words);
    const int64_t from = std::max(first, kDraws * b0);
    const int64_t to = std::min(first + n, kDraws * (b0 + count));
    DropoutDraws* d = draws + (from - kDraws * b0);
    T* o = out + (from - first);
    const T* x = in + (from - first);
    const int64_t len = to - from;
    if (residual != nullptr) {
      const T* r = residual + (from - first);
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) {
        o[e] = static_cast<T>(r[e] + dropout_value(x[e], d[e], threshold, keep_scale));
      }
    } else {
#pragma omp simd
      for (int64_t e = 0; e < len; ++e) o[e] = dropout_value(x[e], d[e], threshold, keep_scale);
    }
  }
}

template void dropout_span(Half*, const Half*, const Half*, int64_t, int64_t, const DropoutMask&);
template void dropout_span(BFloat16*, const BFloat16*, const BFloat16*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(float*, const float*, const float*, int64_t, int64_t,
                           const DropoutMask&);
template void dropout_span(double*, const double*, const double*, int64_t, int64_t,
                           const DropoutMask&);

namespace {

template <class T>
void dropout_impl(T* out, const T* in, const T* residual, int64_t n, const DropoutMask& mask) {
  constexpr int64_t kDraws = values_per_block(RandomKind::DropoutKeep);
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, RandomKind::DropoutKeep));
  parallel_for(0, blocks, kPhiloxBlockGrain, [&](int64_t begin, int64_t end) {
    const int64_t first = kDraws * begin;
    const int64_t len = std::min(kDraws * end, n) - first;
    dropout_span(out + first, in + first, residual != nullptr ? residual + first : nullptr, first,
                 len, mask);
  });
}

}  // namespace

void dropout(Half* out, const Half* in, const Half* residual, int64_t n, const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(BFloat16* out, const BFloat16* in, const BFloat16* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(float* out, const float* in, const float* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}
void dropout(double* out, const double* in, const double* residual, int64_t n,
             const DropoutMask& mask) {
  dropout_impl(out, in, residual, n, mask);
}

}  // namespace toadstool::kernels::cpu
