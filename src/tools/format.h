/* format: turns a db_result into what a tool returns.
 *
 * fmt_markdown writes a readable markdown table (NULL shown as NULL, pipes
 * escaped, line breaks flattened, long cells cut with a marker) followed by
 * a line saying how many rows there are and whether more existed.
 * fmt_structured builds the typed structuredContent object. Both borrow the
 * result; fmt_structured returns a new reference the caller owns. */
#ifndef SMCP_FORMAT_H
#define SMCP_FORMAT_H

#include <jansson.h>

#include "core/strbuf.h"
#include "db/result.h"

/* The marker appended to a cut cell. */
#define FMT_CUT_MARKER "…"

void fmt_markdown(const db_result *r, int max_cell_chars, strbuf *out);
/* The summary line alone, e.g. "3 rows." or "10 rows shown (row limit 10);
 * more rows exist." limit is the cap the caller asked for (0: none). */
void fmt_summary(const db_result *r, size_t limit, double elapsed_ms, strbuf *out);
/* {columns:[{name,type,nullable}], rows, row_count, truncated,
 *  truncated_by?, elapsed_ms}. */
json_t *fmt_structured(const db_result *r, double elapsed_ms);
/* The JSON Schema of fmt_structured's object (new reference). */
json_t *fmt_output_schema(void);

#endif
