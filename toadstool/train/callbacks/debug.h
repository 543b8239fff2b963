#pragma once
// DebugCallback: finds where a run goes wrong. It syncs with the device after
// every forward, backward and step, so it is for debugging, not for
// production runs.
//
// - trace_hooks: a line per hook ("begin_batch  train epoch 0 batch 3").
// - print_shapes: shapes and dtypes of x, y, y_pred (and the loss) of the
//   first batch of each stage.
// - check_outputs (after_pred): when x or y_pred holds a NaN or an infinity,
//   the first module whose output is not finite. Modules have no forward
//   hooks (every layer calls its children's forward() directly), so it
//   re-runs the batch one module at a time, without gradients and with the
//   default generator rewound to where the forward started (same dropout
//   masks), walking nn::Sequential models and nn::MLP's layers depth first
//   and naming the module by its dotted name ("layers.2 (Linear)"). Any other
//   model is named as a whole: its forward is its own code.
// - check_grads (after_backward): the first parameter whose gradient is not
//   finite, and (check_missing_grads) parameters that require grad but got
//   none (unused in the forward, or cut from the graph by a detach).
// - check_weights (after_step): the first parameter that is not finite.
//
// A finding throws a toadstool::Error naming it (throw_on_error, the
// default), or is written to `out` and kept in findings(); in that mode each
// kind of finding for one module or parameter is reported once.
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "toadstool/tensor/generator.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

struct DebugOptions {
  bool trace_hooks = false;
  bool print_shapes = true;
  bool check_outputs = true;
  bool check_grads = true;
  bool check_missing_grads = true;
  bool check_weights = true;
  bool throw_on_error = true;
  // Where the trace, shapes and findings go (std::cerr when null); must
  // outlive the callback.
  std::ostream* out = nullptr;
};

class DebugCallback : public CallbackBase<DebugCallback> {
 public:
  explicit DebugCallback(DebugOptions options = {});

  // Every hook, for the trace; the checks run in begin_batch (records the
  // generator state), after_pred, after_loss (shapes), after_backward and
  // after_step.
  void begin_fit(Trainer& t) override { trace(t, Hook::begin_fit); }
  void after_fit(Trainer& t) override { trace(t, Hook::after_fit); }
  void begin_epoch(Trainer& t) override { trace(t, Hook::begin_epoch); }
  void after_epoch(Trainer& t) override { trace(t, Hook::after_epoch); }
  void all_batches(Trainer& t) override { trace(t, Hook::all_batches); }
  void begin_batch(Trainer& t) override;
  void after_pred(Trainer& t) override;
  void after_loss(Trainer& t) override;
  void after_backward(Trainer& t) override;
  void begin_optim(Trainer& t) override { trace(t, Hook::begin_optim); }
  void after_step(Trainer& t) override;
  void after_batch(Trainer& t) override { trace(t, Hook::after_batch); }
  void begin_validate(Trainer& t) override { trace(t, Hook::begin_validate); }
  void after_validate(Trainer& t) override { trace(t, Hook::after_validate); }
  void begin_eval(Trainer& t) override { trace(t, Hook::begin_eval); }
  void after_eval(Trainer& t) override { trace(t, Hook::after_eval); }
  void begin_predict(Trainer& t) override { trace(t, Hook::begin_predict); }
  void after_predict(Trainer& t) override { trace(t, Hook::after_predict); }
  void cancelled_training(Trainer& t) override { trace(t, Hook::cancelled_training); }

  // What was reported (in report mode; in throw mode, the finding thrown).
  const std::vector<std::string>& findings() const { return findings_; }

 private:
  void trace(const Trainer& trainer, Hook hook);
  void print_shapes(const Trainer& trainer);
  // Reports `message`: throws or writes it. `key` identifies the finding
  // so that report mode says it once.
  void report(const std::string& key, const std::string& message);

  DebugOptions options_;
  std::ostream& out_;
  std::set<Stage> shapes_printed_;
  std::set<std::string> reported_;
  std::vector<std::string> findings_;
  Generator::State generator_before_forward_;
};

// Where a non-finite output first appears: re-runs `model` on `x` one module
// at a time (see DebugCallback) and returns "<dotted name> (<Type>)" of the
// first module whose output holds a NaN or an infinity, or nullopt when
// every output is finite. The model itself is "model (<Type>)".
std::optional<std::string> first_non_finite_module(nn::UnaryModule& model, const Tensor& x);

// Whether every element is finite (integer and bool tensors always are).
bool all_finite(const Tensor& t);

}  // namespace toadstool::train
