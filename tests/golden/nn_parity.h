#pragma once
// What the NnParity tests share: PyTorch's modules and their weights from a
// golden file (tests/golden/make_nn_golden.py, make_decoder_golden.py),
// loaded into ours by parameter name, and compared.
#include <gtest/gtest.h>

#include <string>

#include "golden.h"
#include "test_util.h"

namespace toadstool::testing {

inline double scalar(const GoldenCase& c, const std::string& label) {
  return c.at(label).item<double>();
}

// The "param.<name>" tensors of a case as a state dict.
inline TensorDict golden_params(const GoldenCase& c) {
  TensorDict dict;
  for (const auto& [label, tensor] : c) {
    if (label.rfind("param.", 0) == 0) dict.insert(label.substr(6), tensor);
  }
  return dict;
}

// Every element within rtol of PyTorch's, relative to the tensor's largest
// magnitude (gradients have entries near zero where a relative test per
// element would measure float32 rounding, not a mismatch).
inline void expect_matches(const Tensor& ours, const Tensor& theirs, double rtol,
                           const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what;
  ASSERT_EQ(ours.shape(), theirs.shape()) << what;
  const double scale = values(theirs.abs().amax())[0];
  const double worst = values((ours.to(kFloat64) - theirs.to(kFloat64)).abs().amax())[0];
  EXPECT_LE(worst, rtol * scale) << what << ": worst difference " << worst << ", scale " << scale;
}

}  // namespace toadstool::testing
