#include "toadstool/train/calibration.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::train {

namespace {

// The logits ([N, C], or [N] when binary) in float64 on the CPU, and the
// targets, checked.
struct Examples {
  Tensor logits;
  Tensor targets;  // int64 [N]
  int64_t n = 0;
  bool binary = false;
};

Examples examples_of(const Tensor& logits, const Tensor& targets, const char* op) {
  TS_CHECK(logits.defined() && targets.defined(), op, ": logits and targets must be defined");
  const bool binary = logits.dim() == 1 || (logits.dim() == 2 && logits.size(1) == 1);
  TS_CHECK(logits.dim() == 1 || logits.dim() == 2, op,
           ": logits must be [N, C] or binary [N] / [N, 1], got ", detail::describe(logits));
  TS_CHECK(is_floating(logits.dtype()), op, ": logits must be floating, got ",
           detail::describe(logits));
  Examples e;
  e.n = logits.size(0);
  e.binary = binary;
  TS_CHECK(targets.numel() == e.n && (targets.dim() == 1 || targets.dim() == 2), op,
           ": targets must hold one class per row of logits ", detail::describe(logits), ", got ",
           detail::describe(targets));
  TS_CHECK(e.n > 0, op, ": no examples (logits ", detail::describe(logits), ")");
  e.logits = logits.detach().to(kCPU).to(kFloat64).contiguous();
  if (binary) e.logits = e.logits.reshape({e.n});
  const Tensor t = targets.detach().to(kCPU).to(kFloat64).contiguous();
  const double* tp = t.data_ptr<double>();
  const int64_t limit = binary ? 2 : logits.size(1);
  for (int64_t i = 0; i < e.n; ++i) {
    TS_CHECK(tp[i] == std::floor(tp[i]) && tp[i] >= 0 && tp[i] < static_cast<double>(limit), op,
             ": target ", tp[i], " of example ", i, " is not a class in [0, ", limit, ")");
  }
  e.targets = t.reshape({e.n}).to(kInt64);
  return e;
}

double nll(const Examples& e, double t) {
  const Tensor scaled = e.logits / t;
  return (e.binary ? binary_cross_entropy_with_logits(scaled, e.targets.to(kFloat64))
                   : cross_entropy(scaled, e.targets))
      .item<double>();
}

double ece(const Examples& e, int64_t bins, double t) {
  // Each example's confidence and predicted class: the top probability
  // (the first on a tie), for binary logits of (1 - p, p).
  const Tensor p = (e.binary ? sigmoid(e.logits / t) : softmax(e.logits / t, 1)).contiguous();
  const double* pp = p.data_ptr<double>();
  const int64_t* target = e.targets.data_ptr<int64_t>();
  const int64_t classes = e.binary ? 1 : p.size(1);
  std::vector<double> confidence(bins, 0.0), correct(bins, 0.0);
  for (int64_t i = 0; i < e.n; ++i) {
    double conf = 0;
    int64_t predicted = 0;
    if (e.binary) {
      predicted = pp[i] > 0.5 ? 1 : 0;
      conf = std::max(pp[i], 1 - pp[i]);
    } else {
      const double* row = pp + i * classes;
      predicted = std::max_element(row, row + classes) - row;
      conf = row[predicted];
    }
    const auto bin = std::min<int64_t>(bins - 1, static_cast<int64_t>(conf * bins));
    confidence[bin] += conf;
    correct[bin] += predicted == target[i] ? 1.0 : 0.0;
  }
  double total = 0;
  for (int64_t b = 0; b < bins; ++b) total += std::abs(correct[b] - confidence[b]);
  return total / static_cast<double>(e.n);
}

void check_temperature(double t, const char* op) {
  TS_CHECK(std::isfinite(t) && t > 0, op, ": the temperature must be positive and finite, got ", t);
}

}  // namespace

double expected_calibration_error(const Tensor& logits, const Tensor& targets, int64_t bins,
                                  double temperature) {
  const char* op = "expected_calibration_error";
  TS_CHECK(bins >= 1, op, ": bins must be at least 1, got ", bins);
  check_temperature(temperature, op);
  return ece(examples_of(logits, targets, op), bins, temperature);
}

double calibration_nll(const Tensor& logits, const Tensor& targets, double temperature) {
  const char* op = "calibration_nll";
  check_temperature(temperature, op);
  return nll(examples_of(logits, targets, op), temperature);
}

TemperatureFit fit_temperature(const Tensor& logits, const Tensor& targets, int64_t bins) {
  const char* op = "fit_temperature";
  TS_CHECK(bins >= 1, op, ": bins must be at least 1, got ", bins);
  const Examples e = examples_of(logits, targets, op);
  // Golden-section search for the minimum of nll(exp(u)) over u = log T.
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  double lo = std::log(0.01), hi = std::log(100.0);
  double a = hi - ratio * (hi - lo), b = lo + ratio * (hi - lo);
  double fa = nll(e, std::exp(a)), fb = nll(e, std::exp(b));
  while (hi - lo > 1e-6) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = nll(e, std::exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = nll(e, std::exp(b));
    }
  }
  TemperatureFit fit;
  fit.temperature = std::exp((lo + hi) / 2);
  fit.nll_before = nll(e, 1.0);
  fit.nll_after = nll(e, fit.temperature);
  fit.ece_before = ece(e, bins, 1.0);
  fit.ece_after = ece(e, bins, fit.temperature);
  return fit;
}

}  // namespace toadstool::train
