/* snowflake-mcp command line: serve (stdio), call, check, version. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/strbuf.h"
#include "db/snowflake/snowflake.h"
#include "transport/http.h"
#include "transport/stdio.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "snowflake-mcp %s: a read-only Model Context Protocol server for Snowflake,\n"
        "PostgreSQL and SQLite, with a self-healing connection pool.\n\n"
        "Usage:\n"
        "  snowflake-mcp [OPTIONS]                   serve MCP over stdio (what desktop "
        "clients launch)\n"
        "  snowflake-mcp [OPTIONS] serve --http [ADDR:]PORT [--insecure]\n"
        "                                            serve MCP over Streamable HTTP at\n"
        "                                            /mcp (default ADDR 127.0.0.1); also\n"
        "                                            /healthz, /readyz, /metrics. Off\n"
        "                                            loopback, API keys are required unless\n"
        "                                            --insecure (settings SNOWFLAKE_MCP_HTTP_*)\n"
        "  snowflake-mcp [OPTIONS] call [--json] TOOL [ARGS]\n"
        "                                            run one tool and print its result;\n"
        "                                            ARGS is a JSON object or - for stdin;\n"
        "                                            --json prints structuredContent\n"
        "  snowflake-mcp [OPTIONS] check             check the configuration and the "
        "database\n"
        "  snowflake-mcp --version | --help\n\n"
        "With no backend configured, the server builds and serves a demo warehouse\n"
        "(SALES, MARKETING, FINANCE) and says so on stderr. Logs go to stderr only.\n\n"
        "Options and settings (flags override the environment, which overrides .env in the\n"
        "working directory; --env-file PATH reads another file, --no-env-file none):\n",
        SMCP_VERSION);
    for (size_t i = 0; i < config_setting_count(); i++) {
        config_setting s = config_setting_get(i);
        fprintf(f, "  %-36s %s\n", s.env, s.help);
        fprintf(f, "  %-36s default: %s\n", s.flag ? s.flag : "", s.def);
    }
    fprintf(f, "\nTools: list_databases, list_schemas, list_tables, list_views, describe_table,\n"
               "describe_view, query_view, execute_query (see README.md).\n");
}

/* ---- call: one tool call through the same MCP code path --------------- */

typedef struct capture {
    pthread_mutex_t mu;
    json_t *answer; /* the response to request 1 */
} capture;

static void capture_send(void *ctx, const char *json, size_t len, json_t *related)
{
    capture *c = ctx;
    if (!json)
        return;
    json_t *m = json_loadb(json, len, 0, NULL);
    if (!m)
        return;
    json_t *id = json_object_get(m, "id");
    pthread_mutex_lock(&c->mu);
    if (json_is_integer(id) && json_integer_value(id) == 1 && !c->answer)
        c->answer = json_incref(m);
    pthread_mutex_unlock(&c->mu);
    json_decref(m);
}

static char *read_all(FILE *f)
{
    strbuf sb;
    sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_append(&sb, buf, n);
    return sb_detach(&sb);
}

/* Prints a CallToolResult; returns the exit code. */
static int print_answer(json_t *answer, bool as_json)
{
    json_t *error = json_object_get(answer, "error");
    if (error) {
        fprintf(stderr, "snowflake-mcp: %s (JSON-RPC error %lld)\n",
                json_string_value(json_object_get(error, "message")),
                (long long)json_integer_value(json_object_get(error, "code")));
        return 2;
    }
    json_t *result = json_object_get(answer, "result");
    bool is_error = json_is_true(json_object_get(result, "isError"));
    json_t *structured = json_object_get(result, "structuredContent");
    if (as_json && structured && !is_error) {
        char *text = jsonx_dumps(structured, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    } else {
        size_t i;
        json_t *block;
        json_array_foreach(json_object_get(result, "content"), i, block)
        {
            const char *text = json_string_value(json_object_get(block, "text"));
            fprintf(is_error ? stderr : stdout, "%s\n", text ? text : "");
        }
    }
    return is_error ? 1 : 0;
}

static int cmd_call(app *a, int argc, char **argv, int i)
{
    bool as_json = false;
    if (i < argc && strcmp(argv[i], "--json") == 0) {
        as_json = true;
        i++;
    }
    if (i >= argc) {
        fprintf(stderr, "snowflake-mcp call: name a tool, e.g. `snowflake-mcp call "
                        "list_databases` (see --help)\n");
        return 2;
    }
    const char *tool = argv[i++];
    char *args_text = NULL;
    if (i < argc)
        args_text = strcmp(argv[i], "-") == 0 ? read_all(stdin) : strdup(argv[i]);
    json_error_t je;
    json_t *args = args_text ? json_loads(args_text, 0, &je) : json_object();
    free(args_text);
    if (!args) {
        fprintf(stderr, "snowflake-mcp call: the arguments are not valid JSON: %s\n", je.text);
        return 2;
    }
    capture cap = {.answer = NULL};
    pthread_mutex_init(&cap.mu, NULL);
    mcp_session *s = mcp_session_new(app_server(a), capture_send, &cap);
    json_t *init = json_pack("{s:s, s:i, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}", "jsonrpc", "2.0", "id",
                             0, "method", "initialize", "params", "protocolVersion",
                             MCP_LATEST_VERSION, "capabilities", "clientInfo", "name",
                             "snowflake-mcp-call", "version", SMCP_VERSION);
    json_t *req = json_pack("{s:s, s:i, s:s, s:{s:s, s:o}}", "jsonrpc", "2.0", "id", 1, "method",
                            "tools/call", "params", "name", tool, "arguments", args);
    json_t *msgs[] = {init, req};
    for (int k = 0; k < 2; k++) {
        char *text = json_dumps(msgs[k], JSON_COMPACT);
        mcp_session_handle(s, text, strlen(text));
        free(text);
        json_decref(msgs[k]);
    }
    mcp_session_close(s, false);
    mcp_session_free(s);
    int rc = cap.answer ? print_answer(cap.answer, as_json) : 2;
    json_decref(cap.answer);
    pthread_mutex_destroy(&cap.mu);
    return rc;
}

/* ---- check ------------------------------------------------------------ */

static void print_pool(pool *p)
{
    pool_stats st;
    pool_get_stats(p, &st);
    fprintf(stderr,
            "pool:       total %d, in use %d, idle %d, connecting %d, waiting %d\n"
            "            created %llu, failed connects %llu, retries %llu, timeouts %llu, "
            "failed health checks %llu\n",
            st.total, st.in_use, st.idle, st.connecting, st.waiting, (unsigned long long)st.created,
            (unsigned long long)st.failed_connects, (unsigned long long)st.retries,
            (unsigned long long)st.timeouts, (unsigned long long)st.failed_health_checks);
    fprintf(stderr,
            "            closed: idle %llu, lifetime %llu, broken %llu, health %llu; "
            "leaks %llu\n",
            (unsigned long long)st.closed[POOL_CLOSE_IDLE],
            (unsigned long long)st.closed[POOL_CLOSE_LIFETIME],
            (unsigned long long)st.closed[POOL_CLOSE_BROKEN],
            (unsigned long long)st.closed[POOL_CLOSE_HEALTH], (unsigned long long)st.leaks);
    /* The acquire-wait histogram, cumulative as in Prometheus. */
    fprintf(stderr, "            acquire waits (count <= ms):");
    for (int i = 0; i < POOL_WAIT_BUCKETS; i++) {
        if (i == POOL_WAIT_BUCKETS - 1)
            fprintf(stderr, " +Inf:%llu", (unsigned long long)st.wait_bucket[i]);
        else
            fprintf(stderr, " %g:%llu", pool_wait_bucket_ms[i],
                    (unsigned long long)st.wait_bucket[i]);
    }
    fprintf(stderr, "; sum %.1f ms\n", st.wait_sum_ms);
    if (st.last_connect_error[0])
        fprintf(stderr, "            last connect error: %s\n", st.last_connect_error);
}

/* Snowflake's own checks: key fingerprint, identity, SELECT 1, and the
 * usual failures turned into advice. False when they failed. */
static bool check_snowflake(const db_backend *be)
{
    strbuf report;
    sb_init(&report);
    err_t err;
    err_clear(&err);
    bool ok = snowflake_check(be, &report, &err);
    if (report.len)
        fprintf(stderr, "%s%s", report.data, report.data[report.len - 1] == '\n' ? "" : "\n");
    if (!ok)
        fprintf(stderr, "snowflake:  UNHEALTHY: %s\n", err.msg);
    sb_free(&report);
    return ok;
}

static int cmd_check(app *a, const app_config *cfg)
{
    fprintf(stderr, "backend:    %s\n", app_description(a));
    const db_backend *be = dbp_backend(app_dbp(a));
    if (be->driver == &snowflake_driver && !check_snowflake(be)) {
        print_pool(dbp_pool(app_dbp(a)));
        printf("unhealthy\n");
        return 1;
    }
    fprintf(stderr, "pool size:  min %d, max %d; acquire timeout %lld ms\n", cfg->pool.min_size,
            cfg->pool.max_size, (long long)cfg->pool.acquire_timeout_ms);
    json_t *result = NULL;
    const char *message = NULL;
    tools_call_env env = {.tag = "check"};
    int64_t t0 = clock_now_ns();
    tools_call(app_tools(a), "list_databases", NULL, &env, &result, &message);
    double ms = (double)(clock_now_ns() - t0) / 1e6;
    bool bad = json_is_true(json_object_get(result, "isError"));
    json_t *sc = json_object_get(result, "structuredContent");
    if (bad) {
        const char *text = json_string_value(
            json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
        fprintf(stderr, "database:   UNHEALTHY: %s\n", text ? text : "unknown error");
    } else {
        fprintf(stderr, "database:   ok: %lld database(s) listed in %.1f ms\n",
                (long long)json_integer_value(json_object_get(sc, "row_count")), ms);
    }
    json_decref(result);
    print_pool(dbp_pool(app_dbp(a)));
    printf("%s\n", bad ? "unhealthy" : "healthy");
    return bad ? 1 : 0;
}

/* ---- serve: stdio, or HTTP with --http ------------------------------- */

/* Consumes `serve`'s own flags at argv[*argi] (--http ADDR:PORT,
 * --insecure); false when the next argument is none of them. */
static bool take_serve_flag(int argc, char **argv, int *argi, http_options *opt, err_t *err)
{
    if (*argi >= argc)
        return false;
    const char *a = argv[*argi];
    if (strcmp(a, "--insecure") == 0) {
        opt->insecure = true;
        *argi += 1;
        return true;
    }
    if (strcmp(a, "--http") == 0 && *argi + 1 < argc) {
        opt->listen = argv[*argi + 1];
        *argi += 2;
        return true;
    }
    if (strncmp(a, "--http=", 7) == 0) {
        opt->listen = a + 7;
        *argi += 1;
        return true;
    }
    if (strcmp(a, "--http") == 0)
        err_set(err, ERR_INVALID, "--http needs [ADDR:]PORT, e.g. --http 8080");
    return false;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "version") == 0) {
            printf("snowflake-mcp %s\n", SMCP_VERSION);
            return 0;
        }
    }
    app_config cfg;
    config_defaults(&cfg);
    int argi = 1;
    err_t err;
    if (!config_load(&cfg, argc, argv, &argi, &err)) {
        fprintf(stderr, "snowflake-mcp: configuration error: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    const char *cmd = argi < argc ? argv[argi++] : "serve";
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "call") != 0 && strcmp(cmd, "check") != 0) {
        fprintf(stderr, "snowflake-mcp: unknown command or option '%s' (see --help)\n", cmd);
        config_free(&cfg);
        return 2;
    }
    /* Options may follow the command too: `snowflake-mcp check --dsn …`;
     * serve's own (--http, --insecure) may be mixed with them. */
    http_options http = {.listen = NULL};
    err.msg[0] = '\0';
    do {
        if (!config_apply_flags(&cfg, argc, argv, &argi, &err)) {
            fprintf(stderr, "snowflake-mcp: configuration error: %s\n", err.msg);
            config_free(&cfg);
            return 2;
        }
    } while (strcmp(cmd, "serve") == 0 && take_serve_flag(argc, argv, &argi, &http, &err));
    if (err.msg[0]) {
        fprintf(stderr, "snowflake-mcp serve: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    if (strcmp(cmd, "call") != 0 && argi < argc) {
        fprintf(stderr, "snowflake-mcp %s: unexpected argument '%s' (see --help)\n", cmd,
                argv[argi]);
        config_free(&cfg);
        return 2;
    }
    log_set_stderr_level(cfg.log_level);
    if (http.insecure && !http.listen) {
        fprintf(stderr, "snowflake-mcp serve: --insecure only applies to --http\n");
        config_free(&cfg);
        return 2;
    }
    int stop_fd = signals_install();
    app *a = app_open(&cfg, &err);
    if (!a) {
        fprintf(stderr, "snowflake-mcp: cannot start: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    config_forget_secret_env(); /* the backend and HTTP settings hold their copies */
    if (app_is_demo(a))
        log_msg(LOG_NOTICE, "main",
                "no backend configured: serving %s (set SNOWFLAKE_MCP_DSN or --dsn to serve your "
                "own data)",
                app_description(a));
    int rc;
    if (strcmp(cmd, "call") == 0) {
        rc = cmd_call(a, argc, argv, argi);
    } else if (strcmp(cmd, "check") == 0) {
        rc = cmd_check(a, &cfg);
    } else if (http.listen) {
        log_info("main", "snowflake-mcp %s serving %s over HTTP", SMCP_VERSION, app_description(a));
        rc = http_serve(app_server(a), dbp_pool(app_dbp(a)), &cfg, &http, stop_fd);
    } else {
        log_info("main", "snowflake-mcp %s serving %s over stdio", SMCP_VERSION,
                 app_description(a));
        rc = stdio_serve(app_server(a), STDIN_FILENO, STDOUT_FILENO, stop_fd,
                         (size_t)cfg.max_message_bytes);
    }
    app_close(a);
    config_free(&cfg);
    return rc;
}
