#include "toadstool/kernels/cpu/dropout.h"

#include <algorithm>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

namespace {

// Element i takes word i % 4 of block offset + i / 4 (RandomKind::Bernoulli),
// so the words of consecutive blocks, made kPhiloxChunkBlocks at a time by
// philox_words, line up with consecutive elements.

template <class T>
void dropout_impl(T* out, const T* in, const T* residual, int64_t n, const DropoutMask& mask) {
  const uint64_t threshold = bernoulli_threshold(1.0 - mask.p);
  const auto keep_scale = static_cast<T>(1.0 / (1.0 - mask.p));
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, RandomKind::Bernoulli));
  parallel_for(0, blocks, kPhiloxBlockGrain, [&](int64_t begin, int64_t end) {
    uint32_t words[4 * kPhiloxChunkBlocks];
    for (int64_t b0 = begin; b0 < end; b0 += kPhiloxChunkBlocks) {
      const int64_t count = std::min(kPhiloxChunkBlocks, end - b0);
      philox_words(mask.offset + static_cast<uint64_t>(b0), count, mask.seed, words);
      const int64_t first = 4 * b0;
      const int64_t len = std::min(4 * count, n - first);
      T* o = out + first;
      const T* x = in + first;
      if (residual != nullptr) {
        const T* r = residual + first;
#pragma omp simd
        for (int64_t e = 0; e < len; ++e) {
          o[e] = static_cast<T>(r[e] + dropout_value(x[e], words[e], threshold, keep_scale));
        }
      } else {
#pragma omp simd
        for (int64_t e = 0; e < len; ++e)
          o[e] = dropout_value(x[e], words[e], threshold, keep_scale);
      }
    }
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
