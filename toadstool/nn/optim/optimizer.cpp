#include "toadstool/nn/optim/optimizer.h"

#include <set>
#include <utility>

#include "toadstool/autograd/autocast.h"
#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/saved_values.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::optim {

namespace {

// "state.<i>.<name>" or "param_groups.<g>.<name>": the prefix's number and the
// name after it; false when `key` is not of that form.
bool split_key(const std::string& key, const std::string& prefix, int64_t& index,
               std::string& name) {
  if (key.rfind(prefix, 0) != 0) return false;
  const size_t start = prefix.size();
  const size_t dot = key.find('.', start);
  if (dot == std::string::npos || dot == start || dot + 1 == key.size()) return false;
  index = 0;
  for (size_t i = start; i < dot; ++i) {
    if (key[i] < '0' || key[i] > '9' || i - start > 9) return false;
    index = index * 10 + (key[i] - '0');
  }
  name = key.substr(dot + 1);
  return true;
}

// A saved scalar (a 0-d or one-element tensor of any real dtype) as a double.
double scalar_value(const std::string& op, const std::string& key, const Tensor& t) {
  TS_CHECK(t.numel() == 1 && t.dim() <= 1 && t.dtype() != kBool, op, ": '", key,
           "' should be a scalar, got ", toadstool::detail::describe(t));
  return t.to(kFloat64).item<double>();
}

}  // namespace

double ParamGroup::get(const std::string& name) const {
  const auto it = options.find(name);
  TS_CHECK(it != options.end(), "ParamGroup: no hyper-parameter '", name, "'");
  return it->second;
}

Tensor zeros_buffer(const Tensor& like) {
  return zeros(like.shape(), TensorOptions(like.dtype()).device(like.device()));
}

Optimizer::Optimizer(std::string name, Options defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {}

void Optimizer::add_param_group(ParamGroup group) {
  TS_CHECK(!group.params.empty(), name_, ": a parameter group needs at least one parameter");
  std::set<const TensorImpl*> seen;
  for (const auto& group_before : groups_) {
    for (const auto& p : group_before.params) seen.insert(p.impl_ptr().get());
  }
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    TS_CHECK(p.defined(), name_, ": parameter ", i, " of the group is undefined");
    TS_CHECK(p.dtype() == kFloat32 || p.dtype() == kFloat64, name_, ": parameter ", i, " is ",
             toadstool::detail::describe(p), "; only float32 and float64 parameters are supported");
    TS_CHECK(p.is_leaf(), name_, ": parameter ", i, " (", toadstool::detail::describe(p),
             ") is not a leaf (it is the result of an op); optimize the leaf it came from");
    TS_CHECK(seen.insert(p.impl_ptr().get()).second, name_, ": parameter ", i, " (",
             toadstool::detail::describe(p), ") appears in more than one parameter group");
  }
  for (const auto& [key, value] : group.options) {
    TS_CHECK(defaults_.count(key) != 0, name_, ": unknown hyper-parameter '", key, "'");
  }
  for (const auto& [key, value] : defaults_) group.options.emplace(key, value);
  validate(group.options);
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const auto& group : groups_) {
    for (const auto& p : group.params) p.zero_grad(set_to_none);
  }
}

void Optimizer::step() {
  settle_gate();
  run_step();
}

void Optimizer::check_skip_flag(const Tensor& skip_if_nonzero) const {
  TS_CHECK(skip_if_nonzero.defined() && skip_if_nonzero.numel() == 1 &&
               skip_if_nonzero.dtype() == kFloat32,
           name_, ".step: the skip flag must be one float32 value, got ",
           toadstool::detail::describe(skip_if_nonzero));
}

void Optimizer::step(const Tensor& skip_if_nonzero) {
  check_skip_flag(skip_if_nonzero);
  // Each parameter stepped gets its device count of skipped steps.
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (!p.grad().defined()) continue;
      Tensor& skipped = state_[p.impl_ptr().get()].skipped;
      if (!skipped.defined()) skipped = zeros({}, TensorOptions(kFloat32).device(p.device()));
    }
  }
  skip_flag_ = skip_if_nonzero.detach();
  try {
    run_step();
  } catch (...) {
    skip_flag_ = Tensor();
    throw;
  }
  skip_flag_ = Tensor();
}

StepGateTensors Optimizer::gate_of(const ParamState& state) const {
  if (!skip_flag_.defined()) return {};
  return {skip_flag_, state.skipped};
}

void Optimizer::settle_gate() const {
  for (auto it = state_.begin(); it != state_.end();) {
    ParamState& state = it->second;
    if (!state.skipped.defined()) {
      ++it;
      continue;
    }
    state.step -= static_cast<int64_t>(state.skipped.item<float>());
    state.skipped = Tensor();
    // A state whose every step was skipped was created by a skipped step.
    it = state.step <= 0 ? state_.erase(it) : std::next(it);
  }
}

void Optimizer::run_step() {
  NoGradGuard no_grad;
  for (const auto& group : groups_) {
    // Every gradient is checked before any state changes: update() counts
    // the step and creates buffers when it queues a step, so an error after
    // that would leave the group's states a step ahead of their values.
    for (const auto& p : group.params) {
      const Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      TS_CHECK(
          grad.shape() == p.shape() && grad.dtype() == p.dtype() && grad.device() == p.device(),
          name_, ".step: the gradient ", toadstool::detail::describe(grad),
          " does not match its parameter ", toadstool::detail::describe(p));
      TS_CHECK(!skip_flag_.defined() || skip_flag_.device() == p.device(), name_,
               ".step: the skip flag is on ", skip_flag_.device(), ", a parameter on ", p.device());
    }
    // Contiguous parameters' steps are queued and run together; a strided
    // one is updated in a contiguous copy that is copied back, after the
    // steps queued before it have run (it may view one of them: tied
    // weights), and it runs alone, so that its copy-back lands before any
    // later parameter's step.
    StepBatch batch;
    std::vector<Tensor> stepped;
    auto run_batch = [&] {
      sgd_steps_(batch.sgd);
      adam_steps_(batch.adam);
      batch = StepBatch();
    };
    for (const auto& p : group.params) {
      const Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      ParamState& state = state_[p.impl_ptr().get()];
      if (p.is_contiguous()) {
        update(group.options, p, grad.contiguous(), state, batch);
      } else {
        run_batch();
        const Tensor dense = p.contiguous();
        update(group.options, dense, grad.contiguous(), state, batch);
        run_batch();
        Tensor(p).copy_(dense);
      }
      stepped.push_back(p);
    }
    run_batch();
    // The 16-bit copy autocast keeps of each parameter is rewritten now,
    // while it is in cache, instead of cast again at its next use.
    for (const Tensor& p : stepped) autocast::refresh_cached_copy(p);
  }
}

const ParamState* Optimizer::state(const Tensor& param) const {
  settle_gate();
  const auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() ? nullptr : &it->second;
}

TensorDict Optimizer::state_dict() const {
  settle_gate();
  return format_state_dict(groups_, counts_steps(),
                           [&](int64_t /*index*/, const Tensor& p) { return state(p); });
}

TensorDict format_state_dict(
    const std::vector<ParamGroup>& groups, bool counts_steps,
    const std::function<const ParamState*(int64_t index, const Tensor& param)>& state_of,
    bool copy_buffers) {
  TensorDict dict;
  int64_t index = 0;
  for (const auto& group : groups) {
    for (const auto& p : group.params) {
      const ParamState* s = state_of(index, p);
      if (s != nullptr) {
        const std::string prefix = "state." + std::to_string(index) + ".";
        if (counts_steps) {
          dict.insert(prefix + "step", scalar_tensor(static_cast<double>(s->step), kFloat32));
        }
        for (const auto& [name, buffer] : s->buffers) {
          dict.insert(prefix + name, copy_buffers ? buffer.clone() : buffer);
        }
      }
      ++index;
    }
  }
  index = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    for (const auto& [name, value] : groups[g].options) {
      dict.insert(prefix + name, scalar_tensor(value, kFloat64));
    }
    std::vector<int64_t> ids(groups[g].params.size());
    for (auto& id : ids) id = index++;
    dict.insert(prefix + "params", from_vector(ids));
  }
  return dict;
}

void Optimizer::load_state_dict(const TensorDict& dict) {
  const std::string op = name_ + ".load_state_dict";
  // Sort the entries: group hyper-parameters, group parameter lists, state.
  std::map<int64_t, Options> saved_options;
  std::map<int64_t, const Tensor*> saved_params;
  std::map<int64_t, std::map<std::string, const Tensor*>> saved_state;
  for (const auto& [key, tensor] : dict) {
    int64_t index = 0;
    std::string name;
    if (split_key(key, "param_groups.", index, name)) {
      if (name == "params") {
        saved_params[index] = &tensor;
      } else {
        saved_options[index][name] = scalar_value(op, key, tensor);
      }
    } else if (split_key(key, "state.", index, name)) {
      saved_state[index][name] = &tensor;
    } else {
      TS_CHECK(false, op, ": unexpected entry '", key,
               "' (expected state.<i>.<name> or param_groups.<g>.<name>)");
    }
  }

  // Groups: the same count, each with its parameter list and its parameters.
  TS_CHECK(saved_params.size() == groups_.size() && saved_options.size() <= groups_.size(), op,
           ": the state dict has ", saved_params.size(), " parameter groups, the optimizer has ",
           groups_.size());
  std::map<int64_t, const Tensor*> param_of_id;  // saved parameter number -> parameter
  std::vector<Options> new_options(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto ids_it = saved_params.find(static_cast<int64_t>(g));
    TS_CHECK(ids_it != saved_params.end(), op, ": no 'param_groups.", g, ".params' entry");
    const Tensor& ids = *ids_it->second;
    TS_CHECK(ids.dim() == 1 && ids.dtype() == kInt64, op, ": 'param_groups.", g,
             ".params' should be 1-D int64, got ", toadstool::detail::describe(ids));
    const auto& params = groups_[g].params;
    TS_CHECK(ids.numel() == static_cast<int64_t>(params.size()), op, ": group ", g, " has ",
             ids.numel(), " parameters in the state dict, ", params.size(), " in the optimizer");
    // Saved numbers map to this optimizer's parameters by position, as PyTorch's do.
    const int64_t* id = ids.contiguous().data_ptr<int64_t>();
    for (size_t i = 0; i < params.size(); ++i) {
      TS_CHECK(param_of_id.emplace(id[i], &params[i]).second, op, ": parameter number ", id[i],
               " appears twice in the state dict's groups");
    }
    const auto options_it = saved_options.find(static_cast<int64_t>(g));
    TS_CHECK(options_it != saved_options.end(), op, ": group ", g,
             " has no hyper-parameters in the state dict");
    for (const auto& [name, value] : defaults_) {
      TS_CHECK(options_it->second.count(name) != 0, op, ": group ", g, " has no hyper-parameter '",
               name, "' in the state dict");
    }
    validate(options_it->second);
    new_options[g] = options_it->second;
  }

  // Per-parameter state: complete, with the parameter's shape.
  std::unordered_map<const TensorImpl*, ParamState> new_state;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::vector<std::string> names = buffer_names(new_options[g]);
    const Tensor& ids = *saved_params.at(static_cast<int64_t>(g));
    const Tensor id_list = ids.contiguous();
    for (int64_t i = 0; i < id_list.numel(); ++i) {
      const int64_t id = id_list.data_ptr<int64_t>()[i];
      const auto entries_it = saved_state.find(id);
      if (entries_it == saved_state.end()) continue;
      const Tensor& p = *param_of_id.at(id);
      auto entries = entries_it->second;
      ParamState state;
      if (counts_steps()) {
        const auto step_it = entries.find("step");
        TS_CHECK(step_it != entries.end(), op, ": no 'state.", id, ".step' entry");
        state.step =
            saved_integer(*step_it->second, op + ": 'state." + std::to_string(id) + ".step'", 0);
        entries.erase(step_it);
      }
      for (const auto& name : names) {
        const auto it = entries.find(name);
        TS_CHECK(it != entries.end(), op, ": no 'state.", id, ".", name, "' entry");
        const Tensor& buffer = *it->second;
        TS_CHECK(buffer.shape() == p.shape() && buffer.is_floating_point(), op, ": 'state.", id,
                 ".", name, "' is ", toadstool::detail::describe(buffer), ", its parameter is ",
                 toadstool::detail::describe(p));
        state.buffers.insert(name, buffer.to(p.dtype()).to(p.device()).contiguous().clone());
        entries.erase(it);
      }
      TS_CHECK(entries.empty(), op, ": unexpected entry 'state.", id, ".",
               entries.empty() ? "" : entries.begin()->first, "'");
      new_state.emplace(p.impl_ptr().get(), std::move(state));
    }
  }
  for (const auto& [id, entries] : saved_state) {
    TS_CHECK(param_of_id.count(id) != 0, op, ": 'state.", id, ".", entries.begin()->first,
             "' names no parameter of the state dict's groups");
  }

  // Everything checked: commit (the loaded state, without skipped counts,
  // replaces whatever gated steps left).
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = std::move(new_options[g]);
  state_ = std::move(new_state);
}

}  // namespace toadstool::optim
