// The AMX micro-kernel of the packed bfloat16 GEMM (gemm_bf16_packed.h):
// TDPBF16PS on tiles, a 32 x 32 tile of C as four 16 x 16 float32 tiles.
//
//   tmm0 tmm1   C rows 0-15,  columns 0-15 | 16-31
//   tmm2 tmm3   C rows 16-31, columns 0-15 | 16-31
//   tmm4 tmm5   A rows 0-15 | 16-31, 32 steps of k (16 rows x 64 bytes)
//   tmm6 tmm7   B 16 pairs of k, columns 0-15 | 16-31 (16 rows x 64 bytes)
//
// B is the shared pair panel (a pair row of 32 words is 128 bytes: the two
// B tiles are its halves, loaded at a stride of 128 bytes); A is rows, read
// in place when the block is whole tiles, else packed into zero-padded rows
// of k padded to 32, so every tile is whole. The tiles are stored to a 32 x
// 32 float block on the stack and written out through the shared epilogue
// (gemm_bf16_store.h), or straight into a float32 C that needs no epilogue.
//
// Its test (tests/tensor/test_gemm_bf16.cpp) runs wherever the CPU has AMX;
// on a software model of the tiles, tests/amx_emulation/ runs it wherever
// the CPU has AVX512-BF16.
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"

#if TOADSTOOL_BF16_KERNELS

#include <immintrin.h>

#include <cstdint>

#include "toadstool/kernels/cpu/amx_tile_config.h"
#include "toadstool/kernels/cpu/gemm_bf16_store.h"

#define TOADSTOOL_AMX_BF16 __attribute__((target("amx-tile,amx-bf16,avx512bf16")))

namespace toadstool::kernels::cpu {

namespace {

constexpr int64_t kMR = 32;
constexpr int64_t kTileK = 32;  // bfloat16 steps of k per A tile row (64 bytes)

// The configuration is per thread: set before a thread's first tile,
// released after its last.
TOADSTOOL_AMX_BF16 void configure_tiles() { _tile_loadconfig(&kAmxTileConfig); }

TOADSTOOL_AMX_BF16 void release_tiles() { _tile_release(); }

// The accumulators' four 16 x 16 tiles of a 32 x 32 float32 block at c
// (row stride ld floats): tmm0-3 as the table above places them.
TOADSTOOL_AMX_BF16 void load_accumulators(const float* c, int64_t ld) {
  const int64_t stride = ld * int64_t{sizeof(float)};
  _tile_loadd(0, c, stride);
  _tile_loadd(1, c + 16, stride);
  _tile_loadd(2, c + 16 * ld, stride);
  _tile_loadd(3, c + 16 * ld + 16, stride);
}
TOADSTOOL_AMX_BF16 void store_accumulators(float* c, int64_t ld) {
  const int64_t stride = ld * int64_t{sizeof(float)};
  _tile_stored(0, c, stride);
  _tile_stored(1, c + 16, stride);
  _tile_stored(2, c + 16 * ld, stride);
  _tile_stored(3, c + 16 * ld + 16, stride);
}

// A as rows (a_pair == 2), 32 of them a_row apart: packed and zero-padded,
// or in place when whole tiles. A float32 out with alpha 1 and beta 0 or 1
// and a whole 32 x 32 tile (attention's dP and its accumulations, a long
// K's float32 sums) is the accumulators' own: loaded into them when beta
// is 1, stored from them at the end, with no pass over a copy (the sums'
// order then starts from C, which the float32 additions' order allows).
TOADSTOOL_AMX_BF16 void amx_kernel(int64_t rows, int64_t kc, const uint16_t* a, int64_t lda,
                                   int64_t /*a_pair*/, const uint16_t* b, int64_t cols,
                                   const Bf16Out& out) {
  const bool direct = out.fp32 && out.alpha == 1.0f && (out.beta == 0.0f || out.beta == 1.0f) &&
                      rows == kMR && cols == kBf16NR;
  if (direct && out.beta == 1.0f) {
    load_accumulators(static_cast<const float*>(out.c), out.ldc);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  const int64_t a_stride = lda * int64_t{sizeof(uint16_t)};
  constexpr int64_t kBStride = 2 * kBf16NR * int64_t{sizeof(uint16_t)};  // one pair row
  for (int64_t k = 0; k < kc; k += kTileK) {
    // Pair row k / 2 of the panel starts k / 2 * 64 = k * 32 values in.
    const uint16_t* bk = b + k * kBf16NR;
    _tile_loadd(4, a + k, a_stride);
    _tile_loadd(5, a + 16 * lda + k, a_stride);
    _tile_loadd(6, bk, kBStride);
    _tile_loadd(7, bk + kBf16NR, kBStride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  if (direct) {
    store_accumulators(static_cast<float*>(out.c), out.ldc);
    return;
  }
  alignas(64) float c[kMR][kBf16NR];
  store_accumulators(&c[0][0], kBf16NR);
  const Bf16TileStore store(out, cols);
  for (int64_t i = 0; i < rows; ++i) {
    store.row(i, _mm512_load_ps(&c[i][0]), _mm512_load_ps(&c[i][16]));
  }
}

}  // namespace

const Bf16Tile& amx_bf16_tile() {
  // k padded to whole A tiles; A read as rows (the tiles read 32 whole rows).
  static const Bf16Tile tile{.name = "amx",
                             .mr = kMR,
                             .k_pad = kTileK,
                             .a_pairs = false,
                             .fetch_ahead = false,
                             .begin = configure_tiles,
                             .end = release_tiles,
                             .kernel = amx_kernel};
  return tile;
}

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
