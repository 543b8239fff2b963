// The fused attention kernel (kernels/cpu/attention.h): forward with an
// online softmax over key tiles, backward recomputing each tile's
// probabilities from the saved log-sum-exp. Tile products go through
// kernels/cpu/gemm (Eigen), the row math through kernels/attention_math.h.
#include "toadstool/kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "toadstool/kernels/attention_math.h"
#include "toadstool/kernels/cpu/gemm.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cpu {

namespace {

constexpr int64_t kBq = kAttentionQueryTile;
constexpr int64_t kBk = kAttentionKeyTile;

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

int64_t tiles(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

// Items per thread chunk so that a chunk holds at least ~64^3 multiply-adds
// (the GEMM's own threshold): a tiny attention (a gradcheck's) stays on the
// calling thread instead of paying for a team start per call.
int64_t grain(int64_t multiply_adds_per_item) {
  constexpr int64_t kMinChunkWork = 64 * 64 * 64;
  return std::max<int64_t>(1, kMinChunkWork / std::max<int64_t>(1, multiply_adds_per_item));
}

// The pointers of one head.
template <class T>
struct Head {
  const T *q, *k, *v, *mask;
};

template <class T>
Head<T> head(const AttentionArgs<T>& a, int64_t h) {
  return {a.q + a.q_offsets[h], a.k + a.k_offsets[h], a.v + a.v_offsets[h],
          a.mask != nullptr ? a.mask + a.mask_offsets[h] : nullptr};
}

// Whether the causal mask leaves any key of [j0, ...) to the queries
// [i0, i0 + rows): the tile's first key must not lie beyond its last query.
template <class T>
bool tile_visible(const AttentionArgs<T>& a, int64_t i0, int64_t rows, int64_t j0) {
  return !a.causal || j0 <= i0 + rows - 1;
}

// s [rows, cols] = scale q[i0 + r] . k[j0 + c] + mask(i0 + r, j0 + c), and
// -inf where the causal mask hides key j0 + c from query i0 + r.
template <class T>
void score_tile(const AttentionArgs<T>& a, const Head<T>& hd, int64_t i0, int64_t rows, int64_t j0,
                int64_t cols, T* s) {
  gemm(false, true, rows, cols, a.E, a.scale, hd.q + i0 * a.q_row, a.q_row, hd.k + j0 * a.k_row,
       a.k_row, T(0), s, cols);
  if (hd.mask != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* m = hd.mask + (i0 + r) * a.mask_row + j0 * a.mask_col;
      T* sr = s + r * cols;
      if (a.mask_col == 1) {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) sr[c] += m[c];
      } else {
        for (int64_t c = 0; c < cols; ++c) sr[c] += m[c * a.mask_col];
      }
    }
  }
  if (a.causal) {
    for (int64_t r = 0; r < rows; ++r) {
      // Query i sees keys j <= i: columns from i - j0 + 1 on are hidden.
      const int64_t first_hidden = std::max<int64_t>(0, i0 + r - j0 + 1);
      std::fill(s + r * cols + std::min(first_hidden, cols), s + (r + 1) * cols, kNegInf<T>);
    }
  }
}

// z[c] = keep_scale when score element `first + c` (flat over [heads, L, S])
// is kept by dropout, else 0: word first + c of the Philox blocks from
// attention_dropout_block (block index / 4 serves four elements), made
// together by philox_words.
template <class T>
void dropout_row(const AttentionArgs<T>& a, uint64_t first, int64_t cols, T* z) {
  const uint64_t threshold = bernoulli_threshold(1.0 - a.dropout_p);
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  const int64_t skip = static_cast<int64_t>(first % 4);
  uint32_t words[kBk + 8];  // ceil((skip + cols) / 4) blocks, cols <= kBk
  philox_words(a.offset + first / 4, (skip + cols + 3) / 4, a.seed, words);
  const uint32_t* w = words + skip;
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) z[c] = w[c] < threshold ? keep_scale : T(0);
}

uint64_t flat_index(int64_t h, int64_t i, int64_t j, int64_t L, int64_t S) {
  return (static_cast<uint64_t>(h) * L + i) * S + j;
}

// The keep_bits words of score row i of head h from key j0 (a multiple of
// 64: key tiles start at multiples of kBk).
static_assert(kBk % 64 == 0);
template <class T>
uint64_t* keep_words(const AttentionArgs<T>& a, int64_t h, int64_t i, int64_t j0) {
  return a.keep_bits + (h * a.L + i) * attention_keep_words(a.S) + j0 / 64;
}

// Keep scales z [cols] <-> keep bits (bit c % 64 of words[c / 64]): with
// AVX-512, 16 floats are one mask register, i.e. two bytes of the words
// (x86 is little-endian); one element at a time elsewhere.
template <class T>
void pack_keep_bits(const T* z, int64_t cols, uint64_t* words) {
  std::fill_n(words, (cols + 63) / 64, uint64_t{0});
  int64_t c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    auto* bytes = reinterpret_cast<unsigned char*>(words);
    for (; c + 16 <= cols; c += 16) {
      const __mmask16 kept =
          _mm512_cmp_ps_mask(_mm512_loadu_ps(z + c), _mm512_setzero_ps(), _CMP_NEQ_UQ);
      std::memcpy(bytes + c / 8, &kept, sizeof kept);
    }
  }
#endif
  for (; c < cols; ++c) words[c / 64] |= static_cast<uint64_t>(z[c] != T(0)) << (c % 64);
}

template <class T>
void unpack_keep_bits(const uint64_t* words, int64_t cols, T keep_scale, T* z) {
  int64_t c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(words);
    const __m512 keep = _mm512_set1_ps(keep_scale);
    for (; c + 16 <= cols; c += 16) {
      __mmask16 kept = 0;
      std::memcpy(&kept, bytes + c / 8, sizeof kept);
      _mm512_storeu_ps(z + c, _mm512_maskz_mov_ps(kept, keep));
    }
  }
#endif
  for (; c < cols; ++c) z[c] = (words[c / 64] >> (c % 64)) & 1 ? keep_scale : T(0);
}

// The forward's draw: z as dropout_row makes it, and its keep bits kept for
// the backward when the call has keep_bits.
template <class T>
void draw_keep_row(const AttentionArgs<T>& a, int64_t h, int64_t i, int64_t j0, int64_t cols,
                   T* z) {
  dropout_row(a, flat_index(h, i, j0, a.L, a.S), cols, z);
  if (a.keep_bits != nullptr) pack_keep_bits(z, cols, keep_words(a, h, i, j0));
}

// The backward's: z from the forward's keep bits, or drawn again.
template <class T>
void load_keep_row(const AttentionArgs<T>& a, int64_t h, int64_t i, int64_t j0, int64_t cols,
                   T* z) {
  if (a.keep_bits == nullptr) return dropout_row(a, flat_index(h, i, j0, a.L, a.S), cols, z);
  unpack_keep_bits(keep_words(a, h, i, j0), cols, T(1) / T(1 - a.dropout_p), z);
}

template <class T>
T row_max(const T* x, int64_t n) {
  T m = kNegInf<T>;
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// x[i] = exp(x[i] - shift), returning the sum.
template <class T>
T exp_in_place(T* x, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    x[i] = vexp_nonpositive(x[i] - shift);
    sum += x[i];
  }
  return sum;
}

template <class T>
void scale_row(T* x, int64_t n, T factor) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

// ---- forward --------------------------------------------------------------

// Queries [i0, i0 + rows) of head h: out rows and lse. scratch holds
// kBq * kBk (scores / probabilities) + kBk (dropout scales) + 2 kBq (m, l).
template <class T>
void forward_tile(const AttentionArgs<T>& a, int64_t h, int64_t i0, T* out, T* lse, T* scratch) {
  const Head<T> hd = head(a, h);
  const int64_t rows = std::min(kBq, a.L - i0);
  T* p = scratch;
  T* z = p + kBq * kBk;
  T* m = z + kBk;
  T* l = m + kBq;
  std::fill_n(m, rows, kNegInf<T>);
  std::fill_n(l, rows, T(0));
  T* o = out + a.out_offsets[h] + i0 * a.out_row;  // [rows, Ev] at out_row, unnormalised
  for (int64_t r = 0; r < rows; ++r) std::fill_n(o + r * a.out_row, a.Ev, T(0));
  for (int64_t j0 = 0; j0 < a.S && tile_visible(a, i0, rows, j0); j0 += kBk) {
    const int64_t cols = std::min(kBk, a.S - j0);
    score_tile(a, hd, i0, rows, j0, cols, p);
    for (int64_t r = 0; r < rows; ++r) {
      T* pr = p + r * cols;
      const T m_new = std::max(m[r], row_max(pr, cols));
      if (m_new == kNegInf<T>) {  // every key so far masked: nothing to add
        std::fill_n(pr, cols, T(0));
        // The backward reads these bits but multiplies them by p = 0.
        if (a.dropout_p > 0 && a.keep_bits != nullptr) {
          std::fill_n(keep_words(a, h, i0 + r, j0), (cols + 63) / 64, uint64_t{0});
        }
        continue;
      }
      const T rescale = online_softmax_rescale(m[r], m_new);
      l[r] = l[r] * rescale + exp_in_place(pr, cols, m_new);
      m[r] = m_new;
      if (rescale != T(1)) scale_row(o + r * a.out_row, a.Ev, rescale);
      if (a.dropout_p > 0) {
        draw_keep_row(a, h, i0 + r, j0, cols, z);
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) pr[c] *= z[c];
      }
    }
    // o [rows, Ev] += p [rows, cols] v [cols, Ev]
    gemm(false, false, rows, a.Ev, cols, T(1), p, cols, hd.v + j0 * a.v_row, a.v_row, T(1), o,
         a.out_row);
  }
  for (int64_t r = 0; r < rows; ++r) {
    scale_row(o + r * a.out_row, a.Ev, l[r] > T(0) ? T(1) / l[r] : T(0));
    lse[h * a.L + i0 + r] = attention_lse(m[r], l[r]);
  }
}

template <class T>
void forward(const AttentionArgs<T>& a, T* out, T* lse) {
  if (a.heads == 0 || a.L == 0) return;
  const int64_t q_tiles = tiles(a.L, kBq);
  const int64_t work = std::min(kBq, a.L) * a.S * (a.E + a.Ev);
  parallel_for(0, a.heads * q_tiles, grain(work), [&](int64_t begin, int64_t end) {
    std::vector<T> scratch(kBq * kBk + kBk + 2 * kBq);
    for (int64_t item = begin; item < end; ++item) {
      forward_tile(a, item / q_tiles, (item % q_tiles) * kBq, out, lse, scratch.data());
    }
  });
}

// ---- backward -------------------------------------------------------------

// What the backward's tile step accumulates.
enum Accumulate : unsigned { kGradQ = 1, kGradKV = 2 };

template <class T>
struct Backward {
  const AttentionArgs<T>& a;
  const T* lse;       // [heads, L]
  const T* grad_out;  // [heads, L, Ev] in out's layout (out_offsets, out_row)
  const T* d;         // [heads, L]: rowsum(grad_out * out)
  T *grad_q, *grad_k, *grad_v;

  // One [rows, cols] tile of head h: queries from i0, keys from j0. scratch
  // holds 3 kBq * kBk values: p, the dropout scales z, and b (p z, then dP,
  // then dS).
  void tile(int64_t h, int64_t i0, int64_t j0, unsigned what, T* scratch) const {
    const Head<T> hd = head(a, h);
    const int64_t rows = std::min(kBq, a.L - i0);
    const int64_t cols = std::min(kBk, a.S - j0);
    T* p = scratch;
    T* z = p + kBq * kBk;
    T* b = z + kBq * kBk;
    // p = exp(s - lse): the forward's probabilities (0 on masked keys and on
    // rows without any key, whose lse is +inf).
    score_tile(a, hd, i0, rows, j0, cols, p);
    for (int64_t r = 0; r < rows; ++r) {
      T* pr = p + r * cols;
      const T row_lse = lse[h * a.L + i0 + r];
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) pr[c] = vexp_nonpositive(pr[c] - row_lse);
    }
    const bool dropout = a.dropout_p > 0;
    const T* go = grad_out + a.out_offsets[h] + i0 * a.out_row;  // [rows, Ev] at out_row
    if (what & kGradKV) {
      const T* kept = p;  // the probabilities after dropout
      if (dropout) {
        for (int64_t r = 0; r < rows; ++r) {
          load_keep_row(a, h, i0 + r, j0, cols, z + r * cols);
        }
        for (int64_t e = 0; e < rows * cols; ++e) b[e] = p[e] * z[e];
        kept = b;
      }
      // grad_v [cols, Ev] += kept^T [cols, rows] grad_out [rows, Ev]
      gemm(true, false, cols, a.Ev, rows, T(1), kept, cols, go, a.out_row, T(1),
           grad_v + (h * a.S + j0) * a.Ev, a.Ev);
    } else if (dropout) {
      for (int64_t r = 0; r < rows; ++r) {
        load_keep_row(a, h, i0 + r, j0, cols, z + r * cols);
      }
    }
    // b = dP [rows, cols] = grad_out [rows, Ev] v^T [Ev, cols] (times z under
    // dropout), then dS = p (dP - D).
    gemm(false, true, rows, cols, a.Ev, T(1), go, a.out_row, hd.v + j0 * a.v_row, a.v_row, T(0), b,
         cols);
    for (int64_t r = 0; r < rows; ++r) {
      T* br = b + r * cols;
      const T* pr = p + r * cols;
      const T dr = d[h * a.L + i0 + r];
      if (dropout) {
        const T* zr = z + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) br[c] = pr[c] * (br[c] * zr[c] - dr);
      } else {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) br[c] = pr[c] * (br[c] - dr);
      }
    }
    if (what & kGradQ) {  // grad_q [rows, E] += scale dS [rows, cols] k [cols, E]
      gemm(false, false, rows, a.E, cols, a.scale, b, cols, hd.k + j0 * a.k_row, a.k_row, T(1),
           grad_q + (h * a.L + i0) * a.E, a.E);
    }
    if (what & kGradKV) {  // grad_k [cols, E] += scale dS^T [cols, rows] q [rows, E]
      gemm(true, false, cols, a.E, rows, a.scale, b, cols, hd.q + i0 * a.q_row, a.q_row, T(1),
           grad_k + (h * a.S + j0) * a.E, a.E);
    }
  }
};

template <class T>
void backward(const AttentionArgs<T>& a, const T* out, const T* lse, const T* grad_out, T* grad_q,
              T* grad_k, T* grad_v) {
  if (a.heads == 0 || a.L == 0 || a.S == 0) {  // nothing to attend: zero gradients
    std::fill_n(grad_q, a.heads * a.L * a.E, T(0));
    std::fill_n(grad_k, a.heads * a.S * a.E, T(0));
    std::fill_n(grad_v, a.heads * a.S * a.Ev, T(0));
    return;
  }
  // D [heads, L] = rowsum(grad_out * out): the sum over keys of p dP, which
  // dS = p (dP - D) subtracts (it holds with dropout too, since out is the
  // output after dropout).
  std::vector<T> d(a.heads * a.L);
  parallel_for(0, a.heads * a.L, std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(a.Ev, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t row = begin; row < end; ++row) {
                   const int64_t at = a.out_offsets[row / a.L] + (row % a.L) * a.out_row;
                   const T* go = grad_out + at;
                   const T* o = out + at;
                   T sum = 0;
#pragma omp simd reduction(+ : sum)
                   for (int64_t e = 0; e < a.Ev; ++e) sum += go[e] * o[e];
                   d[row] = sum;
                 }
               });
  const Backward<T> bw{a, lse, grad_out, d.data(), grad_q, grad_k, grad_v};
  const int64_t q_tiles = tiles(a.L, kBq), k_tiles = tiles(a.S, kBk);
  const int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  auto with_scratch = [](auto&& body) {
    return [body](int64_t begin, int64_t end) {
      std::vector<T> scratch(3 * kBq * kBk);
      for (int64_t item = begin; item < end; ++item) body(item, scratch.data());
    };
  };
  if (a.heads % threads == 0 || a.heads >= 4 * threads) {
    // One pass, a whole head per item: the thread owns the head's grad_q,
    // grad_k and grad_v, so every tile adds into all three without races.
    parallel_for(0, a.heads, grain(a.L * a.S * (3 * a.E + 2 * a.Ev)),
                 with_scratch([&](int64_t h, T* scratch) {
                   // Each item zeroes the gradient rows it owns before adding into them.
                   std::fill_n(grad_q + h * a.L * a.E, a.L * a.E, T(0));
                   std::fill_n(grad_k + h * a.S * a.E, a.S * a.E, T(0));
                   std::fill_n(grad_v + h * a.S * a.Ev, a.S * a.Ev, T(0));
                   for (int64_t j0 = 0; j0 < a.S; j0 += kBk) {
                     for (int64_t i0 = 0; i0 < a.L; i0 += kBq) {
                       if (!tile_visible(a, i0, std::min(kBq, a.L - i0), j0)) continue;
                       bw.tile(h, i0, j0, kGradQ | kGradKV, scratch);
                     }
                   }
                 }));
    return;
  }
  // Too few heads to share out: two passes, each parallel over tiles. The
  // first owns a key tile (grad_k, grad_v rows) and walks the queries, the
  // second owns a query tile (grad_q rows) and walks the keys; the scores and
  // dP are computed twice (7 tile products instead of 5).
  parallel_for(0, a.heads * k_tiles, grain(a.L * std::min(kBk, a.S) * (2 * a.E + 2 * a.Ev)),
               with_scratch([&](int64_t item, T* scratch) {
                 const int64_t h = item / k_tiles, j0 = (item % k_tiles) * kBk;
                 const int64_t cols = std::min(kBk, a.S - j0);
                 std::fill_n(grad_k + (h * a.S + j0) * a.E, cols * a.E, T(0));
                 std::fill_n(grad_v + (h * a.S + j0) * a.Ev, cols * a.Ev, T(0));
                 for (int64_t i0 = 0; i0 < a.L; i0 += kBq) {
                   if (!tile_visible(a, i0, std::min(kBq, a.L - i0), j0)) continue;
                   bw.tile(h, i0, j0, kGradKV, scratch);
                 }
               }));
  parallel_for(0, a.heads * q_tiles, grain(std::min(kBq, a.L) * a.S * (2 * a.E + a.Ev)),
               with_scratch([&](int64_t item, T* scratch) {
                 const int64_t h = item / q_tiles, i0 = (item % q_tiles) * kBq;
                 std::fill_n(grad_q + (h * a.L + i0) * a.E, std::min(kBq, a.L - i0) * a.E, T(0));
                 for (int64_t j0 = 0; j0 < a.S; j0 += kBk) {
                   if (!tile_visible(a, i0, std::min(kBq, a.L - i0), j0)) break;
                   bw.tile(h, i0, j0, kGradQ, scratch);
                 }
               }));
}

}  // namespace

void attention_forward(const AttentionArgs<float>& a, float* out, float* lse) {
  forward(a, out, lse);
}
void attention_forward(const AttentionArgs<double>& a, double* out, double* lse) {
  forward(a, out, lse);
}
void attention_backward(const AttentionArgs<float>& a, const float* out, const float* lse,
                        const float* grad_out, float* grad_q, float* grad_k, float* grad_v) {
  backward(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}
void attention_backward(const AttentionArgs<double>& a, const double* out, const double* lse,
                        const double* grad_out, double* grad_q, double* grad_k, double* grad_v) {
  backward(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}

}  // namespace toadstool::kernels::cpu
