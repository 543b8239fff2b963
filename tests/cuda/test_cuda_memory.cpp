// CUDA tensors: memory and the moves between host and device. Every test
// that needs a GPU skips without one (cuda_is_available()).
#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

TEST(CudaMemory, TensorsRoundTripThroughTheDevice) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBool, kFloat16, kBFloat16}) {
    const Tensor host = arange(10, kFloat32).to(dtype);
    const Tensor device = host.to(kCuda);
    EXPECT_EQ(device.device(), kCuda);
    EXPECT_EQ(device.dtype(), dtype);
    EXPECT_EQ(testing::values(device.to(kCPU)), testing::values(host)) << dtype;
  }
  // A strided view is copied contiguous, then moved.
  const Tensor m = arange(12, kFloat32).view({3, 4}).t();
  EXPECT_EQ(testing::values(m.to(kCuda).to(kCPU)), testing::values(m));
  EXPECT_EQ(full({}, 2.5).to(kCuda).item<float>(), 2.5f);  // item() reads through the host copy
}

// As PyTorch's: the device (and dtype) of the tensor unless the options
// name another. The backward's seed gradient is ones_like(loss).
TEST(CudaMemory, FactoriesLikeATensorKeepItsDevice) {
  SKIP_WITHOUT_GPU();
  const Tensor t = ones({2, 3}, TensorOptions(kFloat64).device(kCuda));
  for (const Tensor& made : {empty_like(t), zeros_like(t), ones_like(t), full_like(t, 2),
                             rand_like(t), randn_like(t), zeros_like(t, kFloat32)}) {
    EXPECT_EQ(made.device(), kCuda);
    EXPECT_EQ(made.shape(), t.shape());
  }
  EXPECT_EQ(zeros_like(t).dtype(), kFloat64);
  EXPECT_EQ(zeros_like(t, kCPU).device(), kCPU);
  EXPECT_EQ(zeros_like(t, kCPU).dtype(), kFloat64);
}

TEST(CudaMemory, TheCachingAllocatorCountsDeviceBytes) {
  SKIP_WITHOUT_GPU();
  reset_peak_memory_stats(kCuda);
  const int64_t before = memory_stats(kCuda).current_bytes;
  {
    const Tensor t = empty({1024}, kCuda);
    EXPECT_GE(memory_stats(kCuda).current_bytes, before + 4096);
  }
  EXPECT_EQ(memory_stats(kCuda).current_bytes, before);
  empty_cache(kCuda);
  EXPECT_EQ(memory_stats(kCuda).cached_bytes, 0);
}

// Without a GPU (or without the backend) a CUDA tensor is a clear Error.
TEST(CudaMemory, WithoutAGpuACudaTensorIsAnError) {
  if (cuda_is_available()) GTEST_SKIP() << "a CUDA device is available";
  EXPECT_ERROR(zeros({2}, kCuda), "cuda:0");
  EXPECT_ERROR(ones({2}).to(kCuda), "cuda:0");
}

}  // namespace
}  // namespace toadstool
