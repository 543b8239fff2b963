#include "toadstool/train/callbacks/timer.h"

#include <algorithm>
#include <iomanip>
#include <iostream>

namespace toadstool::train {

TimerCallback::TimerCallback(std::ostream* out, bool verbose)
    : out_(out != nullptr ? *out : std::clog), verbose_(verbose) {}

double TimerCallback::seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void TimerCallback::begin_fit(Trainer& /*trainer*/) {
  epochs_.clear();
  fit_start_ = Clock::now();
}

void TimerCallback::begin_epoch(Trainer& trainer) {
  current_ = EpochTimes{};
  current_.epoch = trainer.epoch;
  batch_sum_s_ = 0;
  in_validation_ = false;
  epoch_start_ = Clock::now();
}

void TimerCallback::begin_batch(Trainer& trainer) {
  if (trainer.stage == Stage::train) batch_start_ = Clock::now();
}

void TimerCallback::after_batch(Trainer& trainer) {
  if (trainer.stage != Stage::train) return;
  const double s = seconds_since(batch_start_);
  ++current_.batches;
  batch_sum_s_ += s;
  current_.batch_max_s = std::max(current_.batch_max_s, s);
}

void TimerCallback::begin_validate(Trainer& /*trainer*/) {
  current_.train_s = seconds_since(epoch_start_);
  in_validation_ = true;
  validate_start_ = Clock::now();
}

void TimerCallback::after_validate(Trainer& /*trainer*/) {
  current_.valid_s = seconds_since(validate_start_);
}

void TimerCallback::after_epoch(Trainer& trainer) {
  current_.epoch_s = seconds_since(epoch_start_);
  if (!in_validation_) current_.train_s = current_.epoch_s;
  if (current_.batches > 0) {
    current_.batch_mean_s = batch_sum_s_ / static_cast<double>(current_.batches);
  }
  epochs_.push_back(current_);
  if (!verbose_ || !trainer.is_main_process()) return;
  const auto flags = out_.flags();
  out_ << std::fixed << std::setprecision(2) << "timer: epoch " << current_.epoch + 1 << "  train "
       << current_.train_s << "s (" << current_.batches << " batches, mean " << std::setprecision(1)
       << current_.batch_mean_s * 1e3 << "ms, max " << current_.batch_max_s * 1e3 << "ms)";
  if (in_validation_) out_ << std::setprecision(2) << "  valid " << current_.valid_s << "s";
  out_ << std::setprecision(2) << "  epoch " << current_.epoch_s << "s\n";
  out_.flags(flags);
}

void TimerCallback::after_fit(Trainer& trainer) {
  fit_s_ = seconds_since(fit_start_);
  if (!verbose_ || !trainer.is_main_process()) return;
  const auto flags = out_.flags();
  out_ << std::fixed << std::setprecision(2) << "timer: fit " << fit_s_ << "s, " << epochs_.size()
       << (epochs_.size() == 1 ? " epoch\n" : " epochs\n");
  out_.flags(flags);
}

}  // namespace toadstool::train
