#include "db/snowflake/sfhttp.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

struct sfhttp {
    CURLM *multi;
    CURL *easy;
    char *ca_file;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sfhttp *sfhttp_new(const char *ca_file, err_t *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        err_set(err, ERR_INTERNAL, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    sfhttp *h = xcalloc(1, sizeof *h);
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    if (!h->multi || !h->easy) {
        err_set(err, ERR_INTERNAL, "cannot create a libcurl handle");
        sfhttp_free(h);
        return NULL;
    }
    h->ca_file = ca_file ? xstrdup(ca_file) : NULL;
    return h;
}

void sfhttp_free(sfhttp *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free(h->ca_file);
    free(h);
}

void sfhttp_wakeup(sfhttp *h)
{
    curl_multi_wakeup(h->multi);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    strbuf *sb = ud;
    size_t n = size * nmemb;
    if (sb->len + n > SFHTTP_MAX_BODY)
        return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
    sb_append(sb, data, n);
    return n;
}

static struct curl_slist *make_headers(const sfhttp_req *rq)
{
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Accept: application/json");
    hl = curl_slist_append(hl, "Expect:");
    if (rq->body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    if (rq->bearer) {
        size_t n = strlen(rq->bearer) + 32;
        char *auth = xmalloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", rq->bearer);
        hl = curl_slist_append(hl, auth);
        OPENSSL_cleanse(auth, n);
        free(auth);
    }
    if (rq->token_type) {
        char tt[128];
        snprintf(tt, sizeof tt, "X-Snowflake-Authorization-Token-Type: %s", rq->token_type);
        hl = curl_slist_append(hl, tt);
    }
    return hl;
}

static void free_headers(struct curl_slist *hl)
{
    for (struct curl_slist *p = hl; p; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(hl);
}

static void setup_easy(sfhttp *h, const sfhttp_req *rq, struct curl_slist *hl, sfhttp_resp *rs,
                       int64_t connect_ms)
{
    CURL *e = h->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "snowflake-mcp/" SMCP_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &rs->body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (strcmp(rq->method, "POST") == 0) {
        const char *body = rq->body ? rq->body : "";
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
}

/* Failures that happen before any byte of the request left this host. */
static bool before_sending(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is set */
        return true;
    default:
        return false;
    }
}

static void network_error(sfhttp *h, CURLcode rc, sfhttp_resp *rs)
{
    rs->not_sent = before_sending(rc);
    snprintf(rs->error, sizeof rs->error, "%s%s%s", curl_easy_strerror(rc),
             h->errbuf[0] ? ": " : "", h->errbuf);
}

/* The path and query of a URL, for logs (never the host's credentials:
 * there are none in our URLs, but the path is all a reader needs). */
static const char *path_of(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : url;
}

static int64_t poll_ms(int64_t now, int64_t deadline)
{
    int64_t ms = (deadline - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS;
    return ms < 1 ? 1 : ms > 1000 ? 1000 : ms;
}

sfhttp_outcome sfhttp_perform(sfhttp *h, const sfhttp_req *rq, sfhttp_resp *rs)
{
    sb_init(&rs->body);
    rs->status = 0;
    rs->not_sent = false;
    rs->error[0] = '\0';
    h->errbuf[0] = '\0';
    int64_t deadline = rq->deadline_ns
                           ? rq->deadline_ns
                           : clock_now_ns() + SFHTTP_DEFAULT_TIMEOUT_MS * CLOCK_NS_PER_MS;
    int64_t left_ms = clock_ms_left(deadline);
    struct curl_slist *hl = make_headers(rq);
    setup_easy(h, rq, hl, rs,
               left_ms < SFHTTP_CONNECT_TIMEOUT_MS ? (left_ms < 1 ? 1 : left_ms)
                                                   : SFHTTP_CONNECT_TIMEOUT_MS);
    sfhttp_outcome out = SFHTTP_NETWORK;
    if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
        snprintf(rs->error, sizeof rs->error, "cannot start the HTTP request");
        rs->not_sent = true;
        free_headers(hl);
        return out;
    }
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(h->multi, &running);
        int queued = 0;
        CURLMsg *msg = curl_multi_info_read(h->multi, &queued);
        if (msg && msg->msg == CURLMSG_DONE) {
            CURLcode rc = msg->data.result;
            if (rc == CURLE_OK) {
                long connects = 0, version = 0;
                curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &rs->status);
                curl_easy_getinfo(h->easy, CURLINFO_NUM_CONNECTS, &connects);
                curl_easy_getinfo(h->easy, CURLINFO_HTTP_VERSION, &version);
                log_debug("sfhttp", "%s %s: HTTP %ld, %zu bytes, %s connection, HTTP/%s",
                          rq->method, path_of(rq->url), rs->status, rs->body.len,
                          connects ? "new" : "reused",
                          version == CURL_HTTP_VERSION_2_0 ? "2" : "1.1");
                out = SFHTTP_RESPONSE;
            } else {
                network_error(h, rc, rs);
            }
            break;
        }
        if (mc != CURLM_OK) {
            snprintf(rs->error, sizeof rs->error, "%s", curl_multi_strerror(mc));
            break;
        }
        int64_t now = clock_now_ns();
        bool stopped = rq->stop && rq->stop(rq->stop_ctx);
        if (stopped || now >= deadline) {
            /* Not one byte of the body left: the server cannot have
             * started the statement, so nothing must be cancelled. */
            curl_off_t up = 0;
            curl_easy_getinfo(h->easy, CURLINFO_SIZE_UPLOAD_T, &up);
            rs->not_sent = rq->body && up == 0;
            out = stopped ? SFHTTP_STOPPED : SFHTTP_DEADLINE;
            break;
        }
        curl_multi_poll(h->multi, NULL, 0, (int)poll_ms(now, deadline), NULL);
    }
    curl_multi_remove_handle(h->multi, h->easy);
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
    free_headers(hl);
    return out;
}

bool sfhttp_wait(sfhttp *h, int64_t until_ns, sfhttp_stop_fn stop, void *stop_ctx)
{
    for (;;) {
        if (stop && stop(stop_ctx))
            return false;
        int64_t now = clock_now_ns();
        if (now >= until_ns)
            return true;
        curl_multi_poll(h->multi, NULL, 0, (int)poll_ms(now, until_ns), NULL);
    }
}
