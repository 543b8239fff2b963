#include "toadstool/nn/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "toadstool/nn/optim/state_util.h"
#include "toadstool/tensor/error.h"

namespace toadstool::optim {

using detail::int_scalar;
using detail::list_tensor;
using detail::read_int;
using detail::read_list;

namespace {

constexpr double kPi = std::numbers::pi;

// Python's a % b for b > 0: never negative.
int64_t python_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

}  // namespace

// ---------------------------------------------------------------------------
// LRScheduler
// ---------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name)
    : optimizer_(&optimizer), name_(name) {
  for (auto& group : optimizer.param_groups()) {
    if (!group.has("initial_lr")) group.set("initial_lr", group.lr());
    base_lrs_.push_back(group.get("initial_lr"));
  }
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  lrs.reserve(optimizer_->param_groups().size());
  for (const auto& group : optimizer_->param_groups()) lrs.push_back(group.lr());
  return lrs;
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  TS_CHECK(lrs.size() == groups.size(), name_, ": the optimizer has ", groups.size(),
           " parameter groups, the schedule was built for ", lrs.size());
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_lr_ = lrs;
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply(get_lr());
}

void LRScheduler::step_to(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  apply(closed_form_lr());
}

TensorDict LRScheduler::state_dict() const {
  TensorDict dict;
  dict.insert("last_epoch", int_scalar(last_epoch_));
  dict.insert("_step_count", int_scalar(step_count_));
  dict.insert("base_lrs", list_tensor(base_lrs_));
  dict.insert("_last_lr", list_tensor(last_lr_));
  return dict;
}

void LRScheduler::load_state_dict(const TensorDict& dict) {
  const std::string op = std::string(name_) + ".load_state_dict";
  const size_t groups = base_lrs_.size();
  detail::check_keys(dict, op, {"last_epoch", "_step_count", "base_lrs", "_last_lr"});
  const int64_t last_epoch = read_int(dict, op, "last_epoch", -1);
  const int64_t step_count = read_int(dict, op, "_step_count", 0);
  std::vector<double> base_lrs = read_list(dict, op, "base_lrs", groups);
  std::vector<double> last_lr = read_list(dict, op, "_last_lr", groups);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---------------------------------------------------------------------------
// LambdaLR
// ---------------------------------------------------------------------------

LambdaLR::LambdaLR(Optimizer& optimizer, const Lambda& lr_lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lr_lambda)) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas)
    : LRScheduler(optimizer, "LambdaLR"), lambdas_(std::move(lr_lambdas)) {
  TS_CHECK(lambdas_.size() == optimizer.param_groups().size(), "LambdaLR: expected ",
           optimizer.param_groups().size(), " lr_lambdas (one per group), got ", lambdas_.size());
  for (const auto& f : lambdas_) TS_CHECK(static_cast<bool>(f), "LambdaLR: an empty lr_lambda");
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (size_t g = 0; g < lambdas_.size(); ++g) {
    lrs.push_back(base_lrs()[g] * lambdas_[g](last_epoch()));
  }
  return lrs;
}

// ---------------------------------------------------------------------------
// StepLR
// ---------------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  TS_CHECK(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch() == 0 || last_epoch() % step_size_ != 0) return lrs;
  for (auto& lr : lrs) lr *= gamma_;
  return lrs;
}

std::vector<double> StepLR::closed_form_lr() {
  std::vector<double> lrs;
  // Python's // floors; last_epoch is never negative here.
  const int64_t decays = last_epoch() / step_size_;
  const auto exponent = static_cast<double>(decays);
  for (double base : base_lrs()) lrs.push_back(base * std::pow(gamma_, exponent));
  return lrs;
}

// ---------------------------------------------------------------------------
// MultiStepLR
// ---------------------------------------------------------------------------

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch());
  if (count == 0) return lrs;
  for (auto& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(count));
  return lrs;
}

std::vector<double> MultiStepLR::closed_form_lr() {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch()) - milestones_.begin();
  std::vector<double> lrs;
  for (double base : base_lrs())
    lrs.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return lrs;
}

// ---------------------------------------------------------------------------
// ExponentialLR
// ---------------------------------------------------------------------------

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch() == 0) return lrs;
  for (auto& lr : lrs) lr *= gamma_;
  return lrs;
}

std::vector<double> ExponentialLR::closed_form_lr() {
  std::vector<double> lrs;
  for (double base : base_lrs()) {
    lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch())));
  }
  return lrs;
}

// ---------------------------------------------------------------------------
// CosineAnnealingLR
// ---------------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), t_max_(t_max), eta_min_(eta_min) {
  TS_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be > 0, got ", t_max);
  initial_step();
}

// The expressions keep PyTorch's order of operations, so the values agree to
// the last bit.
std::vector<double> CosineAnnealingLR::get_lr() {
  const int64_t e = last_epoch();
  const auto t = static_cast<double>(t_max_);
  std::vector<double> lrs = group_lrs();
  if (e == 0) return lrs;
  if (step_count() == 1 && e > 0) return closed_form_lr();
  if (python_mod(e - 1 - t_max_, 2 * t_max_) == 0) {
    for (size_t g = 0; g < lrs.size(); ++g) {
      lrs[g] = lrs[g] + (base_lrs()[g] - eta_min_) * (1 - std::cos(kPi / t)) / 2;
    }
    return lrs;
  }
  const double ratio = (1 + std::cos(kPi * static_cast<double>(e) / t)) /
                       (1 + std::cos(kPi * static_cast<double>(e - 1) / t));
  for (auto& lr : lrs) lr = ratio * (lr - eta_min_) + eta_min_;
  return lrs;
}

std::vector<double> CosineAnnealingLR::closed_form_lr() {
  const double cosine = std::cos(kPi * static_cast<double>(last_epoch()) / t_max_);
  std::vector<double> lrs;
  for (double base : base_lrs()) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + cosine) / 2);
  return lrs;
}

// ---------------------------------------------------------------------------
// LinearLR
// ---------------------------------------------------------------------------

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor,
                   int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  TS_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ",
           start_factor);
  TS_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ",
           end_factor);
  TS_CHECK(total_iters > 0, "LinearLR: total_iters must be > 0, got ", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  const int64_t e = last_epoch();
  std::vector<double> lrs = group_lrs();
  if (e == 0) {
    for (auto& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (e > total_iters_) return lrs;
  const double factor = 1. + (end_factor_ - start_factor_) /
                                 (static_cast<double>(total_iters_) * start_factor_ +
                                  static_cast<double>(e - 1) * (end_factor_ - start_factor_));
  for (auto& lr : lrs) lr *= factor;
  return lrs;
}

std::vector<double> LinearLR::closed_form_lr() {
  const auto done = static_cast<double>(std::min(total_iters_, last_epoch()));
  std::vector<double> lrs;
  for (double base : base_lrs()) {
    lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) * done /
                                              static_cast<double>(total_iters_)));
  }
  return lrs;
}

// ---------------------------------------------------------------------------
// SequentialLR
// ---------------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  TS_CHECK(!schedulers_.empty(), "SequentialLR: needs at least one scheduler");
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    TS_CHECK(schedulers_[i] != nullptr, "SequentialLR: scheduler ", i, " is null");
    TS_CHECK(&schedulers_[i]->optimizer() == &optimizer, "SequentialLR: scheduler ", i,
             " is bound to another optimizer; all must belong to the one given");
  }
  TS_CHECK(milestones_.size() + 1 == schedulers_.size(),
           "SequentialLR: expects one milestone fewer than schedulers, got ", schedulers_.size(),
           " schedulers and ", milestones_.size(), " milestones");
  TS_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
           "SequentialLR: milestones must be in increasing order");
  // As PyTorch: undo the first steps the schedulers took when they were
  // built, then restart the first one.
  for (auto& group : optimizer.param_groups()) group.set_lr(group.get("initial_lr"));
  for (auto& s : schedulers_) --s->last_epoch_;
  schedulers_[0]->initial_step();
  last_epoch_ = 0;
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto idx = static_cast<size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& scheduler = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    scheduler.step_to(0);
  } else {
    scheduler.step();
  }
  last_lr_ = scheduler.get_last_lr();
}

std::vector<double> SequentialLR::get_lr() { return group_lrs(); }

TensorDict SequentialLR::state_dict() const {
  TensorDict dict;
  dict.insert("last_epoch", int_scalar(last_epoch_));
  dict.insert("_last_lr", list_tensor(last_lr_));
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    const std::string prefix = "_schedulers." + std::to_string(i) + ".";
    for (const auto& [key, tensor] : schedulers_[i]->state_dict())
      dict.insert(prefix + key, tensor);
  }
  return dict;
}

void SequentialLR::load_state_dict(const TensorDict& dict) {
  const std::string op = "SequentialLR.load_state_dict";
  std::vector<TensorDict> parts(schedulers_.size());
  for (const auto& [key, tensor] : dict) {
    if (key == "last_epoch" || key == "_last_lr") continue;
    size_t index = 0;
    size_t dot = std::string::npos;
    bool ok = key.rfind("_schedulers.", 0) == 0;
    if (ok) {
      dot = key.find('.', 12);
      const std::string digits = key.substr(12, dot == std::string::npos ? 0 : dot - 12);
      ok = !digits.empty() && digits.size() < 10 &&
           std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) index = std::stoul(digits);
    }
    TS_CHECK(ok, op, ": unexpected entry '", key, "'");
    TS_CHECK(index < schedulers_.size(), op, ": '", key, "' names scheduler ", index,
             ", there are ", schedulers_.size());
    parts[index].insert(key.substr(dot + 1), tensor);
  }
  const int64_t last_epoch = read_int(dict, op, "last_epoch", -1);
  std::vector<double> last_lr = read_list(dict, op, "_last_lr", base_lrs().size());
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    TS_CHECK(!parts[i].empty(), op, ": no entries for scheduler ", i);
  }
  // Each part is checked by its scheduler; when one fails, the ones loaded
  // before it are put back, so a failed load changes nothing.
  std::vector<TensorDict> before;
  for (const auto& s : schedulers_) before.push_back(s->state_dict());
  try {
    for (size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(parts[i]);
  } catch (const Error&) {
    for (size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(before[i]);
    throw;
  }
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

}  // namespace toadstool::optim
