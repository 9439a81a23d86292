/* jsonx: JSON text with reals printed as short as they can be, exactly.
 *
 * jsonx_dumps is json_dumps with the fewest significant digits (15 to 17)
 * that print every real of the value so it reads back as the same double.
 * The caller frees the text; NULL when jansson cannot encode the value. */
#ifndef SMCP_JSONX_H
#define SMCP_JSONX_H

#include <jansson.h>

char *jsonx_dumps(const json_t *v, size_t flags);

#endif
