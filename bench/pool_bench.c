/* pool_bench: our connection pool against a naive one, side by side.
 *
 * The baseline is what the Python server we replace effectively does: a
 * mutex-protected list of idle connections; when it is empty and the pool is
 * not full, the borrower opens one itself; when full, it sleeps 10 ms and
 * looks again. Both pools lend connections from the same stub driver, whose
 * connect can be made slow. Prints one table on stdout; runs ~10 s. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "pool/pool.h"

/* ---- the stub driver ------------------------------------------------------ */

typedef struct stub {
    int connect_ms;
    atomic_int connects;
} stub;

static bool stub_connect(void *ctx, int64_t deadline_ns, void **conn, err_t *err)
{
    stub *s = ctx;
    clock_sleep_ms(s->connect_ms);
    atomic_fetch_add(&s->connects, 1);
    *conn = malloc(16);
    return true;
}

static bool stub_ping(void *ctx, void *conn, int64_t deadline_ns, err_t *err)
{
    return true;
}

static bool stub_reset(void *ctx, void *conn, err_t *err)
{
    return true;
}

static void stub_close(void *ctx, void *conn)
{
    free(conn);
}

static const pool_ops stub_ops = {stub_connect, stub_ping, stub_reset, stub_close};

/* ---- the naive baseline ------------------------------------------------------- */

#define NAIVE_MAX 64
#define NAIVE_POLL_MS 10

typedef struct naive {
    pthread_mutex_t mu;
    void *idle[NAIVE_MAX];
    int nidle, total, max;
    stub *s;
} naive;

static bool naive_acquire(naive *n, int64_t deadline, void **out)
{
    for (;;) {
        pthread_mutex_lock(&n->mu);
        if (n->nidle > 0) {
            *out = n->idle[--n->nidle];
            pthread_mutex_unlock(&n->mu);
            return true;
        }
        if (n->total < n->max) {
            n->total++;
            pthread_mutex_unlock(&n->mu);
            err_t err;
            return stub_connect(n->s, 0, out, &err);
        }
        pthread_mutex_unlock(&n->mu);
        if (clock_now_ns() >= deadline)
            return false;
        clock_sleep_ms(NAIVE_POLL_MS);
    }
}

static void naive_release(naive *n, void *conn)
{
    pthread_mutex_lock(&n->mu);
    n->idle[n->nidle++] = conn;
    pthread_mutex_unlock(&n->mu);
}

/* ---- one interface over both -------------------------------------------------- */

typedef struct bench_pool {
    bool ours;
    pool *p;
    naive n;
    stub s;
} bench_pool;

static void bp_open(bench_pool *bp, bool ours, int min, int max, int connect_ms)
{
    memset(bp, 0, sizeof *bp);
    bp->ours = ours;
    bp->s.connect_ms = connect_ms;
    if (ours) {
        pool_config cfg;
        pool_config_defaults(&cfg);
        cfg.min_size = min;
        cfg.max_size = max;
        cfg.leak_threshold_ms = 0;
        err_t err;
        bp->p = pool_create(&cfg, &stub_ops, &bp->s, &err);
        if (!bp->p) {
            fprintf(stderr, "pool_create: %s\n", err.msg);
            exit(1);
        }
        pool_stats st;
        do { /* start-up opens min_size in the background: let it finish */
            clock_sleep_ms(1);
            pool_get_stats(bp->p, &st);
        } while (st.idle < min);
    } else {
        pthread_mutex_init(&bp->n.mu, NULL);
        bp->n.max = max;
        bp->n.s = &bp->s;
        void *c[NAIVE_MAX];
        for (int i = 0; i < min; i++)
            naive_acquire(&bp->n, 0, &c[i]);
        for (int i = 0; i < min; i++)
            naive_release(&bp->n, c[i]);
    }
}

static bool bp_acquire(bench_pool *bp, void **token)
{
    int64_t deadline = clock_deadline_in_ms(30000);
    if (bp->ours) {
        err_t err;
        return pool_acquire(bp->p, deadline, "bench", 0, (pool_lease **)token, &err);
    }
    return naive_acquire(&bp->n, deadline, token);
}

static void bp_release(bench_pool *bp, void *token)
{
    if (bp->ours)
        pool_release(bp->p, token, false);
    else
        naive_release(&bp->n, token);
}

/* Waits for connects still in flight, so every one opened is counted. */
static void bp_settle(bench_pool *bp)
{
    if (!bp->ours)
        return;
    pool_stats st;
    do {
        clock_sleep_ms(5);
        pool_get_stats(bp->p, &st);
    } while (st.connecting > 0);
}

static void bp_close(bench_pool *bp)
{
    if (bp->ours) {
        pool_destroy(bp->p);
        return;
    }
    for (int i = 0; i < bp->n.nidle; i++)
        free(bp->n.idle[i]);
    pthread_mutex_destroy(&bp->n.mu);
}

/* ---- workloads -------------------------------------------------------------------- */

static void work_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

typedef struct samples {
    int64_t *v;
    size_t n, cap;
} samples;

static void samples_add(samples *s, int64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = x;
}

typedef struct runner {
    bench_pool *bp;
    atomic_bool *stop;
    pthread_barrier_t *start;
    int64_t work_us;
    int cycles_max; /* 0 = until stop */
    long cycles;
    samples waits;
} runner;

static void *runner_main(void *arg)
{
    runner *r = arg;
    if (r->start)
        pthread_barrier_wait(r->start);
    while (!atomic_load(r->stop) && (r->cycles_max == 0 || r->cycles < r->cycles_max)) {
        void *tok;
        int64_t t0 = clock_now_ns();
        if (!bp_acquire(r->bp, &tok))
            break;
        samples_add(&r->waits, clock_now_ns() - t0);
        work_us(r->work_us);
        bp_release(r->bp, tok);
        r->cycles++;
    }
    return NULL;
}

typedef struct result {
    double cycles_per_s;
    double p50_ms, p99_ms, max_ms;
    double elapsed_ms;
    int connects;
    double fewest_share; /* the slowest thread's cycles / a fair share */
} result;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void summarise_waits(runner *rs, int nthreads, result *res)
{
    samples all = {0};
    for (int i = 0; i < nthreads; i++) {
        for (size_t j = 0; j < rs[i].waits.n; j++)
            samples_add(&all, rs[i].waits.v[j]);
        free(rs[i].waits.v);
    }
    if (all.n == 0)
        return;
    qsort(all.v, all.n, sizeof *all.v, cmp_i64);
    res->p50_ms = (double)all.v[all.n / 2] / 1e6;
    res->p99_ms = (double)all.v[(all.n * 99) / 100] / 1e6;
    res->max_ms = (double)all.v[all.n - 1] / 1e6;
    free(all.v);
}

/* nthreads borrowers on one pool, for duration_ms or cycles_each cycles. */
static result run(bool ours, int nthreads, int min, int max, int connect_ms, int64_t work,
                  int64_t duration_ms, int cycles_each)
{
    bench_pool bp;
    bp_open(&bp, ours, min, max, connect_ms);
    int before = atomic_load(&bp.s.connects);
    atomic_bool stop;
    atomic_init(&stop, false);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    runner *rs = calloc((size_t)nthreads, sizeof *rs);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    for (int i = 0; i < nthreads; i++) {
        rs[i] = (runner){
            .bp = &bp, .stop = &stop, .start = &start, .work_us = work, .cycles_max = cycles_each};
        pthread_create(&th[i], NULL, runner_main, &rs[i]);
    }
    int64_t t0 = clock_now_ns();
    pthread_barrier_wait(&start);
    if (duration_ms > 0) {
        clock_sleep_ms(duration_ms);
        atomic_store(&stop, true);
    }
    long cycles = 0, fewest = -1;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        cycles += rs[i].cycles;
        if (fewest < 0 || rs[i].cycles < fewest)
            fewest = rs[i].cycles;
    }
    result res = {0};
    res.fewest_share = cycles ? (double)fewest * nthreads / (double)cycles : 0;
    res.elapsed_ms = (double)(clock_now_ns() - t0) / 1e6;
    res.cycles_per_s = (double)cycles / (res.elapsed_ms / 1000.0);
    summarise_waits(rs, nthreads, &res);
    bp_settle(&bp);
    res.connects = atomic_load(&bp.s.connects) - before;
    bp_close(&bp);
    pthread_barrier_destroy(&start);
    free(rs);
    free(th);
    return res;
}

/* decimals: digits after the point in the ours and baseline columns. */
static void row(const char *metric, double ours, double base, int decimals)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%.*f", decimals, ours);
    snprintf(b, sizeof b, "%.*f", decimals, base);
    double shown = 1;
    for (int i = 0; i < decimals; i++)
        shown /= 10;
    if (base >= shown / 2) /* a baseline that rounds to 0 has no ratio */
        printf("| %-58s | %12s | %12s | %7.2f |\n", metric, a, b, ours / base);
    else
        printf("| %-58s | %12s | %12s | %7s |\n", metric, a, b, "-");
}

int main(void)
{
    log_set_stderr_level(LOG_WARNING);
    fprintf(stderr, "pool_bench: uncontended...\n");
    result u_ours = run(true, 1, 1, 4, 0, 0, 1000, 0);
    result u_base = run(false, 1, 1, 4, 0, 0, 1000, 0);
    fprintf(stderr, "pool_bench: oversubscribed...\n");
    result z_ours = run(true, 16, 4, 4, 0, 0, 1000, 0);
    result z_base = run(false, 16, 4, 4, 0, 0, 1000, 0);
    result o_ours = run(true, 16, 4, 4, 0, 200, 2000, 0);
    result o_base = run(false, 16, 4, 4, 0, 200, 2000, 0);
    fprintf(stderr, "pool_bench: spike...\n");
    result s_ours = run(true, 50, 5, 50, 150, 2000, 0, 1);
    result s_base = run(false, 50, 5, 50, 150, 2000, 0, 1);

    printf("| %-58s | %12s | %12s | %7s |\n", "metric", "ours", "baseline", "ratio");
    printf("|%s|%s|%s|%s|\n", "------------------------------------------------------------",
           "--------------", "--------------", "---------");
    row("uncontended cycles/s (1 thread, max 4)", u_ours.cycles_per_s, u_base.cycles_per_s, 0);
    row("oversubscribed cycles/s (16 thr, max 4, no work)", z_ours.cycles_per_s,
        z_base.cycles_per_s, 0);
    row("oversubscribed, no work: slowest thread's share (1=fair)", z_ours.fewest_share,
        z_base.fewest_share, 2);
    row("oversubscribed cycles/s (16 thr, max 4, 200 us work)", o_ours.cycles_per_s,
        o_base.cycles_per_s, 0);
    row("oversubscribed, 200 us: acquire wait p50 ms", o_ours.p50_ms, o_base.p50_ms, 3);
    row("oversubscribed, 200 us: acquire wait p99 ms", o_ours.p99_ms, o_base.p99_ms, 3);
    row("oversubscribed, 200 us: acquire wait max ms", o_ours.max_ms, o_base.max_ms, 3);
    row("oversubscribed, 200 us: slowest thread's share (1=fair)", o_ours.fewest_share,
        o_base.fewest_share, 2);
    row("spike: connections opened beyond min 5", (double)s_ours.connects, (double)s_base.connects,
        0);
    row("spike: time until all 50 calls done ms", s_ours.elapsed_ms, s_base.elapsed_ms, 1);
    row("spike: acquire wait p99 ms", s_ours.p99_ms, s_base.p99_ms, 1);
    printf("ratio = ours / baseline. Spike: 50 threads x 1 call, 2 ms work, connect 150 ms, "
           "min 5, max 50.\n");
    return 0;
}
