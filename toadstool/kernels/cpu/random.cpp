#include "toadstool/kernels/cpu/random.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include "toadstool/kernels/cpu/intrinsics.h"
#endif

#include <algorithm>
#include <type_traits>
#include <utility>

#include "toadstool/kernels/cpu/parallel.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/kernels/random_values.h"

namespace toadstool::kernels::cpu {

namespace {

// Calls fn(bits, first, count) for every counter block of a fill of n values
// of kKind: bits is block `offset + b`, first the index of its first value,
// count (<= values_per_block) how many of its values fall inside the fill.
// Chunks are whole blocks, so the split never changes what an element gets.
// The words are made kPhiloxChunkBlocks blocks at a time (philox_words).
template <RandomKind kKind, class Fn>
void for_each_block(int64_t n, uint64_t seed, uint64_t offset, const Fn& fn) {
  constexpr int64_t k = values_per_block(kKind);
  const auto blocks = static_cast<int64_t>(philox_blocks_used(n, kKind));
  parallel_for(0, blocks, kPhiloxBlockGrain, [&](int64_t begin, int64_t end) {
    uint32_t words[4 * kPhiloxChunkBlocks];
    for (int64_t b0 = begin; b0 < end; b0 += kPhiloxChunkBlocks) {
      const int64_t count_blocks = std::min(kPhiloxChunkBlocks, end - b0);
      philox_words(offset + static_cast<uint64_t>(b0), count_blocks, seed, words);
      for (int64_t i = 0; i < count_blocks; ++i) {
        const int64_t first = (b0 + i) * k;
        const int count = static_cast<int>(std::min(k, n - first));
        const uint32_t* w = words + 4 * i;
        fn(Philox4x32{{w[0], w[1], w[2], w[3]}}, first, count);
      }
    }
  });
}

// The common case: values(bits) turns one block into the BlockValues of its
// values_per_block outputs (kernels/random_values.h), stored in order.
template <RandomKind kKind, class T, class ValuesOf>
void fill_blocks(T* out, int64_t n, uint64_t seed, uint64_t offset, const ValuesOf& values) {
  for_each_block<kKind>(n, seed, offset, [&](const Philox4x32& bits, int64_t first, int count) {
    constexpr int k = values_per_block(kKind);
    const BlockValues<T, k> v = values(bits);
    if (count == k) {  // a constant trip count: plain stores, not a memcpy call
      for (int j = 0; j < k; ++j) out[first + j] = v.value[j];
    } else {
      for (int j = 0; j < count; ++j) out[first + j] = v.value[j];
    }
  });
}

template <class T>
void uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, T low, T high) {
  if constexpr (std::is_same_v<T, float>) {
    fill_blocks<RandomKind::UniformFloat>(
        out, n, seed, offset, [=](const Philox4x32& b) { return uniform_values(b, low, high); });
  } else {
    fill_blocks<RandomKind::UniformDouble>(
        out, n, seed, offset, [=](const Philox4x32& b) { return uniform_values(b, low, high); });
  }
}

template <class T>
void bernoulli(T* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  const uint64_t threshold = bernoulli_threshold(p);
  fill_blocks<RandomKind::Bernoulli>(
      out, n, seed, offset, [=](const Philox4x32& b) { return bernoulli_values<T>(b, threshold); });
}

template <class T>
void bernoulli(T* out, const T* probs, int64_t n, uint64_t seed, uint64_t offset) {
  for_each_block<RandomKind::Bernoulli>(
      n, seed, offset, [=](const Philox4x32& b, int64_t first, int count) {
        for (int j = 0; j < count; ++j) {
          const auto p = static_cast<double>(probs[first + j]);
          out[first + j] = bernoulli_value<T>(b.v[j], bernoulli_threshold(p));
        }
      });
}

#if defined(__AVX512F__)
// Sixteen blocks a set, as two registers of eight: each counter word of a
// block in the low 32 bits of a 64-bit lane, the high halves scratch.
// vpmuludq multiplies exactly those low halves into whole 64-bit products,
// so a round is two multiplies, two shuffles (the products' high words
// moved down) and two three-way xors per eight blocks, nothing blended:
// 12 instructions a round for sixteen blocks where sixteen 32-bit lanes,
// their even and odd products blended back, took 16. On the Intel Xeon with
// AMX (session 29, one thread, L1-resident words): 0.43-0.46 -> 0.36-0.41
// ns a word in runs of 64 blocks, 0.55 -> 0.39-0.43 in runs of 16. GCC's
// vectorization of the scalar loop builds each product with shuffles and
// was about 3x slower than the blended lanes.
constexpr int64_t kPhiloxLanes = 16;

// Each 64-bit lane's high 32 bits moved to its low half (and kept high).
__m512i high_words_down(__m512i x) { return _mm512_shuffle_epi32(x, _MM_PERM_DDBB); }

// words[64 kSets]: blocks first_block .. first_block + 16 kSets - 1, four
// words each, as the scalar philox4x32_10 gives them. The 2 kSets registers
// of eight blocks go through each round together: one register's round is a
// chain of dependent multiplies and xors, and several in flight keep the
// vector units busy.
template <int kSets>
void philox_words_sets(uint64_t first_block, uint64_t seed, uint32_t* words) {
  constexpr int kRegisters = 2 * kSets;
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  __m512i c0[kRegisters], c1[kRegisters], c2[kRegisters], c3[kRegisters];
  for (int g = 0; g < kRegisters; ++g) {
    // Block first_block + 8 g + lane's 64-bit counter: its low word is c0,
    // its high word c1.
    const __m512i counter = _mm512_add_epi64(
        _mm512_set1_epi64(static_cast<int64_t>(first_block + static_cast<uint64_t>(8 * g))), lane);
    c0[g] = counter;
    c1[g] = high_words_down(counter);
    c2[g] = _mm512_setzero_si512();
    c3[g] = _mm512_setzero_si512();
  }
  const __m512i mul0 = _mm512_set1_epi32(static_cast<int>(philox_detail::kMul0));
  const __m512i mul1 = _mm512_set1_epi32(static_cast<int>(philox_detail::kMul1));
  auto k0 = static_cast<uint32_t>(seed);
  auto k1 = static_cast<uint32_t>(seed >> 32);
  constexpr int kXor3 = 0x96;  // ternary logic: a ^ b ^ c
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kWeyl0;
      k1 += philox_detail::kWeyl1;
    }
    const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0));
    const __m512i key1 = _mm512_set1_epi32(static_cast<int>(k1));
#pragma GCC unroll 8
    for (int g = 0; g < kRegisters; ++g) {               // philox_detail::round, lane-wise
      const __m512i p0 = _mm512_mul_epu32(c0[g], mul0);  // hi:lo of c0 * kMul0
      const __m512i p1 = _mm512_mul_epu32(c2[g], mul1);
      c0[g] = _mm512_ternarylogic_epi32(high_words_down(p1), c1[g], key0, kXor3);
      c2[g] = _mm512_ternarylogic_epi32(high_words_down(p0), c3[g], key1, kXor3);
      c1[g] = p1;  // its low word: lo(c2 * kMul1)
      c3[g] = p0;
    }
  }
  // Back to block after block, eight blocks (32 words) a register: lane b
  // of x01 holds words 0 and 1 of block b, x23 words 2 and 3; the 64-bit
  // unpacks give blocks 0, 2, 4, 6 (one per 128-bit lane) and 1, 3, 5, 7.
  constexpr __mmask16 kHighHalves = 0xAAAA;
  const __m512i first_four = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i last_four = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  for (int g = 0; g < kRegisters; ++g) {
    const __m512i x01 =
        _mm512_mask_blend_epi32(kHighHalves, c0[g], _mm512_shuffle_epi32(c1[g], _MM_PERM_CCAA));
    const __m512i x23 =
        _mm512_mask_blend_epi32(kHighHalves, c2[g], _mm512_shuffle_epi32(c3[g], _MM_PERM_CCAA));
    const __m512i even_blocks = _mm512_unpacklo_epi64(x01, x23);
    const __m512i odd_blocks = _mm512_unpackhi_epi64(x01, x23);
    uint32_t* w = words + 32 * g;
    _mm512_storeu_si512(w, _mm512_permutex2var_epi64(even_blocks, first_four, odd_blocks));
    _mm512_storeu_si512(w + 16, _mm512_permutex2var_epi64(even_blocks, last_four, odd_blocks));
  }
}
#elif defined(__AVX2__)
// Eight blocks at once: one counter word of every block per register, the
// even and odd lanes' products through vpmuludq, blended back: 0.7-0.9 ns
// a word against the vectorized scalar loop's 2.4 on an AMD Zen 3 (four
// sets in flight; two: 0.84). The AVX-512 code's layout (words in the low
// halves of 64-bit lanes) ran no faster with AVX2 on the Intel Xeon with
// AMX, so this one keeps 32-bit lanes.
constexpr int64_t kPhiloxLanes = 8;

struct WideProduct {
  __m256i hi, lo;
};
WideProduct multiply_wide(__m256i x, __m256i multiplier) {
  constexpr int kOddLanes = 0xAA;
  const __m256i even = _mm256_mul_epu32(x, multiplier);  // lanes 0, 2, ... as 64-bit
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), multiplier);
  return {_mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, kOddLanes),
          _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), kOddLanes)};
}

__m256i xor3(__m256i a, __m256i b, __m256i c) {
  return _mm256_xor_si256(_mm256_xor_si256(a, b), c);
}

// words[32 kSets]: blocks first_block .. first_block + 8 kSets - 1, four
// words each, as the scalar philox4x32_10 gives them; kSets independent
// sets of eight blocks in flight, as above.
template <int kSets>
void philox_words_sets(uint64_t first_block, uint64_t seed, uint32_t* words) {
  __m256i c0[kSets], c1[kSets], c2[kSets], c3[kSets];
  for (int s = 0; s < kSets; ++s) {
    // The 64-bit counters of the set's blocks, split into their 32-bit words.
    alignas(32) uint32_t low[kPhiloxLanes], high[kPhiloxLanes];
    for (int b = 0; b < kPhiloxLanes; ++b) {
      const uint64_t counter = first_block + static_cast<uint64_t>(kPhiloxLanes * s + b);
      low[b] = static_cast<uint32_t>(counter);
      high[b] = static_cast<uint32_t>(counter >> 32);
    }
    c0[s] = _mm256_load_si256(reinterpret_cast<const __m256i*>(low));
    c1[s] = _mm256_load_si256(reinterpret_cast<const __m256i*>(high));
    c2[s] = _mm256_setzero_si256();
    c3[s] = _mm256_setzero_si256();
  }
  const __m256i mul0 = _mm256_set1_epi32(static_cast<int>(philox_detail::kMul0));
  const __m256i mul1 = _mm256_set1_epi32(static_cast<int>(philox_detail::kMul1));
  auto k0 = static_cast<uint32_t>(seed);
  auto k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kWeyl0;
      k1 += philox_detail::kWeyl1;
    }
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int s = 0; s < kSets; ++s) {  // philox_detail::round, lane-wise
      const WideProduct p0 = multiply_wide(c0[s], mul0);
      const WideProduct p1 = multiply_wide(c2[s], mul1);
      c0[s] = xor3(p1.hi, c1[s], key0);
      c2[s] = xor3(p0.hi, c3[s], key1);
      c1[s] = p1.lo;
      c3[s] = p0.lo;
    }
  }
  for (int s = 0; s < kSets; ++s) {
    // Back to block after block: a 4 x 4 transpose in each 128-bit lane
    // leaves blocks {0, 4} in r0, {1, 5} in r1, {2, 6} in r2, {3, 7} in r3;
    // the 128-bit permutes then put them in order.
    const __m256i c01_lo = _mm256_unpacklo_epi32(c0[s], c1[s]);
    const __m256i c01_hi = _mm256_unpackhi_epi32(c0[s], c1[s]);
    const __m256i c23_lo = _mm256_unpacklo_epi32(c2[s], c3[s]);
    const __m256i c23_hi = _mm256_unpackhi_epi32(c2[s], c3[s]);
    const __m256i r0 = _mm256_unpacklo_epi64(c01_lo, c23_lo);
    const __m256i r1 = _mm256_unpackhi_epi64(c01_lo, c23_lo);
    const __m256i r2 = _mm256_unpacklo_epi64(c01_hi, c23_hi);
    const __m256i r3 = _mm256_unpackhi_epi64(c01_hi, c23_hi);
    auto* w = reinterpret_cast<__m256i*>(words + 4 * kPhiloxLanes * s);
    _mm256_storeu_si256(w, _mm256_permute2x128_si256(r0, r1, 0x20));      // blocks 0, 1
    _mm256_storeu_si256(w + 1, _mm256_permute2x128_si256(r2, r3, 0x20));  // 2, 3
    _mm256_storeu_si256(w + 2, _mm256_permute2x128_si256(r0, r1, 0x31));  // 4, 5
    _mm256_storeu_si256(w + 3, _mm256_permute2x128_si256(r2, r3, 0x31));  // 6, 7
  }
}
#endif

}  // namespace

void philox_words(uint64_t first_block, int64_t n, uint64_t seed, uint32_t* words) {
  int64_t vectorized = 0;  // blocks done 16 (AVX-512) or 8 (AVX2) at a time
#if defined(__AVX512F__) || defined(__AVX2__)
  for (; vectorized + 4 * kPhiloxLanes <= n; vectorized += 4 * kPhiloxLanes) {
    philox_words_sets<4>(first_block + static_cast<uint64_t>(vectorized), seed,
                         words + 4 * vectorized);
  }
  for (; vectorized + 2 * kPhiloxLanes <= n; vectorized += 2 * kPhiloxLanes) {
    philox_words_sets<2>(first_block + static_cast<uint64_t>(vectorized), seed,
                         words + 4 * vectorized);
  }
  for (; vectorized + kPhiloxLanes <= n; vectorized += kPhiloxLanes) {
    philox_words_sets<1>(first_block + static_cast<uint64_t>(vectorized), seed,
                         words + 4 * vectorized);
  }
  // A tail of more than a quarter of a set: one whole set made aside and the
  // tail's words copied out, cheaper than the scalar loop's blocks (about 3x
  // a vector block's cost; attention rows of 224 keys end in 12 blocks).
  if (const int64_t tail = n - vectorized; 4 * tail > kPhiloxLanes) {
    uint32_t set[4 * kPhiloxLanes];
    philox_words_sets<1>(first_block + static_cast<uint64_t>(vectorized), seed, set);
    std::copy_n(set, 4 * tail, words + 4 * vectorized);
    vectorized = n;
  }
#endif
#pragma omp simd
  for (int64_t b = vectorized; b < n; ++b) {
    const Philox4x32 r = philox4x32_10(first_block + static_cast<uint64_t>(b), 0, seed);
    words[4 * b] = r.v[0];
    words[4 * b + 1] = r.v[1];
    words[4 * b + 2] = r.v[2];
    words[4 * b + 3] = r.v[3];
  }
}

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  uniform(out, n, seed, offset, low, high);
}
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t offset, double low, double high) {
  uniform(out, n, seed, offset, low, high);
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  fill_blocks<RandomKind::NormalFloat>(
      out, n, seed, offset, [=](const Philox4x32& b) { return normal_values(b, mean, std); });
}
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  fill_blocks<RandomKind::NormalDouble>(
      out, n, seed, offset, [=](const Philox4x32& b) { return normal_values(b, mean, std); });
}

void fill_randint(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                  int64_t high) {
  // Unsigned arithmetic: high - low can exceed INT64_MAX, and wraps back
  // into range when added to low.
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  fill_blocks<RandomKind::Int64>(out, n, seed, offset,
                                 [=](const Philox4x32& b) { return randint_values(b, low, span); });
}

void fill_randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset) {
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  // Draws come kPhiloxChunkBlocks blocks (2 draws each) at a time.
  uint32_t words[4 * kPhiloxChunkBlocks];
  const int64_t draws = n > 1 ? n - 1 : 0;
  for (int64_t t0 = 0; t0 < draws; t0 += 2 * kPhiloxChunkBlocks) {
    const int64_t count = std::min(2 * kPhiloxChunkBlocks, draws - t0);
    philox_words(offset + static_cast<uint64_t>(t0 / 2), (count + 1) / 2, seed, words);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t i = n - 1 - (t0 + k);
      const auto j = static_cast<int64_t>(
          random_below(words[2 * k], words[2 * k + 1], static_cast<uint64_t>(i + 1)));
      std::swap(out[i], out[j]);
    }
  }
}

void fill_bernoulli(bool* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(Half* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(BFloat16* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(float* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}
void fill_bernoulli(double* out, int64_t n, uint64_t seed, uint64_t offset, double p) {
  bernoulli(out, n, seed, offset, p);
}

void fill_bernoulli(Half* out, const Half* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(BFloat16* out, const BFloat16* probs, int64_t n, uint64_t seed,
                    uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(float* out, const float* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}
void fill_bernoulli(double* out, const double* probs, int64_t n, uint64_t seed, uint64_t offset) {
  bernoulli(out, probs, n, seed, offset);
}

}  // namespace toadstool::kernels::cpu
