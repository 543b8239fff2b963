// Every element-wise and reduction op over empty, size-1 and broadcast
// shapes, and over views that alias each other: the result shape is right
// and the values equal the same op on plain contiguous copies.
#include <functional>

#include "test_util.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {
namespace {

using testing::expect_close;

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

const std::vector<std::pair<const char*, Unary>>& unary_ops() {
  static const std::vector<std::pair<const char*, Unary>> ops{
      {"neg", [](const Tensor& t) { return neg(t); }},
      {"abs", [](const Tensor& t) { return abs(t); }},
      {"exp", [](const Tensor& t) { return exp(t); }},
      {"log1p", [](const Tensor& t) { return log1p(abs(t)); }},
      {"sqrt", [](const Tensor& t) { return sqrt(abs(t)); }},
      {"tanh", [](const Tensor& t) { return tanh(t); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
      {"relu", [](const Tensor& t) { return relu(t); }},
      {"gelu", [](const Tensor& t) { return gelu(t); }},
      {"sin", [](const Tensor& t) { return sin(t); }},
      {"clamp", [](const Tensor& t) { return clamp(t, -0.5, 0.5); }},
      {"sum0", [](const Tensor& t) { return t.dim() ? t.sum({0}) : t.sum(); }},
      {"sum_last_keep", [](const Tensor& t) { return t.dim() ? t.sum({-1}, true) : t.sum(); }},
      {"mean_all", [](const Tensor& t) { return t.numel() ? t.mean() : zeros({}); }},
      {"amax_last",
       [](const Tensor& t) { return t.dim() && t.size(-1) ? t.amax({-1}) : zeros({}); }},
      {"softmax", [](const Tensor& t) { return t.dim() ? softmax(t, -1) : t; }},
      {"log_softmax0", [](const Tensor& t) { return t.dim() ? log_softmax(t, 0) : t; }},
  };
  return ops;
}

const std::vector<std::pair<const char*, Binary>>& binary_ops() {
  static const std::vector<std::pair<const char*, Binary>> ops{
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b, 0.5); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / (abs(b) + 1); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return a < b; }},
      {"where", [](const Tensor& a, const Tensor& b) { return where(a > b, a, b); }},
  };
  return ops;
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s{{},     {0},    {1},    {0, 3},   {3, 0},
                                    {1, 1}, {1, 5}, {4, 1}, {2, 3, 4}};
  return s;
}

TEST(ShapeSweep, UnaryAndReductionOpsOnEmptyAndSizeOneShapes) {
  for (const Shape& shape : shapes()) {
    const Tensor x = randn(shape);
    for (const auto& [name, op] : unary_ops()) {
      SCOPED_TRACE(std::string(name) + " on " + detail::concat(shape));
      const Tensor out = op(x);
      // The same op on a strided copy with the same values.
      expect_close(op(testing::non_contiguous(x)), out, 1e-6, 1e-6);
    }
  }
}

TEST(ShapeSweep, BinaryOpsBroadcastEveryPairOfShapes) {
  for (const Shape& sa : shapes()) {
    for (const Shape& sb : shapes()) {
      Shape expected;
      try {
        expected = detail::broadcast_shapes(sa, sb, "test");
      } catch (const Error&) {
        for (const auto& [name, op] : binary_ops()) EXPECT_THROW(op(randn(sa), randn(sb)), Error);
        continue;
      }
      const Tensor a = randn(sa), b = randn(sb);
      for (const auto& [name, op] : binary_ops()) {
        SCOPED_TRACE(std::string(name) + " " + detail::concat(sa) + " with " + detail::concat(sb));
        const Tensor out = op(a, b);
        EXPECT_EQ(out.shape(), expected);
        // Against explicitly expanded, contiguous operands.
        expect_close(out, op(a.expand(expected).contiguous(), b.expand(expected).contiguous()));
      }
    }
  }
}

TEST(ShapeSweep, OpsBetweenAliasingViews) {
  // Two views of one buffer as operands, and as destination.
  Tensor base = arange(12, kFloat32).view({3, 4});
  const Tensor expected = base.clone() * base.clone().t().contiguous().t();
  expect_close(base * base.t().contiguous().t(), expected);
  Tensor row = base.select(0, 0);
  row.add_(base.select(0, 1));
  expect_close(base.select(0, 0), arange(4, kFloat32) + arange(4, 8, 1, kFloat32));
  // Writing into a view from an overlapping view of the same buffer.
  Tensor flat = arange(6, kFloat32);
  Tensor head = flat.narrow(0, 0, 3), tail = flat.narrow(0, 3, 3);
  head.copy_(tail);
  expect_close(flat, from_vector(std::vector<float>{3, 4, 5, 3, 4, 5}));
}

}  // namespace
}  // namespace toadstool
