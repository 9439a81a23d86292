/* sfhttp: one HTTPS client context, as a pooled Snowflake connection uses it.
 *
 * An sfhttp owns a libcurl multi handle and one easy handle. Requests run
 * one at a time on the thread that owns the sfhttp; the multi handle keeps
 * the TLS connection (HTTP/2 when the server offers it) alive between
 * requests. Every wait — a transfer or a backoff pause — is a curl_multi_poll
 * that sfhttp_wakeup, called from any thread, interrupts at once; the
 * caller's stop function is consulted after every wake-up, so cancelling
 * never waits for a timer. Responses are decompressed (gzip/deflate) by
 * libcurl. Peer verification is always on; ca_file adds a CA bundle.
 *
 * Tokens passed in a request are copied into libcurl's header list and
 * wiped from it after the request. */
#ifndef SMCP_SFHTTP_H
#define SMCP_SFHTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/strbuf.h"

typedef struct sfhttp sfhttp;

/* Polled after every wake-up; true ends the wait or the transfer. */
typedef bool (*sfhttp_stop_fn)(void *ctx);

typedef struct sfhttp_req {
    const char *method;     /* "GET" or "POST" */
    const char *url;        /* https://host[:port]/path?query */
    const char *body;       /* POST body (JSON) or NULL */
    const char *bearer;     /* token for Authorization: Bearer, or NULL */
    const char *token_type; /* X-Snowflake-Authorization-Token-Type, or NULL */
    int64_t deadline_ns;    /* monotonic; 0 = SFHTTP_DEFAULT_TIMEOUT_MS */
    sfhttp_stop_fn stop;    /* may be NULL */
    void *stop_ctx;
} sfhttp_req;

typedef enum sfhttp_outcome {
    SFHTTP_RESPONSE, /* a complete HTTP response arrived (any status) */
    SFHTTP_STOPPED,  /* the stop function said so */
    SFHTTP_DEADLINE, /* the request's deadline passed */
    SFHTTP_NETWORK   /* a transport error; see not_sent and error */
} sfhttp_outcome;

typedef struct sfhttp_resp {
    long status;
    strbuf body;     /* initialised by sfhttp_perform; the caller frees it */
    bool not_sent;   /* the request provably never reached the server (set for
                      * SFHTTP_NETWORK, SFHTTP_STOPPED and SFHTTP_DEADLINE) */
    char error[256]; /* transport error text, when SFHTTP_NETWORK */
} sfhttp_resp;

#define SFHTTP_DEFAULT_TIMEOUT_MS (120 * 1000)
#define SFHTTP_CONNECT_TIMEOUT_MS (15 * 1000)
#define SFHTTP_MAX_BODY ((size_t)1 << 30)

/* NULL with err (ERR_INTERNAL) when libcurl cannot be initialised. */
sfhttp *sfhttp_new(const char *ca_file, err_t *err);
void sfhttp_free(sfhttp *h);

/* Runs one request to completion, stop or deadline. rs->body is always
 * initialised and must be freed with sb_free. */
sfhttp_outcome sfhttp_perform(sfhttp *h, const sfhttp_req *rq, sfhttp_resp *rs);

/* Waits until until_ns (monotonic) unless stop says otherwise first.
 * Returns true when the full time passed, false when stopped. */
bool sfhttp_wait(sfhttp *h, int64_t until_ns, sfhttp_stop_fn stop, void *stop_ctx);

/* Interrupts the current or the next wait of h; safe from any thread. */
void sfhttp_wakeup(sfhttp *h);

#endif
