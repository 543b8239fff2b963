// attention_forward / attention_backward on CUDA. float32, bfloat16 and
// float16 run the tiled kernels of attention_tiled.cu (FlashAttention-2's
// tiling; the 16-bit types on tensor cores) where those take the call;
// float64, and a call they do not take (a head dim over 128, more shared
// memory than the device has, a 16-bit call on a GPU before sm_80), run the
// fixed-order kernels below, 16-bit calls on float32 copies. The algorithm
// and row math are the CPU kernel's (kernels/cpu/attention.h,
// kernels/attention_math.h): scores s = scale q.k + mask (-inf where the
// causal mask hides a key), an online softmax over key tiles in the
// forward (out and lse = m + log l; a row with every key masked gets out =
// 0 and lse = +inf), probabilities recomputed from lse in the backward,
// and the dropout keep bit of score (h, i, j) drawn from Philox at flat
// index (h L + i) S + j with (seed, offset), so the CPU and the GPU drop
// the same elements.
//
// The fixed-order kernels are written for correctness, not speed: one
// block per query row (forward, grad_q) or per key row (grad_k, grad_v),
// kTile threads, each thread computing one score of the current tile with a
// serial dot product; the block then sums the tile into its own output row,
// which it alone writes. No atomics, so the same bits every run. Every block
// re-reads K and V (from L2).
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "toadstool/kernels/cuda/attention_shared.cuh"
#include "toadstool/kernels/cuda/block_reduce.cuh"
#include "toadstool/kernels/cuda/registry.h"
#include "toadstool/kernels/cuda/scratch.cuh"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cuda {

namespace {

constexpr int kTile = 128;  // keys (forward, grad_q) or queries (grad_k, grad_v) per step
static_assert(kTile <= kThreads && (kTile & (kTile - 1)) == 0, "block_reduce needs a power of two");

template <class T>
__device__ T dot(const T* x, const T* y, int64_t n) {
  T sum = 0;
  for (int64_t e = 0; e < n; ++e) sum += x[e] * y[e];
  return sum;
}

// The pointers of one head, from the operands' head strides.
template <class T>
struct HeadView {
  const T *q, *k, *v, *mask;
};

template <class T>
__device__ HeadView<T> head_view(const AttentionArgs<T>& a, int64_t h) {
  return {a.q + a.head_offset(a.q_heads, h), a.k + a.head_offset(a.k_heads, h),
          a.v + a.head_offset(a.v_heads, h),
          a.mask != nullptr ? a.mask + a.head_offset(a.mask_heads, h) : nullptr};
}

// Score (i, j) of a head: scale q_i . k_j + mask(i, j), -inf when causal hides j.
template <class T>
__device__ T score(const AttentionArgs<T>& a, const HeadView<T>& hv, int64_t i, int64_t j) {
  if (a.causal && j > i) return kNegInf<T>;
  T s = static_cast<T>(a.scale) * dot(hv.q + i * a.q_row, hv.k + j * a.k_row, a.E);
  if (hv.mask != nullptr) s += hv.mask[i * a.mask_row + j * a.mask_col];
  return s;
}

// ---- forward: one block per (head, query row) ----

template <class T>
__global__ void attention_forward_rows(AttentionArgs<T> a, Dropout dropout, T* out, T* lse) {
  __shared__ T p[kTile];
  __shared__ BlockScratch<T> scratch;
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  const int c = threadIdx.x;
  for (int64_t row = blockIdx.x; row < a.heads * a.L; row += gridDim.x) {
    const int64_t h = row / a.L, i = row % a.L;
    const HeadView<T> hv = head_view(a, h);
    T* o =
        out + a.head_offset(a.out_heads, h) + i * a.out_row;  // unnormalised, then scaled by 1 / l
    for (int64_t e = c; e < a.Ev; e += blockDim.x) o[e] = T(0);
    T m = kNegInf<T>, l = T(0);
    // Causal: key tiles past query i hold only hidden keys.
    for (int64_t j0 = 0; j0 < a.S && (!a.causal || j0 <= i); j0 += kTile) {
      const int64_t cols = std::min<int64_t>(kTile, a.S - j0);
      const T s = c < cols ? score(a, hv, i, j0 + c) : kNegInf<T>;
      // Seeded with -inf, not s: a NaN seed would win the tree wherever it
      // sits on the left, and a NaN tile_max would skip the tile below.
      const T tile_max = block_reduce(max_ignoring_nan(kNegInf<T>, s), scratch.get(),
                                      [](T x, T y) { return max_ignoring_nan(x, y); });
      const T m_new = max_ignoring_nan(m, tile_max);
      if (m_new == kNegInf<T>) continue;  // every key so far masked (the same in every thread)
      const T rescale = online_softmax_rescale(m, m_new);
      T e_s = c < cols ? vexp_nonpositive(s - m_new) : T(0);
      l = l * rescale + block_reduce(e_s, scratch.get(), [](T x, T y) { return x + y; });
      m = m_new;
      if (dropout.active && c < cols)
        e_s *= dropout.scale(flat_index(h, i, j0 + c, a.L, a.S), keep_scale);
      p[c] = e_s;
      __syncthreads();
      for (int64_t e = c; e < a.Ev; e += blockDim.x) {
        T acc = 0;
        for (int64_t k = 0; k < cols; ++k) acc += p[k] * hv.v[(j0 + k) * a.v_row + e];
        o[e] = o[e] * rescale + acc;
      }
      __syncthreads();  // p is rewritten by the next tile
    }
    const T inv_l = l > T(0) ? T(1) / l : T(0);
    for (int64_t e = c; e < a.Ev; e += blockDim.x) o[e] *= inv_l;
    if (c == 0) lse[row] = attention_lse(m, l);
  }
}

// ---- backward ----

// D [heads, L] = rowsum(grad_out * out): one thread per row.
template <class T>
__global__ void attention_row_dots(AttentionArgs<T> a, const T* grad_out, const T* out, T* d) {
  for (int64_t row = first_index(); row < a.heads * a.L; row += index_step()) {
    const int64_t at = a.head_offset(a.out_heads, row / a.L) + (row % a.L) * a.out_row;
    d[row] = dot(grad_out + at, out + at, a.Ev);
  }
}

// Per score (i, j): p = exp(s - lse_i), z its dropout scale, and
// dS = p (z grad_out_i . v_j - D_i).
template <class T>
struct ScoreGrad {
  T p_kept;  // p z: what grad_v sums
  T ds;
};

template <class T>
__device__ ScoreGrad<T> score_grad(const AttentionArgs<T>& a, const HeadView<T>& hv,
                                   const Dropout& dropout, T keep_scale, const T* lse,
                                   const T* grad_out, const T* d, int64_t h, int64_t i, int64_t j) {
  const int64_t row = h * a.L + i;
  const T p = vexp_nonpositive(score(a, hv, i, j) - lse[row]);
  const T z = dropout.active ? dropout.scale(flat_index(h, i, j, a.L, a.S), keep_scale) : T(1);
  T dp = dot(grad_out + a.head_offset(a.out_heads, h) + i * a.out_row, hv.v + j * a.v_row, a.Ev);
  if (dropout.active) dp *= z;
  return {dropout.active ? p * z : p, p * (dp - d[row])};
}

// grad_q row (h, i) = scale sum_j dS_ij k_j: one block per query row.
template <class T>
__global__ void attention_grad_q_rows(AttentionArgs<T> a, Dropout dropout, const T* lse,
                                      const T* grad_out, const T* d, T* grad_q) {
  __shared__ T ds[kTile];
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  const T scale = static_cast<T>(a.scale);
  const int c = threadIdx.x;
  for (int64_t row = blockIdx.x; row < a.heads * a.L; row += gridDim.x) {
    const int64_t h = row / a.L, i = row % a.L;
    const HeadView<T> hv = head_view(a, h);
    T* gq = grad_q + a.head_offset(a.grad_q_heads, h) + i * a.grad_q_row;
    for (int64_t e = c; e < a.E; e += blockDim.x) gq[e] = T(0);
    for (int64_t j0 = 0; j0 < a.S && (!a.causal || j0 <= i); j0 += kTile) {
      const int64_t cols = std::min<int64_t>(kTile, a.S - j0);
      ds[c] = c < cols ? score_grad(a, hv, dropout, keep_scale, lse, grad_out, d, h, i, j0 + c).ds
                       : T(0);
      __syncthreads();
      for (int64_t e = c; e < a.E; e += blockDim.x) {
        T acc = 0;
        for (int64_t k = 0; k < cols; ++k) acc += ds[k] * hv.k[(j0 + k) * a.k_row + e];
        gq[e] += scale * acc;
      }
      __syncthreads();
    }
  }
}

// grad_k row (h, j) = scale sum_i dS_ij q_i and grad_v row (h, j) =
// sum_i p_ij z_ij grad_out_i: one block per key row.
template <class T>
__global__ void attention_grad_kv_rows(AttentionArgs<T> a, Dropout dropout, const T* lse,
                                       const T* grad_out, const T* d, T* grad_k, T* grad_v) {
  __shared__ T ds[kTile];
  __shared__ T p_kept[kTile];
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  const T scale = static_cast<T>(a.scale);
  const int c = threadIdx.x;
  for (int64_t key = blockIdx.x; key < a.heads * a.S; key += gridDim.x) {
    const int64_t h = key / a.S, j = key % a.S;
    const HeadView<T> hv = head_view(a, h);
    T* gk = grad_k + a.head_offset(a.grad_k_heads, h) + j * a.grad_k_row;
    T* gv = grad_v + a.head_offset(a.grad_v_heads, h) + j * a.grad_v_row;
    const T* go = grad_out + a.head_offset(a.out_heads, h);
    for (int64_t e = c; e < a.E; e += blockDim.x) gk[e] = T(0);
    for (int64_t e = c; e < a.Ev; e += blockDim.x) gv[e] = T(0);
    // Causal: the queries before key j do not see it; start at its tile.
    for (int64_t i0 = a.causal ? j / kTile * kTile : 0; i0 < a.L; i0 += kTile) {
      const int64_t rows = std::min<int64_t>(kTile, a.L - i0);
      ScoreGrad<T> g{T(0), T(0)};
      if (c < rows) g = score_grad(a, hv, dropout, keep_scale, lse, grad_out, d, h, i0 + c, j);
      ds[c] = g.ds;
      p_kept[c] = g.p_kept;
      __syncthreads();
      for (int64_t e = c; e < a.E; e += blockDim.x) {
        T acc = 0;
        for (int64_t k = 0; k < rows; ++k) acc += ds[k] * hv.q[(i0 + k) * a.q_row + e];
        gk[e] += scale * acc;
      }
      for (int64_t e = c; e < a.Ev; e += blockDim.x) {
        T acc = 0;
        for (int64_t k = 0; k < rows; ++k) acc += p_kept[k] * go[(i0 + k) * a.out_row + e];
        gv[e] += acc;
      }
      __syncthreads();
    }
  }
}

// ---- launches of the float kernels ----

template <class T>
void float_forward(const AttentionArgs<T>& a, const Dropout& dropout, T* out, T* lse) {
  launch_kernel("attention_forward_rows", attention_forward_rows<T>, grid_for(a.heads * a.L), kTile,
                0, a, dropout, out, lse);
}

template <class T>
void float_backward(const AttentionArgs<T>& a, const Dropout& dropout, const T* out, const T* lse,
                    const T* grad_out, T* grad_q, T* grad_k, T* grad_v) {
  const int64_t rows = a.heads * a.L, keys = a.heads * a.S;
  Scratch<T> d(static_cast<size_t>(rows));
  if (rows > 0) {
    launch_kernel("attention_row_dots", attention_row_dots<T>, blocks_for(rows), kThreads, 0, a,
                  grad_out, out, d.get());
    // With S = 0 the key loop is empty and grad_q comes out zero.
    launch_kernel("attention_grad_q_rows", attention_grad_q_rows<T>, grid_for(rows), kTile, 0, a,
                  dropout, lse, grad_out, d.get(), grad_q);
  }
  if (keys > 0) {
    // With L = 0 the query loop is empty and grad_k, grad_v come out zero.
    launch_kernel("attention_grad_kv_rows", attention_grad_kv_rows<T>, grid_for(keys), kTile, 0, a,
                  dropout, lse, grad_out, d.get(), grad_k, grad_v);
  }
}

// ---- 16-bit calls the tensor-core kernels do not take: float32 copies ----

// An operand's [heads, rows, cols] as a contiguous float32 copy (Widened),
// and back. Its head strides in the call's batch dims, so that the mask's
// (which is float32 already and stays where it is) still apply.
HeadStrides contiguous_heads(const AttentionBatch& batch, int64_t rows, int64_t cols) {
  HeadStrides s;
  int64_t stride = rows * cols;
  for (int d = batch.ndim - 1; d >= 0; --d) {
    s.strides[d] = stride;
    stride *= batch.sizes[d];
  }
  return s;
}

// Element (h, r, c) of [heads, rows, cols] in a strided operand.
struct HeadLayout {
  HeadStrides heads;
  int64_t row;
};

template <class T>
__global__ void widen_heads(AttentionArgs<T> a, const T* src, HeadLayout layout, int64_t rows,
                            int64_t cols, float* dst) {
  for (int64_t at = first_index(); at < a.heads * rows * cols; at += index_step()) {
    const int64_t h = at / (rows * cols), r = at / cols % rows, c = at % cols;
    dst[at] = float(src[a.head_offset(layout.heads, h) + r * layout.row + c]);
  }
}

template <class T>
__global__ void narrow_heads(AttentionArgs<T> a, const float* src, HeadLayout layout, int64_t rows,
                             int64_t cols, T* dst) {
  for (int64_t at = first_index(); at < a.heads * rows * cols; at += index_step()) {
    const int64_t h = at / (rows * cols), r = at / cols % rows, c = at % cols;
    dst[a.head_offset(layout.heads, h) + r * layout.row + c] = T(src[at]);
  }
}

// The float32 copy of one [heads, rows, cols] operand of a 16-bit call.
template <class T>
class Widened {
 public:
  Widened(const AttentionArgs<T>& a, int64_t rows, int64_t cols)
      : a_(a), rows_(rows), cols_(cols), data_(static_cast<size_t>(a.heads * rows * cols)) {}
  HeadStrides heads() const { return contiguous_heads(a_.batch, rows_, cols_); }
  float* get() const { return data_.get(); }
  void load(const T* src, HeadLayout layout) {
    if (size() == 0) return;
    launch_kernel("attention widen_heads", widen_heads<T>, blocks_for(size()), kThreads, 0, a_, src,
                  layout, rows_, cols_, get());
  }
  void store(T* dst, HeadLayout layout) const {
    if (size() == 0) return;
    launch_kernel("attention narrow_heads", narrow_heads<T>, blocks_for(size()), kThreads, 0, a_,
                  get(), layout, rows_, cols_, dst);
  }

 private:
  int64_t size() const { return a_.heads * rows_ * cols_; }
  AttentionArgs<T> a_;
  int64_t rows_, cols_;
  Scratch<float> data_;
};

// The call with q, k, v taken from float32 copies (loaded here) and the
// mask (float32 already) as it is; out, grad_out and the gradients in the
// copies' contiguous layouts.
template <class T>
struct WidenedCall {
  explicit WidenedCall(const AttentionArgs<T>& a)
      : q(a, a.L, a.E), k(a, a.S, a.E), v(a, a.S, a.Ev) {
    q.load(a.q, {a.q_heads, a.q_row});
    k.load(a.k, {a.k_heads, a.k_row});
    v.load(a.v, {a.v_heads, a.v_row});
    std::memcpy(static_cast<void*>(&args), &a, sizeof args);  // sizes, batch, mask, options
    args.q = q.get();
    args.q_heads = q.heads();
    args.q_row = a.E;
    args.k = k.get();
    args.k_heads = k.heads();
    args.k_row = a.E;
    args.v = v.get();
    args.v_heads = v.heads();
    args.v_row = a.Ev;
    args.mask = reinterpret_cast<const float*>(a.mask);
    args.out_heads = contiguous_heads(a.batch, a.L, a.Ev);
    args.out_row = a.Ev;
    args.grad_q_heads = q.heads();
    args.grad_q_row = a.E;
    args.grad_k_heads = k.heads();
    args.grad_k_row = a.E;
    args.grad_v_heads = v.heads();
    args.grad_v_row = a.Ev;
  }
  Widened<T> q, k, v;
  AttentionArgs<float> args;
};

template <class T>
void widened_forward(const AttentionArgs<T>& a, const Dropout& dropout, T* out, float* lse) {
  WidenedCall<T> w(a);
  Widened<T> out32(a, a.L, a.Ev);
  float_forward(w.args, dropout, out32.get(), lse);
  out32.store(out, {a.out_heads, a.out_row});
}

template <class T>
void widened_backward(const AttentionArgs<T>& a, const Dropout& dropout, const T* out,
                      const float* lse, const T* grad_out, T* grad_q, T* grad_k, T* grad_v) {
  WidenedCall<T> w(a);
  Widened<T> out32(a, a.L, a.Ev), grad_out32(a, a.L, a.Ev);
  out32.load(out, {a.out_heads, a.out_row});
  grad_out32.load(grad_out, {a.out_heads, a.out_row});
  Widened<T> gq(a, a.L, a.E), gk(a, a.S, a.E), gv(a, a.S, a.Ev);
  float_backward(w.args, dropout, out32.get(), lse, grad_out32.get(), gq.get(), gk.get(), gv.get());
  gq.store(grad_q, {a.grad_q_heads, a.grad_q_row});
  gk.store(grad_k, {a.grad_k_heads, a.grad_k_row});
  gv.store(grad_v, {a.grad_v_heads, a.grad_v_row});
}

// ---- entries ----

// lse is float64 for float64 calls, else float32 (16-bit calls too), as on
// the CPU.
template <class T>
using Lse = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Packed sequences (AttentionArgs::seq_offsets) are a CPU form: the
// front-end pads on CUDA.
void refuse_packed_sequences(const AttentionCall& call) {
  if (call.seq_offsets != nullptr) {
    throw std::invalid_argument("packed sequences (seq_offsets) are not supported on CUDA");
  }
}

void attention_forward_entry(DType dtype, const AttentionCall& call, void* out, void* lse) {
  refuse_packed_sequences(call);
  if (call.heads == 0 || call.L == 0) return;
  for_dtype<TypeSet::Floating>(dtype, "attention_forward", [&](auto zero) {
    using T = decltype(zero);
    auto* lse_t = static_cast<Lse<T>*>(lse);
    if constexpr (!std::is_same_v<T, double>) {
      if (attention_tiled_takes(dtype, call)) {
        attention_tiled_forward(dtype, call, out, lse_t);
        return;
      }
    }
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      float_forward(typed_args<T>(call), dropout_of(call), typed<T>(out), lse_t);
    } else {
      widened_forward(typed_args<T>(call), dropout_of(call), typed<T>(out), lse_t);
    }
  });
}

void attention_backward_entry(DType dtype, const AttentionCall& call, const void* out,
                              const void* lse, const void* grad_out, void* grad_q, void* grad_k,
                              void* grad_v) {
  refuse_packed_sequences(call);
  if (call.heads == 0) return;
  for_dtype<TypeSet::Floating>(dtype, "attention_backward", [&](auto zero) {
    using T = decltype(zero);
    const auto* lse_t = static_cast<const Lse<T>*>(lse);
    if constexpr (!std::is_same_v<T, double>) {
      if (attention_tiled_takes(dtype, call)) {
        attention_tiled_backward(dtype, call, out, lse_t, grad_out, grad_q, grad_k, grad_v);
        return;
      }
    }
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      float_backward(typed_args<T>(call), dropout_of(call), typed<T>(out), lse_t,
                     typed<T>(grad_out), typed<T>(grad_q), typed<T>(grad_k), typed<T>(grad_v));
    } else {
      widened_backward(typed_args<T>(call), dropout_of(call), typed<T>(out), lse_t,
                       typed<T>(grad_out), typed<T>(grad_q), typed<T>(grad_k), typed<T>(grad_v));
    }
  });
}

}  // namespace

void register_attention(Backend& b) {
  b.attention_forward = attention_forward_entry;
  b.attention_backward = attention_backward_entry;
}

}  // namespace toadstool::kernels::cuda
