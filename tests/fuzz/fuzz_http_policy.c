/* Fuzzes the HTTP transport's header checks with arbitrary header values.
 * The input is split at newlines into fields; every field is tried in every
 * role (Authorization, Origin, Host, Accept, Content-Type, --http listen
 * argument) against a policy with keys, origins and hosts configured and
 * against an open one bound to all interfaces. Besides memory safety it
 * checks each answer against a model written from http_policy.h and aborts
 * on a difference:
 *   - auth_ok is true exactly for "Bearer " (any case) + spaces + a
 *     configured key + spaces, and always true with no keys;
 *   - origin_ok is true exactly for a loopback or configured origin, exact
 *     or "base[:digits]" for the ":*" patterns, case-insensitively;
 *   - host_ok is true exactly when the Host names loopback, the bind
 *     address or a configured host (any Host on the open wildcard policy);
 *   - http_is_json_type and http_accepts agree with their documented rule;
 *   - http_parse_listen never writes past its buffer, gives a port in
 *     0..65535 and a non-empty host, and what it parsed parses again to
 *     the same answer. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "transport/http_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELD 2048

static const char *const keys[] = {"k3y-One", "tok_two", "third"};
static const char *const origin_patterns[] = {
    "http://localhost:*",  "http://127.0.0.1:*", "http://[::1]:*",          "https://localhost:*",
    "https://127.0.0.1:*", "https://[::1]:*",    "https://app.example.com", "http://dev.example:*"};
static const char *const host_names[] = {"localhost", "127.0.0.1",   "::1",
                                         "10.0.0.5",  "example.com", "mcp.internal"};

static http_policy *guarded; /* keys, origins, hosts, bound to 10.0.0.5 */
static http_policy *open_p;  /* nothing configured, bound to 0.0.0.0 */

static void setup(void)
{
    log_set_stderr_level(LOG_EMERGENCY);
    app_config cfg;
    config_defaults(&cfg);
    cfg.http_api_keys = "k3y-One, tok_two\tthird,,";
    cfg.http_allowed_origins = " https://App.Example.com , http://Dev.Example:*";
    cfg.http_allowed_hosts = "Example.COM,mcp.internal ";
    err_t e;
    guarded = http_policy_new(&cfg, "10.0.0.5", &e);
    app_config none;
    config_defaults(&none);
    open_p = http_policy_new(&none, "0.0.0.0", &e);
    if (!guarded || !open_p || http_policy_key_count(guarded) != 3 ||
        http_policy_key_count(open_p) != 0)
        abort();
}

/* ---- models ------------------------------------------------------------ */

static bool model_auth(const char *h)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *k = h + 7;
    while (*k == ' ')
        k++;
    size_t n = strlen(k);
    while (n > 0 && k[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

static bool model_origin(const char *o, size_t npatterns)
{
    for (size_t i = 0; i < npatterns; i++) {
        const char *p = origin_patterns[i];
        size_t pn = strlen(p);
        bool any_port = pn >= 2 && strcmp(p + pn - 2, ":*") == 0;
        size_t base = any_port ? pn - 2 : pn;
        if (strncasecmp(o, p, base) != 0)
            continue;
        const char *rest = o + base;
        if (*rest == '\0' || (any_port && rest[0] == ':' && all_digits(rest + 1)))
            return true;
    }
    return false;
}

static bool model_host(const char *h)
{
    char name[MAX_FIELD + 1];
    size_t n;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return false;
        n = (size_t)(close - h - 1);
        memcpy(name, h + 1, n);
    } else {
        n = strcspn(h, ":");
        memcpy(name, h, n);
    }
    name[n] = '\0';
    for (size_t i = 0; i < sizeof host_names / sizeof *host_names; i++) {
        if (strcasecmp(name, host_names[i]) == 0)
            return true;
    }
    return false;
}

static bool model_json_type(const char *c)
{
    while (isspace((unsigned char)*c))
        c++;
    if (strncasecmp(c, "application/json", 16) != 0)
        return false;
    return c[16] == '\0' || c[16] == ';' || isspace((unsigned char)c[16]);
}

/* Some comma-separated entry, before its parameters and trimmed, is type,
 * its "major/ *" wildcard or the full wildcard. */
static bool model_accepts(const char *a, const char *type)
{
    size_t tn = strlen(type), major = strcspn(type, "/");
    const char *s = a;
    for (;;) {
        size_t len = strcspn(s, ",");
        size_t n = strcspn(s, ",;");
        const char *b = s;
        while (n > 0 && (isspace((unsigned char)*b) || *b == ',')) {
            b++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)b[n - 1]))
            n--;
        if ((n == tn && strncasecmp(b, type, n) == 0) || (n == 3 && memcmp(b, "*/*", 3) == 0) ||
            (n == major + 2 && strncasecmp(b, type, major) == 0 && b[major] == '/' &&
             b[major + 1] == '*'))
            return true;
        if (s[len] == '\0')
            return false;
        s += len + 1;
    }
}

/* ---- checks ------------------------------------------------------------ */

static void check_auth(const char *f)
{
    if (http_policy_auth_ok(guarded, f) != model_auth(f) || !http_policy_auth_ok(open_p, f))
        abort();
    /* The field as a key in the usual header form. */
    char hdr[MAX_FIELD + 16];
    snprintf(hdr, sizeof hdr, "Bearer %s", f);
    if (http_policy_auth_ok(guarded, hdr) != model_auth(hdr))
        abort();
}

static void check_origin(const char *f)
{
    if (http_policy_origin_ok(guarded, f) != model_origin(f, 8) ||
        http_policy_origin_ok(open_p, f) != model_origin(f, 6))
        abort();
}

static void check_host(const char *f)
{
    if (http_policy_host_ok(guarded, f) != model_host(f) || !http_policy_host_ok(open_p, f))
        abort();
}

static void check_types(const char *f)
{
    if (http_is_json_type(f) != model_json_type(f))
        abort();
    static const char *const types[] = {"application/json", "text/event-stream"};
    for (size_t i = 0; i < 2; i++) {
        if (http_accepts(f, types[i]) != model_accepts(f, types[i]))
            abort();
    }
}

/* Parses f into a buffer of exactly cap bytes so that ASan sees any
 * overflow; returns whether it parsed and leaves the host in out. */
static bool parse_listen(const char *f, size_t cap, char *out, int *port)
{
    char *host = malloc(cap);
    if (!host)
        abort();
    err_t e;
    e.kind = ERR_NONE;
    *port = -1;
    bool ok = http_parse_listen(f, host, cap, port, &e);
    if (ok) {
        size_t n = strnlen(host, cap);
        if (n == 0 || n == cap || *port < 0 || *port > 65535)
            abort();
        memcpy(out, host, n + 1);
    } else if (e.kind != ERR_INVALID || strnlen(e.msg, sizeof e.msg) == sizeof e.msg) {
        abort();
    }
    free(host);
    return ok;
}

static void check_listen(const char *f)
{
    char host[MAX_FIELD + 1], small[MAX_FIELD + 1], again_host[MAX_FIELD + 1];
    int port, small_port, again_port;
    bool ok = parse_listen(f, sizeof host, host, &port);
    /* A short buffer truncates the host but must not change the verdict. */
    if (parse_listen(f, 8, small, &small_port) != ok || (ok && small_port != port))
        abort();
    if (!ok || strpbrk(host, "[]"))
        return;
    char text[MAX_FIELD + 16];
    snprintf(text, sizeof text, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (!parse_listen(text, sizeof again_host, again_host, &again_port) ||
        strcmp(again_host, host) != 0 || again_port != port)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!guarded)
        setup();
    char field[MAX_FIELD + 1];
    size_t i = 0;
    while (i <= size) {
        size_t n = 0;
        while (i < size && data[i] != '\n') {
            if (n < MAX_FIELD)
                field[n++] = (char)data[i];
            i++;
        }
        i++;
        field[n] = '\0';
        check_auth(field);
        check_origin(field);
        check_host(field);
        check_types(field);
        check_listen(field);
    }
    if (!http_policy_auth_ok(open_p, NULL) || http_policy_auth_ok(guarded, NULL) ||
        !http_policy_origin_ok(guarded, NULL) || !http_policy_host_ok(guarded, NULL) ||
        http_accepts(NULL, "application/json") || http_is_json_type(NULL))
        abort();
    return 0;
}
