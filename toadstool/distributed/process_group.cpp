#include "toadstool/distributed/process_group.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::distributed {

using detail::concat;
using detail::describe;

namespace {

constexpr double kDefaultTimeoutSeconds = 300;

// The bytes [begin, end) a contiguous tensor occupies.
struct ByteRange {
  const char* begin;
  const char* end;
};
ByteRange bytes_of(const Tensor& t) {
  const char* begin = static_cast<const char*>(t.data_ptr());
  return {begin, begin + t.numel() * static_cast<int64_t>(t.element_size())};
}
bool overlap(const Tensor& a, const Tensor& b) {
  if (!a.shares_storage(b) || a.numel() == 0 || b.numel() == 0) return false;
  const ByteRange x = bytes_of(a), y = bytes_of(b);
  return x.begin < y.end && y.begin < x.end;
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Average: return "average";
  }
  return "unknown";
}

std::chrono::duration<double> resolve_timeout(const ProcessGroupOptions& options) {
  if (options.timeout) {
    TS_CHECK(options.timeout->count() > 0, "init_process_group: the timeout must be positive, got ",
             options.timeout->count(), " s");
    return *options.timeout;
  }
  const char* env = std::getenv("TOADSTOOL_DIST_TIMEOUT_S");
  if (env == nullptr || *env == '\0') return std::chrono::duration<double>(kDefaultTimeoutSeconds);
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(env, &end);
  TS_CHECK(
      errno == 0 && *end == '\0' && std::isfinite(seconds) && seconds > 0,
      "init_process_group: TOADSTOOL_DIST_TIMEOUT_S must be a positive number of seconds, got '",
      env, "'");
  return std::chrono::duration<double>(seconds);
}

ProcessGroup::ProcessGroup(int rank, int size, int local_rank,
                           std::chrono::duration<double> timeout)
    : rank_(rank), size_(size), local_rank_(local_rank), timeout_(timeout) {}

std::string ProcessGroup::where(const char* collective) const {
  return concat(collective, " (rank ", rank_, " of ", size_, ")");
}

void ProcessGroup::check_tensor(const char* collective, const char* name,
                                const Tensor& tensor) const {
  TS_CHECK(tensor.defined(), where(collective), ": ", name, " is an undefined tensor");
  check_device(collective, tensor);
  TS_CHECK(tensor.is_contiguous(), where(collective), ": ", name, " must be contiguous, got ",
           describe(tensor), " with strides ", tensor.strides());
}

bool ProcessGroup::reduces(DType dtype) const {
  return dtype == kFloat32 || dtype == kFloat64 || dtype == kInt64;
}

std::string ProcessGroup::reducible_dtypes() const { return "float32, float64 or int64"; }

void ProcessGroup::check_reducible(const char* collective, const Tensor& tensor,
                                   ReduceOp op) const {
  const DType dt = tensor.dtype();
  TS_CHECK(reduces(dt), where(collective), ": the ", backend(), " process group reduces ",
           reducible_dtypes(), " tensors, got ", describe(tensor));
  TS_CHECK(op != ReduceOp::Average || is_floating(dt), where(collective),
           ": ReduceOp::Average needs a ",
           reduces(kBFloat16) ? "float32, float64, bfloat16 or float16" : "float32 or float64",
           " tensor, got ", describe(tensor));
}

std::shared_ptr<Work> ProcessGroup::all_reduce(Tensor& tensor, ReduceOp op, bool async_op) {
  check_tensor("all_reduce", "the tensor", tensor);
  check_reducible("all_reduce", tensor, op);
  tensor.bump_version();
  std::shared_ptr<Work> work = do_all_reduce(tensor, op, !async_op);
  if (!async_op) work->wait();
  return work;
}

std::shared_ptr<Work> ProcessGroup::broadcast(Tensor& tensor, int root) {
  check_tensor("broadcast", "the tensor", tensor);
  TS_CHECK(root >= 0 && root < size_, where("broadcast"), ": root ", root,
           " is out of range for a group of size ", size_);
  if (rank_ != root) tensor.bump_version();
  return do_broadcast(tensor, root);
}

std::shared_ptr<Work> ProcessGroup::all_gather(Tensor& output, const Tensor& input) {
  check_tensor("all_gather", "the output", output);
  check_tensor("all_gather", "the input", input);
  TS_CHECK(output.dtype() == input.dtype(), where("all_gather"),
           ": output and input must have the same dtype, got output ", describe(output),
           " and input ", describe(input));
  const int64_t n = input.numel();
  TS_CHECK(output.numel() == size_ * n, where("all_gather"), ": output must have size ", size_,
           " x input's ", n, " = ", size_ * n, " elements, got output ", describe(output),
           " for input ", describe(input));
  if (overlap(output, input)) {
    const char* slice = static_cast<const char*>(output.data_ptr()) +
                        rank_ * n * static_cast<int64_t>(input.element_size());
    TS_CHECK(input.data_ptr() == slice, where("all_gather"),
             ": input overlaps output without being this rank's slice of it (elements [", rank_ * n,
             ", ", (rank_ + 1) * n, ") of output ", describe(output), ")");
  }
  output.bump_version();
  return do_all_gather(output, input);
}

std::shared_ptr<Work> ProcessGroup::reduce_scatter(Tensor& output, const Tensor& input,
                                                   ReduceOp op) {
  check_tensor("reduce_scatter", "the output", output);
  check_tensor("reduce_scatter", "the input", input);
  check_reducible("reduce_scatter", input, op);
  TS_CHECK(output.dtype() == input.dtype(), where("reduce_scatter"),
           ": output and input must have the same dtype, got output ", describe(output),
           " and input ", describe(input));
  const int64_t n = output.numel();
  TS_CHECK(input.numel() == size_ * n, where("reduce_scatter"), ": input must have size ", size_,
           " x output's ", n, " = ", size_ * n, " elements, got input ", describe(input),
           " for output ", describe(output));
  TS_CHECK(!overlap(output, input), where("reduce_scatter"),
           ": output and input must not overlap, got output ", describe(output), " and input ",
           describe(input), " in the same storage");
  output.bump_version();
  return do_reduce_scatter(output, input, op);
}

std::shared_ptr<Work> ProcessGroup::barrier() { return do_barrier(); }

}  // namespace toadstool::distributed
