#include "toadstool/distributed/reducer.h"

#include <utility>

#include "toadstool/autograd/engine.h"
#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::distributed {

namespace {
constexpr const char* kDdp = "DistributedDataParallel";
}  // namespace

Reducer::Reducer(std::vector<Tensor> params, std::vector<std::string> names,
                 std::shared_ptr<ProcessGroup> group, const ReducerOptions& options)
    : params_(std::move(params)),
      names_(std::move(names)),
      group_(std::move(group)),
      options_(options) {
  TS_CHECK(options.bucket_cap_mb > 0, kDdp, ": bucket_cap_mb must be > 0, got ",
           options.bucket_cap_mb);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    TS_CHECK(p.dtype() == kFloat32 || p.dtype() == kFloat64, kDdp, ": parameter '", names_[i],
             "' is ", p.dtype(), "; gradients are averaged in float32 or float64 only");
  }
  build_buckets(options.bucket_cap_mb);
  ready_.assign(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i) {
    hook_ids_.push_back(params_[i].register_post_accumulate_grad_hook(
        [this, i](const Tensor&) { on_grad_ready(i); }));
  }
}

Reducer::~Reducer() {
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].remove_post_accumulate_grad_hook(hook_ids_[i]);
  }
}

// Reverse registration order (a model's last layers get their gradients
// first), a new bucket when the dtype or device changes or the next
// parameter would take the bucket past the cap: a parameter larger than the
// cap is a bucket of its own. The same model gives the same buckets on
// every rank. A bucket lives on its parameters' device (the process group
// checks that it is one it can reduce on).
void Reducer::build_buckets(double bucket_cap_mb) {
  const auto cap_bytes = static_cast<int64_t>(bucket_cap_mb * 1024 * 1024);
  bucket_of_.assign(params_.size(), 0);
  slot_of_.assign(params_.size(), 0);
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const int64_t p_bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const Tensor* last = buckets_.empty() ? nullptr : &params_[buckets_.back().params.front()];
    const bool fits = last != nullptr && bytes + p_bytes <= cap_bytes &&
                      last->dtype() == p.dtype() && last->device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = b.params.size();
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
    bytes += p_bytes;
  }
  for (Bucket& b : buckets_) {
    const Tensor& first = params_[b.params.front()];
    b.flat = zeros({b.numel + static_cast<int64_t>(b.params.size())},
                   TensorOptions(first.dtype()).device(first.device()));
    b.pending = b.params.size();
  }
}

std::vector<std::vector<size_t>> Reducer::bucket_assignment() const {
  std::vector<std::vector<size_t>> out;
  out.reserve(buckets_.size());
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

void Reducer::prepare_for_backward(bool sync) {
  TS_CHECK(!in_pass_, kDdp, " (rank ", group_->rank(), " of ", group_->size(), "): the last ",
           "synchronized backward did not finish (it threw while gradients were being ",
           "reduced), so the ranks' all_reduces may be out of step; training cannot continue");
  sync_ = sync;
}

double Reducer::since_start(Clock::time_point t) const {
  return std::chrono::duration<double>(t - pass_start_).count();
}

void Reducer::on_grad_ready(size_t i) {
  if (!sync_) return;  // no_sync: the gradient just accumulates
  if (!in_pass_) {
    // The first gradient of this backward: the end-of-backward callback
    // completes and waits for every bucket.
    in_pass_ = true;
    pass_start_ = Clock::now();
    stats_ = SyncStats{};
    stats_.start = pass_start_;
    stats_.buckets = static_cast<int>(buckets_.size());
    autograd::queue_callback([this] { finalize(); });
  }
  TS_CHECK(!ready_[i], kDdp, ": parameter '", names_[i], "' got its gradient twice in one ",
           "backward");
  ready_[i] = 1;
  fill(i, /*had_grad=*/true);
  if (options_.overlap) issue_ready_buckets();
}

void Reducer::fill(size_t i, bool had_grad) {
  Bucket& b = buckets_[bucket_of_[i]];
  const size_t slot = slot_of_[i];
  const Tensor& p = params_[i];
  Tensor dst = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.shape());
  if (had_grad) {
    dst.copy_(p.grad());
  } else {
    dst.zero_();
  }
  b.flat.narrow(0, b.numel + static_cast<int64_t>(slot), 1).fill_(had_grad ? 1.0 : 0.0);
  --b.pending;
}

// Buckets are issued strictly in bucket order, so every rank issues the same
// all_reduces in the same order whatever order its gradients arrive in (the
// process group's ordering rule); a bucket ready early waits for the ones
// before it.
void Reducer::issue_ready_buckets() {
  while (next_to_issue_ < buckets_.size() && buckets_[next_to_issue_].pending == 0) {
    Bucket& b = buckets_[next_to_issue_++];
    b.work = group_->all_reduce(b.flat, ReduceOp::Average);
    if (next_to_issue_ == 1) stats_.first_issue_s = since_start(Clock::now());
    if (autograd::in_backward() && !finalizing_) ++stats_.buckets_issued_in_backward;
  }
}

void Reducer::finalize() {
  finalizing_ = true;
  stats_.backward_end_s = since_start(Clock::now());
  // Parameters the backward did not reach: their accumulated grad() if they
  // have one (from no_sync steps), else zeros with the flag 0.
  for (size_t i = 0; i < params_.size(); ++i) {
    if (ready_[i]) continue;
    const bool had_grad = params_[i].grad().defined();
    if (!had_grad) ++stats_.unused_parameters;
    fill(i, had_grad);
  }
  issue_ready_buckets();
  for (Bucket& b : buckets_) b.work->wait();
  stats_.waited_s = since_start(Clock::now());
  for (Bucket& b : buckets_) {
    b.work.reset();
    // The flags on the CPU, one copy per bucket (on a GPU, one transfer
    // rather than one per parameter).
    const Tensor flags =
        b.flat.narrow(0, b.numel, static_cast<int64_t>(b.params.size())).to(kCPU).to(kFloat64);
    const double* any_rank_had_grad = flags.data_ptr<double>();
    for (size_t slot = 0; slot < b.params.size(); ++slot) {
      const Tensor& p = params_[b.params[slot]];
      if (any_rank_had_grad[slot] == 0) continue;
      const Tensor avg = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.shape());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.set_grad(avg.clone());
      }
    }
    b.pending = b.params.size();
  }
  ready_.assign(params_.size(), 0);
  next_to_issue_ = 0;
  in_pass_ = false;
  finalizing_ = false;
  stats_.synced_s = since_start(Clock::now());
  ++synchronized_backwards_;
}

}  // namespace toadstool::distributed
