#include "toadstool/tensor/block_cache.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "toadstool/tensor/error.h"

namespace toadstool::detail {

namespace {
constexpr size_t kAlignment = 64;
}  // namespace

size_t round_allocation_size(size_t nbytes) {
  if (nbytes <= 1024)
    return std::max<size_t>(kAlignment, (nbytes + kAlignment - 1) / kAlignment * kAlignment);
  const size_t power = std::bit_floor(nbytes);
  const size_t step = power / 4;
  return (nbytes + step - 1) / step * step;
}

size_t BlockCache::FreeKeyHash::operator()(const FreeKey& k) const noexcept {
  const size_t h = std::hash<size_t>()(k.size) ^ (std::hash<void*>()(k.owner.stream) << 1);
  return h ^ (std::hash<int>()(k.owner.device) << 2);
}

BlockCache::~BlockCache() {
  // Only the CPU tests destroy a cache (the process's ones live until exit);
  // a runtime failure here has nowhere to go.
  try {
    collect_pending(/*wait=*/true);
    release_cached();
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

void* BlockCache::allocate(size_t nbytes, StreamRef owner) {
  const size_t size = round_allocation_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  if (!pending_.empty()) collect_pending(/*wait=*/false);
  void* ptr = nullptr;
  auto it = free_blocks_.find({size, owner});
  if (it != free_blocks_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    stats_.cached_bytes -= static_cast<int64_t>(size);
  } else {
    ptr = system_allocate(size);
  }
  live_.emplace(ptr, Block{size, owner, {}});
  stats_.current_bytes += static_cast<int64_t>(size);
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.current_bytes);
  return ptr;
}

void BlockCache::free(void* ptr) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // not ours: nothing to give back
  Block block = std::move(it->second);
  live_.erase(it);
  const auto size = static_cast<int64_t>(block.size);
  stats_.current_bytes -= size;
  if (block.uses.empty()) {
    free_blocks_[{block.size, block.owner}].push_back(ptr);
    stats_.cached_bytes += size;
    return;
  }
  Pending pending{ptr, std::move(block), {}};
  try {
    for (const StreamRef& use : pending.block.uses) {
      pending.events.push_back(runtime_.record_event(use));
    }
  } catch (...) {
    // No event means no way to know when the other streams are done with the
    // block: it is never handed out again (a failed event record leaves the
    // device unusable anyway). Called from a destructor: nothing is thrown.
    for (void* event : pending.events) runtime_.event_destroy(event);
    return;
  }
  stats_.cached_bytes += size;
  stats_.pending_bytes += size;
  pending_.push_back(std::move(pending));
}

void BlockCache::record_use(void* ptr, StreamRef stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end() || it->second.owner == stream) return;
  std::vector<StreamRef>& uses = it->second.uses;
  if (std::find(uses.begin(), uses.end(), stream) == uses.end()) uses.push_back(stream);
}

MemoryStats BlockCache::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BlockCache::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.current_bytes;
}

void BlockCache::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  collect_pending(/*wait=*/true);
  release_cached();
}

// Pending blocks whose events have all completed (or, with `wait`, every
// pending block once its events complete) join their owner's free list. A
// block leaves pending_ only after all its events are known done, so a
// runtime error thrown midway leaves every block accounted for once.
void BlockCache::collect_pending(bool wait) {
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = pending_[i];
    bool done = true;
    for (void* event : p.events) {
      if (wait) {
        runtime_.event_synchronize(event);
      } else if (!runtime_.event_done(event)) {
        done = false;
        break;
      }
    }
    if (!done) {
      ++i;
      continue;
    }
    for (void* event : p.events) runtime_.event_destroy(event);
    free_blocks_[{p.block.size, p.block.owner}].push_back(p.ptr);
    stats_.pending_bytes -= static_cast<int64_t>(p.block.size);
    std::swap(p, pending_.back());
    pending_.pop_back();
  }
}

void BlockCache::release_cached() {
  for (auto& [key, blocks] : free_blocks_) {
    for (void* ptr : blocks) runtime_.deallocate(ptr, key.size);
    stats_.cached_bytes -= static_cast<int64_t>(key.size * blocks.size());
  }
  free_blocks_.clear();
}

void* BlockCache::system_allocate(size_t size) {
  ++stats_.system_allocations;
  void* ptr = runtime_.allocate(size);
  if (!ptr) {
    collect_pending(/*wait=*/true);
    release_cached();
    ptr = runtime_.allocate(size);
  }
  TS_CHECK(ptr, "allocator: out of memory on ", name_, " allocating ", size, " bytes (",
           stats_.current_bytes, " bytes in use, the cache emptied and the allocation retried)");
  return ptr;
}

}  // namespace toadstool::detail
