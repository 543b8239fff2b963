// The packed bfloat16 GEMM's loop nest (gemm_bf16_packed.h), outermost
// first, as gemm_packed.cpp's:
//
//   jc: columns of C in blocks of kNC
//     pc: K in blocks of kKC
//       pack op(B)[pc:+kc, jc:+nc] into kBf16NR-wide pair panels   L2, shared by the team
//       ic: blocks of up to 8 tiles of rows, taken by whichever thread is free
//         pack op(A)[ic:+mc, pc:+kc] into zero-padded rows (unless read in place)
//         ir: one tile of rows
//           jr: one panel -> the micro-kernel
//
// Float32 accumulation everywhere: a product with K <= kKC rounds each tile
// to bfloat16 once, in the micro-kernel; a longer K sums its blocks in a
// float32 [M, N] buffer and rounds that once at the end.
#include "toadstool/kernels/cpu/gemm_bf16_packed.h"

#if TOADSTOOL_BF16_KERNELS

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "toadstool/kernels/cpu/gemm_rows.h"
#include "toadstool/kernels/cpu/intrinsics.h"
#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/cpu/scratch.h"
#include "toadstool/kernels/half.h"

namespace toadstool::kernels::cpu {

namespace {

// A B panel of kKC steps is 256 pairs x 32 words = 32 KB (L1), as the
// float32 kernel's 256-step panel; a B block of kKC x kNC is 1 MB (L2).
constexpr int64_t kKC = kBf16PackedMaxK;
constexpr int64_t kNC = 1024;
// Rows taken (and A packed) up to this many tiles at a time.
constexpr int64_t kTilesPerBlock = 8;
// Rows per thread below which the team splits the columns instead.
constexpr int64_t kMinTilesPerThread = 4;

thread_local Scratch t_packed_a;
thread_local Scratch t_packed_b;
thread_local Scratch t_sums;

// One product of the call: op(A)[M, K] op(B)[K, N] written through `out`.
struct Product {
  bool trans_a, trans_b;
  int64_t M, N, K;
  const uint16_t* A;
  int64_t lda;
  const uint16_t* B;
  int64_t ldb;
  Bf16Out out;

  int64_t a_row() const { return trans_a ? 1 : lda; }
  int64_t a_k() const { return trans_a ? lda : 1; }
  int64_t b_k() const { return trans_b ? 1 : ldb; }
  int64_t b_col() const { return trans_b ? ldb : 1; }

  Product cols(int64_t begin, int64_t end) const {
    Product part = *this;
    part.N = end - begin;
    part.B = B + begin * b_col();
    part.out = out_at(out, 0, begin);
    return part;
  }

  static Bf16Out out_at(const Bf16Out& o, int64_t i, int64_t j) {
    Bf16Out at = o;
    const int64_t offset = i * o.ldc + j;
    at.c = o.fp32 ? static_cast<void*>(static_cast<float*>(o.c) + offset)
                  : static_cast<void*>(static_cast<uint16_t*>(o.c) + offset);
    if (o.bias != nullptr) at.bias = o.bias + j;
    return at;
  }
};

// _mm512_permutex2var_epi16 indices that interleave two rows of 32 values
// (even, odd) into pair words: words 0-15 of the result (kPairsLow) hold
// (even[j], odd[j]) for j < 16, kPairsHigh's for j = 16..31.
alignas(64) constexpr uint16_t kPairsLow[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,
                                                37, 6,  38, 7,  39, 8,  40, 9,  41, 10, 42,
                                                11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
alignas(64) constexpr uint16_t kPairsHigh[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21,
                                                 53, 22, 54, 23, 55, 24, 56, 25, 57, 26, 58,
                                                 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};

// Rows 2q and 2q + 1 of a [kc, w] block (element (k, j) at src[k * stride_k
// + j], each k's values contiguous) interleaved into pair rows: word (q, j)
// at out + q * pitch + 2 j, for j < width (a multiple of 32; zeros past w
// and past kc), q < kcp / 2. B [K, N]'s panels (width 32, pitch 64) and A
// [K, M]'s blocks for AVX-512 (pitch 2 * width) are packed so.
void interleave_pairs(const uint16_t* src, int64_t stride_k, int64_t w, int64_t width, int64_t kc,
                      int64_t kcp, int64_t pitch, uint16_t* out) {
  const __m512i low = _mm512_load_si512(kPairsLow), high = _mm512_load_si512(kPairsHigh);
  for (int64_t j = 0; j < width; j += 32) {
    const int64_t n = std::clamp<int64_t>(w - j, 0, 32);
    const __mmask32 mask = n == 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1;
    for (int64_t q = 0; q < kcp / 2; ++q) {
      const int64_t k = 2 * q;
      const __m512i even =
          k < kc ? _mm512_maskz_loadu_epi16(mask, src + k * stride_k + j) : _mm512_setzero_si512();
      const __m512i odd = k + 1 < kc ? _mm512_maskz_loadu_epi16(mask, src + (k + 1) * stride_k + j)
                                     : _mm512_setzero_si512();
      uint16_t* row = out + q * pitch + 2 * j;
      _mm512_storeu_si512(row, _mm512_permutex2var_epi16(even, low, odd));
      _mm512_storeu_si512(row + 32, _mm512_permutex2var_epi16(even, high, odd));
    }
  }
}

// The 16 x 16 matrix of 32-bit words whose rows are r[0..15], transposed in
// place: 4 x 4 transposes inside each 128-bit lane (rows 4g..4g+3 give
// c[g][k], lane L holding their column 4L + k), then a 4 x 4 transpose of
// the lanes of c[0..3][k].
void transpose_words_16x16(
    __m512i (&r)[16]) {  // NOLINT(*-avoid-c-arrays): std::array drops __m512i's alignment attribute
  __m512i c[4][4];
  for (int g = 0; g < 4; ++g) {
    const __m512i lo01 = _mm512_unpacklo_epi32(r[4 * g], r[4 * g + 1]);
    const __m512i hi01 = _mm512_unpackhi_epi32(r[4 * g], r[4 * g + 1]);
    const __m512i lo23 = _mm512_unpacklo_epi32(r[4 * g + 2], r[4 * g + 3]);
    const __m512i hi23 = _mm512_unpackhi_epi32(r[4 * g + 2], r[4 * g + 3]);
    c[g][0] = _mm512_unpacklo_epi64(lo01, lo23);
    c[g][1] = _mm512_unpackhi_epi64(lo01, lo23);
    c[g][2] = _mm512_unpacklo_epi64(hi01, hi23);
    c[g][3] = _mm512_unpackhi_epi64(hi01, hi23);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512i x0 = _mm512_shuffle_i32x4(c[0][k], c[1][k], 0x44);  // c0.L0 c0.L1 c1.L0 c1.L1
    const __m512i x1 = _mm512_shuffle_i32x4(c[0][k], c[1][k], 0xEE);  // c0.L2 c0.L3 c1.L2 c1.L3
    const __m512i x2 = _mm512_shuffle_i32x4(c[2][k], c[3][k], 0x44);
    const __m512i x3 = _mm512_shuffle_i32x4(c[2][k], c[3][k], 0xEE);
    r[k] = _mm512_shuffle_i32x4(x0, x2, 0x88);       // lane 0 of c0..c3: column k
    r[4 + k] = _mm512_shuffle_i32x4(x0, x2, 0xDD);   // lane 1: column 4 + k
    r[8 + k] = _mm512_shuffle_i32x4(x1, x3, 0x88);   // lane 2
    r[12 + k] = _mm512_shuffle_i32x4(x1, x3, 0xDD);  // lane 3
  }
}

// One panel of op(B): its [kc, w] block (w <= kBf16NR), element (k, j) at
// src[k * stride_k + j * stride_j], into kcp / 2 rows of 32 pair words
// (zeros past kc and w).
void pack_b_panel(const uint16_t* src, int64_t stride_k, int64_t stride_j, int64_t w, int64_t kc,
                  int64_t kcp, uint16_t* out) {
  if (stride_j == 1) {  // B stored [K, N]
    interleave_pairs(src, stride_k, w, kBf16NR, kc, kcp, 2 * kBf16NR, out);
    return;
  }
  // B stored [N, K]: a pair is the two values of one column (a row of the
  // stored B) at 2q, 2q + 1, a 32-bit word. 16 columns x 16 pairs at a time
  // are loaded as 16 rows of words (zeros past w and kc) and transposed.
  const int64_t pairs = kcp / 2;
  for (int64_t j0 = 0; j0 < kBf16NR; j0 += 16) {
    for (int64_t q0 = 0; q0 < pairs; q0 += 16) {
      const int64_t values = std::clamp<int64_t>(kc - 2 * q0, 0, 32);  // of each row here
      const __mmask32 mask = values == 32 ? ~__mmask32{0} : (__mmask32{1} << values) - 1;
      __m512i words[16];  // NOLINT(*-avoid-c-arrays): as transpose_words_16x16's
      for (int64_t jj = 0; jj < 16; ++jj) {
        words[jj] = j0 + jj < w
                        ? _mm512_maskz_loadu_epi16(mask, src + (j0 + jj) * stride_j + 2 * q0)
                        : _mm512_setzero_si512();
      }
      transpose_words_16x16(words);
      for (int64_t qq = 0; qq < std::min<int64_t>(16, pairs - q0); ++qq) {
        _mm512_storeu_si512(out + (q0 + qq) * 2 * kBf16NR + 2 * j0, words[qq]);
      }
    }
  }
}

// Panels first, first + step, ... of op(B)'s [kc, size] block; panel p at
// out + p * kBf16NR * kcp.
void pack_b_block(const Product& g, int64_t pc, int64_t jc, int64_t nc, int64_t kc, int64_t kcp,
                  uint16_t* out, int64_t first, int64_t step) {
  const uint16_t* src = g.B + pc * g.b_k() + jc * g.b_col();
  for (int64_t p = first; p * kBf16NR < nc; p += step) {
    pack_b_panel(src + p * kBf16NR * g.b_col(), g.b_k(), g.b_col(),
                 std::min(kBf16NR, nc - p * kBf16NR), kc, kcp, out + p * kBf16NR * kcp);
  }
}

// Rows [0, mc) of op(A) over kc steps, element (i, k) at a[i * a_row + k *
// a_k], into row-major [round_up(mc, mr), ld] (ld >= kc), zero-padded; mr
// a multiple of 16, and ld of 32 when A is stored [K, M] (a_row == 1: the
// AMX tile's, whose k_pad is 32).
void pack_a_block(const uint16_t* a, int64_t a_row, int64_t a_k, int64_t mc, int64_t mr, int64_t kc,
                  int64_t ld, uint16_t* out) {
  const int64_t rows = round_up(mc, mr);
  if (a_k == 1) {  // A stored [M, K]: each row's kc values are contiguous
    std::fill_n(out + mc * ld, (rows - mc) * ld, uint16_t{0});
    for (int64_t i = 0; i < mc; ++i) {
      std::memcpy(out + i * ld, a + i * a_row, kc * sizeof(uint16_t));
      std::fill_n(out + i * ld + kc, ld - kc, uint16_t{0});
    }
    return;
  }
  // A stored [K, M]: 16 rows x 16 pairs at a time, the pair words formed
  // from two stored rows (k = 2q, 2q + 1: 16 values of i each, zeros past
  // mc and kc) and transposed, as B [N, K]'s panels are.
  const __m512i low = _mm512_load_si512(kPairsLow);
  for (int64_t i0 = 0; i0 < rows; i0 += 16) {
    const int64_t values = std::clamp<int64_t>(mc - i0, 0, 16);
    const __mmask32 mask = (__mmask32{1} << values) - 1;
    for (int64_t q0 = 0; 2 * q0 < ld; q0 += 16) {
      __m512i words[16];  // NOLINT(*-avoid-c-arrays): as transpose_words_16x16's
      for (int64_t qq = 0; qq < 16; ++qq) {
        const int64_t k = 2 * (q0 + qq);
        const __m512i even =
            k < kc ? _mm512_maskz_loadu_epi16(mask, a + k * a_k + i0) : _mm512_setzero_si512();
        const __m512i odd = k + 1 < kc ? _mm512_maskz_loadu_epi16(mask, a + (k + 1) * a_k + i0)
                                       : _mm512_setzero_si512();
        words[qq] = _mm512_permutex2var_epi16(even, low, odd);
      }
      transpose_words_16x16(words);
      for (int64_t ii = 0; ii < 16; ++ii)
        _mm512_storeu_si512(out + (i0 + ii) * ld + 2 * q0, words[ii]);
    }
  }
}

// Where a block of A is read: pairs (i, q) at a + i * row + q * pair.
struct ABlock {
  const uint16_t* a;
  int64_t row, pair;
};

// Rows [0, mc) of op(A) over kc steps (element (i, k) at a[i * a_row + k *
// a_k]) as `tile` reads them: in place when it can (A [M, K]; for AVX-512
// rows not a multiple of 2 KB apart: those would share a few L1 sets; for
// AMX, whose tiles load rows at any stride, whole tiles: mc a multiple of
// its rows and kc of its k padding), pair rows for AVX-512 from A [K, M],
// zero-padded rows of kcp otherwise (AMX).
ABlock block_of_a(const uint16_t* a, int64_t a_row, int64_t a_k, int64_t mc, int64_t kc,
                  int64_t kcp, const Bf16Tile& tile, uint16_t* packed) {
  if (tile.a_pairs && a_k == 1 && (a_row * 2) % 2048 != 0) return {a, a_row, 2};
  if (!tile.a_pairs && a_k == 1 && mc % tile.mr == 0 && kc == kcp) return {a, a_row, 2};
  if (tile.a_pairs && a_row == 1) {
    const int64_t width = round_up(mc, 32);
    interleave_pairs(a, a_k, mc, width, kc, kcp, 2 * width, packed);
    return {packed, 2, 2 * width};
  }
  pack_a_block(a, a_row, a_k, mc, tile.mr, kc, kcp, packed);
  return {packed, kcp, 2};
}

// Memory to read soon, fetched (into L2) a few lines at a time between tile
// products, so that operands that are not in cache arrive while tiles
// multiply instead of stalling the packing or the micro-kernel: `rows` rows
// of `row_values` bfloat16 values, `row_stride` values apart.
class AheadFetch {
 public:
  AheadFetch() = default;
  AheadFetch(const uint16_t* base, int64_t row_stride, int64_t row_values, int64_t rows)
      : row_(reinterpret_cast<const char*>(base)),
        row_bytes_(row_stride * 2),
        lines_per_row_((row_values * 2 + 63) / 64),
        rows_left_(rows) {}
  // All its lines, before any is fetched.
  int64_t lines() const { return lines_per_row_ * rows_left_; }
  // The next n lines (none once all are asked for).
  void fetch(int64_t n) {
    for (; n > 0 && rows_left_ > 0; --n) {
      __builtin_prefetch(row_ + line_ * 64, 0, 2);
      if (++line_ == lines_per_row_) {
        line_ = 0;
        row_ += row_bytes_;
        --rows_left_;
      }
    }
  }

 private:
  const char* row_ = nullptr;  // the row of the next line
  int64_t row_bytes_ = 0, lines_per_row_ = 1, rows_left_ = 0, line_ = 0;
};

// The next K block's rows of A and B where they are stored along K (A [K,
// M], B [K, N]), this thread's share: fetched while the current block
// multiplies.
struct NextBlock {
  AheadFetch a, b;

  NextBlock(const Product& g, int64_t jc, int64_t nc, int64_t next_pc, int thread, int threads) {
    if (next_pc >= g.K) return;
    const int64_t kc = std::min(kKC, g.K - next_pc);
    const auto [begin, end] = even_share(kc, 1, thread, threads);
    if (g.trans_a) a = AheadFetch(g.A + (next_pc + begin) * g.lda, g.lda, g.M, end - begin);
    if (!g.trans_b) {
      b = AheadFetch(g.B + (next_pc + begin) * g.ldb + jc, g.ldb, nc, end - begin);
    }
  }
  int64_t lines() const { return a.lines() + b.lines(); }
};

// The rows of g this thread takes (all of them when next_row is null)
// against one packed block of B: columns [jc, jc + nc), steps [pc, pc + kc)
// padded to kcp; `next` spread over its tiles. A read in place has the next
// tile's rows fetched over the current one's panels.
void multiply_block_rows(const Product& g, const Bf16Tile& tile, const uint16_t* packed_b,
                         int64_t jc, int64_t nc, int64_t pc, int64_t kc, int64_t kcp,
                         const Bf16Out& out, std::atomic<int64_t>* next_row, int threads,
                         NextBlock* next) {
  uint16_t* packed_a = t_packed_a.get<uint16_t>(round_up(kTilesPerBlock * tile.mr, 32) *
                                                round_up(std::min(kKC, g.K), tile.k_pad));
  const int64_t panels = (nc + kBf16NR - 1) / kBf16NR;
  const int64_t tiles = std::max<int64_t>(1, (g.M + tile.mr - 1) / tile.mr * panels / threads);
  const int64_t next_per_tile = next == nullptr ? 0 : (next->lines() + tiles - 1) / tiles;
  int64_t own_next = 0;
  while (true) {
    const auto [ic, ic_end] =
        take_rows(next_row, own_next, g.M, tile.mr, kTilesPerBlock * tile.mr, threads);
    if (ic >= ic_end) break;
    const int64_t mc = ic_end - ic;
    const uint16_t* stored = g.A + ic * g.a_row() + pc * g.a_k();
    const ABlock a = block_of_a(stored, g.a_row(), g.a_k(), mc, kc, kcp, tile, packed_a);
    for (int64_t ir = 0; ir < mc; ir += tile.mr) {
      const int64_t rows = std::min(tile.mr, mc - ir);
      AheadFetch next_rows;
      if (tile.fetch_ahead && a.a == stored) {
        const int64_t first = ic + ir + tile.mr;
        next_rows = AheadFetch(stored + (ir + tile.mr) * a.row, a.row, kc,
                               std::clamp<int64_t>(g.M - first, 0, tile.mr));
      }
      const int64_t next_rows_per_panel = (next_rows.lines() + panels - 1) / panels;
      for (int64_t jr = 0; jr < nc; jr += kBf16NR) {
        tile.kernel(rows, kc, a.a + ir * a.row, a.row, a.pair, packed_b + jr * kcp,
                    std::min(kBf16NR, nc - jr), Product::out_at(out, ic + ir, jc + jr));
        next_rows.fetch(next_rows_per_panel);
        if (next != nullptr) {
          next->a.fetch(next_per_tile);
          next->b.fetch(next_per_tile);
        }
      }
    }
  }
}

// Thread `thread`'s part of g: the team packs each B block together (panel
// p by thread p % threads), then each thread multiplies the rows it takes.
// `next_row` is the team's row counter, null when threads == 1.
void multiply_rows(const Product& g, const Bf16Tile& tile, uint16_t* packed_b, int thread,
                   int threads, std::atomic<int64_t>* next_row) {
  if (tile.begin != nullptr) tile.begin();
  for (int64_t jc = 0; jc < g.N; jc += kNC) {
    const int64_t nc = std::min(kNC, g.N - jc);
    for (int64_t pc = 0; pc < g.K; pc += kKC) {
      const int64_t kc = std::min(kKC, g.K - pc);
      const int64_t kcp = round_up(kc, tile.k_pad);
      Bf16Out out = g.out;
      if (pc > 0) out.beta = 1.0f;  // later blocks add to the float32 sums
      pack_b_block(g, pc, jc, nc, kc, kcp, packed_b, thread, threads);
      team_barrier(threads);
      NextBlock next(g, jc, nc, pc + kc, thread, threads);
      multiply_block_rows(g, tile, packed_b, jc, nc, pc, kc, kcp, out, next_row, threads,
                          tile.fetch_ahead ? &next : nullptr);
      team_barrier(threads);  // all rows done: the next block may overwrite packed_b
      if (next_row != nullptr && thread == 0) next_row->store(0, std::memory_order_relaxed);
    }
  }
  if (tile.end != nullptr) tile.end();
}

uint16_t* packed_b_buffer(const Product& g, const Bf16Tile& tile) {
  return t_packed_b.get<uint16_t>(round_up(std::min(kKC, g.K), tile.k_pad) *
                                  round_up(std::min(kNC, g.N), kBf16NR));
}

// g on `threads` threads: rows shared out when there are enough, else columns
// (each thread packing its own B panels).
void multiply(const Product& g, const Bf16Tile& tile, int threads) {
  if (threads == 1) {
    multiply_rows(g, tile, packed_b_buffer(g, tile), 0, 1, nullptr);
    return;
  }
  if (g.M >= threads * kMinTilesPerThread * tile.mr) {
    uint16_t* packed_b = packed_b_buffer(g, tile);
    std::atomic<int64_t> next_row{0};
#pragma omp parallel num_threads(threads)
    multiply_rows(g, tile, packed_b, omp_get_thread_num(), omp_get_num_threads(), &next_row);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = even_share(g.N, kBf16NR, omp_get_thread_num(), omp_get_num_threads());
    if (begin < end) {
      const Product part = g.cols(begin, end);
      multiply_rows(part, tile, packed_b_buffer(part, tile), 0, 1, nullptr);
    }
  }
}

// C (bfloat16, [M, N] at ldc) = the sum of `parts` float32 [M, N] partial
// sums + beta * C, rounded once.
void round_sums(const float* sums, int64_t parts, int64_t M, int64_t N, float beta, uint16_t* c,
                int64_t ldc, int threads) {
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        float v = sums[i * N + j];
        for (int64_t p = 1; p < parts; ++p) v += sums[(p * M + i) * N + j];
        if (beta != 0.0f) v += beta * static_cast<float>(BFloat16::from_bits(c[i * ldc + j]));
        c[i * ldc + j] = BFloat16(v).bits;
      }
    }
  };
  if (threads == 1) {
    rows(0, M);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = even_share(M, 1, omp_get_thread_num(), omp_get_num_threads());
    rows(begin, end);
  }
}

// Long K, few rows, small C (a weight gradient dW = dY^T X over thousands of
// tokens): the team splits K, each thread summing its range into its own
// float32 [M, N] (no barrier until the end: sharing B blocks would cost two
// barriers per 512 steps, and a neighbour holding one core for a moment
// stalls the other at each), as gemm_packed.cpp's split; up to 4 MB of sums
// a thread.
bool split_k_suits(const Product& g, int threads) {
  return threads > 1 && g.K >= 4 * g.M && g.K >= threads * kKC && g.M * g.N <= 1024 * 1024;
}

// One product with bfloat16 C: straight into C when K fits one block, else
// through float32 sums (one set, or one per thread when K is split).
void multiply_product(const Product& g, const Bf16Tile& tile, int threads) {
  if (g.K <= kKC) {
    multiply(g, tile, threads);
    return;
  }
  int parts = split_k_suits(g, threads) ? threads : 1;
  float* sums = t_sums.get<float>(g.M * g.N * parts);
  if (parts == 1) {
    Product all = g;
    all.out = Bf16Out{sums, g.N, true, g.out.alpha, 0.0f};
    multiply(all, tile, threads);
  } else {
    const int requested = parts;
#pragma omp parallel num_threads(requested)
    {
      const int t = omp_get_thread_num();
      // OpenMP may give fewer threads than asked: only theirs are summed.
#pragma omp single
      parts = omp_get_num_threads();
      const auto [begin, end] = even_share(g.K, kKC, t, omp_get_num_threads());
      float* own = sums + t * g.M * g.N;
      if (begin < end) {
        Product part = g;
        part.K = end - begin;
        part.A = g.A + begin * g.a_k();
        part.B = g.B + begin * g.b_k();
        part.out = Bf16Out{own, g.N, true, g.out.alpha, 0.0f};
        multiply(part, tile, 1);
      } else {
        std::fill_n(own, g.M * g.N, 0.0f);
      }
    }
  }
  round_sums(sums, parts, g.M, g.N, g.out.beta, static_cast<uint16_t*>(g.out.c), g.out.ldc,
             threads);
}

// C = beta * C (or zeros, C not read, when beta == 0): a product with K == 0
// or alpha == 0.
void scale(uint16_t* c, int64_t M, int64_t N, int64_t ldc, float beta) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const float old =
          beta == 0.0f ? 0.0f : static_cast<float>(BFloat16::from_bits(c[i * ldc + j]));
      c[i * ldc + j] = BFloat16(beta * old).bits;
    }
  }
}

// Float32 C = beta * C (zeros, C not read, when beta == 0).
void scale_fp32(float* c, int64_t M, int64_t N, int64_t ldc, float beta) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    for (int64_t j = 0; j < N; ++j) row[j] = beta == 0 ? 0.0f : beta * row[j];
  }
}

}  // namespace

void Bf16PackedB::pack(const Bf16Tile& tile, bool trans_b, int64_t K, int64_t N, const uint16_t* B,
                       int64_t ldb) {
  if (K > kKC || N > kNC) {
    throw std::invalid_argument("Bf16PackedB: op(B) [" + std::to_string(K) + ", " +
                                std::to_string(N) + "] is more than one block (512 x 1024)");
  }
  K_ = K;
  N_ = N;
  kcp_ = round_up(K, tile.k_pad);
  panels_.resize(kcp_ * round_up(N, kBf16NR));
  const Product g{false, trans_b, 0, N, K, nullptr, 0, B, ldb, Bf16Out{}};
  pack_b_block(g, 0, 0, N, K, kcp_, panels_.data(), 0, 1);
}

void gemm_bf16_serial(const Bf16Tile& tile, bool trans_a, int64_t M, float alpha, const uint16_t* A,
                      int64_t lda, const Bf16PackedB& b, float beta, float* C, int64_t ldc) {
  if (M == 0 || b.N() == 0) return;
  const Product g{trans_a, false, M,       b.N(), b.K(),
                  A,       lda,   nullptr, 0,     Bf16Out{C, ldc, true, alpha, beta}};
  if (b.K() == 0 || alpha == 0) {
    scale_fp32(C, M, b.N(), ldc, beta);
    return;
  }
  if (tile.begin != nullptr) tile.begin();
  multiply_block_rows(g, tile, b.panels(), 0, b.N(), 0, b.K(), b.padded_k(), g.out, nullptr, 1,
                      nullptr);
  if (tile.end != nullptr) tile.end();
}

bool gemm_bf16_packed(const GemmCall& c, const Bf16Tile& tile) {
  if (c.M == 0 || c.N == 0 || c.batch == 0) return false;
  // The epilogues the store applies: a bias and ReLU or none, with K in one
  // block (a longer K rounds float32 sums afterwards, round_sums).
  const GemmEpilogue& e = c.epilogue;
  const bool fuse = c.K > 0 && c.K <= kKC && c.alpha != 0 && e.pre_activation == nullptr &&
                    (e.activation == GemmActivation::None || e.activation == GemmActivation::Relu);
  auto product = [&](int64_t i) {
    const auto* a = static_cast<const uint16_t*>(c.A) + i * c.stride_a;
    const auto* b = static_cast<const uint16_t*>(c.B) + i * c.stride_b;
    auto* out = static_cast<uint16_t*>(c.C) + i * c.stride_c;
    Bf16Out store{out, c.ldc, false, static_cast<float>(c.alpha), static_cast<float>(c.beta)};
    if (fuse) {
      store.bias = static_cast<const uint16_t*>(e.bias);
      store.relu = e.activation == GemmActivation::Relu;
    }
    return Product{c.trans_a, c.trans_b, c.M, c.N, c.K, a, c.lda, b, c.ldb, store};
  };
  if (c.K == 0 || c.alpha == 0) {
    for (int64_t i = 0; i < c.batch; ++i) {
      scale(static_cast<uint16_t*>(product(i).out.c), c.M, c.N, c.ldc, static_cast<float>(c.beta));
    }
    return false;
  }
  const int64_t work = c.batch * c.M * c.N * c.K;
  const int threads = gemm_team_size(work);
  if (split_by_products(c.batch, threads)) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < c.batch; ++i) multiply_product(product(i), tile, 1);
    return fuse;
  }
  for (int64_t i = 0; i < c.batch; ++i) multiply_product(product(i), tile, threads);
  return fuse;
}

}  // namespace toadstool::kernels::cpu

#endif  // TOADSTOOL_BF16_KERNELS
