#pragma once
// Per-thread working memory of the packed GEMMs (float32: gemm_packed.cpp,
// bfloat16: gemm_bf16_packed.cpp), and the block arithmetic they share.
#include <cstdint>
#include <cstdlib>
#include <new>

namespace toadstool::kernels::cpu {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A growable 64-byte-aligned buffer, kept between calls (one per thread and
// purpose, thread_local) so that repeated GEMMs allocate nothing.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data_); }

  // At least `count` values of T; the contents are not kept across growth.
  template <class T>
  T* get(int64_t count) {
    const int64_t bytes = round_up(count * int64_t{sizeof(T)}, 64);
    if (bytes > size_) {
      std::free(data_);
      size_ = 0;
      data_ = std::aligned_alloc(64, static_cast<size_t>(bytes));
      // Inside a team this ends the process (no exception leaves an OpenMP
      // region); the buffers are at most a few MB.
      if (data_ == nullptr) throw std::bad_alloc();
      size_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  int64_t size_ = 0;  // bytes
};

}  // namespace toadstool::kernels::cpu
