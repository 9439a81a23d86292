/* Design: one libmicrohttpd polling thread (epoll) with suspend/resume.
 *
 * The MCP engine answers most methods before mcp_session_handle returns;
 * those get a plain buffer response. A tools/call is answered later from a
 * worker thread, so its POST gets a streaming response whose content
 * reader hands out whatever the session's send callback buffered for that
 * request id; when nothing is buffered the reader suspends the connection
 * and returns 0, and the send callback resumes it. Thus hundreds of calls
 * in flight cost one small buffer each and no thread: no thread ever
 * blocks inside MHD. GET streams use the same reader.
 *
 * Locks: srv->mu guards the session table and the reaper queue; each
 * session's mu guards its streams; drain_mu the live-stream counts. Order:
 * srv->mu, then a session's mu or its engine session's lock; drain_mu is
 * taken alone.
 * MHD_suspend/resume_connection are called under the session's mu so that
 * a resume can never overtake the suspend it answers (they only flip flags
 * and signal MHD's event fd). Nothing in this file calls log_* while
 * holding a lock, and the send callback never logs at all: it can run
 * inside the logger's sink loop (log notifications).
 *
 * Lifetimes: sessions and streams are reference counted. A session is
 * referenced by the table, by each stream and by each request being
 * handled; its engine session is closed by the reaper (the main thread)
 * once no request uses it, and freed with the last reference. A stream is
 * referenced by its session's list and by its MHD response. */
#include "transport/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/strbuf.h"
#include "core/wakefd.h"
#include "core/xalloc.h"
#include "transport/http_policy.h"

#define SESSION_BUCKETS 256
#define SID_BYTES 16
#define KEEPALIVE_MS 15000
#define RETRY_AFTER_S "5"
#define HEADER_MEMORY (64 * 1024)
#define CONNECTION_TIMEOUT_S 300

typedef struct hsrv hsrv;
typedef struct hsess hsess;

typedef struct stream {
    hsess *s;
    struct MHD_Connection *conn; /* NULL once MHD released the response */
    json_t *id;                  /* the request answered here; NULL: a GET stream */
    bool sse;
    bool finished;  /* nothing more will be added: end once drained */
    bool suspended; /* the reader suspended the connection */
    bool linked;    /* in s->streams */
    int refs;       /* under s->mu */
    strbuf buf;
    size_t off;
    struct stream *next;
} stream;

struct hsess {
    hsrv *srv;
    char id[2 * SID_BYTES + 1];
    mcp_session *ms;
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t unused; /* signalled when active drops to 0 */
    stream *streams;
    int active; /* requests inside mcp_session_handle */
    bool ended;
    bool logging; /* logging/setLevel seen: calls answer over SSE */
    int64_t last_ns;
    hsess *next; /* table bucket or reaper queue */
};

struct hsrv {
    mcp_server *mcp;
    pool *pool;
    const app_config *cfg;
    http_policy *policy;
    metrics *metrics;
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    hsess *table[SESSION_BUCKETS];
    int nsessions;
    hsess *reap; /* ended sessions whose engine session is not closed yet */
    wakefd wake; /* wakes the main thread for the reaper */
    atomic_bool draining;
    /* Shutdown waits on drain_cv for POST streams to be released. */
    pthread_mutex_t drain_mu;
    pthread_cond_t drain_cv;
    int live_post;
    int live_streams;
};

/* One HTTP request, from its first callback to MHD's completion notice. */
typedef struct req {
    int64_t t0;
    bool started;
    bool too_large;
    int status;
    char method[8];
    char path[64];
    char sid[9]; /* prefix of the session id, for the access log */
    strbuf body;
} req;

/* ---- sessions ---------------------------------------------------------- */

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (const char *c = id; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return h % SESSION_BUCKETS;
}

static void session_unref(hsess *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    /* The reaper closed the engine session before dropping the table's
     * reference, so no send can reach s any more. */
    mcp_session_free(s->ms);
    pthread_cond_destroy(&s->unused);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Finds a live session and takes a reference; NULL if unknown or ended. */
static hsess *session_find(hsrv *srv, const char *id)
{
    if (!id || strlen(id) != 2 * SID_BYTES)
        return NULL;
    pthread_mutex_lock(&srv->mu);
    hsess *s = srv->table[bucket_of(id)];
    while (s && strcmp(s->id, id) != 0)
        s = s->next;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&srv->mu);
    return s;
}

/* Marks the start of a use of the engine session; false if it ended. */
static bool session_enter(hsess *s)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->ended;
    if (ok) {
        s->active++;
        s->last_ns = clock_now_ns();
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void session_leave(hsess *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->unused);
    s->last_ns = clock_now_ns();
    pthread_mutex_unlock(&s->mu);
}

/* ---- streams ----------------------------------------------------------- */

/* Wakes the connection of st if its reader is waiting. Under s->mu. */
static void stream_wake(stream *st)
{
    if (st->suspended && st->conn) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

/* A GET stream whose client stopped reading would otherwise grow without
 * bound with every notification: past this backlog it is ended, and the
 * client may open another. POST streams end with their answer anyway. */
#define STREAM_BACKLOG_MAX (1u << 20)

/* Under s->mu. False when the stream cannot take more (ended instead). */
static bool stream_has_room(stream *st, size_t more)
{
    if (st->finished)
        return false;
    if (st->id || st->buf.len - st->off + more <= STREAM_BACKLOG_MAX)
        return true;
    st->finished = true;
    return false;
}

static void stream_append_event(stream *st, const char *json, size_t len)
{
    if (!stream_has_room(st, len + 24))
        return;
    sb_puts(&st->buf, "event: message\ndata: ");
    sb_append(&st->buf, json, len);
    sb_puts(&st->buf, "\n\n");
}

/* Under s->mu. */
static void stream_unlink(stream *st)
{
    if (!st->linked)
        return;
    for (stream **pp = &st->s->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    st->linked = false;
    st->refs--;
}

static void stream_free(stream *st)
{
    json_decref(st->id);
    sb_free(&st->buf);
    free(st);
}

static stream *stream_new(hsess *s, struct MHD_Connection *conn, json_t *id, bool sse)
{
    stream *st = xcalloc(1, sizeof *st);
    st->s = s;
    st->conn = conn;
    st->id = id ? json_incref(id) : NULL;
    st->sse = sse;
    sb_init(&st->buf);
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_lock(&s->srv->drain_mu);
    s->srv->live_streams++;
    if (id)
        s->srv->live_post++;
    pthread_mutex_unlock(&s->srv->drain_mu);
    return st;
}

/* Unlinks st from its session and, when response is true, drops the MHD
 * response's reference too (its connection is gone). The last reference
 * frees st and its session reference. */
static void stream_put(stream *st, bool response)
{
    hsess *s = st->s;
    pthread_mutex_lock(&s->mu);
    if (response) {
        st->conn = NULL;
        st->refs--;
    }
    stream_unlink(st);
    bool last = st->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    hsrv *srv = s->srv;
    pthread_mutex_lock(&srv->drain_mu);
    srv->live_streams--;
    if (st->id)
        srv->live_post--;
    pthread_cond_broadcast(&srv->drain_cv);
    pthread_mutex_unlock(&srv->drain_mu);
    stream_free(st);
    session_unref(s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *st = cls;
    hsess *s = st->s;
    ssize_t n;
    pthread_mutex_lock(&s->mu);
    if (st->off < st->buf.len) {
        size_t k = st->buf.len - st->off;
        if (k > max)
            k = max;
        memcpy(out, st->buf.data + st->off, k);
        st->off += k;
        if (st->off == st->buf.len) {
            sb_reset(&st->buf);
            st->off = 0;
        }
        n = (ssize_t)k;
    } else if (st->finished) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send yet: park the connection until stream_wake. */
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void stream_response_done(void *cls)
{
    stream_put(cls, true);
}

/* The newest open stream for session-wide messages: a GET stream, else an
 * SSE POST stream. Under s->mu. */
static stream *session_wide_stream(hsess *s)
{
    stream *post = NULL;
    for (stream *st = s->streams; st; st = st->next) {
        if (st->finished || !st->conn)
            continue;
        if (!st->id)
            return st;
        if (st->sse && !post)
            post = st;
    }
    return post;
}

static stream *find_post(hsess *s, json_t *id)
{
    for (stream *st = s->streams; st; st = st->next) {
        if (st->id && !st->finished && json_equal(st->id, id))
            return st;
    }
    return NULL;
}

/* The engine's send callback: routes a message to the POST that carries
 * its request, else to a session-wide stream, else drops it. Never logs. */
static void on_send(void *ctx, const char *json, size_t len, json_t *related)
{
    hsess *s = ctx;
    bool is_response = false;
    if (!json) {
        /* The request ended without an answer (cancelled): its POST stream
         * closes instead of waiting forever for a response. */
        is_response = true;
    } else if (related) {
        json_t *m = json_loadb(json, len, 0, NULL);
        is_response = m && !json_object_get(m, "method");
        json_decref(m);
    }
    bool answered = false;
    pthread_mutex_lock(&s->mu);
    stream *st = related ? find_post(s, related) : NULL;
    if (st && (st->sse || is_response)) {
        if (json && st->sse)
            stream_append_event(st, json, len);
        else if (json)
            sb_append(&st->buf, json, len);
        if (is_response) {
            st->finished = true;
            answered = true;
        }
        stream_wake(st);
    } else if (!is_response && json) {
        stream *g = session_wide_stream(s);
        if (g) {
            stream_append_event(g, json, len);
            stream_wake(g);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (answered && atomic_load(&s->srv->draining)) {
        pthread_mutex_lock(&s->srv->drain_mu);
        pthread_cond_broadcast(&s->srv->drain_cv);
        pthread_mutex_unlock(&s->srv->drain_mu);
    }
}

/* Ends a session: unlisted at once (later requests get 404), its streams
 * finish (an unanswered request gets an error), and the reaper cancels its
 * calls. Takes over the caller's reference `owned` when not NULL. */
static void session_end(hsess *s, const char *why)
{
    hsrv *srv = s->srv;
    pthread_mutex_lock(&s->mu);
    bool was_ended = s->ended;
    s->ended = true;
    for (stream *st = s->streams; st && !was_ended; st = st->next) {
        if (st->finished)
            continue;
        if (st->id) {
            json_t *err = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", st->id,
                                    "error", "code", MCP_INTERNAL_ERROR, "message", why);
            char *text = json_dumps(err, JSON_COMPACT);
            json_decref(err);
            if (st->sse)
                stream_append_event(st, text, strlen(text));
            else
                sb_puts(&st->buf, text);
            free(text);
        }
        st->finished = true;
        stream_wake(st);
    }
    pthread_mutex_unlock(&s->mu);
    if (was_ended)
        return;
    pthread_mutex_lock(&srv->mu);
    hsess **pp = &srv->table[bucket_of(s->id)];
    bool listed = false;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = s->next;
        srv->nsessions--;
        listed = true;
    }
    if (listed) {
        /* The table's reference moves to the reaper queue. */
        s->next = srv->reap;
        srv->reap = s;
    }
    pthread_mutex_unlock(&srv->mu);
    if (listed)
        wakefd_signal(&srv->wake);
}

/* Cancels the calls of an ended session and drops the table's reference.
 * Runs on the main thread: closing may wait for a query to be cancelled. */
static void session_reap(hsess *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->active > 0)
        clock_cond_wait_until(&s->unused, &s->mu, 0);
    pthread_mutex_unlock(&s->mu);
    mcp_session_close(s->ms, true);
    session_unref(s);
}

static void reap_all(hsrv *srv)
{
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        hsess *s = srv->reap;
        if (s)
            srv->reap = s->next;
        pthread_mutex_unlock(&srv->mu);
        if (!s)
            return;
        log_debug("http", "session %.8s ended", s->id);
        session_reap(s);
    }
}

static hsess *session_new(hsrv *srv)
{
    unsigned char raw[SID_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return NULL;
    hsess *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    for (int i = 0; i < SID_BYTES; i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    clock_cond_init(&s->unused);
    s->last_ns = clock_now_ns();
    s->ms = mcp_session_new(srv->mcp, on_send, s);
    return s;
}

/* Lists s in the table (the caller's reference becomes the table's). */
static bool session_list(hsrv *srv, hsess *s)
{
    pthread_mutex_lock(&srv->mu);
    bool ok = srv->nsessions < srv->cfg->http_max_sessions;
    if (ok) {
        unsigned b = bucket_of(s->id);
        s->next = srv->table[b];
        srv->table[b] = s;
        srv->nsessions++;
    }
    pthread_mutex_unlock(&srv->mu);
    return ok;
}

/* ---- responses --------------------------------------------------------- */

static enum MHD_Result queue(struct MHD_Connection *c, req *r, int status,
                             struct MHD_Response *resp)
{
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static struct MHD_Response *buffer_response(const char *body, size_t len, const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return resp;
}

/* A JSON-RPC error body with a null id, as the TypeScript SDK sends them. */
static enum MHD_Result reply_error(hsrv *srv, struct MHD_Connection *c, req *r, int status,
                                   int code, const char *message)
{
    json_t *body = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                             code, "message", message);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *resp = buffer_response(text, strlen(text), "application/json");
    free(text);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"snowflake-mcp\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(r->path, "/mcp") == 0 ? "GET, POST, DELETE" : "GET");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE || status == MHD_HTTP_TOO_MANY_REQUESTS)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S);
    metrics_http_status(srv->metrics, status);
    return queue(c, r, status, resp);
}

static enum MHD_Result reply_text(hsrv *srv, struct MHD_Connection *c, req *r, int status,
                                  const char *type, const char *text, size_t len)
{
    metrics_http_status(srv->metrics, status);
    return queue(c, r, status, buffer_response(text, len, type));
}

static void add_sse_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
}

/* Queues the streaming response of st (which gains a reference). */
static enum MHD_Result reply_stream(hsrv *srv, struct MHD_Connection *c, req *r, stream *st)
{
    pthread_mutex_lock(&st->s->mu);
    st->refs++;
    pthread_mutex_unlock(&st->s->mu);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st, stream_response_done);
    if (st->sse)
        add_sse_headers(resp);
    else
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    metrics_http_status(srv->metrics, MHD_HTTP_OK);
    return queue(c, r, MHD_HTTP_OK, resp);
}

/* ---- /healthz, /readyz, /metrics --------------------------------------- */

static enum MHD_Result serve_ops(hsrv *srv, struct MHD_Connection *c, req *r)
{
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return reply_error(srv, c, r, MHD_HTTP_METHOD_NOT_ALLOWED, -32000, "Method not allowed");
    if (strcmp(r->path, "/healthz") == 0)
        return reply_text(srv, c, r, MHD_HTTP_OK, "text/plain", "ok\n", 3);
    if (strcmp(r->path, "/readyz") == 0) {
        if (atomic_load(&srv->draining))
            return reply_text(srv, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                              "not ready: shutting down\n", 25);
        if (!pool_healthy(srv->pool)) {
            pool_stats st;
            pool_get_stats(srv->pool, &st);
            char msg[400];
            int n = snprintf(msg, sizeof msg, "not ready: the database is unreachable (%s)\n",
                             st.last_connect_error[0] ? st.last_connect_error : "no connection");
            return reply_text(srv, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", msg,
                              (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        }
        return reply_text(srv, c, r, MHD_HTTP_OK, "text/plain", "ready\n", 6);
    }
    /* /metrics */
    strbuf out;
    sb_init(&out);
    pool_stats st;
    pool_get_stats(srv->pool, &st);
    metrics_render_pool(&st, &out);
    pthread_mutex_lock(&srv->mu);
    int nsessions = srv->nsessions;
    pthread_mutex_unlock(&srv->mu);
    sb_printf(&out,
              "# HELP snowflake_mcp_http_sessions Open MCP sessions.\n"
              "# TYPE snowflake_mcp_http_sessions gauge\nsnowflake_mcp_http_sessions %d\n",
              nsessions);
    /* Counted before rendering, so that this answer appears in itself. */
    metrics_http_status(srv->metrics, MHD_HTTP_OK);
    metrics_render(srv->metrics, &out);
    r->status = MHD_HTTP_OK;
    struct MHD_Response *resp = buffer_response(out.data, out.len, "text/plain; version=0.0.4");
    sb_free(&out);
    return queue(c, r, MHD_HTTP_OK, resp);
}

/* ---- /mcp ---------------------------------------------------------------- */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Looks up the session named by the request; replies 400/404 itself. */
static hsess *require_session(hsrv *srv, struct MHD_Connection *c, req *r, enum MHD_Result *ret)
{
    const char *sid = header(c, "Mcp-Session-Id");
    if (!sid) {
        *ret = reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, -32000,
                           "Bad Request: Mcp-Session-Id header is required");
        return NULL;
    }
    snprintf(r->sid, sizeof r->sid, "%.8s", sid);
    hsess *s = session_find(srv, sid);
    if (!s)
        *ret = reply_error(srv, c, r, MHD_HTTP_NOT_FOUND, -32001, "Session not found");
    return s;
}

static bool version_ok(struct MHD_Connection *c)
{
    const char *v = header(c, "MCP-Protocol-Version");
    return !v || mcp_version_supported(v);
}

static enum MHD_Result serve_get(hsrv *srv, struct MHD_Connection *c, req *r)
{
    enum MHD_Result ret;
    hsess *s = require_session(srv, c, r, &ret);
    if (!s)
        return ret;
    stream *st = stream_new(s, c, NULL, true);
    /* A comment first, so that the client sees the headers at once. */
    sb_puts(&st->buf, ": stream open\n\n");
    pthread_mutex_lock(&s->mu);
    bool ok = !s->ended;
    if (ok) {
        st->refs = 1;
        st->linked = true;
        st->next = s->streams;
        s->streams = st;
        s->last_ns = clock_now_ns();
    }
    pthread_mutex_unlock(&s->mu);
    session_unref(s); /* the stream holds its own reference */
    if (!ok) {
        stream_put(st, false);
        return reply_error(srv, c, r, MHD_HTTP_NOT_FOUND, -32001, "Session not found");
    }
    enum MHD_Result res = reply_stream(srv, c, r, st);
    return res;
}

static enum MHD_Result serve_delete(hsrv *srv, struct MHD_Connection *c, req *r)
{
    enum MHD_Result ret;
    hsess *s = require_session(srv, c, r, &ret);
    if (!s)
        return ret;
    session_end(s, "Session ended by the client");
    session_unref(s);
    return reply_text(srv, c, r, MHD_HTTP_OK, NULL, "", 0);
}

static json_t *busy_result(json_t *id, const char *why)
{
    return json_pack("{s:s, s:O, s:{s:[{s:s, s:s}], s:b}}", "jsonrpc", "2.0", "id", id, "result",
                     "content", "type", "text", "text", why, "isError", 1);
}

/* True when the request should be answered over SSE: it asked for
 * progress, or the session subscribed to log messages. */
static bool wants_sse(hsess *s, const char *method, json_t *params)
{
    if (strcmp(method, "tools/call") != 0)
        return false;
    json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    pthread_mutex_lock(&s->mu);
    bool logging = s->logging;
    pthread_mutex_unlock(&s->mu);
    return token || logging;
}

/* Handles one request of session s (referenced by the caller). */
static enum MHD_Result serve_request(hsrv *srv, struct MHD_Connection *c, req *r, hsess *s,
                                     json_t *msg, bool is_init)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    bool is_call = strcmp(method, "tools/call") == 0;
    if (is_call && (int)mcp_session_inflight(s->ms) >= srv->cfg->http_max_calls_per_session) {
        /* Same shape as the engine's busy answer: the model can retry. */
        metrics_call(srv->metrics, json_string_value(json_object_get(params, "name")),
                     METRICS_ERROR, 0);
        json_t *busy = busy_result(id, "Busy: this session already has the most tool calls in "
                                       "flight (SNOWFLAKE_MCP_HTTP_MAX_CALLS_PER_SESSION); retry "
                                       "when one has finished.");
        char *text = json_dumps(busy, JSON_COMPACT);
        json_decref(busy);
        enum MHD_Result res =
            reply_text(srv, c, r, MHD_HTTP_OK, "application/json", text, strlen(text));
        free(text);
        return res;
    }
    stream *st = stream_new(s, c, id, wants_sse(s, method, params));
    pthread_mutex_lock(&s->mu);
    bool dup = find_post(s, id) != NULL;
    if (!dup) {
        st->refs = 1;
        st->linked = true;
        st->next = s->streams;
        s->streams = st;
    }
    pthread_mutex_unlock(&s->mu);
    if (dup) {
        stream_put(st, false);
        return reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                           "Invalid Request: id is already in use by a request in progress");
    }
    if (!session_enter(s)) {
        stream_put(st, false);
        return reply_error(srv, c, r, MHD_HTTP_NOT_FOUND, -32001, "Session not found");
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    mcp_session_handle(s->ms, text, strlen(text));
    free(text);
    session_leave(s);
    if (strcmp(method, "logging/setLevel") == 0) {
        pthread_mutex_lock(&s->mu);
        s->logging = true;
        pthread_mutex_unlock(&s->mu);
    }

    pthread_mutex_lock(&s->mu);
    bool done = st->finished;
    char *body = NULL;
    size_t body_len = 0;
    bool sse = st->sse;
    if (done) {
        body_len = st->buf.len - st->off;
        body = xmalloc(body_len + 1);
        memcpy(body, st->buf.data + st->off, body_len);
    }
    pthread_mutex_unlock(&s->mu);
    if (!done)
        return reply_stream(srv, c, r, st);
    stream_put(st, false);

    struct MHD_Response *resp =
        buffer_response(body, body_len, sse ? "text/event-stream" : "application/json");
    bool listed = true;
    if (is_init) {
        json_t *answer = sse ? NULL : json_loadb(body, body_len, 0, NULL);
        bool ok = answer && json_object_get(answer, "result");
        json_decref(answer);
        listed = ok && session_list(srv, s);
        if (listed) {
            atomic_fetch_add(&s->refs, 1); /* the table's */
            MHD_add_response_header(resp, "Mcp-Session-Id", s->id);
            snprintf(r->sid, sizeof r->sid, "%.8s", s->id);
        } else if (ok) {
            MHD_destroy_response(resp);
            free(body);
            return reply_error(srv, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, -32000,
                               "Too many sessions (SNOWFLAKE_MCP_HTTP_MAX_SESSIONS); retry later");
        }
    }
    free(body);
    metrics_http_status(srv->metrics, MHD_HTTP_OK);
    return queue(c, r, MHD_HTTP_OK, resp);
}

/* Parses and dispatches a complete POST body. */
static enum MHD_Result serve_post(hsrv *srv, struct MHD_Connection *c, req *r)
{
    if (r->too_large) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "Request body exceeds %lld bytes (SNOWFLAKE_MCP_MAX_MESSAGE_BYTES)",
                 (long long)srv->cfg->max_message_bytes);
        return reply_error(srv, c, r, MHD_HTTP_CONTENT_TOO_LARGE, MCP_INVALID_REQUEST, msg);
    }
    json_error_t je;
    json_t *msg = json_loadb(r->body.data, r->body.len, 0, &je);
    if (!msg) {
        char text[256];
        snprintf(text, sizeof text, "Parse error: %s", je.text);
        return reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, MCP_PARSE_ERROR, text);
    }
    enum MHD_Result ret;
    json_t *method = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    bool is_request = json_is_string(method) && (json_is_string(id) || json_is_integer(id));
    bool is_init = is_request && strcmp(json_string_value(method), "initialize") == 0;
    bool is_reply = !method && (json_object_get(msg, "result") || json_object_get(msg, "error"));
    if (!json_is_object(msg) || !jsonrpc || strcmp(jsonrpc, "2.0") != 0 ||
        (method && !json_is_string(method)) || (id && !is_request && method) ||
        (!method && !is_reply)) {
        ret = reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, MCP_INVALID_REQUEST,
                          json_is_array(msg) ? "Invalid Request: batches are not supported"
                                             : "Invalid Request: expected one JSON-RPC 2.0 "
                                               "message");
        json_decref(msg);
        return ret;
    }
    hsess *s;
    if (is_init) {
        s = session_new(srv);
        if (!s) {
            json_decref(msg);
            return reply_error(srv, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, MCP_INTERNAL_ERROR,
                               "cannot draw a random session id");
        }
    } else {
        if (!version_ok(c)) {
            json_decref(msg);
            return reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, -32000,
                               "Bad Request: unsupported MCP-Protocol-Version");
        }
        s = require_session(srv, c, r, &ret);
        if (!s) {
            json_decref(msg);
            return ret;
        }
    }
    if (is_request) {
        ret = serve_request(srv, c, r, s, msg, is_init);
    } else if (session_enter(s)) {
        /* A notification or a response: no answer but 202. */
        mcp_session_handle(s->ms, r->body.data, r->body.len);
        session_leave(s);
        ret = reply_text(srv, c, r, MHD_HTTP_ACCEPTED, NULL, "", 0);
    } else {
        ret = reply_error(srv, c, r, MHD_HTTP_NOT_FOUND, -32001, "Session not found");
    }
    if (is_init && !session_find(srv, s->id)) {
        /* initialize failed or was refused: the session never existed. */
        mcp_session_close(s->ms, true);
    } else if (is_init) {
        session_unref(s); /* the reference session_find just took */
    }
    session_unref(s);
    json_decref(msg);
    return ret;
}

/* Header checks common to /mcp; returns true when a reply was queued. */
static bool reject_early(hsrv *srv, struct MHD_Connection *c, req *r, enum MHD_Result *ret)
{
    bool post = strcmp(r->method, "POST") == 0;
    bool get = strcmp(r->method, "GET") == 0;
    if (!post && !get && strcmp(r->method, "DELETE") != 0) {
        *ret = reply_error(srv, c, r, MHD_HTTP_METHOD_NOT_ALLOWED, -32000, "Method not allowed");
        return true;
    }
    if (post) {
        const char *accept = header(c, MHD_HTTP_HEADER_ACCEPT);
        if (!http_accepts(accept, "application/json") ||
            !http_accepts(accept, "text/event-stream")) {
            *ret = reply_error(srv, c, r, MHD_HTTP_NOT_ACCEPTABLE, -32000,
                               "Not Acceptable: Client must accept both application/json and "
                               "text/event-stream");
            return true;
        }
        if (!http_is_json_type(header(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            *ret = reply_error(srv, c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, -32000,
                               "Unsupported Media Type: Content-Type must be application/json");
            return true;
        }
        const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoll(cl, NULL, 10) > srv->cfg->max_message_bytes) {
            r->too_large = true;
            *ret = serve_post(srv, c, r);
            return true;
        }
        return false;
    }
    if (get && !http_accepts(header(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream")) {
        *ret = reply_error(srv, c, r, MHD_HTTP_NOT_ACCEPTABLE, -32000,
                           "Not Acceptable: Client must accept text/event-stream");
        return true;
    }
    if (!version_ok(c)) {
        *ret = reply_error(srv, c, r, MHD_HTTP_BAD_REQUEST, -32000,
                           "Bad Request: unsupported MCP-Protocol-Version");
        return true;
    }
    return false;
}

/* Host, Origin and key checks for every path; true when a reply was queued. */
static bool reject_peer(hsrv *srv, struct MHD_Connection *c, req *r, bool needs_key,
                        enum MHD_Result *ret)
{
    if (!http_policy_host_ok(srv->policy, header(c, MHD_HTTP_HEADER_HOST))) {
        *ret = reply_error(srv, c, r, MHD_HTTP_FORBIDDEN, -32000,
                           "Forbidden: Host header not allowed (DNS rebinding protection)");
        return true;
    }
    if (!http_policy_origin_ok(srv->policy, header(c, "Origin"))) {
        *ret = reply_error(srv, c, r, MHD_HTTP_FORBIDDEN, -32000,
                           "Forbidden: Origin not allowed (SNOWFLAKE_MCP_HTTP_ALLOWED_ORIGINS)");
        return true;
    }
    if (needs_key && !http_policy_auth_ok(srv->policy, header(c, MHD_HTTP_HEADER_AUTHORIZATION))) {
        *ret = reply_error(srv, c, r, MHD_HTTP_UNAUTHORIZED, -32000,
                           "Unauthorized: send Authorization: Bearer <API key>");
        return true;
    }
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    hsrv *srv = cls;
    req *r = *req_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->t0 = clock_now_ns();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        sb_init(&r->body);
        *req_cls = r;
    }
    if (!r->started) {
        r->started = true;
        enum MHD_Result ret;
        bool mcp = strcmp(url, "/mcp") == 0;
        bool ops = strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
                   strcmp(url, "/metrics") == 0;
        if (!mcp && !ops)
            return reply_error(srv, c, r, MHD_HTTP_NOT_FOUND, -32000, "Not found: use /mcp");
        if (reject_peer(srv, c, r, mcp || strcmp(url, "/metrics") == 0, &ret))
            return ret;
        if (ops)
            return serve_ops(srv, c, r);
        if (atomic_load(&srv->draining))
            return reply_error(srv, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, -32000,
                               "Service Unavailable: the server is shutting down");
        if (reject_early(srv, c, r, &ret))
            return ret;
        if (strcmp(method, "GET") == 0)
            return serve_get(srv, c, r);
        if (strcmp(method, "DELETE") == 0)
            return serve_delete(srv, c, r);
        return MHD_YES; /* POST: the body follows */
    }
    if (*upload_data_size > 0) {
        if (!r->too_large && r->body.len + *upload_data_size <= (size_t)srv->cfg->max_message_bytes)
            sb_append(&r->body, upload_data, *upload_data_size);
        else
            r->too_large = true; /* read and dropped, answered 413 at the end */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return serve_post(srv, c, r);
}

/* One access-log line per request, to stderr only (log_local): it never
 * reaches MCP log subscribers. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    log_local(LOG_INFO, "http", "access method=%s path=%s status=%d duration_ms=%.1f session=%s%s",
              r->method, r->path, r->status, (double)(clock_now_ns() - r->t0) / 1e6,
              r->sid[0] ? r->sid : "-",
              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    sb_free(&r->body);
    free(r);
}

/* MHD's own messages, to stderr only (see on_completed). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_local(LOG_ERROR, "libmicrohttpd", "%s", msg);
}

static void on_call(void *ctx, const char *tool, mcp_call_outcome outcome, int64_t latency_ns)
{
    static const metrics_outcome map[] = {METRICS_OK, METRICS_ERROR, METRICS_CANCELLED,
                                          METRICS_PROTOCOL_ERROR};
    metrics_call(ctx, tool, map[outcome], latency_ns);
}

/* ---- the main thread: reaper, idle expiry, keep-alives, shutdown ------- */

static void keepalive_all(hsrv *srv)
{
    pthread_mutex_lock(&srv->mu);
    for (int b = 0; b < SESSION_BUCKETS; b++) {
        for (hsess *s = srv->table[b]; s; s = s->next) {
            pthread_mutex_lock(&s->mu);
            for (stream *st = s->streams; st; st = st->next) {
                if (!st->id && !st->finished) {
                    if (stream_has_room(st, 16))
                        sb_puts(&st->buf, ": keep-alive\n\n");
                    stream_wake(st);
                }
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
    pthread_mutex_unlock(&srv->mu);
}

/* Under srv->mu: true when s had no request, call or GET stream for the
 * idle timeout. */
static bool session_idle(hsrv *srv, hsess *s, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    bool idle =
        s->active == 0 && now - s->last_ns > srv->cfg->http_session_idle_ms * CLOCK_NS_PER_MS;
    for (stream *st = s->streams; st && idle; st = st->next)
        idle = st->finished;
    pthread_mutex_unlock(&s->mu);
    return idle && mcp_session_inflight(s->ms) == 0;
}

/* Ends sessions matching (all, or idle ones); returns how many. */
static int end_sessions(hsrv *srv, bool all, const char *why)
{
    int64_t now = clock_now_ns();
    int n = 0;
    pthread_mutex_lock(&srv->mu);
    hsess *picked[64];
    for (int b = 0; b < SESSION_BUCKETS; b++) {
        for (hsess *s = srv->table[b]; s && n < 64; s = s->next) {
            if (all || session_idle(srv, s, now)) {
                atomic_fetch_add(&s->refs, 1);
                picked[n++] = s;
            }
        }
    }
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < n; i++) {
        log_info("http", "session %.8s: %s", picked[i]->id, why);
        session_end(picked[i], why);
        session_unref(picked[i]);
    }
    reap_all(srv);
    return n;
}

/* Waits until no POST stream is open (calls answered and flushed) or the
 * deadline passes; returns the number still open. */
static int wait_posts(hsrv *srv, int64_t deadline)
{
    pthread_mutex_lock(&srv->drain_mu);
    while (srv->live_post > 0 && clock_cond_wait_until(&srv->drain_cv, &srv->drain_mu, deadline))
        ;
    int n = srv->live_post;
    pthread_mutex_unlock(&srv->drain_mu);
    return n;
}

static int wait_streams(hsrv *srv, int64_t deadline)
{
    pthread_mutex_lock(&srv->drain_mu);
    while (srv->live_streams > 0 && clock_cond_wait_until(&srv->drain_cv, &srv->drain_mu, deadline))
        ;
    int n = srv->live_streams;
    pthread_mutex_unlock(&srv->drain_mu);
    return n;
}

static void shutdown_gracefully(hsrv *srv)
{
    atomic_store(&srv->draining, true);
    MHD_socket lfd = MHD_quiesce_daemon(srv->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    int64_t grace = srv->cfg->http_shutdown_grace_ms;
    log_info("http",
             "stop signal received: no new connections; waiting up to %lld ms for "
             "calls in flight",
             (long long)grace);
    int left = wait_posts(srv, clock_deadline_in_ms(grace > 0 ? grace : 1));
    if (left > 0)
        log_warn("http", "%d request(s) still open after the grace period: cancelling", left);
    int n;
    while ((n = end_sessions(srv, true, "server shutting down")) > 0)
        ;
    reap_all(srv);
    int streams = wait_streams(srv, clock_deadline_in_ms(5000));
    if (streams > 0)
        log_warn("http", "%d stream(s) still open at exit", streams);
}

static void serve_loop(hsrv *srv, int stop_fd)
{
    int64_t idle_ms = srv->cfg->http_session_idle_ms;
    int64_t tick = idle_ms / 2 < KEEPALIVE_MS ? idle_ms / 2 : KEEPALIVE_MS;
    if (tick < 100)
        tick = 100;
    int64_t next_tick = clock_now_ms() + tick;
    for (;;) {
        int64_t wait = next_tick - clock_now_ms();
        struct pollfd fds[2] = {{.fd = stop_fd, .events = POLLIN},
                                {.fd = srv->wake.rfd, .events = POLLIN}};
        int rc = poll(fds, 2, wait > 0 ? (int)wait : 0);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && (fds[0].revents & POLLIN))
            break;
        if (rc > 0 && (fds[1].revents & POLLIN))
            wakefd_drain(&srv->wake);
        reap_all(srv);
        if (clock_now_ms() >= next_tick) {
            keepalive_all(srv);
            end_sessions(srv, false, "idle timeout: session ended");
            next_tick = clock_now_ms() + tick;
        }
    }
}

/* ---- start-up ----------------------------------------------------------- */

static bool resolve_bind(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                         err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        err_set(err, ERR_INVALID, "cannot resolve the listen address %s: %s", host,
                gai_strerror(rc));
        return false;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static void hsrv_free(hsrv *srv)
{
    wakefd_close(&srv->wake);
    http_policy_free(srv->policy);
    metrics_free(srv->metrics);
    pthread_mutex_destroy(&srv->mu);
    pthread_mutex_destroy(&srv->drain_mu);
    pthread_cond_destroy(&srv->drain_cv);
    free(srv);
}

int http_serve(mcp_server *mcp, pool *p, const app_config *cfg, const http_options *opt,
               int stop_fd)
{
    char host[256];
    int port;
    err_t err;
    if (!http_parse_listen(opt->listen, host, sizeof host, &port, &err)) {
        fprintf(stderr, "snowflake-mcp: --http %s\n", err.msg);
        return 2;
    }
    hsrv *srv = xcalloc(1, sizeof *srv);
    srv->mcp = mcp;
    srv->pool = p;
    srv->cfg = cfg;
    wakefd_init(&srv->wake);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->drain_mu, NULL);
    clock_cond_init(&srv->drain_cv);
    srv->metrics = metrics_new();
    srv->policy = http_policy_new(cfg, host, &err);
    if (!srv->policy) {
        fprintf(stderr, "snowflake-mcp: %s\n", err.msg);
        hsrv_free(srv);
        return 2;
    }
    bool loopback = http_addr_is_loopback(host);
    if (!loopback && http_policy_key_count(srv->policy) == 0 && !opt->insecure) {
        fprintf(stderr,
                "snowflake-mcp: refusing to listen on %s without API keys: anyone who can "
                "reach it could query the database. Set SNOWFLAKE_MCP_HTTP_API_KEYS or "
                "--api-key-file, bind to 127.0.0.1, or pass --insecure.\n",
                host);
        hsrv_free(srv);
        return 2;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (!wakefd_open(&srv->wake)) {
        fprintf(stderr, "snowflake-mcp: cannot create a pipe: %s\n", strerror(errno));
        hsrv_free(srv);
        return 2;
    }
    if (!resolve_bind(host, port, &ss, &sslen, &err)) {
        fprintf(stderr, "snowflake-mcp: %s\n", err.msg);
        hsrv_free(srv);
        return 2;
    }
    /* Before the daemon's thread exists, so every call it accepts sees it.
     * Many clients share this server: each sees only its own log lines. */
    mcp_server_set_call_observer(mcp, on_call, srv->metrics);
    mcp_server_set_private_logs(mcp, true);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!srv->d) {
        fprintf(stderr,
                "snowflake-mcp: cannot listen on %s port %d (in use, or not an address "
                "of this machine?)\n",
                host, port);
        mcp_server_set_call_observer(mcp, NULL, NULL);
        hsrv_free(srv);
        return 2;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    bool v6 = strchr(host, ':') != NULL;
    log_msg(LOG_NOTICE, "http", "listening on http://%s%s%s:%d/mcp (%zu API key(s)%s)",
            v6 ? "[" : "", host, v6 ? "]" : "", bound, http_policy_key_count(srv->policy),
            !loopback && http_policy_key_count(srv->policy) == 0 ? ", INSECURE" : "");

    serve_loop(srv, stop_fd);
    shutdown_gracefully(srv);
    MHD_stop_daemon(srv->d);
    mcp_server_set_call_observer(mcp, NULL, NULL);
    log_info("http", "stopped: %llu call(s) answered ok, %llu with an error",
             (unsigned long long)metrics_calls_total(srv->metrics, METRICS_OK),
             (unsigned long long)metrics_calls_total(srv->metrics, METRICS_ERROR));
    hsrv_free(srv);
    return 0;
}
