#include "toadstool/nn/optim/adam.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"

namespace toadstool::optim {

namespace {

Options adam_defaults(const AdamOptions& o) {
  return {{"lr", o.lr},
          {"beta1", o.betas.first},
          {"beta2", o.betas.second},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"amsgrad", o.amsgrad ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}

std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  return {ParamGroup(std::move(params))};
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("Adam", false, one_group(std::move(params)), options) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam("Adam", false, std::move(groups), options) {}

Adam::Adam(const char* name, bool decoupled, std::vector<ParamGroup> groups,
           const AdamOptions& options)
    : Optimizer(name, adam_defaults(options)), decoupled_(decoupled) {
  TS_CHECK(!groups.empty(), name, ": got an empty parameter list");
  for (auto& group : groups) add_param_group(std::move(group));
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam("AdamW", true, one_group(std::move(params)), options) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : Adam("AdamW", true, std::move(groups), options) {}

void Adam::validate(const Options& o) const {
  // `!(x >= 0)` also rejects NaN.
  TS_CHECK(o.at("lr") >= 0, name(), ": invalid learning rate ", o.at("lr"), " (must be >= 0)");
  TS_CHECK(o.at("eps") >= 0, name(), ": invalid epsilon ", o.at("eps"), " (must be >= 0)");
  TS_CHECK(o.at("beta1") >= 0 && o.at("beta1") < 1, name(),
           ": invalid beta parameter at index 0: ", o.at("beta1"), " (must be in [0, 1))");
  TS_CHECK(o.at("beta2") >= 0 && o.at("beta2") < 1, name(),
           ": invalid beta parameter at index 1: ", o.at("beta2"), " (must be in [0, 1))");
  TS_CHECK(o.at("weight_decay") >= 0, name(), ": invalid weight_decay ", o.at("weight_decay"),
           " (must be >= 0)");
}

std::vector<std::string> Adam::buffer_names(const Options& o) const {
  if (o.at("amsgrad") != 0) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::update(const Options& o, const Tensor& param, const Tensor& grad, ParamState& state,
                  StepBatch& batch) {
  AdamStep hp;
  hp.lr = o.at("lr");
  hp.beta1 = o.at("beta1");
  hp.beta2 = o.at("beta2");
  hp.eps = o.at("eps");
  hp.weight_decay = o.at("weight_decay");
  hp.decoupled = decoupled_;
  hp.amsgrad = o.at("amsgrad") != 0;
  hp.maximize = o.at("maximize") != 0;
  // Buffers start at zero; max_exp_avg_sq also when amsgrad is switched on later.
  for (const auto& name : buffer_names(o)) {
    if (!state.buffers.contains(name)) state.buffers.insert(name, zeros_buffer(param));
  }
  hp.step = ++state.step;
  hp.gate.step = hp.step;
  batch.adam.push_back({param, grad, state.buffers.at("exp_avg"), state.buffers.at("exp_avg_sq"),
                        hp.amsgrad ? state.buffers.at("max_exp_avg_sq") : Tensor(), hp,
                        gate_of(state)});
}

}  // namespace toadstool::optim
