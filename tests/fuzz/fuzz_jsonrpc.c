/* Fuzzes what the stdio transport does with untrusted bytes: line framing
 * with a size bound, then JSON-RPC parsing and dispatch. Every answer must
 * be one valid JSON text without a newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "mcp/server.h"
#include "transport/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_answer(void *ctx, const char *json, size_t len, json_t *related)
{
    (void)ctx;
    if (!json) {
        if (!related)
            abort(); /* "ended unanswered" always names its request */
        return;
    }
    if (memchr(json, '\n', len))
        abort();
    json_t *m = json_loadb(json, len, 0, NULL);
    if (!m || !json_is_object(m) || !json_object_get(m, "jsonrpc"))
        abort();
    json_decref(m);
}

static void on_line(void *ctx, const char *line, size_t len)
{
    mcp_session_handle(ctx, line, len);
}

static void on_oversize(void *ctx, size_t len)
{
    (void)ctx;
    (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static app_config cfg;
    static mcp_server *srv;
    if (!srv) {
        log_set_stderr_level(LOG_EMERGENCY);
        config_defaults(&cfg);
        srv = mcp_server_new(NULL, &cfg, NULL, "fuzz");
    }
    mcp_session *s = mcp_session_new(srv, check_answer, NULL);
    lines *l = lines_new(4096, on_line, on_oversize, s);
    lines_feed(l, (const char *)data, size);
    lines_finish(l);
    lines_free(l);
    mcp_session_close(s, true);
    mcp_session_free(s);
    return 0;
}
