/* stdio: the MCP stdio transport — one JSON message per line.
 *
 * Reads stdin until EOF or a stop signal, hands each line to one MCP
 * session, and writes each outgoing message as one line on stdout under a
 * lock, so concurrent answers never interleave. Nothing else may write to
 * stdout while it runs. On EOF, calls in flight finish and answer (a piped
 * request still gets its answer); on SIGTERM/SIGINT they are cancelled. */
#ifndef SMCP_STDIO_H
#define SMCP_STDIO_H

#include "mcp/server.h"

/* stop_fd: readable when the process should stop (signals_install), or -1.
 * Returns 0 on a clean end. */
int stdio_serve(mcp_server *srv, int in_fd, int out_fd, int stop_fd, size_t max_message);

#endif
