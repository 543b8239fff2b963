// Streams, events, pinned memory, non-blocking copies and the stream-aware
// allocator on a GPU (tensor/stream.h, tensor/block_cache.h). Tests whose
// outcome depends on how far the GPU has got check it both ways: a block
// handed out again, or found not pending, is allowed only once the stream
// that used it reports its work finished, and streams only ever go from busy
// to finished, so no timing makes them fail wrongly.
#include <cmath>
#include <thread>

#include "cuda_test_util.h"

namespace toadstool {
namespace {

using testing::kCuda;

// Queues a few hundred milliseconds' worth of matmuls on the current stream
// (reading `m`, [n, n] on the GPU); returns the last product.
Tensor busy_work(const Tensor& m, int repeats = 30) {
  Tensor r = m;
  for (int i = 0; i < repeats; ++i) r = matmul(m, r) * 1e-4;
  return r;
}

// The side of the matrices whose products keep a stream busy for a while:
// 4096 on a GPU; 128 on the emulated device (scripts/cuda_emulated.sh), where
// busy_work's 30 products of that size take about a second.
constexpr int64_t kBusySide = TOADSTOOL_TEST_EMULATED_CUDA ? 128 : 4096;

Tensor big_matrix() {
  manual_seed(7);
  return randn({kBusySide, kBusySide}).to(kCuda);
}

TEST(CudaStreams, TheCurrentStreamIsTheDefaultUntilAGuardSetsAnother) {
  SKIP_WITHOUT_GPU();
  const Stream original = cuda_current_stream();
  EXPECT_TRUE(original.is_default());
  EXPECT_EQ(original, cuda_default_stream());
  const Stream side = cuda_new_stream();
  EXPECT_FALSE(side.is_default());
  EXPECT_NE(side, cuda_new_stream()) << "the pool hands out its streams in turn";
  {
    const StreamGuard guard(side);
    EXPECT_EQ(cuda_current_stream(), side);
    // Another thread keeps its own current stream.
    Stream seen = original;
    std::thread([&] { seen = cuda_current_stream(); }).join();
    EXPECT_TRUE(seen.is_default());
  }
  EXPECT_EQ(cuda_current_stream(), original);
  side.synchronize();
  EXPECT_TRUE(side.query());
}

TEST(CudaStreams, AnEventMeasuresAKernel) {
  SKIP_WITHOUT_GPU();
  const Tensor m = big_matrix();
  Event start(/*enable_timing=*/true), end(/*enable_timing=*/true);
  start.record();
  const Tensor r = busy_work(m, 5);
  end.record();
  EXPECT_TRUE(end.is_recorded());
  end.synchronize();
  EXPECT_TRUE(end.query());
  const float ms = start.elapsed_time(end);
  EXPECT_GT(ms, 0.0f);
  EXPECT_LT(ms, 60'000.0f);
  EXPECT_ERROR(start.elapsed_time(Event()), "both events must be recorded");
  Event untimed;
  untimed.record();
  untimed.synchronize();
  EXPECT_ERROR(start.elapsed_time(untimed), "enable_timing");
}

// y is computed on a side stream; the current stream waits for it through
// an event before using it, and gets the CPU's result.
TEST(CudaStreams, TwoStreamsOrderedByAnEventGiveTheRightResult) {
  SKIP_WITHOUT_GPU();
  manual_seed(3);
  // Scaled so that a a a is O(1): the CPU and the GPU sum in other orders,
  // and a race would give garbage, not rounding differences.
  const Tensor a = randn({512, 512}) * (1.0 / std::sqrt(512.0));
  const Tensor expected = matmul(matmul(a, a), a) * 2.0;
  const Tensor a_gpu = a.to(kCuda);  // on the default stream, waited for by the copy
  const Stream side = cuda_new_stream();
  Event ready;
  Tensor y;
  {
    const StreamGuard guard(side);
    side.wait_stream(cuda_default_stream());  // a pool stream does not order with it
    record_stream(a_gpu, side);
    y = matmul(matmul(a_gpu, a_gpu), a_gpu);
    ready.record(side);
  }
  ready.wait(cuda_current_stream());
  record_stream(y, cuda_current_stream());
  const Tensor z = y * 2.0;
  testing::expect_close(z.to(kCPU), expected, 1e-4, 1e-3);
}

TEST(CudaStreams, RecordStreamOnAnotherDeviceIsAnError) {
  SKIP_WITHOUT_GPU();
  EXPECT_ERROR(record_stream(ones({2}), cuda_current_stream()),
               "record_stream: the tensor [2] float32 is on cpu but the stream is on cuda:0");
}

TEST(CudaPinnedMemory, PinMemoryCopiesIntoPinnedHostMemory) {
  SKIP_WITHOUT_GPU();
  const Tensor host = arange(12, kFloat32).view({3, 4});
  const Tensor pinned = host.pin_memory();
  EXPECT_TRUE(pinned.is_pinned());
  EXPECT_EQ(pinned.device(), kCPU);
  EXPECT_FALSE(pinned.is_same(host));
  EXPECT_EQ(testing::values(pinned), testing::values(host));
  EXPECT_TRUE(pinned.pin_memory().is_same(pinned)) << "already pinned: itself";
  EXPECT_TRUE(pinned.t().is_pinned()) << "a view shares the pinned storage";
  EXPECT_GE(pinned_memory_stats().current_bytes, 48);
  EXPECT_ERROR(zeros({2}, kCuda).pin_memory(), "pin_memory: expected a CPU tensor");
}

TEST(CudaPinnedMemory, GradientsFlowThroughPinMemory) {
  SKIP_WITHOUT_GPU();
  Tensor x = ones({3}, kFloat64).requires_grad_();
  const Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  (p * 2.0).sum().backward();
  testing::expect_close(x.grad(), full({3}, 2.0, kFloat64));
}

TEST(CudaPinnedMemory, ANonBlockingCopyEqualsTheBlockingOne) {
  SKIP_WITHOUT_GPU();
  manual_seed(11);
  for (DType dtype : {kFloat32, kInt64, kBFloat16}) {
    const Tensor host = (randn({257, 33}) * 100.0).to(dtype);
    const Tensor blocking = host.to(kCuda);
    const Tensor async = host.pin_memory().to(kCuda, /*non_blocking=*/true);
    EXPECT_EQ(async.device(), kCuda);
    // to(kCPU) waits for the current stream, on which the async copy ran.
    EXPECT_EQ(testing::values(async.to(kCPU)), testing::values(blocking.to(kCPU))) << dtype;

    const Tensor back = async.to(kCPU, /*non_blocking=*/true);
    EXPECT_TRUE(back.is_pinned()) << "a non-blocking copy to the host lands in pinned memory";
    cuda_current_stream().synchronize();  // the user's part, as in PyTorch
    EXPECT_EQ(testing::values(back), testing::values(host)) << dtype;
  }
  // From pageable memory non_blocking has no effect: the copy waits.
  const Tensor pageable = arange(5, kFloat32);
  EXPECT_EQ(testing::values(pageable.to(kCuda, true).to(kCPU)), testing::values(pageable));
}

// The source of a non-blocking copy, freed while the copy is queued behind
// long work, is not handed out again before the copy has run.
TEST(CudaPinnedMemory, APinnedBlockIsNotReusedBeforeItsCopyHasRun) {
  SKIP_WITHOUT_GPU();
  const Tensor m = big_matrix();
  const Stream stream = cuda_current_stream();
  Tensor pinned = ones({1 << 20}).pin_memory();
  void* const block = pinned.data_ptr();
  const Tensor work = busy_work(m);
  const Tensor copied = pinned.to(kCuda, /*non_blocking=*/true);  // queued after the work
  pinned = Tensor();
  const int64_t pending = pinned_memory_stats().pending_bytes;
  if (!stream.query()) {
    EXPECT_GT(pending, 0) << "freed while its copy was queued, yet not pending";
  }
  const Tensor other = empty({1 << 20}).pin_memory();
  if (other.data_ptr() == block) {
    EXPECT_TRUE(stream.query()) << "handed out while the copy from it was still queued";
  }
  stream.synchronize();
  EXPECT_EQ(copied.sum().item<float>(), static_cast<float>(1 << 20));
  const Tensor again = empty({1 << 20}).pin_memory();
  if (other.data_ptr() != block) {
    EXPECT_EQ(again.data_ptr(), block) << "the copy has run: the block is reused";
  }
  EXPECT_EQ(pinned_memory_stats().pending_bytes, 0);
}

TEST(CudaAllocator, ABlockFreedOnOneStreamIsNotHandedToAnother) {
  SKIP_WITHOUT_GPU();
  const Stream a = cuda_new_stream(), b = cuda_new_stream();
  void* block = nullptr;
  {
    const StreamGuard guard(a);
    block = empty({1 << 18}, kCuda).data_ptr();  // freed at once, into a's list
  }
  {
    const StreamGuard guard(b);
    const Tensor t = empty({1 << 18}, kCuda);
    EXPECT_NE(t.data_ptr(), block) << "stream b got a block stream a freed";
  }
  {
    const StreamGuard guard(a);
    EXPECT_EQ(empty({1 << 18}, kCuda).data_ptr(), block) << "stream a reuses its own block";
  }
}

// record_stream: memory of the default stream read by a side stream's long
// work is not reused by the default stream before that work has finished.
TEST(CudaAllocator, RecordStreamDelaysReuseUntilTheOtherStreamIsDone) {
  SKIP_WITHOUT_GPU();
  Tensor m = big_matrix();
  void* const block = m.data_ptr();
  const Stream side = cuda_new_stream();
  Tensor work;
  {
    const StreamGuard guard(side);
    side.wait_stream(cuda_default_stream());
    work = busy_work(m);
  }
  record_stream(m, side);
  m = Tensor();
  const int64_t pending = memory_stats(kCuda).pending_bytes;
  if (!side.query()) {
    EXPECT_GT(pending, 0) << "freed while side used it, yet not pending";
  }
  const Tensor other = empty({kBusySide, kBusySide}, kCuda);
  if (other.data_ptr() == block) {
    EXPECT_TRUE(side.query()) << "handed out while the side stream still read it";
  }
  side.synchronize();
  const Tensor again = empty({kBusySide, kBusySide}, kCuda);
  if (other.data_ptr() != block) {
    EXPECT_EQ(again.data_ptr(), block) << "the side stream is done: the block is reused";
  }
  EXPECT_EQ(memory_stats(kCuda).pending_bytes, 0);
  // Emptying the cache waits for pending blocks and gives everything back.
  empty_cache(kCuda);
  EXPECT_EQ(memory_stats(kCuda).cached_bytes, 0);
}

TEST(CudaDataLoader, PinMemoryBatchesArePinned) {
  SKIP_WITHOUT_GPU();
  const Tensor x = arange(20, kFloat32).view({10, 2});
  auto data = std::make_shared<train::TensorDataset>(x, arange(10));
  for (int workers : {0, 2}) {
    train::DataLoader loader(data, {.batch_size = 4, .num_workers = workers, .pin_memory = true});
    int64_t seen = 0;
    for (const train::Batch& batch : loader) {
      EXPECT_TRUE(batch.x.is_pinned());
      EXPECT_TRUE(batch.y.is_pinned());
      const Tensor on_gpu = batch.x.to(kCuda, /*non_blocking=*/true);
      EXPECT_EQ(testing::values(on_gpu.to(kCPU)), testing::values(batch.x));
      seen += batch.x.size(0);
    }
    EXPECT_EQ(seen, 10) << workers << " workers";
  }
}

}  // namespace
}  // namespace toadstool
