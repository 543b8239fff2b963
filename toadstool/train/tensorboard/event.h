#pragma once
// The Event messages of a TensorBoard event file, encoded by hand
// (tensorboard/compat/proto/event.proto, summary.proto, histogram.proto;
// docs/tensorboard.md has the fields we write):
//   Event { double wall_time = 1; int64 step = 2; oneof { string
//           file_version = 3; Summary summary = 5; SessionLog session_log = 7; } }
//   Summary { repeated Value value = 1; }
//   Summary.Value { string tag = 1; oneof { float simple_value = 2;
//                   HistogramProto histo = 5; } }
//   SessionLog { SessionStatus status = 1; }  (START = 1)
//   HistogramProto { double min = 1, max = 2, num = 3, sum = 4,
//                    sum_squares = 5; repeated double bucket_limit = 6
//                    [packed], bucket = 7 [packed]; }
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "toadstool/train/tensorboard/histogram.h"

namespace toadstool::train::tensorboard {

// What every event file starts with. Version 2 makes TensorBoard's reader
// honour SessionLog START events (below) instead of guessing restarts from
// steps that go backwards.
inline constexpr const char* kFileVersion = "brain.Event:2";

struct SummaryValue {
  std::string tag;
  std::variant<float, Histogram> value;  // simple_value (a scalar) or histo
};

std::string file_version_event(double wall_time);
// A (re)start of training at `step`: the reader drops every event it has
// read before with a step >= `step` (the orphans of a run that crashed
// after its last checkpoint and was resumed from there).
std::string session_start_event(double wall_time, int64_t step);
std::string summary_event(double wall_time, int64_t step, const std::vector<SummaryValue>& values);

}  // namespace toadstool::train::tensorboard
