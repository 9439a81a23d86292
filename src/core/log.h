/* log: leveled logging to stderr, and to subscribed MCP sessions.
 *
 * Levels are the eight syslog levels MCP uses. Everything goes to stderr at
 * or above the stderr level (never stdout: in stdio mode stdout carries MCP
 * messages only). Sinks (an MCP session forwarding notifications/message)
 * register a callback; the callback runs on the logging thread with no log
 * lock held beyond the sink list's own, must not call log_* itself, and
 * receives strings valid only for the call. Callers must never pass secrets. */
#ifndef SMCP_LOG_H
#define SMCP_LOG_H

#include <stdbool.h>

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_NOTICE,
    LOG_WARNING,
    LOG_ERROR,
    LOG_CRITICAL,
    LOG_ALERT,
    LOG_EMERGENCY
} log_level;

/* origin: the log context of the thread that logged (log_set_context),
 * so a sink can forward only what concerns its own client. */
typedef void (*log_sink_fn)(void *ctx, log_level level, const char *logger, const char *msg,
                            const void *origin);

/* Parses an MCP level name ("debug" … "emergency"); false if unknown. */
bool log_level_parse(const char *name, log_level *out);
const char *log_level_name(log_level level);

void log_set_stderr_level(log_level level);
log_level log_stderr_level(void);
/* Sinks receive messages at or above their own level. Returns an id for
 * log_sink_remove, or -1 when the table is full. */
int log_sink_add(log_sink_fn fn, void *ctx, log_level level);
void log_sink_set_level(int id, log_level level);
void log_sink_remove(int id);

/* Tags what this thread logs from now on with ctx (NULL: nobody's, e.g.
 * start-up or the pool's own housekeeping). Returns the previous tag, to
 * restore when the work for ctx ends. */
const void *log_set_context(const void *ctx);

void log_msg(log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like log_msg, to stderr only: never to sinks (for lines that concern
 * the operator, not MCP log subscribers, such as an access log). */
void log_local(log_level level, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(logger, ...) log_msg(LOG_DEBUG, logger, __VA_ARGS__)
#define log_info(logger, ...) log_msg(LOG_INFO, logger, __VA_ARGS__)
#define log_warn(logger, ...) log_msg(LOG_WARNING, logger, __VA_ARGS__)
#define log_error(logger, ...) log_msg(LOG_ERROR, logger, __VA_ARGS__)

#endif
