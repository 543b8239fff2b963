#include "toadstool/train/text/tokenizer.h"

#include <cstdint>

namespace toadstool::train {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}
bool is_separator(unsigned char c) { return c <= ' ' || c == 0x7f; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The length of a "<br />" line break at the start of `s` (any case; the
// space and the slash optional), or 0.
size_t line_break_length(std::string_view s) {
  if (s.size() < 4 || s[0] != '<' || lower(s[1]) != 'b' || lower(s[2]) != 'r') return 0;
  size_t i = 3;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i < s.size() && s[i] == '/') ++i;
  return i < s.size() && s[i] == '>' ? i + 1 : 0;
}

}  // namespace

void tokenize(std::string_view text, std::string& normalised,
              std::vector<std::string_view>& tokens) {
  normalised.clear();
  normalised.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t br = text[i] == '<' ? line_break_length(text.substr(i)) : 0;
    if (br > 0) {
      normalised.push_back(' ');
      i += br;
    } else {
      normalised.push_back(lower(text[i++]));
    }
  }

  tokens.clear();
  const std::string_view s = normalised;
  const auto at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = at(i);
    size_t end = i + 1;
    if (is_separator(c)) {
      ++i;
      continue;
    }
    if (is_word_byte(c)) {
      // An apostrophe stays when a word character follows it.
      while (end < s.size() && (is_word_byte(at(end)) || (s[end] == '\'' && end + 1 < s.size() &&
                                                          is_word_byte(at(end + 1))))) {
        ++end;
      }
    } else {
      while (end < s.size() && at(end) == c) ++end;
    }
    tokens.push_back(s.substr(i, end - i));
    i = end;
  }
}

std::vector<std::string> tokenize(std::string_view text) {
  std::string normalised;
  std::vector<std::string_view> views;
  tokenize(text, normalised, views);
  return {views.begin(), views.end()};
}

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The sequence length and the range its second byte must lie in (which
    // excludes overlong forms, UTF-16 surrogates and code points > U+10FFFF).
    size_t length = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (i + length > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) return i;
    for (size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return i;
    }
    i += length;
  }
  return std::nullopt;
}

}  // namespace toadstool::train
