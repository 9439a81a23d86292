/* clock: monotonic time and deadline waits.
 *
 * Every deadline in snowflake-mcp is an absolute CLOCK_MONOTONIC time in
 * nanoseconds (0 means "no deadline"), so wall-clock jumps never shorten or
 * stretch a wait. clock_cond_* wrap pthread condition variables so that timed
 * waits use the same clock on Linux and macOS. */
#ifndef SMCP_CLOCK_H
#define SMCP_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CLOCK_NS_PER_MS INT64_C(1000000)
#define CLOCK_NS_PER_S INT64_C(1000000000)

int64_t clock_now_ns(void);
int64_t clock_now_ms(void);
/* now + ms, or 0 (no deadline) when ms <= 0. */
int64_t clock_deadline_in_ms(int64_t ms);
/* Milliseconds left until deadline (0 if passed, INT64_MAX if none). */
int64_t clock_ms_left(int64_t deadline_ns);
/* Real-time wall clock in seconds since the epoch (for logs, JWT iat). */
int64_t clock_wall_s(void);

/* Initialises a condition variable whose timed waits use the monotonic clock. */
void clock_cond_init(pthread_cond_t *cond);
/* Waits on cond until signalled or deadline_ns (monotonic; 0 = forever).
 * Returns false on timeout. Spurious wake-ups return true: callers loop. */
bool clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ns);
/* Sleeps until deadline_ns unless woken; for tests and backoff only. */
void clock_sleep_ms(int64_t ms);

#endif
