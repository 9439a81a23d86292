/* lines: splits a byte stream into newline-delimited messages, bounded.
 *
 * The stdio transport feeds whatever read() returned; complete lines come
 * out through a callback (without the '\n' or a trailing '\r', and never
 * empty). A line longer than the limit is dropped as it streams in (memory
 * stays bounded) and reported once through the oversize callback when its
 * newline arrives. The lines value owns its buffer; the line pointer passed
 * to the callback is valid only during the call. */
#ifndef SMCP_LINES_H
#define SMCP_LINES_H

#include <stddef.h>

typedef struct lines lines;
typedef void (*lines_line_fn)(void *ctx, const char *line, size_t len);
typedef void (*lines_oversize_fn)(void *ctx, size_t len);

lines *lines_new(size_t max_line, lines_line_fn on_line, lines_oversize_fn on_oversize, void *ctx);
void lines_feed(lines *l, const char *data, size_t n);
/* End of stream: a final line without '\n' is delivered too. */
void lines_finish(lines *l);
void lines_free(lines *l);

#endif
