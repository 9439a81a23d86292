/* driver: the interface every database backend implements.
 *
 * A backend (db_backend) is a driver vtable plus that driver's parsed
 * configuration; it is created once at start-up by db_backend_open and lives
 * until db_backend_free. A connection (db_conn) is opaque and owned by
 * whoever called connect (in practice the pool) until close.
 *
 * Threading: one connection is used by one thread at a time, except
 * cancel(), which another thread may call at any time while execute() or
 * catalog() runs on that connection; it must be async-safe with respect to
 * that call and a no-op when nothing runs. It must not block (no network
 * I/O): it only signals the thread running the statement, which does the
 * server-side cancel itself.
 *
 * Errors: every fallible call fills err. ERR_CONN_LOST means the connection
 * is unusable and must be closed, never reused; err->never_ran additionally
 * says the statement provably did not start (safe to retry once elsewhere).
 * Drivers know nothing of MCP, the pool or tools. */
#ifndef SMCP_DRIVER_H
#define SMCP_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "db/result.h"

typedef struct db_conn db_conn;
typedef struct db_backend db_backend;

/* What one call asks of a connection. Strings are borrowed for the call. */
typedef struct db_call {
    const char *database;   /* NULL: the backend's default database */
    const char *schema;     /* NULL: the backend's default schema */
    int64_t deadline_ns;    /* monotonic; 0 = none. Past it: ERR_TIMEOUT */
    size_t max_rows;        /* keep at most this many rows (0 = no rows kept) */
    size_t max_bytes;       /* stop once kept cell bytes pass this (0 = unbounded) */
    atomic_bool *cancelled; /* may be NULL; when it turns true: ERR_CANCELLED */
} db_call;

typedef enum db_catalog_kind {
    DB_LIST_DATABASES,  /* columns: name, comment */
    DB_LIST_SCHEMAS,    /* columns: database, name, comment (needs database) */
    DB_LIST_TABLES,     /* columns: database, schema, name, kind, row_count, comment */
    DB_LIST_VIEWS,      /* columns: database, schema, name, comment */
    DB_DESCRIBE,        /* columns: name, type, nullable, default, primary_key, comment */
    DB_VIEW_DEFINITION, /* columns: definition (one row) */
    /* The first rows of database.schema.object, resolved as DB_DESCRIBE
     * resolves names; want_view/want_table as for DB_DESCRIBE;
     * call->max_rows caps the rows; the result's columns are the object's. */
    DB_SAMPLE
} db_catalog_kind;

/* A discovery request. database NULL = default; schema NULL = default;
 * object is required for DB_DESCRIBE, DB_VIEW_DEFINITION and
 * DB_SAMPLE. For DB_DESCRIBE and DB_SAMPLE, want_view/want_table restrict the object kind (both
 * false = either); a mismatch is ERR_NOT_FOUND naming the kind found. */
typedef struct db_catalog_req {
    db_catalog_kind kind;
    const char *database;
    const char *schema;
    const char *object;
    bool want_view;
    bool want_table;
} db_catalog_req;

typedef struct db_driver {
    const char *name; /* "sqlite", "postgres", "snowflake" */
    bool (*connect)(const db_backend *be, int64_t deadline_ns, db_conn **out, err_t *err);
    /* A cheap round trip proving the connection works. */
    bool (*ping)(db_conn *c, int64_t deadline_ns, err_t *err);
    /* Runs one read-only statement (already checked by the guard). On
     * success *out is a new result the caller frees with db_result_free. */
    bool (*execute)(db_conn *c, const db_call *call, const char *sql, db_result **out, err_t *err);
    bool (*catalog)(db_conn *c, const db_call *call, const db_catalog_req *req, db_result **out,
                    err_t *err);
    void (*cancel)(db_conn *c);
    /* Clears session state so nothing of one call reaches the next. */
    bool (*reset)(db_conn *c, err_t *err);
    void (*close)(db_conn *c);
    void (*config_free)(void *cfg);
} db_driver;

struct db_backend {
    const db_driver *driver;
    void *cfg;         /* owned; freed by driver->config_free */
    char *description; /* for logs: never contains a secret */
};

/* Creates a backend from a DSN: sqlite:///path (a file or a directory of
 * database files), postgres://… / postgresql://…, snowflake://. Fills err
 * with a message naming the accepted forms when the DSN is not understood. */
db_backend *db_backend_open(const char *dsn, err_t *err);
void db_backend_free(db_backend *be);

#endif
