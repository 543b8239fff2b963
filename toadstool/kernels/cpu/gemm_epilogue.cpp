#include "toadstool/kernels/cpu/gemm_epilogue.h"

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/half.h"

namespace toadstool::kernels::cpu {

template <class T>
void apply_epilogue(const GemmCall& call) {
  if (!call.epilogue.any() || call.M <= 0 || call.N <= 0) return;
  const GemmEpilogueArgs<T> e{static_cast<const T*>(call.epilogue.bias), call.epilogue.activation,
                              static_cast<T*>(call.epilogue.pre_activation), call.ldc};
  auto* c = static_cast<T*>(call.C);
  // Rows of every matrix of the batch, row r of matrix r / M.
  const int64_t grain = std::max<int64_t>(1, kDefaultGrain / call.N);
  parallel_for(0, call.batch * call.M, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t offset = r / call.M * call.stride_c + r % call.M * call.ldc;
      GemmEpilogueArgs<T> row = e;
      if (row.pre != nullptr) row.pre += offset;
      apply_epilogue(row, c + offset, call.ldc, 1, call.N);
    }
  });
}

template void apply_epilogue<Half>(const GemmCall& call);
template void apply_epilogue<BFloat16>(const GemmCall& call);
template void apply_epilogue<float>(const GemmCall& call);
template void apply_epilogue<double>(const GemmCall& call);

}  // namespace toadstool::kernels::cpu
