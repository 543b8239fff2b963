# TOADSTOOL_CUDA=AUTO|ON|OFF|EMULATED: the CUDA backend (toadstool/kernels/cuda/*.cu)
# is built when nvcc is found (AUTO) or required (ON). It targets sm_80 and
# sm_90 with PTX for later GPUs, and links the CUDA runtime and cuBLAS. A
# build with it still runs on a machine without a GPU: cuda_is_available()
# is false there and the `cuda` tests skip.
#
# TOADSTOOL_CUDA=EMULATED is for testing only: the same sources compile as
# C++ over the warp emulator of tests/cuda_emulation/ (its shim headers
# stand for the CUDA runtime, cuBLAS and CUB, and one sm_90 "device" whose
# memory is host memory runs every kernel on CPU threads, synchronously),
# so that the `cuda` tests, the examples' --device cuda and every CUDA path
# of the front-end run where no GPU is. Slow, and not a GPU: never for use.
set(TOADSTOOL_CUDA_ENABLED OFF)
set(TOADSTOOL_CUDA_EMULATED OFF)
if(TOADSTOOL_CUDA STREQUAL "EMULATED")
  set(TOADSTOOL_CUDA_ENABLED ON)
  set(TOADSTOOL_CUDA_EMULATED ON)
  find_package(Threads REQUIRED)
  message(WARNING "Toadstool: the CUDA backend is EMULATED on the CPU (tests only; no GPU is used)")
elseif(NOT TOADSTOOL_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TOADSTOOL_CUDA_ENABLED ON)
    message(STATUS "Toadstool: CUDA backend with nvcc ${CMAKE_CUDA_COMPILER_VERSION} "
                   "(architectures ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(TOADSTOOL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TOADSTOOL_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "Toadstool: no nvcc found; CPU backend only")
  endif()
endif()

# The CUDA sources of the library, and what they link.
function(toadstool_add_cuda library)
  if(NOT TOADSTOOL_CUDA_ENABLED)
    return()
  endif()
  file(GLOB cuda_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/toadstool/kernels/cuda/*.cu)
  if(TOADSTOOL_CUDA_EMULATED)
    # Each .cu through a generated C++ file that includes it, alone (not in
    # a unity file: the files' unnamed namespaces share names), with the
    # shim headers in place of CUDA's.
    set(shim ${PROJECT_SOURCE_DIR}/tests/cuda_emulation/shim)
    foreach(source IN LISTS cuda_sources)
      get_filename_component(name ${source} NAME_WE)
      set(wrapper ${PROJECT_BINARY_DIR}/cuda_emulated/${name}.cpp)
      file(CONFIGURE OUTPUT ${wrapper} CONTENT "#include \"${source}\"\n" @ONLY)
      target_sources(${library} PRIVATE ${wrapper})
      set_source_files_properties(${wrapper} TARGET_DIRECTORY ${library} PROPERTIES
        SKIP_UNITY_BUILD_INCLUSION ON INCLUDE_DIRECTORIES ${shim})
    endforeach()
    target_link_libraries(${library} PRIVATE Threads::Threads)
    return()
  endif()
  target_sources(${library} PRIVATE ${cuda_sources})
  # C++17 for the .cu files (CMake 3.25 knows no C++20 flag for nvcc): the
  # headers they share with the CPU kernels stay C++17.
  set_target_properties(${library} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  # The functors of kernels/math.h call constexpr host functions
  # (std::numeric_limits) from device code.
  target_compile_options(${library} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
  target_link_libraries(${library} PRIVATE CUDA::cudart_static CUDA::cublas CUDA::cublasLt)
endfunction()
