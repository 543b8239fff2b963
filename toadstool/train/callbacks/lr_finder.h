#pragma once
// LRFinderCallback: the learning-rate range test (Smith 2015; fastai's
// lr_find, torch-lr-finder). Run it as the only fit of a fresh set-up:
//
//   auto finder = std::make_shared<LRFinderCallback>();
//   Trainer(model, optimizer, loss_fn, {finder}).fit(epochs, train_loader);
//   double lr = finder->suggested_lr().value_or(default_lr);
//
// Per training batch i it sets every group's lr to
// min_lr * (max_lr / min_lr)^(i / (max_iter - 1)) (begin_batch) and records
// (lr, loss, smoothed loss) with that batch's loss (after_loss). It stops the
// fit (CancelTraining) after max_iter points, or as soon as the smoothed loss
// exceeds diverge_factor times the best smoothed loss so far, or the loss is
// not finite. `epochs` only needs to be large enough to reach max_iter
// batches. At after_fit (also after an Error) it puts the model's parameters
// and buffers, the optimizer's state and hyper-parameters (so its lrs) and the
// default generator back exactly as they were at begin_fit, computes the
// suggestion, writes the curve as CSV, and prints one line when verbose.
//
// It reads the loss every batch (that is its purpose), and turns the
// trainer's check_finite_loss off for its fit (restored after), since a
// diverging loss is a result here, not an error.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor_dict.h"
#include "toadstool/train/callback.h"

namespace toadstool::train {

struct LRFinderOptions {
  double min_lr = 1e-7;
  double max_lr = 10;
  int64_t max_iter = 100;
  // Weight of the new loss in the exponential moving average (fastai's
  // 1 - beta); the average is debiased, so the first point is the first
  // loss. 1: no smoothing.
  double smoothing = 0.05;
  double diverge_factor = 10;
  // Points left out at each end of the curve when looking for the steepest
  // descent (torch-lr-finder's skip_start / skip_end).
  int64_t skip_start = 10;
  int64_t skip_end = 5;
  // Where to write "lr,loss,smoothed_loss" (one row per point) at after_fit;
  // empty: no file.
  std::string csv_path;
  bool verbose = true;  // print the suggestion at after_fit
};

struct LRFinderPoint {
  double lr, loss, smoothed_loss;
};

// The index of the steepest descent of the smoothed loss along `curve`:
// the point whose gradient (numpy.gradient over the smoothed losses between
// skip_start and the last skip_end points; uniform steps in log lr) is the
// most negative. None when fewer than two points are left after the skips.
// LRFinderCallback::suggested_index, for a curve read back from its CSV.
std::optional<size_t> steepest_descent_index(const std::vector<LRFinderPoint>& curve,
                                             int64_t skip_start, int64_t skip_end);

class LRFinderCallback : public CallbackBase<LRFinderCallback> {
 public:
  // Errors: min_lr <= 0, max_lr <= min_lr, max_iter < 2, smoothing outside
  // (0, 1], diverge_factor <= 1, a negative skip.
  explicit LRFinderCallback(LRFinderOptions options = {});

  const LRFinderOptions& options() const { return options_; }
  // The recorded curve, in order.
  const std::vector<LRFinderPoint>& history() const { return history_; }
  // Whether the run stopped on divergence (rather than after max_iter points
  // or at the end of the fit).
  bool diverged() const { return diverged_; }
  // The lr at the steepest descent of the smoothed loss
  // (steepest_descent_index with the options' skips); none when fewer than
  // two points are left after the skips.
  std::optional<double> suggested_lr() const;
  // The index of that point in history().
  std::optional<size_t> suggested_index() const;

  void begin_fit(Trainer& trainer) override;
  void begin_batch(Trainer& trainer) override;
  void after_loss(Trainer& trainer) override;
  void after_fit(Trainer& trainer) override;

 private:
  double lr_at(size_t point) const;
  void restore(Trainer& trainer);
  void write_csv() const;

  LRFinderOptions options_;
  std::vector<LRFinderPoint> history_;
  bool diverged_ = false;
  double average_ = 0, best_ = 0;

  // What begin_fit found, put back at after_fit.
  TensorDict model_state_, optimizer_state_;
  Generator::State generator_state_{};
  bool check_finite_loss_ = true;
  bool saved_ = false;
};

}  // namespace toadstool::train
