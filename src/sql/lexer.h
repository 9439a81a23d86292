/* lexer: a dialect-aware SQL tokenizer for the read-only guard.
 *
 * It splits SQL text into tokens exactly as the target engine would at the
 * lexical level: which bytes are comments, string literals and quoted
 * identifiers, and which are code. That boundary is what the guard depends
 * on: if the lexer took for a comment or a string something the engine runs
 * as code, a refused statement could hide there. So each dialect follows its
 * engine's rules (PostgreSQL's scan.l, SQLite's tokenize.c, Snowflake's
 * documented syntax), and where the engine's behaviour is uncertain or
 * depends on server settings the lexer refuses the text as ambiguous instead
 * of guessing.
 *
 * Dialect rules, in short:
 *   all        -- line comments, block comments, '...' strings with ''
 *              doubling, "..." identifiers with "" doubling.
 *   Snowflake  // line comments; backslash escapes in '...'; $$...$$
 *              strings; block comments do not nest (a comment containing
 *              another slash-star is refused as ambiguous); $name variables;
 *              '#', lone CR or Unicode line breaks in line comments and
 *              Unicode spaces in code are refused as ambiguous.
 *   PostgreSQL nested block comments; E'...' escape strings (also their
 *              continuation across a newline); $tag$...$tag$ strings; $1
 *              parameters. standard_conforming_strings is assumed on, and a
 *              plain string whose meaning would change if it were off (a
 *              backslash escaping a quote) is refused as ambiguous.
 *   SQLite     no backslash escapes; X'...' blobs; [..] and `..` identifiers;
 *              $name, :name, @name, #name variables (with Tcl-style suffixes);
 *              line comments end at LF only.
 *   A U+FEFF (byte order mark) outside literals is refused in every dialect.
 *
 * The lexer borrows the text; it never allocates. Tokens are byte ranges
 * into that text. Offsets in messages are byte offsets from its start. */
#ifndef SMCP_SQL_LEXER_H
#define SMCP_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef enum sql_dialect { SQL_SNOWFLAKE, SQL_POSTGRES, SQL_SQLITE } sql_dialect;

typedef enum sql_tok_type {
    SQL_TOK_EOF,        /* end of input; len 0 */
    SQL_TOK_WHITESPACE, /* spaces, tabs, newlines */
    SQL_TOK_COMMENT,    /* line or block comment */
    SQL_TOK_WORD,       /* keyword or unquoted identifier (case-insensitive) */
    SQL_TOK_QIDENT,     /* quoted identifier: "..", or in SQLite [..] and `..` */
    SQL_TOK_STRING,     /* '..', E'..', X'..', $$..$$, $tag$..$tag$ */
    SQL_TOK_NUMBER,     /* numeric literal */
    SQL_TOK_PARAM,      /* $1, Snowflake $var, SQLite $v :v @v #v ?1 */
    SQL_TOK_PUNCT,      /* one byte of punctuation or operator */
    SQL_TOK_SEMI        /* ';' */
} sql_tok_type;

typedef struct sql_token {
    sql_tok_type type;
    size_t start; /* byte offset in the lexed text */
    size_t len;
} sql_token;

/* The lexer state is a plain value kept by the caller, usually on its stack.
 * Treat the fields as private. */
typedef struct sql_lexer {
    sql_dialect dialect;
    const char *src;
    size_t len;
    size_t pos;
    /* PostgreSQL reads a string that continues an escape string across a
     * newline with backslash escapes too; remember the last string. */
    bool pg_last_string_escaped;
    size_t pg_last_string_end;
} sql_lexer;

/* Starts lexing src[0..len). src is borrowed and must outlive the lexer. */
void sql_lex_init(sql_lexer *lx, sql_dialect dialect, const char *src, size_t len);

/* Reads the next token, whitespace and comments included. At the end of
 * input it returns true with a SQL_TOK_EOF token (and keeps doing so).
 * Returns false on a lexical error, filling err: ERR_INVALID for
 * unterminated strings, identifiers and comments; ERR_REFUSED for text whose
 * tokenization by the engine is ambiguous. After an error, stop. */
bool sql_lex_next(sql_lexer *lx, sql_token *tok, err_t *err);

/* Like sql_lex_next but skips whitespace and comments. */
bool sql_lex_next_significant(sql_lexer *lx, sql_token *tok, err_t *err);

/* True if tok is an unquoted word equal to kw, ignoring ASCII case. kw is
 * written in upper case. */
bool sql_tok_is_word(const char *src, const sql_token *tok, const char *kw);

const char *sql_dialect_name(sql_dialect d);
const char *sql_tok_type_name(sql_tok_type t);

#endif
