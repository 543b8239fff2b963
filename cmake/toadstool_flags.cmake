# Compile flags shared by the library, tests and benchmarks, carried by
# INTERFACE targets so that every consumer inside the tree sees the same ones:
# toadstool_flags is toadstool_common_flags (warnings, math flags,
# sanitizers, OpenMP) with TOADSTOOL_ARCH's instruction set; the CPU kernel
# variants of cmake/toadstool_cpu_isas.cmake take the common flags and set
# their own instruction set.
add_library(toadstool_common_flags INTERFACE)
add_library(toadstool_arch INTERFACE)
add_library(toadstool_flags INTERFACE)
target_link_libraries(toadstool_flags INTERFACE toadstool_common_flags toadstool_arch)
# OpenMP is private to the library; in-tree tests and benchmarks that call
# kernels directly get it here.
target_link_libraries(toadstool_common_flags INTERFACE OpenMP::OpenMP_CXX)

# Every option here is for the C++ compiler only (nvcc takes its own, in
# cmake/toadstool_cuda.cmake).
if(TOADSTOOL_ARCH STREQUAL "native")
  target_compile_options(toadstool_arch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
elseif(TOADSTOOL_ARCH STREQUAL "avx2")
  # x86-64-v3: AVX2 + FMA, no AVX-512 (valgrind can run it).
  target_compile_options(toadstool_arch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=x86-64-v3>)
elseif(NOT TOADSTOOL_ARCH STREQUAL "portable")
  message(FATAL_ERROR "TOADSTOOL_ARCH must be portable, native or avx2, not '${TOADSTOOL_ARCH}'")
endif()

# -fno-math-errno / -fno-trapping-math (as PyTorch builds): sqrt becomes an
# instruction and the selects in kernels/fast_math.h may be if-converted, so
# those loops vectorize on AVX2 too. Neither changes a single result bit.
target_compile_options(toadstool_common_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-fno-math-errno -fno-trapping-math -Wall -Wextra -Wno-unknown-pragmas>
  # GCC 12 reports false positives inside its own AVX-512 intrinsics headers.
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-maybe-uninitialized>
  # (not for the test programs: toadstool_test_flags below sets their level,
  # and an interface's options come after the target's own, so this -O3
  # would win)
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CONFIG:Release>,$<NOT:$<IN_LIST:toadstool_test_flags,$<TARGET_PROPERTY:LINK_LIBRARIES>>>>:-O3>)

# float-cast-overflow is not part of -fsanitize=undefined (GCC's or
# clang's): a float converted to an integer it does not fit (NaN, inf, 1e30)
# is undefined behaviour that only it reports.
if(TOADSTOOL_SANITIZE)
  set(TOADSTOOL_SANITIZERS address,undefined,float-cast-overflow)
  target_compile_options(toadstool_common_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${TOADSTOOL_SANITIZERS} -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined,float-cast-overflow>)
  target_link_options(toadstool_common_flags INTERFACE -fsanitize=${TOADSTOOL_SANITIZERS})
endif()

# toadstool_test_flags: toadstool_flags for the test programs, at a lower
# optimisation level than the library they test (-O1 in Release, -O0 under
# the sanitizers; the option comes after CMAKE_CXX_FLAGS_<CONFIG>'s -O, so
# it wins). A
# test body is assertions and small loops; most of its compile time goes to
# optimising GoogleTest's macro expansions (tests/train/test_checkpoint.cpp:
# 7.9 s at -O3, 5.3 s at -O1; under the sanitizers 15.7 s at -O1, 8.7 s at
# -O0). The kernels the tests run keep the library's flags. (CI time)
add_library(toadstool_test_flags INTERFACE)
target_link_libraries(toadstool_test_flags INTERFACE toadstool_flags)
target_compile_options(toadstool_test_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:$<IF:$<BOOL:${TOADSTOOL_SANITIZE}>,-O0,-O1>>)
