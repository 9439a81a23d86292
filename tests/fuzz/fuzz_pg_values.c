/* Fuzzes the reading of PostgreSQL text-format values (pgvalue), which come
 * from the server. Input: byte 0 picks a type, byte 1 the form, the rest is
 * the payload:
 *   - form even: the payload is one value's text, read as the type (any
 *     bytes, NULs included);
 *   - form odd: the payload is a list of elements split at NUL bytes (an
 *     element starting with 0x01 is SQL NULL), written as PostgreSQL's
 *     array_out would write a one-dimensional array of the type's element
 *     type, then read back.
 * Besides memory safety and leaks (ASan) it aborts when an invariant breaks:
 *   - every result is a JSON value that encodes, reads back equal and holds
 *     only valid UTF-8 strings;
 *   - an integer comes only from integer text of an integer or numeric
 *     type and has its value; a real only from float text that strtod
 *     reads whole; a boolean only from bool; json gives the document it
 *     holds (or its text); an array comes only from an array type and
 *     "{...}" text;
 *   - text of the plain types (text, varchar, uuid, interval, unknown
 *     OIDs), and text holding a NUL, is passed through unchanged (after
 *     U+FFFD repair of invalid UTF-8); bytea loses only its \x prefix;
 *   - a well-formed array gives one element per element written, null
 *     exactly for the NULLs, and each element equal to the same text read
 *     as a scalar of the element type. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "db/pgvalue.h"

#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scalars, arrays of each, and OIDs pgvalue does not know. */
static const unsigned int types[] = {
    PGVALUE_OID_BOOL,
    PGVALUE_OID_BYTEA,
    PGVALUE_OID_NAME,
    PGVALUE_OID_INT8,
    PGVALUE_OID_INT2,
    PGVALUE_OID_INT4,
    PGVALUE_OID_TEXT,
    PGVALUE_OID_OID,
    PGVALUE_OID_JSON,
    PGVALUE_OID_FLOAT4,
    PGVALUE_OID_FLOAT8,
    PGVALUE_OID_BPCHAR,
    PGVALUE_OID_VARCHAR,
    PGVALUE_OID_DATE,
    PGVALUE_OID_TIME,
    PGVALUE_OID_TIMESTAMP,
    PGVALUE_OID_TIMESTAMPTZ,
    PGVALUE_OID_INTERVAL,
    PGVALUE_OID_TIMETZ,
    PGVALUE_OID_NUMERIC,
    PGVALUE_OID_UUID,
    PGVALUE_OID_JSONB,
    1000,
    1001,
    1003,
    1005,
    1007,
    1009,
    1014,
    1015,
    1016,
    1021,
    1022,
    1028,
    1115,
    1182,
    1183,
    1185,
    1187,
    1231,
    1270,
    199,
    2951,
    3807,
    0,
    705,
    1790,
    3904,
};
#define NTYPES (sizeof types / sizeof *types)

/* ---- generic checks ------------------------------------------------------- */

/* The string v must be the n bytes at s, repaired to valid UTF-8. */
static void check_same_text(const json_t *v, const char *s, size_t n)
{
    size_t len = 0;
    char *clean = utf8_sanitize(s, n, &len);
    if (!json_is_string(v) || json_string_length(v) != len ||
        memcmp(json_string_value(v), clean, len) != 0)
        abort();
    free(clean);
}

/* ---- the scalar model ------------------------------------------------------ */

static bool is_int_type(unsigned int t)
{
    return t == PGVALUE_OID_INT2 || t == PGVALUE_OID_INT4 || t == PGVALUE_OID_INT8 ||
           t == PGVALUE_OID_OID;
}

static bool is_plain_text_type(unsigned int t)
{
    return t == PGVALUE_OID_TEXT || t == PGVALUE_OID_VARCHAR || t == PGVALUE_OID_BPCHAR ||
           t == PGVALUE_OID_NAME || t == PGVALUE_OID_UUID || t == PGVALUE_OID_INTERVAL || t == 0 ||
           t == 705 || t == 1790 || t == 3904;
}

/* Integer text as strtoll reads it: [space][+-]digits, and nothing after. */
static bool is_integer_text(const char *s, bool strict)
{
    if (!strict) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '+')
            s++;
    }
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

static void check_integer(unsigned int t, const char *s, const json_t *v)
{
    if (!(is_int_type(t) || t == PGVALUE_OID_NUMERIC))
        abort();
    /* numeric only turns plain -?digits into integers */
    if (!is_integer_text(s, t == PGVALUE_OID_NUMERIC))
        abort();
    errno = 0;
    long long want = strtoll(s, NULL, 10);
    if (errno || json_integer_value(v) != want)
        abort();
}

static void check_scalar(unsigned int t, const char *s, size_t n, const json_t *v)
{
    check_json_value(v);
    if (memchr(s, '\0', n)) {
        check_same_text(v, s, n); /* no type's text: kept whole */
        return;
    }
    if (t == PGVALUE_OID_JSON || t == PGVALUE_OID_JSONB) {
        /* The document itself, or the text when it is not one. */
        json_t *doc = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        if (doc ? !json_equal(doc, v) : (check_same_text(v, s, n), false))
            abort();
        json_decref(doc);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        check_integer(t, s, v);
        return;
    case JSON_REAL: {
        char *end;
        double d = strtod(s, &end);
        if ((t != PGVALUE_OID_FLOAT4 && t != PGVALUE_OID_FLOAT8) || end == s || *end ||
            json_real_value(v) != d)
            abort();
        return;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        if (t != PGVALUE_OID_BOOL || json_is_true(v) != (s[0] == 't'))
            abort();
        return;
    case JSON_OBJECT:
    case JSON_NULL:
        abort(); /* only json gives these */
    case JSON_ARRAY:
        if (!pgvalue_array_element(t) || s[0] != '{' || s[n - 1] != '}')
            abort();
        return;
    case JSON_STRING:
        break;
    }
    /* Strings. */
    if (t == PGVALUE_OID_BOOL)
        abort();
    if (is_int_type(t) && is_integer_text(s, true) && n < 19)
        abort(); /* fits int64 for sure: must have been an integer */
    if (is_plain_text_type(t) || (pgvalue_array_element(t) && s[0] != '{'))
        check_same_text(v, s, n);
    else if (t == PGVALUE_OID_BYTEA)
        check_same_text(v, s + (n >= 2 && s[0] == '\\' && s[1] == 'x' ? 2 : 0),
                        n - (n >= 2 && s[0] == '\\' && s[1] == 'x' ? 2 : 0));
    else if (t == PGVALUE_OID_DATE || t == PGVALUE_OID_TIME)
        check_same_text(v, s, n); /* nothing to rewrite without a date and a zone */
}

/* ---- arrays ------------------------------------------------------------------ */

static bool needs_quotes(const char *e, size_t n)
{
    if (n == 0 || (n == 4 && strncasecmp(e, "NULL", 4) == 0))
        return true;
    for (size_t i = 0; i < n; i++) {
        if (strchr("\"\\{},", e[i]) || strchr(" \t\n\r\v\f", e[i]))
            return true;
    }
    return false;
}

/* Writes one element as array_out does. */
static void put_element(strbuf *sb, const char *e, size_t n)
{
    if (!needs_quotes(e, n)) {
        sb_append(sb, e, n);
        return;
    }
    sb_putc(sb, '"');
    for (size_t i = 0; i < n; i++) {
        if (e[i] == '"' || e[i] == '\\')
            sb_putc(sb, '\\');
        sb_putc(sb, e[i]);
    }
    sb_putc(sb, '"');
}

static void fuzz_array(unsigned int t, const char *p, size_t n)
{
    unsigned int elem = pgvalue_array_element(t);
    if (!elem)
        return;
    strbuf text;
    sb_init(&text);
    sb_putc(&text, '{');
    size_t count = 0;
    const char *starts[64];
    size_t lens[64];
    for (size_t i = 0; i <= n && count < 64;) {
        const char *nul = memchr(p + i, '\0', n - i);
        size_t len = nul ? (size_t)(nul - (p + i)) : n - i;
        if (count)
            sb_putc(&text, ',');
        starts[count] = p + i;
        lens[count] = len;
        if (len > 0 && p[i] == 0x01)
            sb_puts(&text, "NULL");
        else
            put_element(&text, p + i, len);
        count++;
        i += len + 1;
    }
    sb_putc(&text, '}');
    json_t *v = pgvalue_from_text(t, text.data, text.len);
    json_t *a = pgvalue_array(elem, text.data, text.len);
    check_json_value(v);
    if (!json_is_array(v) || !a || !json_equal(a, v) || json_array_size(v) != count)
        abort();
    for (size_t k = 0; k < count; k++) {
        json_t *got = json_array_get(v, k);
        if (lens[k] > 0 && starts[k][0] == 0x01) {
            if (!json_is_null(got))
                abort();
            continue;
        }
        char *e = strndup(starts[k], lens[k]);
        json_t *want = pgvalue_from_text(elem, e, lens[k]);
        if (!json_equal(got, want) || json_typeof(got) != json_typeof(want))
            abort();
        if (is_plain_text_type(elem))
            check_same_text(got, e, lens[k]);
        json_decref(want);
        free(e);
    }
    json_decref(a);
    json_decref(v);
    sb_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned int t = types[data[0] % NTYPES];
    const char *payload = (const char *)data + 2;
    size_t n = size - 2;
    if (data[1] & 1) {
        fuzz_array(t, payload, n);
        return 0;
    }
    /* pgvalue reads text as libpq hands it: n bytes and a NUL. */
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, payload, n);
    s[n] = '\0';
    json_t *v = pgvalue_from_text(t, s, n);
    check_scalar(t, s, n, v);
    json_decref(v);
    free(s);
    return 0;
}
