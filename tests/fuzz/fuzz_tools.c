/* Fuzzes the tools with untrusted arguments, as a model would send them,
 * against the real demo warehouse (SQLite): argument checking, identifier
 * quoting, the guard, execution under small bounds and result formatting.
 * Input: one byte picks the tool, the rest is the arguments' JSON text.
 * Every answer must be a CallToolResult that encodes as valid JSON, with
 * structuredContent that agrees with its own row count when it succeeded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "core/log.h"
#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tool_names[] = {"list_databases", "list_schemas",   "list_tables",
                                         "list_views",     "describe_table", "describe_view",
                                         "query_view",     "execute_query",  "no_such_tool"};
#define NTOOLS (sizeof tool_names / sizeof tool_names[0])

/* The demo warehouse is built once per user and reused (a fuzzer restarts
 * often): in a directory of ours, never in one someone else made. */
static void cache_dir(char *out, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/smcp-fuzz-tools-%lu", tmp && *tmp ? tmp : "/tmp", (unsigned long)getuid());
    struct stat st;
    if (mkdir(out, 0700) != 0 &&
        (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())) {
        fprintf(stderr, "fuzz_tools: %s is not a directory of ours\n", out);
        abort();
    }
}

static app *the_app;

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Builds (or reuses) the warehouse here, not in the first input, which
 * would count against libFuzzer's per-input timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static app_config cfg;
    static char cache[512];
    log_set_stderr_level(LOG_EMERGENCY);
    config_defaults(&cfg);
    cache_dir(cache, sizeof cache);
    cfg.cache_dir = cache;
    cfg.query_timeout_ms = 200; /* a generated recursive query must not stall it */
    cfg.max_rows = 50;
    cfg.max_result_bytes = 64 * 1024;
    cfg.pool.min_size = 1;
    cfg.pool.max_size = 1;
    err_t err;
    the_app = app_open(&cfg, &err);
    if (!the_app) {
        fprintf(stderr, "fuzz_tools: %s\n", err.msg);
        abort();
    }
    return 0;
}

static void check_result(const json_t *r)
{
    check_json_value(r);
    const json_t *content = json_object_get(r, "content");
    const json_t *is_error = json_object_get(r, "isError");
    if (!json_is_array(content) || json_array_size(content) == 0 || !json_is_boolean(is_error))
        abort();
    const json_t *first = json_array_get(content, 0);
    if (!json_is_string(json_object_get(first, "text")))
        abort();
    if (json_is_true(is_error))
        return;
    const json_t *sc = json_object_get(r, "structuredContent");
    if (!json_is_object(sc))
        abort();
    const json_t *rows = json_object_get(sc, "rows");
    const json_t *count = json_object_get(sc, "row_count");
    if (rows && (!json_is_array(rows) || !json_is_integer(count) ||
                 (size_t)json_integer_value(count) != json_array_size(rows)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = tool_names[data[0] % NTOOLS];
    json_t *args = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    json_t *result = NULL;
    const char *message = NULL;
    tools_call_env env = {.tag = "fuzz"};
    tools_status st = tools_call(app_tools(the_app), name, args, &env, &result, &message);
    if (st == TOOLS_OK)
        check_result(result);
    else if (!message || result)
        abort();
    else if ((st == TOOLS_UNKNOWN) != (data[0] % NTOOLS == NTOOLS - 1))
        abort(); /* only the made-up name is unknown */
    json_decref(result);
    json_decref(args);
    return 0;
}
