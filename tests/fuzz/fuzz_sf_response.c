/* Fuzzes the reading of Snowflake SQL API answers, which come from the
 * network: sfapi_read_answer (status + body bytes into a parsed answer or an
 * error), sfapi_poll_target (the statement handle and the URL to poll) and
 * sfresult_take (the rows of a finished statement within the limits).
 * Input: bytes 0-1 pick the HTTP status, byte 2 max_rows (low nibble) and
 * the auth kind, byte 3 max_bytes (0: none, else 8 per unit); the rest is
 * the body. A body that is a JSON object may carry "partitions": an array
 * whose element n-1 is what fetching partition n returns (a missing or
 * non-array element makes that fetch fail).
 * Besides memory safety and leaks (ASan) it aborts when an invariant breaks:
 *   - read_answer succeeds exactly for a 200/202 with a JSON object or
 *     array body, giving that JSON; otherwise its error has the kind the
 *     header documents for the status (and code), a message that is never
 *     empty, valid UTF-8 and carries a short printable server message, and
 *     fail holds the status;
 *   - poll_target succeeds exactly when statementHandle is a string; its URL
 *     is base + "/" + the status path or the handle's path, so it starts
 *     with base + "/", and libcurl's own URL parser finds base's host and
 *     port in it;
 *   - sfresult_take fails only when rowType is unusable or a fetch fails;
 *     on success it has one column per rowType entry, keeps exactly the
 *     rows the limits allow, in order and decoded as sfdecode decodes them,
 *     with their byte count; it fetches partitions in order, by the
 *     answer's handle, only while rows are still wanted; and its
 *     truncation flag says whether rows were left behind. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"
#include "db/result.h"
#include "db/snowflake/sfapi.h"
#include "db/snowflake/sfdecode.h"
#include "db/snowflake/sfresult.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 202, 200, 202, 401, 403, 404, 408, 422, 422,
                                429, 500, 502, 503, 504, 400, 418, 302, 0,   999};
#define NSTATUS (sizeof statuses / sizeof *statuses)

static const char *const bases[] = {"https://myorg-acct.snowflakecomputing.com",
                                    "https://127.0.0.1:8443"};
static const char *const base_hosts[] = {"myorg-acct.snowflakecomputing.com", "127.0.0.1"};
static const char *const base_ports[] = {NULL, "8443"};

static void check_err(const err_t *e)
{
    size_t n = strnlen(e->msg, sizeof e->msg);
    if (e->kind == ERR_NONE || n == 0 || n == sizeof e->msg || !utf8_valid(e->msg, n))
        abort();
}

/* ---- read_answer ------------------------------------------------------------- */

static err_kind kind_for(long status, const json_t *j)
{
    const char *code = json_string_value(json_object_get(j, "code"));
    code = code ? code : "";
    switch (status) {
    case 200:
    case 202:
        return ERR_INTERNAL;
    case 401:
    case 403:
        return ERR_AUTH;
    case 404:
        return ERR_CONNECT;
    case 408:
        return ERR_TIMEOUT;
    case 422:
        return !strcmp(code, "002003")   ? ERR_NOT_FOUND
               : !strcmp(code, "000604") ? ERR_CANCELLED
               : !strcmp(code, "000630") ? ERR_TIMEOUT
                                         : ERR_SQL;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return ERR_BUSY;
    default:
        return ERR_SQL;
    }
}

static bool printable(const char *s)
{
    for (; *s; s++) {
        if (*s < 32 || *s > 126)
            return false;
    }
    return true;
}

static void fuzz_read_answer(long status, const char *body, size_t len, sf_auth_type auth)
{
    sfapi_client_info who = {.base_url = bases[0],
                             .auth = auth,
                             .token_type = auth == SF_AUTH_KEYPAIR ? "KEYPAIR_JWT" : "OAUTH",
                             .jwt_account = auth == SF_AUTH_KEYPAIR ? "MYORG-ACCT" : NULL,
                             .fingerprint = auth == SF_AUTH_KEYPAIR ? "SHA256:abc=" : NULL,
                             .attempts = 6};
    json_t *model = json_loadb(body, len, 0, NULL);
    json_t *answer = (json_t *)1;
    sfapi_fail fail;
    memset(&fail, 0x5a, sizeof fail);
    err_t e;
    err_clear(&e);
    bool ok = sfapi_read_answer(status, body, len, &who, &answer, &fail, &e);
    bool success = status == 200 || status == 202;
    if (ok != (success && model))
        abort();
    if (ok) {
        if (!answer || !json_equal(answer, model) || e.kind != ERR_NONE)
            abort();
        json_decref(answer);
    } else {
        if (answer)
            abort();
        check_err(&e);
        if (e.kind != kind_for(status, model))
            abort();
        if (!success) {
            if (fail.http_status != status ||
                strnlen(fail.code, sizeof fail.code) == sizeof fail.code ||
                strnlen(fail.sql_state, sizeof fail.sql_state) == sizeof fail.sql_state)
                abort();
            const char *m = json_string_value(json_object_get(model, "message"));
            const char *code = json_string_value(json_object_get(model, "code"));
            bool short_code = !code || strlen(code) < 32;
            if (m && status != 408 && strlen(m) < 100 && printable(m) && short_code &&
                !strstr(e.msg, m))
                abort();
        }
    }
    json_decref(model);
}

/* ---- poll_target ----------------------------------------------------------------- */

/* libcurl's reading of url must find host and port (NULL: none given). An
 * URL libcurl refuses is never requested, so it passes. */
static void check_curl_host(const char *url, const char *host, const char *port)
{
    CURLU *u = curl_url();
    if (!u)
        abort();
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        char *h = NULL, *p = NULL;
        if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || strcmp(h, host) != 0)
            abort();
        CURLUcode pc = curl_url_get(u, CURLUPART_PORT, &p, 0);
        if (port ? pc != CURLUE_OK || strcmp(p, port) != 0 : pc == CURLUE_OK)
            abort();
        curl_free(h);
        curl_free(p);
    }
    curl_url_cleanup(u);
}

static void fuzz_poll_target(const json_t *answer)
{
    const char *want_handle = json_string_value(json_object_get(answer, "statementHandle"));
    const char *path = json_string_value(json_object_get(answer, "statementStatusUrl"));
    for (size_t b = 0; b < 2; b++) {
        char *handle = (char *)1, *url = (char *)1;
        bool ok = sfapi_poll_target(bases[b], answer, &handle, &url);
        if (ok != (want_handle != NULL))
            abort();
        if (!ok) {
            if (handle || url)
                abort();
            continue;
        }
        if (!handle || !url || strcmp(handle, want_handle) != 0)
            abort();
        size_t bl = strlen(bases[b]);
        if (strncmp(url, bases[b], bl) != 0 || url[bl] != '/')
            abort();
        char want[4096];
        int wl =
            path ? snprintf(want, sizeof want, "%s%s%s", bases[b], path[0] == '/' ? "" : "/", path)
                 : snprintf(want, sizeof want, "%s/api/v2/statements/%s", bases[b], handle);
        if (wl < (int)sizeof want && strcmp(url, want) != 0)
            abort();
        check_curl_host(url, base_hosts[b], base_ports[b]);
        free(handle);
        free(url);
    }
}

/* ---- sfresult_take --------------------------------------------------------------- */

typedef struct fetches {
    const json_t *resp;
    const json_t *partitions;
    size_t max_rows;
    size_t next; /* the partition the next fetch must ask for */
    bool failed; /* a fetch failed */
} fetches;

static size_t parts_of(const json_t *resp)
{
    return json_array_size(
        json_object_get(json_object_get(resp, "resultSetMetaData"), "partitionInfo"));
}

static bool fetch(void *ctx, const char *handle, size_t n, json_t **data, err_t *err)
{
    fetches *f = ctx;
    const char *want = json_string_value(json_object_get(f->resp, "statementHandle"));
    if (!want || strcmp(handle, want) != 0 || n != f->next || n >= parts_of(f->resp) || f->failed)
        abort();
    /* Rows before partition n: asking for n is a waste when they fill the
     * row limit already. */
    size_t prior = json_array_size(json_object_get(f->resp, "data"));
    for (size_t k = 1; k < n; k++)
        prior += json_array_size(json_array_get(f->partitions, k - 1));
    if (prior >= f->max_rows)
        abort();
    f->next++;
    json_t *d = json_array_get(f->partitions, n - 1);
    if (!json_is_array(d)) {
        f->failed = true;
        err_set(err, ERR_INTERNAL, "partition %zu is missing", n);
        return false;
    }
    *data = json_incref(d);
    return true;
}

/* The rows a reader may see, in order: partition 0, then the partitions
 * the answer lists, up to the first that cannot be fetched (*complete
 * false then). *all_nonempty: no listed partition is empty. */
static json_t *available_rows(const json_t *resp, const json_t *partitions, bool *complete,
                              bool *all_nonempty)
{
    json_t *rows = json_array();
    const json_t *d0 = json_object_get(resp, "data");
    for (size_t i = 0; i < json_array_size(d0); i++)
        json_array_append(rows, json_array_get(d0, i));
    *complete = *all_nonempty = true;
    size_t parts = parts_of(resp);
    bool handle = json_is_string(json_object_get(resp, "statementHandle"));
    for (size_t p = 1; p < parts; p++) {
        const json_t *d = json_array_get(partitions, p - 1);
        if (!handle || !json_is_array(d)) {
            *complete = false;
            break;
        }
        *all_nonempty = *all_nonempty && json_array_size(d) > 0;
        for (size_t i = 0; i < json_array_size(d); i++)
            json_array_append(rows, json_array_get(d, i));
    }
    return rows;
}

static void check_rows(const json_t *resp, const json_t *partitions, const db_result *r,
                       size_t max_rows, size_t max_bytes)
{
    const json_t *meta = json_object_get(resp, "resultSetMetaData");
    const json_t *row_type = json_object_get(meta, "rowType");
    if (r->ncols != json_array_size(row_type) || db_result_row_count(r) > max_rows)
        abort();
    db_result *scratch = db_result_new();
    size_t ncols = 0;
    err_t e;
    sfd_col *cols = sfdecode_columns(row_type, scratch, &ncols, &e);
    if (!cols)
        abort();
    bool complete, all_nonempty;
    json_t *avail = available_rows(resp, partitions, &complete, &all_nonempty);
    /* No row can come from beyond a partition that cannot be fetched. */
    if (db_result_row_count(r) > json_array_size(avail))
        abort();
    /* The kept rows are the first ones, decoded. */
    size_t kept = db_result_row_count(r), bytes = 0;
    for (size_t i = 0; i < kept; i++) {
        json_t *row = json_array_get(r->rows, i);
        if (!json_is_array(row) || json_array_size(row) != ncols)
            abort();
        if (max_bytes && bytes > max_bytes)
            abort(); /* a row added after the byte limit was passed */
        json_t *want = sfdecode_row(cols, ncols, json_array_get(avail, i), &bytes);
        if (!json_equal(want, row))
            abort();
        json_decref(want);
    }
    if (r->bytes != bytes)
        abort();
    if (complete) {
        size_t total = json_array_size(avail);
        bool by_limit = kept >= max_rows || (max_bytes && bytes > max_bytes);
        if (kept < total && !by_limit)
            abort(); /* stopped early */
        const json_t *num = json_object_get(meta, "numRows");
        const char *code = json_string_value(json_object_get(resp, "code"));
        bool server = code && strcmp(code, "391908") == 0;
        bool num_usable = json_is_integer(num) && json_integer_value(num) >= 0;
        bool num_true = num_usable && (size_t)json_integer_value(num) == total;
        if (server && (!r->truncated || strcmp(r->truncated_by, SFRESULT_TRUNCATED_BY_SERVER)))
            abort();
        if (!server && (num_true || !num_usable)) {
            if (kept < total && !r->truncated)
                abort(); /* rows left behind unreported */
            if (r->truncated && kept == total && (num_true || all_nonempty))
                abort(); /* nothing was left behind */
            if (r->truncated && kept < total &&
                strcmp(r->truncated_by,
                       bytes > max_bytes && max_bytes ? "byte limit" : "row limit"))
                abort();
        }
    }
    json_decref(avail);
    free(cols);
    db_result_free(scratch);
}

static void fuzz_take(const json_t *resp, size_t max_rows, size_t max_bytes)
{
    const json_t *partitions = json_object_get(resp, "partitions");
    fetches f = {.resp = resp, .partitions = partitions, .max_rows = max_rows, .next = 1};
    db_result *r = (db_result *)1;
    err_t e;
    err_clear(&e);
    bool ok = sfresult_take(resp, max_rows, max_bytes, fetch, &f, &r, &e);
    if (!ok) {
        if (r)
            abort();
        check_err(&e);
        if (!f.failed) {
            /* Only an unusable rowType fails without a fetch failing. */
            db_result *scratch = db_result_new();
            size_t ncols;
            err_t e2;
            sfd_col *cols = sfdecode_columns(
                json_object_get(json_object_get(resp, "resultSetMetaData"), "rowType"), scratch,
                &ncols, &e2);
            if (cols || e.kind != ERR_INTERNAL)
                abort();
            db_result_free(scratch);
        }
        return;
    }
    if (!r || f.failed)
        abort();
    check_rows(resp, partitions, r, max_rows, max_bytes);
    db_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    long status = statuses[(data[0] << 8 | data[1]) % NSTATUS];
    size_t max_rows = data[2] & 15;
    sf_auth_type auth = (sf_auth_type)((data[2] >> 4) % 3);
    size_t max_bytes = (size_t)data[3] * 8;
    const char *body = (const char *)data + 4;
    size_t len = size - 4;
    fuzz_read_answer(status, body, len, auth);
    json_t *j = json_loadb(body, len, 0, NULL);
    if (json_is_object(j)) {
        fuzz_poll_target(j);
        fuzz_take(j, max_rows, max_bytes);
    }
    json_decref(j);
    return 0;
}
