#include "toadstool/kernels/cpu/dropout.h"

#include <algorithm>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

DropoutDraws* dropout_draws(uint64_t seed, uint64_t offset, int64_t first, int64_t n,
                            uint32_t* words) {
  const int64_t skip = first % kDropoutDraws;
  philox_words(offset + static_cast<uint64_t>(first / kDropoutDraws),
               (skip + n + kDropoutDraws - 1) / kDropoutDraws, seed, words);
  return reinterpret_cast<DropoutDraws*>(words) + skip;
}

template <class T>
void dropout_span(T* out, const T* in, const T* residual, int64_t first, int64_t n,
                  const DropoutMask& mask) {
  const uint32_t threshold = dropout_threshold(1.0 - mask.p);
  const auto keep_scale = static_cast<T>(1.0 / (1.0 - mask.p));
  uint32_t words[4 * kPhiloxChunkBlocks];
  // Up to kPhiloxChunkBlocks blocks of draws at a time, each chunk ending on
  // a block boundary (or at the span's end).
  int64_t len = 0;
  for (int64_t e0 = 0; e0 < n; e0 += len) {
    const int64_t g = first + e0;  // the chunk's first element in the whole tensor
    len = std::min(n - e0, kDropoutDraws * kPhiloxChunkBlocks - g % kDropoutDraws);
    DropoutDraws* d = dropout_draws(mask.seed, mask.offset, g, len, words);
    T* o = out + e0;
    const T* x = in + e0;
    if (residual != nullptr) {
      const T* r = residual + e0;
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
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, RandomKind::DropoutKeep));
  parallel_for(0, blocks, kPhiloxBlockGrain, [&](int64_t begin, int64_t end) {
    const int64_t first = kDropoutDraws * begin;
    const int64_t len = std::min(kDropoutDraws * end, n) - first;
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
