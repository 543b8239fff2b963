// Pinned host memory: pin_memory() and the copies that do not wait.
//
// The host side of such a copy is read or written by the GPU after the call
// returns, so its pinned block records the stream the copy was queued on:
// freed before that stream has run the copy, the block is not handed out
// again until it has (tensor/block_cache.h; PyTorch's CachingHostAllocator).
#include "toadstool/tensor/pinned.h"

#include "toadstool/kernels/streams.h"
#include "toadstool/tensor/allocator.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

namespace native {

Tensor pin_memory(const Tensor& t) {
  detail::check_defined(t, "pin_memory");
  TS_CHECK(t.device().is_cpu(), "pin_memory: expected a CPU tensor, got ", detail::describe(t),
           " on ", t.device(), " (only host memory is pinned)");
  if (t.is_pinned()) return t;
  TS_CHECK(cuda_is_available(), "pin_memory: pinned host memory needs a CUDA device, and none is ",
           "available (cuda_is_available() is false; ",
           cuda_is_built() ? "no GPU or driver found)" : "this build has no CUDA backend)");
  Tensor out = detail::make_pinned_tensor(t.shape(), t.dtype(), "pin_memory");
  return copy_(out, t);
}

}  // namespace native

namespace detail {

namespace {

void* storage_base(const Tensor& t) { return t.impl_ptr()->storage->data(); }

// A CUDA runtime failure as an Error naming the op, the tensor and the device.
template <class F>
void run_copy(const Tensor& src, Device device, F&& copy) {
  try {
    copy();
  } catch (const std::exception& e) {
    throw Error(concat("to(", device, ", non_blocking=true): copying ", describe(src), " from ",
                       src.device(), ": ", e.what()));
  }
}

}  // namespace

Tensor copy_non_blocking(const Tensor& src, Device device) {
  const size_t nbytes = static_cast<size_t>(src.numel()) * src.element_size();
  if (device.is_cuda() && src.is_pinned()) {
    Tensor out = make_tensor(src.shape(), src.dtype(), device, "to");  // makes `device` current
    const int index = device.index;
    run_copy(src, device, [&] {
      kernels::cuda_copy_from_host_async(index, out.data_ptr(), src.data_ptr(), nbytes);
      record_block_use(kCPU, storage_base(src), index, kernels::cuda_current_stream(index));
    });
    return out;
  }
  if (device.is_cpu() && src.device().is_cuda()) {
    Tensor out = make_pinned_tensor(src.shape(), src.dtype(), "to");
    const int index = src.device().index;
    backend_of(src.device());  // makes the source's GPU current
    run_copy(src, device, [&] {
      kernels::cuda_copy_to_host_async(index, out.data_ptr(), src.data_ptr(), nbytes);
      record_block_use(kCPU, storage_base(out), index, kernels::cuda_current_stream(index));
    });
    return out;
  }
  return {};
}

}  // namespace detail

}  // namespace toadstool
