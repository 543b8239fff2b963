#pragma once
// Random fills of contiguous buffers. Element i of a fill with state
// (seed, offset) is computed from i alone, through the block map documented
// in kernels/philox.h, so the output does not depend on the thread count; a
// call of n elements uses philox_blocks_used(n, kind) counter blocks, which
// the caller adds to the generator offset.
//
// Preconditions, checked by the front-end (kernels do not throw):
// low < high with high - low finite for fill_uniform, std >= 0 for
// fill_normal, low < high for fill_randint, probabilities in [0, 1] for
// fill_bernoulli (p <= 0 or NaN gives 0, p >= 1 gives 1).
#include <cstdint>

#include "toadstool/kernels/half.h"

namespace toadstool::kernels::cpu {

// Uniform in [low, high). RandomKind::UniformFloat / UniformDouble.
void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void fill_uniform(double* out, int64_t n, uint64_t seed, uint64_t offset, double low, double high);

// Normal with the given mean and standard deviation (Box-Muller).
// RandomKind::NormalFloat / NormalDouble.
void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
void fill_normal(double* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std);

// Integers in [low, high), from 64 random bits each. RandomKind::Int64.
void fill_randint(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low,
                  int64_t high);

// 1 with probability p, else 0. RandomKind::Bernoulli.
void fill_bernoulli(bool* out, int64_t n, uint64_t seed, uint64_t offset, double p);
void fill_bernoulli(int64_t* out, int64_t n, uint64_t seed, uint64_t offset, double p);
void fill_bernoulli(Half* out, int64_t n, uint64_t seed, uint64_t offset, double p);
void fill_bernoulli(BFloat16* out, int64_t n, uint64_t seed, uint64_t offset, double p);
void fill_bernoulli(float* out, int64_t n, uint64_t seed, uint64_t offset, double p);
void fill_bernoulli(double* out, int64_t n, uint64_t seed, uint64_t offset, double p);

// Element i is 1 with probability probs[i]; same draws as the scalar-p form
// (a constant probs equals fill_bernoulli with that p). out may be probs.
void fill_bernoulli(Half* out, const Half* probs, int64_t n, uint64_t seed, uint64_t offset);
void fill_bernoulli(BFloat16* out, const BFloat16* probs, int64_t n, uint64_t seed,
                    uint64_t offset);
void fill_bernoulli(float* out, const float* probs, int64_t n, uint64_t seed, uint64_t offset);
void fill_bernoulli(double* out, const double* probs, int64_t n, uint64_t seed, uint64_t offset);

// A uniformly random permutation of 0..n-1 (Durstenfeld's Fisher-Yates, as
// torch.randperm on the CPU): for t = 0, 1, ..., n - 2, position i = n-1-t
// swaps with j = random_below(draw t, i + 1), where draw t takes the two words
// of an Int64 value (block offset + t / 2, lanes 2(t % 2), 2(t % 2) + 1). The
// swaps are sequential, so the result never depends on the thread count.
// Uses at most philox_blocks_used(n, RandomKind::Int64) blocks.
void fill_randperm(int64_t* out, int64_t n, uint64_t seed, uint64_t offset);

// The four words of the Philox counter blocks first_block + b, b in [0, n),
// block after block in words[4 n]: philox4x32_10(first_block + b, 0, seed),
// sixteen blocks at a time with AVX-512, eight with AVX2 (one counter word
// of every block per register), a vectorized scalar loop elsewhere and for
// the tail.
void philox_words(uint64_t first_block, int64_t n, uint64_t seed, uint32_t* words);

// How the Philox loops (the fills, dropout) share their counter blocks out:
// a block costs ~10x a simple element op, so fewer blocks than
// kDefaultGrain elements already pay for a thread; each thread makes its
// words kPhiloxChunkBlocks blocks at a time with philox_words.
inline constexpr int64_t kPhiloxBlockGrain = 2048;
inline constexpr int64_t kPhiloxChunkBlocks = 64;

}  // namespace toadstool::kernels::cpu
