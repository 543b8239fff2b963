// MonitorCallback (terminal and plain-line modes, refresh by an injected
// clock), SimpleMonitorCallback and CSVLogger.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "test_util.h"
#include "toadstool/train/callbacks/summary_line.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

using train::Trainer;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A fake clock that a callback placed before the monitor moves on by `tick`
// seconds at each begin_batch.
struct FakeClock : train::CallbackBase<FakeClock> {
  double now = 0, tick = 0;
  explicit FakeClock(double tick_s) : tick(tick_s) {}
  void begin_batch(Trainer&) override { now += tick; }
  std::function<double()> clock() {
    return [this] { return now; };
  }
};

train::MonitorOptions plain(std::ostream& out, FakeClock& clock, double line_interval_s) {
  train::MonitorOptions options;
  options.out = &out;
  options.terminal = train::TerminalMode::no;
  options.line_interval_s = line_interval_s;
  options.clock = clock.clock();
  return options;
}

TEST(MonitorCallback, PlainLinesForEachBatchAndEpochWhenNotATerminal) {
  TinySetup setup;
  std::ostringstream out;
  auto clock = std::make_shared<FakeClock>(1.0);
  auto monitor = std::make_shared<train::MonitorCallback>(plain(out, *clock, 0));
  EXPECT_FALSE(monitor->terminal());
  Trainer trainer = setup.trainer({clock, monitor});
  auto train_loader = loader_of(regression_data(6), 3);         // 2 batches
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);  // 1 batch
  trainer.fit(2, *train_loader, valid_loader.get());

  const std::string text = out.str();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 8u) << text;
  // One batch a second: after the first, 1 it/s and one batch (1 s) to go.
  EXPECT_TRUE(starts_with(lines[0], "epoch 1/2 train 1/2  step 1  1 it/s  ETA 1.0s  loss "))
      << lines[0];
  EXPECT_TRUE(starts_with(lines[1], "epoch 1/2 train 2/2  step 2  1 it/s  ETA 0.0s  loss "))
      << lines[1];
  EXPECT_TRUE(starts_with(lines[2], "epoch 1/2 valid 1/1  1 it/s  ETA 0.0s  loss ")) << lines[2];
  EXPECT_TRUE(starts_with(lines[3], "epoch 1/2  train_loss ")) << lines[3];
  EXPECT_NE(lines[3].find("  valid_loss "), std::string::npos);
  EXPECT_NE(lines[3].find("  time 3.0s"), std::string::npos) << lines[3];
  EXPECT_TRUE(starts_with(lines[4], "epoch 2/2 train 1/2  step 3")) << lines[4];
  // The last summary shows the trainer's own epoch means.
  EXPECT_EQ(lines[7], "epoch 2/2  train_loss " + train::monitor_text::number(trainer.train_loss()) +
                          "  valid_loss " + train::monitor_text::number(trainer.valid_loss()) +
                          "  time 3.0s");
  // The running loss of a pass's last line is the pass mean.
  EXPECT_EQ(lines[6].substr(lines[6].rfind("loss ") + 5),
            train::monitor_text::number(trainer.valid_loss()));
}

TEST(MonitorCallback, PlainLinesAtMostOncePerInterval) {
  TinySetup setup;
  std::ostringstream out;
  auto clock = std::make_shared<FakeClock>(1.0);
  Trainer trainer =
      setup.trainer({clock, std::make_shared<train::MonitorCallback>(plain(out, *clock, 2.5))});
  auto loader = loader_of(regression_data(12), 2);  // 6 batches, one a second
  trainer.fit(1, *loader);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_TRUE(starts_with(lines[0], "epoch 1/1 train 3/6  step 3")) << lines[0];
  EXPECT_TRUE(starts_with(lines[1], "epoch 1/1 train 6/6  step 6")) << lines[1];
  EXPECT_TRUE(starts_with(lines[2], "epoch 1/1  train_loss ")) << lines[2];
}

// The monitor reads the loss only when it draws; with an interval that never
// passes it draws nothing but the epoch summaries (which read the trainer's
// epoch means, already computed).
TEST(MonitorCallback, NeverDrawsNorReadsTheLossBeforeTheRefreshInterval) {
  for (const auto mode : {train::TerminalMode::yes, train::TerminalMode::no}) {
    TinySetup setup;
    std::ostringstream out;
    auto clock = std::make_shared<FakeClock>(0.001);
    train::MonitorOptions options = plain(out, *clock, 1e9);
    options.terminal = mode;
    options.refresh_s = 1e9;
    Trainer trainer = setup.trainer({clock, std::make_shared<train::MonitorCallback>(options)});
    auto loader = loader_of(regression_data(20), 2);
    trainer.fit(3, *loader);
    const auto lines = lines_of(out.str());
    ASSERT_EQ(lines.size(), 3u) << out.str();
    for (const auto& line : lines) EXPECT_TRUE(starts_with(line, "epoch ")) << line;
    EXPECT_EQ(out.str().find('\r'), std::string::npos);
    EXPECT_EQ(out.str().find(" it/s"), std::string::npos);
  }
}

TEST(MonitorCallback, TerminalRedrawsOneLineInPlace) {
  TinySetup setup;
  std::ostringstream out;
  auto clock = std::make_shared<FakeClock>(0.5);
  train::MonitorOptions options = plain(out, *clock, 0);
  options.terminal = train::TerminalMode::yes;
  options.refresh_s = 0;
  options.track_lr = true;
  auto monitor = std::make_shared<train::MonitorCallback>(options);
  EXPECT_TRUE(monitor->terminal());
  Trainer trainer = setup.trainer({clock, monitor});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);
  trainer.fit(1, *train_loader, valid_loader.get());

  const std::string text = out.str();
  // Every bar starts with '\r' and none ends a line: the first newline is
  // the epoch summary's.
  const size_t first_newline = text.find('\n');
  ASSERT_NE(first_newline, std::string::npos);
  EXPECT_EQ(text.find('\n', first_newline + 1), std::string::npos) << text;
  const std::string bars = text.substr(0, first_newline);
  EXPECT_EQ(bars[0], '\r');
  EXPECT_NE(bars.find("\repoch 1/1 train [##########----------] 1/2  step 1  2 it/s  ETA 0.5s"
                      "  loss "),
            std::string::npos)
      << bars;
  EXPECT_NE(bars.find("\repoch 1/1 train [####################] 2/2  step 2"), std::string::npos);
  EXPECT_NE(bars.find("  lr 0.05"), std::string::npos);
  EXPECT_NE(bars.find("\repoch 1/1 valid [####################] 1/1"), std::string::npos);
  // The summary starts on a cleared line.
  const size_t summary = bars.rfind('\r');
  EXPECT_TRUE(starts_with(bars.substr(summary + 1), "epoch 1/1  train_loss ")) << bars;
  EXPECT_NE(bars.find("  lr 0.05  time 1.5s"), std::string::npos) << bars;
}

TEST(MonitorCallback, EvalAndPredictSummaries) {
  TinySetup setup;
  std::ostringstream out;
  auto clock = std::make_shared<FakeClock>(1.0);
  Trainer trainer =
      setup.trainer({clock, std::make_shared<train::MonitorCallback>(plain(out, *clock, 1e9))});
  auto loader = loader_of(regression_data(6), 3);
  const double loss = trainer.eval(*loader);
  trainer.predict(*loader);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_EQ(lines[0], "eval  loss " + train::monitor_text::number(loss) + "  time 2.0s");
  EXPECT_EQ(lines[1], "predict  2 batches  time 2.0s");
}

TEST(MonitorCallback, BadOptionsAreErrors) {
  train::MonitorOptions options;
  options.refresh_s = -1;
  EXPECT_ERROR(train::MonitorCallback{options}, "refresh_s");
}

TEST(SimpleMonitorCallback, OneLinePerEpoch) {
  TinySetup setup;
  std::ostringstream out;
  Trainer trainer = setup.trainer({std::make_shared<train::SimpleMonitorCallback>(&out)});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);
  trainer.fit(3, *train_loader, valid_loader.get());
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(starts_with(lines[i], "epoch " + std::to_string(i + 1) + "/3  train_loss "));
    EXPECT_NE(lines[i].find("  valid_loss "), std::string::npos);
    EXPECT_NE(lines[i].find("  time "), std::string::npos);
  }
  EXPECT_TRUE(starts_with(
      lines[2], "epoch 3/3  train_loss " + train::monitor_text::number(trainer.train_loss()) +
                    "  valid_loss " + train::monitor_text::number(trainer.valid_loss())));
}

// --- CSVLogger ---------------------------------------------------------------

std::vector<std::string> fields(const std::string& row) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(row);
  while (std::getline(in, field, ',')) out.push_back(field);
  if (!row.empty() && row.back() == ',') out.emplace_back();
  return out;
}

// Sets trainer.epoch at begin_fit, as a resuming checkpoint callback does.
struct ResumeAt : train::CallbackBase<ResumeAt> {
  int64_t epoch;
  explicit ResumeAt(int64_t e) : epoch(e) {}
  void begin_fit(Trainer& t) override { t.epoch = epoch; }
};

TEST(CSVLogger, HeaderThenOneRowPerEpoch) {
  TempDir dir;
  const std::string path = dir.file("log.csv");
  TinySetup setup;
  Trainer trainer = setup.trainer({std::make_shared<train::CSVLogger>(path)});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);
  trainer.fit(2, *train_loader, valid_loader.get());

  const auto lines = lines_of(read_text(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "epoch,step,train_loss,valid_loss,score,lr,time_s");
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto row = fields(lines[epoch + 1]);
    ASSERT_EQ(row.size(), 7u) << lines[epoch + 1];
    EXPECT_EQ(row[0], std::to_string(epoch));
    EXPECT_EQ(row[1], std::to_string(2 * (epoch + 1)));
    EXPECT_EQ(row[4], "");  // no score set
    EXPECT_EQ(row[5], "0.05");
    EXPECT_GE(std::stod(row[6]), 0.0);
  }
  const auto last = fields(lines[2]);
  EXPECT_NEAR(std::stod(last[2]), trainer.train_loss(), 1e-9 * trainer.train_loss());
  EXPECT_NEAR(std::stod(last[3]), trainer.valid_loss(), 1e-9 * trainer.valid_loss());

  // Without validation the valid_loss field is empty.
  TempDir dir2;
  Trainer no_valid = setup.trainer({std::make_shared<train::CSVLogger>(dir2.file("log.csv"))});
  no_valid.fit(1, *train_loader);
  EXPECT_EQ(fields(lines_of(read_text(dir2.file("log.csv")))[1])[3], "");
}

TEST(CSVLogger, AResumedFitKeepsEarlierRowsAndReplacesTheRest) {
  TempDir dir;
  const std::string path = dir.file("log.csv");
  const std::string header = std::string(train::CSVLogger::header()) + "\n";
  const std::string kept = "0,2,1.5,,,0.05,0.1\n1,4,1.25,,,0.05,0.1\n";
  // Epoch 2 was logged by the run being replaced, and a row was torn.
  write_text(path, header + kept + "2,6,1.0,,,0.05,0.1\n3,8,0.");
  TinySetup setup;
  // The logger comes first: it must still see the resumed epoch.
  Trainer trainer =
      setup.trainer({std::make_shared<train::CSVLogger>(path), std::make_shared<ResumeAt>(2)});
  auto loader = loader_of(regression_data(6), 3);
  trainer.fit(4, *loader);
  const std::string text = read_text(path);
  EXPECT_TRUE(starts_with(text, header + kept)) << text;
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 5u) << text;
  EXPECT_TRUE(starts_with(lines[3], "2,2,")) << lines[3];
  EXPECT_TRUE(starts_with(lines[4], "3,4,")) << lines[4];
  EXPECT_EQ(text.back(), '\n');
}

TEST(CSVLogger, NeverWritesIntoAForeignFile) {
  TempDir dir;
  const std::string path = dir.file("log.csv");
  write_text(path, "a,b\n1,2\n");
  TinySetup setup;
  Trainer trainer = setup.trainer({std::make_shared<train::CSVLogger>(path)});
  auto loader = loader_of(regression_data(6), 3);
  EXPECT_ERROR(trainer.fit(1, *loader), (std::vector<std::string>{path, "not the header"}));
  EXPECT_EQ(read_text(path), "a,b\n1,2\n");
  // A row that is not ours either.
  write_text(path, std::string(train::CSVLogger::header()) + "\nhello\n");
  EXPECT_ERROR(trainer.fit(1, *loader), (std::vector<std::string>{"line 2", "hello"}));
  // append = false replaces it.
  Trainer fresh = setup.trainer({std::make_shared<train::CSVLogger>(path, false)});
  fresh.fit(1, *loader);
  const auto lines = lines_of(read_text(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], train::CSVLogger::header());
  EXPECT_TRUE(starts_with(lines[1], "0,2,"));
}

}  // namespace
}  // namespace toadstool::testing
