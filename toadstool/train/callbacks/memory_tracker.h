#pragma once
// MemoryTrackerCallback: the allocator's memory, epoch by epoch (the
// original Toadstool's memory tracker), on the device of the model's
// parameters: the peak is reset as each epoch begins, and as it ends the
// bytes held by live tensors now and at the epoch's peak (tensor/allocator.h
// memory_stats) are kept in epochs() and printed as one line on rank 0:
//
//   memory: epoch 1  current 12.4 MB  peak 201.3 MB  cached 188.9 MB  (cpu)
//
// The peak is the whole process's on that device (every tensor, not only
// the trainer's).
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "toadstool/tensor/device.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

struct EpochMemory {
  int64_t epoch = 0;          // trainer.epoch (from 0)
  int64_t current_bytes = 0;  // held by live tensors at the epoch's end
  int64_t peak_bytes = 0;     // the most held during the epoch
  int64_t cached_bytes = 0;   // freed blocks the allocator keeps for reuse
};

class MemoryTrackerCallback : public CallbackBase<MemoryTrackerCallback> {
 public:
  // `out` (std::clog by default) must outlive the callback; verbose =
  // false prints nothing (epochs() still fills).
  explicit MemoryTrackerCallback(std::ostream* out = nullptr, bool verbose = true);

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;

  // The epochs of the current (or last) fit, in order.
  const std::vector<EpochMemory>& epochs() const { return epochs_; }
  // The device tracked (the model's parameters' at begin_fit).
  Device device() const { return device_; }

 private:
  std::ostream& out_;
  bool verbose_;
  Device device_ = kCPU;
  std::vector<EpochMemory> epochs_;
};

}  // namespace toadstool::train
