/* Tests of PostgreSQL text-format values into JSON (pgvalue): one or more
 * direct checks per type family, arrays, and text that is not its type. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgvalue.h"
#include "testlib.h"

/* pgvalue_from_text(oid, text) must equal the JSON want (any JSON value). */
static bool gives_n(unsigned int oid, const char *text, size_t n, const char *want)
{
    json_t *v = pgvalue_from_text(oid, text, n);
    json_t *w = json_loads(want, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool ok = v && w && json_equal(v, w) && json_typeof(v) == json_typeof(w);
    if (!ok) {
        char *d = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "    oid %u \"%s\" -> %s, want %s\n", oid, text, d ? d : "NULL", want);
        free(d);
    }
    json_decref(v);
    json_decref(w);
    return ok;
}

static bool gives(unsigned int oid, const char *text, const char *want)
{
    return gives_n(oid, text, strlen(text), want);
}

static void test_integers(void)
{
    CHECK(gives(PGVALUE_OID_INT8, "9223372036854775807", "9223372036854775807"));
    CHECK(gives(PGVALUE_OID_INT8, "-9223372036854775808", "-9223372036854775808"));
    CHECK(gives(PGVALUE_OID_INT4, "-42", "-42"));
    CHECK(gives(PGVALUE_OID_INT2, "7", "7"));
    CHECK(gives(PGVALUE_OID_OID, "4294967295", "4294967295"));
    json_t *v = pgvalue_from_text(PGVALUE_OID_INT8, "9223372036854775807", 19);
    CHECK(json_is_integer(v) && json_integer_value(v) == INT64_MAX);
    json_decref(v);
    /* Not integer text: kept as it is. */
    CHECK(gives(PGVALUE_OID_INT8, "12abc", "\"12abc\""));
    CHECK(gives(PGVALUE_OID_INT8, "", "\"\""));
}

static void test_numeric(void)
{
    CHECK(gives(PGVALUE_OID_NUMERIC, "42", "42"));
    CHECK(gives(PGVALUE_OID_NUMERIC, "-9223372036854775808", "-9223372036854775808"));
    /* Beyond int64: the exact decimal as a string. */
    CHECK(gives(PGVALUE_OID_NUMERIC, "9223372036854775808", "\"9223372036854775808\""));
    CHECK(gives(PGVALUE_OID_NUMERIC, "123456789012345678901234567890",
                "\"123456789012345678901234567890\""));
    CHECK(gives(PGVALUE_OID_NUMERIC, "1.50", "\"1.50\""));
    CHECK(gives(PGVALUE_OID_NUMERIC, "NaN", "\"NaN\""));
    CHECK(gives(PGVALUE_OID_NUMERIC, "-", "\"-\""));
}

static void test_floats(void)
{
    CHECK(gives(PGVALUE_OID_FLOAT8, "1.5", "1.5"));
    CHECK(gives(PGVALUE_OID_FLOAT4, "-0.25", "-0.25"));
    CHECK(gives(PGVALUE_OID_FLOAT8, "NaN", "\"NaN\""));
    CHECK(gives(PGVALUE_OID_FLOAT8, "Infinity", "\"Infinity\""));
    CHECK(gives(PGVALUE_OID_FLOAT4, "-Infinity", "\"-Infinity\""));
    /* Found by fuzz_pg_values: empty text was read as the real 0. */
    CHECK(gives(PGVALUE_OID_FLOAT8, "", "\"\""));
    CHECK(gives(PGVALUE_OID_FLOAT4, "  ", "\"  \""));
    json_t *v = pgvalue_from_text(PGVALUE_OID_FLOAT8, "1e300", 5);
    CHECK(json_is_real(v) && json_real_value(v) == 1e300);
    json_decref(v);
}

static void test_bool_json(void)
{
    CHECK(gives(PGVALUE_OID_BOOL, "t", "true"));
    CHECK(gives(PGVALUE_OID_BOOL, "f", "false"));
    CHECK(gives(PGVALUE_OID_JSONB, "{\"a\": [1, \"x\"]}", "{\"a\":[1,\"x\"]}"));
    CHECK(gives(PGVALUE_OID_JSON, "3", "3"));
    CHECK(gives(PGVALUE_OID_JSON, "{not json", "\"{not json\""));
}

static void test_datetimes(void)
{
    CHECK(gives(PGVALUE_OID_TIMESTAMPTZ, "2024-01-02 03:04:05.5+00",
                "\"2024-01-02T03:04:05.5+00:00\""));
    CHECK(gives(PGVALUE_OID_TIMESTAMPTZ, "2024-01-02 03:04:05+05:30",
                "\"2024-01-02T03:04:05+05:30\""));
    CHECK(
        gives(PGVALUE_OID_TIMESTAMPTZ, "2024-01-02 03:04:05-08", "\"2024-01-02T03:04:05-08:00\""));
    CHECK(gives(PGVALUE_OID_TIMESTAMP, "2024-01-02 03:04:05.123456",
                "\"2024-01-02T03:04:05.123456\""));
    CHECK(gives(PGVALUE_OID_DATE, "2024-02-29", "\"2024-02-29\""));
    CHECK(gives(PGVALUE_OID_TIME, "23:59:59.999", "\"23:59:59.999\""));
    CHECK(gives(PGVALUE_OID_TIMETZ, "03:04:05-07", "\"03:04:05-07:00\""));
    CHECK(gives(PGVALUE_OID_INTERVAL, "P1DT2H", "\"P1DT2H\""));
    /* What ISO 8601 cannot hold keeps its text. */
    CHECK(gives(PGVALUE_OID_TIMESTAMPTZ, "infinity", "\"infinity\""));
    CHECK(gives(PGVALUE_OID_TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC",
                "\"0044-03-15 12:00:00+00 BC\""));
    CHECK(gives(PGVALUE_OID_DATE, "-infinity", "\"-infinity\""));
}

static void test_bytea_text(void)
{
    CHECK(gives(PGVALUE_OID_BYTEA, "\\xdeadbeef", "\"deadbeef\""));
    CHECK(gives(PGVALUE_OID_BYTEA, "\\x", "\"\""));
    CHECK(gives(PGVALUE_OID_TEXT, "h\xc3\xa9llo", "\"h\\u00e9llo\""));
    CHECK(gives(PGVALUE_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\""));
    /* Invalid UTF-8 (which a UTF8 session never sends) becomes U+FFFD. */
    CHECK(gives(PGVALUE_OID_TEXT,
                "a\xff"
                "b",
                "\"a\\ufffdb\""));
    /* A NUL is no type's text: an integer reader must not stop at it. */
    CHECK(gives_n(PGVALUE_OID_INT8,
                  "12\0"
                  "34",
                  5, "\"12\\u000034\""));
}

static void test_arrays(void)
{
    CHECK(pgvalue_array_element(1007) == PGVALUE_OID_INT4);
    CHECK(pgvalue_array_element(PGVALUE_OID_TEXT_ARRAY) == PGVALUE_OID_TEXT);
    CHECK(pgvalue_array_element(PGVALUE_OID_INT4) == 0);
    CHECK(gives(1007, "{1,-2,3}", "[1,-2,3]"));
    CHECK(gives(1016, "{9223372036854775807,NULL}", "[9223372036854775807,null]"));
    CHECK(gives(1007, "{}", "[]"));
    CHECK(gives(1231, "{1.10,2,99999999999999999999}", "[\"1.10\",2,\"99999999999999999999\"]"));
    CHECK(gives(1185, "{\"2024-01-02 03:04:05+00\"}", "[\"2024-01-02T03:04:05+00:00\"]"));
    CHECK(gives(PGVALUE_OID_TEXT_ARRAY,
                "{plain,\"with space\",\"quo\\\"te\",\"back\\\\slash\",NULL,\"NULL\",\"\"}",
                "[\"plain\",\"with space\",\"quo\\\"te\",\"back\\\\slash\",null,\"NULL\",\"\"]"));
    /* Not one-dimensional: the text. */
    CHECK(gives(1007, "{{1,2},{3,4}}", "\"{{1,2},{3,4}}\""));
    CHECK(gives(1007, "[0:1]={1,2}", "\"[0:1]={1,2}\""));
    CHECK(gives(1007, "{1,2", "\"{1,2\""));
    CHECK(gives(1007, "{1,2}x", "\"{1,2}x\""));
    CHECK(pgvalue_array(PGVALUE_OID_TEXT, "{\"a", 3) == NULL);
    CHECK(pgvalue_array(PGVALUE_OID_TEXT, "{a}\0", 4) == NULL);
    json_t *a = pgvalue_array(PGVALUE_OID_TEXT, "{public,Public}", 15);
    CHECK(json_array_size(a) == 2 &&
          strcmp(json_string_value(json_array_get(a, 1)), "Public") == 0);
    json_decref(a);
}

int main(void)
{
    TEST_RUN(test_integers);
    TEST_RUN(test_numeric);
    TEST_RUN(test_floats);
    TEST_RUN(test_bool_json);
    TEST_RUN(test_datetimes);
    TEST_RUN(test_bytea_text);
    TEST_RUN(test_arrays);
    return test_summary();
}
