#pragma once
// The machine, measured in-process so that every benchmark figure can be
// reported as a fraction of what this machine can do at that moment.
namespace toadstool::bench {

// fp32 FMA throughput (the library's probe, kernels/cpu/fma_peak.h, with the
// vectors of the CPU kernels in use): independent FMA chains, one per
// thread of an OpenMP team of `threads`. GFLOP/s (an FMA counts 2).
double measure_fma_peak_gflops(int threads);

// The same probe, short (best of 5 runs of about 10 ms): the peak right
// next to one benchmark, for a ratio that both sides measure under the
// same conditions on a machine whose speed drifts (a shared VM).
double measure_adjacent_fma_peak_gflops(int threads);

// bfloat16 matrix throughput of each path the CPU has (0 where it lacks
// it), as the FMA probe: GFLOP/s, a multiply-add counts 2, one chain set per
// thread of a team of `threads`, best of `repetitions` runs of about 10 ms.
// AVX512-BF16: 24 independent VDPBF16PS chains (16 lanes x 2 products each).
// AMX: the four accumulator tiles of the GEMM's 32 x 32 tile, TDPBF16PS
// chains on resident A and B tiles (16 x 16 x 32 multiply-adds each), after
// asking Linux for the tile data permission.
double measure_avx512_bf16_peak_gflops(int threads, int repetitions = 20);
double measure_amx_bf16_peak_gflops(int threads, int repetitions = 20);

// STREAM triad a[i] = b[i] + s * c[i] over float arrays far larger than the
// caches; bytes counted as STREAM does (3 arrays x 4 bytes per element). GB/s.
double measure_stream_triad_gbs(int threads);

}  // namespace toadstool::bench
