#pragma once
// gradcheck: compares the gradients autograd computes with central finite
// differences, in float64.
//
// The output of fn is projected on a fixed random tensor r, s(x) = sum(fn(x) * r),
// so one backward gives the analytic d s / d x and two evaluations per input
// element give the numerical one: a wrong entry anywhere in the Jacobian
// shows up for any r but a measure-zero set (PyTorch's "fast mode" idea).
#include <functional>
#include <string>
#include <vector>

#include "toadstool/tensor/tensor.h"

namespace toadstool::autograd {

struct GradcheckResult {
  bool ok = true;
  // Empty when ok; otherwise the worst element: input, index, both values.
  std::string report;
  // The largest |analytic - numerical| / (atol + rtol * |numerical|): ok <=> <= 1.
  double worst_ratio = 0;
  // The op table names of the nodes on the checked graph.
  std::vector<std::string> ops;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d fn / d input for every input that requires grad (they must be
// float64 and must not overlap themselves, e.g. no expanded leaves). fn must
// be deterministic (seed any randomness inside it) and return float64.
// The inputs' grad() is left as it was.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);

}  // namespace toadstool::autograd
