#include "core/jsonx.h"

#include <stdio.h>
#include <stdlib.h>

/* Significant digits that print d so it reads back as the same double. */
static int real_digits(double d)
{
    char buf[40];
    for (int p = 15; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return p;
    }
    return 17;
}

/* The fewest digits that print every real in v exactly. jansson prints
 * all reals of a message with one precision; its default of 17 turns
 * 263.14 into 263.13999999999999. Most results need 15, which prints
 * the short form; a value that needs more gets it, for every value. */
static int message_digits(const json_t *v)
{
    int most = 15;
    size_t i;
    const char *key;
    json_t *item;
    json_t *mv = (json_t *)v; /* the foreach macros want a non-const */
    if (json_is_real(v))
        return real_digits(json_real_value(v));
    if (json_is_array(v)) {
        json_array_foreach(mv, i, item)
        {
            int d = message_digits(item);
            most = d > most ? d : most;
            if (most == 17)
                break;
        }
    } else if (json_is_object(v)) {
        json_object_foreach(mv, key, item)
        {
            int d = message_digits(item);
            most = d > most ? d : most;
            if (most == 17)
                break;
        }
    }
    return most;
}

char *jsonx_dumps(const json_t *v, size_t flags)
{
    return json_dumps(v, flags | JSON_REAL_PRECISION(message_digits(v)));
}
