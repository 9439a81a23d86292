/* Tests of reading Snowflake SQL API answers without a network: the error
 * an HTTP answer becomes (sfapi_read_answer), the poll URL of a 202
 * (sfapi_poll_target) and the rows of a finished statement within the
 * limits (sfresult_take), with partitions fetched from a list. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "db/result.h"
#include "db/snowflake/sfapi.h"
#include "db/snowflake/sfresult.h"
#include "testlib.h"

/* ---- answers into errors -------------------------------------------------------- */

static const sfapi_client_info keypair = {.base_url = "https://org-acct.snowflakecomputing.com",
                                          .auth = SF_AUTH_KEYPAIR,
                                          .token_type = "KEYPAIR_JWT",
                                          .jwt_account = "ORG-ACCT",
                                          .fingerprint = "SHA256:fp=",
                                          .attempts = 6};

static bool read(long status, const char *body, json_t **j, sfapi_fail *fail, err_t *e)
{
    return sfapi_read_answer(status, body, strlen(body), &keypair, j, fail, e);
}

static void test_success_answers(void)
{
    json_t *j = NULL;
    sfapi_fail fail = {0};
    err_t e;
    err_clear(&e);
    CHECK(read(200, "{\"data\":[]}", &j, &fail, &e));
    CHECK(json_is_array(json_object_get(j, "data")));
    CHECK(e.kind == ERR_NONE);
    json_decref(j);
    CHECK(!read(202, "<html>busy</html>", &j, &fail, &e));
    CHECK(j == NULL && e.kind == ERR_INTERNAL);
    CHECK_CONTAINS(e.msg, "HTTP 202) is not JSON");
}

static void test_error_answers(void)
{
    json_t *j = (json_t *)1;
    sfapi_fail fail = {0};
    err_t e;
    CHECK(!read(422,
                "{\"code\":\"002003\",\"sqlState\":\"42S02\",\"message\":\"Table 'X' does not "
                "exist\"}",
                &j, &fail, &e));
    CHECK(j == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "Table 'X' does not exist");
    CHECK(fail.http_status == 422);
    CHECK_STR(fail.code, "002003");
    CHECK_STR(fail.sql_state, "42S02");

    CHECK(!read(422, "{\"code\":\"000630\",\"message\":\"timeout\"}", &j, &fail, &e));
    CHECK(e.kind == ERR_TIMEOUT);
    CHECK(!read(422, "{\"code\":\"001003\",\"sqlState\":\"42000\",\"message\":\"syntax\"}", &j,
                &fail, &e));
    CHECK(e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "Snowflake error 001003, SQL state 42000");

    CHECK(!read(401, "{\"code\":\"390144\",\"message\":\"JWT token is invalid.\"}", &j, &fail, &e));
    CHECK(e.kind == ERR_AUTH);
    CHECK_CONTAINS(e.msg, "SHA256:fp=");
    CHECK_CONTAINS(e.msg, "code 390144: JWT token is invalid.");

    CHECK(!read(503, "upstream\x01\xff connect error", &j, &fail, &e));
    CHECK(e.kind == ERR_BUSY);
    CHECK_CONTAINS(e.msg, "after 6 attempts: upstream   connect error");
    CHECK(fail.http_status == 503 && fail.code[0] == '\0');

    CHECK(!read(404, "", &j, &fail, &e));
    CHECK(e.kind == ERR_CONNECT);
    CHECK_CONTAINS(e.msg, "https://org-acct.snowflakecomputing.com");
    CHECK(!read(418, "{}", &j, &fail, &e));
    CHECK(e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "HTTP 418");
}

static void test_poll_target(void)
{
    const char *base = "https://h:1";
    char *handle = NULL, *url = NULL;
    json_t *a = json_pack("{s:s, s:s}", "statementHandle", "01b2", "statementStatusUrl",
                          "/api/v2/statements/01b2?requestId=r");
    CHECK(sfapi_poll_target(base, a, &handle, &url));
    CHECK_STR(handle, "01b2");
    CHECK_STR(url, "https://h:1/api/v2/statements/01b2?requestId=r");
    free(handle);
    free(url);
    json_decref(a);
    /* A path without its slash, even one that looks like an authority. */
    a = json_pack("{s:s, s:s}", "statementHandle", "01b2", "statementStatusUrl", "@evil.example/x");
    CHECK(sfapi_poll_target(base, a, &handle, &url));
    CHECK_STR(url, "https://h:1/@evil.example/x");
    free(handle);
    free(url);
    json_decref(a);
    a = json_pack("{s:s}", "statementHandle", "01b3");
    CHECK(sfapi_poll_target(base, a, &handle, &url));
    CHECK_STR(url, "https://h:1/api/v2/statements/01b3");
    free(handle);
    free(url);
    json_decref(a);
    a = json_pack("{s:s}", "statementStatusUrl", "/api/v2/statements/x");
    CHECK(!sfapi_poll_target(base, a, &handle, &url));
    CHECK(handle == NULL && url == NULL);
    json_decref(a);
}

/* ---- rows ---------------------------------------------------------------------------- */

typedef struct src {
    json_t *partitions; /* element n-1 is partition n */
    int fetched;
} src;

static bool fetch(void *ctx, const char *handle, size_t n, json_t **data, err_t *err)
{
    src *s = ctx;
    s->fetched++;
    json_t *d = json_array_get(s->partitions, n - 1);
    if (!d || strcmp(handle, "h1") != 0) {
        err_set(err, ERR_CONN_LOST, "partition %zu unreachable", n);
        return false;
    }
    *data = json_incref(d);
    return true;
}

/* An answer with one FIXED column, partition 0 = data, parts partitions,
 * numRows when num >= -1 (-2: absent), and code (may be NULL). */
static json_t *answer(const char *data, size_t parts, long long num, const char *code)
{
    json_t *meta =
        json_pack("{s:[{s:s,s:s,s:i}]}", "rowType", "name", "N", "type", "fixed", "scale", 0);
    json_t *info = json_array();
    for (size_t i = 0; i < parts; i++)
        json_array_append_new(info, json_object());
    json_object_set_new(meta, "partitionInfo", info);
    if (num >= -1)
        json_object_set_new(meta, "numRows", json_integer(num));
    json_t *a = json_pack("{s:o, s:s, s:o}", "resultSetMetaData", meta, "statementHandle", "h1",
                          "data", json_loads(data, 0, NULL));
    if (code)
        json_object_set_new(a, "code", json_string(code));
    return a;
}

static void test_rows_and_partitions(void)
{
    json_t *a = answer("[[\"1\"],[\"2\"]]", 3, 5, NULL);
    src s = {.partitions = json_loads("[[[\"3\"],[\"4\"]],[[\"5\"]]]", 0, NULL)};
    db_result *r = NULL;
    err_t e;
    REQUIRE(sfresult_take(a, 10, 0, fetch, &s, &r, &e));
    CHECK(db_result_row_count(r) == 5 && s.fetched == 2 && !r->truncated);
    CHECK(r->ncols == 1 && json_integer_value(json_array_get(json_array_get(r->rows, 4), 0)) == 5);
    db_result_free(r);
    /* Row limit inside partition 1: partition 2 is never asked for. */
    s.fetched = 0;
    REQUIRE(sfresult_take(a, 3, 0, fetch, &s, &r, &e));
    CHECK(db_result_row_count(r) == 3 && s.fetched == 1);
    CHECK(r->truncated && strcmp(r->truncated_by, "row limit") == 0);
    db_result_free(r);
    /* Byte limit: each cell is one byte; stop once past 1. */
    s.fetched = 0;
    REQUIRE(sfresult_take(a, 10, 1, fetch, &s, &r, &e));
    CHECK(db_result_row_count(r) == 2 && s.fetched == 0);
    CHECK(r->truncated && strcmp(r->truncated_by, "byte limit") == 0);
    db_result_free(r);
    json_decref(a);
    json_decref(s.partitions);
}

/* Found by fuzz_sf_response: without numRows, rows in a partition left
 * unfetched at the row limit were not reported as left behind. */
static void test_unfetched_partition_without_num_rows(void)
{
    json_t *a = answer("[[\"1\"],[\"2\"]]", 2, -2, NULL);
    src s = {.partitions = json_loads("[[[\"3\"]]]", 0, NULL)};
    db_result *r = NULL;
    err_t e;
    REQUIRE(sfresult_take(a, 2, 0, fetch, &s, &r, &e));
    CHECK(db_result_row_count(r) == 2 && s.fetched == 0);
    CHECK(r->truncated && strcmp(r->truncated_by, "row limit") == 0);
    db_result_free(r);
    /* All rows taken: not truncated. */
    REQUIRE(sfresult_take(a, 3, 0, fetch, &s, &r, &e));
    CHECK(db_result_row_count(r) == 3 && !r->truncated);
    db_result_free(r);
    json_decref(a);
    json_decref(s.partitions);
}

/* Found by fuzz_sf_response: a negative numRows was read as a huge count
 * and every complete result was reported truncated. */
static void test_negative_num_rows(void)
{
    json_t *a = answer("[[\"1\"]]", 1, -1, NULL);
    db_result *r = NULL;
    err_t e;
    REQUIRE(sfresult_take(a, 5, 0, NULL, NULL, &r, &e));
    CHECK(db_result_row_count(r) == 1 && !r->truncated);
    db_result_free(r);
    json_decref(a);
}

static void test_server_truncation_and_failures(void)
{
    json_t *a = answer("[[\"1\"]]", 1, 1, "391908");
    db_result *r = NULL;
    err_t e;
    REQUIRE(sfresult_take(a, 5, 0, NULL, NULL, &r, &e));
    CHECK(r->truncated && strcmp(r->truncated_by, SFRESULT_TRUNCATED_BY_SERVER) == 0);
    db_result_free(r);
    json_decref(a);
    /* A fetch that fails fails the whole take with its error. */
    a = answer("[[\"1\"]]", 3, 3, NULL);
    src s = {.partitions = json_array()};
    r = (db_result *)1;
    CHECK(!sfresult_take(a, 5, 0, fetch, &s, &r, &e));
    CHECK(r == NULL && e.kind == ERR_CONN_LOST);
    json_decref(s.partitions);
    json_decref(a);
    /* No rowType. */
    a = json_pack("{s:{}, s:[]}", "resultSetMetaData", "data");
    CHECK(!sfresult_take(a, 5, 0, NULL, NULL, &r, &e));
    CHECK(r == NULL && e.kind == ERR_INTERNAL);
    json_decref(a);
}

int main(void)
{
    TEST_RUN(test_success_answers);
    TEST_RUN(test_error_answers);
    TEST_RUN(test_poll_target);
    TEST_RUN(test_rows_and_partitions);
    TEST_RUN(test_unfetched_partition_without_num_rows);
    TEST_RUN(test_negative_num_rows);
    TEST_RUN(test_server_truncation_and_failures);
    return test_summary();
}
