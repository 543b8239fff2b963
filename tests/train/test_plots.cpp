// Charts: axis ticks and labels, the checks before drawing, reading the CSV
// logs back, and (in a build with cairo) the PNG and SVG files that
// write_chart, PlotCallback and an LR finder's fit produce. A build without
// cairo checks the Error instead.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "toadstool/train/plot/axis.h"
#include "toadstool/train/plot/chart.h"
#include "toadstool/train/plot/csv_logs.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

namespace plot = train::plot;
using train::Trainer;

std::vector<std::string> labels(const plot::Axis& axis) {
  std::vector<std::string> out;
  for (const auto& tick : axis.ticks) {
    if (!tick.label.empty()) out.push_back(tick.label);
  }
  return out;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no Error)";
}

TEST(PlotAxis, LinearTicksAreNiceNumbersEnclosingTheData) {
  const auto loss = plot::linear_axis(0.23, 0.71);
  EXPECT_DOUBLE_EQ(loss.lo, 0.2);
  EXPECT_DOUBLE_EQ(loss.hi, 0.8);
  EXPECT_EQ(labels(loss),
            (std::vector<std::string>{"0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"}));
  EXPECT_DOUBLE_EQ(loss.fraction(0.5), 0.5);
  EXPECT_EQ(labels(plot::linear_axis(0, 1, 8, true)), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(labels(plot::linear_axis(0, 20, 8, true)),
            (std::vector<std::string>{"0", "5", "10", "15", "20"}));
  // One value: a range around it.
  EXPECT_EQ(labels(plot::linear_axis(3, 3, 8, true)), (std::vector<std::string>{"2", "3", "4"}));
  // Learning rates: small numbers in scientific notation, distinct labels.
  const auto lr = labels(plot::linear_axis(1e-5, 5e-5));
  EXPECT_EQ(lr.front(), "1e-05");
  EXPECT_EQ(lr.back(), "5e-05");
  EXPECT_EQ(labels(plot::linear_axis(1000, 1600)).front(), "1000");
  EXPECT_THROW(plot::linear_axis(1, 0), Error);
  EXPECT_THROW(plot::linear_axis(0, NAN), Error);
}

TEST(PlotAxis, LogTicksAtDecadesWithUnlabelledMinorTicks) {
  const auto axis = plot::log_axis(2e-7, 8);
  EXPECT_DOUBLE_EQ(axis.lo, 1e-7);
  EXPECT_DOUBLE_EQ(axis.hi, 10);
  EXPECT_EQ(labels(axis), (std::vector<std::string>{"1e-7", "1e-6", "1e-5", "1e-4", "0.001", "0.01",
                                                    "0.1", "1", "10"}));
  EXPECT_EQ(axis.ticks.size(), 9u + 8u * 8u);
  EXPECT_NEAR(axis.fraction(1e-3), 0.5, 1e-12);
  EXPECT_THROW(plot::log_axis(0, 1), Error);
}

TEST(PlotChart, AxesEncloseTheFinitePointsAndBadChartsAreErrors) {
  plot::Chart chart{.title = "t"};
  chart.series.push_back({"a", {0, 1, 2}, {0.5, NAN, 0.9}});
  chart.markers.push_back({1, 0.1, "m"});
  const auto [x, y] = plot::chart_axes(chart);
  EXPECT_LE(x.lo, 0);
  EXPECT_GE(x.hi, 2);
  EXPECT_LE(y.lo, 0.1);
  EXPECT_GE(y.hi, 0.9);

  plot::Chart uneven{.title = "uneven"};
  uneven.series.push_back({"a", {0, 1}, {1}});
  EXPECT_NE(error_of([&] { plot::chart_axes(uneven); }).find("2 x values and 1 y values"),
            std::string::npos);
  plot::Chart empty{.title = "empty"};
  empty.series.push_back({"a", {0}, {NAN}});
  EXPECT_NE(error_of([&] { plot::chart_axes(empty); }).find("no finite point"), std::string::npos);
  plot::Chart log{.title = "log"};
  log.log_x = true;
  log.series.push_back({"a", {0, 1}, {1, 2}});
  EXPECT_NE(error_of([&] { plot::chart_axes(log); }).find("log axis"), std::string::npos);
}

TEST(PlotCsvLogs, ReadsBothKindsAndNamesTheLineOfABadRow) {
  TempDir dir;
  const std::string log = dir.file("log.csv");
  write_text(log, std::string(train::CSVLogger::header()) +
                      "\n0,2,1.5,1.25,,0.01,0.5\n1,4,1.0,0.75,0.8,0.005,0.5\n2,6,0.");  // torn
  EXPECT_EQ(plot::csv_log_kind(log), "epochs");
  const auto records = plot::read_epoch_log(log);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].epoch, 1);
  EXPECT_EQ(records[1].train_loss, 1.0);
  EXPECT_EQ(records[1].valid_loss, 0.75);
  EXPECT_TRUE(std::isnan(records[0].score));
  EXPECT_EQ(records[1].lr, 0.005);

  const std::string curve = dir.file("lr.csv");
  write_text(curve, "lr,loss,smoothed_loss\n1e-05,2.5,2.5\n0.0001,2.25,2.4\n");
  EXPECT_EQ(plot::csv_log_kind(curve), "lr_finder");
  const auto points = plot::read_lr_finder_log(curve);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1].smoothed_loss, 2.4);

  write_text(log, std::string(train::CSVLogger::header()) + "\n0,2,1.5,x,,0.01,0.5\n");
  EXPECT_NE(error_of([&] { plot::read_epoch_log(log); }).find(log + ": line 2 field 4 is \"x\""),
            std::string::npos);
  write_text(log, std::string(train::CSVLogger::header()) + "\n0,2,1.5\n");
  EXPECT_NE(error_of([&] { plot::read_epoch_log(log); }).find("line 2 has 3 fields"),
            std::string::npos);
  write_text(log, std::string(train::CSVLogger::header()) + "\n1e300,2,1.5,,,0.01,0.5\n");
  EXPECT_NE(error_of([&] { plot::read_epoch_log(log); }).find("line 2 has no epoch number"),
            std::string::npos);
  write_text(log, "a,b\n1,2\n");
  EXPECT_NE(error_of([&] { plot::csv_log_kind(log); }).find("neither a CSVLogger log"),
            std::string::npos);
  EXPECT_NE(error_of([&] { plot::read_lr_finder_log(log); }).find("line 1 is \"a,b\""),
            std::string::npos);
  EXPECT_NE(error_of([&] { plot::read_epoch_log(dir.file("missing.csv")); }).find("cannot open"),
            std::string::npos);
}

// A PNG of the chart's size (the IHDR chunk) and an SVG document.
void expect_chart_files(const std::string& stem, int width = 800, int height = 500) {
  const std::string png = read_text(stem + ".png");
  ASSERT_GE(png.size(), 24u) << stem;
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n") << stem;
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(png[at + i]);
    return v;
  };
  EXPECT_EQ(be32(16), static_cast<uint32_t>(width)) << stem;
  EXPECT_EQ(be32(20), static_cast<uint32_t>(height)) << stem;
  const std::string svg = read_text(stem + ".svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos) << stem;
  EXPECT_NE(svg.find("</svg>"), std::string::npos) << stem;
}

TEST(PlotCallback, DrawsLossScoreAndLrAtEachEpochAndKeepsTheRecordsInItsState) {
  if (!plot::plots_available()) {
    EXPECT_NE(error_of([] { train::PlotCallback("x"); }).find("built without cairo"),
              std::string::npos);
    GTEST_SKIP() << "built without cairo (TOADSTOOL_PLOTS)";
  }
  TempDir dir;
  TinySetup setup;
  auto plots = std::make_shared<train::PlotCallback>(dir.file("charts"));
  Trainer trainer =
      setup.trainer({std::make_shared<ScriptedScore>(std::vector<double>{.5, .7, .8}), plots});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);
  trainer.fit(3, *train_loader, valid_loader.get());
  ASSERT_EQ(plots->written().size(), 3u);
  for (const char* name : {"loss", "score", "lr"}) expect_chart_files(dir.file("charts/") + name);
  ASSERT_EQ(plots->records().size(), 3u);
  EXPECT_EQ(plots->records()[2].score, 0.8);
  EXPECT_EQ(plots->records()[2].train_loss, trainer.train_loss());

  // A resumed fit from epoch 1 keeps epoch 0 of the saved records and
  // replaces the rest.
  auto resumed = std::make_shared<train::PlotCallback>(dir.file("charts"));
  resumed->load_state_dict(plots->state_dict());
  struct ResumeAt1 : train::CallbackBase<ResumeAt1> {
    void begin_fit(Trainer& t) override { t.epoch = 1; }
  };
  Trainer again = setup.trainer({std::make_shared<ResumeAt1>(), resumed});
  again.fit(2, *train_loader);
  ASSERT_EQ(resumed->records().size(), 2u);
  EXPECT_EQ(resumed->records()[0].score, 0.5);                // epoch 0, restored
  EXPECT_TRUE(std::isnan(resumed->records()[1].valid_loss));  // epoch 1, this fit's
  EXPECT_EQ(resumed->written().size(), 3u);  // loss still has epoch 0's validation; score too

  TensorDict bad;
  bad.insert("records", zeros({2, 4}, kFloat64));
  EXPECT_NE(error_of([&] { resumed->load_state_dict(bad); }).find("float64 [epochs, 5]"),
            std::string::npos);
}

TEST(PlotCallback, DrawsTheLrFinderCurveWithItsSuggestion) {
  if (!plot::plots_available()) GTEST_SKIP() << "built without cairo (TOADSTOOL_PLOTS)";
  TempDir dir;
  TinySetup setup;
  train::LRFinderOptions options;
  options.min_lr = 1e-4;
  options.max_lr = 1;
  options.max_iter = 24;
  options.skip_start = options.skip_end = 2;
  options.verbose = false;
  auto finder = std::make_shared<train::LRFinderCallback>(options);
  auto plots = std::make_shared<train::PlotCallback>(dir.path());
  Trainer trainer = setup.trainer({finder, plots});
  auto loader = loader_of(regression_data(6), 3);
  trainer.fit(20, *loader);
  ASSERT_TRUE(finder->suggested_index().has_value());
  ASSERT_EQ(plots->written(), std::vector<std::string>{dir.file("lr_finder")});
  expect_chart_files(dir.file("lr_finder"));
  EXPECT_TRUE(plots->records().empty());  // the sweep's epochs are not training
  EXPECT_NE(read_text(dir.file("lr_finder.svg")).find("<path"), std::string::npos);
}

TEST(PlotCallback, AnUnwritableFolderIsAnErrorNamingIt) {
  if (!plot::plots_available()) GTEST_SKIP() << "built without cairo (TOADSTOOL_PLOTS)";
  TempDir dir;
  write_text(dir.file("file"), "x");
  TinySetup setup;
  Trainer trainer = setup.trainer({std::make_shared<train::PlotCallback>(dir.file("file/charts"))});
  auto loader = loader_of(regression_data(6), 3);
  EXPECT_NE(error_of([&] { trainer.fit(1, *loader); }).find(dir.file("file/charts")),
            std::string::npos);
  plot::Chart chart{.title = "t"};
  chart.series.push_back({"a", {0, 1}, {1, 2}});
  EXPECT_NE(error_of([&] {
              plot::write_chart(chart, dir.file("file/chart"));
            }).find(dir.file("file/chart")),
            std::string::npos);
}

}  // namespace
}  // namespace toadstool::testing
