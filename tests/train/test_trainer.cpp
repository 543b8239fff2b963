// Trainer: the hook sequence of fit / eval / predict, accumulation, the
// control-flow exceptions, Ctrl-C, describe() and bad input.
#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "test_util.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::Trainer;
using Events = std::vector<std::string>;

// The events of one training batch; `step` adds the optimizer step.
void add_train_batch(Events& e, bool step) {
  for (const char* h : {"begin_batch", "after_pred", "after_loss", "after_backward"}) {
    e.push_back(std::string(h) + ":train");
  }
  if (step) {
    e.emplace_back("begin_optim:train");
    e.emplace_back("after_step:train");
  }
  e.emplace_back("after_batch:train");
}

// The events of one training epoch of `batches` batches, each stepping.
void add_train_epoch(Events& e, int batches) {
  e.emplace_back("begin_epoch");
  e.emplace_back("all_batches:train");
  for (int b = 0; b < batches; ++b) add_train_batch(e, true);
  e.emplace_back("after_epoch");
}

void add_eval_batches(Events& e, const std::string& stage, int batches) {
  e.push_back("all_batches:" + stage);
  for (int b = 0; b < batches; ++b) {
    for (const char* h : {"begin_batch", "after_pred", "after_loss", "after_batch"}) {
      e.push_back(std::string(h) + ":" + stage);
    }
  }
}

// A callback that runs `action` at one hook of one (epoch, batch).
class ActionAt : public train::CallbackBase<ActionAt> {
 public:
  ActionAt(std::string hook, int64_t epoch, int64_t batch, std::function<void(Trainer&)> action)
      : hook_(std::move(hook)), epoch_(epoch), batch_(batch), action_(std::move(action)) {}
  void begin_epoch(Trainer& t) override { maybe("begin_epoch", t); }
  void begin_batch(Trainer& t) override { maybe("begin_batch", t); }
  void after_loss(Trainer& t) override { maybe("after_loss", t); }
  void after_backward(Trainer& t) override { maybe("after_backward", t); }
  void after_batch(Trainer& t) override { maybe("after_batch", t); }
  void begin_validate(Trainer& t) override { maybe("begin_validate", t); }
  void after_epoch(Trainer& t) override { maybe("after_epoch", t); }

 private:
  void maybe(const char* hook, Trainer& t) {
    // epoch or batch -1: every one.
    if (hook_ == hook && (epoch_ < 0 || t.epoch == epoch_) && (batch_ < 0 || t.batch == batch_)) {
      action_(t);
    }
  }
  std::string hook_;
  int64_t epoch_, batch_;
  std::function<void(Trainer&)> action_;
};

TEST(Trainer, FitHookSequenceWithoutValidation) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto trainer = setup.trainer({recorder});
  auto train_loader = loader_of(regression_data(6), 3);  // 2 batches
  trainer.fit(2, *train_loader);

  Events expected = {"begin_fit"};
  add_train_epoch(expected, 2);
  add_train_epoch(expected, 2);
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_EQ(trainer.step, 4);
  EXPECT_EQ(trainer.epoch, 2);
  EXPECT_EQ(trainer.stage, train::Stage::idle);
}

TEST(Trainer, FitHookSequenceWithValidation) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto trainer = setup.trainer({recorder});
  auto train_loader = loader_of(regression_data(4), 2);
  auto valid_loader = loader_of(regression_data(5, 3, 8), 2);  // 3 batches
  trainer.fit(1, *train_loader, valid_loader.get());

  Events expected = {"begin_fit", "begin_epoch", "all_batches:train"};
  add_train_batch(expected, true);
  add_train_batch(expected, true);
  expected.emplace_back("begin_validate");
  add_eval_batches(expected, "validate", 3);
  expected.emplace_back("after_validate");
  expected.emplace_back("after_epoch");
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_TRUE(std::isfinite(trainer.train_loss()));
  EXPECT_TRUE(std::isfinite(trainer.valid_loss()));
}

TEST(Trainer, CallbacksRunInListOrder) {
  TinySetup setup;
  std::vector<std::string> order;
  struct Named : train::CallbackBase<Named> {
    Named(std::string n, std::vector<std::string>& o) : name_(std::move(n)), order(o) {}
    void begin_fit(Trainer&) override { order.push_back(name_); }
    std::string name_;
    std::vector<std::string>& order;
  };
  auto trainer =
      setup.trainer({std::make_shared<Named>("a", order), std::make_shared<Named>("b", order),
                     std::make_shared<Named>("c", order)});
  auto train_loader = loader_of(regression_data(2), 2);
  trainer.fit(1, *train_loader);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Trainer, AccumulationStepsEveryKBatchesAndTheLastPartialWindow) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  train::TrainerOptions options;
  options.accumulate = 2;
  auto trainer = setup.trainer({recorder}, options);
  auto train_loader = loader_of(regression_data(5), 1);  // 5 batches: windows 2, 2, 1
  trainer.fit(1, *train_loader);

  Events expected = {"begin_fit", "begin_epoch", "all_batches:train"};
  for (int b = 0; b < 5; ++b) add_train_batch(expected, b == 1 || b == 3 || b == 4);
  expected.emplace_back("after_epoch");
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_EQ(trainer.step, 3);
}

// Accumulating k batches of size b equals one batch of size k * b (mean
// losses); the last partial window equals one batch of its real size.
TEST(Trainer, AccumulationEqualsALargerBatch) {
  const auto data = regression_data(10);
  const auto train_with = [&](int64_t batch_size, int64_t accumulate) {
    TinySetup setup;
    train::TrainerOptions options;
    options.accumulate = accumulate;
    auto trainer = setup.trainer({}, options);
    auto train_loader = loader_of(data, batch_size);
    trainer.fit(1, *train_loader);
    return setup.model->state_dict();
  };
  // 10 examples: batches of 2 in windows of 2 -> steps on 4, 4, 2 examples,
  // the same as batches of 4 (4, 4, 2).
  const TensorDict accumulated = train_with(2, 2);
  const TensorDict large = train_with(4, 1);
  for (const auto& [name, tensor] : large) expect_close(accumulated.at(name), tensor, 1e-5, 1e-6);
  // And different from not accumulating at all (the test can fail).
  const TensorDict small = train_with(2, 1);
  EXPECT_GT(max(abs(small.at("weight") - large.at("weight"))).item<double>(), 1e-4);
}

TEST(Trainer, ValidationRunsWithoutGradientsInEvalModeAndRestoresTheMode) {
  TinySetup setup;
  bool checked = false;
  auto probe = std::make_shared<ActionAt>("begin_batch", 0, 0, [&](Trainer& t) {
    if (t.stage != train::Stage::validate) {
      EXPECT_TRUE(t.model->is_training());
      EXPECT_TRUE(autograd::is_grad_enabled());
      return;
    }
    EXPECT_FALSE(t.model->is_training());
    EXPECT_FALSE(autograd::is_grad_enabled());
    checked = true;
  });
  auto trainer = setup.trainer({probe});
  auto train_loader = loader_of(regression_data(4), 2);
  auto valid_loader = loader_of(regression_data(4), 2);
  trainer.fit(1, *train_loader, valid_loader.get());
  EXPECT_TRUE(checked);
  EXPECT_TRUE(setup.model->is_training());
  EXPECT_TRUE(autograd::is_grad_enabled());

  setup.model->eval();  // eval() and predict() restore whichever mode it was
  trainer.eval(*valid_loader);
  EXPECT_FALSE(setup.model->is_training());
}

TEST(Trainer, CancelBatchSkipsTheRestOfTheBatch) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto cancel =
      std::make_shared<ActionAt>("after_loss", 0, 1, [](Trainer&) { throw train::CancelBatch(); });
  auto trainer = setup.trainer({cancel, recorder});
  auto train_loader = loader_of(regression_data(6), 2);  // 3 batches
  trainer.fit(1, *train_loader);

  Events expected = {"begin_fit", "begin_epoch", "all_batches:train"};
  add_train_batch(expected, true);
  // Batch 1: the recorder (after the canceller in the list) never sees its after_loss.
  expected.emplace_back("begin_batch:train");
  expected.emplace_back("after_pred:train");
  expected.emplace_back("after_batch:train");
  add_train_batch(expected, true);
  expected.emplace_back("after_epoch");
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_EQ(trainer.step, 2);
}

TEST(Trainer, CancelBatchAfterBackwardDropsItsGradients) {
  TinySetup setup;
  auto cancel = std::make_shared<ActionAt>("after_backward", 0, -1,
                                           [](Trainer&) { throw train::CancelBatch(); });
  const TensorDict before = [&] {
    TensorDict copy;
    for (const auto& [name, t] : setup.model->state_dict()) copy.insert(name, t.clone());
    return copy;
  }();
  auto trainer = setup.trainer({cancel});
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(1, *train_loader);
  EXPECT_EQ(trainer.step, 0);
  for (const auto& [name, t] : before) expect_close(setup.model->state_dict().at(name), t, 0, 0);
  for (const auto& p : setup.model->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Trainer, CancelEpochSkipsTheRestOfTheEpochAndItsValidation) {
  TinySetup setup;
  auto cancel =
      std::make_shared<ActionAt>("after_batch", 0, 0, [](Trainer&) { throw train::CancelEpoch(); });
  auto recorder = std::make_shared<RecordingCallback>();
  std::vector<double> epoch_losses;
  auto losses = std::make_shared<ActionAt>(
      "after_epoch", -1, -1, [&](Trainer& t) { epoch_losses.push_back(t.train_loss()); });
  auto trainer = setup.trainer({recorder, cancel, losses});
  auto train_loader = loader_of(regression_data(4), 2);
  auto valid_loader = loader_of(regression_data(2), 2);
  trainer.fit(2, *train_loader, valid_loader.get());
  // The cancelled epoch has no training loss (not the previous epoch's).
  ASSERT_EQ(epoch_losses.size(), 2u);
  EXPECT_TRUE(std::isnan(epoch_losses[0]));
  EXPECT_TRUE(std::isfinite(epoch_losses[1]));

  Events expected = {"begin_fit", "begin_epoch", "all_batches:train"};
  add_train_batch(expected, true);
  expected.emplace_back("after_epoch");
  expected.emplace_back("begin_epoch");
  expected.emplace_back("all_batches:train");
  add_train_batch(expected, true);
  add_train_batch(expected, true);
  expected.emplace_back("begin_validate");
  add_eval_batches(expected, "validate", 1);
  expected.emplace_back("after_validate");
  expected.emplace_back("after_epoch");
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
}

TEST(Trainer, CancelTrainingRunsCancelledTrainingThenAfterFit) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto cancel = std::make_shared<ActionAt>("begin_batch", 1, 1,
                                           [](Trainer&) { throw train::CancelTraining(); });
  auto trainer = setup.trainer({recorder, cancel});
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(3, *train_loader);

  Events expected = {"begin_fit"};
  add_train_epoch(expected, 2);
  expected.emplace_back("begin_epoch");
  expected.emplace_back("all_batches:train");
  add_train_batch(expected, true);
  expected.emplace_back("begin_batch:train");
  expected.emplace_back("cancelled_training");
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_FALSE(trainer.interrupted());
  EXPECT_EQ(trainer.step, 3);
}

TEST(Trainer, StopTrainingEndsTheFitAfterTheEpochWithoutACancel) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto stop =
      std::make_shared<ActionAt>("begin_batch", 1, 1, [](Trainer& t) { t.stop_training = true; });
  auto trainer = setup.trainer({recorder, stop});
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(4, *train_loader);

  // Epoch 1 runs to its end (both batches, after_epoch), then the fit ends
  // as a complete one: no cancelled_training.
  Events expected = {"begin_fit"};
  add_train_epoch(expected, 2);
  add_train_epoch(expected, 2);
  expected.emplace_back("after_fit");
  EXPECT_EQ(recorder->events, expected);
  EXPECT_EQ(trainer.epoch, 2);
  EXPECT_EQ(trainer.step, 4);

  // The next fit starts with the request cleared.
  auto again = setup.trainer({});
  again.stop_training = true;
  again.fit(2, *train_loader);
  EXPECT_EQ(again.epoch, 2);
}

TEST(Trainer, CtrlCEndsTheFitThroughCancelledTraining) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto interrupt = std::make_shared<ActionAt>("begin_batch", 0, 0, [](Trainer&) {
    std::raise(SIGINT);  // the trainer's handler only raises a flag
  });
  auto trainer = setup.trainer({recorder, interrupt});
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(2, *train_loader);
  EXPECT_TRUE(trainer.interrupted());
  EXPECT_EQ(trainer.step, 1);  // batch 0 finished; the flag is read between batches
  ASSERT_GE(recorder->events.size(), 2u);
  EXPECT_EQ(recorder->events[recorder->events.size() - 2], "cancelled_training");
  EXPECT_EQ(recorder->events.back(), "after_fit");
}

TEST(Trainer, AnErrorStillRunsAfterFitAndIsRethrown) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto fail = std::make_shared<ActionAt>("after_backward", 0, 0,
                                         [](Trainer&) { throw Error("callback failed"); });
  auto trainer = setup.trainer({recorder, fail});
  auto train_loader = loader_of(regression_data(4), 2);
  EXPECT_ERROR(trainer.fit(1, *train_loader), "callback failed");
  EXPECT_EQ(recorder->events.back(), "after_fit");
  EXPECT_EQ(trainer.stage, train::Stage::idle);
}

TEST(Trainer, CallbacksMayChangeTheExposedState) {
  TinySetup setup;
  const Tensor before = setup.model->weight.clone();
  // A zero loss gives zero gradients: SGD without weight decay leaves the weights.
  auto zero_loss =
      std::make_shared<ActionAt>("after_loss", 0, -1, [](Trainer& t) { t.loss = t.loss * 0.0; });
  auto trainer = setup.trainer({zero_loss});
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(1, *train_loader);
  EXPECT_EQ(trainer.step, 2);
  expect_close(setup.model->weight, before, 0, 0);
}

TEST(Trainer, ZeroGradToZerosKeepsZeroGradients) {
  TinySetup setup;
  train::TrainerOptions options;
  options.zero_grad_to_none = false;
  auto trainer = setup.trainer({}, options);
  auto train_loader = loader_of(regression_data(4), 2);
  trainer.fit(1, *train_loader);
  for (const auto& p : setup.model->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(max(abs(p.grad())).item<double>(), 0.0);
  }
}

TEST(Trainer, EvalReturnsTheMeanLossOverExamples) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto trainer = setup.trainer({recorder});
  const auto data = regression_data(5);
  auto eval_loader = loader_of(data, 2);  // batches of 2, 2, 1
  const double mean = trainer.eval(*eval_loader);
  const double expected = [&] {
    const NoGradGuard no_grad;
    return mse_loss((*setup.model)(data->x()), data->y()).item<double>();
  }();
  EXPECT_NEAR(mean, expected, 1e-6 * std::fabs(expected));
  Events events = {"begin_eval"};
  add_eval_batches(events, "eval", 3);
  events.emplace_back("after_eval");
  EXPECT_EQ(recorder->events, events);
}

TEST(Trainer, PredictConcatenatesThePredictionsAndNeedsNoTargets) {
  TinySetup setup;
  auto recorder = std::make_shared<RecordingCallback>();
  auto trainer = setup.trainer({recorder});
  const auto labelled = regression_data(5);
  auto unlabelled = std::make_shared<train::TensorDataset>(labelled->x());
  auto predict_loader = loader_of(unlabelled, 2);
  const Tensor predictions = trainer.predict(*predict_loader);
  const NoGradGuard no_grad;
  expect_close(predictions, (*setup.model)(labelled->x()), 1e-6, 1e-6);
  EXPECT_FALSE(predictions.requires_grad());
  EXPECT_EQ(recorder->events.front(), "begin_predict");
  EXPECT_EQ(recorder->events.back(), "after_predict");
  EXPECT_EQ(recorder->events.size(), 2u + 1u + 3u * 3u);  // all_batches + 3 hooks x 3 batches
}

TEST(Trainer, BadInputGivesClearErrors) {
  TinySetup setup;
  auto trainer = setup.trainer();
  auto train_loader = loader_of(regression_data(4), 2);
  EXPECT_ERROR(trainer.fit(0, *train_loader), "epochs must be >= 1");

  train::DataLoaderOptions drop;
  drop.batch_size = 8;
  drop.drop_last = true;
  train::DataLoader empty_loader(regression_data(4), drop);
  EXPECT_ERROR(trainer.fit(1, empty_loader), "yields no batches");

  auto unlabelled = loader_of(std::make_shared<train::TensorDataset>(randn({4, 3})), 2);
  EXPECT_ERROR(trainer.fit(1, *unlabelled), "has no y");

  // The model's [2, 1] output against [2, 2] targets.
  auto wrong_targets =
      loader_of(std::make_shared<train::TensorDataset>(randn({4, 3}), randn({4, 2})), 2);
  EXPECT_ERROR(trainer.fit(1, *wrong_targets),
               "loss function failed on y_pred [2, 1] and y [2, 2]");

  EXPECT_ERROR(Trainer(nullptr, setup.optimizer, setup.loss), "model is null");
  EXPECT_ERROR(Trainer(setup.model, nullptr, setup.loss).fit(1, *train_loader), "no optimizer");
  train::TrainerOptions bad;
  bad.accumulate = 0;
  EXPECT_ERROR(setup.trainer({}, bad), "accumulate must be >= 1");
}

// The training loss is the mean over examples (batches of 2, 2, 1 weigh by
// their size), whether the per-batch finite check reads each loss (the sum
// is then kept as a number) or not (kept as a tensor). lr 0 keeps the
// weights fixed, so the expected value is one loss over all the data.
TEST(Trainer, TheTrainingLossIsTheMeanOverExamplesWithOrWithoutTheFiniteCheck) {
  for (const bool check : {true, false}) {
    TinySetup setup(3, /*lr=*/0.0);
    train::TrainerOptions options;
    options.check_finite_loss = check;
    auto trainer = setup.trainer({}, options);
    const auto data = regression_data(5);
    auto train_loader = loader_of(data, 2);
    trainer.fit(1, *train_loader);
    const double expected = [&] {
      const NoGradGuard no_grad;
      return mse_loss((*setup.model)(data->x()), data->y()).item<double>();
    }();
    EXPECT_NEAR(trainer.train_loss(), expected, 1e-6 * std::fabs(expected)) << "check " << check;
    EXPECT_NEAR(trainer.mean_loss(), expected, 1e-6 * std::fabs(expected)) << "check " << check;
  }
}

TEST(Trainer, ANonFiniteLossIsAnError) {
  TinySetup setup;
  auto nan_targets = std::make_shared<train::TensorDataset>(
      randn({4, 3}), full({4, 1}, std::numeric_limits<double>::quiet_NaN()));
  auto nan_loader = loader_of(nan_targets, 2);
  auto trainer = setup.trainer();
  EXPECT_ERROR(trainer.fit(1, *nan_loader), "the loss is nan at epoch 0, batch 0");

  // Without the per-batch check, the epoch's running loss still catches it.
  TinySetup unchecked;
  train::TrainerOptions options;
  options.check_finite_loss = false;
  auto lenient = unchecked.trainer({}, options);
  EXPECT_ERROR(lenient.fit(1, *nan_loader), "training loss of epoch 0 is not finite");
}

TEST(Trainer, DescribeListsTheLoopAndWhoImplementsEachHook) {
  TinySetup setup;
  struct Plain : train::Callback {};  // no hook list
  auto trainer = setup.trainer({std::make_shared<RecordingCallback>(), std::make_shared<Plain>()});
  const std::string text = trainer.describe();
  EXPECT_NE(text.find("  begin_fit                 RecordingCallback\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("optimizer.step()"), std::string::npos);
  EXPECT_NE(text.find("0. RecordingCallback: begin_fit, begin_epoch, all_batches"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1. Plain: (hooks not listed"), std::string::npos) << text;
}

}  // namespace
}  // namespace toadstool::testing
