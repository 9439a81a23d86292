#include "db/snowflake/sfconfig.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

#define SUPPORTED_AUTH "private_key (key-pair JWT, the default), pat or oauth"

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? xstrdup(v) : NULL;
}

static void set_str(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

/* Frees a string that may hold a secret, wiping it first. */
static void free_secret(char **slot)
{
    if (*slot) {
        OPENSSL_cleanse(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
    }
}

bool sfcfg_env_present(void)
{
    const char *v = getenv("SNOWFLAKE_ACCOUNT");
    return v && *v;
}

const char *sfcfg_auth_name(sf_auth_type t)
{
    switch (t) {
    case SF_AUTH_PAT:
        return "pat";
    case SF_AUTH_OAUTH:
        return "oauth";
    default:
        return "private_key";
    }
}

static bool parse_auth(const char *v, sf_auth_type *out, err_t *err)
{
    static const struct {
        const char *name;
        sf_auth_type t;
    } names[] = {{"private_key", SF_AUTH_KEYPAIR},
                 {"key_pair", SF_AUTH_KEYPAIR},
                 {"keypair", SF_AUTH_KEYPAIR},
                 {"snowflake_jwt", SF_AUTH_KEYPAIR},
                 {"jwt", SF_AUTH_KEYPAIR},
                 {"pat", SF_AUTH_PAT},
                 {"programmatic_access_token", SF_AUTH_PAT},
                 {"oauth", SF_AUTH_OAUTH}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcasecmp(v, names[i].name) == 0) {
            *out = names[i].t;
            return true;
        }
    }
    if (strcasecmp(v, "external_browser") == 0 || strcasecmp(v, "externalbrowser") == 0) {
        err_set(err, ERR_INVALID,
                "SNOWFLAKE_AUTH_TYPE=external_browser is not supported: a server cannot open a "
                "browser for each connection. Use one of: " SUPPORTED_AUTH
                " (see docs/snowflake-setup.md)");
        return false;
    }
    err_set(err, ERR_INVALID, "SNOWFLAKE_AUTH_TYPE=%s is not supported; use one of: %s", v,
            SUPPORTED_AUTH);
    return false;
}

static bool is_plain_ident(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '$'))
            return false;
    }
    return true;
}

char *sfcfg_ident(const char *name)
{
    if (!name || !*name)
        return NULL;
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
        /* "a""b" inside quotes means a"b */
        strbuf sb;
        sb_init(&sb);
        for (size_t i = 1; i + 1 < n; i++) {
            sb_putc(&sb, name[i]);
            if (name[i] == '"' && name[i + 1] == '"' && i + 2 < n)
                i++;
        }
        return sb_detach(&sb);
    }
    char *out = xstrdup(name);
    if (is_plain_ident(name)) {
        for (char *p = out; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    return out;
}

bool sfcfg_from_env(sf_settings *s, err_t *err)
{
    memset(s, 0, sizeof *s);
    s->account = env_dup("SNOWFLAKE_ACCOUNT");
    s->user = env_dup("SNOWFLAKE_USER");
    s->key_path = env_dup("SNOWFLAKE_PRIVATE_KEY_PATH");
    if (!s->key_path)
        s->key_path = env_dup("SNOWFLAKE_PRIVATE_KEY_FILE");
    s->key_pem = env_dup("SNOWFLAKE_PRIVATE_KEY");
    s->passphrase = env_dup("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE");
    if (!s->passphrase)
        s->passphrase = env_dup("SNOWFLAKE_PRIVATE_KEY_FILE_PWD");
    s->token = env_dup("SNOWFLAKE_TOKEN");
    s->token_file = env_dup("SNOWFLAKE_TOKEN_FILE");
    s->warehouse = sfcfg_ident(getenv("SNOWFLAKE_WAREHOUSE"));
    s->database = sfcfg_ident(getenv("SNOWFLAKE_DATABASE"));
    s->schema = sfcfg_ident(getenv("SNOWFLAKE_SCHEMA"));
    s->role = sfcfg_ident(getenv("SNOWFLAKE_ROLE"));
    s->host = env_dup("SNOWFLAKE_HOST");
    s->ca_file = env_dup("SNOWFLAKE_CA_FILE");
    s->jwt_account = env_dup("SNOWFLAKE_JWT_ACCOUNT");
    s->auth = SF_AUTH_KEYPAIR;
    const char *auth = getenv("SNOWFLAKE_AUTH_TYPE");
    if (!auth || !*auth)
        auth = getenv("SNOWFLAKE_AUTHENTICATOR");
    if (auth && *auth && !parse_auth(auth, &s->auth, err))
        return false;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n); NULL on a malformed escape or a decoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
    strbuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                sb_free(&sb);
                return NULL;
            }
            sb_putc(&sb, (char)(hi * 16 + lo));
            i += 2;
        } else {
            sb_putc(&sb, s[i] == '+' ? ' ' : s[i]);
        }
    }
    return sb_detach(&sb);
}

static bool dsn_param(sf_settings *s, const char *key, char *val, err_t *err)
{
    if (strcasecmp(key, "warehouse") == 0) {
        set_str(&s->warehouse, sfcfg_ident(val));
    } else if (strcasecmp(key, "role") == 0) {
        set_str(&s->role, sfcfg_ident(val));
    } else if (strcasecmp(key, "host") == 0) {
        set_str(&s->host, xstrdup(val));
    } else if (strcasecmp(key, "auth_type") == 0 || strcasecmp(key, "authenticator") == 0) {
        if (!parse_auth(val, &s->auth, err))
            return false;
    } else if (strcasecmp(key, "private_key_path") == 0) {
        set_str(&s->key_path, xstrdup(val));
    } else if (strcasecmp(key, "token_file") == 0) {
        set_str(&s->token_file, xstrdup(val));
    } else if (strcasecmp(key, "ca_file") == 0) {
        set_str(&s->ca_file, xstrdup(val));
    } else if (strcasecmp(key, "jwt_account") == 0) {
        set_str(&s->jwt_account, xstrdup(val));
    } else {
        err_set(err, ERR_INVALID,
                "unknown snowflake:// DSN parameter '%s'; accepted: warehouse, role, host, "
                "auth_type, private_key_path, token_file, ca_file, jwt_account",
                key);
        return false;
    }
    return true;
}

static bool dsn_query(sf_settings *s, const char *q, err_t *err)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (n > 0) {
            if (!eq) {
                err_set(err, ERR_INVALID, "snowflake:// DSN parameter without a value");
                return false;
            }
            char *key = pct_decode(q, (size_t)(eq - q));
            char *val = pct_decode(eq + 1, n - (size_t)(eq - q) - 1);
            bool ok = key && val && *val;
            if (!ok)
                err_set(err, ERR_INVALID, "malformed or empty snowflake:// DSN parameter");
            else
                ok = dsn_param(s, key, val, err);
            free(key);
            free(val);
            if (!ok)
                return false;
        }
        q += n + (q[n] == '&');
    }
    return true;
}

/* Takes the next '/'-separated path segment, percent-decoded; NULL when
 * there is none, and *bad set when it is malformed. */
static char *next_segment(const char **p, const char *end, bool *bad)
{
    if (*p >= end || **p != '/')
        return NULL;
    const char *s = *p + 1;
    const char *e = s;
    while (e < end && *e != '/')
        e++;
    *p = e;
    char *seg = e > s ? pct_decode(s, (size_t)(e - s)) : NULL;
    *bad = *bad || (e > s && !seg);
    return seg;
}

bool sfcfg_apply_dsn(sf_settings *s, const char *dsn, err_t *err)
{
    static const char scheme[] = "snowflake://";
    if (strncasecmp(dsn, scheme, sizeof scheme - 1) != 0) {
        err_set(err, ERR_INVALID, "not a snowflake:// DSN");
        return false;
    }
    const char *p = dsn + sizeof scheme - 1;
    const char *qmark = strchr(p, '?');
    const char *end = qmark ? qmark : p + strlen(p);
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *c = p; c < auth_end; c++) {
        if (*c == '@')
            at = c;
    }
    if (at) {
        if (memchr(p, ':', (size_t)(at - p))) {
            err_set(err, ERR_INVALID,
                    "the snowflake:// DSN carries a password or token; put secrets in the "
                    "environment (SNOWFLAKE_TOKEN, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) instead");
            return false;
        }
        char *user = pct_decode(p, (size_t)(at - p));
        if (user && *user)
            set_str(&s->user, user);
        else
            free(user);
        p = at + 1;
    }
    if (auth_end > p) {
        char *acct = pct_decode(p, (size_t)(auth_end - p));
        if (!acct) {
            err_set(err, ERR_INVALID, "malformed account in the snowflake:// DSN");
            return false;
        }
        set_str(&s->account, acct);
    }
    p = auth_end;
    bool bad = false;
    char *db = next_segment(&p, end, &bad);
    char *schema = next_segment(&p, end, &bad);
    if (db) {
        set_str(&s->database, sfcfg_ident(db));
        free(db);
    }
    if (schema) {
        set_str(&s->schema, sfcfg_ident(schema));
        free(schema);
    }
    if (bad) {
        err_set(err, ERR_INVALID, "malformed percent-escape in the snowflake:// DSN path");
        return false;
    }
    if (p < end && !(p + 1 == end && *p == '/')) {
        err_set(err, ERR_INVALID,
                "the snowflake:// DSN path has too many parts; expected "
                "snowflake://user@account/database/schema?warehouse=...&role=...");
        return false;
    }
    return qmark ? dsn_query(s, qmark + 1, err) : true;
}

bool sfcfg_validate(const sf_settings *s, err_t *err)
{
    if (!s->account) {
        err_set(err, ERR_INVALID,
                "SNOWFLAKE_ACCOUNT is not set; give your account identifier, e.g. "
                "myorg-myaccount (Snowsight: account menu, 'View account details')");
        return false;
    }
    if (!s->user && s->auth != SF_AUTH_OAUTH) {
        err_set(err, ERR_INVALID, "SNOWFLAKE_USER is not set; give the Snowflake login name");
        return false;
    }
    switch (s->auth) {
    case SF_AUTH_KEYPAIR:
        if (!s->key_path && !s->key_pem) {
            err_set(err, ERR_INVALID,
                    "key-pair authentication needs SNOWFLAKE_PRIVATE_KEY_PATH (a PEM file) or "
                    "SNOWFLAKE_PRIVATE_KEY (the PEM text); or set SNOWFLAKE_AUTH_TYPE to pat or "
                    "oauth with SNOWFLAKE_TOKEN / SNOWFLAKE_TOKEN_FILE");
            return false;
        }
        break;
    case SF_AUTH_PAT:
    case SF_AUTH_OAUTH:
        if (!s->token && !s->token_file) {
            err_set(err, ERR_INVALID,
                    "SNOWFLAKE_AUTH_TYPE=%s needs SNOWFLAKE_TOKEN or "
                    "SNOWFLAKE_TOKEN_FILE (a file holding the token, re-read when it expires)",
                    sfcfg_auth_name(s->auth));
            return false;
        }
        break;
    }
    return true;
}

void sfcfg_forget_secrets(sf_settings *s)
{
    free_secret(&s->key_pem);
    free_secret(&s->passphrase);
    free_secret(&s->token);
}

void sfcfg_free(sf_settings *s)
{
    if (!s)
        return;
    sfcfg_forget_secrets(s);
    char **plain[] = {&s->account,   &s->user,     &s->key_path,   &s->token_file,
                      &s->warehouse, &s->database, &s->schema,     &s->role,
                      &s->host,      &s->ca_file,  &s->jwt_account};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        free(*plain[i]);
        *plain[i] = NULL;
    }
}
