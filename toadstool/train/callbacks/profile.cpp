#include "toadstool/train/callbacks/profile.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>

#include "toadstool/tensor/device.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/threads.h"

namespace toadstool::train {

namespace {

bool model_on_cpu(const Trainer& trainer) {
  for (const Tensor& p : trainer.model->parameters()) return !p.device().is_cuda();
  return true;
}

double share(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

}  // namespace

ProfileCallback::ProfileCallback(ProfileOptions options)
    : out_(options.out != nullptr ? *options.out : std::clog), options_(options) {
  TS_CHECK(options_.peak_gflops >= 0, "ProfileCallback: peak_gflops must be >= 0, got ",
           options_.peak_gflops);
  TS_CHECK(options_.kernel_rows >= 1, "ProfileCallback: kernel_rows must be >= 1, got ",
           options_.kernel_rows);
}

void ProfileCallback::begin_fit(Trainer& trainer) {
  epochs_.clear();
  peak_gflops_ = options_.peak_gflops;
  peak_threads_ = get_num_threads();
  // About 10 ms: five runs of the FMA probe on the threads training uses.
  if (peak_gflops_ == 0 && model_on_cpu(trainer)) {
    peak_gflops_ = cpu_fma_peak_gflops(peak_threads_);
  }
}

void ProfileCallback::begin_epoch(Trainer& trainer) {
  timer_.reset();
  batches_ = 0;
  reset_kernel_profile();
  start_kernel_profile();
  trainer.stage_timer = &timer_;
  attached_ = true;
}

void ProfileCallback::after_batch(Trainer& trainer) {
  if (attached_ && trainer.stage == Stage::train) ++batches_;
}

void ProfileCallback::begin_validate(Trainer& trainer) { finish_pass(trainer); }

void ProfileCallback::after_epoch(Trainer& trainer) {
  finish_pass(trainer);
  if (options_.verbose && trainer.is_main_process() && !epochs_.empty()) print(epochs_.back());
}

void ProfileCallback::cancelled_training(Trainer& trainer) { finish_pass(trainer); }
void ProfileCallback::after_fit(Trainer& trainer) { finish_pass(trainer); }

void ProfileCallback::finish_pass(Trainer& trainer) {
  if (!attached_) return;
  timer_.charge(TrainStage::other);
  trainer.stage_timer = nullptr;
  stop_kernel_profile();
  attached_ = false;

  EpochProfile profile;
  profile.epoch = trainer.epoch;
  profile.batches = batches_;
  for (int s = 0; s < kTrainStageCount; ++s) {
    profile.stage_seconds[s] = timer_.seconds(static_cast<TrainStage>(s));
  }
  profile.seconds = timer_.total_seconds();
  profile.kernels = kernel_profile();
  for (const KernelProfileEntry& k : profile.kernels) profile.flops += k.flops;
  profile.peak_gflops = peak_gflops_;
  profile.mfu = peak_gflops_ > 0 && profile.seconds > 0
                    ? profile.flops / (profile.seconds * peak_gflops_ * 1e9)
                    : std::numeric_limits<double>::quiet_NaN();
  epochs_.push_back(std::move(profile));
}

void ProfileCallback::print(const EpochProfile& p) const {
  const auto flags = out_.flags();
  const auto precision = out_.precision();
  out_ << std::fixed << std::setprecision(2) << "profile: epoch " << p.epoch + 1 << "  "
       << p.batches << " batches  " << p.seconds << " s";
  if (p.batches > 0) {
    out_ << "  (" << std::setprecision(1) << 1e3 * p.seconds / static_cast<double>(p.batches)
         << " ms/batch)";
  }
  out_ << "\n" << std::setprecision(2);
  out_ << "  " << std::left << std::setw(12) << "stage" << std::right << std::setw(9) << "seconds"
       << std::setw(8) << "share"
       << "\n";
  for (int s = 0; s < kTrainStageCount; ++s) {
    out_ << "  " << std::left << std::setw(12) << train_stage_name(static_cast<TrainStage>(s))
         << std::right << std::setw(9) << p.stage_seconds[s] << std::setw(7) << std::setprecision(1)
         << share(p.stage_seconds[s], p.seconds) << "%" << std::setprecision(2) << "\n";
  }
  out_ << "  " << std::left << std::setw(32) << "op kind" << std::right << std::setw(8) << "calls"
       << std::setw(9) << "seconds" << std::setw(8) << "share" << std::setw(10) << "GFLOP"
       << std::setw(9) << "GFLOP/s"
       << "\n";
  auto row = [&](const KernelProfileEntry& k) {
    out_ << "  " << std::left << std::setw(32) << k.kernel << std::right << std::setw(8) << k.calls
         << std::setw(9) << k.seconds << std::setw(7) << std::setprecision(1)
         << share(k.seconds, p.seconds) << "%" << std::setprecision(2);
    if (k.flops > 0) {
      out_ << std::setw(10) << k.flops * 1e-9 << std::setw(9) << std::setprecision(1)
           << k.flops * 1e-9 / k.seconds << std::setprecision(2);
    }
    out_ << "\n";
  };
  KernelProfileEntry rest{"(other kernels)"};
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    if (static_cast<int64_t>(i) < options_.kernel_rows) {
      row(p.kernels[i]);
      continue;
    }
    rest.calls += p.kernels[i].calls;
    rest.seconds += p.kernels[i].seconds;
    rest.flops += p.kernels[i].flops;
  }
  if (rest.calls > 0) row(rest);
  if (std::isnan(p.mfu)) {
    out_ << "  " << p.flops * 1e-9 << " GFLOP in " << p.seconds
         << " s (no peak to measure MFU against: ProfileOptions::peak_gflops)\n";
  } else {
    out_ << "  MFU " << std::setprecision(1) << 100.0 * p.mfu << "%: " << p.flops * 1e-9
         << " GFLOP in " << std::setprecision(2) << p.seconds << " s = " << std::setprecision(1)
         << p.flops * 1e-9 / p.seconds << " GFLOP/s of a " << p.peak_gflops << " GFLOP/s peak";
    if (options_.peak_gflops == 0) {
      out_ << " (fp32 FMA, " << peak_threads_ << (peak_threads_ == 1 ? " thread)" : " threads)");
    }
    out_ << "\n";
  }
  out_.flags(flags);
  out_.precision(precision);
}

}  // namespace toadstool::train
