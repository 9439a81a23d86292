#include "transport/stdio.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/signals.h"
#include "transport/lines.h"

typedef struct out_stream {
    pthread_mutex_t mu;
    int fd;
    bool broken;
} out_stream;

typedef struct reader {
    mcp_session *session;
    out_stream *out;
    size_t max_message;
} reader;

/* Writes one message and its newline, whole, under the lock. */
static void write_line(void *ctx, const char *json, size_t len, json_t *related)
{
    out_stream *o = ctx;
    if (!json)
        return; /* a request ended unanswered: nothing to write */
    pthread_mutex_lock(&o->mu);
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    while (!o->broken && (iov[0].iov_len > 0 || iov[1].iov_len > 0)) {
        int first = iov[0].iov_len > 0 ? 0 : 1;
        ssize_t n = writev(o->fd, iov + first, 2 - first);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            o->broken = true;
            break;
        }
        for (int i = first; i < 2 && n > 0; i++) {
            size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            n -= (ssize_t)k;
        }
    }
    pthread_mutex_unlock(&o->mu);
}

static void on_line(void *ctx, const char *line, size_t len)
{
    reader *r = ctx;
    mcp_session_handle(r->session, line, len);
}

static void on_oversize(void *ctx, size_t len)
{
    reader *r = ctx;
    /* The message never reached the parser, so its id is unknown. */
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
                     "\"Invalid Request: message of %zu bytes exceeds the limit of %zu bytes "
                     "(SNOWFLAKE_MCP_MAX_MESSAGE_BYTES)\"}}",
                     len, r->max_message);
    log_warn("stdio", "dropped a message of %zu bytes (limit %zu)", len, r->max_message);
    write_line(r->out, msg, (size_t)n, NULL);
}

int stdio_serve(mcp_server *srv, int in_fd, int out_fd, int stop_fd, size_t max_message)
{
    out_stream out = {.fd = out_fd};
    pthread_mutex_init(&out.mu, NULL);
    mcp_session *s = mcp_session_new(srv, write_line, &out);
    reader r = {.session = s, .out = &out, .max_message = max_message};
    lines *l = lines_new(max_message, on_line, on_oversize, &r);
    bool stopped = false;
    char buf[65536];
    for (;;) {
        struct pollfd fds[2] = {{.fd = in_fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int rc = poll(fds, stop_fd >= 0 ? 2 : 1, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || (stop_fd >= 0 && (fds[1].revents & POLLIN))) {
            stopped = true;
            break;
        }
        ssize_t n = read(in_fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        lines_feed(l, buf, (size_t)n);
    }
    if (!stopped)
        lines_finish(l);
    log_info("stdio", "%s; %zu call(s) in flight %s",
             stopped ? "stop signal received" : "stdin closed", mcp_session_inflight(s),
             stopped ? "are cancelled" : "will finish");
    mcp_session_close(s, stopped);
    lines_free(l);
    mcp_session_free(s);
    pthread_mutex_destroy(&out.mu);
    return 0;
}
