# Installs the build tree into WORK_DIR/prefix, then configures, builds and
# runs the consumer project against it.
cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...)
# The consumer's CPU kernels are chosen from each (emulated) CPU, even when
# the suite around this test runs forced to one build (scripts/test.sh).
unset(ENV{TOADSTOOL_CPU_ISA})
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${TOADSTOOL_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
# Only public headers are installed: none of the kernels' or the front-ends'
# internals.
foreach(internal kernels/cpu/gemm.h kernels/backend.h tensor/dispatch.h tensor/elementwise.h
                 train/json_file.h)
  if(EXISTS ${WORK_DIR}/prefix/include/toadstool/${internal})
    message(FATAL_ERROR "the internal header toadstool/${internal} was installed")
  endif()
endforeach()
if(NOT EXISTS ${WORK_DIR}/prefix/include/toadstool/config.h)
  message(FATAL_ERROR "toadstool/config.h was not installed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(rc OR NOT out MATCHES "sum=30 linear=4")
  message(FATAL_ERROR "the consumer failed (${rc}): ${out}")
endif()

# The same program on older CPUs, emulated: Haswell (AVX2, no AVX-512) and
# Nehalem (no AVX at all).
if(QEMU)
  foreach(cpu_and_isa Haswell:avx2 Nehalem:baseline)
    string(REPLACE ":" ";" pair ${cpu_and_isa})
    list(GET pair 0 cpu)
    list(GET pair 1 isa)
    if(NOT isa IN_LIST CPU_ISAS)
      set(isa baseline)  # that build of the CPU kernels is not there
    endif()
    execute_process(COMMAND ${QEMU} -cpu ${cpu} ${WORK_DIR}/build/consumer RESULT_VARIABLE rc
                    OUTPUT_VARIABLE out ERROR_QUIET)
    message(STATUS "consumer on an emulated ${cpu}: ${out}")
    if(rc OR NOT out MATCHES "cpu_isa=${isa} sum=30 linear=4")
      message(FATAL_ERROR "the consumer failed on an emulated ${cpu} (${rc}): ${out}")
    endif()
  endforeach()
endif()
