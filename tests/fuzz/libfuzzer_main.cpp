// The libFuzzer entry point of one fuzz target, chosen at compile time with
// -DTOADSTOOL_FUZZ_TARGET=fuzz_<reader> (tests/fuzz/CMakeLists.txt builds
// fuzz_safetensors, fuzz_idx and fuzz_checkpoint with TOADSTOOL_FUZZERS=ON).
// A non-Error exception escapes the target and aborts, which libFuzzer
// reports as a crash with the input saved.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  toadstool::fuzz::TOADSTOOL_FUZZ_TARGET(data, size);
  return 0;  // libFuzzer reserves other values
}
