/* Text tables and structured results. */
#include "core/jsonx.h"
#include "core/utf8.h"
#include "tools/format.h"
#include "testlib.h"

static db_result *sample(void)
{
    db_result *r = db_result_new();
    db_result_add_column(r, "ID", "INTEGER", 0);
    db_result_add_column(r, "NAME", "TEXT", 1);
    db_result_add_column(r, "SCORE", "REAL", -1);
    db_result_add_row(r, json_pack("[i, s, f]", 1, "a|b", 1.5));
    db_result_add_row(r, json_pack("[i, n, n]", 2));
    db_result_add_row(r, json_pack("[i, s, f]", 3, "line1\nline2", 2.0));
    return r;
}

static void test_markdown(void)
{
    db_result *r = sample();
    strbuf sb;
    sb_init(&sb);
    fmt_markdown(r, 200, &sb);
    CHECK_CONTAINS(sb.data, "| ID | NAME | SCORE |\n| --- | --- | --- |\n");
    CHECK_CONTAINS(sb.data, "| 1 | a\\|b | 1.5 |");
    CHECK_CONTAINS(sb.data, "| 2 | NULL | NULL |");
    CHECK_CONTAINS(sb.data, "| 3 | line1 line2 | 2.0 |");
    sb_free(&sb);
    db_result_free(r);
}

static void test_cut_long_cells(void)
{
    db_result *r = db_result_new();
    db_result_add_column(r, "T", "TEXT", 1);
    /* 12 characters, 3 of them two-byte: the cut must fall between characters. */
    db_result_add_row(r, json_pack("[s]", "\xc3\xa9\xc3\xa9\xc3\xa9"
                                          "abcdefghi"));
    strbuf sb;
    sb_init(&sb);
    fmt_markdown(r, 5, &sb);
    CHECK_CONTAINS(sb.data, "| \xc3\xa9\xc3\xa9\xc3\xa9"
                            "ab" FMT_CUT_MARKER " |");
    CHECK(utf8_valid(sb.data, sb.len));
    sb_free(&sb);
    db_result_free(r);
}

static void test_summary_line(void)
{
    db_result *r = sample();
    strbuf sb;
    sb_init(&sb);
    fmt_summary(r, 10, 1.25, &sb);
    CHECK_CONTAINS(sb.data, "3 rows.");
    sb_reset(&sb);
    r->truncated = true;
    r->truncated_by = "row limit";
    fmt_summary(r, 3, 1.25, &sb);
    CHECK_CONTAINS(sb.data, "3 rows shown (row limit 3); more rows exist");
    sb_reset(&sb);
    r->truncated_by = "byte limit";
    fmt_summary(r, 3, 1.25, &sb);
    CHECK_CONTAINS(sb.data, "cut by the byte limit");
    sb_free(&sb);
    db_result_free(r);
}

static void test_structured(void)
{
    db_result *r = sample();
    json_t *s = fmt_structured(r, 2.5);
    CHECK(json_integer_value(json_object_get(s, "row_count")) == 3);
    CHECK(json_is_false(json_object_get(s, "truncated")));
    CHECK(json_object_get(s, "truncated_by") == NULL);
    json_t *cols = json_object_get(s, "columns");
    CHECK(json_array_size(cols) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "ID");
    CHECK(json_is_false(json_object_get(json_array_get(cols, 0), "nullable")));
    CHECK(json_is_null(json_object_get(json_array_get(cols, 2), "nullable")));
    json_t *row1 = json_array_get(json_object_get(s, "rows"), 1);
    CHECK(json_is_integer(json_array_get(row1, 0)));
    CHECK(json_is_null(json_array_get(row1, 1)));
    CHECK(json_real_value(json_object_get(s, "elapsed_ms")) == 2.5);
    json_t *schema = fmt_output_schema();
    CHECK(schema != NULL);
    CHECK(json_object_get(json_object_get(schema, "properties"), "rows") != NULL);
    json_decref(schema);
    json_decref(s);
    db_result_free(r);
}

static void test_exact_short_reals(void)
{
    json_t *v = json_pack("[f, f, i]", 263.14, 0.1, 7);
    char *text = jsonx_dumps(v, JSON_COMPACT);
    CHECK_STR(text, "[263.14,0.1,7]");
    free(text);
    /* One value needs 17 digits: every value gets them, and all read back
     * as the same doubles. */
    json_array_append_new(v, json_real(0.1 + 0.2));
    text = jsonx_dumps(v, JSON_COMPACT);
    json_t *back = json_loads(text, 0, NULL);
    CHECK(back != NULL);
    for (size_t i = 0; back && i < 4; i++)
        CHECK(json_number_value(json_array_get(back, i)) ==
              json_number_value(json_array_get(v, i)));
    CHECK_CONTAINS(text, "0.30000000000000004");
    free(text);
    json_decref(back);
    json_decref(v);
}

int main(void)
{
    TEST_RUN(test_markdown);
    TEST_RUN(test_cut_long_cells);
    TEST_RUN(test_summary_line);
    TEST_RUN(test_structured);
    TEST_RUN(test_exact_short_reals);
    return test_summary();
}
