#include "toadstool/train/callbacks/plot.h"

#include <cmath>
#include <filesystem>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/train/callbacks/lr_finder.h"
#include "toadstool/train/plot/chart.h"
#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

constexpr int64_t kColumns = 5;

}  // namespace

PlotCallback::PlotCallback(std::string dir) : dir_(std::move(dir)) {
  TS_CHECK(!dir_.empty(), "PlotCallback: the folder is empty");
  TS_CHECK(plot::plots_available(), "PlotCallback(", dir_,
           "): Toadstool was built without cairo, so it cannot draw charts (install "
           "libcairo2-dev and pkg-config, and configure with TOADSTOOL_PLOTS=AUTO or ON)");
}

void PlotCallback::make_dir() const {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  TS_CHECK(!error, "PlotCallback: cannot create the folder ", dir_, ": ", error.message());
}

void PlotCallback::begin_fit(Trainer& /*trainer*/) {
  if (!restored_) records_.clear();
  restored_ = false;
  fit_started_ = false;
}

// At the first epoch, not at begin_fit: by then a resuming checkpoint
// callback, wherever it is in the list, has set the epoch the fit starts
// from and restored the records.
void PlotCallback::begin_epoch(Trainer& trainer) {
  if (fit_started_) return;
  fit_started_ = true;
  std::erase_if(records_, [&](const plot::EpochRecord& r) { return r.epoch >= trainer.epoch; });
  if (trainer.is_main_process()) make_dir();
}

void PlotCallback::after_epoch(Trainer& trainer) {
  // An LR finder's fit is a sweep, not training: its epochs are not drawn.
  if (trainer.find_callback<LRFinderCallback>() != nullptr) return;
  records_.push_back({trainer.epoch, trainer.train_loss(),
                      trainer.valid_loader ? trainer.valid_loss() : NAN, trainer.score,
                      trainer.lr});
  if (trainer.is_main_process()) written_ = plot::write_epoch_charts(records_, dir_);
}

void PlotCallback::after_fit(Trainer& trainer) {
  const auto* finder = trainer.find_callback<LRFinderCallback>();
  if (finder == nullptr || finder->history().empty() || !trainer.is_main_process()) return;
  make_dir();  // a finder's fit can end before its first epoch's end
  written_ = {dir_ + "/lr_finder"};
  plot::write_lr_finder_chart(finder->history(), finder->suggested_index(), written_.front());
}

TensorDict PlotCallback::state_dict() const {
  std::vector<double> values;
  for (const auto& r : records_) {
    values.insert(values.end(),
                  {static_cast<double>(r.epoch), r.train_loss, r.valid_loss, r.score, r.lr});
  }
  TensorDict dict;
  dict.insert("records", from_vector(values, {static_cast<int64_t>(records_.size()), kColumns}));
  return dict;
}

void PlotCallback::load_state_dict(const TensorDict& dict) {
  const Tensor* saved = dict.find("records");
  TS_CHECK(saved != nullptr && dict.size() == 1,
           "PlotCallback.load_state_dict: expected one entry, "
           "\"records\", got ",
           dict.size(), " entries");
  TS_CHECK(saved->dim() == 2 && saved->size(1) == kColumns && saved->dtype() == kFloat64,
           "PlotCallback.load_state_dict: \"records\" must be float64 [epochs, ", kColumns,
           "], got ", saved->dtype(), " ", saved->shape());
  const Tensor host = saved->to(kCPU).contiguous();
  const double* v = host.data_ptr<double>();
  std::vector<plot::EpochRecord> records;
  for (int64_t i = 0; i < host.size(0); ++i) {
    const double* row = v + i * kColumns;
    TS_CHECK(std::isfinite(row[0]) && row[0] >= 0 && row[0] == std::floor(row[0]) && row[0] < 1e15,
             "PlotCallback.load_state_dict: row ", i, " has epoch ", row[0]);
    records.push_back({static_cast<int64_t>(row[0]), row[1], row[2], row[3], row[4]});
  }
  records_ = std::move(records);
  restored_ = true;
}

}  // namespace toadstool::train
