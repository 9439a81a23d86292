/* postgres: the PostgreSQL driver, on libpq.
 *
 * A backend is one PostgreSQL database: the one the DSN connects to.
 * PostgreSQL cannot query across databases, so a call naming another
 * database fails with ERR_NOT_FOUND telling the user to serve that
 * database with its own DSN. Mapping from the Snowflake vocabulary the
 * tools speak: database = the connected PostgreSQL database, schema =
 * schema. Names match exactly first, then case-insensitively (PUBLIC finds
 * public), and are reported as stored.
 *
 * Read-only at the engine: every session starts with
 * default_transaction_read_only=on, and every statement runs inside
 * BEGIN TRANSACTION READ ONLY ... ROLLBACK with SET LOCAL statement_timeout
 * taken from the call's deadline. A statement is sent with the extended
 * query protocol, so a string holding two statements is refused by the
 * server. Rows are fetched one at a time (single-row mode): at max_rows + 1
 * rows (or max_bytes) the query is cancelled on the server and the rest is
 * never computed.
 *
 * Values are typed by column type: int2/int4/int8/oid -> JSON integer;
 * float4/float8 -> JSON real, except NaN, Infinity and -Infinity, which
 * JSON cannot hold, as the strings "NaN", "Infinity", "-Infinity";
 * numeric -> JSON integer when it is whole and fits int64, otherwise a
 * string of the exact decimal (a JSON number would lose precision);
 * bool -> true/false; json/jsonb -> parsed JSON; date, time, timetz,
 * timestamp, timestamptz -> ISO 8601 strings ("2024-01-02T03:04:05.5",
 * "2024-01-02T03:04:05.5+00:00": sessions run in UTC); interval -> ISO 8601
 * duration ("P1DT2H"); bytea -> lower-case hex without the \x prefix;
 * one-dimensional arrays of these -> JSON arrays (other arrays -> text);
 * NULL -> null; everything else -> its text form. The conversion is
 * pgvalue's (db/pgvalue.h).
 *
 * The backend owns its parsed connection options (a password is wiped on
 * free) and must outlive its connections. Its description never holds a
 * password. libpq applies the standard PG* environment variables and
 * ~/.pgpass; TLS options (sslmode, sslrootcert, ...) are plain DSN
 * options. Threading: as driver.h says; cancel() uses a PGcancel object made
 * at connect time and is safe from any thread. */
#ifndef SMCP_POSTGRES_H
#define SMCP_POSTGRES_H

#include <stdbool.h>

#include "core/err.h"
#include "db/driver.h"

extern const db_driver postgres_driver;

/* True when dsn is for this driver: a postgres:// or postgresql:// URI, or
 * a key=value conninfo string ("host=... dbname=..."). */
bool postgres_dsn_matches(const char *dsn);

/* Creates a backend from a postgres:// / postgresql:// URI or a key=value
 * conninfo string. No connection is made here. NULL with ERR_INVALID when
 * the DSN cannot be parsed (the message never repeats the DSN). The caller
 * frees the backend with db_backend_free. */
db_backend *postgres_backend_open(const char *dsn, err_t *err);

#endif
