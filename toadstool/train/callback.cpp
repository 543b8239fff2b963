#include "toadstool/train/callback.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace toadstool::train {

const char* hook_name(Hook hook) {
  switch (hook) {
#define TOADSTOOL_HOOK(name) \
  case Hook::name:           \
    return #name;
#include "toadstool/train/hook_list.h"
#undef TOADSTOOL_HOOK
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
