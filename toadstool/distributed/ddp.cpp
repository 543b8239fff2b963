#include "toadstool/distributed/ddp.h"

#include <string>
#include <utility>
#include <vector>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/distributed/module_sync.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::distributed {

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::UnaryModule> module,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 const DistributedDataParallelOptions& options)
    : nn::UnaryModule("DistributedDataParallel"),
      module(std::move(module)),
      group_(std::move(group)) {
  TS_CHECK(this->module != nullptr, "DistributedDataParallel: the module is null");
  TS_CHECK(group_ != nullptr, "DistributedDataParallel: the process group is null");
  // Checked before any collective (the Reducer checks it again).
  TS_CHECK(options.bucket_cap_mb > 0, "DistributedDataParallel: bucket_cap_mb must be > 0, got ",
           options.bucket_cap_mb);
  register_module("module", this->module);
  // Every rank checks, then copies rank 0's values: the same collectives in
  // the same order on every rank.
  const std::vector<nn::NamedTensor> params = this->module->named_parameters();
  const std::vector<nn::NamedTensor> buffers = this->module->named_buffers();
  check_same_tensors(*group_, params, "DistributedDataParallel", "parameter");
  check_same_tensors(*group_, buffers, "DistributedDataParallel", "buffer");
  std::vector<Tensor> all;
  all.reserve(params.size() + buffers.size());
  for (const auto& [name, t] : params) all.push_back(t);
  for (const auto& [name, t] : buffers) all.push_back(t);
  broadcast_from_rank0(*group_, all);

  std::vector<Tensor> trained;
  for (const auto& [name, t] : params) {
    if (!t.requires_grad()) continue;
    trained.push_back(t);
    bucketed_names_.push_back(name);
  }
  reducer_ = std::make_unique<Reducer>(std::move(trained), bucketed_names_, group_,
                                       ReducerOptions{options.bucket_cap_mb, options.overlap});
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  // As PyTorch: the decision is taken at forward, so `with no_sync` around
  // the forward is what counts. A forward under NoGradGuard (evaluation)
  // has no backward and leaves the decision as it was.
  if (autograd::is_grad_enabled()) reducer_->prepare_for_backward(require_sync_);
  return module->forward(input);
}

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_parameter_names() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& bucket : reducer_->bucket_assignment()) {
    out.emplace_back();
    for (size_t i : bucket) out.back().push_back(bucketed_names_[i]);
  }
  return out;
}

double local_batch_weight(ProcessGroup& group, int64_t local_count) {
  TS_CHECK(local_count >= 0, "local_batch_weight (rank ", group.rank(), " of ", group.size(),
           "): the local count is negative: ", local_count);
  Tensor total = full({1}, local_count, TensorOptions(kInt64).device(group.device()));
  group.all_reduce(total, ReduceOp::Sum, /*async_op=*/false);
  const auto global = total.item<int64_t>();
  TS_CHECK(global > 0, "local_batch_weight (rank ", group.rank(), " of ", group.size(),
           "): every rank's count is 0");
  return static_cast<double>(group.size()) * static_cast<double>(local_count) /
         static_cast<double>(global);
}

}  // namespace toadstool::distributed
