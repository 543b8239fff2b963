#pragma once
// The packed bfloat16 GEMM with float32 accumulation, shared by the
// AVX512-BF16 and the AMX micro-kernels (gemm_bf16_avx512.cpp,
// gemm_bf16_amx.cpp): cache blocking, packing and threads as in the float32
// packed GEMM (gemm_packed.cpp), with a tile supplied by the instruction set.
//
// Layouts both micro-kernels read:
//   B: kBf16NR-wide panels of k *pairs*, the VNNI layout: word (q, j) of a
//      panel holds op(B)[2q, j] in its low and op(B)[2q + 1, j] in its high
//      16 bits, a panel row of 32 words (128 bytes) per pair; pairs past K
//      and columns past N are zeros. AMX reads it as two 16-column tiles
//      (stride 128 bytes), VDPBF16PS as two vectors per pair.
//   A: the pair (op(A)[i, 2q], op(A)[i, 2q + 1]) as one 32-bit word at
//      a + i * a_row + q * a_pair (in bfloat16 units). AVX-512 reads A [M, K]
//      where it is stored (a_row = lda, a_pair = 2) and packs A [K, M] into
//      pair rows as B's (a_row = 2); AMX reads tiles of rows: A [M, K] where
//      it is stored when the block is whole tiles (a_row = lda), else packed
//      into zero-padded rows (a_row = k padded; a_pair = 2 either way).
// The code exists only in the build of the CPU kernels for AVX-512
// (cmake/toadstool_cpu_isas.cmake); the micro-kernels add their own
// instructions (avx512bf16, amx) per function, and run only where the CPU has
// them (gemm_bf16.cpp checks).
#include <cstdint>
#include <vector>

#include "toadstool/kernels/kernel_args.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define TOADSTOOL_BF16_KERNELS 1
#else
#define TOADSTOOL_BF16_KERNELS 0
#endif

namespace toadstool::kernels::cpu {

// Columns of a B panel (and of a micro-kernel's tile).
inline constexpr int64_t kBf16NR = 32;

// Where a micro-kernel writes its tile: out[i, j] = alpha * acc[i, j] +
// beta * out[i, j] (out not read when beta == 0), in bfloat16 (rounded to
// nearest even) or float32. `c` points at the tile's element (0, 0). A
// bfloat16 out may also take a fused Linear's epilogue, with the roundings
// of the separate pass (kernels/gemm_epilogue.h): out = relu(round(round(
// alpha acc + beta out) + bias[j])), bias (bfloat16, at the tile's column 0)
// and relu optional.
struct Bf16Out {
  void* c = nullptr;
  int64_t ldc = 0;
  bool fp32 = false;
  float alpha = 1, beta = 0;
  const uint16_t* bias = nullptr;
  bool relu = false;
};

// A tile of `rows` (<= Bf16Tile::mr) rows and `cols` (<= kBf16NR) columns:
// acc = op(A)[rows, kc] * b_panel[kc, cols] with A's pairs as above (with an
// odd kc the last "pair" holds op(A)[i, kc - 1] in its low 16 bits and is
// read as that value alone), then written through `out`.
using Bf16MicroKernel = void (*)(int64_t rows, int64_t kc, const uint16_t* a, int64_t a_row,
                                 int64_t a_pair, const uint16_t* b, int64_t cols,
                                 const Bf16Out& out);

// One instruction set's tile and its needs.
struct Bf16Tile {
  const char* name;
  int64_t mr;     // rows of a tile
  int64_t k_pad;  // packed blocks of k are zero-padded to a multiple of this
  bool a_pairs;   // reads A's pairs at any a_row, a_pair (else: packed rows)
  // The loop nest fetches operands ahead for it (measured faster on the
  // AVX-512 tile; on AMX a prefetch of A's next rows once measured slower:
  // docs/mixed_precision.md).
  bool fetch_ahead;
  void (*begin)();         // per thread, before its first tile (AMX: tile config); may be null
  void (*end)();           // per thread, after its last tile; may be null
  Bf16MicroKernel kernel;  // any rows in [1, mr]
};

#if TOADSTOOL_BF16_KERNELS
// The tiles, defined in gemm_bf16_avx512.cpp and gemm_bf16_amx.cpp.
const Bf16Tile& avx512_bf16_tile();
const Bf16Tile& amx_bf16_tile();

// call (bfloat16 A, B and C, any batch and strides, as GemmFn takes it) on
// the OpenMP team, with `tile`'s micro-kernel. The CPU must have its
// instructions. Returns whether it applied call.epilogue too (a bias and
// ReLU or none, K <= 512: in the micro-kernel's store); else the caller
// runs it as a pass over C.
bool gemm_bf16_packed(const GemmCall& call, const Bf16Tile& tile);

// op(B) [K, N] packed once for several gemm_bf16_serial products with it
// (attention's key and value tiles): K <= kBf16PackedMaxK and N <= 1024,
// one block of panels (std::invalid_argument otherwise). pack() refills it.
inline constexpr int64_t kBf16PackedMaxK = 512;
class Bf16PackedB {
 public:
  void pack(const Bf16Tile& tile, bool trans_b, int64_t K, int64_t N, const uint16_t* B,
            int64_t ldb);
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int64_t padded_k() const { return kcp_; }
  const uint16_t* panels() const { return panels_.data(); }

 private:
  std::vector<uint16_t> panels_;
  int64_t K_ = 0, N_ = 0, kcp_ = 0;
};

// One product on the calling thread, float32 C: C [M, N] = alpha op(A) b +
// beta C (C not read when beta == 0), A bfloat16 stored as GemmFn takes it
// (trans_a: stored [K, M]), B packed beforehand by the same tile's pack.
// For products inside a parallel region: attention's tiles
// (kernels/cpu/attention.cpp).
void gemm_bf16_serial(const Bf16Tile& tile, bool trans_a, int64_t M, float alpha, const uint16_t* A,
                      int64_t lda, const Bf16PackedB& b, float beta, float* C, int64_t ldc);

// VDPBF16PS throughput over FMA throughput (flops of each, one thread, best
// of a few short runs): the automatic choice's measurement (gemm_bf16.cpp).
double avx512_bf16_to_fma_rate();
#endif

}  // namespace toadstool::kernels::cpu
