# Unity builds (CMAKE_UNITY_BUILD=ON: the presets of scripts/test.sh, for
# CI time): each target's C++ sources compile as a few unity files, each
# one folder's sources, at most TOADSTOOL_UNITY_FILES of them, in name
# order. One folder a unity file keeps the layers apart (a tensor source
# never sees the autograd headers a nn source includes) and keeps a new
# file from reshuffling other folders' batches. Sources already excluded
# (SKIP_UNITY_BUILD_INCLUSION, or with source-level compile flags) and the
# sources of SKIP_FOLDERS compile alone.
#
# A unity file is one translation unit: names in anonymous namespaces must
# differ between the sources of a folder, and a source must not depend on
# another's `using` declarations.
set(TOADSTOOL_UNITY_FILES 8 CACHE STRING "Sources per unity file (CMAKE_UNITY_BUILD)")

#   toadstool_unity_groups(TARGET [SKIP_FOLDERS folder...])
function(toadstool_unity_groups target)
  cmake_parse_arguments(arg "" "" "SKIP_FOLDERS" ${ARGN})
  if(NOT CMAKE_UNITY_BUILD)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD_MODE GROUP)
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  list(FILTER sources INCLUDE REGEX "\\.cpp$")
  list(SORT sources)
  foreach(source IN LISTS sources)
    get_filename_component(path "${source}" ABSOLUTE BASE_DIR "${source_dir}")
    get_filename_component(folder "${path}" DIRECTORY)
    if(folder IN_LIST arg_SKIP_FOLDERS)
      continue()
    endif()
    file(RELATIVE_PATH key "${PROJECT_SOURCE_DIR}" "${folder}")
    string(MAKE_C_IDENTIFIER "${key}" key)
    if(NOT DEFINED files_in_${key})
      set(files_in_${key} 0)
    endif()
    math(EXPR batch "${files_in_${key}} / ${TOADSTOOL_UNITY_FILES}")
    math(EXPR files_in_${key} "${files_in_${key}} + 1")
    set_source_files_properties("${source}" TARGET_DIRECTORY ${target}
                                PROPERTIES UNITY_GROUP "${key}_${batch}")
  endforeach()
endfunction()
