#pragma once
// A reader of TensorBoard event files for the tests, written apart from the
// writer (train/tensorboard/): it walks the TFRecord framing, checks both
// CRCs of every record, and decodes the protobuf fields of the messages
// the writer produces. The real reader (PyPI's tensorboard) is checked at
// development time by scripts/check_tensorboard.py.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "toadstool/train/tensorboard/crc32c.h"

namespace toadstool::testing {

struct ProtoField {
  int number = 0, wire_type = 0;
  uint64_t varint = 0;  // wire types 0, 1 and 5 (the raw bits)
  std::string bytes;    // wire type 2
  double as_double() const {
    double d;
    std::memcpy(&d, &varint, 8);
    return d;
  }
  float as_float() const {
    const auto bits = static_cast<uint32_t>(varint);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

inline uint64_t read_le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(s.at(at + i))} << (8 * i);
  return v;
}

inline uint64_t read_varint(const std::string& s, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto byte = static_cast<uint8_t>(s.at(at++));
    v |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return v;
  }
}

inline std::vector<ProtoField> parse_proto(const std::string& s) {
  std::vector<ProtoField> fields;
  size_t at = 0;
  while (at < s.size()) {
    const uint64_t key = read_varint(s, at);
    ProtoField f;
    f.number = static_cast<int>(key >> 3);
    f.wire_type = static_cast<int>(key & 7);
    if (f.wire_type == 0) {
      f.varint = read_varint(s, at);
    } else if (f.wire_type == 1 || f.wire_type == 5) {
      const int n = f.wire_type == 1 ? 8 : 4;
      f.varint = read_le(s, at, n);
      at += n;
    } else if (f.wire_type == 2) {
      const uint64_t n = read_varint(s, at);
      f.bytes = s.substr(at, n);
      EXPECT_EQ(f.bytes.size(), n) << "length-delimited field runs past the message";
      at += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire_type;
      break;
    }
    fields.push_back(f);
  }
  return fields;
}

// The records of a TFRecord file, every CRC checked (a bad one fails the test).
inline std::vector<std::string> read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string file = buffer.str();
  std::vector<std::string> records;
  size_t at = 0;
  while (at < file.size()) {
    EXPECT_GE(file.size() - at, 12u) << "torn record header at byte " << at;
    if (file.size() - at < 12) break;
    const uint64_t length = read_le(file, at, 8);
    EXPECT_EQ(read_le(file, at + 8, 4), train::tensorboard::masked_crc32c(file.substr(at, 8)))
        << "length CRC of the record at byte " << at;
    EXPECT_GE(file.size() - at - 12, length + 4) << "torn record at byte " << at;
    if (file.size() - at - 12 < length + 4) break;
    std::string data = file.substr(at + 12, length);
    EXPECT_EQ(read_le(file, at + 12 + length, 4), train::tensorboard::masked_crc32c(data))
        << "data CRC of the record at byte " << at;
    records.push_back(std::move(data));
    at += 12 + length + 4;
  }
  return records;
}

struct DecodedHistogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit, bucket;
};

struct DecodedEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  int session_status = -1;  // -1: no session_log
  std::map<std::string, float> scalars;
  std::map<std::string, DecodedHistogram> histograms;
};

inline std::vector<double> packed_doubles(const std::string& bytes) {
  std::vector<double> values(bytes.size() / 8);
  std::memcpy(values.data(), bytes.data(), values.size() * 8);
  return values;
}

inline DecodedHistogram decode_histogram(const std::string& bytes) {
  DecodedHistogram h;
  for (const auto& f : parse_proto(bytes)) {
    switch (f.number) {
      case 1: h.min = f.as_double(); break;
      case 2: h.max = f.as_double(); break;
      case 3: h.num = f.as_double(); break;
      case 4: h.sum = f.as_double(); break;
      case 5: h.sum_squares = f.as_double(); break;
      case 6: h.bucket_limit = packed_doubles(f.bytes); break;
      case 7: h.bucket = packed_doubles(f.bytes); break;
      default: ADD_FAILURE() << "unexpected HistogramProto field " << f.number;
    }
  }
  return h;
}

inline DecodedEvent decode_event(const std::string& bytes) {
  DecodedEvent event;
  for (const auto& f : parse_proto(bytes)) {
    if (f.number == 1) {
      event.wall_time = f.as_double();
    } else if (f.number == 2) {
      event.step = static_cast<int64_t>(f.varint);
    } else if (f.number == 3) {
      event.file_version = f.bytes;
    } else if (f.number == 7) {
      event.session_status = static_cast<int>(parse_proto(f.bytes).at(0).varint);
    } else if (f.number == 5) {
      for (const auto& value : parse_proto(f.bytes)) {  // Summary.value
        std::string tag;
        for (const auto& v : parse_proto(value.bytes)) {
          if (v.number == 1) tag = v.bytes;
          if (v.number == 2) event.scalars[tag] = v.as_float();
          if (v.number == 5) event.histograms[tag] = decode_histogram(v.bytes);
        }
      }
    } else {
      ADD_FAILURE() << "unexpected Event field " << f.number;
    }
  }
  return event;
}

inline std::vector<DecodedEvent> read_events(const std::string& path) {
  std::vector<DecodedEvent> events;
  for (const auto& record : read_records(path)) events.push_back(decode_event(record));
  return events;
}

}  // namespace toadstool::testing
