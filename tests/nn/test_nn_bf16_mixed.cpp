// bf16-mixed training against float32 (issue 16): ten AdamW steps of a
// TransformerClassifier with the forward and the loss under CPU autocast
// to bfloat16 stay close to the same steps in float32, on each bfloat16
// GEMM path this CPU has ("fp32" widens, "avx512bf16" and "amx" multiply
// bfloat16 tiles, attention's included). The tolerances are the ones
// docs/mixed_precision.md states.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"

namespace toadstool {
namespace {

// Two layers of 4 heads of 8, sequences of 80 tokens: two query tiles and
// a partial key tile in attention, dropout on.
nn::TransformerClassifierOptions classifier() {
  nn::TransformerClassifierOptions o;
  o.vocab_size = 60;
  o.d_model = 32;
  o.nhead = 4;
  o.num_layers = 2;
  o.dim_feedforward = 64;
  o.max_len = 80;
  return o;
}

struct Steps {
  std::vector<double> losses;  // of each step, before its update
  Tensor logits;               // after the ten steps, in float32
  Tensor update;               // every parameter's change, flattened and joined
};

// Ten AdamW steps (lr 1e-3) from the model seeded with 1, on one batch of
// 6 x 80 (padding at the ends of some rows); bf16: the forward and the loss
// under autocast. Dropout draws the same masks in both precisions.
Steps ten_steps(bool bf16) {
  manual_seed(1);
  nn::TransformerClassifier model(classifier());
  model.train();
  std::vector<Tensor> initial;
  for (const Tensor& p : model.parameters()) initial.push_back(p.detach().clone());
  optim::AdamW optimizer(model.parameters(), optim::AdamWOptions{});
  Generator data(7);
  Tensor ids = randint(1, 60, {6, 80}, kInt64, &data);
  ids.narrow(1, 50, 30).narrow(0, 0, 3).fill_(0);
  const Tensor labels = randint(0, 2, {6}, kInt64, &data);
  Steps run;
  for (int step = 0; step < 10; ++step) {
    optimizer.zero_grad();
    Tensor loss;
    {
      const Autocast autocast(DeviceType::CPU, kBFloat16, bf16);
      loss = cross_entropy(model(ids), labels);
    }
    run.losses.push_back(loss.item<double>());
    loss.backward();
    optimizer.step();
  }
  model.eval();
  {
    const NoGradGuard no_grad;
    run.logits = model(ids);
  }
  std::vector<Tensor> changes;
  const std::vector<Tensor> params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    changes.push_back((params[i].detach() - initial[i]).reshape({-1}));
  }
  run.update = cat(changes, 0);
  return run;
}

double norm(const Tensor& t) { return std::sqrt((t * t).sum().item<double>()); }

TEST(Bf16Mixed, TenAdamWStepsOfTheClassifierStayCloseToFloat32) {
  // One thread: ops this small would spend their time starting a team
  // (and spinning in it when ctest runs another test beside).
  const testing::ScopedNumThreads one(1);
  const Steps want = ten_steps(false);
  for (const std::string& path : testing::kBf16GemmPaths) {
    if (!testing::force_bf16_gemm_path(path)) continue;
    SCOPED_TRACE("bf16 GEMM path " + path);
    const Steps got = ten_steps(true);
    set_cpu_bf16_gemm("");
    for (size_t step = 0; step < want.losses.size(); ++step) {
      EXPECT_NEAR(got.losses[step], want.losses[step], 2e-2) << "step " << step;
    }
    testing::expect_close(got.logits, want.logits, 0, 5e-2);
    // Adam moves a weight whose gradient is tiny (or zero but for rounding,
    // as attention's key bias) by about lr a step whatever its size, so
    // single weights may differ by up to 2 lr a step; the update as a whole
    // must point the same way.
    const double relative = norm(got.update - want.update) / norm(want.update);
    std::cout << "bf16 GEMM path " << path << ": |update - float32's| / |float32's| = " << relative
              << "\n";
    EXPECT_LT(relative, 0.25);
  }
}

}  // namespace
}  // namespace toadstool
