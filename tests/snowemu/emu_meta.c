#include "emu_meta.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/strbuf.h"
#include "core/xalloc.h"
#include "sql/lexer.h"

#define MAX_TOKS 64

typedef struct parser {
    const char *src;
    sql_token t[MAX_TOKS];
    size_t n, i;
} parser;

/* A resolved name: up to database.schema.object, NULL parts absent. */
typedef struct qname {
    char *part[3];
    size_t n;
} qname;

typedef enum scope_kind {
    SCOPE_NONE,
    SCOPE_ACCOUNT,
    SCOPE_DATABASE,
    SCOPE_SCHEMA,
    SCOPE_OBJECT
} scope_kind;

typedef struct show_req {
    char *what; /* DATABASES, SCHEMAS, TABLES, VIEWS, COLUMNS */
    char *like; /* NULL = all */
    scope_kind scope;
    qname name;
} show_req;

static bool lex_all(parser *p, const char *text)
{
    sql_lexer lx;
    sql_lex_init(&lx, SQL_SNOWFLAKE, text, strlen(text));
    p->src = text;
    p->n = p->i = 0;
    for (;;) {
        sql_token tok;
        err_t err;
        if (!sql_lex_next_significant(&lx, &tok, &err))
            return false;
        if (tok.type == SQL_TOK_EOF || tok.type == SQL_TOK_SEMI)
            return true;
        if (p->n == MAX_TOKS)
            return false;
        p->t[p->n++] = tok;
    }
}

static const sql_token *peek(const parser *p)
{
    return p->i < p->n ? &p->t[p->i] : NULL;
}

static bool accept_word(parser *p, const char *kw)
{
    const sql_token *t = peek(p);
    if (t && sql_tok_is_word(p->src, t, kw)) {
        p->i++;
        return true;
    }
    return false;
}

static bool accept_punct(parser *p, char c)
{
    const sql_token *t = peek(p);
    if (t && t->type == SQL_TOK_PUNCT && p->src[t->start] == c) {
        p->i++;
        return true;
    }
    return false;
}

/* Identifier value: unquoted words fold to upper case, quoted keep theirs. */
static char *ident_value(const char *src, const sql_token *t)
{
    strbuf sb;
    sb_init(&sb);
    if (t->type == SQL_TOK_QIDENT) {
        for (size_t k = t->start + 1; k + 1 < t->start + t->len; k++) {
            sb_putc(&sb, src[k]);
            if (src[k] == '"')
                k++;
        }
    } else {
        for (size_t k = t->start; k < t->start + t->len; k++)
            sb_putc(&sb, (char)toupper((unsigned char)src[k]));
    }
    return sb_detach(&sb);
}

/* String literal value ('' and backslash escapes undone). */
static char *string_value(const char *src, const sql_token *t)
{
    strbuf sb;
    sb_init(&sb);
    for (size_t k = t->start + 1; k + 1 < t->start + t->len; k++) {
        if ((src[k] == '\'' || src[k] == '\\') && k + 2 < t->start + t->len)
            k++;
        sb_putc(&sb, src[k]);
    }
    return sb_detach(&sb);
}

static bool parse_qname(parser *p, qname *q)
{
    memset(q, 0, sizeof *q);
    do {
        const sql_token *t = peek(p);
        if (!t || (t->type != SQL_TOK_WORD && t->type != SQL_TOK_QIDENT) || q->n == 3)
            return false;
        q->part[q->n++] = ident_value(p->src, t);
        p->i++;
    } while (accept_punct(p, '.'));
    return true;
}

static void qname_free(qname *q)
{
    for (size_t i = 0; i < 3; i++)
        free(q->part[i]);
    memset(q, 0, sizeof *q);
}

/* Parses a name held in a string literal, as GET_DDL takes it. */
static bool qname_from_string(const char *s, qname *q)
{
    parser p;
    if (!lex_all(&p, s))
        return false;
    return parse_qname(&p, q) && p.i == p.n;
}

/* Case-insensitive SQL LIKE with % and _ and backslash escapes. */
static bool like_match(const char *pat, const char *s)
{
    for (; *pat; pat++, s++) {
        if (*pat == '%') {
            for (const char *k = s;; k++) {
                if (like_match(pat + 1, k))
                    return true;
                if (!*k)
                    return false;
            }
        }
        if (!*s)
            return false;
        if (*pat == '\\' && pat[1])
            pat++;
        else if (*pat == '_')
            continue;
        if (toupper((unsigned char)*pat) != toupper((unsigned char)*s))
            return false;
    }
    return !*s;
}

/* ---- catalog helpers ---- */

static long long db_mtime(const emu_wh *wh, const char *db)
{
    struct stat st;
    int i = emu_wh_find(wh, db);
    if (i < 0 || stat(emu_wh_path(wh, (size_t)i), &st) != 0)
        return 0;
    return (long long)st.st_mtime;
}

typedef struct obj {
    char *name;
    char *type; /* "table" or "view" */
    char *sql;
} obj;

static void objs_free(obj *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(o[i].name);
        free(o[i].type);
        free(o[i].sql);
    }
    free(o);
}

/* Tables and views of database db (type NULL = both), by name. */
static obj *list_objects(sqlite3 *db, const char *dbname, const char *type, size_t *n)
{
    *n = 0;
    obj *out = NULL;
    char *q = sqlite3_mprintf("SELECT name, type, sql FROM \"%w\".sqlite_master "
                              "WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%%' "
                              "AND (?1 IS NULL OR type = ?1) ORDER BY name",
                              dbname);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            out = xrealloc(out, (*n + 1) * sizeof *out);
            out[*n].name = xstrdup((const char *)sqlite3_column_text(st, 0));
            out[*n].type = xstrdup((const char *)sqlite3_column_text(st, 1));
            const char *sql = (const char *)sqlite3_column_text(st, 2);
            out[*n].sql = xstrdup(sql ? sql : "");
            (*n)++;
        }
    }
    sqlite3_finalize(st);
    sqlite3_free(q);
    return out;
}

static json_t *js(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *jnum(long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return json_string(buf);
}

static long long scalar(sqlite3 *db, const char *sql, bool *ok)
{
    sqlite3_stmt *st = NULL;
    long long v = 0;
    *ok = false;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_int64(st, 0);
        *ok = true;
    }
    sqlite3_finalize(st);
    return v;
}

typedef struct colspec {
    const char *name;
    emu_type type;
} colspec;

static emu_result *result_for(const colspec *cols, size_t n)
{
    emu_result *r = emu_result_new(n);
    for (size_t i = 0; i < n; i++)
        emu_result_set_col(r, i, cols[i].name, cols[i].type, cols[i].type == EMU_FIXED ? 38 : 0,
                           cols[i].type == EMU_TS_LTZ ? 9 : 0);
    return r;
}

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static void err_missing(emu_error *e, const char *what, const char *name)
{
    emu_error_set(e, 422, "002003", "02000",
                  "SQL compilation error:\n%s '%s' does not exist or not authorized.", what, name);
}

/* ---- column descriptions ---- */

typedef struct colinfo {
    char *name;
    char type_name[48];
    emu_type type;
    int prec, scale;
    bool notnull, pk, unique;
    char *dflt;
} colinfo;

static void colinfo_free(colinfo *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].dflt);
    }
    free(c);
}

static void type_name_of(emu_type t, int prec, int scale, char *buf, size_t size)
{
    switch (t) {
    case EMU_FIXED:
        snprintf(buf, size, "NUMBER(%d,%d)", prec, scale);
        break;
    case EMU_REAL:
        snprintf(buf, size, "FLOAT");
        break;
    case EMU_BOOLEAN:
        snprintf(buf, size, "BOOLEAN");
        break;
    case EMU_DATE:
        snprintf(buf, size, "DATE");
        break;
    case EMU_TIME:
        snprintf(buf, size, "TIME(9)");
        break;
    case EMU_TS_NTZ:
        snprintf(buf, size, "TIMESTAMP_NTZ(9)");
        break;
    case EMU_TS_LTZ:
        snprintf(buf, size, "TIMESTAMP_LTZ(9)");
        break;
    case EMU_TS_TZ:
        snprintf(buf, size, "TIMESTAMP_TZ(9)");
        break;
    case EMU_VARIANT:
        snprintf(buf, size, "VARIANT");
        break;
    case EMU_OBJECT:
        snprintf(buf, size, "OBJECT");
        break;
    case EMU_ARRAY:
        snprintf(buf, size, "ARRAY");
        break;
    case EMU_BINARY:
        snprintf(buf, size, "BINARY(8388608)");
        break;
    default:
        snprintf(buf, size, "VARCHAR(16777216)");
        break;
    }
}

/* Single-column unique indexes mark their column unique. */
static bool is_unique_col(sqlite3 *db, const char *dbn, const char *tbl, const char *col)
{
    char *q = sqlite3_mprintf("SELECT count(*) FROM pragma_index_list(%Q, %Q) il "
                              "WHERE il.\"unique\" AND il.origin <> 'pk' AND "
                              "(SELECT count(*) FROM pragma_index_info(il.name, %Q)) = 1 AND "
                              "(SELECT name FROM pragma_index_info(il.name, %Q)) = %Q",
                              tbl, dbn, dbn, dbn, col);
    bool ok;
    long long v = scalar(db, q, &ok);
    sqlite3_free(q);
    return ok && v > 0;
}

/* Columns of dbn.tbl. View columns without a declared type take the type
 * of the first row's value, as the closest thing to Snowflake's inference. */
static colinfo *describe(sqlite3 *db, const char *dbn, const char *tbl, size_t *n)
{
    *n = 0;
    colinfo *out = NULL;
    char *q = sqlite3_mprintf("SELECT name, type, \"notnull\", dflt_value, pk "
                              "FROM pragma_table_info(%Q, %Q) ORDER BY cid",
                              tbl, dbn);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            out = xrealloc(out, (*n + 1) * sizeof *out);
            colinfo *c = &out[(*n)++];
            memset(c, 0, sizeof *c);
            c->name = xstrdup((const char *)sqlite3_column_text(st, 0));
            const char *decl = (const char *)sqlite3_column_text(st, 1);
            c->type = EMU_TEXT;
            c->prec = 38;
            if (!emu_sql_decl_type(decl, &c->type, &c->prec, &c->scale))
                c->type = (emu_type)-1;
            c->notnull = sqlite3_column_int(st, 2) != 0;
            const char *d = (const char *)sqlite3_column_text(st, 3);
            c->dflt = d ? xstrdup(d) : NULL;
            c->pk = sqlite3_column_int(st, 4) > 0;
            /* Primary keys are NOT NULL in Snowflake, even SQLite's rowid alias. */
            c->notnull = c->notnull || c->pk;
        }
    }
    sqlite3_finalize(st);
    sqlite3_free(q);
    q = sqlite3_mprintf("SELECT * FROM \"%w\".\"%w\" LIMIT 1", dbn, tbl);
    st = NULL;
    bool have_row = false;
    for (size_t i = 0; i < *n; i++) {
        colinfo *c = &out[i];
        if (c->type == (emu_type)-1) {
            if (!st && sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK)
                have_row = sqlite3_step(st) == SQLITE_ROW;
            int storage = have_row ? sqlite3_column_type(st, (int)i) : SQLITE_TEXT;
            c->type = storage == SQLITE_INTEGER ? EMU_FIXED
                      : storage == SQLITE_FLOAT ? EMU_REAL
                                                : EMU_TEXT;
            c->prec = 38;
            c->scale = 0;
        }
        type_name_of(c->type, c->prec, c->scale, c->type_name, sizeof c->type_name);
        c->unique = is_unique_col(db, dbn, tbl, c->name);
    }
    sqlite3_finalize(st);
    sqlite3_free(q);
    return out;
}

/* ---- name resolution ---- */

/* Resolves an object name against the session; fills db/obj (borrowed from
 * q or s). False with e set when the database or schema is unknown. */
static bool resolve_object(const emu_wh *wh, const emu_session *s, const qname *q, const char **dbn,
                           const char **objn, emu_error *e)
{
    const char *sch = q->n >= 2 ? q->part[q->n - 2] : (s->schema ? s->schema : "PUBLIC");
    *dbn = q->n == 3 ? q->part[0] : s->database;
    *objn = q->part[q->n - 1];
    if (!*dbn || !*dbn[0]) {
        emu_error_set(e, 422, "090105", "22000",
                      "Cannot perform operation. This session does not have a current "
                      "database. Call 'USE DATABASE', or use a qualified name.");
        return false;
    }
    if (emu_wh_find(wh, *dbn) < 0 || strcmp(sch, "PUBLIC") != 0) {
        strbuf full;
        sb_init(&full);
        for (size_t i = 0; i < q->n; i++)
            sb_printf(&full, "%s%s", i ? "." : "", q->part[i]);
        err_missing(e, "Object", full.data);
        sb_free(&full);
        return false;
    }
    return true;
}

static bool find_object(sqlite3 *db, const char *dbn, const char *name, const char *type, obj *out)
{
    size_t n;
    obj *all = list_objects(db, dbn, type, &n);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        if (strcmp(all[i].name, name) == 0) {
            out->name = xstrdup(all[i].name);
            out->type = xstrdup(all[i].type);
            out->sql = xstrdup(all[i].sql);
            found = true;
        }
    }
    objs_free(all, n);
    return found;
}

/* ---- SHOW ---- */

static emu_result *show_databases(const emu_wh *wh, const emu_session *s, const show_req *rq)
{
    static const colspec cols[] = {
        {"created_on", EMU_TS_LTZ}, {"name", EMU_TEXT},    {"is_default", EMU_TEXT},
        {"is_current", EMU_TEXT},   {"origin", EMU_TEXT},  {"owner", EMU_TEXT},
        {"comment", EMU_TEXT},      {"options", EMU_TEXT}, {"retention_time", EMU_TEXT},
        {"kind", EMU_TEXT},         {"budget", EMU_TEXT},  {"owner_role_type", EMU_TEXT}};
    emu_result *r = result_for(cols, NCOLS(cols));
    for (size_t i = 0; i < emu_wh_count(wh); i++) {
        const char *name = emu_wh_name(wh, i);
        if (rq->like && !like_match(rq->like, name))
            continue;
        bool cur = s->database && strcmp(s->database, name) == 0;
        emu_result_add_row(
            r, json_pack("[o,s,s,s,s,s,s,s,s,s,n,s]", emu_ts_value(db_mtime(wh, name)), name, "N",
                         cur ? "Y" : "N", "", "SYSADMIN", "", "", "1", "STANDARD", "ROLE"));
    }
    return r;
}

/* Databases a scope covers; false with e set when the scope names an
 * unknown database or schema. */
static bool scope_dbs(const emu_wh *wh, const emu_session *s, const show_req *rq, bool *pick,
                      emu_error *e)
{
    size_t n = emu_wh_count(wh);
    const char *db = NULL, *sch = NULL;
    switch (rq->scope) {
    case SCOPE_ACCOUNT:
        for (size_t i = 0; i < n; i++)
            pick[i] = true;
        return true;
    case SCOPE_DATABASE:
        db = rq->name.n ? rq->name.part[rq->name.n - 1] : s->database;
        break;
    case SCOPE_SCHEMA:
        if (rq->name.n == 2) {
            db = rq->name.part[0];
            sch = rq->name.part[1];
        } else {
            db = s->database;
            sch = rq->name.n == 1 ? rq->name.part[0] : s->schema;
        }
        break;
    default:
        return false;
    }
    if (!db) {
        emu_error_set(e, 422, "090105", "22000",
                      "Cannot perform SHOW. This session does not have a current database. "
                      "Call 'USE DATABASE', or use a qualified name.");
        return false;
    }
    int idx = emu_wh_find(wh, db);
    if (idx < 0) {
        err_missing(e, "Database", db);
        return false;
    }
    if (rq->scope == SCOPE_SCHEMA && sch && strcmp(sch, "PUBLIC") != 0) {
        char full[256];
        snprintf(full, sizeof full, "%s.%s", db, sch);
        err_missing(e, "Schema", full);
        return false;
    }
    pick[idx] = true;
    return true;
}

static emu_result *show_schemas(const emu_wh *wh, const emu_session *s, const show_req *rq,
                                const bool *pick)
{
    static const colspec cols[] = {
        {"created_on", EMU_TS_LTZ},    {"name", EMU_TEXT},          {"is_default", EMU_TEXT},
        {"is_current", EMU_TEXT},      {"database_name", EMU_TEXT}, {"owner", EMU_TEXT},
        {"comment", EMU_TEXT},         {"options", EMU_TEXT},       {"retention_time", EMU_TEXT},
        {"owner_role_type", EMU_TEXT}, {"budget", EMU_TEXT}};
    emu_result *r = result_for(cols, NCOLS(cols));
    for (size_t i = 0; i < emu_wh_count(wh); i++) {
        const char *name = emu_wh_name(wh, i);
        if (!pick[i] || (rq->like && !like_match(rq->like, "PUBLIC")))
            continue;
        bool cur = s->database && strcmp(s->database, name) == 0 &&
                   (!s->schema || strcmp(s->schema, "PUBLIC") == 0);
        emu_result_add_row(r, json_pack("[o,s,s,s,s,s,s,s,s,s,n]", emu_ts_value(db_mtime(wh, name)),
                                        "PUBLIC", "N", cur ? "Y" : "N", name, "SYSADMIN", "", "",
                                        "1", "ROLE"));
    }
    return r;
}

static emu_result *show_tables(const emu_wh *wh, sqlite3 *db, const show_req *rq, const bool *pick)
{
    static const colspec cols[] = {{"created_on", EMU_TS_LTZ},
                                   {"name", EMU_TEXT},
                                   {"database_name", EMU_TEXT},
                                   {"schema_name", EMU_TEXT},
                                   {"kind", EMU_TEXT},
                                   {"comment", EMU_TEXT},
                                   {"cluster_by", EMU_TEXT},
                                   {"rows", EMU_FIXED},
                                   {"bytes", EMU_FIXED},
                                   {"owner", EMU_TEXT},
                                   {"retention_time", EMU_TEXT},
                                   {"automatic_clustering", EMU_TEXT},
                                   {"change_tracking", EMU_TEXT},
                                   {"is_external", EMU_TEXT},
                                   {"enable_schema_evolution", EMU_TEXT},
                                   {"owner_role_type", EMU_TEXT},
                                   {"is_event", EMU_TEXT},
                                   {"budget", EMU_TEXT},
                                   {"is_hybrid", EMU_TEXT},
                                   {"is_iceberg", EMU_TEXT},
                                   {"is_dynamic", EMU_TEXT}};
    emu_result *r = result_for(cols, NCOLS(cols));
    for (size_t i = 0; i < emu_wh_count(wh); i++) {
        if (!pick[i])
            continue;
        const char *dbn = emu_wh_name(wh, i);
        size_t n;
        obj *objs = list_objects(db, dbn, "table", &n);
        for (size_t k = 0; k < n; k++) {
            if (rq->like && !like_match(rq->like, objs[k].name))
                continue;
            bool ok_rows, ok_bytes;
            char *q = sqlite3_mprintf("SELECT count(*) FROM \"%w\".\"%w\"", dbn, objs[k].name);
            long long rows = scalar(db, q, &ok_rows);
            sqlite3_free(q);
            q = sqlite3_mprintf("SELECT sum(pgsize) FROM dbstat(%Q) WHERE name = %Q", dbn,
                                objs[k].name);
            long long bytes = scalar(db, q, &ok_bytes);
            sqlite3_free(q);
            emu_result_add_row(r, json_pack("[o,s,s,s,s,s,s,o,o,s,s,s,s,s,s,s,s,n,s,s,s]",
                                            emu_ts_value(db_mtime(wh, dbn)), objs[k].name, dbn,
                                            "PUBLIC", "TABLE", "", "",
                                            ok_rows ? jnum(rows) : json_null(),
                                            ok_bytes ? jnum(bytes) : json_null(), "SYSADMIN", "1",
                                            "OFF", "OFF", "N", "N", "ROLE", "N", "N", "N", "N"));
        }
        objs_free(objs, n);
    }
    return r;
}

static emu_result *show_views(const emu_wh *wh, sqlite3 *db, const show_req *rq, const bool *pick)
{
    static const colspec cols[] = {{"created_on", EMU_TS_LTZ},    {"name", EMU_TEXT},
                                   {"reserved", EMU_TEXT},        {"database_name", EMU_TEXT},
                                   {"schema_name", EMU_TEXT},     {"owner", EMU_TEXT},
                                   {"comment", EMU_TEXT},         {"text", EMU_TEXT},
                                   {"is_secure", EMU_TEXT},       {"is_materialized", EMU_TEXT},
                                   {"owner_role_type", EMU_TEXT}, {"change_tracking", EMU_TEXT}};
    emu_result *r = result_for(cols, NCOLS(cols));
    for (size_t i = 0; i < emu_wh_count(wh); i++) {
        if (!pick[i])
            continue;
        const char *dbn = emu_wh_name(wh, i);
        size_t n;
        obj *objs = list_objects(db, dbn, "view", &n);
        for (size_t k = 0; k < n; k++) {
            if (rq->like && !like_match(rq->like, objs[k].name))
                continue;
            emu_result_add_row(r, json_pack("[o,s,s,s,s,s,s,s,s,s,s,s]",
                                            emu_ts_value(db_mtime(wh, dbn)), objs[k].name, "", dbn,
                                            "PUBLIC", "SYSADMIN", "", objs[k].sql, "false", "false",
                                            "ROLE", "OFF"));
        }
        objs_free(objs, n);
    }
    return r;
}

static json_t *data_type_json(const colinfo *c)
{
    json_t *o;
    switch (c->type) {
    case EMU_FIXED:
        o = json_pack("{s:s,s:i,s:i}", "type", "FIXED", "precision", c->prec, "scale", c->scale);
        break;
    case EMU_TEXT:
        o = json_pack("{s:s,s:i,s:i,s:b}", "type", "TEXT", "length", 16777216, "byteLength",
                      16777216, "fixed", 0);
        break;
    default: {
        char up[32];
        const char *t = emu_type_name(c->type);
        size_t k;
        for (k = 0; t[k] && k + 1 < sizeof up; k++)
            up[k] = (char)toupper((unsigned char)t[k]);
        up[k] = '\0';
        o = json_pack("{s:s}", "type", up);
        break;
    }
    }
    json_object_set_new(o, "nullable", json_boolean(!c->notnull));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_t *out = json_string(text);
    free(text);
    return out;
}

static void add_column_rows(emu_result *r, sqlite3 *db, const char *dbn, const char *tbl,
                            const char *like)
{
    size_t n;
    colinfo *cols = describe(db, dbn, tbl, &n);
    for (size_t i = 0; i < n; i++) {
        if (like && !like_match(like, cols[i].name))
            continue;
        emu_result_add_row(
            r, json_pack("[s,s,s,o,s,o,s,s,s,s,s]", tbl, "PUBLIC", cols[i].name,
                         data_type_json(&cols[i]), cols[i].notnull ? "false" : "true",
                         js(cols[i].dflt ? cols[i].dflt : ""), "COLUMN", "", "", dbn, ""));
    }
    colinfo_free(cols, n);
}

static emu_result *show_columns(const emu_wh *wh, sqlite3 *db, const emu_session *s,
                                const show_req *rq, const bool *pick, emu_error *e)
{
    static const colspec cols[] = {
        {"table_name", EMU_TEXT},    {"schema_name", EMU_TEXT},  {"column_name", EMU_TEXT},
        {"data_type", EMU_TEXT},     {"null?", EMU_TEXT},        {"default", EMU_TEXT},
        {"kind", EMU_TEXT},          {"expression", EMU_TEXT},   {"comment", EMU_TEXT},
        {"database_name", EMU_TEXT}, {"autoincrement", EMU_TEXT}};
    if (rq->scope == SCOPE_OBJECT) {
        const char *dbn, *objn;
        obj o;
        if (!resolve_object(wh, s, &rq->name, &dbn, &objn, e))
            return NULL;
        if (!find_object(db, dbn, objn, NULL, &o)) {
            err_missing(e, "Table", objn);
            return NULL;
        }
        emu_result *r = result_for(cols, NCOLS(cols));
        add_column_rows(r, db, dbn, o.name, rq->like);
        free(o.name);
        free(o.type);
        free(o.sql);
        return r;
    }
    emu_result *r = result_for(cols, NCOLS(cols));
    for (size_t i = 0; i < emu_wh_count(wh); i++) {
        if (!pick[i])
            continue;
        size_t n;
        obj *objs = list_objects(db, emu_wh_name(wh, i), NULL, &n);
        for (size_t k = 0; k < n; k++)
            add_column_rows(r, db, emu_wh_name(wh, i), objs[k].name, rq->like);
        objs_free(objs, n);
    }
    return r;
}

static bool parse_show(parser *p, show_req *rq)
{
    memset(rq, 0, sizeof rq[0]);
    accept_word(p, "TERSE");
    const sql_token *t = peek(p);
    if (!t || t->type != SQL_TOK_WORD)
        return false;
    rq->what = ident_value(p->src, t);
    p->i++;
    if (accept_word(p, "LIKE")) {
        t = peek(p);
        if (!t || t->type != SQL_TOK_STRING)
            return false;
        rq->like = string_value(p->src, t);
        p->i++;
    }
    if (accept_word(p, "IN")) {
        if (accept_word(p, "ACCOUNT"))
            rq->scope = SCOPE_ACCOUNT;
        else if (accept_word(p, "DATABASE"))
            rq->scope = SCOPE_DATABASE;
        else if (accept_word(p, "SCHEMA"))
            rq->scope = SCOPE_SCHEMA;
        else if (accept_word(p, "TABLE") || accept_word(p, "VIEW"))
            rq->scope = SCOPE_OBJECT;
        else
            rq->scope = SCOPE_NONE; /* IN <name> */
        if (rq->scope != SCOPE_ACCOUNT && peek(p) &&
            (peek(p)->type == SQL_TOK_WORD || peek(p)->type == SQL_TOK_QIDENT) &&
            !sql_tok_is_word(p->src, peek(p), "STARTS") &&
            !sql_tok_is_word(p->src, peek(p), "LIMIT")) {
            if (!parse_qname(p, &rq->name))
                return false;
        }
        if (rq->scope == SCOPE_NONE) {
            if (rq->name.n == 0)
                return false;
            rq->scope = rq->name.n == 3 ? SCOPE_OBJECT : SCOPE_SCHEMA;
        }
    }
    return true; /* STARTS WITH / LIMIT and the rest are ignored */
}

static void show_free(show_req *rq)
{
    free(rq->what);
    free(rq->like);
    qname_free(&rq->name);
}

static bool do_show(const emu_wh *wh, sqlite3 *db, const emu_session *s, parser *p,
                    emu_result **out, emu_error *e)
{
    show_req rq;
    if (!parse_show(p, &rq)) {
        show_free(&rq);
        return false;
    }
    const char *w = rq.what;
    bool known = !strcmp(w, "DATABASES") || !strcmp(w, "SCHEMAS") || !strcmp(w, "TABLES") ||
                 !strcmp(w, "VIEWS") || !strcmp(w, "COLUMNS");
    if (!known) {
        show_free(&rq);
        return false;
    }
    /* Without IN, SHOW looks at the current schema, else the current
     * database, else the account (SCHEMAS: database, else account). */
    if (rq.scope == SCOPE_NONE) {
        if (s->database && s->schema && strcmp(w, "SCHEMAS") != 0)
            rq.scope = SCOPE_SCHEMA;
        else if (s->database)
            rq.scope = SCOPE_DATABASE;
        else
            rq.scope = SCOPE_ACCOUNT;
    }
    if (!strcmp(w, "DATABASES")) {
        *out = show_databases(wh, s, &rq);
        show_free(&rq);
        return true;
    }
    bool *pick = xcalloc(emu_wh_count(wh), sizeof *pick);
    if (rq.scope == SCOPE_OBJECT && !strcmp(w, "COLUMNS")) {
        *out = show_columns(wh, db, s, &rq, pick, e);
    } else if (rq.scope == SCOPE_OBJECT || !scope_dbs(wh, s, &rq, pick, e)) {
        if (rq.scope == SCOPE_OBJECT)
            emu_error_set(e, 422, "001003", "42000",
                          "SQL compilation error:\nsyntax error: unexpected object scope for "
                          "SHOW %s.",
                          w);
        *out = NULL;
    } else if (!strcmp(w, "SCHEMAS")) {
        *out = show_schemas(wh, s, &rq, pick);
    } else if (!strcmp(w, "TABLES")) {
        *out = show_tables(wh, db, &rq, pick);
    } else if (!strcmp(w, "VIEWS")) {
        *out = show_views(wh, db, &rq, pick);
    } else {
        *out = show_columns(wh, db, s, &rq, pick, e);
    }
    free(pick);
    show_free(&rq);
    return true;
}

/* ---- DESCRIBE ---- */

static bool do_describe(const emu_wh *wh, sqlite3 *db, const emu_session *s, parser *p,
                        emu_result **out, emu_error *e)
{
    const char *want = NULL;
    if (accept_word(p, "TABLE"))
        want = "table";
    else if (accept_word(p, "VIEW"))
        want = "view";
    qname q;
    if (!parse_qname(p, &q)) {
        qname_free(&q);
        return false;
    }
    *out = NULL;
    const char *dbn, *objn;
    obj o = {0};
    if (resolve_object(wh, s, &q, &dbn, &objn, e)) {
        /* DESCRIBE TABLE also describes views, as Snowflake's does. */
        if (!find_object(db, dbn, objn, want && !strcmp(want, "view") ? "view" : NULL, &o)) {
            err_missing(e, "Object", objn);
        } else {
            static const colspec cols[] = {
                {"name", EMU_TEXT},       {"type", EMU_TEXT},        {"kind", EMU_TEXT},
                {"null?", EMU_TEXT},      {"default", EMU_TEXT},     {"primary key", EMU_TEXT},
                {"unique key", EMU_TEXT}, {"check", EMU_TEXT},       {"expression", EMU_TEXT},
                {"comment", EMU_TEXT},    {"policy name", EMU_TEXT}, {"privacy domain", EMU_TEXT}};
            emu_result *r = result_for(cols, NCOLS(cols));
            size_t n;
            colinfo *ci = describe(db, dbn, o.name, &n);
            for (size_t i = 0; i < n; i++)
                emu_result_add_row(r, json_pack("[s,s,s,s,o,s,s,n,n,n,n,n]", ci[i].name,
                                                ci[i].type_name, "COLUMN",
                                                ci[i].notnull ? "N" : "Y", js(ci[i].dflt),
                                                ci[i].pk ? "Y" : "N", ci[i].unique ? "Y" : "N"));
            colinfo_free(ci, n);
            *out = r;
        }
    }
    free(o.name);
    free(o.type);
    free(o.sql);
    qname_free(&q);
    return true;
}

/* ---- GET_DDL ---- */

static char *table_ddl(sqlite3 *db, const char *dbn, const char *name)
{
    size_t n;
    colinfo *ci = describe(db, dbn, name, &n);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "create or replace TABLE %s (\n", name);
    strbuf pk;
    sb_init(&pk);
    for (size_t i = 0; i < n; i++) {
        sb_printf(&sb, "\t%s %s%s%s%s", ci[i].name, ci[i].type_name,
                  ci[i].notnull ? " NOT NULL" : "", ci[i].dflt ? " DEFAULT " : "",
                  ci[i].dflt ? ci[i].dflt : "");
        if (ci[i].unique)
            sb_puts(&sb, " UNIQUE");
        if (ci[i].pk)
            sb_printf(&pk, "%s%s", pk.len ? ", " : "", ci[i].name);
        sb_puts(&sb, i + 1 < n || pk.len || ci[i].pk ? ",\n" : "\n");
    }
    if (pk.len)
        sb_printf(&sb, "\tprimary key (%s)\n", pk.data);
    sb_puts(&sb, ");");
    sb_free(&pk);
    colinfo_free(ci, n);
    return sb_detach(&sb);
}

static char *view_ddl(sqlite3 *db, const char *dbn, const char *name, const char *sql)
{
    /* sqlite_master keeps "CREATE VIEW X AS <select>": keep the select. */
    const char *body = sql;
    for (const char *k = sql; *k; k++) {
        if ((k == sql || isspace((unsigned char)k[-1])) && strncasecmp(k, "AS", 2) == 0 &&
            isspace((unsigned char)k[2])) {
            body = k + 3;
            break;
        }
    }
    while (isspace((unsigned char)*body))
        body++;
    size_t n;
    colinfo *ci = describe(db, dbn, name, &n);
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "create or replace view %s.PUBLIC.%s(\n", dbn, name);
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "\t%s%s\n", ci[i].name, i + 1 < n ? "," : "");
    sb_printf(&sb, ") as\n%s", body);
    size_t len = strlen(body);
    if (len == 0 || body[len - 1] != ';')
        sb_putc(&sb, ';');
    colinfo_free(ci, n);
    return sb_detach(&sb);
}

static bool do_get_ddl(const emu_wh *wh, sqlite3 *db, const emu_session *s, parser *p,
                       emu_result **out, emu_error *e)
{
    size_t expr_start = p->t[p->i].start;
    if (!accept_word(p, "GET_DDL") || !accept_punct(p, '('))
        return false;
    const sql_token *kind = peek(p);
    if (!kind || kind->type != SQL_TOK_STRING)
        return false;
    p->i++;
    if (!accept_punct(p, ','))
        return false;
    const sql_token *nm = peek(p);
    if (!nm || nm->type != SQL_TOK_STRING)
        return false;
    p->i++;
    if (accept_punct(p, ',')) /* use_fully_qualified_names: accepted, ignored */
        p->i++;
    if (!accept_punct(p, ')') || p->i != p->n)
        return false;
    size_t expr_end = p->t[p->i - 1].start + 1;
    char *k = string_value(p->src, kind);
    char *name = string_value(p->src, nm);
    qname q;
    *out = NULL;
    const char *dbn, *objn;
    obj o = {0};
    if (strcasecmp(k, "VIEW") != 0 && strcasecmp(k, "TABLE") != 0) {
        emu_error_set(e, 422, "002003", "02000",
                      "SQL compilation error:\nInvalid object type '%s' for GET_DDL (the "
                      "emulator knows TABLE and VIEW).",
                      k);
    } else if (!qname_from_string(name, &q)) {
        emu_error_set(e, 422, "001003", "42000", "SQL compilation error:\ninvalid name '%s'", name);
        memset(&q, 0, sizeof q);
    } else if (resolve_object(wh, s, &q, &dbn, &objn, e)) {
        bool view = strcasecmp(k, "VIEW") == 0;
        if (!find_object(db, dbn, objn, view ? "view" : "table", &o)) {
            err_missing(e, "Object", name);
        } else {
            char *ddl = view ? view_ddl(db, dbn, o.name, o.sql) : table_ddl(db, dbn, o.name);
            char *colname = xstrndup(p->src + expr_start, expr_end - expr_start);
            emu_result *r = emu_result_new(1);
            emu_result_set_col(r, 0, colname, EMU_TEXT, 0, 0);
            emu_result_add_row(r, json_pack("[s]", ddl));
            free(colname);
            free(ddl);
            *out = r;
        }
    }
    free(o.name);
    free(o.type);
    free(o.sql);
    qname_free(&q);
    free(k);
    free(name);
    return true;
}

bool emu_meta_try(const emu_wh *wh, sqlite3 *db, const emu_session *s, const char *text,
                  emu_result **out, emu_error *e)
{
    parser p;
    *out = NULL;
    if (!lex_all(&p, text) || p.n == 0)
        return false;
    if (accept_word(&p, "SHOW"))
        return do_show(wh, db, s, &p, out, e);
    if (accept_word(&p, "DESCRIBE") || accept_word(&p, "DESC"))
        return do_describe(wh, db, s, &p, out, e);
    if (accept_word(&p, "SELECT") && p.i < p.n && sql_tok_is_word(p.src, peek(&p), "GET_DDL"))
        return do_get_ddl(wh, db, s, &p, out, e);
    return false;
}
