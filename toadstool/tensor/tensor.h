#pragma once
// Tensor: a cheap, reference-counted handle (like torch::Tensor). Copying a
// Tensor copies the handle; views share the storage and carry their own
// shape, strides and offset (all counted in elements).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "toadstool/tensor/device.h"
#include "toadstool/tensor/dtype.h"
#include "toadstool/tensor/options.h"
#include "toadstool/tensor/scalar.h"
#include "toadstool/tensor/storage.h"

namespace toadstool {

namespace autograd {
struct Meta;  // requires_grad, grad, grad_fn: defined in autograd/node.h
struct Node;  // one recorded op of the tape
}  // namespace autograd

using Shape = std::vector<int64_t>;

// The state behind a handle. Kept as a plain struct: the op front-ends in
// tensor/ read and build it directly. `autograd` is null for tensors that
// take no part in autograd (all tensors tensor/ creates); tensor/ never
// looks inside it.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;
  std::shared_ptr<autograd::Meta> autograd;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- metadata -----------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& sizes() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  // size(-1) is the last dim, as in PyTorch.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const;
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  int64_t storage_offset() const { return impl().offset; }
  // Whether the memory is pinned (page-locked) host memory: pin_memory()'s
  // result, or a non-blocking copy to the host.
  bool is_pinned() const { return impl().storage->is_pinned(); }
  size_t element_size() const { return toadstool::element_size(dtype()); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  // True when both handles point at the same TensorImpl.
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  bool shares_storage(const Tensor& other) const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Address of element [0, ..., 0] (offset applied).
  void* data_ptr() const;
  // Typed form; throws if T does not match the dtype.
  template <class T>
  T* data_ptr() const;
  // The value of a one-element tensor, converted to T.
  template <class T>
  T item() const;

  // Counts in-place writes to the storage (shared by all views).
  uint64_t version() const { return impl().storage->version(); }
  void bump_version() const { impl().storage->bump_version(); }

  // PyTorch-like text: tensor([[1., 2.], [3., 4.]], dtype=float64)
  std::string str() const;

  // --- conversions ----------------------------------------------------------
  Tensor to(DType dtype) const;  // a copy unless the dtype already matches
  // non_blocking (PyTorch's): from pinned host memory to a GPU, or from a
  // GPU to the host, the copy is queued on the current stream and this
  // returns at once (to the host into a new pinned tensor, which must not be
  // read before the stream is synchronised: Stream::synchronize, an Event).
  // Other copies, or non_blocking false, wait until the data has arrived.
  Tensor to(Device device, bool non_blocking = false) const;
  // A copy in pinned host memory, itself when already pinned: GPU copies
  // from it may then be non-blocking (needs a CUDA device; an Error without).
  Tensor pin_memory() const;
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;

  // --- views (share storage) ------------------------------------------------
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // transpose of a 2-D (or 1-D) tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start = std::nullopt,
               std::optional<int64_t> end = std::nullopt, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;  // a copy

  // --- element-wise ---------------------------------------------------------
  Tensor add(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor sub(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor mul(const Tensor& other) const;
  Tensor div(const Tensor& other) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor pow(const Scalar& exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max) const;
  Tensor masked_fill(const Tensor& mask, const Scalar& value) const;

  // In place: write into this tensor's memory and bump its version.
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& add_(const Scalar& other);
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& sub_(const Scalar& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(const Scalar& other);
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max);
  Tensor& masked_fill_(const Tensor& mask, const Scalar& value);
  Tensor& fill_(const Scalar& value);
  Tensor& zero_();
  Tensor& copy_(const Tensor& src);

  // --- reductions (dims empty = all dims) -------------------------------------
  Tensor sum(const Shape& dims = {}, bool keepdim = false) const;
  Tensor mean(const Shape& dims = {}, bool keepdim = false) const;
  Tensor prod(const Shape& dims = {}, bool keepdim = false) const;
  Tensor amax(const Shape& dims = {}, bool keepdim = false) const;
  Tensor amin(const Shape& dims = {}, bool keepdim = false) const;
  Tensor var(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor logsumexp(const Shape& dims, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;

  // --- linear algebra and NN ----------------------------------------------------
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

  // --- autograd (implemented in autograd/; see docs/autograd.md) ------------------
  // Whether gradients flow to this tensor: a leaf marked requires_grad, or
  // the result of a recorded op.
  bool requires_grad() const;
  // Marks a floating leaf as a parameter to differentiate; returns itself.
  Tensor& requires_grad_(bool requires_grad = true);
  // True for tensors not produced by a recorded op.
  bool is_leaf() const;
  // The accumulated gradient (undefined until a backward reaches it).
  const Tensor& grad() const;
  Tensor& mutable_grad() const;
  void set_grad(const Tensor& grad) const;
  // Sets grad to undefined (set_to_none) or fills it with zeros.
  void zero_grad(bool set_to_none = true) const;
  // The op that produced this tensor (null for leaves).
  std::shared_ptr<autograd::Node> grad_fn() const;
  // Backpropagates from this tensor: `gradient` may be omitted for a
  // one-element tensor; retain_graph keeps the saved tensors for another pass.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  // Shares storage, takes no part in autograd.
  Tensor detach() const;
  // Points this leaf at `data`'s storage, shape and dtype and keeps its
  // autograd state (PyTorch's `param.data = data`): every handle sharing the
  // leaf sees the change, which is how Module::to(dtype) converts parameters.
  // A gradient of the old shape or dtype is dropped.
  void set_data(const Tensor& data) const;
  // Keeps the gradient of a non-leaf in grad() after backward.
  void retain_grad() const;
  bool retains_grad() const;
  // Runs `hook` on this tensor's gradient when backward computes it; a hook
  // that returns a defined tensor replaces the gradient. Returns an id.
  size_t register_hook(std::function<Tensor(const Tensor&)> hook) const;
  void remove_hook(size_t id) const;
  // Runs `hook(leaf)` each time backward has added a gradient into this
  // leaf's grad(), so the hook reads the accumulated grad() (PyTorch's
  // register_post_accumulate_grad_hook; data parallel starts a bucket's
  // all-reduce from it). Leaves that require grad only. Returns an id.
  size_t register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;
  void remove_post_accumulate_grad_hook(size_t id) const;

 private:
  const TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

// Operators, as in libtorch. Comparisons return bool tensors.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Scalar& b);
Tensor operator+(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Scalar& b);
Tensor operator-(const Scalar& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Scalar& b);
Tensor operator*(const Scalar& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Scalar& b);
Tensor operator/(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Scalar& b);
Tensor operator!=(const Tensor& a, const Scalar& b);
Tensor operator<(const Tensor& a, const Scalar& b);
Tensor operator<=(const Tensor& a, const Scalar& b);
Tensor operator>(const Tensor& a, const Scalar& b);
Tensor operator>=(const Tensor& a, const Scalar& b);
Tensor operator&&(const Tensor& a, const Tensor& b);
Tensor operator||(const Tensor& a, const Tensor& b);
Tensor operator!(const Tensor& a);

std::ostream& operator<<(std::ostream& out, const Tensor& t);

// --- template definitions ------------------------------------------------------

template <class T>
T* Tensor::data_ptr() const {
  TS_CHECK(dtype() == dtype_of<T>, "data_ptr: tensor has dtype ", dtype(), ", requested ",
           dtype_name(dtype_of<T>));
  return static_cast<T*>(data_ptr());
}

}  // namespace toadstool
