#pragma once
// A CPU stand-in for a CUDA block, so that CUDA kernels can run where no
// GPU is (tests/cuda_emulation/): each CUDA thread of a block is a
// std::thread, __syncthreads and __syncwarp are barriers, a shuffle goes
// through a warp's exchange slots, and the blocks of a grid run one after
// another on the same threads. Shared memory: a kernel's __shared__
// variables are static (shim/cuda_runtime.h), one object for every thread,
// which is right while one block runs at a time; the dynamic shared memory
// is a buffer of the launch's exact size, filled with 0xff bytes (NaN as
// float, bfloat16 and float16) before each block, so that a read of a value
// no thread wrote shows in the results (the static variables start zeroed,
// so this holds for the dynamic memory only). WMMA's fragments are in
// shim/mma.h.
//
// What it checks: the kernels' indexing, tiling, masking, row math and
// their synchronisation (a missing barrier lets a thread read a slot
// before another has written it, which shows as wrong values, the threads
// running concurrently). What it cannot: the real WMMA register layouts
// (the kernels never look inside a fragment), timing, and the hardware's
// float summation order inside a tensor-core product.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

namespace emu {

inline thread_local unsigned thread_rank = 0;  // the linear thread index: x fastest, then y, z

// A failed WMMA requirement (alignment, leading dimension): the kernels
// must meet them on a GPU, where breaking one is undefined behaviour.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "warp emulator: %s\n", what);
  std::abort();
}

// A barrier that sleeps at once (std::barrier spins first, which with 256
// threads on a few cores burns most of the time) on a futex
// (std::atomic::wait): a release wakes the waiters without a mutex for them
// to queue on again, as a condition variable's would.
class Barrier {
 public:
  explicit Barrier(unsigned count) : count_(count) {}
  void arrive_and_wait() {
    const unsigned generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_acq_rel);
      generation_.notify_all();
      return;
    }
    generation_.wait(generation, std::memory_order_acquire);
  }

 private:
  const unsigned count_;
  std::atomic<unsigned> arrived_{0};
  std::atomic<unsigned> generation_{0};
};

class Block {
 public:
  explicit Block(unsigned threads) : all_(threads), exchange_(2 * threads) {
    for (unsigned w = 0; w < (threads + 31) / 32; ++w)
      warps_.push_back(std::make_unique<Barrier>(32));
  }
  void sync_threads() { all_.arrive_and_wait(); }
  void sync_warp() { warps_[thread_rank / 32]->arrive_and_wait(); }
  // Shuffles alternate between two sets of slots, so one barrier per
  // shuffle is enough: a thread can write shuffle k + 2's slot only after
  // every thread has reached shuffle k + 1, i.e. has read shuffle k's.
  float& exchange_slot(unsigned parity, unsigned thread) {
    return exchange_[parity * (exchange_.size() / 2) + thread];
  }

 private:
  Barrier all_;
  std::vector<std::unique_ptr<Barrier>> warps_;
  std::vector<float> exchange_;
};

inline thread_local Block* current_block = nullptr;
inline unsigned char* dynamic_shared = nullptr;  // the running launch's
inline thread_local unsigned shuffles = 0;       // this thread's, for the slot parity

// Runs kernel(args...) on a `grid` of blocks of `block` threads (whole
// warps), block after block (x fastest) on the same threads, with
// `shared_bytes` of dynamic shared memory (128-byte aligned), poisoned
// before each block.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            const Args&... args) {
  const unsigned threads = block.x * block.y * block.z;
  if (threads % 32 != 0) fail("a block must be whole warps");
  gridDim = grid;
  blockDim = block;
  constexpr std::align_val_t kAlign{128};
  const std::unique_ptr<unsigned char[], void (*)(unsigned char*)> shared(
      shared_bytes > 0 ? new (kAlign) unsigned char[shared_bytes] : nullptr,
      [](unsigned char* p) { ::operator delete[](p, kAlign); });
  dynamic_shared = shared.get();
  Block running(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      thread_rank = t;
      threadIdx = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
      current_block = &running;
      shuffles = 0;
      for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
          for (unsigned x = 0; x < grid.x; ++x) {
            if (t == 0 && shared_bytes > 0) std::memset(shared.get(), 0xff, shared_bytes);
            running.sync_threads();  // shared memory poisoned; the previous block done
            blockIdx = {x, y, z};
            kernel(args...);
            running.sync_threads();
          }
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  dynamic_shared = nullptr;
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->sync_threads(); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { emu::current_block->sync_warp(); }
inline float __shfl_xor_sync(unsigned /*mask*/, float x, int lane_mask) {
  emu::Block& block = *emu::current_block;
  const unsigned parity = emu::shuffles++ % 2;
  block.exchange_slot(parity, emu::thread_rank) = x;
  __syncwarp();
  return block.exchange_slot(parity, emu::thread_rank ^ static_cast<unsigned>(lane_mask));
}
