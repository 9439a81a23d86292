#include "sql/guard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "core/xalloc.h"

#define ALLOWED "Allowed: SELECT, WITH … SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN"
#define NO_MATCH SIZE_MAX

/* The statement under check: its significant tokens (no whitespace or
 * comments) and, for each parenthesis, the index of its partner. */
typedef struct guard {
    sql_dialect dialect;
    const char *src;
    const sql_token *t;
    size_t n;
    size_t *match;
    err_t *err;
} guard;

/* ---- token helpers ---------------------------------------------------- */

static bool is_word(const guard *g, size_t i, const char *kw)
{
    return i < g->n && sql_tok_is_word(g->src, &g->t[i], kw);
}

static bool is_punct(const guard *g, size_t i, char c)
{
    return i < g->n && g->t[i].type == SQL_TOK_PUNCT && g->src[g->t[i].start] == c;
}

static bool is_any_word(const guard *g, size_t i, const char *const *kws)
{
    for (; *kws; kws++) {
        if (is_word(g, i, *kws))
            return true;
    }
    return false;
}

/* Copies at most cap-1 bytes of s[0..n) into buf, cut at a UTF-8 character
 * boundary, upper-casing ASCII letters when upper is set. */
static void copy_text(char *buf, size_t cap, const char *s, size_t n, bool upper)
{
    size_t o = 0, i = 0;
    while (i < n) {
        size_t len = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (len == 0 || o + len + 1 > cap)
            break;
        for (size_t k = 0; k < len; k++) {
            char c = s[i + k];
            if (upper && c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            buf[o++] = c;
        }
        i += len;
    }
    buf[o] = '\0';
}

/* How a token is named in messages: DELETE, "name", '(' or its kind. */
static void tok_label(const guard *g, size_t i, char *buf, size_t cap)
{
    const sql_token *t = &g->t[i];
    const char *s = g->src + t->start;
    switch (t->type) {
    case SQL_TOK_WORD:
        copy_text(buf, cap, s, t->len, true);
        break;
    case SQL_TOK_QIDENT:
    case SQL_TOK_PARAM:
    case SQL_TOK_PUNCT:
    case SQL_TOK_SEMI:
        if (t->type == SQL_TOK_PUNCT && ((unsigned char)s[0] < 0x20 || s[0] == 0x7f)) {
            snprintf(buf, cap, "a control character");
            break;
        }
        buf[0] = '\'';
        copy_text(buf + 1, cap - 2, s, t->len, false);
        strcat(buf, "'");
        break;
    default:
        snprintf(buf, cap, "a %s", sql_tok_type_name(t->type));
        break;
    }
}

/* The name a word or quoted identifier stands for, as the engine resolves
 * function names: quotes removed and doubled closers collapsed. */
static void tok_name(const guard *g, size_t i, char *buf, size_t cap)
{
    const sql_token *t = &g->t[i];
    const char *s = g->src + t->start;
    if (t->type == SQL_TOK_WORD) {
        copy_text(buf, cap, s, t->len, false);
        return;
    }
    char close = s[0] == '[' ? ']' : s[0];
    size_t o = 0;
    for (size_t k = 1; k + 1 < t->len && o + 1 < cap; k++) {
        buf[o++] = s[k];
        if (s[k] == close && s[0] != '[')
            k++;
    }
    buf[o] = '\0';
}

static bool refuse(guard *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool refuse(guard *g, const char *fmt, ...)
{
    if (!g->err)
        return false;
    va_list ap;
    va_start(ap, fmt);
    g->err->kind = ERR_REFUSED;
    vsnprintf(g->err->msg, sizeof g->err->msg, fmt, ap);
    va_end(ap);
    return false;
}

/* ---- statement starts --------------------------------------------------- */

typedef struct reason {
    const char *word;
    const char *why;
} reason;

/* Why a statement kind is refused, for the message. Anything not listed is
 * refused too, with a generic message. */
static const reason statement_reasons[] = {
    {"INSERT", "modify data"},
    {"UPDATE", "modify data"},
    {"DELETE", "modify data"},
    {"MERGE", "modify data"},
    {"UPSERT", "modify data"},
    {"REPLACE", "modify data"},
    {"TRUNCATE", "modify data"},
    {"COPY", "move data between tables and files or stages"},
    {"PUT", "upload files to a stage"},
    {"GET", "download files from a stage"},
    {"IMPORT", "load data"},
    {"LOAD", "load data or extensions"},
    {"DROP", "change the schema"},
    {"CREATE", "change the schema"},
    {"ALTER", "change the schema"},
    {"UNDROP", "change the schema"},
    {"COMMENT", "change the schema"},
    {"GRANT", "change privileges"},
    {"REVOKE", "change privileges"},
    {"SECURITY", "change security labels"},
    {"CALL", "run stored procedures"},
    {"EXECUTE", "run arbitrary statements"},
    {"DO", "run procedural code"},
    {"BEGIN", "control transactions or run procedural blocks"},
    {"START", "control transactions"},
    {"COMMIT", "control transactions"},
    {"ROLLBACK", "control transactions"},
    {"END", "control transactions"},
    {"SAVEPOINT", "control transactions"},
    {"RELEASE", "control transactions"},
    {"SET", "change session state"},
    {"UNSET", "change session state"},
    {"USE", "change session state"},
    {"RESET", "change session state"},
    {"LOCK", "take locks"},
    {"LISTEN", "change session state"},
    {"UNLISTEN", "change session state"},
    {"NOTIFY", "send notifications"},
    {"ATTACH", "attach database files"},
    {"DETACH", "detach databases"},
    {"PRAGMA", "can change database settings"},
    {"VACUUM", "rewrite the database"},
    {"REINDEX", "rebuild indexes"},
    {"ANALYZE", "write statistics"},
    {"CLUSTER", "rewrite tables"},
    {"REFRESH", "rewrite materialized views"},
    {"PREPARE", "prepare arbitrary statements"},
    {"DEALLOCATE", "change session state"},
    {"DISCARD", "change session state"},
    {"CHECKPOINT", "change server state"},
    {"REASSIGN", "change ownership"},
    {NULL, NULL},
};

static bool refuse_statement(guard *g, size_t i)
{
    char label[64];
    tok_label(g, i, label, sizeof label);
    if (g->t[i].type != SQL_TOK_WORD)
        return refuse(g,
                      "refused: a query must start with SELECT, WITH, SHOW, DESCRIBE, EXPLAIN "
                      "or VALUES (found %s at offset %zu)",
                      label, g->t[i].start);
    for (const reason *r = statement_reasons; r->word; r++) {
        if (is_word(g, i, r->word))
            return refuse(g, "refused: %s statements %s; this server is read-only. " ALLOWED, label,
                          r->why);
    }
    return refuse(g, "refused: %s statements are not allowed; this server is read-only. " ALLOWED,
                  label);
}

static size_t skip_open_parens(const guard *g, size_t i, size_t end)
{
    while (i < end && is_punct(g, i, '('))
        i++;
    return i;
}

static const char *const query_starts[] = {"SELECT", "WITH", "VALUES", NULL};

/* ---- WITH ---------------------------------------------------------------- */

static const char *const modifying[] = {"INSERT", "UPDATE", "DELETE", "MERGE", NULL};

static bool refuse_cte_body(guard *g, size_t name, size_t body, size_t close)
{
    char nm[64], what[64];
    tok_label(g, name, nm, sizeof nm);
    if (body >= close)
        return refuse(g, "refused: the WITH clause %s at offset %zu has an empty body", nm,
                      g->t[name].start);
    tok_label(g, body, what, sizeof what);
    if (is_any_word(g, body, modifying))
        return refuse(g,
                      "refused: the WITH clause %s runs a %s statement (offset %zu); "
                      "data-modifying WITH is not allowed, this server is read-only",
                      nm, what, g->t[body].start);
    return refuse(g,
                  "refused: the WITH clause %s must contain a SELECT, WITH or VALUES query "
                  "(found %s at offset %zu)",
                  nm, what, g->t[body].start);
}

/* One common table expression from i: name [(cols)] AS [NOT] [MATERIALIZED]
 * ( query ). Returns the index after its closing parenthesis, or NO_MATCH. */
static size_t check_cte(guard *g, size_t i, size_t end)
{
    char label[64];
    if (i >= end || (g->t[i].type != SQL_TOK_WORD && g->t[i].type != SQL_TOK_QIDENT)) {
        size_t at = i < end ? g->t[i].start : g->t[end - 1].start;
        refuse(g, "refused: expected the name of a WITH query at offset %zu", at);
        return NO_MATCH;
    }
    size_t name = i++;
    if (is_punct(g, i, '(') && i < end)
        i = g->match[i] + 1;
    if (!(i < end && is_word(g, i, "AS"))) {
        tok_label(g, name, label, sizeof label);
        refuse(g, "refused: expected AS after the WITH query name %s (offset %zu)", label,
               g->t[name].start);
        return NO_MATCH;
    }
    i++;
    if (i < end && is_word(g, i, "NOT"))
        i++;
    if (i < end && is_word(g, i, "MATERIALIZED"))
        i++;
    if (!(i < end && is_punct(g, i, '('))) {
        char found[64] = "the end of the statement";
        if (i < end)
            tok_label(g, i, found, sizeof found);
        tok_label(g, name, label, sizeof label);
        refuse(g,
               "refused: the WITH clause %s is not a plain query (expected '(' after AS, "
               "found %s)",
               label, found);
        return NO_MATCH;
    }
    size_t close = g->match[i];
    size_t body = skip_open_parens(g, i + 1, close);
    if (body >= close || !is_any_word(g, body, query_starts)) {
        refuse_cte_body(g, name, body, close);
        return NO_MATCH;
    }
    return close + 1;
}

/* WITH [RECURSIVE] cte [, cte]... main, where main is a SELECT or VALUES,
 * possibly parenthesized. b indexes WITH; end bounds the statement. */
static bool check_with(guard *g, size_t b, size_t end)
{
    size_t i = b + 1;
    if (is_word(g, i, "RECURSIVE"))
        i++;
    for (;;) {
        i = check_cte(g, i, end);
        if (i == NO_MATCH)
            return false;
        if (!(i < end && is_punct(g, i, ',')))
            break;
        i++;
    }
    if (i >= end)
        return refuse(g, "refused: the WITH clause at offset %zu is not followed by a SELECT",
                      g->t[b].start);
    size_t q = skip_open_parens(g, i, end);
    if (is_word(g, q, "SELECT") || is_word(g, q, "VALUES") || (q > i && is_word(g, q, "WITH")))
        return true;
    char label[64];
    tok_label(g, q < end ? q : i, label, sizeof label);
    if (is_any_word(g, q, modifying))
        return refuse(g,
                      "refused: WITH … %s at offset %zu modifies data; this server is "
                      "read-only. " ALLOWED,
                      label, g->t[q].start);
    return refuse(g,
                  "refused: the statement after WITH must be a SELECT (found %s at offset "
                  "%zu)",
                  label, g->t[q < end ? q : i].start);
}

/* ---- EXPLAIN ------------------------------------------------------------- */

static bool options_analyze(const guard *g, size_t open)
{
    for (size_t k = open + 1; k < g->match[open]; k++) {
        if (is_word(g, k, "ANALYZE") || is_word(g, k, "ANALYSE"))
            return true;
    }
    return false;
}

/* Skips EXPLAIN's modifiers: ANALYZE, VERBOSE, (options), USING fmt, QUERY
 * PLAN. Returns the index of the explained statement. */
static size_t skip_explain_options(const guard *g, size_t i, size_t end, bool *analyze)
{
    while (i < end) {
        if (is_word(g, i, "ANALYZE") || is_word(g, i, "ANALYSE")) {
            *analyze = true;
            i++;
        } else if (is_word(g, i, "VERBOSE")) {
            i++;
        } else if (is_word(g, i, "QUERY") && is_word(g, i + 1, "PLAN")) {
            i += 2;
        } else if (is_word(g, i, "USING") && i + 1 < end && g->t[i + 1].type == SQL_TOK_WORD) {
            i += 2;
        } else if (is_punct(g, i, '(') && !is_punct(g, i + 1, '(') &&
                   !is_any_word(g, i + 1, query_starts)) {
            *analyze = *analyze || options_analyze(g, i);
            i = g->match[i] + 1;
        } else {
            break;
        }
    }
    return i;
}

static bool classify(guard *g, size_t b, size_t end, sql_kind *kind);

static bool check_explain(guard *g, size_t b, size_t end)
{
    bool analyze = false;
    size_t i = skip_explain_options(g, b + 1, end, &analyze);
    const char *head = analyze ? "EXPLAIN ANALYZE" : "EXPLAIN";
    if (i >= end)
        return refuse(g, "refused: %s at offset %zu has no statement to explain", head,
                      g->t[b].start);
    size_t q = skip_open_parens(g, i, end);
    if (q >= end || !is_any_word(g, q, query_starts)) {
        char label[64];
        tok_label(g, q < end ? q : i, label, sizeof label);
        if (analyze)
            return refuse(g,
                          "refused: EXPLAIN ANALYZE runs the statement it explains, and only "
                          "SELECT, WITH … SELECT and VALUES may run here (found %s at offset "
                          "%zu); this server is read-only",
                          label, g->t[q < end ? q : i].start);
        return refuse(g,
                      "refused: EXPLAIN may only explain SELECT, WITH … SELECT or VALUES "
                      "(found %s at offset %zu)",
                      label, g->t[q < end ? q : i].start);
    }
    sql_kind inner;
    return classify(g, i, end, &inner);
}

/* ---- classification ------------------------------------------------------ */

/* Decides the statement kind from its first tokens, checking the structure
 * of WITH and EXPLAIN. */
static bool classify(guard *g, size_t b, size_t end, sql_kind *kind)
{
    if (is_punct(g, b, '(')) {
        size_t q = skip_open_parens(g, b, end);
        if (q < end && is_any_word(g, q, query_starts)) {
            *kind = is_word(g, q, "VALUES") ? SQL_KIND_VALUES : SQL_KIND_SELECT;
            return true;
        }
        return refuse_statement(g, q < end ? q : b);
    }
    if (is_word(g, b, "SELECT")) {
        *kind = SQL_KIND_SELECT;
        return true;
    }
    if (is_word(g, b, "VALUES")) {
        *kind = SQL_KIND_VALUES;
        return true;
    }
    if (is_word(g, b, "SHOW")) {
        *kind = SQL_KIND_SHOW;
        return true;
    }
    if (is_word(g, b, "DESCRIBE") || is_word(g, b, "DESC")) {
        *kind = SQL_KIND_DESCRIBE;
        return true;
    }
    if (is_word(g, b, "WITH")) {
        *kind = SQL_KIND_WITH;
        return check_with(g, b, end);
    }
    if (is_word(g, b, "EXPLAIN")) {
        *kind = SQL_KIND_EXPLAIN;
        return check_explain(g, b, end);
    }
    return refuse_statement(g, b);
}

/* ---- refused anywhere ---------------------------------------------------- */

/* Words refused wherever they appear unquoted and unqualified: no read-only
 * statement needs them, and each can start or join a statement that
 * changes something. */
static const char *const hard_words[] = {
    "INSERT", "UPDATE", "DELETE",  "MERGE",  "UPSERT", "TRUNCATE", "DROP",   "CREATE",
    "ALTER",  "GRANT",  "REVOKE",  "COPY",   "CALL",   "EXECUTE",  "ATTACH", "DETACH",
    "PRAGMA", "VACUUM", "REINDEX", "UNDROP", "COMMIT", "ROLLBACK", "BEGIN",  "SET",
    "UNSET",  "LISTEN", "NOTIFY",  "INTO",   NULL,
};

/* Hard words that are also names of read-only functions (Snowflake
 * INSERT(), TRUNCATE()): allowed when a '(' follows. */
static const char *const function_words[] = {"INSERT", "TRUNCATE", NULL};

/* t.update or "s".delete: a qualified name, never a statement or clause. */
static bool is_qualified(const guard *g, size_t i)
{
    return i >= 2 && is_punct(g, i - 1, '.') &&
           (g->t[i - 2].type == SQL_TOK_WORD || g->t[i - 2].type == SQL_TOK_QIDENT);
}

static bool check_locking(guard *g, size_t i)
{
    size_t k = i + 1;
    if (is_word(g, k, "NO") && is_word(g, k + 1, "KEY"))
        k += 2;
    else if (is_word(g, k, "KEY"))
        k++;
    if (!is_word(g, k, "UPDATE") && !is_word(g, k, "SHARE"))
        return true;
    char label[64];
    tok_label(g, k, label, sizeof label);
    return refuse(g, "refused: FOR %s at offset %zu locks rows; this server is read-only", label,
                  g->t[i].start);
}

static bool check_word(guard *g, size_t i)
{
    if (is_word(g, i, "FOR"))
        return check_locking(g, i);
    if (is_word(g, i, "REPLACE") && is_word(g, i + 1, "INTO"))
        return refuse(g,
                      "refused: REPLACE INTO at offset %zu modifies data; this server is "
                      "read-only",
                      g->t[i].start);
    if (!is_any_word(g, i, hard_words) || is_qualified(g, i))
        return true;
    if (is_punct(g, i + 1, '(') && is_any_word(g, i, function_words))
        return true;
    char label[64];
    tok_label(g, i, label, sizeof label);
    if (is_word(g, i, "INTO"))
        return refuse(g,
                      "refused: INTO at offset %zu: SELECT … INTO creates a table or assigns "
                      "variables; this server is read-only",
                      g->t[i].start);
    return refuse(g,
                  "refused: %s at offset %zu is not allowed in a read-only query (it starts or "
                  "joins a statement that changes data, schema or session). If it is a column "
                  "or table name here, quote it as an identifier",
                  label, g->t[i].start);
}

/* ---- side-effecting functions -------------------------------------------- */

typedef struct banned_fn {
    const char *name; /* lower case */
    bool prefix;      /* name is a prefix of the banned family */
    const char *why;
} banned_fn;

static const banned_fn pg_functions[] = {
    {"set_config", false, "changes a session setting"},
    {"nextval", false, "advances a sequence"},
    {"setval", false, "changes a sequence"},
    {"pg_terminate_backend", false, "stops other sessions"},
    {"pg_cancel_backend", false, "cancels other sessions' queries"},
    {"pg_reload_conf", false, "reloads the server configuration"},
    {"pg_rotate_logfile", false, "changes server state"},
    {"pg_switch_wal", false, "changes server state"},
    {"pg_switch_xlog", false, "changes server state"},
    {"pg_create_restore_point", false, "changes server state"},
    {"pg_promote", false, "changes server state"},
    {"pg_backup_start", false, "changes server state"},
    {"pg_backup_stop", false, "changes server state"},
    {"pg_start_backup", false, "changes server state"},
    {"pg_stop_backup", false, "changes server state"},
    {"pg_log_backend_memory_contexts", false, "changes server state"},
    {"pg_wal_replay_", true, "changes server state"},
    {"pg_create_", true, "changes server state"},
    {"pg_drop_replication_slot", false, "changes server state"},
    {"pg_replication_origin_", true, "changes server state"},
    {"pg_stat_reset", true, "resets statistics"},
    {"pg_import_system_collations", false, "changes the catalog"},
    {"pg_notify", false, "sends notifications"},
    {"pg_logical_emit_message", false, "writes to the write-ahead log"},
    {"pg_read_", true, "reads server files"},
    {"pg_ls_", true, "lists server directories"},
    {"pg_stat_file", false, "reads server files"},
    {"pg_file_", true, "writes server files"},
    {"lo_", true, "reads or writes large objects and server files"},
    {"dblink", true, "runs SQL over another connection"},
    {"query_to_xml", true, "runs the SQL text it is given"},
    {"ts_stat", false, "runs the SQL text it is given"},
    {"ts_rewrite", false, "runs the SQL text it is given"},
    {"crosstab", true, "runs the SQL text it is given"},
    {"connectby", false, "runs the SQL text it is given"},
    {"xpath_table", false, "runs the SQL it builds from its arguments"},
    {"pg_stat_statements_reset", false, "resets statistics"},
    {"cursor_to_xml", true, "reads a cursor"},
    {"pg_advisory_", true, "takes advisory locks"},
    {"pg_try_advisory_", true, "takes advisory locks"},
    {"pg_sleep", true, "blocks the session"},
    {NULL, false, NULL},
};

static const banned_fn sqlite_functions[] = {
    {"load_extension", false, "loads native code"},
    {"readfile", false, "reads server files"},
    {"writefile", false, "writes server files"},
    {"edit", false, "starts an editor"},
    {"fts3_tokenizer", false, "can register native code"},
    {"fsdir", false, "lists server directories"},
    {NULL, false, NULL},
};

/* Snowflake SYSTEM$ functions include ones that cancel queries, abort
 * sessions and change account state; these few only describe. */
static const char *const snowflake_system_allowed[] = {
    "system$typeof",
    "system$clustering_information",
    "system$clustering_depth",
    NULL,
};

static bool name_matches(const char *name, const char *pattern, bool prefix)
{
    size_t n = strlen(pattern);
    for (size_t k = 0; k < n; k++) {
        char c = name[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != pattern[k])
            return false;
    }
    return prefix || name[n] == '\0';
}

static bool check_snowflake_function(guard *g, size_t i, const char *name)
{
    if (!name_matches(name, "system$", true))
        return true;
    for (const char *const *ok = snowflake_system_allowed; *ok; ok++) {
        if (name_matches(name, *ok, false))
            return true;
    }
    return refuse(g,
                  "refused: %s() at offset %zu: Snowflake SYSTEM$ functions can cancel queries "
                  "or change account state; only SYSTEM$TYPEOF, SYSTEM$CLUSTERING_INFORMATION "
                  "and SYSTEM$CLUSTERING_DEPTH are allowed",
                  name, g->t[i].start);
}

/* A word or quoted identifier followed by '(' is a call; quoted names are
 * checked too because engines resolve "nextval"(...) to the same function. */
static bool check_call(guard *g, size_t i)
{
    char name[300];
    tok_name(g, i, name, sizeof name);
    const banned_fn *list = NULL;
    switch (g->dialect) {
    case SQL_SNOWFLAKE:
        return check_snowflake_function(g, i, name);
    case SQL_POSTGRES:
        list = pg_functions;
        break;
    case SQL_SQLITE:
        list = sqlite_functions;
        break;
    }
    for (const banned_fn *f = list; f->name; f++) {
        if (name_matches(name, f->name, f->prefix))
            return refuse(g,
                          "refused: the function %s() at offset %zu %s; this server is "
                          "read-only",
                          name, g->t[i].start, f->why);
    }
    return true;
}

/* ---- dialect-specific constructs ----------------------------------------- */

static bool adjacent(const guard *g, size_t i)
{
    return i + 1 < g->n && g->t[i].start + g->t[i].len == g->t[i + 1].start;
}

static bool check_dialect_constructs(guard *g, size_t i)
{
    if (g->dialect == SQL_SNOWFLAKE && is_punct(g, i, '-') && adjacent(g, i) &&
        is_punct(g, i + 1, '>') && adjacent(g, i + 1) && is_punct(g, i + 2, '>'))
        return refuse(g,
                      "refused: the flow operator ->> at offset %zu chains statements; send "
                      "one statement per call",
                      g->t[i].start);
    if (g->dialect == SQL_SNOWFLAKE && is_word(g, i, "IDENTIFIER") && is_punct(g, i + 1, '(') &&
        is_punct(g, g->match[i + 1] + 1, '('))
        return refuse(g,
                      "refused: a function named through IDENTIFIER() at offset %zu cannot be "
                      "checked; name the function directly",
                      g->t[i].start);
    if (g->dialect == SQL_POSTGRES && is_word(g, i, "U") && adjacent(g, i) &&
        is_punct(g, i + 1, '&') && adjacent(g, i + 1) && i + 2 < g->n &&
        g->t[i + 2].type == SQL_TOK_QIDENT)
        return refuse(g,
                      "refused: the Unicode-escaped identifier U&\"...\" at offset %zu cannot "
                      "be checked; write the name plainly",
                      g->t[i].start);
    return true;
}

/* Everything checked at every token of the statement, at any depth. */
static bool check_everywhere(guard *g)
{
    for (size_t i = 0; i < g->n; i++) {
        sql_tok_type ty = g->t[i].type;
        if (ty == SQL_TOK_WORD && !check_word(g, i))
            return false;
        if ((ty == SQL_TOK_WORD || ty == SQL_TOK_QIDENT) && is_punct(g, i + 1, '(') &&
            !check_call(g, i))
            return false;
        if (!check_dialect_constructs(g, i))
            return false;
        if (is_punct(g, i, '(') && is_word(g, i + 1, "WITH") && !check_with(g, i + 1, g->match[i]))
            return false;
    }
    return true;
}

/* ---- statement splitting ------------------------------------------------- */

static bool match_parens(guard *g)
{
    size_t *stack = xmalloc((g->n + 1) * sizeof *stack);
    size_t depth = 0;
    bool ok = true;
    for (size_t i = 0; i < g->n && ok; i++) {
        g->match[i] = NO_MATCH;
        if (is_punct(g, i, '(')) {
            stack[depth++] = i;
        } else if (is_punct(g, i, ')')) {
            if (depth == 0) {
                ok = refuse(g,
                            "refused: unbalanced parentheses: ')' at offset %zu has no "
                            "matching '('",
                            g->t[i].start);
                break;
            }
            size_t open = stack[--depth];
            g->match[open] = i;
            g->match[i] = open;
        }
    }
    if (ok && depth > 0)
        ok = refuse(g, "refused: unbalanced parentheses: '(' at offset %zu is never closed",
                    g->t[stack[depth - 1]].start);
    free(stack);
    return ok;
}

/* Lexes the whole text into its significant tokens (caller frees *out). */
static bool lex_all(sql_dialect d, const char *sql, size_t len, sql_token **out, size_t *n,
                    err_t *err)
{
    sql_lexer lx;
    sql_lex_init(&lx, d, sql, len);
    size_t cap = 16, count = 0;
    sql_token *t = xmalloc(cap * sizeof *t);
    for (;;) {
        sql_token tok;
        if (!sql_lex_next_significant(&lx, &tok, err)) {
            free(t);
            err_prefix(err, "refused");
            return false;
        }
        if (tok.type == SQL_TOK_EOF)
            break;
        if (count == cap) {
            cap *= 2;
            t = xrealloc(t, cap * sizeof *t);
        }
        t[count++] = tok;
    }
    *out = t;
    *n = count;
    return true;
}

static bool check_text(const char *sql, size_t len, err_t *err)
{
    const char *nul = memchr(sql, '\0', len);
    if (nul) {
        err_set(err, ERR_INVALID, "refused: the query contains a NUL byte at offset %zu",
                (size_t)(nul - sql));
        return false;
    }
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len((const unsigned char *)sql + i, len - i);
        if (n == 0) {
            err_set(err, ERR_INVALID, "refused: the query is not valid UTF-8 (at offset %zu)", i);
            return false;
        }
        i += n;
    }
    return true;
}

/* Finds the one statement: skips leading ';', stops at the first ';', and
 * refuses anything but ';' after it. */
static bool split_statement(guard *g, const sql_token *t, size_t n, size_t *first, size_t *end)
{
    size_t b = 0;
    while (b < n && t[b].type == SQL_TOK_SEMI)
        b++;
    if (b == n) {
        err_set(g->err, ERR_INVALID,
                "refused: empty query (only whitespace, comments and ';'); send one SELECT, "
                "WITH, SHOW, DESCRIBE or EXPLAIN statement");
        return false;
    }
    size_t e = b;
    while (e < n && t[e].type != SQL_TOK_SEMI)
        e++;
    for (size_t k = e; k < n; k++) {
        if (t[k].type == SQL_TOK_SEMI)
            continue;
        g->t = t;
        g->n = n;
        char label[64];
        tok_label(g, k, label, sizeof label);
        return refuse(g,
                      "refused: only one statement per call is allowed (found a second "
                      "statement starting with %s at offset %zu)",
                      label, t[k].start);
    }
    *first = b;
    *end = e;
    return true;
}

static bool check_statement(guard *g, sql_kind *kind)
{
    g->match = xmalloc(g->n * sizeof *g->match);
    bool ok = match_parens(g) && classify(g, 0, g->n, kind) && check_everywhere(g);
    free(g->match);
    g->match = NULL;
    return ok;
}

bool sql_guard_check(sql_dialect d, const char *sql, size_t len, sql_guard_result *out, err_t *err)
{
    err_clear(err);
    if (!sql)
        len = 0;
    if (len > 0 && !check_text(sql, len, err))
        return false;
    sql_token *t = NULL;
    size_t n = 0;
    if (!lex_all(d, len ? sql : "", len, &t, &n, err))
        return false;
    guard g = {.dialect = d, .src = sql, .err = err};
    size_t first = 0, end = 0;
    sql_kind kind = SQL_KIND_SELECT;
    bool ok = split_statement(&g, t, n, &first, &end);
    if (ok) {
        g.t = t + first;
        g.n = end - first;
        ok = check_statement(&g, &kind);
    }
    if (ok && out) {
        out->kind = kind;
        out->start = t[first].start;
        out->len = t[end - 1].start + t[end - 1].len - out->start;
    }
    free(t);
    return ok;
}

const char *sql_kind_name(sql_kind k)
{
    switch (k) {
    case SQL_KIND_SELECT:
        return "SELECT";
    case SQL_KIND_WITH:
        return "WITH";
    case SQL_KIND_SHOW:
        return "SHOW";
    case SQL_KIND_DESCRIBE:
        return "DESCRIBE";
    case SQL_KIND_EXPLAIN:
        return "EXPLAIN";
    case SQL_KIND_VALUES:
        return "VALUES";
    }
    return "unknown";
}
