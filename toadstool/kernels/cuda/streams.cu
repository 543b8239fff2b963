// The calling thread's current device and stream, the per-device stream
// pools, and events (kernels/streams.h).
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/streams.h"

namespace toadstool::kernels::cuda {

namespace {

// Per thread, as in PyTorch: the device cuda_use_device made current (-1
// before the first call) and the current stream of each device (absent or
// null: the default stream).
thread_local int t_device = -1;
thread_local std::vector<cudaStream_t> t_streams;
// The device cuda_use_device last made current on any thread (-1: none).
std::atomic<int> g_last_device{-1};

int current_device() {
  if (t_device < 0) {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    t_device = device;
  }
  return t_device;
}

// Makes `device` current for a scope: events are created on, and the null
// stream means, the current device. A thread that had chosen no device
// keeps this one afterwards: going back to the runtime's default would
// create a context on GPU 0 (cudaSetDevice does since CUDA 12; 0.5 GiB),
// in every rank of a multi-GPU job.
class DeviceScope {
 public:
  explicit DeviceScope(int device) : previous_(t_device) {
    if (device != previous_) cuda_use_device(device);
  }
  ~DeviceScope() {
    if (previous_ >= 0 && t_device != previous_ && cudaSetDevice(previous_) == cudaSuccess) {
      t_device = previous_;
    }
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_;
};

constexpr int kPoolSize = 32;

struct StreamPool {
  std::once_flag created;
  std::array<cudaStream_t, kPoolSize> streams{};
  std::atomic<unsigned> next{0};
};

StreamPool& pool_of(int device) {
  // Never destroyed: streams outlive every tensor and thread that uses them.
  static auto* const pools = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      (void)cudaGetLastError();
      count = 0;
    }
    auto* p = new std::vector<std::unique_ptr<StreamPool>>();
    for (int d = 0; d < count; ++d) p->push_back(std::make_unique<StreamPool>());
    return p;
  }();
  if (device < 0 || static_cast<size_t>(device) >= pools->size()) {
    throw std::runtime_error("cuda_pool_stream: no CUDA device " + std::to_string(device));
  }
  return *(*pools)[static_cast<size_t>(device)];
}

// cudaErrorNotReady answers a query; it must not stay behind as the last
// error, which check_launch reads after the next kernel.
bool finished(cudaError_t status, const char* call) {
  if (status == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  check(status, call);
  return true;
}

}  // namespace

cudaStream_t current_stream() {
  const auto device = static_cast<size_t>(current_device());
  return device < t_streams.size() ? t_streams[device] : nullptr;
}

void adopt_process_device() {
  const int device = g_last_device.load(std::memory_order_relaxed);
  if (t_device < 0 && device >= 0) cuda_use_device(device);
}

}  // namespace toadstool::kernels::cuda

namespace toadstool::kernels {

void cuda_use_device(int index) {
  if (index == cuda::t_device) return;
  cuda::check(cudaSetDevice(index), "cudaSetDevice");
  cuda::t_device = index;
  cuda::g_last_device.store(index, std::memory_order_relaxed);
}

void* cuda_current_stream(int device) {
  const auto d = static_cast<size_t>(device);
  return d < cuda::t_streams.size() ? cuda::t_streams[d] : nullptr;
}

void cuda_set_current_stream(int device, void* stream) {
  const auto d = static_cast<size_t>(device);
  if (d >= cuda::t_streams.size()) cuda::t_streams.resize(d + 1, nullptr);
  cuda::t_streams[d] = static_cast<cudaStream_t>(stream);
}

void* cuda_pool_stream(int device) {
  cuda::StreamPool& pool = cuda::pool_of(device);
  std::call_once(pool.created, [&] {
    const cuda::DeviceScope scope(device);
    for (cudaStream_t& s : pool.streams) {
      cuda::check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                  "cudaStreamCreateWithFlags");
    }
  });
  return pool.streams[pool.next.fetch_add(1, std::memory_order_relaxed) % cuda::kPoolSize];
}

bool cuda_stream_query(int device, void* stream) {
  const cuda::DeviceScope scope(device);  // the null stream is the current device's
  return cuda::finished(cudaStreamQuery(static_cast<cudaStream_t>(stream)), "cudaStreamQuery");
}

void cuda_stream_synchronize(int device, void* stream) {
  const cuda::DeviceScope scope(device);
  cuda::check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

void cuda_stream_wait_event(int device, void* stream, void* event) {
  const cuda::DeviceScope scope(device);
  cuda::check(
      cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0),
      "cudaStreamWaitEvent");
}

void* cuda_event_create(int device, bool timing) {
  const cuda::DeviceScope scope(device);
  cudaEvent_t event = nullptr;
  cuda::check(cudaEventCreateWithFlags(&event, timing ? cudaEventDefault : cudaEventDisableTiming),
              "cudaEventCreateWithFlags");
  return event;
}

void cuda_event_destroy(void* event) noexcept {
  if (event != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void cuda_event_record(int device, void* event, void* stream) {
  const cuda::DeviceScope scope(device);
  cuda::check(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)),
              "cudaEventRecord");
}

void* cuda_event_record_new(int device, void* stream) {
  void* event = cuda_event_create(device, /*timing=*/false);
  try {
    cuda_event_record(device, event, stream);
  } catch (...) {
    cuda_event_destroy(event);
    throw;
  }
  return event;
}

bool cuda_event_query(void* event) {
  return cuda::finished(cudaEventQuery(static_cast<cudaEvent_t>(event)), "cudaEventQuery");
}

void cuda_event_synchronize(void* event) {
  cuda::check(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cudaEventSynchronize");
}

float cuda_event_elapsed_ms(void* start, void* end) {
  float ms = 0;
  cuda::check(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)),
      "cudaEventElapsedTime");
  return ms;
}

}  // namespace toadstool::kernels
