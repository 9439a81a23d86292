/* snowflake: the Snowflake driver, speaking the SQL API v2 over HTTPS.
 *
 * A backend holds the settings (sfconfig), the derived host and one token
 * cache (sfauth) shared by all its connections. A connection is one HTTP
 * client context (sfapi/sfhttp) keeping its TLS connection alive; requests
 * are stateless, so reset has nothing to do and connect does no I/O (the
 * pool's ping, SELECT 1, proves the credentials). Statements carry their own
 * database/schema/warehouse/role context and MULTI_STATEMENT_COUNT=1.
 *
 * Names given by tools resolve like SQL identifiers (sfconfig.h): plain
 * names are upper-cased, "quoted" names keep their case. Catalog requests
 * use SHOW / DESCRIBE / GET_DDL with every name quoted.
 *
 * The backend owns its configuration; connections borrow it and must be
 * closed before db_backend_free. Secrets never appear in the description,
 * logs or errors. */
#ifndef SMCP_SNOWFLAKE_H
#define SMCP_SNOWFLAKE_H

#include <stdbool.h>

#include "core/err.h"
#include "core/strbuf.h"
#include "db/driver.h"

extern const db_driver snowflake_driver;

/* True when SNOWFLAKE_ACCOUNT is set: the environment asks for Snowflake. */
bool snowflake_env_present(void);

/* A backend from the SNOWFLAKE_* environment. Loads and checks the key (or
 * token) now. NULL with err (ERR_INVALID) when misconfigured. */
db_backend *snowflake_backend_from_env(err_t *err);

/* A backend from snowflake://user@account[/database[/schema]][?warehouse=…
 * &role=…&host=…] with everything else (credentials) from the environment. */
db_backend *snowflake_backend_open(const char *dsn, err_t *err);

/* For `snowflake-mcp check`: appends to report the account, host, JWT
 * identity and public-key fingerprint (to compare with DESC USER's
 * RSA_PUBLIC_KEY_FP), then runs SELECT 1 and a context query. On failure
 * returns false with err holding an actionable message (wrong account,
 * rejected JWT, clock skew, network policy, missing warehouse …) and the
 * report says what was proven before. be must be a Snowflake backend. */
bool snowflake_check(const db_backend *be, strbuf *report, err_t *err);

/* Appends "DB"."SCHEMA"."OBJECT" for use in FROM: names resolve as in
 * Snowflake SQL (plain ones upper-cased, "quoted" ones kept), database and
 * schema default to the configured ones; false (ERR_INVALID) when none. */
bool snowflake_qualify(const db_backend *be, const char *database, const char *schema,
                       const char *object, strbuf *out, err_t *err);

#endif
