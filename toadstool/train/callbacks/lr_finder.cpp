#include "toadstool/train/callbacks/lr_finder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/checkpoint.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

LRFinderCallback::LRFinderCallback(LRFinderOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TS_CHECK(o.min_lr > 0 && o.max_lr > o.min_lr,
           "LRFinderCallback: need 0 < min_lr < max_lr, got min_lr ", o.min_lr, ", max_lr ",
           o.max_lr);
  TS_CHECK(o.max_iter >= 2, "LRFinderCallback: max_iter must be >= 2, got ", o.max_iter);
  TS_CHECK(o.smoothing > 0 && o.smoothing <= 1,
           "LRFinderCallback: smoothing must be in (0, 1], got ", o.smoothing);
  TS_CHECK(o.diverge_factor > 1, "LRFinderCallback: diverge_factor must be > 1, got ",
           o.diverge_factor);
  TS_CHECK(o.skip_start >= 0 && o.skip_end >= 0,
           "LRFinderCallback: skip_start and skip_end must be >= 0, got ", o.skip_start, " and ",
           o.skip_end);
}

double LRFinderCallback::lr_at(size_t point) const {
  const double t = static_cast<double>(point) / static_cast<double>(options_.max_iter - 1);
  return options_.min_lr * std::pow(options_.max_lr / options_.min_lr, t);
}

void LRFinderCallback::begin_fit(Trainer& trainer) {
  history_.clear();
  diverged_ = false;
  average_ = 0;
  best_ = std::numeric_limits<double>::infinity();
  // Copies: the model's state_dict shares storage with its parameters.
  model_state_ = cloned(trainer.model->state_dict());
  optimizer_state_ = trainer.optimizer->state_dict();  // already copies
  generator_state_ = default_generator().state();
  check_finite_loss_ = trainer.options.check_finite_loss;
  trainer.options.check_finite_loss = false;
  saved_ = true;
}

void LRFinderCallback::begin_batch(Trainer& trainer) {
  if (trainer.stage != Stage::train) return;
  const double lr = lr_at(history_.size());
  for (auto& group : trainer.optimizer->param_groups()) group.set_lr(lr);
  trainer.lr = lr;
}

void LRFinderCallback::after_loss(Trainer& trainer) {
  if (trainer.stage != Stage::train) return;
  const double loss = trainer.loss.item<double>();
  const double n = static_cast<double>(history_.size() + 1);
  average_ = (1 - options_.smoothing) * average_ + options_.smoothing * loss;
  const double smoothed = average_ / (1 - std::pow(1 - options_.smoothing, n));
  history_.push_back({trainer.lr, loss, smoothed});
  if (!std::isfinite(smoothed)) {
    diverged_ = true;
  } else {
    best_ = std::min(best_, smoothed);
    diverged_ = smoothed > options_.diverge_factor * best_;
  }
  // Stopping here skips this batch's backward and step: nothing of them is kept.
  if (diverged_ || static_cast<int64_t>(history_.size()) == options_.max_iter) {
    throw CancelTraining();
  }
}

void LRFinderCallback::after_fit(Trainer& trainer) {
  if (saved_) restore(trainer);
  if (!options_.csv_path.empty()) write_csv();
  if (options_.verbose) {
    const auto suggestion = suggested_lr();
    std::cout << "LRFinderCallback: " << history_.size() << " points"
              << (diverged_ ? " (stopped on divergence)" : "") << "; suggested lr ";
    if (suggestion) {
      std::cout << *suggestion << " (steepest descent of the smoothed loss)\n";
    } else {
      std::cout << "none (too few points after skipping " << options_.skip_start << " + "
                << options_.skip_end << ")\n";
    }
  }
}

void LRFinderCallback::restore(Trainer& trainer) {
  trainer.model->load_state_dict(model_state_);
  trainer.optimizer->load_state_dict(optimizer_state_);
  trainer.optimizer->zero_grad(trainer.options.zero_grad_to_none);
  default_generator().set_state(generator_state_);
  trainer.options.check_finite_loss = check_finite_loss_;
  trainer.lr = trainer.optimizer->param_groups().front().lr();
  model_state_ = TensorDict();
  optimizer_state_ = TensorDict();
  saved_ = false;
}

std::optional<size_t> steepest_descent_index(const std::vector<LRFinderPoint>& curve,
                                             int64_t skip_start, int64_t skip_end) {
  TS_CHECK(skip_start >= 0 && skip_end >= 0, "steepest_descent_index: negative skip (", skip_start,
           ", ", skip_end, ")");
  const auto skip_front = static_cast<size_t>(skip_start);
  const auto skip_back = static_cast<size_t>(skip_end);
  if (curve.size() < skip_front + skip_back + 2) return std::nullopt;
  // numpy.gradient over the window: one-sided differences at its ends,
  // central ones inside. Indices are into the window, then shifted back.
  const size_t first = skip_front, count = curve.size() - skip_front - skip_back;
  const auto s = [&](size_t i) { return curve[first + i].smoothed_loss; };
  size_t best = 0;
  double steepest = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < count; ++i) {
    double slope = 0;
    if (i == 0) {
      slope = s(1) - s(0);
    } else if (i + 1 == count) {
      slope = s(i) - s(i - 1);
    } else {
      slope = (s(i + 1) - s(i - 1)) / 2;
    }
    if (slope < steepest) {  // the first of equal slopes, as numpy.argmin
      steepest = slope;
      best = i;
    }
  }
  return first + best;
}

std::optional<size_t> LRFinderCallback::suggested_index() const {
  return steepest_descent_index(history_, options_.skip_start, options_.skip_end);
}

std::optional<double> LRFinderCallback::suggested_lr() const {
  const auto index = suggested_index();
  if (!index) return std::nullopt;
  return history_[*index].lr;
}

void LRFinderCallback::write_csv() const {
  AtomicFileWriter file(options_.csv_path);
  file.write("lr,loss,smoothed_loss\n");
  char line[128];
  for (const auto& point : history_) {
    const int n = std::snprintf(line, sizeof line, "%.17g,%.17g,%.17g\n", point.lr, point.loss,
                                point.smoothed_loss);
    file.write(line, static_cast<size_t>(n));
  }
  file.commit();
}

}  // namespace toadstool::train
