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
 * ERR_CANCELLED or ERR_TIMEOUT.
 *
 * Reading an answer is split from the exchange: sfapi_read_answer and
 * sfapi_poll_target are pure functions of the status and body bytes (no
 * network, no state), so they can be tested and fuzzed on their own. */
#ifndef SMCP_SFAPI_H
#define SMCP_SFAPI_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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

/* What an error message says about the client, beside the answer. All
 * strings are borrowed for the call. */
typedef struct sfapi_client_info {
    const char *base_url;    /* "https://host[:port]" */
    sf_auth_type auth;       /* how the token was made */
    const char *token_type;  /* X-Snowflake-Authorization-Token-Type sent */
    const char *jwt_account; /* key-pair: the JWT's account part */
    const char *fingerprint; /* key-pair: "SHA256:…" of the public key */
    int attempts;            /* transient failures before this answer */
} sfapi_client_info;

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

/* Reads one final answer: the caller has already renewed the token after a
 * first 401 and retried transient statuses as it saw fit. True for a 200
 * or 202 whose body (len bytes, not NUL-terminated) is a JSON object or
 * array: *answer is the parsed body, a new reference. Otherwise false with
 * *answer NULL and err in Snowflake's words: its message (or a printable
 * excerpt of a body that is not JSON), its error code and SQL state, and
 * what to do; 401/403 ERR_AUTH, 404 ERR_CONNECT, 408 ERR_TIMEOUT, 422 by
 * its code (002003 ERR_NOT_FOUND, 000604 ERR_CANCELLED, 000630 ERR_TIMEOUT,
 * else ERR_SQL), 429/500/502/503/504 ERR_BUSY, other statuses ERR_SQL, a
 * 200/202 that is not JSON ERR_INTERNAL. fail (may be NULL) gets Snowflake's
 * error identity for any status but 200/202. */
bool sfapi_read_answer(long status, const char *body, size_t len, const sfapi_client_info *who,
                       json_t **answer, sfapi_fail *fail, err_t *err);

/* Where to poll the statement that a 202 answer describes. True with
 * *handle, its statementHandle, and *url: base_url followed by its
 * statementStatusUrl (a path; a '/' is put between them when it lacks one)
 * or, without one, by "/api/v2/statements/<handle>". The URL always starts
 * with base_url + "/", so it never leaves base_url's host. False, both
 * NULL, when the answer has no statementHandle. The caller frees both. */
bool sfapi_poll_target(const char *base_url, const json_t *answer, char **handle, char **url);

/* The JSON body sfapi_execute posts for st (caller frees). Exposed for tests. */
char *sfapi_request_body(const sfapi_stmt *st);

/* A random UUID v4 in out[37]. */
void sfapi_uuid(char out[37]);

#endif
