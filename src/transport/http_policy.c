#include "transport/http_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"

#define MAX_KEYS 256

/* Keys are kept as SHA-256 digests: comparing digests of equal length in
 * constant time reveals neither a key's bytes nor its length. */
typedef struct key_digest {
    unsigned char d[32];
} key_digest;

struct http_policy {
    key_digest keys[MAX_KEYS];
    size_t nkeys;
    char **origins; /* configured, exact or "prefix:*" */
    size_t norigins;
    char **hosts; /* configured names, lower case, no port */
    size_t nhosts;
    char bind_host[256];
    bool wildcard_bind;
};

static void digest(const char *key, size_t len, key_digest *out)
{
    unsigned int n = 0;
    EVP_Digest(key, len, out->d, &n, EVP_sha256(), NULL);
}

static bool add_key(http_policy *p, const char *key, size_t len, err_t *err)
{
    if (len == 0)
        return true;
    if (p->nkeys == MAX_KEYS) {
        err_set(err, ERR_INVALID, "too many HTTP API keys (at most %d)", MAX_KEYS);
        return false;
    }
    digest(key, len, &p->keys[p->nkeys++]);
    return true;
}

/* Splits text at commas and whitespace into keys. */
static bool add_keys_from_list(http_policy *p, const char *text, err_t *err)
{
    const char *s = text;
    while (*s) {
        while (*s && (*s == ',' || isspace((unsigned char)*s)))
            s++;
        const char *e = s;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        if (!add_key(p, s, (size_t)(e - s), err))
            return false;
        s = e;
    }
    return true;
}

static bool add_keys_from_file(http_policy *p, const char *path, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(err, ERR_INVALID, "cannot read the API key file %s: %s", path, strerror(errno));
        return false;
    }
    char line[4096];
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || s[0] == '#')
            continue;
        ok = add_key(p, s, n, err);
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return ok;
}

/* Splits a comma-separated list into trimmed, lower-cased strings. */
static char **split_list(const char *text, size_t *count)
{
    *count = 0;
    if (!text)
        return NULL;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    char **items = xcalloc(cap, sizeof *items);
    const char *s = text;
    while (*s) {
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && isspace((unsigned char)t[-1]))
            t--;
        if (t > s) {
            char *item = xmalloc((size_t)(t - s) + 1);
            for (size_t i = 0; i < (size_t)(t - s); i++)
                item[i] = (char)tolower((unsigned char)s[i]);
            item[t - s] = '\0';
            items[(*count)++] = item;
        }
        s = e;
    }
    return items;
}

static void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

http_policy *http_policy_new(const app_config *cfg, const char *bind_host, err_t *err)
{
    http_policy *p = xcalloc(1, sizeof *p);
    if ((cfg->http_api_keys && !add_keys_from_list(p, cfg->http_api_keys, err)) ||
        (cfg->http_api_key_file && !add_keys_from_file(p, cfg->http_api_key_file, err))) {
        http_policy_free(p);
        return NULL;
    }
    p->origins = split_list(cfg->http_allowed_origins, &p->norigins);
    p->hosts = split_list(cfg->http_allowed_hosts, &p->nhosts);
    snprintf(p->bind_host, sizeof p->bind_host, "%s", bind_host ? bind_host : "");
    for (char *c = p->bind_host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    p->wildcard_bind = http_addr_is_wildcard(p->bind_host);
    return p;
}

void http_policy_free(http_policy *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p->keys, sizeof p->keys);
    free_list(p->origins, p->norigins);
    free_list(p->hosts, p->nhosts);
    free(p);
}

size_t http_policy_key_count(const http_policy *p)
{
    return p->nkeys;
}

bool http_policy_auth_ok(const http_policy *p, const char *authorization)
{
    if (p->nkeys == 0)
        return true;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    size_t n = strlen(key);
    while (n > 0 && key[n - 1] == ' ')
        n--;
    if (n == 0)
        return false;
    key_digest d;
    digest(key, n, &d);
    /* Every key is compared, so the time taken does not tell which matched. */
    int match = 0;
    for (size_t i = 0; i < p->nkeys; i++)
        match |= CRYPTO_memcmp(d.d, p->keys[i].d, sizeof d.d) == 0;
    OPENSSL_cleanse(&d, sizeof d);
    return match != 0;
}

bool http_addr_is_loopback(const char *host)
{
    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        strcmp(host, "[::1]") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return false;
}

bool http_addr_is_wildcard(const char *host)
{
    return !host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
           strcmp(host, "[::]") == 0;
}

/* Matches "scheme://host[:port]" against a pattern that may end in ":*"
 * (any port, or none). Both are compared case-insensitively. */
static bool origin_matches(const char *origin, const char *pattern)
{
    size_t pn = strlen(pattern);
    if (pn >= 2 && strcmp(pattern + pn - 2, ":*") == 0) {
        size_t base = pn - 2;
        if (strncasecmp(origin, pattern, base) != 0)
            return false;
        const char *rest = origin + base;
        if (*rest == '\0')
            return true;
        if (*rest != ':' || !rest[1])
            return false;
        for (rest++; *rest; rest++) {
            if (!isdigit((unsigned char)*rest))
                return false;
        }
        return true;
    }
    return strcasecmp(origin, pattern) == 0;
}

bool http_policy_origin_ok(const http_policy *p, const char *origin)
{
    if (!origin)
        return true;
    static const char *const loopback[] = {"http://localhost:*",  "http://127.0.0.1:*",
                                           "http://[::1]:*",      "https://localhost:*",
                                           "https://127.0.0.1:*", "https://[::1]:*"};
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++) {
        if (origin_matches(origin, loopback[i]))
            return true;
    }
    for (size_t i = 0; i < p->norigins; i++) {
        if (origin_matches(origin, p->origins[i]))
            return true;
    }
    return false;
}

/* Copies the name part of a Host header value (no port, no brackets),
 * lower-cased; false if malformed. */
static bool host_name(const char *host, char *out, size_t cap)
{
    const char *s = host, *e;
    if (*s == '[') {
        e = strchr(s, ']');
        if (!e || (e[1] && e[1] != ':'))
            return false;
        s++;
    } else {
        e = strchr(s, ':');
        if (!e)
            e = s + strlen(s);
    }
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return true;
}

bool http_policy_host_ok(const http_policy *p, const char *host)
{
    if (!host)
        return true;
    if (p->wildcard_bind && p->nhosts == 0)
        return true;
    char name[256];
    if (!host_name(host, name, sizeof name))
        return false;
    if (strcmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 ||
        strcmp(name, "::1") == 0)
        return true;
    char bind[256];
    if (!p->wildcard_bind && host_name(p->bind_host, bind, sizeof bind) && strcmp(name, bind) == 0)
        return true;
    for (size_t i = 0; i < p->nhosts; i++) {
        if (strcmp(name, p->hosts[i]) == 0)
            return true;
    }
    return false;
}

bool http_parse_listen(const char *text, char *host, size_t host_len, int *port, err_t *err)
{
    const char *colon = NULL;
    const char *port_text = text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            err_set(err, ERR_INVALID, "'%s': expected [ADDR]:PORT for an IPv6 address", text);
            return false;
        }
        colon = close + 1;
        snprintf(host, host_len, "%.*s", (int)(close - text - 1), text + 1);
        port_text = colon + 1;
    } else if ((colon = strrchr(text, ':')) != NULL) {
        if (strchr(text, ':') != colon) {
            err_set(err, ERR_INVALID, "'%s': write IPv6 addresses in brackets: [::1]:8080", text);
            return false;
        }
        snprintf(host, host_len, "%.*s", (int)(colon - text), text);
        port_text = colon + 1;
    } else {
        snprintf(host, host_len, "127.0.0.1");
    }
    char *end;
    errno = 0;
    long v = strtol(port_text, &end, 10);
    if (!*port_text || *end || errno || v < 0 || v > 65535) {
        err_set(err, ERR_INVALID, "'%s': expected [ADDR:]PORT with a port from 0 to 65535", text);
        return false;
    }
    if (!host[0])
        snprintf(host, host_len, "0.0.0.0");
    *port = (int)v;
    return true;
}

bool http_accepts(const char *accept, const char *type)
{
    if (!accept)
        return false;
    const char *slash = strchr(type, '/');
    size_t major = slash ? (size_t)(slash - type) : strlen(type);
    const char *s = accept;
    while (*s) {
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        const char *e = s;
        while (*e && *e != ',' && *e != ';')
            e++;
        const char *t = e;
        while (t > s && isspace((unsigned char)t[-1]))
            t--;
        size_t n = (size_t)(t - s);
        if ((n == strlen(type) && strncasecmp(s, type, n) == 0) ||
            (n == 3 && !strncmp(s, "*/*", 3)) ||
            (n == major + 2 && strncasecmp(s, type, major) == 0 && s[major] == '/' &&
             s[major + 1] == '*'))
            return true;
        while (*e && *e != ',')
            e++;
        s = e;
    }
    return false;
}

bool http_is_json_type(const char *content_type)
{
    if (!content_type)
        return false;
    while (isspace((unsigned char)*content_type))
        content_type++;
    size_t n = strlen("application/json");
    if (strncasecmp(content_type, "application/json", n) != 0)
        return false;
    char c = content_type[n];
    return c == '\0' || c == ';' || isspace((unsigned char)c);
}
