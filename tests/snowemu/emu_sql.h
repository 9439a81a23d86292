/* emu_sql: runs the emulator's statements on the demo warehouse in SQLite.
 *
 * The warehouse is a directory of SQLite files, one per database
 * (SALES.db -> database SALES, schema PUBLIC). Each statement gets its own
 * connection: an in-memory main database with the request's database
 * attached first (so unqualified names resolve there) and the others after
 * it, every file read-only. Three-part names DB.PUBLIC.OBJ are rewritten to
 * DB.OBJ before SQLite sees them. A temp table EMU_TYPES holds one column of
 * each SQL API type so clients can exercise their decoders.
 *
 * emu_wh is immutable after emu_wh_open and may be shared by threads. */
#ifndef SNOWEMU_SQL_H
#define SNOWEMU_SQL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/err.h"
#include "emu_result.h"

typedef struct emu_wh emu_wh;

/* Opens the warehouse in dir (every *.db file). */
emu_wh *emu_wh_open(const char *dir, err_t *err);
void emu_wh_free(emu_wh *wh);
size_t emu_wh_count(const emu_wh *wh);
const char *emu_wh_name(const emu_wh *wh, size_t i);
const char *emu_wh_path(const emu_wh *wh, size_t i);
/* Index of database name (exact match), or -1. */
int emu_wh_find(const emu_wh *wh, const char *name);

/* The context a request carries; every field may be NULL. Borrowed. */
typedef struct emu_session {
    const char *database;
    const char *schema;
    const char *warehouse;
    const char *role;
    const char *user;
    const char *account;
} emu_session;

/* Fault injection a statement asks for in its comments. */
typedef struct emu_magic {
    int slow_ms; /* emu:slow=MS (answered 202 at once) */
    int work_ms; /* emu:work=MS (takes MS ms; the POST waits as for any statement) */
    int status;  /* emu:status=CODE,count=N (submissions) */
    int status_count;
    int poll_status; /* emu:poll_status=CODE,poll_count=N (GETs) */
    int poll_count;
    bool expire_token; /* emu:expire_token */
} emu_magic;

/* Splits text into its non-empty statements (each a new string, the array
 * and strings freed by emu_sql_free_list) and collects magic comments. */
bool emu_sql_split(const char *text, char ***out, size_t *n, emu_magic *magic, emu_error *e);
void emu_sql_free_list(char **list, size_t n);

/* Rewrites DB.PUBLIC.OBJ -> DB.OBJ and PUBLIC.OBJ -> OBJ. Caller frees. */
char *emu_sql_rewrite(const char *text);

/* Opens the per-statement connection described above. */
sqlite3 *emu_wh_connect(const emu_wh *wh, const emu_session *s, emu_error *e);

/* How a running statement is stopped. */
typedef struct emu_run_ctl {
    const atomic_bool *cancel; /* set by /cancel */
    int64_t deadline_ns;       /* monotonic; 0 = none */
    bool nullable;             /* false: SQL NULL is sent as the string "null" */
} emu_run_ctl;

/* Runs one statement (SQL or SHOW/DESCRIBE/GET_DDL). Returns the result, or
 * NULL with e set; an interrupted statement sets e->http to 0 (the caller
 * knows whether it was a cancel or a timeout). */
emu_result *emu_sql_run(const emu_wh *wh, const emu_session *s, const char *text, json_t *bindings,
                        const emu_run_ctl *ctl, emu_error *e);

/* Maps a SQLite declared type ("NUMERIC(12,2)", "DATE", "TIMESTAMP_TZ" ...)
 * to an API type; false when decl is empty. */
bool emu_sql_decl_type(const char *decl, emu_type *t, int *prec, int *scale);

/* Maps a SQLite error message to the Snowflake-style error. */
void emu_sql_map_error(const char *msg, emu_error *e);

#endif
