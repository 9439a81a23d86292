# PostgreSQL suite: a throwaway cluster (tests/pg/cluster.sh) as a ctest
# fixture, the driver tests in tests/pg/test_*.c, and the end-to-end tests
# tests/e2e/pg_*.test.mjs (registered by the main CMakeLists; the fixture is
# added here). Every test holds the lock pg_cluster: some restart or fill
# the server, so none runs beside another. Label: pg.
find_program(SMCP_BASH bash)
set(SMCP_PG_STATE ${CMAKE_BINARY_DIR}/pg-cluster)
set(SMCP_PG_CLUSTER ${CMAKE_SOURCE_DIR}/tests/pg/cluster.sh)

add_test(NAME pg_cluster_start COMMAND ${SMCP_BASH} ${SMCP_PG_CLUSTER} start)
add_test(NAME pg_cluster_stop COMMAND ${SMCP_BASH} ${SMCP_PG_CLUSTER} stop)
set_tests_properties(pg_cluster_start PROPERTIES FIXTURES_SETUP pg_cluster TIMEOUT 120
                     LABELS pg RESOURCE_LOCK pg_cluster ENVIRONMENT "SMCP_PG_STATE=${SMCP_PG_STATE}")
set_tests_properties(pg_cluster_stop PROPERTIES FIXTURES_CLEANUP pg_cluster TIMEOUT 60
                     LABELS pg RESOURCE_LOCK pg_cluster ENVIRONMENT "SMCP_PG_STATE=${SMCP_PG_STATE}")

file(GLOB SMCP_PG_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/test_*.c)
foreach(src ${SMCP_PG_TESTS})
  smcp_add_c_test(${src} name)
  set(labels pg)
  if(name MATCHES "postgres|pool|concurrent|fault")
    set(labels "pg;concurrent")
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS "${labels}"
                       FIXTURES_REQUIRED pg_cluster RESOURCE_LOCK pg_cluster
                       ENVIRONMENT "SMCP_PG_STATE=${SMCP_PG_STATE};SMCP_PG_CLUSTER=${SMCP_PG_CLUSTER}")
endforeach()

file(GLOB SMCP_PG_E2E CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/pg_*.test.mjs)
foreach(t ${SMCP_PG_E2E})
  get_filename_component(name ${t} NAME_WE)
  if(TEST e2e_${name})
    set_tests_properties(e2e_${name} PROPERTIES FIXTURES_REQUIRED pg_cluster
                         RESOURCE_LOCK pg_cluster LABELS "e2e;pg;concurrent")
    set_property(TEST e2e_${name} APPEND PROPERTY ENVIRONMENT
                 "SMCP_PG_STATE=${SMCP_PG_STATE}" "SMCP_PG_CLUSTER=${SMCP_PG_CLUSTER}")
  endif()
endforeach()
