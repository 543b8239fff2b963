#pragma once
// safetensors files (https://github.com/huggingface/safetensors): the format
// Toadstool stores weights in, readable by PyTorch's `safetensors` package
// and loadable from it. Layout: an 8-byte little-endian header length N, N
// bytes of JSON header
//   {"__metadata__": {"k": "v", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// then the tensors' raw little-endian bytes, offsets relative to the end of
// the header, packed without holes. dtypes: F32, F64, I64, BOOL, BF16, F16.
// Details and the validation rules: docs/safetensors.md.
#include <map>
#include <string>

#include "toadstool/tensor/tensor_dict.h"

namespace toadstool {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  TensorDict tensors;  // in the order of their data in the file
  SafetensorsMetadata metadata;
};

// Writes `tensors` (in their order; non-contiguous ones are written
// contiguous) and `metadata` to `path`, atomically (tensor/atomic_file.h):
// on any Error the old file is untouched. Tensors must be on the CPU; the
// name "__metadata__" is reserved.
void save_safetensors(const std::string& path, const TensorDict& tensors,
                      const SafetensorsMetadata& metadata = {});

// Reads a safetensors file, validating the header and every entry before
// reading any data: a malformed, truncated or hostile file is an Error naming
// the file (and the entry), never a crash or an over-read.
SafetensorsContents load_safetensors_with_metadata(const std::string& path);
TensorDict load_safetensors(const std::string& path);

}  // namespace toadstool
