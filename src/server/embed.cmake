# Embeds docs/openapi.yaml in the library as td__openapi_yaml / td__openapi_yaml_len, so that
# the binary serves the document it was built with (GET /v1/openapi.yaml) and the API test can
# compare it with the router. Pure CMake (file(READ ... HEX)): no xxd needed.
set(TD_OPENAPI_YAML ${CMAKE_SOURCE_DIR}/docs/openapi.yaml)
set(TD_OPENAPI_C ${CMAKE_BINARY_DIR}/generated/openapi_yaml.c)
add_custom_command(
  OUTPUT ${TD_OPENAPI_C}
  COMMAND ${CMAKE_COMMAND} -DIN=${TD_OPENAPI_YAML} -DOUT=${TD_OPENAPI_C}
          -P ${CMAKE_SOURCE_DIR}/src/server/embed_file.cmake
  DEPENDS ${TD_OPENAPI_YAML} ${CMAKE_SOURCE_DIR}/src/server/embed_file.cmake
  COMMENT "Embedding docs/openapi.yaml"
  VERBATIM)
target_sources(takedown PRIVATE ${TD_OPENAPI_C})
