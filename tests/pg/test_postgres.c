/* The PostgreSQL driver against a real server (tests/pg/cluster.sh).
 *
 * Needs SMCP_PG_STATE pointing at a running cluster's state directory; the
 * ctest fixture pg_cluster provides it. A side session (plain libpq, as the
 * superuser over the cluster's socket) checks what the driver did and
 * injects faults. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "db/postgres.h"
#include "pgtest.h"
#include "testlib.h"

static char dsn[512];
static char admin_conninfo[1024];
static db_backend *be;

static void setup(void)
{
    pgtest_locate(dsn, sizeof dsn, admin_conninfo, sizeof admin_conninfo);
}

/* Runs sql in a fresh superuser session; returns the first cell (caller
 * frees) or NULL. */
static char *admin(const char *sql)
{
    PGconn *pg = PQconnectdb(admin_conninfo);
    char *out = NULL;
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "admin connect: %s", PQerrorMessage(pg));
    } else {
        PGresult *res = PQexec(pg, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK && PQntuples(res) > 0)
            out = strdup(PQgetvalue(res, 0, 0));
        else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            fprintf(stderr, "admin %s: %s", sql, PQresultErrorMessage(res));
        PQclear(res);
    }
    PQfinish(pg);
    return out;
}

static long admin_long(const char *sql)
{
    char *v = admin(sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

static db_conn *connect_one(void)
{
    db_conn *c = NULL;
    err_t e;
    if (!postgres_driver.connect(be, clock_deadline_in_ms(10000), &c, &e)) {
        fprintf(stderr, "connect: %s\n", e.msg);
        return NULL;
    }
    return c;
}

static db_call call_with(size_t max_rows, int64_t timeout_ms)
{
    db_call call = {0};
    call.max_rows = max_rows;
    call.deadline_ns = clock_deadline_in_ms(timeout_ms);
    return call;
}

static db_result *run(db_conn *c, const char *sql, err_t *e)
{
    db_call call = call_with(1000, 20000);
    db_result *r = NULL;
    if (!postgres_driver.execute(c, &call, sql, &r, e))
        return NULL;
    return r;
}

static json_t *cell(const db_result *r, size_t row, size_t col)
{
    return json_array_get(json_array_get(r->rows, row), col);
}

static int col_of(const db_result *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++) {
        if (strcmp(r->cols[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* The value in column name of row as compact JSON (caller frees). */
static char *json_at(const db_result *r, size_t row, const char *name)
{
    int i = col_of(r, name);
    if (i < 0)
        return strdup("<no column>");
    return json_dumps(cell(r, row, (size_t)i), JSON_COMPACT | JSON_ENCODE_ANY);
}

#define CHECK_JSON(r, row, name, want)                                                             \
    do {                                                                                           \
        char *got_ = json_at(r, row, name);                                                        \
        if (!CHECK(strcmp(got_, want) == 0))                                                       \
            fprintf(stderr, "    %s row %d: got %s, want %s\n", name, (int)(row), got_, want);     \
        free(got_);                                                                                \
    } while (0)

/* ---- tests ---------------------------------------------------------------- */

static void test_open(void)
{
    CHECK(postgres_dsn_matches("postgres://u@h/db"));
    CHECK(postgres_dsn_matches("POSTGRESQL://h"));
    CHECK(postgres_dsn_matches("host=localhost dbname=x"));
    CHECK(!postgres_dsn_matches("/tmp/x.db"));
    CHECK(!postgres_dsn_matches("sqlite:///tmp/x.db"));
    CHECK(strcmp(be->driver->name, "postgres") == 0);
    CHECK(strstr(be->description, "smcp-secret") == NULL);
    CHECK_CONTAINS(be->description, "smcptest");
    CHECK_CONTAINS(be->description, "127.0.0.1");
    err_t e;
    static const char *const bad_dsns[] = {"postgres://u:hunter2@h/db?bogus_option=1",
                                           "postgresql://u:hunter2@h/db?sslmode=bad%zz",
                                           "host=h password=hunter2 bogus"};
    for (size_t i = 0; i < sizeof bad_dsns / sizeof *bad_dsns; i++) {
        db_backend *bad = postgres_backend_open(bad_dsns[i], &e);
        CHECK(bad == NULL);
        CHECK(e.kind == ERR_INVALID);
        CHECK(strstr(e.msg, "hunter2") == NULL);
        CHECK_CONTAINS(e.msg, "DSN");
        db_backend_free(bad);
    }
    db_backend *kv = postgres_backend_open("host=127.0.0.1 password=pw2 dbname=zz", &e);
    REQUIRE(kv != NULL);
    CHECK(strstr(kv->description, "pw2") == NULL);
    CHECK_CONTAINS(kv->description, "\"zz\"");
    db_backend_free(kv);
}

static void test_session(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = run(c,
                       "SELECT current_setting('application_name') AS app, "
                       "current_setting('default_transaction_read_only') AS dro, "
                       "current_setting('transaction_read_only') AS ro, "
                       "current_setting('TimeZone') AS tz, current_user::text AS u",
                       &e);
    REQUIRE(r != NULL);
    CHECK_JSON(r, 0, "app", "\"snowflake-mcp\"");
    CHECK_JSON(r, 0, "dro", "\"on\"");
    CHECK_JSON(r, 0, "ro", "\"on\"");
    CHECK_JSON(r, 0, "tz", "\"UTC\"");
    CHECK_JSON(r, 0, "u", "\"smcp\"");
    CHECK(r->ncols == 5 && strcmp(r->cols[0].type, "text") == 0);
    db_result_free(r);
    CHECK(postgres_driver.ping(c, clock_deadline_in_ms(5000), &e));
    CHECK(postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

static void test_types(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = run(c, "SELECT * FROM public.all_types ORDER BY id", &e);
    if (!r)
        fprintf(stderr, "    %s\n", e.msg);
    REQUIRE(r != NULL);
    REQUIRE(db_result_row_count(r) == 3);
    CHECK_JSON(r, 0, "id", "1");
    CHECK_JSON(r, 0, "i2", "32767");
    CHECK_JSON(r, 0, "i4", "2147483647");
    CHECK_JSON(r, 0, "i8", "9223372036854775807");
    CHECK_JSON(r, 0, "f4", "1.5");
    CHECK_JSON(r, 0, "f8", "2.25");
    CHECK_JSON(r, 0, "num", "\"12345678901234567890.0123456789\"");
    CHECK_JSON(r, 0, "big", "\"123456789012345678901234567890\"");
    CHECK_JSON(r, 0, "b", "true");
    CHECK_JSON(r, 0, "j", "{\"a\":[1,2.5,\"x\"],\"b\":null}");
    CHECK_JSON(r, 0, "jb", "{\"k\":{\"n\":1}}");
    CHECK_JSON(r, 0, "d", "\"2024-02-29\"");
    CHECK_JSON(r, 0, "t", "\"13:14:15.5\"");
    CHECK_JSON(r, 0, "ttz", "\"13:14:15+05:30\"");
    CHECK_JSON(r, 0, "ts", "\"2024-01-02T03:04:05.123456\"");
    CHECK_JSON(r, 0, "tstz", "\"2024-01-02T03:04:05.5+00:00\"");
    CHECK_JSON(r, 0, "iv", "\"P1DT2H\"");
    CHECK_JSON(r, 0, "by", "\"00ff10\"");
    CHECK_JSON(r, 0, "txt", "\"h\u00e9llo \\\"quoted\\\", \\\\back\"");
    CHECK_JSON(r, 0, "vc", "\"short\"");
    CHECK_JSON(r, 0, "u", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    CHECK_JSON(r, 0, "ai", "[1,null,3]");
    CHECK_JSON(r, 0, "at", "[\"a b\",\"c,d\",\"e\\\"f\",null,\"NULL\"]");
    CHECK_JSON(r, 0, "an", "[\"1.5\",2]");
    CHECK_JSON(r, 0, "ab", "[true,false]");
    CHECK_JSON(r, 0, "ajb", "[{\"x\":1},[2]]");
    CHECK_JSON(r, 0, "nested", "\"{{1,2},{3,4}}\"");
    /* row 2: edge values */
    CHECK_JSON(r, 1, "f4", "\"NaN\"");
    CHECK_JSON(r, 1, "f8", "\"Infinity\"");
    CHECK_JSON(r, 1, "num", "\"-0.5000000000\"");
    CHECK_JSON(r, 1, "big", "\"NaN\"");
    CHECK_JSON(r, 1, "b", "false");
    CHECK_JSON(r, 1, "j", "[]");
    CHECK_JSON(r, 1, "jb", "null");
    CHECK_JSON(r, 1, "ttz", "\"00:00:00+00:00\"");
    CHECK_JSON(r, 1, "tstz", "\"1999-12-31T23:59:59+00:00\"");
    CHECK_JSON(r, 1, "iv", "\"P-1M\"");
    CHECK_JSON(r, 1, "by", "\"\"");
    CHECK_JSON(r, 1, "ai", "[]");
    /* row 3: NULLs and a whole numeric */
    CHECK_JSON(r, 2, "i2", "null");
    CHECK_JSON(r, 2, "f8", "\"-Infinity\"");
    CHECK_JSON(r, 2, "big", "42");
    CHECK_JSON(r, 2, "ai", "null");
    CHECK_JSON(r, 2, "tstz", "null");
    /* column types as format_type names them */
    CHECK_STR(r->cols[col_of(r, "num")].type, "numeric(30,10)");
    CHECK_STR(r->cols[col_of(r, "vc")].type, "character varying(20)");
    CHECK_STR(r->cols[col_of(r, "tstz")].type, "timestamp with time zone");
    CHECK_STR(r->cols[col_of(r, "ai")].type, "integer[]");
    CHECK_STR(r->cols[col_of(r, "i8")].type, "bigint");
    CHECK(r->truncated == false);
    db_result_free(r);
    postgres_driver.close(c);
}

static void test_numeric_array_exact(void)
{
    /* numeric array elements keep their exact text like scalar numerics */
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = run(c, "SELECT ARRAY[1.10, 2, 99999999999999999999]::numeric[] AS a", &e);
    REQUIRE(r != NULL);
    CHECK_JSON(r, 0, "a", "[\"1.10\",2,\"99999999999999999999\"]");
    db_result_free(r);
    postgres_driver.close(c);
}

static void test_row_cap(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_call call = call_with(5, 60000);
    db_result *r = NULL;
    int64_t t0 = clock_now_ns();
    bool ok =
        postgres_driver.execute(c, &call, "SELECT generate_series(1, 100000000) AS g", &r, &e);
    double ms = (double)(clock_now_ns() - t0) / 1e6;
    REQUIRE(ok);
    CHECK(db_result_row_count(r) == 5);
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "row limit");
    CHECK_JSON(r, 4, "g", "5");
    fprintf(stderr, "    5 of 100000000 rows in %.1f ms\n", ms);
    db_result_free(r);
    /* the connection is clean and reusable: nothing still runs on it */
    CHECK(postgres_driver.reset(c, &e));
    r = run(c,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query "
            "LIKE '%generate_series(1, 100000000) AS g%' AND pid <> pg_backend_pid()",
            &e);
    REQUIRE(r != NULL);
    CHECK_JSON(r, 0, "n", "0");
    db_result_free(r);

    /* exactly max_rows rows: not truncated */
    call = call_with(3, 20000);
    REQUIRE(postgres_driver.execute(c, &call, "SELECT g FROM generate_series(1, 3) g", &r, &e));
    CHECK(db_result_row_count(r) == 3 && !r->truncated);
    db_result_free(r);

    /* max_rows 0: no rows kept, but truncated says rows existed */
    call = call_with(0, 20000);
    REQUIRE(postgres_driver.execute(c, &call, "SELECT 1 AS x", &r, &e));
    CHECK(db_result_row_count(r) == 0 && r->truncated && r->ncols == 1);
    db_result_free(r);

    /* byte cap */
    call = call_with(1000000, 20000);
    call.max_bytes = 1000;
    REQUIRE(postgres_driver.execute(
        c, &call, "SELECT repeat('x', 100) AS s FROM generate_series(1, 100000)", &r, &e));
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "byte limit");
    CHECK(db_result_row_count(r) == 11); /* the row that passed 1000 bytes is kept */
    db_result_free(r);
    CHECK(postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

static void test_empty_result_has_columns(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = run(c, "SELECT 1 AS a, 'x'::text AS b WHERE false", &e);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 2 && db_result_row_count(r) == 0 && !r->truncated);
    CHECK_STR(r->cols[0].type, "integer");
    db_result_free(r);
    postgres_driver.close(c);
}

/* generate_series in the select list streams its rows (in FROM it would
 * first materialise all of them). */
static const char slow_sql[] =
    "SELECT count(*) FROM (SELECT generate_series(1, 2000000000) AS g) s";

static void test_timeout(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_call call = call_with(10, 300);
    db_result *r = NULL;
    int64_t t0 = clock_now_ns();
    CHECK(!postgres_driver.execute(c, &call, slow_sql, &r, &e));
    double ms = (double)(clock_now_ns() - t0) / 1e6;
    CHECK(e.kind == ERR_TIMEOUT);
    fprintf(stderr, "    timed out after %.0f ms (deadline 300 ms): %s\n", ms, e.msg);
    CHECK(postgres_driver.reset(c, &e));
    r = run(c, "SELECT 7 AS seven", &e);
    REQUIRE(r != NULL);
    CHECK_JSON(r, 0, "seven", "7");
    db_result_free(r);
    postgres_driver.close(c);
}

typedef struct canceller {
    db_conn *c;
    atomic_bool *flag;
    int64_t fired_ns;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;
    clock_sleep_ms(300);
    k->fired_ns = clock_now_ns();
    atomic_store(k->flag, true);
    postgres_driver.cancel(k->c);
    return NULL;
}

static void test_cancel(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    atomic_bool flag;
    atomic_init(&flag, false);
    db_call call = call_with(10, 60000);
    call.cancelled = &flag;
    canceller k = {c, &flag, 0};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &k);
    err_t e;
    db_result *r = NULL;
    int64_t t0 = clock_now_ns();
    CHECK(!postgres_driver.execute(c, &call, slow_sql, &r, &e));
    int64_t end = clock_now_ns();
    pthread_join(th, NULL);
    CHECK(e.kind == ERR_CANCELLED);
    double after = (double)(end - k.fired_ns) / 1e6;
    fprintf(stderr, "    cancelled after %.0f ms, %.0f ms after cancel(): %s\n",
            (double)(end - t0) / 1e6, after, e.msg);
    /* cancel() wakes the wait: without it the safety-net re-check would
     * notice the flag only about 700 ms after it was set. */
    CHECK(after < 500);
    CHECK(postgres_driver.reset(c, &e));
    r = run(c, "SELECT 1 AS one", &e);
    REQUIRE(r != NULL);
    db_result_free(r);
    /* cancel() while nothing runs is harmless */
    postgres_driver.cancel(c);
    r = run(c, "SELECT 2 AS two", &e);
    CHECK(r != NULL);
    db_result_free(r);
    postgres_driver.close(c);
}

static void *set_flag_later(void *arg)
{
    clock_sleep_ms(300);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_cancel_flag_only(void)
{
    /* Only the flag, no cancel() call: the driver's safety-net re-check
     * still sees it while it waits and stops the statement itself. */
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    atomic_bool flag;
    atomic_init(&flag, false);
    db_call call = call_with(10, 60000);
    call.cancelled = &flag;
    pthread_t th;
    pthread_create(&th, NULL, set_flag_later, &flag);
    err_t e;
    db_result *r = NULL;
    int64_t t0 = clock_now_ns();
    CHECK(!postgres_driver.execute(c, &call, slow_sql, &r, &e));
    pthread_join(th, NULL);
    CHECK(e.kind == ERR_CANCELLED);
    double ms = (double)(clock_now_ns() - t0) / 1e6;
    fprintf(stderr, "    flag only: stopped after %.0f ms (flag at 300 ms)\n", ms);
    CHECK(ms < 5000); /* the re-check, not the 60 s deadline, stopped it */
    CHECK(postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

static void check_refused(db_conn *c, const char *sql, const char *needle)
{
    err_t e;
    db_result *r = run(c, sql, &e);
    if (!CHECK(r == NULL && e.kind == ERR_REFUSED))
        fprintf(stderr, "    %s -> %s: %s\n", sql, err_kind_name(e.kind), r ? "ran" : e.msg);
    else
        CHECK_CONTAINS(e.msg, needle);
    db_result_free(r);
    CHECK(postgres_driver.reset(c, &e));
}

static void test_engine_refuses_writes(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    /* what the guard would refuse, sent straight to the driver */
    check_refused(c, "SELECT 1; SELECT 2", "one statement");
    check_refused(c, "SELECT 1; DELETE FROM public.scratch", "one statement");
    check_refused(c, "COMMIT; DROP SCHEMA public CASCADE", "one statement");
    check_refused(c, "INSERT INTO public.scratch (note) VALUES ('x')", "25006");
    check_refused(c, "UPDATE public.scratch SET note = 'changed'", "25006");
    check_refused(c, "WITH d AS (DELETE FROM public.scratch RETURNING *) SELECT * FROM d", "25006");
    check_refused(c, "CREATE TABLE public.t2 AS SELECT 1 AS x", "25006");
    check_refused(c, "SELECT nextval('public.s')", "25006");
    check_refused(c, "CALL public.p()", "25006");
    check_refused(c, "DO $$BEGIN DELETE FROM public.scratch; END$$", "25006");
    check_refused(c, "EXPLAIN ANALYZE DELETE FROM public.scratch", "25006");
    /* COMMIT inside our transaction ends it, but the ROLLBACK that follows
     * finds nothing to undo and the next statement is read-only again */
    err_t e;
    db_result *r = run(c, "COMMIT", &e);
    db_result_free(r);
    CHECK(postgres_driver.reset(c, &e));
    check_refused(c, "INSERT INTO public.scratch (note) VALUES ('after commit')", "25006");
    postgres_driver.close(c);
    CHECK(admin_long("SELECT count(*) FROM public.scratch WHERE note = 'original'") == 1);
    CHECK(admin_long("SELECT count(*) FROM public.scratch") == 1);
    CHECK(admin_long("SELECT count(*) FROM pg_class WHERE relname = 't2'") == 0);
    CHECK(admin_long("SELECT last_value FROM public.s") == 1);
    CHECK(admin_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'") == 1);
}

static void test_reset_clears_session(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    /* A session-level advisory lock survives ROLLBACK; reset must drop it. */
    db_result *r = run(c, "SELECT pg_advisory_lock(4242)", &e);
    REQUIRE(r != NULL);
    db_result_free(r);
    CHECK(admin_long("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = "
                     "4242") == 1);
    CHECK(postgres_driver.reset(c, &e));
    CHECK(admin_long("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = "
                     "4242") == 0);
    /* set_config(..., false) inside the statement is undone by the rollback */
    r = run(c, "SELECT set_config('TimeZone', 'Asia/Tokyo', false)", &e);
    db_result_free(r);
    CHECK(postgres_driver.reset(c, &e));
    r = run(c, "SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds", &e);
    REQUIRE(r != NULL);
    CHECK_JSON(r, 0, "tz", "\"UTC\"");
    CHECK_JSON(r, 0, "ds", "\"ISO, YMD\"");
    db_result_free(r);
    postgres_driver.close(c);
}

static db_result *catalog(db_conn *c, db_catalog_kind kind, const char *db, const char *schema,
                          const char *object, bool want_view, bool want_table, err_t *e)
{
    db_call call = call_with(10000, 20000);
    db_catalog_req req = {kind, db, schema, object, want_view, want_table};
    db_result *r = NULL;
    if (!postgres_driver.catalog(c, &call, &req, &r, e))
        return NULL;
    return r;
}

/* True when column col of some row equals want (a string). */
static bool has_row(const db_result *r, const char *col, const char *want)
{
    int i = col_of(r, col);
    for (size_t row = 0; i >= 0 && row < db_result_row_count(r); row++) {
        const char *v = json_string_value(cell(r, row, (size_t)i));
        if (v && strcmp(v, want) == 0)
            return true;
    }
    return false;
}

static int row_of(const db_result *r, const char *col, const char *want)
{
    int i = col_of(r, col);
    for (size_t row = 0; i >= 0 && row < db_result_row_count(r); row++) {
        const char *v = json_string_value(cell(r, row, (size_t)i));
        if (v && strcmp(v, want) == 0)
            return (int)row;
    }
    return -1;
}

static void check_columns(const db_result *r, const char *const *names)
{
    size_t n = 0;
    for (; names[n]; n++) {
        if (!CHECK(n < r->ncols && strcmp(r->cols[n].name, names[n]) == 0))
            fprintf(stderr, "    column %zu: want %s\n", n, names[n]);
    }
    CHECK(r->ncols == n);
}

static void test_catalog(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = catalog(c, DB_LIST_DATABASES, NULL, NULL, NULL, false, false, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"name", "comment", NULL});
    CHECK(has_row(r, "name", "smcptest"));
    CHECK(has_row(r, "name", "other"));
    CHECK(!has_row(r, "name", "template0") && !has_row(r, "name", "template1"));
    int row = row_of(r, "name", "smcptest");
    CHECK(row >= 0 && json_is_string(cell(r, (size_t)row, 1)));
    db_result_free(r);

    r = catalog(c, DB_LIST_SCHEMAS, "smcptest", NULL, NULL, false, false, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"database", "name", "comment", NULL});
    CHECK(has_row(r, "name", "public") && has_row(r, "name", "sales") &&
          has_row(r, "name", "MixedCase"));
    CHECK(!has_row(r, "name", "pg_catalog") && !has_row(r, "name", "information_schema") &&
          !has_row(r, "name", "pg_toast"));
    row = row_of(r, "name", "sales");
    CHECK(row >= 0 && json_is_string(cell(r, (size_t)row, 2)));
    db_result_free(r);

    r = catalog(c, DB_LIST_TABLES, "smcptest", "sales", NULL, false, false, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"database", "schema", "name", "kind", "row_count",
                                           "comment", NULL});
    CHECK(db_result_row_count(r) == 2);
    row = row_of(r, "name", "orders");
    REQUIRE(row >= 0);
    CHECK_JSON(r, (size_t)row, "kind", "\"TABLE\"");
    CHECK_JSON(r, (size_t)row, "row_count", "10000");
    CHECK_JSON(r, (size_t)row, "schema", "\"sales\"");
    CHECK_JSON(r, (size_t)row, "database", "\"smcptest\"");
    db_result_free(r);

    r = catalog(c, DB_LIST_VIEWS, "smcptest", "sales", NULL, false, false, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"database", "schema", "name", "comment", NULL});
    CHECK(has_row(r, "name", "big_orders") && has_row(r, "name", "region_totals"));
    CHECK(db_result_row_count(r) == 2);
    db_result_free(r);

    r = catalog(c, DB_DESCRIBE, "smcptest", "public", "all_types", false, true, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"name", "type", "nullable", "default", "primary_key",
                                           "comment", NULL});
    CHECK(db_result_row_count(r) == 27);
    row = row_of(r, "name", "id");
    CHECK_JSON(r, (size_t)row, "primary_key", "true");
    CHECK_JSON(r, (size_t)row, "nullable", "false");
    row = row_of(r, "name", "i4");
    CHECK_JSON(r, (size_t)row, "default", "\"0\"");
    CHECK_JSON(r, (size_t)row, "nullable", "false");
    CHECK_JSON(r, (size_t)row, "primary_key", "false");
    row = row_of(r, "name", "num");
    CHECK_JSON(r, (size_t)row, "type", "\"numeric(30,10)\"");
    CHECK_JSON(r, (size_t)row, "comment", "\"exact decimal\"");
    CHECK_JSON(r, (size_t)row, "nullable", "true");
    db_result_free(r);

    r = catalog(c, DB_DESCRIBE, "smcptest", "sales", "big_orders", true, false, &e);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 3);
    db_result_free(r);

    r = catalog(c, DB_VIEW_DEFINITION, "smcptest", "sales", "big_orders", true, false, &e);
    REQUIRE(r != NULL);
    check_columns(r, (const char *const[]){"definition", NULL});
    CHECK(db_result_row_count(r) == 1);
    CHECK_CONTAINS(json_string_value(cell(r, 0, 0)), "JOIN");
    db_result_free(r);

    /* kind mismatches and missing objects */
    r = catalog(c, DB_DESCRIBE, "smcptest", "sales", "big_orders", false, true, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "is a view");
    r = catalog(c, DB_DESCRIBE, "smcptest", "sales", "orders", true, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "is a table");
    r = catalog(c, DB_VIEW_DEFINITION, "smcptest", "sales", "orders", true, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    r = catalog(c, DB_DESCRIBE, "smcptest", "sales", "nope", false, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "does not exist");
    r = catalog(c, DB_LIST_TABLES, "smcptest", "nope", NULL, false, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "schema \"nope\" does not exist");
    CHECK(postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

static void test_case_insensitive(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = catalog(c, DB_LIST_TABLES, "SMCPTEST", "PUBLIC", NULL, false, false, &e);
    REQUIRE(r != NULL);
    CHECK(has_row(r, "name", "all_types") && has_row(r, "name", "scratch"));
    CHECK_JSON(r, 0, "schema", "\"public\"");
    db_result_free(r);
    r = catalog(c, DB_DESCRIBE, "smcptest", "mixedcase", "ITEMS", false, false, &e);
    REQUIRE(r != NULL);
    CHECK(has_row(r, "name", "Id") && has_row(r, "name", "select"));
    db_result_free(r);
    /* the schema of a call becomes the search path, matched the same way */
    db_call call = call_with(10, 20000);
    call.schema = "SALES";
    call.database = "SMCPTEST";
    REQUIRE(postgres_driver.execute(c, &call, "SELECT count(*) AS n FROM orders", &r, &e));
    CHECK_JSON(r, 0, "n", "10000");
    db_result_free(r);
    call.schema = "nope";
    CHECK(!postgres_driver.execute(c, &call, "SELECT 1", &r, &e));
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK(postgres_driver.reset(c, &e));

    postgres_driver.close(c);
}

/* DB_SAMPLE resolves a name as DB_DESCRIBE does: exact first, then
 * case-insensitively, refusing ambiguity; so query_view and describe_view
 * always see the same object. */
static void test_sample(void)
{
    free(admin("CREATE SCHEMA IF NOT EXISTS case_c; "
               "CREATE OR REPLACE VIEW case_c.\"REPORT\" AS SELECT 1 AS upper_one; "
               "CREATE OR REPLACE VIEW case_c.report AS SELECT 2 AS lower_two; "
               "GRANT USAGE ON SCHEMA case_c TO smcp; "
               "GRANT SELECT ON ALL TABLES IN SCHEMA case_c TO smcp"));
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = catalog(c, DB_DESCRIBE, NULL, "case_c", "REPORT", true, false, &e);
    REQUIRE(r != NULL);
    CHECK(has_row(r, "name", "upper_one"));
    db_result_free(r);
    r = catalog(c, DB_SAMPLE, NULL, "case_c", "REPORT", true, false, &e);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 1 && strcmp(r->cols[0].name, "upper_one") == 0);
    CHECK_JSON(r, 0, "upper_one", "1");
    CHECK(db_result_row_count(r) == 1 && !r->truncated);
    db_result_free(r);
    r = catalog(c, DB_SAMPLE, NULL, "CASE_C", "report", true, false, &e);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 1 && strcmp(r->cols[0].name, "lower_two") == 0);
    CHECK_JSON(r, 0, "lower_two", "2");
    db_result_free(r);
    r = catalog(c, DB_SAMPLE, NULL, "case_c", "Report", true, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "ambiguous");
    CHECK_CONTAINS(e.msg, "\"REPORT\"");
    CHECK_CONTAINS(e.msg, "\"report\"");
    r = catalog(c, DB_SAMPLE, NULL, "case_c", "nothing_here", true, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "does not exist");
    /* a table asked for as a view */
    r = catalog(c, DB_SAMPLE, "smcptest", "PUBLIC", "ALL_TYPES", true, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "is a table");
    /* the row cap: one row kept of the view's two, truncation seen */
    db_call call = call_with(1, 20000);
    db_catalog_req req = {
        .kind = DB_SAMPLE, .schema = "PUBLIC", .object = "ALL_TYPES_V", .want_view = true};
    r = NULL;
    REQUIRE(postgres_driver.catalog(c, &call, &req, &r, &e));
    CHECK(db_result_row_count(r) == 1 && r->truncated);
    CHECK(col_of(r, "txt") >= 0);
    db_result_free(r);
    CHECK(postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

static void test_other_database(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = catalog(c, DB_LIST_SCHEMAS, "other", NULL, NULL, false, false, &e);
    CHECK(r == NULL && e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "its own DSN");
    CHECK_CONTAINS(e.msg, "\"smcptest\"");
    db_call call = call_with(10, 20000);
    call.database = "OTHER";
    CHECK(!postgres_driver.execute(c, &call, "SELECT 1", &r, &e));
    CHECK(e.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(e.msg, "its own DSN");
    postgres_driver.close(c);
}

static void test_sql_error(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    err_t e;
    db_result *r = run(c, "SELECT * FROM no_such_table", &e);
    CHECK(r == NULL && e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "no_such_table");
    CHECK_CONTAINS(e.msg, "42P01");
    r = run(c, "SELECT 1/0", &e);
    CHECK(r == NULL && e.kind == ERR_SQL);
    CHECK_CONTAINS(e.msg, "22012");
    CHECK(postgres_driver.reset(c, &e));
    r = run(c, "SELECT 3 AS x", &e);
    CHECK(r != NULL);
    db_result_free(r);
    postgres_driver.close(c);
}

static char *backend_pid(db_conn *c)
{
    err_t e;
    db_result *r = run(c, "SELECT pg_backend_pid()::text AS pid", &e);
    char *pid = r ? strdup(json_string_value(cell(r, 0, 0))) : NULL;
    db_result_free(r);
    postgres_driver.reset(c, &e);
    return pid;
}

static void terminate(const char *pid)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s, 5000)", pid);
    free(admin(sql));
}

static void test_killed_idle(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    char *pid = backend_pid(c);
    REQUIRE(pid != NULL);
    terminate(pid);
    free(pid);
    err_t e;
    CHECK(!postgres_driver.ping(c, clock_deadline_in_ms(5000), &e));
    CHECK(e.kind == ERR_CONN_LOST);
    postgres_driver.close(c);

    c = connect_one();
    REQUIRE(c != NULL);
    pid = backend_pid(c);
    terminate(pid);
    free(pid);
    db_result *r = run(c, "SELECT 1", &e);
    CHECK(r == NULL && e.kind == ERR_CONN_LOST && e.never_ran);
    fprintf(stderr, "    idle kill: %s\n", e.msg);
    CHECK(!postgres_driver.reset(c, &e));
    postgres_driver.close(c);
}

typedef struct killer {
    char *pid;
} killer;

static void *kill_later(void *arg)
{
    killer *k = arg;
    clock_sleep_ms(400);
    terminate(k->pid);
    return NULL;
}

static void test_killed_running(void)
{
    db_conn *c = connect_one();
    REQUIRE(c != NULL);
    killer k = {backend_pid(c)};
    REQUIRE(k.pid != NULL);
    pthread_t th;
    pthread_create(&th, NULL, kill_later, &k);
    err_t e;
    db_result *r = run(c, slow_sql, &e);
    pthread_join(th, NULL);
    CHECK(r == NULL && e.kind == ERR_CONN_LOST && !e.never_ran);
    fprintf(stderr, "    running kill: %s\n", e.msg);
    CHECK(!postgres_driver.reset(c, &e));
    free(k.pid);
    postgres_driver.close(c);
}

static void test_connect_errors(void)
{
    err_t e;
    char bad[600];
    /* a wrong password */
    snprintf(bad, sizeof bad, "%s", dsn);
    char *secret = strstr(bad, "smcp-secret");
    REQUIRE(secret != NULL);
    memcpy(secret, "wrong-pass!", 11);
    db_backend *b = postgres_backend_open(bad, &e);
    REQUIRE(b != NULL);
    db_conn *c = NULL;
    CHECK(!postgres_driver.connect(b, clock_deadline_in_ms(5000), &c, &e));
    CHECK(e.kind == ERR_AUTH);
    CHECK(strstr(e.msg, "wrong-pass") == NULL);
    db_backend_free(b);
    /* nothing listening */
    b = postgres_backend_open("postgres://smcp:x@127.0.0.1:1/smcptest", &e);
    REQUIRE(b != NULL);
    CHECK(!postgres_driver.connect(b, clock_deadline_in_ms(5000), &c, &e));
    CHECK(e.kind == ERR_CONNECT);
    CHECK_CONTAINS(e.msg, "cannot connect");
    db_backend_free(b);
}

int main(void)
{
    setup();
    err_t e;
    be = postgres_backend_open(dsn, &e);
    if (!be) {
        fprintf(stderr, "open: %s\n", e.msg);
        return 1;
    }
    TEST_RUN(test_open);
    TEST_RUN(test_session);
    TEST_RUN(test_types);
    TEST_RUN(test_numeric_array_exact);
    TEST_RUN(test_row_cap);
    TEST_RUN(test_empty_result_has_columns);
    TEST_RUN(test_timeout);
    TEST_RUN(test_cancel);
    TEST_RUN(test_cancel_flag_only);
    TEST_RUN(test_engine_refuses_writes);
    TEST_RUN(test_reset_clears_session);
    TEST_RUN(test_catalog);
    TEST_RUN(test_case_insensitive);
    TEST_RUN(test_sample);
    TEST_RUN(test_other_database);
    TEST_RUN(test_sql_error);
    TEST_RUN(test_killed_idle);
    TEST_RUN(test_killed_running);
    TEST_RUN(test_connect_errors);
    db_backend_free(be);
    return test_summary();
}
