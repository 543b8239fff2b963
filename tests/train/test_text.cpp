// The text layer of the IMDB example: the tokenizer's rule on golden cases,
// UTF-8 validation, the vocabulary (order, limits, JSON round trip, bad
// files), SequenceDataset's padding and truncation, and BucketSampler.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "test_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::testing {
namespace {

using train::Vocabulary;
using Strings = std::vector<std::string>;

TEST(Tokenizer, GoldenCases) {
  const std::vector<std::pair<std::string, Strings>> cases = {
      {"I loved it!!! <br /><br />Best movie EVER...",
       {"i", "loved", "it", "!!!", "best", "movie", "ever", "..."}},
      {"Don't stop; it's 10/10 (really).",
       {"don't", "stop", ";", "it's", "10", "/", "10", "(", "really", ")", "."}},
      {"'quoted' words", {"'", "quoted", "'", "words"}},
      {"Caf\xc3\xa9 na\xc3\xafve CAF\xc3\x89", {"caf\xc3\xa9", "na\xc3\xafve", "caf\xc3\x89"}},
      {"a<BR/>b<br>c<br  />d<b>e", {"a", "b", "c", "d", "<", "b", ">", "e"}},
      {"tab\tnew\nline\r\n  end", {"tab", "new", "line", "end"}},
      {"?!", {"?", "!"}},
      {"", {}},
      {"   ", {}},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    EXPECT_EQ(train::tokenize(text), expected);
  }
}

TEST(Tokenizer, FindsInvalidUtf8) {
  EXPECT_EQ(train::first_invalid_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(train::first_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac"), std::nullopt);
  EXPECT_EQ(train::first_invalid_utf8("ab\xff"), 2u);            // never valid
  EXPECT_EQ(train::first_invalid_utf8("x\xe2\x82"), 1u);         // truncated
  EXPECT_EQ(train::first_invalid_utf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(train::first_invalid_utf8("\xed\xa0\x80"), 0u);      // UTF-16 surrogate
  EXPECT_EQ(train::first_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(train::first_invalid_utf8("caf\xe9"), 3u);           // Latin-1
}

TEST(Vocabulary, OrderedByCountThenBytesWithTheSpecialsFirst) {
  const Vocabulary v = Vocabulary::build({"b a c b", "a b d", "e"}, {.max_size = 5});
  // b: 3, a: 2, then c, d, e once each in byte order; max_size 5 keeps c.
  EXPECT_EQ(v.size(), 5);
  EXPECT_EQ(v.token(0), "<pad>");
  EXPECT_EQ(v.token(1), "<unk>");
  EXPECT_EQ(v.token(2), "b");
  EXPECT_EQ(v.token(3), "a");
  EXPECT_EQ(v.token(4), "c");
  EXPECT_EQ(v.encode("A b, d!"),
            (std::vector<int64_t>{3, 2, Vocabulary::kUnk, Vocabulary::kUnk, Vocabulary::kUnk}));
  const Vocabulary frequent = Vocabulary::build({"b a c b", "a b d"}, {.min_count = 2});
  EXPECT_EQ(frequent.size(), 4);
  EXPECT_EQ(frequent.id("c"), Vocabulary::kUnk);
  EXPECT_ERROR(Vocabulary::build({"x"}, {.max_size = 1}), "max_size");
  EXPECT_ERROR(Vocabulary::build({"caf\xe9"}), (Strings{"Vocabulary::build", "text 0", "UTF-8"}));
  EXPECT_ERROR(v.token(5), "out of range");
}

TEST(Vocabulary, JsonRoundTripAndBadFiles) {
  TempDir dir;
  const Vocabulary v = Vocabulary::build({"the film, the plot: caf\xc3\xa9 \"quotes\""});
  const std::string path = dir.file("vocab.json");
  v.save(path);
  const Vocabulary loaded = Vocabulary::load(path);
  ASSERT_EQ(loaded.size(), v.size());
  for (int64_t i = 0; i < v.size(); ++i) EXPECT_EQ(loaded.token(i), v.token(i));
  EXPECT_EQ(loaded.encode("The plot"), v.encode("The plot"));

  const auto load_text = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    return Vocabulary::load(path);
  };
  const std::string head = R"({"format": "toadstool-vocabulary", "format_version": 1, )";
  EXPECT_ERROR(Vocabulary::load(dir.file("none.json")), "cannot open");
  EXPECT_ERROR(load_text("{\"format\""), "not valid JSON");
  EXPECT_ERROR(load_text(R"({"format": 3})"), "is not a vocabulary");
  EXPECT_ERROR(load_text(head + R"("tokenizer": "bpe", "tokens": ["<pad>", "<unk>"]})"),
               "made for the tokenizer \"bpe\"");
  EXPECT_ERROR(
      load_text(head + R"("tokenizer": "toadstool-words-1", "tokens": ["<unk>", "<pad>"]})"),
      "<pad> and <unk>");
  EXPECT_ERROR(
      load_text(head +
                R"("tokenizer": "toadstool-words-1", "tokens": ["<pad>", "<unk>", "a", "a"]})"),
      "'a' appears twice");
  EXPECT_ERROR(
      load_text(head + R"("tokenizer": "toadstool-words-1", "tokens": ["<pad>", "<unk>", 7]})"),
      "should hold strings");
  EXPECT_ERROR(load_text(R"({"format": "toadstool-vocabulary", "format_version": 1.5})"),
               "\"format_version\" should be an integer");
}

TEST(SequenceDataset, BatchesPadToTheirLongestAndTruncate) {
  const std::vector<std::vector<int64_t>> seqs = {{5, 6, 7}, {8}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
  const train::SequenceDataset data(seqs, {1, 0, 1}, {.max_len = 8});
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.lengths(), (std::vector<int64_t>{3, 1, 8}));
  const train::Batch b = data.get_batch({1, 0});
  EXPECT_EQ(b.x.shape(), (Shape{2, 3}));
  EXPECT_EQ(std::vector<int64_t>(b.x.data_ptr<int64_t>(), b.x.data_ptr<int64_t>() + 6),
            (std::vector<int64_t>{8, 0, 0, 5, 6, 7}));
  EXPECT_EQ(std::vector<int64_t>(b.y.data_ptr<int64_t>(), b.y.data_ptr<int64_t>() + 2),
            (std::vector<int64_t>{0, 1}));
  const train::Example head = data.get(2);
  EXPECT_EQ(std::vector<int64_t>(head.x.data_ptr<int64_t>(), head.x.data_ptr<int64_t>() + 8),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  // head_tail with max_len 8: the first 2 and the last 6.
  const train::SequenceDataset cut(seqs, {}, {.max_len = 8, .truncation = "head_tail"});
  const train::Example both = cut.get(2);
  EXPECT_EQ(std::vector<int64_t>(both.x.data_ptr<int64_t>(), both.x.data_ptr<int64_t>() + 8),
            (std::vector<int64_t>{1, 2, 5, 6, 7, 8, 9, 10}));
  EXPECT_FALSE(cut.get_batch({0}).y.defined());
  EXPECT_ERROR(train::SequenceDataset(std::vector<std::vector<int64_t>>{{1}, {}}),
               "sequence 1 is empty");
  EXPECT_ERROR(train::SequenceDataset(seqs, {1}), "3 sequences but 1 labels");
  EXPECT_ERROR(train::SequenceDataset(seqs, {}, {.truncation = "tail"}), "truncation");
  EXPECT_ERROR(data.get_batch({3}), "index 3 is out of range");
}

// Lengths 0..n-1 in a scrambled order.
std::vector<int64_t> scrambled_lengths(int64_t n) {
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < n; ++i) lengths.push_back((i * 37) % n + 1);
  return lengths;
}

TEST(BucketSampler, EveryIndexOncePerEpochInLengthBuckets) {
  const int64_t n = 103, batch = 4;
  const std::vector<int64_t> lengths = scrambled_lengths(n);
  train::BucketSampler sampler(lengths, batch, /*seed=*/7, /*pool_batches=*/5);
  std::vector<int64_t> previous;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const std::vector<int64_t> order = sampler.next_epoch();
    ASSERT_EQ(static_cast<int64_t>(order.size()), n);
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), static_cast<size_t>(n));
    // Full batches come from one sorted pool of 20: their lengths span less
    // than a pool's range would by chance. The 3 left over come last.
    for (int64_t b = 0; b < n / batch; ++b) {
      std::vector<int64_t> l;
      for (int64_t k = 0; k < batch; ++k) l.push_back(lengths[order[b * batch + k]]);
      EXPECT_TRUE(std::is_sorted(l.begin(), l.end())) << "batch " << b;
    }
    EXPECT_NE(order, previous);
    previous = order;
  }
}

TEST(BucketSampler, OrderIsAFunctionOfSeedAndEpochAndResumes) {
  const std::vector<int64_t> lengths = scrambled_lengths(50);
  train::BucketSampler a(lengths, 8, 3), b(lengths, 8, 3), c(lengths, 8, 4);
  EXPECT_EQ(a.next_epoch(), b.next_epoch());
  const TensorDict state = a.state_dict();
  const std::vector<int64_t> next = a.next_epoch();
  EXPECT_NE(c.next_epoch(), b.next_epoch());
  train::BucketSampler resumed(lengths, 8, 99);
  resumed.load_state_dict(state);
  EXPECT_EQ(resumed.next_epoch(), next);
  EXPECT_ERROR(train::BucketSampler(lengths, 0, 1), "batch_size");
}

}  // namespace
}  // namespace toadstool::testing
