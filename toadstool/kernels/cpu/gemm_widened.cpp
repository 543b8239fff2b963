#include "toadstool/kernels/cpu/gemm_widened.h"

#include <vector>

#include "toadstool/kernels/cpu/gemm.h"

namespace toadstool::kernels::cpu {

namespace {

// `count` matrices of [rows, cols] at leading dim ld, `stride` apart, into
// dense float32 [count, rows, cols].
template <class T16>
std::vector<float> widen(const void* data, int64_t count, int64_t stride, int64_t rows,
                         int64_t cols, int64_t ld) {
  std::vector<float> out(static_cast<size_t>(count * rows * cols));
  const auto* src = static_cast<const T16*>(data);
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        out[static_cast<size_t>((i * rows + r) * cols + c)] =
            static_cast<float>(src[i * stride + r * ld + c]);
      }
    }
  }
  return out;
}

template <class T16>
void gemm_widened_typed(const GemmCall& g) {
  // A is stored [M, K] or, transposed, [K, M]; B [K, N] or [N, K].
  const int64_t a_rows = g.trans_a ? g.K : g.M, a_cols = g.trans_a ? g.M : g.K;
  const int64_t b_rows = g.trans_b ? g.N : g.K, b_cols = g.trans_b ? g.K : g.N;
  // A stride of 0 shares one matrix across the batch: widen it once.
  const int64_t a_count = g.stride_a == 0 ? 1 : g.batch;
  const int64_t b_count = g.stride_b == 0 ? 1 : g.batch;
  const std::vector<float> a = widen<T16>(g.A, a_count, g.stride_a, a_rows, a_cols, g.lda);
  const std::vector<float> b = widen<T16>(g.B, b_count, g.stride_b, b_rows, b_cols, g.ldb);
  std::vector<float> c = g.beta != 0 ? widen<T16>(g.C, g.batch, g.stride_c, g.M, g.N, g.ldc)
                                     : std::vector<float>(static_cast<size_t>(g.batch * g.M * g.N));
  gemm_batched(g.trans_a, g.trans_b, g.batch, g.M, g.N, g.K, static_cast<float>(g.alpha), a.data(),
               a_cols, a_count == 1 ? 0 : a_rows * a_cols, b.data(), b_cols,
               b_count == 1 ? 0 : b_rows * b_cols, static_cast<float>(g.beta), c.data(), g.N,
               g.M * g.N);
  auto* out = static_cast<T16*>(g.C);
  for (int64_t i = 0; i < g.batch; ++i) {
    for (int64_t r = 0; r < g.M; ++r) {
      for (int64_t col = 0; col < g.N; ++col) {
        out[i * g.stride_c + r * g.ldc + col] =
            T16(c[static_cast<size_t>((i * g.M + r) * g.N + col)]);
      }
    }
  }
}

}  // namespace

void gemm_widened(const GemmCall& call, const Half* /*tag*/) { gemm_widened_typed<Half>(call); }
void gemm_widened(const GemmCall& call, const BFloat16* /*tag*/) {
  gemm_widened_typed<BFloat16>(call);
}

}  // namespace toadstool::kernels::cpu
