#include "db/postgres.h"

#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/wakefd.h"
#include "core/xalloc.h"
#include "db/pgvalue.h"
#include "sql/quote.h"

/* Names format_type gives the common types without a modifier; others are
 * looked up on the server once per connection. */
static const struct {
    Oid oid;
    const char *name;
} builtin_type_names[] = {
    {PGVALUE_OID_BOOL, "boolean"},
    {PGVALUE_OID_BYTEA, "bytea"},
    {PGVALUE_OID_NAME, "name"},
    {PGVALUE_OID_INT8, "bigint"},
    {PGVALUE_OID_INT2, "smallint"},
    {PGVALUE_OID_INT4, "integer"},
    {PGVALUE_OID_TEXT, "text"},
    {PGVALUE_OID_OID, "oid"},
    {PGVALUE_OID_JSON, "json"},
    {PGVALUE_OID_FLOAT4, "real"},
    {PGVALUE_OID_FLOAT8, "double precision"},
    {PGVALUE_OID_BPCHAR, "character"},
    {PGVALUE_OID_VARCHAR, "character varying"},
    {PGVALUE_OID_DATE, "date"},
    {PGVALUE_OID_TIME, "time without time zone"},
    {PGVALUE_OID_TIMESTAMP, "timestamp without time zone"},
    {PGVALUE_OID_TIMESTAMPTZ, "timestamp with time zone"},
    {PGVALUE_OID_INTERVAL, "interval"},
    {PGVALUE_OID_TIMETZ, "time with time zone"},
    {PGVALUE_OID_NUMERIC, "numeric"},
    {PGVALUE_OID_UUID, "uuid"},
    {PGVALUE_OID_JSONB, "jsonb"},
};

/* Session settings sent in the startup packet. Values given there become
 * the session's defaults, so RESET ALL / DISCARD ALL keep them. */
static const char session_options[] =
    "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 -c bytea_output=hex "
    "-c extra_float_digits=1 -c default_transaction_read_only=on";

/* How long a server gets to answer a cancel before the connection is
 * given up, and the client-side slack after a deadline before we cancel
 * (the server's own statement_timeout normally fires first). */
#define CANCEL_GRACE_MS 3000
#define DEADLINE_SLACK_MS 250
/* cancel() wakes the wait at once; this re-check is only a safety net for
 * a cancel flag set without a cancel() call. */
#define CANCEL_RECHECK_MS 1000
#define DEFAULT_CONNECT_MS 30000
#define HOUSEKEEPING_MS 5000

typedef struct pg_cfg {
    char **keys; /* NULL-terminated, parallel to vals */
    char **vals;
    size_t n;
    int64_t connect_timeout_ms; /* from the DSN's connect_timeout; 0 = none */
} pg_cfg;

typedef struct type_name {
    Oid oid;
    int mod;
    char *name;
} type_name;

struct db_conn {
    PGconn *pg;
    PGcancel *cancel; /* made at connect; read-only afterwards */
    wakefd wake;      /* cancel() wakes the thread waiting in pg_wait */
    const pg_cfg *cfg;
    bool broken; /* unusable: reset fails so that the pool closes it */
    bool dirty;  /* a caller's statement ran since the last reset */
    type_name *types;
    size_t ntypes;
};

/* ---- configuration ------------------------------------------------------ */

static void wipe(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
}

static bool is_secret_key(const char *k)
{
    return strcmp(k, "password") == 0 || strcmp(k, "sslpassword") == 0;
}

static const char *cfg_get(const pg_cfg *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->keys[i], key) == 0)
            return cfg->vals[i];
    }
    return NULL;
}

static void cfg_put(pg_cfg *cfg, const char *key, const char *val)
{
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->keys[i], key) == 0) {
            wipe(cfg->vals[i]);
            free(cfg->vals[i]);
            cfg->vals[i] = xstrdup(val);
            return;
        }
    }
    cfg->keys = xrealloc(cfg->keys, (cfg->n + 2) * sizeof *cfg->keys);
    cfg->vals = xrealloc(cfg->vals, (cfg->n + 2) * sizeof *cfg->vals);
    cfg->keys[cfg->n] = xstrdup(key);
    cfg->vals[cfg->n] = xstrdup(val);
    cfg->n++;
    cfg->keys[cfg->n] = NULL;
    cfg->vals[cfg->n] = NULL;
}

static void cfg_free(void *p)
{
    pg_cfg *cfg = p;
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        if (is_secret_key(cfg->keys[i]))
            wipe(cfg->vals[i]);
        free(cfg->keys[i]);
        free(cfg->vals[i]);
    }
    free(cfg->keys);
    free(cfg->vals);
    free(cfg);
}

static void conninfo_free_wiped(PQconninfoOption *opts)
{
    if (!opts)
        return;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (is_secret_key(o->keyword))
            wipe(o->val);
    }
    PQconninfoFree(opts);
}

bool postgres_dsn_matches(const char *dsn)
{
    if (!dsn)
        return false;
    if (strncasecmp(dsn, "postgres://", 11) == 0 || strncasecmp(dsn, "postgresql://", 13) == 0)
        return true;
    /* key=value conninfo: starts with a keyword and '=' (paths never do). */
    const char *p = dsn;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *k = p;
    while ((*p >= 'a' && *p <= 'z') || *p == '_')
        p++;
    while (*p == ' ')
        p++;
    return p > k && *p == '=';
}

/* The value a connection will use for key: the DSN's, else libpq's
 * default (environment, built-in). Never asked for a secret. */
static const char *effective(const pg_cfg *cfg, const PQconninfoOption *defs, const char *key)
{
    const char *v = cfg_get(cfg, key);
    if (v && *v)
        return v;
    for (const PQconninfoOption *o = defs; o && o->keyword; o++) {
        if (strcmp(o->keyword, key) == 0)
            return o->val && *o->val ? o->val : NULL;
    }
    return NULL;
}

static char *describe_cfg(const pg_cfg *cfg)
{
    PQconninfoOption *defs = PQconndefaults();
    const char *host = effective(cfg, defs, "host");
    const char *hostaddr = effective(cfg, defs, "hostaddr");
    const char *port = effective(cfg, defs, "port");
    const char *user = effective(cfg, defs, "user");
    const char *db = effective(cfg, defs, "dbname");
    const char *ssl = cfg_get(cfg, "sslmode");
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "PostgreSQL database \"%s\" on ", db ? db : (user ? user : "?"));
    if (!host && hostaddr)
        host = hostaddr;
    if (!host || host[0] == '/')
        sb_printf(&sb, "local socket %s", host ? host : "(default directory)");
    else
        sb_puts(&sb, host);
    sb_printf(&sb, " port %s", port ? port : "5432");
    if (user)
        sb_printf(&sb, " as %s", user);
    if (ssl)
        sb_printf(&sb, " (sslmode %s)", ssl);
    conninfo_free_wiped(defs);
    return sb_detach(&sb);
}

db_backend *postgres_backend_open(const char *dsn, err_t *err)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn ? dsn : "", &errmsg);
    if (!opts) {
        /* libpq's message may quote the DSN (and so a password): keep it
         * only when it cannot. */
        const char *why =
            errmsg && !strchr(errmsg, '@') && !strstr(errmsg, "password") && !strstr(errmsg, "://")
                ? errmsg
                : "malformed";
        err_set(err, ERR_INVALID,
                "cannot parse the PostgreSQL DSN (%.200s); use postgres://user@host:port/dbname "
                "or key=value form like \"host=localhost dbname=mydb\"",
                why);
        PQfreemem(errmsg);
        return NULL;
    }
    pg_cfg *cfg = xcalloc(1, sizeof *cfg);
    cfg->keys = xcalloc(1, sizeof *cfg->keys);
    cfg->vals = xcalloc(1, sizeof *cfg->vals);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val)
            cfg_put(cfg, o->keyword, o->val);
    }
    conninfo_free_wiped(opts);
    const char *ct = cfg_get(cfg, "connect_timeout");
    if (ct && atoi(ct) > 0)
        cfg->connect_timeout_ms = (int64_t)atoi(ct) * 1000;
    /* Our settings: keepalives find a dead peer, UTF-8 keeps JSON valid, the
     * session options fix value formats and make the session read-only. */
    static const char *const defaults[][2] = {{"keepalives", "1"},
                                              {"keepalives_idle", "30"},
                                              {"keepalives_interval", "10"},
                                              {"keepalives_count", "3"}};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
        if (!cfg_get(cfg, defaults[i][0]))
            cfg_put(cfg, defaults[i][0], defaults[i][1]);
    }
    cfg_put(cfg, "fallback_application_name", "snowflake-mcp");
    cfg_put(cfg, "client_encoding", "UTF8");
    const char *user_opts = cfg_get(cfg, "options");
    strbuf o;
    sb_init(&o);
    if (user_opts && *user_opts)
        sb_printf(&o, "%s ", user_opts);
    sb_puts(&o, session_options);
    cfg_put(cfg, "options", o.data);
    sb_free(&o);

    db_backend *be = xcalloc(1, sizeof *be);
    be->driver = &postgres_driver;
    be->cfg = cfg;
    be->description = describe_cfg(cfg);
    return be;
}

/* ---- waiting on the socket ---------------------------------------------- */

/* One operation's view of time and cancellation while it waits. */
typedef struct waiter {
    atomic_bool *cancelled; /* may be NULL */
    int64_t deadline_ns;    /* 0 = none */
    bool cancel_sent;       /* we asked the server to stop */
    bool by_user, by_deadline, by_limit;
    int64_t grace_ns; /* after cancel_sent: give up on the connection then */
} waiter;

static waiter waiter_for(const db_call *call)
{
    waiter w = {0};
    w.cancelled = call ? call->cancelled : NULL;
    w.deadline_ns = call ? call->deadline_ns : 0;
    return w;
}

static waiter waiter_ms(int64_t ms)
{
    waiter w = {0};
    w.deadline_ns = clock_deadline_in_ms(ms);
    return w;
}

static bool user_cancelled(const waiter *w)
{
    return w->cancelled && atomic_load(w->cancelled);
}

static void send_cancel(db_conn *c, waiter *w)
{
    char buf[256];
    if (!PQcancel(c->cancel, buf, sizeof buf))
        log_debug("postgres", "cancel request failed: %s", buf);
    w->cancel_sent = true;
    w->grace_ns = clock_now_ns() + CANCEL_GRACE_MS * CLOCK_NS_PER_MS;
}

static void set_gave_up(db_conn *c, const waiter *w, err_t *err)
{
    c->broken = true;
    if (w->by_user)
        err_set(err, ERR_CANCELLED,
                "cancelled; PostgreSQL did not stop the statement within %d ms, so its "
                "connection was dropped",
                CANCEL_GRACE_MS);
    else
        err_set(err, ERR_TIMEOUT,
                "the statement passed its time limit and PostgreSQL did not answer within %d ms "
                "of being asked to stop; the connection was dropped",
                CANCEL_GRACE_MS);
}

static void set_lost(db_conn *c, const char *what, err_t *err)
{
    c->broken = true;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
    for (char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    }
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        msg[--n] = '\0';
    err_set(err, ERR_CONN_LOST, "the connection to PostgreSQL was lost %s: %s", what,
            n ? msg : "no reason given");
}

/* Waits until the socket is ready for events. Sends a cancel when the
 * caller cancels (pg_cancel wakes the poll) or the deadline passes, then
 * waits CANCEL_GRACE_MS for the server to answer before giving up on the
 * connection. */
static bool pg_wait(db_conn *c, waiter *w, short events, err_t *err)
{
    for (;;) {
        int64_t now = clock_now_ns();
        if (!w->cancel_sent) {
            if (user_cancelled(w)) {
                w->by_user = true;
                send_cancel(c, w);
            } else if (w->deadline_ns &&
                       now >= w->deadline_ns + DEADLINE_SLACK_MS * CLOCK_NS_PER_MS) {
                w->by_deadline = true;
                send_cancel(c, w);
            }
        } else if (now >= w->grace_ns) {
            set_gave_up(c, w, err);
            return false;
        }
        int64_t until;
        if (w->cancel_sent)
            until = w->grace_ns;
        else if (w->deadline_ns)
            until = w->deadline_ns + DEADLINE_SLACK_MS * CLOCK_NS_PER_MS;
        else
            until = now + 3600 * CLOCK_NS_PER_S;
        if (w->cancelled && !w->cancel_sent && until > now + CANCEL_RECHECK_MS * CLOCK_NS_PER_MS)
            until = now + CANCEL_RECHECK_MS * CLOCK_NS_PER_MS;
        int64_t ms = (until - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS;
        if (ms < 0)
            ms = 0;
        if (ms > INT_MAX)
            ms = INT_MAX;
        int fd = PQsocket(c->pg);
        if (fd < 0) {
            set_lost(c, "(no socket)", err);
            return false;
        }
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = c->wake.rfd, .events = POLLIN}};
        int rc = poll(p, 2, (int)ms);
        if (rc > 0 && (p[1].revents & POLLIN))
            wakefd_drain(&c->wake); /* the loop re-reads the cancel flag */
        if (rc > 0 && p[0].revents)
            return true;
        if (rc < 0 && errno != EINTR) {
            err_set(err, ERR_CONN_LOST, "waiting for PostgreSQL failed: %s", strerror(errno));
            c->broken = true;
            return false;
        }
    }
}

/* Sends what libpq has buffered. */
static bool pg_flush(db_conn *c, waiter *w, err_t *err)
{
    for (;;) {
        int rc = PQflush(c->pg);
        if (rc == 0)
            return true;
        if (rc < 0) {
            set_lost(c, "while sending", err);
            return false;
        }
        if (!pg_wait(c, w, POLLIN | POLLOUT, err))
            return false;
        /* The server may be sending (e.g. an error): read it so it cannot
         * block on us while we block on it. */
        if (!PQconsumeInput(c->pg)) {
            set_lost(c, "while sending", err);
            return false;
        }
    }
}

/* The next result of the command in flight; *res NULL at its end. */
static bool pg_next(db_conn *c, waiter *w, PGresult **res, err_t *err)
{
    while (PQisBusy(c->pg)) {
        if (!pg_wait(c, w, POLLIN, err))
            return false;
        if (!PQconsumeInput(c->pg)) {
            /* A FATAL message may already be buffered: let PQgetResult
             * report it rather than the bare socket error. */
            if (!PQisBusy(c->pg))
                break;
            set_lost(c, "while waiting for the server", err);
            return false;
        }
    }
    *res = PQgetResult(c->pg);
    return true;
}

/* ---- errors ------------------------------------------------------------- */

static void collapse_spaces(char *s)
{
    char *w = s;
    bool space = false;
    for (const char *p = s; *p; p++) {
        bool ws = *p == '\n' || *p == '\t' || *p == ' ' || *p == '\r';
        if (ws && (space || w == s))
            continue;
        *w++ = ws ? ' ' : *p;
        space = ws;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

static bool state_is(const char *state, const char *want)
{
    return state && strcmp(state, want) == 0;
}

static bool state_conn_lost(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                     strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* Appends the server's message, SQLSTATE, position, detail and hint. */
static void describe_server_error(const PGresult *res, db_conn *c, strbuf *sb)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    if (!primary) {
        primary = res ? PQresultErrorMessage(res) : "";
        if (!*primary)
            primary = PQerrorMessage(c->pg);
    }
    size_t n = strlen(primary);
    while (n > 0 && (primary[n - 1] == '\n' || primary[n - 1] == ' '))
        n--;
    sb_append(sb, primary, n);
    if (state)
        sb_printf(sb, " (SQLSTATE %s)", state);
    if (pos)
        sb_printf(sb, " at character %s", pos);
    if (detail)
        sb_printf(sb, "; detail: %s", detail);
    if (hint)
        sb_printf(sb, "; hint: %s", hint);
}

/* Fills err from a failed result (res may be NULL). before_stmt: the
 * caller's statement had not been sent yet. */
static void set_pg_error(db_conn *c, const waiter *w, const PGresult *res, bool before_stmt,
                         err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    strbuf sb;
    sb_init(&sb);
    describe_server_error(res, c, &sb);
    collapse_spaces(sb.data);
    if (state_conn_lost(state) || PQstatus(c->pg) == CONNECTION_BAD) {
        c->broken = true;
        err_set(err, ERR_CONN_LOST, "the connection to PostgreSQL was lost %s: %s",
                before_stmt ? "before the statement started" : "while the statement ran", sb.data);
        err->never_ran = before_stmt;
    } else if (state_is(state, "57014")) {
        if (w->by_user || user_cancelled(w))
            err_set(err, ERR_CANCELLED, "the statement was cancelled on the server");
        else if (w->by_deadline || (w->deadline_ns && clock_now_ns() >= w->deadline_ns) ||
                 strstr(sb.data, "statement timeout"))
            err_set(err, ERR_TIMEOUT, "the statement passed its time limit and was stopped: %s",
                    sb.data);
        else
            err_set(err, ERR_CANCELLED, "the statement was cancelled on the server: %s", sb.data);
    } else if (state_is(state, "25006")) {
        err_set(err, ERR_REFUSED,
                "refused by PostgreSQL: statements run in a READ ONLY transaction and this one "
                "would write: %s",
                sb.data);
    } else if (state_is(state, "53300")) {
        err_set(err, ERR_CONNECT,
                "PostgreSQL has no free connection slot (max_connections reached): %s", sb.data);
    } else if (state_is(state, "42601") &&
               strstr(sb.data, "cannot insert multiple commands into a prepared statement")) {
        err_set(err, ERR_REFUSED,
                "refused by PostgreSQL: only one statement may be run per call (%s)", sb.data);
    } else {
        err_set(err, ERR_SQL, "%s", sb.data);
    }
    sb_free(&sb);
}

/* ---- running commands --------------------------------------------------- */

/* Sends one command with the extended protocol (one statement only). */
static bool pg_send(db_conn *c, waiter *w, const char *sql, int nparams, const char *const *params,
                    bool single_row, err_t *err)
{
    if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0)) {
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            set_lost(c, "before the statement was sent", err);
            err->never_ran = true;
        } else {
            set_pg_error(c, w, NULL, true, err);
        }
        return false;
    }
    if (single_row)
        PQsetSingleRowMode(c->pg);
    return pg_flush(c, w, err);
}

/* Runs one of our own commands and returns its last result (the caller
 * PQclears it); any failure fills err. */
static bool pg_exec(db_conn *c, waiter *w, const char *sql, int nparams, const char *const *params,
                    bool before_stmt, PGresult **out, err_t *err)
{
    *out = NULL;
    if (!pg_send(c, w, sql, nparams, params, false, err))
        return false;
    PGresult *res = NULL, *last = NULL;
    bool failed = false;
    for (;;) {
        if (!pg_next(c, w, &res, err)) {
            PQclear(last);
            if (before_stmt && err->kind == ERR_CONN_LOST)
                err->never_ran = true;
            return false;
        }
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (!failed && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            set_pg_error(c, w, res, before_stmt, err);
            failed = true;
        }
        PQclear(last);
        last = res;
    }
    if (!last && !failed) {
        set_pg_error(c, w, NULL, before_stmt, err);
        failed = true;
    }
    if (failed) {
        PQclear(last);
        return false;
    }
    *out = last;
    return true;
}

static bool pg_exec_simple(db_conn *c, waiter *w, const char *sql, bool before_stmt, err_t *err)
{
    PGresult *res = NULL;
    bool ok = pg_exec(c, w, sql, 0, NULL, before_stmt, &res, err);
    PQclear(res);
    return ok;
}

/* ---- values ------------------------------------------------------------- */

static json_t *cell_value(const PGresult *res, int row, int col, size_t *bytes)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *s = PQgetvalue(res, row, col);
    size_t n = (size_t)PQgetlength(res, row, col);
    *bytes += n;
    return pgvalue_from_text(PQftype(res, col), s, n);
}

/* ---- collecting a statement's rows -------------------------------------- */

typedef struct col_meta {
    int n;
    char **names;
    Oid *types;
    int *mods;
} col_meta;

static void meta_take(col_meta *m, const PGresult *res)
{
    if (m->names)
        return;
    m->n = PQnfields(res);
    m->names = xcalloc((size_t)m->n + 1, sizeof *m->names);
    m->types = xcalloc((size_t)m->n + 1, sizeof *m->types);
    m->mods = xcalloc((size_t)m->n + 1, sizeof *m->mods);
    for (int i = 0; i < m->n; i++) {
        m->names[i] = xstrdup(PQfname(res, i));
        m->types[i] = PQftype(res, i);
        m->mods[i] = PQfmod(res, i);
    }
}

static void meta_free(col_meta *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->names[i]);
    free(m->names);
    free(m->types);
    free(m->mods);
}

/* Sends sql and keeps at most max_rows rows (and stops once kept bytes pass
 * max_bytes). At a limit it takes one more row, only to learn that more
 * exist, then cancels the statement on the server and drains. */
static bool pg_collect(db_conn *c, waiter *w, const char *sql, int nparams,
                       const char *const *params, size_t max_rows, size_t max_bytes, db_result *r,
                       col_meta *meta, err_t *err)
{
    if (!pg_send(c, w, sql, nparams, params, true, err))
        return false;
    bool failed = false, stopping = false;
    for (;;) {
        PGresult *res = NULL;
        if (!pg_next(c, w, &res, err)) {
            if (stopping && !w->by_user && !w->by_deadline && err->kind != ERR_CONN_LOST) {
                /* The rows we keep are complete; only the connection is
                 * spoilt (broken is set, so reset drops it). */
                err_clear(err);
                return true;
            }
            return false;
        }
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
            meta_take(meta, res);
            for (int row = 0; row < PQntuples(res) && !stopping; row++) {
                bool over_bytes = max_bytes && r->bytes > max_bytes;
                if (db_result_row_count(r) >= max_rows || over_bytes) {
                    r->truncated = true;
                    r->truncated_by = over_bytes ? "byte limit" : "row limit";
                    stopping = true;
                    w->by_limit = true;
                    send_cancel(c, w);
                    break;
                }
                json_t *vals = json_array();
                for (int col = 0; col < meta->n; col++)
                    json_array_append_new(vals, cell_value(res, row, col, &r->bytes));
                db_result_add_row(r, vals);
            }
        } else if (st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY) {
            /* a statement without rows */
        } else if (st == PGRES_COPY_IN) {
            PQputCopyEnd(c->pg, "COPY is not supported by snowflake-mcp");
        } else if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(res);
            c->broken = true; /* the copy stream is left unread */
            err_set(err, ERR_REFUSED, "refused: COPY is not supported");
            return false;
        } else if (!(stopping && state_is(PQresultErrorField(res, PG_DIAG_SQLSTATE), "57014")) &&
                   !failed) {
            set_pg_error(c, w, res, false, err);
            failed = true;
        }
        PQclear(res);
    }
    return !failed;
}

/* ---- type names ---------------------------------------------------------- */

static const char *cached_type(const db_conn *c, Oid oid, int mod)
{
    for (size_t i = 0; i < c->ntypes; i++) {
        if (c->types[i].oid == oid && c->types[i].mod == mod)
            return c->types[i].name;
    }
    if (mod == -1) {
        for (size_t i = 0; i < sizeof builtin_type_names / sizeof *builtin_type_names; i++) {
            if (builtin_type_names[i].oid == oid)
                return builtin_type_names[i].name;
        }
    }
    return NULL;
}

static void cache_type(db_conn *c, Oid oid, int mod, const char *name)
{
    c->types = xrealloc(c->types, (c->ntypes + 1) * sizeof *c->types);
    c->types[c->ntypes++] = (type_name){oid, mod, xstrdup(name)};
}

/* Looks up, in one round trip, the format_type names of the columns the
 * cache does not know. A failure leaves them unnamed ("oid N"). */
static void lookup_types(db_conn *c, const col_meta *m)
{
    strbuf oids, mods;
    sb_init(&oids);
    sb_init(&mods);
    int missing = 0;
    for (int i = 0; i < m->n; i++) {
        if (cached_type(c, m->types[i], m->mods[i]))
            continue;
        sb_printf(&oids, "%s%u", missing ? "," : "{", (unsigned)m->types[i]);
        sb_printf(&mods, "%s%d", missing ? "," : "{", m->mods[i]);
        missing++;
    }
    if (missing && !c->broken) {
        sb_putc(&oids, '}');
        sb_putc(&mods, '}');
        const char *params[] = {oids.data, mods.data};
        waiter w = waiter_ms(HOUSEKEEPING_MS);
        err_t e;
        PGresult *res = NULL;
        if (pg_exec(c, &w,
                    "SELECT t.o, t.m, format_type(t.o, nullif(t.m, -1)) FROM "
                    "unnest($1::oid[], $2::int4[]) AS t(o, m)",
                    2, params, false, &res, &e)) {
            for (int row = 0; row < PQntuples(res); row++) {
                Oid oid = (Oid)strtoul(PQgetvalue(res, row, 0), NULL, 10);
                int mod = atoi(PQgetvalue(res, row, 1));
                if (!cached_type(c, oid, mod))
                    cache_type(c, oid, mod, PQgetvalue(res, row, 2));
            }
        } else {
            log_debug("postgres", "type name lookup failed: %s", e.msg);
        }
        PQclear(res);
    }
    sb_free(&oids);
    sb_free(&mods);
}

static void add_columns(db_conn *c, const col_meta *m, db_result *r)
{
    lookup_types(c, m);
    for (int i = 0; i < m->n; i++) {
        const char *t = cached_type(c, m->types[i], m->mods[i]);
        char fallback[32];
        if (!t) {
            snprintf(fallback, sizeof fallback, "oid %u", (unsigned)m->types[i]);
            t = fallback;
        }
        db_result_add_column(r, m->names[i], t, -1);
    }
}

/* ---- connections ---------------------------------------------------------- */

static void set_connect_error(PGconn *pg, err_t *err)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s", pg ? PQerrorMessage(pg) : "out of memory");
    collapse_spaces(msg);
    if (strstr(msg, "too many clients") || strstr(msg, "remaining connection slots"))
        err_set(err, ERR_CONNECT,
                "PostgreSQL has no free connection slot (max_connections reached); close other "
                "sessions or raise max_connections: %s",
                msg);
    else if (strstr(msg, "authentication failed") || strstr(msg, "no password supplied"))
        err_set(err, ERR_AUTH, "PostgreSQL rejected the credentials: %s", msg);
    else
        err_set(err, ERR_CONNECT, "cannot connect to PostgreSQL: %s", msg);
}

/* Server notices (and a FATAL arriving between statements) go to the log,
 * never to stdout or a bare stderr line. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", message);
    collapse_spaces(msg);
    log_debug("postgres", "server notice: %s", msg);
}

static bool pg_connect(const db_backend *be, int64_t deadline_ns, db_conn **out, err_t *err)
{
    const pg_cfg *cfg = be->cfg;
    *out = NULL;
    int64_t now = clock_now_ns();
    int64_t deadline = deadline_ns ? deadline_ns : now + DEFAULT_CONNECT_MS * CLOCK_NS_PER_MS;
    if (cfg->connect_timeout_ms && now + cfg->connect_timeout_ms * CLOCK_NS_PER_MS < deadline)
        deadline = now + cfg->connect_timeout_ms * CLOCK_NS_PER_MS;
    PGconn *pg =
        PQconnectStartParams((const char *const *)cfg->keys, (const char *const *)cfg->vals, 0);
    if (!pg || PQstatus(pg) == CONNECTION_BAD) {
        set_connect_error(pg, err);
        PQfinish(pg);
        return false;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            set_connect_error(pg, err);
            PQfinish(pg);
            return false;
        }
        int64_t ms = clock_ms_left(deadline);
        int fd = PQsocket(pg);
        if (ms <= 0 || fd < 0) {
            if (fd < 0)
                set_connect_error(pg, err);
            else
                err_set(err, ERR_CONNECT, "cannot connect to PostgreSQL: timed out (%s)",
                        be->description);
            PQfinish(pg);
            return false;
        }
        struct pollfd p = {.fd = fd, .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int rc = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            continue; /* the loop reports the timeout */
        st = PQconnectPoll(pg);
    }
    if (PQsetnonblocking(pg, 1) != 0) {
        set_connect_error(pg, err);
        PQfinish(pg);
        return false;
    }
    PQsetNoticeProcessor(pg, notice_to_log, NULL);
    db_conn *c = xcalloc(1, sizeof *c);
    c->pg = pg;
    c->cfg = cfg;
    c->cancel = PQgetCancel(pg);
    if (!c->cancel || !wakefd_open(&c->wake)) {
        err_set(err, ERR_CONNECT, "cannot connect to PostgreSQL: %s",
                c->cancel ? "cannot create a pipe" : "no cancel key");
        PQfreeCancel(c->cancel);
        PQfinish(pg);
        free(c);
        return false;
    }
    const char *ds = PQparameterStatus(pg, "DateStyle");
    if (ds && strncmp(ds, "ISO", 3) != 0)
        log_warn("postgres",
                 "the server ignored DateStyle=ISO (it reports %s): dates are passed "
                 "through as text",
                 ds);
    log_debug("postgres", "connected: backend pid %d", PQbackendPID(pg));
    *out = c;
    return true;
}

static void pg_close(db_conn *c)
{
    if (!c)
        return;
    PQfreeCancel(c->cancel);
    wakefd_close(&c->wake);
    PQfinish(c->pg);
    for (size_t i = 0; i < c->ntypes; i++)
        free(c->types[i].name);
    free(c->types);
    free(c);
}

/* Only wakes the running call: it sees its cancel flag and sends the
 * server cancel from its own thread. PQcancel here would block the caller
 * (a transport thread) for a TCP connect timeout when the server is
 * unreachable, which is exactly when users cancel. A wake-up left over
 * from a call that already ended only makes the next wait look again. */
static void pg_cancel(db_conn *c)
{
    wakefd_signal(&c->wake);
}

static bool pg_ping(db_conn *c, int64_t deadline_ns, err_t *err)
{
    if (c->broken) {
        err_set(err, ERR_CONN_LOST, "the connection was dropped earlier");
        return false;
    }
    waiter w = {.deadline_ns = deadline_ns ? deadline_ns : clock_deadline_in_ms(HOUSEKEEPING_MS)};
    if (!pg_exec_simple(c, &w, "SELECT 1", true, err)) {
        if (err->kind != ERR_CONN_LOST)
            c->broken = true;
        return false;
    }
    return true;
}

static bool pg_reset(db_conn *c, err_t *err)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK) {
        err_set(err, ERR_CONN_LOST, "the connection is unusable");
        return false;
    }
    waiter w = waiter_ms(HOUSEKEEPING_MS);
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_ACTIVE || ts == PQTRANS_UNKNOWN) {
        err_set(err, ERR_CONN_LOST, "the connection is still busy");
        return false;
    }
    if (ts != PQTRANS_IDLE && !pg_exec_simple(c, &w, "ROLLBACK", false, err))
        return false;
    /* Session state a read-only transaction can still leave behind
     * (advisory locks, prepared statements, LISTEN): gone. */
    if (c->dirty && !pg_exec_simple(c, &w, "DISCARD ALL", false, err))
        return false;
    c->dirty = false;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        err_set(err, ERR_CONN_LOST, "the connection did not return to idle");
        return false;
    }
    return true;
}

/* ---- transactions --------------------------------------------------------- */

/* Checks the call before anything is sent: the connection, the caller's
 * cancel flag, the deadline and the database. */
static bool precheck(db_conn *c, const db_call *call, const char *database, err_t *err)
{
    if (c->broken) {
        err_set(err, ERR_CONN_LOST, "the connection was dropped earlier");
        err->never_ran = true;
        return false;
    }
    if (call->cancelled && atomic_load(call->cancelled)) {
        err_set(err, ERR_CANCELLED, "cancelled before the statement started");
        return false;
    }
    if (call->deadline_ns && clock_now_ns() >= call->deadline_ns) {
        err_set(err, ERR_TIMEOUT, "the time limit passed before the statement started");
        return false;
    }
    const char *connected = PQdb(c->pg);
    if (database && connected && strcmp(database, connected) != 0 &&
        strcasecmp(database, connected) != 0) {
        err_set(err, ERR_NOT_FOUND,
                "database \"%s\" cannot be queried here: PostgreSQL cannot query across "
                "databases and this server is connected to \"%s\"; connect to \"%s\" with its own "
                "DSN (another snowflake-mcp instance)",
                database, connected, database);
        return false;
    }
    return true;
}

/* BEGIN TRANSACTION READ ONLY, the statement timeout from the deadline and,
 * when schema is given, the schema resolved (exact name first, then
 * case-insensitively) into *resolved and made the search_path. */
static bool tx_begin(db_conn *c, waiter *w, const char *schema, char **resolved, err_t *err)
{
    if (resolved)
        *resolved = NULL;
    if (!pg_exec_simple(c, w, "BEGIN TRANSACTION READ ONLY", true, err))
        return false;
    char timeout[32] = "0";
    if (w->deadline_ns) {
        int64_t ms = clock_ms_left(w->deadline_ns);
        snprintf(timeout, sizeof timeout, "%lld", (long long)(ms > 1 ? ms : 1));
    }
    const char *params[] = {timeout, schema};
    PGresult *res = NULL;
    static const char sql[] =
        "SELECT set_config('statement_timeout', $1, true), "
        "ARRAY(SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = $2 OR "
        "lower(nspname) = lower($2) ORDER BY nspname <> $2, nspname LIMIT 2), "
        "set_config('search_path', coalesce((SELECT 'pg_catalog, ' || quote_ident(nspname) "
        "FROM pg_catalog.pg_namespace WHERE nspname = $2 OR lower(nspname) = lower($2) "
        "ORDER BY nspname <> $2, nspname LIMIT 1), current_setting('search_path')), true)";
    if (!pg_exec(c, w, sql, 2, params, true, &res, err))
        return false;
    bool ok = true;
    if (schema) {
        json_t *names = PQntuples(res) == 1 ? pgvalue_array(PGVALUE_OID_TEXT, PQgetvalue(res, 0, 1),
                                                            (size_t)PQgetlength(res, 0, 1))
                                            : NULL;
        const char *first = json_string_value(json_array_get(names, 0));
        const char *second = json_string_value(json_array_get(names, 1));
        if (!first) {
            err_set(err, ERR_NOT_FOUND,
                    "schema \"%s\" does not exist in database \"%s\"; list_schemas shows the "
                    "schemas",
                    schema, PQdb(c->pg));
            ok = false;
        } else if (second && strcmp(first, schema) != 0) {
            err_set(err, ERR_NOT_FOUND,
                    "schema \"%s\" is ambiguous: it matches \"%s\" and \"%s\" (names differ only "
                    "in case); pass the exact name",
                    schema, first, second);
            ok = false;
        } else if (resolved) {
            *resolved = xstrdup(first);
        }
        json_decref(names);
    }
    PQclear(res);
    return ok;
}

/* Ends the transaction. The caller's own deadline may have passed (or it
 * cancelled): the rollback gets its own short one. */
static void tx_end(db_conn *c)
{
    if (c->broken || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    waiter w = waiter_ms(HOUSEKEEPING_MS);
    err_t e;
    if (!pg_exec_simple(c, &w, "ROLLBACK", false, &e)) {
        c->broken = true;
        log_debug("postgres", "rollback failed: %s", e.msg);
    }
}

/* Hands over r (with its column metadata) when ok, else frees it. */
static bool finish_result(db_conn *c, bool ok, db_result *r, col_meta *meta, db_result **out)
{
    if (ok) {
        add_columns(c, meta, r);
        *out = r;
    } else {
        db_result_free(r);
    }
    meta_free(meta);
    return ok;
}

static bool pg_execute(db_conn *c, const db_call *call, const char *sql, db_result **out,
                       err_t *err)
{
    *out = NULL;
    err_clear(err);
    if (!precheck(c, call, call->database, err))
        return false;
    waiter w = waiter_for(call);
    c->dirty = true;
    bool ok = tx_begin(c, &w, call->schema, NULL, err);
    db_result *r = db_result_new();
    col_meta meta = {0};
    if (ok)
        ok = pg_collect(c, &w, sql, 0, NULL, call->max_rows, call->max_bytes, r, &meta, err);
    tx_end(c);
    return finish_result(c, ok, r, &meta, out);
}

/* ---- catalog ---------------------------------------------------------------- */

static const char list_databases_sql[] =
    "SELECT d.datname::text AS name, pg_catalog.shobj_description(d.oid, 'pg_database') AS "
    "comment FROM pg_catalog.pg_database d WHERE d.datallowconn AND NOT d.datistemplate "
    "ORDER BY 1";

static const char list_schemas_sql[] =
    "SELECT current_database()::text AS database, n.nspname::text AS name, "
    "pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment "
    "FROM pg_catalog.pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_(toast|temp_)' ORDER BY 2";

static const char list_tables_sql[] =
    "SELECT current_database()::text AS database, n.nspname::text AS schema, "
    "c.relname::text AS name, CASE c.relkind WHEN 'p' THEN 'PARTITIONED TABLE' "
    "WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind, "
    "CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END AS row_count, "
    "pg_catalog.obj_description(c.oid, 'pg_class') AS comment "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition "
    "ORDER BY 3";

static const char list_views_sql[] =
    "SELECT current_database()::text AS database, n.nspname::text AS schema, "
    "c.relname::text AS name, pg_catalog.obj_description(c.oid, 'pg_class') AS comment "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') ORDER BY 3";

static const char find_object_sql[] =
    "SELECT c.oid::text, c.relname::text, c.relkind::text "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'f', 'v', 'm') "
    "AND (c.relname = $2 OR lower(c.relname) = lower($2)) "
    "ORDER BY c.relname <> $2, c.relname LIMIT 2";

static const char describe_sql[] =
    "SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, "
    "NOT a.attnotnull AS nullable, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS \"default\", "
    "coalesce(a.attnum = ANY (i.indkey), false) AS primary_key, "
    "pg_catalog.col_description(a.attrelid, a.attnum) AS comment "
    "FROM pg_catalog.pg_attribute a "
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

static const char view_definition_sql[] =
    "SELECT pg_catalog.pg_get_viewdef($1::oid, true) AS definition";

typedef struct found_object {
    char *oid;
    char *name;
    bool is_view;
} found_object;

static bool find_object(db_conn *c, waiter *w, const char *schema, const char *object,
                        found_object *f, err_t *err)
{
    const char *params[] = {schema, object};
    PGresult *res = NULL;
    if (!pg_exec(c, w, find_object_sql, 2, params, false, &res, err))
        return false;
    bool ok = false;
    int n = PQntuples(res);
    if (n == 0) {
        err_set(err, ERR_NOT_FOUND,
                "%s.%s.%s does not exist; use list_tables or list_views to see what does",
                PQdb(c->pg), schema, object);
    } else if (n == 2 && strcmp(PQgetvalue(res, 0, 1), object) != 0) {
        err_set(err, ERR_NOT_FOUND,
                "\"%s\" is ambiguous in schema %s: it matches \"%s\" and \"%s\" (names differ "
                "only in case); pass the exact name",
                object, schema, PQgetvalue(res, 0, 1), PQgetvalue(res, 1, 1));
    } else {
        f->oid = xstrdup(PQgetvalue(res, 0, 0));
        f->name = xstrdup(PQgetvalue(res, 0, 1));
        const char *kind = PQgetvalue(res, 0, 2);
        f->is_view = kind[0] == 'v' || kind[0] == 'm';
        ok = true;
    }
    PQclear(res);
    return ok;
}

static bool check_kind(const char *schema, const found_object *f, const db_catalog_req *req,
                       err_t *err)
{
    if (req->want_view && !req->want_table && !f->is_view) {
        err_set(err, ERR_NOT_FOUND, "%s.%s is a table, not a view; use describe_table", schema,
                f->name);
        return false;
    }
    if (req->want_table && !req->want_view && f->is_view) {
        err_set(err, ERR_NOT_FOUND, "%s.%s is a view, not a table; use describe_view", schema,
                f->name);
        return false;
    }
    return true;
}

/* SELECT * of schema.name (both already resolved to stored names), asking
 * one row past the limit so pg_collect can see that more exist. */
static bool sample_sql(const char *schema, const char *name, size_t max_rows, strbuf *out,
                       err_t *err)
{
    sb_puts(out, "SELECT * FROM ");
    if (!sql_quote_ident(schema, out, err))
        return false;
    sb_putc(out, '.');
    if (!sql_quote_ident(name, out, err))
        return false;
    sb_printf(out, " LIMIT %zu", max_rows + 1);
    return true;
}

static bool catalog_in_tx(db_conn *c, waiter *w, const db_call *call, const db_catalog_req *req,
                          db_result *r, col_meta *meta, err_t *err)
{
    bool need_schema = req->kind != DB_LIST_DATABASES && req->kind != DB_LIST_SCHEMAS;
    const char *schema = req->schema ? req->schema : "public";
    char *resolved = NULL;
    if (!tx_begin(c, w, need_schema ? schema : NULL, &resolved, err))
        return false;
    bool ok = true;
    const char *sql = NULL;
    const char *params[1] = {resolved};
    int nparams = 0;
    found_object f = {0};
    strbuf sample;
    sb_init(&sample);
    switch (req->kind) {
    case DB_LIST_DATABASES:
        sql = list_databases_sql;
        break;
    case DB_LIST_SCHEMAS:
        sql = list_schemas_sql;
        break;
    case DB_LIST_TABLES:
        sql = list_tables_sql;
        nparams = 1;
        break;
    case DB_LIST_VIEWS:
        sql = list_views_sql;
        nparams = 1;
        break;
    case DB_DESCRIBE:
    case DB_VIEW_DEFINITION:
    case DB_SAMPLE:
        if (!req->object) {
            err_set(err, ERR_INVALID, "name the table or view to describe");
            ok = false;
            break;
        }
        ok = find_object(c, w, resolved, req->object, &f, err);
        if (ok && req->kind == DB_VIEW_DEFINITION && !f.is_view) {
            err_set(err, ERR_NOT_FOUND, "%s.%s is a table, not a view; use describe_table",
                    resolved, f.name);
            ok = false;
        }
        ok = ok && (req->kind == DB_VIEW_DEFINITION || check_kind(resolved, &f, req, err));
        if (req->kind == DB_SAMPLE) {
            ok = ok && sample_sql(resolved, f.name, call->max_rows, &sample, err);
            sql = sample.data;
            break;
        }
        sql = req->kind == DB_DESCRIBE ? describe_sql : view_definition_sql;
        params[0] = f.oid;
        nparams = 1;
        break;
    }
    if (ok)
        ok = pg_collect(c, w, sql, nparams, params, call->max_rows, call->max_bytes, r, meta, err);
    sb_free(&sample);
    free(f.oid);
    free(f.name);
    free(resolved);
    return ok;
}

static bool pg_catalog(db_conn *c, const db_call *call, const db_catalog_req *req, db_result **out,
                       err_t *err)
{
    *out = NULL;
    err_clear(err);
    const char *database = req->kind == DB_LIST_DATABASES ? NULL : req->database;
    if (!precheck(c, call, database, err))
        return false;
    waiter w = waiter_for(call);
    db_result *r = db_result_new();
    col_meta meta = {0};
    bool ok = catalog_in_tx(c, &w, call, req, r, &meta, err);
    tx_end(c);
    return finish_result(c, ok, r, &meta, out);
}

/* ---- naming ------------------------------------------------------------------- */

const db_driver postgres_driver = {
    .name = "postgres",
    .connect = pg_connect,
    .ping = pg_ping,
    .execute = pg_execute,
    .catalog = pg_catalog,
    .cancel = pg_cancel,
    .reset = pg_reset,
    .close = pg_close,
    .config_free = cfg_free,
};
