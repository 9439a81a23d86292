/* xalloc: allocation that never returns NULL.
 *
 * Out of memory aborts with a message on stderr: every caller can then treat
 * allocation as infallible, which keeps error paths about real failures. */
#ifndef SMCP_XALLOC_H
#define SMCP_XALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
