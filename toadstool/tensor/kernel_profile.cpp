#include "toadstool/tensor/kernel_profile.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string_view>

#include "toadstool/tensor/device.h"
#include "toadstool/tensor/dispatch.h"

namespace toadstool {

namespace {

std::atomic<bool> recording{false};

// Keyed by name (the same literal may have several addresses across
// translation units). A mutex: DataLoader workers call kernels too.
struct Table {
  std::mutex mutex;
  std::map<std::string_view, KernelProfileEntry> entries;
};

Table& table() {
  static Table instance;
  return instance;
}

}  // namespace

namespace detail {
bool kernel_profile_on() { return recording.load(std::memory_order_relaxed); }

void record_kernel_call(const char* kernel, double seconds, double flops) {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  KernelProfileEntry& entry = t.entries[kernel];
  if (entry.kernel.empty()) entry.kernel = kernel;
  ++entry.calls;
  entry.seconds += seconds;
  entry.flops += flops;
}

ProfiledCall::~ProfiledCall() {
  // A GPU kernel has only been queued: wait for it, so its time is its own.
  // A failure here (the kernel's own error, reported by the call) is not
  // the profile's to throw from a destructor.
  try {
    if (device_.is_cuda()) cuda_synchronize();
  } catch (...) {  // NOLINT(bugprone-empty-catch): the call reports it
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  record_kernel_call(kernel_, seconds, flops_);
}
}  // namespace detail

void start_kernel_profile() { recording.store(true, std::memory_order_relaxed); }
void stop_kernel_profile() { recording.store(false, std::memory_order_relaxed); }
bool kernel_profile_recording() { return detail::kernel_profile_on(); }

std::vector<KernelProfileEntry> kernel_profile() {
  Table& t = table();
  std::vector<KernelProfileEntry> out;
  {
    const std::lock_guard<std::mutex> lock(t.mutex);
    for (const auto& [name, entry] : t.entries) out.push_back(entry);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
  return out;
}

void reset_kernel_profile() {
  Table& t = table();
  const std::lock_guard<std::mutex> lock(t.mutex);
  t.entries.clear();
}

}  // namespace toadstool
