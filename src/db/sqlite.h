/* sqlite: the SQLite driver, serving one database file or a directory of them.
 *
 * A backend is a set of databases: a file serves one database named after
 * its stem upper-cased (shop.db -> SHOP); a directory serves every *.db,
 * *.sqlite and *.sqlite3 file in it. Each database has one schema, PUBLIC
 * (also accepted as "main"). Names match case-insensitively.
 *
 * A connection lazily opens one read-only sqlite3 handle per database asked
 * for, with the backend's databases ATTACHed under their names (so
 * MARKETING.CAMPAIGNS works from a SALES call), then locks the handle down:
 * query_only, an authorizer allowing only reads, no extension loading. The
 * backend owns its configuration; connections borrow it and must be closed
 * before db_backend_free. */
#ifndef SMCP_SQLITE_H
#define SMCP_SQLITE_H

#include <stdbool.h>

#include "core/err.h"
#include "db/driver.h"

extern const db_driver sqlite_driver;

/* Creates a backend for path (a database file or a directory of them;
 * relative paths are resolved now). The caller frees it with
 * db_backend_free. NULL and err filled (ERR_INVALID) when the path does not
 * exist or holds no database file. */
db_backend *sqlite_backend_open(const char *path, err_t *err);

/* The current default database's name, owned by the backend. */
const char *sqlite_backend_default_database(const db_backend *be);

#endif
