#pragma once
// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// a 4-byte magic 0x0000TTDD (TT the element type, DD the number of dims),
// DD big-endian uint32 sizes, then the elements row-major, big-endian.
// Images are 0x00000803 (ubyte [N, rows, cols]), labels 0x00000801
// (ubyte [N]).
#include <string>

#include "toadstool/tensor/tensor.h"

namespace toadstool::train {

// Reads an IDX file, plain or gzip-compressed (recognised by its content,
// whatever the file name), into a tensor of the file's shape converted to
// `dtype`. Toadstool has no uint8 dtype, so ubyte data comes out as float32
// by default (values 0..255, unscaled) or int64 for labels. Element types:
// ubyte (0x08), sbyte (0x09), short (0x0B), int (0x0C), float (0x0D) and
// double (0x0E); float files need a floating `dtype`, and bool is refused.
// A missing, truncated, over-long or corrupt file, or a wrong magic, is an
// Error naming the file and what is wrong; the data is never read beyond
// what the file holds.
Tensor read_idx(const std::string& path, DType dtype = kFloat32);

}  // namespace toadstool::train
