/* config: every setting of snowflake-mcp, from flags, environment and .env.
 *
 * Precedence, highest first: command-line flags, the process environment,
 * a .env file in the working directory (or --env-file), built-in defaults.
 * Environment names of the server we replace (SNOWFLAKE_*) keep their
 * meaning; settings it did not have are named SNOWFLAKE_MCP_*.
 *
 * config_load validates everything and fills err with a message naming the
 * setting, its source and the accepted form. The app_config owns its
 * strings; config_free releases them. Secret values are never logged. */
#ifndef SMCP_CONFIG_H
#define SMCP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "pool/pool.h"

typedef struct app_config {
    char *dsn;       /* NULL: serve the demo warehouse */
    char *database;  /* default database (SNOWFLAKE_DATABASE) */
    char *schema;    /* default schema (SNOWFLAKE_SCHEMA) */
    char *cache_dir; /* where the demo warehouse is built */
    log_level log_level;
    pool_config pool;
    int workers;               /* threads running tool calls */
    int max_queue;             /* tool calls waiting for a worker */
    int64_t max_rows;          /* hard cap on rows a call may ask for */
    int64_t max_result_bytes;  /* cell bytes kept per result */
    int64_t query_timeout_ms;  /* per call */
    int64_t max_message_bytes; /* one incoming JSON-RPC message */
    int max_cell_chars;        /* text table cells are cut past this */
    /* Streamable HTTP (serve --http) */
    char *http_api_keys;            /* secret: keys separated by commas/whitespace */
    char *http_api_key_file;        /* one key per line */
    char *http_allowed_origins;     /* comma-separated, "scheme://host:*" allowed */
    char *http_allowed_hosts;       /* comma-separated Host names besides loopback */
    int64_t http_session_idle_ms;   /* an idle session ends after this */
    int http_max_calls_per_session; /* tool calls in flight per session */
    int http_max_sessions;          /* sessions open at once */
    int http_max_connections;       /* TCP connections at once */
    int64_t http_shutdown_grace_ms; /* SIGTERM waits this long for calls */
} app_config;

/* One setting, for --help and the README. */
typedef struct config_setting {
    const char *env;
    const char *flag; /* NULL: environment only */
    const char *def;
    const char *help;
} config_setting;

size_t config_setting_count(void);
config_setting config_setting_get(size_t i);

void config_defaults(app_config *cfg);
/* Reads .env (unless --no-env-file), the environment, then flags from
 * argv[*argi] onward, stopping at the first non-flag argument, which is left
 * at argv[*argi]. --help and --version are not handled here. */
bool config_load(app_config *cfg, int argc, char **argv, int *argi, err_t *err);
/* Applies more flags from argv[*argi] onward (those after a subcommand),
 * stopping at the first argument that is not one, and validates again. */
bool config_apply_flags(app_config *cfg, int argc, char **argv, int *argi, err_t *err);
void config_free(app_config *cfg);
/* Overwrites and removes secret variables (tokens, inline keys,
 * passphrases, HTTP API keys) from the environment once they have been
 * read, so /proc/<pid>/environ and child processes do not see them.
 * PGPASSWORD stays: libpq reads it at every connect. */
void config_forget_secret_env(void);

/* Parses a duration: a number with an optional unit (ms, s, m, h); bare
 * numbers are in default_unit_ms. Exposed for tests. */
bool config_parse_duration(const char *text, int64_t default_unit_ms, int64_t *out_ms);
/* Parses a non-negative integer with an optional k/M/G (x1024) suffix. */
bool config_parse_size(const char *text, int64_t *out);
/* Parses .env text into setenv() calls without overriding variables that
 * are already set. Returns false with err on a malformed line. */
bool config_apply_dotenv(const char *text, const char *origin, err_t *err);

#endif
