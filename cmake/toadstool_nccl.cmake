# TOADSTOOL_NCCL=AUTO|ON|OFF: the NCCL process group
# (toadstool/distributed/nccl/) is built when the CUDA backend and the MPI
# process group are both built (MPI launches the ranks and carries NCCL's
# unique id) and NCCL's header and library are found: AUTO builds it then,
# ON fails the configure otherwise. Without it init_process_group("nccl") is
# an Error that says why (docs/distributed.md).
#
# NCCL ships with the CUDA toolkit on the machines we build on
# (/usr/local/cuda/include/nccl.h, lib/libnccl.so); NCCL_ROOT (or $NCCL_HOME)
# points at another copy. NCCL has no CMake package of its own: a plain
# find_path / find_library.
#
# With TOADSTOOL_CUDA=EMULATED (tests only) the group compiles against
# tests/cuda_emulation/shim/nccl.h, a model of NCCL whose ranks are the
# processes of one machine (docs/distributed.md, "The NCCL group").
set(TOADSTOOL_NCCL_ENABLED OFF)
set(TOADSTOOL_NCCL_EMULATED OFF)
if(NOT TOADSTOOL_NCCL STREQUAL "OFF")
  if(TOADSTOOL_CUDA_EMULATED AND TOADSTOOL_MPI_ENABLED)
    set(TOADSTOOL_NCCL_ENABLED ON)
    set(TOADSTOOL_NCCL_EMULATED ON)
    message(STATUS "Toadstool: the NCCL process group over the NCCL model (emulated CUDA)")
  elseif(TOADSTOOL_CUDA_ENABLED AND NOT TOADSTOOL_CUDA_EMULATED AND TOADSTOOL_MPI_ENABLED)
    set(nccl_hints ${NCCL_ROOT} $ENV{NCCL_HOME} ${CUDAToolkit_LIBRARY_ROOT})
    find_path(TOADSTOOL_NCCL_INCLUDE_DIR nccl.h
      HINTS ${nccl_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
    find_library(TOADSTOOL_NCCL_LIBRARY nccl
      HINTS ${nccl_hints} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64)
    if(TOADSTOOL_NCCL_INCLUDE_DIR AND TOADSTOOL_NCCL_LIBRARY)
      set(TOADSTOOL_NCCL_ENABLED ON)
      message(STATUS "Toadstool: NCCL process group (${TOADSTOOL_NCCL_LIBRARY})")
    elseif(TOADSTOOL_NCCL STREQUAL "ON")
      message(FATAL_ERROR "TOADSTOOL_NCCL=ON but NCCL was not found (nccl.h: "
                          "${TOADSTOOL_NCCL_INCLUDE_DIR}, libnccl: ${TOADSTOOL_NCCL_LIBRARY}); "
                          "set NCCL_ROOT to its install prefix")
    else()
      message(STATUS "Toadstool: no NCCL found; built without the NCCL process group")
    endif()
  elseif(TOADSTOOL_NCCL STREQUAL "ON")
    message(FATAL_ERROR "TOADSTOOL_NCCL=ON needs the CUDA backend and the MPI process group "
                        "(cuda enabled: ${TOADSTOOL_CUDA_ENABLED}, mpi enabled: "
                        "${TOADSTOOL_MPI_ENABLED})")
  endif()
endif()

# The NCCL sources of the library (toadstool/distributed/nccl/*.cpp, which
# the library's own glob leaves out), and what they link. Only these files
# include <nccl.h> (which includes the CUDA runtime's header: the include
# directories come with CUDA::cudart_static, linked by toadstool_add_cuda).
# The library is linked by its path, so the installed package needs nothing
# more to find it. With the linker's --as-needed (Debian's default), only a
# program that reaches init_process_group or ProcessGroupNccl depends on
# libnccl.so.
function(toadstool_add_nccl library)
  if(NOT TOADSTOOL_NCCL_ENABLED)
    return()
  endif()
  file(GLOB nccl_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/toadstool/distributed/nccl/*.cpp)
  target_sources(${library} PRIVATE ${nccl_sources})
  if(TOADSTOOL_NCCL_EMULATED)
    # Alone, not in a unity file: the shim headers define CUDA's keywords
    # as macros.
    set_source_files_properties(${nccl_sources} TARGET_DIRECTORY ${library} PROPERTIES
      SKIP_UNITY_BUILD_INCLUSION ON
      INCLUDE_DIRECTORIES ${PROJECT_SOURCE_DIR}/tests/cuda_emulation/shim)
    return()
  endif()
  target_include_directories(${library} PRIVATE $<BUILD_INTERFACE:${TOADSTOOL_NCCL_INCLUDE_DIR}>)
  target_link_libraries(${library} PRIVATE ${TOADSTOOL_NCCL_LIBRARY})
endfunction()
