/* Tests of jsonv2 value decoding: every type of the SQL API reference's
 * table, both epoch forms, time zone offsets, NULL and semi-structured data. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "db/result.h"
#include "db/snowflake/sfdecode.h"
#include "testlib.h"

/* Decodes text as a column of type t with scale; returns a new reference. */
static json_t *dec(const char *t, int scale, const char *text)
{
    sfd_col c = {sfdecode_type(t), scale};
    json_t *cell = text ? json_string(text) : json_null();
    size_t bytes = 0;
    json_t *v = sfdecode_value(&c, cell, &bytes);
    json_decref(cell);
    return v;
}

/* The decoded value must be the string want. */
static bool is_str(const char *t, int scale, const char *text, const char *want)
{
    json_t *v = dec(t, scale, text);
    bool ok = json_is_string(v) && strcmp(json_string_value(v), want) == 0;
    if (!ok) {
        char *d = json_dumps(v, JSON_ENCODE_ANY);
        fprintf(stderr, "    %s(%d) %s -> %s, want \"%s\"\n", t, scale, text, d ? d : "?", want);
        free(d);
    }
    json_decref(v);
    return ok;
}

static void test_fixed(void)
{
    json_t *v = dec("fixed", 0, "123");
    CHECK(json_is_integer(v) && json_integer_value(v) == 123);
    json_decref(v);
    v = dec("FIXED", 0, "-9223372036854775808");
    CHECK(json_is_integer(v) && json_integer_value(v) == INT64_MIN);
    json_decref(v);
    /* past int64: kept exact as a string */
    CHECK(is_str("fixed", 0, "99999999999999999999999", "99999999999999999999999"));
    v = dec("fixed", 2, "1.50");
    CHECK(json_is_real(v) && json_real_value(v) == 1.5);
    json_decref(v);
    v = dec("fixed", 6, "-0.000001");
    CHECK(json_is_real(v) && json_real_value(v) == -0.000001);
    json_decref(v);
    /* 15 significant digits round-trip through a double; 16 may not */
    v = dec("fixed", 2, "1234567890123.45");
    CHECK(json_is_real(v) && json_real_value(v) == 1234567890123.45);
    json_decref(v);
    CHECK(is_str("fixed", 2, "12345678901234.56", "12345678901234.56"));
    CHECK(is_str("fixed", 10, "0.1234567890123456", "0.1234567890123456"));
    /* malformed decimals are kept as sent, never half-read (found by fuzzing) */
    CHECK(is_str("fixed", 2, "12341.5.50", "12341.5.50"));
    CHECK(is_str("fixed", 2, "-", "-"));
    CHECK(is_str("fixed", 2, ".", "."));
}

static void test_real(void)
{
    json_t *v = dec("real", 0, "1.5e+10");
    CHECK(json_is_real(v) && json_real_value(v) == 1.5e10);
    json_decref(v);
    v = dec("real", 0, "-0.25");
    CHECK(json_is_real(v) && json_real_value(v) == -0.25);
    json_decref(v);
    CHECK(is_str("real", 0, "NaN", "NaN"));
    CHECK(is_str("real", 0, "inf", "inf"));
    CHECK(is_str("real", 0, "-inf", "-inf"));
}

static void test_boolean(void)
{
    json_t *t = dec("boolean", 0, "true"), *f = dec("boolean", 0, "false");
    json_t *one = dec("BOOLEAN", 0, "1"), *zero = dec("boolean", 0, "0");
    CHECK(json_is_true(t) && json_is_false(f) && json_is_true(one) && json_is_false(zero));
    json_decref(t);
    json_decref(f);
    json_decref(one);
    json_decref(zero);
}

static void test_date(void)
{
    CHECK(is_str("date", 0, "18262", "2020-01-01"));
    CHECK(is_str("date", 0, "0", "1970-01-01"));
    CHECK(is_str("date", 0, "-1", "1969-12-31"));
    CHECK(is_str("date", 0, "2932896", "9999-12-31"));
    CHECK(is_str("date", 0, "-719162", "0001-01-01"));
    CHECK(is_str("date", 0, "11016", "2000-02-29")); /* leap day */
    CHECK(is_str("date", 0, "not a date", "not a date"));
}

static void test_time(void)
{
    CHECK(is_str("time", 9, "82919.000000000", "23:01:59"));
    CHECK(is_str("time", 9, "3723.123456789", "01:02:03.123456789"));
    CHECK(is_str("time", 3, "0.500", "00:00:00.5"));
    CHECK(is_str("time", 9, "86399.999999999", "23:59:59.999999999"));
    /* integer nanoseconds */
    CHECK(is_str("time", 9, "82919000000000", "23:01:59"));
    CHECK(is_str("time", 9, "86400", "86400")); /* not a time of day: kept */
}

static void test_timestamp_ntz(void)
{
    CHECK(is_str("timestamp_ntz", 9, "1611871777.123456789", "2021-01-28T22:09:37.123456789"));
    CHECK(is_str("timestamp_ntz", 9, "1611871777.000000000", "2021-01-28T22:09:37"));
    CHECK(is_str("timestamp_ntz", 3, "1611871777.120", "2021-01-28T22:09:37.12"));
    /* the older integer-nanosecond form */
    CHECK(is_str("timestamp_ntz", 9, "1611871777123456789", "2021-01-28T22:09:37.123456789"));
    /* before 1970: floor, not truncation */
    CHECK(is_str("timestamp_ntz", 9, "-1.500000000", "1969-12-31T23:59:58.5"));
    /* the largest Snowflake timestamp in seconds has 12 digits; nanoseconds
     * from 13 digits on */
    CHECK(is_str("timestamp_ntz", 0, "253402300799", "9999-12-31T23:59:59"));
    CHECK(is_str("timestamp_ntz", 0, "-62135596800", "0001-01-01T00:00:00"));
    CHECK(is_str("timestamp_ntz", 9, "1000000000000", "1970-01-01T00:16:40"));
    CHECK(is_str("timestamp_ntz", 9, "0", "1970-01-01T00:00:00"));
}

static void test_timestamp_ltz(void)
{
    CHECK(is_str("timestamp_ltz", 9, "1611871777.123456789", "2021-01-28T22:09:37.123456789Z"));
    CHECK(is_str("timestamp_ltz", 9, "1611871777123456789", "2021-01-28T22:09:37.123456789Z"));
}

static void test_timestamp_tz(void)
{
    /* offset 1500 = 1440 + 60: +01:00, local time one hour after UTC */
    CHECK(is_str("timestamp_tz", 9, "1616173619.000000000 1500", "2021-03-19T18:06:59+01:00"));
    /* 1140 = 1440 - 300: -05:00 */
    CHECK(is_str("timestamp_tz", 9, "1616173619.250000000 1140", "2021-03-19T12:06:59.25-05:00"));
    CHECK(is_str("timestamp_tz", 9, "1616173619.000000000 1440", "2021-03-19T17:06:59+00:00"));
    /* +05:30 and the nanosecond form */
    CHECK(is_str("timestamp_tz", 9, "1616173619000000000 1770", "2021-03-19T22:36:59+05:30"));
    CHECK(is_str("timestamp_tz", 9, "1616173619.0", "1616173619.0")); /* no offset: kept */
}

static void test_semi_structured(void)
{
    json_t *v = dec("variant", 0, "{\n  \"a\": [1, 2],\n  \"b\": null\n}");
    CHECK(json_is_object(v));
    CHECK(json_integer_value(json_array_get(json_object_get(v, "a"), 1)) == 2);
    json_decref(v);
    v = dec("array", 0, "[\"x\", 1.5]");
    CHECK(json_is_array(v) && json_array_size(v) == 2);
    json_decref(v);
    v = dec("object", 0, "{}");
    CHECK(json_is_object(v));
    json_decref(v);
    CHECK(is_str("variant", 0, "\"just text\"", "just text"));
    v = dec("variant", 0, "42");
    CHECK(json_is_integer(v) && json_integer_value(v) == 42);
    json_decref(v);
    CHECK(is_str("variant", 0, "{oops", "{oops"));
}

static void test_text_binary_null(void)
{
    CHECK(is_str("text", 0, "h\xc3\xa9llo", "h\xc3\xa9llo"));
    CHECK(is_str("binary", 0, "DEADBEEF", "DEADBEEF"));
    CHECK(is_str("geography_unknown", 0, "whatever", "whatever"));
    const char *types[] = {"fixed",        "real",    "text",          "boolean",
                           "date",         "time",    "timestamp_ntz", "timestamp_ltz",
                           "timestamp_tz", "variant", "binary"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        json_t *v = dec(types[i], 0, NULL);
        CHECK(json_is_null(v));
        json_decref(v);
    }
}

static void test_columns_and_rows(void)
{
    const char *rt =
        "[{\"name\":\"ID\",\"type\":\"fixed\",\"precision\":38,\"scale\":0,\"nullable\":false},"
        "{\"name\":\"NAME\",\"type\":\"text\",\"length\":16777216,\"nullable\":true},"
        "{\"name\":\"PRICE\",\"type\":\"FIXED\",\"precision\":10,\"scale\":2,\"nullable\":true},"
        "{\"name\":\"R\",\"type\":\"real\",\"nullable\":true},"
        "{\"name\":\"TS\",\"type\":\"timestamp_ntz\",\"scale\":9,\"nullable\":true},"
        "{\"name\":\"B\",\"type\":\"binary\",\"length\":8388608,\"nullable\":true},"
        "{\"name\":\"V\",\"type\":\"variant\"}]";
    json_t *row_type = json_loads(rt, 0, NULL);
    REQUIRE(row_type != NULL);
    db_result *r = db_result_new();
    size_t n = 0;
    err_t e;
    sfd_col *cols = sfdecode_columns(row_type, r, &n, &e);
    REQUIRE(cols != NULL);
    CHECK(n == 7 && r->ncols == 7);
    CHECK_STR(r->cols[0].type, "NUMBER(38,0)");
    CHECK(r->cols[0].nullable == 0);
    CHECK_STR(r->cols[1].type, "VARCHAR(16777216)");
    CHECK(r->cols[1].nullable == 1);
    CHECK_STR(r->cols[2].type, "NUMBER(10,2)");
    CHECK_STR(r->cols[3].type, "FLOAT");
    CHECK_STR(r->cols[4].type, "TIMESTAMP_NTZ(9)");
    CHECK_STR(r->cols[5].type, "BINARY(8388608)");
    CHECK_STR(r->cols[6].type, "VARIANT");
    CHECK(r->cols[6].nullable == -1);
    json_t *row = json_loads("[\"7\",\"a\",\"9.99\",\"2.5\",\"0.000000000\",\"00FF\"]", 0, NULL);
    size_t bytes = 0;
    json_t *out = sfdecode_row(cols, n, row, &bytes);
    char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(15));
    CHECK_STR(text, "[7,\"a\",9.99,2.5,\"1970-01-01T00:00:00\",\"00FF\",null]");
    CHECK(bytes > 0);
    free(text);
    json_decref(out);
    json_decref(row);
    free(cols);
    db_result_free(r);

    /* a malformed rowType is an error, not a crash */
    db_result *r2 = db_result_new();
    json_t *bad = json_loads("[{\"type\":\"text\"}]", 0, NULL);
    CHECK(sfdecode_columns(bad, r2, &n, &e) == NULL);
    CHECK(sfdecode_columns(NULL, r2, &n, &e) == NULL);
    json_decref(bad);
    db_result_free(r2);
    json_decref(row_type);
}

int main(void)
{
    TEST_RUN(test_fixed);
    TEST_RUN(test_real);
    TEST_RUN(test_boolean);
    TEST_RUN(test_date);
    TEST_RUN(test_time);
    TEST_RUN(test_timestamp_ntz);
    TEST_RUN(test_timestamp_ltz);
    TEST_RUN(test_timestamp_tz);
    TEST_RUN(test_semi_structured);
    TEST_RUN(test_text_binary_null);
    TEST_RUN(test_columns_and_rows);
    return test_summary();
}
