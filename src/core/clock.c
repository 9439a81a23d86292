#include "core/clock.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

int64_t clock_now_ms(void)
{
    return clock_now_ns() / CLOCK_NS_PER_MS;
}

int64_t clock_deadline_in_ms(int64_t ms)
{
    if (ms <= 0)
        return 0;
    return clock_now_ns() + ms * CLOCK_NS_PER_MS;
}

int64_t clock_ms_left(int64_t deadline_ns)
{
    if (deadline_ns == 0)
        return INT64_MAX;
    int64_t left = deadline_ns - clock_now_ns();
    return left <= 0 ? 0 : (left + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS;
}

int64_t clock_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void clock_cond_init(pthread_cond_t *cond)
{
#ifdef __APPLE__
    pthread_cond_init(cond, NULL);
#else
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
#endif
}

bool clock_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ns)
{
    if (deadline_ns == 0) {
        pthread_cond_wait(cond, mu);
        return true;
    }
    int64_t left = deadline_ns - clock_now_ns();
    if (left <= 0)
        return false;
#ifdef __APPLE__
    /* macOS has no pthread_condattr_setclock; its relative wait is immune to
     * wall-clock jumps, which is what we need. */
    struct timespec rel = {.tv_sec = left / CLOCK_NS_PER_S, .tv_nsec = left % CLOCK_NS_PER_S};
    int rc = pthread_cond_timedwait_relative_np(cond, mu, &rel);
#else
    struct timespec abs = {.tv_sec = deadline_ns / CLOCK_NS_PER_S,
                           .tv_nsec = deadline_ns % CLOCK_NS_PER_S};
    int rc = pthread_cond_timedwait(cond, mu, &abs);
#endif
    return rc != ETIMEDOUT;
}

void clock_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * CLOCK_NS_PER_MS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
