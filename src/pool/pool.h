/* pool: a generic, self-healing connection pool.
 *
 * The pool lends opaque connections (void *) made and checked through a
 * pool_ops vtable; it knows nothing of SQL or of any database. Every tool
 * call acquires a connection at its start and releases it at its end.
 *
 * Ownership: the pool owns every connection it created. A pool_lease handed
 * out by pool_acquire belongs to the borrower until pool_release, which must
 * be called exactly once per lease. The ops are called without any pool
 * lock held, possibly from the pool's monitor thread; ctx is borrowed for
 * the pool's lifetime.
 *
 * Semantics (DESIGN.md §4): FIFO hand-off to waiters with per-waiter
 * deadlines; grow only for unmet demand, connects outside the lock, capped
 * in number and finished even when the waiter that caused them left;
 * idle connections reused LIFO and validated on borrow only after an idle
 * window; a monitor thread pings idle connections, replaces failed ones,
 * retires idle ones above min size and any past max lifetime (with jitter);
 * graceful drain on shutdown. */
#ifndef SMCP_POOL_H
#define SMCP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct pool pool;
typedef struct pool_lease pool_lease;

typedef struct pool_ops {
    /* Opens a connection; deadline_ns is monotonic (0 = none). */
    bool (*connect)(void *ctx, int64_t deadline_ns, void **conn, err_t *err);
    /* A cheap health check. NULL: connections are never validated. */
    bool (*ping)(void *ctx, void *conn, int64_t deadline_ns, err_t *err);
    /* Clears session state on release; failure destroys the connection.
     * Runs in the releasing thread. NULL: nothing to reset. */
    bool (*reset)(void *ctx, void *conn, err_t *err);
    /* Must not fail; may be slow (it holds a slot under max_size meanwhile). */
    void (*close)(void *ctx, void *conn);
} pool_ops;

typedef struct pool_config {
    int min_size;                   /* kept open when healthy (default 2) */
    int max_size;                   /* hard cap (default 10) */
    int64_t acquire_timeout_ms;     /* per waiter (default 30 s) */
    int64_t max_idle_ms;            /* idle above min size is retired (30 min; 0 = never) */
    int64_t health_interval_ms;     /* monitor period (5 min) */
    int64_t max_lifetime_ms;        /* retire after this, minus jitter (8 h; 0 = never) */
    int64_t validate_after_idle_ms; /* ping on borrow if idle longer (30 s; 0 = always) */
    int64_t validation_timeout_ms;  /* ping deadline (5 s) */
    int64_t leak_threshold_ms;      /* warn when held longer (0 = off; 5 min); the
                                     * monitor checks every threshold/2 at least */
    int64_t connect_timeout_ms;     /* one connect attempt (10 s) */
    int retry_attempts;             /* connect retries after the first (3; at most 30) */
    /* First backoff step (200 ms), doubled each retry, equal jitter; also the
     * pause between connect rounds after a round failed. */
    int64_t retry_base_ms;
    int max_concurrent_connects; /* connects in flight at once (2) */
    int64_t drain_timeout_ms;    /* shutdown waits this long for leases (10 s; 0 = none) */
} pool_config;

typedef enum pool_close_reason {
    POOL_CLOSE_IDLE,     /* idle above min size */
    POOL_CLOSE_LIFETIME, /* past max lifetime */
    POOL_CLOSE_BROKEN,   /* released broken, or reset failed */
    POOL_CLOSE_HEALTH,   /* failed a health check or borrow validation */
    POOL_CLOSE_SHUTDOWN,
    POOL_CLOSE_NREASONS
} pool_close_reason;

#define POOL_WAIT_BUCKETS 12

typedef struct pool_stats {
    /* gauges; total = open connections, closing ones included (in_use and
     * idle do not count those being validated or closed) */
    int total, in_use, idle, connecting, waiting;
    /* counters; created - sum(closed) == total at any snapshot.
     * failed_connects counts failed attempts, retries the attempts after a
     * first failure, failed_health_checks monitor pings and borrow
     * validations that failed, leaks leases held past the threshold. */
    uint64_t acquired, created, failed_connects, closed[POOL_CLOSE_NREASONS];
    uint64_t failed_health_checks, timeouts, retries, leaks;
    /* acquire wait histogram of successful acquires, cumulative like
     * Prometheus: count of waits <= bound_ms[i]; the last bucket is +Inf
     * (== acquired). Also the sum in ms. */
    uint64_t wait_bucket[POOL_WAIT_BUCKETS];
    double wait_sum_ms;
    char last_connect_error[512];
} pool_stats;

/* Upper bounds in ms of the acquire-wait histogram buckets:
 * 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000, +Inf. */
extern const double pool_wait_bucket_ms[POOL_WAIT_BUCKETS];

void pool_config_defaults(pool_config *cfg);
/* Checks ranges and relations (min <= max, max >= 1, positive times…); the
 * message names the field. */
bool pool_config_validate(const pool_config *cfg, err_t *err);

/* Creates the pool, its monitor thread and max_concurrent_connects connector
 * threads, and starts opening min_size connections in the background
 * (start-up never blocks on the database). cfg is copied. NULL with err set
 * on an invalid config (ERR_INVALID) or when a thread cannot start. */
pool *pool_create(const pool_config *cfg, const pool_ops *ops, void *ctx, err_t *err);

enum {
    POOL_ACQUIRE_FRESH = 1 /* skip idle connections: open a new one */
};

/* Borrows a connection, waiting FIFO until deadline_ns (0 = the configured
 * acquire timeout). tag names the borrower in leak warnings (may be NULL;
 * copied, at most 63 bytes kept). On timeout: ERR_TIMEOUT with counts and
 * the last connect error, e.g. "timed out after 30000 ms waiting for a
 * connection (total 4, in use 4, idle 0, waiting 3; last connect error:
 * none)" where waiting counts this caller; after shutdown: ERR_BUSY. When
 * a connect round (retries included) fails while no connection is open or
 * opening, waiters get ERR_CONNECT with the driver's error at once rather
 * than waiting out their deadline: the database is unreachable now.
 * POOL_ACQUIRE_FRESH waits for a newly opened connection (retiring an idle
 * one if the pool is full) and lets others pass it in the queue meanwhile. */
bool pool_acquire(pool *p, int64_t deadline_ns, const char *tag, unsigned flags, pool_lease **out,
                  err_t *err);
void *pool_lease_conn(const pool_lease *l);
/* Returns a lease (NULL is ignored). broken = the connection is unusable:
 * it is destroyed, never reused. Otherwise reset runs here, in the caller's
 * thread, and the connection goes to the first waiter or back to idle; one
 * past its max lifetime is retired instead. */
void pool_release(pool *p, pool_lease *l, bool broken);

void pool_get_stats(pool *p, pool_stats *out);
/* True when the pool has at least one open connection or could open one at
 * its last attempt (no attempt yet counts as could); false after shutdown. */
bool pool_healthy(pool *p);

/* Checks the pool's internal invariants (every record in the list of its
 * state, counts, max_size, created - closed == total, no idle connection
 * while a borrower waits). For tests; fills err and returns false on the
 * first broken one. */
bool pool_check_invariants(pool *p, err_t *err);

/* Stops lending (new acquires fail with ERR_BUSY), wakes waiters, waits for
 * leases up to the drain timeout, closes everything, stops the monitor.
 * Idempotent. pool_destroy calls it and frees the pool. A lease still out
 * after the drain timeout is never closed under its borrower: it is closed
 * when released, and if pool_destroy ran meanwhile the last such release
 * frees the pool. Call pool_destroy only once every pool_acquire call has
 * returned (pool_shutdown makes waiting ones return ERR_BUSY at once). */
void pool_shutdown(pool *p);
void pool_destroy(pool *p);

#endif
