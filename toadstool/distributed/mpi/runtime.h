#pragma once
// The MPI runtime of a process: the MPI calls of every MPI process group
// of the process, made by a communication thread and by the threads that
// wait for a collective. Internal header: includes <mpi.h>.
//
// Why a thread: Open MPI progresses a non-blocking collective only inside
// MPI calls. While operations are active and nobody waits for one, the
// thread polls them with MPI_Testsome until they complete, so that backward
// can run while gradients travel. It spins while an operation is active (as
// Open MPI's own blocking waits do) and sleeps on a condition variable when
// none is, or while a waiter polls instead.
//
// Why the callers too: handing each collective to the thread and waking the
// waiter afterwards costs two thread wake-ups, more than a small
// all-reduce itself (3 us in raw MPI). So the thread that issues a
// collective starts it itself when no other thread is in MPI (in issue
// order: it starts the queue before it), and the thread that waits for one
// polls MPI itself (the communication thread sleeping meanwhile), as a
// blocking MPI_Allreduce would. One mutex serialises every MPI call. A
// small synchronous all-reduce goes further: one blocking MPI call on its
// own thread, watched by the communication thread (run_blocking).
//
// Thread level: MPI_THREAD_SERIALIZED (as PyTorch's MPI backend): any
// thread may call MPI, never two at once. It also lets the runtime adopt an
// MPI that the application initialised itself (from its main thread): the
// application may then make its own MPI calls while no Toadstool
// collective is outstanding, and must destroy its groups before calling
// MPI_Finalize.
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "toadstool/distributed/work.h"

namespace toadstool::distributed::mpi {

// One operation for the communication thread.
struct Op {
  // Completed or failed by the thread.
  std::shared_ptr<Work> work;
  // Starts the operation: a non-blocking MPI call that sets *request, or a
  // local one that leaves it MPI_REQUEST_NULL (complete at once). Returns
  // an MPI error code; anything but MPI_SUCCESS aborts the job.
  std::function<int(MPI_Request* request)> start;
  // Runs on the thread once the request has completed (the division of an
  // average, recording a new communicator); may be empty.
  std::function<void()> finish;
  // The group's timeout (the Work's deadline is the issue time plus it).
  // Past it: abort the job (abort_on_timeout), or fail the Work, call
  // on_timeout and drop the request when it completes, if ever.
  std::chrono::duration<double> timeout{0};
  bool abort_on_timeout = true;
  std::function<void()> on_timeout;
};

class Runtime {
 public:
  // The process's runtime. The first call starts the thread, which
  // initialises MPI (or adopts one already initialised with
  // MPI_THREAD_SERIALIZED or more) and learns the rank, size and local rank;
  // an Error if it cannot (and on every later call). exit_timeout bounds the
  // barrier at exit (the longest of the groups' timeouts is kept). The
  // runtime lives until the process ends (never destroyed, so that groups
  // in static storage may outlive everything); std::atexit shuts it down.
  static Runtime& get(std::chrono::duration<double> exit_timeout);

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }

  // Queues op, and starts the queue at once when no other thread is in MPI
  // (else the thread in MPI starts it); operations start in queue order.
  // False (and op untouched) once the runtime has shut down.
  bool submit(Op& op);

  // Runs a collective as `call`, one blocking MPI call on the calling
  // thread, then `finish` (may be empty), when that is safe: nothing queued
  // or active (so issue order holds), one live MPI process group (two could
  // be used in different orders on different ranks, which non-blocking
  // calls allow and blocking ones would deadlock on), and the MPI lock
  // free. Meanwhile the communication thread watches the call: `timeout`
  // after it first sees it (within a tick of the call's start), it prints
  // the timeout with `describe()` and ends the process (no MPI_Abort while
  // another thread is inside MPI); mpirun then ends the job. No Work and no
  // clock read here: this is the small synchronous all-reduce's fast path.
  // False when it did not run (submit() it instead).
  bool run_blocking(const Work::Describer& describe, std::chrono::duration<double> timeout,
                    const std::function<void()>& finish, const std::function<int()>& call);
  // The live MPI process groups (ProcessGroupMpi's constructor and
  // destructor).
  void add_group() { groups_.fetch_add(1, std::memory_order_relaxed); }
  void remove_group() { groups_.fetch_sub(1, std::memory_order_relaxed); }

  // Polls MPI on the calling thread (the communication thread sleeping
  // meanwhile) until `work` has completed or failed, or its deadline plus
  // Work::kStuckGrace has passed (then another thread is stuck inside MPI).
  void drive(const Work& work);

  // Drains the queue and the active operations, meets every rank at a
  // barrier (bounded by the exit timeout: a rank that never arrives aborts
  // the job) and finalises MPI when Toadstool initialised it; then the
  // thread ends. Called at exit (std::atexit); idempotent.
  void shutdown();

  // "toadstool.distributed: <message>" on stderr, then MPI_Abort: for what
  // cannot be recovered. Callable with the MPI mutex held only.
  [[noreturn]] static void abort_job(const std::string& message);
  // MPI's text for an error code.
  static std::string error_string(int code);

 private:
  struct Active;
  Runtime() = default;
  void init();  // on the thread, before the loop
  void loop();
  // With mpi_mutex_ held: starts the queued operations, then one
  // MPI_Testsome over the active ones and the timeouts. True when one
  // completed.
  bool progress();
  // Starts a dequeued operation; one with a request joins active_.
  void start(Op& op);
  bool poll();
  void exit_barrier();
  // The message of a collective past its deadline.
  static std::string timeout_message(const std::string& description,
                                     std::chrono::duration<double> timeout);
  // On the thread, with mutex_ held: ends the process if the blocking call
  // it watches has run for longer than its timeout.
  void watch_blocking_call();

  std::thread thread_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  bool owns_mpi_ = false;  // Toadstool called MPI_Init_thread, so it finalises

  // Held around every MPI call; guards what follows. Taken before mutex_.
  std::mutex mpi_mutex_;
  std::vector<Active> active_;
  std::deque<Op> incoming_;
  // MPI_Testsome's arrays, kept between polls.
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;
  std::vector<MPI_Status> statuses_;
  // has_active_ and stalled_ as last published (progress() takes mutex_
  // only to change them), and the polls since the deadlines were checked.
  bool published_active_ = false;
  bool published_stalled_ = true;
  int polls_since_deadline_check_ = 0;

  // queue_ is not empty (set under mutex_; progress() takes mutex_ only
  // when it is).
  std::atomic<bool> queued_{false};
  std::atomic<int> groups_{0};

  std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  std::deque<Op> queue_;
  bool has_active_ = false;  // active_ is not empty (for the thread's sleep)
  bool stalled_ = true;      // every active operation has timed out (or none is active)
  int waiters_ = 0;          // threads in drive(): the communication thread sleeps
  // The collective in run_blocking(), if any (its description), its group's
  // timeout and its number (counting the blocking calls): set without
  // mutex_ (the issuing thread's fast path), blocking_ cleared under it
  // (the communication thread reads the description under mutex_).
  std::atomic<const Work::Describer*> blocking_{nullptr};
  std::chrono::duration<double> blocking_timeout_{0};
  std::atomic<uint64_t> blocking_number_{0};
  // The thread's view of it: the number it last saw and since when.
  uint64_t watched_number_ = 0;
  Work::Clock::time_point watched_since_;
  // The communication thread sleeps in ticks of kTick until kLinger has
  // passed since the last submit(), then until woken (deep_sleep_).
  static constexpr std::chrono::milliseconds kTick{1};
  static constexpr std::chrono::milliseconds kLinger{4};
  // drive()'s polls before it starts yielding between them (about 50 us).
  static constexpr int kPollsBeforeYield = 1000;
  // Polls between two reads of the clock (deadlines, give-up times).
  static constexpr int kPollsPerClockRead = 256;
  Work::Clock::time_point last_submit_;
  // Also read without mutex_ by run_blocking() (written under it).
  std::atomic<bool> deep_sleep_{false};
  std::atomic<bool> stopping_{false};
  std::chrono::duration<double> exit_timeout_{0};
};

}  // namespace toadstool::distributed::mpi
