#pragma once
// The hash of hashed_bigrams (kernels/backend.h's HashedBigramsFn), written
// once for both backends so that a bigram lands in the same bucket on the
// CPU and the GPU.
#include <cstdint>

#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

// The bucket in [1, buckets) of the token bigram (prev, cur): a 64-bit mix
// (splitmix64's finaliser) of the pair, so (a, b) and (b, a) differ. 0 is
// left for padding. buckets >= 2.
TS_HOST_DEVICE int64_t bigram_bucket(int64_t prev, int64_t cur, int64_t buckets) {
  uint64_t h = static_cast<uint64_t>(prev) * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(cur);
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return 1 + static_cast<int64_t>(h % static_cast<uint64_t>(buckets - 1));
}

}  // namespace toadstool::kernels
