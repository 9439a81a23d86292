#include "tools/tools.h"

#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "sql/guard.h"
#include "tools/format.h"

typedef enum arg_type { ARG_STRING, ARG_LIMIT } arg_type;

/* Where a parsed argument lands in tool_args. */
typedef enum arg_slot { SLOT_DATABASE, SLOT_SCHEMA, SLOT_OBJECT, SLOT_QUERY, SLOT_LIMIT } arg_slot;

typedef struct arg_spec {
    const char *name;
    arg_type type;
    arg_slot slot;
    bool required;
    const char *description;
} arg_spec;

typedef struct tool_args {
    const char *database;
    const char *schema;
    const char *object;
    const char *query;
    int64_t limit;
} tool_args;

struct tools_ctx;
typedef json_t *(*tool_fn)(struct tools_ctx *t, const tool_args *a, const tools_call_env *env);

#define MAX_ARGS 4

typedef struct tool_def {
    const char *name;
    const char *title;
    const char *description;
    int64_t default_limit; /* 0: the tool has no limit argument */
    tool_fn fn;
    arg_spec args[MAX_ARGS];
} tool_def;

struct tools_ctx {
    dbp *dbp;
    const app_config *cfg;
    sql_dialect dialect;
    json_t *list;
};

static json_t *t_list_databases(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_list_schemas(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_list_tables(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_list_views(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_describe_table(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_describe_view(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_query_view(tools_ctx *t, const tool_args *a, const tools_call_env *env);
static json_t *t_execute_query(tools_ctx *t, const tool_args *a, const tools_call_env *env);

#define A_DATABASE(req)                                                                            \
    {                                                                                              \
        "database", ARG_STRING, SLOT_DATABASE, req,                                                \
            "Database name as list_databases shows it (case-insensitive when unquoted)"            \
    }
#define A_SCHEMA                                                                                   \
    {                                                                                              \
        "schema", ARG_STRING, SLOT_SCHEMA, false,                                                  \
            "Schema name; defaults to the configured schema (PUBLIC if none)"                      \
    }

static const tool_def tool_defs[] = {
    {"list_databases",
     "List databases",
     "List the databases this server can read. Start here to discover what data exists.",
     0,
     t_list_databases,
     {{0}}},
    {"list_schemas",
     "List schemas",
     "List the schemas of one database.",
     0,
     t_list_schemas,
     {A_DATABASE(true)}},
    {"list_tables",
     "List tables",
     "List the tables of a database schema. Use describe_table to see a table's columns.",
     0,
     t_list_tables,
     {A_DATABASE(true), A_SCHEMA}},
    {"list_views",
     "List views",
     "List the views of a database schema. Views are curated, analysis-ready queries: prefer "
     "them. Use describe_view to see a view's columns and definition.",
     0,
     t_list_views,
     {A_DATABASE(true), A_SCHEMA}},
    {"describe_table",
     "Describe a table",
     "Show a table's columns: name, type, nullability, default and primary key.",
     0,
     t_describe_table,
     {A_DATABASE(true),
      A_SCHEMA,
      {"table_name", ARG_STRING, SLOT_OBJECT, true, "Table name as list_tables shows it"}}},
    {"describe_view",
     "Describe a view",
     "Show a view's columns and its SQL definition.",
     0,
     t_describe_view,
     {A_DATABASE(true),
      A_SCHEMA,
      {"view_name", ARG_STRING, SLOT_OBJECT, true, "View name as list_views shows it"}}},
    {"query_view",
     "Query a view",
     "Return the first rows of a view (no filtering). For filters, joins or aggregates use "
     "execute_query.",
     10,
     t_query_view,
     {A_DATABASE(true),
      A_SCHEMA,
      {"view_name", ARG_STRING, SLOT_OBJECT, true, "View name as list_views shows it"},
      {"limit", ARG_LIMIT, SLOT_LIMIT, false, "Most rows to return (default 10)"}}},
    {"execute_query",
     "Run a read-only SQL query",
     "Run one read-only SQL statement (SELECT, WITH … SELECT, SHOW, DESCRIBE or EXPLAIN) and "
     "return its rows. Statements that change data or settings are refused. Qualify names or "
     "pass database/schema. Aggregate in SQL rather than fetching many rows; the result says "
     "when the row limit cut it.",
     100,
     t_execute_query,
     {{"query", ARG_STRING, SLOT_QUERY, true, "One read-only SQL statement"},
      {"database", ARG_STRING, SLOT_DATABASE, false,
       "Database to run in; defaults to the configured database"},
      A_SCHEMA,
      {"limit", ARG_LIMIT, SLOT_LIMIT, false, "Most rows to return (default 100)"}}},
};

#define NTOOLS (sizeof tool_defs / sizeof tool_defs[0])

static json_t *input_schema(const tool_def *d, int64_t max_rows)
{
    json_t *props = json_object();
    json_t *required = json_array();
    for (int i = 0; i < MAX_ARGS && d->args[i].name; i++) {
        const arg_spec *s = &d->args[i];
        json_t *p;
        if (s->type == ARG_LIMIT)
            p = json_pack("{s:s, s:I, s:I, s:I}", "type", "integer", "minimum", (json_int_t)1,
                          "maximum", (json_int_t)max_rows, "default", (json_int_t)d->default_limit);
        else
            p = json_pack("{s:s, s:i}", "type", "string", "minLength", 1);
        json_object_set_new(p, "description", json_string(s->description));
        json_object_set_new(props, s->name, p);
        if (s->required)
            json_array_append_new(required, json_string(s->name));
    }
    json_t *schema = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props,
                               "additionalProperties", 0);
    if (json_array_size(required) > 0)
        json_object_set_new(schema, "required", required);
    else
        json_decref(required);
    return schema;
}

static json_t *tool_json(const tool_def *d, int64_t max_rows)
{
    json_t *annotations =
        json_pack("{s:s, s:b, s:b, s:b, s:b}", "title", d->title, "readOnlyHint", 1,
                  "destructiveHint", 0, "idempotentHint", 1, "openWorldHint", 0);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", d->name, "title", d->title,
                     "description", d->description, "inputSchema", input_schema(d, max_rows),
                     "outputSchema", fmt_output_schema(), "annotations", annotations);
}

static sql_dialect dialect_of(const db_backend *be)
{
    if (strcmp(be->driver->name, "postgres") == 0)
        return SQL_POSTGRES;
    if (strcmp(be->driver->name, "snowflake") == 0)
        return SQL_SNOWFLAKE;
    return SQL_SQLITE;
}

tools_ctx *tools_new(dbp *d, const app_config *cfg)
{
    tools_ctx *t = xcalloc(1, sizeof *t);
    t->dbp = d;
    t->cfg = cfg;
    t->dialect = dialect_of(dbp_backend(d));
    t->list = json_array();
    for (size_t i = 0; i < NTOOLS; i++)
        json_array_append_new(t->list, tool_json(&tool_defs[i], cfg->max_rows));
    return t;
}

void tools_free(tools_ctx *t)
{
    if (!t)
        return;
    json_decref(t->list);
    free(t);
}

json_t *tools_list(tools_ctx *t)
{
    return json_incref(t->list);
}

/* ---- results ---------------------------------------------------------- */

static json_t *text_result(const char *text, bool is_error)
{
    /* Text quotes database values and names: it must be valid UTF-8 for
     * json_pack, which would otherwise return NULL and lose the answer. */
    char *clean = utf8_sanitize(text, strlen(text), NULL);
    json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", clean,
                          "isError", is_error);
    free(clean);
    return r;
}

static const char *error_heading(err_kind kind)
{
    switch (kind) {
    case ERR_REFUSED:
        return "Refused";
    case ERR_TIMEOUT:
        return "Timed out";
    case ERR_CANCELLED:
        return "Cancelled";
    case ERR_INVALID:
        return "Invalid arguments";
    case ERR_NOT_FOUND:
        return "Not found";
    case ERR_BUSY:
        return "Busy";
    default:
        return "Error";
    }
}

static json_t *error_result(const err_t *e)
{
    strbuf sb;
    sb_init(&sb);
    const char *heading = error_heading(e->kind);
    const char *msg = e->msg[0] ? e->msg : err_kind_name(e->kind);
    /* Messages that already start with the heading ("refused: …") keep
     * theirs, capitalised, instead of saying it twice. */
    size_t n = strlen(heading);
    if (strncasecmp(msg, heading, n) == 0 && msg[n] == ':')
        msg += n + 1 + (msg[n + 1] == ' ');
    sb_printf(&sb, "%s: %s", heading, msg);
    json_t *r = text_result(sb.data, true);
    sb_free(&sb);
    return r;
}

/* Builds the successful result of a table: markdown + summary as text, the
 * typed table as structuredContent. extra (stolen, may be NULL) adds keys
 * to structuredContent and, for "definition", a SQL block to the text. */
static json_t *table_result(tools_ctx *t, const db_result *r, size_t limit, double elapsed_ms,
                            json_t *extra)
{
    strbuf sb;
    sb_init(&sb);
    fmt_markdown(r, t->cfg->max_cell_chars, &sb);
    sb_putc(&sb, '\n');
    fmt_summary(r, limit, elapsed_ms, &sb);
    json_t *structured = fmt_structured(r, elapsed_ms);
    if (extra) {
        json_t *def = json_object_get(extra, "definition");
        if (json_is_string(def))
            sb_printf(&sb, "\n\nDefinition:\n```sql\n%s\n```", json_string_value(def));
        json_object_update(structured, extra);
        json_decref(extra);
    }
    json_t *res = text_result(sb.data, false);
    json_object_set_new(res, "structuredContent", structured);
    sb_free(&sb);
    return res;
}

/* ---- running ---------------------------------------------------------- */

/* Milliseconds since t0, rounded to the microsecond. */
static double elapsed_ms_since(int64_t t0)
{
    return (double)((clock_now_ns() - t0 + 500) / 1000) / 1000.0;
}

static void call_init(tools_ctx *t, const tool_args *a, size_t max_rows, db_call *call)
{
    memset(call, 0, sizeof *call);
    call->database = a->database ? a->database : t->cfg->database;
    call->schema = a->schema ? a->schema : t->cfg->schema;
    call->deadline_ns = clock_deadline_in_ms(t->cfg->query_timeout_ms);
    call->max_rows = max_rows;
    call->max_bytes = (size_t)t->cfg->max_result_bytes;
}

static void progress(const tools_call_env *env, double done, const char *msg)
{
    if (env->progress)
        env->progress(env->progress_ctx, done, 1, msg);
}

/* limit: the rows the caller asked for (0: the server's cap, unmentioned). */
static json_t *run_catalog(tools_ctx *t, const tool_args *a, const tools_call_env *env,
                           db_catalog_kind kind, bool want_view, bool want_table, size_t limit)
{
    db_call call;
    call_init(t, a, limit ? limit : (size_t)t->cfg->max_rows, &call);
    db_catalog_req req = {.kind = kind,
                          .database = call.database,
                          .schema = call.schema,
                          .object = a->object,
                          .want_view = want_view,
                          .want_table = want_table};
    db_result *r = NULL;
    err_t e;
    int64_t t0 = clock_now_ns();
    progress(env, 0, "running");
    if (!dbp_catalog(t->dbp, &call, env->cancel, env->tag, &req, &r, &e))
        return error_result(&e);
    double ms = elapsed_ms_since(t0);
    json_t *res = table_result(t, r, limit, ms, NULL);
    db_result_free(r);
    return res;
}

static json_t *run_sql(tools_ctx *t, const tool_args *a, const tools_call_env *env, const char *sql,
                       size_t limit)
{
    db_call call;
    call_init(t, a, limit, &call);
    db_result *r = NULL;
    err_t e;
    int64_t t0 = clock_now_ns();
    progress(env, 0, "running");
    if (!dbp_execute(t->dbp, &call, env->cancel, env->tag, sql, &r, &e))
        return error_result(&e);
    double ms = elapsed_ms_since(t0);
    json_t *res = table_result(t, r, limit, ms, NULL);
    db_result_free(r);
    return res;
}

static json_t *t_list_databases(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    return run_catalog(t, a, env, DB_LIST_DATABASES, false, false, 0);
}

static json_t *t_list_schemas(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    return run_catalog(t, a, env, DB_LIST_SCHEMAS, false, false, 0);
}

static json_t *t_list_tables(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    return run_catalog(t, a, env, DB_LIST_TABLES, false, false, 0);
}

static json_t *t_list_views(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    return run_catalog(t, a, env, DB_LIST_VIEWS, false, false, 0);
}

static json_t *t_describe_table(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    return run_catalog(t, a, env, DB_DESCRIBE, false, true, 0);
}

/* Fetches a view's definition as one string; NULL with e on failure. */
static json_t *view_definition(tools_ctx *t, const tool_args *a, const tools_call_env *env,
                               err_t *e)
{
    db_call call;
    call_init(t, a, 1, &call);
    db_catalog_req req = {.kind = DB_VIEW_DEFINITION,
                          .database = call.database,
                          .schema = call.schema,
                          .object = a->object,
                          .want_view = true};
    db_result *r = NULL;
    if (!dbp_catalog(t->dbp, &call, env->cancel, env->tag, &req, &r, e))
        return NULL;
    json_t *def = json_array_get(json_array_get(r->rows, 0), 0);
    json_t *out = json_is_string(def) ? json_incref(def) : json_string("");
    db_result_free(r);
    return out;
}

static json_t *t_describe_view(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    /* Columns first: asking for a view's columns is what tells a table
     * ("… is a table, not a view; use describe_table") from a missing name. */
    err_t e;
    db_call call;
    call_init(t, a, (size_t)t->cfg->max_rows, &call);
    db_catalog_req req = {.kind = DB_DESCRIBE,
                          .database = call.database,
                          .schema = call.schema,
                          .object = a->object,
                          .want_view = true};
    db_result *r = NULL;
    int64_t t0 = clock_now_ns();
    if (!dbp_catalog(t->dbp, &call, env->cancel, env->tag, &req, &r, &e))
        return error_result(&e);
    json_t *def = view_definition(t, a, env, &e);
    if (!def) {
        db_result_free(r);
        return error_result(&e);
    }
    double ms = elapsed_ms_since(t0);
    json_t *res = table_result(t, r, 0, ms, json_pack("{s:o}", "definition", def));
    db_result_free(r);
    return res;
}

static json_t *t_query_view(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    /* The driver resolves the name exactly as describe_view does, so both
     * tools always see the same object. */
    return run_catalog(t, a, env, DB_SAMPLE, true, false, (size_t)a->limit);
}

static json_t *t_execute_query(tools_ctx *t, const tool_args *a, const tools_call_env *env)
{
    sql_guard_result g;
    err_t e;
    if (!sql_guard_check(t->dialect, a->query, strlen(a->query), &g, &e))
        return error_result(&e);
    char *stmt = xstrndup(a->query + g.start, g.len);
    json_t *res = run_sql(t, a, env, stmt, (size_t)a->limit);
    free(stmt);
    return res;
}

/* ---- arguments -------------------------------------------------------- */

static const tool_def *find_tool(const char *name)
{
    for (size_t i = 0; i < NTOOLS; i++) {
        if (strcmp(tool_defs[i].name, name) == 0)
            return &tool_defs[i];
    }
    return NULL;
}

static const arg_spec *find_arg(const tool_def *d, const char *name)
{
    for (int i = 0; i < MAX_ARGS && d->args[i].name; i++) {
        if (strcmp(d->args[i].name, name) == 0)
            return &d->args[i];
    }
    return NULL;
}

static void list_arg_names(const tool_def *d, strbuf *sb)
{
    if (!d->args[0].name) {
        sb_puts(sb, "none");
        return;
    }
    for (int i = 0; i < MAX_ARGS && d->args[i].name; i++)
        sb_printf(sb, "%s%s", i ? ", " : "", d->args[i].name);
}

static bool set_arg(tools_ctx *t, const tool_def *d, const arg_spec *s, json_t *v, tool_args *a,
                    err_t *e)
{
    if (s->type == ARG_LIMIT) {
        if (!json_is_integer(v)) {
            err_set(e, ERR_INVALID, "`%s` must be a whole number from 1 to %lld", s->name,
                    (long long)t->cfg->max_rows);
            return false;
        }
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > t->cfg->max_rows) {
            err_set(e, ERR_INVALID, "`%s` is %lld; it must be from 1 to %lld", s->name,
                    (long long)n, (long long)t->cfg->max_rows);
            return false;
        }
        a->limit = n;
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        err_set(e, ERR_INVALID, "`%s` must be a non-empty string without NUL characters", s->name);
        return false;
    }
    const char *str = json_string_value(v);
    switch (s->slot) {
    case SLOT_DATABASE:
        a->database = str;
        break;
    case SLOT_SCHEMA:
        a->schema = str;
        break;
    case SLOT_OBJECT:
        a->object = str;
        break;
    case SLOT_QUERY:
        a->query = str;
        break;
    case SLOT_LIMIT:
        break;
    }
    return true;
}

static bool parse_args(tools_ctx *t, const tool_def *d, json_t *args, tool_args *a, err_t *e)
{
    memset(a, 0, sizeof *a);
    a->limit = d->default_limit;
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v)
    {
        const arg_spec *s = find_arg(d, key);
        if (!s) {
            strbuf sb;
            sb_init(&sb);
            list_arg_names(d, &sb);
            err_set(e, ERR_INVALID, "%s has no argument `%s`; its arguments are: %s", d->name, key,
                    sb.data);
            sb_free(&sb);
            return false;
        }
        if (json_is_null(v) && !s->required)
            continue;
        if (!set_arg(t, d, s, v, a, e))
            return false;
    }
    for (int i = 0; i < MAX_ARGS && d->args[i].name; i++) {
        if (d->args[i].required && !json_object_get(args, d->args[i].name)) {
            err_set(e, ERR_INVALID, "%s needs `%s` (%s)", d->name, d->args[i].name,
                    d->args[i].description);
            return false;
        }
    }
    return true;
}

tools_status tools_call(tools_ctx *t, const char *name, json_t *args, const tools_call_env *env,
                        json_t **result, const char **message)
{
    const tool_def *d = find_tool(name);
    if (!d) {
        *message = "Unknown tool";
        return TOOLS_UNKNOWN;
    }
    if (args && !json_is_object(args)) {
        *message = "Invalid params: `arguments` must be an object";
        return TOOLS_MALFORMED;
    }
    json_t *empty = NULL;
    if (!args)
        args = empty = json_object();
    tool_args a;
    err_t e;
    if (!parse_args(t, d, args, &a, &e))
        *result = error_result(&e);
    else
        *result = d->fn(t, &a, env);
    json_decref(empty);
    return TOOLS_OK;
}
