/* http_policy: who may talk to the HTTP transport, and how it listens.
 *
 * Pure checks on header values, kept apart from libmicrohttpd so that they
 * can be tested alone: bearer API keys (from SNOWFLAKE_MCP_HTTP_API_KEYS
 * and/or a key file, compared in constant time), the Origin allow-list
 * (loopback origins on any port plus the configured ones), the Host
 * allow-list against DNS rebinding (loopback names, the bind address and
 * the configured hosts), Accept and Content-Type matching, and parsing of
 * the `[ADDR:]PORT` listen argument.
 *
 * Ownership: http_policy_new copies what it needs from cfg; the policy
 * owns its keys and wipes them on free. Nothing here logs a key. */
#ifndef SMCP_HTTP_POLICY_H
#define SMCP_HTTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

typedef struct http_policy http_policy;

/* bind_host: the address the server listens on (as given, e.g. "0.0.0.0",
 * "::1", "localhost"). Fails when the key file cannot be read. */
http_policy *http_policy_new(const app_config *cfg, const char *bind_host, err_t *err);
void http_policy_free(http_policy *p);

/* Keys loaded from both sources. */
size_t http_policy_key_count(const http_policy *p);
/* authorization: the Authorization header (NULL if absent). True when no
 * key is configured, or when it is "Bearer <key>" for a configured key. */
bool http_policy_auth_ok(const http_policy *p, const char *authorization);
/* True when origin is absent (NULL: not a browser) or allowed. */
bool http_policy_origin_ok(const http_policy *p, const char *origin);
/* True when host (the Host header, with optional port) names this server.
 * An absent Host (HTTP/1.0) is accepted. When bound to a wildcard address
 * with no allowed hosts configured, any Host is accepted (keys guard it). */
bool http_policy_host_ok(const http_policy *p, const char *host);

/* True for 127.0.0.0/8, ::1 and "localhost". */
bool http_addr_is_loopback(const char *host);
/* True for 0.0.0.0, :: and "" (all interfaces). */
bool http_addr_is_wildcard(const char *host);
/* Parses "PORT", "ADDR:PORT" or "[V6ADDR]:PORT"; host gets "127.0.0.1"
 * when no address is given. Port 0 asks for any free port. */
bool http_parse_listen(const char *text, char *host, size_t host_len, int *port, err_t *err);

/* True if the Accept header value lists type (e.g. "text/event-stream"),
 * its subtype wildcard or the full wildcard. NULL accepts nothing. */
bool http_accepts(const char *accept, const char *type);
/* True if content_type is application/json (parameters allowed). */
bool http_is_json_type(const char *content_type);

#endif
