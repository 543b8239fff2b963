// Pinned host memory and the copies that do not wait (kernels/streams.h).
#include "toadstool/kernels/cuda/common.cuh"
#include "toadstool/kernels/streams.h"

namespace toadstool::kernels {

namespace {

// The copies run on `device`'s current stream, so the device must be the
// current one while they are queued.
class UseDevice {
 public:
  explicit UseDevice(int device) { cuda_use_device(device); }
};

}  // namespace

void* cuda_host_allocate(size_t nbytes) {
  void* ptr = nullptr;
  // Portable: pinned for every device, whichever is current on the thread
  // (a DataLoader worker) that allocates it.
  if (cudaHostAlloc(&ptr, nbytes == 0 ? 1 : nbytes, cudaHostAllocPortable) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the failed call's error; the cache retries
    return nullptr;
  }
  return ptr;
}

void cuda_host_free(void* ptr) { (void)cudaFreeHost(ptr); }

void cuda_copy_to_host_async(int device, void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  const UseDevice use(device);
  cuda::check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, cuda::current_stream()),
              "cudaMemcpyAsync");
}

void cuda_copy_from_host_async(int device, void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  const UseDevice use(device);
  cuda::check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, cuda::current_stream()),
              "cudaMemcpyAsync");
}

}  // namespace toadstool::kernels
