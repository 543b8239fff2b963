# The public headers: toadstool/toadstool.h and every header it includes,
# directly or not (each include names its path from the source root:
# "toadstool/..."). The install copies exactly these, so internal headers
# (toadstool/kernels/cpu/*, toadstool/tensor/dispatch.h, ...) never reach
# users, and a header becomes public by being included from a public one.
# Generated headers (toadstool/config.h) are not in the source tree and are
# skipped here.
function(toadstool_public_headers root out_var)
  set(pending "toadstool/toadstool.h")
  set(found "")
  while(pending)
    list(POP_FRONT pending header)
    if(header IN_LIST found OR NOT EXISTS "${root}/${header}")
      continue()
    endif()
    list(APPEND found "${header}")
    file(STRINGS "${root}/${header}" includes REGEX "^#include \"toadstool/")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
      list(APPEND pending "${included}")
    endforeach()
  endwhile()
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()
