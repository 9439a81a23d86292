#include "core/err.h"

#include "core/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(err_t *e)
{
    if (!e)
        return;
    e->kind = ERR_NONE;
    e->never_ran = false;
    e->msg[0] = '\0';
}

void err_set(err_t *e, err_kind kind, const char *fmt, ...)
{
    if (!e)
        return;
    e->kind = kind;
    /* Messages quote database text, which need not be valid UTF-8 and may
     * be cut anywhere: what is kept is valid UTF-8, so it can go into JSON. */
    char raw[sizeof e->msg * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    utf8_copy(e->msg, sizeof e->msg, raw);
}

void err_prefix(err_t *e, const char *fmt, ...)
{
    if (!e)
        return;
    char head[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    char raw[sizeof e->msg * 2];
    snprintf(raw, sizeof raw, "%s: %s", head, old);
    utf8_copy(e->msg, sizeof e->msg, raw);
}

const char *err_kind_name(err_kind kind)
{
    switch (kind) {
    case ERR_NONE:
        return "none";
    case ERR_INVALID:
        return "invalid";
    case ERR_REFUSED:
        return "refused";
    case ERR_SQL:
        return "sql";
    case ERR_CONN_LOST:
        return "connection_lost";
    case ERR_CONNECT:
        return "connect";
    case ERR_TIMEOUT:
        return "timeout";
    case ERR_CANCELLED:
        return "cancelled";
    case ERR_BUSY:
        return "busy";
    case ERR_NOT_FOUND:
        return "not_found";
    case ERR_AUTH:
        return "auth";
    case ERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}
