#include "mcp/server.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/xalloc.h"

static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                 "2024-11-05"};

struct mcp_server {
    tools_ctx *tools;
    const app_config *cfg;
    workq *wq;
    char *instructions;
    mcp_call_observer observer;
    bool private_logs; /* sessions get only their own log lines */ /* may be NULL */
    void *observer_ctx;
};

/* One tools/call between acceptance and its answer. */
typedef struct call {
    mcp_session *s;
    json_t *id;
    char *name;
    json_t *args;
    json_t *progress_token; /* NULL when the client asked for no progress */
    double progress_sent;
    dbp_cancel *cancel;
    bool cancelled; /* under s->mu: answer nothing */
    char tag[96];
    struct call *next;
} call;

struct mcp_session {
    mcp_server *srv;
    mcp_send_fn send;
    void *send_ctx;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when the last call finishes */
    call *calls;         /* in flight */
    size_t ncalls;
    bool closed;
    int log_sink; /* -1 until logging/setLevel */
    char version[16];
};

bool mcp_version_supported(const char *version)
{
    for (size_t i = 0; i < sizeof supported_versions / sizeof *supported_versions; i++) {
        if (strcmp(version, supported_versions[i]) == 0)
            return true;
    }
    return false;
}

mcp_server *mcp_server_new(tools_ctx *tools, const app_config *cfg, workq *wq,
                           const char *instructions)
{
    mcp_server *srv = xcalloc(1, sizeof *srv);
    srv->tools = tools;
    srv->cfg = cfg;
    srv->wq = wq;
    srv->instructions = instructions ? xstrdup(instructions) : NULL;
    return srv;
}

void mcp_server_free(mcp_server *srv)
{
    if (!srv)
        return;
    free(srv->instructions);
    free(srv);
}

void mcp_server_set_call_observer(mcp_server *srv, mcp_call_observer fn, void *ctx)
{
    srv->observer = fn;
    srv->observer_ctx = ctx;
}

void mcp_server_set_private_logs(mcp_server *srv, bool private_logs)
{
    srv->private_logs = private_logs;
}

static void observe_call(mcp_server *srv, const char *tool, mcp_call_outcome outcome, int64_t t0)
{
    if (srv->observer)
        srv->observer(srv->observer_ctx, tool, outcome, clock_now_ns() - t0);
}

/* ---- sending ---------------------------------------------------------- */

/* Sends msg (stolen); related as in mcp_send_fn. */
static void send_json(mcp_session *s, json_t *msg, json_t *related)
{
    char *text = jsonx_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) {
        log_error("mcp", "could not encode a message as JSON");
        return;
    }
    s->send(s->send_ctx, text, strlen(text), related);
    free(text);
}

static void send_error(mcp_session *s, json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every request gets an answer: a result that cannot be encoded becomes an
 * internal error rather than silence. */
static void send_result(mcp_session *s, json_t *id, json_t *result)
{
    json_t *msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
    char *text = msg ? jsonx_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) {
        log_error("mcp", "a result could not be encoded as JSON; answering with an error");
        send_error(s, id, MCP_INTERNAL_ERROR, "Internal error: the result could not be encoded");
        return;
    }
    s->send(s->send_ctx, text, strlen(text), id);
    free(text);
}

static void send_error(mcp_session *s, json_t *id, int code, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    char *msg = utf8_sanitize(raw, strlen(raw), NULL);
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    free(msg);
    send_json(
        s,
        json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err),
        id);
}

static void send_notification(mcp_session *s, const char *method, json_t *params, json_t *related)
{
    send_json(s, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params),
              related);
}

/* ---- sessions --------------------------------------------------------- */

mcp_session *mcp_session_new(mcp_server *srv, mcp_send_fn send, void *send_ctx)
{
    mcp_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->send = send;
    s->send_ctx = send_ctx;
    s->log_sink = -1;
    pthread_mutex_init(&s->mu, NULL);
    clock_cond_init(&s->idle);
    return s;
}

size_t mcp_session_inflight(mcp_session *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->ncalls;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const char *mcp_session_version(mcp_session *s)
{
    return s->version;
}

void mcp_session_close(mcp_session *s, bool cancel)
{
    if (s->log_sink >= 0) {
        log_sink_remove(s->log_sink);
        s->log_sink = -1;
    }
    pthread_mutex_lock(&s->mu);
    for (call *c = s->calls; c && cancel; c = c->next) {
        c->cancelled = true;
        dbp_cancel_fire(c->cancel);
    }
    while (s->ncalls > 0)
        clock_cond_wait_until(&s->idle, &s->mu, 0);
    s->closed = true;
    pthread_mutex_unlock(&s->mu);
}

void mcp_session_free(mcp_session *s)
{
    if (!s)
        return;
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- logging notifications -------------------------------------------- */

static void log_to_client(void *ctx, log_level level, const char *logger, const char *msg,
                          const void *origin)
{
    mcp_session *s = ctx;
    /* A client sees what its own requests logged; lines of nobody's
     * (start-up, pool housekeeping) only where it is the only client. */
    if (origin != s && (origin != NULL || s->srv->private_logs))
        return;
    char *clean = utf8_sanitize(msg, strlen(msg), NULL);
    send_notification(s, "notifications/message",
                      json_pack("{s:s, s:s, s:s}", "level", log_level_name(level), "logger", logger,
                                "data", clean),
                      NULL);
    free(clean);
}

static void handle_set_level(mcp_session *s, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "level"));
    log_level level;
    if (!name || !log_level_parse(name, &level)) {
        send_error(s, id, MCP_INVALID_PARAMS,
                   "Invalid params: level must be one of debug, info, notice, warning, error, "
                   "critical, alert, emergency");
        return;
    }
    if (s->log_sink < 0)
        s->log_sink = log_sink_add(log_to_client, s, level);
    else
        log_sink_set_level(s->log_sink, level);
    send_result(s, id, json_object());
}

/* ---- lifecycle -------------------------------------------------------- */

static void handle_initialize(mcp_session *s, json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (!asked) {
        send_error(s, id, MCP_INVALID_PARAMS, "Invalid params: protocolVersion is required");
        return;
    }
    const char *version = mcp_version_supported(asked) ? asked : MCP_LATEST_VERSION;
    snprintf(s->version, sizeof s->version, "%s", version);
    json_t *caps = json_pack("{s:{s:b}, s:{}}", "tools", "listChanged", 0, "logging");
    json_t *info = json_pack("{s:s, s:s, s:s}", "name", "snowflake-mcp", "title",
                             "Snowflake MCP (read-only)", "version", SMCP_VERSION);
    json_t *result = json_pack("{s:s, s:o, s:o}", "protocolVersion", version, "capabilities", caps,
                               "serverInfo", info);
    if (s->srv->instructions)
        json_object_set_new(result, "instructions", json_string(s->srv->instructions));
    send_result(s, id, result);
}

/* ---- tool calls -------------------------------------------------------- */

static void call_progress(void *ctx, double progress, double total, const char *message)
{
    call *c = ctx;
    if (!c->progress_token)
        return;
    /* Progress must grow strictly; equal values are dropped. */
    if (progress <= c->progress_sent && c->progress_sent > 0)
        return;
    c->progress_sent = progress > 0 ? progress : 0.0001;
    json_t *params =
        json_pack("{s:O, s:f}", "progressToken", c->progress_token, "progress", c->progress_sent);
    if (total > 0)
        json_object_set_new(params, "total", json_real(total));
    if (message)
        json_object_set_new(params, "message", json_string(message));
    send_notification(c->s, "notifications/progress", params, c->id);
}

static void call_free(call *c)
{
    json_decref(c->id);
    json_decref(c->args);
    json_decref(c->progress_token);
    dbp_cancel_free(c->cancel);
    free(c->name);
    free(c);
}

/* Removes c from its session; true if it should still be answered. */
static bool call_finish(call *c)
{
    mcp_session *s = c->s;
    pthread_mutex_lock(&s->mu);
    for (call **pp = &s->calls; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    bool answer = !c->cancelled && !s->closed;
    pthread_mutex_unlock(&s->mu);
    return answer;
}

/* The session's count drops only after the answer is sent, so that
 * mcp_session_close never returns while a send is under way. */
static void call_done(mcp_session *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->ncalls == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void run_call(void *arg)
{
    call *c = arg;
    mcp_session *s = c->s;
    const void *outer = log_set_context(s);
    tools_call_env env = {
        .cancel = c->cancel, .tag = c->tag, .progress = call_progress, .progress_ctx = c};
    json_t *result = NULL;
    const char *message = NULL;
    int64_t t0 = clock_now_ns();
    tools_status st = tools_call(s->srv->tools, c->name, c->args, &env, &result, &message);
    bool answer = call_finish(c);
    log_debug("mcp", "%s: tools/call %s finished in %.1f ms%s", c->tag, c->name,
              (double)(clock_now_ns() - t0) / 1e6, answer ? "" : " (cancelled: no answer)");
    if (!answer)
        s->send(s->send_ctx, NULL, 0, c->id); /* ended unanswered: see mcp_send_fn */
    else if (st != TOOLS_OK)
        send_error(s, c->id, MCP_INVALID_PARAMS, "%s: %s", message, c->name);
    else if (!result)
        send_error(s, c->id, MCP_INTERNAL_ERROR, "Internal error: the tool built no result");
    else
        send_result(s, c->id, json_incref(result));
    mcp_call_outcome outcome = !answer          ? MCP_CALL_CANCELLED
                               : st != TOOLS_OK ? MCP_CALL_PROTOCOL_ERROR
                               : json_is_true(json_object_get(result, "isError")) ? MCP_CALL_ERROR
                                                                                  : MCP_CALL_OK;
    observe_call(s->srv, c->name, outcome, t0);
    json_decref(result);
    call_free(c);
    log_set_context(outer);
    call_done(s);
}

static bool id_in_flight(mcp_session *s, json_t *id)
{
    for (call *c = s->calls; c; c = c->next) {
        if (json_equal(c->id, id))
            return true;
    }
    return false;
}

static void handle_tools_call(mcp_session *s, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!s->srv->tools) {
        send_error(s, id, MCP_INVALID_PARAMS, "Unknown tool: this server has no tools");
        return;
    }
    if (!name) {
        send_error(s, id, MCP_INVALID_PARAMS, "Invalid params: `name` (string) is required");
        return;
    }
    if (args && !json_is_object(args) && !json_is_null(args)) {
        send_error(s, id, MCP_INVALID_PARAMS, "Invalid params: `arguments` must be an object");
        return;
    }
    call *c = xcalloc(1, sizeof *c);
    c->s = s;
    /* Deep copies: the call lives on a worker thread, and jansson's
     * reference counts are not meant to be shared across threads. */
    c->id = json_deep_copy(id);
    c->name = xstrdup(name);
    c->args = json_is_object(args) ? json_deep_copy(args) : NULL;
    json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    c->progress_token =
        (json_is_string(token) || json_is_integer(token)) ? json_deep_copy(token) : NULL;
    c->cancel = dbp_cancel_new();
    char *idtext = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(c->tag, sizeof c->tag, "request %s", idtext ? idtext : "?");
    free(idtext);

    pthread_mutex_lock(&s->mu);
    if (id_in_flight(s, id)) {
        pthread_mutex_unlock(&s->mu);
        call_free(c);
        send_error(s, id, MCP_INVALID_REQUEST,
                   "Invalid Request: id is already in use by a "
                   "request in progress");
        return;
    }
    c->next = s->calls;
    s->calls = c;
    s->ncalls++;
    pthread_mutex_unlock(&s->mu);

    if (!workq_submit(s->srv->wq, run_call, c)) {
        if (call_finish(c)) {
            json_t *busy =
                json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                          "Busy: too many tool calls are queued; retry shortly.", "isError", 1);
            send_result(s, id, busy);
        } else {
            s->send(s->send_ctx, NULL, 0, id); /* cancelled meanwhile: no answer */
        }
        observe_call(s->srv, c->name, MCP_CALL_ERROR, clock_now_ns());
        call_free(c);
        call_done(s);
    }
}

static void handle_cancelled(mcp_session *s, json_t *params)
{
    json_t *id = json_object_get(params, "requestId");
    if (!id)
        return;
    pthread_mutex_lock(&s->mu);
    for (call *c = s->calls; c; c = c->next) {
        if (json_equal(c->id, id)) {
            c->cancelled = true;
            /* Under the session lock the call cannot finish and free its
             * cancel object; firing may reach out to the database. */
            dbp_cancel_fire(c->cancel);
            log_debug("mcp", "%s cancelled by the client", c->tag);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- dispatch --------------------------------------------------------- */

static void dispatch_request(mcp_session *s, const char *method, json_t *id, json_t *params)
{
    if (strcmp(method, "ping") == 0)
        send_result(s, id, json_object());
    else if (strcmp(method, "initialize") == 0)
        handle_initialize(s, id, params);
    else if (strcmp(method, "tools/list") == 0)
        send_result(
            s, id,
            json_pack("{s:o}", "tools", s->srv->tools ? tools_list(s->srv->tools) : json_array()));
    else if (strcmp(method, "tools/call") == 0)
        handle_tools_call(s, id, params);
    else if (strcmp(method, "logging/setLevel") == 0)
        handle_set_level(s, id, params);
    else
        send_error(s, id, MCP_METHOD_NOT_FOUND, "Method not found: %s", method);
}

static void dispatch_notification(mcp_session *s, const char *method, json_t *params)
{
    if (strcmp(method, "notifications/cancelled") == 0)
        handle_cancelled(s, params);
    /* notifications/initialized and unknown notifications need no action. */
}

static bool valid_id(json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

static void handle_message(mcp_session *s, const char *msg, size_t len);

void mcp_session_handle(mcp_session *s, const char *msg, size_t len)
{
    const void *outer = log_set_context(s);
    handle_message(s, msg, len);
    log_set_context(outer);
}

static void handle_message(mcp_session *s, const char *msg, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(msg, len, JSON_DECODE_ANY, &je);
    if (!m) {
        send_error(s, NULL, MCP_PARSE_ERROR, "Parse error: %s (at byte %d)", je.text, je.position);
        return;
    }
    json_t *id = json_object_get(m, "id");
    json_t *method = json_object_get(m, "method");
    json_t *params = json_object_get(m, "params");
    if (json_is_array(m)) {
        send_error(s, NULL, MCP_INVALID_REQUEST, "Invalid Request: batches are not supported");
    } else if (!json_is_object(m) || !json_is_string(json_object_get(m, "jsonrpc")) ||
               strcmp(json_string_value(json_object_get(m, "jsonrpc")), "2.0") != 0) {
        send_error(s, NULL, MCP_INVALID_REQUEST,
                   "Invalid Request: expected a JSON-RPC 2.0 object with \"jsonrpc\":\"2.0\"");
    } else if (!method) {
        /* A response to a request of ours (we send none) or junk. */
        if (!json_object_get(m, "result") && !json_object_get(m, "error"))
            send_error(s, valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                       "Invalid Request: no method");
    } else if (!json_is_string(method) || (id && !valid_id(id))) {
        send_error(s, NULL, MCP_INVALID_REQUEST,
                   "Invalid Request: method must be a string and id a string or integer");
    } else if (params && !json_is_object(params)) {
        if (id)
            send_error(s, id, MCP_INVALID_PARAMS, "Invalid params: params must be an object");
    } else if (id) {
        dispatch_request(s, json_string_value(method), id, params);
    } else {
        dispatch_notification(s, json_string_value(method), params);
    }
    json_decref(m);
}
