#include "db/sqlite.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sql/quote.h"

/* The progress handler runs every this many VM steps: often enough that a
 * cancel or a deadline is noticed within microseconds, rarely enough to cost
 * nothing measurable. */
#define PROGRESS_STEPS 1000
/* The largest string or blob a statement may build; a guard against one
 * expression (printf('%.*c', 1e9, 'x')) exhausting memory. */
#define MAX_VALUE_BYTES (64 * 1024 * 1024)

typedef struct sqlite_db {
    char *name; /* upper-cased file stem, e.g. "SALES" */
    char *path; /* absolute */
    char *uri;  /* file:<path>?mode=ro */
} sqlite_db;

typedef struct sqlite_cfg {
    size_t n;
    sqlite_db *dbs;    /* sorted by name */
    size_t def;        /* index of the default database */
    bool all_attached; /* every database is ATTACHed in every handle */
} sqlite_cfg;

struct db_conn {
    const sqlite_cfg *cfg;
    sqlite3 **handles; /* cfg->n, opened lazily */
    /* cancel() may run on another thread: mu guards current so that an
     * interrupt never reaches a handle after the call using it ended. */
    pthread_mutex_t mu;
    sqlite3 *current;
    atomic_bool cancel_req;
};

/* State of one running statement, seen by the progress handler. */
typedef struct run_ctx {
    db_conn *conn;
    const db_call *call;
    int64_t started_ns;
    enum { STOP_NONE, STOP_CANCEL, STOP_DEADLINE } stopped;
} run_ctx;

/* ---- configuration ---------------------------------------------------- */

/* file: URIs need '%', '?' and '#' (and anything unusual) percent-encoded. */
static char *file_uri(const char *path)
{
    strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || strchr("/._-~", *p))
            sb_putc(&sb, (char)*p);
        else
            sb_printf(&sb, "%%%02X", *p);
    }
    sb_puts(&sb, "?mode=ro");
    return sb_detach(&sb);
}

static char *stem_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *name = xstrndup(base, n);
    for (char *q = name; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    return name;
}

static bool has_db_suffix(const char *name)
{
    static const char *const suffixes[] = {".db", ".sqlite", ".sqlite3"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcasecmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static void cfg_free(void *p)
{
    sqlite_cfg *cfg = p;
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->dbs[i].name);
        free(cfg->dbs[i].path);
        free(cfg->dbs[i].uri);
    }
    free(cfg->dbs);
    free(cfg);
}

/* Adds path under its stem's name; a second file with the same name is
 * skipped with a warning (first by file name wins). */
static void cfg_add(sqlite_cfg *cfg, const char *path)
{
    char *name = stem_name(path);
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcasecmp(cfg->dbs[i].name, name) == 0) {
            log_warn("sqlite", "skipping %s: database %s is already served from %s", path, name,
                     cfg->dbs[i].path);
            free(name);
            return;
        }
    }
    cfg->dbs = xrealloc(cfg->dbs, (cfg->n + 1) * sizeof *cfg->dbs);
    cfg->dbs[cfg->n] = (sqlite_db){name, xstrdup(path), file_uri(path)};
    cfg->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_db(const void *a, const void *b)
{
    return strcmp(((const sqlite_db *)a)->name, ((const sqlite_db *)b)->name);
}

static bool cfg_add_dir(sqlite_cfg *cfg, const char *dir, err_t *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        err_set(err, ERR_INVALID, "cannot read directory %s: %s", dir, strerror(errno));
        return false;
    }
    char **files = NULL;
    size_t nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_db_suffix(e->d_name))
            continue;
        strbuf path;
        sb_init(&path);
        sb_printf(&path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode)) {
            sb_free(&path);
            continue;
        }
        files = xrealloc(files, (nfiles + 1) * sizeof *files);
        files[nfiles++] = sb_detach(&path);
    }
    closedir(d);
    /* Sorted so that duplicate names resolve the same way on every start. */
    if (nfiles > 1)
        qsort(files, nfiles, sizeof *files, cmp_str);
    for (size_t i = 0; i < nfiles; i++) {
        cfg_add(cfg, files[i]);
        free(files[i]);
    }
    free(files);
    if (cfg->n == 0) {
        err_set(err, ERR_INVALID, "no database files (*.db, *.sqlite, *.sqlite3) in directory %s",
                dir);
        return false;
    }
    return true;
}

static char *describe_cfg(const sqlite_cfg *cfg, const char *path)
{
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "sqlite %s (", path);
    for (size_t i = 0; i < cfg->n; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", cfg->dbs[i].name);
    sb_putc(&sb, ')');
    return sb_detach(&sb);
}

/* SQLite's attach limit is a compile-time setting of the library we run on. */
static int attach_limit(void)
{
    sqlite3 *db = NULL;
    int limit = 10;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) ==
        SQLITE_OK)
        limit = sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, -1);
    sqlite3_close(db);
    return limit;
}

db_backend *sqlite_backend_open(const char *path, err_t *err)
{
    if (!path || !*path) {
        err_set(err, ERR_INVALID, "the SQLite DSN names no file or directory");
        return NULL;
    }
    char *abs = realpath(path, NULL);
    if (!abs) {
        err_set(err, ERR_INVALID, "cannot open SQLite path %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    sqlite_cfg *cfg = xcalloc(1, sizeof *cfg);
    bool ok = stat(abs, &st) == 0;
    if (!ok)
        err_set(err, ERR_INVALID, "cannot open SQLite path %s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        ok = cfg_add_dir(cfg, abs, err);
    else if (S_ISREG(st.st_mode))
        cfg_add(cfg, abs);
    else {
        err_set(err, ERR_INVALID, "SQLite path %s is neither a file nor a directory", path);
        ok = false;
    }
    if (!ok) {
        cfg_free(cfg);
        free(abs);
        return NULL;
    }
    if (cfg->n > 1)
        qsort(cfg->dbs, cfg->n, sizeof *cfg->dbs, cmp_db);
    /* ATTACH takes one slot per database, ours included. */
    int limit = attach_limit();
    cfg->all_attached = cfg->n <= (size_t)limit;
    if (!cfg->all_attached)
        log_warn("sqlite",
                 "%zu databases exceed SQLite's limit of %d attached databases: a query "
                 "reaches its own database and only some of the others",
                 cfg->n, limit);
    db_backend *be = xcalloc(1, sizeof *be);
    be->driver = &sqlite_driver;
    be->cfg = cfg;
    be->description = describe_cfg(cfg, abs);
    free(abs);
    return be;
}

/* Finds a database by name (NULL: the default). */
static bool find_db(const sqlite_cfg *cfg, const char *name, size_t *idx, err_t *err)
{
    if (!name) {
        *idx = cfg->def;
        return true;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcasecmp(cfg->dbs[i].name, name) == 0) {
            *idx = i;
            return true;
        }
    }
    strbuf names;
    sb_init(&names);
    for (size_t i = 0; i < cfg->n; i++)
        sb_printf(&names, "%s%s", i ? ", " : "", cfg->dbs[i].name);
    err_set(err, ERR_NOT_FOUND, "database %s does not exist; available databases: %s", name,
            names.data);
    sb_free(&names);
    return false;
}

static bool check_schema(const sqlite_cfg *cfg, size_t idx, const char *schema, err_t *err)
{
    if (!schema || strcasecmp(schema, "PUBLIC") == 0 || strcasecmp(schema, "main") == 0)
        return true;
    err_set(err, ERR_NOT_FOUND,
            "schema %s does not exist in database %s; its only schema is PUBLIC", schema,
            cfg->dbs[idx].name);
    return false;
}

const char *sqlite_backend_default_database(const db_backend *be)
{
    const sqlite_cfg *cfg = be->cfg;
    return cfg->dbs[cfg->def].name;
}

/* ---- the engine's guard ----------------------------------------------- */

/* Introspection pragmas that only read; their argument names an object. */
static bool pragma_allowed(const char *name)
{
    static const char *const ok[] = {
        "table_info",  "table_xinfo",      "table_list",      "index_list",     "index_info",
        "index_xinfo", "foreign_key_list", "database_list",   "collation_list", "function_list",
        "module_list", "pragma_list",      "compile_options", "data_version"};
    for (size_t i = 0; name && i < sizeof ok / sizeof *ok; i++) {
        if (strcasecmp(name, ok[i]) == 0)
            return true;
    }
    return false;
}

/* Functions that reach outside the database (files, shared libraries) or
 * change how it is read. */
static bool function_allowed(const char *name)
{
    static const char *const denied[] = {"load_extension", "readfile", "writefile", "edit",
                                         "fts3_tokenizer"};
    for (size_t i = 0; name && i < sizeof denied / sizeof *denied; i++) {
        if (strcasecmp(name, denied[i]) == 0)
            return false;
    }
    return true;
}

/* An R-tree prepares (never runs) writes of its shadow tables when it
 * connects; denying them would make the table unreadable. Writes stay
 * impossible: statements must be sqlite3_stmt_readonly, the file is opened
 * read-only, query_only is on and defensive mode is set. */
static bool shadow_table(const char *name)
{
    static const char *const suffixes[] = {"_node", "_rowid", "_parent"};
    size_t n = name ? strlen(name) : 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcasecmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* Allows reading and nothing else: every action not listed (writes, DDL,
 * transactions, ATTACH/DETACH, savepoints, ANALYZE, REINDEX…) is denied. */
static int authorize(void *ud, int action, const char *a1, const char *a2, const char *dbname,
                     const char *trigger)
{
    (void)ud;
    (void)dbname;
    (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:
        return function_allowed(a2) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_PRAGMA:
        return pragma_allowed(a1) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_UPDATE:
        /* The first use of an eponymous virtual table (pragma_table_info,
         * json_each…) on a connection compiles a nested UPDATE of
         * sqlite_master that never runs. A user's UPDATE of it is still
         * refused: sqlite3_stmt_readonly is false, the file is read-only,
         * query_only is on and defensive mode forbids schema writes. */
        if (a1 && strcasecmp(a1, "sqlite_master") == 0)
            return SQLITE_OK;
        return shadow_table(a1) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_INSERT:
    case SQLITE_DELETE:
        return shadow_table(a1) ? SQLITE_OK : SQLITE_DENY;
    default:
        return SQLITE_DENY;
    }
}

/* ---- handles -------------------------------------------------------- */

static bool exec_plain(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static bool attach_one(sqlite3 *db, const sqlite_db *d)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS ?2", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, d->uri, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        log_warn("sqlite", "cannot attach database %s (%s): %s", d->name, d->path,
                 sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok;
}

/* Attaches the handle's own database first (so SALES.X works from SALES),
 * then the others by name, as far as SQLite's attach limit allows. */
static void attach_all(sqlite3 *db, const sqlite_cfg *cfg, size_t own)
{
    int limit = sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, -1);
    int attached = 0;
    for (size_t k = 0; k < cfg->n && attached < limit; k++) {
        size_t i = k == 0 ? own : (k <= own ? k - 1 : k);
        const char *name = cfg->dbs[i].name;
        if (strcasecmp(name, "main") == 0 || strcasecmp(name, "temp") == 0)
            continue; /* reserved schema names */
        if (attach_one(db, &cfg->dbs[i]))
            attached++;
    }
    /* No further ATTACH, even past the authorizer. */
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, attached);
}

static void harden(sqlite3 *db)
{
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
#endif
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES);
}

static sqlite3 *open_handle(const sqlite_cfg *cfg, size_t idx, err_t *err)
{
    const sqlite_db *d = &cfg->dbs[idx];
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(d->uri, &db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        harden(db);
        /* Reading the schema proves the file is a database we can read. */
        if (!exec_plain(db, "PRAGMA query_only=1") ||
            !exec_plain(db, "SELECT count(*) FROM main.sqlite_master"))
            rc = sqlite3_errcode(db);
    }
    if (rc != SQLITE_OK) {
        err_set(err, ERR_CONNECT, "cannot open SQLite database %s (%s): %s", d->name, d->path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        err->never_ran = true;
        sqlite3_close(db);
        return NULL;
    }
    /* Attaching must happen before the authorizer, which denies ATTACH. */
    attach_all(db, cfg, idx);
    sqlite3_set_authorizer(db, authorize, NULL);
    return db;
}

static sqlite3 *conn_handle(db_conn *c, size_t idx, err_t *err)
{
    if (!c->handles[idx])
        c->handles[idx] = open_handle(c->cfg, idx, err);
    return c->handles[idx];
}

/* ---- running statements --------------------------------------------- */

static int on_progress(void *p)
{
    run_ctx *ctx = p;
    const db_call *call = ctx->call;
    if (atomic_load(&ctx->conn->cancel_req) || (call->cancelled && atomic_load(call->cancelled))) {
        ctx->stopped = STOP_CANCEL;
        return 1;
    }
    if (call->deadline_ns && clock_now_ns() >= call->deadline_ns) {
        ctx->stopped = STOP_DEADLINE;
        return 1;
    }
    return 0;
}

static bool begin_run(db_conn *c, sqlite3 *db, const db_call *call, run_ctx *ctx, err_t *err)
{
    *ctx = (run_ctx){.conn = c, .call = call, .started_ns = clock_now_ns()};
    if (call->cancelled && atomic_load(call->cancelled)) {
        err_set(err, ERR_CANCELLED, "the query was cancelled before it started");
        err->never_ran = true;
        return false;
    }
    if (call->deadline_ns && ctx->started_ns >= call->deadline_ns) {
        err_set(err, ERR_TIMEOUT, "the time limit passed before the query started");
        err->never_ran = true;
        return false;
    }
    pthread_mutex_lock(&c->mu);
    c->current = db;
    atomic_store(&c->cancel_req, false);
    pthread_mutex_unlock(&c->mu);
    sqlite3_progress_handler(db, PROGRESS_STEPS, on_progress, ctx);
    return true;
}

static void end_run(db_conn *c, sqlite3 *db)
{
    sqlite3_progress_handler(db, 0, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->current = NULL;
    pthread_mutex_unlock(&c->mu);
}

/* Turns a failed SQLite call into an err_t the pool and the user act on. */
static void set_sqlite_error(sqlite3 *db, int rc, const run_ctx *ctx, err_t *err)
{
    const char *msg = sqlite3_errmsg(db);
    int code = rc & 0xff;
    /* A function the authorizer denied comes back as a plain SQLITE_ERROR. */
    if (code == SQLITE_ERROR && strncmp(msg, "not authorized", 14) == 0)
        code = SQLITE_AUTH;
    switch (code) {
    case SQLITE_INTERRUPT:
        if (ctx && ctx->stopped == STOP_DEADLINE) {
            err_set(err, ERR_TIMEOUT, "query exceeded its time limit of %lld ms and was stopped",
                    (long long)((ctx->call->deadline_ns - ctx->started_ns) / CLOCK_NS_PER_MS));
        } else {
            err_set(err, ERR_CANCELLED, "the query was cancelled");
        }
        break;
    case SQLITE_AUTH:
    case SQLITE_READONLY:
        err_set(err, ERR_REFUSED, "refused by the SQLite read-only guard: %s", msg);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        err_set(err, ERR_CONN_LOST, "the SQLite database can no longer be read: %s", msg);
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err_set(err, ERR_BUSY, "the SQLite database is locked by a writer (%s); retry shortly",
                msg);
        break;
    case SQLITE_NOMEM:
        err_set(err, ERR_INTERNAL, "SQLite ran out of memory");
        break;
    case SQLITE_TOOBIG:
        err_set(err, ERR_SQL, "%s (values are limited to %d MiB)", msg, MAX_VALUE_BYTES >> 20);
        break;
    default:
        err_set(err, ERR_SQL, "%s", msg);
        break;
    }
}

/* True when only whitespace, ';' and comments remain. */
static bool only_trivia(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ';')
            p++;
        if (!*p)
            return true;
        if (p[0] == '-' && p[1] == '-') {
            p = strchr(p, '\n');
            if (!p)
                return true;
        } else if (p[0] == '/' && p[1] == '*') {
            p = strstr(p + 2, "*/");
            if (!p)
                return true; /* SQLite too reads an open comment to the end */
            p += 2;
        } else {
            return false;
        }
    }
}

/* Prepares exactly one statement: the text must hold one and only one. */
static bool prepare_one(sqlite3 *db, const char *sql, sqlite3_stmt **out, err_t *err)
{
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, 0, out, &tail);
    if (rc != SQLITE_OK) {
        set_sqlite_error(db, rc, NULL, err);
        err->never_ran = true;
        return false;
    }
    if (!*out) {
        err_set(err, ERR_INVALID, "there is no SQL statement to run");
        return false;
    }
    if (tail && !only_trivia(tail)) {
        err_set(err, ERR_REFUSED,
                "only one statement per call is allowed; found more after the first");
        return false;
    }
    if (!sqlite3_stmt_readonly(*out)) {
        err_set(err, ERR_REFUSED,
                "refused by the SQLite read-only guard: the statement "
                "would change the database");
        return false;
    }
    return true;
}

/* Replaces every invalid UTF-8 sequence with U+FFFD. */
static json_t *sanitized_string(const unsigned char *s, size_t n)
{
    strbuf sb;
    sb_init(&sb);
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (s[i + k] & 0xc0) == 0x80;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* No overlong forms, surrogates or code points past U+10FFFF. */
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = false;
        if (ok) {
            sb_append(&sb, (const char *)s + i, len);
            i += len;
        } else {
            sb_puts(&sb, "\xef\xbf\xbd");
            i++;
        }
    }
    json_t *v = json_stringn(sb.data, sb.len);
    sb_free(&sb);
    return v ? v : json_string("\xef\xbf\xbd");
}

static json_t *cell_value(sqlite3_stmt *st, int i, size_t *bytes)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        *bytes += 8;
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, i);
        *bytes += 8;
        return isfinite(d) ? json_real(d) : json_null();
    }
    case SQLITE_TEXT: {
        const unsigned char *s = sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        *bytes += n;
        json_t *v = json_stringn((const char *)s, n);
        return v ? v : sanitized_string(s, n);
    }
    case SQLITE_BLOB: {
        static const char hex[] = "0123456789ABCDEF";
        const unsigned char *b = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        char *h = xmalloc(2 * n + 1);
        for (size_t k = 0; k < n; k++) {
            h[2 * k] = hex[b[k] >> 4];
            h[2 * k + 1] = hex[b[k] & 15];
        }
        h[2 * n] = '\0';
        *bytes += 2 * n;
        json_t *v = json_stringn(h, 2 * n);
        free(h);
        return v;
    }
    default:
        return json_null();
    }
}

static const char *runtime_type(int t)
{
    switch (t) {
    case SQLITE_INTEGER:
        return "INTEGER";
    case SQLITE_FLOAT:
        return "REAL";
    case SQLITE_BLOB:
        return "BLOB";
    default:
        return "TEXT";
    }
}

/* Nullability from the table column a result column reads, -1 when it is an
 * expression. */
static int column_nullable(sqlite3 *db, sqlite3_stmt *st, int i)
{
    const char *dbname = sqlite3_column_database_name(st, i);
    const char *table = sqlite3_column_table_name(st, i);
    const char *origin = sqlite3_column_origin_name(st, i);
    int notnull = 0;
    if (!dbname || !table || !origin ||
        sqlite3_table_column_metadata(db, dbname, table, origin, NULL, NULL, &notnull, NULL,
                                      NULL) != SQLITE_OK)
        return -1;
    return notnull ? 0 : 1;
}

typedef struct col_info {
    const char *type; /* declared type, or NULL until a value shows it */
    int nullable;
} col_info;

/* Steps st into a result, keeping at most max_rows rows and stopping once
 * kept bytes pass max_bytes. At a limit it steps once more, only to learn
 * whether more rows existed; the rest of the statement never runs. */
static bool collect_rows(sqlite3 *db, sqlite3_stmt *st, const db_call *call, const run_ctx *ctx,
                         db_result **out, err_t *err)
{
    int ncols = sqlite3_column_count(st);
    col_info *cols = xcalloc((size_t)ncols + 1, sizeof *cols);
    for (int i = 0; i < ncols; i++) {
        const char *decl = sqlite3_column_decltype(st, i);
        cols[i].type = decl && *decl ? decl : NULL;
        cols[i].nullable = column_nullable(db, st, i);
    }
    db_result *r = db_result_new();
    bool over_bytes = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (db_result_row_count(r) >= call->max_rows || over_bytes) {
            r->truncated = true;
            r->truncated_by = over_bytes ? "byte limit" : "row limit";
            break;
        }
        json_t *row = json_array();
        for (int i = 0; i < ncols; i++) {
            int t = sqlite3_column_type(st, i);
            if (t != SQLITE_NULL && !cols[i].type)
                cols[i].type = runtime_type(t);
            if (t == SQLITE_NULL && cols[i].nullable == 0)
                cols[i].nullable = 1; /* e.g. the far side of an outer join */
            json_array_append_new(row, cell_value(st, i, &r->bytes));
        }
        db_result_add_row(r, row);
        over_bytes = call->max_bytes && r->bytes > call->max_bytes;
    }
    bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    if (ok) {
        for (int i = 0; i < ncols; i++)
            db_result_add_column(r, sqlite3_column_name(st, i),
                                 cols[i].type ? cols[i].type : "TEXT", cols[i].nullable);
        *out = r;
    } else {
        set_sqlite_error(db, rc, ctx, err);
        db_result_free(r);
    }
    free(cols);
    return ok;
}

/* Resolves call's database and schema to a ready handle. */
static sqlite3 *call_handle(db_conn *c, const char *database, const char *schema, size_t *idx,
                            err_t *err)
{
    if (!find_db(c->cfg, database, idx, err) || !check_schema(c->cfg, *idx, schema, err))
        return NULL;
    return conn_handle(c, *idx, err);
}

static bool sqlite_execute(db_conn *c, const db_call *call, const char *sql, db_result **out,
                           err_t *err)
{
    *out = NULL;
    size_t idx;
    sqlite3 *db = call_handle(c, call->database, call->schema, &idx, err);
    run_ctx ctx;
    if (!db || !begin_run(c, db, call, &ctx, err))
        return false;
    sqlite3_stmt *st = NULL;
    bool ok = prepare_one(db, sql, &st, err) && collect_rows(db, st, call, &ctx, out, err);
    sqlite3_finalize(st);
    end_run(c, db);
    return ok;
}

/* ---- catalog -------------------------------------------------------- */

/* A prepared catalog query with its text parameters bound. */
static sqlite3_stmt *catalog_query(sqlite3 *db, const char *sql, const char *p1, err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && p1)
        rc = sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        set_sqlite_error(db, rc, NULL, err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static json_t *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s)
        return json_null();
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    json_t *v = json_stringn((const char *)s, n);
    return v ? v : sanitized_string(s, n);
}

typedef struct col_spec {
    const char *name;
    const char *type;
    int nullable;
} col_spec;

#define ADD_COLUMNS(r, spec) add_columns(r, spec, sizeof spec / sizeof *spec)

static void add_columns(db_result *r, const col_spec *spec, size_t n)
{
    for (size_t i = 0; i < n; i++)
        db_result_add_column(r, spec[i].name, spec[i].type, spec[i].nullable);
}

static void list_databases(const sqlite_cfg *cfg, db_result *r)
{
    static const col_spec spec[] = {{"name", "TEXT", 0}, {"comment", "TEXT", 1}};
    ADD_COLUMNS(r, spec);
    for (size_t i = 0; i < cfg->n; i++) {
        const char *base = strrchr(cfg->dbs[i].path, '/');
        strbuf c;
        sb_init(&c);
        sb_printf(&c, "SQLite file %s", base ? base + 1 : cfg->dbs[i].path);
        db_result_add_row(r, json_pack("[s,s]", cfg->dbs[i].name, c.data));
        sb_free(&c);
    }
}

static void list_schemas(const sqlite_cfg *cfg, size_t idx, db_result *r)
{
    static const col_spec spec[] = {
        {"database", "TEXT", 0}, {"name", "TEXT", 0}, {"comment", "TEXT", 1}};
    ADD_COLUMNS(r, spec);
    db_result_add_row(r, json_pack("[s,s,s]", cfg->dbs[idx].name, "PUBLIC",
                                   "the SQLite database's only schema (main)"));
}

/* Steps a catalog statement to the end; rows go through add_row. */
static bool step_catalog(sqlite3 *db, sqlite3_stmt *st, const run_ctx *ctx, db_result *r,
                         json_t *(*make_row)(sqlite3_stmt *, const char *), const char *dbname,
                         err_t *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        db_result_add_row(r, make_row(st, dbname));
    if (rc != SQLITE_DONE) {
        set_sqlite_error(db, rc, ctx, err);
        return false;
    }
    return true;
}

static json_t *table_row(sqlite3_stmt *st, const char *dbname)
{
    return json_pack("[s,s,o,o,n,n]", dbname, "PUBLIC", text_or_null(st, 0), text_or_null(st, 1));
}

static json_t *view_row(sqlite3_stmt *st, const char *dbname)
{
    return json_pack("[s,s,o,n]", dbname, "PUBLIC", text_or_null(st, 0));
}

static bool list_objects(sqlite3 *db, const run_ctx *ctx, const char *dbname, bool views,
                         db_result *r, err_t *err)
{
    static const col_spec tspec[] = {{"database", "TEXT", 0},     {"schema", "TEXT", 0},
                                     {"name", "TEXT", 0},         {"kind", "TEXT", 0},
                                     {"row_count", "INTEGER", 1}, {"comment", "TEXT", 1}};
    static const col_spec vspec[] = {{"database", "TEXT", 0},
                                     {"schema", "TEXT", 0},
                                     {"name", "TEXT", 0},
                                     {"comment", "TEXT", 1}};
    /* Row counts stay NULL: counting is unbounded work on a big table. */
    static const char tables[] =
        "SELECT name, CASE WHEN sql LIKE 'CREATE VIRTUAL%' THEN 'VIRTUAL TABLE' ELSE 'TABLE' "
        "END FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
        "ESCAPE '!' ORDER BY name";
    static const char views_sql[] =
        "SELECT name FROM main.sqlite_master WHERE type = 'view' ORDER BY name";
    if (views)
        ADD_COLUMNS(r, vspec);
    else
        ADD_COLUMNS(r, tspec);
    sqlite3_stmt *st = catalog_query(db, views ? views_sql : tables, NULL, err);
    if (!st)
        return false;
    bool ok = step_catalog(db, st, ctx, r, views ? view_row : table_row, dbname, err);
    sqlite3_finalize(st);
    return ok;
}

/* Looks an object up case-insensitively; fills its stored name and kind
 * ("table"/"view") and the CREATE statement when asked. */
static bool find_object(sqlite3 *db, const char *dbname, const char *object, char **name,
                        char **kind, char **sql, err_t *err)
{
    sqlite3_stmt *st = catalog_query(db,
                                     "SELECT name, type, sql FROM main.sqlite_master "
                                     "WHERE type IN ('table', 'view') AND name = ?1 "
                                     "COLLATE NOCASE AND name NOT LIKE 'sqlite!_%' ESCAPE '!' "
                                     "ORDER BY name = ?1 DESC LIMIT 1",
                                     object, err);
    if (!st)
        return false;
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW;
    if (ok) {
        *name = xstrdup((const char *)sqlite3_column_text(st, 0));
        *kind = xstrdup((const char *)sqlite3_column_text(st, 1));
        if (sql) {
            const char *s = (const char *)sqlite3_column_text(st, 2);
            *sql = s ? xstrdup(s) : NULL;
        }
    } else if (rc == SQLITE_DONE) {
        err_set(err, ERR_NOT_FOUND,
                "%s.PUBLIC.%s does not exist; use list_tables or list_views to see what does",
                dbname, object);
    } else {
        set_sqlite_error(db, rc, NULL, err);
    }
    sqlite3_finalize(st);
    return ok;
}

static bool check_kind(const char *dbname, const char *name, const char *kind, bool want_view,
                       bool want_table, err_t *err)
{
    bool is_view = strcmp(kind, "view") == 0;
    if (want_view && !want_table && !is_view) {
        err_set(err, ERR_NOT_FOUND, "%s.PUBLIC.%s is a table, not a view; use describe_table",
                dbname, name);
        return false;
    }
    if (want_table && !want_view && is_view) {
        err_set(err, ERR_NOT_FOUND, "%s.PUBLIC.%s is a view, not a table; use describe_view",
                dbname, name);
        return false;
    }
    return true;
}

static bool describe(sqlite3 *db, const run_ctx *ctx, const char *dbname, const db_catalog_req *req,
                     db_result *r, err_t *err)
{
    static const col_spec spec[] = {{"name", "TEXT", 0},           {"type", "TEXT", 0},
                                    {"nullable", "BOOLEAN", 0},    {"default", "TEXT", 1},
                                    {"primary_key", "BOOLEAN", 0}, {"comment", "TEXT", 1}};
    char *name = NULL, *kind = NULL;
    if (!find_object(db, dbname, req->object, &name, &kind, NULL, err))
        return false;
    bool ok = check_kind(dbname, name, kind, req->want_view, req->want_table, err);
    sqlite3_stmt *st = NULL;
    if (ok) {
        /* hidden = 1 marks a virtual table's hidden columns, not data. */
        st = catalog_query(db,
                           "SELECT name, type, \"notnull\", dflt_value, pk, "
                           "(SELECT count(*) FROM pragma_table_xinfo(?1, 'main') WHERE pk > 0) "
                           "FROM pragma_table_xinfo(?1, 'main') WHERE hidden <> 1 ORDER BY cid",
                           name, err);
        ok = st != NULL;
    }
    if (ok) {
        ADD_COLUMNS(r, spec);
        bool is_table = strcmp(kind, "table") == 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *type = (const char *)sqlite3_column_text(st, 1);
            bool pk = sqlite3_column_int(st, 4) > 0;
            /* A lone INTEGER PRIMARY KEY is the rowid: never NULL. */
            bool rowid = is_table && pk && sqlite3_column_int(st, 5) == 1 && type &&
                         strcasecmp(type, "INTEGER") == 0;
            bool nullable = !sqlite3_column_int(st, 2) && !rowid;
            db_result_add_row(r, json_pack("[o,s,b,o,b,n]", text_or_null(st, 0), type ? type : "",
                                           nullable, text_or_null(st, 3), pk));
        }
        if (rc != SQLITE_DONE) {
            set_sqlite_error(db, rc, ctx, err);
            ok = false;
        }
    }
    sqlite3_finalize(st);
    free(name);
    free(kind);
    return ok;
}

static bool view_definition(sqlite3 *db, const char *dbname, const char *object, db_result *r,
                            err_t *err)
{
    char *name = NULL, *kind = NULL, *sql = NULL;
    if (!find_object(db, dbname, object, &name, &kind, &sql, err))
        return false;
    bool ok = strcmp(kind, "view") == 0;
    if (ok) {
        db_result_add_column(r, "definition", "TEXT", 0);
        db_result_add_row(r, json_pack("[s]", sql ? sql : ""));
    } else {
        err_set(err, ERR_NOT_FOUND, "%s.PUBLIC.%s is a table, not a view; use describe_table",
                dbname, name);
    }
    free(name);
    free(kind);
    free(sql);
    return ok;
}

/* The first rows of an object, named as describe resolves it. The handle is
 * the object's own database, so main is always the right qualifier. */
static bool sample(sqlite3 *db, const db_call *call, const run_ctx *ctx, const char *dbname,
                   const db_catalog_req *req, db_result **out, err_t *err)
{
    char *name = NULL, *kind = NULL;
    if (!find_object(db, dbname, req->object, &name, &kind, NULL, err))
        return false;
    bool ok = check_kind(dbname, name, kind, req->want_view, req->want_table, err);
    strbuf sql;
    sb_init(&sql);
    sb_puts(&sql, "SELECT * FROM main.");
    ok = ok && sql_quote_ident(name, &sql, err);
    /* One row past the limit lets collect_rows see that more exist. */
    sb_printf(&sql, " LIMIT %zu", call->max_rows + 1);
    sqlite3_stmt *st = NULL;
    ok = ok && prepare_one(db, sql.data, &st, err) && collect_rows(db, st, call, ctx, out, err);
    sqlite3_finalize(st);
    sb_free(&sql);
    free(name);
    free(kind);
    return ok;
}

static bool sqlite_catalog(db_conn *c, const db_call *call, const db_catalog_req *req,
                           db_result **out, err_t *err)
{
    *out = NULL;
    const sqlite_cfg *cfg = c->cfg;
    db_result *r = db_result_new();
    if (req->kind == DB_LIST_DATABASES) {
        list_databases(cfg, r);
        *out = r;
        return true;
    }
    const char *database = req->database ? req->database : call->database;
    const char *schema = req->schema ? req->schema : call->schema;
    size_t idx;
    bool ok = find_db(cfg, database, &idx, err);
    if (ok && req->kind == DB_LIST_SCHEMAS) {
        list_schemas(cfg, idx, r); /* lists every schema: no schema to check */
        *out = r;
        return true;
    }
    ok = ok && check_schema(cfg, idx, schema, err);
    if (ok &&
        (req->kind == DB_DESCRIBE || req->kind == DB_VIEW_DEFINITION || req->kind == DB_SAMPLE) &&
        (!req->object || !*req->object)) {
        err_set(err, ERR_INVALID, "an object name is required");
        ok = false;
    }
    sqlite3 *db = ok ? conn_handle(c, idx, err) : NULL;
    run_ctx ctx;
    if (!db || !begin_run(c, db, call, &ctx, err)) {
        db_result_free(r);
        return false;
    }
    const char *dbname = cfg->dbs[idx].name;
    switch (req->kind) {
    case DB_LIST_TABLES:
    case DB_LIST_VIEWS:
        ok = list_objects(db, &ctx, dbname, req->kind == DB_LIST_VIEWS, r, err);
        break;
    case DB_DESCRIBE:
        ok = describe(db, &ctx, dbname, req, r, err);
        break;
    case DB_VIEW_DEFINITION:
        ok = view_definition(db, dbname, req->object, r, err);
        break;
    case DB_SAMPLE:
        db_result_free(r);
        r = NULL;
        ok = sample(db, call, &ctx, dbname, req, &r, err);
        break;
    default:
        err_set(err, ERR_INVALID, "unknown catalog request");
        ok = false;
        break;
    }
    end_run(c, db);
    if (ok)
        *out = r;
    else
        db_result_free(r);
    return ok;
}

/* ---- connection lifecycle ------------------------------------------- */

static bool sqlite_connect(const db_backend *be, int64_t deadline_ns, db_conn **out, err_t *err)
{
    (void)deadline_ns; /* opening a local file does not wait on anything */
    const sqlite_cfg *cfg = be->cfg;
    db_conn *c = xcalloc(1, sizeof *c);
    c->cfg = cfg;
    c->handles = xcalloc(cfg->n, sizeof *c->handles);
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->cancel_req, false);
    /* Opening the default database now makes a bad file a connect error. */
    if (!conn_handle(c, cfg->def, err)) {
        sqlite_driver.close(c);
        *out = NULL;
        return false;
    }
    *out = c;
    return true;
}

static bool sqlite_ping(db_conn *c, int64_t deadline_ns, err_t *err)
{
    sqlite3 *db = conn_handle(c, c->cfg->def, err);
    db_call call = {.deadline_ns = deadline_ns};
    run_ctx ctx;
    if (!db || !begin_run(c, db, &call, &ctx, err))
        return false;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW;
    if (!ok)
        set_sqlite_error(db, rc, &ctx, err);
    sqlite3_finalize(st);
    end_run(c, db);
    return ok;
}

static void sqlite_cancel(db_conn *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->current) {
        atomic_store(&c->cancel_req, true);
        sqlite3_interrupt(c->current);
    }
    pthread_mutex_unlock(&c->mu);
}

static bool sqlite_reset(db_conn *c, err_t *err)
{
    for (size_t i = 0; i < c->cfg->n; i++) {
        sqlite3 *db = c->handles[i];
        if (!db)
            continue;
        /* Our own statements are finalized where they are prepared; those
         * still open belong to virtual tables (FTS caches its own) and
         * must not be touched. The authorizer forbids transactions; one open here means the
         * handle is not in the state we left it in. */
        if (!sqlite3_get_autocommit(db)) {
            err_set(err, ERR_CONN_LOST, "SQLite handle for %s was left inside a transaction",
                    c->cfg->dbs[i].name);
            return false;
        }
    }
    return true;
}

static void sqlite_close(db_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cfg->n; i++) {
        /* close_v2: virtual tables finalize their own statements as the
         * handle goes away. */
        if (c->handles[i])
            sqlite3_close_v2(c->handles[i]);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->handles);
    free(c);
}

const db_driver sqlite_driver = {
    .name = "sqlite",
    .connect = sqlite_connect,
    .ping = sqlite_ping,
    .execute = sqlite_execute,
    .catalog = sqlite_catalog,
    .cancel = sqlite_cancel,
    .reset = sqlite_reset,
    .close = sqlite_close,
    .config_free = cfg_free,
};
