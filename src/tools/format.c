#include "tools/format.h"

#include <string.h>

/* Length in bytes of the UTF-8 sequence starting with byte c (1 for
 * continuation or invalid bytes, so a bad byte never swallows good ones). */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0)
        return c <= 0xEF ? 3 : 1;
    if (c >= 0xC2)
        return 2;
    return 1;
}

/* Appends text as one table cell: escapes pipes and backslashes, flattens
 * line breaks and cuts it after max_chars characters. */
static void put_cell_text(strbuf *out, const char *s, size_t n, int max_chars)
{
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        if (max_chars > 0 && chars == (size_t)max_chars) {
            sb_puts(out, FMT_CUT_MARKER);
            return;
        }
        unsigned char c = (unsigned char)s[i];
        size_t len = utf8_len(c);
        if (i + len > n)
            len = n - i;
        if (c == '|')
            sb_puts(out, "\\|");
        else if (c == '\\')
            sb_puts(out, "\\\\");
        else if (c == '\n' || c == '\r' || c == '\t')
            sb_putc(out, ' ');
        else if (c < 0x20)
            sb_putc(out, '?');
        else
            sb_append(out, s + i, len);
        i += len;
        chars++;
    }
}

static void put_value(strbuf *out, json_t *v, int max_chars)
{
    if (json_is_null(v)) {
        sb_puts(out, "NULL");
    } else if (json_is_string(v)) {
        put_cell_text(out, json_string_value(v), json_string_length(v), max_chars);
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (text) {
            put_cell_text(out, text, strlen(text), max_chars);
            free(text);
        }
    }
}

void fmt_markdown(const db_result *r, int max_cell_chars, strbuf *out)
{
    if (r->ncols == 0) {
        sb_puts(out, "(no columns)\n");
        return;
    }
    sb_puts(out, "|");
    for (size_t c = 0; c < r->ncols; c++) {
        sb_putc(out, ' ');
        put_cell_text(out, r->cols[c].name, strlen(r->cols[c].name), max_cell_chars);
        sb_puts(out, " |");
    }
    sb_puts(out, "\n|");
    for (size_t c = 0; c < r->ncols; c++)
        sb_puts(out, " --- |");
    sb_putc(out, '\n');
    size_t i;
    json_t *row;
    json_array_foreach(r->rows, i, row)
    {
        sb_puts(out, "|");
        for (size_t c = 0; c < r->ncols; c++) {
            sb_putc(out, ' ');
            put_value(out, json_array_get(row, c), max_cell_chars);
            sb_puts(out, " |");
        }
        sb_putc(out, '\n');
    }
}

void fmt_summary(const db_result *r, size_t limit, double elapsed_ms, strbuf *out)
{
    size_t n = db_result_row_count(r);
    if (r->truncated && r->truncated_by && strcmp(r->truncated_by, "row limit") == 0)
        sb_printf(out,
                  "%zu row%s shown (row limit %zu); more rows exist: raise `limit` or "
                  "narrow the query.",
                  n, n == 1 ? "" : "s", limit ? limit : n);
    else if (r->truncated)
        sb_printf(out,
                  "%zu row%s shown; the result was cut by the %s: select fewer columns "
                  "or rows.",
                  n, n == 1 ? "" : "s", r->truncated_by ? r->truncated_by : "size limit");
    else
        sb_printf(out, "%zu row%s.", n, n == 1 ? "" : "s");
    sb_printf(out, " (%.1f ms)", elapsed_ms);
}

json_t *fmt_structured(const db_result *r, double elapsed_ms)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < r->ncols; c++) {
        json_t *nullable =
            r->cols[c].nullable < 0 ? json_null() : json_boolean(r->cols[c].nullable);
        json_array_append_new(cols, json_pack("{s:s, s:s, s:o}", "name", r->cols[c].name, "type",
                                              r->cols[c].type, "nullable", nullable));
    }
    json_t *obj = json_pack("{s:o, s:O, s:I, s:b, s:f}", "columns", cols, "rows", r->rows,
                            "row_count", (json_int_t)db_result_row_count(r), "truncated",
                            r->truncated, "elapsed_ms", elapsed_ms);
    if (r->truncated && r->truncated_by)
        json_object_set_new(obj, "truncated_by", json_string(r->truncated_by));
    return obj;
}

json_t *fmt_output_schema(void)
{
    json_error_t e;
    return json_loads(
        "{\"type\":\"object\","
        "\"properties\":{"
        "\"columns\":{\"type\":\"array\",\"description\":\"Result columns in order\","
        "\"items\":{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
        "\"nullable\":{\"type\":[\"boolean\",\"null\"]}},\"required\":[\"name\",\"type\"]}},"
        "\"rows\":{\"type\":\"array\",\"description\":\"Rows as arrays of typed values, in "
        "column order\",\"items\":{\"type\":\"array\"}},"
        "\"row_count\":{\"type\":\"integer\"},"
        "\"truncated\":{\"type\":\"boolean\",\"description\":\"True when more rows or bytes "
        "existed than were returned\"},"
        "\"truncated_by\":{\"type\":\"string\"},"
        "\"elapsed_ms\":{\"type\":\"number\"},"
        "\"definition\":{\"type\":\"string\",\"description\":\"View definition (describe_view)\"}"
        "},\"required\":[\"columns\",\"rows\",\"row_count\",\"truncated\",\"elapsed_ms\"]}",
        0, &e);
}
