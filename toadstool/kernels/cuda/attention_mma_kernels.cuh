// attention_forward / attention_backward for bfloat16 and float16 calls
// (autocast) on tensor cores: FlashAttention-2's tiling (Dao 2023) with
// WMMA 16 x 16 x 16 products, 16-bit inputs and float32 accumulation. The
// row math is the CPU kernel's and the fixed-order kernel's
// (kernels/attention_math.h, attention.cu): online softmax over key tiles,
// lse = m + log l saved for the backward, a fully masked row gives out = 0
// and lse = +inf, the dropout keep bits drawn from Philox at the score's
// flat index. As on the CPU's bfloat16 path, the probabilities and dS are
// rounded to the 16-bit type before they are multiplied, and each finished
// output or gradient row is rounded once.
//
// Tiles: a block is 4 warps; a tile is 64 queries x 64 keys, each warp
// owning 16 query rows of the score tile. Head dims E and Ev are zero-padded
// to one D in {32, 64, 128} (a template parameter: the accumulators then
// live in registers). Every tile passes through shared memory, where the
// element positions are known (a WMMA accumulator's layout in registers is
// not), so the per-element steps (scale, mask, causal, softmax, dropout)
// run there.
//
//   forward, block per (head, query tile): S = Q K^T per key tile; softmax
//     row state m, l in shared memory; O (float, shared) rescaled, += P V.
//   backward: D = rowsum(dO * O); block per (head, key tile): dV += P^T dO,
//     dK += dS^T Q over the query tiles; block per (head, query tile):
//     dQ += dS K over the key tiles (S and dP computed twice, so no atomics:
//     the same bits every run).
//
// The kernels and device functions only, in an unnamed namespace: the
// launches and entries are attention_mma.cu's, and the warp-emulation test
// (tests/cuda_emulation/) runs these same kernels on the CPU.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>
#include <type_traits>

#include "toadstool/kernels/cuda/attention_shared.cuh"
#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cuda {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kRows = 64;  // queries per tile
constexpr int kCols = 64;  // keys per tile
constexpr int kWarps = kRows / 16;
constexpr int kMmaThreads = kWarps * 32;
static_assert(kRows == kCols, "the backward's causal start assumes square tiles");

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

using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
template <class T, class Layout>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, typename WmmaType<T>::type, Layout>;
template <class T, class Layout>
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, typename WmmaType<T>::type, Layout>;

// Leading dimensions of the shared tiles, padded against bank conflicts
// (WMMA wants multiples of 16 bytes; every fragment origin is then 32-byte
// aligned, as it requires, since fragments start at multiples of 16 rows
// and 16 columns).
template <int D>
constexpr int kLd16 = D + 8;  // a [rows, D] tile of 16-bit values (q, k, v, dO)
template <int D>
constexpr int kLdAcc = D + 4;         // a [rows, D] float tile (the forward's O)
constexpr int kLdScores = kCols + 4;  // a [64, 64] float tile (S, dP)
constexpr int kLdProbs = kCols + 8;   // a [64, 64] 16-bit tile (P, dS)

// Shared memory carved into tiles, each start a multiple of 128 bytes from
// the first 128-byte boundary of the block's dynamic shared memory (CUDA
// promises that memory 16-byte alignment only). The host sizes a launch by
// carving from a null base (offsets only): used() counts the 128 bytes the
// rounding may take.
class Carve {
 public:
  __host__ __device__ explicit Carve(unsigned char* base)
      : base_(base == nullptr ? nullptr
                              : reinterpret_cast<unsigned char*>(
                                    (reinterpret_cast<uintptr_t>(base) + 127) / 128 * 128)) {}
  template <class U>
  __host__ __device__ U* take(int count) {
    U* p = base_ != nullptr ? reinterpret_cast<U*>(base_ + used_) : nullptr;
    used_ += (static_cast<size_t>(count) * sizeof(U) + 127) / 128 * 128;
    return p;
  }
  __host__ __device__ size_t used() const { return used_ + 128; }

 private:
  unsigned char* base_;
  size_t used_ = 0;
};

// The forward's tiles: q, k, v (16-bit bits, [64, D]), the scores S and
// probabilities P of a key tile, the output accumulator O, and the softmax
// state of each query row.
template <int D>
struct ForwardTiles {
  uint16_t *q, *k, *v;
  float* s;
  uint16_t* p;
  float* o;
  float *m, *l, *rescale;
  size_t bytes;
  __host__ __device__ explicit ForwardTiles(Carve c) {
    q = c.take<uint16_t>(kRows * kLd16<D>);
    k = c.take<uint16_t>(kCols * kLd16<D>);
    v = c.take<uint16_t>(kCols * kLd16<D>);
    s = c.take<float>(kRows * kLdScores);
    p = c.take<uint16_t>(kRows * kLdProbs);
    o = c.take<float>(kRows * kLdAcc<D>);
    m = c.take<float>(kRows);
    l = c.take<float>(kRows);
    rescale = c.take<float>(kRows);
    bytes = c.used();
  }
};

// Both backward kernels' tiles: q, dO and the row values (lse, D) of a
// query tile; k and v of a key tile; S and dP in float; dS (and for dK /
// dV, P z) in 16 bits.
template <int D>
struct BackwardTiles {
  uint16_t *q, *dout, *k, *v;
  float *s, *dp;
  uint16_t *p_kept, *ds;
  float *lse, *d;
  size_t bytes;
  __host__ __device__ explicit BackwardTiles(Carve c) {
    q = c.take<uint16_t>(kRows * kLd16<D>);
    dout = c.take<uint16_t>(kRows * kLd16<D>);
    k = c.take<uint16_t>(kCols * kLd16<D>);
    v = c.take<uint16_t>(kCols * kLd16<D>);
    s = c.take<float>(kRows * kLdScores);
    dp = c.take<float>(kRows * kLdScores);
    p_kept = c.take<uint16_t>(kRows * kLdProbs);
    ds = c.take<uint16_t>(kRows * kLdProbs);
    lse = c.take<float>(kRows);
    d = c.take<float>(kRows);
    bytes = c.used();
  }
};

template <class Tiles>
size_t tiles_bytes() {
  return Tiles(Carve(nullptr)).bytes;
}

template <class T>
__device__ uint16_t bits_of(float x) {
  return T(x).bits;
}

// Rows [first, first + tile_rows) of an operand (row stride `row`, elements
// contiguous) into a [tile_rows, D] shared tile; zero past `count` rows and
// `cols` columns. Consecutive threads read consecutive elements of a row.
template <int D, int kTileRows>
__device__ void load_tile(uint16_t* tile, const uint16_t* src, int64_t row, int64_t first,
                          int64_t count, int64_t cols) {
  for (int at = threadIdx.x; at < kTileRows * D; at += blockDim.x) {
    const int r = at / D, c = at % D;
    const int64_t g = first + r;
    tile[r * kLd16<D> + c] = g < count && c < cols ? src[g * row + c] : uint16_t{0};
  }
}

template <class T>
__device__ const uint16_t* bits(const T* p) {
  return reinterpret_cast<const uint16_t*>(p);
}

// out [this warp's 16 rows, 64] (float, kLdScores) = A [16 rows, D] B[64, D]^T,
// A's rows at a (kLd16<D>), B's at b: S = Q K^T and dP = dO V^T.
template <class T, int D>
__device__ void warp_a_bt(const uint16_t* a, const uint16_t* b, float* out) {
  using W = typename WmmaType<T>::type;
  FragA<T, wmma::row_major> fa[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    wmma::load_matrix_sync(fa[kk], reinterpret_cast<const W*>(a + kk * 16), kLd16<D>);
  }
#pragma unroll
  for (int n = 0; n < kCols / 16; ++n) {
    Acc acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      // B^T's 16 x 16 block (kk, n) is column-major in B's row-major rows.
      FragB<T, wmma::col_major> fb;
      wmma::load_matrix_sync(fb, reinterpret_cast<const W*>(b + n * 16 * kLd16<D> + kk * 16),
                             kLd16<D>);
      wmma::mma_sync(acc, fa[kk], fb, acc);
    }
    wmma::store_matrix_sync(out + n * 16, acc, kLdScores, wmma::mem_row_major);
  }
}

// acc [16 rows, D] += A [16 rows, 64] B [64, D], A from a 16-bit [64, 64]
// tile (kLdProbs) and B's rows at b (kLd16<D>). kTransposeA: A is
// the tile's transpose, this warp's 16 *columns* of it (P^T dO, dS^T Q);
// else this warp's 16 rows (P V, dS K). `a` is at the warp's first row
// (or column).
template <class T, int D, bool kTransposeA>
__device__ void warp_accumulate(Acc (&acc)[D / 16], const uint16_t* a, const uint16_t* b) {
  using W = typename WmmaType<T>::type;
  using LayoutA = std::conditional_t<kTransposeA, wmma::col_major, wmma::row_major>;
#pragma unroll
  for (int kk = 0; kk < kCols / 16; ++kk) {
    FragA<T, LayoutA> fa;
    const uint16_t* a_block = kTransposeA ? a + kk * 16 * kLdProbs : a + kk * 16;
    wmma::load_matrix_sync(fa, reinterpret_cast<const W*>(a_block), kLdProbs);
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      FragB<T, wmma::row_major> fb;
      wmma::load_matrix_sync(fb, reinterpret_cast<const W*>(b + kk * 16 * kLd16<D> + n * 16),
                             kLd16<D>);
      wmma::mma_sync(acc[n], fa, fb, acc[n]);
    }
  }
}

template <int D>
__device__ void zero(Acc (&acc)[D / 16]) {
#pragma unroll
  for (int n = 0; n < D / 16; ++n) wmma::fill_fragment(acc[n], 0.0f);
}

// Rounds factor * acc (this warp's 16 rows, first row `row0` of the
// operand) into dst's rows (row stride `row`), those below `count` and the
// columns below `cols`, one 16 x 16 block at a time through `stage`
// ([16, 16] float at kLdScores, this warp's alone).
template <class T, int D>
__device__ void store_rows(Acc (&acc)[D / 16], float* stage, T* dst, int64_t row, int64_t row0,
                           int64_t count, int64_t cols, float factor) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    if (n * 16 >= cols) break;
    __syncwarp();
    wmma::store_matrix_sync(stage, acc[n], kLdScores, wmma::mem_row_major);
    __syncwarp();
    for (int at = lane; at < 256; at += 32) {
      const int r = at / 16, c = at % 16;
      const int64_t g = row0 + r, e = n * 16 + c;
      if (g < count && e < cols) dst[g * row + e] = T(stage[r * kLdScores + c] * factor);
    }
  }
}

// The additive mask of head h (float32 in a 16-bit call), or null.
template <class T>
__device__ const float* head_mask(const AttentionArgs<T>& a, int64_t h) {
  return a.mask != nullptr ? reinterpret_cast<const float*>(a.mask) + a.head_offset(a.mask_heads, h)
                           : nullptr;
}

// Score (i, j) from its product q_i . k_j: scale q.k + mask, -inf where
// causal hides the key or (i, j) is padding past L or S.
template <class T>
__device__ float tile_score(const AttentionArgs<T>& a, const float* mask, float dot, int64_t i,
                            int64_t j) {
  if (i >= a.L || j >= a.S || (a.causal && j > i)) return kNegInf<float>;
  float s = static_cast<float>(a.scale) * dot;
  if (mask != nullptr) s += mask[i * a.mask_row + j * a.mask_col];
  return s;
}

__device__ float warp_max(float x) {
#pragma unroll
  for (int s = 16; s > 0; s /= 2) x = max_ignoring_nan(x, __shfl_xor_sync(0xffffffffu, x, s));
  return x;
}
// A butterfly: every lane ends with the same bits (x + y == y + x).
__device__ float warp_sum(float x) {
#pragma unroll
  for (int s = 16; s > 0; s /= 2) x += __shfl_xor_sync(0xffffffffu, x, s);
  return x;
}

// bfloat16 WMMA needs sm_80: compiled for an older GPU (a user's
// CMAKE_CUDA_ARCHITECTURES), each kernel below is a trap, and
// attention_mma_takes sends no call to such a device.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#define TS_ATTENTION_MMA_UNSUPPORTED 1
#else
#define TS_ATTENTION_MMA_UNSUPPORTED 0
#endif

// ---- forward: block per (head, 64-query tile) ----

template <class T, int D>
__global__ void __launch_bounds__(kMmaThreads)
    mma_forward(AttentionArgs<T> a, Dropout dropout, T* out, float* lse) {
#if TS_ATTENTION_MMA_UNSUPPORTED
  __trap();
#else
  extern __shared__ __align__(16) unsigned char shared[];
  const ForwardTiles<D> t{Carve(shared)};
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float keep_scale = 1.0f / static_cast<float>(1 - a.dropout_p);
  const int64_t tiles = (a.L + kRows - 1) / kRows;
  for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
    const int64_t h = item / tiles, i0 = item % tiles * kRows;
    const float* mask = head_mask(a, h);
    __syncthreads();  // the previous item is done with every tile
    load_tile<D, kRows>(t.q, bits(a.q + a.head_offset(a.q_heads, h)), a.q_row, i0, a.L, a.E);
    for (int at = threadIdx.x; at < kRows * D; at += blockDim.x) {
      t.o[at / D * kLdAcc<D> + at % D] = 0.0f;
    }
    if (threadIdx.x < kRows) {
      t.m[threadIdx.x] = kNegInf<float>;
      t.l[threadIdx.x] = 0.0f;
    }
    const int64_t last_query = std::min<int64_t>(i0 + kRows, a.L) - 1;
    // Causal: key tiles past the tile's last query hold only hidden keys.
    for (int64_t j0 = 0; j0 < a.S && (!a.causal || j0 <= last_query); j0 += kCols) {
      __syncthreads();  // k, v of the previous key tile are no longer read
      load_tile<D, kCols>(t.k, bits(a.k + a.head_offset(a.k_heads, h)), a.k_row, j0, a.S, a.E);
      load_tile<D, kCols>(t.v, bits(a.v + a.head_offset(a.v_heads, h)), a.v_row, j0, a.S, a.Ev);
      __syncthreads();
      const int row0 = warp * 16;
      warp_a_bt<T, D>(t.q + row0 * kLd16<D>, t.k, t.s + row0 * kLdScores);
      __syncwarp();
      // The online softmax of the warp's rows, one row at a time, a lane
      // per two columns; every lane computes the row's new m and l alike.
      for (int r = 0; r < 16; ++r) {
        const int row = row0 + r;
        const int64_t i = i0 + row;
        float s[2], e[2] = {0.0f, 0.0f};
        float tile_max = kNegInf<float>;
        for (int half = 0; half < 2; ++half) {
          const int c = lane + 32 * half;
          s[half] = tile_score(a, mask, t.s[row * kLdScores + c], i, j0 + c);
          tile_max = max_ignoring_nan(tile_max, s[half]);
        }
        // Seeded with -inf, not a score: a NaN would win the butterfly.
        tile_max = warp_max(tile_max);
        const float m_old = t.m[row], l_old = t.l[row];
        const float m_new = max_ignoring_nan(m_old, tile_max);
        float rescale = 1.0f, l_new = l_old;
        if (m_new != kNegInf<float>) {  // else every key so far is masked: nothing to add
          rescale = online_softmax_rescale(m_old, m_new);
          for (int half = 0; half < 2; ++half) e[half] = vexp_nonpositive(s[half] - m_new);
          l_new = l_old * rescale + warp_sum(e[0] + e[1]);
          if (dropout.active) {
            for (int half = 0; half < 2; ++half) {
              const int64_t j = j0 + lane + 32 * half;
              if (j < a.S) e[half] *= dropout.scale(flat_index(h, i, j, a.L, a.S), keep_scale);
            }
          }
        }
        for (int half = 0; half < 2; ++half) {
          t.p[row * kLdProbs + lane + 32 * half] = bits_of<T>(e[half]);
        }
        __syncwarp();  // every lane has read m and l before lane 0 replaces them
        if (lane == 0) {
          t.m[row] = m_new;  // -inf only while m_old is
          t.l[row] = l_new;
          t.rescale[row] = rescale;
        }
      }
      __syncwarp();
      for (int at = lane; at < 16 * D; at += 32) {
        const int row = row0 + at / D;
        t.o[row * kLdAcc<D> + at % D] *= t.rescale[row];
      }
      __syncwarp();
      Acc acc[D / 16];
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
        wmma::load_matrix_sync(acc[n], t.o + row0 * kLdAcc<D> + n * 16, kLdAcc<D>,
                               wmma::mem_row_major);
      }
      warp_accumulate<T, D, false>(acc, t.p + row0 * kLdProbs, t.v);
#pragma unroll
      for (int n = 0; n < D / 16; ++n) {
        wmma::store_matrix_sync(t.o + row0 * kLdAcc<D> + n * 16, acc[n], kLdAcc<D>,
                                wmma::mem_row_major);
      }
    }
    __syncthreads();  // every warp's O rows, m and l are final
    T* o = out + a.head_offset(a.out_heads, h);
    for (int at = threadIdx.x; at < kRows * D; at += blockDim.x) {
      const int row = at / D, e = at % D;
      const int64_t i = i0 + row;
      if (i >= a.L || e >= a.Ev) continue;
      const float l = t.l[row];
      const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
      o[i * a.out_row + e] = T(t.o[row * kLdAcc<D> + e] * inv_l);
    }
    if (threadIdx.x < kRows && i0 + threadIdx.x < a.L) {
      lse[h * a.L + i0 + threadIdx.x] = attention_lse(t.m[threadIdx.x], t.l[threadIdx.x]);
    }
  }
#endif
}

// ---- backward ----

// D [heads, L] = rowsum(grad_out * out), in float: one thread per row.
template <class T>
__global__ void mma_row_dots(AttentionArgs<T> a, const T* grad_out, const T* out, float* d) {
  for (int64_t row = first_index(); row < a.heads * a.L; row += index_step()) {
    const int64_t at = a.head_offset(a.out_heads, row / a.L) + (row % a.L) * a.out_row;
    float sum = 0.0f;
    for (int64_t e = 0; e < a.Ev; ++e) sum += float(grad_out[at + e]) * float(out[at + e]);
    d[row] = sum;
  }
}

// For the tile of queries [i0, i0 + 64) and keys [j0, j0 + 64) of head h,
// with t.q, t.dout, t.k, t.v, t.lse and t.d loaded: this warp's 16 rows of
// dS = P (z dP - D) into t.ds and, with kKept, of P z into t.p_kept.
template <class T, int D, bool kKept>
__device__ void score_grads(const AttentionArgs<T>& a, const BackwardTiles<D>& t,
                            const Dropout& dropout, const float* mask, int64_t h, int64_t i0,
                            int64_t j0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row0 = warp * 16;
  warp_a_bt<T, D>(t.q + row0 * kLd16<D>, t.k, t.s + row0 * kLdScores);
  warp_a_bt<T, D>(t.dout + row0 * kLd16<D>, t.v, t.dp + row0 * kLdScores);
  __syncwarp();
  const float keep_scale = 1.0f / static_cast<float>(1 - a.dropout_p);
  for (int at = lane; at < 16 * kCols; at += 32) {
    const int row = row0 + at / kCols, c = at % kCols;
    const int64_t i = i0 + row, j = j0 + c;
    const float s = tile_score(a, mask, t.s[row * kLdScores + c], i, j);
    float p = 0.0f, ds = 0.0f;
    if (s != kNegInf<float>) {
      p = vexp_nonpositive(s - t.lse[row]);
      float dp = t.dp[row * kLdScores + c];
      if (dropout.active) {
        const float z = dropout.scale(flat_index(h, i, j, a.L, a.S), keep_scale);
        dp *= z;
        if (kKept) t.p_kept[row * kLdProbs + c] = bits_of<T>(p * z);
      } else if (kKept) {
        t.p_kept[row * kLdProbs + c] = bits_of<T>(p);
      }
      ds = p * (dp - t.d[row]);
    } else if (kKept) {
      t.p_kept[row * kLdProbs + c] = 0;
    }
    t.ds[row * kLdProbs + c] = bits_of<T>(ds);
  }
}

// The query rows [i0, i0 + 64) of head h: q, grad_out, lse and D.
template <class T, int D>
__device__ void load_query_tile(const AttentionArgs<T>& a, const BackwardTiles<D>& t,
                                const T* grad_out, const float* lse, const float* d, int64_t h,
                                int64_t i0) {
  load_tile<D, kRows>(t.q, bits(a.q + a.head_offset(a.q_heads, h)), a.q_row, i0, a.L, a.E);
  load_tile<D, kRows>(t.dout, bits(grad_out + a.head_offset(a.out_heads, h)), a.out_row, i0, a.L,
                      a.Ev);
  for (int r = threadIdx.x; r < kRows; r += blockDim.x) {
    const int64_t i = i0 + r;
    t.lse[r] = i < a.L ? lse[h * a.L + i] : std::numeric_limits<float>::infinity();
    t.d[r] = i < a.L ? d[h * a.L + i] : 0.0f;
  }
}

template <class T, int D>
__device__ void load_key_tile(const AttentionArgs<T>& a, const BackwardTiles<D>& t, int64_t h,
                              int64_t j0) {
  load_tile<D, kCols>(t.k, bits(a.k + a.head_offset(a.k_heads, h)), a.k_row, j0, a.S, a.E);
  load_tile<D, kCols>(t.v, bits(a.v + a.head_offset(a.v_heads, h)), a.v_row, j0, a.S, a.Ev);
}

// grad_k and grad_v of the keys [j0, j0 + 64): block per (head, key tile);
// warp w accumulates keys j0 + 16 w .. + 15 over every query tile.
template <class T, int D>
__global__ void __launch_bounds__(kMmaThreads)
    mma_grad_kv(AttentionArgs<T> a, Dropout dropout, const float* lse, const T* grad_out,
                const float* d, T* grad_k, T* grad_v) {
#if TS_ATTENTION_MMA_UNSUPPORTED
  __trap();
#else
  extern __shared__ __align__(16) unsigned char shared[];
  const BackwardTiles<D> t{Carve(shared)};
  const int warp = threadIdx.x / 32;
  const int64_t tiles = (a.S + kCols - 1) / kCols;
  for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
    const int64_t h = item / tiles, j0 = item % tiles * kCols;
    const float* mask = head_mask(a, h);
    __syncthreads();
    load_key_tile(a, t, h, j0);
    Acc dk[D / 16], dv[D / 16];
    zero<D>(dk);
    zero<D>(dv);
    // Causal: the queries before key j0's tile do not see it.
    for (int64_t i0 = a.causal ? j0 / kRows * kRows : 0; i0 < a.L; i0 += kRows) {
      __syncthreads();  // the previous query tile's q, dO, P z and dS are no longer read
      load_query_tile(a, t, grad_out, lse, d, h, i0);
      __syncthreads();
      score_grads<T, D, true>(a, t, dropout, mask, h, i0, j0);
      __syncthreads();  // dV and dK sum over every warp's query rows
      warp_accumulate<T, D, true>(dv, t.p_kept + warp * 16, t.dout);
      warp_accumulate<T, D, true>(dk, t.ds + warp * 16, t.q);
    }
    // This warp's rows of t.s were last touched by this warp.
    float* stage = t.s + warp * 16 * kLdScores;
    const int64_t key0 = j0 + warp * 16;
    store_rows<T, D>(dk, stage, grad_k + a.head_offset(a.grad_k_heads, h), a.grad_k_row, key0, a.S,
                     a.E, static_cast<float>(a.scale));
    store_rows<T, D>(dv, stage, grad_v + a.head_offset(a.grad_v_heads, h), a.grad_v_row, key0, a.S,
                     a.Ev, 1.0f);
  }
#endif
}

// grad_q of the queries [i0, i0 + 64): block per (head, query tile); warp w
// accumulates queries i0 + 16 w .. + 15 over the key tiles.
template <class T, int D>
__global__ void __launch_bounds__(kMmaThreads)
    mma_grad_q(AttentionArgs<T> a, Dropout dropout, const float* lse, const T* grad_out,
               const float* d, T* grad_q) {
#if TS_ATTENTION_MMA_UNSUPPORTED
  __trap();
#else
  extern __shared__ __align__(16) unsigned char shared[];
  const BackwardTiles<D> t{Carve(shared)};
  const int warp = threadIdx.x / 32;
  const int64_t tiles = (a.L + kRows - 1) / kRows;
  for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
    const int64_t h = item / tiles, i0 = item % tiles * kRows;
    const float* mask = head_mask(a, h);
    __syncthreads();
    load_query_tile(a, t, grad_out, lse, d, h, i0);
    Acc dq[D / 16];
    zero<D>(dq);
    const int64_t last_query = std::min<int64_t>(i0 + kRows, a.L) - 1;
    for (int64_t j0 = 0; j0 < a.S && (!a.causal || j0 <= last_query); j0 += kCols) {
      __syncthreads();  // the previous key tile is no longer read
      load_key_tile(a, t, h, j0);
      __syncthreads();
      score_grads<T, D, false>(a, t, dropout, mask, h, i0, j0);
      __syncwarp();  // dQ's rows need only this warp's dS rows (and all of k)
      warp_accumulate<T, D, false>(dq, t.ds + warp * 16 * kLdProbs, t.k);
    }
    float* stage = t.s + warp * 16 * kLdScores;
    store_rows<T, D>(dq, stage, grad_q + a.head_offset(a.grad_q_heads, h), a.grad_q_row,
                     i0 + warp * 16, a.L, a.E, static_cast<float>(a.scale));
  }
#endif
}

}  // namespace

}  // namespace toadstool::kernels::cuda
