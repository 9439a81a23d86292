/* demo: builds the bundled demo warehouse (SALES, MARKETING, FINANCE) from the
 * SQL scripts compiled into the binary (db/demo_scripts.h).
 *
 * Script "NN_<name>.sql" becomes the SQLite file "<NAME>.db". The warehouse
 * lives in <cache_root>/demo-<hash>/, where hash covers every script's name
 * and text, so changed scripts produce a fresh warehouse and an unchanged one
 * is reused. A build happens in a temporary sibling directory renamed into
 * place at the end, so concurrent starts and crashes never expose a
 * half-built warehouse. The files are generated, never committed.
 *
 * Each process holds a shared lock on its warehouse directory while it
 * runs and marks it used at start; building a new warehouse removes those
 * (of other versions) that no process holds and no start has used for 30
 * days, and temporary directories of builds that crashed over an hour ago.
 * demo_ensure keeps one descriptor open for the life of the process. */
#ifndef SMCP_DEMO_H
#define SMCP_DEMO_H

#include <stdbool.h>

#include "core/err.h"

/* Makes sure the warehouse exists under cache_root (created like mkdir -p)
 * and sets *out_dir to its directory, which the caller frees. Returns false
 * and fills err (nothing to free) when it cannot be built. */
bool demo_ensure(const char *cache_root, char **out_dir, err_t *err);

/* $XDG_CACHE_HOME/snowflake-mcp, else $HOME/.cache/snowflake-mcp, else
 * /tmp/snowflake-mcp-<uid>. Never NULL; the caller frees. */
char *demo_default_cache_root(void);

/* The database name a script builds, e.g. "10_sales.sql" -> "SALES". The
 * caller frees. */
char *demo_database_name(const char *script_name);

#endif
