// The loss ops against PyTorch: replays tests/golden/data/losses.txt (made by
// tests/golden/make_golden_losses.py). Each case runs one loss with the
// stored options, backpropagates the stored grad_out and compares the result
// and the gradients, once with the stored inputs and once with
// non-contiguous copies. Every stored tensor must be read.
#include <functional>
#include <set>

#include "golden.h"
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_matches;
using testing::GoldenCase;

class LossCase : public testing::TrackedCase {
 public:
  LossCase(const GoldenCase& stored, bool strided) : TrackedCase(stored), strided_(strided) {}

  // A stored input, non-contiguous in the strided run.
  Tensor input(const std::string& label) {
    const Tensor& t = get(label);
    return strided_ ? testing::non_contiguous(t) : t.clone();
  }
  Tensor optional(const std::string& label) { return has(label) ? input(label) : Tensor(); }
  int64_t integer(const std::string& label, int64_t fallback) {
    return has(label) ? get(label).item<int64_t>() : fallback;
  }
  Reduction reduction() {
    const int64_t r = get("reduction").item<int64_t>();
    return r == 0 ? Reduction::none : r == 1 ? Reduction::mean : Reduction::sum;
  }

 private:
  bool strided_;
};

// Runs `loss` on the case's input (a leaf) and target (a leaf too when the
// case has grad_target), then checks out, grad_input and grad_target.
void run(LossCase& c, const std::function<Tensor(const Tensor&, const Tensor&)>& loss) {
  Tensor input = c.input("input").requires_grad_();
  Tensor target = c.input("target");
  const bool target_grad = c.has("grad_target");
  if (target_grad) target.requires_grad_();
  const Tensor out = loss(input, target);
  {
    SCOPED_TRACE("out");
    expect_matches(out, c.get("out"));
  }
  out.backward(c.get("grad_out"));
  {
    SCOPED_TRACE("grad_input");
    expect_matches(input.grad(), c.get("grad_input"));
  }
  if (target_grad) {
    SCOPED_TRACE("grad_target");
    expect_matches(target.grad(), c.get("grad_target"));
  }
}

void cross_entropy_case(LossCase& c) {
  CrossEntropyOptions o;
  o.weight = c.optional("weight");
  o.ignore_index = c.integer("ignore_index", -100);
  if (c.has("label_smoothing")) o.label_smoothing = c.get("label_smoothing").item<double>();
  o.reduction = c.reduction();
  run(c, [&](const Tensor& x, const Tensor& y) { return cross_entropy(x, y, o); });
}

void nll_loss_case(LossCase& c) {
  NLLLossOptions o;
  o.weight = c.optional("weight");
  o.ignore_index = c.integer("ignore_index", -100);
  o.reduction = c.reduction();
  run(c, [&](const Tensor& x, const Tensor& y) { return nll_loss(x, y, o); });
}

void bce_case(LossCase& c) {
  BCEWithLogitsOptions o;
  o.weight = c.optional("weight");
  o.pos_weight = c.optional("pos_weight");
  o.reduction = c.reduction();
  run(c,
      [&](const Tensor& x, const Tensor& y) { return binary_cross_entropy_with_logits(x, y, o); });
}

void mse_case(LossCase& c) {
  const Reduction r = c.reduction();
  run(c, [&](const Tensor& x, const Tensor& y) { return mse_loss(x, y, r); });
}

TEST(Golden, Losses) {
  const std::map<std::string, std::function<void(LossCase&)>> runners = {
      {"cross_entropy", cross_entropy_case},
      {"nll_loss", nll_loss_case},
      {"bce_with_logits", bce_case},
      {"mse_loss", mse_case},
  };
  std::set<std::string> seen;
  for (const auto& [name, stored] : testing::load_golden("losses.txt")) {
    const std::string loss = name.substr(0, name.find('/'));
    const auto runner = runners.find(loss);
    if (runner == runners.end()) {
      ADD_FAILURE() << "losses.txt: no runner for '" << loss << "'";
      continue;
    }
    seen.insert(loss);
    for (bool strided : {false, true}) {
      SCOPED_TRACE("losses.txt: case " + name + (strided ? " (non-contiguous inputs)" : ""));
      LossCase c(stored, strided);
      try {
        runner->second(c);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw: " << e.what();
      }
      for (const std::string& label : c.unused()) ADD_FAILURE() << "'" << label << "' not used";
    }
  }
  for (const auto& [loss, runner] : runners) {
    EXPECT_TRUE(seen.count(loss)) << "losses.txt: no case for '" << loss << "'";
  }
}

}  // namespace
}  // namespace toadstool
