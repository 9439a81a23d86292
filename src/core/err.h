/* err: the error object every fallible function in snowflake-mcp fills.
 *
 * A function that can fail returns false (or NULL) and fills an err_t the
 * caller owns, usually on its stack. The message is written for the person
 * reading it: what failed, why, and what to do. It never holds a secret.
 * err_t is a plain value: copy it freely; nothing inside needs freeing. */
#ifndef SMCP_ERR_H
#define SMCP_ERR_H

#include <stdbool.h>

typedef enum err_kind {
    ERR_NONE = 0,
    ERR_INVALID,   /* bad input from the caller (arguments, config) */
    ERR_REFUSED,   /* refused by the read-only guard or the engine's guard */
    ERR_SQL,       /* the database rejected the statement */
    ERR_CONN_LOST, /* the connection is gone: destroy it, never reuse it */
    ERR_CONNECT,   /* could not open a connection */
    ERR_TIMEOUT,   /* a deadline passed */
    ERR_CANCELLED, /* the caller cancelled */
    ERR_BUSY,      /* a bound was reached; retry later */
    ERR_NOT_FOUND, /* a named object does not exist */
    ERR_AUTH,      /* credentials rejected */
    ERR_INTERNAL   /* a bug or resource exhaustion */
} err_kind;

typedef struct err_t {
    err_kind kind;
    /* True when the failed statement provably never started on the server,
     * so a read-only retry on a fresh connection cannot run it twice. */
    bool never_ran;
    char msg[768];
} err_t;

void err_clear(err_t *e);
/* Sets kind and a printf-style message; a NULL e is allowed and ignored. */
void err_set(err_t *e, err_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "<prefix>: " keeping the kind. */
void err_prefix(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *err_kind_name(err_kind kind);

#endif
