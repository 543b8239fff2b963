#pragma once
// The pieces of the packed float32 GEMM (gemm_packed.cpp) that the direct
// convolution (conv.cpp) reuses: the SIMD vector, the register tile and its
// micro-kernel, and the packing of B panels and A panels. Internal to
// kernels/cpu/; every ISA build compiles its own copy.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

namespace toadstool::kernels::cpu::packed_gemm {

// One SIMD register of floats, as a GCC vector: the compiler picks the
// instructions (AVX-512, AVX or SSE) of the build's target.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kVectorRegisters = 32;
#elif defined(__AVX__)
constexpr int kLanes = 8;
constexpr int kVectorRegisters = 16;
#else
constexpr int kLanes = 4;
constexpr int kVectorRegisters = 16;
#endif
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof(Vec)); }

// The register tile: kMR rows by kNR = 2 vectors of columns. Its kMR * 2
// accumulators, the two B vectors and one broadcast A value fill the vector
// registers (14 x 32 floats with AVX-512's 32 registers).
constexpr int kVectorsPerRow = 2;
constexpr int64_t kNR = kVectorsPerRow * kLanes;
constexpr int64_t kMR = (kVectorRegisters - 4) / kVectorsPerRow;

// Cache blocks: the kKC x kNC panel of B (1 MB) stays in L2 while the tile
// rows of A (kMR x kKC, 14 KB) stay in L1.
constexpr int64_t kKC = 256;
constexpr int64_t kNC = 1024;

// One stage of transpose_block on the pair (low, high) = (row r, row r + H):
// lane l of the new low row takes low[l] if bit H of l is clear, else
// high[l ^ H]; the new high row takes the other two.
template <int H, size_t... L>
Vec stage_low_row(Vec low, Vec high, std::index_sequence<L...> /*lanes*/) {
  return __builtin_shufflevector(low, high, ((L & H) != 0 ? kLanes + (L ^ H) : L)...);
}
template <int H, size_t... L>
Vec stage_high_row(Vec low, Vec high, std::index_sequence<L...> /*lanes*/) {
  return __builtin_shufflevector(low, high, ((L & H) != 0 ? kLanes + L : (L ^ H))...);
}

// Swaps bit H of the row index with bit H of the lane index.
template <int H>
[[gnu::always_inline]] inline void transpose_stage(Vec (&rows)[kLanes]) {
  constexpr auto lanes = std::make_index_sequence<kLanes>();
#pragma GCC unroll 16
  for (int r = 0; r < kLanes; ++r) {
    if ((r & H) != 0) continue;
    const Vec low = rows[r], high = rows[r + H];
    rows[r] = stage_low_row<H>(low, high, lanes);
    rows[r + H] = stage_high_row<H>(low, high, lanes);
  }
}

// Transposes a kLanes x kLanes block held as kLanes vectors (rows), one
// stage per bit of the index.
[[gnu::always_inline]] inline void transpose_block(Vec (&rows)[kLanes]) {
  transpose_stage<1>(rows);
  transpose_stage<2>(rows);
  if constexpr (kLanes > 4) transpose_stage<4>(rows);
  if constexpr (kLanes > 8) transpose_stage<8>(rows);
}

// One kNR-wide panel of op(B) over kc steps of k:
//   out[k * kNR + j] = src[j * stride_j + k * stride_k]  for j < w,
//   out[k * kNR + j] = 0                                 for w <= j < kNR,
// so a partial panel at the matrix's edge multiplies as zeros.
inline void pack_panel(const float* src, int64_t stride_j, int64_t stride_k, int64_t w, int64_t kc,
                       float* out) {
  if (w < kNR) std::fill_n(out, kc * kNR, 0.0f);
  if (stride_j == 1) {  // B stored [K, N]: each k's w values are contiguous
    if (w == kNR) {     // whole vectors (a libc memcpy call per k costs ~10% of a small GEMM)
      for (int64_t k = 0; k < kc; ++k) {
#pragma GCC unroll 4
        for (int v = 0; v < kVectorsPerRow; ++v) {
          store(out + k * kNR + v * kLanes, load(src + k * stride_k + v * kLanes));
        }
      }
      return;
    }
    for (int64_t k = 0; k < kc; ++k) {
      std::memcpy(out + k * kNR, src + k * stride_k, w * sizeof(float));
    }
    return;
  }
  // B stored [N, K] (stride_k == 1): transpose kLanes x kLanes blocks.
  int64_t j = 0;
  if (stride_k == 1) {
    for (; j + kLanes <= w; j += kLanes) {
      int64_t k = 0;
      for (; k + kLanes <= kc; k += kLanes) {
        Vec block[kLanes];
#pragma GCC unroll 16
        for (int r = 0; r < kLanes; ++r) block[r] = load(src + (j + r) * stride_j + k);
        transpose_block(block);
#pragma GCC unroll 16
        for (int r = 0; r < kLanes; ++r) store(out + (k + r) * kNR + j, block[r]);
      }
      for (; k < kc; ++k) {
        for (int64_t jj = j; jj < j + kLanes; ++jj) out[k * kNR + jj] = src[jj * stride_j + k];
      }
    }
  }
  for (; j < w; ++j) {
    for (int64_t k = 0; k < kc; ++k) out[k * kNR + j] = src[j * stride_j + k * stride_k];
  }
}

// Starts fetching the C tile [kRows, kNR] at c; a k loop then hides the
// latency.
template <int kRows>
[[gnu::always_inline]] inline void prefetch_tile(float* c, int64_t ldc) {
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + kNR - 1, 1);
  }
}

// C tile [kRows, cols] (cols <= kNR, row stride ldc) = alpha * acc + beta *
// C tile, C not read when beta == 0.
template <int kRows>
[[gnu::always_inline]] inline void store_tile(const Vec (&acc)[kRows][kVectorsPerRow], float alpha,
                                              float beta, float* c, int64_t ldc, int64_t cols) {
  // A tile cut short on the right goes through a full one on the stack.
  const bool full = cols == kNR;
  float tile[kRows * kNR];
  float* out = full ? c : tile;
  const int64_t ld = full ? ldc : kNR;
  if (!full && beta != 0.0f) {
    for (int i = 0; i < kRows; ++i) std::memcpy(tile + i * kNR, c + i * ldc, cols * sizeof(float));
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerRow; ++v) {
      float* p = out + i * ld + v * kLanes;
      Vec r = alpha * acc[i][v];
      if (beta != 0.0f) r += beta * load(p);
      store(p, r);
    }
  }
  if (!full) {
    for (int i = 0; i < kRows; ++i) std::memcpy(c + i * ldc, tile + i * kNR, cols * sizeof(float));
  }
}

// One step of k: acc[i] += a[i * a_row] * the kNR values of B at b.
template <int kRows>
[[gnu::always_inline]] inline void rank1_update(Vec (&acc)[kRows][kVectorsPerRow], const float* a,
                                                int64_t a_row, const float* b) {
  Vec bv[kVectorsPerRow];
#pragma GCC unroll 4
  for (int v = 0; v < kVectorsPerRow; ++v) bv[v] = load(b + v * kLanes);
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    const float ai = a[i * a_row];
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerRow; ++v) acc[i][v] += ai * bv[v];
  }
}

// C tile [kRows, cols] (kRows <= kMR, cols <= kNR, row stride ldc) =
//   alpha * op(A)[kRows, kc] b_panel[kc, kNR] + beta * C tile,
// C not read when beta == 0. op(A) is read either from a packed panel,
// a[k * kMR + i], or (kARowMajor) straight from rows of A, a[i * lda + k].
template <bool kARowMajor, int kRows>
void micro_kernel(int64_t kc, const float* a, int64_t lda, const float* b, float alpha, float beta,
                  float* c, int64_t ldc, int64_t cols) {
  Vec acc[kRows][kVectorsPerRow] = {};
  prefetch_tile<kRows>(c, ldc);
  const int64_t a_row = kARowMajor ? lda : 1;
  const int64_t a_k = kARowMajor ? 1 : kMR;
  // (Unrolled by two: fewer loop-control and reload instructions between
  // the FMAs, a few % on most shapes.)
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k, a += a_k, b += kNR) rank1_update<kRows>(acc, a, a_row, b);
  store_tile<kRows>(acc, alpha, beta, c, ldc, cols);
}

// micro_kernel by its number of rows (index rows - 1), on a packed A panel
// (kPackedKernels) or on rows of A read in place (kInPlaceKernels): the
// last rows of a matrix use a shorter tile rather than multiply zeros.
using PackedKernel = void (*)(int64_t, const float*, int64_t, const float*, float, float, float*,
                              int64_t, int64_t);
template <bool kARowMajor, size_t... R>
constexpr std::array<PackedKernel, sizeof...(R)> kernels_by_rows(
    std::index_sequence<R...> /*rows*/) {
  return {&micro_kernel<kARowMajor, static_cast<int>(R) + 1>...};
}
constexpr auto kPackedKernels = kernels_by_rows<false>(std::make_index_sequence<kMR>());
constexpr auto kInPlaceKernels = kernels_by_rows<true>(std::make_index_sequence<kMR>());

// `rows` (<= kMR) rows of op(A) over kc steps as a zero-padded [kc, kMR]
// panel: out[k * kMR + i] = a[i * a_row + k * a_k]. `out` has kLanes floats
// of slack at the end.
inline void pack_a_panel(const float* a, int64_t a_row, int64_t a_k, int64_t rows, int64_t kc,
                         float* out) {
  if (rows < kMR) std::fill_n(out, kc * kMR, 0.0f);
  if (a_row == 1) {  // A stored [K, M]: each k's rows are contiguous
    for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * kMR, a + k * a_k, rows * sizeof(float));
    return;
  }
  int64_t k = 0;
  if constexpr (kMR <= kLanes) {
    // A stored [M, K]: transpose kLanes x kLanes blocks (rows >= kMR zero);
    // each k's store spills kLanes - kMR lanes into the next k's, which
    // overwrites them.
    if (rows == kMR && a_k == 1) {
      for (; k + kLanes <= kc; k += kLanes) {
        Vec block[kLanes] = {};
#pragma GCC unroll 16
        for (int r = 0; r < kMR; ++r) block[r] = load(a + r * a_row + k);
        transpose_block(block);
#pragma GCC unroll 16
        for (int r = 0; r < kLanes; ++r) store(out + (k + r) * kMR, block[r]);
      }
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t kk = k; kk < kc; ++kk) out[kk * kMR + i] = a[i * a_row + kk * a_k];
  }
}

}  // namespace toadstool::kernels::cpu::packed_gemm
