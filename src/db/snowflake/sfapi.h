/* sfapi: Snowflake SQL API v2 calls — submit, poll, result partitions,
 * cancel — with retries, token renewal and cancellation.
 *
 * One sfapi belongs to one pooled connection and is used by one thread at a
 * time; sfapi_wakeup may be called from any thread to make the running call
 * look at its stop flags at once. The sfauth is borrowed (shared by every
 * connection of the backend) and must outlive the sfapi.
 *
 * Protocol (REFERENCE/snowflake-sql-api.md): POST /api/v2/statements with a
 * fresh requestId; 202 → poll statementStatusUrl with backoff (250 ms
 * doubling to 5 s); 429/500/502/503/504 and network errors → jittered
 * exponential backoff, resending the same requestId with retry=true so a
 * statement never runs twice; 401 → renew the token once and resend; 408 →
 * ERR_TIMEOUT; 422 → the SQL error with its code and SQL state. When the
 * call is cancelled or its deadline passes while the statement runs, the
 * statement is cancelled on the server (POST …/cancel) before returning
 * ERR_CANCELLED or ERR_TIMEOUT. */
#ifndef SMCP_SFAPI_H
#define SMCP_SFAPI_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/snowflake/sfauth.h"

typedef struct sfapi sfapi;

typedef struct sfapi_stmt {
    const char *sql;
    const char *database, *schema, *warehouse, *role; /* NULL: omitted */
    int64_t deadline_ns;                              /* monotonic; 0 = none */
    atomic_bool *cancelled;                           /* the call's flag, may be NULL */
} sfapi_stmt;

/* Snowflake's own error identity of the last failure, when it gave one. */
typedef struct sfapi_fail {
    long http_status;
    char code[16];     /* e.g. "002003" */
    char sql_state[8]; /* e.g. "42S02" */
} sfapi_fail;

/* Server-side statement timeout sent when the call has no deadline. */
#define SFAPI_DEFAULT_TIMEOUT_S 3600
#define SFAPI_MAX_ATTEMPTS 6

/* base_url is "https://host[:port]" (no trailing slash). */
sfapi *sfapi_new(const char *base_url, sfauth *auth, const char *ca_file, err_t *err);
void sfapi_free(sfapi *api);

/* Asks the running call (if any) to stop; thread-safe. The flag stays set
 * until the next sfapi_execute starts. */
void sfapi_cancel(sfapi *api);

/* Runs st; on success *resp is the final 200 body (partition 0, with
 * resultSetMetaData and data), a new reference. fail may be NULL. */
bool sfapi_execute(sfapi *api, const sfapi_stmt *st, json_t **resp, sfapi_fail *fail, err_t *err);

/* Fetches result partition n (n >= 1) of a finished statement; *data is its
 * "data" array (new reference). Same retries and stop rules. */
bool sfapi_partition(sfapi *api, const sfapi_stmt *st, const char *handle, size_t n, json_t **data,
                     err_t *err);

/* The JSON body sfapi_execute posts for st (caller frees). Exposed for tests. */
char *sfapi_request_body(const sfapi_stmt *st);

/* A random UUID v4 in out[37]. */
void sfapi_uuid(char out[37]);

#endif
