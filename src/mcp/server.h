/* server: the MCP protocol engine — JSON-RPC 2.0 messages in, messages out.
 *
 * An mcp_server holds what all clients share: the tools, the worker queue
 * and the limits. An mcp_session is one client's conversation: its
 * negotiated protocol version, log level and in-flight tool calls. A
 * transport feeds each incoming message to mcp_session_handle and gives the
 * session a send callback for outgoing ones.
 *
 * Threading: mcp_session_handle is called by one transport thread at a
 * time per session. ping, initialize, tools/list and the like are answered
 * on that thread at once; tools/call runs on the worker queue, so a slow
 * query never delays anything else and responses may come back out of
 * order. The send callback is called from any thread, one complete JSON
 * text per call (no newline), and must be thread-safe.
 *
 * Ownership: the server borrows tools, config and queue, which must outlive
 * it; sessions borrow the server. mcp_session_close cancels or awaits the
 * session's calls; after it returns no send happens. */
#ifndef SMCP_MCP_SERVER_H
#define SMCP_MCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/workq.h"
#include "tools/tools.h"

#define MCP_LATEST_VERSION "2025-11-25"

typedef struct mcp_server mcp_server;
typedef struct mcp_session mcp_session;
/* related: the id of the request this message answers or belongs to (a
 * progress notification of a call), NULL for messages of the session as a
 * whole (log notifications). Borrowed for the call. HTTP uses it to pick
 * the stream a message travels on; stdio ignores it. json NULL (len 0)
 * says that request `related` ended without an answer (it was cancelled):
 * a transport holding a stream open for it may close it. */
typedef void (*mcp_send_fn)(void *ctx, const char *json, size_t len, json_t *related);

/* JSON-RPC error codes MCP uses. */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603
};

/* How a tools/call ended, for the call observer. */
typedef enum mcp_call_outcome {
    MCP_CALL_OK,            /* a result without isError */
    MCP_CALL_ERROR,         /* a result with isError (including "busy") */
    MCP_CALL_CANCELLED,     /* cancelled: no answer sent */
    MCP_CALL_PROTOCOL_ERROR /* answered with a JSON-RPC error */
} mcp_call_outcome;

/* Called once per tools/call that reached a worker or was refused as busy,
 * from the worker thread, after the answer was sent. Must be thread-safe
 * and quick (metrics). */
typedef void (*mcp_call_observer)(void *ctx, const char *tool, mcp_call_outcome outcome,
                                  int64_t latency_ns);

/* instructions: text for the initialize result (copied; may be NULL).
 * tools may be NULL: a server with no tools (used by the fuzzer). */
mcp_server *mcp_server_new(tools_ctx *tools, const app_config *cfg, workq *wq,
                           const char *instructions);
void mcp_server_free(mcp_server *srv);
/* Sets (or clears, with NULL) the call observer. Call before any session
 * exists or after all have been closed: it is read without a lock. */
void mcp_server_set_call_observer(mcp_server *srv, mcp_call_observer fn, void *ctx);

/* True if version is one this server speaks. */
bool mcp_version_supported(const char *version);

/* With private logs, a session that set a log level receives only the
 * lines logged while serving its own requests; without (the default, for
 * a single stdio client), also the lines of nobody's (pool, start-up).
 * Set before sessions exist. */
void mcp_server_set_private_logs(mcp_server *srv, bool private_logs);

mcp_session *mcp_session_new(mcp_server *srv, mcp_send_fn send, void *send_ctx);
/* Handles one message (the bytes of one JSON text). */
void mcp_session_handle(mcp_session *s, const char *msg, size_t len);
/* Stops the session: with cancel, in-flight calls are cancelled (no
 * responses); without, they finish and answer. Waits until none runs. */
void mcp_session_close(mcp_session *s, bool cancel);
void mcp_session_free(mcp_session *s);
/* Tool calls accepted and not yet answered. */
size_t mcp_session_inflight(mcp_session *s);
/* The protocol version negotiated by initialize ("" before it). */
const char *mcp_session_version(mcp_session *s);

#endif
