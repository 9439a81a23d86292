#include "db/snowflake/snowflake.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "db/snowflake/sfaccount.h"
#include "db/snowflake/sfapi.h"
#include "db/snowflake/sfauth.h"
#include "db/snowflake/sfconfig.h"
#include "db/snowflake/sfjwt.h"
#include "db/snowflake/sfresult.h"
#include "sql/quote.h"

#define PING_SQL "SELECT 1"

typedef struct sf_cfg {
    sf_settings s;
    sfauth *auth;
    char *host;     /* host[:port] */
    char *base_url; /* https://host[:port] */
} sf_cfg;

struct db_conn {
    const sf_cfg *cfg;
    sfapi *api;
};

/* ---- backend ------------------------------------------------------------- */

static void cfg_free(void *p)
{
    sf_cfg *cfg = p;
    if (!cfg)
        return;
    sfcfg_free(&cfg->s);
    sfauth_free(cfg->auth);
    free(cfg->host);
    free(cfg->base_url);
    free(cfg);
}

bool snowflake_env_present(void)
{
    return sfcfg_env_present();
}

static char *describe(const sf_cfg *cfg)
{
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "snowflake %s (%s) as %s, auth %s", cfg->s.account, cfg->host,
              cfg->s.user ? cfg->s.user : "(token user)", sfcfg_auth_name(cfg->s.auth));
    if (cfg->s.warehouse)
        sb_printf(&sb, ", warehouse %s", cfg->s.warehouse);
    if (cfg->s.role)
        sb_printf(&sb, ", role %s", cfg->s.role);
    if (cfg->s.database)
        sb_printf(&sb, ", database %s", cfg->s.database);
    return sb_detach(&sb);
}

/* Finishes a backend from settings: validates them, derives the host, loads
 * the credentials. Takes ownership of cfg. */
static db_backend *finish_backend(sf_cfg *cfg, err_t *err)
{
    if (!sfcfg_validate(&cfg->s, err))
        goto fail;
    strbuf host;
    sb_init(&host);
    bool ok =
        cfg->s.host ? (sb_puts(&host, cfg->s.host), true) : sfacct_host(cfg->s.account, &host, err);
    cfg->host = sb_detach(&host);
    if (!ok)
        goto fail;
    if (strstr(cfg->host, "://") || strchr(cfg->host, '/')) {
        err_set(err, ERR_INVALID, "SNOWFLAKE_HOST must be host[:port] without a scheme or path");
        goto fail;
    }
    strbuf url;
    sb_init(&url);
    sb_printf(&url, "https://%s", cfg->host);
    cfg->base_url = sb_detach(&url);
    cfg->auth = sfauth_new(&cfg->s, err);
    if (!cfg->auth)
        goto fail;
    /* The key and token now live in sfauth only. */
    sfcfg_forget_secrets(&cfg->s);
    db_backend *be = xcalloc(1, sizeof *be);
    be->driver = &snowflake_driver;
    be->cfg = cfg;
    be->description = describe(cfg);
    return be;
fail:
    cfg_free(cfg);
    return NULL;
}

db_backend *snowflake_backend_from_env(err_t *err)
{
    sf_cfg *cfg = xcalloc(1, sizeof *cfg);
    if (!sfcfg_from_env(&cfg->s, err)) {
        cfg_free(cfg);
        return NULL;
    }
    return finish_backend(cfg, err);
}

db_backend *snowflake_backend_open(const char *dsn, err_t *err)
{
    sf_cfg *cfg = xcalloc(1, sizeof *cfg);
    if (!sfcfg_from_env(&cfg->s, err) || !sfcfg_apply_dsn(&cfg->s, dsn, err)) {
        cfg_free(cfg);
        return NULL;
    }
    return finish_backend(cfg, err);
}

/* ---- running statements --------------------------------------------------- */

/* The resolved name, or the configured default, or NULL; caller frees. */
static char *name_or_default(const char *given, const char *def)
{
    return given && *given ? sfcfg_ident(given) : def ? xstrdup(def) : NULL;
}

typedef struct stmt_ctx {
    char *database, *schema;
    sfapi_stmt st;
} stmt_ctx;

static void stmt_init(stmt_ctx *sc, const db_conn *c, const db_call *call, const char *sql,
                      bool with_context)
{
    memset(sc, 0, sizeof *sc);
    if (with_context) {
        sc->database = name_or_default(call->database, c->cfg->s.database);
        sc->schema = name_or_default(call->schema, c->cfg->s.schema);
    }
    sc->st = (sfapi_stmt){.sql = sql,
                          .database = sc->database,
                          .schema = sc->schema,
                          .warehouse = c->cfg->s.warehouse,
                          .role = c->cfg->s.role,
                          .deadline_ns = call->deadline_ns,
                          .cancelled = call->cancelled};
}

static void stmt_done(stmt_ctx *sc)
{
    free(sc->database);
    free(sc->schema);
}

/* The statement whose partitions sfresult_take asks for. */
typedef struct partition_src {
    db_conn *c;
    const sfapi_stmt *st;
} partition_src;

static bool fetch_partition(void *ctx, const char *handle, size_t n, json_t **data, err_t *err)
{
    const partition_src *src = ctx;
    return sfapi_partition(src->c->api, src->st, handle, n, data, err);
}

static bool run_sql(db_conn *c, const db_call *call, const char *sql, bool with_context,
                    db_result **out, sfapi_fail *fail, err_t *err)
{
    *out = NULL;
    stmt_ctx sc;
    stmt_init(&sc, c, call, sql, with_context);
    json_t *resp = NULL;
    partition_src src = {.c = c, .st = &sc.st};
    bool ok = sfapi_execute(c->api, &sc.st, &resp, fail, err) &&
              sfresult_take(resp, call->max_rows, call->max_bytes, fetch_partition, &src, out, err);
    json_decref(resp);
    stmt_done(&sc);
    return ok;
}

static bool sf_execute(db_conn *c, const db_call *call, const char *sql, db_result **out,
                       err_t *err)
{
    return run_sql(c, call, sql, true, out, NULL, err);
}

/* ---- connections ---------------------------------------------------------- */

static bool sf_connect(const db_backend *be, int64_t deadline_ns, db_conn **out, err_t *err)
{
    (void)deadline_ns; /* no I/O: the TLS connection opens with the first request */
    const sf_cfg *cfg = be->cfg;
    sfapi *api = sfapi_new(cfg->base_url, cfg->auth, cfg->s.ca_file, err);
    if (!api) {
        err->kind = ERR_CONNECT;
        return false;
    }
    db_conn *c = xcalloc(1, sizeof *c);
    c->cfg = cfg;
    c->api = api;
    *out = c;
    return true;
}

static bool sf_ping(db_conn *c, int64_t deadline_ns, err_t *err)
{
    db_call call = {.deadline_ns = deadline_ns, .max_rows = 1};
    db_result *r = NULL;
    bool ok = run_sql(c, &call, PING_SQL, false, &r, NULL, err);
    db_result_free(r);
    return ok;
}

static void sf_cancel(db_conn *c)
{
    sfapi_cancel(c->api);
}

static bool sf_reset(db_conn *c, err_t *err)
{
    (void)c; /* every request carries its own context: nothing persists */
    (void)err;
    return true;
}

static void sf_close(db_conn *c)
{
    if (!c)
        return;
    sfapi_free(c->api);
    free(c);
}

/* ---- names ---------------------------------------------------------------- */

typedef struct names {
    char *database, *schema, *object;
} names;

static void names_free(names *n)
{
    free(n->database);
    free(n->schema);
    free(n->object);
}

/* Resolves the parts a request needs (levels: 1 database, 2 + schema,
 * 3 + object). */
static bool resolve(const sf_cfg *cfg, const char *database, const char *schema, const char *object,
                    int levels, names *n, err_t *err)
{
    memset(n, 0, sizeof *n);
    n->database = name_or_default(database, cfg->s.database);
    if (levels >= 2)
        n->schema = name_or_default(schema, cfg->s.schema);
    if (levels >= 3)
        n->object = sfcfg_ident(object);
    if (!n->database) {
        err_set(err, ERR_INVALID,
                "no database given and none configured: pass `database` or set "
                "SNOWFLAKE_DATABASE");
    } else if (levels >= 2 && !n->schema) {
        err_set(err, ERR_INVALID,
                "no schema given and none configured: pass `schema` or set SNOWFLAKE_SCHEMA");
    } else if (levels >= 3 && !n->object) {
        err_set(err, ERR_INVALID, "an object name is required");
    } else {
        return true;
    }
    names_free(n);
    return false;
}

static bool quote_names(const names *n, int levels, strbuf *out, err_t *err)
{
    const char *parts[] = {n->database, n->schema, n->object};
    strbuf q;
    sb_init(&q);
    bool ok = true;
    for (int i = 0; ok && i < levels; i++) {
        if (i)
            sb_putc(&q, '.');
        ok = sql_quote_ident(parts[i], &q, err);
    }
    if (ok)
        sb_append(out, q.data, q.len);
    sb_free(&q);
    return ok;
}

/* Appends "DB"."SCHEMA"."OBJECT" resolved from cfg's defaults and rules. */
static bool append_object(const sf_cfg *cfg, const char *database, const char *schema,
                          const char *object, strbuf *out, err_t *err)
{
    names n;
    if (!resolve(cfg, database, schema, object, 3, &n, err))
        return false;
    bool ok = quote_names(&n, 3, out, err);
    names_free(&n);
    return ok;
}

bool snowflake_qualify(const db_backend *be, const char *database, const char *schema,
                       const char *object, strbuf *out, err_t *err)
{
    return append_object(be->cfg, database, schema, object, out, err);
}

/* ---- catalog ------------------------------------------------------------ */

typedef struct col_spec {
    const char *name;
    const char *type;
    int nullable;
} col_spec;

static void add_columns(db_result *r, const col_spec *spec, size_t n)
{
    for (size_t i = 0; i < n; i++)
        db_result_add_column(r, spec[i].name, spec[i].type, spec[i].nullable);
}

static int find_col(const db_result *raw, const char *name)
{
    for (size_t i = 0; i < raw->ncols; i++) {
        if (strcasecmp(raw->cols[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* The cell of row named col, or fallback (a string) when absent; empty
 * strings become null when empty_null. New reference. */
static json_t *cell(const db_result *raw, json_t *row, const char *col, const char *fallback,
                    bool empty_null)
{
    int i = find_col(raw, col);
    json_t *v = i >= 0 ? json_array_get(row, (size_t)i) : NULL;
    if (!v || json_is_null(v))
        return fallback ? json_string(fallback) : json_null();
    if (empty_null && json_is_string(v) && json_string_length(v) == 0)
        return json_null();
    return json_incref(v);
}

static bool yes(const db_result *raw, json_t *row, const char *col)
{
    int i = find_col(raw, col);
    json_t *v = i >= 0 ? json_array_get(row, (size_t)i) : NULL;
    const char *s = json_string_value(v);
    return json_is_true(v) || (s && (strcasecmp(s, "Y") == 0 || strcasecmp(s, "YES") == 0 ||
                                     strcasecmp(s, "true") == 0));
}

/* Moves raw's truncation state to r. */
static void keep_truncation(const db_result *raw, db_result *r)
{
    r->truncated = raw->truncated;
    r->truncated_by = raw->truncated_by;
    r->bytes = raw->bytes;
}

typedef enum shape { SHAPE_DATABASES, SHAPE_SCHEMAS, SHAPE_TABLES, SHAPE_VIEWS } shape;

static db_result *reshape_list(const db_result *raw, shape s, const names *n)
{
    static const col_spec dbs[] = {{"name", "VARCHAR", 0}, {"comment", "VARCHAR", 1}};
    static const col_spec schemas[] = {
        {"database", "VARCHAR", 0}, {"name", "VARCHAR", 0}, {"comment", "VARCHAR", 1}};
    static const col_spec tables[] = {{"database", "VARCHAR", 0}, {"schema", "VARCHAR", 0},
                                      {"name", "VARCHAR", 0},     {"kind", "VARCHAR", 0},
                                      {"row_count", "NUMBER", 1}, {"comment", "VARCHAR", 1}};
    static const col_spec views[] = {{"database", "VARCHAR", 0},
                                     {"schema", "VARCHAR", 0},
                                     {"name", "VARCHAR", 0},
                                     {"comment", "VARCHAR", 1}};
    db_result *r = db_result_new();
    switch (s) {
    case SHAPE_DATABASES:
        add_columns(r, dbs, 2);
        break;
    case SHAPE_SCHEMAS:
        add_columns(r, schemas, 3);
        break;
    case SHAPE_TABLES:
        add_columns(r, tables, 6);
        break;
    case SHAPE_VIEWS:
        add_columns(r, views, 4);
        break;
    }
    size_t nrows = json_array_size(raw->rows);
    for (size_t i = 0; i < nrows; i++) {
        json_t *row = json_array_get(raw->rows, i);
        json_t *o = json_array();
        if (s != SHAPE_DATABASES)
            json_array_append_new(o, cell(raw, row, "database_name", n->database, false));
        if (s == SHAPE_TABLES || s == SHAPE_VIEWS)
            json_array_append_new(o, cell(raw, row, "schema_name", n->schema, false));
        json_array_append_new(o, cell(raw, row, "name", "", false));
        if (s == SHAPE_TABLES) {
            json_array_append_new(o, cell(raw, row, "kind", "TABLE", false));
            json_array_append_new(o, cell(raw, row, "rows", NULL, false));
        }
        json_array_append_new(o, cell(raw, row, "comment", NULL, true));
        db_result_add_row(r, o);
    }
    keep_truncation(raw, r);
    return r;
}

static db_result *reshape_describe(const db_result *raw)
{
    static const col_spec spec[] = {{"name", "VARCHAR", 0},        {"type", "VARCHAR", 0},
                                    {"nullable", "BOOLEAN", 0},    {"default", "VARCHAR", 1},
                                    {"primary_key", "BOOLEAN", 0}, {"comment", "VARCHAR", 1}};
    db_result *r = db_result_new();
    add_columns(r, spec, 6);
    int kind = find_col(raw, "kind");
    size_t nrows = json_array_size(raw->rows);
    for (size_t i = 0; i < nrows; i++) {
        json_t *row = json_array_get(raw->rows, i);
        const char *k = kind >= 0 ? json_string_value(json_array_get(row, (size_t)kind)) : NULL;
        if (k && strcasecmp(k, "COLUMN") != 0)
            continue;
        json_t *o = json_pack("[o,o,b,o,b,o]", cell(raw, row, "name", "", false),
                              cell(raw, row, "type", "", false), yes(raw, row, "null?"),
                              cell(raw, row, "default", NULL, false), yes(raw, row, "primary key"),
                              cell(raw, row, "comment", NULL, true));
        db_result_add_row(r, o);
    }
    keep_truncation(raw, r);
    return r;
}

/* Runs a catalog statement; a "does not exist" becomes ERR_NOT_FOUND with
 * what_missing's text. */
static bool catalog_sql(db_conn *c, const db_call *call, const char *sql, const char *missing,
                        db_result **raw, err_t *err)
{
    sfapi_fail fail;
    if (run_sql(c, call, sql, false, raw, &fail, err))
        return true;
    if (err->kind == ERR_NOT_FOUND || strcmp(fail.code, "002043") == 0) {
        char cause[sizeof err->msg];
        snprintf(cause, sizeof cause, "%s", err->msg);
        err_set(err, ERR_NOT_FOUND,
                "%s does not exist, or the role in use is not authorized to see it (Snowflake: "
                "%.300s)",
                missing, cause);
    }
    return false;
}

static void full_name(const names *n, int levels, strbuf *sb)
{
    const char *parts[] = {n->database, n->schema, n->object};
    for (int i = 0; i < levels; i++)
        sb_printf(sb, "%s%s", i ? "." : "", parts[i]);
}

static bool list_objects(db_conn *c, const db_call *call, const db_catalog_req *req,
                         db_result **out, err_t *err)
{
    int levels = req->kind == DB_LIST_DATABASES ? 0 : req->kind == DB_LIST_SCHEMAS ? 1 : 2;
    names n = {0};
    if (levels > 0 && !resolve(c->cfg, req->database, req->schema, NULL, levels, &n, err))
        return false;
    strbuf sql, what;
    sb_init(&sql);
    sb_init(&what);
    static const char *const stmts[] = {"SHOW DATABASES", "SHOW SCHEMAS IN DATABASE ",
                                        "SHOW TABLES IN SCHEMA ", "SHOW VIEWS IN SCHEMA "};
    shape s = req->kind == DB_LIST_DATABASES ? SHAPE_DATABASES
              : req->kind == DB_LIST_SCHEMAS ? SHAPE_SCHEMAS
              : req->kind == DB_LIST_TABLES  ? SHAPE_TABLES
                                             : SHAPE_VIEWS;
    sb_puts(&sql, stmts[s]);
    sb_puts(&what, levels == 1 ? "database " : "schema ");
    full_name(&n, levels, &what);
    db_result *raw = NULL;
    bool ok =
        quote_names(&n, levels, &sql, err) && catalog_sql(c, call, sql.data, what.data, &raw, err);
    if (ok)
        *out = reshape_list(raw, s, &n);
    db_result_free(raw);
    sb_free(&sql);
    sb_free(&what);
    names_free(&n);
    return ok;
}

/* DESCRIBE TABLE or DESCRIBE VIEW of n. */
static bool describe_as(db_conn *c, const db_call *call, const names *n, bool view, db_result **raw,
                        err_t *err)
{
    strbuf sql, what;
    sb_init(&sql);
    sb_init(&what);
    sb_puts(&sql, view ? "DESCRIBE VIEW " : "DESCRIBE TABLE ");
    sb_puts(&what, view ? "view " : "table ");
    full_name(n, 3, &what);
    bool ok = quote_names(n, 3, &sql, err) && catalog_sql(c, call, sql.data, what.data, raw, err);
    sb_free(&sql);
    sb_free(&what);
    return ok;
}

static bool describe_object(db_conn *c, const db_call *call, const db_catalog_req *req,
                            db_result **out, err_t *err)
{
    names n;
    if (!resolve(c->cfg, req->database, req->schema, req->object, 3, &n, err))
        return false;
    bool view = req->want_view && !req->want_table;
    db_result *raw = NULL;
    bool ok = describe_as(c, call, &n, view, &raw, err);
    if (!ok && err->kind == ERR_NOT_FOUND && req->want_view != req->want_table) {
        /* Name the kind that does exist, so the caller picks the right tool. */
        err_t other;
        db_result *probe = NULL;
        if (describe_as(c, call, &n, !view, &probe, &other)) {
            err_set(err, ERR_NOT_FOUND, "%s.%s.%s is a %s, not a %s; use %s", n.database, n.schema,
                    n.object, view ? "table" : "view", view ? "view" : "table",
                    view ? "describe_table" : "describe_view");
        }
        db_result_free(probe);
    }
    if (ok)
        *out = reshape_describe(raw);
    db_result_free(raw);
    names_free(&n);
    return ok;
}

static bool view_definition(db_conn *c, const db_call *call, const db_catalog_req *req,
                            db_result **out, err_t *err)
{
    names n;
    if (!resolve(c->cfg, req->database, req->schema, req->object, 3, &n, err))
        return false;
    strbuf qname, sql, what;
    sb_init(&qname);
    sb_init(&sql);
    sb_init(&what);
    sb_puts(&sql, "SELECT GET_DDL('VIEW', ");
    sb_puts(&what, "view ");
    full_name(&n, 3, &what);
    db_call one = *call;
    one.max_rows = 1;
    db_result *raw = NULL;
    bool ok =
        quote_names(&n, 3, &qname, err) && sql_quote_literal(SQL_SNOWFLAKE, qname.data, &sql, err);
    if (ok) {
        sb_puts(&sql, ")");
        ok = catalog_sql(c, &one, sql.data, what.data, &raw, err);
    }
    if (ok) {
        db_result *r = db_result_new();
        db_result_add_column(r, "definition", "VARCHAR", 0);
        json_t *v = json_array_get(json_array_get(raw->rows, 0), 0);
        db_result_add_row(r, json_pack("[s]", json_is_string(v) ? json_string_value(v) : ""));
        *out = r;
    }
    db_result_free(raw);
    sb_free(&qname);
    sb_free(&sql);
    sb_free(&what);
    names_free(&n);
    return ok;
}

/* The first rows of an object. Names resolve as qualify resolves them
 * (Snowflake's own rules: unquoted names are upper-cased by the server, so
 * there is no case-insensitive lookup to disagree with describe). The kind
 * is not checked: that would cost a second round trip, and a SELECT reads a
 * table as well as a view. */
static bool sample_object(db_conn *c, const db_call *call, const db_catalog_req *req,
                          db_result **out, err_t *err)
{
    strbuf sql;
    sb_init(&sql);
    sb_puts(&sql, "SELECT * FROM ");
    bool ok = append_object(c->cfg, req->database, req->schema, req->object, &sql, err);
    if (ok) {
        /* One row past the limit lets the result see that more exist. */
        sb_printf(&sql, " LIMIT %zu", call->max_rows + 1);
        ok = run_sql(c, call, sql.data, true, out, NULL, err);
    }
    sb_free(&sql);
    return ok;
}

static bool sf_catalog(db_conn *c, const db_call *call, const db_catalog_req *req, db_result **out,
                       err_t *err)
{
    *out = NULL;
    switch (req->kind) {
    case DB_LIST_DATABASES:
    case DB_LIST_SCHEMAS:
    case DB_LIST_TABLES:
    case DB_LIST_VIEWS:
        return list_objects(c, call, req, out, err);
    case DB_DESCRIBE:
        return describe_object(c, call, req, out, err);
    case DB_VIEW_DEFINITION:
        return view_definition(c, call, req, out, err);
    case DB_SAMPLE:
        return sample_object(c, call, req, out, err);
    }
    err_set(err, ERR_INVALID, "unknown catalog request");
    return false;
}

/* ---- check ------------------------------------------------------------- */

static void report_config(const sf_cfg *cfg, strbuf *rep)
{
    const sf_settings *s = &cfg->s;
    sb_printf(rep, "account:       %s\n", s->account);
    sb_printf(rep, "host:          %s%s\n", cfg->host, s->host ? " (SNOWFLAKE_HOST)" : "");
    sb_printf(rep, "user:          %s\n", s->user ? s->user : "(from the token)");
    sb_printf(rep, "auth:          %s\n", sfcfg_auth_name(s->auth));
    if (s->auth == SF_AUTH_KEYPAIR) {
        sb_printf(rep, "jwt subject:   %s.", sfauth_jwt_account(cfg->auth));
        for (const char *u = s->user ? s->user : ""; *u; u++)
            sb_putc(rep, (char)toupper((unsigned char)*u));
        sb_putc(rep, '\n');
        sb_printf(rep,
                  "key:           %s\n"
                  "               compare with RSA_PUBLIC_KEY_FP in: DESC USER %s\n",
                  sfauth_fingerprint(cfg->auth), s->user ? s->user : "<user>");
    }
    sb_printf(rep, "warehouse:     %s\n", s->warehouse ? s->warehouse : "(user default)");
    sb_printf(rep, "role:          %s\n", s->role ? s->role : "(user default)");
    sb_printf(rep, "database:      %s\n", s->database ? s->database : "(none)");
    sb_printf(rep, "schema:        %s\n", s->schema ? s->schema : "(none)");
    time_t now = (time_t)clock_wall_s();
    struct tm tm;
    char when[64];
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sb_printf(rep, "local clock:   %s (JWTs are rejected when it is off by minutes)\n", when);
}

static void report_context(db_conn *c, strbuf *rep)
{
    db_call call = {.deadline_ns = clock_deadline_in_ms(15000), .max_rows = 1};
    db_result *r = NULL;
    err_t e;
    if (!run_sql(c, &call, "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_WAREHOUSE()", true, &r,
                 NULL, &e)) {
        sb_printf(rep, "context:       not available (%s)\n", e.msg);
        return;
    }
    json_t *row = json_array_get(r->rows, 0);
    const char *labels[] = {"current user", "current role", "current wh"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_array_get(row, i));
        sb_printf(rep, "%-14s %s\n", labels[i], v ? v : "(none)");
    }
    if (!json_string_value(json_array_get(row, 2)))
        sb_puts(rep, "warning:       no warehouse in use: queries on tables will fail with "
                     "000606; set SNOWFLAKE_WAREHOUSE\n");
    db_result_free(r);
}

bool snowflake_check(const db_backend *be, strbuf *report, err_t *err)
{
    if (!be || be->driver != &snowflake_driver) {
        err_set(err, ERR_INVALID, "not a Snowflake backend");
        return false;
    }
    const sf_cfg *cfg = be->cfg;
    report_config(cfg, report);
    db_conn *c = NULL;
    if (!sf_connect(be, 0, &c, err))
        return false;
    int64_t t0 = clock_now_ns();
    bool ok = sf_ping(c, clock_deadline_in_ms(30000), err);
    if (ok) {
        sb_printf(report, "SELECT 1:      ok in %.1f ms\n",
                  (double)(clock_now_ns() - t0) / (double)CLOCK_NS_PER_MS);
        report_context(c, report);
    } else {
        sb_printf(report, "SELECT 1:      FAILED\n");
        if (err->kind == ERR_CONN_LOST && strstr(err->msg, "resolve"))
            err_prefix(err,
                       "the host %s does not resolve: SNOWFLAKE_ACCOUNT should look like "
                       "myorg-myaccount or xy12345.us-east-2.aws",
                       cfg->host);
    }
    sf_close(c);
    return ok;
}

const db_driver snowflake_driver = {
    .name = "snowflake",
    .connect = sf_connect,
    .ping = sf_ping,
    .execute = sf_execute,
    .catalog = sf_catalog,
    .cancel = sf_cancel,
    .reset = sf_reset,
    .close = sf_close,
    .config_free = cfg_free,
};
