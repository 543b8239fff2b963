#pragma once
// ReduceLROnPlateau (torch 1.13): multiplies each group's lr by `factor` when
// the metric passed to step(metric) has not improved for more than
// `patience` steps, then waits `cooldown` steps before counting again. An
// improvement is beating the best value by `threshold` (relative: best *
// (1 -+ threshold); absolute: best -+ threshold). lrs never go below min_lr,
// and a reduction smaller than eps is skipped. Not an LRScheduler (as in
// PyTorch): it steps on a metric.
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/nn/optim/optimizer.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::optim {

struct ReduceLROnPlateauOptions {
  std::string mode = "min";  // "min" or "max"
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  std::string threshold_mode = "rel";  // "rel" or "abs"
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one for all groups, or one per group
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});

  void step(double metric);
  // The groups' lrs after the last step (their lrs at construction before).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  int64_t last_epoch() const { return last_epoch_; }
  Optimizer& optimizer() const { return *optimizer_; }

  // best (0-d float64), num_bad_epochs, cooldown_counter, last_epoch (0-d
  // int64), _last_lr (1-D float64).
  TensorDict state_dict() const;
  void load_state_dict(const TensorDict& dict);

 private:
  bool is_better(double a, double best) const;

  Optimizer* optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace toadstool::optim
