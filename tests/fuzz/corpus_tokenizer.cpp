// make-corpus for fuzz_tokenizer: texts (valid when UTF-8) and vocabulary
// files (valid when Vocabulary::load takes them).
#include <string>

#include "corpus_files.h"
#include "toadstool/train/text/tokenizer.h"
#include "toadstool/train/text/vocabulary.h"

namespace toadstool::fuzz {

void make_tokenizer_corpus(const std::filesystem::path& dir) {
  using namespace std::string_literals;  // "\x00..."s keeps its NUL bytes
  const std::string review =
      "I didn't expect much... but WOW!!! It's a caf\xc3\xa9-style gem \xe2\x98\x85\xe2\x98\x85."
      "<br /><br />The 2nd half drags; 7/10.\nSecond line: \xf0\x9f\x8e\xac don't miss it<BR>ok\n";
  write_corpus_file(dir, "valid-review.txt", review);
  write_corpus_file(dir, "valid-empty.txt", "");
  // Separators: NUL, control characters, DEL; a "<br" that is no break.
  write_corpus_file(dir, "valid-controls.txt", "a\x00b\tc\x01\x7f d<br x>e<br/ >f'"s);
  // One token of 4 KB, and a punctuation run.
  write_corpus_file(dir, "valid-long-token.txt",
                    std::string(4096, 'x') + " " + std::string(64, '!') + "\n");

  // Not UTF-8: a stray byte, an overlong '/', a surrogate, a cut sequence.
  write_corpus_file(dir, "invalid-stray-byte.txt", "caf\xe9");
  write_corpus_file(dir, "invalid-overlong.txt", "a\xc0\xaf");
  write_corpus_file(dir, "invalid-surrogate.txt", "\xed\xa0\x80");
  write_corpus_file(dir, "invalid-cut-sequence.txt", "ok \xe2\x82");

  // Vocabulary files: one saved, and broken ones (a text that is a JSON
  // object is taken for one and must load).
  const std::string path = fresh_scratch_folder("make-corpus") + "/vocabulary.json";
  train::Vocabulary::build({review}, {.max_size = 12}).save(path);
  const std::string saved = read_file(path);
  write_corpus_file(dir, "valid-vocabulary.json", saved);
  const auto edited = [&](const std::string& from, const std::string& to) {
    std::string bytes = saved;
    const size_t at = bytes.find(from);
    if (at == std::string::npos) throw std::runtime_error("make-corpus: no '" + from + "'");
    return bytes.replace(at, from.size(), to);
  };
  write_corpus_file(dir, "invalid-vocabulary-tokenizer.json",
                    edited(train::kTokenizerName, "toadstool-words-0"));
  write_corpus_file(dir, "invalid-vocabulary-duplicate.json",
                    edited("\"<unk>\",", "\"<unk>\",\"<unk>\","));
  write_corpus_file(dir, "invalid-vocabulary-no-pad.json", edited("\"<pad>\"", "\"pad\""));
  write_corpus_file(dir, "invalid-vocabulary-version.json",
                    edited("\"format_version\": 1", "\"format_version\": 1.5"));
  write_corpus_file(dir, "invalid-vocabulary-token-type.json",
                    edited("\"<unk>\",", "\"<unk>\",7,"));
}

}  // namespace toadstool::fuzz
