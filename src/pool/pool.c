/* pool: lending, hand-off, connectors, monitor and drain (see pool.h).
 *
 * Every connection record is in exactly one state list (pgbouncer style), so
 * counts are O(1) and pool_check_invariants can walk them. One mutex guards
 * the lists, the waiter queue and the counters; every driver call (connect,
 * ping, reset, close) and every log line happens with it released.
 *
 * Threads: the callers of pool_acquire/pool_release, max_concurrent_connects
 * connector threads that open connections when there is unmet demand, and
 * one monitor thread that does the periodic work. */
#include "pool/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define POOL_LOG "pool"
#define POOL_TAG_MAX 64
#define POOL_WHY_MAX 200
#define POOL_LEAK_BATCH 8

typedef enum conn_state {
    CONN_CONNECTING,
    CONN_IDLE,
    CONN_IN_USE,
    CONN_VALIDATING,
    CONN_CLOSING,
    CONN_NSTATES
} conn_state;

static const char *const close_reason_names[POOL_CLOSE_NREASONS] = {"idle", "lifetime", "broken",
                                                                    "health", "shutdown"};

/* The connection record doubles as the lease: a lease is a record in
 * CONN_IN_USE owned by its borrower. */
typedef struct pool_lease pconn;
struct pool_lease {
    pconn *prev, *next; /* links in the list of its state */
    pconn *close_next;  /* batch of records to close outside the lock */
    conn_state state;
    void *conn; /* NULL while CONNECTING */
    uint64_t id;
    bool never_lent; /* newly opened: good for a POOL_ACQUIRE_FRESH waiter */
    bool leak_reported;
    int64_t created_ns, expires_ns; /* expires_ns 0 = no lifetime limit */
    int64_t idle_since_ns;          /* when it last went idle (idle retirement) */
    int64_t last_ok_ns;             /* last proof of health (borrow validation) */
    int64_t lease_start_ns;
    pool_close_reason close_reason;
    char why[POOL_WHY_MAX]; /* close detail for the debug log */
    char tag[POOL_TAG_MAX];
};

typedef struct conn_list {
    pconn *head, *tail;
    int n;
} conn_list;

/* A borrower waiting in the FIFO queue; lives on its own stack. */
typedef struct waiter {
    struct waiter *prev, *next;
    pthread_cond_t cond;
    pconn *handed; /* set by the hand-off, under the lock */
    const char *tag;
    bool fresh;
    bool shut;           /* failed by shutdown */
    bool connect_failed; /* failed because the database cannot be reached */
} waiter;

struct pool {
    pool_config cfg;
    pool_ops ops;
    void *ctx;

    pthread_mutex_t mu;
    pthread_cond_t connect_cond; /* connectors: there may be work */
    pthread_cond_t stop_cond;    /* monitor ticks and backoff sleeps; shutdown wakes */
    pthread_cond_t drain_cond;   /* a lease, validation, connect or close ended */

    conn_list lists[CONN_NSTATES];
    waiter *wq_head, *wq_tail;
    int nwait, nwait_fresh;
    int monitor_validating; /* idle ones the monitor pings: back soon */

    bool shutting_down, shut_done, free_on_last_release, freeing;
    int64_t topup_after_ns; /* no min-size top-up before this (after failed rounds) */
    int failed_rounds;      /* connect rounds failed in a row: spaces top-up retries */
    bool last_connect_ok;   /* for pool_healthy */
    int64_t connect_pause_until_ns;
    uint64_t next_id;

    uint64_t acquired, created, failed_connects, closed[POOL_CLOSE_NREASONS];
    uint64_t failed_health_checks, timeouts, retries, leaks;
    uint64_t wait_hits[POOL_WAIT_BUCKETS]; /* per bucket; made cumulative in stats */
    double wait_sum_ms;
    char last_connect_error[512];

    pthread_t monitor;
    bool monitor_started;
    pthread_t *connectors;
    int nconnectors;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t rng_next(void)
{
    static _Thread_local uint64_t s;
    if (s == 0)
        s = (uint64_t)clock_now_ns() ^ (uint64_t)(uintptr_t)&s ^ UINT64_C(0x9E3779B97F4A7C15);
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * UINT64_C(2685821657736338717);
}

static int64_t ms_to_ns(int64_t ms)
{
    return ms * CLOCK_NS_PER_MS;
}

static void list_unlink(conn_list *l, pconn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

static void list_push(conn_list *l, pconn *c, bool at_head)
{
    if (at_head) {
        c->prev = NULL;
        c->next = l->head;
        if (l->head)
            l->head->prev = c;
        else
            l->tail = c;
        l->head = c;
    } else {
        c->next = NULL;
        c->prev = l->tail;
        if (l->tail)
            l->tail->next = c;
        else
            l->head = c;
        l->tail = c;
    }
    l->n++;
}

static void move_to(pool *p, pconn *c, conn_state s, bool at_head)
{
    list_unlink(&p->lists[c->state], c);
    c->state = s;
    list_push(&p->lists[s], c, at_head);
}

static int count(const pool *p, conn_state s)
{
    return p->lists[s].n;
}

/* Open and staying: what counts towards min_size. */
static int open_count(const pool *p)
{
    return count(p, CONN_IDLE) + count(p, CONN_IN_USE) + count(p, CONN_VALIDATING);
}

/* Alive in the driver, closing ones included (the stats' "total"). */
static int total_count(const pool *p)
{
    return open_count(p) + count(p, CONN_CLOSING);
}

/* What max_size caps: a closing connection still holds its slot. */
static int slots_used(const pool *p)
{
    return total_count(p) + count(p, CONN_CONNECTING);
}

/* Borrowers and connects the drain must wait for. */
static int busy_count(const pool *p)
{
    return count(p, CONN_IN_USE) + count(p, CONN_VALIDATING) + count(p, CONN_CONNECTING);
}

static bool expired(const pconn *c, int64_t now)
{
    return c->expires_ns != 0 && now >= c->expires_ns;
}

/* Bounded copy, always terminated; cheaper than snprintf on the hot path. */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* ---- waiter queue ----------------------------------------------------- */

static void enqueue(pool *p, waiter *w)
{
    w->next = NULL;
    w->prev = p->wq_tail;
    if (p->wq_tail)
        p->wq_tail->next = w;
    else
        p->wq_head = w;
    p->wq_tail = w;
    p->nwait++;
    if (w->fresh)
        p->nwait_fresh++;
}

static void dequeue(pool *p, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wq_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wq_tail = w->prev;
    w->prev = w->next = NULL;
    p->nwait--;
    if (w->fresh)
        p->nwait_fresh--;
}

/* ---- lending, retiring, closing ----------------------------------------- */

static void lend_locked(pool *p, pconn *c, const char *tag, int64_t now)
{
    move_to(p, c, CONN_IN_USE, true);
    c->lease_start_ns = now;
    c->leak_reported = false;
    c->never_lent = false;
    copy_str(c->tag, sizeof c->tag, tag);
}

static void record_wait_locked(pool *p, int64_t start_ns, int64_t now)
{
    double ms = (double)(now - start_ns) / (double)CLOCK_NS_PER_MS;
    p->acquired++;
    p->wait_sum_ms += ms;
    for (int i = 0; i < POOL_WAIT_BUCKETS; i++) {
        if (ms <= pool_wait_bucket_ms[i]) {
            p->wait_hits[i]++;
            break;
        }
    }
}

/* Moves c to CLOSING and onto *batch; close_batch then closes it unlocked. */
static void retire_locked(pool *p, pconn *c, pool_close_reason reason, pconn **batch,
                          const char *why)
{
    move_to(p, c, CONN_CLOSING, true);
    c->close_reason = reason;
    copy_str(c->why, sizeof c->why, why);
    c->close_next = *batch;
    *batch = c;
}

/* Only pool_shutdown waits on drain_cond, and only once shutting_down is
 * set: skip the broadcast on the hot path before that. */
static void signal_drain_locked(pool *p)
{
    if (p->shutting_down)
        pthread_cond_broadcast(&p->drain_cond);
}

static void pool_free(pool *p);

/* After pool_destroy left leases outstanding, the last close frees the pool. */
static bool deferred_free_due_locked(pool *p)
{
    if (!p->free_on_last_release || p->freeing)
        return false;
    if (busy_count(p) != 0 || count(p, CONN_CLOSING) != 0)
        return false;
    p->freeing = true;
    return true;
}

/* Closes every record of batch without the lock. Returns false when it freed
 * the pool (deferred destroy): the caller must not touch p again. */
static bool close_batch(pool *p, pconn *batch)
{
    while (batch) {
        pconn *c = batch;
        batch = c->close_next;
        if (c->conn)
            p->ops.close(p->ctx, c->conn);
        log_debug(POOL_LOG, "closed connection #%llu (reason: %s; %s)", (unsigned long long)c->id,
                  close_reason_names[c->close_reason], c->why);
        pthread_mutex_lock(&p->mu);
        list_unlink(&p->lists[CONN_CLOSING], c);
        p->closed[c->close_reason]++;
        free(c);
        pthread_cond_broadcast(&p->connect_cond); /* a slot is free */
        signal_drain_locked(p);
        bool last = deferred_free_due_locked(p);
        pthread_mutex_unlock(&p->mu);
        if (last) {
            pool_free(p);
            return false;
        }
    }
    return true;
}

/* Hands c to the first waiter that takes it (FIFO), else makes it idle.
 * A POOL_ACQUIRE_FRESH waiter takes only a connection never lent. When only
 * fresh waiters wait and the pool is full, c is retired to make room. */
static void give_locked(pool *p, pconn *c, int64_t now, int64_t idle_since, bool idle_at_head,
                        pconn **batch)
{
    /* Shutdown has already closed the idle list: a connection coming back
     * now (a hand-off that lost the race with its waiter's deadline) would
     * stay idle forever. */
    if (p->shutting_down) {
        retire_locked(p, c, POOL_CLOSE_SHUTDOWN, batch, "returned during shutdown");
        return;
    }
    for (waiter *w = p->wq_head; w; w = w->next) {
        if (w->fresh && !c->never_lent)
            continue;
        dequeue(p, w);
        lend_locked(p, c, w->tag, now);
        w->handed = c;
        pthread_cond_signal(&w->cond);
        return;
    }
    if (p->nwait_fresh > count(p, CONN_CONNECTING) && slots_used(p) >= p->cfg.max_size) {
        retire_locked(p, c, POOL_CLOSE_IDLE, batch, "making room for a fresh connection");
        return;
    }
    move_to(p, c, CONN_IDLE, idle_at_head);
    c->idle_since_ns = idle_since;
}

/* ---- connectors ----------------------------------------------------------- */

/* Why a connector should open a connection now, or NULL. Demand counts
 * waiters not already covered by connects in flight or by idle connections
 * the monitor is pinging (they come back in a moment). */
static const char *connect_reason_locked(const pool *p, int64_t now)
{
    if (p->shutting_down)
        return NULL;
    int connecting = count(p, CONN_CONNECTING);
    if (connecting >= p->cfg.max_concurrent_connects || slots_used(p) >= p->cfg.max_size)
        return NULL;
    if (now < p->connect_pause_until_ns)
        return NULL;
    int plain = p->nwait - p->nwait_fresh;
    int soon = p->monitor_validating < plain ? p->monitor_validating : plain;
    if (p->nwait - connecting - soon > 0)
        return "waiters outnumber connects in flight";
    if (now >= p->topup_after_ns && open_count(p) + connecting < p->cfg.min_size)
        return "top-up to min_size";
    return NULL;
}

static int64_t backoff_ms(const pool *p, int attempt)
{
    int shift = attempt < 20 ? attempt : 20;
    int64_t d = p->cfg.retry_base_ms << shift;
    if (d > 60 * 1000)
        d = 60 * 1000;
    /* Equal jitter: half fixed, half random, so retrying pools spread out. */
    return d / 2 + (int64_t)(rng_next() % (uint64_t)(d / 2 + 1));
}

/* Records a failed attempt; sleeps the backoff unless it was the last try.
 * Returns true when another attempt should follow. */
static bool after_failed_attempt(pool *p, int attempt, const err_t *err)
{
    log_debug(POOL_LOG, "connect attempt %d failed: %s", attempt + 1, err->msg);
    pthread_mutex_lock(&p->mu);
    p->failed_connects++;
    copy_str(p->last_connect_error, sizeof p->last_connect_error, err->msg);
    bool again = !p->shutting_down && attempt < p->cfg.retry_attempts;
    if (again) {
        p->retries++;
        int64_t until = clock_now_ns() + ms_to_ns(backoff_ms(p, attempt));
        while (!p->shutting_down && clock_cond_wait_until(&p->stop_cond, &p->mu, until)) {
        }
        again = !p->shutting_down;
    }
    pthread_mutex_unlock(&p->mu);
    return again;
}

/* Runs in a connector thread without the lock: the first try and the
 * retries with exponential backoff. */
static bool connect_with_retries(pool *p, void **conn, err_t *err)
{
    for (int attempt = 0;; attempt++) {
        err_clear(err);
        *conn = NULL;
        int64_t deadline = clock_deadline_in_ms(p->cfg.connect_timeout_ms);
        if (p->ops.connect(p->ctx, deadline, conn, err))
            return true;
        if (err->msg[0] == '\0')
            err_set(err, ERR_CONNECT, "the driver could not connect (no detail given)");
        if (!after_failed_attempt(p, attempt, err))
            return false;
    }
}

static pconn *new_record_locked(pool *p)
{
    pconn *c = xcalloc(1, sizeof *c);
    c->id = ++p->next_id;
    c->state = CONN_CONNECTING;
    list_push(&p->lists[CONN_CONNECTING], c, true);
    return c;
}

/* A connect succeeded: the connection goes to the next waiter or idle,
 * whether or not the waiter that caused it is still there. */
static void connect_done_locked(pool *p, pconn *c, void *conn, pconn **batch)
{
    int64_t now = clock_now_ns();
    c->conn = conn;
    c->never_lent = true;
    c->created_ns = c->last_ok_ns = c->idle_since_ns = now;
    if (p->cfg.max_lifetime_ms > 0) {
        /* Up to 2.5 % earlier, so connections opened together do not all
         * expire together. */
        int64_t span = p->cfg.max_lifetime_ms * 25 / 1000;
        int64_t jitter = (int64_t)(rng_next() % (uint64_t)(span + 1));
        c->expires_ns = now + ms_to_ns(p->cfg.max_lifetime_ms - jitter);
    }
    p->created++;
    p->last_connect_ok = true;
    p->topup_after_ns = 0;
    p->failed_rounds = 0;
    if (p->shutting_down)
        retire_locked(p, c, POOL_CLOSE_SHUTDOWN, batch, "opened during shutdown");
    else
        give_locked(p, c, now, now, true, batch);
}

/* A connect round failed with nothing open that could be returned and no
 * other connect under way: the database is unreachable now, so waiting out
 * the acquire timeout would only hide the reason. Waiters fail at once
 * with the connect error; the next acquire tries again. */
static void fail_waiters_unreachable_locked(pool *p)
{
    if (open_count(p) > 0 || count(p, CONN_CONNECTING) > 0)
        return;
    while (p->wq_head) {
        waiter *w = p->wq_head;
        dequeue(p, w);
        w->connect_failed = true;
        pthread_cond_signal(&w->cond);
    }
}

static void connect_failed_locked(pool *p, pconn *c)
{
    list_unlink(&p->lists[CONN_CONNECTING], c);
    free(c);
    fail_waiters_unreachable_locked(p);
    p->last_connect_ok = false;
    /* Space rounds out so a database that refuses at once is not hammered;
     * min-size top-up waits for the monitor's next tick. */
    p->connect_pause_until_ns = clock_now_ns() + ms_to_ns(p->cfg.retry_base_ms);
    /* Without demand, top-up retries on its own, 1 s after the first failed
     * round and doubling up to 30 s, so the pool (and /readyz) recovers
     * when the database returns even if no call arrives meanwhile. */
    int shift = p->failed_rounds < 5 ? p->failed_rounds : 5;
    p->failed_rounds++;
    p->topup_after_ns =
        clock_now_ns() +
        ms_to_ns((INT64_C(1000) << shift) < 30000 ? (INT64_C(1000) << shift) : 30000);
}

static void connect_one(pool *p, const char *reason)
{
    pconn *c = new_record_locked(p);
    uint64_t id = c->id;
    pthread_mutex_unlock(&p->mu);

    void *conn = NULL;
    err_t err;
    bool ok = connect_with_retries(p, &conn, &err);
    if (ok)
        log_debug(POOL_LOG, "opened connection #%llu (%s)", (unsigned long long)id, reason);
    else
        log_debug(POOL_LOG, "giving up connect #%llu (%s): %s", (unsigned long long)id, reason,
                  err.msg);

    pconn *batch = NULL;
    pthread_mutex_lock(&p->mu);
    if (ok)
        connect_done_locked(p, c, conn, &batch);
    else
        connect_failed_locked(p, c);
    signal_drain_locked(p);
    if (batch) {
        pthread_mutex_unlock(&p->mu);
        close_batch(p, batch);
        pthread_mutex_lock(&p->mu);
    }
}

static void *connector_main(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->shutting_down) {
        int64_t now = clock_now_ns();
        const char *reason = connect_reason_locked(p, now);
        if (reason) {
            connect_one(p, reason);
            continue;
        }
        /* Sleep until woken, or until a pause or top-up delay ends. */
        int64_t until = now < p->connect_pause_until_ns ? p->connect_pause_until_ns : 0;
        if (now < p->topup_after_ns && open_count(p) < p->cfg.min_size &&
            (until == 0 || p->topup_after_ns < until))
            until = p->topup_after_ns;
        clock_cond_wait_until(&p->connect_cond, &p->mu, until);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void wake_connectors_if_needed_locked(pool *p)
{
    if (connect_reason_locked(p, clock_now_ns()))
        pthread_cond_broadcast(&p->connect_cond);
}

/* ---- monitor -------------------------------------------------------------- */

typedef struct leak_note {
    uint64_t id;
    int64_t held_ms;
    char tag[POOL_TAG_MAX];
} leak_note;

static void log_leak(const pool *p, const leak_note *n)
{
    log_warn(POOL_LOG,
             "connection #%llu has been held for %lld ms by %s (leak threshold %lld ms): "
             "is a pool_release missing?",
             (unsigned long long)n->id, (long long)n->held_ms, n->tag[0] ? n->tag : "(no tag)",
             (long long)p->cfg.leak_threshold_ms);
}

/* Marks leases held past the threshold; fills notes to log after unlocking. */
static int find_leaks_locked(pool *p, int64_t now, leak_note *notes, int cap)
{
    int n = 0;
    int64_t limit = ms_to_ns(p->cfg.leak_threshold_ms);
    for (pconn *c = p->lists[CONN_IN_USE].head; c && n < cap; c = c->next) {
        if (c->leak_reported || now - c->lease_start_ns < limit)
            continue;
        c->leak_reported = true;
        p->leaks++;
        notes[n].id = c->id;
        notes[n].held_ms = (now - c->lease_start_ns) / CLOCK_NS_PER_MS;
        copy_str(notes[n].tag, sizeof notes[n].tag, c->tag);
        n++;
    }
    return n;
}

static void check_leaks(pool *p)
{
    leak_note notes[POOL_LEAK_BATCH];
    int n = find_leaks_locked(p, clock_now_ns(), notes, POOL_LEAK_BATCH);
    if (n == 0)
        return;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        log_leak(p, &notes[i]);
    pthread_mutex_lock(&p->mu);
}

/* Retires idle connections past their lifetime, and idle ones above
 * min_size idle longer than max_idle_ms (the longest idle first). */
static void retire_idle_locked(pool *p, int64_t now, pconn **batch)
{
    pconn *prev;
    for (pconn *c = p->lists[CONN_IDLE].tail; c; c = prev) {
        prev = c->prev;
        if (expired(c, now)) {
            retire_locked(p, c, POOL_CLOSE_LIFETIME, batch, "past max_lifetime_ms");
        } else if (p->cfg.max_idle_ms > 0 &&
                   now - c->idle_since_ns >= ms_to_ns(p->cfg.max_idle_ms) &&
                   open_count(p) > p->cfg.min_size) {
            retire_locked(p, c, POOL_CLOSE_IDLE, batch, "idle past max_idle_ms above min_size");
        }
    }
}

static pconn *first_unchecked_idle_locked(pool *p, int64_t since)
{
    for (pconn *c = p->lists[CONN_IDLE].head; c; c = c->next) {
        if (c->last_ok_ns < since)
            return c;
    }
    return NULL;
}

/* Pings one idle connection outside the lock; a failure replaces it (the
 * connectors top up to min_size). Called and returns with the lock held. */
static void monitor_ping_locked(pool *p, pconn *c)
{
    move_to(p, c, CONN_VALIDATING, true);
    p->monitor_validating++;
    pthread_mutex_unlock(&p->mu);
    err_t err;
    err_clear(&err);
    bool ok = !p->ops.ping || p->ops.ping(p->ctx, c->conn,
                                          clock_deadline_in_ms(p->cfg.validation_timeout_ms), &err);
    pthread_mutex_lock(&p->mu);
    p->monitor_validating--;
    pconn *batch = NULL;
    if (!ok) {
        p->failed_health_checks++;
        char why[POOL_WHY_MAX];
        snprintf(why, sizeof why, "health check failed: %s", err.msg);
        retire_locked(p, c, POOL_CLOSE_HEALTH, &batch, why);
    } else if (p->shutting_down) {
        retire_locked(p, c, POOL_CLOSE_SHUTDOWN, &batch, "pool shutting down");
    } else {
        c->last_ok_ns = clock_now_ns();
        give_locked(p, c, c->last_ok_ns, c->idle_since_ns, false, &batch);
    }
    signal_drain_locked(p);
    if (batch) {
        pthread_mutex_unlock(&p->mu);
        close_batch(p, batch);
        pthread_mutex_lock(&p->mu);
    }
}

static void health_round_locked(pool *p)
{
    int64_t tick = clock_now_ns();
    pconn *batch = NULL;
    retire_idle_locked(p, tick, &batch);
    if (batch) {
        pthread_mutex_unlock(&p->mu);
        close_batch(p, batch);
        pthread_mutex_lock(&p->mu);
    }
    pconn *c;
    while (!p->shutting_down && (c = first_unchecked_idle_locked(p, tick)) != NULL)
        monitor_ping_locked(p, c);
    wake_connectors_if_needed_locked(p);
}

/* One debug line per health round: gauges, counters and the acquire-wait
 * histogram, so a log shows how the pool has been doing. Called without
 * the lock (it takes it to copy the stats, then writes). */
static void log_state(pool *p)
{
    pool_stats st;
    pool_get_stats(p, &st);
    char hist[512];
    size_t n = 0;
    for (int i = 0; i < POOL_WAIT_BUCKETS && n < sizeof hist; i++) {
        int w = i == POOL_WAIT_BUCKETS - 1
                    ? snprintf(hist + n, sizeof hist - n, " +Inf:%llu",
                               (unsigned long long)st.wait_bucket[i])
                    : snprintf(hist + n, sizeof hist - n, " %g:%llu", pool_wait_bucket_ms[i],
                               (unsigned long long)st.wait_bucket[i]);
        n += w > 0 ? (size_t)w : 0;
    }
    log_debug(POOL_LOG,
              "state: total %d, in use %d, idle %d, connecting %d, waiting %d; created %llu, "
              "failed connects %llu, retries %llu, timeouts %llu, failed health checks %llu, "
              "leaks %llu; acquire waits (count <= ms):%s",
              st.total, st.in_use, st.idle, st.connecting, st.waiting,
              (unsigned long long)st.created, (unsigned long long)st.failed_connects,
              (unsigned long long)st.retries, (unsigned long long)st.timeouts,
              (unsigned long long)st.failed_health_checks, (unsigned long long)st.leaks, hist);
}

static void *monitor_main(void *arg)
{
    pool *p = arg;
    int64_t health_ns = ms_to_ns(p->cfg.health_interval_ms);
    int64_t leak_ns = ms_to_ns(p->cfg.leak_threshold_ms / 2);
    int64_t tick_ns = leak_ns > 0 && leak_ns < health_ns ? leak_ns : health_ns;
    pthread_mutex_lock(&p->mu);
    int64_t next_health = clock_now_ns() + health_ns;
    int64_t next_tick = clock_now_ns() + tick_ns;
    while (!p->shutting_down) {
        int64_t wake = next_tick < next_health ? next_tick : next_health;
        if (clock_cond_wait_until(&p->stop_cond, &p->mu, wake) && clock_now_ns() < wake)
            continue; /* shutdown or a spurious wake-up: re-check */
        if (p->shutting_down)
            break;
        if (p->cfg.leak_threshold_ms > 0)
            check_leaks(p);
        next_tick = clock_now_ns() + tick_ns;
        if (clock_now_ns() >= next_health) {
            health_round_locked(p);
            next_health = clock_now_ns() + health_ns;
            pthread_mutex_unlock(&p->mu);
            log_state(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- create ---------------------------------------------------------------- */

static bool start_threads(pool *p, err_t *err)
{
    p->connectors = xcalloc((size_t)p->cfg.max_concurrent_connects, sizeof *p->connectors);
    for (int i = 0; i < p->cfg.max_concurrent_connects; i++) {
        if (pthread_create(&p->connectors[i], NULL, connector_main, p) != 0) {
            err_set(err, ERR_INTERNAL, "pool: cannot start a connector thread");
            return false;
        }
        p->nconnectors++;
    }
    if (pthread_create(&p->monitor, NULL, monitor_main, p) != 0) {
        err_set(err, ERR_INTERNAL, "pool: cannot start the monitor thread");
        return false;
    }
    p->monitor_started = true;
    return true;
}

pool *pool_create(const pool_config *cfg, const pool_ops *ops, void *ctx, err_t *err)
{
    if (!cfg || !ops || !ops->connect || !ops->close) {
        err_set(err, ERR_INVALID, "pool: a config and ops with connect and close are required");
        return NULL;
    }
    if (!pool_config_validate(cfg, err))
        return NULL;
    pool *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    p->ops = *ops;
    p->ctx = ctx;
    p->last_connect_ok = true;
    snprintf(p->last_connect_error, sizeof p->last_connect_error, "none");
    pthread_mutex_init(&p->mu, NULL);
    clock_cond_init(&p->connect_cond);
    clock_cond_init(&p->stop_cond);
    clock_cond_init(&p->drain_cond);
    if (!start_threads(p, err)) {
        pool_destroy(p);
        return NULL;
    }
    return p;
}

/* ---- acquire ------------------------------------------------------------- */

static bool needs_validation(const pool *p, const pconn *c, int64_t now)
{
    return p->ops.ping && now - c->last_ok_ns > ms_to_ns(p->cfg.validate_after_idle_ms);
}

typedef enum take_result { TAKE_GOT, TAKE_NONE, TAKE_AGAIN, TAKE_GONE } take_result;

/* Tries the top idle connection (LIFO), validating it if it idled past the
 * window. TAKE_AGAIN: it was discarded, look again. TAKE_GONE: the pool was
 * freed by a deferred destroy meanwhile (only possible after shutdown). */
static take_result take_idle_locked(pool *p, int64_t deadline, const char *tag, pconn **out)
{
    pconn *c = p->lists[CONN_IDLE].head;
    int64_t now = clock_now_ns();
    pconn *batch = NULL;
    if (expired(c, now)) {
        retire_locked(p, c, POOL_CLOSE_LIFETIME, &batch, "past max_lifetime_ms");
    } else if (!needs_validation(p, c, now)) {
        lend_locked(p, c, tag, now);
        *out = c;
        return TAKE_GOT;
    } else {
        move_to(p, c, CONN_VALIDATING, true);
        pthread_mutex_unlock(&p->mu);
        int64_t ping_deadline = clock_deadline_in_ms(p->cfg.validation_timeout_ms);
        if (deadline != 0 && deadline < ping_deadline)
            ping_deadline = deadline;
        err_t err;
        err_clear(&err);
        bool ok = p->ops.ping(p->ctx, c->conn, ping_deadline, &err);
        pthread_mutex_lock(&p->mu);
        signal_drain_locked(p);
        if (ok && !p->shutting_down) {
            c->last_ok_ns = clock_now_ns();
            lend_locked(p, c, tag, c->last_ok_ns);
            *out = c;
            return TAKE_GOT;
        }
        char why[POOL_WHY_MAX];
        if (!ok) {
            p->failed_health_checks++;
            snprintf(why, sizeof why, "borrow validation failed: %s", err.msg);
        }
        retire_locked(p, c, ok ? POOL_CLOSE_SHUTDOWN : POOL_CLOSE_HEALTH, &batch,
                      ok ? "pool shutting down" : why);
    }
    bool stopping = p->shutting_down;
    pthread_mutex_unlock(&p->mu);
    if (!close_batch(p, batch) || stopping)
        return TAKE_GONE;
    pthread_mutex_lock(&p->mu);
    return TAKE_AGAIN;
}

static void set_timeout_error(pool *p, int64_t start_ns, err_t *err)
{
    err_set(err, ERR_TIMEOUT,
            "timed out after %lld ms waiting for a connection (total %d, in use %d, idle %d, "
            "waiting %d; last connect error: %s)",
            (long long)((clock_now_ns() - start_ns) / CLOCK_NS_PER_MS), total_count(p),
            count(p, CONN_IN_USE), count(p, CONN_IDLE), p->nwait, p->last_connect_error);
}

/* Retires the longest-idle connection when a fresh waiter needs a slot. */
static void make_room_for_fresh_locked(pool *p, pconn **batch)
{
    if (slots_used(p) < p->cfg.max_size || count(p, CONN_IDLE) == 0)
        return;
    if (p->nwait_fresh <= count(p, CONN_CONNECTING))
        return;
    retire_locked(p, p->lists[CONN_IDLE].tail, POOL_CLOSE_IDLE, batch,
                  "making room for a fresh connection");
}

/* Queues w and waits for a hand-off, shutdown or the deadline. Called and
 * returns with the lock held; w is out of the queue on return. */
static void wait_in_queue_locked(pool *p, waiter *w, int64_t deadline)
{
    enqueue(p, w);
    pconn *batch = NULL;
    if (w->fresh)
        make_room_for_fresh_locked(p, &batch);
    wake_connectors_if_needed_locked(p);
    if (batch) {
        pthread_mutex_unlock(&p->mu);
        close_batch(p, batch); /* cannot free the pool: we are not shut down */
        pthread_mutex_lock(&p->mu);
    }
    while (!w->handed && !w->shut && !w->connect_failed && clock_now_ns() < deadline)
        clock_cond_wait_until(&w->cond, &p->mu, deadline);
}

bool pool_acquire(pool *p, int64_t deadline_ns, const char *tag, unsigned flags, pool_lease **out,
                  err_t *err)
{
    int64_t start = clock_now_ns();
    int64_t deadline = deadline_ns ? deadline_ns : start + ms_to_ns(p->cfg.acquire_timeout_ms);
    bool fresh = (flags & POOL_ACQUIRE_FRESH) != 0;
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->shutting_down) {
            pthread_mutex_unlock(&p->mu);
            err_set(err, ERR_BUSY, "the connection pool is shutting down");
            return false;
        }
        /* A newcomer takes an idle connection only when nobody who could use
         * it is waiting: never jump the queue. */
        if (fresh || p->nwait > p->nwait_fresh || count(p, CONN_IDLE) == 0)
            break;
        take_result r = take_idle_locked(p, deadline, tag, out);
        if (r == TAKE_GOT) {
            record_wait_locked(p, start, (*out)->lease_start_ns);
            pthread_mutex_unlock(&p->mu);
            return true;
        }
        if (r == TAKE_GONE) {
            err_set(err, ERR_BUSY, "the connection pool is shutting down");
            return false;
        }
    }

    waiter w = {.tag = tag, .fresh = fresh};
    clock_cond_init(&w.cond);
    wait_in_queue_locked(p, &w, deadline);
    bool ok = false;
    int64_t woke = clock_now_ns();
    if (w.handed && woke < deadline) {
        record_wait_locked(p, start, woke);
        *out = w.handed;
        ok = true;
    } else if (w.shut) {
        err_set(err, ERR_BUSY, "the connection pool shut down while waiting for a connection");
    } else if (w.connect_failed) {
        err_set(err, ERR_CONNECT, "cannot open a database connection (%d attempt%s): %s",
                p->cfg.retry_attempts + 1, p->cfg.retry_attempts ? "s" : "", p->last_connect_error);
    } else {
        pconn *batch = NULL;
        if (w.handed) /* handed over just as the deadline passed: put it back */
            give_locked(p, w.handed, woke, woke, true, &batch);
        else
            dequeue(p, &w);
        p->timeouts++;
        p->nwait++; /* the message counts this waiter among those waiting */
        set_timeout_error(p, start, err);
        p->nwait--;
        if (batch) {
            pthread_mutex_unlock(&p->mu);
            /* Cannot free the pool: pool_destroy may only run once every
             * pool_acquire has returned (pool.h). */
            close_batch(p, batch);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    pthread_cond_destroy(&w.cond);
    return ok;
}

void *pool_lease_conn(const pool_lease *l)
{
    return l ? l->conn : NULL;
}

/* ---- release ------------------------------------------------------------- */

void pool_release(pool *p, pool_lease *c, bool broken)
{
    if (!c)
        return;
    char why[POOL_WHY_MAX] = "released as broken";
    bool destroy = broken;
    if (!destroy && p->ops.reset) {
        err_t err;
        err_clear(&err);
        if (!p->ops.reset(p->ctx, c->conn, &err)) {
            destroy = true;
            snprintf(why, sizeof why, "reset failed: %s", err.msg);
        }
    }
    int64_t now = clock_now_ns();
    leak_note note;
    int leaked = 0;
    pconn *batch = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->cfg.leak_threshold_ms > 0 && !c->leak_reported &&
        now - c->lease_start_ns >= ms_to_ns(p->cfg.leak_threshold_ms)) {
        /* Held too long but returned before the monitor looked. */
        c->leak_reported = true;
        p->leaks++;
        note.id = c->id;
        note.held_ms = (now - c->lease_start_ns) / CLOCK_NS_PER_MS;
        copy_str(note.tag, sizeof note.tag, c->tag);
        leaked = 1;
    }
    if (destroy)
        retire_locked(p, c, POOL_CLOSE_BROKEN, &batch, why);
    else if (p->shutting_down)
        retire_locked(p, c, POOL_CLOSE_SHUTDOWN, &batch, "released during shutdown");
    else if (expired(c, now))
        retire_locked(p, c, POOL_CLOSE_LIFETIME, &batch, "past max_lifetime_ms when released");
    else {
        c->last_ok_ns = now;
        give_locked(p, c, now, now, true, &batch);
    }
    signal_drain_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (leaked)
        log_leak(p, &note);
    close_batch(p, batch); /* may free the pool after a deferred destroy */
}

/* ---- stats, health, shutdown ------------------------------------------------ */

void pool_get_stats(pool *p, pool_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->mu);
    out->total = total_count(p);
    out->in_use = count(p, CONN_IN_USE);
    out->idle = count(p, CONN_IDLE);
    out->connecting = count(p, CONN_CONNECTING);
    out->waiting = p->nwait;
    out->acquired = p->acquired;
    out->created = p->created;
    out->failed_connects = p->failed_connects;
    memcpy(out->closed, p->closed, sizeof out->closed);
    out->failed_health_checks = p->failed_health_checks;
    out->timeouts = p->timeouts;
    out->retries = p->retries;
    out->leaks = p->leaks;
    uint64_t running = 0;
    for (int i = 0; i < POOL_WAIT_BUCKETS; i++) {
        running += p->wait_hits[i];
        out->wait_bucket[i] = running;
    }
    out->wait_sum_ms = p->wait_sum_ms;
    copy_str(out->last_connect_error, sizeof out->last_connect_error, p->last_connect_error);
    pthread_mutex_unlock(&p->mu);
}

bool pool_healthy(pool *p)
{
    pthread_mutex_lock(&p->mu);
    bool ok = !p->shutting_down && (open_count(p) > 0 || p->last_connect_ok);
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static bool invariant(bool ok, err_t *err, const char *what)
{
    if (!ok)
        err_set(err, ERR_INTERNAL, "pool invariant broken: %s", what);
    return ok;
}

static bool lists_consistent_locked(const pool *p, err_t *err)
{
    for (int s = 0; s < CONN_NSTATES; s++) {
        int n = 0;
        const pconn *prev = NULL;
        for (const pconn *c = p->lists[s].head; c; c = c->next) {
            if (c->state != (conn_state)s || c->prev != prev)
                return invariant(false, err, "a record sits in the wrong state list");
            if ((c->conn == NULL) != (s == CONN_CONNECTING))
                return invariant(false, err, "an open record has no connection");
            prev = c;
            n++;
        }
        if (n != p->lists[s].n || prev != p->lists[s].tail)
            return invariant(false, err, "a state list's count or tail is wrong");
    }
    int nw = 0, nf = 0;
    for (const waiter *w = p->wq_head; w; w = w->next) {
        nw++;
        nf += w->fresh;
    }
    return invariant(nw == p->nwait && nf == p->nwait_fresh, err, "waiter counts are wrong");
}

bool pool_check_invariants(pool *p, err_t *err)
{
    pthread_mutex_lock(&p->mu);
    uint64_t closed = 0;
    for (int i = 0; i < POOL_CLOSE_NREASONS; i++)
        closed += p->closed[i];
    bool ok = lists_consistent_locked(p, err) &&
              invariant(slots_used(p) <= p->cfg.max_size, err, "more connections than max_size") &&
              invariant(count(p, CONN_CONNECTING) <= p->cfg.max_concurrent_connects, err,
                        "more connects in flight than max_concurrent_connects") &&
              invariant(p->created - closed == (uint64_t)total_count(p), err,
                        "created - closed differs from total") &&
              invariant(p->nwait == p->nwait_fresh || count(p, CONN_IDLE) == 0, err,
                        "a connection idles while a borrower waits for one");
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static void fail_waiters_locked(pool *p)
{
    while (p->wq_head) {
        waiter *w = p->wq_head;
        dequeue(p, w);
        w->shut = true;
        pthread_cond_signal(&w->cond);
    }
}

static void close_idle_for_shutdown(pool *p)
{
    pconn *batch = NULL;
    while (p->lists[CONN_IDLE].head)
        retire_locked(p, p->lists[CONN_IDLE].head, POOL_CLOSE_SHUTDOWN, &batch,
                      "pool shutting down");
    pthread_mutex_unlock(&p->mu);
    close_batch(p, batch); /* cannot free: the deferred free needs pool_destroy */
    pthread_mutex_lock(&p->mu);
}

/* Waits for leases, validations and connects to end, up to the drain
 * timeout; names the borrowers still holding a lease when it passes. */
static void drain_locked(pool *p)
{
    if (p->cfg.drain_timeout_ms > 0) {
        int64_t until = clock_now_ns() + ms_to_ns(p->cfg.drain_timeout_ms);
        while (busy_count(p) > 0 && clock_cond_wait_until(&p->drain_cond, &p->mu, until)) {
        }
    }
    leak_note notes[POOL_LEAK_BATCH];
    int n = 0;
    for (pconn *c = p->lists[CONN_IN_USE].head; c && n < POOL_LEAK_BATCH; c = c->next, n++) {
        notes[n].id = c->id;
        notes[n].held_ms = (clock_now_ns() - c->lease_start_ns) / CLOCK_NS_PER_MS;
        copy_str(notes[n].tag, sizeof notes[n].tag, c->tag);
    }
    if (n == 0)
        return;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        log_warn(POOL_LOG,
                 "shutdown: connection #%llu still lent to %s after %lld ms; "
                 "it will be closed when released",
                 (unsigned long long)notes[i].id, notes[i].tag[0] ? notes[i].tag : "(no tag)",
                 (long long)notes[i].held_ms);
    pthread_mutex_lock(&p->mu);
}

static void join_threads(pool *p)
{
    for (int i = 0; i < p->nconnectors; i++)
        pthread_join(p->connectors[i], NULL);
    p->nconnectors = 0;
    if (p->monitor_started)
        pthread_join(p->monitor, NULL);
    p->monitor_started = false;
}

void pool_shutdown(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->shutting_down) {
        while (!p->shut_done)
            pthread_cond_wait(&p->drain_cond, &p->mu);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->shutting_down = true;
    fail_waiters_locked(p);
    pthread_cond_broadcast(&p->connect_cond);
    pthread_cond_broadcast(&p->stop_cond);
    close_idle_for_shutdown(p);
    drain_locked(p);
    pthread_mutex_unlock(&p->mu);
    /* Threads see shutting_down and stop; a connector in the middle of a
     * connect finishes it (bounded by connect_timeout_ms) and closes it. */
    join_threads(p);
    pthread_mutex_lock(&p->mu);
    p->shut_done = true;
    pthread_cond_broadcast(&p->drain_cond);
    pthread_mutex_unlock(&p->mu);
    log_debug(POOL_LOG, "pool shut down");
}

static void pool_free(pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->connect_cond);
    pthread_cond_destroy(&p->stop_cond);
    pthread_cond_destroy(&p->drain_cond);
    free(p->connectors);
    free(p);
}

void pool_destroy(pool *p)
{
    if (!p)
        return;
    pool_shutdown(p);
    pthread_mutex_lock(&p->mu);
    bool now = busy_count(p) == 0 && count(p, CONN_CLOSING) == 0;
    if (!now)
        p->free_on_last_release = true;
    pthread_mutex_unlock(&p->mu);
    if (now)
        pool_free(p);
}
