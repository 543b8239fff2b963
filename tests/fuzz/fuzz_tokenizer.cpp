// fuzz_tokenizer: the bytes are text for the tokenizer and the vocabulary,
// and also a vocabulary file.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_targets.h"
#include "scratch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/text/tokenizer.h"
#include "toadstool/train/text/vocabulary.h"

namespace toadstool::fuzz {
namespace {

using train::Vocabulary;

// A broken promise of tokenizer.h / vocabulary.h is a finding: it escapes
// as a non-Error exception.
void check(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("tokenizer/vocabulary broke its promise: " + what);
}

// Tokens are non-empty and hold no separator (ASCII space, control, DEL),
// and both tokenize overloads agree.
void check_tokens(std::string_view text) {
  std::string normalised;
  std::vector<std::string_view> views;
  train::tokenize(text, normalised, views);
  const std::vector<std::string> strings = train::tokenize(text);
  check(strings.size() == views.size(), "the two tokenize overloads disagree");
  for (size_t i = 0; i < views.size(); ++i) {
    check(!views[i].empty() && views[i] == strings[i], "an empty or differing token");
    for (char c : views[i]) {
      const auto byte = static_cast<unsigned char>(c);
      check(byte > ' ' && byte != 0x7f, "a separator inside a token");
    }
  }
}

// Every id is in range, and a known token's id names it back.
void check_encode(const Vocabulary& vocabulary, std::string_view text) {
  const std::vector<std::string> tokens = train::tokenize(text);
  const std::vector<int64_t> ids = vocabulary.encode(text);
  check(ids.size() == tokens.size(), "encode gave one id per token");
  for (size_t i = 0; i < ids.size(); ++i) {
    check(ids[i] >= 0 && ids[i] < vocabulary.size(), "an id out of range");
    check(ids[i] == Vocabulary::kUnk || vocabulary.token(ids[i]) == tokens[i],
          "an id that names another token");
  }
}

// save then load gives the same tokens in the same order.
void check_round_trip(const Vocabulary& vocabulary, const std::string& folder) {
  const std::string path = folder + "/saved.json";
  vocabulary.save(path);
  const Vocabulary loaded = Vocabulary::load(path);
  check(loaded.size() == vocabulary.size(), "a saved vocabulary loads with another size");
  for (int64_t id = 0; id < loaded.size(); ++id) {
    check(loaded.token(id) == vocabulary.token(id), "a saved vocabulary loads other tokens");
  }
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t newline; (newline = text.find('\n', start)) != std::string_view::npos;) {
    lines.emplace_back(text.substr(start, newline - start));
    start = newline + 1;
  }
  lines.emplace_back(text.substr(start));
  return lines;
}

}  // namespace

int fuzz_tokenizer(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string folder = fresh_scratch_folder("tokenizer");
  check_tokens(text);

  // The first byte also picks the options, so that small vocabularies (and
  // min_count's cut) are reached too.
  const unsigned first = size > 0 ? data[0] : 0;
  const train::VocabularyOptions options{.max_size = 2 + first % 32,
                                         .min_count = 1 + (first >> 5) % 3};
  bool built = false;
  try {
    const Vocabulary vocabulary = Vocabulary::build(lines_of(text), options);
    check(vocabulary.size() >= 2 && vocabulary.size() <= options.max_size,
          "a vocabulary of the wrong size");
    check(vocabulary.token(Vocabulary::kPad) == "<pad>" &&
              vocabulary.token(Vocabulary::kUnk) == "<unk>",
          "<pad> and <unk> are not ids 0 and 1");
    check_encode(vocabulary, text);
    check_round_trip(vocabulary, folder);
    built = true;
  } catch (const Error&) {  // refused with an Error: the contract
  }
  // build refuses text that is not UTF-8, and only that (the options are valid).
  check(built == !train::first_invalid_utf8(text).has_value(),
        "Vocabulary::build and first_invalid_utf8 disagree");

  // The same bytes as a vocabulary file. A text that is a JSON object is
  // taken for one: then it must load too, for the text to be accepted.
  const std::string path = folder + "/vocabulary.json";
  write_file(path, text);
  bool loaded_ok = false;
  try {
    const Vocabulary loaded = Vocabulary::load(path);
    check_encode(loaded, text);
    check_round_trip(loaded, folder);
    loaded_ok = true;
  } catch (const Error&) {
  }
  const size_t start = text.find_first_not_of(" \t\r\n");
  const bool json_object = start != std::string_view::npos && text[start] == '{';
  return built && (loaded_ok || !json_object) ? 1 : 0;
}

}  // namespace toadstool::fuzz
