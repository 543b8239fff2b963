// CUDA fused optimizer steps against the CPU's: sgd_step_ and adam_step_ on
// the same parameters, gradients and state, for every combination of their
// options, several steps in a row, float32 and float64. Both backends run
// kernels/optim_math.h with the same coefficients; nvcc's fused multiply-adds
// leave float32 within a few ulps of the CPU.
#include <string>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::expect_matches_cpu;
using testing::kCuda;

Tensor normal(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, dtype, &gen);
}

// A parameter and its state on one device; the CUDA copy starts from the
// CPU's values.
struct SgdState {
  Tensor param, momentum_buffer;
};
struct AdamState {
  Tensor param, exp_avg, exp_avg_sq, max_exp_avg_sq;
};

constexpr int kSteps = 3;
constexpr int64_t kNumel = 4099;  // several blocks, not a multiple of any of them

TEST(CudaOptim, SgdStepsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  struct Case {
    std::string name;
    SgdStep hp;
  };
  const std::vector<Case> cases = {
      {"plain", {.lr = 0.1}},
      {"weight decay", {.lr = 0.1, .weight_decay = 0.01}},
      {"maximize", {.lr = 0.05, .maximize = true}},
      {"momentum", {.lr = 0.1, .momentum = 0.9}},
      {"momentum dampening", {.lr = 0.1, .momentum = 0.9, .dampening = 0.3}},
      {"nesterov", {.lr = 0.1, .momentum = 0.8, .weight_decay = 0.02, .nesterov = true}},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Case& c : cases) {
      const std::string name = c.name + " " + dtype_name(dtype);
      SgdState cpu{normal({kNumel}, dtype, 1), zeros({kNumel}, dtype)};
      SgdState gpu{cpu.param.to(kCuda), cpu.momentum_buffer.to(kCuda)};
      for (int step = 0; step < kSteps; ++step) {
        SgdStep hp = c.hp;
        hp.first_step = step == 0;
        const Tensor grad = normal({kNumel}, dtype, 10 + step);
        sgd_step_(cpu.param, grad, c.hp.momentum != 0 ? cpu.momentum_buffer : Tensor(), hp);
        sgd_step_(gpu.param, grad.to(kCuda), c.hp.momentum != 0 ? gpu.momentum_buffer : Tensor(),
                  hp);
        expect_matches_cpu(gpu.param, cpu.param, name + " param, step " + std::to_string(step));
        if (c.hp.momentum != 0) {
          expect_matches_cpu(gpu.momentum_buffer, cpu.momentum_buffer,
                             name + " momentum buffer, step " + std::to_string(step));
        }
      }
    }
  }
}

TEST(CudaOptim, AdamStepsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  struct Case {
    std::string name;
    AdamStep hp;
  };
  const AdamStep base{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  const auto with = [&](auto change) {
    AdamStep hp = base;
    change(hp);
    return hp;
  };
  const std::vector<Case> cases = {
      {"adam", base},
      {"adam L2", with([](AdamStep& hp) { hp.weight_decay = 0.1; })},
      {"adamw", with([](AdamStep& hp) {
         hp.weight_decay = 0.01;
         hp.decoupled = true;
       })},
      {"amsgrad", with([](AdamStep& hp) { hp.amsgrad = true; })},
      {"adamw amsgrad maximize", with([](AdamStep& hp) {
         hp.weight_decay = 0.05;
         hp.decoupled = true;
         hp.amsgrad = true;
         hp.maximize = true;
       })},
      {"adam L2 amsgrad", with([](AdamStep& hp) {
         hp.weight_decay = 0.1;
         hp.amsgrad = true;
       })},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Case& c : cases) {
      const std::string name = c.name + " " + dtype_name(dtype);
      AdamState cpu{normal({kNumel}, dtype, 2), zeros({kNumel}, dtype), zeros({kNumel}, dtype),
                    zeros({kNumel}, dtype)};
      AdamState gpu{cpu.param.to(kCuda), cpu.exp_avg.to(kCuda), cpu.exp_avg_sq.to(kCuda),
                    cpu.max_exp_avg_sq.to(kCuda)};
      for (int step = 1; step <= kSteps; ++step) {
        AdamStep hp = c.hp;
        hp.step = step;
        const Tensor grad = normal({kNumel}, dtype, 20 + step);
        adam_step_(cpu.param, grad, cpu.exp_avg, cpu.exp_avg_sq,
                   hp.amsgrad ? cpu.max_exp_avg_sq : Tensor(), hp);
        adam_step_(gpu.param, grad.to(kCuda), gpu.exp_avg, gpu.exp_avg_sq,
                   hp.amsgrad ? gpu.max_exp_avg_sq : Tensor(), hp);
        const std::string at = ", step " + std::to_string(step);
        expect_matches_cpu(gpu.param, cpu.param, name + " param" + at);
        expect_matches_cpu(gpu.exp_avg, cpu.exp_avg, name + " exp_avg" + at);
        expect_matches_cpu(gpu.exp_avg_sq, cpu.exp_avg_sq, name + " exp_avg_sq" + at);
        if (hp.amsgrad) {
          expect_matches_cpu(gpu.max_exp_avg_sq, cpu.max_exp_avg_sq, name + " max_exp_avg_sq" + at);
        }
      }
    }
  }
}

}  // namespace
}  // namespace toadstool
