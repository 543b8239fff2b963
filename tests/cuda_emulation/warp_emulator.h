#pragma once
// A CPU stand-in for a CUDA block, so that the tiled attention kernels
// (kernels/cuda/attention_tiled_kernels.cuh) and the multi-tensor optimizer
// kernels (optim_kernels.cuh) can run where no GPU is:
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
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
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

// A barrier that sleeps at once (std::barrier spins first, which with 128
// threads on a few cores burns most of the time).
class Barrier {
 public:
  explicit Barrier(unsigned count) : count_(count) {}
  void arrive_and_wait() {
    std::unique_lock lock(mutex_);
    const unsigned generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      released_.notify_all();
      return;
    }
    released_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  const unsigned count_;
  unsigned arrived_ = 0, generation_ = 0;
};

class Block {
 public:
  explicit Block(unsigned threads) : all_(threads), exchange_(2 * threads) {
    for (unsigned w = 0; w < (threads + 31) / 32; ++w)
      warps_.push_back(std::make_unique<Barrier>(32));
  }
  void sync_threads() { all_.arrive_and_wait(); }
  void sync_warp() { warps_[threadIdx.x / 32]->arrive_and_wait(); }
  // Shuffles alternate between two sets of slots, so one barrier per
  // shuffle is enough: a thread can write shuffle k + 2's slot only after
  // every thread has reached shuffle k + 1, i.e. has read shuffle k's.
  float& exchange_slot(unsigned parity, unsigned thread) {
    return exchange_[parity * blockDim.x + thread];
  }

 private:
  Barrier all_;
  std::vector<std::unique_ptr<Barrier>> warps_;
  std::vector<float> exchange_;
};

inline thread_local Block* current_block = nullptr;
inline thread_local unsigned shuffles = 0;  // this thread's, for the slot parity

// Runs kernel(args...) on `grid` blocks of `threads` threads (a multiple of
// 32), block after block on the same threads, poisoning `shared` before
// each block.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), unsigned grid, unsigned threads,
            std::span<unsigned char> shared, const Args&... args) {
  if (threads % 32 != 0) fail("a block must be whole warps");
  gridDim = {grid, 1, 1};
  blockDim = {threads, 1, 1};
  Block block(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      threadIdx = {t, 1, 1};
      current_block = &block;
      shuffles = 0;
      for (unsigned b = 0; b < grid; ++b) {
        if (t == 0 && !shared.empty()) std::memset(shared.data(), 0xff, shared.size());
        block.sync_threads();  // shared memory poisoned; the previous block done
        blockIdx = {b, 1, 1};
        kernel(args...);
        block.sync_threads();
      }
    });
  }
  for (auto& thread : pool) thread.join();
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->sync_threads(); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { emu::current_block->sync_warp(); }
inline float __shfl_xor_sync(unsigned /*mask*/, float x, int lane_mask) {
  emu::Block& block = *emu::current_block;
  const unsigned parity = emu::shuffles++ % 2;
  block.exchange_slot(parity, threadIdx.x) = x;
  __syncwarp();
  return block.exchange_slot(parity, threadIdx.x ^ static_cast<unsigned>(lane_mask));
}
