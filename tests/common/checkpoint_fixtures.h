#pragma once
// Shared by the checkpoint tests and the Ctrl-C child process
// (tests/common/sigint_child.cpp): a training run that checkpoints must
// reproduce exactly (dropout, a shuffled loader, Adam), built the same way
// each time as a new process would build it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {

// MLP 3 -> 16 -> 1 with dropout 0.2, Adam, MSE; 20 examples in shuffled
// batches of 4 (5 batches an epoch), 8 validation examples.
struct DropoutRun {
  std::shared_ptr<nn::MLP> model;
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<nn::MSELoss> loss = std::make_shared<nn::MSELoss>();
  std::unique_ptr<train::DataLoader> train_loader, valid_loader;

  DropoutRun() {
    manual_seed(5);
    model = std::make_shared<nn::MLP>(std::vector<int64_t>{3, 16, 1}, "relu", 0.2);
    optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
    train_loader = loader_of(regression_data(20, 3, 7), 4, /*shuffle=*/true, /*seed=*/3);
    valid_loader = loader_of(regression_data(8, 3, 8), 4);
  }
  train::Trainer trainer(std::vector<std::shared_ptr<train::Callback>> callbacks) const {
    return train::Trainer(model, optimizer, loss, std::move(callbacks));
  }
  void fit(train::Trainer& trainer, int64_t epochs) {
    trainer.fit(epochs, *train_loader, valid_loader.get());
  }
};

// Runs `action` at begin_batch of one (epoch, batch); (-1, -1) never.
class ActAtBatch : public train::CallbackBase<ActAtBatch> {
 public:
  ActAtBatch(int64_t epoch, int64_t batch, std::function<void(train::Trainer&)> action)
      : epoch_(epoch), batch_(batch), action_(std::move(action)) {}
  void begin_batch(train::Trainer& t) override {
    if (t.stage == train::Stage::train && t.epoch == epoch_ && t.batch == batch_) action_(t);
  }

 private:
  int64_t epoch_, batch_;
  std::function<void(train::Trainer&)> action_;
};

// The model's float32 weights as one flat list, for bitwise comparison.
inline std::vector<float> flat_weights(const nn::Module& model) {
  std::vector<float> out;
  for (const auto& [name, t] : model.state_dict()) {
    const Tensor c = t.contiguous();
    out.insert(out.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

}  // namespace toadstool::testing
