#pragma once
// The machine, measured in-process so that every benchmark figure can be
// reported as a fraction of what this machine can do at that moment.
namespace toadstool::bench {

// fp32 FMA throughput: independent FMA chains in vector registers, one per
// thread of an OpenMP team of `threads`. GFLOP/s (an FMA counts 2).
double measure_fma_peak_gflops(int threads);

// The same probe, short (best of 5 runs of about 10 ms): the peak right
// next to one benchmark, for a ratio that both sides measure under the
// same conditions on a machine whose speed drifts (a shared VM).
double measure_adjacent_fma_peak_gflops(int threads);

// STREAM triad a[i] = b[i] + s * c[i] over float arrays far larger than the
// caches; bytes counted as STREAM does (3 arrays x 4 bytes per element). GB/s.
double measure_stream_triad_gbs(int threads);

}  // namespace toadstool::bench
