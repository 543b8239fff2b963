#include "toadstool/distributed/work.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "toadstool/tensor/error.h"

namespace toadstool::distributed {

Work::Work(std::string description, Clock::time_point deadline)
    : describe_([description = std::move(description)] { return description; }),
      deadline_(deadline) {}

Work::Work(Describer describe, Clock::time_point deadline)
    : describe_(std::move(describe)), deadline_(deadline) {}

bool Work::is_completed() const { return finished_.load(std::memory_order_acquire); }

void Work::wait() {
  if (finished_.load(std::memory_order_acquire)) {  // state_ and error_ are final
    if (state_ == State::Failed) throw Error(error_);
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool finished =
        done_.wait_until(lock, deadline_ + kStuckGrace, [&] { return state_ != State::Pending; });
    if (finished) {
      if (state_ == State::Failed) throw Error(error_);
      return;
    }
  }
  on_stuck();
  throw Error(detail::concat(description(), ": still not finished ", kStuckGrace.count(),
                             " s past its deadline, and the backend has not reported a timeout"));
}

void Work::on_stuck() {}

void Work::exit_stuck(const char* why) const {
  std::fprintf(stderr,
               "toadstool.distributed: %s: not finished %lld s past its deadline and %s; "
               "ending this process\n",
               description().c_str(), static_cast<long long>(kStuckGrace.count()), why);
  std::fflush(stderr);
  std::_Exit(1);
}

void Work::mark_completed() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != State::Pending) return;
    state_ = State::Completed;
    finished_.store(true, std::memory_order_release);
  }
  done_.notify_all();
}

void Work::mark_failed(std::string message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != State::Pending) return;
    state_ = State::Failed;
    error_ = std::move(message);
    finished_.store(true, std::memory_order_release);
  }
  done_.notify_all();
}

}  // namespace toadstool::distributed
