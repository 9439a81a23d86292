#include "sql/quote.h"

#include <string.h>

#include "core/utf8.h"

static bool check_text(const char *s, size_t len, const char *what, err_t *err)
{
    if (memchr(s, '\0', len)) {
        err_set(err, ERR_INVALID, "%s contains a NUL byte", what);
        return false;
    }
    if (!utf8_valid(s, len)) {
        err_set(err, ERR_INVALID, "%s is not valid UTF-8", what);
        return false;
    }
    return true;
}

/* Appends s[0..len) with every byte equal to a or b written twice. */
static void append_doubling(strbuf *out, const char *s, size_t len, char a, char b)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != a && s[i] != b)
            continue;
        sb_append(out, s + run, i + 1 - run);
        sb_putc(out, s[i]);
        run = i + 1;
    }
    sb_append(out, s + run, len - run);
}

bool sql_quote_ident_n(const char *name, size_t len, strbuf *out, err_t *err)
{
    if (!name || len == 0) {
        err_set(err, ERR_INVALID, "an identifier cannot be empty");
        return false;
    }
    if (len > SQL_IDENT_MAX) {
        err_set(err, ERR_INVALID, "an identifier cannot be longer than %d bytes (got %zu)",
                SQL_IDENT_MAX, len);
        return false;
    }
    if (!check_text(name, len, "the identifier", err))
        return false;
    sb_putc(out, '"');
    append_doubling(out, name, len, '"', '"');
    sb_putc(out, '"');
    return true;
}

bool sql_quote_ident(const char *name, strbuf *out, err_t *err)
{
    return sql_quote_ident_n(name, name ? strlen(name) : 0, out, err);
}

bool sql_quote_literal_n(sql_dialect d, const char *s, size_t len, strbuf *out, err_t *err)
{
    if (!s)
        len = 0;
    if (len > 0 && !check_text(s, len, "the string", err))
        return false;
    bool backslash = len > 0 && memchr(s, '\\', len) != NULL;
    switch (d) {
    case SQL_SNOWFLAKE:
        sb_putc(out, '\'');
        append_doubling(out, s, len, '\'', '\\');
        break;
    case SQL_POSTGRES:
        /* E'' only when needed: a plain literal with a backslash would
         * depend on standard_conforming_strings. */
        sb_puts(out, backslash ? "E'" : "'");
        append_doubling(out, s, len, '\'', backslash ? '\\' : '\'');
        break;
    case SQL_SQLITE:
        sb_putc(out, '\'');
        append_doubling(out, s, len, '\'', '\'');
        break;
    }
    sb_putc(out, '\'');
    return true;
}

bool sql_quote_literal(sql_dialect d, const char *s, strbuf *out, err_t *err)
{
    return sql_quote_literal_n(d, s, s ? strlen(s) : 0, out, err);
}
