#pragma once
// Optimizer base: parameter groups with their own hyper-parameters, zero_grad,
// step, and state_dict / load_state_dict as a TensorDict (PyTorch's
// torch.optim.Optimizer, docs/optim.md).
//
// Hyper-parameters are named doubles (booleans as 0 / 1), so LR schedules and
// the trainer read and set them by name: group.lr(), group.set_lr(x),
// group.get("momentum"). Adam's `betas` pair is held as `beta1` and `beta2`.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/tensor.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::optim {

using Options = std::map<std::string, double>;

// A set of parameters and the hyper-parameters they are updated with. Given
// to an optimizer, `options` holds overrides of its defaults (a name the
// optimizer does not know is an Error); once added, it holds every
// hyper-parameter, plus whatever a schedule stores there (`initial_lr`, ...).
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;

  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> params, Options options = {})  // NOLINT: implicit by design
      : params(std::move(params)), options(std::move(options)) {}

  double lr() const { return get("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  bool has(const std::string& name) const { return options.count(name) != 0; }
  // The hyper-parameter `name`, or an Error naming it.
  double get(const std::string& name) const;
  void set(const std::string& name, double value) { options[name] = value; }
};

// What an optimizer keeps per parameter: a step count (Adam's bias
// correction) and named buffers of the parameter's shape and dtype.
struct ParamState {
  int64_t step = 0;
  TensorDict buffers;
  // After gated steps: how many of them the device skipped (0-d float32 on
  // the parameter's device; `step` counts them until the host reads it).
  Tensor skipped;
};

// The fused steps update() prepares for the parameters of one group, which
// step() then runs together (native::sgd_steps_ / adam_steps_: one kernel
// call per device and dtype; on CUDA, one launch per 16 parameters).
struct StepBatch {
  std::vector<SgdStepTensors> sgd;
  std::vector<AdamStepTensors> adam;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // The optimizer's name ("SGD", "Adam", "AdamW"), for messages.
  const std::string& name() const { return name_; }
  // The hyper-parameters a group gets when it does not override them.
  const Options& defaults() const { return defaults_; }

  // Adds a group: missing hyper-parameters come from the defaults. Errors: an
  // unknown hyper-parameter, a bad value, an empty group, a parameter that is
  // undefined, not a float32 / float64 tensor, not a leaf, or already in a
  // group (of this one or another). Virtual, as zero_grad is: a sharded
  // optimizer fixes its groups at construction and tracks its gradients.
  virtual void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  // Sets every parameter's gradient to none (default) or to zeros.
  virtual void zero_grad(bool set_to_none = true);

  // One update of every parameter that has a gradient (the others are
  // skipped): one fused pass over its elements, not recorded by autograd; it
  // bumps the parameter's version counter. Virtual, as are the gated step and
  // the state dict's two functions, for an optimizer that shards its state
  // across processes (distributed::ZeroRedundancyOptimizer).
  virtual void step();
  // The same update gated on `skip_if_nonzero`, a 0-d float32 tensor on the
  // parameters' device (GradScaler's found-inf flag): where it is non-zero,
  // the kernels leave every parameter and its state as they were. The host
  // never reads the flag: each parameter keeps a device count of its skipped
  // steps, which the kernels use for the step number (Adam's bias
  // correction, SGD's first step) and which state(), state_dict(),
  // load_state_dict() and an ungated step() read and fold into the step
  // counts. A skipped step therefore counts as none, as when PyTorch's
  // GradScaler does not call step(); a state only skipped steps made is
  // dropped.
  virtual void step(const Tensor& skip_if_nonzero);

  // The per-parameter state, or nullptr before the parameter's first step
  // (always nullptr in a sharded optimizer: its state is on several ranks).
  const ParamState* state(const Tensor& param) const;

  // Copies of the state, under PyTorch-like names, parameters numbered in
  // group order from 0:
  //   state.<i>.step              0-d float32 (Adam, AdamW; as PyTorch)
  //   state.<i>.<buffer>          exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer
  //   param_groups.<g>.<name>     0-d float64, every hyper-parameter
  //   param_groups.<g>.params     1-D int64, the numbers of the group's parameters
  // Parameters that have not stepped have no state entries.
  virtual TensorDict state_dict() const;
  // Loads what state_dict() wrote into an optimizer with the same group
  // structure: the hyper-parameters are replaced by the saved ones (as in
  // PyTorch) and the state is copied in. The group count, each group's
  // parameter count, every state name and shape, and the hyper-parameters
  // are checked before anything changes; a mismatch is an Error saying what.
  virtual void load_state_dict(const TensorDict& dict);

  // Throws an Error naming the first bad hyper-parameter of `options`.
  virtual void validate(const Options& options) const = 0;
  // The buffers a parameter of a group with `options` keeps, in order.
  virtual std::vector<std::string> buffer_names(const Options& options) const = 0;
  // Whether the state has a step count.
  virtual bool counts_steps() const = 0;

 protected:
  Optimizer(std::string name, Options defaults);

  // Error unless `skip_if_nonzero` is one float32 value (a gated step's flag).
  void check_skip_flag(const Tensor& skip_if_nonzero) const;

  // The gate of the step in progress for a parameter's state (empty when
  // ungated), for update() to pass to the fused step.
  StepGateTensors gate_of(const ParamState& state) const;

  // Prepares the update of `param` (contiguous, float32 or float64) from
  // `grad` (contiguous, same shape and dtype) with the group's
  // hyper-parameters and the state: creates the state's buffers, counts the
  // step, and adds the fused step to `batch`, which step() runs once every
  // parameter of the group has its own.
  virtual void update(const Options& options, const Tensor& param, const Tensor& grad,
                      ParamState& state, StepBatch& batch) = 0;

 private:
  void run_step();
  // Folds the device's skipped counts into the step counts (a host read per
  // parameter that has them). Const because state() and state_dict() call
  // it: what they report is the state as the device left it.
  void settle_gate() const;

  std::string name_;
  Options defaults_;
  std::vector<ParamGroup> groups_;
  mutable std::unordered_map<const TensorImpl*, ParamState> state_;
  Tensor skip_flag_;  // the flag of the gated step in progress
};

// The state_dict() format of `groups`, parameter `index` (group order) with
// the state `state_of(index, param)` (nullptr: none), its buffers copied, or
// put in as they are when `copy_buffers` is false (tensors the caller made
// for the dict). For an optimizer whose state is not in the base class's
// map (distributed::ZeroRedundancyOptimizer gathers its shards into this
// form).
TensorDict format_state_dict(
    const std::vector<ParamGroup>& groups, bool counts_steps,
    const std::function<const ParamState*(int64_t index, const Tensor& param)>& state_of,
    bool copy_buffers = true);

// A zero-filled contiguous buffer of `like`'s shape and dtype.
Tensor zeros_buffer(const Tensor& like);

}  // namespace toadstool::optim
