# TOADSTOOL_CUDA=AUTO|ON|OFF: the CUDA backend (toadstool/kernels/cuda/*.cu)
# is built when nvcc is found (AUTO) or required (ON). It targets sm_80 and
# sm_90 with PTX for later GPUs, and links the CUDA runtime and cuBLAS. A
# build with it still runs on a machine without a GPU: cuda_is_available()
# is false there and the `cuda` tests skip.
set(TOADSTOOL_CUDA_ENABLED OFF)
if(NOT TOADSTOOL_CUDA STREQUAL "OFF")
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
  target_sources(${library} PRIVATE ${cuda_sources})
  # C++17 for the .cu files (CMake 3.25 knows no C++20 flag for nvcc): the
  # headers they share with the CPU kernels stay C++17.
  set_target_properties(${library} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  # The functors of kernels/math.h call constexpr host functions
  # (std::numeric_limits) from device code.
  target_compile_options(${library} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
  target_link_libraries(${library} PRIVATE CUDA::cudart_static CUDA::cublas CUDA::cublasLt)
endfunction()
