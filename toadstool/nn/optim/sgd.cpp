#include "toadstool/nn/optim/sgd.h"

#include "toadstool/autograd/ops.h"
#include "toadstool/tensor/error.h"

namespace toadstool::optim {

namespace {

Options sgd_defaults(const SGDOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer("SGD", sgd_defaults(options)) {
  TS_CHECK(!groups.empty(), "SGD: got an empty parameter list");
  for (auto& group : groups) add_param_group(std::move(group));
}

void SGD::validate(const Options& o) const {
  // `!(x >= 0)` also rejects NaN.
  TS_CHECK(o.at("lr") >= 0, "SGD: invalid learning rate ", o.at("lr"), " (must be >= 0)");
  TS_CHECK(o.at("momentum") >= 0, "SGD: invalid momentum ", o.at("momentum"), " (must be >= 0)");
  TS_CHECK(o.at("weight_decay") >= 0, "SGD: invalid weight_decay ", o.at("weight_decay"),
           " (must be >= 0)");
  TS_CHECK(o.at("dampening") == o.at("dampening"), "SGD: invalid dampening ", o.at("dampening"));
  if (o.at("nesterov") != 0) {
    TS_CHECK(o.at("momentum") > 0 && o.at("dampening") == 0,
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum ",
             o.at("momentum"), " and dampening ", o.at("dampening"));
  }
}

std::vector<std::string> SGD::buffer_names(const Options& o) const {
  if (o.at("momentum") == 0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const Options& o, const Tensor& param, const Tensor& grad, ParamState& state,
                 StepBatch& batch) {
  SgdStep hp;
  hp.lr = o.at("lr");
  hp.momentum = o.at("momentum");
  hp.dampening = o.at("dampening");
  hp.weight_decay = o.at("weight_decay");
  hp.nesterov = o.at("nesterov") != 0;
  hp.maximize = o.at("maximize") != 0;
  Tensor buffer;
  if (hp.momentum != 0) {
    // PyTorch creates the buffer as a copy of the first step's direction.
    const Tensor* existing = state.buffers.find("momentum_buffer");
    hp.first_step = existing == nullptr;
    buffer = hp.first_step ? zeros_buffer(param) : *existing;
    if (hp.first_step) state.buffers.insert("momentum_buffer", buffer);
  }
  hp.gate.step = ++state.step;  // SGD saves no step count; a gated step needs it
  batch.sgd.push_back({param, grad, buffer, hp, gate_of(state)});
}

}  // namespace toadstool::optim
