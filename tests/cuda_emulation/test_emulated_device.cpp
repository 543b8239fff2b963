// The emulated device's timeline (shim/emulated_device.h), which the
// emulated build's streams, events, copies and NCCL model stand on: work
// runs behind the host, each stream in order, a stream that waits on an
// event stops there, and host reads synchronise where CUDA says they do.
// A "gate" holds a stream closed until the test opens it, as a long kernel
// or a late NCCL peer would.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "asynchronous_device.h"

namespace toadstool::kernels::cuda {
namespace {

class EmulatedDevice : public AsynchronousDeviceTest {
 protected:
  // Every gate opened, so that a test that failed before opening its own
  // ends rather than hangs.
  void TearDown() override {
    for (const auto& gate : gates_) open(gate);
    AsynchronousDeviceTest::TearDown();
  }
  static cudaStream_t new_stream() {
    cudaStream_t stream = nullptr;
    EXPECT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    return stream;
  }
  static cudaEvent_t new_event(unsigned flags = cudaEventDefault) {
    cudaEvent_t event = nullptr;
    EXPECT_EQ(cudaEventCreateWithFlags(&event, flags), cudaSuccess);
    return event;
  }
  // A new stream, closed until open(gate) is called.
  cudaStream_t closed_stream(std::shared_ptr<emu::Completion>* gate) {
    cudaStream_t stream = new_stream();
    *gate = std::make_shared<emu::Completion>();
    gates_.push_back(*gate);
    emu::Device::get().submit(stream, {nullptr, [g = *gate] { return g; }});
    return stream;
  }
  static void open(const std::shared_ptr<emu::Completion>& gate) {
    emu::Device::get().finish(*gate);
  }
  // `bytes` of device memory, freed with the test.
  unsigned char* device_bytes(size_t bytes) {
    void* ptr = nullptr;
    EXPECT_EQ(cudaMalloc(&ptr, bytes), cudaSuccess);
    owned_.emplace_back(ptr, [](void* p) { cudaFree(p); });
    return static_cast<unsigned char*>(ptr);
  }

 private:
  std::vector<std::unique_ptr<void, void (*)(void*)>> owned_;
  std::vector<std::shared_ptr<emu::Completion>> gates_;
};

// The memory's bytes, read by the host directly (device memory is host
// memory here).
std::vector<unsigned char> bytes_at(const unsigned char* at, size_t n) { return {at, at + n}; }

TEST_F(EmulatedDevice, AStreamRunsInOrderBehindTheHost) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t stream = closed_stream(&gate);
  unsigned char* a = device_bytes(4);
  unsigned char* b = device_bytes(4);
  ASSERT_EQ(cudaMemsetAsync(a, 7, 4, stream), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(b, a, 4, cudaMemcpyDeviceToDevice, stream), cudaSuccess);
  EXPECT_EQ(cudaStreamQuery(stream), cudaErrorNotReady);
  EXPECT_EQ(bytes_at(a, 4), std::vector<unsigned char>(4, 0xff));  // the poison: not run
  open(gate);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(cudaStreamQuery(stream), cudaSuccess);
  EXPECT_EQ(bytes_at(b, 4), std::vector<unsigned char>(4, 7));  // the copy ran after the memset
}

// A stream waits for an event of a closed stream; a third stream goes on.
TEST_F(EmulatedDevice, AStreamWaitsForAnEventAndOnlyThatStreamWaits) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t closed = closed_stream(&gate);
  cudaStream_t waiting = new_stream();
  cudaStream_t free = new_stream();
  cudaEvent_t event = new_event();
  ASSERT_EQ(cudaEventRecord(event, closed), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(waiting, event), cudaSuccess);
  unsigned char* a = device_bytes(2);
  unsigned char* b = device_bytes(2);
  ASSERT_EQ(cudaMemsetAsync(a, 1, 2, waiting), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(b, 2, 2, free), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(free), cudaSuccess);
  EXPECT_EQ(bytes_at(b, 2), std::vector<unsigned char>(2, 2));
  EXPECT_EQ(cudaEventQuery(event), cudaErrorNotReady);
  EXPECT_EQ(cudaStreamQuery(waiting), cudaErrorNotReady);
  EXPECT_EQ(bytes_at(a, 2), std::vector<unsigned char>(2, 0xff));
  // The event may go before the work that waits on it (CUDA allows it).
  ASSERT_EQ(cudaEventDestroy(event), cudaSuccess);
  open(gate);
  ASSERT_EQ(cudaStreamSynchronize(waiting), cudaSuccess);
  EXPECT_EQ(bytes_at(a, 2), std::vector<unsigned char>(2, 1));
}

// A copy to pageable host memory returns once it has run; one to pinned
// memory returns at once, and its event says when it has run.
TEST_F(EmulatedDevice, ACopyToPageableMemoryWaitsAndOneToPinnedMemoryDoesNot) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t stream = closed_stream(&gate);
  unsigned char* source = device_bytes(3);
  std::memset(source, 5, 3);
  void* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(&pinned, 3, cudaHostAllocPortable), cudaSuccess);
  auto* to_pinned = static_cast<unsigned char*>(pinned);
  ASSERT_EQ(cudaMemcpyAsync(to_pinned, source, 3, cudaMemcpyDeviceToHost, stream), cudaSuccess);
  EXPECT_EQ(bytes_at(to_pinned, 3), std::vector<unsigned char>(3, 0xff));

  std::vector<unsigned char> pageable(3, 0);
  std::atomic<bool> returned{false};
  std::thread reader([&] {
    EXPECT_EQ(cudaMemcpyAsync(pageable.data(), source, 3, cudaMemcpyDeviceToHost, stream),
              cudaSuccess);
    returned.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load());  // held by the closed stream
  open(gate);
  reader.join();
  EXPECT_EQ(pageable, std::vector<unsigned char>(3, 5));
  EXPECT_EQ(bytes_at(to_pinned, 3), std::vector<unsigned char>(3, 5));  // ran before it
  ASSERT_EQ(cudaFreeHost(pinned), cudaSuccess);
}

// A copy from pageable memory takes the source when it is called (the
// caller may reuse it at once); one from pinned memory reads it when the
// stream gets there.
TEST_F(EmulatedDevice, ACopyFromPageableMemoryTakesTheSourceAtTheCall) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t stream = closed_stream(&gate);
  unsigned char* from_pageable = device_bytes(2);
  unsigned char* from_pinned = device_bytes(2);
  std::vector<unsigned char> pageable(2, 1);
  void* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(&pinned, 2, cudaHostAllocPortable), cudaSuccess);
  std::memset(pinned, 1, 2);
  ASSERT_EQ(cudaMemcpyAsync(from_pageable, pageable.data(), 2, cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(from_pinned, pinned, 2, cudaMemcpyHostToDevice, stream), cudaSuccess);
  pageable.assign(2, 9);
  std::memset(pinned, 9, 2);
  open(gate);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(bytes_at(from_pageable, 2), std::vector<unsigned char>(2, 1));
  EXPECT_EQ(bytes_at(from_pinned, 2), std::vector<unsigned char>(2, 9));
  ASSERT_EQ(cudaFreeHost(pinned), cudaSuccess);
}

// A wait is for the recording the event had when it was called: recording
// the event again on a free stream does not end it.
TEST_F(EmulatedDevice, AWaitIsForTheRecordingAtTheCall) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t closed = closed_stream(&gate);
  cudaStream_t waiting = new_stream();
  cudaEvent_t event = new_event(cudaEventDisableTiming);
  ASSERT_EQ(cudaEventRecord(event, closed), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(waiting, event), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(event, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(event), cudaSuccess);  // the second recording
  EXPECT_EQ(cudaStreamQuery(waiting), cudaErrorNotReady);
  float ms = 0;
  EXPECT_EQ(cudaEventElapsedTime(&ms, event, event), cudaErrorInvalidResourceHandle);  // untimed
  open(gate);
  ASSERT_EQ(cudaStreamSynchronize(waiting), cudaSuccess);
  cudaEventDestroy(event);
}

// An event is complete, and measures, once the device has passed it.
TEST_F(EmulatedDevice, AnEventCompletesWhenTheDevicePassesIt) {
  std::shared_ptr<emu::Completion> gate;
  cudaStream_t stream = closed_stream(&gate);
  cudaEvent_t start = new_event();
  cudaEvent_t end = new_event();
  ASSERT_EQ(cudaEventRecord(start, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(end, stream), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(start), cudaSuccess);
  float ms = -1;
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, end), cudaErrorNotReady);
  EXPECT_EQ(cudaEventQuery(end), cudaErrorNotReady);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  open(gate);
  ASSERT_EQ(cudaEventSynchronize(end), cudaSuccess);
  EXPECT_EQ(cudaEventQuery(end), cudaSuccess);
  ASSERT_EQ(cudaEventElapsedTime(&ms, start, end), cudaSuccess);
  EXPECT_GE(ms, 20);
  cudaEventDestroy(start);
  cudaEventDestroy(end);
}

}  // namespace
}  // namespace toadstool::kernels::cuda
