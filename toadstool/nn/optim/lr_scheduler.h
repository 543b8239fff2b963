#pragma once
// Learning-rate schedules bound to an optimizer, with torch 1.13's
// torch.optim.lr_scheduler semantics and formulas (the recursive, chainable
// forms), so the values per step equal PyTorch's:
//
//   auto schedule = StepLR(optimizer, /*step_size=*/10, /*gamma=*/0.5);
//   for (...) { optimizer.step(); schedule.step(); }
//
// Constructing a schedule records each group's `initial_lr` (unless already
// there) and performs the first step, which sets the lr for step 0, as in
// PyTorch. A schedule's state_dict holds its progress (last_epoch, the step
// count, base and last lrs), not its configuration: rebuild it with the same
// arguments, then load. ReduceLROnPlateau (plateau.h) and OneCycleLR
// (one_cycle_lr.h) live in their own files.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "toadstool/nn/optim/optimizer.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::optim {

class SequentialLR;

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one step and sets every group's lr.
  virtual void step();
  // The lrs the last step set, one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }

  // last_epoch, _step_count (0-d int64), base_lrs, _last_lr (1-D float64).
  virtual TensorDict state_dict() const;
  // Checks the names and the group count before changing anything.
  virtual void load_state_dict(const TensorDict& dict);

 protected:
  // Records initial_lr in every group; the derived constructor then calls
  // initial_step() once its own members are set.
  LRScheduler(Optimizer& optimizer, const char* name);
  void initial_step();
  // The chainable form: next lrs from the groups' current ones.
  virtual std::vector<double> get_lr() = 0;
  // The closed form at last_epoch (PyTorch's _get_closed_form_lr); schedules
  // without one use get_lr().
  virtual std::vector<double> closed_form_lr() { return get_lr(); }
  // PyTorch's deprecated step(epoch), which SequentialLR uses at milestones.
  void step_to(int64_t epoch);
  // Each group's current lr.
  std::vector<double> group_lrs() const;
  int64_t step_count() const { return step_count_; }
  const char* name() const { return name_; }

  // Derived constructors may adjust these (OneCycleLR sets base_lrs_;
  // SequentialLR keeps its own epoch and last lrs).
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;

 private:
  friend class SequentialLR;  // rewinds and restarts the schedulers it runs
  void apply(const std::vector<double>& lrs);

  Optimizer* optimizer_;
  const char* name_;
  int64_t step_count_ = 0;
};

// lr = base_lr * lr_lambda(epoch); one function for all groups or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(Optimizer& optimizer, const Lambda& lr_lambda);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

// lr *= gamma every step_size steps.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at each milestone (a milestone listed k times multiplies by gamma^k).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

// lr *= gamma every step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  double gamma_;
};

// Cosine from base_lr down to eta_min over t_max steps (and back up after, as
// PyTorch's recursive form does).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: the factor goes from start_factor to end_factor over
// total_iters steps, then stays.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

// Runs schedulers[0] until milestones[0], then schedulers[1] (restarted at
// epoch 0) until milestones[1], and so on. The schedulers must be bound to
// `optimizer`; there is one milestone fewer than schedulers.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;
  // Its own entries plus each scheduler's under `_schedulers.<i>.`.
  TensorDict state_dict() const override;
  void load_state_dict(const TensorDict& dict) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace toadstool::optim
