#pragma once
// nn::Module: the base of every layer and model. A module owns named
// parameters (leaves that require grad), buffers (state that is saved but not
// trained) and sub-modules; names compose with dots exactly as PyTorch's do
// for the same structure ("encoder.layers.0.self_attn.in_proj_weight"), so a
// state dict moves between the two.
//
// A subclass registers its tensors in its constructor and keeps a handle to
// each: `weight = register_parameter("weight", ...)`. The registry and the
// member share one tensor, and Module::to(dtype) converts it in place
// (Tensor::set_data), so both stay the same tensor.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/tensor/tensor.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // "Linear", "TransformerEncoderLayer": the name printed in summaries.
  const std::string& type_name() const { return type_name_; }

  // --- what the module holds (recurse: include sub-modules) -------------------
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<NamedTensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<NamedTensor> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module first (under ""), then every descendant, depth first.
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Total element count of the parameters.
  int64_t num_parameters() const;

  // --- mode and placement -------------------------------------------------------
  // Training mode (dropout active) is the default; both recurse.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Converts floating parameters and buffers (and their gradients' owners)
  // in place; integer buffers keep their dtype, as in PyTorch.
  void to(DType dtype);
  void to(Device device);
  void zero_grad(bool set_to_none = true);
  // Calls fn on every sub-module, then on this one (PyTorch's order).
  void apply(const std::function<void(Module&)>& fn);

  // --- saved state ----------------------------------------------------------------
  // Parameters and persistent buffers under their dotted names, sharing
  // storage with the module (detached: saving records nothing).
  TensorDict state_dict() const;
  // Copies `dict` into the parameters and buffers. strict: every entry must
  // match one of ours and every one of ours must be present. Shape mismatches
  // are always an Error; nothing is copied unless every entry checks out.
  void load_state_dict(const TensorDict& dict, bool strict = true);

  // --- printing -------------------------------------------------------------------
  // PyTorch-like tree, one line a module, with each module's parameter shapes
  // and counts and the total at the end.
  std::string summary() const;
  // The arguments shown after the type name, e.g. "in_features=4, out_features=2".
  virtual std::string extra_repr() const { return ""; }

 protected:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}

  // Registers `tensor` (made a requires-grad leaf) under `name`; returns it.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  // Registers a buffer; a non-persistent one is left out of state_dict().
  Tensor register_buffer(const std::string& name, Tensor tensor, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  struct Buffer {
    std::string name;
    Tensor tensor;
    bool persistent;
  };
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect_modules(const std::string& prefix,
                       std::vector<std::pair<std::string, Module*>>& out);
  void print_tree(std::ostream& out, const std::string& indent) const;

  std::string type_name_;
  bool training_ = true;
  std::vector<NamedTensor> parameters_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module whose forward takes one tensor and returns one: what Sequential
// chains and what the trainer calls on a batch.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }

 protected:
  using Module::Module;
};

std::ostream& operator<<(std::ostream& out, const Module& module);

}  // namespace toadstool::nn
