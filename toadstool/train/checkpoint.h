#pragma once
// Checkpoints: the whole state of a training run in one folder, written
// atomically and loaded without executing anything (safetensors + JSON
// only). docs/checkpoints.md has the layout and the resume semantics.
//
//   <folder>/model.safetensors   model.state_dict() (PyTorch's safetensors reads it)
//   <folder>/state.safetensors   optimizer.*, callbacks.<i>.<name>.*, loader.*
//   <folder>/trainer.json        format version, where to resume, generator state...
//
// CheckpointCallback (train/callbacks/checkpoint.h) decides when to save and
// manages a folder of checkpoints; these functions do one checkpoint.
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/nn/module.h"
#include "toadstool/tensor/generator.h"
#include "toadstool/tensor/tensor_dict.h"

namespace toadstool::train {

class Trainer;

inline constexpr int kCheckpointFormatVersion = 1;

// Where a resumed run picks up: the training loop restarts at `epoch`,
// drawing (and not running) its first `skip_batches` training batches from a
// loader restored to `loader_state`, with the default generator at
// `generator` and the step counter at `step`.
struct ResumePoint {
  int64_t epoch = 0;
  int64_t skip_batches = 0;
  int64_t step = 0;
  TensorDict loader_state;
  Generator::State generator;
};

// The resume point of a checkpoint taken at after_epoch (the next epoch,
// with the training loader's current state) or at after_step (this epoch,
// past the current batch, with the loader state of this epoch's start).
ResumePoint resume_point_after_epoch(const Trainer& trainer);
ResumePoint resume_point_after_step(const Trainer& trainer);

// What trainer.json says.
struct CheckpointInfo {
  int format_version = kCheckpointFormatVersion;
  int64_t epoch = 0;  // the epoch to resume at
  int64_t skip_batches = 0;
  int64_t step = 0;
  Generator::State generator;
  std::vector<std::string> callbacks;  // names, in list order
  // The trainer's values when it was saved (NaN if unset).
  double score = 0, train_loss = 0, valid_loss = 0;
};

// Writes a checkpoint of `trainer` (model, optimizer, every callback's
// state_dict, and `at`) to `folder`, which must not exist: the files go to a
// temporary sibling folder ("<parent>/.tmp-<name>-XXXXXX"), are fsync'ed, and
// the folder is renamed to `folder` (then the parent is fsync'ed). A crash
// leaves no `folder` or a complete one. Error naming the path on any failure
// (the temporary folder is then removed). `optimizer_state`: the optimizer's
// state_dict() when the caller has taken it (data parallel: every rank
// takes it, since a sharded optimizer's is a collective, and rank 0 writes).
void save_checkpoint(const std::string& folder, const Trainer& trainer, const ResumePoint& at,
                     const TensorDict* optimizer_state = nullptr);

// Reads and validates `folder`/trainer.json. Error naming the file and the
// problem: missing, not JSON, another format version, a missing or mistyped
// field.
CheckpointInfo read_checkpoint_info(const std::string& folder);

// Restores `trainer` from `folder`: the model, the optimizer, each
// callback's state (matched by position and name), the training loader's
// state (when trainer.train_loader is set), the default generator, and
// epoch / step / skip_batches / score. Every file is read and checked first,
// and a failure while loading puts back what was already loaded, so an Error
// (naming the file and the problem) leaves the trainer as it was. Call it
// at begin_fit (CheckpointCallback does) to resume.
CheckpointInfo load_checkpoint(const std::string& folder, Trainer& trainer);

// Loads only the weights of the checkpoint in `folder` into `model` (strict:
// the names and shapes must match), for inference. Error naming the file.
void load_checkpoint_weights(const std::string& folder, nn::Module& model);

// A deep copy of saved state (every tensor detached and cloned): what a
// checkpoint, EarlyStopping's best weights and the LR finder's snapshot keep,
// since a module's state_dict shares storage with its parameters.
TensorDict cloned(const TensorDict& dict);

}  // namespace toadstool::train
