// The loss ops beyond the golden cases: bad input is an Error naming the op,
// and the fused cross_entropy agrees with its composite definition on the
// kernel's other paths (rows longer than one block, many columns, float32
// with huge logits, threads).
#include <functional>
#include <limits>
#include <string>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_error;

Tensor labels(const std::vector<int64_t>& v, const Shape& shape) { return from_vector(v, shape); }

TEST(Losses, CrossEntropyErrors) {
  const Tensor x = ones({3, 4});
  expect_error(
      [&] {
        cross_entropy(x, labels({0, 1}, {2}));
      },
      {"cross_entropy", "[2] int64", "[3, 4] float32", "[3]"});
  expect_error(
      [&] {
        cross_entropy(ones({2, 4, 5}), labels({0, 1}, {2}));
      },
      {"cross_entropy", "[2, 5]"});
  expect_error([&] { cross_entropy(x, ones({3})); }, {"cross_entropy", "int64", "[3] float32"});
  expect_error(
      [&] {
        cross_entropy(ones({3, 4}, kInt64), labels({0, 1, 2}, {3}));
      },
      {"cross_entropy", "floating", "int64"});
  expect_error(
      [&] {
        cross_entropy(x, labels({0, 4, 1}, {3}));
      },
      {"cross_entropy", "target 4", "4 classes"});
  expect_error(
      [&] {
        cross_entropy(x, labels({0, -1, 1}, {3}));
      },
      {"cross_entropy", "target -1", "4 classes"});
  expect_error([&] { cross_entropy(scalar_tensor(1.0), scalar_tensor(int64_t{0})); },
               {"cross_entropy"});
  expect_error([&] { cross_entropy(ones({4}), labels({0}, {1})); }, {"cross_entropy", "[1]"});
  for (double eps : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    CrossEntropyOptions o;
    o.label_smoothing = eps;
    expect_error(
        [&] {
          cross_entropy(x, labels({0, 1, 2}, {3}), o);
        },
        {"cross_entropy", "label_smoothing"});
  }
  CrossEntropyOptions o;
  o.weight = ones({3});
  expect_error(
      [&] {
        cross_entropy(x, labels({0, 1, 2}, {3}), o);
      },
      {"cross_entropy", "weight", "[3] float32", "[4]"});
  o.weight = ones({4}, kFloat64);
  expect_error(
      [&] {
        cross_entropy(x, labels({0, 1, 2}, {3}), o);
      },
      {"cross_entropy", "weight", "float64"});
  o.weight = ones({4}).requires_grad_();
  expect_error(
      [&] {
        cross_entropy(x, labels({0, 1, 2}, {3}), o);
      },
      {"cross_entropy", "weight", "not implemented"});
}

TEST(Losses, OtherLossErrors) {
  expect_error([] { nll_loss(ones({3, 4}), labels({0, 9, 1}, {3})); }, {"nll_loss", "target 9"});
  expect_error([] { nll_loss(ones({3, 4}), labels({0, 1}, {2})); }, {"nll_loss", "[2] int64"});
  expect_error(
      [] {
        binary_cross_entropy_with_logits(ones({3, 4}), ones({4}));
      },
      {"binary_cross_entropy_with_logits", "[4] float32", "[3, 4] float32"});
  expect_error([] { binary_cross_entropy_with_logits(ones({3}), ones({3}, kFloat64)); },
               {"binary_cross_entropy_with_logits", "float64"});
  BCEWithLogitsOptions o;
  o.pos_weight = ones({3});
  expect_error(
      [&] {
        binary_cross_entropy_with_logits(ones({2, 4}), ones({2, 4}), o);
      },
      {"binary_cross_entropy_with_logits", "[3]", "[2, 4]"});
  o.pos_weight = ones({5, 4});
  expect_error(
      [&] {
        binary_cross_entropy_with_logits(ones({2, 4}), ones({2, 4}), o);
      },
      {"binary_cross_entropy_with_logits", "pos_weight", "[5, 4]"});
  expect_error([] { mse_loss(ones({2, 3}), ones({3})); }, {"mse_loss", "[3] float32", "[2, 3]"});
  expect_error([] { mse_loss(ones({3}, kInt64), ones({3}, kInt64)); }, {"mse_loss", "int64"});
}

// The composite definition: -(1 - eps) w_t log p_t - eps / C sum_c w_c log p_c
// per line (no weight: w = 1), unreduced, with ignored lines 0.
Tensor reference_losses(const Tensor& x, const Tensor& y, const Tensor& w, double eps,
                        int64_t ignore) {
  const int64_t classes = x.size(1);
  const Tensor logp = log_softmax(x, 1);
  const Tensor keep = ne(y, ignore);
  const Tensor safe = masked_fill(y, logical_not(keep), 0);
  const Tensor ww = w.defined() ? w : ones({classes}, x.dtype());
  const Tensor picked = squeeze(gather(logp, 1, unsqueeze(safe, 1)), 1);
  const Tensor wt = index_select(ww, 0, safe);
  Tensor loss = mul(neg(mul(picked, wt)), 1 - eps);
  // Only with smoothing: a -inf logit makes the smoothing term infinite.
  if (eps > 0) loss = add(loss, mul(neg(sum(mul(logp, ww), {1})), eps / classes));
  return masked_fill(loss, logical_not(keep), 0.0);
}

// Rows longer than the kernel's 512-logit block (the online max rescales the
// sum), with -inf logits and one huge one, in float64 and float32, 1 and 2 threads.
TEST(Losses, CrossEntropyLongRowsMatchComposite) {
  Generator gen(11);
  for (DType dt : {kFloat64, kFloat32}) {
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Tensor x = (randn({5, 1300}, dt, &gen) * 4).contiguous();
      // A later block with a larger max, and -inf entries.
      x.select(0, 1).fill_(-std::numeric_limits<double>::infinity());
      x.select(0, 1).narrow(0, 900, 3).fill_(2.0);
      x.select(0, 2).narrow(0, 1000, 1).fill_(80.0);
      const Tensor y = labels({3, 901, 1000, 12, -100}, {5});
      const Tensor w = rand({1300}, dt, &gen) + 0.5;
      CrossEntropyOptions o;
      o.weight = w;
      o.label_smoothing = 0.0;
      o.reduction = Reduction::none;
      const Tensor got = cross_entropy(x, y, o);
      const Tensor want = reference_losses(x, y, w, 0.0, -100);
      const double tol = dt == kFloat64 ? 1e-12 : 2e-5;
      testing::expect_close(got, want, tol, tol);
    }
  }
  set_num_threads(2);
}

// [N, C, d] with more than one 256-column block, smoothing and weights:
// gradients against the composite's.
TEST(Losses, CrossEntropyManyColumnsMatchesComposite) {
  Generator gen(12);
  const Tensor x0 = randn({2, 3, 300}, kFloat64, &gen);
  Tensor y = randint(0, 3, {2, 300}, kInt64, &gen);
  y.narrow(1, 250, 20).fill_(-100);
  CrossEntropyOptions o;
  o.weight = from_vector(std::vector<double>{0.2, 1.0, 3.0}, {3});
  o.label_smoothing = 0.15;
  o.reduction = Reduction::sum;
  const Tensor x = x0.clone().requires_grad_();
  cross_entropy(x, y, o).backward();
  const Tensor xr = x0.clone().requires_grad_();
  // [N, C, d] -> [N * d, C] for the composite.
  const Tensor rows = reshape(permute(xr, {0, 2, 1}), {-1, 3});
  sum(reference_losses(rows, reshape(y, {-1}), o.weight, 0.15, -100)).backward();
  testing::expect_close(x.grad(), xr.grad(), 1e-12, 1e-12);
}

}  // namespace
}  // namespace toadstool
