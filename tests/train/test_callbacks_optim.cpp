// The device, gradient clipping, LR schedule and LR finder callbacks
// (train/callbacks/{device,grad_clip,lr_scheduler,lr_finder}.h) on the tiny
// regression problem of trainer_fixtures.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::Trainer;

// Runs `action` at one hook of every training batch (begin_batch, after_pred
// or begin_optim), to look at the state the callbacks before it left.
class Probe : public train::CallbackBase<Probe> {
 public:
  using Action = std::function<void(Trainer&)>;
  Action on_begin_batch, on_after_pred, on_begin_optim;
  void begin_batch(Trainer& t) override {
    if (on_begin_batch && t.stage == train::Stage::train) on_begin_batch(t);
  }
  void after_pred(Trainer& t) override {
    if (on_after_pred) on_after_pred(t);
  }
  void begin_optim(Trainer& t) override {
    if (on_begin_optim) on_begin_optim(t);
  }
};

// The 2-norm of all gradients of the optimizer's parameters, in float64.
double grad_norm(const optim::Optimizer& optimizer) {
  double sum = 0;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params) {
      for (double g : values(p.grad())) sum += g * g;
    }
  }
  return std::sqrt(sum);
}

// Same names, shapes, dtypes and values (float to double is exact, so equal
// doubles are equal bits, NaN aside).
void expect_same_dict(const TensorDict& actual, const TensorDict& expected) {
  ASSERT_EQ(actual.keys(), expected.keys());
  for (const auto& [name, tensor] : expected) {
    SCOPED_TRACE(name);
    const Tensor& other = actual.at(name);
    EXPECT_EQ(other.dtype(), tensor.dtype());
    EXPECT_EQ(other.shape(), tensor.shape());
    EXPECT_EQ(values(other), values(tensor));
  }
}

TensorDict copy_of(const TensorDict& dict) {
  TensorDict out;
  for (const auto& [name, tensor] : dict) out.insert(name, tensor.clone());
  return out;
}

// ---------------------------------------------------------------------------
// DeviceCallback / CudaCallback
// ---------------------------------------------------------------------------

TEST(DeviceCallback, OnTheCpuMovesBatchesAndTrainsAsWithout) {
  const auto data = regression_data(32);
  TinySetup plain, moved;
  auto loader = loader_of(data, 8);
  plain.trainer().fit(2, *loader);
  auto device = std::make_shared<train::DeviceCallback>(kCPU);
  auto probe = std::make_shared<Probe>();
  int seen = 0;
  probe->on_after_pred = [&](Trainer& t) {
    EXPECT_EQ(t.x.device(), kCPU);
    EXPECT_EQ(t.y.device(), kCPU);
    ++seen;
  };
  moved.trainer({device, probe}).fit(2, *loader);
  EXPECT_EQ(seen, 8);
  expect_same_dict(moved.model->state_dict(), plain.model->state_dict());
  EXPECT_EQ(device->device(), kCPU);
  EXPECT_TRUE(device->move_y());
}

TEST(DeviceCallback, WithoutMoveYThePredictionComesBackToTheHost) {
  TinySetup setup;
  auto loader = loader_of(regression_data(16), 8);
  auto device = std::make_shared<train::DeviceCallback>(kCPU, /*move_y=*/false);
  auto probe = std::make_shared<Probe>();
  int seen = 0;
  probe->on_after_pred = [&](Trainer& t) {
    EXPECT_EQ(t.y_pred.device(), kCPU);
    ++seen;
  };
  auto trainer = setup.trainer({device, probe});
  EXPECT_TRUE(std::isfinite(trainer.eval(*loader)));
  EXPECT_EQ(seen, 2);
  // Predict batches have no y: nothing to move, no error.
  auto x_only = loader_of(std::make_shared<train::TensorDataset>(randn({4, 3})), 2);
  EXPECT_EQ(trainer.predict(*x_only).shape(), (Shape{4, 1}));
}

TEST(DeviceCallback, CudaWithoutTheCudaBackendIsAClearError) {
  if (cuda_is_built()) GTEST_SKIP() << "this build has the CUDA backend";
  EXPECT_ERROR(train::DeviceCallback(Device(DeviceType::CUDA, 0)),
               "DeviceCallback: device cuda:0 requested, but this build of Toadstool has no CUDA "
               "backend");
  EXPECT_ERROR(train::CudaCallback(), "CudaCallback: device cuda:0 requested");
  EXPECT_ERROR(train::CudaCallback(Device("cuda:1"), false), "device cuda:1 requested");
}

TEST(DeviceCallback, CudaWithoutAGpuIsAClearError) {
  if (!cuda_is_built() || cuda_is_available()) GTEST_SKIP() << "needs CUDA built and no GPU";
  EXPECT_ERROR(train::CudaCallback(), "CudaCallback: device cuda:0 requested, but no CUDA device");
}

TEST(DeviceCallback, CudaCallbackIsTheSameUnderItsOwnName) {
  TinySetup setup;
  auto cuda = std::make_shared<train::CudaCallback>(kCPU);
  EXPECT_EQ(cuda->name(), "CudaCallback");
  EXPECT_NE(dynamic_cast<train::DeviceCallback*>(cuda.get()), nullptr);
  const std::string text = setup.trainer({cuda}).describe();
  EXPECT_NE(text.find("0. CudaCallback: begin_fit, begin_batch, after_pred, begin_eval, "
                      "begin_predict"),
            std::string::npos)
      << text;
}

// ---------------------------------------------------------------------------
// GradClipCallback
// ---------------------------------------------------------------------------

TEST(GradClipCallback, ClipsTheGlobalNormBeforeEachStep) {
  TinySetup setup;
  auto loader = loader_of(regression_data(32), 8);
  auto before = std::make_shared<Probe>(), after = std::make_shared<Probe>();
  auto clip = std::make_shared<train::GradClipCallback>(0.25);
  std::vector<double> norms_before, norms_after;
  before->on_begin_optim = [&](Trainer& t) { norms_before.push_back(grad_norm(*t.optimizer)); };
  after->on_begin_optim = [&](Trainer& t) {
    norms_after.push_back(grad_norm(*t.optimizer));
    EXPECT_NEAR(clip->last_norm(), norms_before.back(), 1e-5 * norms_before.back());
  };
  EXPECT_TRUE(std::isnan(clip->last_norm()));
  setup.trainer({before, clip, after}).fit(2, *loader);
  ASSERT_EQ(norms_after.size(), 8u);
  for (size_t i = 0; i < norms_after.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_GT(norms_before[i], 0.25);  // this problem's gradients start large: clipping is active
    EXPECT_NEAR(norms_after[i], 0.25, 1e-5);
  }
}

TEST(GradClipCallback, ByValueClampsEveryElement) {
  TinySetup setup;
  auto loader = loader_of(regression_data(32), 8);
  auto clip = train::GradClipCallback::by_value(0.1);
  auto after = std::make_shared<Probe>();
  int steps = 0;
  bool some_clamped = false;
  after->on_begin_optim = [&](Trainer& t) {
    for (const auto& p : t.optimizer->param_groups().front().params) {
      for (double g : values(p.grad())) {
        EXPECT_LE(std::fabs(g), 0.1 + 1e-7);
        some_clamped = some_clamped || std::fabs(g) > 0.1 - 1e-7;
      }
    }
    ++steps;
  };
  setup.trainer({clip, after}).fit(1, *loader);
  EXPECT_EQ(steps, 4);
  EXPECT_TRUE(some_clamped);
  EXPECT_TRUE(clip->clips_by_value());
  EXPECT_EQ(clip->clip_value(), 0.1);
  EXPECT_TRUE(std::isnan(clip->last_norm()));
}

TEST(GradClipCallback, InfNormAndBadArguments) {
  TinySetup setup;
  auto loader = loader_of(regression_data(8), 8);
  auto before = std::make_shared<Probe>();
  auto clip = std::make_shared<train::GradClipCallback>(1e9, nn::kInfNorm);
  double largest = 0;
  before->on_begin_optim = [&](Trainer& t) {
    for (double g : values(t.optimizer->param_groups().front().params[0].grad())) {
      largest = std::max(largest, std::fabs(g));
    }
    for (double g : values(t.optimizer->param_groups().front().params[1].grad())) {
      largest = std::max(largest, std::fabs(g));
    }
  };
  setup.trainer({before, clip}).fit(1, *loader);
  EXPECT_NEAR(clip->last_norm(), largest, 1e-6 * largest);
  EXPECT_ERROR(train::GradClipCallback(-1), "GradClipCallback: max_norm must be >= 0, got -1");
  EXPECT_ERROR(train::GradClipCallback(1, -2), "GradClipCallback: norm_type must be > 0");
  EXPECT_ERROR(train::GradClipCallback::by_value(-0.5),
               "GradClipCallback::by_value: clip_value must be >= 0, got -0.5");
}

// ---------------------------------------------------------------------------
// LRSchedulerCallback
// ---------------------------------------------------------------------------

// The lr each training batch ran with (trainer.lr at begin_batch).
std::shared_ptr<Probe> lr_recorder(std::vector<double>& lrs) {
  auto probe = std::make_shared<Probe>();
  probe->on_begin_batch = [&lrs](Trainer& t) { lrs.push_back(t.lr); };
  return probe;
}

TEST(LRSchedulerCallback, StepsAfterEveryOptimizerStep) {
  TinySetup setup(3, 0.08);
  auto loader = loader_of(regression_data(32), 8);
  auto schedule = std::make_shared<optim::StepLR>(*setup.optimizer, 3, 0.5);
  std::vector<double> lrs;
  auto callback = std::make_shared<train::LRSchedulerCallback>(schedule);
  auto trainer = setup.trainer({callback, lr_recorder(lrs)});
  trainer.fit(2, *loader);
  // 8 steps: 3 at 0.08, 3 at 0.04, 2 at 0.02; the lr after the 8th is 0.01.
  EXPECT_EQ(lrs, (std::vector<double>{0.08, 0.08, 0.08, 0.04, 0.04, 0.04, 0.02, 0.02}));
  EXPECT_EQ(trainer.lr, 0.02);
  EXPECT_EQ(setup.optimizer->param_groups().front().lr(), 0.02);
  EXPECT_EQ(schedule->last_epoch(), 8);
  EXPECT_EQ(callback->on(), "step");
}

TEST(LRSchedulerCallback, WithAccumulationStepsOncePerWindow) {
  TinySetup setup(3, 0.08);
  auto loader = loader_of(regression_data(40), 8);  // 5 batches: windows of 2, 2, 1
  auto schedule = std::make_shared<optim::ExponentialLR>(*setup.optimizer, 0.5);
  std::vector<double> lrs;
  train::TrainerOptions options;
  options.accumulate = 2;
  setup.trainer({std::make_shared<train::LRSchedulerCallback>(schedule), lr_recorder(lrs)}, options)
      .fit(1, *loader);
  EXPECT_EQ(lrs, (std::vector<double>{0.08, 0.08, 0.04, 0.04, 0.02}));
  EXPECT_EQ(schedule->last_epoch(), 3);
}

TEST(LRSchedulerCallback, StepsAfterEveryEpoch) {
  TinySetup setup(3, 0.08);
  auto loader = loader_of(regression_data(16), 8);
  auto schedule = std::make_shared<optim::ExponentialLR>(*setup.optimizer, 0.5);
  std::vector<double> lrs;
  auto trainer = setup.trainer(
      {std::make_shared<train::LRSchedulerCallback>(schedule, "epoch"), lr_recorder(lrs)});
  trainer.fit(3, *loader);
  EXPECT_EQ(lrs, (std::vector<double>{0.08, 0.08, 0.04, 0.04, 0.02, 0.02}));
  EXPECT_EQ(trainer.lr, 0.01);
}

// Sets the trainer's score to a fixed value after validation.
class FixedScore : public train::CallbackBase<FixedScore> {
 public:
  explicit FixedScore(double value) : value_(value) {}
  void after_validate(Trainer& t) override { t.score = value_; }

 private:
  double value_;
};

TEST(LRSchedulerCallback, OnAMetricStepsAPlateauScheduleOncePerEpoch) {
  TinySetup setup(3, 0.08);
  auto loader = loader_of(regression_data(16), 8);
  auto valid = loader_of(regression_data(8, 3, 99), 8);
  optim::ReduceLROnPlateauOptions plateau_options;
  plateau_options.mode = "max";
  plateau_options.patience = 1;
  plateau_options.factor = 0.5;
  auto plateau = std::make_shared<optim::ReduceLROnPlateau>(*setup.optimizer, plateau_options);
  auto callback = std::make_shared<train::LRSchedulerCallback>(plateau, "score");
  std::vector<double> lrs;
  // A score that never improves: epoch 0 sets the best, epochs 1 and 2 are
  // bad, and the second bad one (> patience) halves the lr.
  setup.trainer({std::make_shared<FixedScore>(0.7), callback, lr_recorder(lrs)})
      .fit(4, *loader, valid.get());
  EXPECT_EQ(lrs, (std::vector<double>{0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.04, 0.04}));
  EXPECT_EQ(plateau->last_epoch(), 4);
  EXPECT_EQ(plateau->best(), 0.7);
  EXPECT_EQ(callback->on(), "metric");
  EXPECT_EQ(callback->monitor(), "score");
}

TEST(LRSchedulerCallback, OnTheTrainingLossAnEpochCancelledInTrainingDoesNotStep) {
  TinySetup setup(3, 0.01);
  auto loader = loader_of(regression_data(16), 8);
  auto plateau = std::make_shared<optim::ReduceLROnPlateau>(*setup.optimizer);
  auto cancel = std::make_shared<Probe>();
  cancel->on_begin_batch = [](Trainer& t) {
    if (t.epoch == 1 && t.batch == 1) throw train::CancelEpoch();
  };
  setup.trainer({cancel, std::make_shared<train::LRSchedulerCallback>(plateau, "train_loss")})
      .fit(3, *loader);
  EXPECT_EQ(plateau->last_epoch(), 2);  // epochs 0 and 2
  EXPECT_LT(plateau->best(), 1e9);
}

TEST(LRSchedulerCallback, StateIsTheScheduleStateAndResumes) {
  auto loader = loader_of(regression_data(32), 8);
  TinySetup first(3, 0.08);
  auto schedule = std::make_shared<optim::CosineAnnealingLR>(*first.optimizer, 10);
  auto callback = std::make_shared<train::LRSchedulerCallback>(schedule);
  first.trainer({callback}).fit(1, *loader);
  const TensorDict saved = callback->state_dict();
  expect_same_dict(saved, schedule->state_dict());
  EXPECT_EQ(saved.at("last_epoch").item<int64_t>(), 4);

  // A fresh set-up, its schedule rebuilt with the same arguments, then loaded.
  TinySetup second(3, 0.08);
  second.optimizer->load_state_dict(first.optimizer->state_dict());
  auto rebuilt = std::make_shared<optim::CosineAnnealingLR>(*second.optimizer, 10);
  auto resumed = std::make_shared<train::LRSchedulerCallback>(rebuilt);
  resumed->load_state_dict(saved);
  EXPECT_EQ(rebuilt->last_epoch(), 4);
  std::vector<double> lrs_first, lrs_second;
  first.trainer({callback, lr_recorder(lrs_first)}).fit(1, *loader);
  second.trainer({resumed, lr_recorder(lrs_second)}).fit(1, *loader);
  EXPECT_EQ(lrs_second, lrs_first);
  EXPECT_LT(lrs_first.back(), 0.08);

  TinySetup plateau_setup;
  auto plateau = std::make_shared<optim::ReduceLROnPlateau>(*plateau_setup.optimizer);
  plateau->step(3.0);
  train::LRSchedulerCallback plateau_callback(plateau);
  expect_same_dict(plateau_callback.state_dict(), plateau->state_dict());
}

TEST(LRSchedulerCallback, BadSetUpGivesClearErrors) {
  TinySetup setup, other;
  auto loader = loader_of(regression_data(16), 8);
  auto schedule = std::make_shared<optim::StepLR>(*setup.optimizer, 2);
  EXPECT_ERROR(train::LRSchedulerCallback(schedule, "metric"),
               "LRSchedulerCallback: on must be \"step\" or \"epoch\", got \"metric\"");
  EXPECT_ERROR(train::LRSchedulerCallback(std::shared_ptr<optim::LRScheduler>()),
               "LRSchedulerCallback: the schedule is null");
  auto plateau = std::make_shared<optim::ReduceLROnPlateau>(*setup.optimizer);
  EXPECT_ERROR(train::LRSchedulerCallback(plateau, "accuracy"),
               "monitor must be \"valid_loss\", \"train_loss\" or \"score\", got \"accuracy\"");
  // A schedule bound to another optimizer than the trainer's.
  auto foreign = std::make_shared<optim::StepLR>(*other.optimizer, 2);
  EXPECT_ERROR(
      setup.trainer({std::make_shared<train::LRSchedulerCallback>(foreign)}).fit(1, *loader),
      "LRSchedulerCallback: the schedule was built on another optimizer");
  // A validation metric without validation.
  EXPECT_ERROR(
      setup.trainer({std::make_shared<train::LRSchedulerCallback>(plateau)}).fit(1, *loader),
      "monitors valid_loss, which needs a validation loader");
  // A score nobody sets.
  EXPECT_ERROR(setup.trainer({std::make_shared<train::LRSchedulerCallback>(plateau, "score")})
                   .fit(1, *loader, loader.get()),
               "the monitored score is NaN at epoch 0 (does a metric callback");
}

// ---------------------------------------------------------------------------
// LRFinderCallback
// ---------------------------------------------------------------------------

train::LRFinderOptions quiet(train::LRFinderOptions options = {}) {
  options.verbose = false;
  return options;
}

double expected_lr(const train::LRFinderOptions& o, double i) {
  return o.min_lr * std::pow(o.max_lr / o.min_lr, i / static_cast<double>(o.max_iter - 1));
}

std::vector<std::string> lines_of_file(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// SGD with momentum over TinySetup's model, trained one epoch so that the
// optimizer has state to restore.
struct FinderSetup : TinySetup {
  FinderSetup() {
    optimizer = std::make_shared<optim::SGD>(model->parameters(),
                                             optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
    auto warm_up = loader_of(regression_data(16, 3, 5), 8);
    trainer().fit(1, *warm_up);
  }
};

TEST(LRFinderCallback, SweepsStopsOnDivergenceSuggestsAndRestoresEverything) {
  TempDir dir;
  FinderSetup setup;
  // Full batches: the curve shows the lr's effect, not the noise between batches.
  auto loader = loader_of(regression_data(64), 64);
  const TensorDict model_before = copy_of(setup.model->state_dict());
  const TensorDict optimizer_before = setup.optimizer->state_dict();
  const auto generator_before = default_generator().state();
  auto o = quiet();
  o.min_lr = 1e-6;
  o.csv_path = dir.file("lr.csv");
  auto finder = std::make_shared<train::LRFinderCallback>(o);
  auto draws = std::make_shared<Probe>();  // as dropout would: the default generator moves
  draws->on_begin_batch = [](Trainer&) { randn({4}); };
  auto trainer = setup.trainer({finder, draws});
  trainer.fit(100, *loader);

  const auto& history = finder->history();
  // Plain SGD on this least-squares problem diverges for lrs above ~1 (the
  // loss Hessian is about 2 I), well before max_lr = 10.
  EXPECT_TRUE(finder->diverged());
  ASSERT_LT(history.size(), 100u);
  ASSERT_GT(history.size(), 50u);
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_NEAR(history[i].lr, expected_lr(o, static_cast<double>(i)), 1e-12 * history[i].lr);
  }
  EXPECT_NEAR(history[0].smoothed_loss, history[0].loss, 1e-12 * history[0].loss);  // debiased
  double best = history[0].smoothed_loss;
  size_t falling = history.size();  // the first point 5% below the start
  for (size_t i = 0; i < history.size(); ++i) {
    best = std::min(best, history[i].smoothed_loss);
    if (falling == history.size() && history[i].smoothed_loss < 0.95 * history[0].smoothed_loss) {
      falling = i;
    }
  }
  EXPECT_GT(history.back().smoothed_loss, 10 * best);  // it stopped on divergence
  ASSERT_LT(falling, history.size());

  // The suggestion: on the falling part of the curve, before divergence.
  ASSERT_TRUE(finder->suggested_lr().has_value());
  const size_t at = finder->suggested_index().value_or(0);
  EXPECT_EQ(finder->suggested_lr().value_or(0), history[at].lr);
  EXPECT_LT(history[at + 1].smoothed_loss, history[at].smoothed_loss);
  EXPECT_GE(at + 3, falling);  // central differences see the fall a point or two early
  EXPECT_LT(at, history.size() - 5);
  EXPECT_GT(history[at].lr, 1e-4);
  EXPECT_LT(history[at].lr, history.back().lr / 10);  // well before the divergence

  // Model, optimizer (lr included) and generator as they were.
  expect_same_dict(setup.model->state_dict(), model_before);
  expect_same_dict(setup.optimizer->state_dict(), optimizer_before);
  EXPECT_EQ(setup.optimizer->param_groups().front().lr(), 0.01);
  EXPECT_EQ(trainer.lr, 0.01);
  EXPECT_EQ(default_generator().state().offset, generator_before.offset);
  EXPECT_TRUE(trainer.options.check_finite_loss);

  // The CSV: a header and one row per point.
  const auto lines = lines_of_file(o.csv_path);
  ASSERT_EQ(lines.size(), history.size() + 1);
  EXPECT_EQ(lines[0], "lr,loss,smoothed_loss");
  double lr = 0, loss = 0, smoothed = 0;
  ASSERT_EQ(std::sscanf(lines[5].c_str(), "%lf,%lf,%lf", &lr, &loss, &smoothed), 3);
  EXPECT_EQ(lr, history[4].lr);
  EXPECT_EQ(loss, history[4].loss);
  EXPECT_EQ(smoothed, history[4].smoothed_loss);
}

TEST(LRFinderCallback, WithoutDivergenceStopsAfterMaxIter) {
  TempDir dir;
  FinderSetup setup;
  auto loader = loader_of(regression_data(24), 8);  // 3 batches an epoch
  auto o = quiet();
  o.max_lr = 1e-3;
  o.max_iter = 20;
  o.csv_path = dir.file("curve.csv");
  auto finder = std::make_shared<train::LRFinderCallback>(o);
  auto trainer = setup.trainer({finder});
  trainer.fit(50, *loader);
  EXPECT_FALSE(finder->diverged());
  ASSERT_EQ(finder->history().size(), 20u);
  EXPECT_DOUBLE_EQ(finder->history().back().lr, 1e-3);
  EXPECT_EQ(trainer.epoch, 6);  // stopped in the 7th epoch, at its 2nd batch
  EXPECT_EQ(lines_of_file(o.csv_path).size(), 21u);
}

// A loss that ignores the model and returns the next value of a script (plus
// 0 * the prediction, so that backward has a graph).
train::LossFn scripted_loss(std::vector<double> script) {
  auto next = std::make_shared<size_t>(0);
  return [script = std::move(script), next](const Tensor& y_pred, const Tensor&) {
    const double value = script.at((*next)++);
    return y_pred.sum() * 0.0 + value;
  };
}

TEST(LRFinderCallback, SuggestsTheSteepestDescentAtTheRightIndex) {
  // Unsmoothed, so the curve is the script: a drop inside the skipped start
  // (ignored), flat, then the steepest fall between points 33 and 35.
  std::vector<double> script(50, 4.5);
  for (size_t i = 0; i < 34; ++i) script[i] = i < 3 ? 100 : 10;
  script[34] = 9;
  script[35] = 5;
  // np.gradient: g33 = -0.5, g34 = -2.5, g35 = -2.25, g36 = -0.25.
  TinySetup setup;
  auto o = quiet();
  o.max_iter = 50;
  o.smoothing = 1;
  auto finder = std::make_shared<train::LRFinderCallback>(o);
  auto loader = loader_of(regression_data(80), 8);
  Trainer(setup.model, setup.optimizer, scripted_loss(script), {finder}).fit(5, *loader);
  ASSERT_EQ(finder->history().size(), 50u);
  EXPECT_FALSE(finder->diverged());  // 100 -> 10 is a fall, not a divergence
  EXPECT_EQ(finder->suggested_index().value_or(0), 34u);
  EXPECT_EQ(finder->suggested_lr().value_or(0), finder->history()[34].lr);
  EXPECT_NEAR(finder->suggested_lr().value_or(0), expected_lr(o, 34), 1e-12);
}

TEST(LRFinderCallback, StopsOnDivergenceAndOnANonFiniteLoss) {
  TinySetup setup;
  auto loader = loader_of(regression_data(80), 8);
  auto o = quiet();
  o.smoothing = 1;
  std::vector<double> script(100, 1.0);
  script[25] = 10.5;  // > 10 x the best
  auto finder = std::make_shared<train::LRFinderCallback>(o);
  Trainer(setup.model, setup.optimizer, scripted_loss(script), {finder}).fit(20, *loader);
  EXPECT_TRUE(finder->diverged());
  EXPECT_EQ(finder->history().size(), 26u);
  EXPECT_TRUE(finder->suggested_lr().has_value());

  // A NaN loss: no Error from the trainer's finite-loss check, the sweep stops.
  script.assign(100, 1.0);
  script[5] = std::numeric_limits<double>::quiet_NaN();
  auto nan_finder = std::make_shared<train::LRFinderCallback>(o);
  Trainer trainer(setup.model, setup.optimizer, scripted_loss(script), {nan_finder});
  trainer.fit(20, *loader);
  EXPECT_TRUE(nan_finder->diverged());
  EXPECT_EQ(nan_finder->history().size(), 6u);
  EXPECT_TRUE(trainer.options.check_finite_loss);
  // 6 points leave none after skipping 10 + 5.
  EXPECT_FALSE(nan_finder->suggested_lr().has_value());
}

TEST(LRFinderCallback, BadOptionsGiveClearErrors) {
  const auto with = [](const std::function<void(train::LRFinderOptions&)>& change) {
    train::LRFinderOptions o;
    change(o);
    return train::LRFinderCallback(o);
  };
  EXPECT_ERROR(with([](auto& o) { o.min_lr = 0; }),
               "LRFinderCallback: need 0 < min_lr < max_lr, got min_lr 0, max_lr 10");
  EXPECT_ERROR(with([](auto& o) { o.max_lr = 1e-8; }), "need 0 < min_lr < max_lr");
  EXPECT_ERROR(with([](auto& o) { o.max_iter = 1; }), "max_iter must be >= 2, got 1");
  EXPECT_ERROR(with([](auto& o) { o.smoothing = 0; }), "smoothing must be in (0, 1], got 0");
  EXPECT_ERROR(with([](auto& o) { o.diverge_factor = 1; }), "diverge_factor must be > 1");
  EXPECT_ERROR(with([](auto& o) { o.skip_end = -1; }), "skip_start and skip_end must be >= 0");
}

}  // namespace
}  // namespace toadstool::testing
