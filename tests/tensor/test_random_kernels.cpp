// Philox known answers, the distributions of the CPU fills, and the
// guarantee that an element's value depends only on its index.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "toadstool/kernels/cpu/random.h"
#include "toadstool/kernels/philox.h"
#include "toadstool/toadstool.h"

namespace toadstool::kernels {
namespace {

constexpr uint64_t kSeed = 0x5eed1234abcdULL;
constexpr int64_t kSamples = 1000000;

// ---- Philox ------------------------------------------------------------------

void expect_philox(uint64_t lo, uint64_t hi, uint64_t key, std::array<uint32_t, 4> expected) {
  const Philox4x32 r = philox4x32_10(lo, hi, key);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], expected[i]) << "word " << i;
}

// Random123's kat_vectors for philox4x32_10. Counter words {c0, c1, c2, c3}
// are (lo = c1:c0, hi = c3:c2), key words {k0, k1} are key = k1:k0.
TEST(Philox, KnownAnswers) {
  expect_philox(0, 0, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  expect_philox(~0ULL, ~0ULL, ~0ULL, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  expect_philox(0x85a308d3243f6a88ULL, 0x0370734413198a2eULL, 0x299f31d0a4093822ULL,
                {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST(Philox, BlocksUsed) {
  EXPECT_EQ(philox_blocks_used(0, RandomKind::UniformFloat), 0u);
  EXPECT_EQ(philox_blocks_used(-3, RandomKind::UniformFloat), 0u);
  EXPECT_EQ(philox_blocks_used(1, RandomKind::UniformFloat), 1u);
  EXPECT_EQ(philox_blocks_used(4, RandomKind::NormalFloat), 1u);
  EXPECT_EQ(philox_blocks_used(5, RandomKind::Bernoulli), 2u);
  EXPECT_EQ(philox_blocks_used(5, RandomKind::UniformDouble), 3u);
  EXPECT_EQ(philox_blocks_used(4, RandomKind::NormalDouble), 2u);
  EXPECT_EQ(philox_blocks_used(3, RandomKind::Int64), 2u);
  EXPECT_EQ(philox_blocks_used(8, RandomKind::DropoutKeep), 1u);
  EXPECT_EQ(philox_blocks_used(9, RandomKind::DropoutKeep), 2u);
}

// Dropout's draws are the words' 16-bit halves, low half first; its
// threshold rounds the keep probability up to a multiple of 2^-16.
TEST(Philox, DropoutDrawsAndThreshold) {
  const Philox4x32 b{{0x11112222u, 0x33334444u, 0x55556666u, 0x77778888u}};
  const std::array<uint32_t, 8> halves{0x2222, 0x1111, 0x4444, 0x3333,
                                       0x6666, 0x5555, 0x8888, 0x7777};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(dropout_draw(b, j), halves[j]) << "draw " << j;
  EXPECT_EQ(dropout_threshold(0.0), 0u);
  EXPECT_EQ(dropout_threshold(std::nan("")), 0u);
  EXPECT_EQ(dropout_threshold(1.0), 65536u);
  EXPECT_EQ(dropout_threshold(0.5), 32768u);
  EXPECT_EQ(dropout_threshold(0.9), 58983u);  // 58982.4 rounded up
  EXPECT_EQ(dropout_threshold(1e-9), 1u);     // any keep > 0 keeps something
  EXPECT_EQ(dropout_threshold(1.0 - 1e-9), 65536u);
}

TEST(Philox, WordConversionsStayInRange) {
  EXPECT_EQ(uniform_float(0), 0.0f);
  EXPECT_LT(uniform_float(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_double(0, 0), 0.0);
  EXPECT_LT(uniform_double(0xffffffffu, 0xffffffffu), 1.0);
  // The Box-Muller radius is finite at both ends of the word range.
  EXPECT_TRUE(std::isfinite(box_muller_radius(0u)));
  EXPECT_GE(box_muller_radius(0xffffffffu), 0.0f);
  EXPECT_TRUE(std::isfinite(box_muller_radius(0u, 0u)));
  EXPECT_GE(box_muller_radius(0xffffffffu, 0xffffffffu), 0.0);
  EXPECT_EQ(bernoulli_threshold(0.0), 0u);
  EXPECT_EQ(bernoulli_threshold(std::nan("")), 0u);
  EXPECT_EQ(bernoulli_threshold(1.0), uint64_t{1} << 32);
  EXPECT_EQ(bernoulli_threshold(0.5), uint64_t{1} << 31);
}

// ---- statistics helpers ------------------------------------------------------

struct Moments {
  double mean, variance;
};

template <class T>
Moments moments(const std::vector<T>& x) {
  double sum = 0;
  for (T v : x) sum += static_cast<double>(v);
  const double mean = sum / static_cast<double>(x.size());
  double sq = 0;
  for (T v : x) sq += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
  return {mean, sq / static_cast<double>(x.size() - 1)};
}

// Six standard errors: a correct generator fails about once in 5e8 runs.
constexpr double kSigmas = 6.0;

// Sample mean and variance within six standard errors of the truth, given the
// distribution's variance and fourth central moment.
template <class T>
void expect_moments(const std::vector<T>& x, double mean, double variance, double mu4) {
  const double n = static_cast<double>(x.size());
  const Moments m = moments(x);
  EXPECT_NEAR(m.mean, mean, kSigmas * std::sqrt(variance / n));
  EXPECT_NEAR(m.variance, variance, kSigmas * std::sqrt((mu4 - variance * variance) / n));
}

// Neighbours are uncorrelated (for the normals: the cos and sin of one pair).
template <class T>
void expect_uncorrelated_neighbours(const std::vector<T>& x) {
  const Moments m = moments(x);
  double cov = 0;
  for (size_t i = 0; i + 1 < x.size(); i += 2) {
    cov += (static_cast<double>(x[i]) - m.mean) * (static_cast<double>(x[i + 1]) - m.mean);
  }
  const size_t pair_count = x.size() / 2;  // whole pairs: an odd last element has none
  const auto pairs = static_cast<double>(pair_count);
  EXPECT_NEAR(cov / pairs / m.variance, 0.0, kSigmas / std::sqrt(pairs));
}

// ---- uniform -----------------------------------------------------------------

template <class T>
void check_uniform(T low, T high) {
  std::vector<T> x(kSamples);
  cpu::fill_uniform(x.data(), kSamples, kSeed, 7, low, high);
  EXPECT_GE(*std::min_element(x.begin(), x.end()), low);
  EXPECT_LT(*std::max_element(x.begin(), x.end()), high);
  const double span = static_cast<double>(high) - static_cast<double>(low);
  const double variance = span * span / 12;
  expect_moments(x, (static_cast<double>(low) + high) / 2, variance, std::pow(span, 4) / 80);
  expect_uncorrelated_neighbours(x);
}

TEST(RandomKernels, UniformFloat) {
  check_uniform(0.0f, 1.0f);
  check_uniform(-2.0f, 3.0f);
}

TEST(RandomKernels, UniformDouble) {
  check_uniform(0.0, 1.0);
  check_uniform(-1e3, -10.0);
}

TEST(RandomKernels, UniformStaysBelowHighWhenRoundingWouldReachIt) {
  // A range of a few ulps: low + u * span rounds up to high for many u.
  const float low = 1.0f, high = std::nextafter(std::nextafter(1.0f, 2.0f), 2.0f);
  std::vector<float> x(10000);
  cpu::fill_uniform(x.data(), 10000, kSeed, 0, low, high);
  for (float v : x) ASSERT_TRUE(v >= low && v < high) << v;
  std::vector<double> d(10000);
  cpu::fill_uniform(d.data(), 10000, kSeed, 0, 1.0, std::nextafter(1.0, 2.0));
  for (double v : d) ASSERT_EQ(v, 1.0);
}

// ---- normal ------------------------------------------------------------------

template <class T>
void check_normal(T mean, T std, T max_sigmas) {
  std::vector<T> x(kSamples);
  cpu::fill_normal(x.data(), kSamples, kSeed, 3, mean, std);
  for (T v : x) ASSERT_TRUE(std::isfinite(v));
  const double variance = static_cast<double>(std) * std;
  expect_moments(x, mean, variance, 3 * variance * variance);
  expect_uncorrelated_neighbours(x);
  // Box-Muller's radius is bounded by the resolution of its uniform.
  for (T v : x) ASSERT_LE(std::abs(v - mean), max_sigmas * std);
}

TEST(RandomKernels, NormalFloat) {
  check_normal(0.0f, 1.0f, 6.8f);
  check_normal(5.0f, 0.5f, 6.8f);
}

TEST(RandomKernels, NormalDouble) {
  check_normal(0.0, 1.0, 8.7);
  check_normal(-3.0, 2.0, 8.7);
}

// ---- randint -----------------------------------------------------------------

std::vector<int64_t> randint(int64_t n, int64_t low, int64_t high) {
  std::vector<int64_t> x(n);
  cpu::fill_randint(x.data(), n, kSeed, 11, low, high);
  return x;
}

TEST(RandomKernels, RandintCoversTheRangeEvenly) {
  const int64_t low = -3, high = 4, n = 700000;
  std::vector<int64_t> counts(high - low, 0);
  for (int64_t v : randint(n, low, high)) {
    ASSERT_TRUE(v >= low && v < high) << v;
    ++counts[v - low];
  }
  const double p = 1.0 / static_cast<double>(high - low);
  for (int64_t c : counts) {
    EXPECT_NEAR(static_cast<double>(c), n * p, kSigmas * std::sqrt(n * p * (1 - p)));
  }
}

TEST(RandomKernels, RandintRangeOfOne) {
  for (int64_t v : randint(1001, 42, 43)) ASSERT_EQ(v, 42);
  for (int64_t v : randint(1001, -7, -6)) ASSERT_EQ(v, -7);
}

TEST(RandomKernels, RandintFullInt64Range) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<int64_t> x = randint(100000, kMin, kMax);
  EXPECT_LT(*std::max_element(x.begin(), x.end()), kMax);
  const auto negatives = std::count_if(x.begin(), x.end(), [](int64_t v) { return v < 0; });
  EXPECT_NEAR(static_cast<double>(negatives), 50000.0, kSigmas * std::sqrt(25000.0));
  // The high bits vary: some values are far from both ends.
  EXPECT_TRUE(std::any_of(x.begin(), x.end(), [](int64_t v) { return std::abs(v) < kMax / 2; }));
}

// ---- bernoulli ---------------------------------------------------------------

TEST(RandomKernels, BernoulliExtremes) {
  std::vector<float> x(10001);
  cpu::fill_bernoulli(x.data(), 10001, kSeed, 0, 0.0);
  for (float v : x) ASSERT_EQ(v, 0.0f);
  cpu::fill_bernoulli(x.data(), 10001, kSeed, 0, 1.0);
  for (float v : x) ASSERT_EQ(v, 1.0f);
}

TEST(RandomKernels, BernoulliRate) {
  const double p = 0.3;
  auto flags = std::make_unique<bool[]>(kSamples);
  cpu::fill_bernoulli(flags.get(), kSamples, kSeed, 5, p);
  const auto ones = std::count(flags.get(), flags.get() + kSamples, true);
  EXPECT_NEAR(static_cast<double>(ones), kSamples * p, kSigmas * std::sqrt(kSamples * p * (1 - p)));
}

TEST(RandomKernels, BernoulliOutputTypesAgree) {
  const int64_t n = 1003;
  auto flags = std::make_unique<bool[]>(n);
  std::vector<int64_t> ints(n);
  std::vector<Half> halves(n);
  std::vector<BFloat16> bf16s(n);
  std::vector<float> floats(n);
  std::vector<double> doubles(n);
  cpu::fill_bernoulli(flags.get(), n, kSeed, 9, 0.4);
  cpu::fill_bernoulli(ints.data(), n, kSeed, 9, 0.4);
  cpu::fill_bernoulli(halves.data(), n, kSeed, 9, 0.4);
  cpu::fill_bernoulli(bf16s.data(), n, kSeed, 9, 0.4);
  cpu::fill_bernoulli(floats.data(), n, kSeed, 9, 0.4);
  cpu::fill_bernoulli(doubles.data(), n, kSeed, 9, 0.4);
  for (int64_t i = 0; i < n; ++i) {
    const double expected = flags[i] ? 1.0 : 0.0;
    ASSERT_EQ(static_cast<double>(ints[i]), expected);
    ASSERT_EQ(static_cast<float>(halves[i]), expected);
    ASSERT_EQ(static_cast<float>(bf16s[i]), expected);
    ASSERT_EQ(floats[i], expected);
    ASSERT_EQ(doubles[i], expected);
  }
}

TEST(RandomKernels, BernoulliPerElementProbabilities) {
  const int64_t n = 1003;
  // A constant tensor of probabilities draws exactly like the scalar form.
  std::vector<double> probs(n, 0.4), from_tensor(n), from_scalar(n);
  cpu::fill_bernoulli(from_tensor.data(), probs.data(), n, kSeed, 9);
  cpu::fill_bernoulli(from_scalar.data(), n, kSeed, 9, 0.4);
  EXPECT_EQ(from_tensor, from_scalar);
  // Probabilities 0 and 1 reproduce themselves, also in place.
  std::vector<float> mask(n);
  for (int64_t i = 0; i < n; ++i) mask[i] = static_cast<float>(i % 3 == 0);
  std::vector<float> out = mask;
  cpu::fill_bernoulli(out.data(), out.data(), n, kSeed, 1);
  EXPECT_EQ(out, mask);
  std::vector<Half> half_probs(n, Half(1.0f)), half_out(n);
  cpu::fill_bernoulli(half_out.data(), half_probs.data(), n, kSeed, 1);
  for (Half h : half_out) ASSERT_EQ(static_cast<float>(h), 1.0f);
}

// ---- index-only mapping ------------------------------------------------------

// The output of every fill kind for n elements at `offset`.
struct AllKinds {
  std::vector<float> uniform_f, normal_f, bernoulli_f;
  std::vector<double> uniform_d, normal_d;
  std::vector<int64_t> ints;
};

AllKinds fill_all(int64_t n, uint64_t offset) {
  AllKinds a{std::vector<float>(n),  std::vector<float>(n),  std::vector<float>(n),
             std::vector<double>(n), std::vector<double>(n), std::vector<int64_t>(n)};
  cpu::fill_uniform(a.uniform_f.data(), n, kSeed, offset, -1.0f, 1.0f);
  cpu::fill_normal(a.normal_f.data(), n, kSeed, offset, 0.0f, 1.0f);
  cpu::fill_bernoulli(a.bernoulli_f.data(), n, kSeed, offset, 0.5);
  cpu::fill_uniform(a.uniform_d.data(), n, kSeed, offset, -1.0, 1.0);
  cpu::fill_normal(a.normal_d.data(), n, kSeed, offset, 0.0, 1.0);
  cpu::fill_randint(a.ints.data(), n, kSeed, offset, -1000, 1000);
  return a;
}

void expect_same(const AllKinds& a, const AllKinds& b) {
  EXPECT_EQ(a.uniform_f, b.uniform_f);
  EXPECT_EQ(a.normal_f, b.normal_f);
  EXPECT_EQ(a.bernoulli_f, b.bernoulli_f);
  EXPECT_EQ(a.uniform_d, b.uniform_d);
  EXPECT_EQ(a.normal_d, b.normal_d);
  EXPECT_EQ(a.ints, b.ints);
}

// Each output recomputed straight from the table in kernels/philox.h: the
// CUDA backend follows the same table, so this pins the map down.
TEST(RandomKernels, FollowsTheDocumentedMap) {
  const int64_t n = 9;
  const uint64_t offset = 40;
  const AllKinds a = fill_all(n, offset);
  const auto block = [&](int64_t i, int64_t k) {
    return philox4x32_10(offset + static_cast<uint64_t>(i / k), 0, kSeed);
  };
  for (int64_t i = 0; i < n; ++i) {
    const Philox4x32 b4 = block(i, 4), b2 = block(i, 2);
    const int lane = static_cast<int>(i % 4), pair = static_cast<int>(i % 2);
    EXPECT_EQ(a.uniform_f[i], std::fma(uniform_float(b4.v[lane]), 2.0f, -1.0f));
    EXPECT_EQ(a.bernoulli_f[i], b4.v[lane] < (uint64_t{1} << 31) ? 1.0f : 0.0f);
    const NormalPairF zf = box_muller(b4.v[lane / 2 * 2], b4.v[lane / 2 * 2 + 1]);
    EXPECT_EQ(a.normal_f[i], lane % 2 == 0 ? zf.cos_part : zf.sin_part);
    EXPECT_EQ(a.uniform_d[i],
              std::fma(uniform_double(b2.v[2 * pair], b2.v[2 * pair + 1]), 2.0, -1.0));
    const NormalPairD zd = box_muller(b2);
    EXPECT_EQ(a.normal_d[i], pair == 0 ? zd.cos_part : zd.sin_part);
    EXPECT_EQ(a.ints[i],
              -1000 + static_cast<int64_t>(random_below(b2.v[2 * pair], b2.v[2 * pair + 1], 2000)));
  }
}

// Dropout through the kernel table, so the build chosen for this CPU runs:
// every element of a fill long enough for several chunks of blocks, whose
// counters carry into the counter's second word, and a partial last block,
// against the table (RandomKind::DropoutKeep); with a residual the same
// draws are added to it.
TEST(RandomKernels, DropoutFollowsTheDocumentedMap) {
  const uint64_t first_block = (uint64_t{1} << 32) - 20;
  const int64_t n = 8 * (64 + 61) + 5;
  const double p = 0.3;
  const Tensor x = ones({n}, kFloat32);
  const Tensor residual = full({n}, 2.0, kFloat32);
  for (const bool with_residual : {false, true}) {
    Generator gen(kSeed);
    gen.set_state({kSeed, first_block});
    const Tensor y =
        with_residual ? dropout_add(x, residual, p, true, &gen) : dropout(x, p, true, &gen);
    const float* got = y.data_ptr<float>();
    const auto keep_scale = static_cast<float>(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; ++i) {
      const Philox4x32 block = philox4x32_10(first_block + static_cast<uint64_t>(i / 8), 0, kSeed);
      const bool kept = dropout_draw(block, static_cast<int>(i % 8)) < dropout_threshold(1 - p);
      ASSERT_EQ(got[i], (with_residual ? 2.0f : 0.0f) + (kept ? keep_scale : 0.0f))
          << "element " << i << " (" << cpu_isa() << ")";
    }
  }
}

// DropoutMask::keep_bits: a pass that draws writes element i's decision as
// bit i % 64 of word i / 64 (over chunk and thread boundaries, a ragged
// end), and a pass given drawn bits follows them, not the Philox state.
TEST(RandomKernels, DropoutKeepBitsRecordAndReplayTheMask) {
  const int64_t n = 8 * (64 * 3 + 61) + 5;
  const double p = 0.3;
  const int saved = get_num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<uint64_t> bits(dropout_keep_words(n), ~uint64_t{0});
    DropoutMask mask{p, kSeed, 77, bits.data(), false};
    const Tensor x = ones({n}, kFloat32);
    const Tensor drawn = native::dropout_masked(x, Tensor(), mask);
    for (int64_t i = 0; i < n; ++i) {
      const Philox4x32 block = philox4x32_10(77 + static_cast<uint64_t>(i / 8), 0, kSeed);
      const bool kept = dropout_draw(block, static_cast<int>(i % 8)) < dropout_threshold(1 - p);
      ASSERT_EQ((bits[i / 64] >> (i % 64)) & 1, kept ? 1U : 0U) << "element " << i;
      ASSERT_EQ(drawn.data_ptr<float>()[i] != 0, kept) << "element " << i;
    }
    // Another seed, but the bits: the same mask, in every dtype.
    const DropoutMask replay{p, kSeed + 1, 5, bits.data(), true};
    for (DType dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
      const Tensor again = native::dropout_masked(x.to(dtype), Tensor(), replay).to(kFloat32);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(again.data_ptr<float>()[i] != 0, drawn.data_ptr<float>()[i] != 0)
            << dtype_name(dtype) << " element " << i << " at " << threads << " threads";
      }
    }
  }
  set_num_threads(saved);
}

// The share of elements dropout keeps is ceil((1 - p) 2^16) / 2^16.
TEST(RandomKernels, DropoutRate) {
  const double p = 0.1;
  Generator gen(kSeed);
  const Tensor y = dropout(ones({kSamples}, kFloat32), p, true, &gen);
  const double kept = sum(ne(y, 0.0).to(kFloat64)).item<double>();
  const double q = dropout_threshold(1 - p) / 65536.0;
  EXPECT_NEAR(kept, kSamples * q, kSigmas * std::sqrt(kSamples * q * (1 - q)));
}

class ThreadCount : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = omp_get_max_threads(); }
  void TearDown() override { omp_set_num_threads(saved_); }
  int saved_ = 1;
};

TEST_F(ThreadCount, SameOutputWithAnyThreadCount) {
  const int64_t n = 1000003;  // many chunks, and a partial last block
  omp_set_num_threads(1);
  const AllKinds one = fill_all(n, 17);
  omp_set_num_threads(2);
  expect_same(one, fill_all(n, 17));
  omp_set_num_threads(3);
  expect_same(one, fill_all(n, 17));
}

// Element i of a fill at offset o + d is element k*d + i of a fill at offset
// o, where k is values_per_block of the kind.
template <class T>
void expect_window(const std::vector<T>& big, const std::vector<T>& small, int64_t k, int64_t d) {
  ASSERT_LE(static_cast<size_t>(k * d) + small.size(), big.size());
  const std::vector<T> window(big.begin() + k * d, big.begin() + k * d + small.size());
  EXPECT_EQ(window, small) << "k=" << k << " d=" << d;
}

TEST(RandomKernels, ShiftedOffsetIsAWindowOfABiggerFill) {
  const uint64_t offset = 100;
  const AllKinds big = fill_all(1000, offset);
  for (const int64_t d : {0, 1, 5, 37}) {
    for (const int64_t m : {1, 3, 37, 250}) {
      const AllKinds small = fill_all(m, offset + d);
      expect_window(big.uniform_f, small.uniform_f, 4, d);
      expect_window(big.normal_f, small.normal_f, 4, d);
      expect_window(big.bernoulli_f, small.bernoulli_f, 4, d);
      expect_window(big.uniform_d, small.uniform_d, 2, d);
      expect_window(big.normal_d, small.normal_d, 2, d);
      expect_window(big.ints, small.ints, 2, d);
    }
  }
}

template <class T>
std::vector<T> concat(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The front-end's pattern: advance the offset by philox_blocks_used. Two
// calls equal one call when the first n is a multiple of values_per_block.
TEST(RandomKernels, ConsecutiveCallsEqualOneCall) {
  const int64_t n1 = 12, n2 = 29;
  const AllKinds whole = fill_all(n1 + n2, 0);
  const AllKinds first = fill_all(n1, 0);
  // 3 blocks for the kinds with 4 values a block, 6 for those with 2.
  const AllKinds after4 = fill_all(n2, philox_blocks_used(n1, RandomKind::UniformFloat));
  const AllKinds after2 = fill_all(n2, philox_blocks_used(n1, RandomKind::UniformDouble));
  EXPECT_EQ(concat(first.uniform_f, after4.uniform_f), whole.uniform_f);
  EXPECT_EQ(concat(first.normal_f, after4.normal_f), whole.normal_f);
  EXPECT_EQ(concat(first.bernoulli_f, after4.bernoulli_f), whole.bernoulli_f);
  EXPECT_EQ(concat(first.uniform_d, after2.uniform_d), whole.uniform_d);
  EXPECT_EQ(concat(first.normal_d, after2.normal_d), whole.normal_d);
  EXPECT_EQ(concat(first.ints, after2.ints), whole.ints);
}

TEST(RandomKernels, SeedsAndOffsetsGiveDifferentStreams) {
  std::vector<float> a(64), b(64), c(64);
  cpu::fill_uniform(a.data(), 64, 1, 0, 0.0f, 1.0f);
  cpu::fill_uniform(b.data(), 64, 2, 0, 0.0f, 1.0f);
  cpu::fill_uniform(c.data(), 64, 1, 16, 0.0f, 1.0f);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

// Through the kernel table, so the build chosen for this CPU runs (the cpu::
// calls above run the baseline build, whose Philox loop differs from the
// AVX-512 and AVX2 ones): every word of a long fill, whose counters carry
// into the counter's second word (2^32 - 20 + b), against the scalar
// philox4x32_10.
TEST(RandomKernels, ChosenCpuBuildDrawsTheScalarWords) {
  const uint64_t first_block = (uint64_t{1} << 32) - 20;
  // A chunk of 64 blocks (four sets of 16 at once with AVX-512, twice four
  // sets of 8 with AVX2), then 61: AVX-512 a pair of sets, one set and a
  // tail of 13 blocks from a set made aside; AVX2 four sets, a pair, one
  // set and 5 aside. Or then 50: AVX-512 a pair of sets, one set and 2
  // blocks one by one; AVX2 four sets, a pair and 2. Then a partial block.
  for (const int64_t blocks : {64 + 61, 64 + 50}) {
    SCOPED_TRACE(blocks);
    Generator gen(kSeed);
    gen.set_state({kSeed, first_block});
    const int64_t n = 4 * blocks + 3;
    const Tensor bits = rand({n}, kFloat32, &gen);
    const float* got = bits.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const Philox4x32 block = philox4x32_10(first_block + static_cast<uint64_t>(i / 4), 0, kSeed);
      ASSERT_EQ(got[i], uniform_float(block.v[i % 4]))
          << "element " << i << " (" << cpu_isa() << ")";
    }
  }
}

}  // namespace
}  // namespace toadstool::kernels
