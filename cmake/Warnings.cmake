# Warnings for edge's own targets; third-party headers come in as SYSTEM.
function(edge_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast)
  if(EDGE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
