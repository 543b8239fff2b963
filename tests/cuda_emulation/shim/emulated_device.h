#pragma once
// The emulated device's timeline, behind shim/cuda_runtime.h's streams and
// events: the device runs behind the host, as a GPU does. A launch, a copy,
// a memset, an event's recording or a wait on an event goes to its stream's
// queue and returns; one device thread runs the queues, each stream in
// order, taking the streams in turn whenever more than one may go on; an
// event is complete once the device has passed its recording, and a stream
// that waits on an event stops there until then. Host reads synchronise as
// CUDA documents: a copy to pageable host memory returns once it has run,
// and one from pageable memory takes the source before it returns (a copy
// from or to pinned memory does neither), cudaFree and cudaFreeHost wait
// for what every stream had queued.
//
// So code that reads a result before it has waited for it, frees or reuses
// memory that queued work still uses, or lets one stream use what another
// has not finished, reads stale values or has its data overwritten, here as
// on a GPU (where it would also depend on timing). What it still cannot
// show: two kernels at once (the device runs one operation at a time).
//
// Synchronous mode (TOADSTOOL_EMULATED_DEVICE=synchronous, or
// set_asynchronous(false)) runs each operation at once on the calling
// thread: the kernel tests of tests/cuda_emulation/, which read their
// buffers as soon as a backend entry returns, use it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace emu {

// Something a stream waits for that another thread ends (Device::finish):
// an NCCL collective, which waits for the other ranks (shim/nccl.h), or an
// event's recording, which the device ends when it gets there.
struct Completion {
  bool done = false;                           // under the device's mutex
  std::chrono::steady_clock::time_point at{};  // when it was ended
};

// One operation of a stream: `ready` (asked under the device's mutex; null:
// always) says whether it may start, `run` (null: nothing to do) does it on
// the device thread and returns what the stream must still wait for (null:
// nothing).
struct Operation {
  std::function<bool()> ready;
  std::function<std::shared_ptr<Completion>()> run;
};

// An operation that is done when `body` returns.
template <class Body>
Operation work(Body body) {
  return {nullptr, [body = std::move(body)]() mutable {
            body();
            return std::shared_ptr<Completion>();
          }};
}

}  // namespace emu

struct CUstream_st {
  std::deque<emu::Operation> queue;         // not started yet, in order
  uint64_t submitted = 0;                   // operations ever queued
  uint64_t started = 0;                     // of those, the ones the device took
  bool running = false;                     // the last one taken is running
  std::shared_ptr<emu::Completion> behind;  // what the last one left running
};

namespace emu {

class Device {
 public:
  // Never destroyed: its thread may still run while the process's statics go.
  static Device& get() {
    static Device* const device = new Device;
    return *device;
  }

  bool asynchronous() const { return asynchronous_.load(); }
  // Switches the mode once every stream has finished (no other thread may
  // submit meanwhile).
  void set_asynchronous(bool on) {
    synchronize();
    asynchronous_.store(on);
  }

  // A new stream, kept for the process's life (as the library's pool
  // streams are).
  CUstream_st* new_stream() {
    const std::lock_guard<std::mutex> lock(mutex_);
    streams_.push_back(new CUstream_st);
    return streams_.back();
  }

  // Queues `op` on `stream` (null: the default stream), or runs it now.
  void submit(CUstream_st* stream, Operation op) {
    stream = resolve(stream);
    if (!asynchronous_) {
      run_now(stream, op);
      return;
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      start_thread();
      stream->queue.push_back(std::move(op));
      ++stream->submitted;
    }
    changed_.notify_all();
  }

  // Queues `op` and returns once it has run.
  void submit_and_wait(CUstream_st* stream, Operation op) {
    auto ran = std::make_shared<Completion>();
    submit(stream, {std::move(op.ready), [this, run = std::move(op.run), ran] {
                      std::shared_ptr<Completion> behind = run ? run() : nullptr;
                      finish(*ran);
                      return behind;
                    }});
    wait_until([&] { return ran->done; });
  }

  // Ends what an operation left running.
  void finish(Completion& completion) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      completion.done = true;
      completion.at = std::chrono::steady_clock::now();
    }
    changed_.notify_all();
  }

  // Runs `change` under the device's mutex.
  template <class Change>
  void update(Change change) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      change();
    }
    changed_.notify_all();
  }

  // read() under the device's mutex.
  template <class Read>
  auto locked(Read read) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return read();
  }

  // Blocks until `done` holds (asked under the device's mutex), or the
  // device has stopped at the process's exit.
  template <class Done>
  void wait_until(Done done) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || done(); });
  }

  // Whether what was queued on the stream so far has finished (call under
  // the device's mutex: locked, wait_until).
  bool idle(CUstream_st* stream) {
    stream = resolve(stream);
    return finished(stream, stream->submitted);
  }
  // Waits for what was queued on the stream (on every stream) before the
  // call, as CUDA does; not for what other threads queue meanwhile.
  void synchronize(CUstream_st* stream) {
    stream = resolve(stream);
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t count = stream->submitted;
    changed_.wait(lock, [&] { return stopped_ || finished(stream, count); });
  }
  void synchronize() {
    std::unique_lock<std::mutex> lock(mutex_);
    std::vector<std::pair<CUstream_st*, uint64_t>> marks;
    marks.reserve(streams_.size());
    for (CUstream_st* s : streams_) marks.emplace_back(s, s->submitted);
    changed_.wait(lock, [&] {
      return stopped_ || std::all_of(marks.begin(), marks.end(),
                                     [](const auto& m) { return finished(m.first, m.second); });
    });
  }

 private:
  Device() : streams_{&default_} {
    const char* mode = std::getenv("TOADSTOOL_EMULATED_DEVICE");
    asynchronous_ = mode == nullptr || std::string(mode) != "synchronous";
  }

  CUstream_st* resolve(CUstream_st* stream) { return stream != nullptr ? stream : &default_; }
  static bool blocked(const CUstream_st* s) { return s->behind != nullptr && !s->behind->done; }
  // The stream's first `count` operations have finished: a later one has
  // started (a stream starts one only when the one before has finished), or
  // the count-th has run and left nothing running.
  static bool finished(const CUstream_st* s, uint64_t count) {
    return s->started > count || (s->started == count && !s->running && !blocked(s));
  }
  static bool startable(const CUstream_st* s) {
    return !s->queue.empty() && !s->running && !blocked(s) &&
           (!s->queue.front().ready || s->queue.front().ready());
  }

  // On the calling thread, once what went before on the stream has finished.
  void run_now(CUstream_st* stream, Operation& op) {
    wait_until([&] { return idle(stream) && (!op.ready || op.ready()); });
    std::shared_ptr<Completion> behind = op.run ? op.run() : nullptr;
    if (behind != nullptr) wait_until([&] { return behind->done; });
  }

  // Called with mutex_ held.
  void start_thread() {
    if (started_) return;
    started_ = true;
    std::thread([this] { loop(); }).detach();
    // At exit the device stops after its running operation, and every wait
    // for it returns: what is still queued is dropped, as when a process
    // with work on its GPU exits. (What the device thread uses is never
    // destroyed: the emulator's stacks, the memory tables.)
    std::atexit([] {
      Device& device = get();
      std::unique_lock<std::mutex> lock(device.mutex_);
      device.stopped_ = true;
      device.changed_.wait(lock, [&] { return !device.busy_; });
    });
  }

  // The device thread: one operation at a time, the streams in turn.
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      CUstream_st* next = nullptr;
      changed_.wait(lock, [&] { return stopped_ || (next = pick()) != nullptr; });
      if (stopped_) return;
      Operation op = std::move(next->queue.front());
      next->queue.pop_front();
      ++next->started;
      next->running = true;
      busy_ = true;
      lock.unlock();
      std::shared_ptr<Completion> behind = op.run ? op.run() : nullptr;
      op = {};  // what it holds goes without the lock (an NCCL model's Progress may)
      lock.lock();
      next->running = false;
      next->behind = std::move(behind);
      busy_ = false;
      changed_.notify_all();
    }
  }

  // A stream whose next operation may start, from the one after the last
  // stream run on (so that no stream waits behind a busy one).
  CUstream_st* pick() {
    for (size_t i = 0; i < streams_.size(); ++i) {
      const size_t at = (turn_ + i) % streams_.size();
      if (startable(streams_[at])) {
        turn_ = at + 1;
        return streams_[at];
      }
    }
    return nullptr;
  }

  std::mutex mutex_;
  std::condition_variable changed_;  // any stream, event or completion changed
  std::atomic<bool> asynchronous_{true};
  bool started_ = false;
  bool stopped_ = false;
  bool busy_ = false;                  // the device thread is running an operation
  CUstream_st default_;                // the null stream's
  std::vector<CUstream_st*> streams_;  // the default stream's, then every new one
  size_t turn_ = 0;
};

}  // namespace emu
