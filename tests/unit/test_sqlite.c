/* Tests of the SQLite driver against real database files made in a temp dir. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "db/driver.h"
#include "db/sqlite.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/smcp-test-sqlite-XXXXXX";
static char warehouse[512]; /* SHOP.db + OTHER.sqlite */
static db_backend *be;

/* An infinite row source: anything that runs it to the end never returns. */
#define ENDLESS "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "

static void make_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &msg) != 0) {
        fprintf(stderr, "cannot make %s: %s\n", path, msg ? msg : sqlite3_errmsg(db));
        exit(2);
    }
    sqlite3_close(db);
}

static void setup(void)
{
    if (!mkdtemp(tmpdir))
        exit(2);
    snprintf(warehouse, sizeof warehouse, "%s/wh", tmpdir);
    mkdir(warehouse, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/SHOP.db", warehouse);
    make_db(path, "CREATE TABLE ITEMS (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL,"
                  " qty INTEGER DEFAULT 0, photo BLOB, note TEXT);"
                  "INSERT INTO ITEMS VALUES (1, 'Lamp', 19.5, 3, x'00FF10', 'ok'),"
                  " (2, 'Desk', 120.0, 1, NULL, NULL),"
                  " (3, 'Star', 9e999, 2, NULL, CAST(x'41FF42' AS TEXT));"
                  "CREATE VIEW CHEAP AS SELECT id, name FROM ITEMS WHERE price < 100;"
                  "CREATE INDEX ITEMS_NAME ON ITEMS (name);"
                  "CREATE TABLE T (x INTEGER); INSERT INTO T VALUES (7);"
                  "CREATE TABLE \"odd\"\"name\" (a INTEGER);");
    snprintf(path, sizeof path, "%s/other.sqlite", warehouse);
    make_db(path, "CREATE TABLE T (x INTEGER NOT NULL); INSERT INTO T VALUES (42);");
    snprintf(path, sizeof path, "%s/notes.txt", warehouse);
    make_db(path, "CREATE TABLE IGNORED (a);"); /* wrong suffix: not served */
    err_t err;
    be = db_backend_open(warehouse, &err);
    if (!be) {
        fprintf(stderr, "backend: %s\n", err.msg);
        exit(2);
    }
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static db_conn *connect_or_die(void)
{
    db_conn *c = NULL;
    err_t err;
    if (!be->driver->connect(be, 0, &c, &err)) {
        fprintf(stderr, "connect: %s\n", err.msg);
        exit(2);
    }
    return c;
}

static db_call default_call(void)
{
    return (db_call){.max_rows = 1000, .deadline_ns = clock_deadline_in_ms(60000)};
}

static db_result *run(db_conn *c, const db_call *call, const char *sql, err_t *err)
{
    db_result *r = NULL;
    err_clear(err);
    if (!be->driver->execute(c, call, sql, &r, err))
        return NULL;
    return r;
}

static json_t *cell(const db_result *r, size_t row, size_t col)
{
    return json_array_get(json_array_get(r->rows, row), col);
}

static void test_dsn_forms(void)
{
    err_t err;
    char dsn[700];
    snprintf(dsn, sizeof dsn, "sqlite://%s", warehouse);
    db_backend *b = db_backend_open(dsn, &err);
    REQUIRE(b != NULL);
    CHECK_STR(b->driver->name, "sqlite");
    CHECK_STR(sqlite_backend_default_database(b), "OTHER"); /* first alphabetically */
    CHECK_CONTAINS(b->description, "SHOP");
    db_backend_free(b);

    snprintf(dsn, sizeof dsn, "sqlite://%s/SHOP.db", warehouse);
    b = db_backend_open(dsn, &err);
    REQUIRE(b != NULL);
    CHECK_STR(sqlite_backend_default_database(b), "SHOP");
    CHECK(strstr(b->description, "OTHER") == NULL);
    db_backend_free(b);

    /* Relative forms resolve against the working directory. */
    char cwd[600];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(tmpdir) == 0);
    b = db_backend_open("sqlite:wh/SHOP.db", &err);
    CHECK(b != NULL);
    db_backend_free(b);
    b = db_backend_open("sqlite://wh", &err);
    CHECK(b != NULL);
    db_backend_free(b);
    b = db_backend_open("wh", &err);
    CHECK(b != NULL);
    db_backend_free(b);
    REQUIRE(chdir(cwd) == 0);

    /* PostgreSQL DSNs go to the PostgreSQL driver, which connects lazily;
     * its description never shows the password. */
    b = db_backend_open("postgres://u:hunter2@127.0.0.1/db", &err);
    CHECK(b != NULL);
    CHECK(b && strcmp(b->driver->name, "postgres") == 0);
    CHECK(b && strstr(b->description, "hunter2") == NULL);
    db_backend_free(b);
    /* snowflake:// goes to the Snowflake driver, which wants a user. */
    unsetenv("SNOWFLAKE_USER");
    CHECK(db_backend_open("snowflake://acct", &err) == NULL);
    CHECK_CONTAINS(err.msg, "SNOWFLAKE_USER");
    CHECK(db_backend_open("mysql://root:hunter2@127.0.0.1/x", &err) == NULL);
    CHECK(err.kind == ERR_INVALID);
    CHECK_CONTAINS(err.msg, "sqlite:///");
    CHECK(strstr(err.msg, "hunter2") == NULL);
    b = db_backend_open(" host = /run/postgresql password=hunter2", &err);
    CHECK(b && strcmp(b->driver->name, "postgres") == 0);
    CHECK(b && strstr(b->description, "hunter2") == NULL);
    db_backend_free(b);
    CHECK(db_backend_open("", &err) == NULL);
    CHECK(err.kind == ERR_INVALID);
    snprintf(dsn, sizeof dsn, "sqlite://%s/missing.db", tmpdir);
    CHECK(db_backend_open(dsn, &err) == NULL);
    CHECK(err.kind == ERR_INVALID);
    CHECK(db_backend_open(tmpdir, &err) == NULL); /* a directory without database files */
    CHECK_CONTAINS(err.msg, "no database files");
}

static void test_connect_ping_types(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    CHECK(be->driver->ping(c, clock_deadline_in_ms(5000), &err));
    db_call call = default_call();
    call.database = "shop";
    db_result *r =
        run(c, &call, "SELECT id, name, price, qty, photo, note FROM ITEMS ORDER BY id", &err);
    if (!r)
        fprintf(stderr, "    %s\n", err.msg);
    REQUIRE(r != NULL);
    REQUIRE(r->ncols == 6);
    CHECK_STR(r->cols[0].name, "id");
    CHECK_STR(r->cols[0].type, "INTEGER");
    CHECK_STR(r->cols[1].type, "TEXT");
    CHECK(r->cols[1].nullable == 0);
    CHECK_STR(r->cols[2].type, "REAL");
    CHECK(r->cols[2].nullable == 1);
    CHECK_STR(r->cols[4].type, "BLOB");
    CHECK(db_result_row_count(r) == 3);
    CHECK(!r->truncated);
    CHECK(json_is_integer(cell(r, 0, 0)) && json_integer_value(cell(r, 0, 0)) == 1);
    CHECK_STR(json_string_value(cell(r, 0, 1)), "Lamp");
    CHECK(json_is_real(cell(r, 0, 2)) && json_real_value(cell(r, 0, 2)) == 19.5);
    CHECK_STR(json_string_value(cell(r, 0, 4)), "00FF10");
    CHECK(json_is_null(cell(r, 1, 4)));
    CHECK(json_is_null(cell(r, 1, 5)));
    CHECK(json_is_null(cell(r, 2, 2))); /* infinity has no JSON form */
    CHECK_STR(json_string_value(cell(r, 2, 5)), "A\xef\xbf\xbd"
                                                "B"); /* invalid UTF-8 */
    db_result_free(r);

    /* Expressions have no declared type: the first value's type, else TEXT. */
    r = run(c, &call, "SELECT 1 + 1 AS two, NULL AS empty, 2.5 AS half, 'x' || 'y' AS s", &err);
    REQUIRE(r != NULL);
    CHECK_STR(r->cols[0].type, "INTEGER");
    CHECK_STR(r->cols[1].type, "TEXT");
    CHECK_STR(r->cols[2].type, "REAL");
    CHECK_STR(r->cols[3].name, "s");
    CHECK(r->cols[0].nullable == -1);
    CHECK(json_is_null(cell(r, 0, 1)));
    CHECK_STR(json_string_value(cell(r, 0, 3)), "xy");
    db_result_free(r);

    /* Trailing comments and semicolons are one statement. */
    r = run(c, &call, "SELECT 7; -- done\n ; /* really */ ", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 7);
    db_result_free(r);
    CHECK(run(c, &call, "  -- nothing here\n", &err) == NULL);
    CHECK(err.kind == ERR_INVALID);
    CHECK(run(c, &call, "SELECT nope FROM ITEMS", &err) == NULL);
    CHECK(err.kind == ERR_SQL);
    CHECK_CONTAINS(err.msg, "no such column");
    be->driver->close(c);
}

static void test_row_cap(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.max_rows = 5;
    /* Were the rest of the statement run, this would end in ERR_TIMEOUT. */
    db_result *r = run(c, &call, ENDLESS "SELECT x FROM c", &err);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 5);
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "row limit");
    CHECK(json_integer_value(cell(r, 4, 0)) == 5);
    db_result_free(r);

    /* Exactly max_rows rows: nothing was cut off. */
    r = run(c, &call, ENDLESS "SELECT x FROM c LIMIT 5", &err);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 5);
    CHECK(!r->truncated);
    CHECK(r->truncated_by == NULL);
    db_result_free(r);

    call.max_rows = 0;
    r = run(c, &call, "SELECT 1", &err);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 0 && r->truncated && r->ncols == 1);
    db_result_free(r);
    r = run(c, &call, "SELECT 1 WHERE 0", &err);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 0 && !r->truncated);
    db_result_free(r);
    be->driver->close(c);
}

static void test_byte_cap(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.max_bytes = 1000;
    db_result *r = run(c, &call, ENDLESS "SELECT printf('%0100d', x) FROM c", &err);
    REQUIRE(r != NULL);
    CHECK(r->truncated);
    CHECK_STR(r->truncated_by, "byte limit");
    /* Each row holds 100 bytes: the 11th passes 1000 and is the last kept. */
    CHECK(db_result_row_count(r) == 11);
    CHECK(r->bytes == 1100);
    db_result_free(r);

    /* A result that passes the limit with its last row is complete. */
    r = run(c, &call, ENDLESS "SELECT printf('%0100d', x) FROM c LIMIT 11", &err);
    REQUIRE(r != NULL);
    CHECK(db_result_row_count(r) == 11);
    CHECK(!r->truncated);
    db_result_free(r);
    be->driver->close(c);
}

static void test_deadline(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.deadline_ns = clock_deadline_in_ms(200);
    CHECK(run(c, &call, ENDLESS "SELECT count(*) FROM c", &err) == NULL);
    CHECK(err.kind == ERR_TIMEOUT);
    CHECK_CONTAINS(err.msg, "time limit");
    CHECK(!err.never_ran);

    call.deadline_ns = clock_now_ns() - 1;
    CHECK(run(c, &call, "SELECT 1", &err) == NULL);
    CHECK(err.kind == ERR_TIMEOUT);
    CHECK(err.never_ran);

    /* The connection is fine afterwards. */
    CHECK(be->driver->reset(c, &err));
    call = default_call();
    db_result *r = run(c, &call, "SELECT 1", &err);
    CHECK(r != NULL);
    db_result_free(r);
    be->driver->close(c);
}

typedef struct canceller {
    db_conn *conn;
    atomic_bool *flag; /* set it, or (NULL) call the driver's cancel() */
    atomic_bool done;
} canceller;

/* Keeps cancelling until the query returns: one early cancel() would be a
 * no-op if it came before the query started. */
static void *cancel_main(void *p)
{
    canceller *k = p;
    clock_sleep_ms(50);
    while (!atomic_load(&k->done)) {
        if (k->flag)
            atomic_store(k->flag, true);
        else
            be->driver->cancel(k->conn);
        clock_sleep_ms(20);
    }
    return NULL;
}

static void cancel_case(bool use_flag)
{
    db_conn *c = connect_or_die();
    err_t err;
    atomic_bool flag;
    atomic_init(&flag, false);
    canceller k = {.conn = c, .flag = use_flag ? &flag : NULL};
    atomic_init(&k.done, false);
    db_call call = default_call();
    call.cancelled = &flag;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, cancel_main, &k) == 0);
    db_result *r = run(c, &call, ENDLESS "SELECT count(*) FROM c", &err);
    atomic_store(&k.done, true);
    pthread_join(t, NULL);
    CHECK(r == NULL);
    CHECK(err.kind == ERR_CANCELLED);
    CHECK_CONTAINS(err.msg, "cancelled");

    /* Nothing of the cancel reaches the next call. */
    CHECK(be->driver->reset(c, &err));
    call.cancelled = NULL;
    r = run(c, &call, "SELECT 1", &err);
    CHECK(r != NULL);
    db_result_free(r);
    be->driver->cancel(c); /* nothing runs: a no-op */
    r = run(c, &call, "SELECT 2", &err);
    CHECK(r != NULL);
    db_result_free(r);
    be->driver->close(c);
}

static void test_cancel_flag(void)
{
    cancel_case(true);
}

static void test_cancel_from_thread(void)
{
    cancel_case(false);
}

static void test_engine_refusals(void)
{
    static const char *const writes[] = {
        "INSERT INTO ITEMS (name) VALUES ('x')",
        "UPDATE ITEMS SET qty = 0",
        "DELETE FROM ITEMS",
        "WITH d AS (SELECT 1) DELETE FROM ITEMS",
        "REPLACE INTO ITEMS (id, name) VALUES (1, 'x')",
        "CREATE TABLE Z (a)",
        "CREATE TEMP TABLE Z (a)",
        "CREATE TEMP VIEW V AS SELECT 1",
        "CREATE INDEX I ON ITEMS (name)",
        "DROP TABLE ITEMS",
        "DROP VIEW CHEAP",
        "ALTER TABLE ITEMS ADD COLUMN z",
        "ATTACH DATABASE '/tmp/smcp-evil.db' AS EVIL",
        "ATTACH DATABASE ':memory:' AS mem",
        "DETACH DATABASE OTHER",
        "PRAGMA writable_schema = 1",
        "PRAGMA query_only = 0",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA user_version",
        "BEGIN",
        "SAVEPOINT s",
        "VACUUM",
        "ANALYZE",
        "REINDEX",
        "SELECT load_extension('libc.so.6')",
        "SELECT fts3_tokenizer('simple')",
        "SELECT 1; SELECT 2",
        "SELECT 1; DELETE FROM ITEMS",
    };
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.database = "SHOP";
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        db_result *r = run(c, &call, writes[i], &err);
        if (!CHECK(r == NULL && err.kind == ERR_REFUSED))
            fprintf(stderr, "    statement: %s -> %s: %s\n", writes[i], err_kind_name(err.kind),
                    err.msg);
        db_result_free(r);
    }
    CHECK(run(c, &call, "SELECT 1; SELECT 2", &err) == NULL);
    CHECK_CONTAINS(err.msg, "one statement");

    /* Reading introspection pragmas stays allowed; nothing changed. */
    db_result *r = run(c, &call, "SELECT count(*) FROM pragma_table_info('ITEMS')", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 6);
    db_result_free(r);
    r = run(c, &call, "SELECT count(*) FROM ITEMS", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 3);
    db_result_free(r);
    r = run(c, &call, "SELECT count(*) FROM sqlite_master", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 5);
    db_result_free(r);
    r = run(c, &call, "SELECT count(*) FROM pragma_database_list", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 3); /* main, OTHER, SHOP */
    db_result_free(r);
    be->driver->close(c);
}

static void test_cross_database(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.database = "SHOP";
    db_result *r = run(c, &call, "SELECT x FROM OTHER.T", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 42);
    if (r)
        CHECK(r->cols[0].nullable == 0);
    db_result_free(r);
    r = run(c, &call, "SELECT count(*) FROM shop.items", &err); /* own name, any case */
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 3);
    db_result_free(r);

    /* An unqualified name is the call's own database's first (SHOP.T holds
     * 7, OTHER.T 42)... */
    r = run(c, &call, "SELECT x FROM T", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 7);
    db_result_free(r);
    call.database = "other";
    r = run(c, &call, "SELECT x FROM T", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 42);
    db_result_free(r);
    /* ...and, as SQLite resolves names, falls through to attached ones. */
    r = run(c, &call, "SELECT count(*) FROM ITEMS", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 3);
    db_result_free(r);
    CHECK(run(c, &call, "SELECT count(*) FROM NOWHERE", &err) == NULL);
    CHECK(err.kind == ERR_SQL);
    CHECK_CONTAINS(err.msg, "no such table");
    r = run(c, &call, "SELECT i.name FROM SHOP.ITEMS i JOIN T ON T.x > i.id ORDER BY i.id", &err);
    CHECK(r != NULL && db_result_row_count(r) == 3);
    db_result_free(r);

    /* The names a tool passes are quoted, whatever they hold, and checked. */
    call.database = NULL;
    db_catalog_req req = {.kind = DB_SAMPLE, .database = "SHOP", .object = "odd\"name"};
    r = NULL;
    CHECK(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(r != NULL && r->ncols == 1 && db_result_row_count(r) == 0);
    db_result_free(r);
    r = NULL;
    req.database = "NOPE";
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(err.kind == ERR_NOT_FOUND);
    req.database = "SHOP";
    req.schema = "sales";
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(err.kind == ERR_NOT_FOUND);
    be->driver->close(c);
}

static void test_unknown_database_and_schema(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.database = "WAREHOUSE";
    CHECK(run(c, &call, "SELECT 1", &err) == NULL);
    CHECK(err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "WAREHOUSE");
    CHECK_CONTAINS(err.msg, "OTHER, SHOP");
    call.database = "Shop";
    call.schema = "SALES";
    CHECK(run(c, &call, "SELECT 1", &err) == NULL);
    CHECK(err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "PUBLIC");
    static const char *const ok_schemas[] = {"PUBLIC", "public", "main", "MAIN"};
    for (size_t i = 0; i < 4; i++) {
        call.schema = ok_schemas[i];
        db_result *r = run(c, &call, "SELECT count(*) FROM ITEMS", &err);
        CHECK(r != NULL);
        db_result_free(r);
    }
    be->driver->close(c);
}

static db_result *catalog(db_conn *c, db_catalog_kind kind, const char *database,
                          const char *object, err_t *err)
{
    db_call call = default_call();
    db_catalog_req req = {.kind = kind, .database = database, .object = object};
    db_result *r = NULL;
    err_clear(err);
    return be->driver->catalog(c, &call, &req, &r, err) ? r : NULL;
}

static void test_catalog(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_result *r = catalog(c, DB_LIST_DATABASES, NULL, NULL, &err);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 2 && strcmp(r->cols[0].name, "name") == 0);
    CHECK(db_result_row_count(r) == 2);
    CHECK_STR(json_string_value(cell(r, 0, 0)), "OTHER");
    CHECK_STR(json_string_value(cell(r, 1, 0)), "SHOP");
    CHECK_CONTAINS(json_string_value(cell(r, 1, 1)), "SHOP.db");
    db_result_free(r);

    r = catalog(c, DB_LIST_SCHEMAS, "shop", NULL, &err);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 3);
    CHECK_STR(json_string_value(cell(r, 0, 0)), "SHOP");
    CHECK_STR(json_string_value(cell(r, 0, 1)), "PUBLIC");
    db_result_free(r);

    r = catalog(c, DB_LIST_TABLES, "SHOP", NULL, &err);
    REQUIRE(r != NULL);
    REQUIRE(r->ncols == 6);
    CHECK_STR(r->cols[4].name, "row_count");
    CHECK(db_result_row_count(r) == 3); /* ITEMS, T and odd"name; not the view */
    CHECK_STR(json_string_value(cell(r, 0, 2)), "ITEMS");
    CHECK_STR(json_string_value(cell(r, 1, 2)), "T");
    CHECK_STR(json_string_value(cell(r, 0, 0)), "SHOP");
    CHECK_STR(json_string_value(cell(r, 0, 1)), "PUBLIC");
    CHECK_STR(json_string_value(cell(r, 0, 3)), "TABLE");
    CHECK(json_is_null(cell(r, 0, 4)));
    CHECK_STR(json_string_value(cell(r, 2, 2)), "odd\"name");
    db_result_free(r);

    r = catalog(c, DB_LIST_VIEWS, "SHOP", NULL, &err);
    REQUIRE(r != NULL);
    CHECK(r->ncols == 4 && db_result_row_count(r) == 1);
    CHECK_STR(json_string_value(cell(r, 0, 2)), "CHEAP");
    db_result_free(r);

    r = catalog(c, DB_DESCRIBE, "SHOP", "items", &err);
    REQUIRE(r != NULL);
    REQUIRE(r->ncols == 6);
    CHECK_STR(r->cols[2].name, "nullable");
    CHECK(db_result_row_count(r) == 6);
    CHECK_STR(json_string_value(cell(r, 0, 0)), "id");
    CHECK_STR(json_string_value(cell(r, 0, 1)), "INTEGER");
    CHECK(json_is_false(cell(r, 0, 2))); /* the rowid is never NULL */
    CHECK(json_is_true(cell(r, 0, 4)));
    CHECK(json_is_false(cell(r, 1, 2))); /* name NOT NULL */
    CHECK(json_is_true(cell(r, 2, 2)));
    CHECK(json_is_false(cell(r, 2, 4)));
    CHECK_STR(json_string_value(cell(r, 3, 3)), "0"); /* qty DEFAULT 0 */
    CHECK(json_is_null(cell(r, 2, 3)));
    CHECK(json_is_null(cell(r, 0, 5)));
    db_result_free(r);

    db_call call = default_call();
    db_catalog_req req = {
        .kind = DB_DESCRIBE, .database = "SHOP", .object = "ITEMS", .want_view = true};
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "SHOP.PUBLIC.ITEMS is a table, not a view; use describe_table");
    req = (db_catalog_req){
        .kind = DB_DESCRIBE, .database = "SHOP", .object = "cheap", .want_table = true};
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK_CONTAINS(err.msg, "SHOP.PUBLIC.CHEAP is a view, not a table; use describe_view");
    req.want_table = false;
    req.want_view = true;
    CHECK(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(r != NULL && db_result_row_count(r) == 2);
    db_result_free(r);

    r = catalog(c, DB_DESCRIBE, "SHOP", "MISSING", &err);
    CHECK(r == NULL && err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "SHOP.PUBLIC.MISSING does not exist");
    CHECK_CONTAINS(err.msg, "list_tables");
    r = catalog(c, DB_DESCRIBE, "SHOP", "sqlite_master", &err);
    CHECK(r == NULL && err.kind == ERR_NOT_FOUND);

    r = catalog(c, DB_VIEW_DEFINITION, "SHOP", "Cheap", &err);
    REQUIRE(r != NULL);
    CHECK_STR(r->cols[0].name, "definition");
    CHECK_CONTAINS(json_string_value(cell(r, 0, 0)), "CREATE VIEW CHEAP AS SELECT id, name");
    db_result_free(r);
    r = catalog(c, DB_VIEW_DEFINITION, "SHOP", "ITEMS", &err);
    CHECK(r == NULL && err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "is a table, not a view");

    r = catalog(c, DB_LIST_TABLES, "NOPE", NULL, &err);
    CHECK(r == NULL && err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "available databases: OTHER, SHOP");
    req = (db_catalog_req){.kind = DB_LIST_TABLES, .database = "SHOP", .schema = "X"};
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(err.kind == ERR_NOT_FOUND);
    req.kind = DB_LIST_SCHEMAS; /* lists schemas whatever schema the call names */
    CHECK(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(r != NULL && db_result_row_count(r) == 1);
    db_result_free(r);
    /* The default database when none is named. */
    r = catalog(c, DB_LIST_TABLES, NULL, NULL, &err);
    CHECK(r != NULL && db_result_row_count(r) == 1);
    db_result_free(r);
    be->driver->close(c);
}

static void test_reset_between_calls(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.max_rows = 1;
    /* A truncated result leaves no statement behind. */
    db_result *r = run(c, &call, ENDLESS "SELECT x FROM c", &err);
    CHECK(r != NULL && r->truncated);
    db_result_free(r);
    CHECK(be->driver->reset(c, &err));
    CHECK(be->driver->reset(c, &err)); /* idempotent */
    call.database = "SHOP";
    r = run(c, &call, "SELECT count(*) FROM ITEMS", &err);
    CHECK(r != NULL && json_integer_value(cell(r, 0, 0)) == 3);
    db_result_free(r);
    CHECK(be->driver->ping(c, 0, &err));
    be->driver->close(c);
}

static void test_bad_file_is_a_connect_error(void)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/junk", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/JUNK.db", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("this is not a database file, not even close, and it is long enough to have a "
          "header that SQLite would read and reject as such.\n",
          f);
    fclose(f);
    err_t err;
    db_backend *b = db_backend_open(dir, &err);
    REQUIRE(b != NULL);
    db_conn *c = NULL;
    CHECK(!b->driver->connect(b, 0, &c, &err));
    CHECK(c == NULL);
    CHECK(err.kind == ERR_CONNECT);
    CHECK_CONTAINS(err.msg, "JUNK");
    db_backend_free(b);
}

/* A file that stops being a database under an open connection makes the
 * connection unusable: the pool must drop it, not reuse it. */
static void test_file_replaced_is_conn_lost(void)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/lost", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/GONE.db", dir);
    make_db(path, "CREATE TABLE A (x); INSERT INTO A VALUES (1);");
    err_t err;
    db_backend *b = db_backend_open(dir, &err);
    REQUIRE(b != NULL);
    db_conn *c = NULL;
    REQUIRE(b->driver->connect(b, 0, &c, &err));
    db_call call = default_call();
    db_result *r = NULL;
    CHECK(b->driver->execute(c, &call, "SELECT x FROM A", &r, &err));
    db_result_free(r);
    r = NULL;
    FILE *f = fopen(path, "r+");
    REQUIRE(f != NULL);
    for (int i = 0; i < 8192; i++)
        fputc('z', f);
    fclose(f);
    CHECK(!b->driver->execute(c, &call, "SELECT x FROM A", &r, &err));
    CHECK(r == NULL);
    CHECK(err.kind == ERR_CONN_LOST);
    b->driver->close(c);
    db_backend_free(b);
}

/* Full-text and R-tree tables: readable, twice on one connection with a
 * reset between (FTS caches statements of its own that the driver must not
 * finalize), and the connection closes cleanly (ASan checks both). */
static void test_virtual_tables(void)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/vt", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/TEXTS.db", dir);
    make_db(path, "CREATE VIRTUAL TABLE F4 USING fts4(body);"
                  "INSERT INTO F4 VALUES ('hello world'), ('goodbye');"
                  "CREATE VIRTUAL TABLE F5 USING fts5(body);"
                  "INSERT INTO F5 VALUES ('hello there'), ('nothing');"
                  "CREATE VIRTUAL TABLE R USING rtree(id, x0, x1);"
                  "INSERT INTO R VALUES (1, 0, 10), (2, 5, 6);");
    err_t err;
    db_backend *vb = db_backend_open(dir, &err);
    REQUIRE(vb != NULL);
    db_conn *c = NULL;
    REQUIRE(vb->driver->connect(vb, 0, &c, &err));
    const char *queries[] = {"SELECT count(*) FROM F4 WHERE F4 MATCH 'hello'",
                             "SELECT count(*) FROM F5 WHERE F5 MATCH 'hello'",
                             "SELECT count(*) FROM R WHERE x0 <= 5.5 AND x1 >= 5.5"};
    const long long expect[] = {1, 1, 2};
    for (int round = 0; round < 2; round++) {
        for (int q = 0; q < 3; q++) {
            db_call call = default_call();
            db_result *r = NULL;
            bool ok = vb->driver->execute(c, &call, queries[q], &r, &err);
            if (!CHECK(ok))
                fprintf(stderr, "    %s: %s\n", queries[q], err.msg);
            if (ok)
                CHECK(json_integer_value(json_array_get(json_array_get(r->rows, 0), 0)) ==
                      expect[q]);
            db_result_free(r);
            CHECK(vb->driver->reset(c, &err));
        }
    }
    /* still no writes, virtual tables or not */
    db_call call = default_call();
    db_result *r = NULL;
    CHECK(!vb->driver->execute(c, &call, "INSERT INTO F4 VALUES ('x')", &r, &err));
    CHECK(!vb->driver->execute(c, &call, "INSERT INTO R_node VALUES (9, x'00')", &r, &err));
    vb->driver->close(c);
    db_backend_free(vb);
}

/* DB_SAMPLE: the first rows of an object, named as DB_DESCRIBE resolves
 * it, on the object's own database, with the row cap and its truncation. */
static void test_sample(void)
{
    db_conn *c = connect_or_die();
    err_t err;
    db_call call = default_call();
    call.max_rows = 2;
    db_catalog_req req = {.kind = DB_SAMPLE, .database = "shop", .object = "items"};
    db_result *r = NULL;
    REQUIRE(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(db_result_row_count(r) == 2 && r->truncated);
    CHECK(r->ncols == 6 && strcmp(r->cols[0].name, "id") == 0);
    db_result_free(r);
    /* a view, case-insensitively; want_view refuses a table */
    req.object = "cheap";
    req.want_view = true;
    call.max_rows = 100;
    r = NULL;
    REQUIRE(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(!r->truncated && r->ncols > 0);
    db_result_free(r);
    req.object = "ITEMS";
    r = NULL;
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err) && r == NULL);
    CHECK(err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "is a table");
    req.object = "nothing";
    CHECK(!be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(err.kind == ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "does not exist");
    /* the other database's object, through its own handle */
    req = (db_catalog_req){.kind = DB_SAMPLE, .database = "OTHER", .object = "t"};
    r = NULL;
    REQUIRE(be->driver->catalog(c, &call, &req, &r, &err));
    CHECK(db_result_row_count(r) == 1 && json_integer_value(cell(r, 0, 0)) == 42);
    CHECK_STR(r->cols[0].name, "x");
    db_result_free(r);
    be->driver->close(c);
}

int main(void)
{
    setup();
    TEST_RUN(test_dsn_forms);
    TEST_RUN(test_connect_ping_types);
    TEST_RUN(test_row_cap);
    TEST_RUN(test_byte_cap);
    TEST_RUN(test_deadline);
    TEST_RUN(test_cancel_flag);
    TEST_RUN(test_cancel_from_thread);
    TEST_RUN(test_engine_refusals);
    TEST_RUN(test_cross_database);
    TEST_RUN(test_unknown_database_and_schema);
    TEST_RUN(test_catalog);
    TEST_RUN(test_reset_between_calls);
    TEST_RUN(test_bad_file_is_a_connect_error);
    TEST_RUN(test_file_replaced_is_conn_lost);
    TEST_RUN(test_virtual_tables);
    TEST_RUN(test_sample);
    db_backend_free(be);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
