#pragma once
// Shared by the trainer and callback tests: a tiny regression problem, a
// trainer over it, and a callback that records every hook it sees.
#include <memory>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/data/dataloader.h"
#include "toadstool/train/trainer.h"

namespace toadstool::testing {

// n examples x [n, features] ~ N(0, 1), y [n, 1] = x . w + 0.1 (fixed seed).
inline std::shared_ptr<train::TensorDataset> regression_data(int64_t n, int64_t features = 3,
                                                             uint64_t seed = 7) {
  Generator gen(seed);
  Tensor x = randn({n, features}, {}, &gen);
  Tensor w = arange(1, features + 1).to(kFloat32).reshape({features, 1});
  return std::make_shared<train::TensorDataset>(x, matmul(x, w) + 0.1);
}

inline std::unique_ptr<train::DataLoader> loader_of(std::shared_ptr<const train::Dataset> data,
                                                    int64_t batch_size, bool shuffle = false,
                                                    uint64_t seed = 0) {
  train::DataLoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = shuffle;
  options.seed = seed;
  return std::make_unique<train::DataLoader>(std::move(data), options);
}

// A linear model [features] -> [1] with fixed weights, SGD and MSE.
struct TinySetup {
  std::shared_ptr<nn::Linear> model;
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<nn::MSELoss> loss = std::make_shared<nn::MSELoss>();

  explicit TinySetup(int64_t features = 3, double lr = 0.05) {
    manual_seed(11);
    model = std::make_shared<nn::Linear>(features, 1);
    optimizer = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = lr});
  }
  train::Trainer trainer(std::vector<std::shared_ptr<train::Callback>> callbacks = {},
                         train::TrainerOptions options = {}) const {
    return train::Trainer(model, optimizer, loss, std::move(callbacks), options);
  }
};

// Sets trainer.score from a list at after_validate, as a metric would.
class ScriptedScore : public train::CallbackBase<ScriptedScore> {
 public:
  explicit ScriptedScore(std::vector<double> scores) : scores_(std::move(scores)) {}
  void after_validate(train::Trainer& t) override { t.score = scores_.at(t.epoch); }

 private:
  std::vector<double> scores_;
};

// Records "hook" for every hook (and "hook:stage" for the per-batch ones).
class RecordingCallback : public train::CallbackBase<RecordingCallback> {
 public:
  std::vector<std::string> events;

  void begin_fit(train::Trainer&) override { events.push_back("begin_fit"); }
  void after_fit(train::Trainer&) override { events.push_back("after_fit"); }
  void begin_epoch(train::Trainer&) override { events.push_back("begin_epoch"); }
  void after_epoch(train::Trainer&) override { events.push_back("after_epoch"); }
  void all_batches(train::Trainer& t) override { add("all_batches", t); }
  void begin_batch(train::Trainer& t) override { add("begin_batch", t); }
  void after_pred(train::Trainer& t) override { add("after_pred", t); }
  void after_loss(train::Trainer& t) override { add("after_loss", t); }
  void after_backward(train::Trainer& t) override { add("after_backward", t); }
  void begin_optim(train::Trainer& t) override { add("begin_optim", t); }
  void after_step(train::Trainer& t) override { add("after_step", t); }
  void after_batch(train::Trainer& t) override { add("after_batch", t); }
  void begin_validate(train::Trainer&) override { events.push_back("begin_validate"); }
  void after_validate(train::Trainer&) override { events.push_back("after_validate"); }
  void begin_eval(train::Trainer&) override { events.push_back("begin_eval"); }
  void after_eval(train::Trainer&) override { events.push_back("after_eval"); }
  void begin_predict(train::Trainer&) override { events.push_back("begin_predict"); }
  void after_predict(train::Trainer&) override { events.push_back("after_predict"); }
  void cancelled_training(train::Trainer&) override { events.push_back("cancelled_training"); }

 private:
  void add(const char* hook, const train::Trainer& t) {
    events.push_back(std::string(hook) + ":" + train::stage_name(t.stage));
  }
};

}  // namespace toadstool::testing
