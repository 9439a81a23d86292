/* The Snowflake driver against snowemu (tests/snowemu), the SQL API
 * emulator: real HTTPS, real JWTs, the demo warehouse behind it. Covers
 * decoding, partitions fetched only as far as the row cap needs, catalog
 * requests, SQL errors, retries with the same requestId, token renewal,
 * polling, cancellation (from another thread, and at the deadline) and
 * concurrent use through the pool. The emulator's /emu/stats shows what the
 * driver really sent. Exits 77 (skipped) when the snowemu binary is not built
 * next to this test. */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "db/dbpool.h"
#include "db/driver.h"
#include "db/snowflake/snowflake.h"
#include "testlib.h"

extern char **environ;

static char work[] = "/tmp/smcp-test-sfemu-XXXXXX";
static char emu_bin[PATH_MAX];
static char ca[700], key_enc[700], key_other[700], token_file[700];
static char host[64];
static pid_t emu_pid;

/* ---- set-up ------------------------------------------------------------ */

static bool find_emulator(void)
{
    const char *env = getenv("SMCP_SNOWEMU");
    if (env) {
        snprintf(emu_bin, sizeof emu_bin, "%s", env);
        return access(emu_bin, X_OK) == 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    snprintf(emu_bin, sizeof emu_bin, "%s/snowemu", self);
    return access(emu_bin, X_OK) == 0;
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "setup command failed: %s\n", cmd);
        exit(2);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        exit(2);
    fputs(text, f);
    fclose(f);
}

static void start_emulator(void)
{
    char cert[700], key[700], cache[700], ready[700], pub[700], pub2[700], log[700];
    snprintf(cert, sizeof cert, "%s/certs/server.pem", work);
    snprintf(key, sizeof key, "%s/certs/server.key", work);
    snprintf(cache, sizeof cache, "%s/cache", work);
    snprintf(ready, sizeof ready, "%s/ready", work);
    snprintf(pub, sizeof pub, "%s/user.pub", work);
    snprintf(pub2, sizeof pub2, "%s/unused.pub", work);
    snprintf(log, sizeof log, "%s/emu.log", work);
    char *argv[] = {
        emu_bin, "--cert",         cert,       "--key",          key,     "--cache-dir",
        cache,   "--account",      "ACME",     "--user",         "ALICE", "--public-key",
        pub,     "--token-file",   token_file, "--ready-file",   ready,   "--rows-per-partition",
        "100",   "--sync-wait-ms", "2000",     "--idle-timeout", "300",   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&emu_pid, emu_bin, &fa, NULL, argv, environ) != 0) {
        fprintf(stderr, "cannot start %s\n", emu_bin);
        exit(2);
    }
    posix_spawn_file_actions_destroy(&fa);
    /* The first start builds the demo warehouse (a few seconds). */
    for (int i = 0; i < 1200; i++) {
        FILE *f = fopen(ready, "r");
        int port = 0;
        if (f) {
            int got = fscanf(f, "%d", &port);
            fclose(f);
            if (got == 1 && port > 0) {
                snprintf(host, sizeof host, "127.0.0.1:%d", port);
                return;
            }
        }
        if (waitpid(emu_pid, NULL, WNOHANG) == emu_pid)
            break;
        clock_sleep_ms(100);
    }
    fprintf(stderr, "snowemu did not start; see %s\n", log);
    exit(2);
}

static void setup(const char *src)
{
    if (!mkdtemp(work))
        exit(2);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "%s/tests/snowemu/gen-certs.sh %s/certs", src, work);
    sh(cmd);
    snprintf(ca, sizeof ca, "%s/certs/ca.pem", work);
    snprintf(key_enc, sizeof key_enc, "%s/user.p8", work);
    snprintf(key_other, sizeof key_other, "%s/other.p8", work);
    snprintf(token_file, sizeof token_file, "%s/token", work);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | "
             "openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pw -out %s && "
             "openssl pkey -in %s -passin pass:pw -pubout -out %s/user.pub && "
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null",
             key_enc, key_enc, work, key_other);
    sh(cmd);
    write_file(token_file, "tok-1\n");
    start_emulator();
}

static void teardown(void)
{
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", work);
}

/* ---- the emulator's control endpoints -------------------------------------- */

static size_t collect_body(char *d, size_t s, size_t n, void *ud)
{
    sb_append(ud, d, s * n);
    return s * n;
}

static json_t *emu_call(const char *method, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "https://%s%s", host, path);
    CURL *c = curl_easy_init();
    strbuf body;
    sb_init(&body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    json_t *j = rc == CURLE_OK ? json_loadb(body.data, body.len, 0, NULL) : NULL;
    sb_free(&body);
    return j ? j : json_object();
}

static json_t *stats(void)
{
    return emu_call("GET", "/emu/stats");
}

static void reset_stats(void)
{
    json_decref(emu_call("POST", "/emu/reset"));
}

static long long stat_int(json_t *st, const char *key)
{
    return json_integer_value(json_object_get(st, key));
}

/* The only requestId the emulator saw since the last reset, or NULL. */
static json_t *only_request(json_t *st)
{
    json_t *reqs = json_object_get(st, "requests");
    if (json_object_size(reqs) != 1)
        return NULL;
    void *it = json_object_iter(reqs);
    return json_object_iter_value(it);
}

/* ---- backends ------------------------------------------------------------ */

static const char *const sf_vars[] = {"SNOWFLAKE_ACCOUNT",     "SNOWFLAKE_USER",
                                      "SNOWFLAKE_AUTH_TYPE",   "SNOWFLAKE_PRIVATE_KEY_PATH",
                                      "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
                                      "SNOWFLAKE_TOKEN",       "SNOWFLAKE_TOKEN_FILE",
                                      "SNOWFLAKE_WAREHOUSE",   "SNOWFLAKE_DATABASE",
                                      "SNOWFLAKE_SCHEMA",      "SNOWFLAKE_ROLE",
                                      "SNOWFLAKE_HOST",        "SNOWFLAKE_CA_FILE",
                                      "SNOWFLAKE_JWT_ACCOUNT"};

static void base_env(void)
{
    for (size_t i = 0; i < sizeof sf_vars / sizeof *sf_vars; i++)
        unsetenv(sf_vars[i]);
    setenv("SNOWFLAKE_ACCOUNT", "acme", 1);
    setenv("SNOWFLAKE_USER", "alice", 1);
    setenv("SNOWFLAKE_HOST", host, 1);
    setenv("SNOWFLAKE_CA_FILE", ca, 1);
    setenv("SNOWFLAKE_DATABASE", "sales", 1);
    setenv("SNOWFLAKE_SCHEMA", "public", 1);
}

static db_backend *keypair_backend(const char *key, const char *pass)
{
    base_env();
    setenv("SNOWFLAKE_PRIVATE_KEY_PATH", key, 1);
    if (pass)
        setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", pass, 1);
    err_t e;
    db_backend *be = snowflake_backend_from_env(&e);
    if (!be)
        fprintf(stderr, "backend: %s\n", e.msg);
    return be;
}

static db_backend *be; /* the key-pair backend most tests use */
static db_conn *conn;  /* one connection on it */

static bool run(const char *sql, size_t max_rows, size_t max_bytes, int64_t timeout_ms,
                db_result **r, err_t *e)
{
    db_call call = {.deadline_ns = clock_deadline_in_ms(timeout_ms),
                    .max_rows = max_rows,
                    .max_bytes = max_bytes};
    err_clear(e);
    *r = NULL;
    return be->driver->execute(conn, &call, sql, r, e);
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

/* ---- tests --------------------------------------------------------------- */

static void test_select_and_headers(void)
{
    reset_stats();
    db_result *r;
    err_t e;
    REQUIRE(run("SELECT 1 AS x, 'a' AS y", 10, 0, 20000, &r, &e));
    char *rows = dump(r->rows);
    CHECK_STR(rows, "[[1,\"a\"]]");
    free(rows);
    CHECK(!r->truncated);
    CHECK_STR(r->cols[0].type, "NUMBER(38,0)");
    db_result_free(r);
    json_t *st = stats();
    json_t *last = json_object_get(st, "last_request");
    CHECK_STR(json_string_value(json_object_get(last, "token_type")), "KEYPAIR_JWT");
    CHECK_CONTAINS(json_string_value(json_object_get(last, "user_agent")), "snowflake-mcp/");
    CHECK_CONTAINS(json_string_value(json_object_get(last, "accept_encoding")), "gzip");
    CHECK_STR(json_string_value(json_object_get(last, "content_type")), "application/json");
    CHECK(stat_int(st, "submissions") == 1 && stat_int(st, "executions") == 1);
    CHECK(stat_int(st, "retries") == 0);
    json_decref(st);
}

static void test_decoding(void)
{
    db_result *r;
    err_t e;
    REQUIRE(run("SELECT * FROM EMU_TYPES ORDER BY id", 10, 0, 20000, &r, &e));
    REQUIRE(r->ncols == 15 && db_result_row_count(r) == 3);
    const char *types[] = {"NUMBER(38,0)",
                           "NUMBER(38,0)",
                           "NUMBER(10,2)",
                           "FLOAT",
                           "VARCHAR(16777216)",
                           "BOOLEAN",
                           "DATE",
                           "TIME(9)",
                           "TIMESTAMP_NTZ(9)",
                           "TIMESTAMP_LTZ(9)",
                           "TIMESTAMP_TZ(9)",
                           "VARIANT",
                           "OBJECT",
                           "ARRAY",
                           "BINARY(8388608)"};
    for (size_t i = 0; i < 15; i++)
        CHECK_STR(r->cols[i].type, types[i]);
    char *row1 = dump(json_array_get(r->rows, 0));
    CHECK_STR(row1, "[1,123,1.5,15000000000.0,\"hello, \\\"world\\\"\",true,\"2020-01-01\","
                    "\"23:01:59\",\"2021-01-28T22:09:37.123456789\",\"2021-01-28T22:09:37Z\","
                    "\"2021-03-19T18:06:59+01:00\",{\"a\":[1,2]},{\"k\":\"v\"},[1,\"two\",null],"
                    "\"DEADBEEF\"]");
    free(row1);
    json_t *row2 = json_array_get(r->rows, 1);
    CHECK_STR(json_string_value(json_array_get(row2, 6)), "1969-12-31");
    CHECK_STR(json_string_value(json_array_get(row2, 10)), "2020-06-01T00:00:00-05:30");
    CHECK(json_is_false(json_array_get(row2, 5)));
    json_t *row3 = json_array_get(r->rows, 2);
    for (size_t i = 1; i < 15; i++)
        CHECK(json_is_null(json_array_get(row3, i)));
    db_result_free(r);
}

static void test_partitions_only_as_needed(void)
{
    db_result *r;
    err_t e;
    /* 100 rows per partition: 250 rows need partitions 0, 1 and 2 */
    reset_stats();
    REQUIRE(run("SELECT order_id FROM ORDERS ORDER BY order_id", 250, 0, 30000, &r, &e));
    CHECK(db_result_row_count(r) == 250);
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "row limit");
    CHECK(json_integer_value(json_array_get(json_array_get(r->rows, 249), 0)) == 250);
    db_result_free(r);
    json_t *st = stats();
    CHECK(stat_int(st, "partitions_served") == 2);
    json_t *parts = json_object_get(st, "partitions");
    for (size_t i = 0; i < json_array_size(parts); i++)
        CHECK(json_is_true(json_object_get(json_array_get(parts, i), "gzip")));
    json_decref(st);

    /* exactly one partition's worth: nothing more is fetched */
    reset_stats();
    REQUIRE(run("SELECT order_id FROM ORDERS ORDER BY order_id", 100, 0, 30000, &r, &e));
    CHECK(db_result_row_count(r) == 100 && r->truncated);
    db_result_free(r);
    st = stats();
    CHECK(stat_int(st, "partitions_served") == 0);
    json_decref(st);

    /* everything, across five partitions */
    reset_stats();
    REQUIRE(run("SELECT order_id FROM ORDERS WHERE order_id <= 450 ORDER BY order_id", 1000, 0,
                30000, &r, &e));
    CHECK(db_result_row_count(r) == 450);
    CHECK(!r->truncated);
    CHECK(json_integer_value(json_array_get(json_array_get(r->rows, 449), 0)) == 450);
    db_result_free(r);
    st = stats();
    CHECK(stat_int(st, "partitions_served") == 4);
    json_decref(st);
}

static void test_byte_limit(void)
{
    db_result *r;
    err_t e;
    REQUIRE(run("SELECT * FROM CUSTOMERS", 100000, 4000, 30000, &r, &e));
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "byte limit");
    CHECK(db_result_row_count(r) > 0 && db_result_row_count(r) < 2000);
    db_result_free(r);
}

static db_result *catalog(db_catalog_kind kind, const char *database, const char *schema,
                          const char *object, bool want_view, bool want_table, err_t *e)
{
    db_call call = {.deadline_ns = clock_deadline_in_ms(20000), .max_rows = 1000};
    db_catalog_req req = {kind, database, schema, object, want_view, want_table};
    db_result *r = NULL;
    err_clear(e);
    return be->driver->catalog(conn, &call, &req, &r, e) ? r : NULL;
}

/* Index of the row whose column col is the string s, or -1. */
static long find_row(const db_result *r, size_t col, const char *s)
{
    for (size_t i = 0; i < db_result_row_count(r); i++) {
        const char *v = json_string_value(json_array_get(json_array_get(r->rows, i), col));
        if (v && strcmp(v, s) == 0)
            return (long)i;
    }
    return -1;
}

static void test_catalog(void)
{
    err_t e;
    db_result *r = catalog(DB_LIST_DATABASES, NULL, NULL, NULL, false, false, &e);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 2 && strcmp(r->cols[0].name, "name") == 0);
    CHECK(find_row(r, 0, "SALES") >= 0 && find_row(r, 0, "MARKETING") >= 0 &&
          find_row(r, 0, "FINANCE") >= 0);
    db_result_free(r);

    r = catalog(DB_LIST_SCHEMAS, "marketing", NULL, NULL, false, false, &e);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 1);
    CHECK(find_row(r, 1, "PUBLIC") == 0);
    CHECK_STR(json_string_value(json_array_get(json_array_get(r->rows, 0), 0)), "MARKETING");
    db_result_free(r);

    r = catalog(DB_LIST_TABLES, NULL, NULL, NULL, false, false, &e); /* configured defaults */
    REQUIRE(r != NULL);
    REQUIRE(r->ncols == 6);
    long orders = find_row(r, 2, "ORDERS");
    REQUIRE(orders >= 0);
    json_t *row = json_array_get(r->rows, (size_t)orders);
    CHECK_STR(json_string_value(json_array_get(row, 0)), "SALES");
    CHECK_STR(json_string_value(json_array_get(row, 1)), "PUBLIC");
    CHECK_STR(json_string_value(json_array_get(row, 3)), "TABLE");
    CHECK(json_integer_value(json_array_get(row, 4)) == 50000);
    CHECK(find_row(r, 2, "REVENUE_BY_REGION") < 0);
    db_result_free(r);

    r = catalog(DB_LIST_VIEWS, "SALES", "PUBLIC", NULL, false, false, &e);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 4 && find_row(r, 2, "REVENUE_BY_REGION") >= 0);
    CHECK(find_row(r, 2, "ORDERS") < 0);
    db_result_free(r);

    r = catalog(DB_DESCRIBE, NULL, NULL, "orders", false, true, &e);
    REQUIRE(r != NULL);
    long id = find_row(r, 0, "order_id");
    REQUIRE(id >= 0);
    char *text = dump(json_array_get(r->rows, (size_t)id));
    CHECK_STR(text, "[\"order_id\",\"NUMBER(38,0)\",false,null,true,null]");
    free(text);
    long amount = find_row(r, 0, "total_amount");
    REQUIRE(amount >= 0);
    CHECK_STR(json_string_value(json_array_get(json_array_get(r->rows, (size_t)amount), 1)),
              "NUMBER(12,2)");
    db_result_free(r);

    r = catalog(DB_DESCRIBE, "SALES", "PUBLIC", "REVENUE_BY_REGION", true, false, &e);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) > 0);
    db_result_free(r);

    r = catalog(DB_VIEW_DEFINITION, "SALES", "PUBLIC", "REVENUE_BY_REGION", true, false, &e);
    REQUIRE(r != NULL);
    CHECK_CONTAINS(json_string_value(json_array_get(json_array_get(r->rows, 0), 0)),
                   "create or replace view");
    db_result_free(r);

    CHECK(catalog(DB_DESCRIBE, NULL, NULL, "NO_SUCH_TABLE", false, true, &e) == NULL);
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "SALES.PUBLIC.NO_SUCH_TABLE does not exist");

    CHECK(catalog(DB_DESCRIBE, NULL, NULL, "ORDERS", true, false, &e) == NULL);
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "is a table, not a view; use describe_table");

    CHECK(catalog(DB_LIST_TABLES, "NOPE_DB", "PUBLIC", NULL, false, false, &e) == NULL);
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "NOPE_DB.PUBLIC");
}

static void test_sql_errors(void)
{
    db_result *r;
    err_t e;
    CHECK(!run("SELEC 1", 10, 0, 20000, &r, &e));
    CHECK(e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "001003");
    CHECK(!run("SELECT * FROM NO_SUCH_TABLE", 10, 0, 20000, &r, &e));
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK(!run("SELECT 1; SELECT 2", 10, 0, 20000, &r, &e));
    CHECK(e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "000008");
}

/* An injected status answered count times, then success, one requestId. */
static void check_retried(const char *sql, int injected)
{
    reset_stats();
    db_result *r;
    err_t e;
    bool ok = run(sql, 10, 0, 60000, &r, &e);
    if (!CHECK(ok))
        fprintf(stderr, "    %s: %s\n", sql, e.msg);
    else
        CHECK(json_integer_value(json_array_get(json_array_get(r->rows, 0), 0)) == 7);
    db_result_free(r);
    json_t *st = stats();
    json_t *req = only_request(st);
    CHECK(req != NULL);
    CHECK(json_integer_value(json_object_get(req, "submissions")) == injected + 1);
    CHECK(json_integer_value(json_object_get(req, "retries")) == injected);
    CHECK(json_integer_value(json_object_get(req, "executions")) == 1);
    json_decref(st);
}

static void test_retries(void)
{
    check_retried("/*emu:status=503,count=2*/ SELECT 7", 2);
    check_retried("/*emu:status=429,count=1*/ SELECT 7", 1);
    check_retried("/*emu:status=502,count=1*/ SELECT 7", 1);

    /* transient failures while polling */
    reset_stats();
    db_result *r;
    err_t e;
    CHECK(run("/*emu:slow=500,poll_status=503,poll_count=2*/ SELECT 7", 10, 0, 60000, &r, &e));
    db_result_free(r);

    /* never recovering: a bounded number of attempts, then ERR_BUSY */
    reset_stats();
    CHECK(!run("/*emu:status=503,count=50*/ SELECT 7", 10, 0, 60000, &r, &e));
    CHECK(e.kind == ERR_BUSY);
    json_t *st = stats();
    json_t *req = only_request(st);
    CHECK(req && json_integer_value(json_object_get(req, "submissions")) == 6);
    CHECK(stat_int(st, "executions") == 0);
    json_decref(st);

    /* a final client error is not retried */
    reset_stats();
    CHECK(!run("/*emu:status=400*/ SELECT 7", 10, 0, 60000, &r, &e));
    st = stats();
    CHECK(stat_int(st, "submissions") == 1);
    json_decref(st);
}

static void test_polling(void)
{
    reset_stats();
    db_result *r;
    err_t e;
    REQUIRE(run("/*emu:slow=1200*/ SELECT 42 AS answer", 10, 0, 30000, &r, &e));
    CHECK(json_integer_value(json_array_get(json_array_get(r->rows, 0), 0)) == 42);
    db_result_free(r);
    json_t *st = stats();
    CHECK(stat_int(st, "polls") >= 1);
    CHECK(stat_int(st, "executions") == 1);
    json_decref(st);
}

static void test_jwt_renewed_on_401(void)
{
    reset_stats();
    db_result *r;
    err_t e;
    REQUIRE(run("/*emu:expire_token*/ SELECT 7", 10, 0, 30000, &r, &e));
    db_result_free(r);
    json_t *st = stats();
    json_t *req = only_request(st);
    CHECK(req && json_integer_value(json_object_get(req, "submissions")) == 2);
    CHECK(req && json_array_size(json_object_get(req, "tokens")) == 2); /* a new JWT */
    CHECK(stat_int(st, "executions") == 1);
    json_decref(st);
}

static void test_token_file_reread(void)
{
    base_env();
    setenv("SNOWFLAKE_AUTH_TYPE", "pat", 1);
    setenv("SNOWFLAKE_TOKEN_FILE", token_file, 1);
    err_t e;
    db_backend *pat = snowflake_backend_from_env(&e);
    REQUIRE(pat != NULL);
    db_conn *c = NULL;
    REQUIRE(pat->driver->connect(pat, 0, &c, &e));
    CHECK(pat->driver->ping(c, clock_deadline_in_ms(20000), &e));
    /* the token is rotated: the emulator only accepts the new one now */
    write_file(token_file, "tok-2\n");
    reset_stats();
    CHECK(pat->driver->ping(c, clock_deadline_in_ms(20000), &e));
    json_t *st = stats();
    CHECK_STR(json_string_value(json_object_get(json_object_get(st, "last_request"), "token_type")),
              "PROGRAMMATIC_ACCESS_TOKEN");
    CHECK(stat_int(st, "auth_failures") == 1);
    json_decref(st);
    pat->driver->close(c);
    db_backend_free(pat);
}

static void test_wrong_key(void)
{
    db_backend *other = keypair_backend(key_other, NULL);
    REQUIRE(other != NULL);
    db_conn *c = NULL;
    err_t e;
    REQUIRE(other->driver->connect(other, 0, &c, &e));
    err_clear(&e);
    CHECK(!other->driver->ping(c, clock_deadline_in_ms(20000), &e));
    CHECK(e.kind == ERR_AUTH);
    CHECK_CONTAINS(e.msg, "390144");
    CHECK_CONTAINS(e.msg, "RSA_PUBLIC_KEY_FP");
    other->driver->close(c);
    strbuf rep;
    sb_init(&rep);
    CHECK(!snowflake_check(other, &rep, &e));
    CHECK_CONTAINS(rep.data, "SELECT 1:      FAILED");
    sb_free(&rep);
    db_backend_free(other);
}

static void test_check_report(void)
{
    strbuf rep;
    sb_init(&rep);
    err_t e;
    CHECK(snowflake_check(be, &rep, &e));
    CHECK_CONTAINS(rep.data, "jwt subject:   ACME.ALICE");
    CHECK_CONTAINS(rep.data, "SELECT 1:      ok");
    CHECK_CONTAINS(rep.data, "current user   ALICE");
    sb_free(&rep);
}

typedef struct bg_query {
    db_conn *conn;
    const char *sql;
    int64_t timeout_ms;
    atomic_bool cancelled;
    bool ok;
    err_t err;
    int64_t ended_ns;
} bg_query;

static void *bg_run(void *p)
{
    bg_query *q = p;
    db_call call = {.deadline_ns = clock_deadline_in_ms(q->timeout_ms),
                    .max_rows = 10,
                    .cancelled = &q->cancelled};
    db_result *r = NULL;
    q->ok = be->driver->execute(q->conn, &call, q->sql, &r, &q->err);
    q->ended_ns = clock_now_ns();
    db_result_free(r);
    return NULL;
}

/* Waits (test only) until the emulator runs n statements. */
static bool wait_running(long long n)
{
    for (int i = 0; i < 300; i++) {
        json_t *st = stats();
        long long running = stat_int(st, "running");
        json_decref(st);
        if (running >= n)
            return true;
        clock_sleep_ms(20);
    }
    return false;
}

static void test_cancel_from_another_thread(void)
{
    reset_stats();
    bg_query q = {.conn = conn, .sql = "/*emu:slow=60000*/ SELECT 1", .timeout_ms = 60000};
    atomic_init(&q.cancelled, false);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, bg_run, &q) == 0);
    CHECK(wait_running(1));
    clock_sleep_ms(300); /* let the driver settle into its poll wait */
    int64_t t0 = clock_now_ns();
    atomic_store(&q.cancelled, true);
    be->driver->cancel(conn);
    pthread_join(t, NULL);
    CHECK(!q.ok);
    CHECK(q.err.kind == ERR_CANCELLED);
    fprintf(stderr, "    cancel to return: %.1f ms\n",
            (double)(q.ended_ns - t0) / (double)CLOCK_NS_PER_MS);
    json_t *st = stats();
    CHECK(stat_int(st, "cancels") == 1);
    json_t *h = json_array_get(json_object_get(st, "cancelled_handles"), 0);
    CHECK(json_is_true(json_object_get(h, "was_running")));
    json_decref(st);
    /* the connection is usable afterwards */
    db_result *r;
    err_t e;
    CHECK(run("SELECT 1", 1, 0, 20000, &r, &e));
    db_result_free(r);
}

/* Cancelled while the POST itself still waits for the statement (no handle
 * yet): the driver learns the handle by resending the requestId with
 * retry=true, then cancels it; the statement runs only once. */
static void test_cancel_during_submit(void)
{
    reset_stats();
    bg_query q = {.conn = conn,
                  .sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                         "WHERE x < 400000000) SELECT count(*) FROM c",
                  .timeout_ms = 60000};
    atomic_init(&q.cancelled, false);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, bg_run, &q) == 0);
    CHECK(wait_running(1));
    atomic_store(&q.cancelled, true);
    be->driver->cancel(conn);
    pthread_join(t, NULL);
    CHECK(!q.ok && q.err.kind == ERR_CANCELLED);
    json_t *st = stats();
    json_t *req = only_request(st);
    CHECK(req && json_integer_value(json_object_get(req, "executions")) == 1);
    CHECK(req && json_integer_value(json_object_get(req, "deduplicated")) == 1);
    CHECK(stat_int(st, "cancels") == 1);
    json_t *h = json_array_get(json_object_get(st, "cancelled_handles"), 0);
    CHECK(json_is_true(json_object_get(h, "was_running")));
    json_decref(st);
}

static void test_deadline_cancels_in_snowflake(void)
{
    reset_stats();
    db_result *r;
    err_t e;
    int64_t t0 = clock_now_ns();
    CHECK(!run("/*emu:slow=60000*/ SELECT 1", 10, 0, 1500, &r, &e));
    CHECK(e.kind == ERR_TIMEOUT);
    fprintf(stderr, "    1500 ms deadline returned after %.1f ms\n",
            (double)(clock_now_ns() - t0) / (double)CLOCK_NS_PER_MS);
    json_t *st = stats();
    CHECK(stat_int(st, "cancels") == 1);
    json_decref(st);
}

/* ---- network loss ----------------------------------------------------------- */

/* A TCP relay in front of the emulator that can sever the driver's
 * connections: every connection accepted before drop_until_ns is closed at
 * once, and bumping epoch closes those being relayed. The test process owns
 * both ends, so the driver sees real transport errors. */
typedef struct relay {
    int listen_fd;
    int emu_port;
    char host[64];
    _Atomic int64_t drop_until_ns;
    atomic_int epoch;
    atomic_int dropped;
    atomic_bool stop;
    pthread_t acceptor;
    pthread_t pipes[64];
    atomic_int npipes;
} relay;

typedef struct relay_pipe {
    relay *rl;
    int client;
    int epoch;
} relay_pipe;

static void close_both(int a, int b)
{
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
    close(a);
    close(b);
}

static void *relay_pipe_run(void *p)
{
    relay_pipe *rp = p;
    relay *rl = rp->rl;
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)rl->emu_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof a) != 0) {
        close_both(rp->client, up);
        free(rp);
        return NULL;
    }
    char buf[16384];
    for (;;) {
        if (atomic_load(&rl->stop) || atomic_load(&rl->epoch) != rp->epoch)
            break;
        struct pollfd f[2] = {{.fd = rp->client, .events = POLLIN}, {.fd = up, .events = POLLIN}};
        if (poll(f, 2, 20) < 0)
            break;
        bool eof = false;
        for (int i = 0; i < 2 && !eof; i++) {
            if (!(f[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(f[i].fd, buf, sizeof buf);
            eof = n <= 0 || write(f[1 - i].fd, buf, (size_t)n) != n;
        }
        if (eof)
            break;
    }
    close_both(rp->client, up);
    free(rp);
    return NULL;
}

static void *relay_accept_run(void *p)
{
    relay *rl = p;
    while (!atomic_load(&rl->stop)) {
        struct pollfd f = {.fd = rl->listen_fd, .events = POLLIN};
        if (poll(&f, 1, 20) <= 0)
            continue;
        int c = accept(rl->listen_fd, NULL, NULL);
        if (c < 0)
            continue;
        int n = atomic_load(&rl->npipes);
        if (clock_now_ns() < atomic_load(&rl->drop_until_ns) || n >= 64) {
            atomic_fetch_add(&rl->dropped, 1);
            close(c);
            continue;
        }
        relay_pipe *rp = malloc(sizeof *rp);
        *rp = (relay_pipe){.rl = rl, .client = c, .epoch = atomic_load(&rl->epoch)};
        if (pthread_create(&rl->pipes[n], NULL, relay_pipe_run, rp) == 0)
            atomic_store(&rl->npipes, n + 1);
        else {
            close(c);
            free(rp);
        }
    }
    return NULL;
}

static bool relay_start(relay *rl, int emu_port)
{
    memset(rl, 0, sizeof *rl);
    rl->emu_port = emu_port;
    rl->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (rl->listen_fd < 0 || bind(rl->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(rl->listen_fd, 16) != 0 ||
        getsockname(rl->listen_fd, (struct sockaddr *)&a, &len) != 0)
        return false;
    snprintf(rl->host, sizeof rl->host, "127.0.0.1:%d", ntohs(a.sin_port));
    return pthread_create(&rl->acceptor, NULL, relay_accept_run, rl) == 0;
}

static void relay_stop(relay *rl)
{
    atomic_store(&rl->stop, true);
    pthread_join(rl->acceptor, NULL);
    for (int i = 0; i < atomic_load(&rl->npipes); i++)
        pthread_join(rl->pipes[i], NULL);
    close(rl->listen_fd);
}

/* The network fails while the driver polls a running statement and the
 * deadline passes during the retry pauses: that is a timeout, not a lost
 * connection, and the statement (whose handle is known) is cancelled in
 * Snowflake once the network is back. */
static void test_network_loss_until_deadline(void)
{
    static relay rl;
    int emu_port = atoi(strchr(host, ':') + 1);
    REQUIRE(relay_start(&rl, emu_port));
    char saved[sizeof host];
    snprintf(saved, sizeof saved, "%s", host);
    snprintf(host, sizeof host, "%s", rl.host);
    db_backend *via = keypair_backend(key_enc, "pw");
    snprintf(host, sizeof host, "%s", saved);
    REQUIRE(via != NULL);
    db_conn *c = NULL;
    err_t e;
    REQUIRE(via->driver->connect(via, 0, &c, &e));
    reset_stats();
    /* 2.5 s: the client's deadline passes before the statement's own
     * server-side timeout (whole seconds, rounded up), so the cancel finds it
     * still running. */
    bg_query q = {.conn = c, .sql = "/*emu:slow=60000*/ SELECT 1", .timeout_ms = 2500};
    atomic_init(&q.cancelled, false);
    /* Not later than the deadline bg_run sets: every connection made before
     * it fails, and the cancel (made after it) gets through. */
    int64_t drop_until = clock_deadline_in_ms(q.timeout_ms);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, bg_run, &q) == 0);
    CHECK(wait_running(1));
    clock_sleep_ms(300); /* let the driver settle into its poll wait */
    atomic_store(&rl.drop_until_ns, drop_until);
    atomic_fetch_add(&rl.epoch, 1);
    pthread_join(t, NULL);
    CHECK(!q.ok);
    if (!CHECK(q.err.kind == ERR_TIMEOUT))
        fprintf(stderr, "    got: %s\n", q.err.msg);
    CHECK(atomic_load(&rl.dropped) >= 1);
    json_t *st = stats();
    CHECK(stat_int(st, "cancels") == 1);
    json_t *h = json_array_get(json_object_get(st, "cancelled_handles"), 0);
    CHECK(json_is_true(json_object_get(h, "was_running")));
    json_decref(st);
    via->driver->close(c);
    db_backend_free(via);
    relay_stop(&rl);
}

/* ---- through the pool ------------------------------------------------------ */

static dbp *pool_;

typedef struct worker {
    int id;
    int ok;
} worker;

static void *pool_worker(void *p)
{
    worker *w = p;
    for (int i = 0; i < 10; i++) {
        char sql[64];
        int want = w->id * 100 + i;
        snprintf(sql, sizeof sql, "SELECT %d AS n", want);
        db_call call = {.deadline_ns = clock_deadline_in_ms(30000), .max_rows = 5};
        db_result *r = NULL;
        err_t e;
        if (dbp_execute(pool_, &call, NULL, "test", sql, &r, &e) &&
            json_integer_value(json_array_get(json_array_get(r->rows, 0), 0)) == want)
            w->ok++;
        else
            fprintf(stderr, "    worker %d: %s\n", w->id, e.msg);
        db_result_free(r);
    }
    return NULL;
}

typedef struct pool_cancel {
    dbp_cancel *cancel;
    bool ok;
    err_t err;
} pool_cancel;

static void *pool_slow(void *p)
{
    pool_cancel *pc = p;
    db_call call = {.deadline_ns = clock_deadline_in_ms(60000), .max_rows = 5};
    db_result *r = NULL;
    pc->ok =
        dbp_execute(pool_, &call, pc->cancel, "slow", "/*emu:slow=60000*/ SELECT 1", &r, &pc->err);
    db_result_free(r);
    return NULL;
}

static void test_pool(void)
{
    pool_config cfg;
    pool_config_defaults(&cfg);
    cfg.min_size = 1;
    cfg.max_size = 4;
    err_t e;
    pool_ = dbp_create(be, &cfg, &e);
    REQUIRE(pool_ != NULL);
    reset_stats();
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){.id = i + 1};
        pthread_create(&t[i], NULL, pool_worker, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
    }
    CHECK(ok == 80);
    json_t *st = stats();
    CHECK(stat_int(st, "executions") >= 80);
    json_decref(st);

    /* a pooled call cancelled the way the MCP layer does it */
    reset_stats();
    pool_cancel pc = {.cancel = dbp_cancel_new()};
    pthread_t slow;
    pthread_create(&slow, NULL, pool_slow, &pc);
    CHECK(wait_running(1));
    dbp_cancel_fire(pc.cancel);
    pthread_join(slow, NULL);
    CHECK(!pc.ok && pc.err.kind == ERR_CANCELLED);
    st = stats();
    CHECK(stat_int(st, "cancels") == 1);
    json_decref(st);
    dbp_cancel_free(pc.cancel);
    dbp_destroy(pool_);
}

int main(void)
{
    if (!find_emulator()) {
        printf("skipped: the snowemu binary is not built next to this test "
               "(cmake --build <dir> --target snowemu)\n");
        return 77;
    }
    /* ctest sets SMCP_SOURCE_DIR; by hand, this file's path tells. */
    char src[PATH_MAX];
    const char *env = getenv("SMCP_SOURCE_DIR");
    snprintf(src, sizeof src, "%s", env ? env : __FILE__);
    char *cut = env ? NULL : strstr(src, "/tests/unit/");
    if (cut)
        *cut = '\0';
    setup(src);
    be = keypair_backend(key_enc, "pw");
    err_t e;
    if (!be || !be->driver->connect(be, 0, &conn, &e)) {
        teardown();
        return 1;
    }
    TEST_RUN(test_select_and_headers);
    TEST_RUN(test_decoding);
    TEST_RUN(test_partitions_only_as_needed);
    TEST_RUN(test_byte_limit);
    TEST_RUN(test_catalog);
    TEST_RUN(test_sql_errors);
    TEST_RUN(test_retries);
    TEST_RUN(test_polling);
    TEST_RUN(test_jwt_renewed_on_401);
    TEST_RUN(test_token_file_reread);
    TEST_RUN(test_wrong_key);
    TEST_RUN(test_check_report);
    TEST_RUN(test_cancel_from_another_thread);
    TEST_RUN(test_cancel_during_submit);
    TEST_RUN(test_deadline_cancels_in_snowflake);
    TEST_RUN(test_network_loss_until_deadline);
    TEST_RUN(test_pool);
    be->driver->close(conn);
    db_backend_free(be);
    teardown();
    return test_summary();
}
