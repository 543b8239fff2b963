#include "toadstool/train/plot/axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "toadstool/tensor/error.h"

namespace toadstool::train::plot {
namespace {

// Of 1, 2 and 5 times the powers of ten near (hi - lo) / (target - 1), the
// step whose ticks enclosing [lo, hi] come closest to `target` in number; of
// equals, the one that wastes the least room, then the larger step.
double nice_step(double lo, double hi, int target, bool integer) {
  const double raw = (hi - lo) / (target - 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double best = 0, best_span = 0;
  int best_miss = 0;
  for (const double scale : {power / 10, power, power * 10}) {
    for (const double m : {1.0, 2.0, 5.0}) {
      const double step = m * scale;
      if (integer && step < 1) continue;
      const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
      const int miss = static_cast<int>(std::abs(last - first + 1 - target));
      const double span = (last - first) * step;
      const bool same_span = std::abs(span - best_span) <= 1e-9 * span;
      const bool better = best == 0 || miss < best_miss ||
                          (miss == best_miss && !same_span && span < best_span) ||
                          (miss == best_miss && same_span && step > best);
      if (better) {
        best = step;
        best_miss = miss;
        best_span = span;
      }
    }
  }
  return best > 0 ? best : 1.0;  // integer steps over a range far below one
}

// Labels with as many decimals as the step needs, so that ticks 0.0010 and
// 0.0015 differ and 1 stays "1"; scientific for very large or small values.
std::string format_tick(double value, double step, double magnitude) {
  char text[32];
  if (std::abs(value) < step * 1e-6) value = 0;  // -0 and 1e-17 from summing steps
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const int digits = std::max(
        1, static_cast<int>(std::floor(std::log10(magnitude)) - std::floor(std::log10(step))) + 1);
    std::snprintf(text, sizeof text, "%.*g", digits, value);
  } else {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
  }
  return text;
}

}  // namespace

double Axis::fraction(double value) const {
  if (log) return (std::log10(value) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  return (value - lo) / (hi - lo);
}

Axis linear_axis(double lo, double hi, int target, bool integer) {
  TS_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 2,
           "linear_axis: bad range [", lo, ", ", hi, "] or tick count ", target);
  if (lo == hi) {  // one value (one epoch, a constant): a range around it
    const double pad = integer ? 1.0 : (lo == 0 ? 1.0 : std::abs(lo) * 0.1);
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(lo, hi, target, integer);
  Axis axis;
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  const double magnitude = std::max(std::abs(axis.lo), std::abs(axis.hi));
  const auto count = static_cast<int>(std::llround((axis.hi - axis.lo) / step));
  for (int i = 0; i <= count; ++i) {
    const double value = axis.lo + step * i;
    axis.ticks.push_back({value, format_tick(value, step, magnitude)});
  }
  return axis;
}

Axis log_axis(double lo, double hi) {
  TS_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo > 0 && lo <= hi, "log_axis: bad range [",
           lo, ", ", hi, "] (needs 0 < lo <= hi)");
  auto first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  auto last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (first == last) ++last;
  Axis axis;
  axis.log = true;
  axis.lo = std::pow(10.0, first);
  axis.hi = std::pow(10.0, last);
  for (int e = first; e <= last; ++e) {
    char text[16];
    if (e >= -3 && e <= 3) {
      std::snprintf(text, sizeof text, "%g", std::pow(10.0, e));  // 0.001 ... 1000
    } else {
      std::snprintf(text, sizeof text, "1e%d", e);
    }
    axis.ticks.push_back({std::pow(10.0, e), text});
    if (e == last) break;
    for (int m = 2; m <= 9; ++m) axis.ticks.push_back({m * std::pow(10.0, e), ""});
  }
  return axis;
}

}  // namespace toadstool::train::plot
