/* Unit tests of the connection pool against a fault-injecting stub driver.
 *
 * The stub can fail connects N times, block connects or closes behind a
 * gate, fail pings and resets; it remembers every connection it made so a
 * test can ask whether one was closed. Waits for background work poll the
 * pool's stats for a bounded time; nothing asserts on durations except
 * lower bounds that sleeping guarantees. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "pool/pool.h"
#include "testlib.h"

#define STUB_MAX_CONNS 256

/* ---- the stub driver ------------------------------------------------------ */

typedef struct stub_conn {
    int id;
    bool closed;
} stub_conn;

typedef struct stub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* faults */
    int connect_fail_n;    /* the next N connects fail */
    bool connect_fail_all; /* every connect fails */
    bool connect_gate;     /* connects block while true */
    int ping_fail_n;
    int reset_fail_n;
    bool close_gate; /* closes block while true */
    /* observations */
    int connect_attempts, pings, resets, closes_started, open;
    int64_t attempt_ns[16];
    stub_conn *conns[STUB_MAX_CONNS];
    int nconns;
} stub;

static void stub_init(stub *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    clock_cond_init(&s->cv);
}

static void stub_free(stub *s)
{
    for (int i = 0; i < s->nconns; i++)
        free(s->conns[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static bool stub_connect(void *ctx, int64_t deadline_ns, void **conn, err_t *err)
{
    stub *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->connect_attempts < 16)
        s->attempt_ns[s->connect_attempts] = clock_now_ns();
    s->connect_attempts++;
    while (s->connect_gate)
        pthread_cond_wait(&s->cv, &s->mu);
    bool fail = s->connect_fail_all || s->connect_fail_n > 0;
    if (s->connect_fail_n > 0)
        s->connect_fail_n--;
    if (fail) {
        pthread_mutex_unlock(&s->mu);
        err_set(err, ERR_CONNECT, "stub: password authentication failed for user \"bob\"");
        return false;
    }
    stub_conn *c = calloc(1, sizeof *c);
    c->id = s->nconns + 1;
    s->conns[s->nconns++] = c;
    s->open++;
    pthread_mutex_unlock(&s->mu);
    *conn = c;
    return true;
}

static bool stub_ping(void *ctx, void *conn, int64_t deadline_ns, err_t *err)
{
    stub *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->pings++;
    bool fail = s->ping_fail_n > 0;
    if (fail)
        s->ping_fail_n--;
    pthread_mutex_unlock(&s->mu);
    if (fail)
        err_set(err, ERR_CONN_LOST, "stub: server closed the connection unexpectedly");
    return !fail;
}

static bool stub_reset(void *ctx, void *conn, err_t *err)
{
    stub *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->resets++;
    bool fail = s->reset_fail_n > 0;
    if (fail)
        s->reset_fail_n--;
    pthread_mutex_unlock(&s->mu);
    if (fail)
        err_set(err, ERR_CONN_LOST, "stub: reset failed");
    return !fail;
}

static void stub_close(void *ctx, void *conn)
{
    stub *s = ctx;
    stub_conn *c = conn;
    pthread_mutex_lock(&s->mu);
    s->closes_started++;
    while (s->close_gate)
        pthread_cond_wait(&s->cv, &s->mu);
    c->closed = true;
    s->open--;
    pthread_mutex_unlock(&s->mu);
}

static const pool_ops stub_ops = {stub_connect, stub_ping, stub_reset, stub_close};

/* Reads one int field of the stub under its lock. */
static int stub_get(stub *s, const int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static bool stub_closed(stub *s, const stub_conn *c)
{
    pthread_mutex_lock(&s->mu);
    bool v = c->closed;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void stub_set(stub *s, int *field, int value)
{
    pthread_mutex_lock(&s->mu);
    *field = value;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void stub_gate(stub *s, bool *gate, bool closed)
{
    pthread_mutex_lock(&s->mu);
    *gate = closed;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- helpers ---------------------------------------------------------------- */

/* Small, quiet settings: the monitor sleeps unless a test wakes it up. */
static pool_config quick_cfg(void)
{
    pool_config c;
    pool_config_defaults(&c);
    c.min_size = 0;
    c.max_size = 2;
    c.acquire_timeout_ms = 5000;
    c.max_idle_ms = 0;
    c.health_interval_ms = 60000;
    c.max_lifetime_ms = 0;
    c.validate_after_idle_ms = 60000;
    c.validation_timeout_ms = 1000;
    c.leak_threshold_ms = 0;
    c.connect_timeout_ms = 1000;
    c.retry_attempts = 0;
    c.retry_base_ms = 1;
    c.max_concurrent_connects = 2;
    c.drain_timeout_ms = 2000;
    return c;
}

static pool *make_pool(const pool_config *cfg, stub *s)
{
    err_t err;
    err_clear(&err);
    pool *p = pool_create(cfg, &stub_ops, s, &err);
    if (!p)
        fprintf(stderr, "  pool_create: %s\n", err.msg);
    return p;
}

static pool_stats stats(pool *p)
{
    pool_stats st;
    pool_get_stats(p, &st);
    return st;
}

/* Polls until cond holds or 5 s pass; the CHECK that follows decides. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int64_t wait_end_ = clock_now_ms() + 5000;                                                 \
        while (!(cond) && clock_now_ms() < wait_end_)                                              \
            clock_sleep_ms(1);                                                                     \
    } while (0)

static stub_conn *acquire_now(pool *p, pool_lease **l)
{
    err_t err;
    err_clear(&err);
    if (!pool_acquire(p, 0, "test", 0, l, &err)) {
        fprintf(stderr, "  acquire failed: %s\n", err.msg);
        return NULL;
    }
    return pool_lease_conn(*l);
}

static bool invariants_hold(pool *p)
{
    err_t err;
    err_clear(&err);
    bool ok = pool_check_invariants(p, &err);
    if (!ok)
        fprintf(stderr, "  %s\n", err.msg);
    return ok;
}

/* A borrower on its own thread. */
typedef struct borrower {
    pool *p;
    int64_t timeout_ms;
    unsigned flags;
    const char *tag;
    bool hold; /* keep the lease for the test to release */
    atomic_int *seq;
    int order;
    bool ok;
    err_t err;
    pool_lease *lease;
    stub_conn *conn;
    atomic_bool done;
    pthread_t th;
} borrower;

static void *borrower_main(void *arg)
{
    borrower *b = arg;
    err_clear(&b->err);
    b->ok = pool_acquire(b->p, clock_deadline_in_ms(b->timeout_ms), b->tag, b->flags, &b->lease,
                         &b->err);
    if (b->ok) {
        b->conn = pool_lease_conn(b->lease);
        if (b->seq)
            b->order = atomic_fetch_add(b->seq, 1);
        if (!b->hold)
            pool_release(b->p, b->lease, false);
    }
    atomic_store(&b->done, true);
    return NULL;
}

static void borrower_start(borrower *b, pool *p, int64_t timeout_ms, bool hold, atomic_int *seq)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->timeout_ms = timeout_ms;
    b->hold = hold;
    b->seq = seq;
    b->tag = "borrower";
    atomic_init(&b->done, false);
    pthread_create(&b->th, NULL, borrower_main, b);
}

/* ---- config ----------------------------------------------------------------- */

static void test_config_defaults(void)
{
    pool_config c;
    pool_config_defaults(&c);
    CHECK(c.min_size == 2);
    CHECK(c.max_size == 10);
    CHECK(c.acquire_timeout_ms == 30000);
    CHECK(c.max_idle_ms == 30 * 60 * 1000);
    CHECK(c.health_interval_ms == 5 * 60 * 1000);
    CHECK(c.max_lifetime_ms == 8LL * 3600 * 1000);
    CHECK(c.validate_after_idle_ms == 30000);
    CHECK(c.validation_timeout_ms == 5000);
    CHECK(c.leak_threshold_ms == 5 * 60 * 1000);
    CHECK(c.connect_timeout_ms == 10000);
    CHECK(c.retry_attempts == 3);
    CHECK(c.retry_base_ms == 200);
    CHECK(c.max_concurrent_connects == 2);
    CHECK(c.drain_timeout_ms == 10000);
    err_t err;
    err_clear(&err);
    CHECK(pool_config_validate(&c, &err));
    CHECK(pool_wait_bucket_ms[0] == 1 && pool_wait_bucket_ms[10] == 30000);
    CHECK(pool_wait_bucket_ms[POOL_WAIT_BUCKETS - 1] > 1e300);
}

/* Expects validation to fail with ERR_INVALID naming field. */
static void expect_invalid(const pool_config *c, const char *field)
{
    err_t err;
    err_clear(&err);
    CHECK(!pool_config_validate(c, &err));
    CHECK(err.kind == ERR_INVALID);
    CHECK_CONTAINS(err.msg, field);
}

static void test_config_validation(void)
{
    pool_config c = quick_cfg();
    c.min_size = 5;
    c.max_size = 4;
    expect_invalid(&c, "min_size (5) is larger than max_size (4)");
    c = quick_cfg();
    c.max_size = 0;
    expect_invalid(&c, "max_size");
    c = quick_cfg();
    c.min_size = -1;
    expect_invalid(&c, "min_size is -1");
    c = quick_cfg();
    c.acquire_timeout_ms = 0;
    expect_invalid(&c, "acquire_timeout_ms");
    c = quick_cfg();
    c.health_interval_ms = 0;
    expect_invalid(&c, "health_interval_ms");
    c = quick_cfg();
    c.max_lifetime_ms = -5;
    expect_invalid(&c, "max_lifetime_ms");
    c = quick_cfg();
    c.validation_timeout_ms = 0;
    expect_invalid(&c, "validation_timeout_ms");
    c = quick_cfg();
    c.connect_timeout_ms = 0;
    expect_invalid(&c, "connect_timeout_ms");
    c = quick_cfg();
    c.retry_attempts = -1;
    expect_invalid(&c, "retry_attempts");
    c = quick_cfg();
    c.retry_base_ms = 0;
    expect_invalid(&c, "retry_base_ms");
    c = quick_cfg();
    c.max_concurrent_connects = 0;
    expect_invalid(&c, "max_concurrent_connects");
    c = quick_cfg();
    c.leak_threshold_ms = -1;
    expect_invalid(&c, "leak_threshold_ms");
    c = quick_cfg();
    c.drain_timeout_ms = -1;
    expect_invalid(&c, "drain_timeout_ms");
    /* pool_create refuses the same config without starting anything */
    stub s;
    stub_init(&s);
    c = quick_cfg();
    c.max_size = 0;
    err_t err;
    err_clear(&err);
    CHECK(pool_create(&c, &stub_ops, &s, &err) == NULL);
    CHECK_CONTAINS(err.msg, "max_size");
    CHECK(s.connect_attempts == 0);
    stub_free(&s);
}

/* ---- sizing --------------------------------------------------------------- */

static void test_create_tops_up_to_min_in_background(void)
{
    stub s;
    stub_init(&s);
    stub_gate(&s, &s.connect_gate, true);
    pool_config c = quick_cfg();
    c.min_size = 2;
    c.max_size = 4;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    /* pool_create returned although every connect is blocked */
    WAIT_FOR(stats(p).connecting == 2);
    CHECK(stats(p).connecting == 2);
    CHECK(stats(p).total == 0);
    stub_gate(&s, &s.connect_gate, false);
    WAIT_FOR(stats(p).idle == 2);
    pool_stats st = stats(p);
    CHECK(st.total == 2 && st.idle == 2 && st.created == 2);
    CHECK(stub_get(&s, &s.connect_attempts) == 2); /* exactly min, no more */
    CHECK(pool_healthy(p));
    CHECK(invariants_hold(p));
    pool_destroy(p);
    CHECK(s.open == 0);
    stub_free(&s);
}

static void test_grows_only_for_unmet_demand(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 4;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    for (int i = 0; i < 20; i++) {
        pool_lease *l;
        REQUIRE(acquire_now(p, &l));
        pool_release(p, l, false);
    }
    CHECK(stats(p).created == 1); /* one at a time needs one connection */
    pool_lease *a, *b;
    REQUIRE(acquire_now(p, &a));
    REQUIRE(acquire_now(p, &b));
    CHECK(pool_lease_conn(a) != pool_lease_conn(b));
    CHECK(stats(p).created == 2);
    CHECK(stats(p).acquired == 22);
    pool_release(p, a, false);
    pool_release(p, b, false);
    CHECK(stats(p).idle == 2);
    pool_destroy(p);
    CHECK(s.open == 0);
    stub_free(&s);
}

static void test_idle_reuse_is_lifo(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 3;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l[3];
    stub_conn *conn[3];
    for (int i = 0; i < 3; i++)
        REQUIRE((conn[i] = acquire_now(p, &l[i])) != NULL);
    for (int i = 0; i < 3; i++)
        pool_release(p, l[i], false);
    pool_lease *x, *y;
    CHECK(acquire_now(p, &x) == conn[2]); /* the last returned comes out first */
    CHECK(acquire_now(p, &y) == conn[1]);
    pool_release(p, y, false);
    pool_release(p, x, false);
    CHECK(acquire_now(p, &x) == conn[2]);
    pool_release(p, x, false);
    CHECK(stats(p).created == 3);
    CHECK(stub_get(&s, &s.resets) == 6); /* reset runs on every release */
    pool_destroy(p);
    stub_free(&s);
}

/* ---- waiting -------------------------------------------------------------- */

static void test_fifo_direct_handoff(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *held;
    stub_conn *only = acquire_now(p, &held);
    REQUIRE(only);
    atomic_int seq;
    atomic_init(&seq, 0);
    borrower w[4];
    for (int i = 0; i < 4; i++) {
        borrower_start(&w[i], p, 5000, true, &seq);
        WAIT_FOR(stats(p).waiting == i + 1); /* queue them in a known order */
        CHECK(stats(p).waiting == i + 1);
    }
    pool_release(p, held, false);
    for (int i = 0; i < 4; i++) {
        WAIT_FOR(atomic_load(&w[i].done));
        REQUIRE(atomic_load(&w[i].done));
        CHECK(w[i].ok && w[i].conn == only);
        CHECK(w[i].order == i); /* first come, first served */
        pool_stats st = stats(p);
        /* direct hand-off: the connection never sat idle for a newcomer */
        CHECK(st.idle == 0 && st.in_use == 1 && st.waiting == 3 - i);
        for (int j = i + 1; j < 4; j++)
            CHECK(!atomic_load(&w[j].done));
        pool_release(p, w[i].lease, false);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(w[i].th, NULL);
    CHECK(stats(p).created == 1);
    CHECK(stats(p).idle == 1);
    pool_destroy(p);
    stub_free(&s);
}

static void test_timeout_message_names_counts(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *held;
    REQUIRE(acquire_now(p, &held));
    pool_lease *l = NULL;
    err_t err;
    err_clear(&err);
    CHECK(!pool_acquire(p, clock_deadline_in_ms(30), "late", 0, &l, &err));
    CHECK(l == NULL);
    CHECK(err.kind == ERR_TIMEOUT);
    CHECK_CONTAINS(err.msg, "timed out after ");
    CHECK_CONTAINS(err.msg, " ms waiting for a connection (total 1, in use 1, idle 0, "
                            "waiting 1; last connect error: none)");
    CHECK(stats(p).timeouts == 1);
    CHECK(stats(p).waiting == 0);
    pool_release(p, held, false);
    pool_destroy(p);
    stub_free(&s);

    /* database refusing: the waiter fails as soon as the connect round
     * (with its retries) fails, with the driver's reason, instead of
     * waiting out its 10 s deadline (which would be ERR_TIMEOUT) */
    stub_init(&s);
    s.connect_fail_all = true;
    p = make_pool(&c, &s);
    REQUIRE(p);
    err_clear(&err);
    CHECK(!pool_acquire(p, clock_deadline_in_ms(10000), "q", 0, &l, &err));
    CHECK(err.kind == ERR_CONNECT);
    CHECK_CONTAINS(err.msg, "cannot open a database connection");
    CHECK_CONTAINS(err.msg, "stub: password authentication failed for user \"bob\"");
    CHECK(stats(p).timeouts == 0);
    CHECK(!pool_healthy(p));
    CHECK_CONTAINS(stats(p).last_connect_error, "password authentication failed");
    pool_destroy(p);
    stub_free(&s);
}

static void test_connect_retries_with_backoff(void)
{
    stub s;
    stub_init(&s);
    s.connect_fail_n = 2;
    pool_config c = quick_cfg();
    c.retry_attempts = 3;
    c.retry_base_ms = 4;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    REQUIRE(acquire_now(p, &l));
    pool_stats st = stats(p);
    CHECK(st.created == 1);
    CHECK(st.failed_connects == 2);
    CHECK(st.retries == 2);
    CHECK(stub_get(&s, &s.connect_attempts) == 3);
    /* backoff base 4 ms doubled, with equal jitter: >= 2 ms then >= 4 ms */
    CHECK(s.attempt_ns[1] - s.attempt_ns[0] >= 2 * CLOCK_NS_PER_MS);
    CHECK(s.attempt_ns[2] - s.attempt_ns[1] >= 4 * CLOCK_NS_PER_MS);
    pool_release(p, l, false);
    pool_destroy(p);
    stub_free(&s);

    /* retries exhausted: the round fails, and the waiter's error says why */
    stub_init(&s);
    s.connect_fail_all = true;
    c.retry_attempts = 2;
    c.retry_base_ms = 1;
    c.max_concurrent_connects = 1;
    p = make_pool(&c, &s);
    REQUIRE(p);
    err_t err;
    err_clear(&err);
    /* The deadline is far: the waiter fails as soon as the round has failed. */
    CHECK(!pool_acquire(p, clock_deadline_in_ms(5000), NULL, 0, &l, &err));
    CHECK(err.kind == ERR_CONNECT);
    CHECK_CONTAINS(err.msg, "password authentication failed");
    st = stats(p);
    CHECK(st.failed_connects >= 3 && st.retries >= 2 && st.created == 0);
    pool_destroy(p);
    stub_free(&s);
}

static void test_connect_finishes_after_waiter_leaves(void)
{
    stub s;
    stub_init(&s);
    stub_gate(&s, &s.connect_gate, true);
    pool_config c = quick_cfg();
    c.max_concurrent_connects = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    /* A waiter that leaves once its connect has started (it gives the
     * connector thread time to be scheduled, however loaded the machine). */
    borrower gone;
    borrower_start(&gone, p, 300, false, NULL);
    WAIT_FOR(stats(p).connecting == 1);
    pthread_join(gone.th, NULL);
    CHECK(!gone.ok && gone.err.kind == ERR_TIMEOUT);
    CHECK(stats(p).connecting == 1); /* the connect lives on */
    borrower next;
    borrower_start(&next, p, 5000, true, NULL);
    WAIT_FOR(stats(p).waiting == 1);
    /* one waiter, one connect in flight: no second connect */
    CHECK(stats(p).connecting == 1);
    stub_gate(&s, &s.connect_gate, false);
    pthread_join(next.th, NULL);
    CHECK(next.ok);
    CHECK(stub_get(&s, &s.connect_attempts) == 1);
    CHECK(stats(p).created == 1);

    /* nobody waits when it finishes: it goes idle */
    stub_gate(&s, &s.connect_gate, true);
    borrower_start(&gone, p, 300, false, NULL);
    WAIT_FOR(stats(p).connecting == 1);
    pthread_join(gone.th, NULL);
    CHECK(!gone.ok);
    stub_gate(&s, &s.connect_gate, false);
    WAIT_FOR(stats(p).idle == 1);
    pool_stats st = stats(p);
    CHECK(st.idle == 1 && st.created == 2 && st.connecting == 0 && st.timeouts == 2);
    pool_release(p, next.lease, false);
    pool_destroy(p);
    CHECK(s.open == 0);
    stub_free(&s);
}

static void test_concurrent_connects_are_capped(void)
{
    stub s;
    stub_init(&s);
    stub_gate(&s, &s.connect_gate, true);
    pool_config c = quick_cfg();
    c.max_size = 10;
    c.max_concurrent_connects = 2;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    borrower b[5];
    for (int i = 0; i < 5; i++)
        borrower_start(&b[i], p, 5000, false, NULL);
    WAIT_FOR(stats(p).waiting == 5 && stats(p).connecting == 2);
    CHECK(stats(p).waiting == 5);
    CHECK(stats(p).connecting == 2); /* five waiters, but two connects at once */
    CHECK(stub_get(&s, &s.connect_attempts) == 2);
    stub_gate(&s, &s.connect_gate, false);
    for (int i = 0; i < 5; i++) {
        pthread_join(b[i].th, NULL);
        CHECK(b[i].ok);
    }
    CHECK(stats(p).created <= 5);
    CHECK(invariants_hold(p));
    pool_destroy(p);
    CHECK(s.open == 0);
    stub_free(&s);
}

/* ---- lifecycle --------------------------------------------------------------- */

static void test_validation_only_after_idle_window(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 1;
    c.validate_after_idle_ms = 200; /* wide: the quick re-borrow must fit in it */
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    stub_conn *first = acquire_now(p, &l);
    REQUIRE(first);
    pool_release(p, l, false);
    CHECK(acquire_now(p, &l) == first);
    CHECK(stub_get(&s, &s.pings) == 0); /* idle a moment: no ping */
    pool_release(p, l, false);
    clock_sleep_ms(220);
    CHECK(acquire_now(p, &l) == first);
    CHECK(stub_get(&s, &s.pings) == 1); /* idle past the window: pinged, kept */
    pool_release(p, l, false);
    clock_sleep_ms(220);
    stub_set(&s, &s.ping_fail_n, 1);
    stub_conn *second = acquire_now(p, &l);
    CHECK(second != NULL && second != first); /* failed validation: another one */
    CHECK(stub_closed(&s, first));
    pool_stats st = stats(p);
    CHECK(st.failed_health_checks == 1);
    CHECK(st.closed[POOL_CLOSE_HEALTH] == 1);
    CHECK(st.created == 2);
    pool_release(p, l, false);
    pool_destroy(p);
    stub_free(&s);
}

static void test_monitor_retires_idle_above_min(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.min_size = 1;
    c.max_size = 3;
    c.max_idle_ms = 30;
    c.health_interval_ms = 10;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(acquire_now(p, &l[i]));
    for (int i = 0; i < 3; i++)
        pool_release(p, l[i], false);
    WAIT_FOR(stats(p).closed[POOL_CLOSE_IDLE] == 2);
    pool_stats st = stats(p);
    CHECK(st.closed[POOL_CLOSE_IDLE] == 2);
    CHECK(st.total == 1 && st.idle == 1); /* min_size stays */
    CHECK(stub_get(&s, &s.open) == 1);
    CHECK(stub_get(&s, &s.pings) >= 1); /* the monitor pings idle ones */
    clock_sleep_ms(50);
    CHECK(stats(p).closed[POOL_CLOSE_IDLE] == 2); /* never below min */
    pool_destroy(p);
    stub_free(&s);
}

static void test_monitor_retires_at_lifetime(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.min_size = 2;
    c.max_size = 3;
    c.max_lifetime_ms = 60;
    c.health_interval_ms = 10;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).closed[POOL_CLOSE_LIFETIME] >= 2 && stats(p).idle == 2);
    pool_stats st = stats(p);
    CHECK(st.closed[POOL_CLOSE_LIFETIME] >= 2);
    CHECK(st.created >= 4); /* replaced up to min_size */
    CHECK(st.idle == 2);
    pool_destroy(p);
    stub_free(&s);

    /* in use past its lifetime: left alone, retired when released */
    stub_init(&s);
    c.min_size = 0;
    c.max_lifetime_ms = 30;
    c.health_interval_ms = 5;
    p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    stub_conn *conn = acquire_now(p, &l);
    REQUIRE(conn);
    clock_sleep_ms(80);
    CHECK(!stub_closed(&s, conn));
    CHECK(stats(p).closed[POOL_CLOSE_LIFETIME] == 0);
    pool_release(p, l, false);
    CHECK(stub_closed(&s, conn));
    CHECK(stats(p).closed[POOL_CLOSE_LIFETIME] == 1);
    CHECK(stats(p).total == 0);
    pool_destroy(p);
    stub_free(&s);
}

static void test_monitor_replaces_failed_health_checks(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.min_size = 2;
    c.max_size = 4;
    c.health_interval_ms = 10;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).idle == 2);
    stub_set(&s, &s.ping_fail_n, 2);
    WAIT_FOR(stats(p).closed[POOL_CLOSE_HEALTH] == 2 && stats(p).idle == 2);
    pool_stats st = stats(p);
    CHECK(st.failed_health_checks == 2);
    CHECK(st.closed[POOL_CLOSE_HEALTH] == 2);
    CHECK(st.created == 4);
    CHECK(st.idle == 2);
    CHECK(stub_closed(&s, s.conns[0]) && stub_closed(&s, s.conns[1]));
    pool_destroy(p);
    stub_free(&s);
}

static void test_broken_release_is_destroyed_and_topped_up(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.min_size = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).idle == 1);
    pool_lease *l;
    stub_conn *lost = acquire_now(p, &l);
    REQUIRE(lost);
    pool_release(p, l, true); /* the driver said "connection lost" */
    CHECK(stub_closed(&s, lost));
    CHECK(stats(p).closed[POOL_CLOSE_BROKEN] == 1);
    CHECK(stub_get(&s, &s.resets) == 0); /* a broken one is not even reset */
    WAIT_FOR(stats(p).idle == 1);        /* back to min_size */
    stub_conn *next = acquire_now(p, &l);
    CHECK(next != NULL && next != lost);
    CHECK(stats(p).created == 2);
    pool_release(p, l, false);
    pool_destroy(p);
    stub_free(&s);
}

static void test_reset_failure_destroys(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    stub_conn *conn = acquire_now(p, &l);
    REQUIRE(conn);
    stub_set(&s, &s.reset_fail_n, 1);
    pool_release(p, l, false);
    CHECK(stub_closed(&s, conn));
    CHECK(stats(p).closed[POOL_CLOSE_BROKEN] == 1);
    CHECK(stats(p).idle == 0);
    pool_destroy(p);
    stub_free(&s);
}

static void test_fresh_flag_opens_new_connection(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.min_size = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).idle == 1);
    stub_conn *idle = s.conns[0];
    pool_lease *l;
    err_t err;
    err_clear(&err);
    REQUIRE(pool_acquire(p, 0, "retry", POOL_ACQUIRE_FRESH, &l, &err));
    CHECK(pool_lease_conn(l) != idle);
    CHECK(stats(p).created == 2 && stats(p).idle == 1);
    pool_release(p, l, false);
    pool_destroy(p);
    stub_free(&s);

    /* full pool with an idle connection: the idle one makes room */
    stub_init(&s);
    c.max_size = 1;
    p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).idle == 1);
    idle = s.conns[0];
    err_clear(&err);
    REQUIRE(pool_acquire(p, 0, "retry", POOL_ACQUIRE_FRESH, &l, &err));
    CHECK(pool_lease_conn(l) != idle);
    CHECK(stub_closed(&s, idle));
    CHECK(stats(p).closed[POOL_CLOSE_IDLE] == 1 && stats(p).created == 2);
    pool_release(p, l, false);
    pool_destroy(p);
    stub_free(&s);

    /* full pool, all lent: a fresh waiter lets a returned one go by */
    stub_init(&s);
    c.min_size = 0;
    c.max_size = 2;
    p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *a, *b;
    stub_conn *ca = acquire_now(p, &a);
    stub_conn *cb = acquire_now(p, &b);
    REQUIRE(ca && cb);
    borrower f;
    memset(&f, 0, sizeof f);
    f.p = p;
    f.timeout_ms = 5000;
    f.hold = true;
    f.flags = POOL_ACQUIRE_FRESH;
    atomic_init(&f.done, false);
    pthread_create(&f.th, NULL, borrower_main, &f);
    WAIT_FOR(stats(p).waiting == 1);
    pool_release(p, a, false);
    pthread_join(f.th, NULL);
    CHECK(f.ok && f.conn != ca && f.conn != cb);
    CHECK(stub_closed(&s, ca)); /* retired to make room for the fresh one */
    CHECK(stats(p).closed[POOL_CLOSE_IDLE] == 1 && stats(p).created == 3);
    pool_release(p, b, false);
    pool_release(p, f.lease, false);
    pool_destroy(p);
    stub_free(&s);
}

/* ---- leaks ------------------------------------------------------------------- */

typedef struct captured {
    pthread_mutex_t mu;
    char text[2048];
    int warnings;
} captured;

static void capture_sink(void *ctx, log_level level, const char *logger, const char *msg,
                         const void *origin)
{
    captured *cap = ctx;
    pthread_mutex_lock(&cap->mu);
    if (level == LOG_WARNING && strcmp(logger, "pool") == 0) {
        cap->warnings++;
        strncat(cap->text, msg, sizeof cap->text - strlen(cap->text) - 2);
        strcat(cap->text, "\n");
    }
    pthread_mutex_unlock(&cap->mu);
}

static void test_leak_warning_names_tag(void)
{
    captured cap = {.mu = PTHREAD_MUTEX_INITIALIZER};
    int sink = log_sink_add(capture_sink, &cap, LOG_WARNING);
    REQUIRE(sink >= 0);
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.leak_threshold_ms = 20;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    err_t err;
    err_clear(&err);
    REQUIRE(pool_acquire(p, 0, "req-42", 0, &l, &err));
    WAIT_FOR(stats(p).leaks == 1);
    CHECK(stats(p).leaks == 1);
    clock_sleep_ms(40); /* more monitor ticks: still one report per lease */
    pool_release(p, l, false);
    CHECK(stats(p).leaks == 1);
    pthread_mutex_lock(&cap.mu);
    CHECK(cap.warnings == 1);
    CHECK_CONTAINS(cap.text, "held for");
    CHECK_CONTAINS(cap.text, "by req-42");
    pthread_mutex_unlock(&cap.mu);
    pool_destroy(p);
    log_sink_remove(sink);
    stub_free(&s);
}

/* ---- shutdown ------------------------------------------------------------------ */

typedef struct shutter {
    pool *p;
    atomic_bool done;
} shutter;

static void *shutter_main(void *arg)
{
    shutter *sh = arg;
    pool_shutdown(sh->p);
    atomic_store(&sh->done, true);
    return NULL;
}

static void test_shutdown_drains_lease(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 2;
    c.min_size = 2;
    c.drain_timeout_ms = 5000;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(stats(p).idle == 2);
    pool_lease *a, *b;
    REQUIRE(acquire_now(p, &a));
    REQUIRE(acquire_now(p, &b));
    borrower w;
    borrower_start(&w, p, 5000, true, NULL);
    WAIT_FOR(stats(p).waiting == 1);
    pool_release(p, b, false); /* w takes it */
    WAIT_FOR(atomic_load(&w.done));
    REQUIRE(w.ok);
    borrower late;
    borrower_start(&late, p, 5000, true, NULL);
    WAIT_FOR(stats(p).waiting == 1);

    shutter sh = {.p = p};
    atomic_init(&sh.done, false);
    pthread_t th;
    pthread_create(&th, NULL, shutter_main, &sh);
    pthread_join(late.th, NULL);
    CHECK(!late.ok && late.err.kind == ERR_BUSY); /* waiters fail at once */
    pool_lease *l = NULL;
    err_t err;
    err_clear(&err);
    CHECK(!pool_acquire(p, 0, "new", 0, &l, &err));
    CHECK(err.kind == ERR_BUSY);
    CHECK(!pool_healthy(p));
    CHECK(!atomic_load(&sh.done)); /* still draining two leases */
    pool_release(p, a, false);
    pool_release(p, w.lease, false);
    pthread_join(w.th, NULL);
    pthread_join(th, NULL);
    CHECK(atomic_load(&sh.done));
    CHECK(stub_get(&s, &s.open) == 0);
    pool_stats st = stats(p);
    CHECK(st.closed[POOL_CLOSE_SHUTDOWN] == 2 && st.total == 0);
    pool_shutdown(p); /* idempotent */
    pool_destroy(p);
    stub_free(&s);
}

static void test_shutdown_timeout_then_late_release(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.drain_timeout_ms = 20;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    stub_conn *conn = acquire_now(p, &l);
    REQUIRE(conn);
    pool_destroy(p); /* gives up waiting, but never closes under the borrower */
    CHECK(!stub_closed(&s, conn));
    CHECK(stub_get(&s, &s.open) == 1);
    pool_release(p, l, false); /* closes it and frees the pool (ASan watches) */
    CHECK(stub_closed(&s, conn));
    CHECK(stub_get(&s, &s.open) == 0);
    stub_free(&s);
}

typedef struct releaser {
    pool *p;
    pool_lease *l;
} releaser;

static void *release_broken_main(void *arg)
{
    releaser *r = arg;
    pool_release(r->p, r->l, true);
    return NULL;
}

static void test_slow_close_holds_no_lock(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    releaser r = {.p = p};
    stub_conn *hung = acquire_now(p, &r.l);
    REQUIRE(hung);
    stub_gate(&s, &s.close_gate, true);
    pthread_t th;
    pthread_create(&th, NULL, release_broken_main, &r);
    WAIT_FOR(stub_get(&s, &s.closes_started) == 1);
    /* the close hangs, yet the pool answers and lends */
    pool_stats st = stats(p);
    CHECK(st.total == 1 && st.in_use == 0 && st.idle == 0);
    pool_lease *l;
    stub_conn *other = acquire_now(p, &l);
    CHECK(other != NULL && other != hung);
    CHECK(stats(p).total == 2); /* the closing one still holds its slot */
    stub_gate(&s, &s.close_gate, false);
    pthread_join(th, NULL);
    CHECK(stats(p).closed[POOL_CLOSE_BROKEN] == 1 && stats(p).total == 1);
    pool_release(p, l, false);
    CHECK(invariants_hold(p));
    pool_destroy(p);
    stub_free(&s);
}

/* ---- observability ----------------------------------------------------------- */

static void test_wait_histogram(void)
{
    stub s;
    stub_init(&s);
    pool_config c = quick_cfg();
    c.max_size = 1;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    pool_lease *l;
    for (int i = 0; i < 5; i++) {
        REQUIRE(acquire_now(p, &l));
        pool_release(p, l, false);
    }
    REQUIRE(acquire_now(p, &l));
    borrower w;
    borrower_start(&w, p, 5000, false, NULL);
    WAIT_FOR(stats(p).waiting == 1);
    clock_sleep_ms(30);
    pool_release(p, l, false);
    pthread_join(w.th, NULL);
    CHECK(w.ok);
    pool_stats st = stats(p);
    CHECK(st.acquired == 7);
    CHECK(st.wait_bucket[POOL_WAIT_BUCKETS - 1] == 7); /* +Inf counts all */
    for (int i = 1; i < POOL_WAIT_BUCKETS; i++)
        CHECK(st.wait_bucket[i] >= st.wait_bucket[i - 1]); /* cumulative */
    CHECK(st.wait_bucket[3] <= 6); /* the one that waited 30 ms is above 25 ms */
    CHECK(st.wait_sum_ms >= 30.0);
    pool_destroy(p);
    stub_free(&s);
}

static void test_healthy_follows_connects(void)
{
    stub s;
    stub_init(&s);
    s.connect_fail_all = true;
    pool_config c = quick_cfg();
    c.min_size = 1;
    c.health_interval_ms = 10;
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(!pool_healthy(p));
    CHECK(!pool_healthy(p));
    CHECK(stats(p).failed_connects >= 1);
    pthread_mutex_lock(&s.mu);
    s.connect_fail_all = false;
    pthread_mutex_unlock(&s.mu);
    WAIT_FOR(stats(p).idle == 1); /* top-up retries after a failed round */
    CHECK(stats(p).idle == 1);
    CHECK(pool_healthy(p));
    CHECK(invariants_hold(p));
    pool_destroy(p);
    stub_free(&s);
}

/* After a failed round, top-up retries on its own (1 s later), not only at
 * the monitor's next tick, so the pool recovers with no calls arriving. */
static void test_recovers_without_demand(void)
{
    stub s;
    stub_init(&s);
    s.connect_fail_all = true;
    pool_config c = quick_cfg();
    c.min_size = 1;
    c.health_interval_ms = 3600 * 1000; /* the monitor stays asleep */
    pool *p = make_pool(&c, &s);
    REQUIRE(p);
    WAIT_FOR(!pool_healthy(p));
    CHECK(!pool_healthy(p));
    pthread_mutex_lock(&s.mu);
    s.connect_fail_all = false;
    pthread_mutex_unlock(&s.mu);
    WAIT_FOR(stats(p).idle == 1);
    CHECK(stats(p).idle == 1);
    CHECK(pool_healthy(p));
    pool_destroy(p);
    stub_free(&s);
}

int main(void)
{
    log_set_stderr_level(LOG_ERROR);
    TEST_RUN(test_config_defaults);
    TEST_RUN(test_config_validation);
    TEST_RUN(test_create_tops_up_to_min_in_background);
    TEST_RUN(test_grows_only_for_unmet_demand);
    TEST_RUN(test_idle_reuse_is_lifo);
    TEST_RUN(test_fifo_direct_handoff);
    TEST_RUN(test_timeout_message_names_counts);
    TEST_RUN(test_connect_retries_with_backoff);
    TEST_RUN(test_connect_finishes_after_waiter_leaves);
    TEST_RUN(test_concurrent_connects_are_capped);
    TEST_RUN(test_validation_only_after_idle_window);
    TEST_RUN(test_monitor_retires_idle_above_min);
    TEST_RUN(test_monitor_retires_at_lifetime);
    TEST_RUN(test_monitor_replaces_failed_health_checks);
    TEST_RUN(test_broken_release_is_destroyed_and_topped_up);
    TEST_RUN(test_reset_failure_destroys);
    TEST_RUN(test_fresh_flag_opens_new_connection);
    TEST_RUN(test_leak_warning_names_tag);
    TEST_RUN(test_shutdown_drains_lease);
    TEST_RUN(test_shutdown_timeout_then_late_release);
    TEST_RUN(test_slow_close_holds_no_lock);
    TEST_RUN(test_wait_histogram);
    TEST_RUN(test_healthy_follows_connects);
    TEST_RUN(test_recovers_without_demand);
    return test_summary();
}
