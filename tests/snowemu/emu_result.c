#include "emu_result.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void emu_error_set(emu_error *e, int http, const char *code, const char *sql_state, const char *fmt,
                   ...)
{
    if (!e)
        return;
    e->http = http;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->sql_state, sizeof e->sql_state, "%s", sql_state ? sql_state : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

emu_result *emu_result_new(size_t ncols)
{
    emu_result *r = xcalloc(1, sizeof *r);
    r->ncols = ncols;
    r->cols = xcalloc(ncols ? ncols : 1, sizeof *r->cols);
    for (size_t i = 0; i < ncols; i++) {
        r->cols[i].nullable = true;
        r->cols[i].database = xstrdup("");
        r->cols[i].table = xstrdup("");
        r->cols[i].name = xstrdup("");
    }
    r->rows = json_array();
    return r;
}

void emu_result_free(emu_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].database);
        free(r->cols[i].table);
    }
    free(r->cols);
    json_decref(r->rows);
    free(r);
}

void emu_result_set_col(emu_result *r, size_t i, const char *name, emu_type type, int precision,
                        int scale)
{
    emu_col *c = &r->cols[i];
    free(c->name);
    c->name = xstrdup(name);
    c->type = type;
    c->precision = precision;
    c->scale = scale;
}

void emu_result_set_origin(emu_result *r, size_t i, const char *database, const char *table)
{
    emu_col *c = &r->cols[i];
    free(c->database);
    free(c->table);
    c->database = xstrdup(database ? database : "");
    c->table = xstrdup(table ? table : "");
}

void emu_result_add_row(emu_result *r, json_t *row)
{
    json_array_append_new(r->rows, row);
}

size_t emu_result_nrows(const emu_result *r)
{
    return json_array_size(r->rows);
}

const char *emu_type_name(emu_type t)
{
    static const char *const names[] = {
        "fixed",         "real",         "text",    "boolean", "date",  "time",  "timestamp_ntz",
        "timestamp_ltz", "timestamp_tz", "variant", "object",  "array", "binary"};
    return names[t];
}

json_t *emu_result_row_type(const emu_result *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->ncols; i++) {
        const emu_col *c = &r->cols[i];
        json_t *o =
            json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:n}", "name", c->name, "type",
                      emu_type_name(c->type), "nullable", c->nullable, "database", c->database,
                      "schema", *c->database ? "PUBLIC" : "", "table", c->table, "collation");
        bool is_text = c->type == EMU_TEXT || c->type == EMU_VARIANT || c->type == EMU_OBJECT ||
                       c->type == EMU_ARRAY;
        if (c->type == EMU_FIXED) {
            json_object_set_new(o, "precision", json_integer(c->precision));
            json_object_set_new(o, "scale", json_integer(c->scale));
        } else if (c->type == EMU_TIME || c->type == EMU_TS_NTZ || c->type == EMU_TS_LTZ ||
                   c->type == EMU_TS_TZ) {
            json_object_set_new(o, "precision", json_integer(0));
            json_object_set_new(o, "scale", json_integer(9));
        } else {
            json_object_set_new(o, "precision", json_null());
            json_object_set_new(o, "scale", json_null());
        }
        if (is_text) {
            json_object_set_new(o, "length", json_integer(16777216));
            json_object_set_new(o, "byteLength", json_integer(16777216));
        } else if (c->type == EMU_BINARY) {
            json_object_set_new(o, "length", json_integer(8388608));
            json_object_set_new(o, "byteLength", json_integer(8388608));
        } else {
            json_object_set_new(o, "length", json_null());
            json_object_set_new(o, "byteLength", json_null());
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

size_t emu_result_npartitions(const emu_result *r, size_t per)
{
    size_t n = emu_result_nrows(r);
    if (per == 0 || n == 0)
        return 1;
    return (n + per - 1) / per;
}

json_t *emu_result_partition(const emu_result *r, size_t per, size_t n)
{
    json_t *out = json_array();
    size_t total = emu_result_nrows(r);
    size_t from = per ? n * per : 0;
    size_t to = per ? from + per : total;
    for (size_t i = from; i < to && i < total; i++)
        json_array_append(out, json_array_get(r->rows, i));
    return out;
}

json_t *emu_result_partition_info(const emu_result *r, size_t per)
{
    json_t *arr = json_array();
    size_t np = emu_result_npartitions(r, per);
    for (size_t p = 0; p < np; p++) {
        json_t *rows = emu_result_partition(r, per, p);
        char *text = json_dumps(rows, JSON_COMPACT);
        json_array_append_new(arr,
                              json_pack("{s:I, s:I}", "rowCount", (json_int_t)json_array_size(rows),
                                        "uncompressedSize", (json_int_t)strlen(text)));
        free(text);
        json_decref(rows);
    }
    return arr;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool parse_date(const char **p, long long *days)
{
    int y, m, d;
    if (!digits(p, 4, &y) || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, 2, &m) || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* HH:MM[:SS[.fraction]] -> seconds and a 9-digit fraction. */
static bool parse_time(const char **p, long long *secs, char frac[10])
{
    int h, m, s = 0;
    if (!digits(p, 2, &h) || **p != ':')
        return false;
    (*p)++;
    if (!digits(p, 2, &m))
        return false;
    if (**p == ':') {
        (*p)++;
        if (!digits(p, 2, &s))
            return false;
    }
    memset(frac, '0', 9);
    frac[9] = '\0';
    if (**p == '.') {
        (*p)++;
        for (int i = 0; isdigit((unsigned char)**p); i++, (*p)++)
            if (i < 9)
                frac[i] = **p;
    }
    if (h > 23 || m > 59 || s > 60)
        return false;
    *secs = h * 3600LL + m * 60LL + s;
    return true;
}

bool emu_encode_date(const char *s, strbuf *out)
{
    long long days;
    if (!parse_date(&s, &days) || *s)
        return false;
    sb_printf(out, "%lld", days);
    return true;
}

bool emu_encode_time(const char *s, strbuf *out)
{
    long long secs;
    char frac[10];
    if (!parse_time(&s, &secs, frac) || *s)
        return false;
    sb_printf(out, "%lld.%s", secs, frac);
    return true;
}

bool emu_encode_timestamp(const char *s, bool tz, strbuf *out)
{
    long long days, secs;
    char frac[10];
    if (!parse_date(&s, &days))
        return false;
    if (*s != ' ' && *s != 'T')
        return false;
    s++;
    if (!parse_time(&s, &secs, frac))
        return false;
    int offset_min = 0;
    if (*s == 'Z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1, oh, om;
        s++;
        if (!digits(&s, 2, &oh) || *s != ':')
            return false;
        s++;
        if (!digits(&s, 2, &om))
            return false;
        offset_min = sign * (oh * 60 + om);
    }
    if (*s)
        return false;
    /* The text is local time at the offset; epoch seconds are UTC. */
    long long epoch = days * 86400 + secs - offset_min * 60LL;
    sb_printf(out, "%lld.%s", epoch, frac);
    if (tz)
        sb_printf(out, " %d", 1440 + offset_min);
    return true;
}

void emu_encode_real(double v, strbuf *out)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    sb_puts(out, buf);
}

json_t *emu_ts_value(long long epoch_s)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%lld.000000000", epoch_s);
    return json_string(buf);
}
