#pragma once
// The word tokenizer of the text examples (IMDB): the rule, in order
// (docs/imdb.md has examples):
//   1. "<br />" line breaks (any case, with or without the space or slash)
//      become a space;
//   2. ASCII letters become lower case (other characters are kept as they
//      are: UTF-8 sequences pass through whole);
//   3. a token is a run of word characters (ASCII letters, digits, and any
//      byte of a multi-byte UTF-8 character), with an apostrophe kept inside
//      a word ("don't", "it's"), or a run of one repeated punctuation
//      character ("!", "!!!", "..."); everything else (ASCII spaces and
//      control characters) separates tokens.
// The tokenizer's name, kTokenizerName, is saved with a vocabulary, so a
// vocabulary is never used with a different rule.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toadstool::train {

inline constexpr const char* kTokenizerName = "toadstool-words-1";

// Tokens of `text` as views into `normalised`, which receives the text after
// steps 1 and 2 (it is reused between calls, so tokenising a corpus
// allocates almost nothing).
void tokenize(std::string_view text, std::string& normalised,
              std::vector<std::string_view>& tokens);

// The tokens of `text` as strings.
std::vector<std::string> tokenize(std::string_view text);

// The offset of the first byte of `text` that is not part of valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF are invalid), or
// nothing when all of it is valid.
std::optional<size_t> first_invalid_utf8(std::string_view text);

}  // namespace toadstool::train
