/* dbpool: runs one statement or discovery request on a pooled connection.
 *
 * This is where the generic pool meets a database backend: it adapts the
 * driver vtable to pool_ops, and wraps every operation in acquire → run →
 * release, marking the connection broken when the driver says the
 * connection is lost, and retrying once on a fresh connection when the
 * statement provably never ran (all statements here are read-only).
 *
 * A dbp_cancel lets another thread cancel the operation in flight: it sets
 * the call's cancel flag and asks the driver to stop the statement on the
 * server. The dbp borrows the backend, which must outlive it. */
#ifndef SMCP_DBPOOL_H
#define SMCP_DBPOOL_H

#include "db/driver.h"
#include "pool/pool.h"

typedef struct dbp dbp;
typedef struct dbp_cancel dbp_cancel;

dbp *dbp_create(const db_backend *be, const pool_config *cfg, err_t *err);
/* Drains the pool (see pool_shutdown) and frees everything. */
void dbp_destroy(dbp *d);
pool *dbp_pool(dbp *d);
const db_backend *dbp_backend(dbp *d);

dbp_cancel *dbp_cancel_new(void);
void dbp_cancel_free(dbp_cancel *c);
/* Thread-safe; idempotent. The running operation ends with ERR_CANCELLED. */
void dbp_cancel_fire(dbp_cancel *c);

/* call->cancelled is set from cancel (which may be NULL). tag names the
 * borrower in pool leak warnings. On success *out is the caller's. */
bool dbp_execute(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag, const char *sql,
                 db_result **out, err_t *err);
bool dbp_catalog(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag,
                 const db_catalog_req *req, db_result **out, err_t *err);

#endif
