/* fuzz_json: invariants the fuzz targets check on every JSON value a parser
 * produced. Header-only: each fuzz target is one file. abort() on a
 * violation is how libFuzzer learns of it. */
#ifndef SMCP_FUZZ_JSON_H
#define SMCP_FUZZ_JSON_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* Every string and key in v is valid UTF-8. */
static void check_utf8_tree(const json_t *v)
{
    if (json_is_string(v)) {
        if (!utf8_valid(json_string_value(v), json_string_length(v)))
            abort();
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            check_utf8_tree(json_array_get(v, i));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            if (!utf8_valid(k, strlen(k)))
                abort();
            check_utf8_tree(m);
        }
    }
}

/* v exists, is valid UTF-8 throughout and survives encoding and decoding. */
static void check_json_value(const json_t *v)
{
    if (!v)
        abort();
    check_utf8_tree(v);
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text)
        abort();
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!back || !json_equal(back, v))
        abort();
    json_decref(back);
    free(text);
}

#endif
