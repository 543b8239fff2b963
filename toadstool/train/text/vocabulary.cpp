#include "toadstool/train/text/vocabulary.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/json_file.h"
#include "toadstool/train/text/tokenizer.h"

namespace toadstool::train {
namespace {

using Json = nlohmann::ordered_json;
constexpr const char* kFormat = "toadstool-vocabulary";
constexpr int64_t kFormatVersion = 1;
const char* const kSpecials[] = {"<pad>", "<unk>"};

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    TS_CHECK(ids_.emplace(tokens_[i], static_cast<int64_t>(i)).second, "Vocabulary: the token '",
             tokens_[i], "' appears twice");
  }
}

Vocabulary Vocabulary::build(const std::vector<std::string>& texts,
                             const VocabularyOptions& options) {
  TS_CHECK(options.max_size >= 2,
           "Vocabulary::build: max_size must be >= 2 (<pad> and <unk>), got ", options.max_size);
  TS_CHECK(options.min_count >= 1, "Vocabulary::build: min_count must be >= 1, got ",
           options.min_count);
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> counts;
  std::string normalised;
  std::vector<std::string_view> tokens;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    // Tokens are saved as JSON strings, which must be UTF-8.
    TS_CHECK(!first_invalid_utf8(text).has_value(), "Vocabulary::build: text ", i,
             " is not valid UTF-8");
    tokenize(text, normalised, tokens);
    for (std::string_view t : tokens) {
      auto it = counts.find(t);
      if (it == counts.end()) it = counts.emplace(std::string(t), 0).first;
      ++it->second;
    }
  }
  std::vector<std::pair<std::string_view, int64_t>> ranked;
  // No token equals a special one: '<' and '>' are punctuation to the
  // tokenizer, so "<unk>" in a text is three tokens.
  for (const auto& [token, count] : counts) {
    if (count >= options.min_count) ranked.emplace_back(token, count);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> kept(std::begin(kSpecials), std::end(kSpecials));
  for (const auto& [token, count] : ranked) {
    if (static_cast<int64_t>(kept.size()) == options.max_size) break;
    kept.emplace_back(token);
  }
  return Vocabulary(std::move(kept));
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TS_CHECK(in.good(), "Vocabulary::load: cannot open ", path);
  const Json j = parse_json_file(in, path, "Vocabulary::load");
  const JsonFields fields(j, path, "Vocabulary::load");
  TS_CHECK(fields.has("format") && fields.field("format") == kFormat, "Vocabulary::load: ", path,
           " is not a vocabulary (no \"format\": \"", kFormat, "\")");
  const int64_t version = fields.integer("format_version", 0, kFormatVersion);
  TS_CHECK(version == kFormatVersion, "Vocabulary::load: ", path, " has format version ", version,
           "; this Toadstool reads version ", kFormatVersion);
  const std::string tokenizer = fields.string("tokenizer");
  TS_CHECK(tokenizer == kTokenizerName, "Vocabulary::load: ", path,
           " was made for the tokenizer \"", tokenizer, "\", this Toadstool has \"", kTokenizerName,
           "\"");
  const Json& list = fields.field("tokens");
  TS_CHECK(list.is_array() && list.size() >= 2, "Vocabulary::load: ", path,
           ": \"tokens\" should be a list of at least <pad> and <unk>");
  std::vector<std::string> tokens;
  tokens.reserve(list.size());
  for (const Json& t : list) {
    TS_CHECK(t.is_string(), "Vocabulary::load: ", path, ": \"tokens\" should hold strings, got ",
             t.dump());
    tokens.push_back(t.get<std::string>());
  }
  TS_CHECK(tokens[0] == kSpecials[0] && tokens[1] == kSpecials[1], "Vocabulary::load: ", path,
           ": the first two tokens should be <pad> and <unk>");
  try {
    return Vocabulary(std::move(tokens));
  } catch (const Error& e) {
    throw Error(detail::concat("Vocabulary::load: ", path, ": ", e.what()));
  }
}

void Vocabulary::save(const std::string& path) const {
  Json j;
  j["format"] = kFormat;
  j["format_version"] = kFormatVersion;
  j["tokenizer"] = kTokenizerName;
  j["tokens"] = tokens_;
  write_file_atomic(path, j.dump(1) + "\n", "Vocabulary::save");
}

std::vector<int64_t> Vocabulary::encode(std::string_view text) const {
  std::string normalised;
  std::vector<std::string_view> tokens;
  tokenize(text, normalised, tokens);
  std::vector<int64_t> out;
  out.reserve(tokens.size());
  for (std::string_view t : tokens) out.push_back(id(t));
  return out;
}

int64_t Vocabulary::id(std::string_view token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? kUnk : it->second;
}

const std::string& Vocabulary::token(int64_t id) const {
  TS_CHECK(id >= 0 && id < size(), "Vocabulary::token: id ", id, " is out of range for ", size(),
           " tokens");
  return tokens_[static_cast<size_t>(id)];
}

}  // namespace toadstool::train
