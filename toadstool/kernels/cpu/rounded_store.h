#pragma once
// out[i] = v rounded to out's dtype, for loops that should vectorise: a
// bfloat16 / float16 result is stored through its 16 bits, because GCC does
// not vectorise a loop that assigns BFloat16 / Half structs, and does one
// that stores the bits (the same rounding as BFloat16(v) / Half(v)).
#include <cstdint>

#include "toadstool/kernels/half.h"

namespace toadstool::kernels::cpu {

template <class T, class V>
void store_rounded(T* out, int64_t i, V v) {
  out[i] = static_cast<T>(v);
}
inline void store_rounded(BFloat16* out, int64_t i, float v) {
  reinterpret_cast<uint16_t*>(out)[i] = float_to_bfloat16_bits(v);
}
inline void store_rounded(Half* out, int64_t i, float v) {
  reinterpret_cast<uint16_t*>(out)[i] = float_to_half_bits(v);
}

}  // namespace toadstool::kernels::cpu
