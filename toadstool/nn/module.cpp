#include "toadstool/nn/module.h"

#include <ostream>
#include <sstream>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// "Linear" -> "Linear"; a name with a dot would make dotted names ambiguous.
void check_name(const std::string& owner, const std::string& name) {
  TS_CHECK(!name.empty() && name.find('.') == std::string::npos, owner,
           ": a parameter, buffer or sub-module name must be non-empty and contain no '.', got '",
           name, "'");
}

}  // namespace

// --- registration ----------------------------------------------------------------

void Module::check_new_name(const std::string& name) const {
  check_name(type_name_, name);
  bool taken = false;
  for (const auto& [existing, tensor] : parameters_) taken = taken || existing == name;
  for (const auto& buffer : buffers_) taken = taken || buffer.name == name;
  for (const auto& [existing, child] : children_) taken = taken || existing == name;
  TS_CHECK(!taken, type_name_, ": the name '", name, "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name);
  TS_CHECK(tensor.defined(), type_name_, ": parameter '", name, "' is undefined");
  TS_CHECK(tensor.is_leaf(), type_name_, ": parameter '", name,
           "' must be a leaf (detach it first)");
  tensor.requires_grad_(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor, bool persistent) {
  check_new_name(name);
  TS_CHECK(tensor.defined(), type_name_, ": buffer '", name, "' is undefined");
  buffers_.push_back({name, tensor, persistent});
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  TS_CHECK(module != nullptr, type_name_, ": sub-module '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

// --- traversal ---------------------------------------------------------------------

std::vector<NamedTensor> Module::named_parameters(bool recurse) const {
  std::vector<NamedTensor> out = parameters_;
  if (!recurse) return out;
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, tensor] : child->named_parameters(true)) {
      out.emplace_back(join(child_name, name), std::move(tensor));
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters(recurse)) out.push_back(std::move(tensor));
  return out;
}

std::vector<NamedTensor> Module::named_buffers(bool recurse) const {
  std::vector<NamedTensor> out;
  for (const auto& buffer : buffers_) out.emplace_back(buffer.name, buffer.tensor);
  if (!recurse) return out;
  for (const auto& [child_name, child] : children_) {
    for (auto& [name, tensor] : child->named_buffers(true)) {
      out.emplace_back(join(child_name, name), std::move(tensor));
    }
  }
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_buffers(recurse)) out.push_back(std::move(tensor));
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

void Module::collect_modules(const std::string& prefix,
                             std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (const auto& [name, child] : children_) child->collect_modules(join(prefix, name), out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t count = 0;
  for (const Tensor& p : parameters()) count += p.numel();
  return count;
}

// --- mode and placement -----------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (const auto& [name, child] : children_) child->train(on);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::to(DType dtype) {
  TS_CHECK(is_floating(dtype), type_name_, ".to: parameters need a floating dtype, got ", dtype);
  NoGradGuard no_grad;
  for (const Tensor& p : parameters()) p.set_data(p.to(dtype));
  for (const Tensor& b : buffers()) {
    if (b.is_floating_point()) b.set_data(b.to(dtype));
  }
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (const Tensor& p : parameters()) p.set_data(p.to(device));
  for (const Tensor& b : buffers()) b.set_data(b.to(device));
}

void Module::zero_grad(bool set_to_none) {
  for (const Tensor& p : parameters()) p.zero_grad(set_to_none);
}

// --- saved state -------------------------------------------------------------------

TensorDict Module::state_dict() const {
  TensorDict dict;
  for (const auto& [name, tensor] : parameters_) dict.insert(name, tensor.detach());
  for (const auto& buffer : buffers_) {
    if (buffer.persistent) dict.insert(buffer.name, buffer.tensor.detach());
  }
  for (const auto& [child_name, child] : children_) {
    for (const auto& [name, tensor] : child->state_dict()) {
      dict.insert(join(child_name, name), tensor);
    }
  }
  return dict;
}

void Module::load_state_dict(const TensorDict& dict, bool strict) {
  const TensorDict ours = state_dict();
  // Check everything first, so that a failed load leaves the module untouched.
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  for (const auto& [name, target] : ours) {
    const Tensor* source = dict.find(name);
    if (source == nullptr) {
      missing.push_back(name);
      continue;
    }
    TS_CHECK(source->defined(), "load_state_dict: '", name,
             "' is an undefined tensor in the state dict");
    TS_CHECK(source->shape() == target.shape(), "load_state_dict: '", name, "' has shape ",
             source->shape(), " in the state dict but ", target.shape(), " in the ", type_name_);
  }
  for (const auto& [name, tensor] : dict) {
    if (!ours.contains(name)) unexpected.push_back(name);
  }
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::ostringstream message;
    message << "load_state_dict: the state dict does not match the " << type_name_ << ".";
    auto list = [&message](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      message << " " << what << ":";
      for (const std::string& name : names) message << " '" << name << "'";
      message << ".";
    };
    list("Missing", missing);
    list("Unexpected", unexpected);
    throw Error(message.str());
  }
  NoGradGuard no_grad;
  for (const auto& [name, target] : ours) {
    const Tensor* source = dict.find(name);
    if (source != nullptr) Tensor(target).copy_(*source);
  }
}

// --- printing ----------------------------------------------------------------------

void Module::print_tree(std::ostream& out, const std::string& indent) const {
  int64_t own = 0;
  for (const auto& [name, tensor] : parameters_) own += tensor.numel();
  if (children_.empty()) {
    out << type_name_ << "(" << extra_repr() << ")";
  } else {
    // As PyTorch: the extra repr on its own line above the children.
    out << type_name_ << "(\n";
    if (!extra_repr().empty()) out << indent << "  " << extra_repr() << "\n";
    for (const auto& [name, child] : children_) {
      out << indent << "  (" << name << "): ";
      child->print_tree(out, indent + "  ");
      out << "\n";
    }
    out << indent << ")";
  }
  if (!parameters_.empty()) {
    out << "  #";
    for (const auto& [name, tensor] : parameters_)
      out << " " << name << " " << detail::concat(tensor.shape());
    out << ": " << own << " parameters";
  }
}

std::string Module::summary() const {
  std::ostringstream out;
  print_tree(out, "");
  out << "\nTotal parameters: " << num_parameters() << "\n";
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Module& module) {
  return out << module.summary();
}

}  // namespace toadstool::nn
