#pragma once
// The GEMM epilogue on the CPU (kernels/gemm_epilogue.h per element): over a
// block of C right after the kernel wrote it (a register tile of the packed
// GEMM, still in L1), or over whole matrices after a GEMM without a fused
// epilogue (Eigen's, the 16-bit ones).
#include <cstdint>

#include "toadstool/kernels/cpu/gemm_args.h"
#include "toadstool/kernels/gemm_epilogue.h"

namespace toadstool::kernels::cpu {

// e on C[rows, cols] (row stride ldc), on the calling thread.
template <class T>
void apply_epilogue(const GemmEpilogueArgs<T>& e, T* c, int64_t ldc, int64_t rows, int64_t cols) {
  if (!e.any()) return;
  with_activation(e.activation, [&]<GemmActivation kActivation>() {
    for (int64_t i = 0; i < rows; ++i) {
      T* ci = c + i * ldc;
      T* pi = e.pre != nullptr ? e.pre + i * e.ldp : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) {
        const T pre = add_bias(ci[j], e.bias != nullptr ? e.bias + j : nullptr);
        if (pi != nullptr) pi[j] = pre;
        ci[j] = activate_value<kActivation>(pre);
      }
    }
  });
}

// The call's epilogue over each of its `batch` matrices, on the team.
template <class T>
void apply_epilogue(const GemmCall& call);

}  // namespace toadstool::kernels::cpu
