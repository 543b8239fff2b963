// The trainer in data-parallel mode under mpirun (2 and 3 ranks): a
// DistributedDataParallel model, DistributedSampler loaders, gradient
// accumulation, and the losses, scores and decisions shared by the ranks.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "ddp_test_util.h"
#include "temp_dir.h"

namespace toadstool::testing {
namespace {

using train::DataLoader;
using train::DataLoaderOptions;
using train::Trainer;
using train::TrainerOptions;

constexpr int64_t kRows = 24, kValidRows = 12, kGlobalBatch = 6;

struct Data {
  std::shared_ptr<train::TensorDataset> train, valid;
};

Data make_data() {
  const Batch t = global_batch(50, kRows);
  const Batch v = global_batch(51, kValidRows);
  return {std::make_shared<train::TensorDataset>(t.x, t.y),
          std::make_shared<train::TensorDataset>(v.x, v.y)};
}

// A loader of this rank's share (data parallel: the interleaved
// DistributedSampler share, batch B / N) or of everything (one process: a
// DistributedSampler of one replica, batch B; the same sampler state, so
// that checkpoints move between the two).
std::unique_ptr<DataLoader> loader(const std::shared_ptr<train::TensorDataset>& data,
                                   const distributed::ProcessGroup* pg) {
  const int world = pg ? pg->size() : 1;
  DataLoaderOptions o;
  o.batch_size = kGlobalBatch / world;
  o.sampler = std::make_shared<train::DistributedSampler>(data->size(), world, pg ? pg->rank() : 0,
                                                          /*shuffle=*/false);
  return std::make_unique<DataLoader>(data, o);
}

// Mean |y_pred - y| over the pass: a score that is wrong unless every
// rank's rows are in it.
double mae(const Tensor& y_pred, const Tensor& y) {
  return (y_pred - y).abs().mean().item<double>();
}

struct FitResult {
  std::shared_ptr<nn::MLP> model;
  double train_loss, valid_loss, score;
  std::string printed;
  int64_t synchronized_backwards = 0;
};

// How fit() runs: by default two epochs, accumulate 2 (two steps an
// epoch), validation with a score, no checkpoints.
struct FitOptions {
  int epochs = 2;
  std::string checkpoint_dir;  // a CheckpointCallback's folder, if set
  bool resume = false;         // ... which resumes from its newest checkpoint
  // Data parallel with a ZeroRedundancyOptimizer over AdamW and a plain
  // model instead of DDP and AdamW.
  bool zero = false;
  double clip = 0;  // > 0: a GradClipCallback with this max_norm
};

FitResult fit(const ProcessGroupRef& pg, const FitOptions& fit_options = {}) {
  const Data data = make_data();
  FitResult run;
  run.model = make_mlp(pg ? 7 + pg->rank() : 7);  // DDP replaces rank > 0's weights
  std::shared_ptr<nn::UnaryModule> model = run.model;
  std::shared_ptr<distributed::DistributedDataParallel> ddp;
  std::shared_ptr<optim::Optimizer> optimizer;
  if (pg && fit_options.zero) {
    optimizer = std::make_shared<distributed::ZeroRedundancyOptimizer>(
        model->parameters(), pg, [](std::vector<optim::ParamGroup> groups) {
          return std::make_unique<optim::AdamW>(std::move(groups), adamw_options());
        });
  } else {
    if (pg) model = ddp = std::make_shared<distributed::DistributedDataParallel>(run.model, pg);
    optimizer = std::make_shared<optim::AdamW>(model->parameters(), adamw_options());
  }
  std::ostringstream out;
  train::MonitorOptions monitor;
  monitor.out = &out;
  auto score = std::make_shared<train::MetricScoreCallback>(mae);
  TrainerOptions options;
  options.accumulate = 2;
  options.process_group = pg;
  std::vector<std::shared_ptr<train::Callback>> callbacks = {
      std::make_shared<train::MonitorCallback>(monitor), score};
  if (fit_options.clip > 0) {
    callbacks.push_back(std::make_shared<train::GradClipCallback>(fit_options.clip));
  }
  if (!fit_options.checkpoint_dir.empty()) {
    train::CheckpointOptions checkpoint;
    checkpoint.verbose = false;
    checkpoint.resume = fit_options.resume;
    callbacks.push_back(
        std::make_shared<train::CheckpointCallback>(fit_options.checkpoint_dir, checkpoint));
  }
  Trainer trainer(model, optimizer, mse, callbacks, options);
  auto train_loader = loader(data.train, pg.get());
  auto valid_loader = loader(data.valid, pg.get());
  trainer.fit(fit_options.epochs, *train_loader, valid_loader.get());
  run.train_loss = trainer.train_loss();
  run.valid_loss = trainer.valid_loss();
  run.score = trainer.score;
  run.printed = out.str();
  if (ddp) run.synchronized_backwards = ddp->synchronized_backwards();
  return run;
}

TEST(DistributedTrainer, MatchesOneProcessWithAccumulationAndSharesLossesAndScores) {
  ProcessGroupRef pg = world_ptr();
  const FitResult ddp = fit(pg);
  const FitResult one = fit(nullptr);
  EXPECT_LT(max_param_diff(*ddp.model, *one.model), 1e-6);
  EXPECT_NEAR(ddp.train_loss, one.train_loss, 1e-9);
  EXPECT_NEAR(ddp.valid_loss, one.valid_loss, 1e-9);
  EXPECT_NEAR(ddp.score, one.score, 1e-9);
  // 8 backwards in 4 windows of 2: the first of each ran under no_sync.
  EXPECT_EQ(ddp.synchronized_backwards, 4);
  // Rank 0 prints the epoch lines; the others print nothing.
  if (pg->rank() == 0) {
    EXPECT_NE(ddp.printed.find("epoch"), std::string::npos) << ddp.printed;
  } else {
    EXPECT_EQ(ddp.printed, "");
  }
}

// A checkpoint resumes with another number of ranks than wrote it: the
// model, the optimizer and the trainer's state are the same on every rank,
// and the samplers' shares of each global batch depend only on the
// current world. Each rank gives the one-process run its own folder.
TEST(DistributedTrainer, ResumesACheckpointWrittenByAnotherNumberOfRanks) {
  ProcessGroupRef pg = world_ptr();
  const FitResult uninterrupted = fit(nullptr);

  // Written by one process after epoch 1, resumed by N ranks for epoch 2.
  const TempDir one_process;
  fit(nullptr, {.epochs = 1, .checkpoint_dir = one_process.path()});
  const FitResult on_n_ranks =
      fit(pg, {.epochs = 2, .checkpoint_dir = one_process.path(), .resume = true});
  EXPECT_LT(max_param_diff(*on_n_ranks.model, *uninterrupted.model), 1e-6);
  EXPECT_NEAR(on_n_ranks.valid_loss, uninterrupted.valid_loss, 1e-9);

  // Written by N ranks (rank 0 writes) after epoch 1, resumed by one.
  const TempDir n_ranks;
  fit(pg, {.epochs = 1, .checkpoint_dir = n_ranks.path()});
  if (pg->rank() == 0) {
    const FitResult on_one =
        fit(nullptr, {.epochs = 2, .checkpoint_dir = n_ranks.path(), .resume = true});
    EXPECT_LT(max_param_diff(*on_one.model, *uninterrupted.model), 1e-6);
    EXPECT_NEAR(on_one.valid_loss, uninterrupted.valid_loss, 1e-9);
  }
}

// ZeRO-1 in the trainer: the same weights, losses and scores as one
// process, with gradient accumulation (no no_sync: ZeRO averages at the
// step); its checkpoints hold the whole optimizer state, so they resume in
// one process with plain AdamW, and one process's resume in ZeRO.
TEST(DistributedTrainer, ZeroRedundancyOptimizerMatchesOneProcessAndSharesCheckpoints) {
  ProcessGroupRef pg = world_ptr();
  const FitResult uninterrupted = fit(nullptr);
  const FitResult zero =
      fit(pg, {.epochs = 2, .checkpoint_dir = "", .resume = false, .zero = true});
  EXPECT_LT(max_param_diff(*zero.model, *uninterrupted.model), 1e-6);
  EXPECT_NEAR(zero.train_loss, uninterrupted.train_loss, 1e-9);
  EXPECT_NEAR(zero.valid_loss, uninterrupted.valid_loss, 1e-9);
  EXPECT_NEAR(zero.score, uninterrupted.score, 1e-9);

  const TempDir n_ranks;
  fit(pg, {.epochs = 1, .checkpoint_dir = n_ranks.path(), .resume = false, .zero = true});
  if (pg->rank() == 0) {
    const FitResult on_one =
        fit(nullptr, {.epochs = 2, .checkpoint_dir = n_ranks.path(), .resume = true});
    EXPECT_LT(max_param_diff(*on_one.model, *uninterrupted.model), 1e-6);
  }
  const TempDir one_process;
  fit(nullptr, {.epochs = 1, .checkpoint_dir = one_process.path()});
  const FitResult resumed =
      fit(pg, {.epochs = 2, .checkpoint_dir = one_process.path(), .resume = true, .zero = true});
  EXPECT_LT(max_param_diff(*resumed.model, *uninterrupted.model), 1e-6);
  EXPECT_NEAR(resumed.valid_loss, uninterrupted.valid_loss, 1e-9);
}

// Gradient clipping under ZeRO clips the mean gradient (through the
// optimizer), as one process and DDP do: the same weights.
TEST(DistributedTrainer, GradientClippingUnderZeroMatchesOneProcess) {
  ProcessGroupRef pg = world_ptr();
  const FitOptions clipped{
      .epochs = 2, .checkpoint_dir = "", .resume = false, .zero = true, .clip = 0.02};
  const FitResult zero = fit(pg, clipped);
  const FitResult one = fit(nullptr, clipped);
  EXPECT_LT(max_param_diff(*zero.model, *one.model), 1e-6);
  // The clipping mattered: unclipped training ends elsewhere.
  EXPECT_GT(max_param_diff(*one.model, *fit(nullptr).model), 1e-3);
}

TEST(DistributedTrainer, AZeroOptimizerNeedsItsProcessGroupInTheOptions) {
  ProcessGroupRef pg = world_ptr();
  auto model = make_mlp(7);
  auto zero = std::make_shared<distributed::ZeroRedundancyOptimizer>(
      model->parameters(), pg, [](std::vector<optim::ParamGroup> groups) {
        return std::make_unique<optim::AdamW>(std::move(groups), adamw_options());
      });
  Trainer trainer(model, zero, mse);  // no process_group
  const Data data = make_data();
  auto train_loader = loader(data.train, pg.get());
  EXPECT_ERROR(trainer.fit(1, *train_loader),
               "Trainer::fit: the optimizer is a ZeroRedundancyOptimizer: set "
               "TrainerOptions::process_group to its process group");
}

// One rank alone decides to stop after the first epoch: every rank stops.
class StopOnRank : public train::Callback {
 public:
  explicit StopOnRank(int rank) : rank_(rank) {}
  void after_epoch(Trainer& trainer) override {
    if (trainer.rank() == rank_) trainer.stop_training = true;
  }

 private:
  int rank_;
};

TEST(DistributedTrainer, StopTrainingOnOneRankStopsEveryRank) {
  ProcessGroupRef pg = world_ptr();
  const Data data = make_data();
  auto model = std::make_shared<distributed::DistributedDataParallel>(make_mlp(7), pg);
  TrainerOptions options;
  options.process_group = pg;
  Trainer trainer(model, std::make_shared<optim::AdamW>(model->parameters()), mse,
                  {std::make_shared<StopOnRank>(pg->size() - 1)}, options);
  auto train_loader = loader(data.train, pg.get());
  trainer.fit(3, *train_loader);
  EXPECT_EQ(trainer.epoch, 1);
}

// Each rank gives its callbacks its own folder: only rank 0's gets the
// checkpoints and the CSV log.
TEST(DistributedTrainer, OnlyRankZeroWritesCheckpointsAndLogs) {
  ProcessGroupRef pg = world_ptr();
  const Data data = make_data();
  const TempDir dir;
  auto model = std::make_shared<distributed::DistributedDataParallel>(make_mlp(7), pg);
  TrainerOptions options;
  options.process_group = pg;
  train::CheckpointOptions checkpoint;
  checkpoint.verbose = false;
  Trainer trainer(model, std::make_shared<optim::AdamW>(model->parameters()), mse,
                  {std::make_shared<train::CheckpointCallback>(dir.path(), checkpoint),
                   std::make_shared<train::CSVLogger>(dir.file("log.csv"))},
                  options);
  auto train_loader = loader(data.train, pg.get());
  trainer.fit(1, *train_loader);
  EXPECT_EQ(std::filesystem::is_empty(dir.path()), pg->rank() != 0) << dir.path();
  EXPECT_EQ(std::filesystem::exists(dir.file("log.csv")), pg->rank() == 0);
}

TEST(DistributedTrainer, LoadersOfDifferentLengthsAreAnErrorOnEveryRank) {
  ProcessGroupRef pg = world_ptr();
  const Data data = make_data();
  auto model = std::make_shared<distributed::DistributedDataParallel>(make_mlp(7), pg);
  TrainerOptions options;
  options.process_group = pg;
  Trainer trainer(model, std::make_shared<optim::AdamW>(model->parameters()), mse, {}, options);
  DataLoaderOptions o;
  o.batch_size = pg->rank() == 0 ? 4 : 6;  // rank 0: 6 batches, the others 4
  DataLoader uneven(data.train, o);
  EXPECT_ERROR(trainer.fit(1, uneven),
               (std::vector<std::string>{"the train loader has 6 batches on rank 0 but 4 on rank 1",
                                         "give each loader a DistributedSampler"}));
}

}  // namespace
}  // namespace toadstool::testing
