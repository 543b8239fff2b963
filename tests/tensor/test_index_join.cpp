// gather / scatter_add / index_add / embedding / one_hot, joins and splits,
// triangles.
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_values;
using testing::make;
using testing::non_contiguous;

Tensor idx(const std::vector<int64_t>& v, const Shape& shape) { return from_vector(v, shape); }

TEST(Indexing, GatherAlongEachDim) {
  const Tensor a = make({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(gather(a, 1, idx({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5}, {2, 2});
  expect_values(gather(a, 0, idx({1, 0, 1}, {1, 3})), {4, 2, 6}, {1, 3});
  expect_values(gather(non_contiguous(a), 1, idx({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5}, {2, 2});
  EXPECT_THROW(gather(a, 1, idx({3}, {1, 1})), Error);
  EXPECT_THROW(gather(a, 1, idx({0}, {1})), Error);      // wrong number of dims
  EXPECT_THROW(gather(a, 1, make({0}, {1, 1})), Error);  // float indices
}

TEST(Indexing, ScatterAddAccumulatesDuplicates) {
  const Tensor base = zeros({2, 3});
  const Tensor src = make({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor out = scatter_add(base, 1, idx({0, 0, 2, 1, 1, 1}, {2, 3}), src);
  expect_values(out, {3, 0, 3, 0, 15, 0}, {2, 3});
  expect_values(base, {0, 0, 0, 0, 0, 0}, {2, 3});  // not in place
  EXPECT_THROW(scatter_add(base, 1, idx({0, 0, 3}, {1, 3}), src), Error);
}

TEST(Indexing, IndexAddAndEmbedding) {
  const Tensor t = zeros({3, 2});
  const Tensor out = index_add(t, 0, idx({2, 0, 2}, {3}), make({1, 1, 2, 2, 3, 3}, {3, 2}), 2);
  expect_values(out, {4, 4, 0, 0, 8, 8}, {3, 2});
  const Tensor weight = make({0, 0, 1, 1, 2, 2}, {3, 2});
  expect_values(embedding(weight, idx({2, 1, 2, 0}, {2, 2})), {2, 2, 1, 1, 2, 2, 0, 0}, {2, 2, 2});
  EXPECT_THROW(embedding(weight, idx({3}, {1})), Error);
  EXPECT_THROW(embedding(make({1}, {1}), idx({0}, {1})), Error);  // weight not 2-D
}

TEST(Indexing, OneHot) {
  expect_values(one_hot(idx({0, 2}, {2})), {1, 0, 0, 0, 0, 1}, {2, 3});
  EXPECT_EQ(one_hot(idx({1}, {1}), 4).shape(), (Shape{1, 4}));
  EXPECT_THROW(one_hot(idx({4}, {1}), 4), Error);
  EXPECT_THROW(one_hot(idx({-1}, {1}), 4), Error);
}

TEST(Join, CatAndStack) {
  const Tensor a = make({1, 2}, {1, 2});
  const Tensor b = make({3, 4, 5, 6}, {2, 2});
  expect_values(cat({a, b}), {1, 2, 3, 4, 5, 6}, {3, 2});
  expect_values(cat({b, b.t()}, 1), {3, 4, 3, 5, 5, 6, 4, 6}, {2, 4});
  EXPECT_EQ(cat({a, from_vector(std::vector<int64_t>{7, 8}, {1, 2})}).dtype(), kFloat32);
  EXPECT_EQ(cat({zeros({0}), a}).shape(), a.shape());  // legacy: empty 1-D skipped
  EXPECT_THROW(cat({a, b}, 1), Error);
  EXPECT_THROW(cat({}), Error);
  expect_values(stack({a, a}, 1), {1, 2, 1, 2}, {1, 2, 2});
  EXPECT_EQ(stack({a, a}).shape(), (Shape{2, 1, 2}));
  EXPECT_THROW(stack({a, b}), Error);
}

TEST(Join, SplitAndChunkAreViews) {
  const Tensor a = arange(7, kFloat32);
  const auto parts = split(a, 3);
  ASSERT_EQ(parts.size(), 3u);
  expect_values(parts[2], {6}, {1});
  EXPECT_TRUE(parts[1].shares_storage(a));
  const auto sized = split(a, std::vector<int64_t>{2, 5});
  expect_values(sized[1], {2, 3, 4, 5, 6}, {5});
  EXPECT_THROW(split(a, std::vector<int64_t>{2, 4}), Error);
  const auto chunks = chunk(a, 3);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].numel(), 3);
  EXPECT_EQ(chunk(arange(4), 3).size(), 2u);  // ceil(4 / 3) = 2 per chunk
  EXPECT_THROW(chunk(a, 0), Error);
}

TEST(Triangles, TrilTriuWithDiagonals) {
  const Tensor a = ones({3, 3});
  expect_values(tril(a), {1, 0, 0, 1, 1, 0, 1, 1, 1}, {3, 3});
  expect_values(triu(a, 1), {0, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 3});
  expect_values(tril(a, -1), {0, 0, 0, 1, 0, 0, 1, 1, 0}, {3, 3});
  expect_values(triu(ones({2, 2, 3}), 2), {0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0}, {2, 2, 3});
  expect_values(tril(non_contiguous(make({1, 2, 3, 4}, {2, 2}))), {1, 0, 3, 4}, {2, 2});
  EXPECT_THROW(tril(ones({3})), Error);
}

}  // namespace
}  // namespace toadstool
