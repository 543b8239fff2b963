// Streams, events, pinned memory and non-blocking copies where they need no
// GPU: the values they take on any machine, and the Errors a machine without
// one gives (tests/cuda/test_cuda_streams.cpp runs them on a GPU).
#include <gtest/gtest.h>

#include "test_util.h"

namespace toadstool {
namespace {

const Device kCuda{DeviceType::CUDA, 0};

#define SKIP_WITH_GPU() \
  if (cuda_is_available()) GTEST_SKIP() << "a CUDA device is available"

TEST(Streams, WithoutAGpuStreamsAreErrorsNamingTheCall) {
  SKIP_WITH_GPU();
  EXPECT_ERROR(cuda_current_stream(), "cuda_current_stream: needs a CUDA device");
  EXPECT_ERROR(cuda_default_stream(), "cuda_default_stream: needs a CUDA device");
  EXPECT_ERROR(cuda_new_stream(), "cuda_new_stream: needs a CUDA device");
  EXPECT_ERROR(cuda_current_stream(kCuda), "cuda_is_available() is false");
  Event event;
  EXPECT_ERROR(event.record(), "cuda_current_stream: needs a CUDA device");
}

TEST(Streams, AStreamOfTheCpuIsAnError) {
  EXPECT_ERROR(cuda_current_stream(kCPU), "cuda_current_stream: expected a CUDA device, got cpu");
  EXPECT_ERROR(cuda_new_stream(kCPU), "cuda_new_stream: expected a CUDA device, got cpu");
}

// An event never recorded stands for no work, as in PyTorch.
TEST(Streams, AnUnrecordedEventIsComplete) {
  Event event(/*enable_timing=*/true);
  EXPECT_FALSE(event.is_recorded());
  EXPECT_TRUE(event.enable_timing());
  EXPECT_TRUE(event.query());
  event.synchronize();  // returns at once
  EXPECT_FALSE(Event().enable_timing());
}

TEST(Streams, ElapsedTimeNeedsTwoRecordedEvents) {
  const Event start(true), end(true);
  EXPECT_ERROR(start.elapsed_time(end),
               "Event::elapsed_time: both events must be recorded first (start is not, end is "
               "not)");
}

TEST(PinnedMemory, OrdinaryTensorsAreNotPinned) {
  EXPECT_FALSE(ones({3}).is_pinned());
  EXPECT_FALSE(ones({3}).view({1, 3}).is_pinned());
  EXPECT_EQ(memory_stats(kCPU).pending_bytes, 0);
}

TEST(PinnedMemory, WithoutAGpuPinMemoryIsAnError) {
  SKIP_WITH_GPU();
  EXPECT_ERROR(ones({2, 3}).pin_memory(), "pin_memory: pinned host memory needs a CUDA device");
  const MemoryStats stats = pinned_memory_stats();
  EXPECT_EQ(stats.current_bytes, 0);
  EXPECT_EQ(stats.system_allocations, 0);
  empty_pinned_cache();  // nothing to give back, and no Error
}

TEST(NonBlockingCopies, OnTheSameDeviceReturnTheTensor) {
  const Tensor t = arange(4);
  EXPECT_TRUE(t.to(kCPU, /*non_blocking=*/true).is_same(t));
}

TEST(NonBlockingCopies, WithoutAGpuAreTheUsualError) {
  SKIP_WITH_GPU();
  EXPECT_ERROR(ones({2}).to(kCuda, /*non_blocking=*/true), "cuda:0");
}

}  // namespace
}  // namespace toadstool
