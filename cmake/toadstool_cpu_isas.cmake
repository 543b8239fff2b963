# The CPU kernels chosen at run time. The library is compiled for
# TOADSTOOL_ARCH (portable by default: any x86-64), and the CPU kernels
# (toadstool/kernels/cpu/*.cpp) once more for each instruction set of
# TOADSTOOL_CPU_ISAS; toadstool/kernels/backend.cpp picks the best one the
# CPU has when the first kernel runs (TOADSTOOL_CPU_ISA=baseline|avx2|avx512
# forces one).
#
# Each variant is partially linked (ld -r, which keeps one copy of each
# inline function and template instantiation) into one object whose only
# global symbol is its table, extern "C" toadstool_cpu_backend_<isa>(); its
# COMDAT groups are dissolved, so every std::vector<float> method or functor
# it compiled stays its own and the final link can never hand an AVX-512 copy
# of a shared function to code that runs on a CPU without AVX-512 (nor
# discard the variant's copy in favour of another).
set(TOADSTOOL_CPU_ISA_FLAGS_avx2 -march=x86-64-v3)    # AVX2, FMA
set(TOADSTOOL_CPU_ISA_FLAGS_avx512 -march=x86-64-v4)  # AVX-512 F, BW, CD, DQ, VL

function(toadstool_add_cpu_isas library sources)
  foreach(isa IN LISTS TOADSTOOL_CPU_ISAS)
    if(NOT DEFINED TOADSTOOL_CPU_ISA_FLAGS_${isa})
      message(FATAL_ERROR "TOADSTOOL_CPU_ISAS: unknown instruction set '${isa}' (avx2, avx512)")
    endif()
    set(objects toadstool_cpu_${isa})
    add_library(${objects} OBJECT ${sources})
    # -fno-gnu-unique: function-local statics of inline functions (Eigen's
    # cache sizes) become weak symbols that objcopy can localize, instead
    # of GNU-unique ones that would clash with the library's own copy.
    target_compile_options(${objects} PRIVATE ${TOADSTOOL_CPU_ISA_FLAGS_${isa}}
                                              $<$<CXX_COMPILER_ID:GNU>:-fno-gnu-unique>)
    target_compile_definitions(${objects} PRIVATE TOADSTOOL_CPU_ISA=${isa} EIGEN_DONT_PARALLELIZE)
    target_include_directories(${objects} PRIVATE ${PROJECT_SOURCE_DIR}
                                                  ${PROJECT_BINARY_DIR}/include)
    target_link_libraries(${objects} PRIVATE toadstool_common_flags Eigen3::Eigen)
    # compile_commands.json (clang-tidy's) keeps the library's own compile of
    # these sources only (clang knows no -fno-gnu-unique).
    # Each kernel source alone, as in the library (cmake/toadstool_unity.cmake).
    set_target_properties(${objects} PROPERTIES EXPORT_COMPILE_COMMANDS OFF UNITY_BUILD OFF)

    set(merged ${CMAKE_CURRENT_BINARY_DIR}/toadstool_cpu_${isa}.o)
    add_custom_command(
      OUTPUT ${merged}
      COMMAND ${CMAKE_LINKER} -r -o ${merged}.all $<TARGET_OBJECTS:${objects}>
      COMMAND ${CMAKE_OBJCOPY} --remove-section=.group
              --keep-global-symbol=toadstool_cpu_backend_${isa} ${merged}.all ${merged}
      DEPENDS $<TARGET_OBJECTS:${objects}>
      COMMAND_EXPAND_LISTS
      COMMENT "Localizing the ${isa} CPU kernels")
    set_source_files_properties(${merged} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    target_sources(${library} PRIVATE ${merged})
    string(TOUPPER ${isa} upper)
    set(TOADSTOOL_WITH_CPU_${upper} ON PARENT_SCOPE)
  endforeach()
endfunction()
