// fuzz_idx: the bytes are an IDX file, plain or gzip-compressed.
#include "fuzz_targets.h"
#include "scratch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/data/idx.h"

namespace toadstool::fuzz {

int fuzz_idx(const uint8_t* data, size_t size) {
  const std::string path = fresh_scratch_folder("idx") + "/input.idx";
  write_file(path, {reinterpret_cast<const char*>(data), size});
  // float32 (the default) decides the result; int64 (labels) and float16
  // take the other conversion paths, and refuse float files.
  int accepted = 0;
  for (DType dtype : {kFloat32, kInt64, kFloat16}) {
    try {
      train::read_idx(path, dtype);
      if (dtype == kFloat32) accepted = 1;
    } catch (const Error&) {  // refused with an Error: the contract
    }
  }
  return accepted;
}

}  // namespace toadstool::fuzz
