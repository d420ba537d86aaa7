# Warnings for edge's own targets; third-party headers come in as SYSTEM.
function(edge_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports -Wmaybe-uninitialized falsely inside std::regex, std::function
    # and coroutine frames at -O2/-O3 and under ASan; -Wuninitialized stays on.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    if(EDGE_SANITIZE MATCHES "thread")
      # -Wtsan fires inside Asio's headers (atomic_thread_fence).
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
  if(EDGE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
