#pragma once
// Axis ranges and tick marks for the charts (chart.h): pure arithmetic,
// tested without cairo.
//
// A linear axis spans "nice" numbers (1, 2 or 5 times a power of ten) that
// enclose the data; a log axis spans whole decades, with a labelled tick at
// each power of ten and unlabelled ones at 2..9 times it.
#include <string>
#include <vector>

namespace toadstool::train::plot {

struct Tick {
  double value;
  std::string label;  // empty for a minor (unlabelled) tick
};

struct Axis {
  double lo = 0, hi = 1;  // the drawn range
  bool log = false;
  std::vector<Tick> ticks;
  // Where `value` falls along the axis, 0 at lo and 1 at hi (log10 for a
  // log axis; values outside give < 0 or > 1).
  double fraction(double value) const;
};

// About `target` ticks over [lo, hi] (lo <= hi, both finite); `integer`
// keeps the tick step a whole number (epochs). An empty range is widened
// around its value.
Axis linear_axis(double lo, double hi, int target = 6, bool integer = false);
// Decades enclosing [lo, hi] (0 < lo <= hi, both finite).
Axis log_axis(double lo, double hi);

}  // namespace toadstool::train::plot
