#pragma once
// Where the trainer's time goes, stage by stage. While a StageTimer is
// attached (Trainer::stage_timer; ProfileCallback attaches one for each
// training pass), the trainer charges the wall time since its last charge
// to the stage that just ran, so the stages add up to the time attached:
//
//   data       the loader producing the batch (and the loop around it)
//   forward    model->forward(x), under autocast when mixed
//   loss       the loss function, its finite check and the running sum
//   backward   loss.backward() (and the loss scaling of "16-mixed")
//   optimizer  averaging accumulated gradients, unscaling, step, zero_grad
//   callbacks  every callback's hooks
//   other      the rest (between passes, the pass's own bookkeeping)
//
// Host times: on a GPU, a stage is charged when the host has queued its
// work, and the first host read (the loss check) waits for the device.
#include <array>
#include <chrono>

namespace toadstool::train {

enum class TrainStage { data, forward, loss, backward, optimizer, callbacks, other };
inline constexpr int kTrainStageCount = 7;
const char* train_stage_name(TrainStage stage);

class StageTimer {
 public:
  StageTimer() : last_(Clock::now()) {}

  // Starts counting from now without charging anything.
  void restart() { last_ = Clock::now(); }
  // Charges the time since the last charge (or restart) to `stage`.
  void charge(TrainStage stage) {
    const auto now = Clock::now();
    seconds_[static_cast<int>(stage)] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  double seconds(TrainStage stage) const { return seconds_[static_cast<int>(stage)]; }
  double total_seconds() const;
  // Zeroes every stage and restarts.
  void reset();

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_;
  std::array<double, kTrainStageCount> seconds_{};
};

}  // namespace toadstool::train
