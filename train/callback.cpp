#include "train/callback.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace toadstool::train {

const char* hook_name(Hook hook) {
  switch (hook) {
    case Hook::begin_fit: return "begin_fit";
    case Hook::begin_epoch: return "begin_epoch";
    case Hook::all_batches: return "all_batches";
    case Hook::begin_batch: return "begin_batch";
    case Hook::after_pred: return "after_pred";
    case Hook::after_loss: return "after_loss";
    case Hook::after_backward: return "after_backward";
    case Hook::begin_optim: return "begin_optim";
    case Hook::after_step: return "after_step";
    case Hook::after_batch: return "after_batch";
    case Hook::begin_validate: return "begin_validate";
    case Hook::after_validate: return "after_validate";
    case Hook::after_epoch: return "after_epoch";
    case Hook::cancelled_training: return "cancelled_training";
    case Hook::after_fit: return "after_fit";
    case Hook::begin_eval: return "begin_eval";
    case Hook::after_eval: return "after_eval";
    case Hook::begin_predict: return "begin_predict";
    case Hook::after_predict: return "after_predict";
  }
  return "?";
}

// The class name without its namespaces: "toadstool::train::EarlyStopping"
// -> "EarlyStopping".
std::string Callback::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string full = status == 0 && demangled ? demangled.get() : mangled;
  const size_t template_start = full.find('<');
  const size_t last_colon = full.rfind("::", template_start);
  return last_colon == std::string::npos ? full : full.substr(last_colon + 2);
}

}  // namespace toadstool::train
