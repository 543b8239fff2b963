// Toadstool's gradients against PyTorch's: replays every case of
// tests/golden/data/autograd.txt (made by tests/golden/make_golden.py). Each
// runner rebuilds one composite expression from the public differentiable ops,
// with the stored leaves marked requires_grad, backpropagates its loss and
// compares the results and every leaf's gradient with PyTorch's; once with the
// stored inputs and once with non-contiguous copies of them.
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <set>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_matches;
using testing::GoldenCase;
using Prepare = std::function<Tensor(const Tensor&)>;

// One run of a case. Every stored label must be read: inputs through input()
// or leaf(), results through expect(), the gradients grad_<leaf> through
// check_gradients(), so a stored tensor the runner ignores fails the test.
class GradCase : private testing::TrackedCase {
 public:
  using TrackedCase::unused;

  GradCase(const GoldenCase& stored, Prepare prepare)
      : TrackedCase(stored), prepare_(std::move(prepare)) {}

  // A stored input that takes no part in autograd (labels, masks, weights of
  // the loss), made by `prepare` (a copy or a non-contiguous copy).
  Tensor input(const std::string& label) { return prepare_(get(label)); }

  // A stored input made a leaf that requires grad; check_gradients compares
  // its gradient with grad_<label>.
  Tensor leaf(const std::string& label) {
    Tensor t = input(label);
    t.requires_grad_();
    leaves_.emplace_back(label, t);
    return t;
  }

  // A result of the expression against PyTorch's.
  void expect(const std::string& label, const Tensor& result) {
    SCOPED_TRACE(label);
    expect_matches(result, get(label));
  }

  void check_gradients() {
    for (const auto& [label, t] : leaves_) {
      SCOPED_TRACE("gradient of " + label);
      expect_matches(t.grad(), get("grad_" + label));
    }
  }

 private:
  Prepare prepare_;
  std::vector<std::pair<std::string, Tensor>> leaves_;
};

// Rebuilds the expression, checks its results and calls backward.
using GradRunner = std::function<void(GradCase&)>;

// Two-layer MLP with cross-entropy written out:
// -(log_softmax(relu(x @ w1 + b1) @ w2 + b2, 1).gather(1, y[:, None])).mean()
void mlp_cross_entropy(GradCase& c) {
  const Tensor x = c.leaf("x"), w1 = c.leaf("w1"), b1 = c.leaf("b1");
  const Tensor w2 = c.leaf("w2"), b2 = c.leaf("b2");
  const Tensor y = c.input("y");
  const Tensor h = relu(add(matmul(x, w1), b1));
  const Tensor logits = add(matmul(h, w2), b2);
  const Tensor loss = neg(mean(gather(log_softmax(logits, 1), 1, unsqueeze(y, 1))));
  c.expect("loss", loss);
  loss.backward();
}

// Scores of q [batch, heads, seq, head_dim] against k, scaled by
// 1 / sqrt(head_dim).
Tensor scaled_scores(const Tensor& q, const Tensor& k) {
  const double head_dim = static_cast<double>(q.shape().back());
  return div(matmul(q, transpose(k, -1, -2)), std::sqrt(head_dim));
}

// -inf for the keys that mask [batch, seq] marks as padding.
Tensor mask_padding(const Tensor& scores, const Tensor& mask) {
  const double inf = std::numeric_limits<double>::infinity();
  return masked_fill(scores, unsqueeze(unsqueeze(mask, 1), 1), -inf);
}

// Scaled dot-product attention of primitive ops; loss = (out * r).sum().
void attention(GradCase& c) {
  const Tensor q = c.leaf("q"), k = c.leaf("k"), v = c.leaf("v");
  const Tensor mask = c.input("mask"), r = c.input("r");
  const Tensor scores = mask_padding(scaled_scores(q, k), mask);
  const Tensor out = matmul(softmax(scores, -1), v);
  const Tensor loss = sum(mul(out, r));
  c.expect("out", out);
  c.expect("loss", loss);
  loss.backward();
}

// attention with a causal mask as well (tril of the scores plus -1e9 above
// the diagonal, so gradients flow through tril), then gelu(layer_norm(...)).
void attention_causal(GradCase& c) {
  const Tensor q = c.leaf("q"), k = c.leaf("k"), v = c.leaf("v");
  const Tensor weight = c.leaf("weight"), bias = c.leaf("bias");
  const Tensor mask = c.input("mask"), r = c.input("r");
  const int64_t seq = q.shape()[q.dim() - 2], head_dim = q.shape().back();
  const Tensor above = triu(full({seq, seq}, -1e9, q.dtype()), 1);
  Tensor scores = add(tril(scaled_scores(q, k)), above);
  scores = mask_padding(scores, mask);
  const Tensor attended = matmul(softmax(scores, -1), v);
  const Tensor out = gelu(layer_norm(attended, {head_dim}, weight, bias));
  const Tensor loss = sum(mul(out, r));
  c.expect("out", out);
  c.expect("loss", loss);
  loss.backward();
}

void run_grad_case(const GoldenCase& stored, const GradRunner& runner, const Prepare& prepare) {
  GradCase c(stored, prepare);
  try {
    runner(c);
    c.check_gradients();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw: " << e.what();
  }
  for (const std::string& label : c.unused()) ADD_FAILURE() << "'" << label << "' not used";
}

// Every case needs a runner (named by the part of its name before '/'), and
// every runner a case: the file and this test cannot drift apart.
TEST(Golden, Autograd) {
  const std::map<std::string, GradRunner> runners = {
      {"mlp_cross_entropy", mlp_cross_entropy},
      {"attention", attention},
      {"attention_causal", attention_causal},
  };
  std::set<std::string> seen;
  for (const auto& [name, stored] : testing::load_golden("autograd.txt")) {
    SCOPED_TRACE("autograd.txt: case " + name);
    const std::string expression = name.substr(0, name.find('/'));
    const auto runner = runners.find(expression);
    if (runner == runners.end()) {
      ADD_FAILURE() << "no runner for expression '" << expression << "'";
      continue;
    }
    seen.insert(expression);
    run_grad_case(stored, runner->second, [](const Tensor& t) { return t.clone(); });
    SCOPED_TRACE("non-contiguous inputs");
    run_grad_case(stored, runner->second,
                  [](const Tensor& t) { return testing::non_contiguous(t); });
  }
  for (const auto& [expression, runner] : runners) {
    EXPECT_TRUE(seen.count(expression)) << "autograd.txt: no case for '" << expression << "'";
  }
}

}  // namespace
}  // namespace toadstool
