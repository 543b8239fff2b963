// The multi-tensor optimizer steps (kernels/cuda/optim.cu's entries, the
// kernels of optim_kernels.cuh) run on the CPU by the warp emulator
// (emulated_backend.h), against each parameter stepped alone with the same
// per-element functions (kernels/optim_math.h): what this checks is the
// launch's bookkeeping, that every element of every parameter is updated
// exactly once with its own coefficients, options and step number, and that
// a gated step counts its skip once per parameter (an empty one too).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "emulated_backend.h"
#include "toadstool/kernels/cuda/optim_kernels.cuh"
#include "warp_emulator.h"

namespace toadstool::kernels::cuda {
namespace {

// 37 parameters: three launches of at most 16.
constexpr int kParams = 37;
constexpr int64_t kSizes[] = {0, 1, 255, 256, 257, 700};

struct Buffers {
  std::vector<double> param, grad, m, v, vmax;
};

Buffers random_buffers(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Buffers b;
  for (auto* values : {&b.param, &b.grad, &b.m, &b.v, &b.vmax}) {
    for (int64_t i = 0; i < n; ++i) values->push_back(normal(rng));
  }
  for (double& x : b.v) x = x * x * 0.01;  // second moments are >= 0
  for (double& x : b.vmax) x = x * x * 0.01;
  return b;
}

// Every fourth parameter gated: skipped when i % 8 == 0, else taken.
struct Gates {
  float skip = 1, take = 0;
  std::vector<float> skipped = std::vector<float>(kParams, 0.0f);
  StepGate of(int i, int64_t step) {
    if (i % 4 != 0) return {};
    return {i % 8 == 0 ? &skip : &take, &skipped[i], step};
  }
};

TEST(OptimEmulated, AdamStepsEveryParameterOnceWithItsOwnOptions) {
  std::vector<Buffers> gpu, cpu;
  std::vector<AdamStepCall> calls;
  Gates gates, cpu_gates;
  for (int i = 0; i < kParams; ++i) {
    gpu.push_back(random_buffers(kSizes[i % 6], 10 + i));
    cpu.push_back(gpu.back());
  }
  std::vector<AdamStep> hps;
  for (int i = 0; i < kParams; ++i) {
    AdamStep hp{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    hp.weight_decay = i % 3 == 0 ? 0.0 : 0.01;
    hp.decoupled = i % 2 == 0;
    hp.amsgrad = i % 5 == 0;
    hp.maximize = i % 7 == 3;
    hp.step = 1 + i % 4;
    hp.gate = gates.of(i, hp.step);
    hps.push_back(hp);
    Buffers& b = gpu[i];
    calls.push_back({b.param.data(), b.grad.data(), b.m.data(), b.v.data(),
                     hp.amsgrad ? b.vmax.data() : nullptr, static_cast<int64_t>(b.param.size()),
                     hp});
  }
  emulated_backend().adam_step(DType::Float64, calls.data(), static_cast<int64_t>(calls.size()));
  // Each parameter alone, as the CPU's loop does it.
  for (int i = 0; i < kParams; ++i) {
    AdamStep hp = hps[i];
    hp.gate = cpu_gates.of(i, hp.step);
    if (gate_skips(hp.gate, true)) continue;
    const int64_t step = hp.gate.skip != nullptr ? hp.gate.taken_step() : hp.step;
    const AdamCoeffs<double> c = adam_coeffs<double>(hp, step);
    Buffers& b = cpu[i];
    for (size_t e = 0; e < b.param.size(); ++e) {
      double* vmax = hp.amsgrad ? &b.vmax[e] : nullptr;
      if (hp.weight_decay == 0 && hp.amsgrad) {
        adam_update<double, WeightDecay::kNone, true>(b.param[e], b.grad[e], b.m[e], b.v[e], vmax,
                                                      c);
      } else if (hp.weight_decay == 0) {
        adam_update<double, WeightDecay::kNone, false>(b.param[e], b.grad[e], b.m[e], b.v[e], vmax,
                                                       c);
      } else if (hp.decoupled && hp.amsgrad) {
        adam_update<double, WeightDecay::kDecoupled, true>(b.param[e], b.grad[e], b.m[e], b.v[e],
                                                           vmax, c);
      } else if (hp.decoupled) {
        adam_update<double, WeightDecay::kDecoupled, false>(b.param[e], b.grad[e], b.m[e], b.v[e],
                                                            vmax, c);
      } else if (hp.amsgrad) {
        adam_update<double, WeightDecay::kL2, true>(b.param[e], b.grad[e], b.m[e], b.v[e], vmax, c);
      } else {
        adam_update<double, WeightDecay::kL2, false>(b.param[e], b.grad[e], b.m[e], b.v[e], vmax,
                                                     c);
      }
    }
  }
  for (int i = 0; i < kParams; ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    EXPECT_EQ(gpu[i].param, cpu[i].param);
    EXPECT_EQ(gpu[i].m, cpu[i].m);
    EXPECT_EQ(gpu[i].v, cpu[i].v);
    EXPECT_EQ(gpu[i].vmax, cpu[i].vmax);
    EXPECT_EQ(gates.skipped[i], i % 8 == 0 ? 1.0f : 0.0f);
  }
}

// Two blocks for 3000 elements (blocks_for would give 12): the grid-stride
// loop inside a parameter's range goes round several times.
TEST(OptimEmulated, ARangeLoopsOverItsParameter) {
  Buffers gpu = random_buffers(3000, 7), cpu = gpu;
  const AdamStep hp{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .step = 2};
  const AdamStepCall call{
      gpu.param.data(), gpu.grad.data(), gpu.m.data(), gpu.v.data(), nullptr, 3000, hp};
  AdamLaunch<double> launch{};
  make_launch(launch, &call, 1);
  launch.first_block[1] = 2;
  emu::launch(adam_kernel<double>, 2, kThreads, 0, launch);
  const AdamCoeffs<double> c = adam_coeffs<double>(hp, hp.step);
  for (size_t e = 0; e < cpu.param.size(); ++e) {
    adam_update<double, WeightDecay::kNone, false>(cpu.param[e], cpu.grad[e], cpu.m[e], cpu.v[e],
                                                   nullptr, c);
  }
  EXPECT_EQ(gpu.param, cpu.param);
  EXPECT_EQ(gpu.m, cpu.m);
  EXPECT_EQ(gpu.v, cpu.v);
}

TEST(OptimEmulated, SgdStepsEveryParameterOnceWithItsOwnOptions) {
  std::vector<Buffers> gpu, cpu;
  std::vector<SgdStepCall> calls;
  std::vector<SgdStep> hps;
  Gates gates, cpu_gates;
  for (int i = 0; i < kParams; ++i) {
    gpu.push_back(random_buffers(kSizes[i % 6], 100 + i));
    cpu.push_back(gpu.back());
    SgdStep hp{.lr = 0.1, .momentum = i % 3 == 0 ? 0.0 : 0.9, .weight_decay = 0.01 * (i % 2)};
    hp.nesterov = hp.momentum != 0 && i % 4 == 1;
    hp.first_step = i % 2 == 0;
    hp.gate = gates.of(i, 1 + i % 3);
    hps.push_back(hp);
    Buffers& b = gpu[i];
    calls.push_back({b.param.data(), b.grad.data(), hp.momentum != 0 ? b.m.data() : nullptr,
                     static_cast<int64_t>(b.param.size()), hp});
  }
  emulated_backend().sgd_step(DType::Float64, calls.data(), static_cast<int64_t>(calls.size()));
  for (int i = 0; i < kParams; ++i) {
    SgdStep hp = hps[i];
    hp.gate = cpu_gates.of(i, hp.gate.step);
    if (gate_skips(hp.gate, true)) continue;
    const bool first = hp.gate.skip != nullptr ? hp.gate.taken_step() == 1 : hp.first_step;
    const SgdCoeffs<double> c = sgd_coeffs<double>(hp);
    Buffers& b = cpu[i];
    for (size_t e = 0; e < b.param.size(); ++e) {
      double* buf = hp.momentum != 0 ? &b.m[e] : nullptr;
      double& p = b.param[e];
      const double g = b.grad[e];
      const bool l2 = hp.weight_decay != 0;
      // The kernel's template choices, spelled out.
      if (hp.momentum == 0) {
        l2 ? sgd_update<double, WeightDecay::kL2, false, false, false>(p, g, buf, c)
           : sgd_update<double, WeightDecay::kNone, false, false, false>(p, g, buf, c);
      } else if (hp.nesterov) {
        if (first) {
          l2 ? sgd_update<double, WeightDecay::kL2, true, true, true>(p, g, buf, c)
             : sgd_update<double, WeightDecay::kNone, true, true, true>(p, g, buf, c);
        } else {
          l2 ? sgd_update<double, WeightDecay::kL2, true, true, false>(p, g, buf, c)
             : sgd_update<double, WeightDecay::kNone, true, true, false>(p, g, buf, c);
        }
      } else if (first) {
        l2 ? sgd_update<double, WeightDecay::kL2, true, false, true>(p, g, buf, c)
           : sgd_update<double, WeightDecay::kNone, true, false, true>(p, g, buf, c);
      } else {
        l2 ? sgd_update<double, WeightDecay::kL2, true, false, false>(p, g, buf, c)
           : sgd_update<double, WeightDecay::kNone, true, false, false>(p, g, buf, c);
      }
    }
  }
  for (int i = 0; i < kParams; ++i) {
    SCOPED_TRACE("parameter " + std::to_string(i));
    EXPECT_EQ(gpu[i].param, cpu[i].param);
    EXPECT_EQ(gpu[i].m, cpu[i].m);
    EXPECT_EQ(gates.skipped[i], i % 8 == 0 ? 1.0f : 0.0f);
  }
}

}  // namespace
}  // namespace toadstool::kernels::cuda
