#include "sql/lexer.h"

#include <string.h>

/* Byte at i, or 0 past the end: lookahead never reads outside the text. */
static unsigned char at(const sql_lexer *lx, size_t i)
{
    return i < lx->len ? (unsigned char)lx->src[i] : 0;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* All three engines start identifiers with a letter, '_' or any non-ASCII
 * byte, and continue them with those, digits and '$'. */
static bool is_word_start(unsigned char c)
{
    return is_alpha(c) || c == '_' || c >= 0x80;
}

static bool is_word_cont(unsigned char c)
{
    return is_word_start(c) || is_digit(c) || c == '$';
}

static bool is_bom(const sql_lexer *lx, size_t i)
{
    return at(lx, i) == 0xEF && at(lx, i + 1) == 0xBB && at(lx, i + 2) == 0xBF;
}

/* Length of a Unicode line break at i (U+0085, U+2028, U+2029), else 0. */
static size_t unicode_break_len(const sql_lexer *lx, size_t i)
{
    unsigned char c = at(lx, i), c1 = at(lx, i + 1), c2 = at(lx, i + 2);
    if (c == 0xC2 && c1 == 0x85)
        return 2;
    if (c == 0xE2 && c1 == 0x80 && (c2 == 0xA8 || c2 == 0xA9))
        return 3;
    return 0;
}

/* Length of a Unicode space or invisible separator at i, else 0: U+00A0,
 * U+1680, U+180E, U+2000..U+200B, U+202F, U+205F, U+3000, U+FEFF and the
 * line breaks above. */
static size_t unicode_space_len(const sql_lexer *lx, size_t i)
{
    unsigned char c = at(lx, i), c1 = at(lx, i + 1), c2 = at(lx, i + 2);
    size_t n = unicode_break_len(lx, i);
    if (n)
        return n;
    if (c == 0xC2 && c1 == 0xA0)
        return 2;
    if (c == 0xE1 && ((c1 == 0x9A && c2 == 0x80) || (c1 == 0xA0 && c2 == 0x8E)))
        return 3;
    if (c == 0xE2 && c1 == 0x80 && ((c2 >= 0x80 && c2 <= 0x8B) || c2 == 0xAF))
        return 3;
    if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F)
        return 3;
    if (c == 0xE3 && c1 == 0x80 && c2 == 0x80)
        return 3;
    if (is_bom(lx, i))
        return 3;
    return 0;
}

/* Finds the delimiter needle ("$$" or "$tag$") in src[from..len); returns
 * its offset or len if absent. Linear: the tag holds no '$', so a comparison
 * that starts at one '$' ends at the latest at the next '$' of the text. */
static size_t find_dollar_delim(const sql_lexer *lx, size_t from, const char *needle, size_t nlen)
{
    for (size_t i = from; i + nlen <= lx->len; i++) {
        if (lx->src[i] != '$')
            continue;
        size_t k = 1;
        while (k < nlen && lx->src[i + k] == needle[k])
            k++;
        if (k == nlen)
            return i;
    }
    return lx->len;
}

static size_t lex_whitespace(const sql_lexer *lx, size_t i)
{
    while (i < lx->len && is_space(at(lx, i)))
        i++;
    return i;
}

/* A -- or // comment. PostgreSQL ends it at LF or CR, SQLite at LF only.
 * Snowflake documents neither; LF surely ends it, so a CR without LF or a
 * Unicode line break inside is refused rather than guessed. */
static bool lex_line_comment(const sql_lexer *lx, size_t start, size_t *end, err_t *err)
{
    size_t i = start + 2;
    while (i < lx->len) {
        unsigned char c = at(lx, i);
        if (c == '\n' || (c == '\r' && lx->dialect == SQL_POSTGRES))
            break;
        if (lx->dialect == SQL_SNOWFLAKE &&
            ((c == '\r' && at(lx, i + 1) != '\n') || unicode_break_len(lx, i))) {
            err_set(err, ERR_REFUSED,
                    "the line comment at offset %zu contains a line break other than LF "
                    "(at offset %zu), which Snowflake may read as the end of the comment; "
                    "use LF line endings",
                    start, i);
            return false;
        }
        i++;
    }
    *end = i;
    return true;
}

/* A slash-star comment. PostgreSQL nests them; SQLite does not. Snowflake
 * does not either, as far as documented: a nested opener there is refused,
 * because if Snowflake did nest, the comment would end later than we think. */
static bool lex_block_comment(const sql_lexer *lx, size_t start, size_t *end, err_t *err)
{
    size_t i = start + 2;
    int depth = 1;
    while (i < lx->len) {
        unsigned char c = at(lx, i), next = at(lx, i + 1);
        if (c == '*' && next == '/') {
            i += 2;
            if (--depth == 0) {
                *end = i;
                return true;
            }
        } else if (c == '/' && next == '*' && lx->dialect == SQL_POSTGRES) {
            depth++;
            i += 2;
        } else if (c == '/' && next == '*' && lx->dialect == SQL_SNOWFLAKE) {
            err_set(err, ERR_REFUSED,
                    "the block comment at offset %zu contains another '/*' (at offset %zu); "
                    "whether Snowflake nests comments is not certain, so remove the inner '/*'",
                    start, i);
            return false;
        } else {
            i++;
        }
    }
    err_set(err, ERR_INVALID, "unterminated /* comment starting at offset %zu", start);
    return false;
}

/* Scans a quoted run that began at open (the opening quote is at body - 1).
 * The closing quote may be doubled to stand for itself; with backslash
 * escapes a backslash also takes the next byte literally. */
static bool lex_quoted(const sql_lexer *lx, size_t open, size_t body, unsigned char q,
                       bool doubling, bool backslash, const char *what, size_t *end, err_t *err)
{
    size_t i = body;
    while (i < lx->len) {
        unsigned char c = at(lx, i);
        if (backslash && c == '\\') {
            i += 2;
            continue;
        }
        if (c == q) {
            if (doubling && at(lx, i + 1) == q) {
                i += 2;
                continue;
            }
            *end = i + 1;
            return true;
        }
        i++;
    }
    err_set(err, ERR_INVALID, "unterminated %s starting at offset %zu", what, open);
    return false;
}

/* A PostgreSQL plain string is read with backslash escapes when the server
 * runs with standard_conforming_strings off. Its extent is the same under
 * both settings unless a quote inside it (or the closing one) follows an odd
 * run of backslashes; refuse that case instead of assuming the setting. */
static bool pg_check_plain_string(const sql_lexer *lx, size_t open, size_t body, size_t end,
                                  err_t *err)
{
    for (size_t i = body; i < end; i++) {
        if (lx->src[i] != '\'')
            continue;
        size_t run = 0;
        while (i - run > body && lx->src[i - run - 1] == '\\')
            run++;
        if (run % 2 == 1) {
            err_set(err, ERR_REFUSED,
                    "the string literal at offset %zu has a backslash before a quote (at "
                    "offset %zu); PostgreSQL reads it differently when "
                    "standard_conforming_strings is off. Write it as E'...' with the quote "
                    "doubled or escaped",
                    open, i);
            return false;
        }
    }
    return true;
}

/* PostgreSQL continues a string literal across whitespace that contains a
 * newline (and -- comments): 'a'\n'b' is one literal, and if the first part
 * was E'...' the continuation is read with backslash escapes too. */
static bool pg_gap_continues(const sql_lexer *lx, size_t from, size_t to)
{
    bool newline = false;
    size_t i = from;
    while (i < to) {
        unsigned char c = at(lx, i);
        if (c == '\n' || c == '\r') {
            newline = true;
            i++;
        } else if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
            i++;
        } else if (c == '-' && at(lx, i + 1) == '-') {
            while (i < to && at(lx, i) != '\n' && at(lx, i) != '\r')
                i++;
        } else {
            return false;
        }
    }
    return newline;
}

static bool lex_string(sql_lexer *lx, size_t start, size_t quote, sql_token *tok, err_t *err)
{
    size_t end;
    bool escaped = false;
    switch (lx->dialect) {
    case SQL_SNOWFLAKE:
        escaped = true;
        break;
    case SQL_POSTGRES:
        escaped = quote > start; /* E'...' */
        if (!escaped && lx->pg_last_string_escaped)
            escaped = pg_gap_continues(lx, lx->pg_last_string_end, start);
        break;
    case SQL_SQLITE:
        break;
    }
    if (!lex_quoted(lx, start, quote + 1, '\'', true, escaped, "string literal", &end, err))
        return false;
    if (lx->dialect == SQL_POSTGRES) {
        if (!escaped && !pg_check_plain_string(lx, start, quote + 1, end, err))
            return false;
        lx->pg_last_string_escaped = escaped;
        lx->pg_last_string_end = end;
    }
    tok->type = SQL_TOK_STRING;
    tok->len = end - start;
    return true;
}

/* SQLite X'...' blob: it ends at the first quote, with no doubling. */
static bool lex_sqlite_blob(const sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    size_t close = start + 2;
    while (close < lx->len && at(lx, close) != '\'')
        close++;
    if (close >= lx->len) {
        err_set(err, ERR_INVALID, "unterminated blob literal starting at offset %zu", start);
        return false;
    }
    tok->type = SQL_TOK_STRING;
    tok->len = close + 1 - start;
    return true;
}

static bool lex_word(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    size_t i = start;
    while (i < lx->len && is_word_cont(at(lx, i))) {
        if (is_bom(lx, i) || (lx->dialect == SQL_SNOWFLAKE && unicode_space_len(lx, i))) {
            err_set(err, ERR_REFUSED,
                    "an invisible Unicode space at offset %zu is inside a name; the engine "
                    "may read it as a separator. Use plain spaces, or quote the name",
                    i);
            return false;
        }
        if (lx->dialect == SQL_SNOWFLAKE && at(lx, i) == '$' && at(lx, i + 1) == '$') {
            err_set(err, ERR_REFUSED,
                    "'$$' at offset %zu is inside a name; Snowflake may read it as the start "
                    "of a $$ string. Quote the name or separate the string",
                    i);
            return false;
        }
        i++;
    }
    size_t n = i - start;
    unsigned char c = at(lx, start) | 0x20;
    if (n == 1 && at(lx, i) == '\'') {
        if (lx->dialect == SQL_POSTGRES && c == 'e')
            return lex_string(lx, start, i, tok, err);
        if (lx->dialect == SQL_SQLITE && c == 'x')
            return lex_sqlite_blob(lx, start, tok, err);
    }
    tok->type = SQL_TOK_WORD;
    tok->len = n;
    return true;
}

static size_t lex_digits(const sql_lexer *lx, size_t i)
{
    while (is_digit(at(lx, i)))
        i++;
    return i;
}

/* Digits, an optional fraction and an optional exponent. SQLite makes one
 * (illegal) token of any identifier characters glued to a number; the other
 * engines split them off, and so do we there, so that 1into still shows INTO. */
static size_t lex_number(const sql_lexer *lx, size_t i)
{
    i = lex_digits(lx, i);
    if (at(lx, i) == '.')
        i = lex_digits(lx, i + 1);
    unsigned char e = at(lx, i), s = at(lx, i + 1);
    if ((e == 'e' || e == 'E') &&
        (is_digit(s) || ((s == '+' || s == '-') && is_digit(at(lx, i + 2)))))
        i = lex_digits(lx, i + 2);
    if (lx->dialect == SQL_SQLITE) {
        while (is_word_cont(at(lx, i)))
            i++;
    }
    return i;
}

/* PostgreSQL: $1 parameters, $tag$...$tag$ and $$...$$ strings, else '$'. */
static bool lex_pg_dollar(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    size_t i = start + 1;
    if (is_digit(at(lx, i))) {
        tok->type = SQL_TOK_PARAM;
        tok->len = lex_digits(lx, i) - start;
        return true;
    }
    if (is_word_start(at(lx, i))) {
        while (i < lx->len && (is_word_start(at(lx, i)) || is_digit(at(lx, i))))
            i++;
    }
    if (at(lx, i) != '$') {
        tok->type = SQL_TOK_PUNCT;
        tok->len = 1;
        return true;
    }
    size_t tag_len = i + 1 - start;
    size_t close = find_dollar_delim(lx, i + 1, lx->src + start, tag_len);
    if (close >= lx->len) {
        err_set(err, ERR_INVALID, "unterminated dollar-quoted string starting at offset %zu",
                start);
        return false;
    }
    lx->pg_last_string_escaped = false;
    lx->pg_last_string_end = close + tag_len;
    tok->type = SQL_TOK_STRING;
    tok->len = close + tag_len - start;
    return true;
}

/* Snowflake: $$...$$ strings, $1 positional columns, $name variables. */
static bool lex_sf_dollar(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    unsigned char c = at(lx, start + 1);
    if (c == '$') {
        size_t close = find_dollar_delim(lx, start + 2, "$$", 2);
        if (close >= lx->len) {
            err_set(err, ERR_INVALID, "unterminated $$ string starting at offset %zu", start);
            return false;
        }
        tok->type = SQL_TOK_STRING;
        tok->len = close + 2 - start;
        return true;
    }
    if (is_digit(c)) {
        tok->type = SQL_TOK_PARAM;
        tok->len = lex_digits(lx, start + 1) - start;
        return true;
    }
    if (is_word_start(c)) {
        if (!lex_word(lx, start + 1, tok, err))
            return false;
        tok->type = SQL_TOK_PARAM;
        tok->len += 1;
        return true;
    }
    tok->type = SQL_TOK_PUNCT;
    tok->len = 1;
    return true;
}

static bool sqlite_space(unsigned char c)
{
    return is_space(c);
}

/* SQLite variables: $name, :name, @name, #name, with SQLite's Tcl-style
 * suffixes "::" and "(...)" — the latter runs to the first space or ')',
 * and may contain quotes and ';' that are then no string and no separator. */
static size_t lex_sqlite_variable(const sql_lexer *lx, size_t start)
{
    size_t i = start + 1;
    int n = 0;
    while (i < lx->len && at(lx, i) != 0) {
        unsigned char c = at(lx, i);
        if (is_word_cont(c)) {
            n++;
            i++;
        } else if (c == '(' && n > 0) {
            do {
                i++;
                c = at(lx, i);
            } while (i < lx->len && c != 0 && !sqlite_space(c) && c != ')');
            if (i < lx->len && c == ')')
                i++;
            break;
        } else if (c == ':' && at(lx, i + 1) == ':') {
            i += 2;
        } else {
            break;
        }
    }
    return i;
}

static bool lex_dollar_or_variable(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    switch (lx->dialect) {
    case SQL_POSTGRES:
        return lex_pg_dollar(lx, start, tok, err);
    case SQL_SNOWFLAKE:
        return lex_sf_dollar(lx, start, tok, err);
    case SQL_SQLITE:
        break;
    }
    tok->type = SQL_TOK_PARAM;
    tok->len = lex_sqlite_variable(lx, start) - start;
    return true;
}

static bool lex_comment(sql_lexer *lx, size_t start, bool line, sql_token *tok, err_t *err)
{
    size_t end;
    bool ok =
        line ? lex_line_comment(lx, start, &end, err) : lex_block_comment(lx, start, &end, err);
    if (!ok)
        return false;
    tok->type = SQL_TOK_COMMENT;
    tok->len = end - start;
    return true;
}

static bool lex_qident(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    unsigned char open = at(lx, start);
    unsigned char close = open == '[' ? ']' : open;
    size_t end;
    if (!lex_quoted(lx, start, start + 1, close, open != '[', false, "quoted identifier", &end,
                    err))
        return false;
    tok->type = SQL_TOK_QIDENT;
    tok->len = end - start;
    return true;
}

static bool lex_other(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    unsigned char c = at(lx, start);
    sql_dialect d = lx->dialect;
    if (d == SQL_SQLITE && (c == '`' || c == '['))
        return lex_qident(lx, start, tok, err);
    if (c == '$' || (d == SQL_SQLITE && (c == '@' || c == ':' || c == '#')))
        return lex_dollar_or_variable(lx, start, tok, err);
    if (d == SQL_SQLITE && c == '?') {
        tok->type = SQL_TOK_PARAM;
        tok->len = lex_digits(lx, start + 1) - start;
        return true;
    }
    if (d == SQL_SNOWFLAKE && c == '#') {
        err_set(err, ERR_REFUSED,
                "'#' at offset %zu is not Snowflake SQL; some engines read it as a comment, "
                "so it is refused outside strings and quoted names",
                start);
        return false;
    }
    tok->type = c == ';' ? SQL_TOK_SEMI : SQL_TOK_PUNCT;
    tok->len = 1;
    return true;
}

static bool lex_token(sql_lexer *lx, size_t start, sql_token *tok, err_t *err)
{
    unsigned char c = at(lx, start), next = at(lx, start + 1);
    sql_dialect d = lx->dialect;
    if (is_space(c)) {
        tok->type = SQL_TOK_WHITESPACE;
        tok->len = lex_whitespace(lx, start) - start;
        return true;
    }
    if (c == '-' && next == '-')
        return lex_comment(lx, start, true, tok, err);
    if (c == '/' && next == '*')
        return lex_comment(lx, start, false, tok, err);
    if (c == '/' && next == '/' && d == SQL_SNOWFLAKE)
        return lex_comment(lx, start, true, tok, err);
    if (is_bom(lx, start) || (d == SQL_SNOWFLAKE && unicode_space_len(lx, start))) {
        err_set(err, ERR_REFUSED,
                "an invisible Unicode space at offset %zu is outside any string; engines "
                "disagree on whether it separates words. Use plain spaces",
                start);
        return false;
    }
    if (is_word_start(c))
        return lex_word(lx, start, tok, err);
    if (is_digit(c) || (c == '.' && is_digit(next))) {
        tok->type = SQL_TOK_NUMBER;
        tok->len = lex_number(lx, start) - start;
        return true;
    }
    if (c == '\'')
        return lex_string(lx, start, start, tok, err);
    if (c == '"')
        return lex_qident(lx, start, tok, err);
    return lex_other(lx, start, tok, err);
}

void sql_lex_init(sql_lexer *lx, sql_dialect dialect, const char *src, size_t len)
{
    memset(lx, 0, sizeof *lx);
    lx->dialect = dialect;
    lx->src = src;
    lx->len = len;
}

bool sql_lex_next(sql_lexer *lx, sql_token *tok, err_t *err)
{
    tok->start = lx->pos;
    tok->len = 0;
    if (lx->pos >= lx->len) {
        tok->type = SQL_TOK_EOF;
        return true;
    }
    if (!lex_token(lx, lx->pos, tok, err))
        return false;
    lx->pos += tok->len;
    return true;
}

bool sql_lex_next_significant(sql_lexer *lx, sql_token *tok, err_t *err)
{
    do {
        if (!sql_lex_next(lx, tok, err))
            return false;
    } while (tok->type == SQL_TOK_WHITESPACE || tok->type == SQL_TOK_COMMENT);
    return true;
}

bool sql_tok_is_word(const char *src, const sql_token *tok, const char *kw)
{
    if (tok->type != SQL_TOK_WORD)
        return false;
    size_t n = strlen(kw);
    if (tok->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[tok->start + i];
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (c != (unsigned char)kw[i])
            return false;
    }
    return true;
}

const char *sql_dialect_name(sql_dialect d)
{
    switch (d) {
    case SQL_SNOWFLAKE:
        return "Snowflake";
    case SQL_POSTGRES:
        return "PostgreSQL";
    case SQL_SQLITE:
        return "SQLite";
    }
    return "unknown";
}

const char *sql_tok_type_name(sql_tok_type t)
{
    switch (t) {
    case SQL_TOK_EOF:
        return "end of input";
    case SQL_TOK_WHITESPACE:
        return "whitespace";
    case SQL_TOK_COMMENT:
        return "comment";
    case SQL_TOK_WORD:
        return "word";
    case SQL_TOK_QIDENT:
        return "quoted identifier";
    case SQL_TOK_STRING:
        return "string literal";
    case SQL_TOK_NUMBER:
        return "number";
    case SQL_TOK_PARAM:
        return "parameter";
    case SQL_TOK_PUNCT:
        return "punctuation";
    case SQL_TOK_SEMI:
        return "';'";
    }
    return "token";
}
