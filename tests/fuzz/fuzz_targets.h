#pragma once
// One fuzz target per file reader (and per loader of what a reader read). Each writes the bytes it
// is given to a scratch file (the readers take paths), runs the reader on it, and:
//   returns 1  the reader accepted the input,
//   returns 0  the reader refused it with toadstool::Error (the contract),
//   throws     anything else: a non-Error exception escapes, so that the
//              smoke test (test_fuzz_smoke.cpp) reports it and libFuzzer
//              (libfuzzer_main.cpp) stops on it as a crash.
// Crashes and undefined behaviour are left to the sanitizers.
// docs/fuzzing.md says how to run them.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace toadstool::fuzz {

// The bytes are a safetensors file: load_safetensors_with_metadata.
int fuzz_safetensors(const uint8_t* data, size_t size);

// The bytes are an IDX file, plain or gzip: read_idx as float32, int64 and
// float16 (the integer and 16-bit conversions are separate code paths).
int fuzz_idx(const uint8_t* data, size_t size);

// The bytes are an archive (archive.h) of a checkpoint output folder:
// latest.json, best.json and up to 3 checkpoint folders. Each folder goes
// through read_checkpoint_info, load_checkpoint into a fresh trainer and
// load_checkpoint_weights; then latest_checkpoint, best_checkpoint, and a
// fit that resumes with CheckpointCallback (checkpoint_run.h).
int fuzz_checkpoint(const uint8_t* data, size_t size);

// The bytes are an IMDB archive (a .tar.gz like aclImdb_v1.tar.gz, or a
// plain tar): read_imdb of "train" and "test", and imdb_has_split. Accepted
// when the train split reads.
int fuzz_imdb_archive(const uint8_t* data, size_t size);

// The bytes are text for the tokenizer and the vocabulary: tokenize,
// first_invalid_utf8, Vocabulary::build of its lines, encode, save and
// load back; and the same bytes as a vocabulary file for Vocabulary::load.
// Accepted when the vocabulary builds and, if the text is a JSON object,
// when it loads as a vocabulary file.
int fuzz_tokenizer(const uint8_t* data, size_t size);

// The bytes are a safetensors file of a state dict: load_safetensors, then
// Module::load_state_dict into an MLP and a TransformerClassifier, strict
// and not, and Adam::load_state_dict followed by a step. Accepted when a
// strict module load or the optimizer load succeeds.
int fuzz_state_dict(const uint8_t* data, size_t size);

// Every target: the one list that the smoke test, toadstool_fuzz_tool and
// scripts/fuzz.sh (through `toadstool_fuzz_tool list`) go by. `name` is also
// the corpus folder's (tests/fuzz/corpus/<name>) and, after "fuzz_", the
// function's and the libFuzzer program's (tests/fuzz/CMakeLists.txt).
struct Target {
  std::string_view name;
  int (*run)(const uint8_t*, size_t);
  std::string_view extension;  // of saved inputs
};
inline constexpr std::array kTargets = {
    Target{"safetensors", fuzz_safetensors, ".safetensors"},
    Target{"idx", fuzz_idx, ".idx"},
    Target{"checkpoint", fuzz_checkpoint, ".ckpt"},
    Target{"imdb_archive", fuzz_imdb_archive, ".tar.gz"},
    Target{"tokenizer", fuzz_tokenizer, ".txt"},
    Target{"state_dict", fuzz_state_dict, ".safetensors"},
};

// The target named `name`, or nullptr.
constexpr const Target* find_target(std::string_view name) {
  for (const Target& target : kTargets) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

}  // namespace toadstool::fuzz
