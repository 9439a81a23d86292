#include "core/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int pipe_fds[2] = {-1, -1};

static void on_stop(int sig)
{
    int saved = errno;
    if (pipe_fds[1] >= 0) {
        char b = 1;
        ssize_t n = write(pipe_fds[1], &b, 1);
        (void)n;
    }
    errno = saved;
}

int signals_install(void)
{
    if (pipe_fds[0] >= 0)
        return pipe_fds[0];
    if (pipe(pipe_fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return pipe_fds[0];
}
