#include "db/snowflake/sfdecode.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"
#include "core/xalloc.h"

#define NS_PER_S 1000000000LL
#define S_PER_DAY 86400LL
/* Decimals with at most this many significant digits survive a double. */
#define EXACT_DIGITS 15
/* An integer timestamp with this many digits is in nanoseconds: seconds up
 * to the year 9999 have at most 12. */
#define NANOS_FORM_DIGITS 13

sfd_type sfdecode_type(const char *t)
{
    static const struct {
        const char *name;
        sfd_type type;
    } map[] = {{"fixed", SFD_FIXED},
               {"real", SFD_REAL},
               {"text", SFD_TEXT},
               {"boolean", SFD_BOOLEAN},
               {"date", SFD_DATE},
               {"time", SFD_TIME},
               {"timestamp_ntz", SFD_TS_NTZ},
               {"timestamp_ltz", SFD_TS_LTZ},
               {"timestamp_tz", SFD_TS_TZ},
               {"variant", SFD_JSON},
               {"object", SFD_JSON},
               {"array", SFD_JSON},
               {"map", SFD_JSON},
               {"geography", SFD_JSON},
               {"geometry", SFD_JSON},
               {"vector", SFD_JSON},
               {"binary", SFD_BINARY}};
    for (size_t i = 0; t && i < sizeof map / sizeof *map; i++) {
        if (strcasecmp(t, map[i].name) == 0)
            return map[i].type;
    }
    return SFD_TEXT;
}

static bool get_int(const json_t *o, const char *key, long long *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    return false;
}

/* "NUMBER(38,0)", "VARCHAR(16777216)", "TIMESTAMP_NTZ(9)" … */
static char *type_name(const char *t, const json_t *col)
{
    strbuf sb;
    sb_init(&sb);
    long long p = 0, s = 0, len = 0;
    sfd_type k = sfdecode_type(t);
    bool has_p = get_int(col, "precision", &p), has_s = get_int(col, "scale", &s);
    bool has_len = get_int(col, "length", &len) || get_int(col, "byteLength", &len);
    if (k == SFD_FIXED) {
        sb_puts(&sb, "NUMBER");
        if (has_p)
            sb_printf(&sb, "(%lld,%lld)", p, has_s ? s : 0);
    } else if (k == SFD_REAL) {
        sb_puts(&sb, "FLOAT");
    } else if (k == SFD_TEXT && strcasecmp(t, "text") == 0) {
        sb_puts(&sb, "VARCHAR");
        if (has_len)
            sb_printf(&sb, "(%lld)", len);
    } else {
        for (const char *c = t; *c; c++)
            sb_putc(&sb, (char)toupper((unsigned char)*c));
        bool timed = k == SFD_TIME || k == SFD_TS_NTZ || k == SFD_TS_LTZ || k == SFD_TS_TZ;
        if (timed && has_s)
            sb_printf(&sb, "(%lld)", s);
        else if (k == SFD_BINARY && has_len)
            sb_printf(&sb, "(%lld)", len);
    }
    return sb_detach(&sb);
}

sfd_col *sfdecode_columns(const json_t *row_type, db_result *r, size_t *ncols, err_t *err)
{
    if (!json_is_array(row_type)) {
        err_set(err, ERR_INTERNAL, "Snowflake's answer has no resultSetMetaData.rowType");
        return NULL;
    }
    size_t n = json_array_size(row_type);
    sfd_col *cols = xcalloc(n + 1, sizeof *cols);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(row_type, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *t = json_string_value(json_object_get(c, "type"));
        if (!name || !t) {
            err_set(err, ERR_INTERNAL, "Snowflake's rowType entry %zu has no name or type", i);
            free(cols);
            return NULL;
        }
        long long scale = 0;
        get_int(c, "scale", &scale);
        cols[i].type = sfdecode_type(t);
        cols[i].scale = (int)scale;
        json_t *nl = json_object_get(c, "nullable");
        char *tn = type_name(t, c);
        db_result_add_column(r, name, tn, json_is_boolean(nl) ? json_is_true(nl) : -1);
        free(tn);
    }
    *ncols = n;
    return cols;
}

/* ---- numbers ----------------------------------------------------------- */

static json_t *decode_fixed(const char *s, int scale)
{
    if (scale == 0 && !strchr(s, '.')) {
        errno = 0;
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0')
            return json_integer((json_int_t)v);
        return NULL; /* kept as the server sent it */
    }
    /* [+-]digits[.digits], with at least one digit: anything else is kept
     * as the server's text rather than half-read by strtod. */
    int digits = 0, any_digit = 0, dots = 0;
    bool leading = true, valid = *s != '\0';
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            leading = leading && *p == '0';
            digits += !leading;
            any_digit = 1;
        } else if (*p == '.') {
            dots++;
        } else if (!((*p == '-' || *p == '+') && p == s)) {
            valid = false;
        }
    }
    if (!valid || !any_digit || dots > 1 || digits > EXACT_DIGITS)
        return NULL;
    return json_real(strtod(s, NULL));
}

static json_t *decode_real(const char *s)
{
    char *end = NULL;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(d))
        return NULL; /* kept as the server sent it */
    return json_real(d);
}

static json_t *decode_boolean(const char *s)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        return json_true();
    if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        return json_false();
    return NULL; /* kept as the server sent it */
}

/* ---- dates and times --------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_date(strbuf *sb, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    sb_printf(sb, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Appends ".fffffffff" without trailing zeros; nothing for zero. */
static void put_fraction(strbuf *sb, int64_t nanos)
{
    if (nanos == 0)
        return;
    char f[16];
    snprintf(f, sizeof f, "%09lld", (long long)nanos);
    size_t n = 9;
    while (n > 0 && f[n - 1] == '0')
        n--;
    sb_putc(sb, '.');
    sb_append(sb, f, n);
}

static void put_time_of_day(strbuf *sb, int64_t sod, int64_t nanos)
{
    sb_printf(sb, "%02lld:%02lld:%02lld", (long long)(sod / 3600), (long long)(sod / 60 % 60),
              (long long)(sod % 60));
    put_fraction(sb, nanos);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Parses "[-]seconds[.fraction]" or "[-]nanoseconds" into seconds (floor)
 * and nanoseconds 0..1e9-1. nanos_form_digits: an integer with at least this
 * many digits counts as nanoseconds (0: never). */
static bool parse_epoch(const char *s, size_t n, int nanos_form_digits, int64_t *sec,
                        int64_t *nanos)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    uint64_t ip = 0;
    int idigits = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        if (ip > (UINT64_MAX - 9) / 10)
            return false;
        ip = ip * 10 + (uint64_t)(s[i++] - '0');
        idigits++;
    }
    int64_t frac = 0;
    bool dot = i < n && s[i] == '.';
    if (dot) {
        i++;
        int fd = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            if (fd < 9)
                frac = frac * 10 + (s[i] - '0');
            fd++;
            i++;
        }
        for (; fd < 9; fd++)
            frac *= 10;
    }
    if (i != n || idigits == 0)
        return false;
    if (!dot && nanos_form_digits > 0 && idigits >= nanos_form_digits) {
        frac = (int64_t)(ip % NS_PER_S);
        ip /= NS_PER_S;
    }
    if (ip > (uint64_t)INT64_MAX / 2)
        return false;
    if (neg) {
        *sec = -(int64_t)ip - (frac > 0);
        *nanos = frac > 0 ? NS_PER_S - frac : 0;
    } else {
        *sec = (int64_t)ip;
        *nanos = frac;
    }
    return true;
}

static json_t *decode_date(const char *s)
{
    char *end = NULL;
    errno = 0;
    long long days = strtoll(s, &end, 10);
    if (errno || end == s || *end || days > 1000000000LL || days < -1000000000LL)
        return NULL; /* kept as the server sent it */
    strbuf sb;
    sb_init(&sb);
    put_date(&sb, days);
    json_t *v = json_stringn(sb.data, sb.len);
    sb_free(&sb);
    return v;
}

static json_t *decode_time(const char *s)
{
    int64_t sec, nanos;
    /* Seconds of a day have at most 5 digits: 6 or more are nanoseconds. */
    if (!parse_epoch(s, strlen(s), 6, &sec, &nanos) || sec < 0 || sec >= S_PER_DAY)
        return NULL; /* kept as the server sent it */
    strbuf sb;
    sb_init(&sb);
    put_time_of_day(&sb, sec, nanos);
    json_t *v = json_stringn(sb.data, sb.len);
    sb_free(&sb);
    return v;
}

static void put_timestamp(strbuf *sb, int64_t sec, int64_t nanos)
{
    int64_t days = floor_div(sec, S_PER_DAY);
    put_date(sb, days);
    sb_putc(sb, 'T');
    put_time_of_day(sb, sec - days * S_PER_DAY, nanos);
}

static json_t *decode_timestamp(const char *s, sfd_type t)
{
    size_t n = strlen(s);
    int offset_min = 0;
    if (t == SFD_TS_TZ) {
        const char *sp = strchr(s, ' ');
        char *end = NULL;
        long enc = sp ? strtol(sp + 1, &end, 10) : -1;
        if (!sp || !end || *end || enc < 0 || enc > 2880)
            return NULL; /* kept as the server sent it */
        offset_min = (int)enc - 1440;
        n = (size_t)(sp - s);
    }
    int64_t sec, nanos;
    if (!parse_epoch(s, n, NANOS_FORM_DIGITS, &sec, &nanos))
        return NULL; /* kept as the server sent it */
    strbuf sb;
    sb_init(&sb);
    put_timestamp(&sb, sec + (int64_t)offset_min * 60, nanos);
    if (t == SFD_TS_LTZ) {
        sb_putc(&sb, 'Z');
    } else if (t == SFD_TS_TZ) {
        int a = offset_min < 0 ? -offset_min : offset_min;
        sb_printf(&sb, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
    }
    json_t *v = json_stringn(sb.data, sb.len);
    sb_free(&sb);
    return v;
}

static json_t *decode_json(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    return v; /* NULL: kept as the server sent it */
}

json_t *sfdecode_value(const sfd_col *c, const json_t *cell, size_t *bytes)
{
    if (!json_is_string(cell)) {
        /* null, or an already typed value from a non-standard server */
        return cell && !json_is_null(cell) ? json_incref((json_t *)cell) : json_null();
    }
    const char *s = json_string_value(cell);
    size_t len = json_string_length(cell);
    *bytes += len;
    /* A NUL inside the text: the decoders would read only what precedes
     * it, so the value is passed through as the server sent it. */
    if (strlen(s) != len)
        return json_incref((json_t *)cell);
    json_t *v = NULL;
    switch (c->type) {
    case SFD_FIXED:
        v = decode_fixed(s, c->scale);
        break;
    case SFD_REAL:
        v = decode_real(s);
        break;
    case SFD_BOOLEAN:
        v = decode_boolean(s);
        break;
    case SFD_DATE:
        v = decode_date(s);
        break;
    case SFD_TIME:
        v = decode_time(s);
        break;
    case SFD_TS_NTZ:
    case SFD_TS_LTZ:
    case SFD_TS_TZ:
        v = decode_timestamp(s, c->type);
        break;
    case SFD_JSON:
        v = decode_json(s);
        break;
    default:
        break;
    }
    return v ? v : json_incref((json_t *)cell);
}

json_t *sfdecode_row(const sfd_col *cols, size_t ncols, const json_t *row, size_t *bytes)
{
    json_t *out = json_array();
    for (size_t i = 0; i < ncols; i++)
        json_array_append_new(out, sfdecode_value(&cols[i], json_array_get(row, i), bytes));
    return out;
}
