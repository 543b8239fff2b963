#pragma once
// The training run behind the checkpoint corpus and fuzz_checkpoint: the
// corpus is saved by it (fuzz_tool make-corpus) and every fuzzed checkpoint
// is loaded into a fresh copy of it, so a valid corpus file matches it
// exactly (same modules, optimizer, loader and callback list). Kept tiny so
// that a corpus file is a few KB and a load costs microseconds, but with
// state in every part a checkpoint holds: dropout (the generator), Adam
// (step counts and buffers), a shuffled loader, EarlyStopping (with best
// weights) and CheckpointCallback.
#include <memory>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"
#include "trainer_fixtures.h"

namespace toadstool::fuzz {

// fuzz_checkpoint resumes to this many epochs; the corpus checkpoints resume
// at epoch 1, so a valid input trains one more epoch of 2 batches.
inline constexpr int64_t kFitEpochs = 2;

struct CheckpointRun {
  std::shared_ptr<nn::MLP> model;
  std::shared_ptr<optim::Adam> optimizer;
  std::unique_ptr<train::DataLoader> train_loader, valid_loader;
  std::shared_ptr<train::CheckpointCallback> checkpoints;
  std::unique_ptr<train::Trainer> trainer;

  // The run's model alone, as a fresh run has it (what
  // load_checkpoint_weights loads into).
  static std::shared_ptr<nn::MLP> make_model() {
    manual_seed(5);
    return std::make_shared<nn::MLP>(std::vector<int64_t>{3, 4, 1}, "relu", 0.2);
  }

  // `checkpoints` saves to / resumes from `outdir` with `options`.
  CheckpointRun(const std::string& outdir, train::CheckpointOptions options) {
    model = make_model();
    optimizer = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
    // The data never changes: made once (a quarter of the set-up under ASan).
    static const auto train_data = testing::regression_data(8, 3, 7);
    static const auto valid_data = testing::regression_data(4, 3, 8);
    train_loader = testing::loader_of(train_data, 4, /*shuffle=*/true, 3);
    valid_loader = testing::loader_of(valid_data, 4);
    options.verbose = false;
    checkpoints = std::make_shared<train::CheckpointCallback>(outdir, options);
    auto early_stopping = std::make_shared<train::EarlyStopping>(
        train::EarlyStoppingOptions{.patience = 3, .verbose = false});
    // No SIGINT handler: a libFuzzer run has its own.
    trainer = std::make_unique<train::Trainer>(
        model, optimizer, std::make_shared<nn::MSELoss>(),
        std::vector<std::shared_ptr<train::Callback>>{early_stopping, checkpoints},
        train::TrainerOptions{.handle_sigint = false});
  }

  void fit(int64_t epochs) { trainer->fit(epochs, *train_loader, valid_loader.get()); }
};

}  // namespace toadstool::fuzz
