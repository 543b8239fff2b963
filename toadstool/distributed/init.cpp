// init_process_group: the backend by name. The MPI backend's sources are
// compiled only in a build with MPI (cmake/toadstool_mpi.cmake).
#include "toadstool/config.h"
#include "toadstool/distributed/process_group.h"
#include "toadstool/tensor/error.h"

#if TOADSTOOL_WITH_MPI
#include "toadstool/distributed/mpi/process_group_mpi.h"
#endif

namespace toadstool::distributed {

std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend,
                                                 const ProcessGroupOptions& options) {
  if (backend == "mpi") {
#if TOADSTOOL_WITH_MPI
    return ProcessGroupMpi::create(options);
#else
    throw Error(
        "init_process_group: backend 'mpi': this Toadstool was built without MPI "
        "(configure with TOADSTOOL_MPI=ON and an MPI library installed: libopenmpi-dev)");
#endif
  }
  TS_CHECK(backend != "nccl",
           "init_process_group: backend 'nccl' is not built yet (docs/distributed.md)");
  throw Error(detail::concat("init_process_group: unknown backend '", backend,
                             "' (this build knows 'mpi')"));
}

}  // namespace toadstool::distributed
