# snowemu: an emulator of Snowflake's SQL API v2 (tests/snowemu/README.md),
# and its own tests (label: snowflake). Driver tests start the same binary
# (target snowemu) with the flags the README lists.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
find_program(SMCP_BASH bash)

file(GLOB SNOWEMU_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/snowemu/*.c)
add_executable(snowemu ${SNOWEMU_SOURCES})
target_compile_options(snowemu PRIVATE ${SMCP_WARNINGS})
target_link_libraries(snowemu PRIVATE smcp PkgConfig::ZLIB)

add_test(NAME snowemu_selftest
         COMMAND ${SMCP_BASH} ${CMAKE_SOURCE_DIR}/tests/snowemu/test_snowemu.sh
                 $<TARGET_FILE:snowemu> ${CMAKE_BINARY_DIR}/snowemu-test)
set_tests_properties(snowemu_selftest PROPERTIES TIMEOUT 300 LABELS snowflake
                     SKIP_RETURN_CODE 77)

# The driver's integration test starts this emulator.
if(TARGET test_sf_emu_concurrent)
  add_dependencies(test_sf_emu_concurrent snowemu)
  set_tests_properties(test_sf_emu_concurrent PROPERTIES LABELS "unit;concurrent;snowflake")
endif()
