/* JSON-RPC handling of the MCP engine: error codes, lifecycle, logging.
 * Tool calls are exercised end to end by the SDK client tests. */
#include <pthread.h>

#include "core/log.h"
#include "mcp/server.h"
#include "testlib.h"

typedef struct outbox {
    pthread_mutex_t mu;
    json_t *msgs;
} outbox;

static void collect(void *ctx, const char *json, size_t len, json_t *related)
{
    outbox *o = ctx;
    if (!json)
        return; /* a cancelled call ended unanswered */
    json_error_t e;
    json_t *m = json_loadb(json, len, 0, &e);
    test_check(m != NULL, "outgoing message is valid JSON", __FILE__, __LINE__);
    test_check(memchr(json, '\n', len) == NULL, "outgoing message has no newline", __FILE__,
               __LINE__);
    pthread_mutex_lock(&o->mu);
    json_array_append_new(o->msgs, m ? m : json_null());
    pthread_mutex_unlock(&o->mu);
}

static app_config cfg;
static mcp_server *srv;
static outbox box;
static mcp_session *sess;

static void setup(void)
{
    config_defaults(&cfg);
    srv = mcp_server_new(NULL, &cfg, NULL, "test instructions");
    pthread_mutex_init(&box.mu, NULL);
    box.msgs = json_array();
    sess = mcp_session_new(srv, collect, &box);
}

static void teardown(void)
{
    mcp_session_close(sess, true);
    mcp_session_free(sess);
    mcp_server_free(srv);
    json_decref(box.msgs);
    pthread_mutex_destroy(&box.mu);
}

/* Sends text and returns the one answer it produced (or NULL for none). */
static json_t *exchange(const char *text)
{
    size_t before = json_array_size(box.msgs);
    mcp_session_handle(sess, text, strlen(text));
    size_t after = json_array_size(box.msgs);
    if (after == before)
        return NULL;
    test_check(after == before + 1, "exactly one answer", __FILE__, __LINE__);
    return json_array_get(box.msgs, after - 1);
}

static int error_code(json_t *m)
{
    return (int)json_integer_value(json_object_get(json_object_get(m, "error"), "code"));
}

static void test_parse_error_and_recovery(void)
{
    setup();
    json_t *m = exchange("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"");
    CHECK(error_code(m) == MCP_PARSE_ERROR);
    CHECK(json_is_null(json_object_get(m, "id")));
    m = exchange("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    CHECK(json_integer_value(json_object_get(m, "id")) == 2);
    CHECK(json_is_object(json_object_get(m, "result")));
    CHECK(json_object_size(json_object_get(m, "result")) == 0);
    teardown();
}

static void test_invalid_requests(void)
{
    setup();
    CHECK(error_code(exchange("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]")) ==
          MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("{\"id\":1,\"method\":\"ping\"}")) == MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}")) ==
          MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}")) ==
          MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}")) ==
          MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":7}")) ==
          MCP_INVALID_REQUEST);
    CHECK(error_code(exchange("42")) == MCP_INVALID_REQUEST);
    json_t *m = exchange("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\",\"params\":[1]}");
    CHECK(error_code(m) == MCP_INVALID_PARAMS);
    CHECK_STR(json_string_value(json_object_get(m, "id")), "a");
    teardown();
}

static void test_method_not_found_and_notifications(void)
{
    setup();
    json_t *m = exchange("{\"jsonrpc\":\"2.0\",\"id\":\"x-1\",\"method\":\"resources/list\"}");
    CHECK(error_code(m) == MCP_METHOD_NOT_FOUND);
    CHECK_STR(json_string_value(json_object_get(m, "id")), "x-1");
    CHECK(exchange("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}") == NULL);
    CHECK(exchange("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}") == NULL);
    CHECK(exchange("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                   "\"params\":{\"requestId\":99}}") == NULL);
    /* A response from the client to nothing we asked is ignored. */
    CHECK(exchange("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}") == NULL);
    teardown();
}

static void test_initialize_negotiates(void)
{
    setup();
    json_t *m = exchange("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                         "\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},"
                         "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    json_t *r = json_object_get(m, "result");
    CHECK_STR(json_string_value(json_object_get(r, "protocolVersion")), "2025-03-26");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")),
              "snowflake-mcp");
    CHECK(json_object_get(json_object_get(r, "capabilities"), "tools") != NULL);
    CHECK(json_object_get(json_object_get(r, "capabilities"), "logging") != NULL);
    CHECK_STR(json_string_value(json_object_get(r, "instructions")), "test instructions");
    CHECK_STR(mcp_session_version(sess), "2025-03-26");
    m = exchange("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"1999-01-01\",\"capabilities\":{}}}");
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "result"), "protocolVersion")),
              MCP_LATEST_VERSION);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\","
                              "\"params\":{}}")) == MCP_INVALID_PARAMS);
    const char *versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
    for (int i = 0; i < 4; i++)
        CHECK(mcp_version_supported(versions[i]));
    CHECK(!mcp_version_supported("2024-10-07"));
    teardown();
}

static void test_logging_set_level(void)
{
    setup();
    log_set_stderr_level(LOG_EMERGENCY);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                              "\"params\":{\"level\":\"loud\"}}")) == MCP_INVALID_PARAMS);
    json_t *m = exchange("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\","
                         "\"params\":{\"level\":\"warning\"}}");
    CHECK(json_is_object(json_object_get(m, "result")));
    size_t before = json_array_size(box.msgs);
    log_info("test", "below the level: not sent");
    log_warn("test", "sent to the client");
    CHECK(json_array_size(box.msgs) == before + 1);
    json_t *n = json_array_get(box.msgs, before);
    CHECK_STR(json_string_value(json_object_get(n, "method")), "notifications/message");
    json_t *p = json_object_get(n, "params");
    CHECK_STR(json_string_value(json_object_get(p, "level")), "warning");
    CHECK_STR(json_string_value(json_object_get(p, "data")), "sent to the client");
    log_set_stderr_level(LOG_INFO);
    teardown();
}

/* What a log sink receives depends on whose work logged it. */
static void test_private_logs(void)
{
    setup();
    outbox other_box;
    pthread_mutex_init(&other_box.mu, NULL);
    other_box.msgs = json_array();
    mcp_session *other = mcp_session_new(srv, collect, &other_box);
    log_set_stderr_level(LOG_EMERGENCY);
    CHECK(exchange("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                   "\"params\":{\"level\":\"info\"}}") != NULL);
    size_t before = json_array_size(box.msgs);

    /* Shared (stdio): the client also sees lines of nobody's. */
    log_info("test", "housekeeping");
    CHECK(json_array_size(box.msgs) == before + 1);

    /* Private (HTTP): only its own requests' lines. */
    mcp_server_set_private_logs(srv, true);
    log_info("test", "housekeeping again");
    CHECK(json_array_size(box.msgs) == before + 1);
    const void *outer = log_set_context(other);
    log_info("test", "another client's query");
    log_set_context(sess);
    log_info("test", "my own query");
    log_set_context(outer);
    CHECK(json_array_size(box.msgs) == before + 2);
    json_t *p = json_object_get(json_array_get(box.msgs, before + 1), "params");
    CHECK_STR(json_string_value(json_object_get(p, "data")), "my own query");
    CHECK(json_array_size(other_box.msgs) == 0); /* it set no level */

    log_set_stderr_level(LOG_INFO);
    mcp_session_close(other, true);
    mcp_session_free(other);
    json_decref(other_box.msgs);
    pthread_mutex_destroy(&other_box.mu);
    teardown();
}

static void test_tools_call_malformed(void)
{
    setup();
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                              "\"params\":{}}")) == MCP_INVALID_PARAMS);
    CHECK(error_code(exchange("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                              "\"params\":{\"name\":\"x\",\"arguments\":[1]}}")) ==
          MCP_INVALID_PARAMS);
    teardown();
}

int main(void)
{
    TEST_RUN(test_parse_error_and_recovery);
    TEST_RUN(test_invalid_requests);
    TEST_RUN(test_method_not_found_and_notifications);
    TEST_RUN(test_initialize_negotiates);
    TEST_RUN(test_logging_set_level);
    TEST_RUN(test_private_logs);
    TEST_RUN(test_tools_call_malformed);
    return test_summary();
}
