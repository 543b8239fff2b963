#pragma once
// __half for the warp emulator: the 16 bits, read by shim/mma.h.
#include <cstdint>

struct __half {
  uint16_t x;
};
