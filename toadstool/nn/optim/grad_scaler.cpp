#include "toadstool/nn/optim/grad_scaler.h"

#include <cmath>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::optim {

namespace {

constexpr const char* kState[] = {"scale", "growth_factor", "backoff_factor", "growth_interval",
                                  "_growth_tracker"};

void check_options(const GradScalerOptions& o) {
  TS_CHECK(o.init_scale > 0 && std::isfinite(o.init_scale),
           "GradScaler: init_scale must be positive and finite, got ", o.init_scale);
  TS_CHECK(o.growth_factor > 1, "GradScaler: growth_factor must be > 1, got ", o.growth_factor);
  TS_CHECK(o.backoff_factor > 0 && o.backoff_factor < 1,
           "GradScaler: backoff_factor must be in (0, 1), got ", o.backoff_factor);
  TS_CHECK(o.growth_interval >= 1, "GradScaler: growth_interval must be >= 1, got ",
           o.growth_interval);
}

// A 0-d entry of a state dict as a double, or an Error naming it.
double scalar_entry(const TensorDict& dict, const char* name) {
  TS_CHECK(dict.contains(name), "GradScaler.load_state_dict: no '", name, "' entry");
  const Tensor& t = dict.at(name);
  TS_CHECK(t.numel() == 1 && (t.is_floating_point() || t.dtype() == kInt64),
           "GradScaler.load_state_dict: '", name, "' should be one number, got ",
           toadstool::detail::describe(t));
  return t.to(kCPU).item<double>();
}

}  // namespace

GradScaler::GradScaler(GradScalerOptions options) : options_(options) {
  check_options(options_);
  scale_ = scalar_tensor(options_.init_scale, kFloat32);
  growth_tracker_ = scalar_tensor(0.0, kFloat32);
}

GradScaler::OptimizerRecord& GradScaler::record_of(const Optimizer& optimizer) {
  return records_[&optimizer];
}

Tensor GradScaler::scale(const Tensor& loss) {
  if (!options_.enabled) return loss;
  TS_CHECK(loss.defined() && loss.is_floating_point(),
           "GradScaler.scale: expected a floating loss, got ", toadstool::detail::describe(loss));
  if (scale_.device() != loss.device()) {
    scale_ = scale_.to(loss.device());
    growth_tracker_ = growth_tracker_.to(loss.device());
  }
  return mul(to_dtype(loss, kFloat32), scale_);
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!options_.enabled) return;
  OptimizerRecord& record = record_of(optimizer);
  TS_CHECK(!record.unscaled, "GradScaler.unscale_: already called for this ", optimizer.name(),
           " since the last update()");
  TS_CHECK(!record.stepped, "GradScaler.unscale_: called after step() for this ", optimizer.name(),
           "; call update() first");
  const NoGradGuard no_grad;
  const Tensor inverse = to_dtype(rdiv(to_dtype(scale_, kFloat64), 1.0), kFloat32);
  // The sum of a gradient is inf or NaN when an element is (finite float32
  // gradients of a sane scale cannot overflow a float32 sum): one reduction
  // per gradient, summed, read on the device.
  Tensor sums = zeros({}, TensorOptions(kFloat32).device(scale_.device()));
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& param : group.params) {
      if (!param.grad().defined()) continue;
      Tensor& grad = param.mutable_grad();
      sums = add(sums, to_dtype(sum(grad), kFloat32));
      grad.mul_(to_dtype(inverse, grad.dtype()));
    }
  }
  // x - x is 0 for a finite x, NaN for inf and NaN.
  record.found_inf = to_dtype(ne(sub(sums, sums), 0.0), kFloat32);
  record.unscaled = true;
}

void GradScaler::step(Optimizer& optimizer) {
  if (!options_.enabled) return optimizer.step();
  OptimizerRecord& record = record_of(optimizer);
  TS_CHECK(!record.stepped, "GradScaler.step: already called for this ", optimizer.name(),
           " since the last update()");
  if (!record.unscaled) unscale_(optimizer);
  optimizer.step(record.found_inf);
  record.stepped = true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  Tensor found;
  for (const auto& [optimizer, record] : records_) {
    if (!record.found_inf.defined()) continue;
    found = found.defined() ? maximum(found, record.found_inf) : record.found_inf;
  }
  TS_CHECK(found.defined(),
           "GradScaler.update: no gradients were unscaled since the last update (call step() or "
           "unscale_() first)");
  const NoGradGuard no_grad;
  const Tensor overflow = gt(found, 0.0);
  const Tensor successful = add(growth_tracker_, 1.0);
  const Tensor grow = ge(successful, static_cast<double>(options_.growth_interval));
  const Tensor grown = mul(scale_, options_.growth_factor);
  const Tensor grown_is_finite = eq(sub(grown, grown), 0.0);  // inf - inf is NaN
  scale_ = where(overflow, mul(scale_, options_.backoff_factor),
                 where(logical_and(grow, grown_is_finite), grown, scale_));
  growth_tracker_ = where(logical_not(logical_or(overflow, grow)), successful, 0.0);
  records_.clear();
}

double GradScaler::get_scale() const { return options_.enabled ? scale_.item<double>() : 1.0; }

TensorDict GradScaler::state_dict() const {
  TensorDict dict;
  if (!options_.enabled) return dict;
  dict.insert("scale", scale_.to(kCPU).clone());
  dict.insert("growth_factor", scalar_tensor(options_.growth_factor, kFloat64));
  dict.insert("backoff_factor", scalar_tensor(options_.backoff_factor, kFloat64));
  dict.insert("growth_interval", scalar_tensor(options_.growth_interval, kInt64));
  dict.insert("_growth_tracker",
              scalar_tensor(static_cast<int64_t>(growth_tracker_.item<double>()), kInt64));
  return dict;
}

void GradScaler::load_state_dict(const TensorDict& dict) {
  if (dict.empty()) return;
  for (const auto& [name, tensor] : dict) {
    bool known = false;
    for (const char* key : kState) known = known || name == key;
    TS_CHECK(known, "GradScaler.load_state_dict: unexpected entry '", name, "'");
  }
  GradScalerOptions loaded = options_;
  loaded.init_scale = scalar_entry(dict, "scale");
  loaded.growth_factor = scalar_entry(dict, "growth_factor");
  loaded.backoff_factor = scalar_entry(dict, "backoff_factor");
  const double interval = scalar_entry(dict, "growth_interval");
  const double tracker = scalar_entry(dict, "_growth_tracker");
  TS_CHECK(interval == std::floor(interval) && interval >= 1 && interval < 9.0e18,
           "GradScaler.load_state_dict: growth_interval must be a positive integer, got ",
           interval);
  loaded.growth_interval = static_cast<int64_t>(interval);
  check_options(loaded);
  TS_CHECK(tracker >= 0 && tracker < interval && tracker == std::floor(tracker),
           "GradScaler.load_state_dict: _growth_tracker must be an integer in [0, ",
           loaded.growth_interval, "), got ", tracker);
  options_ = loaded;
  const Device device = scale_.device();
  scale_ = scalar_tensor(loaded.init_scale, TensorOptions(kFloat32).device(device));
  growth_tracker_ = scalar_tensor(tracker, TensorOptions(kFloat32).device(device));
  records_.clear();
}

}  // namespace toadstool::optim
