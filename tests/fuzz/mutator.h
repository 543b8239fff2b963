#pragma once
// Deterministic mutations for the fuzz smoke test: a file's bytes changed
// the ways that break readers (bit flips, boundary bytes and integers,
// truncation, insertion and deletion, and in JSON text, numbers replaced by
// huge, negative or fractional ones and values by ones of another type).
// The same seed gives the same mutations on every machine.
#include <cstdint>
#include <random>
#include <string>

namespace toadstool::fuzz {

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  // Applies 1 to 4 random mutations to `bytes`.
  void mutate(std::string& bytes);
  // The same for a safetensors file: mostly its JSON header is mutated and
  // the 8-byte length before it updated to match (a header whose length is
  // wrong is refused before anything in it is looked at), sometimes the raw
  // bytes.
  void mutate_safetensors(std::string& bytes);
  // The same for a safetensors file of a state dict: half the time its
  // values are changed in place (floats such as NaN, infinities, 1e30 and
  // -0 written over 4 aligned data bytes, or a bit flipped there), which
  // keeps the file loadable, so that what is done with loaded values (an
  // optimizer's step) is reached; else as mutate_safetensors.
  void mutate_state_dict(std::string& bytes);
  // The same for an archive (archive.h) of a checkpoint folder: one file in
  // it is mutated as what it is (or dropped, or the framing itself mutated).
  void mutate_archive(std::string& bytes);

  // A random integer in [0, n), n >= 1.
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  void mutate_once(std::string& bytes);
  void flip_bit(std::string& bytes);
  void set_byte(std::string& bytes);
  void set_integer(std::string& bytes);
  void truncate(std::string& bytes);
  void insert_bytes(std::string& bytes);
  void erase_bytes(std::string& bytes);
  void duplicate_chunk(std::string& bytes);
  // JSON-aware: false when `bytes` has nothing to replace.
  bool replace_number(std::string& bytes);
  bool replace_value(std::string& bytes);

  std::mt19937_64 rng_;
};

}  // namespace toadstool::fuzz
