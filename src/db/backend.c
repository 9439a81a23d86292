/* backend: turns a DSN into a backend by picking the driver that serves it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/driver.h"
#include "db/postgres.h"
#include "db/snowflake/snowflake.h"
#include "db/sqlite.h"

#define ACCEPTED_FORMS                                                                             \
    "sqlite:///absolute/path (a .db file or a directory of them), sqlite:relative/path, a "        \
    "plain file or directory path, postgres://..., postgresql://... or snowflake://..."

static bool has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

db_backend *db_backend_open(const char *dsn, err_t *err)
{
    if (!dsn || !*dsn) {
        err_set(err, ERR_INVALID, "no database DSN given; accepted forms: %s", ACCEPTED_FORMS);
        return NULL;
    }
    if (has_prefix(dsn, "sqlite:")) {
        /* sqlite:///abs -> /abs, sqlite://rel -> rel, sqlite:rel -> rel */
        const char *path = dsn + strlen("sqlite:");
        if (path[0] == '/' && path[1] == '/')
            path += 2;
        return sqlite_backend_open(path, err);
    }
    if (postgres_dsn_matches(dsn))
        return postgres_backend_open(dsn, err);
    if (has_prefix(dsn, "snowflake://"))
        return snowflake_backend_open(dsn, err);
    /* A DSN never reaches an error message: it may hold a password. */
    if (strstr(dsn, "://")) {
        err_set(err, ERR_INVALID, "unsupported database DSN scheme; accepted forms: %s",
                ACCEPTED_FORMS);
        return NULL;
    }
    return sqlite_backend_open(dsn, err);
}

void db_backend_free(db_backend *be)
{
    if (!be)
        return;
    if (be->driver && be->driver->config_free)
        be->driver->config_free(be->cfg);
    free(be->description);
    free(be);
}
