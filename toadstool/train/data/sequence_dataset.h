#pragma once
// SequenceDataset: token-id sequences (text classification), each with a
// class label. A batch pads its sequences to its own longest one, not to a
// fixed length, so with length-bucketed batches (BucketSampler) little
// compute goes to padding.
//
//   x [B, L] int64: ids, padded with pad_id after each sequence's end,
//                   L = the batch's longest length (at most max_len)
//   y [B] int64: labels (undefined for unlabelled data)
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/train/data/dataset.h"

namespace toadstool::train {

struct SequenceOptions {
  // Tokens kept per sequence. "head" keeps the first max_len; "head_tail"
  // keeps the first quarter and the last three quarters of the budget
  // (reviews often conclude with their verdict; Sun et al. 2019 found
  // head + tail the best cut for IMDB).
  int64_t max_len = 256;
  std::string truncation = "head";
  int64_t pad_id = 0;
};

class SequenceDataset : public Dataset {
 public:
  // One label per sequence, or none (unlabelled: y undefined). An empty
  // sequence, a label count that differs, or bad options are Errors.
  explicit SequenceDataset(const std::vector<std::vector<int64_t>>& sequences,
                           std::vector<int64_t> labels = {}, SequenceOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(offsets_.size()) - 1; }
  Example get(int64_t index) const override;  // x [length] int64, y 0-d int64
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  // Each sequence's length after truncation (for BucketSampler).
  std::vector<int64_t> lengths() const;
  const SequenceOptions& options() const { return options_; }

 private:
  void check_index(int64_t index) const;
  int64_t length(int64_t index) const;

  SequenceOptions options_;
  std::vector<int64_t> ids_;      // every kept id, sequence after sequence
  std::vector<int64_t> offsets_;  // sequence i is ids_[offsets_[i] .. offsets_[i+1])
  std::vector<int64_t> labels_;
};

}  // namespace toadstool::train
