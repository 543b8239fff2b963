#include "toadstool/nn/container.h"

#include <string>

namespace toadstool::nn {

namespace {

void check_index(const char* container, size_t index, size_t size) {
  TS_CHECK(index < size, container, ": index ", index, " is out of range for ", size, " entries");
}

}  // namespace

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> modules)
    : UnaryModule("Sequential") {
  for (auto& module : modules) push_back(std::move(module));
}

void Sequential::push_back(std::shared_ptr<UnaryModule> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& module : modules_) x = module->forward(x);
  return x;
}

const std::shared_ptr<UnaryModule>& Sequential::operator[](size_t index) const {
  check_index("Sequential", index, modules_.size());
  return modules_[index];
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

const std::shared_ptr<Module>& ModuleList::operator[](size_t index) const {
  check_index("ModuleList", index, modules_.size());
  return modules_[index];
}

}  // namespace toadstool::nn
