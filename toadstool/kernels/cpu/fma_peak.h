#pragma once
// The CPU's float32 multiply-add throughput with this build's vectors
// (AVX-512, AVX2 + FMA, or scalar in the baseline build): the peak the
// float32 kernels can reach, measured rather than looked up, for model
// FLOPs utilisation (train/callbacks/profile.h) and the benchmarks' ratios.
#include <cstdint>

namespace toadstool::kernels::cpu {

// GFLOP/s (a multiply-add counts 2): the best of `repetitions` runs of
// `iterations` steps of independent FMA chains on each thread of an
// OpenMP team of `threads` (2,000,000 steps: about 2 ms at AVX-512 rates).
double fma_peak_gflops(int threads, int repetitions, int64_t iterations);

}  // namespace toadstool::kernels::cpu
