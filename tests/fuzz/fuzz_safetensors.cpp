// fuzz_safetensors: the bytes are a safetensors file.
#include "fuzz_targets.h"
#include "scratch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/safetensors.h"

namespace toadstool::fuzz {

int fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string path = fresh_scratch_folder("safetensors") + "/input.safetensors";
  write_file(path, {reinterpret_cast<const char*>(data), size});
  try {
    load_safetensors_with_metadata(path);
    return 1;
  } catch (const Error&) {
    return 0;  // refused with an Error: the contract
  }
}

}  // namespace toadstool::fuzz
