#include "toadstool/tensor/tensor.h"

#include "toadstool/kernels/math.h"
#include "toadstool/tensor/allocator.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool {

Storage::Storage(size_t nbytes, Device device)
    : data_(detail::allocate(device, nbytes)), nbytes_(nbytes), device_(device) {}

Storage::Storage(size_t nbytes, Pinned)
    : data_(detail::allocate_pinned(nbytes)), nbytes_(nbytes), device_(kCPU), pinned_(true) {}

Storage::~Storage() {
  if (pinned_) {
    detail::deallocate_pinned(data_);
  } else {
    detail::deallocate(device_, data_, nbytes_);
  }
}

const TensorImpl& Tensor::impl() const {
  TS_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const { return shape()[detail::wrap_dim(d, dim(), "size")]; }

int64_t Tensor::stride(int64_t d) const { return strides()[detail::wrap_dim(d, dim(), "stride")]; }

int64_t Tensor::numel() const { return detail::shape_numel(shape()); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    const int64_t size = shape()[d];
    if (size == 0) return true;
    if (size != 1 && strides()[d] != expected) return false;
    expected *= size;
  }
  return true;
}

bool Tensor::shares_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::data_ptr() const {
  const TensorImpl& i = impl();
  return static_cast<char*>(i.storage->data()) + i.offset * static_cast<int64_t>(element_size());
}

template <class T>
T Tensor::item() const {
  detail::check_defined(*this, "item");
  TS_CHECK(numel() == 1, "item: expected a tensor with one element, got ", detail::describe(*this));
  return dispatch_all(dtype(), "item", [&](auto tag) -> T {
    using Src = typename decltype(tag)::type;
    Src value;
    TS_KERNEL(device(), copy_to_host, &value, data_ptr(), sizeof(Src));
    // As to(dtype) converts: a float that no integer holds (NaN, 1e30)
    // saturates instead of being undefined behaviour.
    return kernels::CastOp<T>{}(value);
  });
}

template bool Tensor::item<bool>() const;
template int64_t Tensor::item<int64_t>() const;
template int Tensor::item<int>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;

}  // namespace toadstool
