/* Fuzzes the decoding of Snowflake SQL API results, which come from the
 * network. Two input forms:
 *   - text starting with '{': a JSON answer {"rowType": [...], "data":
 *     [[...], ...]} decoded as the driver does (sfdecode_columns, then
 *     sfdecode_row for every row);
 *   - anything else: the first byte is a scale, the rest one cell's text,
 *     decoded as every Snowflake type (sfdecode_value).
 * Besides memory safety and leaks (ASan) it aborts when an invariant breaks:
 *   - the column list matches rowType, and names and types are UTF-8;
 *   - a row has exactly one value per column, and the byte count grows by
 *     the length of its string cells;
 *   - every value is a JSON value that encodes, reads back equal, and
 *     holds only valid UTF-8 strings;
 *   - a value that is not decoded is the cell itself, unchanged;
 *   - a decoded value means what the cell said, checked against a model
 *     written from sfdecode.h: FIXED integers and decimals, REAL, BOOLEAN,
 *     DATE (day count), TIME and the three TIMESTAMPs (epoch seconds or
 *     nanoseconds, TZ offset) in their canonical ISO 8601 form; TEXT and
 *     BINARY are passed through as they are. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "db/result.h"
#include "db/snowflake/sfdecode.h"

#include "fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS 1000000000LL
#define DAY_S 86400LL

typedef __int128 i128;

/* ---- generic value checks ---------------------------------------------- */

/* ---- models ------------------------------------------------------------ */

/* [+-]digits[.digits] as nanoseconds; an integer of at least
 * nanos_digits digits is nanoseconds already (0: never). */
static bool model_epoch(const char *s, size_t n, int nanos_digits, i128 *out)
{
    size_t i = 0;
    int sign = 1;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        sign = s[i++] == '-' ? -1 : 1;
    i128 ip = 0;
    int idigits = 0;
    for (; i < n && isdigit((unsigned char)s[i]); i++, idigits++) {
        ip = ip * 10 + (s[i] - '0');
        if (ip > (i128)1000000000000000000LL * 1000000000000LL) /* beyond any decoder */
            return false;
    }
    bool dot = i < n && s[i] == '.';
    i128 frac = 0;
    if (dot) {
        int fd = 0;
        for (i++; i < n && isdigit((unsigned char)s[i]); i++, fd++) {
            if (fd < 9)
                frac = frac * 10 + (s[i] - '0');
        }
        for (; fd < 9; fd++)
            frac *= 10;
    }
    if (i != n || idigits == 0)
        return false;
    *out = sign * (!dot && nanos_digits > 0 && idigits >= nanos_digits ? ip : ip * NS + frac);
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static bool read_digits(const char **p, int count, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        *out = *out * 10 + (unsigned)((*p)[i] - '0');
    }
    *p += count;
    return true;
}

/* A canonical "YYYY-MM-DD" (year possibly negative or longer) at *p. */
static bool parse_date(const char **p, int64_t *days)
{
    const char *s = *p;
    char *end;
    errno = 0;
    long long y = strtoll(s, &end, 10);
    unsigned m, d;
    bool starts_right = isdigit((unsigned char)*s) || *s == '-';
    if (errno || end == s || *end != '-' || !starts_right)
        return false;
    const char *q = end + 1;
    if (!read_digits(&q, 2, &m) || *q++ != '-' || !read_digits(&q, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    char canon[48];
    int n = snprintf(canon, sizeof canon, "%04lld-%02u-%02u", y, m, d);
    if ((size_t)(q - s) != (size_t)n || memcmp(canon, s, (size_t)n) != 0)
        return false;
    *days = days_from_civil(y, m, d);
    *p = q;
    return true;
}

/* A canonical "HH:MM:SS[.f]" at *p: the fraction has 1 to 9 digits and no
 * trailing zero. */
static bool parse_clock(const char **p, i128 *ns)
{
    const char *q = *p;
    unsigned h, mi, se;
    if (!read_digits(&q, 2, &h) || *q++ != ':' || !read_digits(&q, 2, &mi) || *q++ != ':' ||
        !read_digits(&q, 2, &se) || h > 23 || mi > 59 || se > 59)
        return false;
    i128 frac = 0;
    if (*q == '.') {
        q++;
        int fd = 0;
        while (isdigit((unsigned char)q[fd]) && fd < 10)
            fd++;
        if (fd == 0 || fd > 9 || q[fd - 1] == '0')
            return false;
        for (int i = 0; i < 9; i++)
            frac = frac * 10 + (i < fd ? q[i] - '0' : 0);
        q += fd;
    }
    *ns = ((i128)h * 3600 + mi * 60 + se) * NS + frac;
    *p = q;
    return true;
}

/* ---- per-type checks ---------------------------------------------------- */

/* [+-]digits, after any leading space (strtoll's form). */
static bool is_integer_text(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return false;
    }
    return true;
}

/* [+-]digits with at most one '.', at least one digit, at most 15
 * significant digits. */
static bool is_short_decimal(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    int digits = 0, dots = 0, sig = 0;
    bool leading = true;
    for (; *s; s++) {
        if (*s == '.') {
            dots++;
        } else if (isdigit((unsigned char)*s)) {
            digits++;
            leading = leading && *s == '0';
            sig += !leading;
        } else {
            return false;
        }
    }
    return digits > 0 && dots <= 1 && sig <= 15;
}

static void check_fixed(const char *s, const json_t *v)
{
    if (json_is_integer(v)) {
        if (!is_integer_text(s) || json_integer_value(v) != strtoll(s, NULL, 10))
            abort();
    } else if (json_is_real(v)) {
        if (!is_short_decimal(s) || json_real_value(v) != strtod(s, NULL))
            abort();
    } else {
        abort();
    }
}

static void check_real(const char *s, const json_t *v)
{
    char *end;
    double d = strtod(s, &end);
    if (!json_is_real(v) || end == s || *end || json_real_value(v) != d)
        abort();
}

static void check_boolean(const char *s, const json_t *v)
{
    bool t = strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0;
    bool f = strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0;
    if (!(json_is_true(v) && t) && !(json_is_false(v) && f))
        abort();
}

static void check_date(const char *s, const json_t *v)
{
    const char *p = json_string_value(v);
    int64_t days;
    char *end;
    errno = 0;
    long long want = strtoll(s, &end, 10);
    if (!p || errno || end == s || *end || !parse_date(&p, &days) || *p || days != want)
        abort();
}

static void check_time(const char *s, const json_t *v)
{
    const char *p = json_string_value(v);
    i128 got, want;
    if (!p || !parse_clock(&p, &got) || *p || !model_epoch(s, strlen(s), 6, &want) || got != want)
        abort();
}

static void check_timestamp(sfd_type t, const char *s, const json_t *v)
{
    const char *p = json_string_value(v);
    size_t n = strlen(s);
    int64_t offset_min = 0;
    if (t == SFD_TS_TZ) {
        const char *sp = strchr(s, ' ');
        if (!sp)
            abort();
        offset_min = strtol(sp + 1, NULL, 10) - 1440;
        n = (size_t)(sp - s);
    }
    int64_t days;
    i128 clock, want;
    if (!p || !parse_date(&p, &days) || *p++ != 'T' || !parse_clock(&p, &clock) ||
        !model_epoch(s, n, 13, &want))
        abort();
    i128 local = (i128)days * DAY_S * NS + clock;
    if (t == SFD_TS_LTZ && strcmp(p, "Z") != 0)
        abort();
    if (t == SFD_TS_NTZ && *p)
        abort();
    if (t == SFD_TS_TZ) {
        int64_t a = offset_min < 0 ? -offset_min : offset_min;
        char zone[16];
        snprintf(zone, sizeof zone, "%c%02d:%02d", offset_min < 0 ? '-' : '+', (int)(a / 60),
                 (int)(a % 60));
        if (strcmp(p, zone) != 0)
            abort();
    }
    if (local - (i128)offset_min * 60 * NS != want)
        abort();
}

/* When a decoder must succeed, by the model. */
static bool model_must_decode(sfd_type t, const char *s)
{
    i128 ns;
    char *end;
    switch (t) {
    case SFD_DATE: {
        errno = 0;
        long long d = strtoll(s, &end, 10);
        return is_integer_text(s) && *s != ' ' && !errno && d >= -1000000000LL && d <= 1000000000LL;
    }
    case SFD_TIME:
        return model_epoch(s, strlen(s), 6, &ns) && ns >= 0 && ns < DAY_S * NS;
    case SFD_BOOLEAN:
        return strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0 || !strcmp(s, "1") ||
               !strcmp(s, "0");
    default:
        return false;
    }
}

static void check_value(const sfd_col *c, const json_t *cell, const json_t *v)
{
    check_json_value(v);
    if (!json_is_string(cell)) {
        if (cell && !json_is_null(cell) ? v != cell : !json_is_null(v))
            abort();
        return;
    }
    if (c->type == SFD_TEXT || c->type == SFD_BINARY) {
        if (v != cell)
            abort();
        return;
    }
    const char *s = json_string_value(cell);
    bool has_nul = strlen(s) != json_string_length(cell);
    if (json_equal(v, cell)) {
        if (!has_nul && model_must_decode(c->type, s))
            abort();
        return;
    }
    /* Decoded: a cell with a NUL inside is not any type's text. */
    if (has_nul)
        abort();
    switch (c->type) {
    case SFD_FIXED:
        check_fixed(s, v);
        break;
    case SFD_REAL:
        check_real(s, v);
        break;
    case SFD_BOOLEAN:
        check_boolean(s, v);
        break;
    case SFD_DATE:
        check_date(s, v);
        break;
    case SFD_TIME:
        check_time(s, v);
        break;
    case SFD_TS_NTZ:
    case SFD_TS_LTZ:
    case SFD_TS_TZ:
        check_timestamp(c->type, s, v);
        break;
    case SFD_JSON:
        break; /* parsed JSON: any valid value */
    default:
        abort();
    }
}

/* ---- the two input forms ------------------------------------------------ */

static void fuzz_answer(const uint8_t *data, size_t size)
{
    json_t *answer = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    if (!answer)
        return;
    json_t *row_type = json_object_get(answer, "rowType");
    db_result *r = db_result_new();
    size_t ncols = 0;
    err_t e;
    sfd_col *cols = sfdecode_columns(row_type, r, &ncols, &e);
    if (!cols) {
        if (e.kind != ERR_INTERNAL)
            abort();
    } else {
        if (ncols != json_array_size(row_type) || r->ncols != ncols)
            abort();
        for (size_t i = 0; i < ncols; i++) {
            const db_column *col = &r->cols[i];
            if (!utf8_valid(col->name, strlen(col->name)) ||
                !utf8_valid(col->type, strlen(col->type)))
                abort();
        }
        json_t *rows = json_object_get(answer, "data");
        for (size_t i = 0; i < json_array_size(rows); i++) {
            json_t *cells = json_array_get(rows, i);
            size_t want = r->bytes;
            for (size_t k = 0; k < ncols; k++) {
                json_t *cell = json_array_get(cells, k);
                want += json_is_string(cell) ? json_string_length(cell) : 0;
            }
            json_t *row = sfdecode_row(cols, ncols, cells, &r->bytes);
            if (!json_is_array(row) || json_array_size(row) != ncols || r->bytes != want)
                abort();
            for (size_t k = 0; k < ncols; k++)
                check_value(&cols[k], json_array_get(cells, k), json_array_get(row, k));
            db_result_add_row(r, row);
        }
        free(cols);
    }
    db_result_free(r);
    json_decref(answer);
}

static void fuzz_cell(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    json_t *cell = json_stringn(text, n);
    if (!cell) {
        size_t len = 0;
        char *clean = utf8_sanitize(text, n, &len);
        cell = json_stringn(clean, len);
        free(clean);
        if (!cell)
            abort();
    }
    int scales[] = {(int8_t)data[0], 0};
    for (int t = SFD_TEXT; t <= SFD_BINARY; t++) {
        for (size_t i = 0; i < 2; i++) {
            sfd_col c = {.type = (sfd_type)t, .scale = scales[i]};
            size_t bytes = 7;
            json_t *v = sfdecode_value(&c, cell, &bytes);
            if (bytes != 7 + json_string_length(cell))
                abort();
            check_value(&c, cell, v);
            json_decref(v);
        }
    }
    json_decref(cell);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == '{')
        fuzz_answer(data, size);
    else
        fuzz_cell(data, size);
    return 0;
}
