#pragma once
// The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR, torch 1.13): the lr
// rises from max_lr / div_factor to max_lr over the first pct_start of the
// steps, then falls to initial_lr / final_div_factor (three_phase: falls back
// to the initial lr first, then to the minimum), by cosine or linear
// annealing. With cycle_momentum the momentum (SGD's `momentum`, Adam's
// `beta1`) moves the opposite way between max_momentum and base_momentum.
// It writes initial_lr, max_lr, min_lr (and max_momentum, base_momentum) into
// the optimizer's groups, so they are saved with the optimizer.
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/nn/optim/lr_scheduler.h"

namespace toadstool::optim {

struct OneCycleLROptions {
  // One value for all groups, or one per group.
  std::vector<double> max_lr;
  // total_steps, or epochs * steps_per_epoch when total_steps is 0.
  int64_t total_steps = 0;
  int64_t epochs = 0;
  int64_t steps_per_epoch = 0;
  double pct_start = 0.3;
  std::string anneal_strategy = "cos";  // "cos" or "linear"
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  int64_t total_steps() const { return total_steps_; }

 protected:
  // Stepping past total_steps is an Error, as in PyTorch.
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    const char* start_lr;
    const char* end_lr;
    const char* start_momentum;
    const char* end_momentum;
  };
  double anneal(double start, double end, double pct) const;

  int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  bool cosine_ = true;
  bool cycle_momentum_ = true;
  const char* momentum_name_ = "momentum";  // or "beta1"
};

}  // namespace toadstool::optim
