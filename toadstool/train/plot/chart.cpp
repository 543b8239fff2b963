#include "toadstool/train/plot/chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "toadstool/tensor/error.h"

namespace toadstool::train::plot {

std::pair<Axis, Axis> chart_axes(const Chart& chart) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double x_lo = kInf, x_hi = -kInf, y_lo = kInf, y_hi = -kInf;
  const auto include = [&](double x, double y) {
    if (!std::isfinite(x) || !std::isfinite(y)) return;
    TS_CHECK(!chart.log_x || x > 0, "chart \"", chart.title, "\": x = ", x,
             " cannot be drawn on a log axis");
    x_lo = std::min(x_lo, x);
    x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, y);
    y_hi = std::max(y_hi, y);
  };
  for (const auto& series : chart.series) {
    TS_CHECK(series.x.size() == series.y.size(), "chart \"", chart.title, "\": series \"",
             series.label, "\" has ", series.x.size(), " x values and ", series.y.size(),
             " y values");
    for (size_t i = 0; i < series.x.size(); ++i) include(series.x[i], series.y[i]);
  }
  for (const auto& marker : chart.markers) include(marker.x, marker.y);
  TS_CHECK(x_lo <= x_hi, "chart \"", chart.title, "\": nothing to draw (no finite point)");
  y_lo = chart.y_min.value_or(y_lo);
  y_hi = std::max(y_lo, chart.y_max.value_or(y_hi));
  Axis x = chart.log_x ? log_axis(x_lo, x_hi) : linear_axis(x_lo, x_hi, 8, chart.integer_x);
  return {std::move(x), linear_axis(y_lo, y_hi, 6)};
}

}  // namespace toadstool::train::plot
