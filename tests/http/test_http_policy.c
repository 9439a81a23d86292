/* The HTTP transport's header checks and the metrics module, without a
 * server: API keys, Origin and Host allow-lists, Accept / Content-Type
 * matching, the listen argument, and the Prometheus rendering. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/metrics.h"
#include "testlib.h"
#include "transport/http_policy.h"

static http_policy *policy(const char *keys, const char *key_file, const char *origins,
                           const char *hosts, const char *bind)
{
    app_config cfg;
    config_defaults(&cfg);
    cfg.http_api_keys = (char *)keys;
    cfg.http_api_key_file = (char *)key_file;
    cfg.http_allowed_origins = (char *)origins;
    cfg.http_allowed_hosts = (char *)hosts;
    err_t err;
    http_policy *p = http_policy_new(&cfg, bind, &err);
    if (!p)
        fprintf(stderr, "http_policy_new: %s\n", err.msg);
    return p;
}

static void test_keys_from_env_and_file(void)
{
    char path[] = "/tmp/smcp-keys-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# team keys\n  file-key-1  \n\nfile-key-2\n", f);
    fclose(f);
    http_policy *p = policy("env-a, env-b\nenv-c", path, NULL, NULL, "127.0.0.1");
    unlink(path);
    REQUIRE(p != NULL);
    CHECK(http_policy_key_count(p) == 5);
    CHECK(http_policy_auth_ok(p, "Bearer env-a"));
    CHECK(http_policy_auth_ok(p, "bearer env-c"));
    CHECK(http_policy_auth_ok(p, "Bearer file-key-2"));
    CHECK(http_policy_auth_ok(p, "Bearer  file-key-1 "));
    CHECK(!http_policy_auth_ok(p, NULL));
    CHECK(!http_policy_auth_ok(p, "Bearer "));
    CHECK(!http_policy_auth_ok(p, "Bearer env-"));
    CHECK(!http_policy_auth_ok(p, "Bearer env-a2"));
    CHECK(!http_policy_auth_ok(p, "Basic env-a"));
    CHECK(!http_policy_auth_ok(p, "env-a"));
    CHECK(!http_policy_auth_ok(p, "Bearer # team keys"));
    http_policy_free(p);
}

static void test_no_keys_means_open(void)
{
    http_policy *p = policy(NULL, NULL, NULL, NULL, "127.0.0.1");
    REQUIRE(p != NULL);
    CHECK(http_policy_key_count(p) == 0);
    CHECK(http_policy_auth_ok(p, NULL));
    CHECK(http_policy_auth_ok(p, "Bearer anything"));
    http_policy_free(p);
}

static void test_missing_key_file_fails(void)
{
    app_config cfg;
    config_defaults(&cfg);
    cfg.http_api_key_file = "/nonexistent/smcp-keys";
    err_t err;
    CHECK(http_policy_new(&cfg, "127.0.0.1", &err) == NULL);
    CHECK_CONTAINS(err.msg, "/nonexistent/smcp-keys");
}

static void test_origins(void)
{
    http_policy *p = policy(NULL, NULL, "https://app.example.com, http://tools.example.com:*", NULL,
                            "127.0.0.1");
    REQUIRE(p != NULL);
    CHECK(http_policy_origin_ok(p, NULL));
    CHECK(http_policy_origin_ok(p, "http://localhost:5173"));
    CHECK(http_policy_origin_ok(p, "http://localhost"));
    CHECK(http_policy_origin_ok(p, "http://127.0.0.1:8080"));
    CHECK(http_policy_origin_ok(p, "http://[::1]:3000"));
    CHECK(http_policy_origin_ok(p, "https://app.example.com"));
    CHECK(http_policy_origin_ok(p, "HTTPS://APP.EXAMPLE.COM"));
    CHECK(http_policy_origin_ok(p, "http://tools.example.com:8443"));
    CHECK(!http_policy_origin_ok(p, "https://app.example.com:444"));
    CHECK(!http_policy_origin_ok(p, "http://evil.example.com"));
    CHECK(!http_policy_origin_ok(p, "http://localhost.evil.com"));
    CHECK(!http_policy_origin_ok(p, "http://localhost:80x"));
    CHECK(!http_policy_origin_ok(p, "http://127.0.0.1.evil.com:80"));
    CHECK(!http_policy_origin_ok(p, "null"));
    http_policy_free(p);
}

static void test_hosts(void)
{
    http_policy *p = policy(NULL, NULL, NULL, "mcp.internal", "127.0.0.1");
    REQUIRE(p != NULL);
    CHECK(http_policy_host_ok(p, NULL));
    CHECK(http_policy_host_ok(p, "localhost:8080"));
    CHECK(http_policy_host_ok(p, "127.0.0.1:8080"));
    CHECK(http_policy_host_ok(p, "[::1]:8080"));
    CHECK(http_policy_host_ok(p, "LOCALHOST"));
    CHECK(http_policy_host_ok(p, "mcp.internal:9000"));
    CHECK(!http_policy_host_ok(p, "evil.example.com"));
    CHECK(!http_policy_host_ok(p, "evil.example.com:8080"));
    CHECK(!http_policy_host_ok(p, "localhost.evil.com"));
    CHECK(!http_policy_host_ok(p, "[::1"));
    CHECK(!http_policy_host_ok(p, ""));
    http_policy_free(p);

    /* Bound to one address: that address is a valid Host too. */
    p = policy("k", NULL, NULL, NULL, "10.1.2.3");
    REQUIRE(p != NULL);
    CHECK(http_policy_host_ok(p, "10.1.2.3:8080"));
    CHECK(!http_policy_host_ok(p, "10.1.2.4:8080"));
    http_policy_free(p);

    /* All interfaces and no allow-list: the keys guard it, any Host passes. */
    p = policy("k", NULL, NULL, NULL, "0.0.0.0");
    REQUIRE(p != NULL);
    CHECK(http_policy_host_ok(p, "whatever.example.com"));
    http_policy_free(p);
}

static void test_addresses(void)
{
    CHECK(http_addr_is_loopback("127.0.0.1"));
    CHECK(http_addr_is_loopback("127.8.9.10"));
    CHECK(http_addr_is_loopback("::1"));
    CHECK(http_addr_is_loopback("localhost"));
    CHECK(!http_addr_is_loopback("0.0.0.0"));
    CHECK(!http_addr_is_loopback("10.0.0.1"));
    CHECK(!http_addr_is_loopback("::"));
    CHECK(http_addr_is_wildcard("0.0.0.0"));
    CHECK(http_addr_is_wildcard("::"));
    CHECK(!http_addr_is_wildcard("127.0.0.1"));

    char host[64];
    int port = -1;
    err_t err;
    CHECK(http_parse_listen("8080", host, sizeof host, &port, &err));
    CHECK_STR(host, "127.0.0.1");
    CHECK(port == 8080);
    CHECK(http_parse_listen("0.0.0.0:9", host, sizeof host, &port, &err));
    CHECK_STR(host, "0.0.0.0");
    CHECK(port == 9);
    CHECK(http_parse_listen("[::1]:0", host, sizeof host, &port, &err));
    CHECK_STR(host, "::1");
    CHECK(port == 0);
    CHECK(http_parse_listen(":7000", host, sizeof host, &port, &err));
    CHECK_STR(host, "0.0.0.0");
    CHECK(!http_parse_listen("::1:80", host, sizeof host, &port, &err));
    CHECK(!http_parse_listen("localhost:99999", host, sizeof host, &port, &err));
    CHECK(!http_parse_listen("localhost:", host, sizeof host, &port, &err));
    CHECK(!http_parse_listen("abc", host, sizeof host, &port, &err));
    CHECK(!http_parse_listen("[::1]80", host, sizeof host, &port, &err));
}

static void test_media_types(void)
{
    CHECK(http_accepts("application/json, text/event-stream", "application/json"));
    CHECK(http_accepts("application/json, text/event-stream", "text/event-stream"));
    CHECK(http_accepts("text/event-stream;q=0.9,application/json", "text/event-stream"));
    CHECK(http_accepts("*/*", "text/event-stream"));
    CHECK(http_accepts("text/*", "text/event-stream"));
    CHECK(!http_accepts("text/*", "application/json"));
    CHECK(!http_accepts("application/json", "text/event-stream"));
    CHECK(!http_accepts("text/event-streamx", "text/event-stream"));
    CHECK(!http_accepts(NULL, "application/json"));
    CHECK(http_is_json_type("application/json"));
    CHECK(http_is_json_type("Application/JSON; charset=utf-8"));
    CHECK(!http_is_json_type("application/jsonx"));
    CHECK(!http_is_json_type("text/plain"));
    CHECK(!http_is_json_type(NULL));
}

static void test_metrics_render(void)
{
    metrics *m = metrics_new();
    metrics_call(m, "execute_query", METRICS_OK, 3 * 1000000);  /* 3 ms */
    metrics_call(m, "execute_query", METRICS_OK, 70 * 1000000); /* 70 ms */
    metrics_call(m, "execute_query", METRICS_ERROR, 1000);
    metrics_call(m, "list_databases", METRICS_CANCELLED, 1000);
    metrics_call(m, "weird\"name", METRICS_PROTOCOL_ERROR, 0);
    metrics_http_status(m, 200);
    metrics_http_status(m, 200);
    metrics_http_status(m, 404);
    CHECK(metrics_calls_total(m, METRICS_OK) == 2);
    CHECK(metrics_calls_total(m, METRICS_ERROR) == 1);
    CHECK(metrics_http_count(m, 200) == 2);
    strbuf out;
    sb_init(&out);
    metrics_render(m, &out);
    CHECK_CONTAINS(out.data,
                   "snowflake_mcp_tool_calls_total{tool=\"execute_query\",outcome=\"ok\"} 2\n");
    CHECK_CONTAINS(out.data,
                   "snowflake_mcp_tool_calls_total{tool=\"execute_query\",outcome=\"error\"} 1\n");
    CHECK_CONTAINS(out.data, "snowflake_mcp_tool_calls_total{tool=\"list_databases\","
                             "outcome=\"cancelled\"} 1\n");
    CHECK_CONTAINS(out.data, "tool=\"weird\\\"name\",outcome=\"protocol_error\"} 1\n");
    /* Cumulative buckets: 3 ms is under 5 ms, 70 ms is under 100 ms. */
    CHECK_CONTAINS(out.data, "snowflake_mcp_tool_call_duration_seconds_bucket{tool=\"execute_"
                             "query\",outcome=\"ok\",le=\"0.005\"} 1\n");
    CHECK_CONTAINS(out.data, "snowflake_mcp_tool_call_duration_seconds_bucket{tool=\"execute_"
                             "query\",outcome=\"ok\",le=\"0.1\"} 2\n");
    CHECK_CONTAINS(out.data, "snowflake_mcp_http_responses_total{code=\"404\"} 1\n");
    sb_free(&out);

    pool_stats st = {.total = 3, .created = 4, .acquired = 9};
    st.wait_bucket[POOL_WAIT_BUCKETS - 1] = 9;
    sb_init(&out);
    metrics_render_pool(&st, &out);
    CHECK_CONTAINS(out.data, "snowflake_mcp_pool_created_total 4\n");
    CHECK_CONTAINS(out.data, "snowflake_mcp_pool_connections 3\n");
    CHECK_CONTAINS(out.data, "snowflake_mcp_pool_acquire_wait_seconds_count 9\n");
    sb_free(&out);
    metrics_free(m);
}

int main(void)
{
    TEST_RUN(test_keys_from_env_and_file);
    TEST_RUN(test_no_keys_means_open);
    TEST_RUN(test_missing_key_file_fails);
    TEST_RUN(test_origins);
    TEST_RUN(test_hosts);
    TEST_RUN(test_addresses);
    TEST_RUN(test_media_types);
    TEST_RUN(test_metrics_render);
    return test_summary();
}
