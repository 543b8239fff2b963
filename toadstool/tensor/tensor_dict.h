#pragma once
// TensorDict: named tensors in insertion order. It is the one currency of
// saved state: a module's state_dict (dotted names as PyTorch's), an
// optimizer's and an LR schedule's state (scalars as 0-d tensors), and what a
// safetensors file holds.
#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

class TensorDict {
 public:
  using Entry = std::pair<std::string, Tensor>;

  // Adds `name`; a name already present is an Error (two tensors under one
  // name would silently drop one of them on save).
  void insert(const std::string& name, Tensor tensor) {
    TS_CHECK(!contains(name), "TensorDict: duplicate name '", name, "'");
    index_.emplace(name, entries_.size());
    entries_.emplace_back(name, std::move(tensor));
  }
  // Adds or replaces `name`, keeping its first position.
  void set(const std::string& name, Tensor tensor) {
    const auto it = index_.find(name);
    if (it == index_.end()) {
      insert(name, std::move(tensor));
    } else {
      entries_[it->second].second = std::move(tensor);
    }
  }

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // The tensor under `name`, or an Error that names it.
  const Tensor& at(const std::string& name) const {
    const auto it = index_.find(name);
    TS_CHECK(it != index_.end(), "TensorDict: no entry named '", name, "'");
    return entries_[it->second].second;
  }
  // The tensor under `name`, or nullptr.
  const Tensor* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  std::vector<std::string> keys() const {
    std::vector<std::string> names;
    names.reserve(entries_.size());
    for (const auto& entry : entries_) names.push_back(entry.first);
    return names;
  }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace toadstool
