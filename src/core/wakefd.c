#include "core/wakefd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void wakefd_init(wakefd *w)
{
    w->rfd = w->wfd = -1;
}

static bool set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

bool wakefd_open(wakefd *w)
{
    int fds[2];
    wakefd_init(w);
    if (pipe(fds) != 0)
        return false;
    if (!set_flags(fds[0]) || !set_flags(fds[1])) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return false;
    }
    w->rfd = fds[0];
    w->wfd = fds[1];
    return true;
}

void wakefd_signal(const wakefd *w)
{
    int saved = errno; /* callable from a signal handler */
    if (w->wfd >= 0) {
        char b = 1;
        ssize_t n = write(w->wfd, &b, 1);
        (void)n; /* EAGAIN: a wake-up is already pending */
    }
    errno = saved;
}

bool wakefd_drain(const wakefd *w)
{
    char buf[64];
    bool any = false;
    while (w->rfd >= 0 && read(w->rfd, buf, sizeof buf) > 0)
        any = true;
    return any;
}

void wakefd_close(wakefd *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    if (w->wfd >= 0)
        close(w->wfd);
    wakefd_init(w);
}
