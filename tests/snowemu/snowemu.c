/* snowemu: an emulator of Snowflake's SQL API v2 for tests.
 *
 * Serves the three SQL API endpoints over HTTPS on 127.0.0.1, backed by the
 * demo warehouse in SQLite, with fault injection (slow statements, injected
 * HTTP statuses, expired tokens) and a stats endpoint so tests can check
 * what a client really did. See README.md beside this file.
 *
 * Threads: libmicrohttpd runs one thread per connection; each statement runs
 * in its own detached worker thread. One mutex guards every statement,
 * request record and counter; one condition variable (monotonic clock)
 * signals state changes. No SQLite or file I/O happens under the mutex. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "db/demo.h"
#include "emu_auth.h"
#include "emu_result.h"
#include "emu_sql.h"

#define MAX_BODY (2 * 1024 * 1024)

typedef enum st_status { ST_RUNNING, ST_DONE, ST_FAILED, ST_CANCELLED, ST_TIMEOUT } st_status;

static const char *const status_names[] = {"running", "succeeded", "failed", "cancelled",
                                           "timeout"};

typedef struct stmt {
    char handle[37];
    char *request_id; /* may be NULL */
    st_status status;
    emu_result *result;
    emu_error err;
    long long created_ms; /* wall clock, for createdOn */
    int64_t start_ns;
    int64_t deadline_ns; /* 0 = none */
    int timeout_s;
    atomic_bool cancel;
    emu_magic magic;
    int poll_injected;
    int polls;
    /* what the worker runs */
    char **texts;
    size_t ntexts;
    json_t *bindings;
    bool nullable;
    char *db, *schema, *warehouse, *role;
    json_t *children; /* handles of a multi-statement request, or NULL */
} stmt;

typedef struct reqrec {
    char *id;
    int submissions, executions, retries, deduplicated, injected;
    bool expired_once;
    stmt *last;
    json_t *handles;
    json_t *tokens;
} reqrec;

typedef struct token_seen {
    char hash[17];
    bool revoked;
} token_seen;

typedef struct server {
    /* configuration, read-only after start */
    emu_wh *wh;
    emu_auth *auth;
    size_t rows_per_part;
    int64_t sync_wait_ms;
    char *default_db;
    const char *account, *user;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    stmt **stmts;
    size_t nstmts;
    reqrec **reqs;
    size_t nreqs;
    token_seen *tokens;
    size_t ntokens;
    reqrec **retired; /* reset request records, freed at exit */
    size_t nretired;
    int running;
    bool stopping;
    int64_t last_activity_ns;
    /* counters */
    long submissions, executions, retries, deduplicated, polls, cancels, auth_failures;
    json_t *cancelled_handles;
    json_t *partitions;
    json_t *injected; /* {"429": n, ...} */
    json_t *last_request;
} server;

static server S;

/* ---- helpers ---- */

static void new_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void token_hash(const char *tok, char out[17])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(tok, strlen(tok), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* gzip with zlib; returns a malloc'd buffer. */
static unsigned char *gzip_bytes(const char *in, size_t len, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)len) + 32;
    unsigned char *out = xmalloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static enum MHD_Result send_raw(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                                const char *ctype, bool gzip)
{
    struct MHD_Response *r;
    if (gzip) {
        size_t zlen;
        unsigned char *z = gzip_bytes(body, len, &zlen);
        free(body);
        r = MHD_create_response_from_buffer(zlen, z, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    } else {
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends body (stolen) as JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body, bool gzip)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return send_raw(c, status, text, strlen(text), "application/json", gzip);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *message)
{
    return send_json(c, status, json_pack("{s:s, s:s}", "code", code, "message", message), false);
}

static bool accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    return ae && strstr(ae, "gzip");
}

static void count_injected(int status)
{
    char key[16];
    snprintf(key, sizeof key, "%d", status);
    json_int_t n = json_integer_value(json_object_get(S.injected, key));
    json_object_set_new(S.injected, key, json_integer(n + 1));
}

/* An injected failure: 429 carries Snowflake's JSON, 5xx an HTML page as a
 * load balancer would send, anything else a small JSON body. */
static enum MHD_Result send_injected(struct MHD_Connection *c, int status)
{
    if (status == 429)
        return send_error(c, 429, "390505", "Too many requests. (injected by snowemu)");
    if (status >= 502 && status <= 504) {
        strbuf sb;
        sb_init(&sb);
        sb_printf(&sb, "<html><body><h1>%d</h1>injected by snowemu</body></html>\n", status);
        size_t len = sb.len;
        return send_raw(c, (unsigned)status, sb_detach(&sb), len, "text/html", false);
    }
    char code[16];
    snprintf(code, sizeof code, "%06d", status);
    return send_error(c, (unsigned)status, code, "Injected failure (snowemu).");
}

/* ---- registry (callers hold S.mu) ---- */

static stmt *find_stmt(const char *handle)
{
    for (size_t i = 0; i < S.nstmts; i++)
        if (strcmp(S.stmts[i]->handle, handle) == 0)
            return S.stmts[i];
    return NULL;
}

static reqrec *find_req(const char *id, bool create)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < S.nreqs; i++)
        if (strcmp(S.reqs[i]->id, id) == 0)
            return S.reqs[i];
    if (!create)
        return NULL;
    reqrec *r = xcalloc(1, sizeof *r);
    r->id = xstrdup(id);
    r->handles = json_array();
    r->tokens = json_array();
    S.reqs = xrealloc(S.reqs, (S.nreqs + 1) * sizeof *S.reqs);
    S.reqs[S.nreqs++] = r;
    return r;
}

static stmt *stmt_new(const char *request_id)
{
    stmt *s = xcalloc(1, sizeof *s);
    new_uuid(s->handle);
    s->request_id = request_id ? xstrdup(request_id) : NULL;
    s->created_ms = wall_ms();
    s->start_ns = clock_now_ns();
    s->nullable = true;
    atomic_init(&s->cancel, false);
    S.stmts = xrealloc(S.stmts, (S.nstmts + 1) * sizeof *S.stmts);
    S.stmts[S.nstmts++] = s;
    return s;
}

static void stmt_free(stmt *s)
{
    free(s->request_id);
    emu_result_free(s->result);
    emu_sql_free_list(s->texts, s->ntexts);
    json_decref(s->bindings);
    json_decref(s->children);
    free(s->db);
    free(s->schema);
    free(s->warehouse);
    free(s->role);
    free(s);
}

static char *status_url(const stmt *s)
{
    strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "/api/v2/statements/%s", s->handle);
    if (s->request_id)
        sb_printf(&sb, "?requestId=%s", s->request_id);
    return sb_detach(&sb);
}

/* The response for a statement's current state (caller holds S.mu). */
static json_t *stmt_body(const stmt *s, unsigned *http)
{
    char *url = status_url(s);
    json_t *b;
    switch (s->status) {
    case ST_RUNNING:
        *http = 202;
        b = json_pack("{s:s, s:s}", "code", "333334", "message",
                      "Asynchronous execution in progress. Use provided query id to perform "
                      "query monitoring and management.");
        break;
    case ST_DONE: {
        *http = 200;
        json_t *meta =
            json_pack("{s:I, s:s, s:o, s:o}", "numRows", (json_int_t)emu_result_nrows(s->result),
                      "format", "jsonv2", "rowType", emu_result_row_type(s->result),
                      "partitionInfo", emu_result_partition_info(s->result, S.rows_per_part));
        b = json_pack("{s:o, s:o, s:s, s:s, s:s}", "resultSetMetaData", meta, "data",
                      emu_result_partition(s->result, S.rows_per_part, 0), "code", "090001",
                      "sqlState", "00000", "message",
                      s->children ? "Multiple statements executed successfully."
                                  : "Statement executed successfully.");
        if (s->children)
            json_object_set(b, "statementHandles", s->children);
        break;
    }
    case ST_CANCELLED:
        *http = 422;
        b = json_pack("{s:s, s:s, s:s}", "code", "000604", "sqlState", "57014", "message",
                      "SQL execution canceled");
        break;
    case ST_TIMEOUT: {
        *http = 408;
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Statement reached its statement or warehouse timeout of %d second(s) and was "
                 "canceled.",
                 s->timeout_s);
        b = json_pack("{s:s, s:s, s:s}", "code", "000630", "sqlState", "57014", "message", msg);
        break;
    }
    default:
        *http = (unsigned)s->err.http;
        b = json_pack("{s:s, s:s, s:s}", "code", s->err.code, "sqlState", s->err.sql_state,
                      "message", s->err.message);
        break;
    }
    json_object_set_new(b, "statementHandle", json_string(s->handle));
    json_object_set_new(b, "statementStatusUrl", json_string(url));
    json_object_set_new(b, "createdOn", json_integer(s->created_ms));
    free(url);
    return b;
}

/* ---- worker ---- */

static void finish(stmt *s, st_status st, emu_result *r, const emu_error *e)
{
    pthread_mutex_lock(&S.mu);
    /* A cancel may have settled the statement already: keep that. */
    if (s->status == ST_RUNNING) {
        s->status = st;
        s->result = r;
        r = NULL;
        if (e)
            s->err = *e;
    }
    S.running--;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.mu);
    emu_result_free(r);
}

/* Runs the statements of a multi-statement request as children; the
 * parent's result lists their handles. */
static emu_result *run_children(stmt *s, const emu_session *ses, const emu_run_ctl *ctl,
                                emu_error *e)
{
    json_t *children = json_array();
    for (size_t i = 0; i < s->ntexts; i++) {
        emu_result *r = emu_sql_run(S.wh, ses, s->texts[i], NULL, ctl, e);
        pthread_mutex_lock(&S.mu);
        stmt *ch = stmt_new(NULL);
        ch->status = r ? ST_DONE : ST_FAILED;
        ch->result = r;
        if (!r)
            ch->err = *e;
        json_array_append_new(children, json_string(ch->handle));
        pthread_mutex_unlock(&S.mu);
        if (!r) {
            json_decref(children);
            return NULL;
        }
    }
    emu_result *r = emu_result_new(1);
    emu_result_set_col(r, 0, "multiple statement execution", EMU_TEXT, 0, 0);
    emu_result_add_row(r, json_pack("[s]", "Multiple statements executed successfully."));
    pthread_mutex_lock(&S.mu);
    s->children = children;
    pthread_mutex_unlock(&S.mu);
    return r;
}

static void *worker(void *arg)
{
    stmt *s = arg;
    pthread_mutex_lock(&S.mu);
    int delay_ms = s->magic.slow_ms > 0 ? s->magic.slow_ms : s->magic.work_ms;
    if (delay_ms > 0) {
        int64_t until = s->start_ns + (int64_t)delay_ms * CLOCK_NS_PER_MS;
        if (s->deadline_ns && s->deadline_ns < until)
            until = s->deadline_ns;
        while (!atomic_load(&s->cancel) && !S.stopping &&
               clock_cond_wait_until(&S.cond, &S.mu, until))
            ;
    }
    bool stop = S.stopping;
    pthread_mutex_unlock(&S.mu);
    if (atomic_load(&s->cancel) || stop) {
        finish(s, ST_CANCELLED, NULL, NULL);
        return NULL;
    }
    if (s->deadline_ns && clock_now_ns() >= s->deadline_ns) {
        finish(s, ST_TIMEOUT, NULL, NULL);
        return NULL;
    }
    emu_session ses = {s->db, s->schema, s->warehouse, s->role, S.user, S.account};
    emu_run_ctl ctl = {&s->cancel, s->deadline_ns, s->nullable};
    emu_error e;
    memset(&e, 0, sizeof e);
    emu_result *r = s->ntexts > 1 ? run_children(s, &ses, &ctl, &e)
                                  : emu_sql_run(S.wh, &ses, s->texts[0], s->bindings, &ctl, &e);
    if (r)
        finish(s, ST_DONE, r, NULL);
    else if (e.http == 0 && atomic_load(&s->cancel))
        finish(s, ST_CANCELLED, NULL, NULL);
    else if (e.http == 0)
        finish(s, ST_TIMEOUT, NULL, NULL);
    else
        finish(s, ST_FAILED, NULL, &e);
    return NULL;
}

/* ---- request bookkeeping ---- */

typedef struct conn_state {
    strbuf body;
    bool too_big;
} conn_state;

static void note_request(struct MHD_Connection *c, const char *method, const char *url,
                         const char *token)
{
    const char *h[] = {"X-Snowflake-Authorization-Token-Type", "User-Agent", "Accept-Encoding",
                       "Content-Type", "Accept"};
    const char *k[] = {"token_type", "user_agent", "accept_encoding", "content_type", "accept"};
    json_t *o = json_pack("{s:s, s:s}", "method", method, "path", url);
    for (size_t i = 0; i < 5; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, h[i]);
        json_object_set_new(o, k[i], v ? json_string(v) : json_null());
    }
    char hash[17] = "";
    if (token)
        token_hash(token, hash);
    json_object_set_new(o, "token", token ? json_string(hash) : json_null());
    pthread_mutex_lock(&S.mu);
    json_decref(S.last_request);
    S.last_request = o;
    S.last_activity_ns = clock_now_ns();
    pthread_mutex_unlock(&S.mu);
}

static const char *bearer(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

/* Authenticates an API call; on failure the 401 is already queued. */
static bool authenticate(struct MHD_Connection *c, emu_tok_kind *kind, enum MHD_Result *ret)
{
    emu_error e;
    const char *tt =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Snowflake-Authorization-Token-Type");
    bool ok = emu_auth_check(
        S.auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), tt, kind, &e);
    const char *tok = bearer(c);
    if (ok && tok) {
        char hash[17];
        token_hash(tok, hash);
        pthread_mutex_lock(&S.mu);
        token_seen *seen = NULL;
        for (size_t i = 0; i < S.ntokens; i++)
            if (strcmp(S.tokens[i].hash, hash) == 0)
                seen = &S.tokens[i];
        if (!seen) {
            S.tokens = xrealloc(S.tokens, (S.ntokens + 1) * sizeof *S.tokens);
            seen = &S.tokens[S.ntokens++];
            memcpy(seen->hash, hash, sizeof hash);
            seen->revoked = false;
        }
        if (seen->revoked) {
            ok = false;
            count_injected(401);
            if (*kind == EMU_TOK_JWT)
                emu_error_set(&e, 401, "390144", "", "JWT token is invalid. [token expired]");
            else
                emu_error_set(&e, 401, "390318", "", "OAuth access token expired. [token expired]");
        }
        pthread_mutex_unlock(&S.mu);
    }
    if (ok)
        return true;
    pthread_mutex_lock(&S.mu);
    S.auth_failures++;
    pthread_mutex_unlock(&S.mu);
    *ret = send_error(c, 401, e.code, e.message);
    return false;
}

/* ---- handlers ---- */

static enum MHD_Result send_stmt(struct MHD_Connection *c, stmt *s)
{
    unsigned http;
    json_t *b = stmt_body(s, &http);
    return send_json(c, http, b, false);
}

/* Waits (holding S.mu) until s settles or the deadline passes. */
static void wait_settled(stmt *s, int64_t deadline_ns)
{
    while (s->status == ST_RUNNING && !S.stopping &&
           clock_cond_wait_until(&S.cond, &S.mu, deadline_ns))
        ;
}

static bool param_count(json_t *params, long *out)
{
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        if (strcasecmp(key, "MULTI_STATEMENT_COUNT") != 0)
            continue;
        if (json_is_integer(v))
            *out = (long)json_integer_value(v);
        else if (json_is_string(v))
            *out = strtol(json_string_value(v), NULL, 10);
        else
            return false;
        return true;
    }
    return false;
}

static char *dup_field(json_t *body, const char *key)
{
    const char *v = json_string_value(json_object_get(body, key));
    return v && *v ? xstrdup(v) : NULL;
}

/* Counts a submission before authentication, so a test sees the attempts
 * that were refused too (the 401 before a token renewal). */
static void note_submission(struct MHD_Connection *c)
{
    const char *rid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "requestId");
    const char *retry = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "retry");
    bool is_retry = retry && strcasecmp(retry, "true") == 0;
    pthread_mutex_lock(&S.mu);
    S.submissions++;
    if (is_retry)
        S.retries++;
    reqrec *rq = find_req(rid, true);
    if (rq) {
        rq->submissions++;
        if (is_retry)
            rq->retries++;
        const char *tok = bearer(c);
        if (tok) {
            char hash[17];
            token_hash(tok, hash);
            bool have = false;
            for (size_t i = 0; i < json_array_size(rq->tokens); i++)
                have |= strcmp(json_string_value(json_array_get(rq->tokens, i)), hash) == 0;
            if (!have)
                json_array_append_new(rq->tokens, json_string(hash));
        }
    }
    pthread_mutex_unlock(&S.mu);
}

static enum MHD_Result handle_submit(struct MHD_Connection *c, conn_state *cs, emu_tok_kind kind)
{
    const char *rid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "requestId");
    const char *retry = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "retry");
    const char *async = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "async");
    const char *nullable = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "nullable");
    bool is_retry = retry && strcasecmp(retry, "true") == 0;
    bool is_async = async && strcasecmp(async, "true") == 0;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");

    pthread_mutex_lock(&S.mu);
    reqrec *rq = find_req(rid, false);
    pthread_mutex_unlock(&S.mu);

    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0)
        return send_error(c, 415, "391903", "Unsupported media type: use application/json.");
    if (cs->too_big)
        return send_error(c, 413, "391904", "Request body too large.");
    json_error_t jerr;
    json_t *body = json_loadb(cs->body.data, cs->body.len, 0, &jerr);
    const char *text = json_string_value(json_object_get(body, "statement"));
    if (!json_is_object(body) || !text) {
        json_decref(body);
        return send_error(c, 400, "391902",
                          "Invalid request body: a JSON object with a \"statement\" string is "
                          "required.");
    }
    char **texts = NULL;
    size_t ntexts = 0;
    emu_magic magic;
    emu_error e;
    memset(&e, 0, sizeof e);
    bool split_ok = emu_sql_split(text, &texts, &ntexts, &magic, &e);

    /* Fault injection keyed by requestId, before anything runs. */
    pthread_mutex_lock(&S.mu);
    if (split_ok && rq && magic.status && rq->injected < magic.status_count) {
        rq->injected++;
        count_injected(magic.status);
        pthread_mutex_unlock(&S.mu);
        json_decref(body);
        emu_sql_free_list(texts, ntexts);
        return send_injected(c, magic.status);
    }
    if (split_ok && rq && magic.expire_token && !rq->expired_once) {
        rq->expired_once = true;
        count_injected(401);
        pthread_mutex_unlock(&S.mu);
        json_decref(body);
        emu_sql_free_list(texts, ntexts);
        if (kind == EMU_TOK_JWT)
            return send_error(c, 401, "390144", "JWT token is invalid. [token expired]");
        return send_error(c, 401, "390318", "OAuth access token expired. [token expired]");
    }
    /* A retry of a request that already ran gets that statement's state. */
    if (is_retry && rq && rq->last) {
        rq->deduplicated++;
        S.deduplicated++;
        stmt *prev = rq->last;
        if (!is_async)
            wait_settled(prev, clock_deadline_in_ms(S.sync_wait_ms));
        enum MHD_Result ret = send_stmt(c, prev);
        pthread_mutex_unlock(&S.mu);
        json_decref(body);
        emu_sql_free_list(texts, ntexts);
        return ret;
    }
    pthread_mutex_unlock(&S.mu);

    long want = 1;
    json_t *params = json_object_get(body, "parameters");
    if (json_is_object(params) && !param_count(params, &want)) {
        want = 1;
    }
    json_t *bindings = json_object_get(body, "bindings");
    json_t *jtimeout = json_object_get(body, "timeout");
    if (split_ok && ntexts == 0) {
        emu_error_set(&e, 422, "000900", "42000", "SQL compilation error:\nEmpty SQL statement.");
        split_ok = false;
    } else if (split_ok && want != 0 && (long)ntexts != want) {
        emu_error_set(&e, 422, "000008", "0A000",
                      "Actual statement count %zu did not match the desired statement count %ld.",
                      ntexts, want);
        split_ok = false;
    } else if (split_ok && ntexts > 1 && json_object_size(bindings) > 0) {
        emu_error_set(&e, 422, "000009", "0A000",
                      "Bind variables are not supported with multiple statements.");
        split_ok = false;
    }

    pthread_mutex_lock(&S.mu);
    stmt *s = stmt_new(rid);
    if (rq) {
        rq->last = s;
        json_array_append_new(rq->handles, json_string(s->handle));
    }
    if (!split_ok) {
        s->status = ST_FAILED;
        s->err = e;
        enum MHD_Result ret = send_stmt(c, s);
        pthread_mutex_unlock(&S.mu);
        json_decref(body);
        emu_sql_free_list(texts, ntexts);
        return ret;
    }
    S.executions++;
    if (rq)
        rq->executions++;
    s->texts = texts;
    s->ntexts = ntexts;
    s->magic = magic;
    s->bindings = json_incref(bindings);
    s->nullable = !(nullable && strcasecmp(nullable, "false") == 0);
    s->db = dup_field(body, "database");
    if (!s->db && S.default_db)
        s->db = xstrdup(S.default_db);
    s->schema = dup_field(body, "schema");
    s->warehouse = dup_field(body, "warehouse");
    s->role = dup_field(body, "role");
    s->timeout_s = json_is_integer(jtimeout) ? (int)json_integer_value(jtimeout) : 0;
    if (s->timeout_s > 0)
        s->deadline_ns = s->start_ns + (int64_t)s->timeout_s * CLOCK_NS_PER_S;
    json_decref(body);
    S.running++;
    pthread_t th;
    if (pthread_create(&th, NULL, worker, s) != 0) {
        S.running--;
        s->status = ST_FAILED;
        emu_error_set(&s->err, 503, "000503", "", "cannot start a worker thread");
    } else {
        pthread_detach(th);
        if (!is_async && magic.slow_ms <= 0)
            wait_settled(s, clock_deadline_in_ms(S.sync_wait_ms));
    }
    enum MHD_Result ret = send_stmt(c, s);
    pthread_mutex_unlock(&S.mu);
    return ret;
}

static enum MHD_Result handle_get(struct MHD_Connection *c, const char *handle)
{
    const char *part = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "partition");
    pthread_mutex_lock(&S.mu);
    stmt *s = find_stmt(handle);
    if (!s) {
        pthread_mutex_unlock(&S.mu);
        return send_error(c, 422, "000709", "Statement not found.");
    }
    s->polls++;
    if (s->magic.poll_status && s->poll_injected < s->magic.poll_count) {
        s->poll_injected++;
        count_injected(s->magic.poll_status);
        pthread_mutex_unlock(&S.mu);
        return send_injected(c, s->magic.poll_status);
    }
    if (!part || s->status != ST_DONE) {
        S.polls++;
        enum MHD_Result ret = send_stmt(c, s);
        pthread_mutex_unlock(&S.mu);
        return ret;
    }
    char *end;
    long n = strtol(part, &end, 10);
    size_t np = emu_result_npartitions(s->result, S.rows_per_part);
    if (*end || n < 0 || (size_t)n >= np) {
        pthread_mutex_unlock(&S.mu);
        return send_error(c, 422, "000709", "Partition number out of range.");
    }
    bool gz = n > 0 && accepts_gzip(c);
    json_array_append_new(S.partitions, json_pack("{s:s, s:i, s:b}", "handle", s->handle,
                                                  "partition", (int)n, "gzip", gz));
    if (n == 0) {
        enum MHD_Result ret = send_stmt(c, s);
        pthread_mutex_unlock(&S.mu);
        return ret;
    }
    json_t *b =
        json_pack("{s:o}", "data", emu_result_partition(s->result, S.rows_per_part, (size_t)n));
    pthread_mutex_unlock(&S.mu);
    return send_json(c, 200, b, gz);
}

static enum MHD_Result handle_cancel(struct MHD_Connection *c, const char *handle)
{
    pthread_mutex_lock(&S.mu);
    S.cancels++;
    stmt *s = find_stmt(handle);
    json_array_append_new(
        S.cancelled_handles,
        json_pack("{s:s, s:b}", "handle", handle, "was_running", s && s->status == ST_RUNNING));
    if (!s) {
        pthread_mutex_unlock(&S.mu);
        return send_error(c, 422, "000709", "Statement not found.");
    }
    if (s->status == ST_RUNNING) {
        atomic_store(&s->cancel, true);
        s->status = ST_CANCELLED;
        pthread_cond_broadcast(&S.cond);
    }
    char *url = status_url(s);
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "code", "000604", "sqlState", "57014",
                          "message", "SQL execution canceled", "statementHandle", s->handle,
                          "statementStatusUrl", url);
    free(url);
    pthread_mutex_unlock(&S.mu);
    return send_json(c, 200, b, false);
}

static json_t *stats_json(void)
{
    json_t *reqs = json_object();
    for (size_t i = 0; i < S.nreqs; i++) {
        reqrec *r = S.reqs[i];
        json_object_set_new(reqs, r->id,
                            json_pack("{s:i, s:i, s:i, s:i, s:i, s:O, s:O}", "submissions",
                                      r->submissions, "executions", r->executions, "retries",
                                      r->retries, "deduplicated", r->deduplicated, "injected",
                                      r->injected, "handles", r->handles, "tokens", r->tokens));
    }
    json_t *stmts = json_object();
    for (size_t i = 0; i < S.nstmts; i++) {
        stmt *s = S.stmts[i];
        json_object_set_new(stmts, s->handle,
                            json_pack("{s:s, s:s?, s:i}", "status", status_names[s->status],
                                      "request_id", s->request_id, "polls", s->polls));
    }
    size_t revoked = 0;
    for (size_t i = 0; i < S.ntokens; i++)
        revoked += S.tokens[i].revoked;
    /* Shared parts (s:O) are copied deeply below: the answer is written
     * after S.mu is released, while other threads go on changing them. */
    json_t *shared =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:O, s:O, s:I, s:I, s:I, s:O?, "
                  "s:o, s:o, s:i}",
                  "submissions", (json_int_t)S.submissions, "executions", (json_int_t)S.executions,
                  "retries", (json_int_t)S.retries, "deduplicated", (json_int_t)S.deduplicated,
                  "polls", (json_int_t)S.polls, "cancels", (json_int_t)S.cancels,
                  "cancelled_handles", S.cancelled_handles, "partitions_served",
                  (json_int_t)json_array_size(S.partitions), "partitions", S.partitions, "injected",
                  S.injected, "auth_failures", (json_int_t)S.auth_failures, "tokens_seen",
                  (json_int_t)S.ntokens, "tokens_revoked", (json_int_t)revoked, "last_request",
                  S.last_request, "requests", reqs, "statements", stmts, "running", S.running);
    json_t *own = json_deep_copy(shared);
    json_decref(shared);
    return own;
}

static void reset_counters(void)
{
    S.submissions = S.executions = S.retries = S.deduplicated = S.polls = S.cancels = 0;
    S.auth_failures = 0;
    json_array_clear(S.cancelled_handles);
    json_array_clear(S.partitions);
    json_object_clear(S.injected);
    /* A handler may still hold a record: retire them, free at exit. */
    S.retired = xrealloc(S.retired, (S.nretired + S.nreqs + 1) * sizeof *S.retired);
    for (size_t i = 0; i < S.nreqs; i++)
        S.retired[S.nretired++] = S.reqs[i];
    S.nreqs = 0;
}

static bool from_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
        return false;
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)ci->client_addr;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
}

static enum MHD_Result handle_control(struct MHD_Connection *c, const char *method, const char *url)
{
    if (!from_loopback(c))
        return send_error(c, 403, "390403", "Control endpoints answer loopback clients only.");
    pthread_mutex_lock(&S.mu);
    S.last_activity_ns = clock_now_ns();
    enum MHD_Result ret;
    if (strcmp(url, "/emu/stats") == 0 && strcmp(method, "GET") == 0) {
        json_t *st = stats_json();
        pthread_mutex_unlock(&S.mu);
        return send_json(c, 200, st, false);
    }
    if (strcmp(url, "/emu/reset") == 0 && strcmp(method, "POST") == 0) {
        reset_counters();
        ret = MHD_YES;
    } else if (strcmp(url, "/emu/expire-tokens") == 0 && strcmp(method, "POST") == 0) {
        for (size_t i = 0; i < S.ntokens; i++)
            S.tokens[i].revoked = true;
        ret = MHD_YES;
    } else {
        pthread_mutex_unlock(&S.mu);
        return send_error(c, 404, "390404", "No such control endpoint.");
    }
    pthread_mutex_unlock(&S.mu);
    (void)ret;
    return send_json(c, 200, json_pack("{s:b}", "ok", 1), false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = xcalloc(1, sizeof *cs);
        sb_init(&cs->body);
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        if (cs->body.len + *upload_size > MAX_BODY)
            cs->too_big = true;
        else
            sb_append(&cs->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/emu/", 5) == 0)
        return handle_control(c, method, url);

    note_request(c, method, url, bearer(c));
    static const char prefix[] = "/api/v2/statements";
    if (strncmp(url, prefix, sizeof prefix - 1) != 0)
        return send_error(c, 404, "390404", "No such endpoint.");
    const char *rest = url + sizeof prefix - 1;
    char handle[64] = "";
    bool cancel = false;
    if (*rest == '/') {
        rest++;
        size_t n = strcspn(rest, "/");
        if (n == 0 || n >= sizeof handle)
            return send_error(c, 404, "390404", "No such endpoint.");
        memcpy(handle, rest, n);
        handle[n] = '\0';
        rest += n;
        if (strcmp(rest, "/cancel") == 0)
            cancel = true;
        else if (*rest)
            return send_error(c, 404, "390404", "No such endpoint.");
    } else if (*rest) {
        return send_error(c, 404, "390404", "No such endpoint.");
    }
    bool want_post = !*handle || cancel;
    if (strcmp(method, want_post ? "POST" : "GET") != 0)
        return send_error(c, 405, "390405", "Method not allowed.");
    emu_tok_kind kind;
    enum MHD_Result ret;
    if (!*handle)
        note_submission(c);
    if (!authenticate(c, &kind, &ret))
        return ret;
    if (!*handle)
        return handle_submit(c, cs, kind);
    if (cancel)
        return handle_cancel(c, handle);
    return handle_get(c, handle);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state *cs = *con_cls;
    if (cs) {
        sb_free(&cs->body);
        free(cs);
        *con_cls = NULL;
    }
}

/* ---- main ---- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&sb, buf, n);
    fclose(f);
    return sb_detach(&sb);
}

static bool write_ready(const char *path, unsigned port)
{
    strbuf tmp;
    sb_init(&tmp);
    sb_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp.data, "w");
    bool ok = f && fprintf(f, "%u %ld\n", port, (long)getpid()) > 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp.data, path) == 0;
    sb_free(&tmp);
    return ok;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: snowemu --cert PEM --key PEM --cache-dir DIR [--port N] [--ready-file F]\n"
            "  [--account A] [--user U] [--public-key PEM]... [--token T | --token-file F]\n"
            "  [--rows-per-partition N] [--sync-wait-ms N] [--idle-timeout S]\n"
            "  [--default-database DB] [--jwt-slack S] [--verbose]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"ready-file", required_argument, NULL, 'r'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"cache-dir", required_argument, NULL, 'd'},
                                         {"account", required_argument, NULL, 'a'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"public-key", required_argument, NULL, 'P'},
                                         {"token", required_argument, NULL, 't'},
                                         {"token-file", required_argument, NULL, 'T'},
                                         {"rows-per-partition", required_argument, NULL, 'R'},
                                         {"sync-wait-ms", required_argument, NULL, 'w'},
                                         {"idle-timeout", required_argument, NULL, 'i'},
                                         {"default-database", required_argument, NULL, 'D'},
                                         {"jwt-slack", required_argument, NULL, 's'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    unsigned port = 0;
    const char *ready = NULL, *cert = NULL, *key = NULL, *cache = NULL;
    long idle_s = 600;
    emu_auth_cfg acfg = {.account = "EMUACCT", .user = "EMUUSER", .slack_s = 60};
    size_t nkeys = 0;
    S.rows_per_part = 1000;
    S.sync_wait_ms = 45000;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            port = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            ready = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'd':
            cache = optarg;
            break;
        case 'a':
            acfg.account = optarg;
            break;
        case 'u':
            acfg.user = optarg;
            break;
        case 'P':
            if (nkeys == 2) {
                fprintf(stderr, "snowemu: at most two --public-key\n");
                return 2;
            }
            acfg.pubkey_path[nkeys++] = optarg;
            break;
        case 't':
            acfg.token = optarg;
            break;
        case 'T':
            acfg.token_file = optarg;
            break;
        case 'R':
            S.rows_per_part = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            S.sync_wait_ms = strtol(optarg, NULL, 10);
            break;
        case 'i':
            idle_s = strtol(optarg, NULL, 10);
            break;
        case 'D':
            S.default_db = xstrdup(optarg);
            break;
        case 's':
            acfg.slack_s = atoi(optarg);
            break;
        case 'v':
            log_set_stderr_level(LOG_DEBUG);
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!cert || !key || !cache || S.rows_per_part == 0) {
        usage();
        return 2;
    }
    S.account = acfg.account;
    S.user = acfg.user;
    err_t err;
    err_clear(&err);
    char *dir = NULL;
    if (!demo_ensure(cache, &dir, &err) || !(S.wh = emu_wh_open(dir, &err)) ||
        !(S.auth = emu_auth_new(&acfg, &err))) {
        fprintf(stderr, "snowemu: %s\n", err.msg);
        return 1;
    }
    free(dir);
    char *cert_pem = read_file(cert), *key_pem = read_file(key);
    if (!cert_pem || !key_pem) {
        fprintf(stderr, "snowemu: cannot read %s or %s\n", cert, key);
        return 1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        fprintf(stderr, "snowemu: libmicrohttpd was built without TLS\n");
        return 1;
    }
    pthread_mutex_init(&S.mu, NULL);
    clock_cond_init(&S.cond);
    S.cancelled_handles = json_array();
    S.partitions = json_array();
    S.injected = json_object();
    S.last_activity_ns = clock_now_ns();

    /* Signals go to the main thread's sigtimedwait only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_TLS | MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "snowemu: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : port;
    for (size_t i = 0; i < 2; i++)
        if (emu_auth_fingerprint(S.auth, i))
            log_info("snowemu", "public key %zu: %s", i + 1, emu_auth_fingerprint(S.auth, i));
    if (ready && !write_ready(ready, bound)) {
        fprintf(stderr, "snowemu: cannot write %s\n", ready);
        MHD_stop_daemon(d);
        return 1;
    }
    printf("snowemu listening on https://127.0.0.1:%u pid %ld\n", bound, (long)getpid());
    fflush(stdout);

    /* Wait for a signal or for idle_s without requests. */
    for (;;) {
        pthread_mutex_lock(&S.mu);
        int64_t idle_end = S.last_activity_ns + (int64_t)idle_s * CLOCK_NS_PER_S;
        pthread_mutex_unlock(&S.mu);
        int64_t left = idle_end - clock_now_ns();
        if (left <= 0) {
            log_info("snowemu", "idle for %ld s: exiting", idle_s);
            break;
        }
        struct timespec ts = {.tv_sec = left / CLOCK_NS_PER_S, .tv_nsec = left % CLOCK_NS_PER_S};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0) {
            log_info("snowemu", "signal %d: exiting", sig);
            break;
        }
    }
    pthread_mutex_lock(&S.mu);
    S.stopping = true;
    for (size_t i = 0; i < S.nstmts; i++)
        atomic_store(&S.stmts[i]->cancel, true);
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.mu);
    MHD_stop_daemon(d);
    pthread_mutex_lock(&S.mu);
    while (S.running > 0)
        clock_cond_wait_until(&S.cond, &S.mu, 0);
    pthread_mutex_unlock(&S.mu);
    if (ready)
        unlink(ready);
    reset_counters();
    for (size_t i = 0; i < S.nretired; i++) {
        json_decref(S.retired[i]->handles);
        json_decref(S.retired[i]->tokens);
        free(S.retired[i]->id);
        free(S.retired[i]);
    }
    free(S.retired);
    for (size_t i = 0; i < S.nstmts; i++)
        stmt_free(S.stmts[i]);
    free(S.stmts);
    free(S.reqs);
    free(S.tokens);
    json_decref(S.cancelled_handles);
    json_decref(S.partitions);
    json_decref(S.injected);
    json_decref(S.last_request);
    emu_wh_free(S.wh);
    emu_auth_free(S.auth);
    free(S.default_db);
    free(cert_pem);
    free(key_pem);
    return 0;
}
