#include "toadstool/train/callbacks/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/train/json_file.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kLatest = "latest.json";
constexpr const char* kBest = "best.json";
constexpr const char* kPointerFormat = "toadstool-checkpoint-pointer";

struct Pointer {
  std::string checkpoint;           // folder name inside outdir; "" if no pointer file
  std::vector<std::string> recent;  // latest.json: the folders kept, oldest first
};

// A pointer names a folder inside its outdir, never a path elsewhere.
bool plain_folder_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

Pointer read_pointer(const std::string& outdir, const char* which) {
  const std::string file = (fs::path(outdir) / which).string();
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  std::ifstream in(file, std::ios::binary);
  TS_CHECK(in.good(), "CheckpointCallback: cannot open ", file);
  const Json j = parse_json_file(in, file, "CheckpointCallback");
  const JsonFields fields(j, file, "CheckpointCallback");
  TS_CHECK(fields.has("format") && fields.field("format") == kPointerFormat,
           "CheckpointCallback: ", file, " is not a checkpoint pointer (no \"format\": \"",
           kPointerFormat, "\")");
  const int64_t version = fields.integer("format_version", 0, std::numeric_limits<int>::max());
  TS_CHECK(version == kCheckpointFormatVersion, "CheckpointCallback: ", file,
           " has format version ", version, "; this Toadstool reads version ",
           kCheckpointFormatVersion);
  const auto name_at = [&](const Json& v) {
    TS_CHECK(v.is_string() && plain_folder_name(v.get<std::string>()), "CheckpointCallback: ", file,
             " should name a folder inside ", outdir, ", got ", v.dump());
    return v.get<std::string>();
  };
  TS_CHECK(j.contains("checkpoint"), "CheckpointCallback: ", file, ": no field \"checkpoint\"");
  Pointer pointer;
  pointer.checkpoint = name_at(j.at("checkpoint"));
  TS_CHECK(fs::is_directory(fs::path(outdir) / pointer.checkpoint), "CheckpointCallback: ", file,
           " names the checkpoint '", pointer.checkpoint, "', which is not in ", outdir);
  if (j.contains("recent")) {
    TS_CHECK(j.at("recent").is_array(), "CheckpointCallback: ", file,
             ": \"recent\" should be a list of folder names");
    for (const Json& v : j.at("recent")) pointer.recent.push_back(name_at(v));
  }
  return pointer;
}

Json pointer_json(const std::string& checkpoint) {
  Json j;
  j["format"] = kPointerFormat;
  j["format_version"] = kCheckpointFormatVersion;
  j["checkpoint"] = checkpoint;
  return j;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool starts_with(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0;
}

// Removes the checkpoint folder `name` of `outdir` by renaming it to a
// temporary name first: a crash during the removal then leaves a
// ".tmp-" folder that the next start removes, never a half-deleted
// checkpoint under a checkpoint's name. Best effort: a folder left behind is
// only disk space.
void remove_checkpoint_folder(const std::string& outdir, const std::string& name) {
  const fs::path doomed = fs::path(outdir) / (".tmp-removing-" + name);
  std::error_code ec;
  fs::remove_all(doomed, ec);  // a leftover of an earlier crash
  fs::rename(fs::path(outdir) / name, doomed, ec);
  fs::remove_all(ec ? fs::path(outdir) / name : doomed, ec);
}

// Checkpoint folders that neither pointer names: a complete folder that a
// crash left between its rename and the pointer update, or a half-deleted
// one from a crash during a removal by an earlier Toadstool. Only when
// resuming: the pointers have then been read and checked, and the run
// continues this folder's history (a fresh run leaves every folder alone).
void remove_unnamed_checkpoints(const std::string& outdir, const Pointer& latest,
                                const Pointer& best, bool verbose) {
  std::vector<std::string> unnamed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(outdir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory(ec) || !starts_with(name, "ckpt-")) continue;
    if (name == latest.checkpoint || name == best.checkpoint || contains(latest.recent, name)) {
      continue;
    }
    unnamed.push_back(name);
  }
  for (const std::string& name : unnamed) {
    if (verbose) {
      std::clog << "CheckpointCallback: removing " << name
                << " (no pointer names it: left by an interrupted save or removal)\n";
    }
    remove_checkpoint_folder(outdir, name);
  }
}

}  // namespace

std::string latest_checkpoint(const std::string& outdir) {
  const Pointer pointer = read_pointer(outdir, kLatest);
  return pointer.checkpoint.empty() ? "" : (fs::path(outdir) / pointer.checkpoint).string();
}

std::string best_checkpoint(const std::string& outdir) {
  const Pointer pointer = read_pointer(outdir, kBest);
  return pointer.checkpoint.empty() ? "" : (fs::path(outdir) / pointer.checkpoint).string();
}

CheckpointCallback::CheckpointCallback(std::string outdir, CheckpointOptions options)
    : outdir_(std::move(outdir)),
      options_(std::move(options)),
      best_(options_.monitor, options_.mode, options_.min_delta, "CheckpointCallback") {
  TS_CHECK(!outdir_.empty(), "CheckpointCallback: the output folder is empty");
  TS_CHECK(options_.every >= 1, "CheckpointCallback: every must be >= 1, got ", options_.every);
  TS_CHECK(options_.keep_last >= 1, "CheckpointCallback: keep_last must be >= 1, got ",
           options_.keep_last);
}

void CheckpointCallback::begin_fit(Trainer& trainer) {
  best_.reset();
  cancelled_ = false;
  recent_.clear();
  best_folder_.clear();
  resumed_from_.clear();
  saved_epoch_ = saved_skip_ = saved_step_ = -1;
  // Data parallel: every rank reads a checkpoint to resume from, only rank
  // 0 writes and tidies the folder (the model is the same on every rank, and
  // so is the optimizer's state, or a sharded one's is gathered to save it).
  main_process_ = trainer.is_main_process();
  if (main_process_) {
    std::error_code ec;
    fs::create_directories(outdir_, ec);
    TS_CHECK(fs::is_directory(outdir_), "CheckpointCallback: cannot create the folder ", outdir_);
    remove_leftover_temporaries();
    warn_about_later_stateful_callbacks(trainer);
  }

  if (options_.resume) {
    const Pointer latest = read_pointer(outdir_, kLatest);
    if (latest.checkpoint.empty()) {
      if (options_.verbose && main_process_) {
        std::clog << "CheckpointCallback: no checkpoint in " << outdir_ << ", starting fresh\n";
      }
    } else {
      const Pointer best = read_pointer(outdir_, kBest);  // checked before anything loads
      if (main_process_) remove_unnamed_checkpoints(outdir_, latest, best, options_.verbose);
      const std::string folder = (fs::path(outdir_) / latest.checkpoint).string();
      const CheckpointInfo info = load_checkpoint(folder, trainer);  // sets our state too
      recent_ = latest.recent;
      if (!contains(recent_, latest.checkpoint)) recent_.push_back(latest.checkpoint);
      best_folder_ = best.checkpoint;
      resumed_from_ = folder;
      saved_epoch_ = info.epoch;
      saved_skip_ = info.skip_batches;
      saved_step_ = info.step;
      if (options_.verbose && main_process_) {
        std::clog << "CheckpointCallback: resumed from " << folder << " (epoch " << info.epoch
                  << ", step " << info.step;
        if (info.skip_batches > 0) std::clog << ", after batch " << info.skip_batches;
        std::clog << ")\n";
      }
    }
  }
  // Where the run starts is a point it can come back to.
  progress_ = Progress{
      trainer.epoch, trainer.skip_batches, trainer.step, false, {}, default_generator().state()};
  if (trainer.train_loader != nullptr) progress_.loader_state = trainer.train_loader->state_dict();
}

void CheckpointCallback::after_step(Trainer& trainer) {
  progress_.epoch = trainer.epoch;
  progress_.skip_batches = trainer.batch + 1;
  progress_.step = trainer.step;
  progress_.inside_epoch = true;
  progress_.generator = default_generator().state();
  if (options_.on_step && trainer.step % options_.every == 0) {
    save(trainer, resume_point_after_step(trainer), false);
  }
}

void CheckpointCallback::after_epoch(Trainer& trainer) {
  const ResumePoint at = resume_point_after_epoch(trainer);
  progress_ = Progress{at.epoch, 0, at.step, false, at.loader_state, at.generator};
  bool is_best = false;
  if (options_.save_best) {
    // Recorded before saving, so the checkpoint carries its own best.
    is_best = best_.update(trainer) == BestSoFar::Outcome::new_best;
  }
  const bool scheduled = !options_.on_step && (trainer.epoch + 1) % options_.every == 0;
  if (scheduled || is_best) save(trainer, at, is_best);
}

void CheckpointCallback::cancelled_training(Trainer& /*trainer*/) { cancelled_ = true; }

void CheckpointCallback::after_fit(Trainer& trainer) {
  if (!cancelled_ || !options_.save_on_exit) return;
  if (progress_.epoch == saved_epoch_ && progress_.skip_batches == saved_skip_ &&
      progress_.step == saved_step_) {
    return;  // the newest checkpoint is already this point
  }
  if (progress_.step != trainer.step) {
    // A callback before this one cancelled at after_step: the model has
    // stepped past the last point this callback knows, so no checkpoint can
    // say where to resume. The newest one stays.
    if (options_.verbose && main_process_) {
      std::clog << "CheckpointCallback: not saving on exit (the fit ended inside step "
                << trainer.step << ")\n";
    }
    return;
  }
  ResumePoint at;
  at.epoch = progress_.epoch;
  at.skip_batches = progress_.skip_batches;
  at.step = progress_.step;
  at.loader_state = progress_.inside_epoch ? trainer.epoch_loader_state : progress_.loader_state;
  at.generator = progress_.generator;
  const std::string folder = save(trainer, at, false);
  if (options_.verbose && main_process_) {
    std::clog << "CheckpointCallback: " << (trainer.interrupted() ? "interrupted" : "cancelled")
              << ", saved " << folder << "\n";
  }
}

std::string CheckpointCallback::new_folder_name(const ResumePoint& at) const {
  char base[64];
  std::snprintf(base, sizeof(base), "ckpt-e%04lld-s%08lld", static_cast<long long>(at.epoch),
                static_cast<long long>(at.step));
  if (at.skip_batches > 0) {
    std::snprintf(base + std::strlen(base), sizeof(base) - std::strlen(base), "-b%06lld",
                  static_cast<long long>(at.skip_batches));
  }
  // A name already used (a run restarted into the same folder) gets a suffix.
  std::string name = base;
  std::error_code ec;
  for (int n = 2; fs::exists(fs::path(outdir_) / name, ec); ++n) {
    name = std::string(base) + "-" + std::to_string(n);
  }
  return name;
}

std::string CheckpointCallback::save(const Trainer& trainer, const ResumePoint& at, bool is_best) {
  saved_epoch_ = at.epoch;
  saved_skip_ = at.skip_batches;
  saved_step_ = at.step;
  // Every rank takes the optimizer's state (a ZeroRedundancyOptimizer
  // gathers its shards: a collective); rank 0 writes.
  const TensorDict optimizer_state =
      trainer.optimizer ? trainer.optimizer->state_dict() : TensorDict();
  if (!main_process_) return "";
  const std::string name = new_folder_name(at);
  std::string folder = (fs::path(outdir_) / name).string();
  save_checkpoint(folder, trainer, at, trainer.optimizer ? &optimizer_state : nullptr);

  // Pointers first, removals after: a crash anywhere leaves pointers that
  // name complete folders.
  std::vector<std::string> dropped;
  recent_.push_back(name);
  while (static_cast<int64_t>(recent_.size()) > options_.keep_last) {
    dropped.push_back(recent_.front());
    recent_.erase(recent_.begin());
  }
  Json latest = pointer_json(name);
  latest["recent"] = recent_;
  write_file_atomic((fs::path(outdir_) / kLatest).string(), latest.dump(2) + "\n",
                    "CheckpointCallback");
  if (is_best) {
    if (!best_folder_.empty()) dropped.push_back(best_folder_);
    best_folder_ = name;
    Json best = pointer_json(name);
    best["monitor"] = monitor_name(best_.monitor());
    best["value"] = best_.best().value;
    best["epoch"] = best_.best_epoch();
    write_file_atomic((fs::path(outdir_) / kBest).string(), best.dump(2) + "\n",
                      "CheckpointCallback");
  }
  for (const std::string& old : dropped) {
    if (old != best_folder_ && !contains(recent_, old)) remove_checkpoint_folder(outdir_, old);
  }
  return folder;
}

// Temporaries that a crash left: folders of interrupted saves
// (".tmp-ckpt-*") and removals (".tmp-removing-*"), and the pointers'
// temporary files ("latest.json.tmp-*"). Only one writer uses an output
// folder at a time, so none of them is in progress.
void CheckpointCallback::remove_leftover_temporaries() const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(outdir_, ec)) {
    const std::string name = entry.path().filename().string();
    const bool folder = entry.is_directory(ec);
    const bool leftover =
        folder ? starts_with(name, ".tmp-ckpt-") || starts_with(name, ".tmp-removing-")
               : starts_with(name, std::string(kLatest) + ".tmp-") ||
                     starts_with(name, std::string(kBest) + ".tmp-");
    if (leftover) fs::remove_all(entry.path(), ec);
  }
}

// A callback after this one that changes its state at after_epoch would be
// saved as it was before the epoch (EarlyStopping's wait count, an LR
// schedule): the resumed run would then be one epoch behind for it.
void CheckpointCallback::warn_about_later_stateful_callbacks(const Trainer& trainer) const {
  if (!options_.verbose) return;
  bool after_this = false;
  for (const auto& callback : trainer.callbacks) {
    if (callback.get() == this) {
      after_this = true;
      continue;
    }
    if (!after_this) continue;
    const auto hooks = callback->hooks();
    if (std::find(hooks.begin(), hooks.end(), Hook::after_epoch) != hooks.end() &&
        !callback->state_dict().empty()) {
      std::clog << "CheckpointCallback: " << callback->name()
                << " comes after it in the callback list and changes at after_epoch; put "
                   "CheckpointCallback last so that checkpoints hold its state of that epoch\n";
    }
  }
}

TensorDict CheckpointCallback::state_dict() const {
  TensorDict dict;
  best_.save_to(dict);
  return dict;
}

void CheckpointCallback::load_state_dict(const TensorDict& dict) {
  // Checked in full before anything changes.
  BestSoFar best = best_.restored_from(dict);
  TS_CHECK(dict.size() == BestSoFar::kEntries, "CheckpointCallback.load_state_dict: expected ",
           BestSoFar::kEntries, " entries, got ", dict.size());
  best_ = std::move(best);
}

}  // namespace toadstool::train
