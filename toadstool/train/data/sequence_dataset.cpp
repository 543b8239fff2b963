#include "toadstool/train/data/sequence_dataset.h"

#include <algorithm>
#include <cstring>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::train {

SequenceDataset::SequenceDataset(const std::vector<std::vector<int64_t>>& sequences,
                                 std::vector<int64_t> labels, SequenceOptions options)
    : options_(std::move(options)), labels_(std::move(labels)) {
  TS_CHECK(options_.max_len >= 1, "SequenceDataset: max_len must be at least 1, got ",
           options_.max_len);
  const bool head_tail = options_.truncation == "head_tail";
  TS_CHECK(head_tail || options_.truncation == "head",
           "SequenceDataset: truncation must be \"head\" or \"head_tail\", got \"",
           options_.truncation, "\"");
  TS_CHECK(labels_.empty() || labels_.size() == sequences.size(),
           "SequenceDataset: ", sequences.size(), " sequences but ", labels_.size(), " labels");
  const int64_t head = head_tail ? options_.max_len / 4 : options_.max_len;
  const int64_t tail = options_.max_len - head;
  offsets_.reserve(sequences.size() + 1);
  offsets_.push_back(0);
  for (size_t i = 0; i < sequences.size(); ++i) {
    const std::vector<int64_t>& s = sequences[i];
    TS_CHECK(!s.empty(), "SequenceDataset: sequence ", i, " is empty");
    const auto n = static_cast<int64_t>(s.size());
    if (n <= options_.max_len) {
      ids_.insert(ids_.end(), s.begin(), s.end());
    } else {
      ids_.insert(ids_.end(), s.begin(), s.begin() + head);
      ids_.insert(ids_.end(), s.end() - tail, s.end());
    }
    offsets_.push_back(static_cast<int64_t>(ids_.size()));
  }
}

void SequenceDataset::check_index(int64_t index) const {
  TS_CHECK(index >= 0 && index < size(), "SequenceDataset: index ", index, " is out of range for ",
           size(), " sequences");
}

int64_t SequenceDataset::length(int64_t index) const {
  const auto i = static_cast<size_t>(index);
  return offsets_[i + 1] - offsets_[i];
}

std::vector<int64_t> SequenceDataset::lengths() const {
  std::vector<int64_t> out(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) out[static_cast<size_t>(i)] = length(i);
  return out;
}

Example SequenceDataset::get(int64_t index) const {
  check_index(index);
  const int64_t n = length(index);
  Tensor x = empty({n}, kInt64);
  std::memcpy(x.data_ptr<int64_t>(), ids_.data() + offsets_[static_cast<size_t>(index)],
              static_cast<size_t>(n) * sizeof(int64_t));
  Tensor y = labels_.empty() ? Tensor() : scalar_tensor(labels_[static_cast<size_t>(index)]);
  return {x, y};
}

Batch SequenceDataset::get_batch(const std::vector<int64_t>& indices) const {
  TS_CHECK(!indices.empty(), "SequenceDataset: get_batch of no indices");
  int64_t longest = 0;
  for (int64_t index : indices) {
    check_index(index);
    longest = std::max(longest, length(index));
  }
  const auto rows = static_cast<int64_t>(indices.size());
  Tensor x = full({rows, longest}, options_.pad_id, kInt64);
  int64_t* out = x.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t index = indices[static_cast<size_t>(r)];
    std::memcpy(out + r * longest, ids_.data() + offsets_[static_cast<size_t>(index)],
                static_cast<size_t>(length(index)) * sizeof(int64_t));
  }
  if (labels_.empty()) return {x, Tensor()};
  Tensor y = empty({rows}, kInt64);
  for (int64_t r = 0; r < rows; ++r) {
    y.data_ptr<int64_t>()[r] = labels_[static_cast<size_t>(indices[static_cast<size_t>(r)])];
  }
  return {x, y};
}

}  // namespace toadstool::train
