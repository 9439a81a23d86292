/* http: the MCP Streamable HTTP transport (2025-11-25) on libmicrohttpd.
 *
 * One daemon serves many clients from one mcp_server (one pool). Endpoint
 * /mcp: POST carries one JSON-RPC message (requests are answered with
 * application/json, or text/event-stream when progress or log messages may
 * precede the answer; notifications and responses get 202); GET opens a
 * server-to-client SSE stream; DELETE ends the session. Sessions are named
 * by a random Mcp-Session-Id issued with the initialize result. Also
 * /healthz, /readyz and /metrics (Prometheus text).
 *
 * Security: Host and Origin allow-lists (DNS rebinding), bearer API keys
 * (required off loopback unless insecure), body and header size limits.
 * Backpressure: per-session call cap and the bounded worker queue answer
 * "busy" tool results (isError, retry hint); the session table is capped
 * (503 + Retry-After). Idle sessions expire and their calls are cancelled.
 *
 * Ownership: http_serve borrows srv, the pool (for /readyz and /metrics)
 * and cfg for its whole run; it installs a call observer on srv and clears
 * it before returning. */
#ifndef SMCP_HTTP_H
#define SMCP_HTTP_H

#include <stdbool.h>

#include "core/config.h"
#include "mcp/server.h"
#include "pool/pool.h"

typedef struct http_options {
    const char *listen; /* "[ADDR:]PORT"; ADDR defaults to 127.0.0.1 */
    bool insecure;      /* allow a non-loopback address without API keys */
} http_options;

/* Serves until stop_fd (signals_install) becomes readable, then stops
 * accepting, lets calls in flight finish for cfg->http_shutdown_grace_ms,
 * ends every session and returns 0. Returns 2 (message on stderr) when it
 * cannot start: bad address, port in use, keys missing off loopback. */
int http_serve(mcp_server *srv, pool *p, const app_config *cfg, const http_options *opt,
               int stop_fd);

#endif
