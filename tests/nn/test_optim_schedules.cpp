// LR schedules (nn/optim/): argument errors, state_dict round trips (save
// mid-run, load into a fresh optimizer and schedule, continue: the same lrs
// as an uninterrupted run) and load errors. Values per step against PyTorch
// are in test_optim_golden.cpp.
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/nn/optim/optim.h"

namespace toadstool {
namespace {

using namespace optim;  // NOLINT: the schedule names read better unqualified

// Two groups, lrs 0.1 and 0.05.
std::unique_ptr<Optimizer> make_sgd() {
  return std::make_unique<SGD>(
      std::vector<ParamGroup>{ParamGroup({zeros({2}).requires_grad_()}, {{"lr", 0.1}}),
                              ParamGroup({zeros({3}).requires_grad_()}, {{"lr", 0.05}})},
      SGDOptions{.momentum = 0.9});
}

TEST(OptimSchedules, BadArgumentsAreErrors) {
  auto opt = make_sgd();
  EXPECT_ERROR(StepLR(*opt, 0), "StepLR: step_size must be > 0, got 0");
  EXPECT_ERROR(CosineAnnealingLR(*opt, 0), "CosineAnnealingLR: T_max must be > 0");
  EXPECT_ERROR(LinearLR(*opt, 0.0), "LinearLR: start_factor must be in (0, 1]");
  EXPECT_ERROR(LinearLR(*opt, 0.5, 1.5), "LinearLR: end_factor must be in [0, 1]");
  EXPECT_ERROR(LinearLR(*opt, 0.5, 1.0, 0), "LinearLR: total_iters must be > 0");
  EXPECT_ERROR(LambdaLR(*opt, std::vector<LambdaLR::Lambda>{[](int64_t) { return 1.0; }}),
               "LambdaLR: expected 2 lr_lambdas (one per group), got 1");
  auto other = make_sgd();
  auto a = std::make_shared<StepLR>(*opt, 2);
  auto b = std::make_shared<ExponentialLR>(*other, 0.9);
  auto c = std::make_shared<ExponentialLR>(*opt, 0.9);
  EXPECT_ERROR(SequentialLR(*opt, {a, b}, {3}), "SequentialLR: scheduler 1 is bound to another");
  EXPECT_ERROR(SequentialLR(*opt, {a, c}, {3, 5}),
               "expects one milestone fewer than schedulers, got 2 schedulers and 2 milestones");
  EXPECT_ERROR(SequentialLR(*opt, {a, c, a}, {5, 3}), "milestones must be in increasing order");

  OneCycleLROptions o;
  o.max_lr = {1.0};
  EXPECT_ERROR(OneCycleLR(*opt, o), "give total_steps, or epochs and steps_per_epoch");
  o.epochs = int64_t{1} << 40;
  o.steps_per_epoch = int64_t{1} << 40;
  EXPECT_ERROR(OneCycleLR(*opt, o), "overflows int64");
  o.epochs = o.steps_per_epoch = 0;
  o.total_steps = -3;
  EXPECT_ERROR(OneCycleLR(*opt, o), "expected a positive total_steps, got -3");
  o.total_steps = 10;
  o.pct_start = 1.5;
  EXPECT_ERROR(OneCycleLR(*opt, o), "pct_start must be in [0, 1], got 1.5");
  o.pct_start = 0.3;
  o.anneal_strategy = "step";
  EXPECT_ERROR(OneCycleLR(*opt, o), "anneal_strategy must be 'cos' or 'linear', got 'step'");
  o.anneal_strategy = "cos";
  o.max_lr = {1.0, 2.0, 3.0};
  EXPECT_ERROR(OneCycleLR(*opt, o), "expected 1 or 2 values for max_lr, got 3");

  ReduceLROnPlateauOptions p;
  p.factor = 1.0;
  EXPECT_ERROR(ReduceLROnPlateau(*opt, p), "factor should be < 1.0");
  p.factor = 0.5;
  p.mode = "lowest";
  EXPECT_ERROR(ReduceLROnPlateau(*opt, p), "mode 'lowest' is unknown");
  p.mode = "min";
  p.threshold_mode = "relative";
  EXPECT_ERROR(ReduceLROnPlateau(*opt, p), "threshold mode 'relative' is unknown");
  p.threshold_mode = "rel";
  p.min_lr = {0, 0, 0};
  EXPECT_ERROR(ReduceLROnPlateau(*opt, p), "expected 1 or 2 min_lrs, got 3");
}

TEST(OptimSchedules, OneCycleStopsAtTotalSteps) {
  auto opt = make_sgd();
  OneCycleLROptions o;
  o.max_lr = {1.0};
  o.epochs = 2;
  o.steps_per_epoch = 3;
  OneCycleLR schedule(*opt, o);
  EXPECT_EQ(schedule.total_steps(), 6);
  for (int k = 0; k < 6; ++k) schedule.step();
  EXPECT_ERROR(schedule.step(),
               "OneCycleLR: tried to step 8 times; the specified number of "
               "total steps is 6");
}

// pct_start x total_steps == 1 ends the warm-up at step 0 (a phase of no
// length, where PyTorch divides 0 by 0): step 0 is at max_lr, then the
// learning rate falls, finite all the way; the three-phase form too, whose
// second phase has no length either.
TEST(OptimSchedules, OneCycleWithAWarmUpOfOneStepStaysFinite) {
  for (const bool three_phase : {false, true}) {
    SCOPED_TRACE(three_phase ? "three phases" : "two phases");
    auto opt = make_sgd();
    OneCycleLROptions o;
    o.max_lr = {1.0};
    o.total_steps = three_phase ? 20 : 10;
    o.pct_start = three_phase ? 0.05 : 0.1;
    o.three_phase = three_phase;
    OneCycleLR schedule(*opt, o);
    std::vector<double> lrs = {schedule.get_last_lr()[0]};
    for (int64_t k = 1; k < o.total_steps; ++k) {
      schedule.step();
      lrs.push_back(schedule.get_last_lr()[0]);
    }
    EXPECT_EQ(lrs[0], 1.0);
    for (size_t k = 1; k < lrs.size(); ++k) {
      EXPECT_TRUE(std::isfinite(lrs[k])) << "step " << k;
      EXPECT_LT(lrs[k], lrs[k - 1]) << "step " << k;
    }
  }
}

// A schedule maker: builds the schedule over `opt` and steps it (metric k).
struct Maker {
  std::string name;
  std::function<void(Optimizer&)> build;
  std::function<void(int)> step;
  std::function<std::vector<double>()> last_lr;
  std::function<TensorDict()> state_dict;
  std::function<void(const TensorDict&)> load;
};

template <class S, class... Args>
Maker scheduler(const std::string& name, Args... args) {
  auto holder = std::make_shared<std::unique_ptr<S>>();
  return {name,
          [holder, args...](Optimizer& opt) { *holder = std::make_unique<S>(opt, args...); },
          [holder](int) { (*holder)->step(); },
          [holder] { return (*holder)->get_last_lr(); },
          [holder] { return (*holder)->state_dict(); },
          [holder](const TensorDict& d) { (*holder)->load_state_dict(d); }};
}

std::vector<Maker> makers() {
  OneCycleLROptions one_cycle;
  one_cycle.max_lr = {1.0, 0.4};
  one_cycle.total_steps = 20;
  one_cycle.three_phase = true;
  std::vector<Maker> out = {
      scheduler<StepLR>("StepLR", int64_t{3}, 0.5),
      scheduler<MultiStepLR>("MultiStepLR", std::vector<int64_t>{2, 9, 12}, 0.3),
      scheduler<ExponentialLR>("ExponentialLR", 0.9),
      scheduler<CosineAnnealingLR>("CosineAnnealingLR", int64_t{6}, 0.001),
      scheduler<LinearLR>("LinearLR", 0.2, 1.0, int64_t{10}),
      scheduler<LambdaLR>("LambdaLR", LambdaLR::Lambda([](int64_t e) { return 1.0 / (e + 1); })),
      scheduler<OneCycleLR>("OneCycleLR", one_cycle),
  };
  // SequentialLR: warm-up then cosine; the milestone (8) falls in the second half.
  auto seq = std::make_shared<std::unique_ptr<SequentialLR>>();
  out.push_back({"SequentialLR",
                 [seq](Optimizer& opt) {
                   auto warmup = std::make_shared<LinearLR>(opt, 0.1, 1.0, int64_t{8});
                   auto cosine = std::make_shared<CosineAnnealingLR>(opt, int64_t{10});
                   *seq = std::make_unique<SequentialLR>(
                       opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                       std::vector<int64_t>{8});
                 },
                 [seq](int) { (*seq)->step(); }, [seq] { return (*seq)->get_last_lr(); },
                 [seq] { return (*seq)->state_dict(); },
                 [seq](const TensorDict& d) { (*seq)->load_state_dict(d); }});
  // ReduceLROnPlateau on a metric that stalls now and then.
  auto plateau = std::make_shared<std::unique_ptr<ReduceLROnPlateau>>();
  out.push_back({"ReduceLROnPlateau",
                 [plateau](Optimizer& opt) {
                   ReduceLROnPlateauOptions o;
                   o.patience = 1;
                   o.cooldown = 1;
                   o.factor = 0.5;
                   *plateau = std::make_unique<ReduceLROnPlateau>(opt, o);
                 },
                 [plateau](int k) {
                   const int thirds = k / 3;  // the metric improves every third step
                   (*plateau)->step(1.0 / (1 + thirds));
                 },
                 [plateau] { return (*plateau)->get_last_lr(); },
                 [plateau] { return (*plateau)->state_dict(); },
                 [plateau](const TensorDict& d) { (*plateau)->load_state_dict(d); }});
  return out;
}

// Save optimizer and schedule after 7 steps, rebuild both, load, continue
// 12 more: the lrs (and momenta) equal those of the uninterrupted run.
TEST(OptimSchedules, StateDictRoundTrip) {
  for (const Maker& first : makers()) {
    SCOPED_TRACE(first.name);
    auto opt_a = make_sgd();
    first.build(*opt_a);
    for (int k = 0; k < 7; ++k) first.step(k);
    const TensorDict opt_saved = opt_a->state_dict();
    const TensorDict saved = first.state_dict();
    std::vector<std::vector<double>> uninterrupted;
    for (int k = 7; k < 19; ++k) {
      first.step(k);
      uninterrupted.push_back(first.last_lr());
      uninterrupted.back().push_back(opt_a->param_groups()[1].get("momentum"));
    }

    Maker second;
    for (const Maker& m : makers()) {
      if (m.name == first.name) second = m;
    }
    auto opt_b = make_sgd();
    second.build(*opt_b);
    opt_b->load_state_dict(opt_saved);
    second.load(saved);
    for (int k = 7; k < 19; ++k) {
      second.step(k);
      std::vector<double> got = second.last_lr();
      got.push_back(opt_b->param_groups()[1].get("momentum"));
      EXPECT_EQ(got, uninterrupted[static_cast<size_t>(k - 7)]) << "step " << k;
      EXPECT_EQ(opt_b->param_groups()[0].lr(), got[0]);
    }
  }
}

TEST(OptimSchedules, LoadMismatchedStateDictIsAnError) {
  auto opt = make_sgd();
  StepLR step(*opt, 3);
  const TensorDict sd = step.state_dict();
  EXPECT_EQ(sd.keys(),
            (std::vector<std::string>{"last_epoch", "_step_count", "base_lrs", "_last_lr"}));

  auto one_group = std::make_unique<SGD>(std::vector<Tensor>{zeros({2}).requires_grad_()});
  StepLR other(*one_group, 3);
  EXPECT_ERROR(other.load_state_dict(sd),
               "StepLR.load_state_dict: 'base_lrs' has 2 values, the optimizer has 1 parameter "
               "groups");
  TensorDict extra = sd;
  extra.insert("gamma", scalar_tensor(0.5, kFloat64));
  EXPECT_ERROR(step.load_state_dict(extra), "unexpected entry 'gamma'");
  TensorDict float_epoch;
  for (const auto& [k, t] : sd) float_epoch.insert(k, k == "last_epoch" ? t.to(kFloat32) : t);
  EXPECT_ERROR(step.load_state_dict(float_epoch), "'last_epoch' should be a 0-d integer tensor");
  // Issue 18, D8: last_epoch = INT64_MAX loaded, and the next step() overflowed.
  TensorDict huge_epoch = sd;
  huge_epoch.set("last_epoch", scalar_tensor(std::numeric_limits<int64_t>::max(), kInt64));
  EXPECT_ERROR(step.load_state_dict(huge_epoch),
               "StepLR.load_state_dict: 'last_epoch' should be a whole number in [-1, ");
  TensorDict negative_count = sd;
  negative_count.set("_step_count", scalar_tensor(int64_t{-5}, kInt64));
  EXPECT_ERROR(step.load_state_dict(negative_count), "'_step_count' should be a whole number");

  // SequentialLR: a failed part leaves every scheduler as it was.
  auto a = std::make_shared<StepLR>(*opt, 2);
  auto b = std::make_shared<ExponentialLR>(*opt, 0.9);
  SequentialLR seq(*opt, {a, b}, {4});
  for (int k = 0; k < 6; ++k) seq.step();
  TensorDict bad = seq.state_dict();
  TensorDict broken;
  for (const auto& [k, t] : bad) {
    broken.insert(k, k == "_schedulers.1.base_lrs" ? zeros({5}, kFloat64) : t);
  }
  const int64_t a_epoch = a->last_epoch();
  EXPECT_ERROR(seq.load_state_dict(broken), "'base_lrs' has 5 values");
  EXPECT_EQ(a->last_epoch(), a_epoch);
  TensorDict unknown = bad;
  unknown.insert("_schedulers.7.last_epoch", scalar_tensor(int64_t{1}, kInt64));
  EXPECT_ERROR(seq.load_state_dict(unknown), "names scheduler 7, there are 2");

  ReduceLROnPlateau plateau(*opt);
  TensorDict no_best = plateau.state_dict();
  TensorDict without;
  for (const auto& [k, t] : no_best) {
    if (k != "best") without.insert(k, t);
  }
  EXPECT_ERROR(plateau.load_state_dict(without), "ReduceLROnPlateau.load_state_dict: no 'best'");
}

}  // namespace
}  // namespace toadstool
