#include "toadstool/train/callbacks/debug.h"

#include <iostream>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/nn/container.h"
#include "toadstool/nn/zoo/mlp.h"
#include "toadstool/tensor/error.h"

namespace toadstool::train {
namespace {

std::string describe(const char* name, const Tensor& t) {
  if (!t.defined()) return std::string(name) + " (none)";
  return detail::concat(name, " ", t.shape(), " ", t.dtype());
}

std::string where(const Trainer& trainer) {
  std::string text =
      std::string(stage_name(trainer.stage)) + " batch " + std::to_string(trainer.batch);
  if (trainer.stage == Stage::train || trainer.stage == Stage::validate) {
    text += " of epoch " + std::to_string(trainer.epoch);
  }
  if (trainer.stage == Stage::train) text += " (step " + std::to_string(trainer.step) + ")";
  return text;
}

std::string module_label(const std::string& name, const nn::Module& module) {
  return (name.empty() ? std::string("model") : name) + " (" + module.type_name() + ")";
}

std::string child_name(const std::string& parent, const std::string& child) {
  return parent.empty() ? child : parent + "." + child;
}

// Runs `module` on x (x becomes its output) and returns the label of the
// first module inside it whose output is not finite. Only containers whose
// forward is known to chain their children are opened up.
std::optional<std::string> walk(nn::UnaryModule& module, const std::string& name, Tensor& x) {
  if (auto* sequential = dynamic_cast<nn::Sequential*>(&module)) {
    for (size_t i = 0; i < sequential->size(); ++i) {
      auto found = walk(*(*sequential)[i], child_name(name, std::to_string(i)), x);
      if (found) return found;
    }
    return std::nullopt;
  }
  if (auto* mlp = dynamic_cast<nn::MLP*>(&module)) {  // forward is layers->forward
    return walk(*mlp->layers, child_name(name, "layers"), x);
  }
  x = module.forward(x);
  if (!all_finite(x)) return module_label(name, module);
  return std::nullopt;
}

}  // namespace

bool all_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0) return true;
  const NoGradGuard no_grad;
  // x * 0 is 0 for every finite x and NaN for NaN and +-inf, and a sum of
  // zeros cannot overflow: one reduction, one read.
  return (t.detach() * 0.0).sum().item<double>() == 0.0;
}

std::optional<std::string> first_non_finite_module(nn::UnaryModule& model, const Tensor& x) {
  const NoGradGuard no_grad;
  Tensor activation = x;
  return walk(model, "", activation);
}

DebugCallback::DebugCallback(DebugOptions options)
    : options_(options), out_(options.out != nullptr ? *options.out : std::cerr) {}

void DebugCallback::trace(const Trainer& trainer, Hook hook) {
  if (!options_.trace_hooks) return;
  out_ << "DebugCallback: " << hook_name(hook) << "  " << stage_name(trainer.stage) << "  epoch "
       << trainer.epoch << "  batch " << trainer.batch << "  step " << trainer.step << '\n';
}

void DebugCallback::report(const std::string& key, const std::string& message) {
  if (options_.throw_on_error) {
    findings_.push_back(message);
    throw Error(message);
  }
  if (!reported_.insert(key).second) return;
  findings_.push_back(message);
  out_ << message << '\n' << std::flush;
}

void DebugCallback::begin_batch(Trainer& trainer) {
  trace(trainer, Hook::begin_batch);
  // A re-run for check_outputs starts from here, so dropout draws the same masks.
  generator_before_forward_ = default_generator().state();
}

void DebugCallback::print_shapes(const Trainer& trainer) {
  if (!options_.print_shapes || !shapes_printed_.insert(trainer.stage).second) return;
  out_ << "DebugCallback: first " << stage_name(trainer.stage)
       << " batch: " << describe("x", trainer.x) << ", " << describe("y", trainer.y) << ", "
       << describe("y_pred", trainer.y_pred) << '\n';
}

void DebugCallback::after_pred(Trainer& trainer) {
  trace(trainer, Hook::after_pred);
  print_shapes(trainer);
  if (!options_.check_outputs) return;
  if (!all_finite(trainer.x)) {
    report("x", "DebugCallback: the input x " + detail::concat(trainer.x.shape()) + " of " +
                    where(trainer) + " is not finite");
    return;
  }
  if (all_finite(trainer.y_pred)) return;
  Generator& generator = default_generator();
  const Generator::State after_forward = generator.state();
  generator.set_state(generator_before_forward_);
  std::optional<std::string> culprit;
  try {
    culprit = first_non_finite_module(*trainer.model, trainer.x);
  } catch (...) {
    generator.set_state(after_forward);
    throw;
  }
  generator.set_state(after_forward);
  const std::string head = "DebugCallback: the model's output " +
                           detail::concat(trainer.y_pred.shape()) + " is not finite at " +
                           where(trainer) + "; ";
  if (culprit) {
    report("output:" + *culprit, head + "the first module with a non-finite output is " + *culprit);
  } else {
    report("output:?", head +
                           "re-running it module by module gave finite outputs (a "
                           "non-deterministic forward, or y_pred changed by a callback)");
  }
}

void DebugCallback::after_loss(Trainer& trainer) { trace(trainer, Hook::after_loss); }

void DebugCallback::after_backward(Trainer& trainer) {
  trace(trainer, Hook::after_backward);
  if (!options_.check_grads) return;
  for (const auto& [name, param] : trainer.model->named_parameters()) {
    if (!param.requires_grad()) continue;
    const Tensor& grad = param.grad();
    const std::string label = "parameter " + name + " " + detail::concat(param.shape());
    if (!grad.defined()) {
      if (options_.check_missing_grads) {
        report("missing:" + name, "DebugCallback: " + label + " got no gradient at " +
                                      where(trainer) +
                                      " (unused in the forward, or detached from the loss)");
      }
    } else if (!all_finite(grad)) {
      report("grad:" + name,
             "DebugCallback: the gradient of " + label + " is not finite at " + where(trainer));
    }
  }
}

void DebugCallback::after_step(Trainer& trainer) {
  trace(trainer, Hook::after_step);
  if (!options_.check_weights) return;
  for (const auto& [name, param] : trainer.model->named_parameters()) {
    if (!all_finite(param)) {
      report("weight:" + name, "DebugCallback: " + ("parameter " + name + " ") +
                                   detail::concat(param.shape()) + " is not finite after " +
                                   where(trainer));
    }
  }
}

}  // namespace toadstool::train
