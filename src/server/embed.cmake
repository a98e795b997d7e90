# Embeds files in the library as C arrays, so that the binary serves what it was built with.
# Pure CMake (file(READ ... HEX)): no xxd needed.
#  - docs/openapi.yaml as td__openapi_yaml / td__openapi_yaml_len (GET /v1/openapi.yaml; the
#    API test compares it with the router);
#  - the web console, web/<file> as td__web_<file with non-alphanumerics as _> / ..._len
#    (GET / and GET /console/<file>, src/server/handlers_web.c; docs/console.md).
function(td_embed_file in symbol)
  set(out ${CMAKE_BINARY_DIR}/generated/${symbol}.c)
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${in})
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${in} -DOUT=${out} -DSYMBOL=${symbol} -DNAME=${rel}
            -P ${CMAKE_SOURCE_DIR}/src/server/embed_file.cmake
    DEPENDS ${in} ${CMAKE_SOURCE_DIR}/src/server/embed_file.cmake
    COMMENT "Embedding ${rel}"
    VERBATIM)
  target_sources(takedown PRIVATE ${out})
endfunction()

td_embed_file(${CMAKE_SOURCE_DIR}/docs/openapi.yaml td__openapi_yaml)
# The console's files: each one has its row in src/server/router.c, src/server/handlers_web.c and
# docs/openapi.yaml. fuzz/CMakeLists.txt embeds the same list in the fuzzing copy.
set(TD_WEB_FILES index.html console.css console.js review.js charts.js team.js)
foreach(f ${TD_WEB_FILES})
  string(MAKE_C_IDENTIFIER "td__web_${f}" sym)
  td_embed_file(${CMAKE_SOURCE_DIR}/web/${f} ${sym})
endforeach()
