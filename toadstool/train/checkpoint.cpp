#include "toadstool/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "toadstool/distributed/ddp.h"
#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/safetensors.h"
#include "toadstool/train/json_file.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kModelFile = "model.safetensors";

// The module whose weights a checkpoint holds: a DistributedDataParallel's
// wrapped module (its plain names, without "module."), so one checkpoint
// loads in one process, in a data-parallel job, and in --predict.
nn::Module& checkpointed_module(const Trainer& trainer) {
  if (auto* ddp = dynamic_cast<distributed::DistributedDataParallel*>(trainer.model.get())) {
    return *ddp->module;
  }
  return *trainer.model;
}
constexpr const char* kStateFile = "state.safetensors";
constexpr const char* kTrainerFile = "trainer.json";

// safetensors holds CPU tensors; state on another device is copied over.
void add_prefixed(TensorDict& out, const std::string& prefix, const TensorDict& dict) {
  for (const auto& [name, tensor] : dict) {
    out.insert(prefix + name, tensor.device().is_cpu() ? tensor : tensor.to(kCPU));
  }
}

TensorDict on_cpu(const TensorDict& dict) {
  TensorDict out;
  add_prefixed(out, "", dict);
  return out;
}

std::string callback_prefix(size_t index, const Callback& callback) {
  return "callbacks." + std::to_string(index) + "." + callback.name() + ".";
}

// A checkpoint's safetensors file, with an Error that starts with the op the
// user called (load_checkpoint, load_checkpoint_weights) before the reader's
// own message (which names the file and the problem).
TensorDict read_tensors(const std::string& file, const char* op) {
  try {
    return load_safetensors(file);
  } catch (const Error& e) {
    throw Error(detail::concat(op, ": ", e.what()));
  }
}

// Makes a rename or a file creation in `folder` durable.
void fsync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  TS_CHECK(fd >= 0, "save_checkpoint: cannot open folder '", folder, "' to fsync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  TS_CHECK(rc == 0, "save_checkpoint: fsync of folder '", folder, "' failed");
}

Json number_or_null(double value) { return std::isnan(value) ? Json() : Json(value); }

std::string trainer_json(const Trainer& trainer, const ResumePoint& at) {
  Json callbacks = Json::array();
  for (const auto& callback : trainer.callbacks) callbacks.push_back(callback->name());
  Json j;
  j["format"] = "toadstool-checkpoint";
  j["format_version"] = kCheckpointFormatVersion;
  j["epoch"] = at.epoch;
  j["skip_batches"] = at.skip_batches;
  j["step"] = at.step;
  // uint64 as strings: JSON readers that hold numbers as doubles would round them.
  j["generator"] = {{"seed", std::to_string(at.generator.seed)},
                    {"offset", std::to_string(at.generator.offset)}};
  j["callbacks"] = callbacks;
  j["score"] = number_or_null(trainer.score);
  j["train_loss"] = number_or_null(trainer.train_loss());
  j["valid_loss"] = number_or_null(trainer.valid_loss());
  return j.dump(2) + "\n";
}

// --- reading trainer.json ------------------------------------------------------

uint64_t uint64_from(const std::string& file, const Json& generator, const char* key) {
  const std::string where = std::string("\"generator\".\"") + key + "\"";
  TS_CHECK(generator.contains(key) && generator.at(key).is_string(), "load_checkpoint: ", file,
           ": ", where, " should be a string of digits");
  const std::string text = generator.at(key).get<std::string>();
  TS_CHECK(!text.empty() && text.size() <= 20 &&
               text.find_first_not_of("0123456789") == std::string::npos,
           "load_checkpoint: ", file, ": ", where, " should be a string of digits, got \"", text,
           "\"");
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  TS_CHECK(errno == 0 && *end == '\0', "load_checkpoint: ", file, ": ", where,
           " is out of range: ", text);
  return value;
}

// What load_checkpoint changes, copied first so that a failure part way
// through can put it back.
class TrainerSnapshot {
 public:
  explicit TrainerSnapshot(const Trainer& trainer)
      : model_(cloned(checkpointed_module(trainer).state_dict())),
        generator_(default_generator().state()) {
    if (trainer.optimizer) optimizer_ = trainer.optimizer->state_dict();
    if (trainer.grad_scaler) grad_scaler_ = trainer.grad_scaler->state_dict();
    if (trainer.train_loader != nullptr) loader_ = cloned(trainer.train_loader->state_dict());
    for (const auto& callback : trainer.callbacks)
      callbacks_.push_back(cloned(callback->state_dict()));
  }

  // Best effort: each part is put back on its own, so one that fails does
  // not stop the others.
  void restore(Trainer& trainer) const noexcept {
    const auto attempt = [](const auto& fn) {
      try {
        fn();
      } catch (...) {  // NOLINT(bugprone-empty-catch): the load's own error is reported
      }
    };
    attempt([&] { checkpointed_module(trainer).load_state_dict(model_); });
    if (trainer.optimizer) attempt([&] { trainer.optimizer->load_state_dict(optimizer_); });
    if (trainer.grad_scaler) attempt([&] { trainer.grad_scaler->load_state_dict(grad_scaler_); });
    if (trainer.train_loader != nullptr) {
      attempt([&] { trainer.train_loader->load_state_dict(loader_); });
    }
    for (size_t i = 0; i < callbacks_.size(); ++i) {
      attempt([&] { trainer.callbacks[i]->load_state_dict(callbacks_[i]); });
    }
    default_generator().set_state(generator_);
  }

 private:
  TensorDict model_, optimizer_, grad_scaler_, loader_;
  std::vector<TensorDict> callbacks_;
  Generator::State generator_;
};

}  // namespace

TensorDict cloned(const TensorDict& dict) {
  TensorDict copy;
  for (const auto& [name, tensor] : dict) copy.insert(name, tensor.detach().clone());
  return copy;
}

ResumePoint resume_point_after_epoch(const Trainer& trainer) {
  ResumePoint at;
  at.epoch = trainer.epoch + 1;
  at.step = trainer.step;
  if (trainer.train_loader != nullptr) at.loader_state = cloned(trainer.train_loader->state_dict());
  at.generator = default_generator().state();
  return at;
}

ResumePoint resume_point_after_step(const Trainer& trainer) {
  ResumePoint at;
  at.epoch = trainer.epoch;
  at.skip_batches = trainer.batch + 1;
  at.step = trainer.step;
  at.loader_state = cloned(trainer.epoch_loader_state);
  at.generator = default_generator().state();
  return at;
}

void save_checkpoint(const std::string& folder, const Trainer& trainer, const ResumePoint& at,
                     const TensorDict* optimizer_state) {
  const fs::path target = fs::path(folder).lexically_normal();
  TS_CHECK(!target.filename().empty(), "save_checkpoint: '", folder, "' is not a folder name");
  std::error_code ec;
  TS_CHECK(!fs::exists(target, ec), "save_checkpoint: '", folder, "' already exists");
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  TS_CHECK(fs::is_directory(parent), "save_checkpoint: cannot create the folder '", parent.string(),
           "'");

  std::string pattern = (parent / (".tmp-" + target.filename().string() + "-XXXXXX")).string();
  TS_CHECK(::mkdtemp(pattern.data()) != nullptr, "save_checkpoint: cannot create a temporary ",
           "folder in '", parent.string(), "'");
  const fs::path temp(pattern);
  try {
    const SafetensorsMetadata metadata = {
        {"format", "toadstool-checkpoint"},
        {"format_version", std::to_string(kCheckpointFormatVersion)}};
    save_safetensors((temp / kModelFile).string(),
                     on_cpu(checkpointed_module(trainer).state_dict()), metadata);
    TensorDict state;
    if (optimizer_state != nullptr) {
      add_prefixed(state, "optimizer.", *optimizer_state);
    } else if (trainer.optimizer) {
      add_prefixed(state, "optimizer.", trainer.optimizer->state_dict());
    }
    if (trainer.grad_scaler) {
      add_prefixed(state, "grad_scaler.", trainer.grad_scaler->state_dict());
    }
    for (size_t i = 0; i < trainer.callbacks.size(); ++i) {
      const Callback& callback = *trainer.callbacks[i];
      add_prefixed(state, callback_prefix(i, callback), callback.state_dict());
    }
    add_prefixed(state, "loader.", at.loader_state);
    save_safetensors((temp / kStateFile).string(), state, metadata);
    // trainer.json last: a folder with it is a complete checkpoint.
    write_file_atomic((temp / kTrainerFile).string(), trainer_json(trainer, at), "save_checkpoint");
    fsync_folder(temp.string());
    TS_CHECK(::rename(temp.c_str(), target.c_str()) == 0, "save_checkpoint: cannot rename '",
             temp.string(), "' to '", target.string(), "'");
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
  fsync_folder(parent.string());
}

CheckpointInfo read_checkpoint_info(const std::string& folder) {
  const std::string file = (fs::path(folder) / kTrainerFile).string();
  std::ifstream in(file, std::ios::binary);
  TS_CHECK(in.good(), "load_checkpoint: cannot open ", file,
           fs::is_directory(folder) ? "" : " (no such checkpoint folder)");
  const Json j = parse_json_file(in, file, "load_checkpoint");
  const JsonFields r(j, file, "load_checkpoint");
  TS_CHECK(r.field("format") == "toadstool-checkpoint", "load_checkpoint: ", file,
           " is not a Toadstool checkpoint (\"format\" is ", r.field("format").dump(), ")");
  CheckpointInfo info;
  const int64_t version = r.integer("format_version", 0, std::numeric_limits<int>::max());
  TS_CHECK(version == kCheckpointFormatVersion, "load_checkpoint: ", file, " has format version ",
           version, "; this Toadstool reads version ", kCheckpointFormatVersion);
  info.format_version = static_cast<int>(version);
  info.epoch = r.integer("epoch", 0);
  info.skip_batches = r.integer("skip_batches", 0);
  info.step = r.integer("step", 0);
  const Json& generator = r.field("generator");
  TS_CHECK(generator.is_object(), "load_checkpoint: ", file, ": \"generator\" should be an object");
  info.generator.seed = uint64_from(file, generator, "seed");
  info.generator.offset = uint64_from(file, generator, "offset");
  const Json& callbacks = r.field("callbacks");
  TS_CHECK(callbacks.is_array(), "load_checkpoint: ", file, ": \"callbacks\" should be a list");
  for (const Json& name : callbacks) {
    TS_CHECK(name.is_string(), "load_checkpoint: ", file, ": \"callbacks\" should hold names, got ",
             name.dump());
    info.callbacks.push_back(name.get<std::string>());
  }
  info.score = r.number_or_nan("score");
  info.train_loss = r.number_or_nan("train_loss");
  info.valid_loss = r.number_or_nan("valid_loss");
  return info;
}

CheckpointInfo load_checkpoint(const std::string& folder, Trainer& trainer) {
  // 1. Read and check everything.
  CheckpointInfo info = read_checkpoint_info(folder);
  const std::string json_file = (fs::path(folder) / kTrainerFile).string();
  std::string ours;
  for (const auto& callback : trainer.callbacks)
    ours += (ours.empty() ? "" : ", ") + callback->name();
  std::string saved;
  for (const auto& name : info.callbacks) saved += (saved.empty() ? "" : ", ") + name;
  bool same = info.callbacks.size() == trainer.callbacks.size();
  for (size_t i = 0; same && i < info.callbacks.size(); ++i) {
    same = info.callbacks[i] == trainer.callbacks[i]->name();
  }
  TS_CHECK(same, "load_checkpoint: ", json_file, ": the checkpoint was saved with the callbacks [",
           saved, "], the trainer has [", ours,
           "]; a resumed run needs the same callbacks in the same order");

  TS_CHECK(trainer.train_loader == nullptr || info.skip_batches <= trainer.train_loader->size(),
           "load_checkpoint: ", json_file, ": resumes after batch ", info.skip_batches,
           " of an epoch, but the training loader has ", trainer.train_loader->size(),
           " batches (not the loader the checkpoint was taken with?)");

  const std::string model_file = (fs::path(folder) / kModelFile).string();
  const std::string state_file = (fs::path(folder) / kStateFile).string();
  const TensorDict weights = read_tensors(model_file, "load_checkpoint");
  const TensorDict state = read_tensors(state_file, "load_checkpoint");
  TensorDict optimizer_state, grad_scaler_state, loader_state;
  std::vector<TensorDict> callback_states(trainer.callbacks.size());
  std::vector<std::string> prefixes;
  for (size_t i = 0; i < trainer.callbacks.size(); ++i) {
    prefixes.push_back(callback_prefix(i, *trainer.callbacks[i]));
  }
  for (const auto& entry : state) {
    // Named references, not a structured binding: a lambda may capture these.
    const std::string& key = entry.first;
    const Tensor& tensor = entry.second;
    const auto take = [&](const std::string& prefix, TensorDict& into) {
      if (key.rfind(prefix, 0) != 0) return false;
      into.insert(key.substr(prefix.size()), tensor);
      return true;
    };
    bool taken = take("optimizer.", optimizer_state) || take("loader.", loader_state) ||
                 take("grad_scaler.", grad_scaler_state);
    for (size_t i = 0; !taken && i < prefixes.size(); ++i)
      taken = take(prefixes[i], callback_states[i]);
    TS_CHECK(taken, "load_checkpoint: ", state_file, ": unexpected entry '", key,
             "' (expected optimizer.*, grad_scaler.*, loader.* or callbacks.<i>.<name>.* of the ",
             "trainer's callbacks)");
  }
  TS_CHECK(!trainer.optimizer || !optimizer_state.empty(), "load_checkpoint: ", state_file,
           ": no optimizer state (optimizer.*) for the trainer's ", trainer.optimizer->name());

  // A float16 run's scaler state needs a trainer with one; a trainer with a
  // scaler resuming a run without one starts its scale afresh.
  TS_CHECK(grad_scaler_state.empty() || trainer.grad_scaler, "load_checkpoint: ", state_file,
           ": holds a GradScaler's state (grad_scaler.*), but the trainer's precision is \"",
           trainer.options.precision, "\" (the run was trained with \"16-mixed\")");

  // 2. Load, putting everything back if a part fails.
  const TrainerSnapshot snapshot(trainer);
  std::string part = model_file;
  try {
    checkpointed_module(trainer).load_state_dict(weights);
    if (trainer.optimizer) {
      part = state_file + " (optimizer.*)";
      trainer.optimizer->load_state_dict(optimizer_state);
    }
    if (trainer.grad_scaler && !grad_scaler_state.empty()) {
      part = state_file + " (grad_scaler.*)";
      trainer.grad_scaler->load_state_dict(grad_scaler_state);
    }
    if (trainer.train_loader != nullptr) {
      part = state_file + " (loader.*)";
      trainer.train_loader->load_state_dict(loader_state);
    }
    for (size_t i = 0; i < trainer.callbacks.size(); ++i) {
      part = state_file + " (" + prefixes[i] + "*)";
      trainer.callbacks[i]->load_state_dict(callback_states[i]);
    }
  } catch (const std::exception& e) {
    snapshot.restore(trainer);
    throw Error(detail::concat("load_checkpoint: ", part, ": ", e.what()));
  }
  default_generator().set_state(info.generator);
  trainer.epoch = info.epoch;
  trainer.step = info.step;
  trainer.skip_batches = info.skip_batches;
  trainer.score = info.score;
  return info;
}

void load_checkpoint_weights(const std::string& folder, nn::Module& model) {
  read_checkpoint_info(folder);  // a complete checkpoint of a format we read
  const std::string model_file = (fs::path(folder) / kModelFile).string();
  const TensorDict weights = read_tensors(model_file, "load_checkpoint_weights");
  try {
    model.load_state_dict(weights);
  } catch (const Error& e) {
    throw Error(detail::concat("load_checkpoint_weights: ", model_file, ": ", e.what()));
  }
}

}  // namespace toadstool::train
