#include "db/snowflake/sfapi.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "db/snowflake/sfhttp.h"

#define POLL_FIRST_MS 250
#define POLL_MAX_MS 5000
#define RETRY_BASE_MS 250
#define RETRY_MAX_MS 4000
/* Time allowed to cancel a statement after the call itself has ended. */
#define CANCEL_BUDGET_MS 5000

struct sfapi {
    char *base;
    sfauth *auth;
    sfhttp *http;
    atomic_bool cancel_req;
};

/* One statement's journey through the API. */
typedef struct run {
    sfapi *api;
    const sfapi_stmt *st;
    sfapi_fail *fail;
    bool renewed; /* a 401 already led to a new token */
    int attempt;  /* transient failures so far */
} run;

typedef enum step { STEP_DONE, STEP_RETRY, STEP_FAIL, STEP_PENDING } step;

void sfapi_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* Uniqueness is all a requestId needs; fall back to the clock. */
        int64_t t = clock_now_ns() ^ clock_wall_s();
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)(i * 37);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

sfapi *sfapi_new(const char *base_url, sfauth *auth, const char *ca_file, err_t *err)
{
    sfhttp *h = sfhttp_new(ca_file, err);
    if (!h)
        return NULL;
    sfapi *api = xcalloc(1, sizeof *api);
    api->base = xstrdup(base_url);
    api->auth = auth;
    api->http = h;
    atomic_init(&api->cancel_req, false);
    return api;
}

void sfapi_free(sfapi *api)
{
    if (!api)
        return;
    sfhttp_free(api->http);
    free(api->base);
    free(api);
}

void sfapi_cancel(sfapi *api)
{
    atomic_store(&api->cancel_req, true);
    sfhttp_wakeup(api->http);
}

static bool should_stop(void *ctx)
{
    const run *r = ctx;
    return atomic_load(&r->api->cancel_req) || (r->st->cancelled && atomic_load(r->st->cancelled));
}

static int64_t timeout_s(int64_t deadline_ns)
{
    if (!deadline_ns)
        return SFAPI_DEFAULT_TIMEOUT_S;
    int64_t ms = clock_ms_left(deadline_ns);
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

char *sfapi_request_body(const sfapi_stmt *st)
{
    json_t *body = json_object();
    json_object_set_new(body, "statement", json_string(st->sql));
    json_object_set_new(body, "timeout", json_integer(timeout_s(st->deadline_ns)));
    const char *keys[] = {"database", "schema", "warehouse", "role"};
    const char *vals[] = {st->database, st->schema, st->warehouse, st->role};
    for (size_t i = 0; i < 4; i++) {
        if (vals[i] && *vals[i])
            json_object_set_new(body, keys[i], json_string(vals[i]));
    }
    json_object_set_new(
        body, "parameters",
        json_pack("{s:s,s:s}", "MULTI_STATEMENT_COUNT", "1", "QUERY_TAG", "snowflake-mcp"));
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    return text;
}

/* ---- one HTTP exchange ------------------------------------------------ */

typedef struct exchange {
    const char *method;
    const char *url;
    const char *body;
    int64_t deadline_ns;
    bool stoppable;
} exchange;

/* Sends one request with the current token; *gen says which token. */
static sfhttp_outcome send_once(run *r, const exchange *x, sfhttp_resp *rs, uint64_t *gen,
                                err_t *err)
{
    char *token = NULL;
    if (!sfauth_token(r->api->auth, &token, gen, err)) {
        sb_init(&rs->body);
        return SFHTTP_NETWORK;
    }
    sfhttp_req rq = {.method = x->method,
                     .url = x->url,
                     .body = x->body,
                     .bearer = token,
                     .token_type = sfauth_token_type(r->api->auth),
                     .deadline_ns = x->deadline_ns,
                     .stop = x->stoppable ? should_stop : NULL,
                     .stop_ctx = r};
    sfhttp_outcome o = sfhttp_perform(r->api->http, &rq, rs);
    sfauth_token_wipe(token);
    return o;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* Waits ms (or until the deadline); false when stopped or out of time. */
static bool pause_ms(run *r, int64_t ms, int64_t deadline_ns)
{
    int64_t until = min_deadline(clock_now_ns() + ms * CLOCK_NS_PER_MS, deadline_ns);
    if (!sfhttp_wait(r->api->http, until, should_stop, r))
        return false;
    return !deadline_ns || clock_now_ns() < deadline_ns;
}

static int64_t backoff_ms(int attempt)
{
    int64_t d = RETRY_BASE_MS << (attempt < 5 ? attempt : 5);
    if (d > RETRY_MAX_MS)
        d = RETRY_MAX_MS;
    unsigned char rb[2] = {0, 0};
    RAND_bytes(rb, sizeof rb);
    /* equal jitter: half fixed, half random */
    return d / 2 + (int64_t)(((unsigned)rb[0] << 8 | rb[1]) % (unsigned)(d / 2 + 1));
}

/* ---- interpreting answers --------------------------------------------- */

static void fill_fail(sfapi_fail *fail, long status, const json_t *j)
{
    if (!fail)
        return;
    fail->http_status = status;
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *state = json_string_value(json_object_get(j, "sqlState"));
    snprintf(fail->code, sizeof fail->code, "%s", code ? code : "");
    snprintf(fail->sql_state, sizeof fail->sql_state, "%s", state ? state : "");
}

/* The server's message, or a short excerpt of a non-JSON body. */
static void server_message(const json_t *j, const char *body, size_t len, char *out, size_t n)
{
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m) {
        snprintf(out, n, "%s", m);
        return;
    }
    size_t k = len < 160 ? len : 160;
    size_t w = 0;
    for (size_t i = 0; i < k && w + 1 < n; i++) {
        char c = body[i];
        out[w++] = (c >= 32 && c < 127) ? c : ' ';
    }
    out[w] = '\0';
}

static void sql_error(const json_t *j, const char *msg, err_t *err)
{
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *state = json_string_value(json_object_get(j, "sqlState"));
    code = code ? code : "";
    state = state ? state : "";
    if (strcmp(code, "002003") == 0) {
        err_set(err, ERR_NOT_FOUND,
                "%s (Snowflake error 002003: the object does not exist, or "
                "the role in use is not authorized to see it)",
                msg);
    } else if (strcmp(code, "000606") == 0) {
        err_set(err, ERR_SQL,
                "%s (error 000606: no warehouse to run the query: set "
                "SNOWFLAKE_WAREHOUSE, or give the user a DEFAULT_WAREHOUSE)",
                msg);
    } else if (strcmp(code, "000604") == 0) {
        err_set(err, ERR_CANCELLED, "the statement was cancelled in Snowflake: %s", msg);
    } else if (strcmp(code, "000630") == 0) {
        err_set(err, ERR_TIMEOUT, "the statement reached its time limit in Snowflake: %s", msg);
    } else {
        err_set(err, ERR_SQL, "%s (Snowflake error %s, SQL state %s)", msg, code, state);
    }
}

/* Non-success statuses that are final. */
static void http_error(long status, const json_t *j, const char *body, size_t len,
                       const sfapi_client_info *who, sfapi_fail *fail, err_t *err)
{
    char msg[400];
    server_message(j, body, len, msg, sizeof msg);
    fill_fail(fail, status, j);
    const char *code = json_string_value(json_object_get(j, "code"));
    switch (status) {
    case 401:
        if (who->auth == SF_AUTH_KEYPAIR) {
            err_set(err, ERR_AUTH,
                    "Snowflake rejected the key-pair JWT (HTTP 401%s%s: %s). Check that "
                    "SNOWFLAKE_ACCOUNT (JWT account %s) and SNOWFLAKE_USER are right, that the "
                    "user's RSA_PUBLIC_KEY_FP (DESC USER) is %s, and that this machine's clock "
                    "is correct",
                    code ? ", code " : "", code ? code : "", msg,
                    who->jwt_account ? who->jwt_account : "?",
                    who->fingerprint ? who->fingerprint : "?");
        } else {
            err_set(err, ERR_AUTH, "Snowflake rejected the %s token (HTTP 401%s%s: %s)",
                    who->token_type ? who->token_type : "bearer", code ? ", code " : "",
                    code ? code : "", msg);
        }
        break;
    case 403:
        err_set(err, ERR_AUTH,
                "Snowflake refused the request (HTTP 403: %s). A network policy may not allow "
                "this machine's IP address, or the user/role may not use the SQL API",
                msg);
        break;
    case 404:
        err_set(err, ERR_CONNECT,
                "no Snowflake SQL API at %s (HTTP 404: %s); check SNOWFLAKE_ACCOUNT or "
                "SNOWFLAKE_HOST",
                who->base_url, msg);
        break;
    case 408:
        err_set(err, ERR_TIMEOUT,
                "the statement exceeded its time limit and Snowflake cancelled it (HTTP 408)");
        break;
    case 422:
        sql_error(j, msg, err);
        break;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        err_set(err, ERR_BUSY,
                "Snowflake is overloaded or unavailable (HTTP %ld after %d attempts: %s); retry "
                "later",
                status, who->attempts, msg);
        break;
    default:
        err_set(err, ERR_SQL, "Snowflake answered HTTP %ld: %s", status, msg);
        break;
    }
}

bool sfapi_read_answer(long status, const char *body, size_t len, const sfapi_client_info *who,
                       json_t **answer, sfapi_fail *fail, err_t *err)
{
    *answer = NULL;
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (status == 200 || status == 202) {
        if (!j) {
            err_set(err, ERR_INTERNAL, "Snowflake's answer (HTTP %ld) is not JSON: %s", status,
                    je.text);
            return false;
        }
        *answer = j;
        return true;
    }
    http_error(status, j, body, len, who, fail, err);
    json_decref(j);
    return false;
}

static char *handle_of(const json_t *j)
{
    const char *h = json_string_value(json_object_get(j, "statementHandle"));
    return h ? xstrdup(h) : NULL;
}

bool sfapi_poll_target(const char *base_url, const json_t *answer, char **handle, char **url)
{
    *handle = handle_of(answer);
    *url = NULL;
    if (!*handle)
        return false;
    const char *status_path = json_string_value(json_object_get(answer, "statementStatusUrl"));
    strbuf sb;
    sb_init(&sb);
    if (status_path)
        sb_printf(&sb, "%s%s%s", base_url, status_path[0] == '/' ? "" : "/", status_path);
    else
        sb_printf(&sb, "%s/api/v2/statements/%s", base_url, *handle);
    *url = sb_detach(&sb);
    return true;
}

static sfapi_client_info client_info(const run *r)
{
    sfauth *a = r->api->auth;
    return (sfapi_client_info){.base_url = r->api->base,
                               .auth = sfauth_kind(a),
                               .token_type = sfauth_token_type(a),
                               .jwt_account = sfauth_jwt_account(a),
                               .fingerprint = sfauth_fingerprint(a),
                               .attempts = r->attempt};
}

static bool transient_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Ends a call that was stopped or ran out of time. */
static void stopped_error(run *r, const char *handle, err_t *err)
{
    bool cancelled = should_stop(r);
    if (cancelled)
        err_set(err, ERR_CANCELLED, "the query was cancelled%s",
                handle ? "; it was also cancelled in Snowflake" : "");
    else
        err_set(err, ERR_TIMEOUT, "the query exceeded its time limit%s",
                handle ? " and was cancelled in Snowflake" : "");
}

static void network_fail(run *r, const sfhttp_resp *rs, bool never_ran, err_t *err)
{
    err_set(err, ERR_CONN_LOST, "cannot reach Snowflake at %s: %s%s", r->api->base, rs->error,
            strstr(rs->error, "resolve") ? " (check SNOWFLAKE_ACCOUNT: e.g. myorg-myaccount)" : "");
    err->never_ran = never_ran;
}

/* Sends x, renewing the token on a first 401 and retrying transient
 * failures. On STEP_DONE *j is the parsed body of a 200 or 202 and *status
 * its status. *sent_any tells whether any attempt may have reached the
 * server. retry_url, when not NULL, replaces x->url after a first attempt. */
static step exchange_json(run *r, exchange *x, const char *retry_url, json_t **j, long *status,
                          bool *sent_any, err_t *err)
{
    for (;;) {
        sfhttp_resp rs;
        uint64_t gen = 0;
        sfhttp_outcome o = send_once(r, x, &rs, &gen, err);
        if (o == SFHTTP_NETWORK && rs.error[0] == '\0') {
            sb_free(&rs.body); /* token could not be made: err is set */
            return STEP_FAIL;
        }
        if (o == SFHTTP_STOPPED || o == SFHTTP_DEADLINE) {
            sb_free(&rs.body);
            /* Only a request that left this host can have started a
             * statement; resending its requestId later would start it. */
            if (!rs.not_sent)
                *sent_any = true;
            return STEP_PENDING;
        }
        if (retry_url)
            x->url = retry_url;
        if (o == SFHTTP_RESPONSE || !rs.not_sent)
            *sent_any = true;
        if (o == SFHTTP_NETWORK) {
            log_debug("snowflake", "network error (attempt %d): %s", r->attempt + 1, rs.error);
            bool more = ++r->attempt < SFAPI_MAX_ATTEMPTS;
            if (more) {
                sb_free(&rs.body);
                if (pause_ms(r, backoff_ms(r->attempt - 1), x->deadline_ns))
                    continue;
                /* Out of time or cancelled while waiting to retry: that is
                 * a timeout or a cancel (the caller cancels what it knows
                 * of), not a lost connection. */
                return STEP_PENDING;
            }
            network_fail(r, &rs, !*sent_any, err);
            sb_free(&rs.body);
            return STEP_FAIL;
        }
        long st = rs.status;
        if (st == 401 && !r->renewed) {
            r->renewed = true;
            sb_free(&rs.body);
            if (!sfauth_renew(r->api->auth, gen, err))
                return STEP_FAIL;
            continue;
        }
        if (transient_status(st) && ++r->attempt < SFAPI_MAX_ATTEMPTS) {
            log_debug("snowflake", "HTTP %ld (attempt %d); retrying", st, r->attempt);
            sb_free(&rs.body);
            if (pause_ms(r, backoff_ms(r->attempt - 1), x->deadline_ns))
                continue;
            return STEP_PENDING;
        }
        sfapi_client_info who = client_info(r);
        bool ok = sfapi_read_answer(st, rs.body.data, rs.body.len, &who, j, r->fail, err);
        sb_free(&rs.body);
        if (!ok)
            return STEP_FAIL;
        *status = st;
        return STEP_DONE;
    }
}

/* ---- cancelling ----------------------------------------------------------- */

/* send_once for a cancel: a 401 renews the token once and resends, since a
 * cancel that fails on an expired token leaves the statement running. */
static sfhttp_outcome send_cancel_request(run *r, exchange *x, sfhttp_resp *rs)
{
    uint64_t gen = 0;
    err_t e;
    sfhttp_outcome o = send_once(r, x, rs, &gen, &e);
    if (o == SFHTTP_RESPONSE && rs->status == 401) {
        if (!sfauth_renew(r->api->auth, gen, &e)) {
            log_info("snowflake", "cannot renew the token to cancel: %s", e.msg);
            return o;
        }
        sb_free(&rs->body);
        o = send_once(r, x, rs, &gen, &e);
    }
    return o;
}

static void cancel_handle(run *r, const char *handle)
{
    strbuf url;
    sb_init(&url);
    sb_printf(&url, "%s/api/v2/statements/%s/cancel", r->api->base, handle);
    exchange x = {.method = "POST",
                  .url = url.data,
                  .deadline_ns = clock_deadline_in_ms(CANCEL_BUDGET_MS),
                  .stoppable = false};
    sfhttp_resp rs;
    sfhttp_outcome o = send_cancel_request(r, &x, &rs);
    if (o != SFHTTP_RESPONSE || rs.status != 200)
        log_info("snowflake", "cancelling statement %s: %s", handle,
                 o == SFHTTP_RESPONSE ? "Snowflake did not confirm" : "no answer");
    sb_free(&rs.body);
    sb_free(&url);
}

/* The submit was interrupted before an answer: learn the statement's handle
 * by resending the same requestId (retry=true makes Snowflake report the
 * existing statement rather than run it again; async=true answers at once),
 * then cancel it. */
static void cancel_by_request(run *r, const char *request_id, const char *body)
{
    strbuf url;
    sb_init(&url);
    sb_printf(&url, "%s/api/v2/statements?requestId=%s&retry=true&async=true", r->api->base,
              request_id);
    exchange x = {.method = "POST",
                  .url = url.data,
                  .body = body,
                  .deadline_ns = clock_deadline_in_ms(CANCEL_BUDGET_MS),
                  .stoppable = false};
    sfhttp_resp rs;
    if (send_cancel_request(r, &x, &rs) == SFHTTP_RESPONSE && rs.status == 202) {
        json_t *j = json_loadb(rs.body.data, rs.body.len, 0, NULL);
        char *h = handle_of(j);
        if (h)
            cancel_handle(r, h);
        free(h);
        json_decref(j);
    }
    sb_free(&rs.body);
    sb_free(&url);
}

/* ---- polling ---------------------------------------------------------- */

static bool poll_until_done(run *r, json_t **j, err_t *err)
{
    char *handle = NULL, *url = NULL;
    bool have = sfapi_poll_target(r->api->base, *j, &handle, &url);
    json_decref(*j);
    *j = NULL;
    if (!have) {
        err_set(err, ERR_INTERNAL, "Snowflake answered 202 without a statement handle");
        return false;
    }
    int64_t delay = POLL_FIRST_MS;
    bool ok = false, pending = false;
    for (;;) {
        if (!pause_ms(r, delay, r->st->deadline_ns)) {
            pending = true;
            break;
        }
        delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
        exchange x = {
            .method = "GET", .url = url, .deadline_ns = r->st->deadline_ns, .stoppable = true};
        long status = 0;
        bool sent = true;
        r->attempt = 0;
        step s = exchange_json(r, &x, NULL, j, &status, &sent, err);
        if (s == STEP_PENDING) {
            pending = true;
            break;
        }
        if (s == STEP_FAIL) {
            err->never_ran = false;
            /* The statement may still be running (e.g. the network failed
             * on every retry): cancel it, best effort. A statement that
             * Snowflake reported as failed or cancelled has already ended. */
            if (err->kind != ERR_SQL && err->kind != ERR_NOT_FOUND && err->kind != ERR_CANCELLED)
                cancel_handle(r, handle);
            break;
        }
        if (status == 200) {
            ok = true;
            break;
        }
        json_decref(*j);
        *j = NULL;
    }
    if (pending) {
        cancel_handle(r, handle);
        stopped_error(r, handle, err);
    }
    free(handle);
    free(url);
    return ok;
}

/* ---- public calls ------------------------------------------------------- */

bool sfapi_execute(sfapi *api, const sfapi_stmt *st, json_t **resp, sfapi_fail *fail, err_t *err)
{
    *resp = NULL;
    atomic_store(&api->cancel_req, false);
    if (fail)
        memset(fail, 0, sizeof *fail);
    run r = {.api = api, .st = st, .fail = fail};
    if (should_stop(&r) || (st->deadline_ns && clock_now_ns() >= st->deadline_ns)) {
        stopped_error(&r, NULL, err);
        err->never_ran = true;
        return false;
    }
    char request_id[37];
    sfapi_uuid(request_id);
    char *body = sfapi_request_body(st);
    strbuf url, retry_url;
    sb_init(&url);
    sb_init(&retry_url);
    sb_printf(&url, "%s/api/v2/statements?requestId=%s", api->base, request_id);
    sb_printf(&retry_url, "%s&retry=true", url.data);
    exchange x = {.method = "POST",
                  .url = url.data,
                  .body = body,
                  .deadline_ns = st->deadline_ns,
                  .stoppable = true};
    json_t *j = NULL;
    long status = 0;
    bool sent = false;
    step s = exchange_json(&r, &x, retry_url.data, &j, &status, &sent, err);
    bool ok = s == STEP_DONE;
    if (s == STEP_PENDING) {
        if (sent)
            cancel_by_request(&r, request_id, body);
        stopped_error(&r, NULL, err);
        err->never_ran = !sent;
    } else if (ok && status == 202) {
        ok = poll_until_done(&r, &j, err);
    }
    free(body);
    sb_free(&url);
    sb_free(&retry_url);
    if (ok)
        *resp = j;
    else
        json_decref(j);
    return ok;
}

bool sfapi_partition(sfapi *api, const sfapi_stmt *st, const char *handle, size_t n, json_t **data,
                     err_t *err)
{
    *data = NULL;
    run r = {.api = api, .st = st};
    strbuf url;
    sb_init(&url);
    sb_printf(&url, "%s/api/v2/statements/%s?partition=%zu", api->base, handle, n);
    exchange x = {
        .method = "GET", .url = url.data, .deadline_ns = st->deadline_ns, .stoppable = true};
    json_t *j = NULL;
    long status = 0;
    bool sent = false;
    step s = exchange_json(&r, &x, NULL, &j, &status, &sent, err);
    sb_free(&url);
    if (s == STEP_PENDING) {
        stopped_error(&r, NULL, err);
        return false;
    }
    if (s != STEP_DONE)
        return false;
    json_t *d = json_object_get(j, "data");
    if (status != 200 || !json_is_array(d)) {
        err_set(err, ERR_INTERNAL, "Snowflake's result partition %zu has no data array", n);
        json_decref(j);
        return false;
    }
    *data = json_incref(d);
    json_decref(j);
    return true;
}
