// init_process_group: the backend by name. The MPI and NCCL backends'
// sources are compiled only in a build with them
// (cmake/toadstool_mpi.cmake, cmake/toadstool_nccl.cmake).
#include "toadstool/config.h"
#include "toadstool/distributed/process_group.h"
#include "toadstool/tensor/error.h"

#if TOADSTOOL_WITH_MPI
#include "toadstool/distributed/mpi/process_group_mpi.h"
#endif
#if TOADSTOOL_WITH_NCCL
#include "toadstool/distributed/nccl/process_group_nccl.h"
#endif

namespace toadstool::distributed {

namespace {

// Why this build has no NCCL group (it needs the CUDA backend, MPI, and
// NCCL found at configure time).
[[maybe_unused]] const char* missing_for_nccl() {
  if (!TOADSTOOL_WITH_CUDA) return "without CUDA (configure with nvcc found, TOADSTOOL_CUDA=ON)";
  if (!TOADSTOOL_WITH_MPI) {
    return "without MPI, which launches the ranks and carries NCCL's unique id (configure with "
           "TOADSTOOL_MPI=ON and libopenmpi-dev installed)";
  }
  return "without NCCL (configure with TOADSTOOL_NCCL=ON and NCCL found: nccl.h and libnccl "
         "under the CUDA toolkit or NCCL_ROOT)";
}

}  // namespace

// options is unused in a build without MPI.
std::shared_ptr<ProcessGroup> init_process_group(
    const std::string& backend, [[maybe_unused]] const ProcessGroupOptions& options) {
  if (backend == "mpi") {
#if TOADSTOOL_WITH_MPI
    return ProcessGroupMpi::create(options);
#else
    throw Error(
        "init_process_group: backend 'mpi': this Toadstool was built without MPI "
        "(configure with TOADSTOOL_MPI=ON and an MPI library installed: libopenmpi-dev)");
#endif
  }
  if (backend == "nccl") {
#if TOADSTOOL_WITH_NCCL
    // Checked before MPI starts, so that a machine without a GPU gets this
    // message rather than a launch problem.
    TS_CHECK(cuda_is_available(),
             "init_process_group: backend 'nccl' needs a CUDA GPU, and this process sees none "
             "(cuda_is_available() is false)");
    // MPI launches the ranks, says which is which, and carries the unique
    // id; the NCCL group keeps nothing of it.
    const std::shared_ptr<ProcessGroupMpi> bootstrap = ProcessGroupMpi::create(options);
    return ProcessGroupNccl::create(*bootstrap, options);
#else
    throw Error(detail::concat("init_process_group: backend 'nccl': this Toadstool was built ",
                               missing_for_nccl()));
#endif
  }
  throw Error(detail::concat("init_process_group: unknown backend '", backend,
                             "' (this build knows 'mpi' and 'nccl')"));
}

}  // namespace toadstool::distributed
