#include "toadstool/nn/optim/one_cycle_lr.h"

#include <cmath>
#include <numbers>
#include <optional>

#include "toadstool/tensor/checked_math.h"
#include "toadstool/tensor/error.h"

namespace toadstool::optim {

namespace {

// A per-group value given once for all groups or once per group.
std::vector<double> per_group(const std::vector<double>& values, size_t groups, const char* name) {
  TS_CHECK(values.size() == 1 || values.size() == groups, "OneCycleLR: expected 1 or ", groups,
           " values for ", name, ", got ", values.size());
  return values.size() == 1 ? std::vector<double>(groups, values[0]) : values;
}

}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& o)
    : LRScheduler(optimizer, "OneCycleLR") {
  if (o.total_steps != 0) {
    TS_CHECK(o.total_steps > 0, "OneCycleLR: expected a positive total_steps, got ", o.total_steps);
    total_steps_ = o.total_steps;
  } else {
    TS_CHECK(o.epochs > 0 && o.steps_per_epoch > 0,
             "OneCycleLR: give total_steps, or epochs and steps_per_epoch (both > 0); got epochs ",
             o.epochs, ", steps_per_epoch ", o.steps_per_epoch);
    const std::optional<int64_t> total = checked_mul(o.epochs, o.steps_per_epoch);
    TS_CHECK(total.has_value(), "OneCycleLR: epochs ", o.epochs, " x steps_per_epoch ",
             o.steps_per_epoch, " overflows int64");
    total_steps_ = *total;
  }
  TS_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got ",
           o.pct_start);
  TS_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
           "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '", o.anneal_strategy, "'");
  cosine_ = o.anneal_strategy == "cos";
  const auto total = static_cast<double>(total_steps_);
  if (o.three_phase) {
    phases_ = {
        {o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
        {2 * o.pct_start * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
        {total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{o.pct_start * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }

  auto& groups = optimizer.param_groups();
  const std::vector<double> max_lrs = per_group(o.max_lr, groups.size(), "max_lr");
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].set("initial_lr", max_lrs[g] / o.div_factor);
    groups[g].set("max_lr", max_lrs[g]);
    groups[g].set("min_lr", groups[g].get("initial_lr") / o.final_div_factor);
  }
  cycle_momentum_ = o.cycle_momentum;
  if (cycle_momentum_) {
    const bool sgd_like = optimizer.defaults().count("momentum") != 0;
    const bool adam_like = optimizer.defaults().count("beta1") != 0;
    TS_CHECK(sgd_like || adam_like, "OneCycleLR: cycle_momentum needs an optimizer with momentum ",
             "or betas, ", optimizer.name(), " has neither");
    momentum_name_ = adam_like ? "beta1" : "momentum";
    for (auto& group : groups) {
      group.set(momentum_name_, o.max_momentum);
      group.set("max_momentum", o.max_momentum);
      group.set("base_momentum", o.base_momentum);
    }
  }
  // The base constructor read initial_lr before it was set here.
  for (size_t g = 0; g < groups.size(); ++g) base_lrs_[g] = groups[g].get("initial_lr");
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (cosine_) {
    const double cos_out = std::cos(std::numbers::pi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch();
  TS_CHECK(step_num <= total_steps_, "OneCycleLR: tried to step ", step_num + 1,
           " times; the specified number of total steps is ", total_steps_);
  std::vector<double> lrs;
  for (auto& group : optimizer().param_groups()) {
    double start_step = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (static_cast<double>(step_num) <= phase.end_step || i + 1 == phases_.size()) {
        // A phase of no length (pct_start x total_steps == 1: the warm-up
        // ends at step 0) is at its end: PyTorch divides 0 by 0 there
        // (ZeroDivisionError; here it would be a NaN learning rate).
        const double length = phase.end_step - start_step;
        const double pct = length > 0 ? (static_cast<double>(step_num) - start_step) / length : 1.0;
        lrs.push_back(anneal(group.get(phase.start_lr), group.get(phase.end_lr), pct));
        if (cycle_momentum_) {
          group.set(momentum_name_,
                    anneal(group.get(phase.start_momentum), group.get(phase.end_momentum), pct));
        }
        break;
      }
      start_step = phase.end_step;
    }
  }
  return lrs;
}

}  // namespace toadstool::optim
