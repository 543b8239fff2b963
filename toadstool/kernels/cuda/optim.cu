// The entries of the multi-tensor optimizer steps (optim_kernels.cuh says
// what they compute): one launch per kStepsPerLaunch parameters.
#include "toadstool/kernels/cuda/optim_kernels.cuh"
#include "toadstool/kernels/cuda/registry.h"

namespace toadstool::kernels::cuda {

namespace {

void sgd_step(DType dtype, const SgdStepCall* steps, int64_t count) {
  for_dtype<TypeSet::Float>(dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t first = 0; first < count; first += kStepsPerLaunch) {
      SgdLaunch<T> launch{};
      const int64_t blocks =
          make_launch(launch, steps + first,
                      static_cast<int>(std::min<int64_t>(kStepsPerLaunch, count - first)));
      launch_kernel("sgd_step", sgd_kernel<T>, static_cast<unsigned>(blocks), kThreads, 0, launch);
    }
  });
}

void adam_step(DType dtype, const AdamStepCall* steps, int64_t count) {
  for_dtype<TypeSet::Float>(dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    for (int64_t first = 0; first < count; first += kStepsPerLaunch) {
      AdamLaunch<T> launch{};
      const int64_t blocks =
          make_launch(launch, steps + first,
                      static_cast<int>(std::min<int64_t>(kStepsPerLaunch, count - first)));
      launch_kernel("adam_step", adam_kernel<T>, static_cast<unsigned>(blocks), kThreads, 0,
                    launch);
    }
  });
}

}  // namespace

void register_optim(Backend& b) {
  b.sgd_step = sgd_step;
  b.adam_step = adam_step;
}

}  // namespace toadstool::kernels::cuda
