#include "toadstool/distributed/mpi/runtime.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <utility>

#include "toadstool/tensor/error.h"

namespace toadstool::distributed::mpi {

using detail::concat;

namespace {

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "an unknown thread level";
  }
}

// Throws an Error naming the MPI call for a failure during set-up (the
// runtime's errors return once MPI_ERRORS_RETURN is set on the world).
void check(int rc, const char* call) {
  TS_CHECK(rc == MPI_SUCCESS, "init_process_group: ", call, " failed: ", Runtime::error_string(rc));
}

}  // namespace

struct Runtime::Active {
  Op op;
  MPI_Request request = MPI_REQUEST_NULL;
  bool timed_out = false;  // failed already (abort_on_timeout off); dropped on completion
};

Runtime& Runtime::get(std::chrono::duration<double> exit_timeout) {
  static std::mutex mutex;
  static Runtime* runtime = nullptr;      // never freed: see the header
  static std::string* failure = nullptr;  // why the first start failed
  std::lock_guard<std::mutex> lock(mutex);
  if (failure != nullptr) throw Error(*failure);
  if (runtime == nullptr) {
    auto* created = new Runtime();
    std::promise<void> ready;
    std::future<void> started = ready.get_future();
    created->thread_ = std::thread([created, &ready] {
      try {
        created->init();
      } catch (...) {
        ready.set_exception(std::current_exception());
        return;
      }
      ready.set_value();
      created->loop();
    });
    try {
      started.get();
    } catch (const std::exception& e) {
      created->thread_.join();
      delete created;
      failure = new std::string(e.what());
      throw;
    }
    runtime = created;
    std::atexit([] { runtime->shutdown(); });
  }
  {
    std::lock_guard<std::mutex> state(runtime->mutex_);
    runtime->exit_timeout_ = std::max(runtime->exit_timeout_, exit_timeout);
  }
  return *runtime;
}

std::string Runtime::error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return concat("MPI error ", code);
  return concat(std::string(text, static_cast<size_t>(length)), " (MPI error ", code, ")");
}

namespace {
// Set before MPI_Abort: should it end the process through exit(), the
// atexit shutdown must not wait for the communication thread, which may be
// blocked on the MPI mutex that the aborting thread holds.
std::atomic<bool> aborting{false};
}  // namespace

void Runtime::abort_job(const std::string& message) {
  aborting = true;
  std::fprintf(stderr, "toadstool.distributed: %s\n", message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; should it, the rank still ends
}

void Runtime::init() {
  int initialized = 0;
  check(MPI_Initialized(&initialized), "MPI_Initialized");
  int provided = MPI_THREAD_SINGLE;
  if (initialized == 0) {
    // Open MPI's non-blocking all-reduce (coll/libnbc) picks recursive
    // doubling for fewer than 4 ranks and for small messages, at 0.4x the
    // bus bandwidth of its blocking MPI_Allreduce from 1 MiB up; its ring
    // matches it (docs/distributed.md, "Benchmark"). A user's own setting
    // of the parameter wins (overwrite 0); other MPIs ignore the variable.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "ring", 0);
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    owns_mpi_ = true;
  } else {
    int finalized = 0;
    check(MPI_Finalized(&finalized), "MPI_Finalized");
    TS_CHECK(finalized == 0, "init_process_group: MPI has already been finalised");
    check(MPI_Query_thread(&provided), "MPI_Query_thread");
  }
  TS_CHECK(
      provided >= MPI_THREAD_SERIALIZED, "init_process_group: MPI provides ",
      thread_level_name(provided), "; the communication thread needs MPI_THREAD_SERIALIZED or more",
      owns_mpi_ ? "" : " (initialise MPI with MPI_Init_thread(..., MPI_THREAD_SERIALIZED, ...))");
  // Errors come back as codes, which become messages naming the rank and
  // the collective (then MPI_Abort), rather than MPI's own abort.
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  // The local rank: this process's rank among those sharing its memory
  // (its machine), whatever the launcher.
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(node, &local_rank_), "MPI_Comm_rank");
  check(MPI_Comm_free(&node), "MPI_Comm_free");
}

bool Runtime::submit(Op& op) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(std::move(op));
    queued_.store(true, std::memory_order_release);
    last_submit_ = Work::Clock::now();
    wake = deep_sleep_;
  }
  {
    // Busy: the thread in MPI starts the queue on its next progress().
    std::unique_lock<std::mutex> mpi(mpi_mutex_, std::try_to_lock);
    if (mpi.owns_lock()) progress();
  }
  // A thread wake-up costs more than a small collective: the communication
  // thread, unless in its deep sleep, finds the operation on its next tick.
  if (wake) wake_.notify_one();
  return true;
}

bool Runtime::run_blocking(const Work::Describer& describe, std::chrono::duration<double> timeout,
                           const std::function<void()>& finish, const std::function<int()>& call) {
  if (groups_.load(std::memory_order_relaxed) != 1) return false;
  std::unique_lock<std::mutex> mpi(mpi_mutex_, std::try_to_lock);
  if (!mpi.owns_lock() || !active_.empty() || queued_.load() || stopping_.load()) return false;
  blocking_timeout_ = timeout;
  // Only this thread writes it (under the MPI lock); the store of blocking_
  // below publishes it.
  blocking_number_.store(blocking_number_.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
  blocking_.store(&describe);
  // The thread watches the call while it ticks; from its deep sleep it
  // must be woken (under mutex_, so that it is already waiting). The two
  // sequentially consistent stores and loads (blocking_ here, deep_sleep_
  // there) make sure one side sees the other.
  if (deep_sleep_.load()) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_one();
  }
  const int rc = call();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    blocking_.store(nullptr);
  }
  if (rc != MPI_SUCCESS) {
    abort_job(concat(describe(), ": MPI error: ", error_string(rc), "; aborting the job"));
  }
  if (finish) finish();
  // Collectives other threads issued meanwhile.
  if (queued_.load()) progress();
  return true;
}

void Runtime::watch_blocking_call() {
  const Work::Describer* blocking = blocking_.load();
  if (blocking == nullptr) return;
  // The number says whether this is the call seen last time: calls follow
  // each other faster than the thread ticks.
  const uint64_t number = blocking_number_.load(std::memory_order_relaxed);
  const Work::Clock::time_point now = Work::Clock::now();
  if (number != watched_number_) {
    watched_number_ = number;
    watched_since_ = now;
    return;
  }
  // A blocking call past its timeout will not return: end the process
  // (the thread in MPI holds the MPI lock, so no MPI_Abort).
  if (now - watched_since_ > blocking_timeout_) {
    std::fprintf(stderr, "toadstool.distributed: %s; ending this process\n",
                 timeout_message((*blocking)(), blocking_timeout_).c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }
}

std::string Runtime::timeout_message(const std::string& description,
                                     std::chrono::duration<double> timeout) {
  return concat(description, ": timed out after ", timeout.count(),
                " s: not every rank has joined it (a rank may have died or hung, or the ranks "
                "issued their collectives in different orders)");
}

void Runtime::drive(const Work& work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++waiters_;
  }
  const Work::Clock::time_point give_up = work.deadline() + Work::kStuckGrace;
  // Polls back to back at first, as MPI's own blocking calls do (a yield is
  // a system call, longer than a small message's round trip); then yields
  // between polls, so that a long wait leaves the core to others.
  for (int polls = 0; !work.is_completed(); ++polls) {
    // The clock only now and then: reading it costs as much as the rest of
    // a poll's bookkeeping.
    if (polls % kPollsPerClockRead == 0 && Work::Clock::now() >= give_up) break;
    bool completed = false;
    {
      std::unique_lock<std::mutex> mpi(mpi_mutex_, std::try_to_lock);
      if (mpi.owns_lock()) completed = progress();
    }
    if (!completed && polls >= kPollsBeforeYield) std::this_thread::yield();
  }
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --waiters_;
    wake = deep_sleep_ && has_active_;
  }
  // Operations still active (issued by others, or never to complete): the
  // communication thread takes them over.
  if (wake) wake_.notify_one();
}

void Runtime::start(Op& op) {
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = op.start(&request);
  if (rc != MPI_SUCCESS) {
    abort_job(
        concat(op.work->description(), ": MPI error: ", error_string(rc), "; aborting the job"));
  }
  if (request == MPI_REQUEST_NULL) {
    if (op.finish) op.finish();
    op.work->mark_completed();
    return;
  }
  active_.push_back(Active{std::move(op), request, false});
}

bool Runtime::poll() {
  const int n = static_cast<int>(active_.size());
  requests_.resize(n);
  indices_.resize(n);
  statuses_.resize(n);
  for (int i = 0; i < n; ++i) requests_[i] = active_[i].request;
  int count = 0;
  const int rc = MPI_Testsome(n, requests_.data(), &count, indices_.data(), statuses_.data());
  if (rc == MPI_ERR_IN_STATUS) {
    for (int k = 0; k < count; ++k) {
      const int code = statuses_[k].MPI_ERROR;
      if (code != MPI_SUCCESS) {
        abort_job(concat(active_[indices_[k]].op.work->description(),
                         ": MPI error: ", error_string(code), "; aborting the job"));
      }
    }
  } else if (rc != MPI_SUCCESS) {
    std::string what;
    for (const Active& a : active_) what += concat("\n  ", a.op.work->description());
    abort_job(concat("MPI_Testsome failed: ", error_string(rc), ", with active:", what,
                     "\naborting the job"));
  }
  if (count == MPI_UNDEFINED) count = 0;
  for (int k = 0; k < count; ++k) {
    Active& a = active_[indices_[k]];
    a.request = MPI_REQUEST_NULL;
    if (!a.timed_out) {
      if (a.op.finish) a.op.finish();
      a.op.work->mark_completed();
    }
  }
  if (count > 0) {
    // Dropping an Op releases its tensors (here, on this thread).
    std::erase_if(active_, [](const Active& a) { return a.request == MPI_REQUEST_NULL; });
  }

  // Deadlines are seconds away: every kPollsPerClockRead-th poll looks.
  if (++polls_since_deadline_check_ < kPollsPerClockRead) return count > 0;
  polls_since_deadline_check_ = 0;
  const Work::Clock::time_point now = Work::Clock::now();
  for (Active& a : active_) {
    if (a.timed_out || now < a.op.work->deadline()) continue;
    const std::string message = timeout_message(a.op.work->description(), a.op.timeout);
    if (a.op.abort_on_timeout) abort_job(message + "; aborting the job");
    a.timed_out = true;
    if (a.op.on_timeout) a.op.on_timeout();
    a.op.work->mark_failed(message + "; the process group is unusable from now on");
  }
  return count > 0;
}

bool Runtime::progress() {
  if (queued_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming_.swap(queue_);  // incoming_ is empty between calls
    queued_.store(false, std::memory_order_relaxed);
  }
  for (Op& op : incoming_) start(op);
  incoming_.clear();
  const bool completed = !active_.empty() && poll();
  const bool stalled =
      std::all_of(active_.begin(), active_.end(), [](const Active& a) { return a.timed_out; });
  const bool active = !active_.empty();
  if (active != published_active_ || stalled != published_stalled_) {
    std::lock_guard<std::mutex> lock(mutex_);
    has_active_ = published_active_ = active;
    stalled_ = published_stalled_ = stalled;
  }
  return completed;
}

void Runtime::loop() {
  for (;;) {
    bool stalled = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto needed = [&] {
        // (While a blocking call runs this thread watches it, rather than
        // wait for the MPI lock: run_blocking() starts what was queued.)
        return stopping_ ||
               ((!queue_.empty() || has_active_) && waiters_ == 0 && blocking_.load() == nullptr);
      };
      while (!needed()) {
        watch_blocking_call();
        // Ticks while collectives come often (submit() then need not wake
        // this thread) or a blocking call runs; deep sleep, woken by
        // submit(), after a quiet spell.
        if (blocking_.load() != nullptr || Work::Clock::now() - last_submit_ < kLinger) {
          wake_.wait_for(lock, kTick);
        } else {
          deep_sleep_ = true;
          // (run_blocking() set blocking_ before it read deep_sleep_.)
          if (blocking_.load() == nullptr) wake_.wait(lock);
          deep_sleep_ = false;
        }
      }
      // At shutdown: once the queue is empty and every active operation has
      // completed (or timed out, never to complete).
      if (stopping_ && queue_.empty() && stalled_) break;
      stalled = stalled_ && queue_.empty();
    }
    bool completed = false;
    {
      // Never wait for the MPI lock: its holder may be a blocking call
      // (run_blocking), which this thread must watch, not queue behind.
      std::unique_lock<std::mutex> mpi(mpi_mutex_, std::try_to_lock);
      if (!mpi.owns_lock()) {
        std::this_thread::yield();
        continue;
      }
      completed = progress();
    }
    if (completed) continue;
    // Nothing completed: let the threads that compute run, then poll again.
    // Only timed-out operations left: poll rarely.
    if (stalled) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else {
      std::this_thread::yield();
    }
  }
  if (owns_mpi_) {
    std::lock_guard<std::mutex> mpi(mpi_mutex_);
    exit_barrier();
    MPI_Finalize();
  }
}

void Runtime::exit_barrier() {
  // A rank that reaches MPI_Finalize while another still waits in a
  // collective would wait there for ever (Open MPI's finalisation meets
  // every rank): meet them here first, within the timeout.
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Ibarrier(MPI_COMM_WORLD, &request);
  const auto deadline =
      Work::Clock::now() + std::chrono::duration_cast<Work::Clock::duration>(exit_timeout_);
  for (int done = 0; rc == MPI_SUCCESS;) {
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS || done != 0) break;
    if (Work::Clock::now() > deadline) {
      abort_job(concat("rank ", rank_, " of ", size_,
                       ": at exit, not every rank reached the end "
                       "within ",
                       exit_timeout_.count(),
                       " s (a rank may still wait in a "
                       "collective this one never issued, or have hung); aborting the job"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (rc != MPI_SUCCESS) {
    abort_job(concat("rank ", rank_, " of ", size_,
                     ": the barrier at exit failed: ", error_string(rc), "; aborting the job"));
  }
}

void Runtime::shutdown() {
  // exit() called on the thread itself, or during MPI_Abort (which may exit
  // that way): it cannot join itself, and the job is ending anyway.
  if (aborting || std::this_thread::get_id() == thread_.get_id()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace toadstool::distributed::mpi
