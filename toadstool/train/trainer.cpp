#include "toadstool/train/trainer.h"

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/distributed/ddp.h"
#include "toadstool/distributed/zero.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/train/sigint.h"

namespace toadstool::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The hooks as member pointers, indexed by Hook, so that run_hook is a loop.
using HookMethod = void (Callback::*)(Trainer&);
constexpr HookMethod kHookMethods[kHookCount] = {
#define TOADSTOOL_HOOK(name) &Callback::name,
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK
};

// Puts the model in training or eval mode for a scope and restores its mode
// after, also when the scope ends by an exception.
class ModeGuard {
 public:
  ModeGuard(nn::Module& module, bool training)
      : module_(module), was_training_(module.is_training()) {
    module_.train(training);
  }
  ~ModeGuard() { module_.train(was_training_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& module_;
  bool was_training_;
};

std::string shape_text(const Tensor& t) {
  return t.defined() ? detail::concat(t.shape()) : std::string("(none)");
}

}  // namespace

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::idle: return "idle";
    case Stage::train: return "train";
    case Stage::validate: return "validate";
    case Stage::eval: return "eval";
    case Stage::predict: return "predict";
  }
  return "?";
}

Trainer::Trainer(std::shared_ptr<nn::UnaryModule> model_,
                 std::shared_ptr<optim::Optimizer> optimizer_, LossFn loss_fn_,
                 std::vector<std::shared_ptr<Callback>> callbacks_, TrainerOptions options_)
    : model(std::move(model_)),
      optimizer(std::move(optimizer_)),
      loss_fn(std::move(loss_fn_)),
      callbacks(std::move(callbacks_)),
      options(std::move(options_)),
      score(kNaN),
      train_loss_(kNaN),
      valid_loss_(kNaN) {
  TS_CHECK(model, "Trainer: the model is null");
  TS_CHECK(loss_fn, "Trainer: the loss function is empty");
  TS_CHECK(options.accumulate >= 1, "Trainer: accumulate must be >= 1, got ", options.accumulate);
  if (options.precision == "bf16-mixed") {
    autocast_dtype_ = kBFloat16;
  } else if (options.precision == "16-mixed") {
    autocast_dtype_ = kFloat16;
    grad_scaler = std::make_shared<optim::GradScaler>();
  } else {
    TS_CHECK(options.precision == "32", "Trainer: precision must be \"32\", \"bf16-mixed\" or ",
             "\"16-mixed\", got \"", options.precision, "\"");
  }
  for (size_t i = 0; i < callbacks.size(); ++i) {
    TS_CHECK(callbacks[i], "Trainer: callback ", i, " is null");
  }
}

Trainer::Trainer(std::shared_ptr<nn::UnaryModule> model_,
                 std::shared_ptr<optim::Optimizer> optimizer_,
                 const std::shared_ptr<nn::Loss>& loss_fn_,
                 std::vector<std::shared_ptr<Callback>> callbacks_, TrainerOptions options_)
    : Trainer(std::move(model_), std::move(optimizer_),
              loss_fn_ ? LossFn([loss = loss_fn_](const Tensor& y_pred, const Tensor& target) {
                return loss->forward(y_pred, target);
              })
                       : LossFn(),
              std::move(callbacks_), std::move(options_)) {}

namespace {

// Autocast on both device types for the forward pass and the loss, when the
// precision is mixed; nothing otherwise (an Autocast scope of the caller
// stays as it is). The batch's device decides which of the two applies.
class MixedPrecision {
 public:
  explicit MixedPrecision(std::optional<DType> dtype) {
    if (!dtype) return;
    cpu_.emplace(DeviceType::CPU, *dtype);
    cuda_.emplace(DeviceType::CUDA, *dtype);
  }

 private:
  std::optional<Autocast> cpu_, cuda_;
};
}  // namespace

void Trainer::run_hook(Hook hook) {
  const HookMethod method = kHookMethods[static_cast<int>(hook)];
  charge(TrainStage::other);
  for (const auto& callback : callbacks) ((*callback).*method)(*this);
  charge(TrainStage::callbacks);
}

// ---------------------------------------------------------------------------
// fit: the whole training loop.
// ---------------------------------------------------------------------------
void Trainer::fit(int64_t n_epochs, DataLoader& train_data, DataLoader* valid_data) {
  TS_CHECK(n_epochs >= 1, "Trainer::fit: epochs must be >= 1, got ", n_epochs);
  TS_CHECK(optimizer, "Trainer::fit: no optimizer (the trainer was made with a null one)");
  if (const auto* zero =
          dynamic_cast<const distributed::ZeroRedundancyOptimizer*>(optimizer.get())) {
    TS_CHECK(options.process_group == zero->process_group(),
             "Trainer::fit: the optimizer is a ZeroRedundancyOptimizer: set "
             "TrainerOptions::process_group to its process group (data-parallel mode)");
  }
  TS_CHECK(train_data.size() > 0, "Trainer::fit: the training loader yields no batches (",
           train_data.dataset().size(), " examples, batch_size ", train_data.batch_size(),
           train_data.options().drop_last ? ", drop_last" : "", ")");
  epochs = n_epochs;
  epoch = 0;
  step = 0;
  train_loader = &train_data;
  valid_loader = valid_data;
  interrupted_ = false;
  stop_training = false;
  // Data parallel: SIGUSR1 (which mpirun forwards to every rank) and
  // SIGTERM (mpirun's answer to its own Ctrl-C) request the stop as well.
  const SigintGuard sigint(options.handle_sigint, options.process_group != nullptr);
  optimizer->zero_grad(options.zero_grad_to_none);
  try {
    run_hook(Hook::begin_fit);
    for (; epoch < epochs && !stop_training; ++epoch) {
      train_loss_ = valid_loss_ = kNaN;  // an epoch cancelled early has none
      try {
        run_hook(Hook::begin_epoch);
        model->train();
        run_pass(Stage::train, *train_loader, nullptr);
        train_loss_ = mean_loss();
        // An epoch that computed no loss (a resumed epoch whose batches were
        // all done before its checkpoint, or every batch cancelled before its
        // loss) has no training loss: NaN, not an Error.
        TS_CHECK(std::isfinite(train_loss_) || examples_seen_ == 0,
                 "Trainer::fit: the training loss of epoch ", epoch, " is not finite (",
                 train_loss_, ")");
        if (valid_loader != nullptr) run_validation();
      } catch (const CancelEpoch&) {
        discard_gradients();
      }
      run_hook(Hook::after_epoch);
      // Every rank ends the fit after the same epoch (EarlyStopping reads
      // losses that are the same on every rank; this also covers a callback
      // that decided on this rank's data alone).
      stop_training = on_any_rank(stop_training);
    }
  } catch (const CancelTraining&) {
    discard_gradients();
    run_hook(Hook::cancelled_training);
  } catch (...) {
    // An Error: after_fit still runs (a checkpoint can save on the way
    // out), then the Error goes on. An Error from after_fit itself would
    // hide the first one, so it is dropped.
    try {
      run_hook(Hook::after_fit);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the first error wins
    }
    stage = Stage::idle;
    throw;
  }
  run_hook(Hook::after_fit);
  stage = Stage::idle;
}

void Trainer::run_validation() {
  run_hook(Hook::begin_validate);
  {
    const NoGradGuard no_grad;
    const ModeGuard eval_mode(*model, false);
    run_pass(Stage::validate, *valid_loader, nullptr);
  }
  valid_loss_ = mean_loss();
  run_hook(Hook::after_validate);
}

double Trainer::eval(DataLoader& eval_data) {
  const NoGradGuard no_grad;
  const ModeGuard eval_mode(*model, false);
  run_hook(Hook::begin_eval);
  try {
    run_pass(Stage::eval, eval_data, nullptr);
  } catch (const CancelEpoch&) {     // NOLINT(bugprone-empty-catch): ends the pass
  } catch (const CancelTraining&) {  // NOLINT(bugprone-empty-catch): ends the pass
  }
  run_hook(Hook::after_eval);
  stage = Stage::idle;
  return mean_loss();
}

Tensor Trainer::predict(DataLoader& predict_data) {
  const NoGradGuard no_grad;
  const ModeGuard eval_mode(*model, false);
  std::vector<Tensor> predictions;
  run_hook(Hook::begin_predict);
  try {
    run_pass(Stage::predict, predict_data, &predictions);
  } catch (const CancelEpoch&) {     // NOLINT(bugprone-empty-catch): ends the pass
  } catch (const CancelTraining&) {  // NOLINT(bugprone-empty-catch): ends the pass
  }
  run_hook(Hook::after_predict);
  stage = Stage::idle;
  return predictions.empty() ? Tensor() : cat(predictions, 0);
}

// One pass over a loader. The per-pass counters restart; all_batches may
// swap the loader (a progress bar wrapping it, for instance).
void Trainer::run_pass(Stage pass_stage, DataLoader& pass_loader,
                       std::vector<Tensor>* predictions) {
  stage = pass_stage;
  loader = &pass_loader;
  batch = 0;
  batches = pass_loader.size();
  loss_sum_ = Tensor();
  read_loss_sum_ = 0;
  examples_seen_ = 0;
  window_batches_ = 0;
  run_hook(Hook::all_batches);
  batches = loader->size();
  if (stage != Stage::predict) check_same_batch_count();
  int64_t skip = 0;
  if (stage == Stage::train) {
    epoch_loader_state = loader->state_dict();
    skip = skip_batches;
    skip_batches = 0;
  }
  for (const Batch& data : *loader) {
    if (batch < skip) {  // done before the checkpoint this run resumed from
      ++batch;
      continue;
    }
    try {
      run_batch(data, predictions);
    } catch (const CancelBatch&) {
      // Gradients of a window whose batch was cancelled after its backward
      // would silently mix into the next step: they are dropped.
      if (stage == Stage::train && batch_backward_done_) discard_gradients();
    }
    try {
      run_hook(Hook::after_batch);
    } catch (const CancelBatch&) {  // NOLINT(bugprone-empty-catch): the batch is over
    }
    ++batch;
    // A Ctrl-C on any rank stops every rank after the same batch.
    if ((stage == Stage::train || stage == Stage::validate) &&
        on_any_rank(SigintGuard::received())) {
      interrupted_ = true;
      throw CancelTraining();
    }
  }
  // A window left open (its closing batch cancelled) is not stepped.
  if (stage == Stage::train) discard_gradients();
  if (stage != Stage::predict) reduce_pass_loss();
}

void Trainer::reduce_pass_loss() {
  if (!options.process_group) return;
  const double local_sum = read_loss_sum_ + (loss_sum_.defined() ? loss_sum_.item<double>() : 0.0);
  // On the group's device (a GPU for NCCL), read back on the CPU.
  Tensor totals = from_vector<double>({local_sum, static_cast<double>(examples_seen_)})
                      .to(options.process_group->device());
  options.process_group->all_reduce(totals, distributed::ReduceOp::Sum, /*async_op=*/false);
  totals = totals.to(kCPU);
  const double* t = totals.data_ptr<double>();
  read_loss_sum_ = t[0];
  loss_sum_ = Tensor();
  examples_seen_ = static_cast<int64_t>(t[1]);
}

bool Trainer::on_any_rank(bool flag) {
  if (!options.process_group) return flag;
  Tensor count = full({1}, static_cast<int64_t>(flag ? 1 : 0),
                      TensorOptions(kInt64).device(options.process_group->device()));
  options.process_group->all_reduce(count, distributed::ReduceOp::Sum, /*async_op=*/false);
  return count.item<int64_t>() > 0;
}

void Trainer::check_same_batch_count() {
  if (!options.process_group) return;
  distributed::ProcessGroup& pg = *options.process_group;
  const TensorOptions on_group = TensorOptions(kInt64).device(pg.device());
  Tensor mine = full({1}, batches, on_group);
  Tensor all = empty({pg.size()}, on_group);
  pg.all_gather(all, mine)->wait();
  all = all.to(kCPU);
  for (int r = 1; r < pg.size(); ++r) {
    TS_CHECK(all.data_ptr<int64_t>()[r] == all.data_ptr<int64_t>()[0], "Trainer (rank ", pg.rank(),
             " of ", pg.size(), "): the ", stage_name(stage), " loader has ",
             all.data_ptr<int64_t>()[0], " batches on rank 0 but ", all.data_ptr<int64_t>()[r],
             " on rank ", r, "; data-parallel ranks must run the same number of batches (give ",
             "each loader a DistributedSampler)");
  }
}

// One batch: the per-batch hooks around forward, loss, backward and step.
void Trainer::run_batch(const Batch& data, std::vector<Tensor>* predictions) {
  x = data.x;
  y = data.y;
  y_pred = Tensor();
  loss = Tensor();
  batch_backward_done_ = false;
  if (optimizer) lr = optimizer->param_groups().front().lr();
  charge(TrainStage::data);
  run_hook(Hook::begin_batch);
  {
    const MixedPrecision mixed(autocast_dtype_);
    // Inside an accumulation window the gradients stay local: only the
    // backward of the batch that closes the window is reduced.
    std::optional<distributed::DistributedDataParallel::NoSync> no_sync;
    auto* ddp = dynamic_cast<distributed::DistributedDataParallel*>(model.get());
    if (ddp != nullptr && stage == Stage::train && !closes_window()) no_sync.emplace(*ddp);
    y_pred = model->forward(x);
  }
  charge(TrainStage::forward);
  run_hook(Hook::after_pred);
  if (stage == Stage::predict) {
    predictions->push_back(y_pred.detach());
    return;
  }
  {
    const MixedPrecision mixed(autocast_dtype_);
    compute_loss();
  }
  charge(TrainStage::loss);
  run_hook(Hook::after_loss);
  // Checked and counted once after_loss is done: a batch cancelled there (a
  // divergence guard skipping a NaN loss) stays out of the pass's mean, and
  // a loss a callback replaced is the one checked and counted.
  count_loss();
  charge(TrainStage::loss);
  if (stage != Stage::train) return;
  (grad_scaler ? grad_scaler->scale(loss) : loss).backward();
  charge(TrainStage::backward);
  batch_backward_done_ = true;
  ++window_batches_;
  run_hook(Hook::after_backward);
  if (window_batches_ == options.accumulate || batch + 1 == batches) optimizer_step();
}

bool Trainer::closes_window() const {
  return window_batches_ + 1 == options.accumulate || batch + 1 == batches;
}

void Trainer::compute_loss() {
  TS_CHECK(y.defined(), "Trainer: batch ", batch, " of the ", stage_name(stage),
           " loader has no y; fit and eval need (x, y) pairs (x ", shape_text(x), ")");
  try {
    loss = loss_fn(y_pred, y);
  } catch (const Error& error) {
    throw Error(detail::concat("Trainer: the loss function failed on y_pred ", shape_text(y_pred),
                               " and y ", shape_text(y), " (", stage_name(stage), " batch ", batch,
                               "): ", error.what()));
  }
  TS_CHECK(loss.defined() && loss.numel() == 1,
           "Trainer: the loss function must return one value, got ", shape_text(loss),
           " from y_pred ", shape_text(y_pred), " and y ", shape_text(y));
}

void Trainer::count_loss() {
  // Each batch weighs by its size in the running sum, so the mean is over
  // examples.
  const int64_t count = y.dim() > 0 ? y.size(0) : 1;
  examples_seen_ += count;
  if (options.check_finite_loss && stage == Stage::train) {
    // The check reads the loss anyway: the sum takes that number, which
    // costs no tensor op (they were most of the trainer's per-batch cost).
    const double value = loss.item<double>();
    TS_CHECK(std::isfinite(value), "Trainer: the loss is ", value, " at epoch ", epoch, ", batch ",
             batch, " (step ", step, "); y_pred ", shape_text(y_pred), ", y ", shape_text(y));
    read_loss_sum_ += value * static_cast<double>(count);
    return;
  }
  // Otherwise the sum stays a tensor: no read, so no device sync per batch.
  const NoGradGuard no_grad;
  if (loss_sum_.defined()) {
    loss_sum_.add_(loss.detach().reshape({}), static_cast<double>(count));
  } else {
    loss_sum_ = loss.detach().reshape({}) * static_cast<double>(count);
  }
}

// Closes an accumulation window: the gradients summed over its batches are
// averaged, then begin_optim, step, after_step, zero_grad.
void Trainer::optimizer_step() {
  if (window_batches_ > 1) {
    const NoGradGuard no_grad;
    const double scale = 1.0 / static_cast<double>(window_batches_);
    for (const auto& group : optimizer->param_groups()) {
      for (const auto& param : group.params) {
        if (param.grad().defined()) param.mutable_grad().mul_(scale);
      }
    }
  }
  if (grad_scaler) grad_scaler->unscale_(*optimizer);
  charge(TrainStage::optimizer);
  run_hook(Hook::begin_optim);
  if (grad_scaler) {
    grad_scaler->step(*optimizer);  // skipped on the device after an overflow
    grad_scaler->update();
  } else {
    optimizer->step();
  }
  ++step;
  charge(TrainStage::optimizer);
  run_hook(Hook::after_step);
  optimizer->zero_grad(options.zero_grad_to_none);
  charge(TrainStage::optimizer);
  window_batches_ = 0;
}

void Trainer::discard_gradients() {
  if (window_batches_ == 0) return;
  optimizer->zero_grad(options.zero_grad_to_none);
  window_batches_ = 0;
}

double Trainer::mean_loss() const {
  if (examples_seen_ == 0) return kNaN;
  const double unread = loss_sum_.defined() ? loss_sum_.item<double>() : 0.0;
  return (read_loss_sum_ + unread) / static_cast<double>(examples_seen_);
}

}  // namespace toadstool::train
