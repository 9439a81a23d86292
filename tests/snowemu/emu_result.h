/* emu_result: the result sets and errors of the Snowflake SQL API emulator.
 *
 * A result holds its column descriptions and its rows already encoded the
 * way the SQL API sends them (every value a JSON string, or JSON null), so
 * SQL results and SHOW/DESCRIBE answers share one partitioning and one
 * wire format. The result owns its columns and rows; emu_result_free
 * releases everything. */
#ifndef SNOWEMU_RESULT_H
#define SNOWEMU_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/strbuf.h"

typedef enum emu_type {
    EMU_FIXED,
    EMU_REAL,
    EMU_TEXT,
    EMU_BOOLEAN,
    EMU_DATE,
    EMU_TIME,
    EMU_TS_NTZ,
    EMU_TS_LTZ,
    EMU_TS_TZ,
    EMU_VARIANT,
    EMU_OBJECT,
    EMU_ARRAY,
    EMU_BINARY
} emu_type;

typedef struct emu_col {
    char *name;
    emu_type type;
    int precision; /* FIXED only */
    int scale;     /* FIXED; 9 for TIME and TIMESTAMP_* */
    bool nullable;
    char *database; /* "" when unknown */
    char *table;    /* "" when unknown */
} emu_col;

typedef struct emu_result {
    size_t ncols;
    emu_col *cols;
    json_t *rows; /* array of arrays of strings or nulls */
} emu_result;

/* A failed request as the API reports it: HTTP status and the body's
 * code, sqlState and message. */
typedef struct emu_error {
    int http;
    char code[8];
    char sql_state[8];
    char message[1024];
} emu_error;

void emu_error_set(emu_error *e, int http, const char *code, const char *sql_state, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

emu_result *emu_result_new(size_t ncols);
void emu_result_free(emu_result *r);
/* Describes column i; name is copied. Other fields keep defaults
 * (nullable, no database/table) until set directly. */
void emu_result_set_col(emu_result *r, size_t i, const char *name, emu_type type, int precision,
                        int scale);
void emu_result_set_origin(emu_result *r, size_t i, const char *database, const char *table);
/* Appends a row; the row array is stolen. */
void emu_result_add_row(emu_result *r, json_t *row);
size_t emu_result_nrows(const emu_result *r);

/* The SQL API's lower-case type name ("fixed", "timestamp_ntz" ...). */
const char *emu_type_name(emu_type t);
/* rowType array for resultSetMetaData (new reference). */
json_t *emu_result_row_type(const emu_result *r);
/* Number of partitions for per rows each (at least 1). */
size_t emu_result_npartitions(const emu_result *r, size_t per);
/* Rows of partition n (new reference; the rows are shared). */
json_t *emu_result_partition(const emu_result *r, size_t per, size_t n);
/* partitionInfo array: rowCount and uncompressedSize of each partition. */
json_t *emu_result_partition_info(const emu_result *r, size_t per);

/* Value encoders: false when the text is not in the expected form. */
/* "YYYY-MM-DD" -> days since 1970-01-01. */
bool emu_encode_date(const char *s, strbuf *out);
/* "HH:MM:SS[.fff]" -> seconds since midnight with 9 fraction digits. */
bool emu_encode_time(const char *s, strbuf *out);
/* "YYYY-MM-DD[ T]HH:MM:SS[.fff]" -> epoch seconds with 9 fraction digits;
 * with tz, a trailing "+HH:MM"/"-HH:MM"/"Z" becomes the " <1440+minutes>"
 * suffix of TIMESTAMP_TZ. */
bool emu_encode_timestamp(const char *s, bool tz, strbuf *out);
/* A double as the shortest text that reads back to the same value. */
void emu_encode_real(double v, strbuf *out);
/* Epoch seconds as a TIMESTAMP_LTZ value ("<s>.000000000"). */
json_t *emu_ts_value(long long epoch_s);

#endif
