#include "toadstool/train/callbacks/memory_tracker.h"

#include <iomanip>
#include <iostream>

#include "toadstool/tensor/allocator.h"

namespace toadstool::train {

namespace {
double megabytes(int64_t bytes) { return static_cast<double>(bytes) / 1e6; }
}  // namespace

MemoryTrackerCallback::MemoryTrackerCallback(std::ostream* out, bool verbose)
    : out_(out != nullptr ? *out : std::clog), verbose_(verbose) {}

void MemoryTrackerCallback::begin_fit(Trainer& trainer) {
  epochs_.clear();
  const std::vector<Tensor> params = trainer.model->parameters();
  device_ = params.empty() ? kCPU : params.front().device();
}

void MemoryTrackerCallback::begin_epoch(Trainer& /*trainer*/) { reset_peak_memory_stats(device_); }

void MemoryTrackerCallback::after_epoch(Trainer& trainer) {
  const MemoryStats stats = memory_stats(device_);
  epochs_.push_back({trainer.epoch, stats.current_bytes, stats.peak_bytes, stats.cached_bytes});
  if (!verbose_ || !trainer.is_main_process()) return;
  const auto flags = out_.flags();
  out_ << std::fixed << std::setprecision(1) << "memory: epoch " << trainer.epoch + 1
       << "  current " << megabytes(stats.current_bytes) << " MB  peak "
       << megabytes(stats.peak_bytes) << " MB  cached " << megabytes(stats.cached_bytes) << " MB  ("
       << device_ << ")\n";
  out_.flags(flags);
}

}  // namespace toadstool::train
