#pragma once
// Vocabulary: token <-> id for the text examples. Id 0 is "<pad>" (padding,
// the embedding's padding index) and id 1 is "<unk>" (any token not in the
// vocabulary); the other tokens follow by decreasing count in the text it
// was built from (ties in byte order, so the same text always gives the
// same ids). Saved as JSON beside the checkpoints, so that a saved model
// classifies new text without the dataset:
//   {"format": "toadstool-vocabulary", "format_version": 1,
//    "tokenizer": "toadstool-words-1", "tokens": ["<pad>", "<unk>", "the", ...]}
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace toadstool::train {

struct VocabularyOptions {
  int64_t max_size = 20000;  // ids in all, the two special tokens included
  int64_t min_count = 1;     // tokens seen fewer times become <unk>
};

class Vocabulary {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnk = 1;

  // Built from the tokens of `texts` (tokenizer.h); build only from the
  // training split, never from the text it will be validated on.
  static Vocabulary build(const std::vector<std::string>& texts,
                          const VocabularyOptions& options = {});
  // Error naming the file when it cannot be read, is not a vocabulary, or was
  // made for another tokenizer.
  static Vocabulary load(const std::string& path);
  // Written atomically (tensor/atomic_file.h).
  void save(const std::string& path) const;

  // The ids of the tokens of `text`, in order (<unk> for unknown tokens).
  std::vector<int64_t> encode(std::string_view text) const;
  int64_t id(std::string_view token) const;  // <unk> if unknown
  const std::string& token(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  explicit Vocabulary(std::vector<std::string> tokens);

  // Heterogeneous lookup: find() takes a string_view without a copy.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> ids_;
};

}  // namespace toadstool::train
