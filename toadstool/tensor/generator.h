#pragma once
// The random number generator: Philox4x32-10, counter based. Its state is a
// seed and an offset (counter blocks used so far); each random op reserves a
// range of blocks and element i draws from a block chosen by i alone, so the
// numbers do not depend on the thread count (kernels/philox.h has the map).
#include <cstdint>
#include <mutex>

namespace toadstool {

class Generator {
 public:
  struct State {
    uint64_t seed = 0;
    uint64_t offset = 0;
  };

  explicit Generator(uint64_t seed = kDefaultSeed);
  Generator(const Generator& other);
  Generator& operator=(const Generator& other);

  // Restarts the stream: same seed, same numbers.
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  // Returns the first of `blocks` fresh counter blocks and moves past them.
  uint64_t reserve(uint64_t blocks);
  // For checkpoints: the whole state, and restoring it.
  State state() const;
  void set_state(const State& state);

  static constexpr uint64_t kDefaultSeed = 67280421310721ULL;

 private:
  mutable std::mutex mutex_;
  State state_;
};

// The generator ops use when none is passed.
Generator& default_generator();
// Seeds the default generator.
void manual_seed(uint64_t seed);

}  // namespace toadstool
