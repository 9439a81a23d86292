#include "core/workq.h"

#include <pthread.h>

#include "core/clock.h"
#include "core/xalloc.h"

typedef struct job {
    workq_fn fn;
    void *arg;
    struct job *next;
} job;

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t more;
    job *head, *tail;
    size_t queued, running, max_queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping)
            clock_cond_wait_until(&q->more, &q->mu, 0);
        if (!q->head)
            break;
        job *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->queued--;
        q->running++;
        pthread_mutex_unlock(&q->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&q->mu);
        q->running--;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

workq *workq_new(int threads, size_t max_queued)
{
    workq *q = xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    clock_cond_init(&q->more);
    q->max_queued = max_queued;
    q->threads = xcalloc((size_t)threads, sizeof *q->threads);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
            break;
        q->nthreads++;
    }
    return q;
}

bool workq_submit(workq *q, workq_fn fn, void *arg)
{
    job *j = xmalloc(sizeof *j);
    *j = (job){fn, arg, NULL};
    pthread_mutex_lock(&q->mu);
    if (q->stopping || q->queued >= q->max_queued || q->nthreads == 0) {
        pthread_mutex_unlock(&q->mu);
        free(j);
        return false;
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->queued++;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
    return true;
}

void workq_destroy(workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
