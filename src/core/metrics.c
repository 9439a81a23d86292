#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/xalloc.h"

#define MAX_TOOLS 64
#define TOOL_NAME_MAX 64

const double metrics_latency_bucket_ms[METRICS_LATENCY_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000, 0 /* +Inf */};

static const char *const outcome_names[METRICS_NOUTCOMES] = {"ok", "error", "cancelled",
                                                             "protocol_error"};

/* One (tool, outcome) series: a count, a latency sum and buckets. */
typedef struct series {
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t bucket[METRICS_LATENCY_BUCKETS]; /* not cumulative */
} series;

typedef struct tool_slot {
    char name[TOOL_NAME_MAX];
    series by_outcome[METRICS_NOUTCOMES];
} tool_slot;

struct metrics {
    pthread_mutex_t claim_mu;       /* serialises claiming a new slot */
    atomic_int ntools;              /* slots [0, ntools) have their name set */
    tool_slot tools[MAX_TOOLS + 1]; /* the last one is "other" */
    atomic_uint_fast64_t http[600];
};

metrics *metrics_new(void)
{
    metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->claim_mu, NULL);
    snprintf(m->tools[MAX_TOOLS].name, TOOL_NAME_MAX, "other");
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->claim_mu);
    free(m);
}

static tool_slot *find_tool(metrics *m, const char *tool)
{
    int n = atomic_load_explicit(&m->ntools, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (strncmp(m->tools[i].name, tool, TOOL_NAME_MAX - 1) == 0)
            return &m->tools[i];
    }
    return NULL;
}

/* The slot of tool, claimed on first sight; names are published by the
 * release store of ntools, so readers never see a half-written name. */
static tool_slot *tool_slot_of(metrics *m, const char *tool)
{
    tool_slot *t = find_tool(m, tool);
    if (t)
        return t;
    pthread_mutex_lock(&m->claim_mu);
    t = find_tool(m, tool);
    if (!t) {
        int n = atomic_load_explicit(&m->ntools, memory_order_relaxed);
        if (n < MAX_TOOLS) {
            t = &m->tools[n];
            snprintf(t->name, TOOL_NAME_MAX, "%s", tool);
            atomic_store_explicit(&m->ntools, n + 1, memory_order_release);
        } else {
            t = &m->tools[MAX_TOOLS];
        }
    }
    pthread_mutex_unlock(&m->claim_mu);
    return t;
}

void metrics_call(metrics *m, const char *tool, metrics_outcome outcome, int64_t latency_ns)
{
    if (!m || (unsigned)outcome >= METRICS_NOUTCOMES)
        return;
    series *s = &tool_slot_of(m, tool ? tool : "")->by_outcome[outcome];
    double ms = (double)(latency_ns > 0 ? latency_ns : 0) / 1e6;
    int b = 0;
    while (b < METRICS_LATENCY_BUCKETS - 1 && ms > metrics_latency_bucket_ms[b])
        b++;
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(ms * 1000), memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void metrics_http_status(metrics *m, int status)
{
    if (!m)
        return;
    atomic_fetch_add_explicit(&m->http[status >= 100 && status < 600 ? status : 0], 1,
                              memory_order_relaxed);
}

uint64_t metrics_calls_total(metrics *m, metrics_outcome outcome)
{
    uint64_t total = 0;
    int n = atomic_load_explicit(&m->ntools, memory_order_acquire);
    for (int i = 0; i <= MAX_TOOLS; i++) {
        if (i < n || i == MAX_TOOLS)
            total +=
                atomic_load_explicit(&m->tools[i].by_outcome[outcome].count, memory_order_relaxed);
    }
    return total;
}

uint64_t metrics_http_count(metrics *m, int status)
{
    return atomic_load_explicit(&m->http[status >= 100 && status < 600 ? status : 0],
                                memory_order_relaxed);
}

/* Tool names come from clients: keep label values printable and unquoted. */
static void put_label(strbuf *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            sb_putc(out, '\\');
        sb_putc(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
    }
}

static void render_series(strbuf *out, const char *tool, const char *outcome, series *s)
{
    uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
    if (count == 0)
        return;
    sb_puts(out, "snowflake_mcp_tool_calls_total{tool=\"");
    put_label(out, tool);
    sb_printf(out, "\",outcome=\"%s\"} %llu\n", outcome, (unsigned long long)count);
    uint64_t cum = 0;
    for (int b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
        cum += atomic_load_explicit(&s->bucket[b], memory_order_relaxed);
        sb_puts(out, "snowflake_mcp_tool_call_duration_seconds_bucket{tool=\"");
        put_label(out, tool);
        if (b == METRICS_LATENCY_BUCKETS - 1)
            sb_printf(out, "\",outcome=\"%s\",le=\"+Inf\"} %llu\n", outcome,
                      (unsigned long long)cum);
        else
            sb_printf(out, "\",outcome=\"%s\",le=\"%g\"} %llu\n", outcome,
                      metrics_latency_bucket_ms[b] / 1000.0, (unsigned long long)cum);
    }
    sb_puts(out, "snowflake_mcp_tool_call_duration_seconds_sum{tool=\"");
    put_label(out, tool);
    sb_printf(out, "\",outcome=\"%s\"} %.6f\n", outcome,
              (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6);
    sb_puts(out, "snowflake_mcp_tool_call_duration_seconds_count{tool=\"");
    put_label(out, tool);
    sb_printf(out, "\",outcome=\"%s\"} %llu\n", outcome, (unsigned long long)count);
}

void metrics_render(metrics *m, strbuf *out)
{
    int n = atomic_load_explicit(&m->ntools, memory_order_acquire);
    sb_puts(out, "# HELP snowflake_mcp_tool_calls_total Tool calls finished, by tool and "
                 "outcome.\n# TYPE snowflake_mcp_tool_calls_total counter\n");
    strbuf hist;
    sb_init(&hist);
    for (int i = 0; i <= MAX_TOOLS; i++) {
        if (i >= n && i != MAX_TOOLS)
            continue;
        for (int o = 0; o < METRICS_NOUTCOMES; o++)
            render_series(&hist, m->tools[i].name, outcome_names[o], &m->tools[i].by_outcome[o]);
    }
    /* Each family's lines must be contiguous: split the rendered series. */
    const char *line = hist.data;
    strbuf durations;
    sb_init(&durations);
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line) + 1;
        if (strncmp(line, "snowflake_mcp_tool_calls_total", 30) == 0)
            sb_append(out, line, len);
        else
            sb_append(&durations, line, len);
        line += len;
    }
    sb_puts(out, "# HELP snowflake_mcp_tool_call_duration_seconds Tool call latency, by tool "
                 "and outcome.\n# TYPE snowflake_mcp_tool_call_duration_seconds histogram\n");
    sb_append(out, durations.data, durations.len);
    sb_free(&durations);
    sb_free(&hist);
    sb_puts(out, "# HELP snowflake_mcp_http_responses_total HTTP responses, by status code.\n"
                 "# TYPE snowflake_mcp_http_responses_total counter\n");
    for (int st = 0; st < 600; st++) {
        uint64_t c = atomic_load_explicit(&m->http[st], memory_order_relaxed);
        if (c)
            sb_printf(out, "snowflake_mcp_http_responses_total{code=\"%d\"} %llu\n", st,
                      (unsigned long long)c);
    }
}

static void gauge(strbuf *out, const char *name, const char *help, long long v)
{
    sb_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, v);
}

static void counter(strbuf *out, const char *name, const char *help, uint64_t v)
{
    sb_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
              (unsigned long long)v);
}

void metrics_render_pool(const pool_stats *st, strbuf *out)
{
    static const char *const reasons[POOL_CLOSE_NREASONS] = {"idle", "lifetime", "broken", "health",
                                                             "shutdown"};
    gauge(out, "snowflake_mcp_pool_connections", "Open connections (closing ones included).",
          st->total);
    gauge(out, "snowflake_mcp_pool_connections_in_use", "Connections lent out.", st->in_use);
    gauge(out, "snowflake_mcp_pool_connections_idle", "Idle connections.", st->idle);
    gauge(out, "snowflake_mcp_pool_connecting", "Connects in progress.", st->connecting);
    gauge(out, "snowflake_mcp_pool_waiting", "Borrowers waiting for a connection.", st->waiting);
    counter(out, "snowflake_mcp_pool_acquired_total", "Successful acquires.", st->acquired);
    counter(out, "snowflake_mcp_pool_created_total", "Connections opened.", st->created);
    counter(out, "snowflake_mcp_pool_failed_connects_total", "Failed connect attempts.",
            st->failed_connects);
    counter(out, "snowflake_mcp_pool_retries_total", "Connect attempts after a failure.",
            st->retries);
    counter(out, "snowflake_mcp_pool_timeouts_total", "Acquires that timed out.", st->timeouts);
    counter(out, "snowflake_mcp_pool_failed_health_checks_total", "Failed health checks.",
            st->failed_health_checks);
    counter(out, "snowflake_mcp_pool_leaks_total", "Leases held past the leak threshold.",
            st->leaks);
    sb_puts(out, "# HELP snowflake_mcp_pool_closed_total Connections closed, by reason.\n"
                 "# TYPE snowflake_mcp_pool_closed_total counter\n");
    for (int r = 0; r < POOL_CLOSE_NREASONS; r++)
        sb_printf(out, "snowflake_mcp_pool_closed_total{reason=\"%s\"} %llu\n", reasons[r],
                  (unsigned long long)st->closed[r]);
    sb_puts(out, "# HELP snowflake_mcp_pool_acquire_wait_seconds Wait for a connection.\n"
                 "# TYPE snowflake_mcp_pool_acquire_wait_seconds histogram\n");
    for (int b = 0; b < POOL_WAIT_BUCKETS; b++) {
        if (b == POOL_WAIT_BUCKETS - 1)
            sb_printf(out, "snowflake_mcp_pool_acquire_wait_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)st->wait_bucket[b]);
        else
            sb_printf(out, "snowflake_mcp_pool_acquire_wait_seconds_bucket{le=\"%g\"} %llu\n",
                      pool_wait_bucket_ms[b] / 1000.0, (unsigned long long)st->wait_bucket[b]);
    }
    sb_printf(out, "snowflake_mcp_pool_acquire_wait_seconds_sum %.6f\n", st->wait_sum_ms / 1000.0);
    sb_printf(out, "snowflake_mcp_pool_acquire_wait_seconds_count %llu\n",
              (unsigned long long)st->wait_bucket[POOL_WAIT_BUCKETS - 1]);
}
