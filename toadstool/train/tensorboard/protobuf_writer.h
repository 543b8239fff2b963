#pragma once
// ProtobufWriter: the protocol buffers wire format, by hand, for the few
// messages an event file holds (tensorboard/event.h). A message is a list of
// fields, each a key (field number << 3 | wire type) followed by its value:
// varints (wire type 0) for integers and enums, 8 little-endian bytes
// (wire type 1) for doubles, 4 (wire type 5) for floats, and a varint length
// then the bytes (wire type 2) for strings, nested messages and packed
// repeated numbers. https://protobuf.dev/programming-guides/encoding/
//
//   ProtobufWriter value;
//   value.add_string(1, "loss/train");
//   value.add_float(2, 0.25f);
//   ProtobufWriter summary;
//   summary.add_message(1, value);
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace toadstool::train::tensorboard {

class ProtobufWriter {
 public:
  void add_varint(int field, uint64_t value);
  // int64 fields are varints of the two's-complement bits (10 bytes when negative).
  void add_int64(int field, int64_t value) { add_varint(field, static_cast<uint64_t>(value)); }
  void add_double(int field, double value);
  void add_float(int field, float value);
  void add_bytes(int field, std::string_view bytes);
  void add_string(int field, std::string_view text) { add_bytes(field, text); }
  void add_message(int field, const ProtobufWriter& message) { add_bytes(field, message.bytes()); }
  // A packed repeated double field: one length-delimited run of 8-byte values.
  void add_packed_doubles(int field, std::span<const double> values);

  const std::string& bytes() const { return bytes_; }

  // The varint encoding of `value` appended to `out` (also the record framing's helper).
  static void append_varint(std::string& out, uint64_t value);

 private:
  void add_key(int field, int wire_type);
  void append_fixed64(uint64_t bits);

  std::string bytes_;
};

}  // namespace toadstool::train::tensorboard
