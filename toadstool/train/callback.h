#pragma once
// Callbacks: the Toadstool trainer calls every callback at every stage of its
// loop (the hooks below, in the order of the callback list); a callback reads
// and may change the trainer's exposed state (x, y, y_pred, loss, epoch,
// step, lr, score, the model, the optimizer...) and steers the loop by
// throwing CancelBatch, CancelEpoch or CancelTraining. docs/trainer.md has
// the loop, hook by hook.
//
//   struct PrintLoss : CallbackBase<PrintLoss> {
//     void after_epoch(Trainer& t) override { std::cout << t.train_loss() << "\n"; }
//   };
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::train {

class Trainer;

// Every hook, in the order they first fire in a fit with validation.
enum class Hook {
#define TOADSTOOL_HOOK(name) name,
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK
};
inline constexpr int kHookCount = 0
#define TOADSTOOL_HOOK(name) +1
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK
    ;
const char* hook_name(Hook hook);

// Control flow. Thrown from a hook (or from the model or loss), each ends a
// part of the loop early; the trainer catches it, and the "after" hooks of
// what it ended still run (docs/trainer.md):
// - CancelBatch: the rest of this batch is skipped (no optimizer step);
//   after_batch runs.
// - CancelEpoch: the rest of this epoch (its training batches and its
//   validation) is skipped; after_epoch runs. In eval / predict it ends the pass.
// - CancelTraining: the fit ends: cancelled_training, then after_fit, then
//   fit() returns normally. In eval / predict it ends the pass.
struct CancelBatch : std::exception {
  const char* what() const noexcept override { return "CancelBatch"; }
};
struct CancelEpoch : std::exception {
  const char* what() const noexcept override { return "CancelEpoch"; }
};
struct CancelTraining : std::exception {
  const char* what() const noexcept override { return "CancelTraining"; }
};

class Callback {
 public:
  virtual ~Callback() = default;
  // Shown by Trainer::describe() and used to label its saved state; the
  // default is the class name.
  virtual std::string name() const;

  // One virtual per hook: void begin_fit(Trainer&), ... (train/hook_list.h).
#define TOADSTOOL_HOOK(name) \
  virtual void name(Trainer& /*trainer*/) {}
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK

  // The hooks this callback's class overrides, for describe(). A callback
  // that derives from CallbackBase<Self> gets them filled in; one that
  // derives from Callback directly reports none it knows of (has_hook_list()
  // false).
  virtual std::vector<Hook> hooks() const { return {}; }
  virtual bool has_hook_list() const { return false; }

  // What a checkpoint saves of this callback (scalars as 0-d tensors) and
  // restores on resume. The trainer stores each callback's state under its
  // position and name ("callbacks.2.EarlyStopping."), so two callbacks of one
  // kind never overwrite each other.
  virtual TensorDict state_dict() const { return {}; }
  virtual void load_state_dict(const TensorDict& /*dict*/) {}
};

namespace callback_detail {
// The hooks Self declares (or inherits from a class below Callback): for
// those, &Self::hook names a member of that class, not of Callback.
template <class Self>
std::vector<Hook> overridden_hooks() {
  std::vector<Hook> hooks;
#define TOADSTOOL_HOOK(name)                                                            \
  if constexpr (!std::is_same_v<decltype(&Self::name), void (Callback::*)(Trainer&)>) { \
    hooks.push_back(Hook::name);                                                        \
  }
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK
  return hooks;
}
}  // namespace callback_detail

// Derive from CallbackBase<YourCallback> (rather than Callback) and the
// trainer's describe() lists the hooks your class implements.
template <class Self>
class CallbackBase : public Callback {
 public:
  std::vector<Hook> hooks() const override { return callback_detail::overridden_hooks<Self>(); }
  bool has_hook_list() const override { return true; }
};

}  // namespace toadstool::train
