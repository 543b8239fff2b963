#pragma once
// Buffers of any dtype for the emulation tests, which hand both backends
// the same bytes: elements read as doubles and written from them
// (kernels/half.h's conversions for the 16-bit types, bool as 0 / 1, int64
// truncated).
#include <cstdint>
#include <cstring>
#include <vector>

#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/half.h"

namespace toadstool::kernels::cuda {

using Bytes = std::vector<unsigned char>;

inline double load_element(DType dtype, const unsigned char* at) {
  const auto read = [at](auto value) {
    std::memcpy(&value, at, sizeof value);
    return value;
  };
  switch (dtype) {
    case DType::Bool: return *at != 0 ? 1.0 : 0.0;
    case DType::Int64: return static_cast<double>(read(int64_t{}));
    case DType::Float16: return static_cast<float>(read(Half{}));
    case DType::BFloat16: return static_cast<float>(read(BFloat16{}));
    case DType::Float32: return read(float{});
    case DType::Float64: return read(double{});
  }
  return 0;
}

inline void store_element(DType dtype, unsigned char* at, double v) {
  const auto write = [at](auto value) { std::memcpy(at, &value, sizeof value); };
  switch (dtype) {
    case DType::Bool: *at = v != 0 ? 1 : 0; return;
    case DType::Int64: return write(static_cast<int64_t>(v));
    case DType::Float16: return write(Half(static_cast<float>(v)));
    case DType::BFloat16: return write(BFloat16(static_cast<float>(v)));
    case DType::Float32: return write(static_cast<float>(v));
    case DType::Float64: return write(v);
  }
}

// Element i of a buffer of dtype.
inline double element_at(DType dtype, const Bytes& bytes, int64_t i) {
  return load_element(dtype, bytes.data() + i * element_size(dtype));
}

inline std::vector<double> to_doubles(DType dtype, const Bytes& bytes) {
  std::vector<double> values(bytes.size() / element_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) values[i] = element_at(dtype, bytes, i);
  return values;
}

// n elements of dtype, element i value_of(i).
template <class ValueOf>
Bytes make_elements(DType dtype, int64_t n, const ValueOf& value_of) {
  Bytes bytes(static_cast<size_t>(n) * element_size(dtype));
  for (int64_t i = 0; i < n; ++i)
    store_element(dtype, bytes.data() + i * element_size(dtype), value_of(i));
  return bytes;
}

}  // namespace toadstool::kernels::cuda
