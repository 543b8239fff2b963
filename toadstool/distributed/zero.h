#pragma once
// ZeroRedundancyOptimizer: ZeRO stage 1, the optimizer state sharded across
// the ranks of a process group (PyTorch's
// torch.distributed.optim.ZeroRedundancyOptimizer; DeepSpeed's stage 1).
//
//   auto pg = distributed::init_process_group("mpi");
//   distributed::ZeroRedundancyOptimizer opt(model->parameters(), pg,
//       [](std::vector<optim::ParamGroup> groups) {
//         return std::make_unique<optim::AdamW>(std::move(groups), optim::AdamWOptions{});
//       });
//   model_forward_and_loss(x_local).backward();   // the model is NOT wrapped in DDP
//   opt.step();                                    // average grads, step this rank's shard, share
//
// The parameters (one dtype, float32 or float64) are laid end to end in
// group order in one flat vector of P elements, padded to N * S (S =
// ceil(P / N), N ranks); rank r owns the elements [r S, (r + 1) S). The
// parameters become views into that vector (Tensor::set_data), so the
// all_gather of the updated shards writes them in place. step():
//   1. flat_grad [N S] <- each parameter's grad() (zeros where it has none);
//   2. reduce_scatter(Average): this rank's shard_grad [S] = the mean over
//      ranks of its part (plus a small all_reduce of which parameters had a
//      gradient anywhere: one that had none on any rank is not stepped,
//      as in the plain optimizer);
//   3. the wrapped optimizer steps this rank's pieces of the parameters
//      (1-D views of the flat vector, one piece per parameter overlapping
//      the shard, in the parameter's group), so its state (AdamW's two
//      moments) is S elements per buffer instead of P;
//   4. all_gather(flat, shard) in place: every rank has every update.
// Construction (a collective) checks that the ranks' parameters agree in
// shape and dtype and broadcasts rank 0's values, as DDP does.
//
// It is an optim::Optimizer, so the trainer, LR schedules and GradScaler
// take it as they take the optimizer it wraps: its param_groups() are the
// user's groups with every hyper-parameter (a schedule sets them there;
// step() copies them to the local optimizer), and its state_dict() is the
// wrapped optimizer's own format over all the parameters, gathered from
// every rank, so a checkpoint moves between ZeRO runs of any world size and
// plain runs (docs/distributed.md).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "toadstool/distributed/process_group.h"
#include "toadstool/nn/optim/optimizer.h"

namespace toadstool::distributed {

// Makes the wrapped optimizer: the one that steps this rank's pieces (one
// group per user group that has pieces here, with that group's options), and
// over all the parameters, unstepped, for its defaults and checks (at
// construction) and to read a state dict (load_state_dict).
using OptimizerFactory =
    std::function<std::unique_ptr<optim::Optimizer>(std::vector<optim::ParamGroup> groups)>;

class ZeroRedundancyOptimizer : public optim::Optimizer {
 public:
  ZeroRedundancyOptimizer(std::vector<optim::ParamGroup> groups,
                          std::shared_ptr<ProcessGroup> group, const OptimizerFactory& factory);
  ZeroRedundancyOptimizer(std::vector<Tensor> params, std::shared_ptr<ProcessGroup> group,
                          const OptimizerFactory& factory);

  // Collectives (every rank calls them): the four stages above. The gated
  // form (GradScaler) first sums `skip_if_nonzero` over the ranks in place,
  // so that an overflow on any rank skips the step on every rank and the
  // scaler's update() backs off alike everywhere.
  void step() override;
  void step(const Tensor& skip_if_nonzero) override;

  // A collective: the state of every parameter in the wrapped optimizer's
  // state_dict() format (each buffer all-gathered from the shards), the same
  // on every rank; what the wrapped optimizer over all the parameters in one
  // process would hold.
  TensorDict state_dict() const override;
  // Not a collective: takes a state_dict() in that format, saved by a ZeRO
  // run of any world size or by the plain optimizer (checked as the plain
  // optimizer checks it), and keeps this rank's shard of each buffer.
  void load_state_dict(const TensorDict& dict) override;

  // Gradient clipping of the mean gradient, as nn::clip_grad_norm_ and
  // nn::clip_grad_value_ clip one process's (before the ranks' gradients
  // are averaged, clipping each would clip something else): collectives
  // that run the first two stages of step() now (step() then does not
  // repeat them) and clip this rank's shard of the mean gradient. Returns
  // the total norm, the same on every rank. GradClipCallback calls them.
  double clip_grad_norm_(double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false);
  void clip_grad_value_(double clip_value);

  // The groups are fixed at construction: an Error.
  void add_param_group(optim::ParamGroup group) override;
  // Also forgets gradients clipping reduced without a step.
  void zero_grad(bool set_to_none = true) override;

  // The wrapped optimizer's checks and buffers.
  void validate(const optim::Options& options) const override;
  std::vector<std::string> buffer_names(const optim::Options& options) const override;
  bool counts_steps() const override;

  // The optimizer over this rank's pieces; null on a rank whose shard holds
  // only padding (more ranks than elements). Its groups' hyper-parameters
  // are copied from param_groups() at each step.
  optim::Optimizer* local_optimizer() const { return local_.get(); }
  // This rank's shard: elements [shard_begin(), shard_begin() + shard_size())
  // of the flat parameter vector (P real elements, shard_size() * N padded).
  int64_t shard_begin() const { return shard_begin_; }
  int64_t shard_size() const { return shard_size_; }
  int64_t total_elements() const { return total_; }
  // Bytes of optimizer state this rank holds (every buffer of every piece;
  // AdamW: about 2 x 4 x P / N for float32 after the first step).
  int64_t local_state_bytes() const;
  const std::shared_ptr<ProcessGroup>& process_group() const { return group_; }

 protected:
  // Not used: step() steps the local optimizer, which updates the pieces.
  void update(const optim::Options& options, const Tensor& param, const Tensor& grad,
              optim::ParamState& state, optim::StepBatch& batch) override;

 private:
  // `reference`: the wrapped optimizer over all the parameters, never
  // stepped (it holds no state): its defaults, checks and buffer names.
  ZeroRedundancyOptimizer(std::unique_ptr<optim::Optimizer> reference,
                          std::shared_ptr<ProcessGroup> group, OptimizerFactory factory);

  struct Piece {
    size_t param;       // parameter number (group order)
    int64_t begin = 0;  // element of the parameter where the piece starts
    Tensor values;      // [length] view of the flat parameters
  };
  void check_and_flatten();
  // Stages 1 and 2, once per step, and the pieces' gradients set from the
  // mean gradient's shard.
  void reduce_gradients();
  void step_shard(const Tensor& skip_if_nonzero);
  // The pieces' tensors (the local optimizer's parameters).
  std::vector<Tensor> piece_values() const;

  std::unique_ptr<optim::Optimizer> reference_;
  OptimizerFactory factory_;
  std::vector<Tensor> params_;      // group order
  std::vector<size_t> group_of_;    // parameter -> its group
  std::vector<int64_t> offset_of_;  // parameter -> its first element in flat_
  std::shared_ptr<ProcessGroup> group_;
  int64_t total_ = 0;
  int64_t shard_size_ = 0;
  int64_t shard_begin_ = 0;
  Tensor flat_;                         // [N S] parameters (the parameters are views of it)
  Tensor flat_grad_;                    // [N S] gradients, filled each step
  Tensor shard_grad_;                   // [S] this rank's averaged gradients
  std::vector<Piece> pieces_;           // in the local optimizer's parameter order
  std::vector<size_t> local_group_of_;  // local optimizer's group -> user group
  std::unique_ptr<optim::Optimizer> local_;
  bool reduced_ = false;  // reduce_gradients() ran since the last step or zero_grad
};

}  // namespace toadstool::distributed
