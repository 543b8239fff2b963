// Optimizers and LR schedules against PyTorch: replays every case of
// tests/golden/data/optim.txt and lr_schedules.txt (made by
// tests/golden/make_golden_optim.py with torch 1.13). A case whose runner is
// unknown, and a stored tensor the runner does not read, fail the test.
#include <map>
#include <memory>
#include <set>
#include <string>

#include "golden.h"
#include "test_util.h"
#include "toadstool/nn/optim/optim.h"

namespace toadstool {
namespace {

using testing::GoldenCase;

// Reads the labels of one case and remembers which were read.
class Reader {
 public:
  explicit Reader(const GoldenCase& stored) : stored_(stored) {}
  bool has(const std::string& label) const { return stored_.count(label) != 0; }
  const Tensor& get(const std::string& label) {
    const auto it = stored_.find(label);
    if (it == stored_.end()) throw std::runtime_error("no label " + label);
    read_.insert(label);
    return it->second;
  }
  double number(const std::string& label, double fallback) {
    return has(label) ? get(label).to(kFloat64).item<double>() : fallback;
  }
  int64_t integer(const std::string& label, int64_t fallback) {
    return has(label) ? get(label).item<int64_t>() : fallback;
  }
  bool flag(const std::string& label) { return has(label) && get(label).item<bool>(); }
  std::vector<double> list(const std::string& label) { return testing::values(get(label)); }
  std::vector<int64_t> int_list(const std::string& label) {
    std::vector<int64_t> out;
    for (double v : list(label)) out.push_back(static_cast<int64_t>(v));
    return out;
  }
  void expect_all_read() const {
    for (const auto& [label, tensor] : stored_) {
      EXPECT_TRUE(read_.count(label)) << "stored tensor '" << label << "' is not read";
    }
  }

 private:
  const GoldenCase& stored_;
  std::set<std::string> read_;
};

// ---------------------------------------------------------------------------
// Optimizers
// ---------------------------------------------------------------------------

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& runner, Reader& r,
                                                 std::vector<optim::ParamGroup> groups) {
  if (runner == "sgd") {
    optim::SGDOptions o;
    o.lr = r.number("lr", o.lr);
    o.momentum = r.number("momentum", 0);
    o.dampening = r.number("dampening", 0);
    o.weight_decay = r.number("weight_decay", 0);
    o.nesterov = r.flag("nesterov");
    o.maximize = r.flag("maximize");
    return std::make_unique<optim::SGD>(std::move(groups), o);
  }
  optim::AdamOptions o;
  if (runner == "adamw") o = optim::AdamWOptions();
  o.lr = r.number("lr", o.lr);
  o.betas = {r.number("beta1", o.betas.first), r.number("beta2", o.betas.second)};
  o.eps = r.number("eps", o.eps);
  o.weight_decay = r.number("weight_decay", o.weight_decay);
  o.amsgrad = r.flag("amsgrad");
  o.maximize = r.flag("maximize");
  if (runner == "adam") return std::make_unique<optim::Adam>(std::move(groups), o);
  if (runner == "adamw") {
    optim::AdamWOptions w;
    static_cast<optim::AdamOptions&>(w) = o;
    return std::make_unique<optim::AdamW>(std::move(groups), w);
  }
  throw std::runtime_error("no runner for optimizer case " + runner);
}

// Five steps on two parameters; `strided` makes p0 a non-contiguous leaf.
void run_optimizer_case(const std::string& runner, const GoldenCase& stored, bool strided) {
  Reader r(stored);
  Tensor p0 = r.get("p0").clone();
  if (strided) p0 = testing::non_contiguous(p0);
  Tensor p1 = r.get("p1").clone();
  p0.requires_grad_();
  p1.requires_grad_();
  std::vector<optim::ParamGroup> groups;
  if (r.has("lr1")) {
    groups = {optim::ParamGroup({p0}), optim::ParamGroup({p1}, {{"lr", r.number("lr1", 0)}})};
  } else {
    groups = {optim::ParamGroup({p0, p1})};
  }
  const std::vector<int64_t> skip1 = r.has("skip1") ? r.int_list("skip1") : std::vector<int64_t>{};
  auto opt = make_optimizer(runner, r, std::move(groups));
  const bool f64 = p0.dtype() == kFloat64;
  const double rtol = f64 ? 1e-12 : 1e-6, atol = f64 ? 1e-14 : 1e-7;
  for (int k = 0; r.has("g0_" + std::to_string(k)); ++k) {
    const std::string s = std::to_string(k);
    p0.set_grad(r.get("g0_" + s).clone());
    const bool skip = std::count(skip1.begin(), skip1.end(), k) != 0;
    if (skip) {
      p1.zero_grad();
      r.get("g1_" + s);  // stored but deliberately not applied
    } else {
      p1.set_grad(r.get("g1_" + s).clone());
    }
    opt->step();
    SCOPED_TRACE("step " + s);
    testing::expect_close(p0, r.get("out0_" + s), rtol, atol);
    testing::expect_close(p1, r.get("out1_" + s), rtol, atol);
  }
  r.expect_all_read();
}

TEST(OptimGolden, Optimizers) {
  const auto cases = testing::load_golden("optim.txt");
  std::set<std::string> runners;
  for (const auto& [name, stored] : cases) {
    const std::string runner = name.substr(0, name.find('/'));
    runners.insert(runner);
    for (bool strided : {false, true}) {
      SCOPED_TRACE(name + (strided ? " (strided p0)" : ""));
      run_optimizer_case(runner, stored, strided);
    }
  }
  EXPECT_EQ(runners, (std::set<std::string>{"sgd", "adam", "adamw"}));
}

// ---------------------------------------------------------------------------
// LR schedules
// ---------------------------------------------------------------------------

std::unique_ptr<optim::LRScheduler> make_schedule(const std::string& runner, Reader& r,
                                                  optim::Optimizer& opt) {
  using namespace optim;  // NOLINT: schedule names read better unqualified here
  if (runner == "step") {
    return std::make_unique<StepLR>(opt, r.integer("step_size", 0), r.number("gamma", 0));
  }
  if (runner == "multi_step") {
    return std::make_unique<MultiStepLR>(opt, r.int_list("milestones"), r.number("gamma", 0));
  }
  if (runner == "exponential") return std::make_unique<ExponentialLR>(opt, r.number("gamma", 0));
  if (runner == "cosine") {
    return std::make_unique<CosineAnnealingLR>(opt, r.integer("T_max", 0), r.number("eta_min", 0));
  }
  if (runner == "linear") {
    return std::make_unique<LinearLR>(opt, r.number("start_factor", 0), r.number("end_factor", 0),
                                      r.integer("total_iters", 0));
  }
  if (runner == "lambda") {
    // The two functions of make_golden_optim.py.
    return std::make_unique<LambdaLR>(
        opt, std::vector<LambdaLR::Lambda>{
                 [](int64_t e) { return std::pow(0.95, static_cast<double>(e)); },
                 [](int64_t e) {
                   const int64_t thirds = e / 3;  // Python's e // 3
                   return 1.0 / static_cast<double>(1 + thirds);
                 }});
  }
  if (runner == "sequential_warmup_cosine") {
    auto warmup = std::make_shared<LinearLR>(opt, 0.1, 1.0, 5);
    auto cosine = std::make_shared<CosineAnnealingLR>(opt, 25, 1e-4);
    return std::make_unique<SequentialLR>(
        opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine}, std::vector<int64_t>{5});
  }
  if (runner == "sequential_three") {
    auto a = std::make_shared<StepLR>(opt, 2, 0.5);
    auto b = std::make_shared<ExponentialLR>(opt, 0.9);
    auto c = std::make_shared<MultiStepLR>(opt, std::vector<int64_t>{2, 4}, 0.1);
    return std::make_unique<SequentialLR>(opt, std::vector<std::shared_ptr<LRScheduler>>{a, b, c},
                                          std::vector<int64_t>{6, 15});
  }
  if (runner == "one_cycle") {
    OneCycleLROptions o;
    o.max_lr = r.list("max_lr");
    o.total_steps = r.integer("total_steps", 0);
    o.pct_start = r.number("pct_start", o.pct_start);
    o.anneal_strategy = r.flag("anneal_linear") ? "linear" : "cos";
    o.three_phase = r.flag("three_phase");
    o.div_factor = r.number("div_factor", o.div_factor);
    o.final_div_factor = r.number("final_div_factor", o.final_div_factor);
    o.cycle_momentum = !r.has("cycle_momentum") || r.flag("cycle_momentum");
    o.base_momentum = r.number("base_momentum", o.base_momentum);
    o.max_momentum = r.number("max_momentum", o.max_momentum);
    return std::make_unique<OneCycleLR>(opt, o);
  }
  throw std::runtime_error("no runner for schedule case " + runner);
}

// The groups' lrs (and momenta) after construction and after each step.
void run_schedule_case(const std::string& runner, const GoldenCase& stored) {
  Reader r(stored);
  const std::vector<double> base_lrs = r.list("base_lrs");
  std::vector<optim::ParamGroup> groups;
  groups.reserve(base_lrs.size());
  for (double lr : base_lrs) {
    groups.push_back(optim::ParamGroup({zeros({2}).requires_grad_()}, {{"lr", lr}}));
  }
  const bool adam = r.flag("adam");
  std::unique_ptr<optim::Optimizer> opt;
  if (adam) {
    opt = std::make_unique<optim::Adam>(std::move(groups));
  } else {
    opt = std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions{.momentum = 0.9});
  }
  const Tensor& want = r.get("lrs");
  const Tensor* momenta = r.has("momenta") ? &r.get("momenta") : nullptr;
  const int64_t rows = want.size(0), n_groups = want.size(1);
  ASSERT_EQ(n_groups, static_cast<int64_t>(base_lrs.size()));

  std::unique_ptr<optim::LRScheduler> schedule;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
  std::vector<double> metrics;
  if (runner == "plateau") {
    optim::ReduceLROnPlateauOptions o;
    o.mode = r.flag("mode_max") ? "max" : "min";
    o.factor = r.number("factor", o.factor);
    o.patience = r.integer("patience", o.patience);
    o.threshold = r.number("threshold", o.threshold);
    o.threshold_mode = r.flag("threshold_abs") ? "abs" : "rel";
    o.cooldown = r.integer("cooldown", o.cooldown);
    if (r.has("min_lr")) o.min_lr = r.list("min_lr");
    plateau = std::make_unique<optim::ReduceLROnPlateau>(*opt, o);
    metrics = r.list("metrics");
  } else {
    schedule = make_schedule(runner, r, *opt);
  }
  const auto lrs_want = testing::values(want);
  const auto momenta_want = momenta ? testing::values(*momenta) : std::vector<double>{};
  const char* momentum_name = adam ? "beta1" : "momentum";
  for (int64_t k = 0; k < rows; ++k) {
    if (k > 0) {
      opt->step();  // no gradients: nothing to update
      if (plateau) {
        plateau->step(metrics.at(static_cast<size_t>(k - 1)));
      } else {
        schedule->step();
      }
    }
    const auto& last = plateau ? plateau->get_last_lr() : schedule->get_last_lr();
    for (int64_t g = 0; g < n_groups; ++g) {
      const double expected = lrs_want[static_cast<size_t>(k * n_groups + g)];
      EXPECT_NEAR(last[static_cast<size_t>(g)], expected, 1e-14 * std::fabs(expected))
          << "step " << k << " group " << g;
      EXPECT_EQ(opt->param_groups()[static_cast<size_t>(g)].lr(), last[static_cast<size_t>(g)]);
      if (momenta) {
        const double m = momenta_want[static_cast<size_t>(k * n_groups + g)];
        EXPECT_NEAR(opt->param_groups()[static_cast<size_t>(g)].get(momentum_name), m,
                    1e-14 * std::fabs(m))
            << "momentum, step " << k << " group " << g;
      }
    }
  }
  r.expect_all_read();
}

TEST(OptimGolden, LRSchedules) {
  const auto cases = testing::load_golden("lr_schedules.txt");
  std::set<std::string> runners;
  for (const auto& [name, stored] : cases) {
    SCOPED_TRACE(name);
    const std::string runner = name.substr(0, name.find('/'));
    runners.insert(runner);
    run_schedule_case(runner, stored);
  }
  EXPECT_EQ(runners, (std::set<std::string>{"step", "multi_step", "exponential", "cosine", "linear",
                                            "lambda", "sequential_warmup_cosine",
                                            "sequential_three", "one_cycle", "plateau"}));
}

}  // namespace
}  // namespace toadstool
