# TOADSTOOL_MPI=AUTO|ON|OFF: the MPI process group (toadstool/distributed/mpi/)
# is built when an MPI library is found (AUTO) or required (ON). Without it
# the library still builds, and init_process_group("mpi") is an Error that
# says the build has no MPI (docs/distributed.md).
#
# We call MPI's C API from C++: MPI_CXX_SKIP_MPICXX keeps MPI::MPI_CXX to
# the C library, without Open MPI's deprecated C++ bindings (libmpi_cxx).
set(TOADSTOOL_MPI_ENABLED OFF)
if(NOT TOADSTOOL_MPI STREQUAL "OFF")
  set(MPI_CXX_SKIP_MPICXX ON CACHE BOOL "Use MPI's C API from C++ (no libmpi_cxx)")
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(TOADSTOOL_MPI_ENABLED ON)
    message(STATUS "Toadstool: MPI process group (MPI ${MPI_CXX_VERSION}"
                   ", mpiexec: ${MPIEXEC_EXECUTABLE})")
  elseif(TOADSTOOL_MPI STREQUAL "ON")
    message(FATAL_ERROR "TOADSTOOL_MPI=ON but no MPI library was found "
                        "(Debian: apt-get install libopenmpi-dev openmpi-bin)")
  else()
    message(STATUS "Toadstool: no MPI found; built without the MPI process group")
  endif()
endif()

# The MPI sources of the library (toadstool/distributed/mpi/*.cpp, which the
# library's own glob leaves out), and what they link. Only these files
# include <mpi.h>; the public headers never do.
function(toadstool_add_mpi library)
  if(NOT TOADSTOOL_MPI_ENABLED)
    return()
  endif()
  file(GLOB mpi_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/toadstool/distributed/mpi/*.cpp)
  target_sources(${library} PRIVATE ${mpi_sources})
  target_link_libraries(${library} PRIVATE MPI::MPI_CXX)
endfunction()
