# EDGE_SANITIZE=address,undefined | thread : applied to every target of the build
# (the static library and everything that links it must agree).
if(EDGE_SANITIZE)
  add_compile_options(-fsanitize=${EDGE_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${EDGE_SANITIZE})
endif()
function(edge_target_sanitizers target)
endfunction()
