/* workq: a fixed set of worker threads running queued jobs.
 *
 * Jobs run in submission order on any free worker. The queue is bounded:
 * workq_submit refuses (returns false) instead of growing without limit,
 * so the caller can answer "busy". A job owns its arg; the job function
 * must free it. workq_destroy runs every job already queued, then joins
 * the workers. */
#ifndef SMCP_WORKQ_H
#define SMCP_WORKQ_H

#include <stdbool.h>
#include <stddef.h>

typedef struct workq workq;
typedef void (*workq_fn)(void *arg);

workq *workq_new(int threads, size_t max_queued);
/* False when max_queued jobs already wait or the queue is shutting down;
 * fn is then not called and arg stays the caller's. */
bool workq_submit(workq *q, workq_fn fn, void *arg);
/* Jobs waiting plus running. */
void workq_destroy(workq *q);

#endif
