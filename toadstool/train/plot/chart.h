#pragma once
// Line charts written as PNG and SVG, drawn with cairo (chart_cairo.cpp):
// axes with ticks and numbers, axis labels, a title and a legend, a linear
// or log x axis. TOADSTOOL_PLOTS chooses whether the library is built with
// cairo; without it write_chart is an Error (chart_unavailable.cpp).
//
//   Chart chart{.title = "Loss", .x_label = "epoch", .y_label = "loss"};
//   chart.series.push_back({"train", {0, 1, 2}, {0.9, 0.6, 0.5}});
//   write_chart(chart, "runs/mnist/loss");  // loss.png and loss.svg
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "toadstool/train/plot/axis.h"

namespace toadstool::train::plot {

struct Series {
  std::string label{};           // in the legend
  std::vector<double> x{}, y{};  // same length; a NaN y is a gap in the line
  bool points = true;            // a dot at each point (few points: epochs)
  bool faint = false;            // thin and pale (raw values under a smoothed curve)
  int color = -1;                // index into the palette; -1: the series' position
};

// A point to point out: a ring at (x, y), a dashed vertical line and a
// legend entry "label".
struct Marker {
  double x, y;
  std::string label;
};

struct Chart {
  // Every member has a default, so that designated initializers may leave any out.
  std::string title{}, x_label{}, y_label{};
  std::vector<Series> series{};
  std::vector<Marker> markers{};
  bool log_x = false;
  bool integer_x = false;  // ticks at whole numbers only (epochs)
  // The y range drawn; unset: the data's. Points outside it are cut off.
  std::optional<double> y_min{}, y_max{};
  int width = 800, height = 500;  // pixels of the PNG (points of the SVG)
};

// The x and y axes write_chart draws: enclosing every finite point and
// marker (the y range as the chart sets it). Errors: no finite point, a
// series whose x and y differ in length, an x <= 0 on a log axis.
std::pair<Axis, Axis> chart_axes(const Chart& chart);

// Whether this build draws charts (it was built with cairo).
bool plots_available();

// Writes `stem` + ".png" and `stem` + ".svg", each atomically (a viewer
// never sees a half-written file). Errors: built without cairo; those of
// chart_axes; a file that cannot be written (the message names it).
void write_chart(const Chart& chart, const std::string& stem);

}  // namespace toadstool::train::plot
