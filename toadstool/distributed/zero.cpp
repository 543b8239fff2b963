#include "toadstool/distributed/zero.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/distributed/module_sync.h"
#include "toadstool/nn/clip_grad.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::distributed {

namespace {

constexpr const char* kZero = "ZeroRedundancyOptimizer";

// The factory's optimizer over `groups`.
std::unique_ptr<optim::Optimizer> make(const OptimizerFactory& factory,
                                       std::vector<optim::ParamGroup> groups) {
  TS_CHECK(factory != nullptr, kZero, ": the optimizer factory is empty");
  std::unique_ptr<optim::Optimizer> made = factory(std::move(groups));
  TS_CHECK(made != nullptr, kZero, ": the optimizer factory returned null");
  return made;
}

}  // namespace

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<Tensor> params,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 const OptimizerFactory& factory)
    : ZeroRedundancyOptimizer(std::vector<optim::ParamGroup>{optim::ParamGroup(std::move(params))},
                              std::move(group), factory) {}

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<optim::ParamGroup> groups,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 const OptimizerFactory& factory)
    : ZeroRedundancyOptimizer(make(factory, std::move(groups)), std::move(group), factory) {}

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::unique_ptr<optim::Optimizer> reference,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 OptimizerFactory factory)
    : Optimizer(kZero, reference->defaults()),
      reference_(std::move(reference)),
      factory_(std::move(factory)),
      group_(std::move(group)) {
  TS_CHECK(group_ != nullptr, kZero, ": the process group is null");
  // The reference checked the groups and filled in their hyper-parameters.
  for (const optim::ParamGroup& user_group : reference_->param_groups()) {
    Optimizer::add_param_group(user_group);
  }
  for (size_t g = 0; g < param_groups().size(); ++g) {
    for (const Tensor& p : param_groups()[g].params) {
      params_.push_back(p);
      group_of_.push_back(g);
    }
  }
  check_and_flatten();

  // This rank's pieces: the part of each parameter inside [begin, end).
  const int64_t end = shard_begin_ + shard_size_;
  std::vector<optim::ParamGroup> local_groups(param_groups().size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t lo = std::max(offset_of_[i], shard_begin_);
    const int64_t hi = std::min(offset_of_[i] + params_[i].numel(), end);
    if (lo >= hi) continue;
    Piece piece{i, lo - offset_of_[i], flat_.narrow(0, lo, hi - lo)};
    piece.values.set_grad(shard_grad_.narrow(0, lo - shard_begin_, hi - lo));
    local_groups[group_of_[i]].params.push_back(piece.values);
    pieces_.push_back(std::move(piece));
  }
  std::vector<optim::ParamGroup> present;
  for (size_t g = 0; g < local_groups.size(); ++g) {
    if (local_groups[g].params.empty()) continue;
    local_groups[g].options = reference_->param_groups()[g].options;
    present.push_back(std::move(local_groups[g]));
    local_group_of_.push_back(g);
  }
  if (!present.empty()) local_ = make(factory_, std::move(present));
}

// Checks the parameters, takes rank 0's values, and moves them into one
// flat vector that they then view.
void ZeroRedundancyOptimizer::check_and_flatten() {
  TS_CHECK(!params_.empty(), kZero, ": got an empty parameter list");
  const DType dtype = params_[0].dtype();
  const Device device = params_[0].device();
  NamedTensorList named;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    TS_CHECK(p.defined() && p.is_leaf(), kZero, ": parameter ", i,
             " must be a defined leaf tensor");
    TS_CHECK(p.dtype() == dtype && (dtype == kFloat32 || dtype == kFloat64), kZero,
             ": every parameter must have one dtype, float32 or float64; parameter 0 is ", dtype,
             ", parameter ", i, " is ", detail::describe(p));
    TS_CHECK(p.device() == device, kZero, ": every parameter must be on one device; parameter 0 ",
             "is on ", device, ", parameter ", i, " on ", p.device());
    named.emplace_back(detail::concat("group ", group_of_[i], " parameter ", i), p);
    total_ += p.numel();
  }
  TS_CHECK(total_ > 0, kZero, ": the parameters have no elements");
  check_same_tensors(*group_, named, kZero, "parameter");
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

void ZeroRedundancyOptimizer::step() { step_shard(Tensor()); }

void ZeroRedundancyOptimizer::step(const Tensor& skip_if_nonzero) {
  check_skip_flag(skip_if_nonzero);
  step_shard(skip_if_nonzero);
}

void ZeroRedundancyOptimizer::reduce_gradients() {
  if (reduced_) return;
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
  // The pieces' gradients: none for a parameter no rank had a gradient for
  // (it is not stepped, as the plain optimizer skips one without).
  for (const Piece& piece : pieces_) {
    const int64_t lo = offset_of_[piece.param] + piece.begin - shard_begin_;
    piece.values.set_grad(had[piece.param] > 0 ? shard_grad_.narrow(0, lo, piece.values.numel())
                                               : Tensor());
  }
  reduced_ = true;
}

void ZeroRedundancyOptimizer::step_shard(const Tensor& skip_if_nonzero) {
  NoGradGuard no_grad;
  reduce_gradients();
  reduced_ = false;
  // The skip flag summed over the ranks, in the caller's tensor.
  Tensor skip = skip_if_nonzero;
  if (skip.defined()) group_->all_reduce(skip, ReduceOp::Sum, /*async_op=*/false);
  // 3. Step the pieces with the user groups' current hyper-parameters.
  if (local_) {
    for (size_t j = 0; j < local_group_of_.size(); ++j) {
      local_->param_groups()[j].options = param_groups()[local_group_of_[j]].options;
    }
    if (skip.defined()) {
      local_->step(skip);
    } else {
      local_->step();
    }
  }
  // 4. Every rank's updated shard, in place.
  group_->all_gather(flat_, flat_.narrow(0, shard_begin_, shard_size_))->wait();
}

std::vector<Tensor> ZeroRedundancyOptimizer::piece_values() const {
  std::vector<Tensor> values;
  values.reserve(pieces_.size());
  for (const Piece& piece : pieces_) values.push_back(piece.values);
  return values;
}

double ZeroRedundancyOptimizer::clip_grad_norm_(double max_norm, double norm_type,
                                                bool error_if_nonfinite) {
  TS_CHECK(max_norm >= 0, kZero, ".clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  TS_CHECK(norm_type > 0, kZero, ".clip_grad_norm_: norm_type must be > 0 (or inf), got ",
           norm_type);
  reduce_gradients();
  // The norm of the ranks' shard norms is the norm of the whole.
  const std::vector<Tensor> values = piece_values();
  Tensor mine = nn::total_grad_norm(values, norm_type).reshape({1}).to(group_->device());
  Tensor every = zeros({group_->size()}, TensorOptions(kFloat64).device(group_->device()));
  group_->all_gather(every, mine)->wait();
  const double total = nn::vector_norm(every, norm_type).item<double>();
  TS_CHECK(!error_if_nonfinite || std::isfinite(total), kZero, ".clip_grad_norm_: the total ",
           norm_type, "-norm of the mean gradient is ", total, " (error_if_nonfinite is set)");
  nn::scale_grads_to_norm(values, max_norm, total);
  return total;
}

void ZeroRedundancyOptimizer::clip_grad_value_(double clip_value) {
  TS_CHECK(clip_value >= 0, kZero, ".clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  reduce_gradients();
  nn::clip_grad_value_(piece_values(), clip_value);
}

void ZeroRedundancyOptimizer::add_param_group(optim::ParamGroup /*group*/) {
  TS_CHECK(false, kZero, ": add_param_group after construction is not supported (the parameters ",
           "are laid out and sharded once): pass every group to the constructor");
}

void ZeroRedundancyOptimizer::zero_grad(bool set_to_none) {
  Optimizer::zero_grad(set_to_none);
  reduced_ = false;
}

void ZeroRedundancyOptimizer::update(const optim::Options& /*options*/, const Tensor& /*param*/,
                                     const Tensor& /*grad*/, optim::ParamState& /*state*/,
                                     optim::StepBatch& /*batch*/) {
  TS_CHECK(false, kZero, ": internal error: update() called; step() steps the local optimizer");
}

void ZeroRedundancyOptimizer::validate(const optim::Options& options) const {
  reference_->validate(options);
}

std::vector<std::string> ZeroRedundancyOptimizer::buffer_names(
    const optim::Options& options) const {
  return reference_->buffer_names(options);
}

bool ZeroRedundancyOptimizer::counts_steps() const { return reference_->counts_steps(); }

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
  NoGradGuard no_grad;
  // Per parameter: whether it has state, and its step count, from the rank
  // that holds its first element (all its pieces step together).
  std::vector<const optim::ParamState*> piece_states(pieces_.size());
  for (size_t k = 0; k < pieces_.size(); ++k) piece_states[k] = local_->state(pieces_[k].values);
  const auto count = static_cast<int64_t>(params_.size());
  Tensor stepped = zeros({count, 2}, kInt64);
  int64_t* flag_and_step = stepped.data_ptr<int64_t>();
  for (size_t k = 0; k < pieces_.size(); ++k) {
    if (pieces_[k].begin != 0 || piece_states[k] == nullptr) continue;
    flag_and_step[2 * pieces_[k].param] = 1;
    flag_and_step[2 * pieces_[k].param + 1] = piece_states[k]->step;
  }
  Tensor summed = stepped.to(group_->device());
  group_->all_reduce(summed, ReduceOp::Sum, /*async_op=*/false);
  stepped = summed.to(kCPU);
  flag_and_step = stepped.data_ptr<int64_t>();

  // Each buffer the groups use, its shards gathered into one [N S] vector
  // laid out as the parameters are.
  std::set<std::string> names;
  for (const optim::ParamGroup& group : param_groups()) {
    for (std::string& name : buffer_names(group.options)) names.insert(std::move(name));
  }
  std::map<std::string, Tensor> gathered;
  for (const std::string& name : names) {
    Tensor flat = zeros_like(flat_);
    for (size_t k = 0; k < pieces_.size(); ++k) {
      const Piece& piece = pieces_[k];
      const Tensor* buffer =
          piece_states[k] != nullptr ? piece_states[k]->buffers.find(name) : nullptr;
      if (buffer == nullptr) continue;
      flat.narrow(0, offset_of_[piece.param] + piece.begin, piece.values.numel()).copy_(*buffer);
    }
    group_->all_gather(flat, flat.narrow(0, shard_begin_, shard_size_))->wait();
    gathered.emplace(name, flat);
  }

  std::vector<optim::ParamState> states(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    states[i].step = flag_and_step[2 * i + 1];
    for (const std::string& name : buffer_names(param_groups()[group_of_[i]].options)) {
      states[i].buffers.insert(
          name, gathered.at(name).narrow(0, offset_of_[i], p.numel()).view(p.shape()));
    }
  }
  // Views of the gathered vectors, made for this dict: not copied again.
  return optim::format_state_dict(
      param_groups(), counts_steps(),
      [&](int64_t i, const Tensor& /*param*/) {
        return flag_and_step[2 * i] > 0 ? &states[i] : nullptr;
      },
      /*copy_buffers=*/false);
}

void ZeroRedundancyOptimizer::load_state_dict(const TensorDict& dict) {
  // Checked and read as the plain optimizer reads it, over all the
  // parameters (their hyper-parameters are the dict's).
  std::vector<optim::ParamGroup> groups;
  for (const optim::ParamGroup& group : param_groups()) groups.emplace_back(group.params);
  const std::unique_ptr<optim::Optimizer> whole = make(factory_, std::move(groups));
  whole->load_state_dict(dict);

  // This rank's pieces of that state, in the local optimizer's numbering.
  if (local_) {
    std::vector<optim::ParamGroup> local_groups = local_->param_groups();
    for (size_t j = 0; j < local_groups.size(); ++j) {
      local_groups[j].options = whole->param_groups()[local_group_of_[j]].options;
    }
    std::vector<optim::ParamState> piece_states(pieces_.size());
    std::vector<bool> has_state(pieces_.size());
    for (size_t k = 0; k < pieces_.size(); ++k) {
      const Piece& piece = pieces_[k];
      const optim::ParamState* state = whole->state(params_[piece.param]);
      if (state == nullptr) continue;
      has_state[k] = true;
      piece_states[k].step = state->step;
      for (const auto& [name, buffer] : state->buffers) {
        piece_states[k].buffers.insert(
            name, buffer.reshape({-1}).narrow(0, piece.begin, piece.values.numel()));
      }
    }
    // Slices of `whole`'s buffers: the local optimizer copies what it loads.
    local_->load_state_dict(optim::format_state_dict(
        local_groups, counts_steps(),
        [&](int64_t k, const Tensor& /*piece*/) {
          return has_state[k] ? &piece_states[k] : nullptr;
        },
        /*copy_buffers=*/false));
  }
  for (size_t g = 0; g < param_groups().size(); ++g) {
    param_groups()[g].options = whole->param_groups()[g].options;
  }
}

}  // namespace toadstool::distributed
