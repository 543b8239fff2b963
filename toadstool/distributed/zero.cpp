#include "toadstool/distributed/zero.h"

#include <algorithm>
#include <string>
#include <utility>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/distributed/module_sync.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::distributed {

namespace {

constexpr const char* kWho = "ZeroRedundancyOptimizer";

const char* const kMetaNames[] = {"zero.world_size", "zero.rank", "zero.shard_begin",
                                  "zero.shard_size"};

}  // namespace

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<Tensor> params,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 const OptimizerFactory& factory)
    : ZeroRedundancyOptimizer(std::vector<optim::ParamGroup>{optim::ParamGroup(std::move(params))},
                              std::move(group), factory) {}

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<optim::ParamGroup> groups,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 const OptimizerFactory& factory)
    : groups_(std::move(groups)), group_(std::move(group)) {
  TS_CHECK(group_ != nullptr, kWho, ": the process group is null");
  TS_CHECK(factory != nullptr, kWho, ": the optimizer factory is empty");
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const Tensor& p : groups_[g].params) {
      params_.push_back(p);
      group_of_.push_back(g);
    }
  }
  check_and_flatten();

  // This rank's pieces: the part of each parameter inside [begin, end).
  const int64_t end = shard_begin_ + shard_size_;
  std::vector<optim::ParamGroup> local_groups(groups_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t lo = std::max(offset_of_[i], shard_begin_);
    const int64_t hi = std::min(offset_of_[i] + params_[i].numel(), end);
    if (lo >= hi) continue;
    Piece piece{i, lo - offset_of_[i], flat_.narrow(0, lo, hi - lo)};
    piece.values.set_grad(shard_grad_.narrow(0, lo - shard_begin_, hi - lo));
    local_groups[group_of_[i]].params.push_back(piece.values);
    local_groups[group_of_[i]].options = groups_[group_of_[i]].options;
    pieces_.push_back(std::move(piece));
  }
  std::erase_if(local_groups, [](const optim::ParamGroup& g) { return g.params.empty(); });
  if (!local_groups.empty()) local_ = factory(std::move(local_groups));
}

// Checks the parameters, takes rank 0's values, and moves them into one
// flat vector that they then view.
void ZeroRedundancyOptimizer::check_and_flatten() {
  TS_CHECK(!params_.empty(), kWho, ": got an empty parameter list");
  const DType dtype = params_[0].dtype();
  const Device device = params_[0].device();
  NamedTensorList named;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    TS_CHECK(p.defined() && p.is_leaf(), kWho, ": parameter ", i, " must be a defined leaf tensor");
    TS_CHECK(p.dtype() == dtype && (dtype == kFloat32 || dtype == kFloat64), kWho,
             ": every parameter must have one dtype, float32 or float64; parameter 0 is ", dtype,
             ", parameter ", i, " is ", detail::describe(p));
    TS_CHECK(p.device() == device, kWho, ": every parameter must be on one device; parameter 0 ",
             "is on ", device, ", parameter ", i, " on ", p.device());
    named.emplace_back(detail::concat("group ", group_of_[i], " parameter ", i), p);
    total_ += p.numel();
  }
  TS_CHECK(total_ > 0, kWho, ": the parameters have no elements");
  check_same_tensors(*group_, named, kWho, "parameter");
  broadcast_from_rank0(*group_, params_);

  const int64_t n = group_->size();
  shard_size_ = (total_ + n - 1) / n;
  shard_begin_ = group_->rank() * shard_size_;
  // On the parameters' device (which the process group must take).
  const TensorOptions options = TensorOptions(dtype).device(device);
  flat_ = zeros({n * shard_size_}, options);
  flat_grad_ = zeros({n * shard_size_}, options);
  shard_grad_ = zeros({shard_size_}, options);
  NoGradGuard no_grad;
  int64_t offset = 0;
  for (const Tensor& p : params_) {
    offset_of_.push_back(offset);
    Tensor view = flat_.narrow(0, offset, p.numel()).view(p.shape());
    view.copy_(p);
    p.set_data(view);  // same shape and dtype: the parameter keeps its grad
    offset += p.numel();
  }
}

void ZeroRedundancyOptimizer::step() {
  NoGradGuard no_grad;
  // 1. The gradients, end to end; which parameters have one on this rank
  //    (counted on the CPU, summed on the group's device).
  Tensor had_grad = zeros({static_cast<int64_t>(params_.size())}, kInt64);
  int64_t* had = had_grad.data_ptr<int64_t>();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor dst = flat_grad_.narrow(0, offset_of_[i], p.numel()).view(p.shape());
    if (p.grad().defined()) {
      dst.copy_(p.grad());
      had[i] = 1;
    } else {
      dst.zero_();
    }
  }
  // 2. This rank's shard of the mean gradient; how many ranks had each.
  Tensor had_anywhere = had_grad.to(group_->device());
  auto scatter = group_->reduce_scatter(shard_grad_, flat_grad_, ReduceOp::Average);
  auto flags = group_->all_reduce(had_anywhere, ReduceOp::Sum);
  scatter->wait();
  flags->wait();
  had_grad = had_anywhere.to(kCPU);
  had = had_grad.data_ptr<int64_t>();
  // 3. Step the pieces; a parameter no rank had a gradient for is skipped,
  //    as the plain optimizer skips a parameter without one.
  for (const Piece& piece : pieces_) {
    const int64_t lo = offset_of_[piece.param] + piece.begin - shard_begin_;
    piece.values.set_grad(had[piece.param] > 0 ? shard_grad_.narrow(0, lo, piece.values.numel())
                                               : Tensor());
  }
  if (local_) local_->step();
  // 4. Every rank's updated shard, in place.
  group_->all_gather(flat_, flat_.narrow(0, shard_begin_, shard_size_))->wait();
}

void ZeroRedundancyOptimizer::zero_grad(bool set_to_none) {
  for (const Tensor& p : params_) p.zero_grad(set_to_none);
}

int64_t ZeroRedundancyOptimizer::local_state_bytes() const {
  int64_t bytes = 0;
  if (!local_) return 0;
  for (const Piece& piece : pieces_) {
    const optim::ParamState* state = local_->state(piece.values);
    if (state == nullptr) continue;
    for (const auto& [name, buffer] : state->buffers) {
      bytes += buffer.numel() * static_cast<int64_t>(buffer.element_size());
    }
  }
  return bytes;
}

TensorDict ZeroRedundancyOptimizer::state_dict() const {
  TensorDict dict = local_ ? local_->state_dict() : TensorDict();
  const int64_t meta[] = {group_->size(), group_->rank(), shard_begin_, shard_size_};
  for (size_t k = 0; k < 4; ++k) dict.insert(kMetaNames[k], full({}, meta[k], kInt64));
  return dict;
}

void ZeroRedundancyOptimizer::load_state_dict(const TensorDict& dict) {
  const int64_t meta[] = {group_->size(), group_->rank(), shard_begin_, shard_size_};
  for (size_t k = 0; k < 4; ++k) {
    const Tensor* saved = dict.find(kMetaNames[k]);
    TS_CHECK(saved != nullptr, kWho, ": load_state_dict (rank ", group_->rank(), "): no entry '",
             kMetaNames[k], "': not a ZeroRedundancyOptimizer state");
    TS_CHECK(saved->item<int64_t>() == meta[k], kWho, ": load_state_dict (rank ", group_->rank(),
             "): the state was saved with ", kMetaNames[k], " = ", saved->item<int64_t>(),
             " but this optimizer has ", meta[k],
             "; a sharded state loads only into the same rank of a job with the same world ",
             "size and parameters");
  }
  TensorDict local;
  for (const auto& [name, tensor] : dict) {
    if (name.rfind("zero.", 0) != 0) local.insert(name, tensor);
  }
  if (local_) local_->load_state_dict(local);
}

}  // namespace toadstool::distributed
