#include "db/dbpool.h"

#include <pthread.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

struct dbp {
    const db_backend *be;
    pool *pool;
    int64_t acquire_timeout_ms;
};

struct dbp_cancel {
    atomic_bool fired;
    pthread_mutex_t mu; /* guards conn: the connection running the operation */
    db_conn *conn;
    const db_driver *driver;
};

static bool op_connect(void *ctx, int64_t deadline_ns, void **conn, err_t *err)
{
    const db_backend *be = ctx;
    db_conn *c = NULL;
    if (!be->driver->connect(be, deadline_ns, &c, err))
        return false;
    *conn = c;
    return true;
}

static bool op_ping(void *ctx, void *conn, int64_t deadline_ns, err_t *err)
{
    const db_backend *be = ctx;
    return be->driver->ping(conn, deadline_ns, err);
}

static bool op_reset(void *ctx, void *conn, err_t *err)
{
    const db_backend *be = ctx;
    return be->driver->reset(conn, err);
}

static void op_close(void *ctx, void *conn)
{
    const db_backend *be = ctx;
    be->driver->close(conn);
}

static const pool_ops db_pool_ops = {op_connect, op_ping, op_reset, op_close};

dbp *dbp_create(const db_backend *be, const pool_config *cfg, err_t *err)
{
    dbp *d = xcalloc(1, sizeof *d);
    d->be = be;
    d->acquire_timeout_ms = cfg->acquire_timeout_ms;
    d->pool = pool_create(cfg, &db_pool_ops, (void *)be, err);
    if (!d->pool) {
        free(d);
        return NULL;
    }
    return d;
}

void dbp_destroy(dbp *d)
{
    if (!d)
        return;
    pool_destroy(d->pool);
    free(d);
}

pool *dbp_pool(dbp *d)
{
    return d->pool;
}

const db_backend *dbp_backend(dbp *d)
{
    return d->be;
}

dbp_cancel *dbp_cancel_new(void)
{
    dbp_cancel *c = xcalloc(1, sizeof *c);
    atomic_init(&c->fired, false);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void dbp_cancel_free(dbp_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void dbp_cancel_fire(dbp_cancel *c)
{
    atomic_store(&c->fired, true);
    /* The mutex keeps the connection from being released (and lent to
     * another call) while the driver is asked to stop it. */
    pthread_mutex_lock(&c->mu);
    if (c->conn)
        c->driver->cancel(c->conn);
    pthread_mutex_unlock(&c->mu);
}

/* Publishes conn as the one to cancel; false if cancel already fired. */
static bool cancel_attach(dbp_cancel *c, const db_driver *drv, db_conn *conn)
{
    if (!c)
        return true;
    pthread_mutex_lock(&c->mu);
    c->conn = conn;
    c->driver = drv;
    pthread_mutex_unlock(&c->mu);
    return !atomic_load(&c->fired);
}

static void cancel_detach(dbp_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->conn = NULL;
    pthread_mutex_unlock(&c->mu);
}

typedef bool (*db_op)(dbp *d, db_conn *conn, db_call *call, const void *arg, db_result **out,
                      err_t *err);

static bool run_execute(dbp *d, db_conn *conn, db_call *call, const void *arg, db_result **out,
                        err_t *err)
{
    return d->be->driver->execute(conn, call, arg, out, err);
}

static bool run_catalog(dbp *d, db_conn *conn, db_call *call, const void *arg, db_result **out,
                        err_t *err)
{
    return d->be->driver->catalog(conn, call, arg, out, err);
}

/* One attempt: acquire, run, release. */
static bool attempt(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag, unsigned flags,
                    db_op op, const void *arg, db_result **out, err_t *err)
{
    pool_lease *lease = NULL;
    /* Wait for a connection no longer than the acquire timeout, nor past
     * the call's own deadline. */
    int64_t deadline = clock_deadline_in_ms(d->acquire_timeout_ms);
    if (call->deadline_ns && (deadline == 0 || call->deadline_ns < deadline))
        deadline = call->deadline_ns;
    if (!pool_acquire(d->pool, deadline, tag, flags, &lease, err))
        return false;
    db_conn *conn = pool_lease_conn(lease);
    bool ok;
    if (!cancel_attach(cancel, d->be->driver, conn)) {
        err_set(err, ERR_CANCELLED, "cancelled before the statement started");
        ok = false;
    } else {
        ok = op(d, conn, call, arg, out, err);
    }
    cancel_detach(cancel);
    pool_release(d->pool, lease, !ok && err->kind == ERR_CONN_LOST);
    return ok;
}

static bool run(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag, db_op op,
                const void *arg, db_result **out, err_t *err)
{
    err_clear(err);
    if (cancel)
        call->cancelled = &cancel->fired;
    if (attempt(d, call, cancel, tag, 0, op, arg, out, err))
        return true;
    if (err->kind != ERR_CONN_LOST || !err->never_ran)
        return false;
    /* The connection was dead before the statement started: a read-only
     * statement cannot have run twice, so one retry on a fresh connection
     * hides a connection that died while idle. */
    log_info("dbpool",
             "%s: connection was lost before the statement ran (%s); retrying once on "
             "a fresh connection",
             tag ? tag : "call", err->msg);
    err_clear(err);
    return attempt(d, call, cancel, tag, POOL_ACQUIRE_FRESH, op, arg, out, err);
}

bool dbp_execute(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag, const char *sql,
                 db_result **out, err_t *err)
{
    return run(d, call, cancel, tag, run_execute, sql, out, err);
}

bool dbp_catalog(dbp *d, db_call *call, dbp_cancel *cancel, const char *tag,
                 const db_catalog_req *req, db_result **out, err_t *err)
{
    return run(d, call, cancel, tag, run_catalog, req, out, err);
}
