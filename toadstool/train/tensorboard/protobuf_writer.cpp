#include "toadstool/train/tensorboard/protobuf_writer.h"

#include <bit>

namespace toadstool::train::tensorboard {
namespace {

constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

}  // namespace

void ProtobufWriter::append_varint(std::string& out, uint64_t value) {
  // Seven bits at a time, low first; the high bit says another byte follows.
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void ProtobufWriter::add_key(int field, int wire_type) {
  append_varint(bytes_, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtobufWriter::append_fixed64(uint64_t bits) {
  for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

void ProtobufWriter::add_varint(int field, uint64_t value) {
  add_key(field, kVarint);
  append_varint(bytes_, value);
}

void ProtobufWriter::add_double(int field, double value) {
  add_key(field, kFixed64);
  append_fixed64(std::bit_cast<uint64_t>(value));
}

void ProtobufWriter::add_float(int field, float value) {
  add_key(field, kFixed32);
  const auto bits = std::bit_cast<uint32_t>(value);
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

void ProtobufWriter::add_bytes(int field, std::string_view bytes) {
  add_key(field, kLengthDelimited);
  append_varint(bytes_, bytes.size());
  bytes_.append(bytes);
}

void ProtobufWriter::add_packed_doubles(int field, std::span<const double> values) {
  add_key(field, kLengthDelimited);
  append_varint(bytes_, values.size() * 8);
  for (const double value : values) append_fixed64(std::bit_cast<uint64_t>(value));
}

}  // namespace toadstool::train::tensorboard
