#pragma once
// A block of device memory shared by a tensor and all of its views. The
// version counter lives here so that an in-place write through any view is
// seen by every tensor that aliases the same memory.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "toadstool/tensor/device.h"

namespace toadstool {

class Storage {
 public:
  // Allocates `nbytes` on `device` through its caching allocator.
  Storage(size_t nbytes, Device device);
  struct Pinned {};
  // Allocates `nbytes` of pinned (page-locked) host memory, a CPU storage
  // that GPUs copy from and to without staging (needs a GPU).
  Storage(size_t nbytes, Pinned);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool is_pinned() const { return pinned_; }

  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  size_t nbytes_;
  Device device_;
  bool pinned_ = false;
  std::atomic<uint64_t> version_{0};
};

}  // namespace toadstool
