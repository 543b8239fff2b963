// The chart back-end of a build with cairo (cmake/toadstool_plots.cmake).
// One drawing routine renders onto an image surface (PNG) and an SVG
// surface; both are written to memory first, then to their files
// atomically.
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <numbers>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/plot/chart.h"

namespace toadstool::train::plot {
namespace {

struct Rgb {
  double r, g, b;
};
// Matplotlib's "tab10" colours: distinct, and readable for most colour-blind eyes.
constexpr std::array<Rgb, 6> kPalette = {{{0.12, 0.47, 0.71},
                                          {1.00, 0.50, 0.05},
                                          {0.17, 0.63, 0.17},
                                          {0.58, 0.40, 0.74},
                                          {0.55, 0.34, 0.29},
                                          {0.89, 0.47, 0.76}}};
constexpr Rgb kMarkerColor = {0.84, 0.15, 0.16};
constexpr const char* kFont = "DejaVu Sans";
constexpr double kLeft = 78, kRight = 24, kTop = 44, kBottom = 58;  // margins

// Data stay this far inside the frame, so that a point on the axis range's
// end (the first and last epoch, say) is drawn whole, not cut in half.
constexpr double kInset = 10;

struct Frame {  // the plot area and its axes
  double x0, y0, width, height;
  Axis x, y;
  double px(double v) const { return x0 + kInset + x.fraction(v) * (width - 2 * kInset); }
  double py(double v) const { return y0 + kInset + (1 - y.fraction(v)) * (height - 2 * kInset); }
};

Rgb color_of(const Series& series, size_t index) {
  const size_t i = series.color >= 0 ? static_cast<size_t>(series.color) : index;
  return kPalette[i % kPalette.size()];
}

void set_color(cairo_t* cr, Rgb c, double alpha = 1) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

// Draws `text` with its anchor at (x, y): ax, ay in [0, 1] say which point
// of the text's box that is (0, 0 top left; 0.5, 0.5 centre).
void text_at(cairo_t* cr, const std::string& text, double x, double y, double ax, double ay) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
  cairo_show_text(cr, text.c_str());
}

double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance;
}

void draw_axes(cairo_t* cr, const Chart& chart, const Frame& f) {
  cairo_set_line_width(cr, 1);
  for (const Tick& t : f.x.ticks) {  // vertical grid lines, ticks, numbers
    const double x = std::round(f.px(t.value)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    if (t.label.empty()) cairo_set_source_rgb(cr, 0.96, 0.96, 0.96);
    cairo_move_to(cr, x, f.y0);
    cairo_line_to(cr, x, f.y0 + f.height);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, x, f.y0 + f.height);
    cairo_line_to(cr, x, f.y0 + f.height + (t.label.empty() ? 3 : 6));
    cairo_stroke(cr);
    if (!t.label.empty()) text_at(cr, t.label, x, f.y0 + f.height + 9, 0.5, 0);
  }
  for (const Tick& t : f.y.ticks) {
    const double y = std::round(f.py(t.value)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, f.x0, y);
    cairo_line_to(cr, f.x0 + f.width, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, f.x0 - 6, y);
    cairo_line_to(cr, f.x0, y);
    cairo_stroke(cr);
    text_at(cr, t.label, f.x0 - 9, y, 1, 0.5);
  }
  cairo_rectangle(cr, std::round(f.x0) + 0.5, std::round(f.y0) + 0.5, std::round(f.width),
                  std::round(f.height));
  cairo_stroke(cr);

  set_font(cr, 14);
  text_at(cr, chart.x_label, f.x0 + f.width / 2, f.y0 + f.height + 32, 0.5, 0);
  cairo_save(cr);
  cairo_translate(cr, 18, f.y0 + f.height / 2);
  cairo_rotate(cr, -std::numbers::pi / 2);
  text_at(cr, chart.y_label, 0, 0, 0.5, 0);
  cairo_restore(cr);
  set_font(cr, 17, true);
  text_at(cr, chart.title, f.x0 + f.width / 2, 14, 0.5, 0);
}

void draw_data(cairo_t* cr, const Chart& chart, const Frame& f) {
  cairo_save(cr);
  cairo_rectangle(cr, f.x0, f.y0, f.width, f.height);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const Series& series = chart.series[s];
    set_color(cr, color_of(series, s), series.faint ? 0.35 : 1);
    cairo_set_line_width(cr, series.faint ? 1 : 2.2);
    bool drawing = false;  // a NaN breaks the line
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
        drawing = false;
        continue;
      }
      if (drawing) {
        cairo_line_to(cr, f.px(series.x[i]), f.py(series.y[i]));
      } else {
        cairo_move_to(cr, f.px(series.x[i]), f.py(series.y[i]));
      }
      drawing = true;
    }
    cairo_stroke(cr);
    if (!series.points) continue;
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      cairo_arc(cr, f.px(series.x[i]), f.py(series.y[i]), 3.5, 0, 2 * std::numbers::pi);
      cairo_fill(cr);
    }
  }
  for (const Marker& m : chart.markers) {
    const double dashes[] = {5, 4};
    set_color(cr, kMarkerColor);
    cairo_set_line_width(cr, 1.5);
    cairo_set_dash(cr, dashes, 2, 0);
    cairo_move_to(cr, f.px(m.x), f.y0);
    cairo_line_to(cr, f.px(m.x), f.y0 + f.height);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_line_width(cr, 2.5);
    cairo_arc(cr, f.px(m.x), f.py(m.y), 7, 0, 2 * std::numbers::pi);
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

// How many of the data's points (and points along its lines) fall inside
// the box: the legend goes into the corner that hides the least.
int points_under(const Chart& chart, const Frame& f, double x0, double y0, double w, double h) {
  int count = 0;
  const auto inside = [&](double x, double y) {
    return x >= x0 && x <= x0 + w && y >= y0 && y <= y0 + h;
  };
  for (const Series& series : chart.series) {
    for (size_t i = 0; i + 1 < series.x.size(); ++i) {
      for (int k = 0; k < 8; ++k) {
        const double t = k / 8.0;
        const double x = f.px(series.x[i]) * (1 - t) + f.px(series.x[i + 1]) * t;
        const double y = f.py(series.y[i]) * (1 - t) + f.py(series.y[i + 1]) * t;
        count += std::isfinite(x) && std::isfinite(y) && inside(x, y);
      }
    }
    if (series.x.size() == 1) count += inside(f.px(series.x[0]), f.py(series.y[0]));
  }
  for (const Marker& m : chart.markers) count += 4 * inside(f.px(m.x), f.py(m.y));
  return count;
}

void draw_legend(cairo_t* cr, const Chart& chart, const Frame& f) {
  set_font(cr, 13);
  const size_t entries = chart.series.size() + chart.markers.size();
  if (entries == 0) return;
  double text = 0;
  for (const auto& s : chart.series) text = std::max(text, text_width(cr, s.label));
  for (const auto& m : chart.markers) text = std::max(text, text_width(cr, m.label));
  const double row = 20, w = text + 48, h = row * static_cast<double>(entries) + 10, pad = 10;
  const std::array<std::array<double, 2>, 4> corners = {
      {{f.x0 + f.width - w - pad, f.y0 + pad},
       {f.x0 + pad, f.y0 + pad},
       {f.x0 + f.width - w - pad, f.y0 + f.height - h - pad},
       {f.x0 + pad, f.y0 + f.height - h - pad}}};
  auto best = corners[0];
  int fewest = points_under(chart, f, best[0], best[1], w, h);
  for (const auto& c : corners) {
    const int n = points_under(chart, f, c[0], c[1], w, h);
    if (n < fewest) {
      fewest = n;
      best = c;
    }
  }
  const double x = best[0], y = best[1];
  cairo_rectangle(cr, x, y, w, h);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  double cy = y + 5 + row / 2;
  for (size_t s = 0; s < chart.series.size(); ++s, cy += row) {
    const Series& series = chart.series[s];
    set_color(cr, color_of(series, s), series.faint ? 0.35 : 1);
    cairo_set_line_width(cr, series.faint ? 1 : 2.2);
    cairo_move_to(cr, x + 8, cy);
    cairo_line_to(cr, x + 34, cy);
    cairo_stroke(cr);
    if (series.points) {
      cairo_arc(cr, x + 21, cy, 3.5, 0, 2 * std::numbers::pi);
      cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, series.label, x + 40, cy, 0, 0.5);
  }
  for (const Marker& m : chart.markers) {
    set_color(cr, kMarkerColor);
    cairo_set_line_width(cr, 2.5);
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + 21, cy, 6, 0, 2 * std::numbers::pi);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, m.label, x + 40, cy, 0, 0.5);
    cy += row;
  }
}

void draw(cairo_t* cr, const Chart& chart, const std::pair<Axis, Axis>& axes) {
  const Frame f{kLeft,      kTop,       chart.width - kLeft - kRight, chart.height - kTop - kBottom,
                axes.first, axes.second};
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  set_font(cr, 12);
  draw_axes(cr, chart, f);
  draw_data(cr, chart, f);
  draw_legend(cr, chart, f);
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

void check(cairo_status_t status, const std::string& path) {
  TS_CHECK(status == CAIRO_STATUS_SUCCESS, "write_chart: drawing ", path,
           " failed: ", cairo_status_to_string(status));
}

// Draws onto `surface` and returns what cairo reports.
void render(cairo_surface_t* surface, const Chart& chart, const std::pair<Axis, Axis>& axes,
            const std::string& path) {
  check(cairo_surface_status(surface), path);
  const Context cr(cairo_create(surface), &cairo_destroy);
  draw(cr.get(), chart, axes);
  check(cairo_status(cr.get()), path);
}

}  // namespace

bool plots_available() { return true; }

void write_chart(const Chart& chart, const std::string& stem) {
  TS_CHECK(chart.width >= 2 * (kLeft + kRight) && chart.height >= 2 * (kTop + kBottom),
           "write_chart(", stem, "): ", chart.width, "x", chart.height, " is too small");
  const auto axes = chart_axes(chart);

  const std::string png_path = stem + ".png", svg_path = stem + ".svg";
  std::string png, svg;
  {
    const Surface surface(
        cairo_image_surface_create(CAIRO_FORMAT_ARGB32, chart.width, chart.height),
        &cairo_surface_destroy);
    render(surface.get(), chart, axes, png_path);
    check(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &png), png_path);
  }
  {
    const Surface surface(
        cairo_svg_surface_create_for_stream(append_bytes, &svg, chart.width, chart.height),
        &cairo_surface_destroy);
    render(surface.get(), chart, axes, svg_path);
    cairo_surface_finish(surface.get());  // writes the rest of the SVG
    check(cairo_surface_status(surface.get()), svg_path);
  }
  write_file_atomic(png_path, png, "write_chart");
  write_file_atomic(svg_path, svg, "write_chart");
}

}  // namespace toadstool::train::plot
