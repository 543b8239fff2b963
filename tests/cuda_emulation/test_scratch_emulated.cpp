// Kernel scratch (kernels/cuda/scratch.cuh) and cuBLAS's workspace
// (gemm.cu) out of memory, on the emulated device with a memory limit
// (shim/cuda_runtime.h): the first failure empties the block cache through
// the releaser the tensor layer registers (kernels/backend.h; here a
// stand-in that frees a block it holds, as the cache would) and the
// allocation is retried once; a second failure throws, saying so. Compiled
// alone, emulated_names.h first (tests/CMakeLists.txt): scratch.cuh's
// current_stream is then the emulated backend's.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "emulated_backend.h"
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

// A device of 1 MiB, part of it held by the stand-in cache (cache()).
class SmallDevice : public ::testing::Test {
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

class ScratchOutOfMemory : public SmallDevice {};

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

// 2 x 3 through the emulated backend's gemm on a thread of its own: a new
// cuBLAS handle (gemm.cu keeps one per thread), whose first product
// allocates its workspace (256 KiB, shim/cublas_v2.h). The error, if any.
std::string product_on_a_new_handle(float* c) {
  std::string error;
  std::thread([&] {
    const float a = 2, b = 3;
    const GemmCall call{.M = 1,
                        .N = 1,
                        .K = 1,
                        .A = &a,
                        .lda = 1,
                        .B = &b,
                        .ldb = 1,
                        .C = c,
                        .ldc = 1,
                        .epilogue = {}};
    try {
      emulated_backend().gemm(DType::Float32, call);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }).join();
  return error;
}

class CublasOutOfMemory : public SmallDevice {};

TEST_F(CublasOutOfMemory, EmptiesTheCacheThenRetries) {
  cache(size_t{900} << 10);  // 124 KiB left
  float c = 0;
  EXPECT_EQ(product_on_a_new_handle(&c), "");
  EXPECT_EQ(c, 6);
  EXPECT_EQ(g_releases, 1);
}

TEST_F(CublasOutOfMemory, FailsAfterOneRetry) {
  emu::device_memory().limit = emu::device_memory().used + (size_t{100} << 10);
  float c = 0;
  const std::string error = product_on_a_new_handle(&c);
  EXPECT_NE(error.find("cublasGemmStridedBatchedEx_64: out of memory for cuBLAS's workspace (the "
                       "cache emptied and the call retried)"),
            std::string::npos)
      << error;
  EXPECT_EQ(g_releases, 1);
}

}  // namespace
}  // namespace toadstool::kernels::cuda
