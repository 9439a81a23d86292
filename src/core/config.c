#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

#define MS_S INT64_C(1000)
#define MS_MIN (60 * MS_S)
#define MS_H (60 * MS_MIN)

typedef enum kind { K_STRING, K_DURATION, K_INT, K_SIZE, K_LEVEL } kind;

/* How one setting is parsed and where it lands in app_config. */
typedef struct spec {
    const char *env;
    const char *flag;
    kind kind;
    size_t offset;
    int64_t unit_ms; /* K_DURATION: the unit of a bare number */
    int64_t min, max;
    const char *def;
    const char *help;
} spec;

#define OFF(field) offsetof(app_config, field)

static const spec specs[] = {
    {"SNOWFLAKE_MCP_DSN", "--dsn", K_STRING, OFF(dsn), 0, 0, 0,
     "(Snowflake if SNOWFLAKE_ACCOUNT is set, else the demo warehouse)",
     "Backend: sqlite:///path/file.db, sqlite:///path/dir (one database per file), "
     "postgres://user@host:port/db or key=value conninfo (PG* variables apply), "
     "snowflake://user@account/db/schema; with none, SNOWFLAKE_ACCOUNT selects Snowflake"},
    {"SNOWFLAKE_DATABASE", "--database", K_STRING, OFF(database), 0, 0, 0, "(first database)",
     "Default database of execute_query (the other tools name theirs)"},
    {"SNOWFLAKE_SCHEMA", "--schema", K_STRING, OFF(schema), 0, 0, 0, "PUBLIC",
     "Default schema for tools called without one"},
    {"SNOWFLAKE_MCP_CACHE_DIR", "--cache-dir", K_STRING, OFF(cache_dir), 0, 0, 0,
     "$XDG_CACHE_HOME/snowflake-mcp", "Where the demo warehouse is generated"},
    {"SNOWFLAKE_MCP_LOG_LEVEL", "--log-level", K_LEVEL, OFF(log_level), 0, 0, 0, "info",
     "stderr log level: debug, info, notice, warning, error, critical, alert, emergency"},
    {"SNOWFLAKE_POOL_MIN_SIZE", NULL, K_INT, OFF(pool.min_size), 0, 0, 1000, "2",
     "Connections kept open"},
    {"SNOWFLAKE_POOL_MAX_SIZE", NULL, K_INT, OFF(pool.max_size), 0, 1, 1000, "10",
     "Most connections open at once"},
    {"SNOWFLAKE_POOL_CONNECTION_TIMEOUT", NULL, K_DURATION, OFF(pool.acquire_timeout_ms), MS_S, 1,
     24 * MS_H, "30 (s)", "Longest wait for a free connection"},
    {"SNOWFLAKE_POOL_MAX_INACTIVE_MINUTES", NULL, K_DURATION, OFF(pool.max_idle_ms), MS_MIN, 1,
     INT64_MAX, "30 (min)", "Idle connections above the minimum are closed after this"},
    {"SNOWFLAKE_POOL_HEALTH_CHECK_MINUTES", NULL, K_DURATION, OFF(pool.health_interval_ms), MS_MIN,
     10, INT64_MAX, "5 (min)", "How often idle connections are checked"},
    {"SNOWFLAKE_POOL_RETRY_ATTEMPTS", NULL, K_INT, OFF(pool.retry_attempts), 0, 0, 30, "3",
     "Connect retries after a failure (exponential backoff with jitter)"},
    {"SNOWFLAKE_CONN_REFRESH_HOURS", NULL, K_DURATION, OFF(pool.max_lifetime_ms), MS_H, 1000,
     INT64_MAX, "8 (h)", "Connections are replaced after this (minus up to 2.5% jitter)"},
    {"SNOWFLAKE_POOL_VALIDATE_AFTER_IDLE", NULL, K_DURATION, OFF(pool.validate_after_idle_ms), MS_S,
     0, INT64_MAX, "30 (s)", "A connection idle longer is pinged before it is lent"},
    {"SNOWFLAKE_POOL_VALIDATION_TIMEOUT", NULL, K_DURATION, OFF(pool.validation_timeout_ms), MS_S,
     1, INT64_MAX, "5 (s)", "Deadline of one health check"},
    {"SNOWFLAKE_POOL_CONNECT_TIMEOUT", NULL, K_DURATION, OFF(pool.connect_timeout_ms), MS_S, 1,
     INT64_MAX, "10 (s)", "Deadline of one connection attempt"},
    {"SNOWFLAKE_POOL_LEAK_THRESHOLD", NULL, K_DURATION, OFF(pool.leak_threshold_ms), MS_S, 0,
     INT64_MAX, "300 (s)", "Warn when a call holds a connection longer (0: off)"},
    {"SNOWFLAKE_MCP_WORKERS", "--workers", K_INT, OFF(workers), 0, 1, 1024, "16",
     "Threads running tool calls concurrently"},
    {"SNOWFLAKE_MCP_MAX_QUEUE", NULL, K_INT, OFF(max_queue), 0, 1, 1000000, "1024",
     "Tool calls that may wait for a thread before new ones are refused as busy"},
    {"SNOWFLAKE_MCP_MAX_ROWS", "--max-rows", K_SIZE, OFF(max_rows), 0, 1, 1000000, "10000",
     "Largest `limit` a tool call may ask for"},
    {"SNOWFLAKE_MCP_MAX_RESULT_BYTES", NULL, K_SIZE, OFF(max_result_bytes), 0, 1024,
     INT64_C(1) << 32, "4M", "Cell bytes kept per result; beyond it the result is truncated"},
    {"SNOWFLAKE_MCP_QUERY_TIMEOUT", "--query-timeout", K_DURATION, OFF(query_timeout_ms), MS_S, 1,
     24 * MS_H, "60 (s)", "Time limit of one tool call"},
    {"SNOWFLAKE_MCP_MAX_MESSAGE_BYTES", NULL, K_SIZE, OFF(max_message_bytes), 0, 1024,
     INT64_C(1) << 30, "4M", "Largest incoming JSON-RPC message"},
    {"SNOWFLAKE_MCP_MAX_CELL_CHARS", NULL, K_INT, OFF(max_cell_chars), 0, 8, 1000000, "200",
     "Text-table cells longer than this are cut (structured results keep the full value)"},
    {"SNOWFLAKE_MCP_HTTP_API_KEYS", NULL, K_STRING, OFF(http_api_keys), 0, 0, 0, "(none)",
     "HTTP: bearer keys accepted (comma or whitespace separated); required off loopback"},
    {"SNOWFLAKE_MCP_HTTP_API_KEY_FILE", "--api-key-file", K_STRING, OFF(http_api_key_file), 0, 0, 0,
     "(none)", "HTTP: file of bearer keys, one per line (# comments allowed)"},
    {"SNOWFLAKE_MCP_HTTP_ALLOWED_ORIGINS", "--allowed-origins", K_STRING, OFF(http_allowed_origins),
     0, 0, 0, "(loopback only)",
     "HTTP: extra allowed Origin values, comma separated (http://host:* for any port)"},
    {"SNOWFLAKE_MCP_HTTP_ALLOWED_HOSTS", "--allowed-hosts", K_STRING, OFF(http_allowed_hosts), 0, 0,
     0, "(loopback and the bind address)",
     "HTTP: extra Host header names accepted (DNS-rebinding protection)"},
    {"SNOWFLAKE_MCP_HTTP_SESSION_IDLE_TIMEOUT", NULL, K_DURATION, OFF(http_session_idle_ms), MS_S,
     1000, INT64_MAX, "30 (min)", "HTTP: a session without requests or calls ends after this"},
    {"SNOWFLAKE_MCP_HTTP_MAX_CALLS_PER_SESSION", NULL, K_INT, OFF(http_max_calls_per_session), 0, 1,
     100000, "32", "HTTP: tool calls one session may have in flight (more: busy result)"},
    {"SNOWFLAKE_MCP_HTTP_MAX_SESSIONS", NULL, K_INT, OFF(http_max_sessions), 0, 1, 1000000, "1000",
     "HTTP: sessions open at once (more: 503)"},
    {"SNOWFLAKE_MCP_HTTP_MAX_CONNECTIONS", NULL, K_INT, OFF(http_max_connections), 0, 4, 100000,
     "512", "HTTP: client connections open at once"},
    {"SNOWFLAKE_MCP_HTTP_SHUTDOWN_GRACE", NULL, K_DURATION, OFF(http_shutdown_grace_ms), MS_S, 0,
     24 * MS_H, "30 (s)", "HTTP: on SIGTERM, how long calls in flight may finish"},
};

#define NSPECS (sizeof specs / sizeof specs[0])

size_t config_setting_count(void)
{
    return NSPECS;
}

config_setting config_setting_get(size_t i)
{
    const spec *s = &specs[i];
    return (config_setting){s->env, s->flag, s->def, s->help};
}

void config_defaults(app_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = LOG_INFO;
    pool_config_defaults(&cfg->pool);
    cfg->workers = 16;
    cfg->max_queue = 1024;
    cfg->max_rows = 10000;
    cfg->max_result_bytes = 4 << 20;
    cfg->query_timeout_ms = 60 * MS_S;
    cfg->max_message_bytes = 4 << 20;
    cfg->max_cell_chars = 200;
    cfg->http_session_idle_ms = 30 * MS_MIN;
    cfg->http_max_calls_per_session = 32;
    cfg->http_max_sessions = 1000;
    cfg->http_max_connections = 512;
    cfg->http_shutdown_grace_ms = 30 * MS_S;
}

void config_free(app_config *cfg)
{
    free(cfg->dsn);
    free(cfg->database);
    free(cfg->schema);
    free(cfg->cache_dir);
    free(cfg->http_api_keys);
    free(cfg->http_api_key_file);
    free(cfg->http_allowed_origins);
    free(cfg->http_allowed_hosts);
    cfg->http_api_keys = cfg->http_api_key_file = NULL;
    cfg->http_allowed_origins = cfg->http_allowed_hosts = NULL;
    cfg->dsn = cfg->database = cfg->schema = cfg->cache_dir = NULL;
}

static bool parse_number(const char *text, double *num, const char **rest)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text) && *text != '.')
        return false;
    char *end;
    errno = 0;
    *num = strtod(text, &end);
    if (errno != 0 || end == text || *num < 0)
        return false;
    *rest = end;
    return true;
}

static bool rest_is(const char *rest, const char *unit)
{
    while (isspace((unsigned char)*rest))
        rest++;
    size_t n = strlen(unit);
    if (strncasecmp(rest, unit, n) != 0)
        return false;
    rest += n;
    while (isspace((unsigned char)*rest))
        rest++;
    return *rest == '\0';
}

bool config_parse_duration(const char *text, int64_t default_unit_ms, int64_t *out_ms)
{
    double num;
    const char *rest;
    if (!parse_number(text, &num, &rest))
        return false;
    double unit;
    if (rest_is(rest, ""))
        unit = (double)default_unit_ms;
    else if (rest_is(rest, "ms"))
        unit = 1;
    else if (rest_is(rest, "s") || rest_is(rest, "sec"))
        unit = MS_S;
    else if (rest_is(rest, "m") || rest_is(rest, "min"))
        unit = MS_MIN;
    else if (rest_is(rest, "h"))
        unit = MS_H;
    else
        return false;
    double ms = num * unit;
    if (ms > 9.0e15)
        return false;
    *out_ms = (int64_t)(ms + 0.5);
    return true;
}

bool config_parse_size(const char *text, int64_t *out)
{
    double num;
    const char *rest;
    if (!parse_number(text, &num, &rest))
        return false;
    double mult;
    if (rest_is(rest, ""))
        mult = 1;
    else if (rest_is(rest, "k") || rest_is(rest, "kb") || rest_is(rest, "kib"))
        mult = 1024;
    else if (rest_is(rest, "m") || rest_is(rest, "mb") || rest_is(rest, "mib"))
        mult = 1024.0 * 1024;
    else if (rest_is(rest, "g") || rest_is(rest, "gb") || rest_is(rest, "gib"))
        mult = 1024.0 * 1024 * 1024;
    else
        return false;
    double v = num * mult;
    if (v > 9.0e15 || v != (double)(int64_t)v)
        return false;
    *out = (int64_t)v;
    return true;
}

static const char *kind_hint(const spec *s)
{
    switch (s->kind) {
    case K_DURATION:
        return s->unit_ms == MS_S
                   ? "a duration: seconds (e.g. 30) or with a unit: 500ms, 30s, 5m, 2h"
               : s->unit_ms == MS_MIN ? "a duration: minutes (e.g. 30) or with a unit: 90s, 30m, 2h"
                                      : "a duration: hours (e.g. 8) or with a unit: 30m, 8h";
    case K_INT:
        return "a whole number";
    case K_SIZE:
        return "a size: a whole number, optionally with k, M or G (e.g. 4M)";
    case K_LEVEL:
        return "one of debug, info, notice, warning, error, critical, alert, emergency";
    case K_STRING:
        return "text";
    }
    return "";
}

/* Parses and stores one value; origin names where it came from. */
static bool apply(app_config *cfg, const spec *s, const char *value, const char *origin, err_t *err)
{
    char *base = (char *)cfg;
    int64_t v = 0;
    bool ok = true;
    switch (s->kind) {
    case K_STRING: {
        char **slot = (char **)(base + s->offset);
        free(*slot);
        *slot = value[0] ? xstrdup(value) : NULL;
        return true;
    }
    case K_LEVEL: {
        log_level lv;
        ok = log_level_parse(value, &lv);
        if (ok)
            *(log_level *)(base + s->offset) = lv;
        break;
    }
    case K_DURATION:
        ok = config_parse_duration(value, s->unit_ms, &v);
        break;
    case K_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        ok = errno == 0 && end != value && *end == '\0';
        v = n;
        break;
    }
    case K_SIZE:
        ok = config_parse_size(value, &v);
        break;
    }
    if (!ok) {
        err_set(err, ERR_INVALID, "%s (from %s): '%s' is not valid; expected %s", s->env, origin,
                value, kind_hint(s));
        return false;
    }
    if (s->kind == K_LEVEL)
        return true;
    if (v < s->min || v > s->max) {
        err_set(err, ERR_INVALID, "%s (from %s): %s is out of range (%lld to %lld%s)", s->env,
                origin, value, (long long)s->min, (long long)s->max,
                s->kind == K_DURATION ? " ms" : "");
        return false;
    }
    if (s->kind == K_INT)
        *(int *)(base + s->offset) = (int)v;
    else
        *(int64_t *)(base + s->offset) = v;
    return true;
}

static void unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        memmove(v, v + 1, n - 2);
        v[n - 2] = '\0';
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

bool config_apply_dotenv(const char *text, const char *origin, err_t *err)
{
    char *copy = xstrdup(text);
    char *rest = copy;
    int lineno = 0;
    bool ok = true;
    /* Line by line, blank ones included, so errors name the right line. */
    for (char *line = rest; line; line = rest) {
        char *nl = strchr(line, '\n');
        rest = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        if (strncmp(l, "export ", 7) == 0)
            l = trim(l + 7);
        char *eq = strchr(l, '=');
        if (!eq || eq == l) {
            err_set(err, ERR_INVALID, "%s line %d: expected KEY=VALUE", origin, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(l);
        char *val = trim(eq + 1);
        if (*val != '"' && *val != '\'') {
            char *hash = strstr(val, " #");
            if (hash)
                *hash = '\0';
            val = trim(val);
        }
        unquote(val);
        if (!getenv(key))
            setenv(key, val, 0);
    }
    free(copy);
    return ok;
}

static bool load_dotenv(const char *path, bool required, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!required && errno == ENOENT)
            return true;
        err_set(err, ERR_INVALID, "cannot read env file %s: %s", path, strerror(errno));
        return false;
    }
    strbuf sb;
    sb_init(&sb);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && sb.len < (1 << 20))
        sb_append(&sb, chunk, n);
    fclose(f);
    bool ok = config_apply_dotenv(sb.data, path, err);
    sb_free(&sb);
    return ok;
}

static const spec *find_flag(const char *flag, size_t len)
{
    for (size_t i = 0; i < NSPECS; i++) {
        if (specs[i].flag && strlen(specs[i].flag) == len && strncmp(specs[i].flag, flag, len) == 0)
            return &specs[i];
    }
    return NULL;
}

/* Finds --env-file/--no-env-file before anything else is read. */
static bool scan_env_file_flags(int argc, char **argv, int start, const char **path, bool *disabled)
{
    for (int i = start; i < argc; i++) {
        if (strcmp(argv[i], "--no-env-file") == 0)
            *disabled = true;
        else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
            *path = argv[++i];
        else if (strncmp(argv[i], "--env-file=", 11) == 0)
            *path = argv[i] + 11;
    }
    return *path != NULL;
}

static bool load_flags(app_config *cfg, int argc, char **argv, int *argi, err_t *err)
{
    int i = *argi;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--no-env-file") == 0) {
            i++;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *value;
        if (strncmp(arg, "--env-file", name_len) == 0 && name_len == 10) {
            i += eq ? 1 : 2;
            continue;
        }
        const spec *s = find_flag(arg, name_len);
        if (!s)
            break; /* not ours: the caller decides (--help, subcommand flags) */
        if (eq) {
            value = eq + 1;
            i++;
        } else if (i + 1 < argc) {
            value = argv[i + 1];
            i += 2;
        } else {
            err_set(err, ERR_INVALID, "%s needs a value", s->flag);
            return false;
        }
        char origin[64];
        snprintf(origin, sizeof origin, "flag %s", s->flag);
        if (!apply(cfg, s, value, origin, err))
            return false;
    }
    *argi = i;
    return true;
}

bool config_load(app_config *cfg, int argc, char **argv, int *argi, err_t *err)
{
    const char *env_file = NULL;
    bool no_env_file = false;
    bool explicit_file = scan_env_file_flags(argc, argv, *argi, &env_file, &no_env_file);
    if (!no_env_file && !load_dotenv(explicit_file ? env_file : ".env", explicit_file, err))
        return false;
    for (size_t i = 0; i < NSPECS; i++) {
        const char *v = getenv(specs[i].env);
        if (v && !apply(cfg, &specs[i], v, "environment", err))
            return false;
    }
    return config_apply_flags(cfg, argc, argv, argi, err);
}

/* The pool names its fields; a user knows the settings. */
static void name_pool_settings(err_t *err)
{
    static const char *const names[][2] = {
        {"min_size", "SNOWFLAKE_POOL_MIN_SIZE"},
        {"max_size", "SNOWFLAKE_POOL_MAX_SIZE"},
        {"retry_attempts", "SNOWFLAKE_POOL_RETRY_ATTEMPTS"},
        {"acquire_timeout_ms", "SNOWFLAKE_POOL_CONNECTION_TIMEOUT"},
        {"max_idle_ms", "SNOWFLAKE_POOL_MAX_INACTIVE_MINUTES"},
        {"health_interval_ms", "SNOWFLAKE_POOL_HEALTH_CHECK_MINUTES"},
        {"max_lifetime_ms", "SNOWFLAKE_CONN_REFRESH_HOURS"},
        {"validate_after_idle_ms", "SNOWFLAKE_POOL_VALIDATE_AFTER_IDLE"},
        {"validation_timeout_ms", "SNOWFLAKE_POOL_VALIDATION_TIMEOUT"},
        {"leak_threshold_ms", "SNOWFLAKE_POOL_LEAK_THRESHOLD"},
        {"connect_timeout_ms", "SNOWFLAKE_POOL_CONNECT_TIMEOUT"},
    };
    strbuf sb;
    sb_init(&sb);
    for (const char *p = err->msg; *p;) {
        size_t i = 0;
        for (; i < sizeof names / sizeof *names; i++) {
            size_t n = strlen(names[i][0]);
            if (strncmp(p, names[i][0], n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_')
                break;
        }
        if (i < sizeof names / sizeof *names) {
            sb_puts(&sb, names[i][1]);
            p += strlen(names[i][0]);
        } else {
            sb_putc(&sb, *p++);
        }
    }
    snprintf(err->msg, sizeof err->msg, "%s", sb.data);
    sb_free(&sb);
}

bool config_apply_flags(app_config *cfg, int argc, char **argv, int *argi, err_t *err)
{
    if (!load_flags(cfg, argc, argv, argi, err))
        return false;
    if (!pool_config_validate(&cfg->pool, err)) {
        name_pool_settings(err);
        return false;
    }
    return true;
}

void config_forget_secret_env(void)
{
    static const char *const secret[] = {"SNOWFLAKE_TOKEN", "SNOWFLAKE_PRIVATE_KEY",
                                         "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
                                         "SNOWFLAKE_MCP_HTTP_API_KEYS"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        char *v = getenv(secret[i]);
        if (!v)
            continue;
        /* The bytes stay in the process's initial environment block
         * unless overwritten; volatile keeps the wipe from being elided. */
        for (volatile char *p = v; *p; p++)
            *p = 'x';
        unsetenv(secret[i]);
    }
}
