#include "toadstool/nn/optim/plateau.h"

#include <algorithm>
#include <limits>

#include "toadstool/nn/optim/state_util.h"
#include "toadstool/tensor/error.h"

namespace toadstool::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(&optimizer), options_(options) {
  const size_t groups = optimizer.param_groups().size();
  TS_CHECK(options.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got ", options.factor);
  TS_CHECK(options.mode == "min" || options.mode == "max", "ReduceLROnPlateau: mode '",
           options.mode, "' is unknown (expected 'min' or 'max')");
  TS_CHECK(options.threshold_mode == "rel" || options.threshold_mode == "abs",
           "ReduceLROnPlateau: threshold mode '", options.threshold_mode,
           "' is unknown (expected 'rel' or 'abs')");
  TS_CHECK(options.min_lr.size() == 1 || options.min_lr.size() == groups,
           "ReduceLROnPlateau: expected 1 or ", groups, " min_lrs, got ", options.min_lr.size());
  min_lrs_ =
      options.min_lr.size() == 1 ? std::vector<double>(groups, options.min_lr[0]) : options.min_lr;
  // The worst value for the mode, so the first metric is always an improvement.
  best_ = options.mode == "min" ? std::numeric_limits<double>::infinity()
                                : -std::numeric_limits<double>::infinity();
  for (const auto& group : optimizer.param_groups()) last_lr_.push_back(group.lr());
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool rel = options_.threshold_mode == "rel";
  if (options_.mode == "min") {
    return rel ? a < best * (1. - options_.threshold) : a < best - options_.threshold;
  }
  return rel ? a > best * (options_.threshold + 1.) : a > best + options_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  auto& groups = optimizer_->param_groups();
  if (num_bad_epochs_ > options_.patience) {
    for (size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].lr();
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[g]);
      if (old_lr - new_lr > options_.eps) groups[g].set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const auto& group : groups) last_lr_.push_back(group.lr());
}

TensorDict ReduceLROnPlateau::state_dict() const {
  TensorDict dict;
  dict.insert("best", scalar_tensor(best_, kFloat64));
  dict.insert("num_bad_epochs", detail::int_scalar(num_bad_epochs_));
  dict.insert("cooldown_counter", detail::int_scalar(cooldown_counter_));
  dict.insert("last_epoch", detail::int_scalar(last_epoch_));
  dict.insert("_last_lr", detail::list_tensor(last_lr_));
  return dict;
}

void ReduceLROnPlateau::load_state_dict(const TensorDict& dict) {
  const std::string op = "ReduceLROnPlateau.load_state_dict";
  detail::check_keys(dict, op,
                     {"best", "num_bad_epochs", "cooldown_counter", "last_epoch", "_last_lr"});
  const double best = detail::read_double(dict, op, "best");
  const int64_t bad = detail::read_int(dict, op, "num_bad_epochs", 0);
  const int64_t cooldown = detail::read_int(dict, op, "cooldown_counter", 0);
  const int64_t last_epoch = detail::read_int(dict, op, "last_epoch", -1);
  std::vector<double> last_lr =
      detail::read_list(dict, op, "_last_lr", optimizer_->param_groups().size());
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

}  // namespace toadstool::optim
