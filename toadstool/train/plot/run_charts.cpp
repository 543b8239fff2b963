#include "toadstool/train/plot/run_charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "toadstool/tensor/error.h"
#include "toadstool/train/plot/chart.h"

namespace toadstool::train::plot {
namespace {

Series epoch_series(const std::string& label, const std::vector<EpochRecord>& records,
                    double EpochRecord::*field, int color) {
  Series series{label, {}, {}, true, false, color};
  for (const auto& record : records) {
    series.x.push_back(static_cast<double>(record.epoch));
    series.y.push_back(record.*field);
  }
  return series;
}

bool any_finite(const Series& series) {
  return std::any_of(series.y.begin(), series.y.end(), [](double v) { return std::isfinite(v); });
}

}  // namespace

std::vector<std::string> write_epoch_charts(const std::vector<EpochRecord>& records,
                                            const std::string& dir) {
  TS_CHECK(!records.empty(), "write_epoch_charts(", dir, "): no epochs to draw");
  std::vector<std::string> written;
  const auto write = [&](Chart chart, const char* name) {
    chart.x_label = "epoch";
    chart.integer_x = true;
    // Skip a series with no value at all (no validation, say), and a chart left empty.
    std::erase_if(chart.series, [](const Series& s) { return !any_finite(s); });
    if (chart.series.empty()) return;
    written.push_back(dir + "/" + name);
    write_chart(chart, written.back());
  };
  Chart loss{.title = "Loss", .y_label = "loss"};
  loss.series = {epoch_series("train", records, &EpochRecord::train_loss, 0),
                 epoch_series("valid", records, &EpochRecord::valid_loss, 1)};
  write(loss, "loss");
  Chart score{.title = "Validation score", .y_label = "score"};
  score.series = {epoch_series("score", records, &EpochRecord::score, 2)};
  write(score, "score");
  Chart lr{.title = "Learning rate (last batch of each epoch)", .y_label = "learning rate"};
  lr.series = {epoch_series("lr", records, &EpochRecord::lr, 3)};
  write(lr, "lr");
  return written;
}

void write_lr_finder_chart(const std::vector<LRFinderPoint>& curve,
                           std::optional<size_t> suggestion, const std::string& stem) {
  TS_CHECK(!curve.empty(), "write_lr_finder_chart(", stem, "): the curve has no points");
  Chart chart{.title = "LR finder", .x_label = "learning rate (log scale)", .y_label = "loss"};
  chart.log_x = true;
  Series raw{"loss", {}, {}, false, true, 0}, smoothed{"smoothed loss", {}, {}, false, false, 0};
  double first = NAN, lowest = INFINITY, highest = -INFINITY;
  for (const auto& point : curve) {
    raw.x.push_back(point.lr);
    raw.y.push_back(point.loss);
    smoothed.x.push_back(point.lr);
    smoothed.y.push_back(point.smoothed_loss);
    if (!std::isfinite(point.smoothed_loss)) continue;
    if (std::isnan(first)) first = point.smoothed_loss;
    lowest = std::min({lowest, point.smoothed_loss, point.loss});
    highest = std::max(highest, point.smoothed_loss);
  }
  // A diverging run ends in losses many times the start: show the curve up
  // to the starting loss plus as much again as it fell, so that the part
  // that matters (the descent) fills the chart.
  if (std::isfinite(first) && first > lowest) {
    chart.y_min = lowest;
    chart.y_max = std::min(highest, first + (first - lowest));
  }
  chart.series = {std::move(raw), std::move(smoothed)};
  if (suggestion) {
    TS_CHECK(*suggestion < curve.size(), "write_lr_finder_chart(", stem, "): suggestion ",
             *suggestion, " is past the curve's ", curve.size(), " points");
    const auto& point = curve[*suggestion];
    char label[64];
    std::snprintf(label, sizeof label, "suggested lr %.2g", point.lr);
    chart.markers.push_back({point.lr, point.smoothed_loss, label});
    // The suggestion stays in view, however far up the cut-off above put it.
    if (chart.y_max && std::isfinite(point.smoothed_loss)) {
      chart.y_max = std::max(*chart.y_max, point.smoothed_loss);
    }
  }
  write_chart(chart, stem);
}

}  // namespace toadstool::train::plot
