// Copies, dtype conversions and fills.
#include <array>

#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/elementwise.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/pinned.h"

namespace toadstool {

namespace detail {

Tensor expand_to(const Tensor& t, const Shape& shape, const char* op) {
  if (t.shape() == shape) return t;
  const int64_t offset = static_cast<int64_t>(shape.size()) - t.dim();
  TS_CHECK(offset >= 0, op, ": cannot broadcast shape ", t.shape(), " to ", shape);
  Shape strides(shape.size(), 0);
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.shape()[d];
    TS_CHECK(size == shape[d + offset] || size == 1, op, ": cannot broadcast shape ", t.shape(),
             " to ", shape);
    strides[d + offset] = size == 1 ? 0 : t.strides()[d];
  }
  return make_view(t, shape, strides, t.storage_offset());
}

Tensor finish_result(const Tensor& computed, DType dt) {
  return computed.dtype() == dt ? computed : native::to_dtype(computed, dt);
}

}  // namespace detail

namespace native {

namespace {

// Two views overlap in memory in a way an element-wise copy cannot handle.
bool needs_staging(const Tensor& dst, const Tensor& src) {
  return dst.shares_storage(src) &&
         !(dst.storage_offset() == src.storage_offset() && dst.strides() == src.strides());
}

}  // namespace

Tensor& copy_(Tensor& self, const Tensor& src) {
  detail::check_defined(src, "copy_");
  detail::check_defined(self, "copy_");
  // Across devices (a CPU state dict into CUDA parameters) the source moves
  // to self's device first, as PyTorch's copy_ allows.
  const Device device = self.device();
  const Tensor moved = src.device() == device ? src : to_device(src, device);
  const Tensor source = needs_staging(self, moved) ? clone(moved) : moved;
  const Tensor expanded = detail::expand_to(source, self.shape(), "copy_");
  if (self.numel() > 0) {
    const std::array<const Tensor*, 2> operands{&self, &expanded};
    kernels::StridedPlan plan;
    detail::make_plan(operands, plan);
    TS_KERNEL(device, convert, self.dtype(), source.dtype(), plan, self.data_ptr(),
              expanded.data_ptr());
  }
  self.bump_version();
  return self;
}

Tensor& fill_(Tensor& self, const Scalar& value) {
  detail::check_defined(self, "fill_");
  kernels::ElementwiseCall call{.op = kernels::ElementwiseOp::Fill, .dtype = self.dtype()};
  call.a = detail::kernel_scalar(value, self.dtype(), "fill_");
  detail::run_elementwise(call, self);
  self.bump_version();
  return self;
}

Tensor& zero_(Tensor& self) { return fill_(self, 0); }

Tensor contiguous(const Tensor& t) {
  detail::check_defined(t, "contiguous");
  return t.is_contiguous() ? t : clone(t);
}

Tensor clone(const Tensor& t) {
  detail::check_defined(t, "clone");
  Tensor out = detail::make_tensor(t.shape(), t.dtype(), t.device());
  return copy_(out, t);
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  detail::check_defined(t, "to");
  if (t.dtype() == dtype) return t;
  Tensor out = detail::make_tensor(t.shape(), dtype, t.device());
  return copy_(out, t);
}

Tensor to_device(const Tensor& t, Device device, bool non_blocking) {
  detail::check_defined(t, "to");
  if (t.device() == device) return t;
  // The bytes go through host memory, so one side is the CPU: between two
  // other devices, in two steps (which wait).
  if (!t.device().is_cpu() && !device.is_cpu()) return to_device(to_device(t, kCPU), device);
  // A strided pinned tensor is gathered into pageable memory here, so its
  // copy waits.
  const Tensor src = contiguous(t);
  if (non_blocking) {
    if (Tensor out = detail::copy_non_blocking(src, device); out.defined()) return out;
  }
  Tensor out = detail::make_tensor(t.shape(), t.dtype(), device);
  const size_t nbytes = static_cast<size_t>(src.numel()) * src.element_size();
  if (device.is_cpu()) {
    TS_KERNEL(src.device(), copy_to_host, out.data_ptr(), src.data_ptr(), nbytes);
  } else {
    TS_KERNEL(device, copy_from_host, out.data_ptr(), src.data_ptr(), nbytes);
  }
  return out;
}

}  // namespace native
}  // namespace toadstool
