/* The connection pool healing over a real PostgreSQL server: backends
 * terminated while idle or mid-query, and under concurrent load.
 *
 * Needs SMCP_PG_STATE (the ctest fixture pg_cluster). A side session as the
 * superuser terminates snowflake-mcp's backends, found by application_name. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "db/dbpool.h"
#include "db/postgres.h"
#include "pgtest.h"
#include "testlib.h"

static char dsn[512];
static char admin_conninfo[1024];
static db_backend *be;

/* Runs sql (one count) in a fresh superuser session; -1 on failure. */
static long admin_count(const char *sql)
{
    PGconn *pg = PQconnectdb(admin_conninfo);
    long n = -1;
    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *res = PQexec(pg, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            n = atol(PQgetvalue(res, 0, 0));
        else
            fprintf(stderr, "admin: %s", PQresultErrorMessage(res));
        PQclear(res);
    } else {
        fprintf(stderr, "admin connect: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return n;
}

/* Terminates every backend of snowflake-mcp; returns how many. */
static long terminate_all(void)
{
    return admin_count("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                       "FROM pg_stat_activity WHERE application_name = 'snowflake-mcp'");
}

static void quick_config(pool_config *cfg, int64_t validate_after_idle_ms)
{
    pool_config_defaults(cfg);
    cfg->min_size = 4;
    cfg->max_size = 4;
    cfg->acquire_timeout_ms = 10000;
    cfg->validate_after_idle_ms = validate_after_idle_ms;
    cfg->retry_base_ms = 50;
}

static bool one_call(dbp *d, const char *sql, err_t *e)
{
    db_call call = {.max_rows = 10, .deadline_ns = clock_deadline_in_ms(10000)};
    db_result *r = NULL;
    bool ok = dbp_execute(d, &call, NULL, "test", sql, &r, e);
    db_result_free(r);
    return ok;
}

/* Makes sure min_size connections are open and have been used. */
static void warm(dbp *d)
{
    err_t e;
    int64_t until = clock_now_ns() + 10 * CLOCK_NS_PER_S;
    pool_stats st;
    do {
        one_call(d, "SELECT 1", &e);
        pool_get_stats(dbp_pool(d), &st);
    } while (st.idle < 4 && clock_now_ns() < until);
}

static void check_idle_kill_heals(int64_t validate_after_idle_ms)
{
    pool_config cfg;
    quick_config(&cfg, validate_after_idle_ms);
    err_t e;
    dbp *d = dbp_create(be, &cfg, &e);
    REQUIRE(d != NULL);
    warm(d);
    long killed = terminate_all();
    CHECK(killed >= 4);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        if (one_call(d, "SELECT count(*) FROM sales.orders", &e))
            ok++;
        else
            fprintf(stderr, "    call %d failed: %s\n", i, e.msg);
    }
    CHECK(ok == 100);
    pool_stats st;
    pool_get_stats(dbp_pool(d), &st);
    fprintf(stderr,
            "    validate_after_idle %lld ms: killed %ld idle backends; 100/100 calls ok=%d; "
            "created %llu, closed broken %llu, health %llu\n",
            (long long)validate_after_idle_ms, killed, ok, (unsigned long long)st.created,
            (unsigned long long)st.closed[POOL_CLOSE_BROKEN],
            (unsigned long long)st.closed[POOL_CLOSE_HEALTH]);
    /* at least one dead connection was found and replaced (LIFO reuse means
     * a sequential caller may meet only one of them) */
    CHECK(st.created > 4);
    CHECK(st.closed[POOL_CLOSE_BROKEN] + st.closed[POOL_CLOSE_HEALTH] >= 1);
    CHECK(pool_check_invariants(dbp_pool(d), &e));
    dbp_destroy(d);
}

/* Fault 1, both ways the pool notices: the driver's never-ran retry (no
 * validation on borrow) and validation on every borrow. */
static void test_idle_kill_retry_path(void)
{
    check_idle_kill_heals(60000);
}

static void test_idle_kill_validate_path(void)
{
    check_idle_kill_heals(0);
}

/* How many snowflake-mcp backends are running the endless query. */
static long running_endless(void)
{
    return admin_count("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                       "AND application_name = 'snowflake-mcp' "
                       "AND query LIKE '%generate_series(1, 2000000000)%'");
}

/* Kills the backends once the query runs there (not after a fixed sleep: a
 * kill that lands before the query starts tests the retry path instead). */
static void *terminate_when_running(void *arg)
{
    (void)arg;
    int64_t until = clock_now_ns() + 10 * CLOCK_NS_PER_S;
    while (running_endless() < 1 && clock_now_ns() < until)
        clock_sleep_ms(20);
    terminate_all();
    return NULL;
}

/* Fault 2: a backend killed mid-query. */
static void test_kill_during_query(void)
{
    pool_config cfg;
    quick_config(&cfg, 60000);
    cfg.min_size = 1;
    err_t e;
    dbp *d = dbp_create(be, &cfg, &e);
    REQUIRE(d != NULL);
    pthread_t th;
    pthread_create(&th, NULL, terminate_when_running, NULL);
    bool ok = one_call(d, "SELECT count(*) FROM (SELECT generate_series(1, 2000000000)) s", &e);
    pthread_join(th, NULL);
    CHECK(!ok);
    CHECK(e.kind == ERR_CONN_LOST);
    CHECK_CONTAINS(e.msg, "while the statement ran");
    fprintf(stderr, "    the killed call: %s\n", e.msg);
    int good = 0;
    for (int i = 0; i < 20; i++)
        good += one_call(d, "SELECT 1", &e);
    CHECK(good == 20);
    CHECK(pool_check_invariants(dbp_pool(d), &e));
    dbp_destroy(d);
}

typedef struct load {
    dbp *d;
    atomic_int ok, failed, bad_kind;
    atomic_bool stop;
} load;

static void *worker(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        err_t e;
        if (one_call(l->d, "SELECT sum(amount) FROM sales.orders", &e)) {
            atomic_fetch_add(&l->ok, 1);
        } else {
            atomic_fetch_add(&l->failed, 1);
            /* only a statement that was running when its backend died may
             * fail; a dead idle connection is retried and must not show */
            if (e.kind != ERR_CONN_LOST || e.never_ran) {
                atomic_fetch_add(&l->bad_kind, 1);
                fprintf(stderr, "    unexpected failure: %s: %s\n", err_kind_name(e.kind), e.msg);
            }
        }
    }
    return NULL;
}

/* Backends killed again and again under 6 concurrent callers. */
static void test_kills_under_load(void)
{
    pool_config cfg;
    quick_config(&cfg, 60000);
    cfg.max_size = 6;
    err_t e;
    load l = {0};
    l.d = dbp_create(be, &cfg, &e);
    REQUIRE(l.d != NULL);
    pthread_t th[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&th[i], NULL, worker, &l);
    long killed = 0;
    for (int round = 0; round < 10; round++) {
        clock_sleep_ms(150);
        long k = terminate_all();
        killed += k > 0 ? k : 0;
    }
    atomic_store(&l.stop, true);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    fprintf(stderr, "    10 kill rounds (%ld backends): %d calls ok, %d failed mid-statement\n",
            killed, atomic_load(&l.ok), atomic_load(&l.failed));
    CHECK(atomic_load(&l.bad_kind) == 0);
    CHECK(atomic_load(&l.ok) > 0);
    CHECK(killed > 0);
    int good = 0;
    for (int i = 0; i < 100; i++)
        good += one_call(l.d, "SELECT 1", &e);
    CHECK(good == 100);
    CHECK(pool_check_invariants(dbp_pool(l.d), &e));
    dbp_destroy(l.d);
}

int main(void)
{
    pgtest_locate(dsn, sizeof dsn, admin_conninfo, sizeof admin_conninfo);
    err_t e;
    be = postgres_backend_open(dsn, &e);
    if (!be) {
        fprintf(stderr, "open: %s\n", e.msg);
        return 1;
    }
    TEST_RUN(test_idle_kill_retry_path);
    TEST_RUN(test_idle_kill_validate_path);
    TEST_RUN(test_kill_during_query);
    TEST_RUN(test_kills_under_load);
    db_backend_free(be);
    return test_summary();
}
