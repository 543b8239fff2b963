// EarlyStopping: stops exactly after `patience` epochs without improvement,
// min_delta, mode, ties on the score broken by the validation loss, the best
// weights restored at the end (not after a cancel), and resuming with
// CheckpointCallback.
#include <gtest/gtest.h>

#include <limits>

#include "checkpoint_fixtures.h"
#include "temp_dir.h"
#include "test_util.h"

namespace toadstool::testing {
namespace {

using train::EarlyStopping;
using train::EarlyStoppingOptions;
using train::Trainer;

// Copies the weights and the validation loss of every epoch.
class WeightsLog : public train::CallbackBase<WeightsLog> {
 public:
  std::vector<TensorDict> weights;
  std::vector<double> valid_losses;
  void after_epoch(Trainer& t) override {
    TensorDict copy;
    for (const auto& [name, tensor] : t.model->state_dict()) copy.insert(name, tensor.clone());
    weights.push_back(copy);
    valid_losses.push_back(t.valid_loss());
  }
};

bool same_weights(const TensorDict& a, const nn::Module& model) {
  const TensorDict b = model.state_dict();
  if (a.keys() != b.keys()) return false;
  for (const auto& [name, t] : a) {
    if (values(t) != values(b.at(name))) return false;
  }
  return true;
}

EarlyStoppingOptions quiet(EarlyStoppingOptions options) {
  options.verbose = false;
  return options;
}

struct StopRun {
  DropoutRun run;
  std::shared_ptr<EarlyStopping> stopping;
  std::shared_ptr<WeightsLog> log = std::make_shared<WeightsLog>();
  int64_t epochs_run = 0;

  StopRun(std::vector<double> scores, EarlyStoppingOptions options, int64_t epochs = 10) {
    stopping = std::make_shared<EarlyStopping>(quiet(options));
    auto trainer = run.trainer({std::make_shared<ScriptedScore>(std::move(scores)), log, stopping});
    run.fit(trainer, epochs);
    epochs_run = static_cast<int64_t>(log->weights.size());
    EXPECT_EQ(trainer.epoch, epochs_run);
  }
};

TEST(EarlyStopping, StopsExactlyAfterPatienceEpochsWithoutImprovement) {
  // Best at epoch 1; epochs 2 and 3 do not improve: with patience 2 the fit
  // stops after epoch 3 (not one epoch later).
  StopRun r({0.5, 0.6, 0.55, 0.58, 0.9, 0.9}, {.patience = 2});
  EXPECT_EQ(r.epochs_run, 4);
  EXPECT_EQ(r.stopping->stopped_epoch(), 3);
  EXPECT_EQ(r.stopping->best_epoch(), 1);
  EXPECT_EQ(r.stopping->best_value(), 0.6);
  EXPECT_EQ(r.stopping->monitor(), train::Monitor::score);
}

TEST(EarlyStopping, PatienceZeroStopsAtTheFirstEpochWithoutImprovement) {
  StopRun r({0.5, 0.7, 0.6, 0.9}, {.patience = 0});
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_EQ(r.stopping->stopped_epoch(), 2);
}

TEST(EarlyStopping, AnImprovementResetsTheCount) {
  StopRun r({0.5, 0.4, 0.6, 0.5, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1}, {.patience = 2});
  // 0.6 at epoch 2 resets; 0.7 at epoch 4 resets; epochs 5, 6 do not: stop after 6.
  EXPECT_EQ(r.epochs_run, 7);
  EXPECT_EQ(r.stopping->best_epoch(), 4);
}

TEST(EarlyStopping, RunsEveryEpochWhenItKeepsImproving) {
  StopRun r({0.1, 0.2, 0.3, 0.4}, {.patience = 0}, 4);
  EXPECT_EQ(r.epochs_run, 4);
  EXPECT_EQ(r.stopping->stopped_epoch(), -1);
}

TEST(EarlyStopping, MinDelta) {
  // +0.05 is not more than min_delta 0.1: no improvement.
  StopRun r({0.5, 0.55, 0.7, 0.75}, {.patience = 0, .min_delta = 0.1});
  EXPECT_EQ(r.epochs_run, 2);
  EXPECT_EQ(r.stopping->best_epoch(), 0);
}

TEST(EarlyStopping, ModeMinOnTheScore) {
  StopRun r({0.5, 0.4, 0.45, 0.3}, {.monitor = "score", .mode = "min", .patience = 0});
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_EQ(r.stopping->best_epoch(), 1);
}

TEST(EarlyStopping, ValidLossIsTheDefaultWithoutAScore) {
  DropoutRun run;
  auto stopping = std::make_shared<EarlyStopping>(quiet({.patience = 100}));
  auto trainer = run.trainer({stopping});
  run.fit(trainer, 2);
  EXPECT_EQ(stopping->monitor(), train::Monitor::valid_loss);
}

TEST(EarlyStopping, ATieOnTheScoreIsBrokenByTheValidationLoss) {
  // The same score every epoch: with patience 0 only a lower validation loss
  // counts as an improvement.
  DropoutRun run;
  run.optimizer =
      std::make_shared<optim::SGD>(run.model->parameters(), optim::SGDOptions{.lr = 0.01});
  auto log = std::make_shared<WeightsLog>();
  auto stopping = std::make_shared<EarlyStopping>(quiet({.patience = 0}));
  auto trainer =
      run.trainer({std::make_shared<ScriptedScore>(std::vector<double>(8, 0.5)), log, stopping});
  run.fit(trainer, 8);
  const auto& losses = log->valid_losses;
  // Where the validation loss first fails to go down, the fit stopped.
  size_t first_worse = 1;
  while (first_worse < losses.size() && losses[first_worse] < losses[first_worse - 1]) {
    ++first_worse;
  }
  ASSERT_GE(first_worse, 2u) << "the premise needs at least one tie won on the loss";
  EXPECT_EQ(stopping->best_epoch(), static_cast<int64_t>(first_worse) - 1);
  if (first_worse < 8) {
    EXPECT_EQ(stopping->stopped_epoch(), static_cast<int64_t>(first_worse));
  }

  // The rule itself.
  const train::MonitoredComparison score("score", "auto", 0, "test");
  EXPECT_TRUE(score.improves({0.5, 0.1}, {0.5, 0.2}));
  EXPECT_FALSE(score.improves({0.5, 0.2}, {0.5, 0.2}));
  EXPECT_FALSE(score.improves({0.5, 0.3}, {0.5, 0.2}));
  EXPECT_FALSE(score.improves({0.4, 0.0}, {0.5, 0.2}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(score.improves({0.5, nan}, {0.5, nan}));
  // A tie on a loss is not an improvement.
  const train::MonitoredComparison loss("valid_loss", "auto", 0, "test");
  EXPECT_FALSE(loss.improves({0.5, 0.1}, {0.5, 0.2}));
  EXPECT_TRUE(loss.improves({0.4, 0.5}, {0.5, 0.2}));
}

TEST(EarlyStopping, RestoresTheBestWeightsAtTheEnd) {
  StopRun r({0.5, 0.9, 0.6, 0.7, 0.8}, {.patience = 3});
  ASSERT_EQ(r.epochs_run, 5);
  EXPECT_EQ(r.stopping->best_epoch(), 1);
  EXPECT_TRUE(same_weights(r.log->weights[1], *r.run.model));
  EXPECT_FALSE(same_weights(r.log->weights[4], *r.run.model));  // the test could fail
}

TEST(EarlyStopping, RestoresTheBestWeightsWhenAllEpochsRan) {
  StopRun r({0.5, 0.9, 0.6}, {.patience = 5}, 3);
  ASSERT_EQ(r.epochs_run, 3);
  EXPECT_TRUE(same_weights(r.log->weights[1], *r.run.model));
}

TEST(EarlyStopping, KeepsTheLastWeightsWhenAsked) {
  StopRun r({0.5, 0.9, 0.6}, {.patience = 5, .restore_best_weights = false}, 3);
  EXPECT_TRUE(same_weights(r.log->weights[2], *r.run.model));
  EXPECT_EQ(r.stopping->state_dict().size(), 7u);  // no copy of the weights
}

TEST(EarlyStopping, KeepsTheLastWeightsAfterACancel) {
  DropoutRun run;
  auto log = std::make_shared<WeightsLog>();
  auto stopping = std::make_shared<EarlyStopping>(quiet({.patience = 5}));
  auto trainer = run.trainer(
      {std::make_shared<ScriptedScore>(std::vector<double>{0.5, 0.9, 0.6, 0.7}), log, stopping,
       std::make_shared<ActAtBatch>(3, 0, [](Trainer&) { throw train::CancelTraining(); })});
  run.fit(trainer, 4);
  ASSERT_EQ(log->weights.size(), 3u);
  EXPECT_TRUE(same_weights(log->weights[2], *run.model));
}

TEST(EarlyStopping, BadOptionsAndMissingValues) {
  EXPECT_ERROR((void)EarlyStopping(quiet({.patience = -1})), "patience must be >= 0");
  EXPECT_ERROR((void)EarlyStopping(quiet({.monitor = "accuracy"})), "monitor must be");
  EXPECT_ERROR((void)EarlyStopping(quiet({.mode = "up"})), "mode must be");
  EXPECT_ERROR((void)EarlyStopping(quiet({.min_delta = -0.1})), "min_delta must be");
  // The score monitored, but no metric sets it.
  DropoutRun run;
  auto trainer = run.trainer({std::make_shared<EarlyStopping>(quiet({.monitor = "score"}))});
  EXPECT_ERROR(run.fit(trainer, 1), "\"score\" is NaN");
}

TEST(EarlyStopping, StateRoundTripAndBadState) {
  StopRun r({0.5, 0.9, 0.6}, {.patience = 5}, 3);
  const TensorDict state = r.stopping->state_dict();
  EarlyStopping other(quiet({.patience = 5}));
  other.load_state_dict(state);
  EXPECT_EQ(other.best_epoch(), 1);
  EXPECT_EQ(other.wait(), 1);
  EXPECT_EQ(other.best_value(), 0.9);
  EXPECT_EQ(other.monitor(), train::Monitor::score);
  EXPECT_ERROR(other.load_state_dict(TensorDict()), "EarlyStopping.load_state_dict");
  EarlyStopping on_loss(quiet({.monitor = "valid_loss"}));
  EXPECT_ERROR(on_loss.load_state_dict(state), "saved state monitors \"score\"");
}

// Issue 18, D8: counters of 1e300 or NaN went through float-to-int casts;
// each is now an Error naming the entry, and nothing changes.
TEST(EarlyStopping, RestoredCountersAreRangeChecked) {
  StopRun r({0.5, 0.9, 0.6}, {.patience = 5}, 3);
  const TensorDict state = r.stopping->state_dict();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const char* key : {"wait", "stopped_epoch", "best_epoch", "monitor", "has_best"}) {
    for (double bad : {1e300, nan, -2.0, 0.5}) {
      SCOPED_TRACE(std::string(key) + " = " + std::to_string(bad));
      TensorDict edited = state;
      edited.set(key, scalar_tensor(bad, kFloat64));
      EarlyStopping other(quiet({.patience = 5}));
      EXPECT_ERROR(other.load_state_dict(edited),
                   (std::vector<std::string>{"EarlyStopping.load_state_dict", key,
                                             "should be a whole number"}));
      EXPECT_EQ(other.wait(), 0);
      EXPECT_EQ(other.best_epoch(), -1);
    }
  }
}

// 3 epochs, a checkpoint, then a new run resumes to 10: it stops at the
// same epoch, with the same weights, as one run of 10 epochs.
TEST(EarlyStopping, ResumesWithCheckpointCallback) {
  const std::vector<double> scores = {0.5, 0.9, 0.6, 0.95, 0.8, 0.97, 0.1, 0.1, 0.1, 0.1};
  const auto make = [&](DropoutRun& run, const std::string& dir, bool resume,
                        std::shared_ptr<EarlyStopping>& stopping) {
    stopping = std::make_shared<EarlyStopping>(quiet({.patience = 2}));
    train::CheckpointOptions options;
    options.resume = resume;
    options.verbose = false;
    return run.trainer({std::make_shared<ScriptedScore>(scores), stopping,
                        std::make_shared<train::CheckpointCallback>(dir, options)});
  };
  TempDir straight_dir, dir;
  DropoutRun straight;
  std::shared_ptr<EarlyStopping> straight_stop;
  auto straight_trainer = make(straight, straight_dir.path(), false, straight_stop);
  straight.fit(straight_trainer, 10);
  ASSERT_EQ(straight_stop->stopped_epoch(), 7);

  {
    DropoutRun first;
    std::shared_ptr<EarlyStopping> stop;
    auto trainer = make(first, dir.path(), false, stop);
    first.fit(trainer, 3);
  }
  DropoutRun second;
  std::shared_ptr<EarlyStopping> stop;
  auto trainer = make(second, dir.path(), true, stop);
  second.fit(trainer, 10);
  EXPECT_EQ(stop->stopped_epoch(), 7);
  EXPECT_EQ(stop->best_epoch(), 5);
  EXPECT_EQ(trainer.epoch, 8);
  const auto a = second.model->state_dict(), b = straight.model->state_dict();
  for (const auto& [name, t] : a) EXPECT_EQ(values(t), values(b.at(name))) << name;
}

}  // namespace
}  // namespace toadstool::testing
