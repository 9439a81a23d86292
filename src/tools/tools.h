/* tools: the MCP tools snowflake-mcp offers, from argument checking to the
 * result a client sees.
 *
 * The tool names and argument names are those of the Python server we
 * replace (list_databases, list_views, describe_view, query_view,
 * execute_query) plus list_schemas, list_tables and describe_table. Every
 * tool is read-only and returns a readable text table plus typed
 * structuredContent (see format.h).
 *
 * A tools_ctx borrows the dbp and the config, which must outlive it.
 * tools_call may run on many threads at once. Tools know nothing of
 * JSON-RPC or transports: the caller maps TOOLS_UNKNOWN / TOOLS_MALFORMED to
 * protocol errors; everything else, including bad argument values, is a
 * result (with isError true) so the model can correct itself. */
#ifndef SMCP_TOOLS_H
#define SMCP_TOOLS_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "db/dbpool.h"

typedef struct tools_ctx tools_ctx;

/* Reports progress of one call: progress grows, total may be 0 (unknown). */
typedef void (*tools_progress_fn)(void *ctx, double progress, double total, const char *message);

/* What a call brings besides its arguments. All borrowed for the call. */
typedef struct tools_call_env {
    dbp_cancel *cancel;         /* may be NULL */
    const char *tag;            /* names the call in logs, e.g. "request 7" */
    tools_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} tools_call_env;

typedef enum tools_status {
    TOOLS_OK,       /* *result is a CallToolResult (maybe isError) */
    TOOLS_UNKNOWN,  /* no such tool: *message says so */
    TOOLS_MALFORMED /* arguments is not an object: *message says so */
} tools_status;

tools_ctx *tools_new(dbp *d, const app_config *cfg);
void tools_free(tools_ctx *t);

/* The tools/list array (new reference). */
json_t *tools_list(tools_ctx *t);

/* Runs a tool. args may be NULL (no arguments). On TOOLS_OK *result is a
 * new reference; otherwise *message is a static string for the error. */
tools_status tools_call(tools_ctx *t, const char *name, json_t *args, const tools_call_env *env,
                        json_t **result, const char **message);

#endif
