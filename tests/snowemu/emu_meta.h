/* emu_meta: SHOW, DESCRIBE and GET_DDL answered from SQLite's catalog.
 *
 * Snowflake answers these from its metadata service; the emulator reads
 * sqlite_master and PRAGMA table_info of the attached warehouse databases
 * and shapes the rows the way Snowflake prints them (lower-case column
 * names, Snowflake type names, 'Y'/'N' flags). The parser is small and
 * tolerant: quoted or unquoted identifiers, optional IN ACCOUNT / DATABASE /
 * SCHEMA / TABLE scopes and LIKE patterns. */
#ifndef SNOWEMU_META_H
#define SNOWEMU_META_H

#include <stdbool.h>

#include <sqlite3.h>

#include "emu_result.h"
#include "emu_sql.h"

/* Returns false when text is not a metadata statement. Otherwise returns
 * true with *out set, or with *out NULL and e filled. db is the statement's
 * connection (every warehouse database attached under its name). */
bool emu_meta_try(const emu_wh *wh, sqlite3 *db, const emu_session *s, const char *text,
                  emu_result **out, emu_error *e);

#endif
