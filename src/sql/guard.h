/* guard: the read-only statement guard (layer 1 of the read-only design).
 *
 * sql_guard_check decides from the text alone whether a query is exactly one
 * statement of an allowed read-only kind. It is an allowlist: the statement
 * must start with SELECT, WITH (whose every CTE body and main statement are
 * queries), SHOW, DESCRIBE/DESC, EXPLAIN (of a query) or VALUES, or with '('
 * leading into a query. Inside it, at any depth outside literals, comments
 * and quoted identifiers, it refuses data-changing and session-changing
 * keywords (INSERT, UPDATE, DELETE, MERGE, DROP, CREATE, ALTER, GRANT, COPY,
 * CALL, EXECUTE, SET, BEGIN, COMMIT, INTO, FOR UPDATE/SHARE, ...) and calls of
 * side-effecting functions per dialect (PostgreSQL nextval, set_config,
 * pg_sleep, dblink, query_to_xml...; Snowflake SYSTEM$ functions other than
 * SYSTEM$TYPEOF, SYSTEM$CLUSTERING_INFORMATION and SYSTEM$CLUSTERING_DEPTH;
 * SQLite load_extension, readfile, writefile, edit, fts3_tokenizer, fsdir).
 *
 * A hard keyword that is really a column name (SELECT comment, t.update) is
 * allowed when qualified (t.update) or quoted ("update"); the refusal message
 * says so. Words that are common column names (COMMENT, START, LOAD, ...) are
 * refused only where a statement would start.
 *
 * This is one layer: the engine's own read-only mode and a one-statement
 * execution path are the others. Nothing here allocates memory that outlives
 * the call; the guard keeps no state and is safe to call from any thread. */
#ifndef SMCP_SQL_GUARD_H
#define SMCP_SQL_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "sql/lexer.h"

typedef enum sql_kind {
    SQL_KIND_SELECT,
    SQL_KIND_WITH,
    SQL_KIND_SHOW,
    SQL_KIND_DESCRIBE,
    SQL_KIND_EXPLAIN,
    SQL_KIND_VALUES
} sql_kind;

typedef struct sql_guard_result {
    sql_kind kind;
    /* The one statement's span in the input: from its first token to its
     * last, so surrounding whitespace and comments and the trailing ';' (or
     * ';'s) are excluded. Pass exactly this span to the driver. */
    size_t start, len;
} sql_guard_result;

/* Returns true if sql[0..len) is exactly one allowed read-only statement and
 * fills out. Otherwise returns false and fills err: ERR_REFUSED with a
 * message naming what was refused and why, or ERR_INVALID for empty input
 * (only whitespace, comments and ';'), NUL bytes, invalid UTF-8 and
 * unterminated literals or comments. Every message starts with "refused: ",
 * names the offending keyword, function or construct with its byte offset,
 * and is valid UTF-8. out may be NULL. */
bool sql_guard_check(sql_dialect d, const char *sql, size_t len, sql_guard_result *out, err_t *err);

/* "SELECT", "WITH", "SHOW", "DESCRIBE", "EXPLAIN" or "VALUES". */
const char *sql_kind_name(sql_kind k);

#endif
