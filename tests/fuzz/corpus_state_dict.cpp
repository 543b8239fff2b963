// make-corpus for fuzz_state_dict: the state dicts of StateDictModels
// (state_dict_models.h), and edits of them that a load must refuse.
#include <string>

#include "corpus_files.h"
#include "state_dict_models.h"

namespace toadstool::fuzz {
namespace {

// `dict` with `name` dropped.
TensorDict without(const TensorDict& dict, const std::string& name) {
  TensorDict out;
  for (const auto& [key, tensor] : dict) {
    if (key != name) out.insert(key, tensor);
  }
  return out;
}

// `dict` with `name` set to `tensor` (added if absent).
TensorDict with(TensorDict dict, const std::string& name, Tensor tensor) {
  dict.set(name, std::move(tensor));
  return dict;
}

}  // namespace

void make_state_dict_corpus(const std::filesystem::path& dir) {
  manual_seed(3);  // the same corpus on every remake
  StateDictModels models;
  models.step();
  const TensorDict mlp = models.mlp->state_dict();
  const TensorDict adam = models.optimizer->state_dict();
  write_corpus_file(dir, "valid-mlp.safetensors", safetensors_bytes(mlp));
  write_corpus_file(dir, "valid-transformer.safetensors",
                    safetensors_bytes(models.transformer->state_dict()));
  write_corpus_file(dir, "valid-adam.safetensors", safetensors_bytes(adam));
  // Another dtype is converted on load, as PyTorch's load_state_dict does.
  TensorDict f64;
  for (const auto& [key, tensor] : mlp) f64.insert(key, tensor.to(kFloat64));
  write_corpus_file(dir, "valid-mlp-float64.safetensors", safetensors_bytes(f64));

  write_corpus_file(dir, "invalid-mlp-shape.safetensors",
                    safetensors_bytes(with(mlp, "layers.0.bias", zeros({5}))));
  write_corpus_file(dir, "invalid-mlp-missing.safetensors",
                    safetensors_bytes(without(mlp, "layers.0.bias")));
  write_corpus_file(dir, "invalid-mlp-extra.safetensors",
                    safetensors_bytes(with(mlp, "layers.1.weight", zeros({1}))));
  write_corpus_file(dir, "invalid-adam-missing-buffer.safetensors",
                    safetensors_bytes(without(adam, "state.0.max_exp_avg_sq")));
  write_corpus_file(
      dir, "invalid-adam-beta.safetensors",
      safetensors_bytes(with(adam, "param_groups.1.beta1", scalar_tensor(1.0, kFloat64))));
  write_corpus_file(dir, "invalid-adam-step-1e30.safetensors",
                    safetensors_bytes(with(adam, "state.2.step", scalar_tensor(1e30, kFloat32))));
  write_corpus_file(dir, "invalid-adam-buffer-int.safetensors",
                    safetensors_bytes(with(adam, "state.1.exp_avg", zeros({4}, kInt64))));
}

}  // namespace toadstool::fuzz
