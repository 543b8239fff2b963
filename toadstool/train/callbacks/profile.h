#pragma once
// ProfileCallback: where each epoch's training time goes, and how much of
// the machine it uses. For each training pass it attaches a StageTimer
// (train/stage_timer.h: data, forward, loss, backward, optimizer,
// callbacks, other) and records the kernel profile (tensor/kernel_profile.h:
// time and matrix FLOPs per op kind, the kernel table's entries); at the
// end of the pass it computes the model FLOPs utilisation
//
//   MFU = matrix FLOPs of the pass / (the pass's seconds x peak FLOP/s)
//
// against the peak measured at begin_fit (cpu_fma_peak_gflops at the
// library's thread count: float32 FMAs with the CPU kernels' vectors) or
// given in the options (a GPU's, say). On rank 0 it prints a table as each
// epoch ends:
//
//   profile: epoch 1  50 batches  11.65 s  (232.9 ms/batch)
//     stage         seconds   share
//     data             0.00    0.0%
//     forward          3.88   33.3%
//     ...
//     op kind                        calls  seconds   share     GFLOP  GFLOP/s
//     gemm                            1500     5.25   45.1%    901.51    171.6
//     attention_backward               100     2.19   18.8%    223.77    102.4
//     ...
//     MFU 45.1%: 1237.2 GFLOP in 11.65 s = 106.2 GFLOP/s of a 235.3 GFLOP/s
//     peak (fp32 FMA, 2 threads)
//
// (one line; the IMDB example: docs/callbacks.md), and
// TensorBoardCallback logs the MFU and the stage times. Validation and the
// other passes are not profiled. The kernel profile is process-wide:
// the callback resets it at each epoch and stops it when the training pass
// ends. With the model on a GPU every kernel call waits for the device
// while recording (kernel_profile.h), so the epoch runs slower.
#include <array>
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "toadstool/tensor/kernel_profile.h"
#include "toadstool/train/callback.h"
#include "toadstool/train/stage_timer.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {

struct ProfileOptions {
  // Where the table goes (std::clog when null; must outlive the callback);
  // verbose = false prints nothing (epochs() still fills).
  std::ostream* out = nullptr;
  bool verbose = true;
  // The peak in GFLOP/s that MFU is measured against; 0: measured at
  // begin_fit on the CPU (with the model on a GPU, no MFU then).
  double peak_gflops = 0;
  // The op kinds printed, slowest first (the rest are summed in one row).
  int64_t kernel_rows = 12;
};

struct EpochProfile {
  int64_t epoch = 0;    // trainer.epoch (from 0)
  int64_t batches = 0;  // training batches run
  std::array<double, kTrainStageCount> stage_seconds{};
  double seconds = 0;                       // the training pass: the stages' sum
  std::vector<KernelProfileEntry> kernels;  // slowest first
  double flops = 0;                         // the kernels' matrix FLOPs
  double peak_gflops = 0;                   // 0 when unknown
  double mfu = 0;                           // NaN when the peak is unknown
};

class ProfileCallback : public CallbackBase<ProfileCallback> {
 public:
  // Errors: peak_gflops < 0, kernel_rows < 1.
  explicit ProfileCallback(ProfileOptions options = {});

  void begin_fit(Trainer& trainer) override;
  void begin_epoch(Trainer& trainer) override;
  void after_batch(Trainer& trainer) override;
  void begin_validate(Trainer& trainer) override;
  void after_epoch(Trainer& trainer) override;
  void cancelled_training(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

  // The epochs of the current (or last) fit, in order.
  const std::vector<EpochProfile>& epochs() const { return epochs_; }
  // The peak MFU is measured against (0 when unknown).
  double peak_gflops() const { return peak_gflops_; }

 private:
  // Ends the training pass's profile (once): detaches the timer, stops the
  // kernel profile, appends to epochs_.
  void finish_pass(Trainer& trainer);
  void print(const EpochProfile& profile) const;

  std::ostream& out_;
  ProfileOptions options_;
  double peak_gflops_ = 0;
  int peak_threads_ = 0;
  StageTimer timer_;
  bool attached_ = false;
  int64_t batches_ = 0;
  std::vector<EpochProfile> epochs_;
};

}  // namespace toadstool::train
