/* pgvalue: PostgreSQL values in the text format (as libpq's PQgetvalue
 * gives them) turned into typed JSON. It knows nothing of libpq: a type is
 * its OID, a plain number fixed in PostgreSQL's catalog (pg_type.dat).
 *
 * Values are typed by column type: int2/int4/int8/oid -> JSON integer;
 * float4/float8 -> JSON real, except NaN, Infinity and -Infinity, which
 * JSON cannot hold, as the strings "NaN", "Infinity", "-Infinity";
 * numeric -> JSON integer when it is whole and fits int64, otherwise a
 * string of the exact decimal (a JSON number would lose precision);
 * bool -> true/false; json/jsonb -> parsed JSON; date, time, timetz,
 * timestamp, timestamptz -> ISO 8601 strings ("2024-01-02T03:04:05.5",
 * "2024-01-02T03:04:05.5+00:00": the driver's sessions run in UTC with
 * DateStyle ISO); interval -> ISO 8601 duration ("P1DT2H", as the server
 * prints it with IntervalStyle iso_8601); bytea -> lower-case hex without
 * the \x prefix (bytea_output hex); one-dimensional arrays of these -> JSON
 * arrays (other arrays -> text); everything else -> its text form. A value
 * that does not parse as its type keeps its text: data is never dropped.
 * SQL NULL is the caller's business (libpq tells it apart from text).
 *
 * Strings in the JSON are always valid UTF-8: invalid sequences (which a
 * UTF8 client encoding never sends) become U+FFFD.
 *
 * Input: s points at n bytes followed by a NUL, as PQgetvalue returns them.
 * Text form never holds a NUL byte; a value that does is kept as text.
 * Every function returns a new reference that the caller owns and never
 * keeps s. No state: thread-safe. */
#ifndef SMCP_PGVALUE_H
#define SMCP_PGVALUE_H

#include <jansson.h>
#include <stddef.h>

/* Type OIDs of the types given a JSON form (pg_type.dat; the client
 * headers do not carry them). */
enum {
    PGVALUE_OID_BOOL = 16,
    PGVALUE_OID_BYTEA = 17,
    PGVALUE_OID_NAME = 19,
    PGVALUE_OID_INT8 = 20,
    PGVALUE_OID_INT2 = 21,
    PGVALUE_OID_INT4 = 23,
    PGVALUE_OID_TEXT = 25,
    PGVALUE_OID_OID = 26,
    PGVALUE_OID_JSON = 114,
    PGVALUE_OID_FLOAT4 = 700,
    PGVALUE_OID_FLOAT8 = 701,
    PGVALUE_OID_BPCHAR = 1042,
    PGVALUE_OID_VARCHAR = 1043,
    PGVALUE_OID_DATE = 1082,
    PGVALUE_OID_TIME = 1083,
    PGVALUE_OID_TIMESTAMP = 1114,
    PGVALUE_OID_TIMESTAMPTZ = 1184,
    PGVALUE_OID_INTERVAL = 1186,
    PGVALUE_OID_TIMETZ = 1266,
    PGVALUE_OID_NUMERIC = 1700,
    PGVALUE_OID_UUID = 2950,
    PGVALUE_OID_JSONB = 3802,
    PGVALUE_OID_TEXT_ARRAY = 1009
};

/* The element type of an array type turned into a JSON array (int4[] ->
 * int4, text[] -> text, ...), or 0 when type_oid is not one. */
unsigned int pgvalue_array_element(unsigned int type_oid);

/* The JSON form of one non-NULL value of type type_oid (any OID; arrays
 * included), never NULL. */
json_t *pgvalue_from_text(unsigned int type_oid, const char *s, size_t n);

/* A one-dimensional array in text form ("{1,NULL,\"a b\"}") as a JSON
 * array of elem_oid values (an unquoted NULL element -> null); NULL for
 * anything else (nested arrays, explicit bounds, malformed text), which
 * pgvalue_from_text keeps as text. */
json_t *pgvalue_array(unsigned int elem_oid, const char *s, size_t n);

#endif
