#pragma once
// A CPU stand-in for a CUDA block, so that the tensor-core attention
// kernels (kernels/cuda/attention_mma_kernels.cuh) can run where no GPU is:
// each CUDA thread of a block is a std::thread, __syncthreads and
// __syncwarp are barriers, a shuffle goes through a warp's exchange slots,
// and the blocks of a grid run one after another over one buffer of
// dynamic shared memory, filled with 0xff bytes (NaN as float, bfloat16
// and float16) before each block, so that a read of a value no thread
// wrote shows in the results. WMMA's fragments are in shim/mma.h.
//
// What it checks: the kernels' indexing, tiling, masking, row math and
// their synchronisation (a missing barrier lets a thread read a slot
// before another has written it, which shows as wrong values, the threads
// running concurrently). What it cannot: the real WMMA register layouts
// (the kernels never look inside a fragment), timing, and the hardware's
// float summation order inside a tensor-core product.
#include <barrier>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

namespace emu {

// A failed WMMA requirement (alignment, leading dimension): the kernels
// must meet them on a GPU, where breaking one is undefined behaviour.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "warp emulator: %s\n", what);
  std::abort();
}

class Block {
 public:
  explicit Block(unsigned threads) : all_(threads), exchange_(threads) {
    for (unsigned w = 0; w < (threads + 31) / 32; ++w) {
      warps_.push_back(std::make_unique<std::barrier<>>(32));
    }
  }
  void sync_threads() { all_.arrive_and_wait(); }
  void sync_warp() { warps_[threadIdx.x / 32]->arrive_and_wait(); }
  float& exchange_slot(unsigned thread) { return exchange_[thread]; }

 private:
  std::barrier<> all_;
  std::vector<std::unique_ptr<std::barrier<>>> warps_;
  std::vector<float> exchange_;
};

inline thread_local Block* current_block = nullptr;

// Runs kernel(args...) on `grid` blocks of `threads` threads (a multiple of
// 32), block after block, poisoning `shared` before each.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), unsigned grid, unsigned threads,
            std::span<unsigned char> shared, const Args&... args) {
  if (threads % 32 != 0) fail("a block must be whole warps");
  gridDim = {grid, 1, 1};
  blockDim = {threads, 1, 1};
  for (unsigned b = 0; b < grid; ++b) {
    std::memset(shared.data(), 0xff, shared.size());
    Block block(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, b] {
        threadIdx = {t, 1, 1};
        blockIdx = {b, 1, 1};
        current_block = &block;
        kernel(args...);
      });
    }
    for (auto& thread : pool) thread.join();
  }
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->sync_threads(); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { emu::current_block->sync_warp(); }
inline float __shfl_xor_sync(unsigned /*mask*/, float x, int lane_mask) {
  emu::Block& block = *emu::current_block;
  block.exchange_slot(threadIdx.x) = x;
  __syncwarp();
  const float y = block.exchange_slot(threadIdx.x ^ static_cast<unsigned>(lane_mask));
  __syncwarp();
  return y;
}
