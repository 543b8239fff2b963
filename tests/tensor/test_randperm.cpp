// randperm: a permutation, a function of (seed, offset) only, uniform over
// the n! orders, and the offset advanced by the blocks it documents.
#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "test_util.h"
#include "toadstool/kernels/philox.h"

namespace toadstool {
namespace {

std::vector<int64_t> as_vector(const Tensor& t) {
  const int64_t* p = t.data_ptr<int64_t>();
  return {p, p + t.numel()};
}

TEST(Randperm, IsAPermutationOfInt64) {
  Generator g(11);
  for (int64_t n : {0, 1, 2, 7, 129, 1000}) {
    const Tensor p = randperm(n, &g);
    EXPECT_EQ(p.dtype(), kInt64);
    EXPECT_EQ(p.shape(), (Shape{n}));
    std::vector<int64_t> v = as_vector(p);
    std::sort(v.begin(), v.end());
    std::vector<int64_t> expected(static_cast<size_t>(n));
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(v, expected) << "n = " << n;
  }
  EXPECT_ERROR(randperm(-1), "randperm");
}

TEST(Randperm, ReproducibleAndAdvancesTheOffset) {
  Generator a(5), b(5);
  const auto first = as_vector(randperm(300, &a));
  EXPECT_EQ(a.state().offset, kernels::philox_blocks_used(300, kernels::RandomKind::Int64));
  EXPECT_EQ(as_vector(randperm(300, &b)), first);
  EXPECT_NE(as_vector(randperm(300, &a)), first);  // the next draw moved on
}

TEST(Randperm, OrdersOfThreeAreEquallyLikely) {
  // 6 orders, 60000 draws: each count is 10000 +- ~91 (one sigma).
  Generator g(1);
  std::map<std::vector<int64_t>, int> counts;
  for (int i = 0; i < 60000; ++i) ++counts[as_vector(randperm(3, &g))];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, 10000, 500);
}

}  // namespace
}  // namespace toadstool
