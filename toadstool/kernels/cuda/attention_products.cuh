#pragma once
// The per-warp matrix products of the tiled attention kernels
// (attention_tiled_kernels.cuh), one set per element type with the same
// interface: bfloat16 / float16 on tensor cores (WMMA 16 x 16 x 16, float32
// accumulation), float32 on the CUDA cores (each lane a register block of
// the result). A warp owns 16 rows of a 64-query or 64-key tile; operand
// tiles live in shared memory as Stored<T> ([rows, D] at kLdOperand<T, D>),
// score tiles as float ([64, 64] at kLdScores), probability tiles as
// Stored<T> ([64, 64] at kLdProbs<T>).
//
//   warp_a_bt       out [16, 64] (float) = A [16, D] B [64, D]^T  (S = Q K^T, dP = dO V^T)
//   warp_accumulate acc [16, D] += A [16, 64] B [64, D], or A's transpose
//                   (O += P V, dQ += dS K; dV += (P z)^T dO, dK += dS^T Q)
//   Accumulator<T, D>: a warp's [16, D] float accumulator in registers, with
//                   zero, load_acc / store_acc (a float tile in shared
//                   memory) and store_rows (into an operand in global memory)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "toadstool/kernels/cuda/attention_shared.cuh"

namespace toadstool::kernels::cuda {

namespace {

constexpr int kRows = 64;  // queries per tile
constexpr int kCols = 64;  // keys per tile
constexpr int kWarps = kRows / 16;
constexpr int kTiledThreads = kWarps * 32;
static_assert(kRows == kCols, "the backward's causal start assumes square tiles");

template <class T>
constexpr bool kOnTensorCores = !std::is_same_v<T, float>;

// How a tile holds T: 16-bit types as their bits, float as itself.
template <class T>
using Stored = std::conditional_t<kOnTensorCores<T>, uint16_t, float>;

template <class T>
__device__ Stored<T> to_stored(float x) {
  if constexpr (kOnTensorCores<T>) {
    return T(x).bits;  // rounded to T, as the CPU's 16-bit path rounds P and dS
  } else {
    return x;
  }
}

template <class T>
__device__ const Stored<T>* stored(const T* p) {
  return reinterpret_cast<const Stored<T>*>(p);
}

// Leading dimensions, padded against bank conflicts. WMMA wants multiples
// of 16 bytes (every fragment origin is then 32-byte aligned, as it
// requires, since fragments start at multiples of 16 rows and 16 columns);
// the float products read float4s (16 bytes) and stagger the rows by 4
// banks.
template <class T, int D>
constexpr int kLdOperand = kOnTensorCores<T> ? D + 8 : D + 4;  // [rows, D]: q, k, v, dO
template <int D>
constexpr int kLdAcc = D + 4;         // a [rows, D] float tile (the forward's O)
constexpr int kLdScores = kCols + 4;  // a [64, 64] float tile (S, dP)
template <class T>
constexpr int kLdProbs = kOnTensorCores<T> ? kCols + 8 : kCols + 4;  // [64, 64]: P, dS

// ---- bfloat16 / float16: WMMA ----

namespace wmma = nvcuda::wmma;

// The CUDA type WMMA multiplies for ours (the same 16 bits).
template <class T>
struct WmmaType;
template <>
struct WmmaType<BFloat16> {
  using type = __nv_bfloat16;
};
template <>
struct WmmaType<Half> {
  using type = __half;
};

using Fragment = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
template <class T, class Layout>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, typename WmmaType<T>::type, Layout>;
template <class T, class Layout>
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, typename WmmaType<T>::type, Layout>;

template <class T>
__device__ const typename WmmaType<T>::type* wmma_ptr(const uint16_t* p) {
  return reinterpret_cast<const typename WmmaType<T>::type*>(p);
}

// ---- float32: a register block per lane ----
//
// Lane l owns rows 4 (l / 8) .. + 3 of the warp's 16. In a [16, D]
// accumulator it owns, of each 32 columns, the 4 starting at 4 (l % 8)
// (float4 reads of B's rows, the 8 lanes of a row group covering all 32
// banks); in warp_a_bt's [16, 64] scores, the 8 columns l % 8 + 8 c.

__device__ inline int row_group() { return threadIdx.x % 32 / 8; }
__device__ inline int column_group() { return threadIdx.x % 8; }

__device__ inline float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }

__device__ inline float dot4(float acc, const float4& x, const float4& y) {
  acc += x.x * y.x;
  acc += x.y * y.y;
  acc += x.z * y.z;
  acc += x.w * y.w;
  return acc;
}

// ---- the accumulator ----

template <class T, int D, bool = kOnTensorCores<T>>
struct Accumulator;

template <class T, int D>
struct Accumulator<T, D, true> {
  Fragment blocks[D / 16];  // the 16 x 16 blocks of columns 16 n .. + 15
};

template <class T, int D>
struct Accumulator<T, D, false> {
  float v[4][D / 8];  // v[r][4 g + c]: row 4 row_group() + r, column 32 g + 4 column_group() + c
};

template <class T, int D>
__device__ void zero(Accumulator<T, D>& acc) {
  if constexpr (kOnTensorCores<T>) {
#pragma unroll
    for (int n = 0; n < D / 16; ++n) wmma::fill_fragment(acc.blocks[n], 0.0f);
  } else {
#pragma unroll
    for (auto& row : acc.v) {
#pragma unroll
      for (float& x : row) x = 0.0f;
    }
  }
}

// acc = the warp's 16 rows of a float tile (tile at the warp's first row).
template <class T, int D>
__device__ void load_acc(Accumulator<T, D>& acc, const float* tile, int ld) {
  if constexpr (kOnTensorCores<T>) {
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::load_matrix_sync(acc.blocks[n], tile + n * 16, ld, wmma::mem_row_major);
    }
  } else {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
#pragma unroll
      for (int g = 0; g < D / 32; ++g) {
        const float4 x = load4(tile + (4 * row_group() + r) * ld + 32 * g + 4 * column_group());
        acc.v[r][4 * g] = x.x;
        acc.v[r][4 * g + 1] = x.y;
        acc.v[r][4 * g + 2] = x.z;
        acc.v[r][4 * g + 3] = x.w;
      }
    }
  }
}

template <class T, int D>
__device__ void store_acc(const Accumulator<T, D>& acc, float* tile, int ld) {
  if constexpr (kOnTensorCores<T>) {
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::store_matrix_sync(tile + n * 16, acc.blocks[n], ld, wmma::mem_row_major);
    }
  } else {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
#pragma unroll
      for (int g = 0; g < D / 32; ++g) {
        *reinterpret_cast<float4*>(tile + (4 * row_group() + r) * ld + 32 * g +
                                   4 * column_group()) =
            make_float4(acc.v[r][4 * g], acc.v[r][4 * g + 1], acc.v[r][4 * g + 2],
                        acc.v[r][4 * g + 3]);
      }
    }
  }
}

// ---- the products ----

// out [this warp's 16 rows, 64] (float, kLdScores) = A [16 rows, D] B[64, D]^T,
// A's rows at a, B's at b (kLdOperand).
template <class T, int D>
__device__ void warp_a_bt(const Stored<T>* a, const Stored<T>* b, float* out) {
  constexpr int ld = kLdOperand<T, D>;
  if constexpr (kOnTensorCores<T>) {
    FragA<T, wmma::row_major> fa[D / 16];
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      wmma::load_matrix_sync(fa[kk], wmma_ptr<T>(a + kk * 16), ld);
    }
#pragma unroll
    for (int n = 0; n < kCols / 16; ++n) {
      Fragment acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        // B^T's 16 x 16 block (kk, n) is column-major in B's row-major rows.
        FragB<T, wmma::col_major> fb;
        wmma::load_matrix_sync(fb, wmma_ptr<T>(b + n * 16 * ld + kk * 16), ld);
        wmma::mma_sync(acc, fa[kk], fb, acc);
      }
      wmma::store_matrix_sync(out + n * 16, acc, kLdScores, wmma::mem_row_major);
    }
  } else {
    const int r0 = 4 * row_group(), c0 = column_group();
    float acc[4][8] = {};
    for (int k = 0; k < D; k += 4) {
      float4 x[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) x[r] = load4(a + (r0 + r) * ld + k);
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const float4 y = load4(b + (c0 + 8 * c) * ld + k);
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[r][c] = dot4(acc[r][c], x[r], y);
      }
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
#pragma unroll
      for (int c = 0; c < 8; ++c) out[(r0 + r) * kLdScores + c0 + 8 * c] = acc[r][c];
    }
  }
}

// acc [16 rows, D] += A [16 rows, 64] B [64, D], A from a [64, 64]
// probability tile (kLdProbs) and B's rows at b (kLdOperand). kTransposeA:
// A is the tile's transpose, this warp's 16 *columns* of it (P^T dO, dS^T
// Q); else this warp's 16 rows (P V, dS K). `a` is at the warp's first row
// (or column).
template <class T, int D, bool kTransposeA>
__device__ void warp_accumulate(Accumulator<T, D>& acc, const Stored<T>* a, const Stored<T>* b) {
  constexpr int lda = kLdProbs<T>, ldb = kLdOperand<T, D>;
  if constexpr (kOnTensorCores<T>) {
    using LayoutA = std::conditional_t<kTransposeA, wmma::col_major, wmma::row_major>;
#pragma unroll
    for (int kk = 0; kk < kCols / 16; ++kk) {
      FragA<T, LayoutA> fa;
      const uint16_t* a_block = kTransposeA ? a + kk * 16 * lda : a + kk * 16;
      wmma::load_matrix_sync(fa, wmma_ptr<T>(a_block), lda);
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
        FragB<T, wmma::row_major> fb;
        wmma::load_matrix_sync(fb, wmma_ptr<T>(b + kk * 16 * ldb + n * 16), ldb);
        wmma::mma_sync(acc.blocks[n], fa, fb, acc.blocks[n]);
      }
    }
  } else {
    const int r0 = 4 * row_group(), c0 = 4 * column_group();
    for (int k = 0; k < kCols; k += 4) {
      // x[r][kk] = A (r0 + r, k + kk): float4s along A's rows, or, for the
      // transpose, along the tile's rows (A's columns).
      float x[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float4 f =
            kTransposeA ? load4(a + (k + i) * lda + r0) : load4(a + (r0 + i) * lda + k);
        const float values[4] = {f.x, f.y, f.z, f.w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if constexpr (kTransposeA) {
            x[j][i] = values[j];
          } else {
            x[i][j] = values[j];
          }
        }
      }
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
        for (int g = 0; g < D / 32; ++g) {
          const float4 y = load4(b + (k + kk) * ldb + 32 * g + c0);
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            acc.v[r][4 * g] += x[r][kk] * y.x;
            acc.v[r][4 * g + 1] += x[r][kk] * y.y;
            acc.v[r][4 * g + 2] += x[r][kk] * y.z;
            acc.v[r][4 * g + 3] += x[r][kk] * y.w;
          }
        }
      }
    }
  }
}

// Rounds factor * acc (this warp's 16 rows, first row `row0` of the
// operand) into dst's rows (row stride `row`), those below `count` and the
// columns below `cols`. WMMA's register layout is unknown, so its blocks go
// through `stage` ([16, 16] float at kLdScores, this warp's alone) one at a
// time; the float accumulator is written from its registers.
template <class T, int D>
__device__ void store_rows(const Accumulator<T, D>& acc, float* stage, T* dst, int64_t row,
                           int64_t row0, int64_t count, int64_t cols, float factor) {
  if constexpr (kOnTensorCores<T>) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      if (n * 16 >= cols) break;
      __syncwarp();
      wmma::store_matrix_sync(stage, acc.blocks[n], kLdScores, wmma::mem_row_major);
      __syncwarp();
      for (int at = lane; at < 256; at += 32) {
        const int r = at / 16, c = at % 16;
        const int64_t g = row0 + r, e = n * 16 + c;
        if (g < count && e < cols) dst[g * row + e] = T(stage[r * kLdScores + c] * factor);
      }
    }
  } else {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int64_t g = row0 + 4 * row_group() + r;
      if (g >= count) continue;
#pragma unroll
      for (int col = 0; col < D / 8; ++col) {
        const int64_t e = 32 * (col / 4) + 4 * column_group() + col % 4;
        if (e < cols) dst[g * row + e] = acc.v[r][col] * factor;
      }
    }
  }
}

}  // namespace

}  // namespace toadstool::kernels::cuda
