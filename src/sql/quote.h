/* quote: identifiers and string literals built from untrusted text.
 *
 * Tools build SQL from arguments (table names, LIKE patterns); they never
 * paste them. Each function appends to a caller-owned strbuf and leaves it
 * untouched on failure. The output of sql_quote_ident is one quoted
 * identifier token and the output of sql_quote_literal one string literal
 * token in every dialect's lexer (sql/lexer.h), whatever the input.
 *
 * Literal forms:
 *   Snowflake  '...' with ' doubled and \ doubled (Snowflake reads
 *              backslash escapes inside '...').
 *   PostgreSQL '...' with ' doubled when s has no backslash; otherwise
 *              E'...' with ' and \ doubled. A plain literal containing a
 *              backslash would mean different things depending on
 *              standard_conforming_strings; E'...' means the same under both.
 *   SQLite     '...' with ' doubled (SQLite has no backslash escapes). */
#ifndef SMCP_SQL_QUOTE_H
#define SMCP_SQL_QUOTE_H

#include <stdbool.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "sql/lexer.h"

/* Longest identifier accepted, in bytes (Snowflake's limit is 255). */
#define SQL_IDENT_MAX 255

/* Appends name as a double-quoted identifier with " doubled ("a""b").
 * Returns false with ERR_INVALID for an empty name, a name longer than
 * SQL_IDENT_MAX bytes, or one that is not valid UTF-8. Quoted identifiers are
 * case-sensitive: pass the name as stored (Snowflake stores unquoted names
 * upper-cased, PostgreSQL lower-cased). */
bool sql_quote_ident(const char *name, strbuf *out, err_t *err);

/* Appends s as a string literal for dialect d (forms above). Returns false
 * with ERR_INVALID if s is not valid UTF-8. A C string cannot hold a NUL; use
 * sql_quote_literal_n for counted text, which refuses NUL bytes. */
bool sql_quote_literal(sql_dialect d, const char *s, strbuf *out, err_t *err);

/* As sql_quote_literal for s[0..len); false with ERR_INVALID on a NUL byte
 * or invalid UTF-8. */
bool sql_quote_literal_n(sql_dialect d, const char *s, size_t len, strbuf *out, err_t *err);

/* As sql_quote_ident for name[0..len); also refuses NUL bytes. */
bool sql_quote_ident_n(const char *name, size_t len, strbuf *out, err_t *err);

#endif
