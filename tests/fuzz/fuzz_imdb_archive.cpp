// fuzz_imdb_archive: the bytes are an IMDB archive (.tar.gz or plain tar).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_targets.h"
#include "scratch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/train/data/imdb.h"
#include "toadstool/train/text/tokenizer.h"

namespace toadstool::fuzz {
namespace {

// What imdb.h promises of the reviews it returns, beyond not crashing: a
// broken promise is a finding too, so it escapes as a non-Error exception.
void check_reviews(const std::vector<train::ImdbReview>& reviews) {
  const auto fail = [](const std::string& what) {
    throw std::logic_error("read_imdb broke its promise: " + what);
  };
  if (reviews.empty()) fail("no reviews, and no Error");
  for (size_t i = 0; i < reviews.size(); ++i) {
    const train::ImdbReview& r = reviews[i];
    if (r.label != 0 && r.label != 1) fail("a label that is not 0 or 1");
    if (r.rating < 1 || r.rating > 10 || r.id < 0) fail("a rating or id out of range");
    if (train::first_invalid_utf8(r.text).has_value()) fail("a review that is not UTF-8");
    if (i > 0 && std::pair(reviews[i - 1].label, reviews[i - 1].id) > std::pair(r.label, r.id)) {
      fail("reviews not ordered by label then id");
    }
  }
  if (reviews.front().label != 0 || reviews.back().label != 1) fail("one class only");
}

}  // namespace

int fuzz_imdb_archive(const uint8_t* data, size_t size) {
  const std::string path = fresh_scratch_folder("imdb_archive") + "/aclImdb_v1.tar.gz";
  write_file(path, {reinterpret_cast<const char*>(data), size});
  int accepted = 0;
  for (const char* split : {"train", "test"}) {
    try {
      check_reviews(train::read_imdb(path, split));
      if (!train::imdb_has_split(path, split)) {
        throw std::logic_error("imdb_has_split: false for a split that read_imdb read");
      }
      if (std::string(split) == "train") accepted = 1;
    } catch (const Error&) {  // refused with an Error: the contract
      try {
        train::imdb_has_split(path, split);  // it scans what read_imdb refused
      } catch (const Error&) {
      }
    }
  }
  return accepted;
}

}  // namespace toadstool::fuzz
