// Temperature scaling and the expected calibration error (train/calibration.h):
// exact values on small cases, and the temperature recovered from logits
// made over- or under-confident by a known factor.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

using train::calibration_nll;
using train::expected_calibration_error;
using train::fit_temperature;

TEST(Calibration, ExactValuesOnSmallCases) {
  // Binary logits 0, 0, log 3, log 3 with targets 1, 0, 1, 1: confidences
  // 0.5 (class 0 predicted: right once) and 0.75 (both right). With 10
  // bins: |1 - 1| + |2 - 1.5| = 0.5 over 4 examples.
  const Tensor logits = from_vector<double>({0, 0, std::log(3.0), std::log(3.0)}, {4});
  const Tensor targets = from_vector<int64_t>({1, 0, 1, 1}, {4});
  EXPECT_NEAR(expected_calibration_error(logits, targets, 10), 0.125, 1e-12);
  // -(log 0.5 + log 0.5 + 2 log 0.75) / 4
  EXPECT_NEAR(calibration_nll(logits, targets), -(2 * std::log(0.5) + 2 * std::log(0.75)) / 4,
              1e-12);
  // Multi-class: a uniform row has NLL log C whatever the temperature.
  const Tensor uniform = zeros({2, 3});
  EXPECT_NEAR(calibration_nll(uniform, from_vector<int64_t>({2, 0}, {2}), 0.3), std::log(3.0),
              1e-12);
}

// Targets drawn from softmax(z) (so z is calibrated), then z scaled by
// `factor`: the fitted temperature undoes the factor.
void expect_recovers(int64_t classes, double factor) {
  SCOPED_TRACE("classes " + std::to_string(classes) + ", factor " + std::to_string(factor));
  const int64_t n = 6000;
  Generator g(5);
  const Tensor z = randn({n, classes}, kFloat64, &g) * 2.0;
  const Tensor u = rand({n}, kFloat64, &g);
  std::vector<int64_t> targets(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* row = z.data_ptr<double>() + i * classes;
    // Binary (classes 1): P(1) = sigmoid(z).
    std::vector<double> p;
    if (classes == 1) {
      const double s = 1 / (1 + std::exp(-row[0]));
      p = {1 - s, s};
    } else {
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(row[c]);
      for (int64_t c = 0; c < classes; ++c) p.push_back(std::exp(row[c]) / sum);
    }
    double cumulative = 0;
    targets[i] = static_cast<int64_t>(p.size()) - 1;
    for (size_t c = 0; c < p.size(); ++c) {
      cumulative += p[c];
      if (u.data_ptr<double>()[i] < cumulative) {
        targets[i] = static_cast<int64_t>(c);
        break;
      }
    }
  }
  const Tensor y = from_vector<int64_t>(targets, {n});
  const Tensor logits = classes == 1 ? (z * factor).reshape({n}) : z * factor;
  const train::TemperatureFit fit = fit_temperature(logits.to(kFloat32), y);
  EXPECT_NEAR(fit.temperature, factor, 0.1 * factor);
  EXPECT_LE(fit.nll_after, fit.nll_before);
  EXPECT_LT(fit.ece_after, fit.ece_before);
  EXPECT_LT(fit.ece_after, 0.03);
  EXPECT_NEAR(fit.nll_after, calibration_nll(logits, y, fit.temperature), 1e-6);
}

TEST(Calibration, FitTemperatureUndoesOverAndUnderConfidence) {
  expect_recovers(3, 3.0);  // over-confident
  expect_recovers(3, 0.5);  // under-confident
  expect_recovers(1, 2.0);  // binary logits
}

TEST(Calibration, BadInputsAreErrors) {
  const Tensor logits = zeros({3, 2});
  EXPECT_ERROR(fit_temperature(logits, from_vector<int64_t>({0, 2, 1}, {3})),
               (std::vector<std::string>{"fit_temperature", "target 2 of example 1",
                                         "not a class in [0, 2)"}));
  EXPECT_ERROR(fit_temperature(logits, from_vector<int64_t>({0, 1}, {2})),
               (std::vector<std::string>{"one class per row", "[3, 2]"}));
  EXPECT_ERROR(fit_temperature(zeros({2, 2, 2}), from_vector<int64_t>({0, 1}, {2})),
               "logits must be [N, C]");
  EXPECT_ERROR(fit_temperature(zeros({0, 2}), zeros({0}, kInt64)), "no examples");
  EXPECT_ERROR(calibration_nll(logits, from_vector<int64_t>({0, 1, 1}, {3}), 0), "temperature");
  EXPECT_ERROR(expected_calibration_error(logits, from_vector<int64_t>({0, 1, 1}, {3}), 0), "bins");
}

}  // namespace
}  // namespace toadstool::testing
