#pragma once
// One fuzz target per file reader. Each writes the bytes it is given to a
// scratch file (the readers take paths), runs the reader on it, and:
//   returns 1  the reader accepted the input,
//   returns 0  the reader refused it with toadstool::Error (the contract),
//   throws     anything else: a non-Error exception escapes, so that the
//              smoke test (test_fuzz_smoke.cpp) reports it and libFuzzer
//              (libfuzzer_main.cpp) stops on it as a crash.
// Crashes and undefined behaviour are left to the sanitizers.
// docs/fuzzing.md says how to run them.
#include <cstddef>
#include <cstdint>

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

}  // namespace toadstool::fuzz
