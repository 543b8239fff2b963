#pragma once
// nvcuda::wmma for the warp emulator (../warp_emulator.h), 16 x 16 x 16
// only. An A or B fragment holds its whole tile in every lane; of an
// accumulator, each lane keeps eight elements in the layout of sm_80's
// mma.sync (lane l: rows l / 4 and l / 4 + 8, columns 2 (l % 4) + {0, 1}
// and those + 8), which it loads, accumulates and stores: the warp together
// writes the tile once, and another lane sees a stored value only after a
// __syncwarp, as on a GPU. (WMMA does not document its layout; the kernels
// must not depend on it. This one has a lane hold elements that a simple
// "lane, lane + 32, ..." walk of the tile gives to other lanes, so a
// missing __syncwarp between a store and such a walk shows.)
// Products accumulate in float, in k order. Each load and store checks what the CUDA
// documentation requires: a 256-bit aligned pointer and a leading
// dimension that is a multiple of 16 bytes.
#include <cstdint>
#include <type_traits>

#include "../warp_emulator.h"
#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "toadstool/kernels/half.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator has 16 x 16 x 16 only");
  float x[16][16];
};

namespace detail {

inline float to_float(__nv_bfloat16 v) { return toadstool::bfloat16_bits_to_float(v.x); }
inline float to_float(__half v) { return toadstool::half_bits_to_float(v.x); }
inline float to_float(float v) { return v; }

template <class T>
void check_access(const T* p, unsigned ld) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) emu::fail("wmma: pointer not 256-bit aligned");
  if (ld * sizeof(T) % 16 != 0) emu::fail("wmma: leading dimension not a multiple of 16 bytes");
}

// Element (r, c) of a tile at p, row- or column-major.
inline unsigned offset(int r, int c, unsigned ld, bool row_major) {
  return row_major ? r * ld + c : r + c * ld;
}

// fn(r, c) for the accumulator elements this lane keeps (the header says
// which).
template <class Fn>
void for_own_elements(const Fn& fn) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  for (int i = 0; i < 8; ++i) {
    fn(lane / 4 + 8 * (i / 2 % 2), 2 * (lane % 4) + i % 2 + 8 * (i / 4));
  }
}

}  // namespace detail

template <class Use, class T, class Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ld) {
  static_assert(std::is_same_v<Use, matrix_a> || std::is_same_v<Use, matrix_b>);
  detail::check_access(p, ld);
  constexpr bool kRowMajor = std::is_same_v<Layout, row_major>;
  for (int r = 0; r < 16; ++r) {
    for (int c = 0; c < 16; ++c)
      f.x[r][c] = detail::to_float(p[detail::offset(r, c, ld, kRowMajor)]);
  }
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p,
                             unsigned ld, layout_t layout) {
  detail::check_access(p, ld);
  detail::for_own_elements(
      [&](int r, int c) { f.x[r][c] = p[detail::offset(r, c, ld, layout == mem_row_major)]; });
}

inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f,
                              unsigned ld, layout_t layout) {
  detail::check_access(p, ld);
  detail::for_own_elements(
      [&](int r, int c) { p[detail::offset(r, c, ld, layout == mem_row_major)] = f.x[r][c]; });
}

template <class Use, class T, class Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, float value) {
  for (auto& row : f.x) {
    for (float& v : row) v = value;
  }
}

template <class TA, class LA, class TB, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d,
              const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
              const fragment<matrix_b, 16, 16, 16, TB, LB>& b,
              const fragment<accumulator, 16, 16, 16, float>& c) {
  detail::for_own_elements([&](int i, int j) {
    float s = c.x[i][j];
    for (int k = 0; k < 16; ++k) s += a.x[i][k] * b.x[k][j];
    d.x[i][j] = s;
  });
}

}  // namespace nvcuda::wmma
