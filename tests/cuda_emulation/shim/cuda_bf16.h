#pragma once
// __nv_bfloat16 for the warp emulator: the 16 bits, read by shim/mma.h.
#include <cstdint>

struct __nv_bfloat16 {
  uint16_t x;
};
