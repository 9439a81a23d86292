# Snowflake end-to-end tests: tests/e2e/sf_*.test.mjs (registered as
# e2e_sf_* by the main CMakeLists) start the SQL API emulator (target
# snowemu, tests/snowemu.cmake) themselves; this passes its path and labels
# them snowflake. Each starts its own emulator on a free loopback port, so
# they may run beside each other.
file(GLOB SMCP_SF_E2E CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/sf_*.test.mjs)
foreach(t ${SMCP_SF_E2E})
  get_filename_component(name ${t} NAME_WE)
  if(TEST e2e_${name})
    set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;snowflake;concurrent" TIMEOUT 300)
    set_property(TEST e2e_${name} APPEND PROPERTY ENVIRONMENT
                 "SMCP_SNOWEMU=$<TARGET_FILE:snowemu>")
  endif()
endforeach()
