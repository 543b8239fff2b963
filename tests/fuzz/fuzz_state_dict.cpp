// fuzz_state_dict: the bytes are a safetensors file of a state dict, loaded
// into modules and an optimizer (state_dict_models.h).
#include "accepts.h"
#include "fuzz_targets.h"
#include "scratch.h"
#include "state_dict_models.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/safetensors.h"

namespace toadstool::fuzz {
namespace {}  // namespace

int fuzz_state_dict(const uint8_t* data, size_t size) {
  const std::string path = fresh_scratch_folder("state_dict") + "/input.safetensors";
  write_file(path, {reinterpret_cast<const char*>(data), size});
  TensorDict dict;
  if (!accepts([&] { dict = load_safetensors(path); })) return 0;

  // Fresh models per input: a load that succeeds changes them, and the
  // optimizer's step after it changes the MLP.
  StateDictModels models;
  bool accepted = false;
  for (bool strict : {true, false}) {
    const bool mlp = accepts([&] { models.mlp->load_state_dict(dict, strict); });
    const bool transformer = accepts([&] { models.transformer->load_state_dict(dict, strict); });
    if (strict) accepted = mlp || transformer;
  }
  // A loaded optimizer state is then used: its step counts and buffers go
  // through a step (fuzz_checkpoint found an Adam step count past int64
  // that way, issue 18).
  if (accepts([&] { models.optimizer->load_state_dict(dict); })) {
    accepted = true;
    accepts([&] { models.step(); });
  }
  return accepted ? 1 : 0;
}

}  // namespace toadstool::fuzz
