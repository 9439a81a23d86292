#include "transport/lines.h"

#include <string.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

struct lines {
    size_t max_line;
    lines_line_fn on_line;
    lines_oversize_fn on_oversize;
    void *ctx;
    strbuf buf;
    size_t dropped; /* bytes of the current line dropped for being too long */
};

lines *lines_new(size_t max_line, lines_line_fn on_line, lines_oversize_fn on_oversize, void *ctx)
{
    lines *l = xcalloc(1, sizeof *l);
    l->max_line = max_line;
    l->on_line = on_line;
    l->on_oversize = on_oversize;
    l->ctx = ctx;
    sb_init(&l->buf);
    return l;
}

static void emit(lines *l)
{
    if (l->dropped > 0) {
        l->on_oversize(l->ctx, l->dropped + l->buf.len);
    } else {
        size_t n = l->buf.len;
        if (n > 0 && l->buf.data[n - 1] == '\r')
            n--;
        if (n > 0)
            l->on_line(l->ctx, l->buf.data, n);
    }
    sb_reset(&l->buf);
    l->dropped = 0;
}

/* Adds part of a line, switching to dropping once it grows past the limit. */
static void take(lines *l, const char *p, size_t n)
{
    if (l->dropped > 0 || l->buf.len + n > l->max_line) {
        l->dropped += l->buf.len + n;
        sb_reset(&l->buf);
        return;
    }
    sb_append(&l->buf, p, n);
}

void lines_feed(lines *l, const char *data, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        if (!nl) {
            take(l, data, n);
            return;
        }
        take(l, data, (size_t)(nl - data));
        emit(l);
        n -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
}

void lines_finish(lines *l)
{
    if (l->buf.len > 0 || l->dropped > 0)
        emit(l);
}

void lines_free(lines *l)
{
    if (!l)
        return;
    sb_free(&l->buf);
    free(l);
}
