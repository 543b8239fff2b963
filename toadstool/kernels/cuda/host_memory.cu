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
  // Portable: pinned for every device, whichever is current on the thread
  // (a DataLoader worker, which adopts the process's device) that allocates it.
  cuda::adopt_process_device();
  void* ptr = nullptr;
  const cudaError_t status = cudaHostAlloc(&ptr, nbytes == 0 ? 1 : nbytes, cudaHostAllocPortable);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the failed call's error; the cache retries
    return nullptr;
  }
  cuda::check(status, "cudaHostAlloc");  // anything else is not "out of memory"
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
