#include "mutator.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "archive.h"

namespace toadstool::fuzz {
namespace {

// Bytes at the edges of signed / unsigned ranges, and JSON's structure.
constexpr std::array<uint8_t, 14> kBytes = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x08,
                                            0x0E, ' ',  '"',  '[',  '{',  '-',  '9'};

// Integers that become sizes, counts and lengths: zero, one, the int32 /
// uint32 / int64 edges and 2^32 (a product of two of which overflows).
constexpr std::array<uint64_t, 10> kIntegers = {0,
                                                1,
                                                0x7FFFFFFF,
                                                0x80000000,
                                                0xFFFFFFFF,
                                                0x100000000,
                                                0x7FFFFFFFFFFFFFFF,
                                                0x8000000000000000,
                                                0xFFFFFFFFFFFFFFFF,
                                                1000000};

// What a JSON number is replaced with: out of int64 / uint64 / double range,
// negative, fractional, not finite as a float, and plain edge values.
constexpr std::array<const char*, 16> kNumbers = {"1e300",
                                                  "-1e300",
                                                  "-1",
                                                  "1.5",
                                                  "0",
                                                  "18446744073709551615",
                                                  "18446744073709551616",
                                                  "9223372036854775807",
                                                  "-9223372036854775808",
                                                  "4294967296",
                                                  "1e30",
                                                  "3.4e39",
                                                  "-0",
                                                  "1e-320",
                                                  "2147483648",
                                                  "100000000000000000000"};

// What any JSON value (string, number, literal) is replaced with: each type.
constexpr std::array<const char*, 12> kValues = {
    "0", "-1", "1.5", "\"\"", "\"x\"", "[]", "{}", "null", "true", "[0]", "{\"a\":1}", "\"..\""};

// The byte ranges of JSON numbers in `text`: a digit run with an optional
// leading '-', fraction and exponent (enough for the headers we fuzz).
std::vector<std::pair<size_t, size_t>> numbers_in(const std::string& text) {
  std::vector<std::pair<size_t, size_t>> found;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    const size_t begin = i > 0 && text[i - 1] == '-' ? i - 1 : i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' || text[i] == 'e' ||
            text[i] == 'E' ||
            ((text[i] == '-' || text[i] == '+') && (text[i - 1] == 'e' || text[i - 1] == 'E')))) {
      ++i;
    }
    found.emplace_back(begin, i);
  }
  return found;
}

// The byte ranges of JSON strings (with their quotes), numbers and literals.
std::vector<std::pair<size_t, size_t>> values_in(const std::string& text) {
  std::vector<std::pair<size_t, size_t>> found = numbers_in(text);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      if (end >= text.size()) break;
      found.emplace_back(i, end + 1);
      i = end;
    }
  }
  for (const char* literal : {"true", "false", "null"}) {
    for (size_t at = text.find(literal); at != std::string::npos; at = text.find(literal, at + 1)) {
      found.emplace_back(at, at + std::char_traits<char>::length(literal));
    }
  }
  return found;
}

}  // namespace

void Mutator::mutate(std::string& bytes) {
  const size_t count = 1 + below(4);
  for (size_t i = 0; i < count; ++i) mutate_once(bytes);
}

void Mutator::mutate_safetensors(std::string& bytes) {
  uint64_t length = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    length |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  }
  if (bytes.size() < 8 || length > bytes.size() - 8 || below(4) == 0) return mutate(bytes);
  std::string header = bytes.substr(8, length);
  mutate(header);
  std::string prefix(8, '\0');
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>(header.size() >> (8 * i));
  bytes = prefix + header + bytes.substr(8 + length);
}

void Mutator::mutate_state_dict(std::string& bytes) {
  uint64_t length = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    length |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  }
  // Tensor data starts 8-aligned (the header is padded), so every 4th byte
  // from there starts a float32.
  if (bytes.size() < 8 || length > bytes.size() - 8 || bytes.size() - 8 - length < 4 ||
      below(2) == 0) {
    return mutate_safetensors(bytes);
  }
  const size_t data = 8 + length;
  const size_t values = (bytes.size() - data) / 4;
  constexpr float kFloats[] = {std::numeric_limits<float>::quiet_NaN(),
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::denorm_min(),
                               1e30f,
                               -1e30f,
                               -0.0f,
                               -1.0f};
  for (size_t n = 1 + below(4); n > 0; --n) {
    const size_t at = data + 4 * below(values);
    if (below(4) == 0) {
      bytes[at + below(4)] ^= static_cast<char>(1u << below(8));
    } else {
      std::memcpy(&bytes[at], &kFloats[below(std::size(kFloats))], 4);
    }
  }
}

void Mutator::mutate_archive(std::string& bytes) {
  std::vector<ArchiveFile> files = split_archive(bytes);
  if (files.empty() || below(16) == 0) return mutate(bytes);
  const size_t pick = below(files.size());
  ArchiveFile& file = files[pick];
  if (below(16) == 0) {
    files.erase(files.begin() + static_cast<std::ptrdiff_t>(pick));  // a file missing
  } else if (file.path.ends_with(".safetensors")) {
    mutate_safetensors(file.bytes);
  } else {
    mutate(file.bytes);
  }
  try {
    bytes = join_archive(files);
  } catch (const std::invalid_argument&) {
    mutate(bytes);  // the mutation made a separator: mutate the raw bytes instead
  }
}

void Mutator::mutate_once(std::string& bytes) {
  // JSON-aware mutations are picked more often: most of what the readers
  // check is in JSON, and a random byte there mostly makes it unparsable.
  switch (below(12)) {
    case 0: return flip_bit(bytes);
    case 1: return set_byte(bytes);
    case 2: return set_integer(bytes);
    case 3: return truncate(bytes);
    case 4: return insert_bytes(bytes);
    case 5: return erase_bytes(bytes);
    case 6: return duplicate_chunk(bytes);
    case 7:
    case 8:
    case 9:
      if (replace_number(bytes)) return;
      return set_integer(bytes);
    default:
      if (replace_value(bytes)) return;
      return flip_bit(bytes);
  }
}

void Mutator::flip_bit(std::string& bytes) {
  if (bytes.empty()) return;
  bytes[below(bytes.size())] ^= static_cast<char>(1u << below(8));
}

void Mutator::set_byte(std::string& bytes) {
  if (bytes.empty()) return;
  bytes[below(bytes.size())] = static_cast<char>(kBytes[below(kBytes.size())]);
}

// An edge integer written over 4 bytes big-endian (IDX sizes) or 8 bytes
// little-endian (the safetensors header length), half the time in the first
// 24 bytes on a 4-byte boundary, where the binary headers' fields are.
void Mutator::set_integer(std::string& bytes) {
  const bool wide = below(2) == 0;
  const size_t width = wide ? 8 : 4;
  if (bytes.size() < width) return;
  const size_t last = bytes.size() - width;  // the last offset it fits at
  const size_t at = below(2) == 0 ? 4 * below(std::min<size_t>(last, 20) / 4 + 1) : below(last + 1);
  const uint64_t value = kIntegers[below(kIntegers.size())];
  for (size_t i = 0; i < width; ++i) {
    const size_t shift = wide ? 8 * i : 8 * (width - 1 - i);
    bytes[at + i] = static_cast<char>((value >> shift) & 0xFF);
  }
}

void Mutator::truncate(std::string& bytes) {
  if (!bytes.empty()) bytes.resize(below(bytes.size()));
}

void Mutator::insert_bytes(std::string& bytes) {
  const size_t at = below(bytes.size() + 1);
  const size_t count = 1 + below(8);
  std::string inserted;
  for (size_t i = 0; i < count; ++i) {
    inserted += static_cast<char>(below(2) == 0 ? kBytes[below(kBytes.size())] : below(256));
  }
  bytes.insert(at, inserted);
}

void Mutator::erase_bytes(std::string& bytes) {
  if (bytes.empty()) return;
  const size_t at = below(bytes.size());
  bytes.erase(at, 1 + below(std::min<size_t>(8, bytes.size() - at)));
}

void Mutator::duplicate_chunk(std::string& bytes) {
  if (bytes.empty()) return;
  const size_t from = below(bytes.size());
  const std::string chunk =
      bytes.substr(from, 1 + below(std::min<size_t>(64, bytes.size() - from)));
  bytes.insert(below(bytes.size() + 1), chunk);
}

bool Mutator::replace_number(std::string& bytes) {
  const auto numbers = numbers_in(bytes);
  if (numbers.empty()) return false;
  const auto [begin, end] = numbers[below(numbers.size())];
  bytes.replace(begin, end - begin, kNumbers[below(kNumbers.size())]);
  return true;
}

bool Mutator::replace_value(std::string& bytes) {
  const auto values = values_in(bytes);
  if (values.empty()) return false;
  const auto [begin, end] = values[below(values.size())];
  bytes.replace(begin, end - begin, kValues[below(kValues.size())]);
  return true;
}

}  // namespace toadstool::fuzz
