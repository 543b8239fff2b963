#include "toadstool/kernels/cpu/gemm_widened.h"

#include <algorithm>
#include <vector>

#include "toadstool/kernels/cpu/gemm.h"
#include "toadstool/kernels/cpu/parallel.h"

namespace toadstool::kernels::cpu {

namespace {

// The widened copies of A, B and C, one buffer each per thread, kept
// between calls: a repeated GEMM (every step of a training loop) allocates
// and faults in nothing after the first, and C is not zero-filled (beta == 0
// never reads it).
enum Operand { kA, kB, kC };
float* widened_buffer(Operand operand, int64_t floats) {
  thread_local std::vector<float> buffers[3];
  std::vector<float>& buffer = buffers[operand];
  if (buffer.size() < static_cast<size_t>(floats)) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(cols, 1));
}

// `count` matrices of [rows, cols] at leading dim ld, `stride` apart, into
// dense float32 [count, rows, cols], rows shared out among the team.
template <class T16>
void widen(const void* data, int64_t count, int64_t stride, int64_t rows, int64_t cols, int64_t ld,
           float* out) {
  const auto* src = static_cast<const T16*>(data);
  parallel_for(0, count * rows, row_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T16* s = src + r / rows * stride + r % rows * ld;
      float* o = out + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) o[c] = static_cast<float>(s[c]);
    }
  });
}

// The reverse: dense float32 [count, rows, cols] rounded into the strided
// 16-bit matrices.
template <class T16>
void narrow(const float* in, int64_t count, int64_t stride, int64_t rows, int64_t cols, int64_t ld,
            void* data) {
  auto* dst = static_cast<T16*>(data);
  parallel_for(0, count * rows, row_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T16* d = dst + r / rows * stride + r % rows * ld;
      const float* i = in + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) d[c] = T16(i[c]);
    }
  });
}

template <class T16>
void gemm_widened_typed(const GemmCall& g) {
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  // A is stored [M, K] or, transposed, [K, M]; B [K, N] or [N, K].
  const int64_t a_rows = g.trans_a ? g.K : g.M, a_cols = g.trans_a ? g.M : g.K;
  const int64_t b_rows = g.trans_b ? g.N : g.K, b_cols = g.trans_b ? g.K : g.N;
  // A stride of 0 shares one matrix across the batch: widen it once.
  const int64_t a_count = g.stride_a == 0 ? 1 : g.batch;
  const int64_t b_count = g.stride_b == 0 ? 1 : g.batch;
  float* a = widened_buffer(kA, a_count * a_rows * a_cols);
  float* b = widened_buffer(kB, b_count * b_rows * b_cols);
  float* c = widened_buffer(kC, g.batch * g.M * g.N);
  widen<T16>(g.A, a_count, g.stride_a, a_rows, a_cols, g.lda, a);
  widen<T16>(g.B, b_count, g.stride_b, b_rows, b_cols, g.ldb, b);
  if (g.beta != 0) widen<T16>(g.C, g.batch, g.stride_c, g.M, g.N, g.ldc, c);
  gemm_batched(g.trans_a, g.trans_b, g.batch, g.M, g.N, g.K, static_cast<float>(g.alpha), a, a_cols,
               a_count == 1 ? 0 : a_rows * a_cols, b, b_cols, b_count == 1 ? 0 : b_rows * b_cols,
               static_cast<float>(g.beta), c, g.N, g.M * g.N);
  narrow<T16>(c, g.batch, g.stride_c, g.M, g.N, g.ldc, g.C);
}

}  // namespace

void gemm_widened(const GemmCall& call, const Half* /*tag*/) { gemm_widened_typed<Half>(call); }
void gemm_widened(const GemmCall& call, const BFloat16* /*tag*/) {
  gemm_widened_typed<BFloat16>(call);
}

}  // namespace toadstool::kernels::cpu
