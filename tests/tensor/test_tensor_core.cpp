// The Tensor handle, factories, dtypes, printing and the allocator.
#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_values;
using testing::values;

TEST(TensorCore, FactoriesHaveShapeDtypeAndValues) {
  const Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), kFloat32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_TRUE(z.is_contiguous());
  expect_values(z, {0, 0, 0, 0, 0, 0}, {2, 3});
  expect_values(ones({2}, kFloat64), {1, 1}, {2});
  expect_values(full({2, 2}, 2.5), {2.5, 2.5, 2.5, 2.5}, {2, 2});
  expect_values(eye(2, 3), {1, 0, 0, 0, 1, 0}, {2, 3});
  EXPECT_EQ(arange(5).dtype(), kInt64);
  expect_values(arange(5), {0, 1, 2, 3, 4}, {5});
  expect_values(arange(1, 2, 0.25, kFloat32), {1, 1.25, 1.5, 1.75}, {4});
  expect_values(arange(3, 0, -1), {3, 2, 1}, {3});
  EXPECT_EQ(zeros_like(ones({4}, kInt64)).dtype(), kInt64);
  EXPECT_EQ(full_like(ones({4}), 7, kFloat64).dtype(), kFloat64);
  // What the options leave out comes from the tensor (a device alone keeps
  // the dtype; CudaMemory.FactoriesLikeATensorKeepItsDevice checks the device).
  EXPECT_EQ(ones_like(ones({4}, kInt64), kCPU).dtype(), kInt64);
  EXPECT_EQ(empty_like(ones({4}, kFloat64), TensorOptions()).dtype(), kFloat64);
  EXPECT_EQ(rand_like(ones({4}, kFloat64)).dtype(), kFloat64);
}

TEST(TensorCore, ZeroDimAndEmptyTensors) {
  const Tensor s = scalar_tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<double>(), 3.5);
  const Tensor e = zeros({0, 4});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.sum().item<float>(), 0.0f);
  EXPECT_EQ((e + 1).shape(), (Shape{0, 4}));
}

TEST(TensorCore, FromVectorAndBlobCopyTheData) {
  std::vector<float> data{1, 2, 3, 4};
  const Tensor t = from_vector(data, {2, 2});
  data[0] = 100;
  expect_values(t, {1, 2, 3, 4}, {2, 2});
  const int64_t raw[3] = {7, 8, 9};
  const Tensor b = from_blob(raw, {3}, kInt64);
  EXPECT_EQ(b.dtype(), kInt64);
  EXPECT_EQ(b.data_ptr<int64_t>()[2], 9);
  expect_values(from_vector(std::vector<bool>{true, false}), {1, 0}, {2});
  EXPECT_THROW(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Error);
}

TEST(TensorCore, HandleSemanticsShareStorage) {
  Tensor a = zeros({3});
  Tensor b = a;  // same handle target
  b.fill_(2);
  expect_values(a, {2, 2, 2}, {3});
  EXPECT_TRUE(a.is_same(b));
  const Tensor c = a.clone();
  a.fill_(5);
  expect_values(c, {2, 2, 2}, {3});
  EXPECT_FALSE(c.shares_storage(a));
}

TEST(TensorCore, InPlaceOpsBumpTheSharedVersionCounter) {
  Tensor a = zeros({4});
  Tensor v = a.view({2, 2});
  const uint64_t before = a.version();
  v.add_(1);
  EXPECT_GT(a.version(), before);
  EXPECT_EQ(a.version(), v.version());
  const uint64_t after_add = a.version();
  a.mul_(2).zero_();
  EXPECT_EQ(a.version(), after_add + 2);
  const Tensor out_of_place = a + 1;
  EXPECT_EQ(a.version(), after_add + 2);
  EXPECT_EQ(out_of_place.version(), 0u);
}

TEST(TensorCore, DtypeConversions) {
  const Tensor f = from_vector(std::vector<float>{1.5f, -2.5f, 0.0f});
  expect_values(f.to(kInt64), {1, -2, 0}, {3});
  expect_values(f.to(kBool), {1, 1, 0}, {3});
  expect_values(f.to(kFloat16), {1.5, -2.5, 0}, {3});
  expect_values(f.to(kBFloat16).to(kFloat64), {1.5, -2.5, 0}, {3});
  EXPECT_EQ(f.to(kFloat16).element_size(), 2u);
  // float16 rounds to nearest even: 1 + 2^-11 is a tie between 1 and 1 + 2^-10.
  EXPECT_EQ(scalar_tensor(1.0 + std::ldexp(1.0, -11)).to(kFloat16).item<double>(), 1.0);
  EXPECT_EQ(f.to(kFloat32).is_same(f), true);
}

TEST(TensorCore, TypePromotion) {
  EXPECT_EQ(promote_types(kInt64, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kBool, kInt64), kInt64);
  EXPECT_EQ(promote_types(kFloat16, kBFloat16), kFloat32);
  EXPECT_EQ(promote_types(kFloat32, kFloat64), kFloat64);
  EXPECT_EQ(promote_with_scalar(kInt64, 2.5), kFloat32);
  EXPECT_EQ(promote_with_scalar(kFloat16, 2.5), kFloat16);
  EXPECT_EQ(promote_with_scalar(kBool, 2), kInt64);
  EXPECT_EQ(promote_with_scalar(kFloat32, 2), kFloat32);
  EXPECT_EQ((ones({2}, kInt64) + ones({2}, kFloat64)).dtype(), kFloat64);
  EXPECT_EQ((ones({2}, kInt64) * 0.5).dtype(), kFloat32);
  EXPECT_EQ((ones({2}, kInt64) / 2).dtype(), kFloat32);
  EXPECT_EQ((ones({2}, kFloat16) + 1).dtype(), kFloat16);
  EXPECT_EQ((ones({2}, kBool) + ones({2}, kBool)).dtype(), kBool);
}

TEST(TensorCore, PrintsLikePyTorch) {
  EXPECT_EQ(from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}).str(),
            "tensor([[1., 2.],\n        [3., 4.]])");
  EXPECT_EQ(arange(3).str(), "tensor([0, 1, 2])");
  EXPECT_EQ(from_vector(std::vector<double>{0.5, 1.25}).str(),
            "tensor([0.5000, 1.2500], dtype=float64)");
  EXPECT_EQ(from_vector(std::vector<bool>{true, false}).str(), "tensor([ True, False])");
  EXPECT_EQ(scalar_tensor(2.5).str(), "tensor(2.5000)");
  EXPECT_EQ(zeros({0}).str(), "tensor([])");
  EXPECT_EQ(from_vector(std::vector<float>{NAN, INFINITY, -INFINITY, 1}).str(),
            "tensor([nan, inf, -inf, 1.])");
  EXPECT_EQ(from_vector(std::vector<float>{1000, NAN}).str(), "tensor([1000.,   nan])");
  const std::string big = zeros({2000}).str();
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_LT(big.size(), 100u);
}

TEST(TensorCore, ItemChecksTheElementCount) {
  EXPECT_THROW(zeros({2}).item<float>(), Error);
  EXPECT_EQ(ones({1, 1}, kInt64).item<int64_t>(), 1);
}

TEST(TensorCore, DataPtrChecksTheDtype) {
  const Tensor t = zeros({2});
  EXPECT_NO_THROW(t.data_ptr<float>());
  EXPECT_THROW(t.data_ptr<double>(), Error);
}

TEST(TensorCore, UndefinedTensorGivesAnError) {
  const Tensor undefined;
  EXPECT_FALSE(undefined.defined());
  EXPECT_THROW(undefined.shape(), Error);
  EXPECT_THROW(add(undefined, ones({1})), Error);
}

TEST(Allocator, CachesBlocksAndTracksPeak) {
  empty_cache();
  const MemoryStats start = memory_stats();
  reset_peak_memory_stats();
  {
    const Tensor a = empty({1 << 20});  // 4 MiB
    const MemoryStats during = memory_stats();
    EXPECT_GE(during.current_bytes - start.current_bytes, 4 << 20);
    EXPECT_GE(during.peak_bytes, during.current_bytes);
  }
  const MemoryStats after = memory_stats();
  EXPECT_EQ(after.current_bytes, start.current_bytes);
  EXPECT_GE(after.cached_bytes, 4 << 20);
  // The same size again comes from the cache, not the system.
  const int64_t system_before = after.system_allocations;
  { const Tensor b = empty({1 << 20}); }
  EXPECT_EQ(memory_stats().system_allocations, system_before);
  empty_cache();
  EXPECT_EQ(memory_stats().cached_bytes, 0);
}

TEST(Device, ParsesAndRejects) {
  EXPECT_TRUE(Device("cpu").is_cpu());
  EXPECT_EQ(Device("cuda:1").index, 1);
  EXPECT_THROW(Device("gpu"), Error);
  EXPECT_THROW(Device("cuda:x"), Error);
}

// item<integer>() converts as to(int64) does: saturating, NaN to 0, never
// undefined behaviour (the sanitizer build checks float-cast-overflow).
TEST(Item, FloatToIntegerSaturates) {
  EXPECT_EQ(full({}, 2.75).item<int64_t>(), 2);
  EXPECT_EQ(full({}, -2.75).item<int>(), -2);
  EXPECT_EQ(full({}, std::nan("")).item<int64_t>(), 0);
  EXPECT_EQ(full({}, 1e30).item<int64_t>(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(full({}, -1e30).item<int>(), std::numeric_limits<int>::min());
  EXPECT_TRUE(full({}, 0.5).item<bool>());
}

TEST(Threads, SetAndGet) {
  const int before = get_num_threads();
  set_num_threads(1);
  EXPECT_EQ(get_num_threads(), 1);
  set_num_threads(before);
  EXPECT_THROW(set_num_threads(0), Error);
}

}  // namespace
}  // namespace toadstool
