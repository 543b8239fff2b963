// TensorBoardCallback and its parts: CRC-32C, the protobuf encoding, the
// TFRecord framing, histograms, and the event file a short fit writes,
// read back by an independent decoder (common/event_reader.h) and compared
// with the CSV log of the same fit. scripts/check_tensorboard.py checks the
// same files with TensorBoard's own reader (development time; docs/tensorboard.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "event_reader.h"
#include "temp_dir.h"
#include "toadstool/train/callbacks/profile.h"
#include "toadstool/train/tensorboard/event.h"
#include "toadstool/train/tensorboard/event_file.h"
#include "toadstool/train/tensorboard/protobuf_writer.h"
#include "trainer_fixtures.h"

namespace toadstool::testing {
namespace {

namespace tb = train::tensorboard;
using train::Trainer;

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += digits[static_cast<uint8_t>(c) >> 4];
    out += digits[static_cast<uint8_t>(c) & 15];
  }
  return out;
}

// The known answers of RFC 3720 (iSCSI), appendix B.4, and the usual check value.
TEST(TensorBoardCrc32c, KnownVectors) {
  EXPECT_EQ(tb::crc32c(""), 0u);
  EXPECT_EQ(tb::crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(tb::crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(tb::crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending += static_cast<char>(i);
    descending += static_cast<char>(31 - i);
  }
  EXPECT_EQ(tb::crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(tb::crc32c(descending), 0x113FDB5Cu);
  // Masked: rotated right by 15 bits plus a constant (TensorFlow's crc32c::Mask);
  // 0xc78ab0e5 is what tensorboard's masked_crc32c gives.
  EXPECT_EQ(tb::masked_crc32c(""), 0xa282ead8u);
  EXPECT_EQ(tb::masked_crc32c("123456789"), 0xc78ab0e5u);
}

TEST(TensorBoardProtobuf, WireFormat) {
  tb::ProtobufWriter w;
  w.add_varint(1, 1);
  w.add_varint(2, 300);   // two bytes: ac 02
  w.add_int64(16, -1);    // key 80 01; ten bytes of two's complement
  w.add_float(3, 0.25f);  // 3e800000, little-endian
  w.add_double(4, -2.0);  // c000000000000000, little-endian
  w.add_string(5, "ab");
  const double packed[] = {1.0};
  w.add_packed_doubles(6, packed);
  EXPECT_EQ(hex(w.bytes()),
            "0801"
            "10ac02"
            "8001ffffffffffffffffff01"
            "1d0000803e"
            "2100000000000000c0"
            "2a026162"
            "3208000000000000f03f");
}

// Byte for byte what tensorboard's own protobuf classes serialise
// (event_pb2.Event(...).SerializeToString(), tensorboard 2.21).
TEST(TensorBoardEvent, EncodingMatchesTheReference) {
  EXPECT_EQ(hex(tb::summary_event(1.5, 3, {{"loss/train", 0.25f}})),
            "09000000000000f83f10032a130a110a0a6c6f73732f747261696e150000803e");
  EXPECT_EQ(hex(tb::session_start_event(2.0, 5)), "09000000000000004010053a020801");
  tb::Histogram h{-1, 3, 4, 6, 14, {1, 2, 3}, {2, 1, 1}};
  EXPECT_EQ(hex(tb::summary_event(2.0, 1, {{"w", h}})),
            "09000000000000004010012a680a660a01772a6109000000000000f0bf1100000000000008401900000000"
            "00001040210000000000001840290000000000002c403218000000000000f03f0000000000000040000000"
            "00000008403a180000000000000040000000000000f03f000000000000f03f");
  const auto version = decode_event(tb::file_version_event(7.0));
  EXPECT_EQ(version.file_version, "brain.Event:2");
  EXPECT_EQ(version.wall_time, 7.0);
}

// tensorboard's RecordWriter on b"hello".
TEST(TensorBoardEventFile, RecordFraming) {
  EXPECT_EQ(hex(tb::EventFileWriter::frame("hello")), "0500000000000000eab2043e68656c6c6fbb1f1c19");
}

TEST(TensorBoardHistogram, BucketsCountsAndMoments) {
  const auto h = tb::histogram_of(from_vector<float>({0, 1, 2, 3, NAN, INFINITY}), 3);
  EXPECT_EQ(h.min, 0);
  EXPECT_EQ(h.max, 3);
  EXPECT_EQ(h.num, 4);  // the non-finite values are left out
  EXPECT_EQ(h.sum, 6);
  EXPECT_EQ(h.sum_squares, 14);
  EXPECT_EQ(h.bucket_limit, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(h.bucket, (std::vector<double>{2, 1, 1}));  // (-, 1], (1, 2], (2, 3]

  const auto constant = tb::histogram_of(full({2, 2}, 0.5), 30);
  EXPECT_EQ(constant.bucket_limit, std::vector<double>{0.5});
  EXPECT_EQ(constant.bucket, std::vector<double>{4});
  const auto none = tb::histogram_of(from_vector<float>({NAN}), 30);
  EXPECT_EQ(none.num, 0);
  EXPECT_TRUE(none.bucket.empty());
  EXPECT_THROW(tb::histogram_of(zeros({2}), 0), Error);
}

std::vector<std::string> event_files(const TempDir& dir) {
  std::vector<std::string> files;
  for (const auto& name : dir.files()) {
    if (name.rfind("events.out.tfevents.", 0) == 0) files.push_back(dir.file(name));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::istringstream fields(line + ",");
    for (std::string field; std::getline(fields, field, ',');) row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

// A fit with validation, a score, gradient clipping and histograms every
// other epoch: every scalar equals the CSV log's value (as a float), and the
// histograms describe the weights and gradients.
TEST(TensorBoardCallback, WritesTheScalarsOfTheCsvLogAndHistograms) {
  TempDir dir;
  TinySetup setup;
  auto clip = std::make_shared<train::GradClipCallback>(100.0);
  auto board = std::make_shared<train::TensorBoardCallback>(
      dir.path(), train::TensorBoardOptions{.histogram_every = 2, .histogram_buckets = 5});
  Trainer trainer =
      setup.trainer({std::make_shared<ScriptedScore>(std::vector<double>{.5, .7, .8}), clip, board,
                     std::make_shared<train::CSVLogger>(dir.file("log.csv"))});
  auto train_loader = loader_of(regression_data(6), 3);
  auto valid_loader = loader_of(regression_data(3, 3, 99), 3);
  trainer.fit(3, *train_loader, valid_loader.get());

  const auto files = event_files(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(board->event_file(), files[0]);
  const auto events = read_events(files[0]);
  // version, START, then per epoch the scalars (and the histograms at 0 and 2).
  ASSERT_EQ(events.size(), 2u + 3u + 2u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[1].session_status, 1);
  EXPECT_EQ(events[1].step, 0);

  const auto rows = csv_rows(dir.file("log.csv"));
  ASSERT_EQ(rows.size(), 4u);
  size_t next = 2;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto& row = rows[epoch + 1];  // epoch,step,train_loss,valid_loss,score,lr,time_s
    const auto& scalars = events[next].scalars;
    EXPECT_EQ(events[next].step, epoch);
    EXPECT_GT(events[next].wall_time, 1.6e9);
    ASSERT_EQ(scalars.size(), 6u);
    EXPECT_EQ(scalars.at("loss/train"), static_cast<float>(std::stod(row[2])));
    EXPECT_EQ(scalars.at("loss/valid"), static_cast<float>(std::stod(row[3])));
    EXPECT_EQ(scalars.at("metrics/score"), static_cast<float>(std::stod(row[4])));
    EXPECT_EQ(scalars.at("optim/lr"), static_cast<float>(std::stod(row[5])));
    EXPECT_GT(scalars.at("optim/grad_norm"), 0);
    EXPECT_GE(scalars.at("time/epoch_s"), 0);
    ++next;
    if (epoch % 2 != 0) continue;
    const auto& histograms = events[next].histograms;
    EXPECT_EQ(events[next].step, epoch);
    ASSERT_EQ(histograms.size(), 4u);
    // Linear(3, 1): a weight of 3 values and a bias of 1.
    const std::map<std::string, double> sizes = {
        {"weights/weight", 3}, {"weights/bias", 1}, {"gradients/weight", 3}, {"gradients/bias", 1}};
    for (const auto& [tag, size] : sizes) {
      const auto& h = histograms.at(tag);
      EXPECT_EQ(h.num, size) << tag;
      EXPECT_EQ(std::accumulate(h.bucket.begin(), h.bucket.end(), 0.0), h.num) << tag;
      EXPECT_EQ(h.bucket.size(), h.bucket_limit.size()) << tag;
      EXPECT_LE(h.min, h.max) << tag;
    }
    ++next;
  }
  // The last histograms describe the final weights.
  const Tensor weight = setup.model->weight;
  const auto& last = events.back().histograms.at("weights/weight");
  EXPECT_DOUBLE_EQ(last.min, min(weight).item<double>());
  EXPECT_DOUBLE_EQ(last.max, max(weight).item<double>());
  EXPECT_NEAR(last.sum, sum(weight).item<double>(), 1e-6);
}

TEST(TensorBoardCallback, LogsTheProfileOfAProfileCallbackBeforeIt) {
  TempDir dir;
  TinySetup setup;
  auto profile = std::make_shared<train::ProfileCallback>(
      train::ProfileOptions{.verbose = false, .peak_gflops = 100});
  auto board = std::make_shared<train::TensorBoardCallback>(
      dir.path(), train::TensorBoardOptions{.histogram_every = 0});
  Trainer trainer = setup.trainer({profile, board});
  auto train_loader = loader_of(regression_data(6), 3);
  trainer.fit(2, *train_loader);  // no validation: the profile ends at its after_epoch

  const auto events = read_events(event_files(dir).at(0));
  ASSERT_EQ(events.size(), 2u + 2u);  // version, START, one event per epoch
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto& scalars = events[2 + epoch].scalars;
    const train::EpochProfile& p = profile->epochs().at(epoch);
    EXPECT_EQ(scalars.at("profile/mfu"), static_cast<float>(p.mfu));
    EXPECT_EQ(scalars.at("profile/backward_s"),
              static_cast<float>(p.stage_seconds[static_cast<int>(train::TrainStage::backward)]));
    EXPECT_EQ(scalars.count("profile/data_s"), 1u);
  }
}

TEST(TensorBoardCallback, EachFitWritesItsOwnFileStartingAtItsFirstEpoch) {
  TempDir dir;
  TinySetup setup;
  auto board = std::make_shared<train::TensorBoardCallback>(
      dir.path(), train::TensorBoardOptions{.histogram_every = 0});
  Trainer trainer = setup.trainer({board});
  auto loader = loader_of(regression_data(6), 3);
  trainer.fit(1, *loader);
  trainer.fit(2, *loader);  // a new fit starts again at epoch 0
  const auto files = event_files(dir);
  ASSERT_EQ(files.size(), 2u);
  for (const auto& file : files) {
    const auto events = read_events(file);
    ASSERT_GE(events.size(), 3u) << file;
    EXPECT_EQ(events[0].file_version, "brain.Event:2");
    EXPECT_EQ(events[1].session_status, 1);
    EXPECT_EQ(events[1].step, 0);
    for (size_t i = 2; i < events.size(); ++i) EXPECT_TRUE(events[i].histograms.empty());
  }
  const auto second = read_events(files[1]);
  EXPECT_EQ(second.size(), 4u);  // version, START, 2 epochs
  // No validation, no score, no clipping: only what is known is written.
  const auto& scalars = second.at(2).scalars;
  EXPECT_EQ(scalars.size(), 3u);
  EXPECT_TRUE(scalars.count("loss/train") && scalars.count("optim/lr") &&
              scalars.count("time/epoch_s"));
}

TEST(TensorBoardCallback, BadOptionsAndAnUnwritableFolderAreErrors) {
  EXPECT_THROW(train::TensorBoardCallback(""), Error);
  EXPECT_THROW(train::TensorBoardCallback("x", {.histogram_every = -1}), Error);
  EXPECT_THROW(train::TensorBoardCallback("x", {.histogram_buckets = 0}), Error);

  TempDir dir;
  std::ofstream(dir.file("not_a_folder")) << "x";
  const std::string log_dir = dir.file("not_a_folder") + "/runs";
  TinySetup setup;
  Trainer trainer = setup.trainer({std::make_shared<train::TensorBoardCallback>(log_dir)});
  auto loader = loader_of(regression_data(6), 3);
  try {
    trainer.fit(1, *loader);
    FAIL() << "fit into an unwritable folder did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(log_dir), std::string::npos) << e.what();
  }
}

// What the examples' --log-dir sets up: the folder made at once, then a CSV
// log, an event file and (with cairo) the charts in it.
TEST(LogDirCallbacks, PutTheCsvLogEventsAndChartsInOneFolder) {
  TempDir dir;
  const std::string log_dir = dir.file("runs/a");
  auto callbacks = train::log_dir_callbacks(log_dir, {.histogram_every = 0});
  EXPECT_TRUE(std::filesystem::is_directory(log_dir));
  ASSERT_EQ(callbacks.size(), train::plot::plots_available() ? 3u : 2u);
  TinySetup setup;
  Trainer trainer = setup.trainer(callbacks);
  auto loader = loader_of(regression_data(6), 3);
  trainer.fit(2, *loader);
  EXPECT_EQ(csv_rows(log_dir + "/log.csv").size(), 3u);
  size_t event_files_found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(log_dir)) {
    event_files_found += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  EXPECT_EQ(event_files_found, 1u);
  EXPECT_EQ(std::filesystem::exists(log_dir + "/loss.png"), train::plot::plots_available());

  std::ofstream(dir.file("file")) << "x";
  try {
    train::log_dir_callbacks(dir.file("file/runs"));
    FAIL() << "a folder under a file did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("file/runs")), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace toadstool::testing
