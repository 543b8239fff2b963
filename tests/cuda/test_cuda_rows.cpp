// The CUDA row kernels (kernels/cuda/softmax.cu, layer_norm.cu,
// cross_entropy.cu) against the CPU's, forward and backward through
// autograd: softmax / log_softmax over the last dim (one block per row) and
// a middle dim (one thread per line), layer_norm with and without its
// affine terms, cross_entropy with weights, ignore_index, label smoothing
// and each reduction; layer_norm's backward gives the same bits twice.
#include <functional>
#include <string>
#include <vector>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

Generator& rows_gen() {
  static Generator g(13);
  return g;
}

// float32 tolerances: the kernels share their formulas with the CPU's but
// add up in other orders (and layer_norm's backward sums rows in double
// where the CPU adds blocks in float first); float64 is held to 1e-11.
struct RowTolerance {
  double rtol = 2e-5, atol = 2e-5;
};
// fn(inputs on one device) -> a scalar loss; returns the loss and the
// gradient of every input, on the CPU.
using LossFn = std::function<Tensor(const std::vector<Tensor>&)>;

std::vector<Tensor> value_and_grads(const std::vector<Tensor>& inputs, const LossFn& fn,
                                    const Device& device) {
  std::vector<Tensor> leaves;
  leaves.reserve(inputs.size());
  for (const Tensor& t : inputs) leaves.push_back(t.detach().to(device).requires_grad_());
  const Tensor loss = fn(leaves);
  loss.backward();
  std::vector<Tensor> result{loss.detach().to(kCPU)};
  result.reserve(1 + leaves.size());
  for (const Tensor& leaf : leaves) result.push_back(leaf.grad().to(kCPU));
  return result;
}

void expect_rows_parity(const std::vector<Tensor>& inputs, const LossFn& fn,
                        const std::string& what, RowTolerance float32 = {}) {
  SCOPED_TRACE(what + " on " + dtype_name(inputs[0].dtype()));
  const auto expected = value_and_grads(inputs, fn, kCPU);
  const auto actual = value_and_grads(inputs, fn, kCuda);
  const RowTolerance tol = inputs[0].dtype() == kFloat32 ? float32 : RowTolerance{1e-11, 1e-11};
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i == 0 ? std::string("value") : "gradient of input " + std::to_string(i - 1));
    testing::expect_close(actual[i], expected[i], tol.rtol, tol.atol);
  }
}

// A fixed random weighting of an output, so that every element's gradient differs.
Tensor weighted_sum(const Tensor& y, uint64_t seed) {
  Generator g(seed);
  return (y * randn(y.shape(), y.dtype(), &g).to(y.device())).sum();
}

TEST(CudaRows, SoftmaxAndLogSoftmaxMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    // Last dim: rows of 10 (a 32-thread block) and 1000 (a 256-thread block);
    // dim 1 of [3, 50, 7]: one thread per (outer, inner) line.
    for (const auto& [shape, softmax_dim] : std::vector<std::pair<Shape, int64_t>>{
             {{6, 10}, 1}, {{5, 1000}, -1}, {{3, 50, 7}, 1}, {{40, 3}, 0}}) {
      const int64_t dim = softmax_dim;  // a lambda cannot capture a binding (C++20, clang)
      const Tensor x = randn(shape, dtype, &rows_gen()) * 3.0;
      expect_rows_parity(
          {x}, [&](const auto& in) { return weighted_sum(softmax(in[0], dim), 1); }, "softmax");
      expect_rows_parity(
          {x}, [&](const auto& in) { return weighted_sum(log_softmax(in[0], dim), 2); },
          "log_softmax");
    }
  }
}

TEST(CudaRows, SoftmaxOfInfinitiesMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  const double inf = INFINITY;
  const Tensor x = testing::make({0, -inf, 1, -inf, -inf, -inf, 2, 2, -inf}, {3, 3});
  for (int64_t dim : {0, 1}) {
    testing::expect_close(softmax(x.to(kCuda), dim).to(kCPU), softmax(x, dim), 1e-6, 1e-7);
    testing::expect_close(log_softmax(x.to(kCuda), dim).to(kCPU), log_softmax(x, dim), 1e-6, 1e-7);
  }
}

const RowTolerance kLayerNorm{1e-4, 1e-4};

TEST(CudaRows, LayerNormMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor x = randn({2, 300, 48}, dtype, &rows_gen()) * 2.0 + 1.0;
    const Tensor gamma = randn({48}, dtype, &rows_gen()), beta = randn({48}, dtype, &rows_gen());
    expect_rows_parity(
        {x, gamma, beta},
        [](const auto& in) { return weighted_sum(layer_norm(in[0], {48}, in[1], in[2]), 3); },
        "affine", kLayerNorm);
    expect_rows_parity(
        {x, gamma}, [](const auto& in) { return weighted_sum(layer_norm(in[0], {48}, in[1]), 4); },
        "weight only", kLayerNorm);
    expect_rows_parity(
        {x},
        [](const auto& in) {
          return weighted_sum(layer_norm(in[0], {300, 48}), 5);
        },
        "no affine, 2-D normalized shape", kLayerNorm);
    // Long rows (block-strided loops) and a large mean against a small
    // spread: rstd ~ 100 scales the gradients, and their errors, by 100.
    const Tensor wide = randn({5, 3000}, dtype, &rows_gen()) * 1e-2 + 1e4;
    const Tensor wide_gamma = randn({3000}, dtype, &rows_gen());
    expect_rows_parity(
        {wide, wide_gamma},
        [](const auto& in) { return weighted_sum(layer_norm(in[0], {3000}, in[1]), 6); },
        "large mean", RowTolerance{1e-4, 1e-2});
  }
}

TEST(CudaRows, LayerNormBackwardGivesTheSameBitsTwice) {
  SKIP_WITHOUT_GPU();
  const Tensor x = randn({4000, 96}, kFloat32, &rows_gen());
  const Tensor gamma = randn({96}, kFloat32, &rows_gen()),
               beta = randn({96}, kFloat32, &rows_gen());
  const LossFn fn = [](const auto& in) {
    return weighted_sum(layer_norm(in[0], {96}, in[1], in[2]), 7);
  };
  const auto first = value_and_grads({x, gamma, beta}, fn, kCuda);
  const auto second = value_and_grads({x, gamma, beta}, fn, kCuda);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(testing::values(first[i]), testing::values(second[i])) << "output " << i;
  }
}

TEST(CudaRows, CrossEntropyMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64}) {
    // [N, C] rows (one block per row) and [N, C, d] lines (one thread per line).
    const Tensor logits2 = randn({16, 300}, dtype, &rows_gen()) * 2.0;
    Tensor target2 = (rand({16}, kFloat32, &rows_gen()) * 300).to(kInt64);
    target2.slice(0, 3, 5).fill_(5);  // ignore_index 5 below: lines 3, 4 (and any other 5)
    const Tensor logits3 = randn({4, 7, 9}, dtype, &rows_gen()) * 2.0;
    Tensor target3 = (rand({4, 9}, kFloat32, &rows_gen()) * 7).to(kInt64);
    target3.slice(1, 0, 2).fill_(-100);  // some ignored lines
    const Tensor weight2 = rand({300}, dtype, &rows_gen()) + 0.5;
    const Tensor weight3 = rand({7}, dtype, &rows_gen()) + 0.5;
    for (Reduction reduction : {Reduction::mean, Reduction::sum, Reduction::none}) {
      for (double smoothing : {0.0, 0.2}) {
        for (bool weighted : {false, true}) {
          const std::string what = "reduction " + std::to_string(static_cast<int>(reduction)) +
                                   " smoothing " + std::to_string(smoothing) +
                                   (weighted ? " weighted" : "");
          auto loss = [&](const Tensor& target, const Tensor& weight, int64_t ignore_index) {
            return [=](const std::vector<Tensor>& in) {
              CrossEntropyOptions o;
              if (weighted) o.weight = weight.to(in[0].device());
              o.ignore_index = ignore_index;
              o.label_smoothing = smoothing;
              o.reduction = reduction;
              const Tensor l = cross_entropy(in[0], target.to(in[0].device()), o);
              return reduction == Reduction::none ? weighted_sum(l, 8) : l;
            };
          };
          expect_rows_parity({logits2}, loss(target2, weight2, 5), "[N, C] " + what);
          expect_rows_parity({logits3}, loss(target3, weight3, -100), "[N, C, d] " + what);
        }
      }
    }
  }
}

}  // namespace
}  // namespace toadstool
