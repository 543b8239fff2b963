#pragma once
// The MPI runtime of a process: one communication thread that makes every
// MPI call after (and including) MPI_Init_thread, for every MPI process
// group of the process. Internal header: includes <mpi.h>.
//
// Why one thread: Open MPI progresses a non-blocking collective only inside
// MPI calls. The thread starts each queued operation (MPI_Iallreduce, ...)
// and polls the active ones with MPI_Testsome until they complete, so the
// threads that issue collectives never block, and backward can run while
// gradients travel. It spins while an operation is active (as Open MPI's
// own blocking waits do) and sleeps on a condition variable when none is.
//
// Thread level: MPI_THREAD_SERIALIZED (as PyTorch's MPI backend). When
// Toadstool initialises MPI, the thread also calls MPI_Init_thread and
// MPI_Finalize, so FUNNELED would do; SERIALIZED lets it adopt an MPI that
// the application initialised itself (from its main thread): the
// application may then make its own MPI calls while no Toadstool
// collective is outstanding, and must destroy its groups before calling
// MPI_Finalize.
#include <mpi.h>

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

  // Queues op; the thread starts operations in queue order. False (and op
  // untouched) once the runtime has shut down.
  bool submit(Op& op);

  // Drains the queue and the active operations, meets every rank at a
  // barrier (bounded by the exit timeout: a rank that never arrives aborts
  // the job) and finalises MPI when Toadstool initialised it; then the
  // thread ends. Called at exit (std::atexit); idempotent.
  void shutdown();

  // "toadstool.distributed: <message>" on stderr, then MPI_Abort: for what
  // cannot be recovered. Callable from the communication thread only.
  [[noreturn]] static void abort_job(const std::string& message);
  // MPI's text for an error code.
  static std::string error_string(int code);

 private:
  struct Active;
  Runtime() = default;
  void init();  // on the thread, before the loop
  void loop();
  // Starts a dequeued operation; one with a request joins `active`.
  void start(Op& op, std::vector<Active>& active);
  // One MPI_Testsome over the active operations, then the timeouts. True
  // when one completed.
  bool poll(std::vector<Active>& active);
  void exit_barrier();

  std::thread thread_;
  // MPI_Testsome's arrays, kept between polls.
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;
  std::vector<MPI_Status> statuses_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  bool owns_mpi_ = false;  // Toadstool called MPI_Init_thread, so it finalises

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  std::chrono::duration<double> exit_timeout_{0};
};

}  // namespace toadstool::distributed::mpi
