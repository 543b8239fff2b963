#pragma once
// The GEMM epilogue on the CPU (kernels/gemm_epilogue.h per element): over a
// block of C right after the kernel wrote it (a register tile of the packed
// GEMM, still in L1), or over whole matrices after a GEMM without a fused
// epilogue (Eigen's, the 16-bit ones).
#include <algorithm>
#include <cstdint>

#include "toadstool/kernels/cpu/gemm_args.h"
#include "toadstool/kernels/gemm_epilogue.h"

namespace toadstool::kernels::cpu {

// e on C[rows, cols] (row stride ldc), on the calling thread. Each row is
// in L1 (a tile, or a row of at most a few thousand values): one plain
// vector loop per step, each without a branch in it.
template <class T>
void apply_epilogue(const GemmEpilogueArgs<T>& e, T* c, int64_t ldc, int64_t rows, int64_t cols) {
  if (!e.any()) return;
  with_activation(e.activation, [&](auto activation) {
    constexpr GemmActivation kActivation = decltype(activation)::value;
    for (int64_t i = 0; i < rows; ++i) {
      T* ci = c + i * ldc;
      if (e.bias != nullptr) {
        const T* bias = e.bias;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) ci[j] = add_bias(ci[j], bias[j]);
      }
      if (e.pre != nullptr) std::copy_n(ci, cols, e.pre + i * e.ldp);
      if constexpr (kActivation != GemmActivation::None) {
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) ci[j] = activate_value<kActivation>(ci[j]);
      }
    }
  });
}

// The call's epilogue over each of its `batch` matrices, on the team.
template <class T>
void apply_epilogue(const GemmCall& call);

}  // namespace toadstool::kernels::cpu
