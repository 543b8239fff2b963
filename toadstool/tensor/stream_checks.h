#pragma once
// Internal to tensor/: the checks and error translation shared by the
// stream, event and record_stream front-ends (tensor/stream.h).
#include <exception>

#include "toadstool/kernels/backend.h"
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/error.h"

namespace toadstool::detail {

// An Error naming `op` unless `device` is a GPU this process can use.
inline void check_cuda_device(Device device, const char* op) {
  TS_CHECK(device.is_cuda(), op, ": expected a CUDA device, got ", device);
  TS_CHECK(cuda_is_available(), op, ": needs a CUDA device, and none is available ",
           "(cuda_is_available() is false; ",
           cuda_is_built() ? "no GPU or driver found)" : "this build has no CUDA backend)");
  const int count = kernels::cuda_device_count();
  TS_CHECK(device.index >= 0 && device.index < count, op, ": no such CUDA device ", device, " (",
           count, count == 1 ? " device is" : " devices are", " available)");
}

// Runs a kernels/streams.h call; its std::runtime_error (a CUDA failure)
// becomes an Error naming the op and the device.
template <class F>
auto cuda_call(const char* op, Device device, F&& f) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(concat(op, " on ", device, ": ", e.what()));
  }
}

}  // namespace toadstool::detail
