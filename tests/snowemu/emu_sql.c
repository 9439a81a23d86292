#include "emu_sql.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "emu_meta.h"
#include "sql/lexer.h"

struct emu_wh {
    size_t n;
    char **names;
    char **paths;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

emu_wh *emu_wh_open(const char *dir, err_t *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        err_set(err, ERR_CONNECT, "cannot open warehouse directory %s", dir);
        return NULL;
    }
    emu_wh *wh = xcalloc(1, sizeof *wh);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".db") != 0)
            continue;
        wh->names = xrealloc(wh->names, (wh->n + 1) * sizeof *wh->names);
        wh->names[wh->n++] = xstrndup(de->d_name, len - 3);
    }
    closedir(d);
    qsort(wh->names, wh->n, sizeof *wh->names, cmp_str);
    wh->paths = xcalloc(wh->n ? wh->n : 1, sizeof *wh->paths);
    for (size_t i = 0; i < wh->n; i++) {
        strbuf p;
        sb_init(&p);
        sb_printf(&p, "%s/%s.db", dir, wh->names[i]);
        wh->paths[i] = sb_detach(&p);
    }
    if (wh->n == 0) {
        err_set(err, ERR_NOT_FOUND, "no *.db files in %s", dir);
        emu_wh_free(wh);
        return NULL;
    }
    return wh;
}

void emu_wh_free(emu_wh *wh)
{
    if (!wh)
        return;
    for (size_t i = 0; i < wh->n; i++) {
        free(wh->names[i]);
        free(wh->paths[i]);
    }
    free(wh->names);
    free(wh->paths);
    free(wh);
}

size_t emu_wh_count(const emu_wh *wh)
{
    return wh->n;
}

const char *emu_wh_name(const emu_wh *wh, size_t i)
{
    return wh->names[i];
}

const char *emu_wh_path(const emu_wh *wh, size_t i)
{
    return wh->paths[i];
}

int emu_wh_find(const emu_wh *wh, const char *name)
{
    for (size_t i = 0; name && i < wh->n; i++)
        if (strcmp(wh->names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- statement splitting and magic comments ---- */

static void parse_magic(const char *c, size_t len, emu_magic *m)
{
    /* c is the whole comment "/" "*emu:...*" "/" */
    if (len < 8 || strncmp(c, "/*emu:", 6) != 0)
        return;
    char *body = xstrndup(c + 6, len - 8);
    char *save = NULL;
    for (char *kv = strtok_r(body, ", \t\n", &save); kv; kv = strtok_r(NULL, ", \t\n", &save)) {
        char *eq = strchr(kv, '=');
        int v = eq ? atoi(eq + 1) : 1;
        if (eq)
            *eq = '\0';
        if (strcmp(kv, "slow") == 0)
            m->slow_ms = v;
        else if (strcmp(kv, "work") == 0)
            m->work_ms = v;
        else if (strcmp(kv, "status") == 0)
            m->status = v;
        else if (strcmp(kv, "count") == 0)
            m->status_count = v;
        else if (strcmp(kv, "poll_status") == 0)
            m->poll_status = v;
        else if (strcmp(kv, "poll_count") == 0)
            m->poll_count = v;
        else if (strcmp(kv, "expire_token") == 0)
            m->expire_token = v != 0;
    }
    free(body);
}

bool emu_sql_split(const char *text, char ***out, size_t *n, emu_magic *magic, emu_error *e)
{
    memset(magic, 0, sizeof *magic);
    *out = NULL;
    *n = 0;
    sql_lexer lx;
    sql_lex_init(&lx, SQL_SNOWFLAKE, text, strlen(text));
    size_t start = 0;
    bool significant = false;
    for (;;) {
        sql_token t;
        err_t lerr;
        err_clear(&lerr);
        if (!sql_lex_next(&lx, &t, &lerr)) {
            emu_sql_free_list(*out, *n);
            *out = NULL;
            *n = 0;
            emu_error_set(e, 422, "001003", "42000", "SQL compilation error:\n%s", lerr.msg);
            return false;
        }
        if (t.type == SQL_TOK_COMMENT)
            parse_magic(text + t.start, t.len, magic);
        if (t.type == SQL_TOK_SEMI || t.type == SQL_TOK_EOF) {
            if (significant) {
                *out = xrealloc(*out, (*n + 1) * sizeof **out);
                (*out)[(*n)++] = xstrndup(text + start, t.start - start);
            }
            if (t.type == SQL_TOK_EOF)
                break;
            start = t.start + t.len;
            significant = false;
        } else if (t.type != SQL_TOK_WHITESPACE && t.type != SQL_TOK_COMMENT) {
            significant = true;
        }
    }
    if (magic->status && magic->status_count <= 0)
        magic->status_count = 1;
    if (magic->poll_status && magic->poll_count <= 0)
        magic->poll_count = 1;
    return true;
}

void emu_sql_free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ---- name rewriting ---- */

static bool is_ident(const sql_token *t)
{
    return t->type == SQL_TOK_WORD || t->type == SQL_TOK_QIDENT;
}

static bool is_dot(const char *src, const sql_token *t)
{
    return t->type == SQL_TOK_PUNCT && src[t->start] == '.';
}

static bool is_public(const char *src, const sql_token *t)
{
    if (t->type == SQL_TOK_WORD)
        return sql_tok_is_word(src, t, "PUBLIC");
    return t->type == SQL_TOK_QIDENT && t->len == 8 && memcmp(src + t->start, "\"PUBLIC\"", 8) == 0;
}

char *emu_sql_rewrite(const char *text)
{
    size_t len = strlen(text), n = 0, cap = 64;
    sql_token *toks = xmalloc(cap * sizeof *toks);
    sql_lexer lx;
    sql_lex_init(&lx, SQL_SNOWFLAKE, text, len);
    for (;;) {
        sql_token t;
        err_t lerr;
        if (!sql_lex_next(&lx, &t, &lerr)) {
            free(toks);
            return xstrdup(text);
        }
        if (n == cap)
            toks = xrealloc(toks, (cap *= 2) * sizeof *toks);
        toks[n++] = t;
        if (t.type == SQL_TOK_EOF)
            break;
    }
    strbuf out;
    sb_init(&out);
    for (size_t i = 0; i < n; i++) {
        const sql_token *t = &toks[i];
        bool after_dot = i > 0 && is_dot(text, &toks[i - 1]);
        /* DB . PUBLIC . OBJ -> DB . OBJ */
        if (i + 4 < n && is_ident(t) && is_dot(text, &toks[i + 1]) &&
            is_public(text, &toks[i + 2]) && is_dot(text, &toks[i + 3]) && is_ident(&toks[i + 4])) {
            sb_append(&out, text + t->start, t->len);
            sb_putc(&out, '.');
            i += 3;
            continue;
        }
        /* PUBLIC . OBJ -> OBJ (not when PUBLIC is itself qualified) */
        if (!after_dot && i + 2 < n && is_public(text, t) && is_dot(text, &toks[i + 1]) &&
            is_ident(&toks[i + 2])) {
            i += 1;
            continue;
        }
        sb_append(&out, text + t->start, t->len);
    }
    free(toks);
    return sb_detach(&out);
}

/* ---- connection ---- */

static void fn_context(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *v = sqlite3_user_data(ctx);
    if (v)
        sqlite3_result_text(ctx, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
}

static const char *const emu_types_sql =
    "CREATE TEMP TABLE EMU_TYPES (id INTEGER NOT NULL, c_fixed NUMBER(38,0), "
    "c_dec NUMBER(10,2), c_real FLOAT, c_text VARCHAR, c_bool BOOLEAN, c_date DATE, "
    "c_time TIME, c_ts_ntz TIMESTAMP_NTZ, c_ts_ltz TIMESTAMP_LTZ, c_ts_tz TIMESTAMP_TZ, "
    "c_variant VARIANT, c_object OBJECT, c_array ARRAY, c_binary BINARY);"
    "INSERT INTO EMU_TYPES VALUES "
    "(1, 123, 1.5, 1.5e10, 'hello, \"world\"', 1, '2020-01-01', '23:01:59', "
    "'2021-01-28 22:09:37.123456789', '2021-01-28 22:09:37', '2021-03-19 18:06:59+01:00', "
    "'{\"a\":[1,2]}', '{\"k\":\"v\"}', '[1,\"two\",null]', X'DEADBEEF'),"
    "(2, -7, -0.05, 0.25, 'ünïcødé ✓', 0, '1969-12-31', '00:00:00.5', "
    "'1970-01-01 00:00:00', '2000-02-29 12:00:00.000001', '2020-06-01 00:00:00-05:30', "
    "'42', '{}', '[]', X''),"
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);";

sqlite3 *emu_wh_connect(const emu_wh *wh, const emu_session *s, emu_error *e)
{
    int first = -1;
    if (s->database && *s->database) {
        first = emu_wh_find(wh, s->database);
        if (first < 0) {
            emu_error_set(e, 422, "390201", "08004",
                          "The requested database does not exist or not authorized.");
            return NULL;
        }
        if (s->schema && *s->schema && strcmp(s->schema, "PUBLIC") != 0) {
            emu_error_set(e, 422, "390201", "08004",
                          "The requested schema does not exist or not authorized.");
            return NULL;
        }
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) !=
        SQLITE_OK) {
        emu_error_set(e, 500, "000603", "XX000", "cannot open SQLite: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    /* The request's database first: SQLite resolves unqualified names in
     * attachment order. */
    strbuf sql;
    sb_init(&sql);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < wh->n; i++) {
            if ((pass == 0) != ((int)i == first))
                continue;
            char *q =
                sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS \"%w\";", wh->paths[i], wh->names[i]);
            sb_puts(&sql, q);
            sqlite3_free(q);
        }
    }
    sb_puts(&sql, emu_types_sql);
    char *msg = NULL;
    if (sqlite3_exec(db, sql.data, NULL, NULL, &msg) != SQLITE_OK) {
        emu_error_set(e, 500, "000603", "XX000", "cannot attach the warehouse: %s", msg);
        sqlite3_free(msg);
        sb_free(&sql);
        sqlite3_close(db);
        return NULL;
    }
    sb_free(&sql);
    struct {
        const char *name;
        const char *value;
    } fns[] = {{"current_database", s->database},   {"current_schema", s->schema},
               {"current_warehouse", s->warehouse}, {"current_role", s->role},
               {"current_user", s->user},           {"current_account", s->account},
               {"current_version", "8.0.0"}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        sqlite3_create_function(db, fns[i].name, 0, SQLITE_UTF8, (void *)fns[i].value, fn_context,
                                NULL, NULL);
    return db;
}

/* ---- errors ---- */

void emu_sql_map_error(const char *msg, emu_error *e)
{
    const char *p;
    if ((p = strstr(msg, "no such table: ")) != NULL) {
        emu_error_set(e, 422, "002003", "42S02",
                      "SQL compilation error:\nObject '%s' does not exist or not authorized.",
                      p + 15);
    } else if ((p = strstr(msg, "no such column: ")) != NULL) {
        emu_error_set(e, 422, "000904", "42000",
                      "SQL compilation error: error line 1 at position 0\ninvalid identifier '%s'",
                      p + 16);
    } else if ((p = strstr(msg, "no such function: ")) != NULL) {
        emu_error_set(e, 422, "002140", "42601", "SQL compilation error:\nUnknown function %s",
                      p + 18);
    } else if (strstr(msg, "syntax error") || strstr(msg, "incomplete input")) {
        emu_error_set(e, 422, "001003", "42000", "SQL compilation error:\nsyntax error: %s", msg);
    } else {
        emu_error_set(e, 422, "002003", "42000", "SQL compilation error:\n%s", msg);
    }
}

/* ---- execution ---- */

static int progress(void *arg)
{
    const emu_run_ctl *ctl = arg;
    if (ctl->cancel && atomic_load(ctl->cancel))
        return 1;
    return ctl->deadline_ns && clock_now_ns() >= ctl->deadline_ns;
}

typedef enum col_kind { KIND_INFER, KIND_TYPED } col_kind;

/* Maps a declared type; false when there is none to go by. */
bool emu_sql_decl_type(const char *decl, emu_type *t, int *prec, int *scale)
{
    if (!decl || !*decl)
        return false;
    char up[64];
    size_t i;
    for (i = 0; decl[i] && i + 1 < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)decl[i]);
    up[i] = '\0';
    *prec = 38;
    *scale = 0;
    if (strncmp(up, "NUMERIC", 7) == 0 || strncmp(up, "NUMBER", 6) == 0 ||
        strncmp(up, "DECIMAL", 7) == 0) {
        const char *paren = strchr(up, '(');
        if (paren) {
            int p = 38, s = 0;
            if (sscanf(paren, "(%d,%d)", &p, &s) < 1)
                p = 38;
            *prec = p;
            *scale = s;
        }
        *t = EMU_FIXED;
    } else if (strstr(up, "INT")) {
        *t = EMU_FIXED;
    } else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB")) {
        *t = EMU_REAL;
    } else if (strstr(up, "BOOL")) {
        *t = EMU_BOOLEAN;
    } else if (strcmp(up, "TIMESTAMP_TZ") == 0) {
        *t = EMU_TS_TZ;
    } else if (strcmp(up, "TIMESTAMP_LTZ") == 0) {
        *t = EMU_TS_LTZ;
    } else if (strncmp(up, "TIMESTAMP", 9) == 0 || strncmp(up, "DATETIME", 8) == 0) {
        *t = EMU_TS_NTZ;
    } else if (strcmp(up, "DATE") == 0) {
        *t = EMU_DATE;
    } else if (strncmp(up, "TIME", 4) == 0) {
        *t = EMU_TIME;
    } else if (strcmp(up, "VARIANT") == 0) {
        *t = EMU_VARIANT;
    } else if (strcmp(up, "OBJECT") == 0) {
        *t = EMU_OBJECT;
    } else if (strcmp(up, "ARRAY") == 0) {
        *t = EMU_ARRAY;
    } else if (strstr(up, "BLOB") || strstr(up, "BINARY")) {
        *t = EMU_BINARY;
    } else {
        *t = EMU_TEXT;
    }
    return true;
}

static void put_hex(strbuf *sb, const unsigned char *b, int n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < n; i++) {
        sb_putc(sb, hex[b[i] >> 4]);
        sb_putc(sb, hex[b[i] & 15]);
    }
}

/* Encodes a value by its own storage class (columns without a type). */
static void encode_plain(sqlite3_stmt *st, int c, strbuf *sb)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER:
        sb_printf(sb, "%lld", (long long)sqlite3_column_int64(st, c));
        break;
    case SQLITE_FLOAT:
        emu_encode_real(sqlite3_column_double(st, c), sb);
        break;
    case SQLITE_BLOB:
        put_hex(sb, sqlite3_column_blob(st, c), sqlite3_column_bytes(st, c));
        break;
    default:
        sb_puts(sb, (const char *)sqlite3_column_text(st, c));
        break;
    }
}

static void encode_typed(sqlite3_stmt *st, int c, const emu_col *col, strbuf *sb)
{
    int storage = sqlite3_column_type(st, c);
    const char *text = (const char *)sqlite3_column_text(st, c);
    switch (col->type) {
    case EMU_FIXED:
        if (storage == SQLITE_INTEGER && col->scale > 0)
            sb_printf(sb, "%lld.%0*d", (long long)sqlite3_column_int64(st, c), col->scale, 0);
        else if (storage == SQLITE_FLOAT)
            sb_printf(sb, "%.*f", col->scale, sqlite3_column_double(st, c));
        else
            encode_plain(st, c, sb);
        return;
    case EMU_REAL:
        if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT)
            emu_encode_real(sqlite3_column_double(st, c), sb);
        else
            sb_puts(sb, text);
        return;
    case EMU_BOOLEAN:
        if (storage == SQLITE_INTEGER || storage == SQLITE_FLOAT)
            sb_puts(sb, sqlite3_column_double(st, c) != 0 ? "true" : "false");
        else
            sb_puts(sb, strcasecmp(text, "true") == 0 ? "true" : "false");
        return;
    case EMU_DATE:
        if (storage != SQLITE_TEXT || !emu_encode_date(text, sb))
            encode_plain(st, c, sb);
        return;
    case EMU_TIME:
        if (storage != SQLITE_TEXT || !emu_encode_time(text, sb))
            encode_plain(st, c, sb);
        return;
    case EMU_TS_NTZ:
    case EMU_TS_LTZ:
    case EMU_TS_TZ:
        if (storage != SQLITE_TEXT || !emu_encode_timestamp(text, col->type == EMU_TS_TZ, sb))
            encode_plain(st, c, sb);
        return;
    case EMU_BINARY:
        put_hex(sb, sqlite3_column_blob(st, c), sqlite3_column_bytes(st, c));
        return;
    default:
        encode_plain(st, c, sb);
        return;
    }
}

static bool bind_all(sqlite3_stmt *st, json_t *bindings, emu_error *e)
{
    int want = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= want; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        json_t *b = bindings ? json_object_get(bindings, key) : NULL;
        if (!b) {
            emu_error_set(e, 422, "002049", "42601",
                          "SQL compilation error: error line 1 at position 0\n"
                          "Bind variable ? not set.");
            return false;
        }
        const char *type = json_string_value(json_object_get(b, "type"));
        json_t *jv = json_object_get(b, "value");
        if (!jv || json_is_null(jv)) {
            sqlite3_bind_null(st, i);
            continue;
        }
        const char *v = json_string_value(jv);
        if (!type || !v) {
            emu_error_set(e, 400, "391918", "",
                          "Binding %d needs a \"type\" and a string \"value\".", i);
            return false;
        }
        if (strcasecmp(type, "FIXED") == 0 && !strchr(v, '.')) {
            sqlite3_bind_int64(st, i, strtoll(v, NULL, 10));
        } else if (strcasecmp(type, "FIXED") == 0 || strcasecmp(type, "REAL") == 0) {
            sqlite3_bind_double(st, i, strtod(v, NULL));
        } else if (strcasecmp(type, "BOOLEAN") == 0) {
            sqlite3_bind_int(st, i, strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
        } else if (strcasecmp(type, "BINARY") == 0) {
            size_t n = strlen(v) / 2;
            unsigned char *buf = xmalloc(n + 1);
            for (size_t k = 0; k < n; k++) {
                unsigned x = 0;
                sscanf(v + 2 * k, "%2x", &x);
                buf[k] = (unsigned char)x;
            }
            sqlite3_bind_blob(st, i, buf, (int)n, free);
        } else {
            sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
        }
    }
    return true;
}

/* Columns without a declared type take the type their values show. */
static void settle_inferred(emu_result *r, const col_kind *kinds, const unsigned *seen)
{
    for (size_t c = 0; c < r->ncols; c++) {
        if (kinds[c] != KIND_INFER)
            continue;
        unsigned s = seen[c];
        emu_type t = EMU_TEXT;
        if (s & (1u << SQLITE_TEXT))
            t = EMU_TEXT;
        else if (s == (1u << SQLITE_BLOB))
            t = EMU_BINARY;
        else if (s & (1u << SQLITE_FLOAT))
            t = EMU_REAL;
        else if (s & (1u << SQLITE_INTEGER))
            t = EMU_FIXED;
        r->cols[c].type = t;
        r->cols[c].precision = 38;
        r->cols[c].scale = 0;
    }
}

static emu_result *describe_columns(sqlite3 *db, sqlite3_stmt *st, col_kind *kinds)
{
    int nc = sqlite3_column_count(st);
    emu_result *r = emu_result_new((size_t)nc);
    for (int c = 0; c < nc; c++) {
        emu_type t = EMU_TEXT;
        int prec = 38, scale = 0;
        kinds[c] = emu_sql_decl_type(sqlite3_column_decltype(st, c), &t, &prec, &scale)
                       ? KIND_TYPED
                       : KIND_INFER;
        emu_result_set_col(r, (size_t)c, sqlite3_column_name(st, c), t, prec, scale);
        const char *dbn = sqlite3_column_database_name(st, c);
        const char *tbl = sqlite3_column_table_name(st, c);
        const char *org = sqlite3_column_origin_name(st, c);
        if (dbn && tbl && org && strcmp(dbn, "temp") != 0) {
            emu_result_set_origin(r, (size_t)c, dbn, tbl);
            int notnull = 0, pk = 0;
            if (sqlite3_table_column_metadata(db, dbn, tbl, org, NULL, NULL, &notnull, &pk, NULL) ==
                SQLITE_OK)
                r->cols[c].nullable = !notnull && !pk;
        }
    }
    return r;
}

emu_result *emu_sql_run(const emu_wh *wh, const emu_session *s, const char *text, json_t *bindings,
                        const emu_run_ctl *ctl, emu_error *e)
{
    sqlite3 *db = emu_wh_connect(wh, s, e);
    if (!db)
        return NULL;
    emu_result *meta = NULL;
    if (emu_meta_try(wh, db, s, text, &meta, e)) {
        sqlite3_close(db);
        return meta;
    }
    char *sql = emu_sql_rewrite(text);
    sqlite3_stmt *st = NULL;
    sqlite3_progress_handler(db, 1000, progress, (void *)ctl);
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    free(sql);
    if (rc != SQLITE_OK || !st) {
        if (rc == SQLITE_INTERRUPT)
            emu_error_set(e, 0, "000604", "57014", "interrupted");
        else if (rc == SQLITE_OK)
            emu_error_set(e, 422, "000900", "42000",
                          "SQL compilation error:\nEmpty SQL statement.");
        else
            emu_sql_map_error(sqlite3_errmsg(db), e);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return NULL;
    }
    if (!sqlite3_stmt_readonly(st)) {
        emu_error_set(e, 422, "003001", "42501",
                      "SQL access control error:\nInsufficient privileges to operate on this "
                      "object (the emulator is read-only).");
        sqlite3_finalize(st);
        sqlite3_close(db);
        return NULL;
    }
    if (!bind_all(st, bindings, e)) {
        sqlite3_finalize(st);
        sqlite3_close(db);
        return NULL;
    }
    int nc = sqlite3_column_count(st);
    col_kind *kinds = xcalloc((size_t)nc + 1, sizeof *kinds);
    unsigned *seen = xcalloc((size_t)nc + 1, sizeof *seen);
    emu_result *r = describe_columns(db, st, kinds);
    strbuf sb;
    sb_init(&sb);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_array();
        for (int c = 0; c < nc; c++) {
            int storage = sqlite3_column_type(st, c);
            if (storage == SQLITE_NULL) {
                json_array_append_new(row, ctl->nullable ? json_null() : json_string("null"));
                continue;
            }
            seen[c] |= 1u << storage;
            sb_reset(&sb);
            if (kinds[c] == KIND_TYPED)
                encode_typed(st, c, &r->cols[c], &sb);
            else
                encode_plain(st, c, &sb);
            json_t *v = json_stringn(sb.data, sb.len);
            /* Text that is not UTF-8 cannot travel in JSON. */
            json_array_append_new(row, v ? v : json_string("\xEF\xBF\xBD"));
        }
        emu_result_add_row(r, row);
    }
    sb_free(&sb);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_INTERRUPT)
            emu_error_set(e, 0, "000604", "57014", "interrupted");
        else
            emu_error_set(e, 422, "100038", "22018", "%s", sqlite3_errmsg(db));
        emu_result_free(r);
        r = NULL;
    } else {
        settle_inferred(r, kinds, seen);
    }
    free(kinds);
    free(seen);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}
