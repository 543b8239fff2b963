#pragma once
// The Toadstool trainer: the boilerplate of running data through a model for
// training (fit), evaluation (eval) and prediction (predict), with a callback
// at every stage. It is shallow on purpose: Trainer::fit in trainer.cpp is the
// whole loop, and everything it works with is public state that callbacks
// read and change. docs/trainer.md lists the hooks in order.
//
//   Trainer trainer(model, optimizer, loss_fn,
//                   {std::make_shared<MonitorCallback>(), std::make_shared<EarlyStopping>(3)});
//   trainer.fit(10, train_loader, &valid_loader);
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "toadstool/distributed/process_group.h"
#include "toadstool/nn/loss.h"
#include "toadstool/nn/module.h"
#include "toadstool/nn/optim/grad_scaler.h"
#include "toadstool/nn/optim/optimizer.h"
#include "toadstool/tensor/tensor.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/data/dataloader.h"
#include "toadstool/train/stage_timer.h"

namespace toadstool::train {

// loss(y_pred, y) -> 0-d tensor. An nn::Loss module converts to one.
using LossFn = std::function<Tensor(const Tensor& y_pred, const Tensor& y)>;

struct TrainerOptions {
  // Gradient accumulation: the optimizer steps every `accumulate` training
  // batches, and after the last batch of an epoch (a partial window). Before
  // a step the summed gradients are divided by the number of batches in the
  // window, so k accumulated batches give the gradient of one k times larger.
  int64_t accumulate = 1;
  // After each step, set the gradients to none (true) or to zeros (false).
  bool zero_grad_to_none = true;
  // Read every training loss (as the callbacks left it at after_loss) and
  // throw an Error at the first that is NaN or infinite, before its backward. Off: a non-finite
  // loss is still an Error, found from the pass's running loss sum when the epoch's training ends.
  bool check_finite_loss = true;
  // Treat Ctrl-C (SIGINT) during fit() as CancelTraining: cancelled_training
  // and after_fit run, then fit() returns with interrupted() true. A second
  // Ctrl-C ends the process as usual.
  bool handle_sigint = true;
  // Numeric precision of training (PyTorch Lightning's names):
  //   "32"          float32 throughout
  //   "bf16-mixed"  forward and loss under Autocast with bfloat16
  //                 (autograd/autocast.h): matmuls, linear layers and
  //                 attention in bfloat16, the rest and the weights float32
  //   "16-mixed"    the same with float16, and a GradScaler (the trainer's
  //                 grad_scaler) scaling the loss before backward
  // Autocast applies to whichever device the batch is on (CPU or CUDA).
  std::string precision = "32";
  // Data-parallel training (docs/distributed.md, "The trainer"): the job's
  // process group, the model a distributed::DistributedDataParallel and
  // each rank's loaders its own shard (a DistributedSampler, which gives
  // every rank the same number of batches). Then the pass losses
  // (train_loss, valid_loss, eval's result, mean_loss() once a pass has
  // ended) and MetricScoreCallback's scores are over every rank's
  // examples; a Ctrl-C on any rank and stop_training are agreed by all;
  // batches inside an accumulation window run under no_sync; only rank 0
  // prints (MonitorCallback, SimpleMonitorCallback), logs (CSVLogger) and
  // writes checkpoints. Null: one process.
  std::shared_ptr<distributed::ProcessGroup> process_group{};
};

// What the trainer is running now.
enum class Stage { idle, train, validate, eval, predict };
const char* stage_name(Stage stage);

class Trainer {
 public:
  Trainer(std::shared_ptr<nn::UnaryModule> model, std::shared_ptr<optim::Optimizer> optimizer,
          LossFn loss_fn, std::vector<std::shared_ptr<Callback>> callbacks = {},
          TrainerOptions options = {});
  Trainer(std::shared_ptr<nn::UnaryModule> model, std::shared_ptr<optim::Optimizer> optimizer,
          const std::shared_ptr<nn::Loss>& loss_fn,
          std::vector<std::shared_ptr<Callback>> callbacks = {}, TrainerOptions options = {});

  // Trains until `epochs` epochs are done in total (a resumed run, whose
  // checkpoint callback set `epoch` at begin_fit, continues from there),
  // validating after each epoch when `valid_loader` is given. Errors:
  // epochs < 1, an empty training loader, no optimizer; any Error from the
  // model, the loss or a callback ends the fit (after_fit still runs) and
  // is rethrown.
  void fit(int64_t epochs, DataLoader& train_loader, DataLoader* valid_loader = nullptr);
  // One pass without gradients in eval mode (the mode is restored after);
  // returns the mean loss over the examples.
  double eval(DataLoader& loader);
  // One pass without gradients in eval mode; the loader's y is not used and
  // may be absent. Returns the predictions of all batches, concatenated along
  // the first dimension (on the CPU).
  Tensor predict(DataLoader& loader);

  // The fit loop as text, with the callbacks that implement each hook, in
  // the order they run.
  std::string describe() const;

  // The first callback of type T, or nullptr.
  template <class T>
  T* find_callback() const {
    for (const auto& callback : callbacks) {
      if (auto* found = dynamic_cast<T*>(callback.get())) return found;
    }
    return nullptr;
  }

  // Mean loss of the current (or last) pass over the examples seen so far;
  // NaN before any batch. Reading it syncs with the device.
  double mean_loss() const;
  // Mean training / validation loss of the last finished epoch (NaN if none).
  double train_loss() const { return train_loss_; }
  double valid_loss() const { return valid_loss_; }
  bool interrupted() const { return interrupted_; }

  // This process's rank and the number of ranks (0 and 1 without a process
  // group); rank 0 is the one that prints, logs and writes checkpoints.
  int rank() const { return options.process_group ? options.process_group->rank() : 0; }
  int world_size() const { return options.process_group ? options.process_group->size() : 1; }
  bool is_main_process() const { return rank() == 0; }
  // Whether `flag` is set on any rank (a small all-reduce, every rank must
  // call it; `flag` itself without a process group): for decisions the
  // ranks must agree on.
  bool on_any_rank(bool flag);

  // --- exposed state: callbacks read and change these ---------------------------
  std::shared_ptr<nn::UnaryModule> model;
  std::shared_ptr<optim::Optimizer> optimizer;
  LossFn loss_fn;
  std::vector<std::shared_ptr<Callback>> callbacks;
  TrainerOptions options;

  int64_t epochs = 0;   // of the current fit
  int64_t epoch = 0;    // the current epoch, from 0; a resuming callback sets it at begin_fit
  int64_t step = 0;     // optimizer steps taken over the whole training
  int64_t batch = 0;    // index of the current batch in the current pass
  int64_t batches = 0;  // batches in the current pass (the loader's size)
  Stage stage = Stage::idle;
  DataLoader* loader = nullptr;  // of the current pass; all_batches may replace it
  DataLoader* train_loader = nullptr;
  DataLoader* valid_loader = nullptr;

  // Resuming from a checkpoint taken in the middle of an epoch: the number of
  // training batches at the start of the next training pass to draw from the
  // loader (so its order and state advance as before) without running them.
  // Set by a resuming callback at begin_fit; the pass resets it to 0.
  int64_t skip_batches = 0;
  // A callback sets this (at after_epoch, say) to end the fit after the
  // current epoch, as Keras' model.stop_training: the loop stops once
  // after_epoch is done, and after_fit runs as after a complete fit (it is
  // not a cancel: cancelled_training does not run). fit() resets it.
  bool stop_training = false;
  // The training loader's state (state_dict()) from just before the current
  // training pass drew its order: with `epoch` and `batch`, what a checkpoint
  // taken inside an epoch saves so that a resumed run sees the same batches.
  TensorDict epoch_loader_state;

  // The current batch: x and y from the loader, the model's prediction, the
  // loss (0-d). A callback may replace any of them before it is used.
  Tensor x, y, y_pred, loss;
  // The learning rate of the optimizer's first group, read before each batch.
  double lr = 0;
  // Set by metric callbacks (MetricScoreCallback); NaN until then.
  double score;
  // With precision "16-mixed": the loss scaler (its state is in checkpoints);
  // null otherwise. Gradients are unscaled before begin_optim, so callbacks
  // there (gradient clipping) see their true values.
  std::shared_ptr<optim::GradScaler> grad_scaler;
  // When set, the trainer charges its time to the stages of training
  // (train/stage_timer.h); ProfileCallback sets it for its training passes.
  // The timer must outlive the time it is set.
  StageTimer* stage_timer = nullptr;

 private:
  void run_hook(Hook hook);
  void charge(TrainStage stage) {
    if (stage_timer != nullptr) stage_timer->charge(stage);
  }
  // One pass over `*loader` at `stage` (train, validate, eval or predict).
  void run_pass(Stage pass_stage, DataLoader& pass_loader, std::vector<Tensor>* predictions);
  void run_batch(const Batch& data, std::vector<Tensor>* predictions);
  // loss = loss_fn(y_pred, y); after after_loss, count_loss() checks it
  // (check_finite_loss) and adds it to the pass's running sum.
  void compute_loss();
  void count_loss();
  void optimizer_step();
  void discard_gradients();
  void run_validation();
  // Data parallel (no-ops without a process group): the pass's loss sum and
  // example count summed over the ranks; an Error on every rank when the
  // ranks' loaders differ in batch count.
  void reduce_pass_loss();
  void check_same_batch_count();
  // Whether the current training batch's step closes its accumulation window.
  bool closes_window() const;

  // The pass's running sum of loss * batch size: of the losses the finite
  // check read, as a number; of the others, as a 0-d tensor (no device sync).
  double read_loss_sum_ = 0;
  Tensor loss_sum_;
  int64_t examples_seen_ = 0;
  int64_t window_batches_ = 0;        // batches whose gradients are in the current window
  bool batch_backward_done_ = false;  // the current batch's backward has run
  double train_loss_, valid_loss_;
  bool interrupted_ = false;
  std::optional<DType> autocast_dtype_;  // from options.precision; none for "32"
};

}  // namespace toadstool::train
