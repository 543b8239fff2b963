// glu and nn::GLU against PyTorch's F.glu (tests/golden/data/glu.txt, made
// by tests/golden/make_glu_golden.py): the output and the input's gradient,
// for inputs as stored and as non-contiguous copies.
#include <gtest/gtest.h>

#include <string>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

TEST(Golden, GluOutputAndGradientMatchPyTorch) {
  const auto cases = testing::load_golden("glu.txt");
  int checked = 0;
  for (const auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    const int64_t dim = c.at("dim").item<int64_t>();
    const bool float64 = c.at("x").dtype() == kFloat64;
    const double rtol = float64 ? 1e-12 : 1e-5;
    const double atol = float64 ? 1e-12 : 1e-6;
    for (const bool strided : {false, true}) {
      SCOPED_TRACE(strided ? "non-contiguous" : "as stored");
      Tensor x = strided ? testing::non_contiguous(c.at("x")) : c.at("x").clone();
      x.requires_grad_(true);
      ASSERT_EQ(x.is_contiguous(), !strided);
      // The module for the default dim, the function otherwise.
      nn::GLU module(dim);
      const Tensor out = dim == -1 ? module(x) : glu(x, dim);
      testing::expect_close(out, c.at("out"), rtol, atol);
      (out * c.at("r")).sum().backward();
      testing::expect_close(x.grad(), c.at("grad_x"), rtol, atol);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

}  // namespace
}  // namespace toadstool
