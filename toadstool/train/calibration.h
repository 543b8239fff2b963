#pragma once
// Temperature scaling (Guo et al. 2017, the original Toadstool's
// TemperatureScaling): after training, one temperature T > 0 fitted on
// validation logits so that softmax(logits / T) minimises the negative log
// likelihood; argmax, and so accuracy, is unchanged. And the expected
// calibration error that says whether it helped.
//
//   logits [N, C] with class targets [N] (int64 in [0, C)), or binary
//   logits [N] (or [N, 1]) with targets 0 / 1 (sigmoid(logit / T)).
//
// Everything runs on the CPU in float64 (the logits are copied there).
#include <cstdint>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train {

// Expected calibration error: the examples binned by confidence (the top
// class's probability; for binary logits max(p, 1 - p)) into `bins` equal
// bins of [0, 1]; the sum over bins of |accuracy - mean confidence| times
// the bin's share of the examples. `temperature` divides the logits first.
double expected_calibration_error(const Tensor& logits, const Tensor& targets, int64_t bins = 15,
                                  double temperature = 1.0);

// Mean negative log likelihood of the targets under softmax(logits / T)
// (sigmoid for binary logits).
double calibration_nll(const Tensor& logits, const Tensor& targets, double temperature = 1.0);

struct TemperatureFit {
  double temperature = 1;
  double nll_before = 0, nll_after = 0;  // at T = 1 and at the fitted T
  double ece_before = 0, ece_after = 0;
};

// The T in [0.01, 100] that minimises calibration_nll: the NLL is convex in
// 1 / T, so a golden-section search over log T finds it (to 1e-6 in log T).
TemperatureFit fit_temperature(const Tensor& logits, const Tensor& targets, int64_t bins = 15);

}  // namespace toadstool::train
