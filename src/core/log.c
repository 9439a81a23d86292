#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MAX_SINKS 64

static const char *const level_names[] = {"debug", "info",     "notice", "warning",
                                          "error", "critical", "alert",  "emergency"};

typedef struct sink {
    log_sink_fn fn;
    void *ctx;
    log_level level;
    bool used;
} sink;

static pthread_mutex_t sinks_mu = PTHREAD_MUTEX_INITIALIZER;
static sink sinks[LOG_MAX_SINKS];
static atomic_int stderr_level = LOG_INFO;
static atomic_int active_sinks;
static _Thread_local const void *thread_context;

const void *log_set_context(const void *ctx)
{
    const void *old = thread_context;
    thread_context = ctx;
    return old;
}

bool log_level_parse(const char *name, log_level *out)
{
    for (int i = 0; i <= LOG_EMERGENCY; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

const char *log_level_name(log_level level)
{
    if ((int)level < 0 || level > LOG_EMERGENCY)
        return "unknown";
    return level_names[level];
}

void log_set_stderr_level(log_level level)
{
    atomic_store(&stderr_level, (int)level);
}

log_level log_stderr_level(void)
{
    return (log_level)atomic_load(&stderr_level);
}

int log_sink_add(log_sink_fn fn, void *ctx, log_level level)
{
    pthread_mutex_lock(&sinks_mu);
    int id = -1;
    for (int i = 0; i < LOG_MAX_SINKS; i++) {
        if (!sinks[i].used) {
            sinks[i] = (sink){.fn = fn, .ctx = ctx, .level = level, .used = true};
            atomic_fetch_add(&active_sinks, 1);
            id = i;
            break;
        }
    }
    pthread_mutex_unlock(&sinks_mu);
    return id;
}

void log_sink_set_level(int id, log_level level)
{
    if (id < 0 || id >= LOG_MAX_SINKS)
        return;
    pthread_mutex_lock(&sinks_mu);
    sinks[id].level = level;
    pthread_mutex_unlock(&sinks_mu);
}

void log_sink_remove(int id)
{
    if (id < 0 || id >= LOG_MAX_SINKS)
        return;
    pthread_mutex_lock(&sinks_mu);
    if (sinks[id].used) {
        sinks[id].used = false;
        atomic_fetch_sub(&active_sinks, 1);
    }
    pthread_mutex_unlock(&sinks_mu);
}

static void write_stderr(log_level level, const char *logger, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    fprintf(stderr, "%s.%03ldZ %-7s [%s] %s\n", when, ts.tv_nsec / 1000000, level_names[level],
            logger, msg);
}

/* Formats once; writes to stderr at its level and, when to_sinks, to every
 * sink at its level. */
static void log_v(log_level level, const char *logger, bool to_sinks, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void log_v(log_level level, const char *logger, bool to_sinks, const char *fmt, va_list ap)
{
    bool to_stderr = (int)level >= atomic_load(&stderr_level);
    to_sinks = to_sinks && atomic_load(&active_sinks) > 0;
    if (!to_stderr && !to_sinks)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (to_stderr)
        write_stderr(level, logger, msg);
    if (!to_sinks)
        return;
    pthread_mutex_lock(&sinks_mu);
    for (int i = 0; i < LOG_MAX_SINKS; i++) {
        if (sinks[i].used && level >= sinks[i].level)
            sinks[i].fn(sinks[i].ctx, level, logger, msg, thread_context);
    }
    pthread_mutex_unlock(&sinks_mu);
}

void log_msg(log_level level, const char *logger, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(level, logger, true, fmt, ap);
    va_end(ap);
}

void log_local(log_level level, const char *logger, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(level, logger, false, fmt, ap);
    va_end(ap);
}
