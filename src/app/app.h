/* app: assembles a running snowflake-mcp from its configuration.
 *
 * app_open picks the backend (the demo warehouse when none is configured,
 * building it on first use), starts the pool, the tools, the worker queue
 * and the MCP server. app_close tears them down in reverse order, draining
 * the pool. The app borrows cfg (and may fill cfg->database for the demo);
 * cfg must outlive it. */
#ifndef SMCP_APP_H
#define SMCP_APP_H

#include <stdbool.h>

#include "core/config.h"
#include "db/dbpool.h"
#include "mcp/server.h"
#include "tools/tools.h"

typedef struct app app;

app *app_open(app_config *cfg, err_t *err);
void app_close(app *a);

mcp_server *app_server(app *a);
tools_ctx *app_tools(app *a);
dbp *app_dbp(app *a);
bool app_is_demo(app *a);
/* What is served, for people: never contains a secret. */
const char *app_description(app *a);

#endif
