#pragma once
// Element types: the enum that tensors carry and the kernel table
// (kernels/backend.h) dispatches on. float32 computes, float64 checks
// gradients, int64 indexes, bool masks; float16/bfloat16 are storage formats.
#include <cstddef>
#include <cstdint>

namespace toadstool {

// Declared in the promotion lattice's order (tensor/dtype.h's promote_types).
enum class DType : uint8_t { Bool, Int64, Float16, BFloat16, Float32, Float64 };

constexpr size_t element_size(DType dt) {
  switch (dt) {
    case DType::Bool: return 1;
    case DType::Float16:
    case DType::BFloat16: return 2;
    case DType::Float32: return 4;
    case DType::Int64:
    case DType::Float64: return 8;
  }
  return 0;
}

// "float32", "int64", ... as PyTorch names them (without the "torch." prefix).
constexpr const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "unknown";
}

}  // namespace toadstool
