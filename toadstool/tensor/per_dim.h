#pragma once
// Internal: the option lists of convolutions and pooling (stride, padding,
// dilation, ...), given as one value for every spatial dim or one per dim.
#include <cstddef>
#include <cstdint>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool::detail {

// `values` as one value per each of `dims` spatial dims: empty -> `fallback`,
// one value -> repeated; another length is an Error naming `op` and `name`.
inline Shape per_dim(const Shape& values, size_t dims, int64_t fallback, const char* op,
                     const char* name) {
  if (values.empty()) return Shape(dims, fallback);
  if (values.size() == 1) return Shape(dims, values[0]);
  TS_CHECK(values.size() == dims, op, ": ", name, " has ", values.size(),
           " values for a kernel of ", dims, " dims ", values);
  return values;
}

}  // namespace toadstool::detail
