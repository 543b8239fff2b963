# TOADSTOOL_CUDA=AUTO|ON|OFF. The CUDA backend is a later issue: for now this
# only detects the toolkit and reports what it found.
set(TOADSTOOL_CUDA_ENABLED OFF)
if(NOT TOADSTOOL_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    message(STATUS "Toadstool: found nvcc at ${CMAKE_CUDA_COMPILER}; "
                   "the CUDA backend is not built yet (see README)")
  elseif(TOADSTOOL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TOADSTOOL_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "Toadstool: no nvcc found; CPU backend only")
  endif()
endif()
