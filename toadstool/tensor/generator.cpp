#include "toadstool/tensor/generator.h"

namespace toadstool {

Generator::Generator(uint64_t seed) { state_.seed = seed; }

Generator::Generator(const Generator& other) : state_(other.state()) {}

Generator& Generator::operator=(const Generator& other) {
  if (this != &other) set_state(other.state());
  return *this;
}

void Generator::manual_seed(uint64_t seed) { set_state({seed, 0}); }

uint64_t Generator::seed() const { return state().seed; }

uint64_t Generator::reserve(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t first = state_.offset;
  state_.offset += blocks;
  return first;
}

Generator::State Generator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void Generator::set_state(const State& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = state;
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace toadstool
