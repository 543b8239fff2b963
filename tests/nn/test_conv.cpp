// Convolutions and pooling: the window ops (im2col, col2im), conv1d /
// conv2d, max / average / adaptive pooling and their modules, on cases
// small enough to count by hand; PyTorch
// parity is in tests/golden/test_nn_parity.cpp, the gradient checks in
// tests/autograd/test_gradcheck_ops.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "toadstool/nn/conv.h"
#include "toadstool/nn/pooling.h"

namespace toadstool {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::make;

// The Error's text, for checking that it names the op and the shapes.
template <class Call>
std::string error_of(const Call& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no Error)";
}

TEST(Im2col, CopiesEachWindowWithZeroPadding) {
  // [1, 1, 4] padded to 0 1 2 3 4 0: windows of 2 with stride 2.
  const Tensor x = make({1, 2, 3, 4}, {1, 1, 4});
  const Tensor cols = im2col(x, {.kernel_size = {2}, .stride = {2}, .padding = {1}});
  // [N, C K, P]: tap rows, window columns.
  expect_values(cols, {0, 2, 4, 1, 3, 0}, {1, 2, 3});
}

TEST(Im2col, TwoDimsWithDilation) {
  // [1, 1, 3, 3] = 0..8; a 2 x 2 kernel dilated by 2 fits once.
  const Tensor x = arange(0, 9).to(kFloat32).reshape({1, 1, 3, 3});
  const Tensor cols = im2col(x, {.kernel_size = {2, 2}, .dilation = {2}});
  expect_values(cols, {0, 2, 6, 8}, {1, 4, 1});
}

TEST(Col2im, SumsOverlappingWindowsBackOntoTheInput) {
  // Windows of 2 with stride 1 over 3 inputs: the middle one is in both.
  const Tensor cols = make({1, 1, 1, 1}, {1, 2, 2});
  expect_values(col2im(cols, {3}, {.kernel_size = {2}}), {1, 2, 1}, {1, 1, 3});
}

TEST(Conv1d, MatchesAHandComputedCorrelation) {
  // Cross-correlation, as PyTorch: out[i] = sum_k w[k] x[i + k] + b.
  const Tensor x = make({1, 2, 3, 4, 5}, {1, 1, 5});
  const Tensor w = make({1, 0, -1}, {1, 1, 3});
  expect_values(conv1d(x, w, make({10}, {1})), {8, 8, 8}, {1, 1, 3});
  // "same": one zero at each end.
  expect_values(conv1d(x, w, {}, {.padding_same = true}), {-2, -2, -2, -2, 4}, {1, 1, 5});
}

// The stride-1 kernel (grids, no columns; kernels/cpu/conv.h) against the
// columns' way, im2col and a matmul, in float32: output and every gradient,
// on shapes that leave partial register tiles and column blocks, with
// groups, dilation, uneven ("same") padding, padding beyond a 1 x 1 kernel
// and a 1-D convolution; and the same bits on 1 and 2 threads.
struct KernelCase {
  Shape x, w;
  ConvOptions options;
};

// conv as im2col's columns times the weights, recorded for autograd.
Tensor columns_conv(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o) {
  const auto dims = static_cast<size_t>(x.dim() - 2);
  ConvWindowOptions windows{.kernel_size = Shape(w.shape().begin() + 2, w.shape().end()),
                            .dilation = o.dilation};
  const Shape dilation = o.dilation.size() == 1 ? Shape(dims, o.dilation[0]) : o.dilation;
  for (size_t d = 0; d < dims; ++d) {
    const int64_t total = dilation[d] * (windows.kernel_size[d] - 1);
    const int64_t pad = o.padding.size() == 1 ? o.padding[0] : o.padding[d];
    windows.padding.push_back(o.padding_same ? total / 2 : pad);
    windows.padding_end.push_back(o.padding_same ? total - total / 2 : pad);
  }
  const Tensor cols = im2col(x, windows);
  const int64_t n = x.size(0), per_group = cols.size(1) / o.groups;
  Tensor out = matmul(reshape(w, {o.groups, w.size(0) / o.groups, per_group}),
                      reshape(cols, {n, o.groups, per_group, cols.size(2)}));
  Shape shape = {n, w.size(0)};
  const Shape spatial = conv_output_size(Shape(x.shape().begin() + 2, x.shape().end()), windows);
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  Shape bias_shape(dims + 2, 1);
  bias_shape[1] = w.size(0);
  return reshape(out, shape) + reshape(b, bias_shape);
}

// Output and the gradients of x, w, b from a fixed output gradient.
std::vector<Tensor> run_conv(const KernelCase& c, bool kernel) {
  manual_seed(3);
  const Tensor x = randn(c.x).requires_grad_();
  const Tensor w = randn(c.w).requires_grad_();
  const Tensor b = randn({c.w[0]}).requires_grad_();
  const Tensor out = !kernel           ? columns_conv(x, w, b, c.options)
                     : c.x.size() == 3 ? conv1d(x, w, b, c.options)
                                       : conv2d(x, w, b, c.options);
  out.backward(randn(out.shape()));
  return {out.detach(), x.grad(), w.grad(), b.grad()};
}

TEST(Conv2d, StrideOneKernelMatchesTheColumnsProduct) {
  const std::vector<KernelCase> cases = {
      {{3, 3, 9, 11}, {5, 3, 3, 3}, {.padding = {1}}},
      {{2, 20, 8, 40}, {30, 20, 3, 3}, {.padding = {1}}},
      {{1, 17, 30, 35}, {33, 17, 3, 3}, {.padding = {1}}},  // 3 column blocks
      {{2, 16, 6, 7}, {18, 8, 2, 3}, {.padding_same = true, .dilation = {2, 1}, .groups = 2}},
      {{2, 4, 5, 5}, {6, 4, 1, 1}, {.padding = {2}}},
      {{3, 6, 50}, {7, 6, 5}, {.padding = {2}, .dilation = {2}}},
  };
  const char* names[] = {"output", "grad x", "grad w", "grad b"};
  for (size_t k = 0; k < cases.size(); ++k) {
    const KernelCase& c = cases[k];
    SCOPED_TRACE("case " + std::to_string(k));
    const std::vector<Tensor> expected = run_conv(c, false);
    std::vector<Tensor> one_thread;
    {
      const testing::ScopedNumThreads threads(1);
      one_thread = run_conv(c, true);
    }
    const testing::ScopedNumThreads threads(2);
    const std::vector<Tensor> two_threads = run_conv(c, true);
    for (size_t i = 0; i < expected.size(); ++i) {
      SCOPED_TRACE(names[i]);
      expect_close(one_thread[i], expected[i], 1e-4, 1e-4);
      EXPECT_EQ(testing::values(two_threads[i]), testing::values(one_thread[i]));
    }
  }
}

TEST(Conv2d, GroupsKeepTheirChannelsApart) {
  // Two groups of one channel each, 1 x 1 kernels scaling by 2 and 3.
  const Tensor x = make({1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 2, 2});
  const Tensor w = make({2, 3}, {2, 1, 1, 1});
  expect_values(conv2d(x, w, {}, {.groups = 2}), {2, 4, 6, 8, 15, 18, 21, 24}, {1, 2, 2, 2});
}

TEST(Conv2d, UnbatchedInputGivesUnbatchedOutput) {
  const Tensor out = conv2d(randn({3, 5, 6}), randn({4, 3, 3, 2}), {}, {.stride = {2}});
  EXPECT_EQ(out.shape(), (Shape{4, 2, 3}));
}

TEST(Conv2d, BadInputsAreErrorsNamingTheShapes) {
  const Tensor x = randn({2, 3, 5, 5});
  std::string what = error_of([&] { conv2d(x, randn({4, 2, 3, 3})); });
  EXPECT_NE(what.find("conv2d: the weight [4, 2, 3, 3] float32 expects 2 input channels"),
            std::string::npos)
      << what;
  what = error_of([&] { conv2d(x, randn({4, 3, 7, 7})); });
  EXPECT_NE(what.find("is larger than the padded input [5, 5]"), std::string::npos) << what;
  what = error_of([&] { conv2d(randn({2, 3}), randn({4, 3, 3, 3})); });
  EXPECT_NE(what.find("conv2d: input must be [N, C, H, W] or [C, H, W], got [2, 3] float32"),
            std::string::npos)
      << what;
  what = error_of([&] { conv2d(x, randn({4, 3, 3, 3}), {}, {.groups = 2}); });
  EXPECT_NE(what.find("groups 2 must divide the input's 3 channels"), std::string::npos) << what;
  what = error_of([&] {
    conv2d(x, randn({4, 3, 3, 3}), {}, {.stride = {2}, .padding_same = true});
  });
  EXPECT_NE(what.find("padding \"same\" needs stride 1"), std::string::npos) << what;
  what = error_of([&] { conv2d(x, randn({4, 3, 3, 3}), randn({3})); });
  EXPECT_NE(what.find("bias must be [4]"), std::string::npos) << what;
  what = error_of([&] { conv2d(x, randn({4, 3, 3, 3}), {}, {.stride = {1, 2, 3}}); });
  EXPECT_NE(what.find("stride has 3 values for a kernel of 2 dims"), std::string::npos) << what;
  what = error_of([&] { conv2d(x.to(kInt64), randn({4, 3, 3, 3})); });
  EXPECT_NE(what.find("must share dtype and device"), std::string::npos) << what;
}

TEST(ConvModules, ParametersNamesShapesAndInitAsPyTorch) {
  manual_seed(3);
  nn::Conv2d conv(4, 6, {3, 2}, {.groups = 2});
  EXPECT_EQ(conv.weight.shape(), (Shape{6, 2, 3, 2}));
  EXPECT_EQ(conv.bias.shape(), (Shape{6}));
  const auto names = conv.state_dict().keys();
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 4 / 2 x 3 x 2 = 12.
  const double bound = 1.0 / std::sqrt(12.0);
  EXPECT_LE(conv.weight.abs().amax().item<double>(), bound);
  EXPECT_LE(conv.bias.abs().amax().item<double>(), bound);
  EXPECT_EQ(conv.extra_repr(), "4, 6, kernel_size=(3, 2), stride=(1, 1), groups=2");

  nn::Conv1d conv1(3, 5, 4, {.stride = {2}, .padding_same = false, .dilation = {2}}, false);
  EXPECT_FALSE(conv1.bias.defined());
  EXPECT_EQ(conv1.extra_repr(), "3, 5, kernel_size=(4,), stride=(2,), dilation=(2,), bias=False");
  EXPECT_EQ(conv1.forward(randn({2, 3, 20})).shape(), (Shape{2, 5, 7}));
}

TEST(ConvModules, BadOptionsAreErrors) {
  EXPECT_THROW(nn::Conv2d(3, 4, {3}, {.groups = 2}), Error);
  EXPECT_THROW(nn::Conv2d(3, 4, {3, 3, 3}), Error);
  EXPECT_THROW(nn::Conv1d(0, 4, 3), Error);
  EXPECT_THROW(nn::Conv1d(3, 4, 0), Error);
}

TEST(MaxPool, PaddingNeverWins) {
  // Padded windows of 2, stride 2: [pad, 1] [-5, 3] [2, -1].
  expect_values(max_pool1d(make({1, -5, 3, 2, -1}, {1, 1, 5}),
                           {.kernel_size = {2}, .stride = {2}, .padding = {1}}),
                {1, 3, 2}, {1, 1, 3});
  // Every value negative: a zero pad would win at the ends.
  expect_values(
      max_pool1d(make({-1, -2, -3}, {1, 3}), {.kernel_size = {2}, .stride = {1}, .padding = {1}}),
      {-1, -1, -2, -3}, {1, 4});
}

TEST(MaxPool, TheGradientGoesToTheFirstMaximum) {
  const Tensor x = make({1, 3, 3, 2}, {1, 1, 2, 2}).requires_grad_();
  max_pool2d(x, {.kernel_size = {2}}).sum().backward();
  expect_values(x.grad(), {0, 1, 0, 0}, {1, 1, 2, 2});
}

TEST(AvgPool, CountIncludePadOrNot) {
  const Tensor x = make({2, 4}, {1, 1, 2});
  const PoolOptions options = {.kernel_size = {2}, .stride = {1}, .padding = {1}};
  expect_values(avg_pool1d(x, options), {1, 3, 2}, {1, 1, 3});
  PoolOptions excluded = options;
  excluded.count_include_pad = false;
  expect_values(avg_pool1d(x, excluded), {2, 3, 4}, {1, 1, 3});
}

TEST(AdaptiveAvgPool, OverlappingWindowsAsPyTorch) {
  // 5 inputs to 2 outputs: [0, 3) and [2, 5).
  expect_values(adaptive_avg_pool1d(arange(0, 5).to(kFloat32).reshape({1, 1, 5}), 2), {1, 3},
                {1, 1, 2});
  // Global average pooling.
  const Tensor x = randn({2, 3, 4, 5});
  expect_close(adaptive_avg_pool2d(x, {1}), x.mean({2, 3}, true));
}

TEST(Pooling, BadInputsAreErrors) {
  const Tensor x = randn({2, 3, 6, 6});
  std::string what = error_of([&] { max_pool2d(x, {.kernel_size = {2}, .padding = {2}}); });
  EXPECT_NE(what.find("max_pool2d: padding [2] must be at most half the kernel [2, 2]"),
            std::string::npos)
      << what;
  what = error_of([&] { avg_pool2d(x, {.kernel_size = {7}}); });
  EXPECT_NE(what.find("avg_pool2d: the kernel [7, 7]"), std::string::npos) << what;
  what = error_of([&] { avg_pool1d(x, {.kernel_size = {2}}); });
  EXPECT_NE(what.find("avg_pool1d: input must be [N, C, L] or [C, L], got [2, 3, 6, 6]"),
            std::string::npos)
      << what;
  what = error_of([&] { avg_pool2d(x, {.kernel_size = {2}, .dilation = {2}}); });
  EXPECT_NE(what.find("average pooling has no dilation"), std::string::npos) << what;
  what = error_of([&] { adaptive_avg_pool2d(x, {0}); });
  EXPECT_NE(what.find("adaptive_avg_pool2d: output size 0"), std::string::npos) << what;
  EXPECT_THROW(nn::MaxPool2d({.kernel_size = {}}), Error);
  EXPECT_THROW(nn::AdaptiveAvgPool2d({2, 2, 2}), Error);
}

TEST(PoolingModules, ForwardAndRepr) {
  nn::MaxPool2d pool({.kernel_size = {3}, .stride = {2}, .padding = {1}});
  EXPECT_EQ(pool.forward(randn({2, 4, 9, 8})).shape(), (Shape{2, 4, 5, 4}));
  EXPECT_EQ(pool.extra_repr(), "kernel_size=[3], stride=[2], padding=[1], dilation=[1]");
  nn::AdaptiveAvgPool2d global({1});
  EXPECT_EQ(global.forward(randn({4, 5, 3})).shape(), (Shape{4, 1, 1}));
  EXPECT_TRUE(global.parameters().empty());
}

}  // namespace
}  // namespace toadstool
