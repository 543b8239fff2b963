#pragma once
// A software model of the AMX instructions the bfloat16 GEMM's AMX
// micro-kernel (toadstool/kernels/cpu/gemm_bf16_amx.cpp) uses, so that the
// kernel runs, unchanged, on a CPU without AMX: shim/immintrin.h puts these
// functions in place of the intrinsics. Per thread, as the hardware's tile
// state: eight tiles of palette 1 (at most 16 rows of 64 bytes each).
//
// Each instruction does what the Intel SDM describes, and checks what the
// hardware checks (where it would raise #UD or #GP, the model prints what
// went wrong and aborts, as the process would die):
//   LDTILECFG   palette 1, reserved bytes zero, rows <= 16 and colsb <= 64
//               (both zero or neither), tiles 8-15 unconfigured; palette 0
//               releases, as TILERELEASE
//   TILEZERO    zeros a configured tile
//   TILELOADD   rows x colsb bytes from base + r * stride (ordinary reads:
//               AddressSanitizer sees every byte the kernel loads)
//   TILESTORED  the same bytes written
//   TDPBF16PS   dst [M, N] += src1 [M, K pairs] . src2 [K pairs, N]: dst's
//               and src1's rows equal, src1's colsb / 4 = src2's rows,
//               dst's colsb = src2's colsb, three distinct tiles; the
//               bfloat16 inputs' denormals read as zero, each product fused
//               into the running float32 sum in turn (the Intrinsics
//               Guide's order; the SDM's sums the even and the odd products
//               apart, then adds both to dst: the last bits may differ),
//               denormal sums flushed to zero (dst's incoming denormals are
//               not: the kernel starts from TILEZERO)
// Any tile instruction before LDTILECFG on the same thread (or after
// TILERELEASE) is a fault: it checks that every thread of a team configures
// its own tiles (Bf16Tile::begin).
//
// What it cannot check: speed, and the hardware's order of float32 sums
// inside one TDPBF16PS (the tests allow for any order).
#include <cstdint>

namespace toadstool::amx_model {

// LDTILECFG's 64-byte operand, as the SDM lays it out (the kernel writes
// its own, gemm_bf16_amx.cpp: the model reads whatever bytes it is given).
struct alignas(64) TileConfig {
  uint8_t palette_id = 0;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tmm0..15
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

void load_config(const void* config);
void release();
void zero(int tile);
void load(int tile, const void* base, int64_t stride);
void store(int tile, void* base, int64_t stride);
void dpbf16ps(int dst, int src1, int src2);

// TDPBF16PS instructions run so far, all threads together: a test's proof
// that the emulated kernel, not some other path, did the work.
int64_t dpbf16ps_count();

}  // namespace toadstool::amx_model
