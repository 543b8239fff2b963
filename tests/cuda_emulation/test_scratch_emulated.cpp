// Kernel scratch out of memory (kernels/cuda/scratch.cuh) on the emulated
// device with a memory limit (shim/cuda_runtime.h): the first failure
// empties the block cache through the releaser the tensor layer registers
// (kernels/backend.h; here a stand-in that frees a block it holds, as the
// cache would) and the allocation is retried once; a second failure throws,
// saying so. Compiled alone, emulated_names.h first (tests/CMakeLists.txt):
// scratch.cuh's current_stream is then the emulated backend's.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "toadstool/kernels/backend.h"
#include "toadstool/kernels/cuda/scratch.cuh"

namespace toadstool::kernels::cuda {
namespace {

// What the stand-in cache holds, and how often it was asked to let go.
void* g_cached = nullptr;
int g_releases = 0;

void release_stand_in_cache(int device) {
  EXPECT_EQ(device, 0);
  ++g_releases;
  if (g_cached != nullptr) (void)cudaFree(g_cached);
  g_cached = nullptr;
}

// A device of 1 MiB with `cached` bytes of it in the stand-in cache.
class ScratchOutOfMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::device_memory().limit = emu::device_memory().used + (size_t{1} << 20);
    g_releases = 0;
    previous_ = set_cuda_cache_releaser(release_stand_in_cache);
  }
  void TearDown() override {
    release_stand_in_cache(0);
    set_cuda_cache_releaser(previous_);
    emu::device_memory().limit = SIZE_MAX;
  }
  static void cache(size_t bytes) { ASSERT_EQ(cudaMalloc(&g_cached, bytes), cudaSuccess); }

 private:
  CudaCacheReleaser previous_ = nullptr;
};

TEST_F(ScratchOutOfMemory, FitsWithoutAskingTheCache) {
  cache(size_t{512} << 10);
  const Scratch<float> scratch(100 << 10);  // 400 KiB
  EXPECT_NE(scratch.get(), nullptr);
  EXPECT_EQ(g_releases, 0);
}

TEST_F(ScratchOutOfMemory, EmptiesTheCacheThenRetries) {
  cache(size_t{768} << 10);
  const Scratch<float> scratch(128 << 10);  // 512 KiB: fits once the cache is empty
  EXPECT_NE(scratch.get(), nullptr);
  EXPECT_EQ(g_releases, 1);
  EXPECT_EQ(g_cached, nullptr);
}

TEST_F(ScratchOutOfMemory, FailsAfterOneRetry) {
  try {
    const Scratch<double> scratch(256 << 10);  // 2 MiB of a 1 MiB device
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory allocating 2097152 bytes of kernel "
                                         "scratch (the cache emptied and the allocation retried)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(g_releases, 1);
}

}  // namespace
}  // namespace toadstool::kernels::cuda
