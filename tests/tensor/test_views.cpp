// View ops share storage; reshape copies only when it must.
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_values;

Tensor iota(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return arange(n, kFloat32).view(shape);
}

TEST(Views, ViewSharesStorageAndWritesShowThrough) {
  Tensor a = iota({2, 3});
  Tensor v = a.view({3, 2});
  EXPECT_TRUE(v.shares_storage(a));
  v.select(0, 0).fill_(-1);
  expect_values(a, {-1, -1, 2, 3, 4, 5}, {2, 3});
  expect_values(a.view({-1}), {-1, -1, 2, 3, 4, 5}, {6});
  EXPECT_EQ(a.view({2, -1, 1}).shape(), (Shape{2, 3, 1}));
}

TEST(Views, ViewOfNonViewableLayoutIsAnError) {
  const Tensor t = iota({2, 3}).t();
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THROW(t.view({6}), Error);
  // reshape copies instead.
  const Tensor r = t.reshape({6});
  EXPECT_FALSE(r.shares_storage(t));
  expect_values(r, {0, 3, 1, 4, 2, 5}, {6});
  // but views where the layout allows it, even for non-contiguous tensors.
  const Tensor rows = iota({4, 6}).slice(1, 0, 3);  // [4, 3] with row stride 6
  EXPECT_TRUE(rows.view({2, 2, 3}).shares_storage(rows));
  EXPECT_THROW(view(iota({6}), {4}), Error);
  EXPECT_THROW(view(iota({6}), {-1, -1}), Error);
}

TEST(Views, PermuteTransposeAndT) {
  const Tensor a = iota({2, 3, 4});
  const Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(testing::values(p.contiguous())[1], 4.0);
  EXPECT_EQ(a.transpose(0, -1).shape(), (Shape{4, 3, 2}));
  expect_values(iota({2, 2}).t(), {0, 2, 1, 3}, {2, 2});
  EXPECT_THROW(a.permute({0, 1}), Error);
  EXPECT_THROW(a.permute({0, 0, 1}), Error);
  EXPECT_THROW(a.t(), Error);
}

TEST(Views, NarrowSliceWithStepAndSelect) {
  const Tensor a = iota({10});
  expect_values(a.slice(0, 1, 8, 3), {1, 4, 7}, {3});
  expect_values(a.slice(0, -3), {7, 8, 9}, {3});
  expect_values(a.slice(0, 8, 100), {8, 9}, {2});
  EXPECT_EQ(a.slice(0, 5, 2).numel(), 0);
  expect_values(a.narrow(0, 2, 3), {2, 3, 4}, {3});
  EXPECT_THROW(a.narrow(0, 8, 3), Error);
  EXPECT_THROW(a.slice(0, 0, 5, 0), Error);
  const Tensor m = iota({3, 4});
  expect_values(m.select(1, -1), {3, 7, 11}, {3});
  expect_values(m.select(0, 1), {4, 5, 6, 7}, {4});
  EXPECT_THROW(m.select(0, 3), Error);
  EXPECT_THROW(m.select(2, 0), Error);
  // A slice of a slice composes offsets and strides.
  expect_values(m.slice(1, 1, std::nullopt, 2).slice(0, 1), {5, 7, 9, 11}, {2, 2});
}

TEST(Views, SqueezeUnsqueezeExpandFlatten) {
  const Tensor a = iota({1, 3, 1});
  EXPECT_EQ(a.squeeze().shape(), (Shape{3}));
  EXPECT_EQ(a.squeeze(0).shape(), (Shape{3, 1}));
  EXPECT_EQ(a.squeeze(1).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(iota({3}).unsqueeze(0).shape(), (Shape{1, 3}));
  const Tensor e = iota({3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(iota({3, 1}).expand({-1, 2}).shape(), (Shape{3, 2}));
  EXPECT_THROW(iota({3}).expand({2}), Error);
  EXPECT_THROW(iota({3}).expand({-1, 3}), Error);
  EXPECT_EQ(iota({2, 3, 4}).flatten().shape(), (Shape{24}));
  EXPECT_EQ(iota({2, 3, 4}).flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(iota({2, 3, 4}).flatten(0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(scalar_tensor(1.0).flatten().shape(), (Shape{1}));
}

TEST(Views, ExpandedViewsReadBroadcastValues) {
  const Tensor e = from_vector(std::vector<float>{1, 2}).view({2, 1}).expand({2, 3});
  expect_values(e.contiguous(), {1, 1, 1, 2, 2, 2}, {2, 3});
  expect_values(e + 0, {1, 1, 1, 2, 2, 2}, {2, 3});
}

TEST(Views, CopyIntoOverlappingViewIsStaged) {
  // Writing a tensor's transpose into itself must read the old values.
  Tensor a = iota({3, 3});
  a.copy_(a.t());
  expect_values(a, {0, 3, 6, 1, 4, 7, 2, 5, 8}, {3, 3});
  // Shifted overlap within one buffer.
  Tensor b = iota({5});
  Tensor dst = b.slice(0, 1);
  dst.copy_(b.slice(0, 0, 4));
  expect_values(b, {0, 0, 1, 2, 3}, {5});
}

TEST(Views, InPlaceThroughAViewChangesTheBase) {
  Tensor a = zeros({2, 3});
  Tensor col = a.select(1, 1);
  col.add_(5);
  expect_values(a, {0, 5, 0, 0, 5, 0}, {2, 3});
  Tensor strided = a.slice(1, 0, std::nullopt, 2);
  strided.mul_(0).add_(from_vector(std::vector<float>{1, 2}));
  expect_values(a, {1, 5, 2, 1, 5, 2}, {2, 3});
}

TEST(Views, IndexSelectCopies) {
  const Tensor a = iota({3, 2});
  const Tensor idx = from_vector(std::vector<int64_t>{2, 0, 2});
  const Tensor r = a.index_select(0, idx);
  expect_values(r, {4, 5, 0, 1, 4, 5}, {3, 2});
  EXPECT_FALSE(r.shares_storage(a));
  expect_values(a.t().index_select(1, idx), {4, 0, 4, 5, 1, 5}, {2, 3});
  EXPECT_THROW(a.index_select(0, from_vector(std::vector<int64_t>{3})), Error);
  EXPECT_THROW(a.index_select(0, from_vector(std::vector<float>{0})), Error);
}

// The size of the dim selects zeros (packed tokens' padding rows); one past
// it is still out of range.
TEST(Views, IndexSelectOrZerosGivesZerosAtTheSize) {
  const Tensor a = iota({3, 2}) + 1;
  const Tensor idx = from_vector(std::vector<int64_t>{3, 1, 3, 0});
  expect_values(native::index_select_or_zeros(a, 0, idx), {0, 0, 3, 4, 0, 0, 1, 2}, {4, 2});
  expect_values(native::index_select_or_zeros(a, 1, from_vector(std::vector<int64_t>{2, 0})),
                {0, 1, 0, 3, 0, 5}, {3, 2});
  expect_values(native::index_select_or_zeros(a.to(kBFloat16), 0, idx).to(kFloat32),
                {0, 0, 3, 4, 0, 0, 1, 2}, {4, 2});
  EXPECT_THROW(native::index_select_or_zeros(a, 0, from_vector(std::vector<int64_t>{4})), Error);
  EXPECT_THROW(native::index_select_or_zeros(a, 0, from_vector(std::vector<int64_t>{-1})), Error);
}

}  // namespace
}  // namespace toadstool
