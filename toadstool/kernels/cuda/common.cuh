#pragma once
// What every CUDA kernel file shares: error checks, the stream the entries
// run on, and the launch geometry of grid-stride loops.
//
// Kernels do not check user input (the front-end has, kernels/backend.h). A
// failed CUDA or cuBLAS call throws std::runtime_error "<call>: <message>";
// the dispatcher (tensor/dispatch.h) turns it into a toadstool::Error that
// also names the entry and the device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "toadstool/kernels/backend.h"
#include "toadstool/kernels/dtype_dispatch.h"

namespace toadstool::kernels::cuda {

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    // The failed call also left its error as the thread's last one, which
    // the next kernel's check_launch would report as its own (after an
    // out-of-memory Error that the user caught, say). A sticky error (a
    // kernel fault) stays and surfaces again.
    (void)cudaGetLastError();
    throw std::runtime_error(std::string(call) + ": " + cudaGetErrorString(status));
  }
}

// After a launch: a bad configuration or an earlier asynchronous fault.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// The stream every entry launches on and the host copies order with: the
// calling thread's current stream on its current device (streams.cu; the
// default stream until the user sets another, tensor/stream.h).
cudaStream_t current_stream();

// On a thread that has chosen no device (a DataLoader worker pinning
// memory): makes current the device this process last chose on any thread,
// rather than let the runtime create a context on GPU 0 (0.5 GiB) in a job
// whose process uses another GPU (streams.cu).
void adopt_process_device();

inline constexpr int kThreads = 256;

// The emulation tests compile the kernel files with a cap of a few blocks
// on every grid of blocks_for and grid_for (tests/cuda_emulation/
// emulated_names.h), so that each grid-stride loop runs more than once
// there; here it never binds.
#ifndef TOADSTOOL_EMULATION_GRID_CAP
#define TOADSTOOL_EMULATION_GRID_CAP (int64_t{1} << 31)
#endif

// Blocks for a grid-stride loop over n items: one item per thread up to a
// cap that fills any current GPU several times over (at least one block).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  constexpr int64_t kMaxBlocks = std::min<int64_t>(65535, TOADSTOOL_EMULATION_GRID_CAP);
  return static_cast<unsigned>(std::clamp<int64_t>((n + threads - 1) / threads, 1, kMaxBlocks));
}

// Launches kernel<<<grid, block, shared_bytes, current_stream()>>>(args...)
// and checks it, `name` naming it in the error. Every launch of the files
// that tests/cuda_emulation/ compiles as C++ goes through here: its shim
// (shim/cuda_runtime.h) defines launch_kernel and dynamic_shared_memory to
// run the kernel on the CPU instead, since C++ has no <<< >>>.
#if defined(__CUDACC__)
template <class... Params, class... Args>
void launch_kernel(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t shared_bytes, const Args&... args) {
  kernel<<<grid, block, shared_bytes, current_stream()>>>(args...);
  check_launch(name);
}

// The block's dynamic shared memory (the launch's shared_bytes).
__device__ inline unsigned char* dynamic_shared_memory() {
  extern __shared__ __align__(16) unsigned char dynamic_shared[];
  return dynamic_shared;
}
#endif

// Grid-stride loop bounds: for (i = first_index(); i < n; i += index_step()).
__device__ inline int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t index_step() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

}  // namespace toadstool::kernels::cuda
