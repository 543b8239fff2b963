#pragma once
// A CPU stand-in for a CUDA block, so that CUDA kernels can run where no
// GPU is (tests/cuda_emulation/): each CUDA thread of a block is a fiber
// (a ucontext with a stack of its own) on the launching thread,
// __syncthreads and __syncwarp are barriers at which a fiber hands over to
// the next, a shuffle goes through a warp's exchange slots, and the blocks
// of a grid run one after another. Shared memory: a kernel's __shared__
// variables are static (shim/cuda_runtime.h), one object for every thread,
// which is right while one block runs at a time; the dynamic shared memory
// is a buffer of the launch's exact size, filled with 0xff bytes (NaN as
// float, bfloat16 and float16) before each block, so that a read of a value
// no thread wrote shows in the results (the static variables start zeroed,
// so this holds for the dynamic memory only). WMMA's fragments are in
// shim/mma.h.
//
// The schedule is the most skewed one a GPU allows: between two
// __syncthreads each warp runs alone, to the next one (through its
// __syncwarps), and within a warp each thread runs alone to its next
// barrier; warps and threads go in index order in one block and in reverse
// order in the next (the orders swap at every __syncthreads too). So a
// missing barrier shows in both directions: a thread (warp) reads what a
// later one has not written yet (poison, or an older value), or overwrites
// what a later one has not read yet. A barrier that not every thread of
// its block (or warp) reaches stops the test with a message, where a GPU
// would hang.
//
// What it checks: the kernels' indexing, tiling, masking, row math and
// their synchronisation. What it cannot: the real WMMA register layouts
// (the kernels never look inside a fragment), timing, races inside one
// barrier phase between threads that a GPU would interleave (each thread's
// phase runs whole here), and the hardware's float summation order inside
// a tensor-core product.
#include <sys/mman.h>
#include <ucontext.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define TOADSTOOL_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TOADSTOOL_EMU_ASAN 1
#endif
#endif
// Under AddressSanitizer every switch is announced to it
// (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), so
// that it tracks which stack is live; it still prints, once a process, that
// it "doesn't fully support makecontext/swapcontext".
#if defined(TOADSTOOL_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running fiber's (set by the scheduler before it resumes one).
inline dim3 threadIdx;
inline dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

namespace emu {

// A failed WMMA requirement (alignment, leading dimension), or a barrier
// some threads never reach: on a GPU undefined behaviour or a hang.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "warp emulator: %s\n", what);
  std::abort();
}

// Stacks for the fibers: one mapping, 64 KiB of inaccessible guard below
// each stack (an overflow, even by a frame of a few pages, faults rather
// than writes into the next), kept for later launches of as many threads
// or fewer. 256 KiB a fiber (the sanitizers' frames are several times a
// plain build's); pages are only committed where touched.
class Stacks {
 public:
  static constexpr size_t kBytes = size_t{256} << 10;
  static constexpr size_t kGuard = size_t{64} << 10;

  unsigned char* stack(unsigned fiber) { return base_ + fiber * (kBytes + kGuard) + kGuard; }

  void reserve(unsigned fibers) {
    if (fibers <= fibers_) return;
    release();
    const size_t bytes = fibers * (kBytes + kGuard);
    void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) fail("cannot map the fibers' stacks");
    base_ = static_cast<unsigned char*>(at);
    fibers_ = fibers;
    for (unsigned f = 0; f < fibers; ++f) mprotect(stack(f) - kGuard, kGuard, PROT_NONE);
  }
  ~Stacks() { release(); }

 private:
  void release() {
    if (base_ != nullptr) munmap(base_, fibers_ * (kBytes + kGuard));
    base_ = nullptr;
    fibers_ = 0;
  }
  unsigned char* base_ = nullptr;
  unsigned fibers_ = 0;
};

class Block;
inline Block* current_block = nullptr;           // the running launch's
inline unsigned char* dynamic_shared = nullptr;  // the running launch's

// One block's threads as fibers, run by `run_block` on the launching
// thread until every one has returned from the kernel.
class Block {
 public:
  enum class State { Runnable, AtBlockBarrier, AtWarpBarrier, Done };

  explicit Block(unsigned threads) : threads_(threads), fibers_(threads), exchange_(2 * threads) {
    stacks().reserve(threads);
  }

  // Called by a fiber: wait for every thread of the block (of the warp).
  void sync_threads() { wait_at(State::AtBlockBarrier); }
  void sync_warp() { wait_at(State::AtWarpBarrier); }
  // Shuffles alternate between two sets of slots, so one barrier per
  // shuffle is enough: a thread can write shuffle k + 2's slot only after
  // every thread has reached shuffle k + 1, i.e. has read shuffle k's.
  float& exchange_slot(unsigned parity, unsigned thread) {
    return exchange_[parity * threads_ + thread];
  }
  unsigned& shuffles() { return fibers_[running_].shuffles; }
  // The running thread's linear index: x fastest, then y, z.
  unsigned thread_rank() const { return running_; }

  // Runs `body` as every thread of block `linear` (whose index is set), to
  // the end.
  void run_block(void (*body)(void*), void* argument, unsigned linear) {
    body_ = body;
    argument_ = argument;
    for (unsigned t = 0; t < threads_; ++t) prepare(fibers_[t], stacks().stack(t));
    unsigned live = threads_;
    const unsigned warps = threads_ / 32;
    for (unsigned phase = 0; live > 0; ++phase) {
      const bool forward = (linear + phase) % 2 == 0;
      for (unsigned i = 0; i < warps; ++i) {
        // One warp alone, through its __syncwarps, to its next
        // __syncthreads (or its end), before the next warp starts.
        const unsigned w = forward ? i : warps - 1 - i;
        do {
          for (unsigned j = 0; j < 32; ++j) {
            const unsigned t = w * 32 + (forward ? j : 31 - j);
            if (fibers_[t].state != State::Runnable) continue;
            resume(t);
            if (fibers_[t].state == State::Done) --live;
          }
        } while (release_warp(w));
      }
      if (live > 0) release_block(live);
    }
  }

 private:
  struct Fiber {
    ucontext_t context{};
    State state = State::Runnable;
    unsigned shuffles = 0;
    void* fake_stack = nullptr;  // AddressSanitizer's, while switched away
  };

  // Never destroyed: the emulated device's thread may still run a kernel
  // while exit destroys the statics (shim/emulated_device.h).
  static Stacks& stacks() {
    static auto* const shared = new Stacks;
    return *shared;
  }

  // A fresh fiber that starts in entry() on `stack` (getcontext returns
  // once here: nothing ever resumes this context but makecontext's).
  [[gnu::noinline]] void prepare(Fiber& f, unsigned char* stack) {
    f = Fiber{};
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = stack;
    f.context.uc_stack.ss_size = Stacks::kBytes;
    f.context.uc_link = &scheduler_;
    makecontext(&f.context, &Block::entry, 0);
#if defined(TOADSTOOL_EMU_ASAN)
    // A clean stack once, here; then no stack for ASan's swapcontext to
    // clear at every resume, which would wipe the redzones of the locals
    // live across a barrier (and their overflows would go unseen).
    __asan_unpoison_memory_region(stack, Stacks::kBytes);
    f.context.uc_stack.ss_size = 0;
#endif
  }

  void resume(unsigned t) {
    running_ = t;
    threadIdx = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
#if defined(TOADSTOOL_EMU_ASAN)
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, stacks().stack(t), Stacks::kBytes);
#endif
    swapcontext(&scheduler_, &fibers_[t].context);
#if defined(TOADSTOOL_EMU_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  }

  // The fiber's side of a switch back to the scheduler.
  void wait_at(State barrier) {
    Fiber& f = fibers_[running_];
    f.state = barrier;
#if defined(TOADSTOOL_EMU_ASAN)
    __sanitizer_start_switch_fiber(&f.fake_stack, scheduler_bottom_, scheduler_size_);
#endif
    swapcontext(&f.context, &scheduler_);
#if defined(TOADSTOOL_EMU_ASAN)
    __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
  }

  static void entry() {
    Block& block = *current_block;
#if defined(TOADSTOOL_EMU_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &block.scheduler_bottom_, &block.scheduler_size_);
#endif
    block.body_(block.argument_);
    block.fibers_[block.running_].state = State::Done;
#if defined(TOADSTOOL_EMU_ASAN)
    // The fiber ends: its fake stack goes (nullptr), back to uc_link.
    __sanitizer_start_switch_fiber(nullptr, block.scheduler_bottom_, block.scheduler_size_);
#endif
  }

  // After warp w's threads have run: true when all 32 wait at __syncwarp
  // (they may go on); false when none does.
  bool release_warp(unsigned w) {
    unsigned waiting = 0;
    for (unsigned t = w * 32; t < w * 32 + 32; ++t) {
      waiting += fibers_[t].state == State::AtWarpBarrier ? 1 : 0;
    }
    if (waiting == 0) return false;
    if (waiting < 32)
      fail("a __syncwarp that not every thread of its warp reaches (a GPU would hang)");
    for (unsigned t = w * 32; t < w * 32 + 32; ++t) fibers_[t].state = State::Runnable;
    return true;
  }

  // After every warp has run: all `live` threads wait at __syncthreads.
  void release_block(unsigned live) {
    bool all = live == threads_;
    for (const Fiber& f : fibers_) all = all && f.state == State::AtBlockBarrier;
    if (!all) fail("a __syncthreads that not every thread of its block reaches (a GPU would hang)");
    for (Fiber& f : fibers_) f.state = State::Runnable;
  }

  const unsigned threads_;
  std::vector<Fiber> fibers_;
  std::vector<float> exchange_;
  ucontext_t scheduler_{};
  unsigned running_ = 0;
  void (*body_)(void*) = nullptr;
  void* argument_ = nullptr;
  const void* scheduler_bottom_ = nullptr;
  size_t scheduler_size_ = 0;
};

// Runs kernel(args...) on a `grid` of blocks of `block` threads (whole
// warps), block after block (x fastest), with `shared_bytes` of dynamic
// shared memory (128-byte aligned), poisoned before each block.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            const Args&... args) {
  const unsigned threads = block.x * block.y * block.z;
  if (threads % 32 != 0) fail("a block must be whole warps");
  // The launch's state (threadIdx, the __shared__ variables, the stacks)
  // is the process's: one launch at a time.
  static std::atomic<bool> running_launch{false};
  if (running_launch.exchange(true)) fail("two kernel launches at once (from two threads)");
  gridDim = grid;
  blockDim = block;
  constexpr std::align_val_t kAlign{128};
  const std::unique_ptr<unsigned char[], void (*)(unsigned char*)> shared(
      shared_bytes > 0 ? new (kAlign) unsigned char[shared_bytes] : nullptr,
      [](unsigned char* p) { ::operator delete[](p, kAlign); });
  dynamic_shared = shared.get();
  Block running(threads);
  current_block = &running;
  const auto body = [&] { kernel(args...); };
  using Body = decltype(body);
  unsigned linear = 0;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x, ++linear) {
        if (shared_bytes > 0) std::memset(shared.get(), 0xff, shared_bytes);
        blockIdx = {x, y, z};
        running.run_block([](void* b) { (*static_cast<const Body*>(b))(); },
                          const_cast<void*>(static_cast<const void*>(&body)), linear);
      }
    }
  }
  current_block = nullptr;
  dynamic_shared = nullptr;
  running_launch.store(false);
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->sync_threads(); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { emu::current_block->sync_warp(); }
inline float __shfl_xor_sync(unsigned /*mask*/, float x, int lane_mask) {
  emu::Block& block = *emu::current_block;
  const unsigned parity = block.shuffles()++ % 2;
  block.exchange_slot(parity, block.thread_rank()) = x;
  __syncwarp();
  return block.exchange_slot(parity, block.thread_rank() ^ static_cast<unsigned>(lane_mask));
}
