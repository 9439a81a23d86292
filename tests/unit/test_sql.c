/* The SQL lexer, the read-only guard and quoting, in all three dialects. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "sql/guard.h"
#include "sql/lexer.h"
#include "sql/quote.h"
#include "testlib.h"

#define SF SQL_SNOWFLAKE
#define PG SQL_POSTGRES
#define LITE SQL_SQLITE

static const sql_dialect all_dialects[] = {SF, PG, LITE};

/* ---- helpers ------------------------------------------------------------- */

/* One letter per token: W word, Q quoted identifier, S string, N number,
 * P parameter, . punctuation, ; semicolon, C comment, _ whitespace; "!" and
 * the error kind on a lexical error. */
static void lex_shape(sql_dialect d, const char *sql, char *out, size_t cap, err_t *e)
{
    sql_lexer lx;
    sql_lex_init(&lx, d, sql, strlen(sql));
    size_t o = 0;
    err_clear(e);
    for (;;) {
        sql_token t;
        if (!sql_lex_next(&lx, &t, e)) {
            out[o++] = '!';
            break;
        }
        if (t.type == SQL_TOK_EOF || o + 2 >= cap)
            break;
        static const char letters[] = {'$', '_', 'C', 'W', 'Q', 'S', 'N', 'P', '.', ';'};
        out[o++] = letters[t.type];
    }
    out[o] = '\0';
}

static bool shape_is(sql_dialect d, const char *sql, const char *want)
{
    char got[256];
    err_t e;
    lex_shape(d, sql, got, sizeof got, &e);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  %s lex of [%s]: got %s want %s (%s)\n", sql_dialect_name(d), sql, got,
                want, e.msg);
        return false;
    }
    return true;
}

static bool allowed_as(sql_dialect d, const char *sql, sql_kind kind)
{
    err_t e;
    sql_guard_result r;
    bool ok = sql_guard_check(d, sql, strlen(sql), &r, &e);
    if (!ok) {
        fprintf(stderr, "  %s refused [%s]: %s\n", sql_dialect_name(d), sql, e.msg);
        return false;
    }
    if (r.kind != kind) {
        fprintf(stderr, "  %s [%s]: kind %s, want %s\n", sql_dialect_name(d), sql,
                sql_kind_name(r.kind), sql_kind_name(kind));
        return false;
    }
    return true;
}

static bool allowed_everywhere(const char *sql, sql_kind kind)
{
    bool ok = true;
    for (size_t i = 0; i < 3; i++)
        ok = allowed_as(all_dialects[i], sql, kind) && ok;
    return ok;
}

/* Refused with the given error kind and a message containing needle. */
static bool refused_with(sql_dialect d, const char *sql, err_kind kind, const char *needle)
{
    err_t e;
    sql_guard_result r = {.kind = SQL_KIND_SELECT};
    if (sql_guard_check(d, sql, strlen(sql), &r, &e)) {
        fprintf(stderr, "  %s ACCEPTED [%s] as %s\n", sql_dialect_name(d), sql,
                sql_kind_name(r.kind));
        return false;
    }
    if (e.kind != kind || strstr(e.msg, needle) == NULL || strncmp(e.msg, "refused: ", 9) != 0) {
        fprintf(stderr, "  %s [%s]: kind %s msg \"%s\", want %s containing \"%s\"\n",
                sql_dialect_name(d), sql, err_kind_name(e.kind), e.msg, err_kind_name(kind),
                needle);
        return false;
    }
    return true;
}

static bool refused(sql_dialect d, const char *sql, const char *needle)
{
    return refused_with(d, sql, ERR_REFUSED, needle);
}

static bool refused_everywhere(const char *sql, const char *needle)
{
    bool ok = true;
    for (size_t i = 0; i < 3; i++)
        ok = refused(all_dialects[i], sql, needle) && ok;
    return ok;
}

static bool span_is(sql_dialect d, const char *sql, const char *want)
{
    err_t e;
    sql_guard_result r;
    if (!sql_guard_check(d, sql, strlen(sql), &r, &e)) {
        fprintf(stderr, "  refused [%s]: %s\n", sql, e.msg);
        return false;
    }
    if (r.len != strlen(want) || memcmp(sql + r.start, want, r.len) != 0) {
        fprintf(stderr, "  span of [%s] is [%.*s], want [%s]\n", sql, (int)r.len, sql + r.start,
                want);
        return false;
    }
    return true;
}

/* ---- lexer --------------------------------------------------------------- */

static void test_lexer_basic_tokens(void)
{
    CHECK(shape_is(PG, "SELECT a1, 'x''y' FROM \"t\"\"q\";", "W_W._S_W_Q;"));
    CHECK(shape_is(PG, "x::int + 1.5e-3 - .5", "W..W_._N_._N"));
    CHECK(shape_is(PG, "-- c\nSELECT /* a */ 1", "C_W_C_N"));
    CHECK(shape_is(LITE, "SELECT [a b], `c``d`", "W_Q._Q"));
    CHECK(shape_is(PG, "SELECT [a b]", "W_.W_W."));
    CHECK(shape_is(SF, "SELECT \"a\"\"b\" FROM t", "W_Q_W_W"));
    CHECK(shape_is(PG, "update_time", "W"));
    err_t e;
    char got[64];
    lex_shape(PG, "SELECT 'abc", got, sizeof got, &e);
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "unterminated string literal starting at offset 7");
    lex_shape(PG, "SELECT \"abc", got, sizeof got, &e);
    CHECK_CONTAINS(e.msg, "unterminated quoted identifier");
    lex_shape(LITE, "SELECT [abc", got, sizeof got, &e);
    CHECK_CONTAINS(e.msg, "unterminated quoted identifier");
    lex_shape(SF, "SELECT 1 /* x", got, sizeof got, &e);
    CHECK_CONTAINS(e.msg, "unterminated /* comment starting at offset 9");
}

static void test_lexer_comments_per_dialect(void)
{
    /* // is a comment only in Snowflake. */
    CHECK(shape_is(SF, "1 // x", "N_C"));
    CHECK(shape_is(PG, "1 // x", "N_.._W"));
    CHECK(shape_is(LITE, "1 // x", "N_.._W"));
    /* Block comments nest in PostgreSQL only. */
    CHECK(shape_is(PG, "/* a /* b */ c */1", "CN"));
    CHECK(shape_is(LITE, "/* a /* b */ c */1", "C_W_..N"));
    /* Slash-star-slash does not close a comment. */
    CHECK(shape_is(LITE, "/*/ x */1", "CN"));
    /* PostgreSQL ends -- at CR as well as LF; SQLite only at LF. */
    CHECK(shape_is(PG, "-- a\rb", "C_W"));
    CHECK(shape_is(LITE, "-- a\rb", "C"));
    CHECK(shape_is(SF, "-- a\r\nb", "C_W"));
    err_t e;
    char got[64];
    lex_shape(SF, "-- a\rb", got, sizeof got, &e);
    CHECK(e.kind == ERR_REFUSED);
    lex_shape(SF,
              "-- a\xE2\x80\xA8"
              "b",
              got, sizeof got, &e);
    CHECK(e.kind == ERR_REFUSED);
    lex_shape(SF, "/* a /* b */", got, sizeof got, &e);
    CHECK(e.kind == ERR_REFUSED);
    CHECK_CONTAINS(e.msg, "'/*'");
    lex_shape(PG, "/* a /* b */", got, sizeof got, &e);
    CHECK(e.kind == ERR_INVALID);
}

static void test_lexer_strings_per_dialect(void)
{
    /* Backslash escapes: Snowflake always, PostgreSQL in E'' only. */
    CHECK(shape_is(SF, "'a\\'b'", "S"));
    CHECK(shape_is(LITE, "'a\\'b'", "SW!"));
    CHECK(shape_is(PG, "E'a\\'b'", "S"));
    CHECK(shape_is(PG, "e'a\\'b' x", "S_W"));
    CHECK(shape_is(PG, "xe'a\\\\'", "WS"));
    CHECK(shape_is(PG, "'a\\\\' x", "S_W")); /* even run: same under both settings */
    err_t e;
    char got[64];
    lex_shape(PG, "'a\\'", got, sizeof got, &e);
    CHECK(e.kind == ERR_REFUSED);
    CHECK_CONTAINS(e.msg, "standard_conforming_strings");
    /* PostgreSQL continues an E'' string across a newline, with escapes. */
    CHECK(shape_is(PG, "E'x'\n'\\''", "S_S"));
    CHECK(shape_is(PG, "E'x' -- c\n '\\''", "S_C_S"));
    lex_shape(PG, "E'x' '\\'", got, sizeof got, &e); /* no newline: a plain string */
    CHECK(e.kind == ERR_REFUSED);
    lex_shape(PG, "E'x'/**/\n'\\'", got, sizeof got, &e); /* block comment breaks it */
    CHECK(e.kind == ERR_REFUSED);
    /* SQLite blobs end at the first quote. */
    CHECK(shape_is(LITE, "x'41''42'", "SS"));
    CHECK(shape_is(PG, "x'41''42'", "WS"));
}

static void test_lexer_dollar_per_dialect(void)
{
    CHECK(shape_is(PG, "$$a;b$$ $tag$ $$ $tag$ $1", "S_S_P"));
    CHECK(shape_is(PG, "$a$ x $b$a$", "S"));
    CHECK(shape_is(PG, "a$$b", "W"));
    CHECK(shape_is(PG, "$ 1", "._N"));
    CHECK(shape_is(SF, "$$it's$$ $1 $var SYSTEM$TYPEOF", "S_P_P_W"));
    CHECK(shape_is(SF, "$tag$ x", "P_W"));
    CHECK(shape_is(LITE, "$$ ; $x", "P_;_P"));
    CHECK(shape_is(LITE, "$a(') ;x", "P_;W"));
    CHECK(shape_is(LITE, ":a::b @c #d ?1", "P_P_P_P"));
    err_t e;
    char got[64];
    lex_shape(PG, "$a$ never closed", got, sizeof got, &e);
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "unterminated dollar-quoted string");
    lex_shape(SF, "SELECT a$$b", got, sizeof got, &e);
    CHECK(e.kind == ERR_REFUSED);
}

static void test_lexer_words(void)
{
    const char *sql = "select SeLeCt";
    sql_lexer lx;
    sql_lex_init(&lx, PG, sql, strlen(sql));
    sql_token t;
    err_t e;
    REQUIRE(sql_lex_next_significant(&lx, &t, &e));
    CHECK(sql_tok_is_word(sql, &t, "SELECT"));
    CHECK(!sql_tok_is_word(sql, &t, "SELEC"));
    REQUIRE(sql_lex_next_significant(&lx, &t, &e));
    CHECK(sql_tok_is_word(sql, &t, "SELECT"));
    CHECK(t.start == 7 && t.len == 6);
    REQUIRE(sql_lex_next_significant(&lx, &t, &e));
    CHECK(t.type == SQL_TOK_EOF);
    REQUIRE(sql_lex_next(&lx, &t, &e));
    CHECK(t.type == SQL_TOK_EOF);
}

/* ---- guard: allowed ------------------------------------------------------ */

static void test_allows_plain_queries(void)
{
    CHECK(allowed_everywhere("SELECT 1", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("select a, b from t where a = 1 order by a desc limit 10",
                             SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT update_time, deleted_at, created_by FROM t", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT * FROM (SELECT a FROM t) s WHERE a IN (SELECT b FROM u)",
                             SQL_KIND_SELECT));
    CHECK(allowed_everywhere("(SELECT 1) UNION (SELECT 2)", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("VALUES (1, 'a'), (2, 'b')", SQL_KIND_VALUES));
    CHECK(allowed_everywhere("SELECT t.update, t.comment, s.\"delete\" FROM t JOIN s ON t.a = s.a",
                             SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT comment, start, load, cluster, security FROM t",
                             SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT replace(a, 'x', 'y') FROM t", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT substring(a FROM 1 FOR 2) FROM t", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT count(*) FILTER (WHERE x > 1) OVER (PARTITION BY y) FROM t",
                             SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT * FROM t GROUP BY ROLLUP (a), GROUPING SETS ((a))",
                             SQL_KIND_SELECT));
}

static void test_allows_with(void)
{
    CHECK(allowed_everywhere("WITH x AS (SELECT 1) SELECT * FROM x", SQL_KIND_WITH));
    CHECK(allowed_everywhere("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
                             "WHERE n < 5) SELECT * FROM r",
                             SQL_KIND_WITH));
    CHECK(allowed_everywhere("WITH a AS (SELECT 1), \"b c\" (x) AS (VALUES (2)), "
                             "d AS (WITH e AS (SELECT 3) SELECT * FROM e) "
                             "SELECT * FROM a, \"b c\", d",
                             SQL_KIND_WITH));
    CHECK(allowed_as(PG,
                     "WITH x AS MATERIALIZED (SELECT 1), y AS NOT MATERIALIZED (SELECT 2) "
                     "SELECT * FROM x, y",
                     SQL_KIND_WITH));
    CHECK(allowed_everywhere("WITH x AS (SELECT 1) (SELECT * FROM x) UNION (SELECT 2)",
                             SQL_KIND_WITH));
    CHECK(allowed_everywhere("SELECT * FROM (WITH y AS (SELECT 2) SELECT * FROM y) z",
                             SQL_KIND_SELECT));
    /* WITH in other roles is no CTE. */
    CHECK(allowed_as(PG,
                     "SELECT now() AT TIME ZONE 'UTC', x::timestamp with time zone, "
                     "percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t",
                     SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT id FROM t START WITH parent IS NULL CONNECT BY PRIOR id = parent",
                     SQL_KIND_SELECT));
}

static void test_allows_show_describe_explain(void)
{
    CHECK(allowed_everywhere("SHOW TABLES", SQL_KIND_SHOW));
    CHECK(allowed_as(SF, "SHOW GRANTS ON TABLE t", SQL_KIND_SHOW));
    CHECK(allowed_as(SF, "show tables like '%DROP%' in schema db.s", SQL_KIND_SHOW));
    CHECK(allowed_everywhere("DESC TABLE t", SQL_KIND_DESCRIBE));
    CHECK(allowed_everywhere("DESCRIBE VIEW v", SQL_KIND_DESCRIBE));
    CHECK(allowed_everywhere("EXPLAIN SELECT 1", SQL_KIND_EXPLAIN));
    CHECK(allowed_everywhere("EXPLAIN ANALYZE SELECT * FROM t", SQL_KIND_EXPLAIN));
    CHECK(allowed_as(PG, "EXPLAIN ANALYZE VERBOSE WITH x AS (SELECT 1) SELECT * FROM x",
                     SQL_KIND_EXPLAIN));
    CHECK(allowed_as(PG, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1", SQL_KIND_EXPLAIN));
    CHECK(allowed_as(LITE, "EXPLAIN QUERY PLAN SELECT * FROM t", SQL_KIND_EXPLAIN));
    CHECK(allowed_as(SF, "EXPLAIN USING JSON SELECT * FROM t", SQL_KIND_EXPLAIN));
    CHECK(allowed_as(PG, "EXPLAIN (SELECT 1)", SQL_KIND_EXPLAIN));
}

static void test_allows_literals_and_comments(void)
{
    CHECK(allowed_everywhere("SELECT 'DROP TABLE x; --' AS s", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT '/* ; */ DELETE FROM t' AS s", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("SELECT \"delete\", \"drop table; x\" FROM \"insert\"",
                             SQL_KIND_SELECT));
    CHECK(allowed_as(LITE, "SELECT [delete], `update` FROM [insert into]", SQL_KIND_SELECT));
    CHECK(allowed_everywhere("-- DROP TABLE t;\nSELECT 1 /* ; DELETE */ -- ; INSERT",
                             SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "// DROP TABLE t\nSELECT 1 // ; DROP TABLE t", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "/* a /* ; DROP TABLE t; */ b */ SELECT 1", SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT $$ ; DROP TABLE t; $$", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT $$ ; DROP TABLE t; $$", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT $a$ $$ ; DROP TABLE t; $$ $a$", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT $fn$ x $b$; DROP TABLE t; $fn$", SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT 'a\\';DROP TABLE t;--'", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT E'a\\';DROP TABLE t;--'", SQL_KIND_SELECT));
    /* The continuation of an E'' string keeps its escapes, as in PostgreSQL. */
    CHECK(allowed_as(PG, "SELECT E'x'\n'\\'; DROP TABLE t; --'", SQL_KIND_SELECT));
    CHECK(allowed_as(LITE, "SELECT x'4142', X'00', :a, @b, $c, ?1", SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT $1, $var, a:b::string FROM @stage", SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT SYSTEM$TYPEOF(1), SYSTEM$CLUSTERING_DEPTH('t')", SQL_KIND_SELECT));
    CHECK(allowed_as(SF, "SELECT INSERT('abc', 1, 1, 'x'), TRUNCATE(1.5), GET(arr, 0) FROM t",
                     SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT data->>'k', data->'a' FROM t", SQL_KIND_SELECT));
    CHECK(allowed_as(PG, "SELECT txid_current(), now(), pg_size_pretty(1)", SQL_KIND_SELECT));
}

static void test_span_excludes_semicolon_and_comments(void)
{
    CHECK(span_is(PG, "SELECT 1;", "SELECT 1"));
    CHECK(span_is(PG, "  -- lead\n  SELECT 1 ;  /* x */ ; -- tail", "SELECT 1"));
    CHECK(span_is(SF, "SELECT 1 // c\n;", "SELECT 1"));
    CHECK(span_is(LITE, ";SELECT a /* keep */ FROM t;;", "SELECT a /* keep */ FROM t"));
    CHECK(span_is(PG, "SELECT 1 /* /* */ ; DROP TABLE t */", "SELECT 1"));
    CHECK(span_is(LITE, "SELECT 1 -- x\r; DROP TABLE t", "SELECT 1"));
}

/* ---- guard: refused ------------------------------------------------------ */

static void test_refuses_modifying_statements(void)
{
    CHECK(refused_everywhere("DROP TABLE t", "DROP statements change the schema"));
    CHECK(refused_everywhere("INSERT INTO t VALUES (1)",
                             "refused: INSERT statements modify data; this server is read-only. "
                             "Allowed: SELECT, WITH … SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN"));
    CHECK(refused_everywhere("update t set a = 1", "UPDATE statements modify data"));
    CHECK(refused_everywhere("DELETE FROM t", "DELETE"));
    CHECK(
        refused_everywhere("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE"));
    CHECK(refused_everywhere("REPLACE INTO t VALUES (1)", "REPLACE"));
    CHECK(refused_everywhere("TRUNCATE TABLE t", "TRUNCATE"));
    CHECK(refused_everywhere("CREATE TABLE x AS SELECT 1", "CREATE"));
    CHECK(refused_everywhere("ALTER TABLE t ADD c int", "ALTER"));
    CHECK(refused_everywhere("GRANT SELECT ON t TO u", "GRANT"));
    CHECK(refused(LITE, "ATTACH DATABASE 'x.db' AS y", "ATTACH"));
    CHECK(refused(LITE, "PRAGMA writable_schema=1", "PRAGMA"));
    CHECK(refused(LITE, "VACUUM", "VACUUM"));
    CHECK(refused(PG, "DO $$ BEGIN END $$", "DO statements"));
    CHECK(refused(PG, "CALL p()", "CALL"));
    CHECK(refused(PG, "COPY t TO PROGRAM 'x'", "COPY"));
    CHECK(refused(PG, "SET search_path = evil", "SET"));
    CHECK(refused(PG, "START TRANSACTION", "START"));
    CHECK(refused(PG, "LOCK TABLE t", "LOCK"));
    CHECK(refused(PG, "TABLE t", "TABLE statements are not allowed"));
    CHECK(refused(SF, "EXECUTE IMMEDIATE 'drop table t'", "EXECUTE"));
    CHECK(refused(SF, "COPY INTO @stage FROM t", "COPY"));
    CHECK(refused(SF, "PUT file://x @s", "PUT"));
    CHECK(refused(SF, "GET @s file:///tmp", "GET"));
    CHECK(refused(SF, "UNDROP TABLE t", "UNDROP"));
    CHECK(refused(SF, "USE WAREHOUSE w", "USE"));
    CHECK(refused(PG, "'SELECT 1'", "found a string literal at offset 0"));
}

static void test_refuses_second_statement(void)
{
    CHECK(refused_everywhere("SELECT 1; DELETE FROM t",
                             "refused: only one statement per call is allowed (found a second "
                             "statement starting with DELETE at offset 10)"));
    CHECK(refused_everywhere("SELECT 1; -- x\n DROP TABLE t", "DROP"));
    CHECK(refused_everywhere("SELECT '';DROP TABLE t", "DROP"));
    CHECK(refused_everywhere("/* ; */ DROP TABLE t", "DROP"));
    CHECK(refused_everywhere("COMMIT; DROP SCHEMA public CASCADE", "DROP"));
    CHECK(refused_everywhere("SELECT 1; SELECT 2", "second statement starting with SELECT"));
    CHECK(refused_everywhere("SELECT (1; DELETE FROM t)", "DELETE"));
    CHECK(refused(PG, "SELECT 1 // ; DROP TABLE t", "DROP"));
    CHECK(refused(LITE, "SELECT 1 // ; DROP TABLE t", "DROP"));
    CHECK(refused(LITE, "SELECT $$ ; DROP TABLE t; $$", "DROP"));
    CHECK(refused(SF, "SELECT $tag$ ; DROP TABLE t; $tag$", "DROP"));
    CHECK(refused(PG, "SELECT $1; DROP TABLE t", "DROP"));
    CHECK(refused(LITE, "SELECT $a(') ;DROP TABLE t;--'", "DROP"));
    CHECK(refused(PG, "SELECT 1 -- x\r; DROP TABLE t", "DROP"));
}

static void test_refuses_comment_tricks(void)
{
    const char *nested = "/* /* */ ; DROP TABLE t */";
    /* PostgreSQL nests: it is all one comment, so there is no statement. */
    CHECK(refused_with(PG, nested, ERR_INVALID, "empty query"));
    CHECK(refused(LITE, nested, "DROP"));
    CHECK(refused(SF, nested, "'/*'"));
    CHECK(refused(LITE, "SELECT 1 /* /* */ ; DROP TABLE t */", "DROP"));
    CHECK(refused_with(PG, "SELECT 1 /* unterminated", ERR_INVALID, "unterminated /* comment"));
    CHECK(refused_with(LITE, "SELECT 1 /* unterminated", ERR_INVALID, "unterminated"));
    CHECK(refused_with(SF, "SELECT 'abc", ERR_INVALID,
                       "refused: unterminated string literal starting at offset 7"));
    CHECK(refused(SF, "SELECT 1 -- x\r; DROP TABLE t", "line break"));
    CHECK(refused(SF, "SELECT 1 # x", "'#'"));
}

static void test_refuses_backslash_tricks(void)
{
    const char *sql = "SELECT 'a\\';DROP TABLE t;--'";
    CHECK(allowed_as(SF, sql, SQL_KIND_SELECT));
    CHECK(refused(LITE, sql, "DROP"));
    CHECK(refused(PG, sql, "standard_conforming_strings"));
    CHECK(refused(PG, "SELECT E'x' '\\'; DROP TABLE t; --'", "standard_conforming_strings"));
}

static void test_refuses_modifying_cte(void)
{
    CHECK(refused_everywhere("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                             "the WITH clause D runs a DELETE statement"));
    CHECK(refused(PG, "WITH d AS ((INSERT INTO t VALUES (1) RETURNING *)) SELECT 1", "INSERT"));
    CHECK(refused_everywhere("WITH x AS (SELECT 1) DELETE FROM t", "DELETE"));
    CHECK(refused_everywhere("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"));
    CHECK(refused_everywhere("SELECT * FROM (WITH d AS (UPDATE t SET a = 1 RETURNING *) "
                             "SELECT * FROM d) s",
                             "UPDATE"));
    CHECK(refused(SF,
                  "WITH p AS PROCEDURE () RETURNS INT LANGUAGE SQL AS $$ BEGIN RETURN 1; "
                  "END $$ CALL p()",
                  "PROCEDURE"));
    CHECK(refused_everywhere("WITH x AS (SELECT 1)", "not followed by a SELECT"));
    CHECK(refused_everywhere("WITH SELECT 1", "expected AS"));
}

static void test_refuses_hidden_clauses(void)
{
    CHECK(refused_everywhere("SELECT * INTO newt FROM t", "INTO"));
    CHECK(refused_everywhere("SELECT * FROM t FOR UPDATE", "FOR UPDATE"));
    CHECK(refused(PG, "SELECT * FROM t FOR SHARE", "FOR SHARE"));
    CHECK(refused(PG, "SELECT * FROM t FOR NO KEY UPDATE", "locks rows"));
    CHECK(refused(PG, "SELECT * FROM t FOR KEY SHARE", "locks rows"));
    CHECK(refused(PG, "SELECT * FROM t WHERE a IN (SELECT b FROM u FOR UPDATE)", "FOR UPDATE"));
    CHECK(refused_everywhere("SELECT update FROM t", "quote it"));
    CHECK(refused_everywhere("SELECT 1 FROM t WHERE x = (SELECT 1) DELETE", "DELETE"));
    CHECK(refused(PG, "EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN ANALYZE runs the statement"));
    CHECK(refused(PG, "EXPLAIN (ANALYZE) INSERT INTO t VALUES (1)", "EXPLAIN ANALYZE"));
    CHECK(refused(PG, "EXPLAIN DELETE FROM t", "DELETE"));
    CHECK(refused(PG, "EXPLAIN", "no statement"));
    CHECK(refused(PG, "EXPLAIN EXPLAIN SELECT 1", "EXPLAIN"));
    CHECK(refused(SF, "EXPLAIN SHOW TABLES", "SHOW"));
    CHECK(refused(SF, "SHOW TABLES ->> SELECT * FROM $1", "->>"));
    CHECK(refused(SF, "SHOW TABLES; DROP TABLE t", "DROP"));
    CHECK(refused(SF, "DESC TABLE t; DELETE FROM t", "DELETE"));
    CHECK(refused_everywhere("SELECT (1", "never closed"));
    CHECK(refused_everywhere("SELECT 1)", "no matching"));
}

static void test_refuses_side_effect_functions(void)
{
    CHECK(refused(PG, "SELECT set_config('a','b',false)", "set_config()"));
    CHECK(refused(PG, "SELECT nextval('s')", "nextval"));
    CHECK(refused(PG, "SELECT NEXTVAL ('s')", "NEXTVAL"));
    CHECK(refused(PG, "SELECT pg_catalog.nextval('s')", "nextval"));
    CHECK(refused(PG, "SELECT \"nextval\"('s')", "nextval"));
    CHECK(refused(PG, "SELECT nextval /* c */ ('s')", "nextval"));
    CHECK(refused(PG, "SELECT pg_sleep(10)", "pg_sleep"));
    CHECK(refused(PG, "SELECT pg_advisory_xact_lock(1)", "pg_advisory_xact_lock"));
    CHECK(refused(PG, "SELECT pg_try_advisory_lock(1)", "advisory"));
    CHECK(refused(PG, "SELECT pg_terminate_backend(1)", "pg_terminate_backend"));
    CHECK(refused(PG, "SELECT pg_read_file('/etc/passwd')", "pg_read_file"));
    CHECK(refused(PG, "SELECT lo_import('/etc/passwd')", "lo_import"));
    CHECK(refused(PG, "SELECT * FROM dblink('db', 'delete from t') AS x(a int)", "dblink"));
    CHECK(refused(PG, "SELECT query_to_xml('delete from t returning 1', true, false, '')",
                  "query_to_xml"));
    /* functions that run the SQL text they are given (found in review) */
    CHECK(refused(PG, "SELECT * FROM ts_stat('SELECT pg_sleep(2)::text::tsvector')", "ts_stat"));
    CHECK(refused(PG, "SELECT ts_rewrite('a'::tsquery, 'SELECT 1')", "ts_rewrite"));
    CHECK(refused(PG, "SELECT * FROM crosstab('SELECT 1')", "crosstab"));
    CHECK(refused(PG, "SELECT * FROM crosstab3('SELECT 1')", "crosstab3"));
    CHECK(refused(PG, "SELECT * FROM connectby('t', 'a', 'b', '1', 0)", "connectby"));
    CHECK(refused(PG, "SELECT U&\"\\0073et_config\"('a', 'b', false)", "U&"));
    CHECK(refused(SF, "SELECT SYSTEM$CANCEL_ALL_QUERIES(1)", "SYSTEM$CANCEL_ALL_QUERIES"));
    CHECK(refused(SF, "select system$abort_session(1)", "system$abort_session"));
    CHECK(refused(SF, "SELECT \"SYSTEM$ABORT_SESSION\"(1)", "SYSTEM$ABORT_SESSION"));
    CHECK(refused(SF, "SELECT IDENTIFIER('SYSTEM$ABORT_SESSION')(1)", "IDENTIFIER()"));
    CHECK(refused(LITE, "SELECT load_extension('x')", "load_extension"));
    CHECK(refused(LITE, "SELECT [load_extension]('x')", "load_extension"));
    CHECK(refused(LITE, "SELECT writefile('/tmp/x', 'y')", "writefile"));
    CHECK(refused(LITE, "SELECT readfile('/etc/passwd')", "readfile"));
    /* Names are per dialect: nextval is a plain function name in SQLite. */
    CHECK(allowed_as(LITE, "SELECT nextval(1)", SQL_KIND_SELECT));
}

static void test_refuses_bad_text(void)
{
    err_t e;
    for (size_t i = 0; i < 3; i++) {
        sql_dialect d = all_dialects[i];
        CHECK(refused_with(d, "", ERR_INVALID, "empty query"));
        CHECK(refused_with(d, "  \n ", ERR_INVALID, "empty query"));
        CHECK(refused_with(d, "-- only\n/* c */ ;", ERR_INVALID, "empty query"));
        const char nul[] = "SELECT 1\0; DROP TABLE t";
        CHECK(!sql_guard_check(d, nul, sizeof nul - 1, NULL, &e));
        CHECK(e.kind == ERR_INVALID);
        CHECK_CONTAINS(e.msg, "NUL byte at offset 8");
        CHECK(refused_with(d, "SELECT '\xff'", ERR_INVALID, "not valid UTF-8"));
        CHECK(refused(d, "\xEF\xBB\xBFSELECT 1", "invisible"));
    }
    CHECK(!sql_guard_check(PG, NULL, 0, NULL, &e));
    CHECK(e.kind == ERR_INVALID);
    CHECK(refused(SF,
                  "SELECT 1\xC2\xA0"
                  "FROM t",
                  "invisible"));
    CHECK(allowed_as(SF, "SELECT '\xC2\xA0', \"\xC3\xA9t\xC3\xA9\" FROM t", SQL_KIND_SELECT));
}

/* ---- quoting ------------------------------------------------------------- */

static bool quotes_ident(const char *name, const char *want)
{
    strbuf sb;
    sb_init(&sb);
    err_t e;
    bool ok = sql_quote_ident(name, &sb, &e) && strcmp(sb.data, want) == 0;
    if (!ok)
        fprintf(stderr, "  quote_ident(%s) = [%s], want [%s]\n", name, sb.data, want);
    sb_free(&sb);
    return ok;
}

static bool quotes_literal(sql_dialect d, const char *s, const char *want)
{
    strbuf sb;
    sb_init(&sb);
    err_t e;
    bool ok = sql_quote_literal(d, s, &sb, &e) && strcmp(sb.data, want) == 0;
    if (!ok)
        fprintf(stderr, "  %s quote_literal(%s) = [%s], want [%s]\n", sql_dialect_name(d), s,
                sb.data, want);
    sb_free(&sb);
    return ok;
}

static void test_quote_ident(void)
{
    CHECK(quotes_ident("orders", "\"orders\""));
    CHECK(quotes_ident("a\"b", "\"a\"\"b\""));
    CHECK(quotes_ident("\"", "\"\"\"\""));
    CHECK(quotes_ident("drop table t; --", "\"drop table t; --\""));
    CHECK(quotes_ident("\xC3\xA9t\xC3\xA9", "\"\xC3\xA9t\xC3\xA9\""));
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "keep");
    err_t e;
    CHECK(!sql_quote_ident("", &sb, &e));
    CHECK(e.kind == ERR_INVALID);
    CHECK(!sql_quote_ident(NULL, &sb, &e));
    CHECK(!sql_quote_ident("bad\xff", &sb, &e));
    CHECK_CONTAINS(e.msg, "UTF-8");
    CHECK(!sql_quote_ident_n("a\0b", 3, &sb, &e));
    CHECK_CONTAINS(e.msg, "NUL");
    char name[SQL_IDENT_MAX + 2];
    memset(name, 'x', sizeof name);
    name[SQL_IDENT_MAX + 1] = '\0';
    CHECK(!sql_quote_ident(name, &sb, &e));
    CHECK_CONTAINS(e.msg, "255");
    CHECK_STR(sb.data, "keep"); /* failures append nothing */
    name[SQL_IDENT_MAX] = '\0';
    CHECK(sql_quote_ident(name, &sb, &e));
    CHECK(sb.len == 4 + SQL_IDENT_MAX + 2);
    sb_free(&sb);
}

static void test_quote_literal(void)
{
    CHECK(quotes_literal(SF, "it's", "'it''s'"));
    CHECK(quotes_literal(SF, "a\\b", "'a\\\\b'"));
    CHECK(quotes_literal(SF, "\\'", "'\\\\'''"));
    CHECK(quotes_literal(PG, "it's", "'it''s'"));
    CHECK(quotes_literal(PG, "a\\b'", "E'a\\\\b'''"));
    CHECK(quotes_literal(LITE, "a\\b'", "'a\\b'''"));
    CHECK(quotes_literal(LITE, "", "''"));
    CHECK(quotes_literal(PG, "$$;--", "'$$;--'"));
    strbuf sb;
    sb_init(&sb);
    err_t e;
    CHECK(!sql_quote_literal_n(PG, "a\0b", 3, &sb, &e));
    CHECK(e.kind == ERR_INVALID);
    CHECK_CONTAINS(e.msg, "NUL");
    CHECK(!sql_quote_literal(SF, "\xC3(", &sb, &e));
    CHECK_CONTAINS(e.msg, "UTF-8");
    CHECK(sb.len == 0);
    sb_free(&sb);
}

/* Whatever the text, a quoted literal or identifier is one token in every
 * dialect, and a query made of it passes the guard. */
static void test_quote_round_trip(void)
{
    static const char *const texts[] = {
        "plain", "it's",
        "\\",    "\\'",
        "'\\",   "a\\'; DROP TABLE t; --",
        "$$",    "$a$",
        "*/ /*", "-- x\n",
        "\"",    "\"\"; DELETE",
        "]",     "`",
        "\r\n;", "\xC3\xA9\xE2\x80\xA8",
        "E'",    "\\\\'",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        for (size_t i = 0; i < 3; i++) {
            sql_dialect d = all_dialects[i];
            strbuf q;
            sb_init(&q);
            err_t e;
            REQUIRE(sql_quote_literal(d, texts[k], &q, &e));
            sql_lexer lx;
            sql_lex_init(&lx, d, q.data, q.len);
            sql_token t;
            CHECK(sql_lex_next(&lx, &t, &e) && t.type == SQL_TOK_STRING && t.len == q.len);
            strbuf sql;
            sb_init(&sql);
            sb_printf(&sql, "SELECT %s AS v FROM ", q.data);
            sb_reset(&q);
            REQUIRE(sql_quote_ident(texts[k], &q, &e));
            sb_append(&sql, q.data, q.len);
            CHECK(allowed_as(d, sql.data, SQL_KIND_SELECT));
            sb_free(&sql);
            sb_free(&q);
        }
    }
}

int main(void)
{
    TEST_RUN(test_lexer_basic_tokens);
    TEST_RUN(test_lexer_comments_per_dialect);
    TEST_RUN(test_lexer_strings_per_dialect);
    TEST_RUN(test_lexer_dollar_per_dialect);
    TEST_RUN(test_lexer_words);
    TEST_RUN(test_allows_plain_queries);
    TEST_RUN(test_allows_with);
    TEST_RUN(test_allows_show_describe_explain);
    TEST_RUN(test_allows_literals_and_comments);
    TEST_RUN(test_span_excludes_semicolon_and_comments);
    TEST_RUN(test_refuses_modifying_statements);
    TEST_RUN(test_refuses_second_statement);
    TEST_RUN(test_refuses_comment_tricks);
    TEST_RUN(test_refuses_backslash_tricks);
    TEST_RUN(test_refuses_modifying_cte);
    TEST_RUN(test_refuses_hidden_clauses);
    TEST_RUN(test_refuses_side_effect_functions);
    TEST_RUN(test_refuses_bad_text);
    TEST_RUN(test_quote_ident);
    TEST_RUN(test_quote_literal);
    TEST_RUN(test_quote_round_trip);
    return test_summary();
}
