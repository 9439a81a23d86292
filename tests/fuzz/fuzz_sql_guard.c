/* Fuzzes the read-only guard, the lexer and quoting with arbitrary bytes in
 * all three dialects. Besides memory safety it checks invariants and aborts
 * when one breaks:
 *   - an accepted span lies inside the input and, checked alone, is accepted
 *     again as the same kind with the same extent;
 *   - every refusal has a kind the header promises and a valid UTF-8
 *     message starting with "refused: ";
 *   - a quoted identifier or literal is exactly one token in its dialect,
 *     and a query built from them passes the guard. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "sql/guard.h"
#include "sql/lexer.h"
#include "sql/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sql_dialect dialects[] = {SQL_SNOWFLAKE, SQL_POSTGRES, SQL_SQLITE};

static void check_refusal(const err_t *e)
{
    if (e->kind != ERR_REFUSED && e->kind != ERR_INVALID)
        abort();
    if (strncmp(e->msg, "refused: ", 9) != 0 || !utf8_valid(e->msg, strlen(e->msg)))
        abort();
}

static void check_guard(sql_dialect d, const char *sql, size_t size)
{
    sql_guard_result r;
    err_t e;
    if (!sql_guard_check(d, sql, size, &r, &e)) {
        check_refusal(&e);
        return;
    }
    if (r.len == 0 || r.start > size || r.len > size - r.start)
        abort();
    /* Copy the span so that reading past it is an ASan error. */
    char *span = malloc(r.len);
    if (!span)
        abort();
    memcpy(span, sql + r.start, r.len);
    sql_guard_result again;
    if (!sql_guard_check(d, span, r.len, &again, &e))
        abort();
    if (again.kind != r.kind || again.start != 0 || again.len != r.len)
        abort();
    free(span);
}

/* text must lex as exactly one token of type want in dialect d. */
static void check_one_token(sql_dialect d, const strbuf *text, sql_tok_type want)
{
    sql_lexer lx;
    sql_lex_init(&lx, d, text->data, text->len);
    sql_token t;
    err_t e;
    if (!sql_lex_next(&lx, &t, &e) || t.type != want || t.start != 0 || t.len != text->len)
        abort();
}

static void check_accepted(sql_dialect d, const char *head, const strbuf *a, const char *mid,
                           const strbuf *b)
{
    strbuf sql;
    sb_init(&sql);
    sb_puts(&sql, head);
    sb_append(&sql, a->data, a->len);
    sb_puts(&sql, mid);
    sb_append(&sql, b->data, b->len);
    err_t e;
    if (!sql_guard_check(d, sql.data, sql.len, NULL, &e))
        abort();
    sb_free(&sql);
}

static void check_quoting(const char *text, size_t size)
{
    strbuf ident;
    sb_init(&ident);
    err_t e;
    bool have_ident = sql_quote_ident_n(text, size, &ident, &e);
    if (!have_ident && e.kind != ERR_INVALID)
        abort();
    for (size_t i = 0; i < 3; i++) {
        sql_dialect d = dialects[i];
        if (have_ident)
            check_one_token(d, &ident, SQL_TOK_QIDENT);
        strbuf lit;
        sb_init(&lit);
        if (sql_quote_literal_n(d, text, size, &lit, &e)) {
            check_one_token(d, &lit, SQL_TOK_STRING);
            if (have_ident)
                check_accepted(d, "SELECT ", &lit, " AS v FROM ", &ident);
        } else if (e.kind != ERR_INVALID) {
            abort();
        }
        sb_free(&lit);
    }
    sb_free(&ident);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sql = (const char *)data;
    for (size_t i = 0; i < 3; i++)
        check_guard(dialects[i], sql, size);
    check_quoting(sql, size);
    return 0;
}
