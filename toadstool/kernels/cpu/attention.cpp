// The fused attention kernel (kernels/cpu/attention.h): forward with an
// online softmax over key tiles, backward recomputing each tile's
// probabilities from the saved log-sum-exp. Tile products go through
// kernels/cpu/gemm (float, double) or the bfloat16 GEMM's tile
// (gemm_bf16_serial), the row math through kernels/attention_math.h.
#include "toadstool/kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "toadstool/kernels/attention_math.h"
#include "toadstool/kernels/cpu/attention_rows_bf16.h"
#include "toadstool/kernels/cpu/dropout.h"
#include "toadstool/kernels/cpu/gemm.h"
#include "toadstool/kernels/cpu/gemm_bf16.h"
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/cpu/rounded_store.h"
#include "toadstool/kernels/fast_math.h"

namespace toadstool::kernels::cpu {

namespace {

constexpr int64_t kBq = kAttentionQueryTile;
constexpr int64_t kBk = kAttentionKeyTile;

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

int64_t tiles(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

// A thread's chunk of a loop holds at least ~64^3 multiply-adds (the
// GEMM's own threshold): a tiny attention (a gradcheck's) stays on the
// calling thread instead of paying for a team start per call. The loops
// share their items by multiply-adds (parallel_for_balanced): heads whose
// key padding differs differ in work.
constexpr int64_t kMinChunkWork = 64 * 64 * 64;

// Calls store q, k, v, out, grad_out and the gradients in S and compute in
// T = ComputeOf<S>: float32 and float64 in themselves, bfloat16 and float16
// (autocast) in float32, with the additive mask and lse in float32.
template <class S>
using ComputeOf = std::conditional_t<std::is_same_v<S, double>, double, float>;

// The tile products take operands of type O: T, or S = bfloat16 where the
// CPU has a 16-bit tile (bf16_tile(): AMX or AVX512-BF16), which then reads
// q, k, v and grad_out where they are stored and the probabilities and dS
// rounded to bfloat16, accumulating in float32 (what flash attention does
// on a GPU's tensor cores).

// How far a head's tiles go: keys [0, keys) can take part, queries
// [0, queries) are computed (head_extents).
struct HeadExtent {
  int64_t keys, queries;
};

// One head as the tile math reads it: q [L, E], k [S, E], v [S, Ev] in O
// at their row strides, the mask (T) at the call's mask_row / mask_col,
// and its extent.
template <class T, class O>
struct HeadView {
  int64_t h;  // the head's index: dropout's flat index, keep bits
  const O *q, *k, *v;
  const T* mask;
  int64_t q_row, k_row, v_row;
  HeadExtent extent;
};

// The extent of a head with this mask. A mask the same for every query
// (mask_row 0: a key-padding mask, as the Transformer's) that is -inf on
// its last keys hides them from every row: their probabilities are exactly
// 0, they add nothing to out, and their grad_k and grad_v rows are 0, so
// the tiles end at the last key the mask leaves (padding at the end: a
// quarter of the benchmark batch's keys). That key count is rounded up to a
// multiple of 32 (the extra keys are still masked): whole tiles for the
// bfloat16 micro-kernel, whose products on a ragged key count cost about as
// much as the keys they skip. With skip_padded_queries the queries end at
// the same last key, not rounded; the rows after it are left as rows that
// see no key (and forward_tile treats the hidden queries before it, left
// padding or gaps, as such rows too). Other masks: S keys, L queries.
template <class T, class S>
HeadExtent head_extent(const AttentionArgs<S>& a, const T* mask) {
  if (mask == nullptr || a.mask_row != 0) return {a.S, a.L};
  int64_t last = a.S;  // one past the last key the mask leaves
  while (last > 0 && mask[(last - 1) * a.mask_col] == kNegInf<T>) --last;
  constexpr int64_t kKeyGranule = 32;
  return {std::min(a.S, (last + kKeyGranule - 1) / kKeyGranule * kKeyGranule),
          a.skip_padded_queries ? std::min(last, a.L) : a.L};
}

// The head's mask [L, S] (T), or null.
template <class T, class S>
const T* head_mask(const AttentionArgs<S>& a, int64_t h) {
  if (a.mask == nullptr) return nullptr;
  return reinterpret_cast<const T*>(a.mask) + a.head_offset(a.mask_heads, h);
}

// The rows of head h stored in an operand of `rows` rows (L or S): all
// of them, or a packed sequence's own (AttentionArgs::seq_offsets).
template <class S>
int64_t stored_rows(const AttentionArgs<S>& a, int64_t h, int64_t rows) {
  return a.seq_offsets == nullptr ? rows : a.sequence_length(h);
}

// head_extent of every head: [heads] (a packed sequence's: its length).
template <class T, class S>
std::vector<HeadExtent> head_extents(const AttentionArgs<S>& a) {
  std::vector<HeadExtent> extents(a.heads);
  for (int64_t h = 0; h < a.heads; ++h) {
    const int64_t length = stored_rows(a, h, a.L);
    extents[h] =
        a.seq_offsets != nullptr ? HeadExtent{length, length} : head_extent(a, head_mask<T>(a, h));
  }
  return extents;
}

// The query-key pairs a head of extent e computes in its query tile t
// (queries [t kBq, (t + 1) kBq)) and in its key tile t: the work the
// threads share (parallel_for_balanced) is these times a per-pair cost.
int64_t query_tile_pairs(const HeadExtent& e, int64_t t) {
  return std::clamp<int64_t>(e.queries - t * kBq, 0, kBq) * e.keys;
}
int64_t key_tile_pairs(const HeadExtent& e, int64_t t) {
  return e.queries * std::clamp<int64_t>(e.keys - t * kBk, 0, kBk);
}

// The heads of a call as HeadViews, with their extents (head_extents):
// in place when O is S; else each head's
// q, k, v (and, for the backward, grad_out [L, Ev]) widened once into this
// thread's buffers and kept while the thread's items stay on that head
// (items are numbered head-major, so a thread widens each head it touches
// once per pass: L (E + Ev) + S (E + Ev) conversions against the L S (E +
// Ev) multiply-adds of its tiles).
template <class T, class S, class O>
class HeadReader {
 public:
  HeadReader(const AttentionArgs<S>& a, const std::vector<HeadExtent>& extents,
             const S* grad_out = nullptr)
      : a_(a), extents_(extents), grad_out_(grad_out) {}

  HeadView<T, O> head(int64_t h) {
    const T* mask = head_mask<T>(a_, h);
    const HeadExtent& extent = extents_[h];
    if constexpr (std::is_same_v<O, S>) {
      return {h,
              a_.q + a_.head_start(a_.q_heads, a_.q_row, h),
              a_.k + a_.head_start(a_.k_heads, a_.k_row, h),
              a_.v + a_.head_start(a_.v_heads, a_.v_row, h),
              mask,
              a_.q_row,
              a_.k_row,
              a_.v_row,
              extent};
    } else {
      widen(h);
      return {h, q_.data(), k_.data(), v_.data(), mask, a_.E, a_.E, a_.Ev, extent};
    }
  }

  // grad_out's rows of head h: pointer and row stride.
  std::pair<const O*, int64_t> grad_out(int64_t h) {
    if constexpr (std::is_same_v<O, S>) {
      return {grad_out_ + a_.head_start(a_.out_heads, a_.out_row, h), a_.out_row};
    } else {
      widen(h);
      return {go_.data(), a_.Ev};
    }
  }

 private:
  static void widen_rows(const S* src, int64_t row_stride, int64_t rows, int64_t cols,
                         std::vector<O>& dst) {
    dst.resize(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      const S* in = src + r * row_stride;
      O* o = dst.data() + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) o[c] = static_cast<O>(in[c]);
    }
  }

  void widen(int64_t h) {
    if (h == widened_) return;
    const int64_t queries = stored_rows(a_, h, a_.L), keys = stored_rows(a_, h, a_.S);
    widen_rows(a_.q + a_.head_start(a_.q_heads, a_.q_row, h), a_.q_row, queries, a_.E, q_);
    widen_rows(a_.k + a_.head_start(a_.k_heads, a_.k_row, h), a_.k_row, keys, a_.E, k_);
    widen_rows(a_.v + a_.head_start(a_.v_heads, a_.v_row, h), a_.v_row, keys, a_.Ev, v_);
    if (grad_out_ != nullptr) {
      widen_rows(grad_out_ + a_.head_start(a_.out_heads, a_.out_row, h), a_.out_row, queries, a_.Ev,
                 go_);
    }
    widened_ = h;
  }

  const AttentionArgs<S>& a_;
  const std::vector<HeadExtent>& extents_;
  const S* grad_out_;
  int64_t widened_ = -1;
  std::vector<O> q_, k_, v_, go_;
};

// rows x cols of T (row stride src_row) rounded into S (row stride dst_row).
template <class S, class T>
void narrow_rows(const T* src, int64_t src_row, int64_t rows, int64_t cols, S* dst,
                 int64_t dst_row) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = src + r * src_row;
    S* o = dst + r * dst_row;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) store_rounded(o, c, in[c]);
  }
}

// out [n] = x * z (z null: x itself), rounded into O: a row of a tile made
// as an operand of the tile products (out may be x).
template <class T, class O>
void operand_row(const T* x, const T* z, int64_t n, O* out) {
  if (z == nullptr) return narrow_rows(x, n, 1, n, out, n);
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) store_rounded(out, c, x[c] * z[c]);
}

// One thread's tile products, c [M, N] = alpha op(a) op(b) + beta c (c not
// read when beta == 0), operands of type O stored as kernels/cpu/gemm.h
// takes them, and where the tiles it makes (probabilities, dS) are written as
// operands (operand_buffer). Float
// and double go to our GEMM as they are.
template <class T, class O>
class TileProducts {
 public:
  static_assert(std::is_same_v<T, O>);
  void multiply(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
    gemm(trans_a, trans_b, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  // Where a tile made in place of x [rows, cols] goes as an operand: x.
  T* operand_buffer(T* x) { return x; }
  // Whether dropout reaches the score rows as keep bits, each row rounded
  // into the operand in the pass that applies them (the bfloat16 products':
  // kernels/cpu/attention_rows_bf16.h), or as float32 scales (z).
  static constexpr bool kKeepBitRows = false;
};

#if TOADSTOOL_BF16_KERNELS
// bfloat16 operands on the 16-bit tile, float32 c. Every B operand is a tile
// of q, k, v or grad_out (the call's inputs, unchanged while it runs): each
// is packed once and kept, so a key tile serves every query tile and a
// query tile every key tile, up to kMaxPacked of them (then all are dropped
// and packed again as needed).
template <>
class TileProducts<float, BFloat16> {
 public:
  void multiply(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const BFloat16* a, int64_t lda, const BFloat16* b, int64_t ldb, float beta,
                float* c, int64_t ldc) {
    gemm_bf16_serial(tile_, trans_a, M, alpha, bits(a), lda, packed(trans_b, K, N, b, ldb), beta, c,
                     ldc);
  }

  // Where a tile made in place of x [rows, cols] (at most kBq kBk) goes as
  // an operand: rounded into bfloat16, in one buffer (a tile is multiplied
  // before the next is made).
  BFloat16* operand_buffer(const float* /*x*/) { return rounded_.data(); }

  static constexpr bool kKeepBitRows = true;
  void kept_row(const float* p, int64_t cols, const uint64_t* bits, float keep_scale,
                BFloat16* kept) const {
    kept_operand_row(p, cols, bits, keep_scale, out_bits(kept));
  }
  void score_gradient_row(const float* p, const float* dp, int64_t cols, const uint64_t* bits,
                          float keep_scale, float d, BFloat16* ds) const {
    cpu::score_gradient_row(p, dp, cols, bits, keep_scale, d, out_bits(ds));
  }
  // Keep bits of a tile's row r when the call keeps none: [kBq, kBk / 64] words.
  uint64_t* own_keep_bits(int64_t r) { return own_bits_.data() + r * (kBk / 64); }

 private:
  static uint16_t* out_bits(BFloat16* p) { return reinterpret_cast<uint16_t*>(p); }

  // Up to 64 KiB each at E, Ev <= 128 (and 256 KiB at the 512 limit).
  static constexpr size_t kMaxPacked = 64;

  static const uint16_t* bits(const BFloat16* p) { return reinterpret_cast<const uint16_t*>(p); }

  struct Entry {
    const BFloat16* b;
    bool trans_b;
    int64_t K, N, ldb;
    Bf16PackedB panels;
  };

  const Bf16PackedB& packed(bool trans_b, int64_t K, int64_t N, const BFloat16* b, int64_t ldb) {
    for (const Entry& e : packed_) {
      if (e.b == b && e.trans_b == trans_b && e.K == K && e.N == N && e.ldb == ldb) return e.panels;
    }
    if (packed_.size() == kMaxPacked) packed_.clear();
    Entry& e = packed_.emplace_back(Entry{b, trans_b, K, N, ldb, {}});
    e.panels.pack(tile_, trans_b, K, N, bits(b), ldb);
    return e.panels;
  }

  const Bf16Tile& tile_ = *bf16_tile();
  std::vector<BFloat16> rounded_ = std::vector<BFloat16>(kBq * kBk);
  std::vector<uint64_t> own_bits_ = std::vector<uint64_t>(kBq * kBk / 64);
  std::vector<Entry> packed_;
};
#endif

// Whether the causal mask leaves any key of [j0, ...) to the queries
// [i0, i0 + rows): the tile's first key must not lie beyond its last query.
template <class T>
bool tile_visible(const AttentionArgs<T>& a, int64_t i0, int64_t rows, int64_t j0) {
  return !a.causal || j0 <= i0 + rows - 1;
}

// s [rows, cols] = scale q[i0 + r] . k[j0 + c] + mask(i0 + r, j0 + c), and
// -inf where the causal mask hides key j0 + c from query i0 + r.
template <class T, class S, class O>
void score_tile(const AttentionArgs<S>& a, const HeadView<T, O>& hv, int64_t i0, int64_t rows,
                int64_t j0, int64_t cols, T* s, TileProducts<T, O>& products) {
  products.multiply(false, true, rows, cols, a.E, static_cast<T>(a.scale), hv.q + i0 * hv.q_row,
                    hv.q_row, hv.k + j0 * hv.k_row, hv.k_row, T(0), s, cols);
  if (hv.mask != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      const T* m = hv.mask + (i0 + r) * a.mask_row + j0 * a.mask_col;
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
// is kept by dropout, else 0: its draw (dropout_draws, the map of
// attention_dropout_block and attention_keep).
template <class T, class S>
void dropout_row(const AttentionArgs<S>& a, uint64_t first, int64_t cols, T* z) {
  const uint32_t threshold = dropout_threshold(1.0 - a.dropout_p);
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  uint32_t words[4 * (kBk / kDropoutDraws + 2)];  // ceil((first % 8 + cols) / 8) blocks
  DropoutDraws* d = dropout_draws(a.seed, a.offset, static_cast<int64_t>(first), cols, words);
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) z[c] = d[c] < threshold ? keep_scale : T(0);
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
// (x86 is little-endian); with AVX2, 8 floats are one byte (movemask, and
// back through a compare with each lane's bit); one element at a time
// elsewhere.
template <class T>
void pack_keep_bits(const T* z, int64_t cols, uint64_t* words) {
  std::fill_n(words, (cols + 63) / 64, uint64_t{0});
  int64_t c = 0;
  if constexpr (std::is_same_v<T, float>) {
#if defined(__AVX512F__) || defined(__AVX2__)
    auto* bytes = reinterpret_cast<unsigned char*>(words);
#endif
#if defined(__AVX512F__)
    for (; c + 16 <= cols; c += 16) {
      const __mmask16 kept =
          _mm512_cmp_ps_mask(_mm512_loadu_ps(z + c), _mm512_setzero_ps(), _CMP_NEQ_UQ);
      std::memcpy(bytes + c / 8, &kept, sizeof kept);
    }
#elif defined(__AVX2__)
    for (; c + 8 <= cols; c += 8) {
      const __m256 kept = _mm256_cmp_ps(_mm256_loadu_ps(z + c), _mm256_setzero_ps(), _CMP_NEQ_UQ);
      bytes[c / 8] = static_cast<unsigned char>(_mm256_movemask_ps(kept));
    }
#endif
  }
  for (; c < cols; ++c) words[c / 64] |= static_cast<uint64_t>(z[c] != T(0)) << (c % 64);
}

template <class T>
void unpack_keep_bits(const uint64_t* words, int64_t cols, T keep_scale, T* z) {
  int64_t c = 0;
  if constexpr (std::is_same_v<T, float>) {
#if defined(__AVX512F__) || defined(__AVX2__)
    const auto* bytes = reinterpret_cast<const unsigned char*>(words);
#endif
#if defined(__AVX512F__)
    const __m512 keep = _mm512_set1_ps(keep_scale);
    for (; c + 16 <= cols; c += 16) {
      __mmask16 kept = 0;
      std::memcpy(&kept, bytes + c / 8, sizeof kept);
      _mm512_storeu_ps(z + c, _mm512_maskz_mov_ps(kept, keep));
    }
#elif defined(__AVX2__)
    const __m256 keep = _mm256_set1_ps(keep_scale);
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    for (; c + 8 <= cols; c += 8) {
      const __m256i byte = _mm256_set1_epi32(bytes[c / 8]);
      const __m256i kept = _mm256_cmpeq_epi32(_mm256_and_si256(byte, lane_bit), lane_bit);
      _mm256_storeu_ps(z + c, _mm256_and_ps(_mm256_castsi256_ps(kept), keep));
    }
#endif
  }
  for (; c < cols; ++c) z[c] = (words[c / 64] >> (c % 64)) & 1 ? keep_scale : T(0);
}

// The forward's draw: z as dropout_row makes it, and its keep bits kept for
// the backward when the call has keep_bits.
template <class T, class S>
void draw_keep_row(const AttentionArgs<S>& a, int64_t h, int64_t i, int64_t j0, int64_t cols,
                   T* z) {
  dropout_row(a, flat_index(h, i, j0, a.L, a.S), cols, z);
  if (a.keep_bits != nullptr) pack_keep_bits(z, cols, keep_words(a, h, i, j0));
}

// The backward's: z from the forward's keep bits, or drawn again.
template <class T, class S>
void load_keep_row(const AttentionArgs<S>& a, int64_t h, int64_t i, int64_t j0, int64_t cols,
                   T* z) {
  if (a.keep_bits == nullptr) return dropout_row(a, flat_index(h, i, j0, a.L, a.S), cols, z);
  unpack_keep_bits(keep_words(a, h, i, j0), cols, T(1) / T(1 - a.dropout_p), z);
}

// The keep bits of score row i of head h from key j0 (a multiple of 64)
// over cols keys, drawn: written where the call keeps its bits, else into
// `own` (ceil(cols / 64) words). Bits past cols are 0, as pack_keep_bits
// leaves them.
template <class S>
const uint64_t* draw_keep_bits(const AttentionArgs<S>& a, int64_t h, int64_t i, int64_t j0,
                               int64_t cols, uint64_t* own) {
  uint64_t* bits = a.keep_bits != nullptr ? keep_words(a, h, i, j0) : own;
  const uint32_t threshold = dropout_threshold(1.0 - a.dropout_p);
  // Room for whole 64-draw words: a ragged row's last word reads slots past
  // its draws (unfilled), whose bits are masked off below.
  uint32_t words[4 * (kBk / kDropoutDraws + 2)];
  DropoutDraws* d = dropout_draws(
      a.seed, a.offset, static_cast<int64_t>(flat_index(h, i, j0, a.L, a.S)), cols, words);
  for (int64_t w = 0; w * 64 < cols; ++w) bits[w] = dropout_keep_word(d + w * 64, threshold);
  if (cols % 64 != 0) bits[cols / 64] &= (uint64_t{1} << (cols % 64)) - 1;
  return bits;
}

// The backward's keep bits of that row: the forward's, or drawn again.
template <class S>
const uint64_t* load_keep_bits(const AttentionArgs<S>& a, int64_t h, int64_t i, int64_t j0,
                               int64_t cols, uint64_t* own) {
  return a.keep_bits != nullptr ? keep_words(a, h, i, j0) : draw_keep_bits(a, h, i, j0, cols, own);
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

// Of the query tile from i0 of head h, the rows its out has: all but a
// packed sequence's rows past its end.
template <class S>
int64_t out_tile_rows(const AttentionArgs<S>& a, int64_t h, int64_t i0) {
  return std::clamp<int64_t>(stored_rows(a, h, a.L) - i0, 0, std::min(kBq, a.L - i0));
}

// Queries [i0, i0 + rows) of head hv.h: out rows o [out_tile_rows, Ev] at
// o_row and the lse of all rows (the rows past the head's query extent as
// rows that see no key). scratch holds kBq * kBk (scores / probabilities) +
// kBk (dropout scales) + 2 kBq (m, l).
template <class T, class S, class O, class Lse>
void forward_tile(const AttentionArgs<S>& a, const HeadView<T, O>& hv, int64_t i0, T* o,
                  int64_t o_row, Lse* lse, T* scratch, TileProducts<T, O>& products) {
  const int64_t h = hv.h;
  const int64_t rows = std::min(kBq, a.L - i0);
  const int64_t live = std::clamp<int64_t>(hv.extent.queries - i0, 0, rows);  // computed rows
  const int64_t out_rows = out_tile_rows(a, h, i0);
  T* p = scratch;
  T* z = p + kBq * kBk;
  T* m = z + kBk;
  T* l = m + kBq;
  const T keep_scale = T(1) / T(1 - a.dropout_p);
  std::fill_n(m, rows, kNegInf<T>);
  std::fill_n(l, rows, T(0));
  for (int64_t r = 0; r < out_rows; ++r) std::fill_n(o + r * o_row, a.Ev, T(0));  // unnormalised
  for (int64_t j0 = 0; live > 0 && j0 < hv.extent.keys && tile_visible(a, i0, live, j0);
       j0 += kBk) {
    const int64_t cols = std::min(kBk, hv.extent.keys - j0);
    score_tile(a, hv, i0, live, j0, cols, p, products);
    // kept [rows, cols]: the probabilities after dropout, unnormalised, as
    // the operand of o += kept v (in place of p when O is T, else rounded
    // into bfloat16).
    O* kept = products.operand_buffer(p);
    constexpr bool in_place = std::is_same_v<T, O>;
    for (int64_t r = 0; r < live; ++r) {
      T* pr = p + r * cols;
      O* kept_row = kept + r * cols;
      // A query skip_padded_queries hides (its own key masked) sees no key.
      const bool hidden = a.skip_padded_queries && hv.mask[(i0 + r) * a.mask_col] == kNegInf<T>;
      const T m_new = hidden ? kNegInf<T> : std::max(m[r], row_max(pr, cols));
      if (m_new == kNegInf<T>) {  // every key so far masked: nothing to add
        std::fill_n(pr, cols, T(0));
        if (!in_place) std::fill_n(kept_row, cols, O(0.0f));
        // The backward reads these bits but multiplies them by p = 0.
        if (a.dropout_p > 0 && a.keep_bits != nullptr) {
          std::fill_n(keep_words(a, h, i0 + r, j0), (cols + 63) / 64, uint64_t{0});
        }
        continue;
      }
      const T rescale = online_softmax_rescale(m[r], m_new);
      l[r] = l[r] * rescale + exp_in_place(pr, cols, m_new);
      m[r] = m_new;
      if (rescale != T(1)) scale_row(o + r * o_row, a.Ev, rescale);
      if (a.dropout_p == 0) continue;
      if constexpr (TileProducts<T, O>::kKeepBitRows) {
        products.kept_row(pr, cols,
                          draw_keep_bits(a, h, i0 + r, j0, cols, products.own_keep_bits(r)),
                          keep_scale, kept_row);
      } else {
        draw_keep_row(a, h, i0 + r, j0, cols, z);
        operand_row(pr, z, cols, kept_row);
      }
    }
    // Without dropout, rounded as one tile (a row at a time costs more).
    if (a.dropout_p == 0 && !in_place) {
      operand_row(p, static_cast<const T*>(nullptr), live * cols, kept);
    }
    // o [live, Ev] += kept [live, cols] v [cols, Ev]
    products.multiply(false, false, live, a.Ev, cols, T(1), kept, cols, hv.v + j0 * hv.v_row,
                      hv.v_row, T(1), o, o_row);
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (r < out_rows) scale_row(o + r * o_row, a.Ev, l[r] > T(0) ? T(1) / l[r] : T(0));
    lse[i0 + r] = static_cast<Lse>(attention_lse(m[r], l[r]));
  }
}

// The tile products' operands are O (T, or S = bfloat16 on a 16-bit tile).
template <class S, class O, class Lse>
void forward(const AttentionArgs<S>& a, S* out, Lse* lse) {
  using T = ComputeOf<S>;
  if (a.heads == 0 || a.L == 0) return;
  const int64_t q_tiles = tiles(a.L, kBq);
  const std::vector<HeadExtent> extents = head_extents<T>(a);
  auto work = [&](int64_t item) {  // of (head, query tile) item
    return query_tile_pairs(extents[item / q_tiles], item % q_tiles) * (a.E + a.Ev);
  };
  parallel_for_balanced(a.heads * q_tiles, kMinChunkWork, work, [&](int64_t begin, int64_t end) {
    std::vector<T> scratch(kBq * kBk + kBk + 2 * kBq);
    TileProducts<T, O> products;
    std::vector<T> rows_out(std::is_same_v<S, T> ? 0 : kBq * a.Ev);
    HeadReader<T, S, O> reader(a, extents);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t h = item / q_tiles, i0 = (item % q_tiles) * kBq;
      S* o = out + a.head_start(a.out_heads, a.out_row, h) + i0 * a.out_row;
      if constexpr (std::is_same_v<S, T>) {
        forward_tile(a, reader.head(h), i0, o, a.out_row, lse + h * a.L, scratch.data(), products);
      } else {  // computed in T, rounded into out once
        forward_tile(a, reader.head(h), i0, rows_out.data(), a.Ev, lse + h * a.L, scratch.data(),
                     products);
        narrow_rows(rows_out.data(), a.Ev, out_tile_rows(a, h, i0), a.Ev, o, a.out_row);
      }
    }
  });
}

// ---- backward -------------------------------------------------------------

// What the backward's tile step accumulates.
// kFirstQ / kFirstKV: the tile's grad_q / grad_k and grad_v products are
// the first into their rows, so they write them (beta 0) instead of adding:
// no gradient buffer is zeroed first.
enum Accumulate : unsigned { kGradQ = 1, kGradKV = 2, kFirstQ = 4, kFirstKV = 8 };

// The beta of a product into gradient rows that `first` says are new.
template <class T>
T accumulate_beta(unsigned what, unsigned first) {
  return (what & first) != 0 ? T(0) : T(1);
}

// Where one head's gradients accumulate, in T: grad_q [L, E], grad_k [S,
// E], grad_v [S, Ev] with rows q_row, k_row, v_row apart (the call's own
// gradients when S is T, else this thread's contiguous buffers, rounded
// into them when a row range is done).
template <class T>
struct HeadGrads {
  T *q, *k, *v;
  int64_t q_row, k_row, v_row;
};

// rows x cols elements, rows `row` apart, set to zero.
template <class T>
void zero_rows(T* p, int64_t rows, int64_t cols, int64_t row) {
  for (int64_t r = 0; r < rows; ++r) std::fill_n(p + r * row, cols, T(0.0f));
}

template <class T, class S, class O, class Lse>
struct Backward {
  const AttentionArgs<S>& a;
  const Lse* lse;  // [heads, L]
  const T* d;      // [heads, L]: rowsum(grad_out * out)

  // One [rows, cols] tile of head hv.h: queries from i0, keys from j0 (i0
  // and j0 within the head's extent, the tile cut at its end), with
  // the head's grad_out rows go (row stride go_row). scratch holds
  // 3 kBq * kBk values: p, the dropout scales z, and b (p z, then dP, then
  // dS; on a 16-bit tile p z and dS go rounded to the operand buffer).
  void tile(const HeadView<T, O>& hv, const O* go_head, int64_t go_row, const HeadGrads<T>& g,
            int64_t i0, int64_t j0, unsigned what, T* scratch, TileProducts<T, O>& products) const {
    const int64_t h = hv.h;
    const int64_t rows = std::min(kBq, hv.extent.queries - i0);
    const int64_t cols = std::min(kBk, hv.extent.keys - j0);
    T* p = scratch;
    T* z = p + kBq * kBk;
    T* b = z + kBq * kBk;
    // p = exp(s - lse): the forward's probabilities (0 on masked keys and on
    // rows without any key, whose lse is +inf).
    score_tile(a, hv, i0, rows, j0, cols, p, products);
    for (int64_t r = 0; r < rows; ++r) {
      T* pr = p + r * cols;
      const T row_lse = static_cast<T>(lse[h * a.L + i0 + r]);
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) pr[c] = vexp_nonpositive(pr[c] - row_lse);
    }
    const O* go = go_head + i0 * go_row;  // [rows, Ev]
    if constexpr (TileProducts<T, O>::kKeepBitRows) {
      return rest_from_keep_bits(hv, go, go_row, g, i0, j0, rows, cols, what, p, products);
    }
    const bool dropout = a.dropout_p > 0;
    if (dropout) {
      for (int64_t r = 0; r < rows; ++r) load_keep_row(a, h, i0 + r, j0, cols, z + r * cols);
    }
    if (what & kGradKV) {
      // kept [rows, cols]: the probabilities after dropout (p itself on the
      // float path without dropout, else made into b or rounded).
      O* kept = products.operand_buffer(dropout ? b : p);
      if (dropout || !std::is_same_v<T, O>) {
        operand_row(p, dropout ? z : nullptr, rows * cols, kept);  // the whole tile at once
      }
      // grad_v [cols, Ev] += kept^T [cols, rows] grad_out [rows, Ev]
      products.multiply(true, false, cols, a.Ev, rows, T(1), kept, cols, go, go_row,
                        accumulate_beta<T>(what, kFirstKV), g.v + j0 * g.v_row, g.v_row);
    }
    // b = dP [rows, cols] = grad_out [rows, Ev] v^T [Ev, cols] (times z under
    // dropout), then dS = p (dP - D), made as an operand (in place of b, or
    // rounded into bfloat16).
    products.multiply(false, true, rows, cols, a.Ev, T(1), go, go_row, hv.v + j0 * hv.v_row,
                      hv.v_row, T(0), b, cols);
    O* ds = products.operand_buffer(b);
    for (int64_t r = 0; r < rows; ++r) {
      const T* br = b + r * cols;
      const T* pr = p + r * cols;
      O* dsr = ds + r * cols;
      const T dr = d[h * a.L + i0 + r];
      if (dropout) {
        const T* zr = z + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) store_rounded(dsr, c, pr[c] * (br[c] * zr[c] - dr));
      } else {
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) store_rounded(dsr, c, pr[c] * (br[c] - dr));
      }
    }
    grad_q_k_products(hv, g, i0, j0, rows, cols, what, ds, products);
  }

  // grad_q [rows, E] += scale dS [rows, cols] k [cols, E] and grad_k [cols,
  // E] += scale dS^T [cols, rows] q [rows, E], as `what` asks.
  void grad_q_k_products(const HeadView<T, O>& hv, const HeadGrads<T>& g, int64_t i0, int64_t j0,
                         int64_t rows, int64_t cols, unsigned what, const O* ds,
                         TileProducts<T, O>& products) const {
    const T scale = static_cast<T>(a.scale);
    if (what & kGradQ) {
      products.multiply(false, false, rows, a.E, cols, scale, ds, cols, hv.k + j0 * hv.k_row,
                        hv.k_row, accumulate_beta<T>(what, kFirstQ), g.q + i0 * g.q_row, g.q_row);
    }
    if (what & kGradKV) {
      products.multiply(true, false, cols, a.E, rows, scale, ds, cols, hv.q + i0 * hv.q_row,
                        hv.q_row, accumulate_beta<T>(what, kFirstKV), g.k + j0 * g.k_row, g.k_row);
    }
  }

  // The rest of tile() from the probabilities p [rows, cols] where dropout
  // comes as keep bits (TileProducts::kKeepBitRows): the kept probabilities
  // and dS rounded into the operand buffer from p and dP (in b = p + 2 kBq
  // kBk) by the bits.
  void rest_from_keep_bits(const HeadView<T, O>& hv, const O* go, int64_t go_row,
                           const HeadGrads<T>& g, int64_t i0, int64_t j0, int64_t rows,
                           int64_t cols, unsigned what, T* p, TileProducts<T, O>& products) const {
    const int64_t h = hv.h;
    T* b = p + 2 * kBq * kBk;
    const T keep_scale = T(1) / T(1 - a.dropout_p);
    O* operand = products.operand_buffer(p);
    const uint64_t* bits[kBq] = {};  // null without dropout
    for (int64_t r = 0; a.dropout_p > 0 && r < rows; ++r) {
      bits[r] = load_keep_bits(a, h, i0 + r, j0, cols, products.own_keep_bits(r));
    }
    if (what & kGradKV) {  // grad_v [cols, Ev] += kept^T [cols, rows] grad_out [rows, Ev]
      if (a.dropout_p > 0) {
        for (int64_t r = 0; r < rows; ++r) {
          products.kept_row(p + r * cols, cols, bits[r], keep_scale, operand + r * cols);
        }
      } else {
        operand_row(p, static_cast<const T*>(nullptr), rows * cols, operand);
      }
      products.multiply(true, false, cols, a.Ev, rows, T(1), operand, cols, go, go_row,
                        accumulate_beta<T>(what, kFirstKV), g.v + j0 * g.v_row, g.v_row);
    }
    // b = dP [rows, cols] = grad_out [rows, Ev] v^T [Ev, cols]
    products.multiply(false, true, rows, cols, a.Ev, T(1), go, go_row, hv.v + j0 * hv.v_row,
                      hv.v_row, T(0), b, cols);
    for (int64_t r = 0; r < rows; ++r) {
      products.score_gradient_row(p + r * cols, b + r * cols, cols, bits[r], keep_scale,
                                  d[h * a.L + i0 + r], operand + r * cols);
    }
    grad_q_k_products(hv, g, i0, j0, rows, cols, what, operand, products);
  }
};

// The gradients of head h as HeadGrads: the call's own (S is T), or this
// thread's T buffers, whose rows done() rounds into the call's.
template <class T, class S>
class GradWriter {
 public:
  GradWriter(const AttentionArgs<S>& a, S* grad_q, S* grad_k, S* grad_v)
      : a_(a), grad_q_(grad_q), grad_k_(grad_k), grad_v_(grad_v) {
    if constexpr (!std::is_same_v<S, T>) {
      q_.resize(a.L * a.E);
      k_.resize(a.S * a.E);
      v_.resize(a.S * a.Ev);
    }
  }

  HeadGrads<T> head(int64_t h) {
    if constexpr (std::is_same_v<S, T>) {
      return {grad_q_ + a_.head_start(a_.grad_q_heads, a_.grad_q_row, h),
              grad_k_ + a_.head_start(a_.grad_k_heads, a_.grad_k_row, h),
              grad_v_ + a_.head_start(a_.grad_v_heads, a_.grad_v_row, h),
              a_.grad_q_row,
              a_.grad_k_row,
              a_.grad_v_row};
    } else {
      return {q_.data(), k_.data(), v_.data(), a_.E, a_.E, a_.Ev};
    }
  }

  // Query rows [i0, i1) of grad_q and key rows [j0, j1) of grad_k, grad_v
  // of head h are complete (the stored ones among them: stored_rows).
  void done(int64_t h, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if constexpr (!std::is_same_v<S, T>) {
      i1 = std::min(i1, stored_rows(a_, h, a_.L));
      j1 = std::min(j1, stored_rows(a_, h, a_.S));
      narrow_rows(q_.data() + i0 * a_.E, a_.E, std::max<int64_t>(0, i1 - i0), a_.E,
                  grad_q_ + a_.head_start(a_.grad_q_heads, a_.grad_q_row, h) + i0 * a_.grad_q_row,
                  a_.grad_q_row);
      narrow_rows(k_.data() + j0 * a_.E, a_.E, std::max<int64_t>(0, j1 - j0), a_.E,
                  grad_k_ + a_.head_start(a_.grad_k_heads, a_.grad_k_row, h) + j0 * a_.grad_k_row,
                  a_.grad_k_row);
      narrow_rows(v_.data() + j0 * a_.Ev, a_.Ev, std::max<int64_t>(0, j1 - j0), a_.Ev,
                  grad_v_ + a_.head_start(a_.grad_v_heads, a_.grad_v_row, h) + j0 * a_.grad_v_row,
                  a_.grad_v_row);
    }
  }

 private:
  const AttentionArgs<S>& a_;
  S *grad_q_, *grad_k_, *grad_v_;
  std::vector<T> q_, k_, v_;
};

template <class S, class O, class Lse>
void backward(const AttentionArgs<S>& a, const S* out, const Lse* lse, const S* grad_out, S* grad_q,
              S* grad_k, S* grad_v) {
  using T = ComputeOf<S>;
  if (a.heads == 0 || a.L == 0 || a.S == 0) {  // nothing to attend: zero gradients
    for (int64_t h = 0; h < a.heads; ++h) {
      zero_rows(grad_q + a.head_start(a.grad_q_heads, a.grad_q_row, h), stored_rows(a, h, a.L), a.E,
                a.grad_q_row);
      zero_rows(grad_k + a.head_start(a.grad_k_heads, a.grad_k_row, h), stored_rows(a, h, a.S), a.E,
                a.grad_k_row);
      zero_rows(grad_v + a.head_start(a.grad_v_heads, a.grad_v_row, h), stored_rows(a, h, a.S),
                a.Ev, a.grad_v_row);
    }
    return;
  }
  // D [heads, L] = rowsum(grad_out * out): the sum over keys of p dP, which
  // dS = p (dP - D) subtracts (it holds with dropout too, since out is the
  // output after dropout; 0 on rows a packed sequence does not have).
  std::vector<T> d(a.heads * a.L);
  parallel_for(0, a.heads * a.L, std::max<int64_t>(1, kDefaultGrain / std::max<int64_t>(a.Ev, 1)),
               [&](int64_t begin, int64_t end) {
                 int64_t head = -1, head_at = 0, rows = 0;  // the row's head, offset and rows
                 for (int64_t row = begin; row < end; ++row) {
                   const int64_t h = row / a.L;
                   if (h != head) {
                     head = h;
                     head_at = a.head_start(a.out_heads, a.out_row, h);
                     rows = stored_rows(a, h, a.L);
                   }
                   if (row - h * a.L >= rows) {
                     d[row] = 0;
                     continue;
                   }
                   const int64_t at = head_at + (row - h * a.L) * a.out_row;
                   const S* go = grad_out + at;
                   const S* o = out + at;
                   T sum = 0;
#pragma omp simd reduction(+ : sum)
                   for (int64_t e = 0; e < a.Ev; ++e) {
                     sum += static_cast<T>(go[e]) * static_cast<T>(o[e]);
                   }
                   d[row] = sum;
                 }
               });
  const Backward<T, S, O, Lse> bw{a, lse, d.data()};
  const int64_t q_tiles = tiles(a.L, kBq), k_tiles = tiles(a.S, kBk);
  const std::vector<HeadExtent> extents = head_extents<T>(a);
  const int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Each thread's scratch, head reader and gradient writer around body(item).
  auto per_thread = [&](auto&& body) {
    return [&, body](int64_t begin, int64_t end) {
      std::vector<T> scratch(3 * kBq * kBk);
      TileProducts<T, O> products;
      HeadReader<T, S, O> reader(a, extents, grad_out);
      GradWriter<T, S> writer(a, grad_q, grad_k, grad_v);
      for (int64_t item = begin; item < end; ++item) {
        body(item, reader, writer, scratch.data(), products);
      }
    };
  };
  // Gradient rows [from, to) that no tile wrote, zeroed: of grad_q, or of
  // grad_k and grad_v.
  auto zero_query_rows = [&](const HeadGrads<T>& g, int64_t from, int64_t to) {
    zero_rows(g.q + from * g.q_row, std::max<int64_t>(0, to - from), a.E, g.q_row);
  };
  auto zero_key_rows = [&](const HeadGrads<T>& g, int64_t from, int64_t to) {
    zero_rows(g.k + from * g.k_row, std::max<int64_t>(0, to - from), a.E, g.k_row);
    zero_rows(g.v + from * g.v_row, std::max<int64_t>(0, to - from), a.Ev, g.v_row);
  };
  // Whether tile (i0, j0) of head hv holds a score to compute.
  auto tile_live = [&](const HeadView<T, O>& hv, int64_t i0, int64_t j0) {
    const HeadExtent& e = hv.extent;
    return i0 < e.queries && j0 < e.keys && tile_visible(a, i0, std::min(kBq, e.queries - i0), j0);
  };
  if (a.heads % threads == 0 || a.heads >= 4 * threads) {
    // One pass, a whole head per item: the thread owns the head's grad_q,
    // grad_k and grad_v, so every tile adds into all three without races.
    auto head_work = [&](int64_t h) {
      return extents[h].queries * extents[h].keys * (3 * a.E + 2 * a.Ev);
    };
    parallel_for_balanced(
        a.heads, kMinChunkWork, head_work,
        per_thread([&](int64_t h, HeadReader<T, S, O>& reader, GradWriter<T, S>& writer, T* scratch,
                       TileProducts<T, O>& products) {
          const HeadView<T, O> hv = reader.head(h);
          const auto [go, go_row] = reader.grad_out(h);
          const HeadGrads<T> g = writer.head(h);
          // The first tile into each gradient row writes it (every query
          // row's is in key tile 0); the rows no tile reaches are zeroed.
          const HeadExtent& e = hv.extent;
          const int64_t keys = stored_rows(a, h, a.S);
          for (int64_t j0 = 0; j0 < a.S; j0 += kBk) {
            unsigned first_kv = kFirstKV;
            for (int64_t i0 = 0; i0 < a.L; i0 += kBq) {
              if (!tile_live(hv, i0, j0)) continue;
              bw.tile(hv, go, go_row, g, i0, j0,
                      kGradQ | kGradKV | first_kv | (j0 == 0 ? kFirstQ : 0U), scratch, products);
              first_kv = 0;
            }
            const int64_t end = std::min(j0 + kBk, keys);
            zero_key_rows(g, first_kv != 0 ? j0 : std::min(end, e.keys), end);
          }
          zero_query_rows(g, e.keys > 0 ? e.queries : 0, stored_rows(a, h, a.L));
          writer.done(h, 0, a.L, 0, a.S);
        }));
    return;
  }
  // Too few heads to share out: two passes, each parallel over tiles. The
  // first owns a key tile (grad_k, grad_v rows) and walks the queries, the
  // second owns a query tile (grad_q rows) and walks the keys; the scores and
  // dP are computed twice (7 tile products instead of 5).
  auto key_tile_work = [&](int64_t item) {  // of (head, key tile) item
    return key_tile_pairs(extents[item / k_tiles], item % k_tiles) * (2 * a.E + 2 * a.Ev);
  };
  parallel_for_balanced(
      a.heads * k_tiles, kMinChunkWork, key_tile_work,
      per_thread([&](int64_t item, HeadReader<T, S, O>& reader, GradWriter<T, S>& writer,
                     T* scratch, TileProducts<T, O>& products) {
        const int64_t h = item / k_tiles, j0 = (item % k_tiles) * kBk;
        const int64_t cols = std::clamp<int64_t>(stored_rows(a, h, a.S) - j0, 0, kBk);
        const HeadView<T, O> hv = reader.head(h);
        const auto [go, go_row] = reader.grad_out(h);
        const HeadGrads<T> g = writer.head(h);
        unsigned first_kv = kFirstKV;
        for (int64_t i0 = 0; i0 < a.L; i0 += kBq) {
          if (!tile_live(hv, i0, j0)) continue;
          bw.tile(hv, go, go_row, g, i0, j0, kGradKV | first_kv, scratch, products);
          first_kv = 0;
        }
        zero_key_rows(g, first_kv != 0 ? j0 : std::min(j0 + cols, hv.extent.keys), j0 + cols);
        writer.done(h, 0, 0, j0, j0 + cols);
      }));
  auto query_tile_work = [&](int64_t item) {  // of (head, query tile) item
    return query_tile_pairs(extents[item / q_tiles], item % q_tiles) * (2 * a.E + a.Ev);
  };
  parallel_for_balanced(
      a.heads * q_tiles, kMinChunkWork, query_tile_work,
      per_thread([&](int64_t item, HeadReader<T, S, O>& reader, GradWriter<T, S>& writer,
                     T* scratch, TileProducts<T, O>& products) {
        const int64_t h = item / q_tiles, i0 = (item % q_tiles) * kBq;
        const int64_t rows = std::clamp<int64_t>(stored_rows(a, h, a.L) - i0, 0, kBq);
        const HeadView<T, O> hv = reader.head(h);
        const auto [go, go_row] = reader.grad_out(h);
        const HeadGrads<T> g = writer.head(h);
        unsigned first_q = kFirstQ;
        for (int64_t j0 = 0; j0 < a.S; j0 += kBk) {
          if (!tile_live(hv, i0, j0)) continue;
          bw.tile(hv, go, go_row, g, i0, j0, kGradQ | first_q, scratch, products);
          first_q = 0;
        }
        zero_query_rows(g, first_q != 0 ? i0 : std::min(i0 + rows, hv.extent.queries), i0 + rows);
        writer.done(h, i0, i0 + rows, 0, 0);
      }));
}

#if TOADSTOOL_BF16_KERNELS
// bfloat16 calls multiply their tiles in bfloat16 where the CPU's bfloat16
// GEMM path has a 16-bit tile (gemm_bf16.h) and a head's E and Ev fit one
// packed block of it, else widened to float32.
bool bf16_tile_products(const AttentionArgs<BFloat16>& a) {
  return bf16_tile() != nullptr && a.E <= kBf16PackedMaxK && a.Ev <= kBf16PackedMaxK;
}
#endif

}  // namespace

void attention_forward(const AttentionArgs<float>& a, float* out, float* lse) {
  forward<float, float>(a, out, lse);
}
void attention_forward(const AttentionArgs<double>& a, double* out, double* lse) {
  forward<double, double>(a, out, lse);
}
void attention_backward(const AttentionArgs<float>& a, const float* out, const float* lse,
                        const float* grad_out, float* grad_q, float* grad_k, float* grad_v) {
  backward<float, float>(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}
void attention_backward(const AttentionArgs<double>& a, const double* out, const double* lse,
                        const double* grad_out, double* grad_q, double* grad_k, double* grad_v) {
  backward<double, double>(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}
void attention_forward(const AttentionArgs<BFloat16>& a, BFloat16* out, float* lse) {
#if TOADSTOOL_BF16_KERNELS
  if (bf16_tile_products(a)) return forward<BFloat16, BFloat16>(a, out, lse);
#endif
  forward<BFloat16, float>(a, out, lse);
}
void attention_forward(const AttentionArgs<Half>& a, Half* out, float* lse) {
  forward<Half, float>(a, out, lse);
}
void attention_backward(const AttentionArgs<BFloat16>& a, const BFloat16* out, const float* lse,
                        const BFloat16* grad_out, BFloat16* grad_q, BFloat16* grad_k,
                        BFloat16* grad_v) {
#if TOADSTOOL_BF16_KERNELS
  if (bf16_tile_products(a)) {
    return backward<BFloat16, BFloat16>(a, out, lse, grad_out, grad_q, grad_k, grad_v);
  }
#endif
  backward<BFloat16, float>(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}
void attention_backward(const AttentionArgs<Half>& a, const Half* out, const float* lse,
                        const Half* grad_out, Half* grad_q, Half* grad_k, Half* grad_v) {
  backward<Half, float>(a, out, lse, grad_out, grad_q, grad_k, grad_v);
}

}  // namespace toadstool::kernels::cpu
