#include "core/signals.h"

#include <signal.h>
#include <string.h>

#include "core/wakefd.h"

static wakefd stop_pipe = {-1, -1};

static void on_stop(int sig)
{
    (void)sig;
    wakefd_signal(&stop_pipe);
}

int signals_install(void)
{
    if (stop_pipe.rfd >= 0)
        return stop_pipe.rfd;
    if (!wakefd_open(&stop_pipe))
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return stop_pipe.rfd;
}
