/* metrics: process-wide counters for the /metrics endpoint.
 *
 * Counts tool calls and their latency by tool and outcome, and HTTP
 * answers by status code, and renders them (and a pool_stats snapshot) in
 * the Prometheus text exposition format. Recording is lock-light: counters
 * are relaxed atomics; a mutex is taken only the first time a tool name is
 * seen, to claim its slot. Safe to call from any thread.
 *
 * Ownership: the caller owns the metrics object; tool names are copied. */
#ifndef SMCP_METRICS_H
#define SMCP_METRICS_H

#include <stdint.h>

#include "core/strbuf.h"
#include "pool/pool.h"

typedef struct metrics metrics;

typedef enum metrics_outcome {
    METRICS_OK,             /* a result without isError */
    METRICS_ERROR,          /* a result with isError (bad SQL, timeout, busy…) */
    METRICS_CANCELLED,      /* cancelled by the client or a session end: no answer */
    METRICS_PROTOCOL_ERROR, /* a JSON-RPC error (unknown tool, bad params) */
    METRICS_NOUTCOMES
} metrics_outcome;

/* Latency histogram bounds in ms; the last bucket is +Inf. */
#define METRICS_LATENCY_BUCKETS 14
extern const double metrics_latency_bucket_ms[METRICS_LATENCY_BUCKETS];

metrics *metrics_new(void);
void metrics_free(metrics *m);

/* Records one finished tool call. Past 64 distinct names, calls are counted
 * under the tool name "other". */
void metrics_call(metrics *m, const char *tool, metrics_outcome outcome, int64_t latency_ns);
/* Records one HTTP answer (100..599; others are counted as 0). */
void metrics_http_status(metrics *m, int status);

/* Total calls recorded with this outcome (all tools). */
uint64_t metrics_calls_total(metrics *m, metrics_outcome outcome);
uint64_t metrics_http_count(metrics *m, int status);

/* Appends the call and HTTP families (snowflake_mcp_tool_calls_total,
 * snowflake_mcp_tool_call_duration_seconds, snowflake_mcp_http_responses_total). */
void metrics_render(metrics *m, strbuf *out);
/* Appends the pool families (snowflake_mcp_pool_*) from a snapshot. */
void metrics_render_pool(const pool_stats *st, strbuf *out);

#endif
