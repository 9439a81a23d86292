# Streamable HTTP transport tests (label "http"). The end-to-end HTTP tests
# (tests/e2e/http_*.test.mjs) are registered with the other e2e tests.

# C unit tests of the header checks: every tests/http/test_*.c.
file(GLOB SMCP_HTTP_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/http/test_*.c)
foreach(src ${SMCP_HTTP_UNIT_TESTS})
  smcp_add_c_test(${src} name)
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 LABELS "unit;http")
endforeach()

# The official MCP conformance suite against `serve --http`. Needs `npm ci`
# in tests/conformance (make test should do it, as for tests/e2e).
find_program(SMCP_NODE node)
if(SMCP_NODE AND EXISTS ${CMAKE_SOURCE_DIR}/tests/conformance/node_modules)
  add_test(NAME http_conformance
           COMMAND ${SMCP_NODE} ${CMAKE_SOURCE_DIR}/tests/conformance/run.mjs
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/conformance)
  set_tests_properties(http_conformance PROPERTIES TIMEOUT 600 LABELS "http;e2e"
    ENVIRONMENT "SMCP_BIN=$<TARGET_FILE:snowflake-mcp>")
elseif(NOT SMCP_NODE)
  message(WARNING "node not found: the HTTP conformance test is not registered")
endif()
