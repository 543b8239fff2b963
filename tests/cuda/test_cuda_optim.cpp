// CUDA fused optimizer steps against the CPU's: sgd_step_ and adam_step_ on
// the same parameters, gradients and state, for every combination of their
// options, several steps in a row, float32 and float64; and the
// multi-tensor calls (adam_steps_, sgd_steps_) over more parameters than
// one launch takes, of many sizes, with their own options, step numbers
// and gates. Both backends run
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

// 37 parameters (three launches of at most 16) of sizes from 0 to 70,001
// elements, each with its own options and step number, some gated: a
// skipped gate counts the skip for its parameter only, even for an empty
// one.
TEST(CudaOptim, ManyParametersInOneCallMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t sizes[] = {0, 1, 255, 256, 257, 4099, 70001};
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor skip_cpu = ones({}), take_cpu = zeros({});
    const Tensor skip_gpu = skip_cpu.to(kCuda), take_gpu = take_cpu.to(kCuda);
    std::vector<AdamStepTensors> cpu, gpu;
    std::vector<SgdStepTensors> cpu_sgd, gpu_sgd;
    for (int i = 0; i < 37; ++i) {
      const int64_t n = sizes[i % 7];
      AdamStep hp{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
      hp.weight_decay = i % 3 == 0 ? 0.0 : 0.01;
      hp.decoupled = i % 2 == 0;
      hp.amsgrad = i % 5 == 0;
      hp.step = 1 + i % 4;
      hp.gate.step = hp.step;
      const Tensor param = normal({n}, dtype, 50 + i), grad = normal({n}, dtype, 150 + i);
      const Tensor m = normal({n}, dtype, 250 + i).abs() * 0.1;
      const Tensor v = normal({n}, dtype, 350 + i).abs() * 0.01;
      // Every fourth parameter gated: skipped when i % 8 == 0, else taken.
      StepGateTensors gate_cpu, gate_gpu;
      if (i % 4 == 0) {
        gate_cpu = {i % 8 == 0 ? skip_cpu : take_cpu, zeros({})};
        gate_gpu = {i % 8 == 0 ? skip_gpu : take_gpu, zeros({}).to(kCuda)};
      }
      cpu.push_back({param.clone(), grad, m.clone(), v.clone(), v.clone(), hp, gate_cpu});
      gpu.push_back(
          {param.to(kCuda), grad.to(kCuda), m.to(kCuda), v.to(kCuda), v.to(kCuda), hp, gate_gpu});
      SgdStep sgd{.lr = 0.1, .momentum = i % 3 == 0 ? 0.0 : 0.9, .weight_decay = 0.01 * (i % 2)};
      sgd.nesterov = sgd.momentum != 0 && i % 4 == 1;
      sgd.first_step = i % 2 == 0;
      sgd.gate.step = 1 + i % 3;
      // The SGD steps' own skipped counters.
      if (gate_cpu.skip.defined()) {
        gate_cpu.skipped = zeros({});
        gate_gpu.skipped = zeros({}).to(kCuda);
      }
      cpu_sgd.push_back({param.clone(), grad, m.clone(), sgd, gate_cpu});
      gpu_sgd.push_back({param.to(kCuda), grad.to(kCuda), m.to(kCuda), sgd, gate_gpu});
    }
    adam_steps_(cpu);
    adam_steps_(gpu);
    for (size_t i = 0; i < cpu.size(); ++i) {
      const std::string at = "adam parameter " + std::to_string(i);
      expect_matches_cpu(gpu[i].param, cpu[i].param, at + " param");
      expect_matches_cpu(gpu[i].exp_avg, cpu[i].exp_avg, at + " exp_avg");
      expect_matches_cpu(gpu[i].exp_avg_sq, cpu[i].exp_avg_sq, at + " exp_avg_sq");
      expect_matches_cpu(gpu[i].max_exp_avg_sq, cpu[i].max_exp_avg_sq, at + " max_exp_avg_sq");
      if (cpu[i].gate.skipped.defined()) {
        expect_matches_cpu(gpu[i].gate.skipped, cpu[i].gate.skipped, at + " skipped");
        EXPECT_EQ(cpu[i].gate.skipped.item<float>(), i % 8 == 0 ? 1 : 0) << at;
      }
    }
    // SGD through the same launches, its momentum buffers started from m.
    for (auto& step : cpu_sgd) {
      if (step.hp.momentum == 0) step.momentum_buffer = Tensor();
    }
    for (auto& step : gpu_sgd) {
      if (step.hp.momentum == 0) step.momentum_buffer = Tensor();
    }
    sgd_steps_(cpu_sgd);
    sgd_steps_(gpu_sgd);
    for (size_t i = 0; i < cpu_sgd.size(); ++i) {
      const std::string at = "sgd parameter " + std::to_string(i);
      expect_matches_cpu(gpu_sgd[i].param, cpu_sgd[i].param, at + " param");
      if (cpu_sgd[i].momentum_buffer.defined()) {
        expect_matches_cpu(gpu_sgd[i].momentum_buffer, cpu_sgd[i].momentum_buffer, at + " buffer");
      }
      if (cpu_sgd[i].gate.skipped.defined()) {
        expect_matches_cpu(gpu_sgd[i].gate.skipped, cpu_sgd[i].gate.skipped, at + " skipped");
        EXPECT_EQ(cpu_sgd[i].gate.skipped.item<float>(), i % 8 == 0 ? 1 : 0) << at;
      }
    }
  }
}

}  // namespace
}  // namespace toadstool
