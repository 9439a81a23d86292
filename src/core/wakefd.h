/* wakefd: a self-pipe that lets one thread (or a signal handler) wake
 * another that sleeps in poll().
 *
 * The owner opens it, polls rfd for POLLIN, drains it after waking and
 * closes it. wakefd_signal is async-signal-safe and never blocks: a full
 * pipe already means "wake up". Both ends are non-blocking and close-on-exec
 * (a pipe rather than eventfd so that macOS builds). */
#ifndef SMCP_WAKEFD_H
#define SMCP_WAKEFD_H

#include <stdbool.h>

typedef struct wakefd {
    int rfd, wfd; /* -1 when closed */
} wakefd;

/* Sets both ends to -1 so that wakefd_close is safe before or after a
 * failed open. */
void wakefd_init(wakefd *w);
/* False with errno set when the pipe cannot be made. */
bool wakefd_open(wakefd *w);
void wakefd_signal(const wakefd *w);
/* Reads every pending wake-up; returns whether there was one. */
bool wakefd_drain(const wakefd *w);
void wakefd_close(wakefd *w);

#endif
