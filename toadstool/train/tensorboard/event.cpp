#include "toadstool/train/tensorboard/event.h"

#include "toadstool/train/tensorboard/protobuf_writer.h"

namespace toadstool::train::tensorboard {
namespace {

// Field numbers (the .proto files named in event.h).
enum EventField { kWallTime = 1, kStep = 2, kFileVersionField = 3, kSummary = 5, kSessionLog = 7 };
enum ValueField { kTag = 1, kSimpleValue = 2, kHisto = 5 };
enum HistogramField {
  kMin = 1,
  kMax = 2,
  kNum = 3,
  kSum = 4,
  kSumSquares = 5,
  kLimit = 6,
  kCount = 7
};
constexpr int kSessionStatus = 1, kSessionStart = 1, kSummaryValue = 1;

ProtobufWriter event_header(double wall_time, int64_t step) {
  ProtobufWriter event;
  event.add_double(kWallTime, wall_time);
  event.add_int64(kStep, step);
  return event;
}

ProtobufWriter encode(const Histogram& histogram) {
  ProtobufWriter proto;
  proto.add_double(kMin, histogram.min);
  proto.add_double(kMax, histogram.max);
  proto.add_double(kNum, histogram.num);
  proto.add_double(kSum, histogram.sum);
  proto.add_double(kSumSquares, histogram.sum_squares);
  proto.add_packed_doubles(kLimit, histogram.bucket_limit);
  proto.add_packed_doubles(kCount, histogram.bucket);
  return proto;
}

}  // namespace

std::string file_version_event(double wall_time) {
  ProtobufWriter event = event_header(wall_time, 0);
  event.add_string(kFileVersionField, kFileVersion);
  return event.bytes();
}

std::string session_start_event(double wall_time, int64_t step) {
  ProtobufWriter session_log;
  session_log.add_varint(kSessionStatus, kSessionStart);
  ProtobufWriter event = event_header(wall_time, step);
  event.add_message(kSessionLog, session_log);
  return event.bytes();
}

std::string summary_event(double wall_time, int64_t step, const std::vector<SummaryValue>& values) {
  ProtobufWriter summary;
  for (const auto& value : values) {
    ProtobufWriter proto;
    proto.add_string(kTag, value.tag);
    if (const auto* scalar = std::get_if<float>(&value.value)) {
      proto.add_float(kSimpleValue, *scalar);
    } else {
      proto.add_message(kHisto, encode(std::get<Histogram>(value.value)));
    }
    summary.add_message(kSummaryValue, proto);
  }
  ProtobufWriter event = event_header(wall_time, step);
  event.add_message(kSummary, summary);
  return event.bytes();
}

}  // namespace toadstool::train::tensorboard
