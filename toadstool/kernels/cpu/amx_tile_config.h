#pragma once
// The AMX tile configuration (LDTILECFG's 64-byte operand, palette 1) of the
// bfloat16 GEMM kernel (gemm_bf16_amx.cpp) and of the benchmarks' AMX probe:
// tmm0-7, each 16 rows of 64 bytes (16 x 16 float32 or 16 x 32 bfloat16).
//
// Load it from this constant, never from a copy built on the stack: GCC 12's
// _tile_loadconfig declares its asm to read 8 bytes, so the stores of a stack
// copy's other 56 bytes are removed as dead. The tiles then have no rows and
// the first tile instruction raises SIGILL (seen on the first machine with
// AMX; the software model of tests/amx_emulation/ cannot see it, its
// _tile_loadconfig being a function call).
#include <cstdint>

namespace toadstool::kernels::cpu {

struct alignas(64) AmxTileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of tmm0..15
  uint8_t rows[16];
};
static_assert(sizeof(AmxTileConfig) == 64);

constexpr AmxTileConfig eight_tiles_of_16_by_64_bytes() {
  AmxTileConfig config{};
  config.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  return config;
}

inline constexpr AmxTileConfig kAmxTileConfig = eight_tiles_of_16_by_64_bytes();

}  // namespace toadstool::kernels::cpu
