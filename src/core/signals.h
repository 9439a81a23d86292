/* signals: turns SIGTERM and SIGINT into a readable file descriptor.
 *
 * signals_install sets handlers that write one byte to a self-pipe (the
 * only async-signal-safe way to wake a poll loop) and ignores SIGPIPE, so
 * a closed client pipe is an EPIPE error, not a dead process. Call once
 * from main before starting threads. */
#ifndef SMCP_SIGNALS_H
#define SMCP_SIGNALS_H

/* Returns the fd that becomes readable when a stop signal arrives, or -1. */
int signals_install(void);

#endif
