// Streams: the current stream of each GPU, the pool, StreamGuard and
// record_stream (tensor/stream.h). The handles and the per-thread state live
// in kernels/cuda/streams.cu; this file checks and names.
#include "toadstool/tensor/stream.h"

#include "toadstool/kernels/streams.h"
#include "toadstool/tensor/allocator.h"
#include "toadstool/tensor/shape_utils.h"
#include "toadstool/tensor/stream_checks.h"

namespace toadstool {

using detail::check_cuda_device;
using detail::cuda_call;

bool Stream::query() const {
  return cuda_call("Stream::query", device_,
                   [&] { return kernels::cuda_stream_query(device_.index, handle_); });
}

void Stream::synchronize() const {
  cuda_call("Stream::synchronize", device_,
            [&] { kernels::cuda_stream_synchronize(device_.index, handle_); });
}

void Stream::wait_event(const Event& event) const { event.wait(*this); }

void Stream::wait_stream(const Stream& other) const {
  if (other == *this) return;  // a stream's work is already in order
  Event event;
  event.record(other);
  event.wait(*this);
}

std::ostream& operator<<(std::ostream& out, const Stream& stream) {
  out << "Stream(device=" << stream.device() << ", ";
  if (stream.is_default()) return out << "default)";
  return out << "handle=" << stream.handle() << ")";
}

Stream cuda_current_stream(Device device) {
  check_cuda_device(device, "cuda_current_stream");
  return {device, kernels::cuda_current_stream(device.index)};
}

Stream cuda_default_stream(Device device) {
  check_cuda_device(device, "cuda_default_stream");
  return {device, nullptr};
}

Stream cuda_new_stream(Device device) {
  check_cuda_device(device, "cuda_new_stream");
  return {device, cuda_call("cuda_new_stream", device,
                            [&] { return kernels::cuda_pool_stream(device.index); })};
}

void cuda_set_current_stream(const Stream& stream) {
  // A Stream exists only for a usable GPU, so nothing is left to check.
  kernels::cuda_set_current_stream(stream.device().index, stream.handle());
}

StreamGuard::StreamGuard(const Stream& stream) : previous_(cuda_current_stream(stream.device())) {
  cuda_set_current_stream(stream);
}

StreamGuard::~StreamGuard() { cuda_set_current_stream(previous_); }

void record_stream(const Tensor& tensor, const Stream& stream) {
  detail::check_defined(tensor, "record_stream");
  TS_CHECK(tensor.device() == stream.device(), "record_stream: the tensor ",
           detail::describe(tensor), " is on ", tensor.device(), " but the stream is on ",
           stream.device(), " (a stream uses the memory of its own device)");
  detail::record_block_use(tensor.device(), tensor.impl_ptr()->storage->data(),
                           stream.device().index, stream.handle());
}

}  // namespace toadstool
