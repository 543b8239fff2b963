// attention_forward / attention_backward in tiles: FlashAttention-2's
// tiling (Dao 2023) for float32 calls on the CUDA cores and for bfloat16 /
// float16 calls (autocast) on tensor cores, the products being
// attention_products.cuh's (WMMA 16 x 16 x 16 with float32 accumulation, or
// a float32 register block per lane). The row math is the CPU kernel's and
// the fixed-order kernel's (kernels/attention_math.h, attention.cu): online
// softmax over key tiles, lse = m + log l saved for the backward, a fully
// masked row gives out = 0 and lse = +inf, the dropout keep bits drawn
// from Philox at the score's flat index. As on the CPU's bfloat16 path, a
// 16-bit call's probabilities and dS are rounded to the 16-bit type before
// they are multiplied, and each finished output or gradient row is rounded
// once.
//
// Tiles: a block is 4 warps; a tile is 64 queries x 64 keys, each warp
// owning 16 query rows of the score tile. Head dims E and Ev are zero-padded
// to one D in {32, 64, 128} (a template parameter: the accumulators then
// live in registers). Every score tile passes through shared memory, where
// the element positions are known (a WMMA accumulator's layout in registers
// is not), so the per-element steps (scale, mask, causal, softmax, dropout)
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
// launches and entries are attention_tiled.cu's, and the warp-emulation
// test (tests/cuda_emulation/) runs these same kernels on the CPU.
#pragma once
#include <algorithm>
#include <limits>
#include <type_traits>

#include "toadstool/kernels/cuda/attention_products.cuh"
#include "toadstool/kernels/cuda/attention_shared.cuh"
#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cuda {

namespace {

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

// A float32 call's probability tile in place of a score tile (the same
// element type and leading dimension); for the 16-bit types, never called.
template <class T>
__host__ __device__ Stored<T>* alias(float* scores) {
  static_assert(kOnTensorCores<T> || kLdProbs<T> == kLdScores);
  return reinterpret_cast<Stored<T>*>(scores);
}

// The forward's tiles: q, k, v ([64, D]), the scores S and probabilities P
// of a key tile, the output accumulator O, and the softmax state of each
// query row. For float32, P is S's tile: each P element is written by the
// lane that read its S element, after reading it.
template <class T, int D>
struct ForwardTiles {
  Stored<T>*q, *k, *v;
  float* s;
  Stored<T>* p;
  float* o;
  float *m, *l, *rescale;
  size_t bytes;
  __host__ __device__ explicit ForwardTiles(Carve c) {
    q = c.take<Stored<T>>(kRows * kLdOperand<T, D>);
    k = c.take<Stored<T>>(kCols * kLdOperand<T, D>);
    v = c.take<Stored<T>>(kCols * kLdOperand<T, D>);
    s = c.take<float>(kRows * kLdScores);
    p = kOnTensorCores<T> ? c.take<Stored<T>>(kRows * kLdProbs<T>) : alias<T>(s);
    o = c.take<float>(kRows * kLdAcc<D>);
    m = c.take<float>(kRows);
    l = c.take<float>(kRows);
    rescale = c.take<float>(kRows);
    bytes = c.used();
  }
};

// Both backward kernels' tiles: q, dO and the row values (lse, D) of a
// query tile; k and v of a key tile; S and dP in float; dS (and for dK /
// dV, P z) as the operands are stored: for float32 in S's and dP's tiles,
// each element written by the lane that read it there (score_grads).
template <class T, int D>
struct BackwardTiles {
  Stored<T>*q, *dout, *k, *v;
  float *s, *dp;
  Stored<T>*p_kept, *ds;
  float *lse, *d;
  size_t bytes;
  __host__ __device__ explicit BackwardTiles(Carve c) {
    q = c.take<Stored<T>>(kRows * kLdOperand<T, D>);
    dout = c.take<Stored<T>>(kRows * kLdOperand<T, D>);
    k = c.take<Stored<T>>(kCols * kLdOperand<T, D>);
    v = c.take<Stored<T>>(kCols * kLdOperand<T, D>);
    s = c.take<float>(kRows * kLdScores);
    dp = c.take<float>(kRows * kLdScores);
    p_kept = kOnTensorCores<T> ? c.take<Stored<T>>(kRows * kLdProbs<T>) : alias<T>(s);
    ds = kOnTensorCores<T> ? c.take<Stored<T>>(kRows * kLdProbs<T>) : alias<T>(dp);
    lse = c.take<float>(kRows);
    d = c.take<float>(kRows);
    bytes = c.used();
  }
};

template <class Tiles>
size_t tiles_bytes() {
  return Tiles(Carve(nullptr)).bytes;
}

// Rows [first, first + tile_rows) of an operand (row stride `row`, elements
// contiguous) into a [tile_rows, D] shared tile; zero past `count` rows and
// `cols` columns. Consecutive threads read consecutive elements of a row.
template <class T, int D, int kTileRows>
__device__ void load_tile(Stored<T>* tile, const T* src, int64_t row, int64_t first, int64_t count,
                          int64_t cols) {
  const Stored<T>* from = stored(src);
  for (int at = threadIdx.x; at < kTileRows * D; at += blockDim.x) {
    const int r = at / D, c = at % D;
    const int64_t g = first + r;
    tile[r * kLdOperand<T, D> + c] = g < count && c < cols ? from[g * row + c] : Stored<T>{0};
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
// CMAKE_CUDA_ARCHITECTURES), a 16-bit kernel below is a trap, and
// attention_tiled_takes sends no 16-bit call to a device that runs such
// code. The float32 kernels run on any GPU.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr bool kWmmaBuilt = false;
#else
constexpr bool kWmmaBuilt = true;
#endif
template <class T>
constexpr bool kWmmaMissing = kOnTensorCores<T> && !kWmmaBuilt;

// ---- forward: block per (head, 64-query tile) ----

template <class T, int D>
__global__ void __launch_bounds__(kTiledThreads)
    tiled_forward(AttentionArgs<T> a, Dropout dropout, T* out, float* lse) {
  if constexpr (kWmmaMissing<T>) {
    __trap();
  } else {
    unsigned char* const shared = dynamic_shared_memory();
    const ForwardTiles<T, D> t{Carve(shared)};
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float keep_scale = 1.0f / static_cast<float>(1 - a.dropout_p);
    const int64_t tiles = (a.L + kRows - 1) / kRows;
    for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
      const int64_t h = item / tiles, i0 = item % tiles * kRows;
      const float* mask = head_mask(a, h);
      __syncthreads();  // the previous item is done with every tile
      load_tile<T, D, kRows>(t.q, a.q + a.head_offset(a.q_heads, h), a.q_row, i0, a.L, a.E);
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
        load_tile<T, D, kCols>(t.k, a.k + a.head_offset(a.k_heads, h), a.k_row, j0, a.S, a.E);
        load_tile<T, D, kCols>(t.v, a.v + a.head_offset(a.v_heads, h), a.v_row, j0, a.S, a.Ev);
        __syncthreads();
        const int row0 = warp * 16;
        warp_a_bt<T, D>(t.q + row0 * kLdOperand<T, D>, t.k, t.s + row0 * kLdScores);
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
            t.p[row * kLdProbs<T> + lane + 32 * half] = to_stored<T>(e[half]);
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
        Accumulator<T, D> acc;
        load_acc(acc, t.o + row0 * kLdAcc<D>, kLdAcc<D>);
        warp_accumulate<T, D, false>(acc, t.p + row0 * kLdProbs<T>, t.v);
        store_acc(acc, t.o + row0 * kLdAcc<D>, kLdAcc<D>);
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
  }
}

// ---- backward ----

// D [heads, L] = rowsum(grad_out * out), in float: a warp per row, its
// lanes reading consecutive elements (blockDim a multiple of 32).
template <class T>
__global__ void tiled_row_dots(AttentionArgs<T> a, const T* grad_out, const T* out, float* d) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = first_index() / 32; row < a.heads * a.L; row += index_step() / 32) {
    const int64_t at = a.head_offset(a.out_heads, row / a.L) + (row % a.L) * a.out_row;
    float sum = 0.0f;
    for (int64_t e = lane; e < a.Ev; e += 32) sum += float(grad_out[at + e]) * float(out[at + e]);
    sum = warp_sum(sum);
    if (lane == 0) d[row] = sum;
  }
}

// For the tile of queries [i0, i0 + 64) and keys [j0, j0 + 64) of head h,
// with t.q, t.dout, t.k, t.v, t.lse and t.d loaded: this warp's 16 rows of
// dS = P (z dP - D) into t.ds and, with kKept, of P z into t.p_kept.
template <class T, int D, bool kKept>
__device__ void score_grads(const AttentionArgs<T>& a, const BackwardTiles<T, D>& t,
                            const Dropout& dropout, const float* mask, int64_t h, int64_t i0,
                            int64_t j0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row0 = warp * 16;
  warp_a_bt<T, D>(t.q + row0 * kLdOperand<T, D>, t.k, t.s + row0 * kLdScores);
  warp_a_bt<T, D>(t.dout + row0 * kLdOperand<T, D>, t.v, t.dp + row0 * kLdScores);
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
        if (kKept) t.p_kept[row * kLdProbs<T> + c] = to_stored<T>(p * z);
      } else if (kKept) {
        t.p_kept[row * kLdProbs<T> + c] = to_stored<T>(p);
      }
      ds = p * (dp - t.d[row]);
    } else if (kKept) {
      t.p_kept[row * kLdProbs<T> + c] = Stored<T>{0};
    }
    t.ds[row * kLdProbs<T> + c] = to_stored<T>(ds);
  }
}

// The query rows [i0, i0 + 64) of head h: q, grad_out, lse and D.
template <class T, int D>
__device__ void load_query_tile(const AttentionArgs<T>& a, const BackwardTiles<T, D>& t,
                                const T* grad_out, const float* lse, const float* d, int64_t h,
                                int64_t i0) {
  load_tile<T, D, kRows>(t.q, a.q + a.head_offset(a.q_heads, h), a.q_row, i0, a.L, a.E);
  load_tile<T, D, kRows>(t.dout, grad_out + a.head_offset(a.out_heads, h), a.out_row, i0, a.L,
                         a.Ev);
  for (int r = threadIdx.x; r < kRows; r += blockDim.x) {
    const int64_t i = i0 + r;
    t.lse[r] = i < a.L ? lse[h * a.L + i] : std::numeric_limits<float>::infinity();
    t.d[r] = i < a.L ? d[h * a.L + i] : 0.0f;
  }
}

template <class T, int D>
__device__ void load_key_tile(const AttentionArgs<T>& a, const BackwardTiles<T, D>& t, int64_t h,
                              int64_t j0) {
  load_tile<T, D, kCols>(t.k, a.k + a.head_offset(a.k_heads, h), a.k_row, j0, a.S, a.E);
  load_tile<T, D, kCols>(t.v, a.v + a.head_offset(a.v_heads, h), a.v_row, j0, a.S, a.Ev);
}

// grad_k and grad_v of the keys [j0, j0 + 64): block per (head, key tile);
// warp w accumulates keys j0 + 16 w .. + 15 over every query tile.
template <class T, int D>
__global__ void __launch_bounds__(kTiledThreads)
    tiled_grad_kv(AttentionArgs<T> a, Dropout dropout, const float* lse, const T* grad_out,
                  const float* d, T* grad_k, T* grad_v) {
  if constexpr (kWmmaMissing<T>) {
    __trap();
  } else {
    unsigned char* const shared = dynamic_shared_memory();
    const BackwardTiles<T, D> t{Carve(shared)};
    const int warp = threadIdx.x / 32;
    const int64_t tiles = (a.S + kCols - 1) / kCols;
    for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
      const int64_t h = item / tiles, j0 = item % tiles * kCols;
      const float* mask = head_mask(a, h);
      __syncthreads();
      load_key_tile(a, t, h, j0);
      Accumulator<T, D> dk, dv;
      zero(dk);
      zero(dv);
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
      // WMMA's store_rows stages through this warp's rows of t.s, which for
      // 16-bit calls only this warp touched last (its S). float32's writes
      // from registers: its t.s is the p_kept that every warp has just read.
      float* stage = t.s + warp * 16 * kLdScores;
      const int64_t key0 = j0 + warp * 16;
      store_rows<T, D>(dk, stage, grad_k + a.head_offset(a.grad_k_heads, h), a.grad_k_row, key0,
                       a.S, a.E, static_cast<float>(a.scale));
      store_rows<T, D>(dv, stage, grad_v + a.head_offset(a.grad_v_heads, h), a.grad_v_row, key0,
                       a.S, a.Ev, 1.0f);
    }
  }
}

// grad_q of the queries [i0, i0 + 64): block per (head, query tile); warp w
// accumulates queries i0 + 16 w .. + 15 over the key tiles.
template <class T, int D>
__global__ void __launch_bounds__(kTiledThreads)
    tiled_grad_q(AttentionArgs<T> a, Dropout dropout, const float* lse, const T* grad_out,
                 const float* d, T* grad_q) {
  if constexpr (kWmmaMissing<T>) {
    __trap();
  } else {
    unsigned char* const shared = dynamic_shared_memory();
    const BackwardTiles<T, D> t{Carve(shared)};
    const int warp = threadIdx.x / 32;
    const int64_t tiles = (a.L + kRows - 1) / kRows;
    for (int64_t item = blockIdx.x; item < a.heads * tiles; item += gridDim.x) {
      const int64_t h = item / tiles, i0 = item % tiles * kRows;
      const float* mask = head_mask(a, h);
      __syncthreads();
      load_query_tile(a, t, grad_out, lse, d, h, i0);
      Accumulator<T, D> dq;
      zero(dq);
      const int64_t last_query = std::min<int64_t>(i0 + kRows, a.L) - 1;
      for (int64_t j0 = 0; j0 < a.S && (!a.causal || j0 <= last_query); j0 += kCols) {
        __syncthreads();  // the previous key tile is no longer read
        load_key_tile(a, t, h, j0);
        __syncthreads();
        score_grads<T, D, false>(a, t, dropout, mask, h, i0, j0);
        __syncwarp();  // dQ's rows need only this warp's dS rows (and all of k)
        warp_accumulate<T, D, false>(dq, t.ds + warp * 16 * kLdProbs<T>, t.k);
      }
      float* stage = t.s + warp * 16 * kLdScores;
      store_rows<T, D>(dq, stage, grad_q + a.head_offset(a.grad_q_heads, h), a.grad_q_row,
                       i0 + warp * 16, a.L, a.E, static_cast<float>(a.scale));
    }
  }
}

}  // namespace

}  // namespace toadstool::kernels::cuda
