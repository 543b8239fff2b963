#include "toadstool/train/callbacks/tensorboard.h"

#include <chrono>
#include <cmath>

#include "toadstool/tensor/error.h"
#include "toadstool/train/callbacks/grad_clip.h"
#include "toadstool/train/callbacks/profile.h"
#include "toadstool/train/callbacks/steady_seconds.h"
#include "toadstool/train/tensorboard/event_file.h"
#include "toadstool/train/tensorboard/histogram.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void add_scalar(std::vector<tensorboard::SummaryValue>& values, const std::string& tag,
                double value) {
  if (!std::isnan(value)) values.push_back({tag, static_cast<float>(value)});
}

// The epoch's profile, when a ProfileCallback has finished it (at
// begin_validate, or at its own after_epoch when it comes before this one).
void add_profile(const Trainer& trainer, std::vector<tensorboard::SummaryValue>& scalars) {
  const auto* profile = trainer.find_callback<ProfileCallback>();
  if (profile == nullptr || profile->epochs().empty() ||
      profile->epochs().back().epoch != trainer.epoch) {
    return;
  }
  const EpochProfile& p = profile->epochs().back();
  add_scalar(scalars, "profile/mfu", p.mfu);
  for (int s = 0; s < kTrainStageCount; ++s) {
    add_scalar(scalars,
               std::string("profile/") + train_stage_name(static_cast<TrainStage>(s)) + "_s",
               p.stage_seconds[s]);
  }
}

}  // namespace

TensorBoardCallback::TensorBoardCallback(std::string log_dir, TensorBoardOptions options)
    : log_dir_(std::move(log_dir)), options_(options) {
  TS_CHECK(!log_dir_.empty(), "TensorBoardCallback: the log folder is empty");
  TS_CHECK(options_.histogram_every >= 0,
           "TensorBoardCallback: histogram_every must be >= 0 (0: no histograms), got ",
           options_.histogram_every);
  TS_CHECK(options_.histogram_buckets >= 1,
           "TensorBoardCallback: histogram_buckets must be >= 1, got ", options_.histogram_buckets);
}

TensorBoardCallback::~TensorBoardCallback() = default;

void TensorBoardCallback::begin_fit(Trainer& /*trainer*/) { writer_.reset(); }

// The file is made at the first epoch rather than at begin_fit: by then a
// resuming checkpoint callback, wherever it is in the list, has set the
// epoch the fit starts from, which the START event carries.
void TensorBoardCallback::begin_epoch(Trainer& trainer) {
  epoch_start_ = steady_seconds();
  grad_norm_sum_ = 0;
  grad_norm_count_ = 0;
  gradients_.clear();
  if (writer_ || !trainer.is_main_process()) return;
  writer_ = std::make_unique<tensorboard::EventFileWriter>(log_dir_);
  event_file_ = writer_->path();
  writer_->add(tensorboard::session_start_event(unix_seconds(), trainer.epoch));
  writer_->flush();
}

bool TensorBoardCallback::histogram_epoch(const Trainer& trainer) const {
  return writer_ && options_.histogram_every > 0 && trainer.epoch % options_.histogram_every == 0;
}

// The gradients are gone by after_epoch (zero_grad after each step), so the
// last step's are summarised here, once per histogram epoch.
void TensorBoardCallback::begin_optim(Trainer& trainer) {
  if (trainer.stage != Stage::train || trainer.batch + 1 != trainer.batches ||
      !histogram_epoch(trainer)) {
    return;
  }
  gradients_.clear();
  for (const auto& [name, parameter] : trainer.model->named_parameters()) {
    const Tensor& grad = parameter.grad();
    if (!grad.defined()) continue;
    gradients_.push_back(
        {"gradients/" + name, tensorboard::histogram_of(grad, options_.histogram_buckets)});
  }
}

void TensorBoardCallback::after_step(Trainer& trainer) {
  const auto* clip = trainer.find_callback<GradClipCallback>();
  if (clip == nullptr || std::isnan(clip->last_norm())) return;
  grad_norm_sum_ += clip->last_norm();
  ++grad_norm_count_;
}

void TensorBoardCallback::after_epoch(Trainer& trainer) {
  if (!writer_) return;  // not rank 0
  std::vector<tensorboard::SummaryValue> scalars;
  add_scalar(scalars, "loss/train", trainer.train_loss());
  add_scalar(scalars, "loss/valid", trainer.valid_loader ? trainer.valid_loss() : NAN);
  add_scalar(scalars, "metrics/score", trainer.score);
  add_scalar(scalars, "optim/lr", trainer.lr);
  add_scalar(scalars, "optim/grad_norm",
             grad_norm_count_ > 0 ? grad_norm_sum_ / static_cast<double>(grad_norm_count_) : NAN);
  add_scalar(scalars, "time/epoch_s", steady_seconds() - epoch_start_);
  add_profile(trainer, scalars);
  const double now = unix_seconds();
  writer_->add(tensorboard::summary_event(now, trainer.epoch, scalars));

  if (histogram_epoch(trainer)) {
    std::vector<tensorboard::SummaryValue> histograms;
    for (const auto& [name, parameter] : trainer.model->named_parameters()) {
      histograms.push_back(
          {"weights/" + name, tensorboard::histogram_of(parameter, options_.histogram_buckets)});
    }
    for (auto& gradient : gradients_) histograms.push_back(std::move(gradient));
    gradients_.clear();
    writer_->add(tensorboard::summary_event(now, trainer.epoch, histograms));
  }
  writer_->flush();
}

void TensorBoardCallback::after_fit(Trainer& /*trainer*/) { writer_.reset(); }

}  // namespace toadstool::train
