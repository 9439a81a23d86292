#include "app/app.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "core/workq.h"
#include "core/xalloc.h"
#include "db/demo.h"
#include "db/snowflake/snowflake.h"

struct app {
    app_config *cfg;
    db_backend *be;
    dbp *dbp;
    tools_ctx *tools;
    workq *wq;
    mcp_server *srv;
    bool demo;
    char *description;
};

static const char instructions[] =
    "Read-only SQL access to a data warehouse. Explore with list_databases, then list_schemas, "
    "list_tables and list_views; describe_table / describe_view show columns (and a view's "
    "definition); query_view returns a view's first rows; execute_query runs one read-only "
    "statement (SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN). Results are capped by "
    "`limit`: `truncated` says when more rows existed. Prefer aggregating in SQL over fetching "
    "many rows.";

/* Builds (once) and points the config at the demo warehouse. */
static char *demo_dsn(app_config *cfg, err_t *err)
{
    char *root = cfg->cache_dir ? xstrdup(cfg->cache_dir) : demo_default_cache_root();
    char *dir = NULL;
    bool ok = demo_ensure(root, &dir, err);
    free(root);
    if (!ok)
        return NULL;
    strbuf dsn;
    sb_init(&dsn);
    sb_printf(&dsn, "sqlite://%s", dir);
    free(dir);
    if (!cfg->database)
        cfg->database = xstrdup("SALES");
    return sb_detach(&dsn);
}

app *app_open(app_config *cfg, err_t *err)
{
    app *a = xcalloc(1, sizeof *a);
    a->cfg = cfg;
    char *dsn = NULL;
    if (cfg->dsn) {
        a->be = db_backend_open(cfg->dsn, err);
    } else if (snowflake_env_present()) {
        /* The configuration of the server we replace: SNOWFLAKE_ACCOUNT… */
        a->be = snowflake_backend_from_env(err);
    } else {
        a->demo = true;
        dsn = demo_dsn(cfg, err);
        if (!dsn)
            goto fail;
        a->be = db_backend_open(dsn, err);
        free(dsn);
    }
    if (!a->be)
        goto fail;
    strbuf d;
    sb_init(&d);
    sb_printf(&d, "%s%s", a->demo ? "the demo warehouse: " : "", a->be->description);
    a->description = sb_detach(&d);
    a->dbp = dbp_create(a->be, &cfg->pool, err);
    if (!a->dbp)
        goto fail;
    a->tools = tools_new(a->dbp, cfg);
    a->wq = workq_new(cfg->workers, (size_t)cfg->max_queue);
    a->srv = mcp_server_new(a->tools, cfg, a->wq, instructions);
    return a;
fail:
    app_close(a);
    return NULL;
}

void app_close(app *a)
{
    if (!a)
        return;
    /* Workers first: queued calls finish before their pool goes away. */
    workq_destroy(a->wq);
    mcp_server_free(a->srv);
    tools_free(a->tools);
    dbp_destroy(a->dbp);
    db_backend_free(a->be);
    free(a->description);
    free(a);
}

mcp_server *app_server(app *a)
{
    return a->srv;
}

tools_ctx *app_tools(app *a)
{
    return a->tools;
}

dbp *app_dbp(app *a)
{
    return a->dbp;
}

bool app_is_demo(app *a)
{
    return a->demo;
}

const char *app_description(app *a)
{
    return a->description;
}
