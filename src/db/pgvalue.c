#include "db/pgvalue.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/utf8.h"

/* Array type -> element type, for the arrays turned into JSON arrays. */
static const unsigned int array_types[][2] = {
    {1000, PGVALUE_OID_BOOL},      {1001, PGVALUE_OID_BYTEA},
    {1003, PGVALUE_OID_NAME},      {1005, PGVALUE_OID_INT2},
    {1007, PGVALUE_OID_INT4},      {PGVALUE_OID_TEXT_ARRAY, PGVALUE_OID_TEXT},
    {1014, PGVALUE_OID_BPCHAR},    {1015, PGVALUE_OID_VARCHAR},
    {1016, PGVALUE_OID_INT8},      {1021, PGVALUE_OID_FLOAT4},
    {1022, PGVALUE_OID_FLOAT8},    {1028, PGVALUE_OID_OID},
    {1115, PGVALUE_OID_TIMESTAMP}, {1182, PGVALUE_OID_DATE},
    {1183, PGVALUE_OID_TIME},      {1185, PGVALUE_OID_TIMESTAMPTZ},
    {1187, PGVALUE_OID_INTERVAL},  {1231, PGVALUE_OID_NUMERIC},
    {1270, PGVALUE_OID_TIMETZ},    {199, PGVALUE_OID_JSON},
    {2951, PGVALUE_OID_UUID},      {3807, PGVALUE_OID_JSONB},
};

unsigned int pgvalue_array_element(unsigned int type_oid)
{
    for (size_t i = 0; i < sizeof array_types / sizeof *array_types; i++) {
        if (array_types[i][0] == type_oid)
            return array_types[i][1];
    }
    return 0;
}

/* The scalar readers below take s with s[n] == '\0' and no NUL before. */

static json_t *json_text(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v)
        return v;
    /* Only invalid UTF-8 gets here (client_encoding is UTF8). */
    size_t len = 0;
    char *clean = utf8_sanitize(s, n, &len);
    v = json_stringn(clean, len);
    free(clean);
    return v ? v : json_string("");
}

static json_t *integer_or_text(const char *s, size_t n)
{
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno == 0 && end && end != s && *end == '\0')
        return json_integer((json_int_t)v);
    return json_text(s, n);
}

static json_t *numeric_value(const char *s, size_t n)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    if (!*p)
        return json_text(s, n);
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9')
            return json_text(s, n); /* fraction, NaN, Infinity: exact text */
    }
    return integer_or_text(s, n);
}

static json_t *float_value(const char *s, size_t n)
{
    char *end = NULL;
    double d = strtod(s, &end);
    /* Nothing read (empty text) is not a number either. */
    json_t *v = end && end != s && *end == '\0' ? json_real(d) : NULL;
    return v ? v : json_text(s, n); /* NaN, Infinity, -Infinity */
}

/* "2024-01-02 03:04:05.5+00" -> "2024-01-02T03:04:05.5+00:00". Values
 * ISO 8601 cannot hold (infinity, BC dates) keep their text. */
static json_t *datetime_value(const char *s, size_t n, bool has_date, bool has_zone)
{
    if (n >= 64 || strchr(s, 'B') || strchr(s, 'i'))
        return json_text(s, n);
    char buf[80];
    memcpy(buf, s, n + 1);
    char *time = buf;
    if (has_date) {
        char *sp = strchr(buf, ' ');
        if (!sp)
            return json_text(s, n);
        *sp = 'T';
        time = sp + 1;
    }
    if (has_zone) {
        char *zone = strpbrk(time, "+-");
        /* "+HH" -> "+HH:00" */
        if (zone && strlen(zone) == 3) {
            strcat(zone, ":00");
            n += 3;
        }
    }
    return json_text(buf, n);
}

static json_t *bytea_value(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '\\' && s[1] == 'x')
        return json_text(s + 2, n - 2);
    return json_text(s, n);
}

static json_t *scalar_value(unsigned int type, const char *s, size_t n)
{
    switch (type) {
    case PGVALUE_OID_BOOL:
        return json_boolean(s[0] == 't');
    case PGVALUE_OID_INT2:
    case PGVALUE_OID_INT4:
    case PGVALUE_OID_INT8:
    case PGVALUE_OID_OID:
        return integer_or_text(s, n);
    case PGVALUE_OID_FLOAT4:
    case PGVALUE_OID_FLOAT8:
        return float_value(s, n);
    case PGVALUE_OID_NUMERIC:
        return numeric_value(s, n);
    case PGVALUE_OID_JSON:
    case PGVALUE_OID_JSONB: {
        json_t *v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        return v ? v : json_text(s, n);
    }
    case PGVALUE_OID_DATE:
    case PGVALUE_OID_TIME:
        return datetime_value(s, n, false, false);
    case PGVALUE_OID_TIMETZ:
        return datetime_value(s, n, false, true);
    case PGVALUE_OID_TIMESTAMP:
        return datetime_value(s, n, true, false);
    case PGVALUE_OID_TIMESTAMPTZ:
        return datetime_value(s, n, true, true);
    case PGVALUE_OID_BYTEA:
        return bytea_value(s, n);
    default:
        return json_text(s, n);
    }
}

/* Parses the NUL-terminated text form of a one-dimensional array; NULL
 * when it is not one. */
static json_t *array_value(unsigned int elem, const char *s)
{
    if (s[0] != '{')
        return NULL;
    json_t *arr = json_array();
    strbuf item;
    sb_init(&item);
    const char *p = s + 1;
    bool ok = true;
    if (*p == '}') {
        p++;
    } else {
        for (;;) {
            sb_reset(&item);
            bool quoted = *p == '"';
            if (*p == '{') {
                ok = false;
                break;
            }
            if (quoted) {
                for (p++; *p && *p != '"'; p++) {
                    if (*p == '\\' && p[1])
                        p++;
                    sb_putc(&item, *p);
                }
                if (*p != '"') {
                    ok = false;
                    break;
                }
                p++;
            } else {
                while (*p && *p != ',' && *p != '}')
                    sb_putc(&item, *p++);
            }
            const char *text = item.data ? item.data : "";
            if (!quoted && strcasecmp(text, "NULL") == 0)
                json_array_append_new(arr, json_null());
            else
                json_array_append_new(arr, scalar_value(elem, text, item.len));
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '}') {
                p++;
                break;
            }
            ok = false;
            break;
        }
    }
    sb_free(&item);
    if (!ok || *p != '\0') {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *pgvalue_array(unsigned int elem_oid, const char *s, size_t n)
{
    if (memchr(s, '\0', n))
        return NULL;
    return array_value(elem_oid, s);
}

json_t *pgvalue_from_text(unsigned int type_oid, const char *s, size_t n)
{
    /* The readers stop at a NUL; text form has none, so such bytes are
     * not a value of any type. */
    if (memchr(s, '\0', n))
        return json_text(s, n);
    unsigned int elem = pgvalue_array_element(type_oid);
    if (elem) {
        json_t *a = array_value(elem, s);
        return a ? a : json_text(s, n);
    }
    return scalar_value(type_oid, s, n);
}
