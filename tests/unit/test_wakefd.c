/* The self-pipe: a wake-up is seen by poll, drained once, and signalling a
 * full pipe never blocks (a thread that cancels must not hang). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>

#include "core/wakefd.h"
#include "testlib.h"

static int readable(const wakefd *w, int timeout_ms)
{
    struct pollfd p = {.fd = w->rfd, .events = POLLIN};
    return poll(&p, 1, timeout_ms);
}

static void test_signal_then_drain(void)
{
    wakefd w;
    REQUIRE(wakefd_open(&w));
    CHECK(readable(&w, 0) == 0);
    CHECK(!wakefd_drain(&w));
    wakefd_signal(&w);
    wakefd_signal(&w);
    CHECK(readable(&w, 0) == 1);
    CHECK(wakefd_drain(&w));
    CHECK(readable(&w, 0) == 0); /* both bytes went in one drain */
    CHECK((fcntl(w.rfd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((fcntl(w.wfd, F_GETFL) & O_NONBLOCK) != 0);
    wakefd_close(&w);
    CHECK(w.rfd == -1 && w.wfd == -1);
    wakefd_close(&w); /* twice is harmless */
}

static void test_full_pipe_does_not_block(void)
{
    wakefd w;
    REQUIRE(wakefd_open(&w));
    for (int i = 0; i < 200000; i++) /* far beyond any pipe buffer */
        wakefd_signal(&w);
    CHECK(wakefd_drain(&w));
    CHECK(!wakefd_drain(&w));
    wakefd_close(&w);
}

static void *signal_it(void *arg)
{
    wakefd_signal(arg);
    return NULL;
}

static void test_wakes_another_thread(void)
{
    wakefd w;
    REQUIRE(wakefd_open(&w));
    pthread_t th;
    pthread_create(&th, NULL, signal_it, &w);
    CHECK(readable(&w, 10000) == 1);
    pthread_join(th, NULL);
    wakefd_close(&w);
}

static void test_closed_is_inert(void)
{
    wakefd w;
    wakefd_init(&w);
    wakefd_signal(&w);
    CHECK(!wakefd_drain(&w));
    wakefd_close(&w);
}

int main(void)
{
    TEST_RUN(test_signal_then_drain);
    TEST_RUN(test_full_pipe_does_not_block);
    TEST_RUN(test_wakes_another_thread);
    TEST_RUN(test_closed_is_inert);
    return test_summary();
}
