#pragma once
// CUDA streams and events, as in PyTorch (torch.cuda.Stream, torch.cuda.Event).
//
// Every op on a GPU is queued on the calling thread's current stream of that
// GPU (the default stream until set) and runs later, in order with the other
// work of that stream. Work on two streams may overlap; an Event orders them:
//
//   Stream side = cuda_new_stream();
//   Event ready;
//   { StreamGuard guard(side); y = f(x); ready.record(side); }  // queued on `side`
//   ready.wait(cuda_current_stream());     // later work of the current stream waits
//   record_stream(y, cuda_current_stream());
//   z = g(y);
//
// Host reads (item(), printing, to(kCPU)) wait for the current stream only:
// data produced on another stream must be waited for first (an Event, or
// Stream::synchronize), as in PyTorch. A tensor's memory belongs to the
// stream it was allocated on; used on another stream, call record_stream so
// that its memory is not reused before that stream's work has finished.
//
// Without a CUDA device every call that needs one is an Error naming it.
#include "toadstool/tensor/device.h"
#include "toadstool/tensor/tensor.h"

namespace toadstool {

class Event;

// A stream of one GPU: the device and its cudaStream_t. A cheap value;
// streams live as long as the process.
class Stream {
 public:
  Device device() const { return device_; }
  // The cudaStream_t (nullptr: the device's default stream).
  void* handle() const { return handle_; }
  bool is_default() const { return handle_ == nullptr; }

  // Whether all work queued on it so far has finished.
  bool query() const;
  // Waits until it has.
  void synchronize() const;
  // Work queued on this stream from now on waits for `event` (a no-op for an
  // event never recorded).
  void wait_event(const Event& event) const;
  // Work queued on this stream from now on waits for the work queued on
  // `other` so far.
  void wait_stream(const Stream& other) const;

  friend bool operator==(const Stream&, const Stream&) = default;

 private:
  friend Stream cuda_current_stream(Device device);
  friend Stream cuda_default_stream(Device device);
  friend Stream cuda_new_stream(Device device);
  Stream(Device device, void* handle) : device_(device), handle_(handle) {}

  Device device_;
  void* handle_ = nullptr;
};

std::ostream& operator<<(std::ostream& out, const Stream& stream);

// The calling thread's current stream on `device` (a GPU), on which every op
// on that device is queued: its default stream until set.
Stream cuda_current_stream(Device device = Device(DeviceType::CUDA, 0));
// The device's default stream (the legacy one, which orders with every
// stream except those of cuda_new_stream).
Stream cuda_default_stream(Device device = Device(DeviceType::CUDA, 0));
// A stream from the device's pool (PyTorch's torch.cuda.Stream()): 32
// streams per device, handed out in turn, that do not order with the default
// stream.
Stream cuda_new_stream(Device device = Device(DeviceType::CUDA, 0));
// Makes `stream` the calling thread's current stream of its device.
void cuda_set_current_stream(const Stream& stream);

// Makes `stream` current for a scope and restores the stream it replaced.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
};

// `stream` uses `tensor`'s memory (a GPU tensor on the stream's device):
// when the tensor's storage is freed, its block is not handed out again
// until the work queued on `stream` by then has finished. A no-op for the
// stream the memory was allocated on.
void record_stream(const Tensor& tensor, const Stream& stream);

// A marker in a stream's work: it completes when the work queued before it
// has. A handle (copies share the event); created on the device of the
// first stream it is recorded on, and recorded again at will.
class Event {
 public:
  // enable_timing: elapsed_time() may measure between two such events.
  explicit Event(bool enable_timing = false);

  // Marks the work queued on `stream` so far.
  void record(const Stream& stream);
  // record(cuda_current_stream(device)).
  void record(Device device = Device(DeviceType::CUDA, 0));
  // Work queued on `stream` from now on waits until this event completes (a
  // no-op when it was never recorded).
  void wait(const Stream& stream) const;
  // Whether the recorded work has finished (true when never recorded).
  bool query() const;
  // Waits until it has (returns at once when never recorded).
  void synchronize() const;
  // Milliseconds from this event to `end`: both recorded with enable_timing,
  // on one device, and `end` complete (synchronize it first).
  float elapsed_time(const Event& end) const;

  bool is_recorded() const;
  bool enable_timing() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace toadstool
