// DivergenceCallback: a NaN or exploding loss is skipped, rolled back or
// answered with a lower learning rate, and said; too many end the fit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>

#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::DivergenceCallback;
using train::DivergenceOptions;

// Multiplies the loss of the chosen training batches (counted over the
// fit, from 0) by `factor` (NaN makes it NaN) at after_loss: the trainer
// checks and counts the loss the callbacks leave.
class SpoilLoss : public train::CallbackBase<SpoilLoss> {
 public:
  SpoilLoss(std::set<int64_t> batches, double factor)
      : batches_(std::move(batches)), factor_(factor) {}
  void after_loss(train::Trainer& t) override {
    if (t.stage != train::Stage::train) return;
    if (batches_.count(seen_++)) t.loss = t.loss * factor_;
  }

 private:
  std::set<int64_t> batches_;
  double factor_;
  int64_t seen_ = 0;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool all_finite(const Tensor& t) {
  const Tensor c = t.detach().to(kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (!std::isfinite(p[i])) return false;
  }
  return true;
}

TEST(DivergenceCallback, SkipsANanLossAndSaysSo) {
  TinySetup setup;
  std::ostringstream out;
  DivergenceOptions o;
  o.out = &out;
  auto guard = std::make_shared<DivergenceCallback>(o);
  auto trainer = setup.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{2}, kNaN), guard});
  auto loader = loader_of(regression_data(12), 2);  // 6 batches an epoch
  trainer.fit(2, *loader);
  EXPECT_EQ(guard->events(), 1);
  EXPECT_EQ(trainer.step, 11);                       // the skipped batch did not step
  EXPECT_TRUE(std::isfinite(trainer.train_loss()));  // nor count in the mean
  for (const Tensor& p : setup.model->parameters()) {
    EXPECT_TRUE(all_finite(p));
  }
  EXPECT_NE(out.str().find("divergence: loss nan at epoch 1, batch 2 (step 2): skipped the batch"),
            std::string::npos)
      << out.str();
}

TEST(DivergenceCallback, WithoutItANanLossIsAnError) {
  TinySetup setup;
  auto trainer = setup.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{2}, kNaN)});
  auto loader = loader_of(regression_data(12), 2);
  EXPECT_ERROR(trainer.fit(1, *loader), (std::vector<std::string>{"the loss is nan", "batch 2"}));
}

// The weights are ruined by a step (NaN written into them at after_step 3):
// the next loss is NaN, and rollback restores the copy taken at the last
// good loss, the weights before that step.
class RuinWeightsAtStep : public train::CallbackBase<RuinWeightsAtStep> {
 public:
  explicit RuinWeightsAtStep(int64_t step) : step_(step) {}
  void after_step(train::Trainer& t) override {
    if (t.step != step_) return;
    const NoGradGuard no_grad;
    for (Tensor& p : t.model->parameters()) p.fill_(kNaN);
  }

 private:
  int64_t step_;
};

TEST(DivergenceCallback, RollsBackToTheLastGoodState) {
  DivergenceOptions o;
  o.action = DivergenceOptions::Action::rollback;
  o.snapshot_every = 1;
  o.verbose = false;
  TinySetup setup;
  auto guard = std::make_shared<DivergenceCallback>(o);
  auto trainer = setup.trainer({std::make_shared<RuinWeightsAtStep>(3), guard});
  auto loader = loader_of(regression_data(12), 2);  // batches 0..5
  // Batch 2 steps (step 3) into NaN weights; batch 3's loss is NaN: back to
  // the copy taken at batch 2's good loss (before its step), batch 3
  // skipped; batches 4 and 5 train on.
  trainer.fit(1, *loader);
  EXPECT_EQ(guard->events(), 1);
  EXPECT_EQ(trainer.step, 5);

  // The same weights as a run that never took batches 2 and 3 (SGD keeps no
  // state): skipped by hand.
  TinySetup reference;
  DivergenceOptions skip;
  skip.verbose = false;
  auto reference_trainer =
      reference.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{2, 3}, kNaN),
                         std::make_shared<DivergenceCallback>(skip)});
  reference_trainer.fit(1, *loader);
  EXPECT_EQ(reference_trainer.step, 4);
  const TensorDict got = setup.model->state_dict(), want = reference.model->state_dict();
  for (const auto& [name, t] : want) expect_close(got.at(name), t, 0, 0);
}

TEST(DivergenceCallback, LowersTheLearningRate) {
  TinySetup setup;  // SGD, lr 0.05
  std::ostringstream out;
  DivergenceOptions o;
  o.action = DivergenceOptions::Action::lower_lr;
  o.lr_factor = 0.5;
  o.out = &out;
  auto guard = std::make_shared<DivergenceCallback>(o);
  auto trainer = setup.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{1, 4}, kNaN), guard});
  auto loader = loader_of(regression_data(12), 2);
  trainer.fit(1, *loader);
  EXPECT_EQ(guard->events(), 2);
  EXPECT_DOUBLE_EQ(setup.optimizer->param_groups().front().lr(), 0.05 * 0.25);
  EXPECT_NE(out.str().find("lowered the learning rate to 0.0125"), std::string::npos) << out.str();
}

TEST(DivergenceCallback, AnExplodingLossDivergesAfterTheWarmup) {
  TinySetup setup;
  DivergenceOptions o;
  o.explode_factor = 100;
  o.warmup = 3;
  o.verbose = false;
  auto guard = std::make_shared<DivergenceCallback>(o);
  // x1e6 at batch 1 (inside the warm-up: not judged) and at batch 7.
  auto trainer = setup.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{1, 7}, 1e6), guard});
  auto loader = loader_of(regression_data(12), 2);
  trainer.fit(2, *loader);
  EXPECT_EQ(guard->events(), 1);
  EXPECT_EQ(trainer.step, 11);
}

TEST(DivergenceCallback, TooManyDivergencesEndTheFit) {
  TinySetup setup;
  DivergenceOptions o;
  o.max_events = 2;
  o.verbose = false;
  auto trainer = setup.trainer({std::make_shared<SpoilLoss>(std::set<int64_t>{0, 1, 2, 3}, kNaN),
                                std::make_shared<DivergenceCallback>(o)});
  auto loader = loader_of(regression_data(12), 2);
  EXPECT_ERROR(trainer.fit(1, *loader),
               (std::vector<std::string>{"DivergenceCallback: the loss diverged 3 times",
                                         "max_events=2", "batch 2"}));
}

TEST(DivergenceCallback, BadOptionsAreErrors) {
  auto make = [](auto&& set) {
    DivergenceOptions o;
    set(o);
    return [o] { DivergenceCallback callback(o); };
  };
  EXPECT_ERROR(make([](auto& o) { o.explode_factor = 0.5; })(), "explode_factor");
  EXPECT_ERROR(make([](auto& o) { o.smoothing = 0; })(), "smoothing");
  EXPECT_ERROR(make([](auto& o) { o.lr_factor = 1; })(), "lr_factor");
  EXPECT_ERROR(make([](auto& o) { o.snapshot_every = 0; })(), "snapshot_every");
  EXPECT_ERROR(make([](auto& o) { o.warmup = -1; })(), "warmup");
}

}  // namespace
}  // namespace toadstool::testing
