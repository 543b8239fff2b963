#pragma once
// Work: the handle a collective returns (PyTorch's c10d::Work). Collectives
// run asynchronously: the call that issues one returns at once, and the
// tensors it reads or writes must not be touched until wait() returns (or
// is_completed() is true). The backend completes or fails the handle from
// its own thread; wait() blocks the caller until then.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace toadstool::distributed {

class Work {
 public:
  using Clock = std::chrono::steady_clock;
  // How long wait() keeps waiting past the deadline for the backend to
  // report the timeout itself; past that the backend is stuck (on_stuck()).
  static constexpr std::chrono::seconds kStuckGrace{5};

  using Describer = std::function<std::string()>;

  // description names the collective for messages, e.g. "all_reduce (sum)
  // #12 of [4, 8] float32 on rank 1 of 2"; deadline is when the backend
  // gives up on it (the issue time plus the group's timeout).
  Work(std::string description, Clock::time_point deadline);
  // The same, with the description made only when a message asks for it:
  // formatting it costs about as much as a small all-reduce itself.
  Work(Describer describe, Clock::time_point deadline);
  virtual ~Work() = default;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  // True once the collective has finished, successfully or not (wait() then
  // returns at once, or throws).
  virtual bool is_completed() const;
  // Blocks until the collective has finished; throws toadstool::Error with
  // the backend's message if it failed or timed out. Waiting again returns
  // (or throws) the same way.
  virtual void wait();

  std::string description() const { return describe_(); }
  Clock::time_point deadline() const { return deadline_; }

  // For backends: the collective finished, or failed with `message`. The
  // first call counts; waiters wake up.
  void mark_completed();
  void mark_failed(std::string message);

 protected:
  // wait() calls this when deadline + kStuckGrace has passed and the
  // backend has neither completed nor failed the handle, then throws Error.
  // The default does nothing; a backend may end the process instead (so
  // that no rank hangs).
  virtual void on_stuck();
  // For a backend's on_stuck(): prints that this collective is not finished
  // kStuckGrace past its deadline and that `why` ("the communication thread
  // is unresponsive"), then ends the process (std::_Exit(1)): mpirun then
  // ends the job, as for any rank that exits without MPI_Finalize.
  [[noreturn]] void exit_stuck(const char* why) const;

 private:
  enum class State { Pending, Completed, Failed };
  const Describer describe_;
  const Clock::time_point deadline_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  State state_ = State::Pending;
  std::string error_;
  // state_ != Pending, readable without the mutex: a waiter polling MPI
  // asks after every poll.
  std::atomic<bool> finished_{false};
};

}  // namespace toadstool::distributed
